//! The tile sources: the [`TileSource`] trait and the layers drawn from the map data.

use super::basemap::basemap_sources;
use crate::app::{Aspect, MapData};
use crate::model::visits::{NeedCounts, NeedKind};
use crate::model::{Id, PlaceKind};
use crate::spatial::tiles::{PropertyValue, TileFeature};
use geo::{GeodesicArea, Geometry, InteriorPoint, MultiPolygon};
use std::collections::HashMap;

/// From this zoom up, `households` has one point per household; below it, one per grid.
pub const HOUSEHOLD_POINTS_MIN_ZOOM: u8 = 16;

/// Storey height used for `height_m`.
pub const METRES_PER_FLOOR: i64 = 3;

/// `Cache-Control` of the layers drawn from the database: store, but ask (ETag) every time.
const DATA_CACHE_CONTROL: &str = "no-cache";
/// `Cache-Control` of the static basemap layers compiled into the binary.
const STATIC_CACHE_CONTROL: &str = "public, max-age=3600";

/// One layer of tiles.
pub trait TileSource: Send + Sync {
    /// The layer name in URLs and inside the tiles.
    fn name(&self) -> &'static str;
    /// One sentence for TileJSON.
    fn description(&self) -> &'static str;
    /// Field name → description, for TileJSON `vector_layers`.
    fn fields(&self) -> Vec<(String, String)>;
    /// Whether the features are static (they then ignore the data and its version).
    fn is_static(&self) -> bool {
        false
    }
    /// Zooms that draw the same features share a group; [`TileSource::features`] is called once
    /// per group and data version.
    fn zoom_group(&self, _z: u8) -> u8 {
        0
    }
    /// Every feature of the layer for one zoom group, from one snapshot of the data.
    fn features(&self, data: &MapData, group: u8) -> Vec<TileFeature>;
    /// The parts of the data [`TileSource::features`] reads: a write that changes none of them
    /// inside a tile leaves the tile as it is. The default, everything, is never wrong.
    fn depends_on(&self) -> Vec<Aspect> {
        if self.is_static() {
            Vec::new()
        } else {
            Aspect::ALL.to_vec()
        }
    }
    /// The `Cache-Control` header of its tiles.
    fn cache_control(&self) -> &'static str {
        if self.is_static() {
            STATIC_CACHE_CONTROL
        } else {
            DATA_CACHE_CONTROL
        }
    }
}

pub(super) fn prop(key: &str, value: impl Into<PropertyValue>) -> (String, PropertyValue) {
    (key.to_string(), value.into())
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Households per grid id.
fn household_counts(data: &MapData) -> HashMap<Id, i64> {
    let mut counts = HashMap::new();
    for h in data.households.iter() {
        if let Some(grid) = h.grid_id {
            *counts.entry(grid).or_insert(0) += 1;
        }
    }
    counts
}

/// Households per km² of a polygon's geodesic area, to one decimal; 0 for a degenerate polygon.
fn density(households: i64, shape: &MultiPolygon<f64>) -> f64 {
    let km2 = shape.geodesic_area_unsigned() / 1e6;
    if km2 > 0.0 {
        (households as f64 / km2 * 10.0).round() / 10.0
    } else {
        0.0
    }
}

/// A level of the hierarchy or the responsibility areas; `grids` also carries household counts.
pub struct PlaceSource {
    kind: PlaceKind,
}

impl TileSource for PlaceSource {
    fn name(&self) -> &'static str {
        crate::model::Layer::Places(self.kind).as_str()
    }

    fn description(&self) -> &'static str {
        match self.kind {
            PlaceKind::District => "Districts (区)",
            PlaceKind::Street => "Streets (街道)",
            PlaceKind::Community => "Communities (社区)",
            PlaceKind::Grid => "Grids (网格) with their household count and density",
            PlaceKind::Area => "Responsibility areas (民情责任田), claimed or free",
        }
    }

    fn fields(&self) -> Vec<(String, String)> {
        let mut f = fields(&[
            ("id", "Database id (also the feature id)"),
            ("code", "Unique code, e.g. 370202010001003"),
            ("name", "Name"),
            (
                "parent_code",
                "Code of the parent unit (absent for a district)",
            ),
            ("kind", "district, street, community, grid or area"),
        ]);
        if self.kind == PlaceKind::Grid {
            f.extend(fields(&[
                ("households", "Number of households in the grid"),
                ("density", "Households per square kilometre of the grid"),
            ]));
        }
        if self.kind == PlaceKind::Area {
            f.extend(fields(&[(
                "claimed",
                "Whether a cadre holds the area now (true) or it is free to claim (false)",
            )]));
        }
        f
    }

    /// Its own kind (the parent's code is part of how a place is drawn); grids also their
    /// household counts (and density), areas whether they are claimed.
    fn depends_on(&self) -> Vec<Aspect> {
        let mut aspects = vec![Aspect::Places(self.kind)];
        match self.kind {
            PlaceKind::Grid => aspects.push(Aspect::GridCounts),
            PlaceKind::Area => aspects.push(Aspect::Claims),
            _ => {}
        }
        aspects
    }

    fn features(&self, data: &MapData, _group: u8) -> Vec<TileFeature> {
        let codes: HashMap<Id, &str> = data
            .places
            .iter()
            .map(|p| (p.id, p.code.as_str()))
            .collect();
        let counts = if self.kind == PlaceKind::Grid {
            household_counts(data)
        } else {
            HashMap::new()
        };
        data.places
            .iter()
            .filter(|p| p.kind == self.kind)
            .filter_map(|p| {
                let mut props = vec![
                    prop("id", p.id),
                    prop("code", p.code.as_str()),
                    prop("name", p.name.as_str()),
                ];
                if let Some(parent) = p.parent_id.and_then(|id| codes.get(&id)) {
                    props.push(prop("parent_code", *parent));
                }
                props.push(prop("kind", self.kind.as_str()));
                if self.kind == PlaceKind::Grid {
                    let n = counts.get(&p.id).copied().unwrap_or(0);
                    props.push(prop("households", n));
                    props.push(prop("density", density(n, &p.geometry)));
                }
                if self.kind == PlaceKind::Area {
                    props.push(prop("claimed", data.holders.contains_key(&p.id)));
                }
                TileFeature::new(
                    Some(p.id as u64),
                    Geometry::MultiPolygon(p.geometry.clone()),
                    props,
                )
            })
            .collect()
    }
}

/// Building footprints, with a height for 3D extrusion.
pub struct BuildingSource;

impl TileSource for BuildingSource {
    fn name(&self) -> &'static str {
        "buildings"
    }

    fn description(&self) -> &'static str {
        "Building footprints with floors and height for fill-extrusion"
    }

    fn fields(&self) -> Vec<(String, String)> {
        fields(&[
            ("code", "Unique building code"),
            ("name", "Building name"),
            ("floors", "Number of floors"),
            ("height_m", "Height in metres (floors × 3)"),
        ])
    }

    fn depends_on(&self) -> Vec<Aspect> {
        vec![Aspect::Buildings]
    }

    fn features(&self, data: &MapData, _group: u8) -> Vec<TileFeature> {
        data.buildings
            .iter()
            .filter_map(|b| {
                let floors = i64::from(b.floors);
                TileFeature::new(
                    Some(b.id as u64),
                    Geometry::MultiPolygon(b.footprint.clone()),
                    vec![
                        prop("code", b.code.as_str()),
                        prop("name", b.name.as_str()),
                        prop("floors", floors),
                        prop("height_m", floors * METRES_PER_FLOOR),
                    ],
                )
            })
            .collect()
    }
}

/// Households: counted per grid below [`HOUSEHOLD_POINTS_MIN_ZOOM`], one point each from it.
/// Never anything personal.
pub struct HouseholdSource;

impl TileSource for HouseholdSource {
    fn name(&self) -> &'static str {
        "households"
    }

    fn description(&self) -> &'static str {
        "Households: below zoom 16 one point per grid with its household count; from zoom 16 one \
         point per household (id and grid only, nothing personal)"
    }

    fn fields(&self) -> Vec<(String, String)> {
        fields(&[
            ("grid_code", "Code of the household's grid"),
            (
                "households",
                "Below zoom 16: number of households in the grid",
            ),
            ("id", "From zoom 16: household id (also the feature id)"),
        ])
    }

    fn zoom_group(&self, z: u8) -> u8 {
        u8::from(z >= HOUSEHOLD_POINTS_MIN_ZOOM)
    }

    /// The points and their grid codes; below z16 also each grid's outline (its point is an
    /// interior point of it, labelled with its code) and household count.
    fn depends_on(&self) -> Vec<Aspect> {
        vec![
            Aspect::Households,
            Aspect::Places(PlaceKind::Grid),
            Aspect::GridCounts,
        ]
    }

    fn features(&self, data: &MapData, group: u8) -> Vec<TileFeature> {
        let grids = data.places.iter().filter(|p| p.kind == PlaceKind::Grid);
        if group == 0 {
            let counts = household_counts(data);
            grids
                .filter_map(|g| {
                    let n = counts.get(&g.id).copied().unwrap_or(0);
                    if n == 0 {
                        return None;
                    }
                    TileFeature::new(
                        Some(g.id as u64),
                        Geometry::Point(g.geometry.interior_point()?),
                        vec![prop("grid_code", g.code.as_str()), prop("households", n)],
                    )
                })
                .collect()
        } else {
            let codes: HashMap<Id, &str> = grids.map(|g| (g.id, g.code.as_str())).collect();
            data.households
                .iter()
                .filter_map(|h| {
                    let mut props = vec![prop("id", h.id)];
                    if let Some(code) = h.grid_id.and_then(|id| codes.get(&id)) {
                        props.push(prop("grid_code", *code));
                    }
                    TileFeature::new(Some(h.id as u64), Geometry::Point(h.location.into()), props)
                })
                .collect()
        }
    }
}

/// Open needs per grid (for the street to see what to buy and where): each grid's outline with
/// its count of open needs by kind. Sums only; no household's position, name or need shows.
pub struct NeedsSource;

impl TileSource for NeedsSource {
    fn name(&self) -> &'static str {
        "needs"
    }

    fn description(&self) -> &'static str {
        "Open needs (智能手环, 灭火器, …) per grid, by kind"
    }

    fn fields(&self) -> Vec<(String, String)> {
        let mut f = fields(&[
            ("id", "Database id of the grid (also the feature id)"),
            ("code", "The grid's code"),
            ("name", "The grid's name"),
            ("open", "Open needs of the grid's households, of every kind"),
        ]);
        for kind in NeedKind::ALL {
            f.push((
                kind.as_str().to_string(),
                format!("Open needs of type {kind}"),
            ));
        }
        f
    }

    fn depends_on(&self) -> Vec<Aspect> {
        vec![Aspect::Places(PlaceKind::Grid), Aspect::Needs]
    }

    fn features(&self, data: &MapData, _group: u8) -> Vec<TileFeature> {
        let mut open: HashMap<Id, NeedCounts> = HashMap::new();
        for h in data.households.iter() {
            if let (Some(grid), true) = (h.grid_id, h.open_needs.total() > 0) {
                open.entry(grid).or_default().add(&h.open_needs);
            }
        }
        data.places
            .iter()
            .filter(|p| p.kind == PlaceKind::Grid)
            .filter_map(|p| {
                let counts = open.get(&p.id).copied().unwrap_or_default();
                let mut props = vec![
                    prop("id", p.id),
                    prop("code", p.code.as_str()),
                    prop("name", p.name.as_str()),
                    prop("open", i64::from(counts.total())),
                ];
                for kind in NeedKind::ALL {
                    props.push(prop(kind.as_str(), i64::from(counts.get(kind))));
                }
                TileFeature::new(
                    Some(p.id as u64),
                    Geometry::MultiPolygon(p.geometry.clone()),
                    props,
                )
            })
            .collect()
    }
}

/// Every layer served, in drawing order from the bottom.
pub fn default_sources() -> Vec<Box<dyn TileSource>> {
    let mut sources: Vec<Box<dyn TileSource>> = Vec::new();
    for source in basemap_sources() {
        sources.push(Box::new(source));
    }
    for kind in PlaceKind::ALL {
        sources.push(Box::new(PlaceSource { kind }));
    }
    sources.push(Box::new(NeedsSource));
    sources.push(Box::new(BuildingSource));
    sources.push(Box::new(HouseholdSource));
    sources
}

#[cfg(test)]
mod tests {
    use super::super::service::tests::data;
    use super::*;
    use crate::tiles::{Datum, TileService};
    use std::sync::Arc;

    #[test]
    fn grids_carry_household_counts_and_households_nothing_personal() {
        let service = TileService::new(default_sources());
        let d = data(120.380);
        let (grids, _) = service.source("grids").unwrap();
        let f = &service.features(grids, &d, 14, Datum::Wgs84)[0];
        let keys: Vec<&str> = f.properties.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            ["id", "code", "name", "kind", "households", "density"]
        );
        assert_eq!(f.properties[4].1, PropertyValue::Int(1));
        // 1 household in about 0.2 km × 0.22 km.
        let PropertyValue::Double(density) = f.properties[5].1 else {
            panic!("density is a number")
        };
        assert!((20.0..30.0).contains(&density), "{density}");
        let (households, _) = service.source("households").unwrap();
        let low = service.features(households, &d, 15, Datum::Wgs84);
        assert_eq!(
            low[0].properties,
            vec![prop("grid_code", "G1"), prop("households", 1i64)]
        );
        let high = service.features(households, &d, 16, Datum::Wgs84);
        assert_eq!(
            high[0].properties,
            vec![prop("id", 9i64), prop("grid_code", "G1")]
        );
    }

    #[test]
    fn needs_sum_the_open_needs_of_each_grid_and_change_nothing_else() {
        let service = TileService::new(default_sources());
        let before = data(120.380);
        let need = |kind| crate::model::visits::Need {
            id: 1,
            visit_id: 1,
            household_id: 9,
            kind,
            note: "独居老人".into(),
            met_at: None,
            met_by: None,
        };
        let mut households = (*before.households).clone();
        households[0].open_needs = NeedCounts::open_of(&[
            need(NeedKind::Wristband),
            need(NeedKind::Wristband),
            need(NeedKind::DoorBolt),
        ]);
        let after = before.followed_by(
            before.places.clone(),
            before.buildings.clone(),
            Arc::new(households),
            before.holders.clone(),
        );
        let (needs, _) = service.source("needs").unwrap();
        let count = |data: &MapData, key: &str| {
            let features = service.features(needs, data, 14, Datum::Wgs84);
            assert_eq!(features.len(), 1, "one feature per grid");
            let (_, value) = features[0]
                .properties
                .iter()
                .find(|(k, _)| k == key)
                .cloned()
                .unwrap();
            value
        };
        assert_eq!(count(&before, "open"), PropertyValue::Int(0));
        assert_eq!(count(&after, "open"), PropertyValue::Int(3));
        assert_eq!(count(&after, "wristband"), PropertyValue::Int(2));
        assert_eq!(count(&after, "door_bolt"), PropertyValue::Int(1));
        assert_eq!(count(&after, "medical"), PropertyValue::Int(0));
        let features = service.features(needs, &after, 14, Datum::Wgs84);
        assert!(
            features[0].properties.iter().all(|(k, _)| k != "note"),
            "no need's words on a public map"
        );
        // Only the needs changed: the households layer keeps its tiles.
        let change = after.changes.since(before.version).unwrap().next().unwrap();
        assert!(!change.region(Aspect::Needs).is_empty());
        assert!(change.region(Aspect::Households).is_empty());
        assert!(change.region(Aspect::GridCounts).is_empty());
    }
}
