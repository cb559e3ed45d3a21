//! The tile service: the sources, their features prepared per zoom group and datum, and the
//! tile cache, each kept across writes that did not change what they were made from.

use super::cache::{CACHE_MAX_BYTES, EncodedTile, TileCache};
use super::{Datum, TileSource};
use crate::app::{Aspect, MapData};
use crate::spatial::crs;
use crate::spatial::tiles::{self as tile_math, TileFeature, TileId};
use geo::Rect;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Features prepared from data version `made` and known to hold up to `checked`.
struct Prepared {
    made: u64,
    checked: u64,
    features: Arc<Vec<TileFeature>>,
}

/// How often a tile was asked of the cache ([`TileService::cached`]) and found, or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheStats {
    /// Tiles found in the cache.
    pub hits: u64,
    /// Tiles not in the cache, made and stored.
    pub misses: u64,
}

impl CacheStats {
    /// hits / (hits + misses); 0 before any request.
    pub fn hit_rate(&self) -> f64 {
        let asked = self.hits + self.misses;
        if asked == 0 {
            0.0
        } else {
            self.hits as f64 / asked as f64
        }
    }
}

/// The tile sources with their prepared features and the tile cache.
pub struct TileService {
    sources: Vec<Box<dyn TileSource>>,
    /// [`TileSource::depends_on`] of each source.
    aspects: Vec<Vec<Aspect>>,
    prepared: Mutex<HashMap<(usize, Datum, u8), Prepared>>,
    cache: TileCache,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How far GCJ-02 moves a point at most, in degrees, with room to spare (it is under 0.01°).
const GCJ02_MAX_SHIFT: f64 = 0.05;

/// The lon/lat (WGS84) rectangle whose data a tile in `datum` may draw: the tile with its buffer,
/// or for GCJ-02 the WGS84 points that GCJ-02 moves into it. `None` when that is not bounded
/// simply (a GCJ-02 tile wider than a degree or near the edge of the area GCJ-02 applies to):
/// then any change of the layer counts.
fn tile_area(tile: TileId, datum: Datum) -> Option<Rect<f64>> {
    let world = tile.buffered_world_bounds();
    let area = Rect::new(
        tile_math::world_to_lonlat(world.min()),
        tile_math::world_to_lonlat(world.max()),
    );
    if datum == Datum::Wgs84 {
        return Some(area);
    }
    let (min, max) = (area.min(), area.max());
    let inside = |x: f64, y: f64| crs::in_china(x, y);
    let m = GCJ02_MAX_SHIFT;
    let corners = [
        (min.x - m, min.y - m),
        (min.x - m, max.y + m),
        (max.x + m, min.y - m),
        (max.x + m, max.y + m),
    ];
    let apart = max.x + m < crs::CHINA_WEST
        || min.x - m > crs::CHINA_EAST
        || max.y + m < crs::CHINA_SOUTH
        || min.y - m > crs::CHINA_NORTH;
    if apart {
        return Some(area); // GCJ-02 is WGS84 there
    }
    if area.width() > 1.0 || area.height() > 1.0 || !corners.iter().all(|(x, y)| inside(*x, *y)) {
        return None;
    }
    // Within the box GCJ-02 is a smooth shift that bends straight lines very little: the
    // rectangle around the corners taken back to WGS84, with a margin for that bend.
    let back: Vec<(f64, f64)> = [
        (min.x, min.y),
        (min.x, max.y),
        (max.x, min.y),
        (max.x, max.y),
    ]
    .iter()
    .map(|(x, y)| crs::gcj02_to_wgs84(*x, *y))
    .collect();
    let pad = 0.02 * area.width().max(area.height()) + 1e-6;
    let fold = |f: fn(f64, f64) -> f64, pick: fn(&(f64, f64)) -> f64| {
        back.iter().map(pick).reduce(f).expect("four corners")
    };
    Some(Rect::new(
        geo::coord! { x: fold(f64::min, |c| c.0) - pad, y: fold(f64::min, |c| c.1) - pad },
        geo::coord! { x: fold(f64::max, |c| c.0) + pad, y: fold(f64::max, |c| c.1) + pad },
    ))
}

impl TileService {
    /// A service over these sources, in drawing order from the bottom, with an empty cache.
    pub fn new(sources: Vec<Box<dyn TileSource>>) -> TileService {
        TileService {
            aspects: sources.iter().map(|s| s.depends_on()).collect(),
            sources,
            prepared: Mutex::default(),
            cache: TileCache::new(CACHE_MAX_BYTES),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The sources, in drawing order from the bottom.
    pub fn sources(&self) -> &[Box<dyn TileSource>] {
        &self.sources
    }

    /// The layers served, in order.
    pub fn layer_names(&self) -> Vec<&'static str> {
        self.sources.iter().map(|s| s.name()).collect()
    }

    /// The index and the source of a layer.
    pub fn source(&self, name: &str) -> Option<(usize, &dyn TileSource)> {
        self.sources
            .iter()
            .enumerate()
            .find(|(_, s)| s.name() == name)
            .map(|(i, s)| (i, s.as_ref()))
    }

    /// The cache's hits and misses so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Whether the writes after data version `since`, up to `data`'s, left what `source` draws
    /// unchanged inside `area` (`None`: anywhere).
    fn unchanged(
        &self,
        source: usize,
        since: u64,
        data: &MapData,
        area: Option<Rect<f64>>,
    ) -> bool {
        if self.sources[source].is_static() {
            return true;
        }
        let Some(mut changes) = data.changes.since(since) else {
            return false; // too long ago to tell
        };
        let aspects = &self.aspects[source];
        changes.all(|change| {
            aspects.iter().all(|aspect| {
                let region = change.region(*aspect);
                match area {
                    Some(area) => !region.intersects(&area),
                    None => region.is_empty(),
                }
            })
        })
    }

    /// The features of a source at zoom `z` for this data, in `datum`, prepared again only after
    /// a write that changed what the source is drawn from.
    pub fn features(
        &self,
        source: usize,
        data: &MapData,
        z: u8,
        datum: Datum,
    ) -> Arc<Vec<TileFeature>> {
        let src = &self.sources[source];
        let key = (source, datum, src.zoom_group(z));
        if let Some(p) = lock(&self.prepared).get_mut(&key) {
            let holds = (p.made..=p.checked).contains(&data.version)
                || (data.version > p.checked && self.unchanged(source, p.checked, data, None));
            if holds {
                p.checked = p.checked.max(data.version);
                return p.features.clone();
            }
        }
        let features = Arc::new(match datum {
            Datum::Wgs84 => src.features(data, key.2),
            Datum::Gcj02 => self
                .features(source, data, z, Datum::Wgs84)
                .iter()
                .filter_map(|f| {
                    f.shifted(|c| {
                        let (x, y) = crs::wgs84_to_gcj02(c.x, c.y);
                        geo::coord! { x: x, y: y }
                    })
                })
                .collect(),
        });
        let mut prepared = lock(&self.prepared);
        // A slower preparation from older data finishing last does not replace a newer one.
        if prepared.get(&key).is_none_or(|p| p.checked < data.version) {
            prepared.insert(
                key,
                Prepared {
                    made: data.version,
                    checked: data.version,
                    features: features.clone(),
                },
            );
        }
        features
    }

    /// The tile from the cache if it still holds for this data; counted as a hit or a miss.
    pub fn cached(
        &self,
        source: usize,
        data: &MapData,
        tile: TileId,
        datum: Datum,
    ) -> Option<Option<Arc<EncodedTile>>> {
        let found = self.lookup(source, data, tile, datum);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(
        &self,
        source: usize,
        data: &MapData,
        tile: TileId,
        datum: Datum,
    ) -> Option<Option<Arc<EncodedTile>>> {
        let entry = self.cache.get(&(source, datum, tile))?;
        let holds = self.sources[source].is_static()
            || entry.holds(data.version, |since| {
                self.unchanged(source, since, data, tile_area(tile, datum))
            });
        holds.then(|| entry.tile.clone())
    }

    /// The tile of a layer for this data, from the cache or freshly made; `None` when the layer
    /// has nothing in the tile.
    pub fn tile(
        &self,
        source: usize,
        data: &MapData,
        tile: TileId,
        datum: Datum,
    ) -> Result<Option<Arc<EncodedTile>>, String> {
        if let Some(hit) = self.lookup(source, data, tile, datum) {
            return Ok(hit);
        }
        let features = self.features(source, data, tile.z, datum);
        let name = self.sources[source].name();
        let encoded = tile_math::encode_tile(name, tile, features.iter())
            .map_err(|e| format!("encoding tile {name}/{tile}: {e}"))?
            .map(|raw| Arc::new(EncodedTile::new(raw)));
        self.cache
            .insert((source, datum, tile), data.version, encoded.clone());
        Ok(encoded)
    }

    /// The lon/lat bounds of a layer's features at `z` (west, south, east, north).
    pub fn bounds(&self, source: usize, data: &MapData, z: u8) -> Option<[f64; 4]> {
        self.features(source, data, z, Datum::Wgs84)
            .iter()
            .map(|f| f.lonlat_bbox())
            .reduce(|a, b| {
                geo::Rect::new(
                    geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                    geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
                )
            })
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::app::HouseholdPoint;
    use crate::model::visits::NeedCounts;
    use crate::model::{Id, Place, PlaceKind};
    use crate::tiles::default_sources;
    use geo::{Coord, MultiPolygon, polygon};
    use geozero::ToGeo;
    use geozero::mvt::{Message, Tile};

    fn grid(id: Id, west: f64) -> Place {
        Place {
            id,
            kind: PlaceKind::Grid,
            code: format!("G{id}"),
            name: "grid".into(),
            parent_id: None,
            geometry: MultiPolygon(vec![polygon![
                (x: west, y: 36.060),
                (x: west + 0.002, y: 36.060),
                (x: west + 0.002, y: 36.062),
                (x: west, y: 36.062),
                (x: west, y: 36.060),
            ]]),
            version: 1,
        }
    }

    fn households(west: f64) -> Arc<Vec<HouseholdPoint>> {
        Arc::new(vec![HouseholdPoint {
            id: 9,
            location: Coord {
                x: west + 0.001,
                y: 36.061,
            },
            grid_id: Some(1),
            area_ids: Vec::new(),
            building_code: None,
            tags: vec!["elderly_alone".into()],
            open_needs: NeedCounts::default(),
        }])
    }

    /// Version 1: one grid (id 1) with one household and one area (id 2) over it.
    pub(in crate::tiles) fn data(west: f64) -> MapData {
        let mut area = grid(2, west);
        area.kind = PlaceKind::Area;
        MapData::default().followed_by(
            Arc::new(vec![grid(1, west), area]),
            Arc::default(),
            households(west),
            Arc::default(),
        )
    }

    /// The next version with grid 1 and its household `west`.
    fn moved(data: &MapData, west: f64) -> MapData {
        let mut places = (*data.places).clone();
        places[0] = grid(1, west);
        data.followed_by(
            Arc::new(places),
            data.buildings.clone(),
            households(west),
            data.holders.clone(),
        )
    }

    /// Decodes a grids tile and returns the x range of its one feature, in tile units.
    fn feature_x_range(bytes: &[u8]) -> (f64, f64) {
        let tile = Tile::decode(bytes).unwrap();
        let g = tile.layers[0].features[0].to_geo().unwrap();
        let r = geo::BoundingRect::bounding_rect(&g).unwrap();
        (r.min().x, r.max().x)
    }

    #[test]
    fn a_write_renders_again_only_the_tiles_it_changed() {
        let service = TileService::new(default_sources());
        let (grids, _) = service.source("grids").unwrap();
        let (areas, _) = service.source("areas").unwrap();
        let v1 = data(120.380);
        let tile = TileId::containing(120.381, 36.061, 14);
        let far = TileId::containing(120.5, 36.061, 14);
        let get = |source, data: &MapData, tile| {
            service
                .tile(source, data, tile, Datum::Wgs84)
                .unwrap()
                .unwrap()
        };
        let first = get(grids, &v1, tile);
        // Cached: the same allocation comes back for the same version.
        assert!(Arc::ptr_eq(&first, &get(grids, &v1, tile)));
        let area_tile = get(areas, &v1, tile);
        assert!(
            service
                .tile(areas, &v1, far, Datum::Wgs84)
                .unwrap()
                .is_none()
        );

        // Area 2 is claimed: its areas tile is made again (claimed: true), the grids tile and
        // the far (empty) areas tile are not.
        let holder = crate::model::Holder {
            id: 5,
            name: "cadre".into(),
            display_name: None,
            phone: None,
        };
        let v2 = v1.followed_by(
            v1.places.clone(),
            v1.buildings.clone(),
            v1.households.clone(),
            Arc::new(HashMap::from([(2, holder)])),
        );
        assert!(Arc::ptr_eq(&first, &get(grids, &v2, tile)));
        let claimed = get(areas, &v2, tile);
        assert_ne!(claimed.etag(false), area_tile.etag(false));
        assert!(service.cached(areas, &v2, far, Datum::Wgs84).is_some());
        for datum in [Datum::Wgs84, Datum::Gcj02] {
            assert!(service.tile(grids, &v1, tile, datum).is_ok());
        }

        // The grid moves 0.0005° east in version 3.
        let v3 = moved(&v2, 120.3805);
        let second = get(grids, &v3, tile);
        assert_ne!(first.raw, second.raw);
        assert_ne!(first.etag(false), second.etag(false));
        let expected = tile.lonlat_to_tile(120.3805, 36.061).x.round();
        assert_eq!(feature_x_range(&second.raw).0, expected);
        assert_ne!(feature_x_range(&first.raw).0, expected);
        // The areas tile holds on.
        assert!(Arc::ptr_eq(&claimed, &get(areas, &v3, tile)));
        // A reader still holding version 2 is not served version 3's tile.
        assert_eq!(get(grids, &v2, tile).raw, first.raw);
        assert!(Arc::ptr_eq(&second, &get(grids, &v3, tile)));
    }

    #[test]
    fn a_gcj02_tile_area_holds_every_point_gcj02_moves_into_the_tile() {
        for z in [9u8, 12, 15, 18] {
            for (lon, lat) in [
                (120.38, 36.06),
                (87.6, 43.8),
                (121.47, 31.23),
                (113.26, 23.13),
            ] {
                let (gx, gy) = crs::wgs84_to_gcj02(lon, lat);
                let tile = TileId::containing(gx, gy, z);
                let area = tile_area(tile, Datum::Gcj02).expect("bounded in China");
                let gcj = tile.lonlat_bounds();
                for i in 0..=10 {
                    for j in 0..=10 {
                        let x = gcj.min().x + gcj.width() * f64::from(i) / 10.0;
                        let y = gcj.min().y + gcj.height() * f64::from(j) / 10.0;
                        let (wx, wy) = crs::gcj02_to_wgs84(x, y);
                        assert!(
                            geo::Intersects::intersects(&area, &geo::coord! { x: wx, y: wy }),
                            "z{z} ({x}, {y})"
                        );
                    }
                }
            }
        }
        // Abroad, GCJ-02 is WGS84; across the edge of China's box, any change counts.
        let paris = TileId::containing(2.35, 48.85, 12);
        assert_eq!(
            tile_area(paris, Datum::Gcj02),
            tile_area(paris, Datum::Wgs84)
        );
        assert!(tile_area(TileId::containing(72.0, 40.0, 12), Datum::Gcj02).is_none());
    }
}
