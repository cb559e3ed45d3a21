//! Vector tiles, the geometry half: the XYZ tile grid over Web Mercator (EPSG:3857) and the
//! making of one Mapbox Vector Tile (MVT 2.1) layer from features: select, simplify, clip, snap
//! to the tile grid, orient, encode.
//!
//! Pure: no HTTP, no store, no application data types. The HTTP layer (`crate::http::tiles`)
//! decides which features a layer has; this module turns them into bytes.
//!
//! Coordinates pass through three spaces:
//! - **lon/lat**: WGS84 degrees, as the model stores them;
//! - **world**: Web Mercator normalised to the unit square, x east from 180° W, y **south** from
//!   85.0511° N (the XYZ convention), so that tile `(z, x, y)` covers
//!   `[x / 2^z, (x + 1) / 2^z] × [y / 2^z, (y + 1) / 2^z]`; features are projected into it once
//!   ([`TileFeature::new`]) and only scaled per tile;
//! - **tile**: units of [`EXTENT`] per tile from the tile's north-west corner, y down, as MVT
//!   stores them.
//!
//! Encoding uses geozero's MVT writer ([`geozero::mvt::MvtWriter`]) and prost messages; clipping
//! uses geo's [`BooleanOps`] (polygon intersection, line clipping); simplification uses geo's
//! [`SimplifyVwPreserve`] (polygons) and [`Simplify`] (lines) in tile units, so that it follows
//! the zoom.
//!
//! geozero's writer does not re-orient rings, so this module does: MVT wants each exterior ring
//! with a positive surveyor's-formula area in tile coordinates (clockwise on screen, y down) and
//! each interior ring negative, which is the opposite of RFC 7946 GeoJSON read with y up.

use geo::{
    BooleanOps, BoundingRect, Coord, Geometry, LineString, MapCoords, MapCoordsInPlace,
    MultiLineString, MultiPolygon, Point, Polygon, Rect, Simplify, SimplifyVwPreserve,
};
use geozero::mvt::{Message, MvtWriter, Tile};
use geozero::{ColumnValue, FeatureProcessor, GeozeroGeometry, PropertyProcessor};
use std::f64::consts::PI;
use std::fmt;

/// Largest zoom level served. At z24 a tile is about 2.4 m across at the equator.
pub const MAX_ZOOM: u8 = 24;

/// Tile units per tile side (the MVT default).
pub const EXTENT: u32 = 4096;

/// Geometry is kept this far (in tile units) beyond each tile edge, so that strokes and symbols
/// crossing an edge draw without seams.
pub const BUFFER: f64 = 64.0;

/// Simplification tolerance, in tile units (1/4096 of a tile side, well under a screen pixel):
/// Douglas–Peucker distance for lines, Visvalingam–Whyatt triangle area for polygons.
pub const SIMPLIFY_TOLERANCE: f64 = 1.0;

/// A polygon ring whose area, snapped to the tile grid, is below this many square tile units is
/// dropped, and so is a feature left with nothing.
pub const MIN_RING_AREA: f64 = 1.0;

/// Size budget: every tile this service makes, for every layer, stays at or below this many
/// bytes **uncompressed** (500 KiB). `tests/it/tiles.rs` checks it over every tile of the demo street
/// at zooms 10 to 18 for every layer; the demo's largest tiles are far below it (see that test).
pub const MAX_TILE_BYTES: usize = 500 * 1024;

/// Latitude limit of Web Mercator: the square world of the XYZ grid.
pub const MAX_LATITUDE: f64 = 85.051_128_779_806_59;

/// Half the side of the Web Mercator square, in metres (EPSG:3857).
pub const MERCATOR_HALF_SIDE: f64 = 20_037_508.342_789_244;

/// One tile of the XYZ grid (`y` counted from the north, as in slippy maps; not TMS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileId {
    /// Zoom level, 0 to [`MAX_ZOOM`].
    pub z: u8,
    /// Column, 0 to 2^z - 1 from the west.
    pub x: u32,
    /// Row, 0 to 2^z - 1 from the north.
    pub y: u32,
}

/// Why a z/x/y triple is not a tile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileIdError {
    #[error("max zoom is {MAX_ZOOM}; got z={0}")]
    /// The zoom is above [`MAX_ZOOM`].
    ZoomTooLarge(u64),
    #[error("{axis}={value} is outside 0..{limit} (0 to 2^z - 1) at zoom {z}")]
    /// `x` or `y` is not below 2^z.
    OutOfRange {
        /// `'x'` or `'y'`.
        axis: char,
        /// The value given.
        value: u64,
        /// 2^z, the first value out of range.
        limit: u64,
        /// The zoom level.
        z: u8,
    },
}

impl TileId {
    /// Checks a z/x/y triple: `z <= MAX_ZOOM` and `x, y < 2^z`.
    pub fn new(z: u64, x: u64, y: u64) -> Result<TileId, TileIdError> {
        if z > MAX_ZOOM as u64 {
            return Err(TileIdError::ZoomTooLarge(z));
        }
        let z = z as u8;
        let limit = 1u64 << z;
        for (axis, value) in [('x', x), ('y', y)] {
            if value >= limit {
                return Err(TileIdError::OutOfRange {
                    axis,
                    value,
                    limit,
                    z,
                });
            }
        }
        Ok(TileId {
            z,
            x: x as u32,
            y: y as u32,
        })
    }

    /// Number of tiles along each axis at this zoom (`2^z`).
    pub fn tiles_per_side(self) -> f64 {
        (1u64 << self.z) as f64
    }

    /// The tile at zoom `z` that contains a lon/lat position (latitudes beyond
    /// ±[`MAX_LATITUDE`] fall in the first or last row).
    pub fn containing(lon: f64, lat: f64, z: u8) -> TileId {
        let world = lonlat_to_world(Coord { x: lon, y: lat });
        let n = (1u64 << z) as f64;
        let max = (1u64 << z) - 1;
        TileId {
            z,
            x: ((world.x * n).floor().max(0.0) as u64).min(max) as u32,
            y: ((world.y * n).floor().max(0.0) as u64).min(max) as u32,
        }
    }

    /// The tile's square in world coordinates (min is the north-west corner).
    pub fn world_bounds(self) -> Rect<f64> {
        let n = self.tiles_per_side();
        Rect::new(
            Coord {
                x: self.x as f64 / n,
                y: self.y as f64 / n,
            },
            Coord {
                x: (self.x + 1) as f64 / n,
                y: (self.y + 1) as f64 / n,
            },
        )
    }

    /// The tile's square plus [`BUFFER`] on every side, in world coordinates.
    pub fn buffered_world_bounds(self) -> Rect<f64> {
        let b = self.world_bounds();
        let pad = BUFFER / EXTENT as f64 / self.tiles_per_side();
        Rect::new(
            Coord {
                x: b.min().x - pad,
                y: b.min().y - pad,
            },
            Coord {
                x: b.max().x + pad,
                y: b.max().y + pad,
            },
        )
    }

    /// The tile's bounds in WGS84 degrees: min = (west, south), max = (east, north).
    pub fn lonlat_bounds(self) -> Rect<f64> {
        let b = self.world_bounds();
        Rect::new(
            world_to_lonlat(Coord {
                x: b.min().x,
                y: b.max().y,
            }),
            world_to_lonlat(Coord {
                x: b.max().x,
                y: b.min().y,
            }),
        )
    }

    /// The tile's bounds in Web Mercator metres (EPSG:3857): min = (west, south).
    pub fn mercator_bounds(self) -> Rect<f64> {
        let b = self.world_bounds();
        let metres = |c: Coord<f64>| Coord {
            x: (c.x * 2.0 - 1.0) * MERCATOR_HALF_SIDE,
            y: (1.0 - c.y * 2.0) * MERCATOR_HALF_SIDE,
        };
        Rect::new(
            metres(Coord {
                x: b.min().x,
                y: b.max().y,
            }),
            metres(Coord {
                x: b.max().x,
                y: b.min().y,
            }),
        )
    }

    /// A world position in this tile's units: (0, 0) is the north-west corner, ([`EXTENT`],
    /// [`EXTENT`]) the south-east one; positions outside the tile fall outside that square.
    pub fn world_to_tile(self, world: Coord<f64>) -> Coord<f64> {
        let n = self.tiles_per_side();
        let e = EXTENT as f64;
        Coord {
            x: (world.x * n - self.x as f64) * e,
            y: (world.y * n - self.y as f64) * e,
        }
    }

    /// A lon/lat position in this tile's units (see [`TileId::world_to_tile`]).
    pub fn lonlat_to_tile(self, lon: f64, lat: f64) -> Coord<f64> {
        self.world_to_tile(lonlat_to_world(Coord { x: lon, y: lat }))
    }

    /// A position in this tile's units back to lon/lat.
    pub fn tile_to_lonlat(self, tile: Coord<f64>) -> Coord<f64> {
        let n = self.tiles_per_side();
        let e = EXTENT as f64;
        world_to_lonlat(Coord {
            x: (tile.x / e + self.x as f64) / n,
            y: (tile.y / e + self.y as f64) / n,
        })
    }
}

impl fmt::Display for TileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.z, self.x, self.y)
    }
}

/// WGS84 lon/lat to world coordinates (see the module documentation). Latitude is clamped to
/// ±[`MAX_LATITUDE`].
pub fn lonlat_to_world(c: Coord<f64>) -> Coord<f64> {
    let lat = c.y.clamp(-MAX_LATITUDE, MAX_LATITUDE).to_radians();
    Coord {
        x: (c.x + 180.0) / 360.0,
        y: (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / PI) / 2.0,
    }
}

/// World coordinates back to WGS84 lon/lat.
pub fn world_to_lonlat(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: c.x * 360.0 - 180.0,
        y: (PI * (1.0 - 2.0 * c.y)).sinh().atan().to_degrees(),
    }
}

/// Every tile at zoom `z` that a lon/lat rectangle touches, row by row.
pub fn tiles_covering(bounds: Rect<f64>, z: u8) -> impl Iterator<Item = TileId> {
    let nw = TileId::containing(bounds.min().x, bounds.max().y, z);
    let se = TileId::containing(bounds.max().x, bounds.min().y, z);
    (nw.y..=se.y).flat_map(move |y| (nw.x..=se.x).map(move |x| TileId { z, x, y }))
}

/// The lowest zoom at which a world rectangle fits in one tile (`max` if it never does).
pub fn zoom_to_fit(world: Rect<f64>, max: u8) -> u8 {
    let side = world.width().max(world.height());
    if side <= 0.0 {
        return max;
    }
    ((-side.log2()).floor().max(0.0) as u8).min(max)
}

/// A property value as MVT can carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValue {
    /// A string.
    Str(String),
    /// A signed integer.
    Int(i64),
    /// A 64-bit float.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

impl From<&str> for PropertyValue {
    fn from(s: &str) -> Self {
        PropertyValue::Str(s.to_string())
    }
}

impl From<String> for PropertyValue {
    fn from(s: String) -> Self {
        PropertyValue::Str(s)
    }
}

impl From<i64> for PropertyValue {
    fn from(v: i64) -> Self {
        PropertyValue::Int(v)
    }
}

impl From<f64> for PropertyValue {
    fn from(v: f64) -> Self {
        PropertyValue::Double(v)
    }
}

impl From<bool> for PropertyValue {
    fn from(v: bool) -> Self {
        PropertyValue::Bool(v)
    }
}

/// One feature ready for tiling: its geometry projected to world coordinates once, its bounding
/// box, an optional MVT feature id and its properties (in order).
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    /// The MVT feature id, if the feature has one.
    pub id: Option<u64>,
    geometry: Geometry<f64>,
    bbox: Rect<f64>,
    /// The feature's properties as name/value pairs, in order.
    pub properties: Vec<(String, PropertyValue)>,
}

impl TileFeature {
    /// Projects a lon/lat geometry to world coordinates. `None` for an empty geometry or a
    /// geometry collection (split those into one feature per member first).
    pub fn new(
        id: Option<u64>,
        lonlat: Geometry<f64>,
        properties: Vec<(String, PropertyValue)>,
    ) -> Option<TileFeature> {
        if matches!(lonlat, Geometry::GeometryCollection(_)) {
            return None;
        }
        let mut geometry = lonlat;
        geometry.map_coords_in_place(lonlat_to_world);
        let bbox = geometry.bounding_rect()?;
        Some(TileFeature {
            id,
            geometry,
            bbox,
            properties,
        })
    }

    /// The same feature with every lon/lat position moved by `shift` (for example into GCJ-02,
    /// so that it lines up with a basemap drawn in that datum).
    pub fn shifted(&self, shift: impl Fn(Coord<f64>) -> Coord<f64>) -> Option<TileFeature> {
        let mut geometry = self.geometry.clone();
        geometry.map_coords_in_place(|c| lonlat_to_world(shift(world_to_lonlat(c))));
        let bbox = geometry.bounding_rect()?;
        Some(TileFeature {
            id: self.id,
            geometry,
            bbox,
            properties: self.properties.clone(),
        })
    }

    /// The bounding box in world coordinates.
    pub fn world_bbox(&self) -> Rect<f64> {
        self.bbox
    }

    /// The bounding box in lon/lat: min = (west, south).
    pub fn lonlat_bbox(&self) -> Rect<f64> {
        Rect::new(
            world_to_lonlat(Coord {
                x: self.bbox.min().x,
                y: self.bbox.max().y,
            }),
            world_to_lonlat(Coord {
                x: self.bbox.max().x,
                y: self.bbox.min().y,
            }),
        )
    }

    /// The part of the feature's geometry in one tile, in integer tile units, simplified,
    /// clipped to the buffered tile and oriented for MVT; `None` when nothing is left.
    pub fn tile_geometry(&self, tile: TileId) -> Option<Geometry<f64>> {
        if !rects_intersect(self.bbox, tile.buffered_world_bounds()) {
            return None;
        }
        let local = self.geometry.map_coords(|c| tile.world_to_tile(c));
        let inside = {
            let b = tile.buffered_world_bounds();
            self.bbox.min().x >= b.min().x
                && self.bbox.min().y >= b.min().y
                && self.bbox.max().x <= b.max().x
                && self.bbox.max().y <= b.max().y
        };
        match local {
            Geometry::Point(p) => points_in_tile(&[p]),
            Geometry::MultiPoint(mp) => points_in_tile(&mp.0),
            Geometry::Line(l) => lines_in_tile(MultiLineString(vec![l.into()]), inside),
            Geometry::LineString(ls) => lines_in_tile(MultiLineString(vec![ls]), inside),
            Geometry::MultiLineString(mls) => lines_in_tile(mls, inside),
            Geometry::Polygon(p) => polygons_in_tile(MultiPolygon(vec![p]), inside),
            Geometry::MultiPolygon(mp) => polygons_in_tile(mp, inside),
            Geometry::Rect(r) => polygons_in_tile(MultiPolygon(vec![r.to_polygon()]), inside),
            Geometry::Triangle(t) => polygons_in_tile(MultiPolygon(vec![t.to_polygon()]), inside),
            Geometry::GeometryCollection(_) => None,
        }
    }
}

fn rects_intersect(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

/// The buffered tile square in tile units.
fn buffered_tile_rect() -> Rect<f64> {
    let e = EXTENT as f64;
    Rect::new(
        Coord {
            x: -BUFFER,
            y: -BUFFER,
        },
        Coord {
            x: e + BUFFER,
            y: e + BUFFER,
        },
    )
}

fn snap(c: Coord<f64>) -> Coord<f64> {
    Coord {
        x: c.x.round(),
        y: c.y.round(),
    }
}

fn points_in_tile(points: &[Point<f64>]) -> Option<Geometry<f64>> {
    let r = buffered_tile_rect();
    let kept: Vec<Point<f64>> = points
        .iter()
        .filter(|p| {
            p.x() >= r.min().x && p.x() <= r.max().x && p.y() >= r.min().y && p.y() <= r.max().y
        })
        .map(|p| Point(snap(p.0)))
        .collect();
    match kept.len() {
        0 => None,
        1 => Some(Geometry::Point(kept[0])),
        _ => Some(Geometry::MultiPoint(kept.into())),
    }
}

fn lines_in_tile(lines: MultiLineString<f64>, inside: bool) -> Option<Geometry<f64>> {
    let simplified = lines.simplify(SIMPLIFY_TOLERANCE);
    let clipped = if inside {
        simplified
    } else {
        buffered_tile_rect().to_polygon().clip(&simplified, false)
    };
    let mut kept: Vec<LineString<f64>> = clipped
        .0
        .into_iter()
        .filter_map(|line| {
            let mut coords: Vec<Coord<f64>> = Vec::with_capacity(line.0.len());
            for c in line.0 {
                let s = snap(c);
                if coords.last() != Some(&s) {
                    coords.push(s);
                }
            }
            (coords.len() >= 2).then_some(LineString(coords))
        })
        .collect();
    match kept.len() {
        0 => None,
        1 => kept.pop().map(Geometry::LineString),
        _ => Some(Geometry::MultiLineString(MultiLineString(kept))),
    }
}

fn polygons_in_tile(polygons: MultiPolygon<f64>, inside: bool) -> Option<Geometry<f64>> {
    let simplified = polygons.simplify_vw_preserve(SIMPLIFY_TOLERANCE);
    let clipped = if inside {
        simplified
    } else {
        simplified.intersection(&buffered_tile_rect().to_polygon())
    };
    let mut kept: Vec<Polygon<f64>> = clipped
        .0
        .into_iter()
        .filter_map(|polygon| {
            let (exterior, interiors) = polygon.into_inner();
            let exterior = snap_ring(&exterior, true)?;
            let interiors = interiors
                .iter()
                .filter_map(|ring| snap_ring(ring, false))
                .collect();
            Some(Polygon::new(exterior, interiors))
        })
        .collect();
    match kept.len() {
        0 => None,
        1 => kept.pop().map(Geometry::Polygon),
        _ => Some(Geometry::MultiPolygon(MultiPolygon(kept))),
    }
}

/// Twice the signed area of a closed ring by the surveyor's formula, as MVT 2.1 §4.3.4.4 reads
/// it: positive for an exterior ring in tile coordinates (y down).
pub fn ring_area2(coords: &[Coord<f64>]) -> f64 {
    coords
        .windows(2)
        .map(|w| w[0].x * w[1].y - w[1].x * w[0].y)
        .sum()
}

/// A ring snapped to whole tile units without repeated points, closed, with at least three
/// corners and [`MIN_RING_AREA`], wound positive (`exterior`) or negative (hole).
fn snap_ring(ring: &LineString<f64>, exterior: bool) -> Option<LineString<f64>> {
    let mut coords: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len() + 1);
    for &c in &ring.0 {
        let s = snap(c);
        if coords.last() != Some(&s) {
            coords.push(s);
        }
    }
    if coords.len() > 1 && coords.first() == coords.last() {
        coords.pop();
    }
    if coords.len() < 3 {
        return None;
    }
    coords.push(coords[0]);
    let area2 = ring_area2(&coords);
    if area2.abs() < 2.0 * MIN_RING_AREA {
        return None;
    }
    if (area2 > 0.0) != exterior {
        coords.reverse();
    }
    Some(LineString(coords))
}

/// Encodes one MVT layer named `name` with the parts of `features` inside `tile`, as a whole
/// tile (a `Tile` message holding that one layer). `None` when no feature has anything in the
/// tile: the caller answers 204 rather than sending an empty tile.
pub fn encode_tile<'a>(
    name: &str,
    tile: TileId,
    features: impl IntoIterator<Item = &'a TileFeature>,
) -> Result<Option<Vec<u8>>, geozero::error::GeozeroError> {
    let mut writer = MvtWriter::new_unscaled(EXTENT)?;
    let mut ids = Vec::new();
    for feature in features {
        let Some(geometry) = feature.tile_geometry(tile) else {
            continue;
        };
        let idx = ids.len() as u64;
        writer.feature_begin(idx)?;
        writer.properties_begin()?;
        for (i, (key, value)) in feature.properties.iter().enumerate() {
            let value = match value {
                PropertyValue::Str(s) => ColumnValue::String(s),
                PropertyValue::Int(v) => ColumnValue::Long(*v),
                PropertyValue::Double(v) => ColumnValue::Double(*v),
                PropertyValue::Bool(v) => ColumnValue::Bool(*v),
            };
            writer.property(i, key, &value)?;
        }
        writer.properties_end()?;
        writer.geometry_begin()?;
        geometry.process_geom(&mut writer)?;
        writer.geometry_end()?;
        writer.feature_end(idx)?;
        ids.push(feature.id);
    }
    if ids.is_empty() {
        return Ok(None);
    }
    let mut layer = writer.layer(name);
    for (feature, id) in layer.features.iter_mut().zip(ids) {
        feature.id = id;
    }
    Ok(Some(
        Tile {
            layers: vec![layer],
        }
        .encode_to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Contains, LineString, point, polygon};
    use geozero::ToGeo;
    use geozero::mvt::tile::GeomType;

    const EPS: f64 = 1e-9;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < EPS * a.abs().max(1.0)
    }

    #[test]
    fn tile_ids_are_checked() {
        assert!(TileId::new(0, 0, 0).is_ok());
        assert!(TileId::new(24, (1 << 24) - 1, 0).is_ok());
        assert_eq!(TileId::new(25, 0, 0), Err(TileIdError::ZoomTooLarge(25)));
        assert!(
            TileId::new(25, 0, 0)
                .unwrap_err()
                .to_string()
                .contains("max zoom is 24")
        );
        assert_eq!(
            TileId::new(2, 4, 0),
            Err(TileIdError::OutOfRange {
                axis: 'x',
                value: 4,
                limit: 4,
                z: 2
            })
        );
        assert!(matches!(
            TileId::new(2, 0, 4),
            Err(TileIdError::OutOfRange { axis: 'y', .. })
        ));
        assert!(TileId::new(0, 1, 0).is_err());
    }

    #[test]
    fn the_world_tile_and_its_quadrants() {
        let world = TileId::new(0, 0, 0).unwrap();
        let b = world.lonlat_bounds();
        assert!(close(b.min().x, -180.0) && close(b.max().x, 180.0));
        assert!(close(b.min().y, -MAX_LATITUDE) && close(b.max().y, MAX_LATITUDE));
        let m = world.mercator_bounds();
        assert!(close(m.min().x, -MERCATOR_HALF_SIDE) && close(m.max().y, MERCATOR_HALF_SIDE));
        // z1: x=1, y=0 is the north-east quadrant.
        let ne = TileId::new(1, 1, 0).unwrap().lonlat_bounds();
        assert!(close(ne.min().x, 0.0) && close(ne.max().x, 180.0));
        assert!(close(ne.min().y, 0.0) && close(ne.max().y, MAX_LATITUDE));
        assert_eq!(
            TileId::containing(10.0, 10.0, 1),
            TileId { z: 1, x: 1, y: 0 }
        );
        assert_eq!(
            TileId::containing(-10.0, -10.0, 1),
            TileId { z: 1, x: 0, y: 1 }
        );
    }

    #[test]
    fn mercator_bounds_follow_epsg_3857() {
        // EPSG:3857 y = R ln(tan(pi/4 + lat/2)) with R = 6378137.
        let r = 6_378_137.0;
        let tile = TileId::containing(120.3826, 36.0671, 14);
        let ll = tile.lonlat_bounds();
        let m = tile.mercator_bounds();
        assert!((m.min().x - r * ll.min().x.to_radians()).abs() < 1e-6);
        let y = |lat: f64| r * (PI / 4.0 + lat.to_radians() / 2.0).tan().ln();
        assert!((m.min().y - y(ll.min().y)).abs() < 1e-6);
        assert!((m.max().y - y(ll.max().y)).abs() < 1e-6);
        // The tile of a Qingdao position: x = floor((lon + 180) / 360 * 2^z).
        assert_eq!(tile.x, ((120.3826 + 180.0) / 360.0 * 16384.0) as u32);
        assert!(ll.contains(&point!(x: 120.3826, y: 36.0671)));
    }

    #[test]
    fn lonlat_and_tile_units_round_trip() {
        let tile = TileId::containing(120.3826, 36.0671, 17);
        let p = tile.lonlat_to_tile(120.3826, 36.0671);
        assert!((0.0..EXTENT as f64).contains(&p.x) && (0.0..EXTENT as f64).contains(&p.y));
        let back = tile.tile_to_lonlat(p);
        assert!((back.x - 120.3826).abs() < 1e-9 && (back.y - 36.0671).abs() < 1e-9);
        // The north-west corner is (0, 0); y grows southwards.
        let b = tile.lonlat_bounds();
        let nw = tile.lonlat_to_tile(b.min().x, b.max().y);
        assert!(nw.x.abs() < 1e-6 && nw.y.abs() < 1e-6);
        let se = tile.lonlat_to_tile(b.max().x, b.min().y);
        assert!((se.x - 4096.0).abs() < 1e-6 && (se.y - 4096.0).abs() < 1e-6);
        // Neighbours share edges exactly.
        let east = TileId {
            x: tile.x + 1,
            ..tile
        };
        assert_eq!(east.lonlat_bounds().min().x, b.max().x);
    }

    #[test]
    fn covering_tiles_and_fitting_zoom() {
        let street = Rect::new(
            Coord {
                x: 120.369,
                y: 36.054,
            },
            Coord {
                x: 120.395,
                y: 36.072,
            },
        );
        let tiles: Vec<TileId> = tiles_covering(street, 14).collect();
        assert!(!tiles.is_empty());
        for corner in [street.min(), street.max()] {
            let t = TileId::containing(corner.x, corner.y, 14);
            assert!(tiles.contains(&t));
        }
        assert_eq!(tiles_covering(street, 0).count(), 1);
        let world = Rect::new(
            lonlat_to_world(Coord {
                x: street.min().x,
                y: street.max().y,
            }),
            lonlat_to_world(Coord {
                x: street.max().x,
                y: street.min().y,
            }),
        );
        let z = zoom_to_fit(world, 18);
        assert!(world.width() * (1u64 << z) as f64 <= 1.0);
        assert!(
            world.width() * (1u64 << (z + 1)) as f64 > 1.0
                || world.height() * (1u64 << (z + 1)) as f64 > 1.0
        );
    }

    fn decode(bytes: &[u8]) -> geozero::mvt::tile::Layer {
        let tile = Tile::decode(bytes).unwrap();
        assert_eq!(tile.layers.len(), 1);
        tile.layers.into_iter().next().unwrap()
    }

    /// A lon/lat square covering `tile` and `margin` tiles beyond it on every side.
    fn square_around(tile: TileId, margin: f64) -> Polygon<f64> {
        let a = tile.tile_to_lonlat(Coord {
            x: -margin * 4096.0,
            y: -margin * 4096.0,
        });
        let b = tile.tile_to_lonlat(Coord {
            x: (1.0 + margin) * 4096.0,
            y: (1.0 + margin) * 4096.0,
        });
        // Counter-clockwise in lon/lat, as GeoJSON has it.
        polygon![
            (x: a.x, y: b.y),
            (x: b.x, y: b.y),
            (x: b.x, y: a.y),
            (x: a.x, y: a.y),
            (x: a.x, y: b.y),
        ]
    }

    #[test]
    fn a_large_polygon_is_clipped_to_the_buffer_and_wound_for_mvt() {
        let tile = TileId::containing(120.3826, 36.0671, 16);
        let feature = TileFeature::new(
            Some(7),
            Geometry::Polygon(square_around(tile, 1.0)),
            vec![("code".into(), "g1".into())],
        )
        .unwrap();
        let bytes = encode_tile("grids", tile, [&feature]).unwrap().unwrap();
        let layer = decode(&bytes);
        assert_eq!(layer.name, "grids");
        assert_eq!(layer.version, 2);
        assert_eq!(layer.extent, Some(4096));
        let f = &layer.features[0];
        assert_eq!(f.id, Some(7));
        assert_eq!(f.r#type, Some(GeomType::Polygon as i32));
        let Geometry::Polygon(p) = f.to_geo().unwrap() else {
            panic!("not a polygon")
        };
        let rect = p.bounding_rect().unwrap();
        assert_eq!((rect.min().x, rect.min().y), (-64.0, -64.0));
        assert_eq!((rect.max().x, rect.max().y), (4160.0, 4160.0));
        assert!(
            ring_area2(&p.exterior().0) > 0.0,
            "exterior must be positive"
        );
        assert_eq!(layer.keys, vec!["code".to_string()]);
    }

    #[test]
    fn holes_are_wound_negative_and_small_rings_dropped() {
        let tile = TileId::containing(120.3826, 36.0671, 16);
        let outer = square_around(tile, -0.1); // 10 % inside each edge
        let hole = square_around(tile, -0.4);
        let speck = {
            // Half a tile unit wide: collapses when snapped.
            let c = tile.tile_to_lonlat(Coord { x: 100.0, y: 100.0 });
            let d = tile.tile_to_lonlat(Coord { x: 100.4, y: 100.4 });
            polygon![(x: c.x, y: c.y), (x: d.x, y: c.y), (x: d.x, y: d.y), (x: c.x, y: c.y)]
        };
        let with_hole = Polygon::new(outer.exterior().clone(), vec![hole.exterior().clone()]);
        let features = [
            TileFeature::new(Some(1), Geometry::Polygon(with_hole), vec![]).unwrap(),
            TileFeature::new(Some(2), Geometry::Polygon(speck), vec![]).unwrap(),
        ];
        let layer = decode(&encode_tile("x", tile, &features).unwrap().unwrap());
        assert_eq!(layer.features.len(), 1, "the speck is dropped");
        let Geometry::Polygon(p) = layer.features[0].to_geo().unwrap() else {
            panic!("not a polygon")
        };
        assert_eq!(p.interiors().len(), 1);
        assert!(ring_area2(&p.exterior().0) > 0.0);
        assert!(ring_area2(&p.interiors()[0].0) < 0.0);
        // 0.8² − 0.2² of the tile, within a few units of rounding.
        let expected = (0.64 - 0.04) * 4096.0 * 4096.0;
        assert!((p.unsigned_area() - expected).abs() < 4096.0 * 4.0);
        // Nothing at all in the tile: None, not an empty tile.
        let far = TileId {
            x: tile.x + 5,
            ..tile
        };
        assert_eq!(encode_tile("x", far, &features).unwrap(), None);
    }

    #[test]
    fn lines_are_clipped_and_points_outside_the_buffer_dropped() {
        let tile = TileId::containing(120.3826, 36.0671, 16);
        let west = tile.tile_to_lonlat(Coord {
            x: -3000.0,
            y: 2048.0,
        });
        let east = tile.tile_to_lonlat(Coord {
            x: 9000.0,
            y: 2048.0,
        });
        let road = TileFeature::new(
            None,
            Geometry::LineString(LineString::from(vec![(west.x, west.y), (east.x, east.y)])),
            vec![("kind".into(), "primary".into())],
        )
        .unwrap();
        let layer = decode(&encode_tile("roads", tile, [&road]).unwrap().unwrap());
        let Geometry::LineString(line) = layer.features[0].to_geo().unwrap() else {
            panic!("not a line")
        };
        let xs: Vec<f64> = line.0.iter().map(|c| c.x).collect();
        assert_eq!(xs.iter().cloned().fold(f64::MAX, f64::min), -64.0);
        assert_eq!(xs.iter().cloned().fold(f64::MIN, f64::max), 4160.0);
        assert!(line.0.iter().all(|c| c.y == 2048.0));

        let inside = tile.tile_to_lonlat(Coord { x: 10.0, y: 20.0 });
        let in_buffer = tile.tile_to_lonlat(Coord { x: -30.0, y: 20.0 });
        let outside = tile.tile_to_lonlat(Coord { x: -300.0, y: 20.0 });
        let features: Vec<TileFeature> = [inside, in_buffer, outside]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                TileFeature::new(
                    Some(i as u64),
                    Geometry::Point(Point(*c)),
                    vec![("n".into(), PropertyValue::Int(i as i64))],
                )
                .unwrap()
            })
            .collect();
        let layer = decode(&encode_tile("points", tile, &features).unwrap().unwrap());
        let ids: Vec<Option<u64>> = layer.features.iter().map(|f| f.id).collect();
        assert_eq!(ids, vec![Some(0), Some(1)]);
        let Geometry::Point(p) = layer.features[0].to_geo().unwrap() else {
            panic!("not a point")
        };
        assert_eq!((p.x(), p.y()), (10.0, 20.0));
    }
}
