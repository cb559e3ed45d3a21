//! Vector tile layers: the sources, the features they draw, the encoded-tile cache and the
//! service that keeps them fresh. The HTTP routes are in [`crate::http::tiles`].
//!
//! Every layer is a [`TileSource`] (as in Martin): it names itself, describes its fields and
//! turns one [`MapData`](crate::app::MapData) snapshot into
//! [`TileFeature`](crate::spatial::tiles::TileFeature)s; the rest is shared: selection, clipping,
//! simplification and encoding (`crate::spatial::tiles`) and the cache here. The MVT layer inside
//! each tile has the name of the layer.
//!
//! | layer | properties |
//! | --- | --- |
//! | `districts`, `streets`, `communities` | `id`, `code`, `name`, `parent_code`, `kind` |
//! | `areas` | the same, plus `claimed` (whether a cadre holds the area now) |
//! | `grids` | the same, plus `households` (count) and `density` (households per km²) |
//! | `buildings` | `code`, `name`, `floors`, `height_m` (floors × 3 m, for fill-extrusion) |
//! | `households` | below z16: one point per grid (`grid_code`, `households`); from z16: one point per household (`id`, `grid_code`) |
//! | `water`, `roads` | the static basemap of the demo area, properties as in its GeoJSON |
//!
//! Tiles never carry personal data: a household is a position, an id and a grid code.
//!
//! **Freshness.** Encoded tiles are cached in memory (moka, bounded by bytes), each stamped with
//! the [`MapData::version`](crate::app::MapData::version) it was made from. A write does not
//! empty the cache: every snapshot logs where each part of the data changed
//! ([`crate::app::MapChange`]), each layer says which parts it is drawn from
//! ([`TileSource::depends_on`]), and a cached tile is made again only when a later write changed
//! one of its layer's parts inside the tile (with its buffer). So a claim re-renders only the
//! `areas` tiles over the claimed area, and a grid edit only the `grids` and `households` tiles
//! over the grid's old and new outline and over the grids whose household count it changed.

mod basemap;
mod cache;
mod service;
mod source;

pub use basemap::{ParsedGeoJson, StaticSource};
pub use cache::{CACHE_MAX_BYTES, EncodedTile};
pub use service::{CacheStats, TileService};
pub use source::{
    BuildingSource, HOUSEHOLD_POINTS_MIN_ZOOM, HouseholdSource, METRES_PER_FLOOR, NeedsSource,
    PlaceSource, TileSource, default_sources,
};

/// The datum tiles are drawn in. Our data is WGS84; a map over a GCJ-02 basemap (AMap, Tencent)
/// asks for `?crs=gcj02` and gets every position shifted into GCJ-02, so that the two line up.
/// (Raster tiles cannot be re-projected in the browser, so the vectors move instead.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datum {
    /// WGS84, the datum the data is stored in.
    Wgs84,
    /// GCJ-02, the datum of the basemaps published in China.
    Gcj02,
}
