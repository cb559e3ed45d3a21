//! The collections the OGC API publishes and the selection of their features from one
//! [`MapData`] snapshot.

use super::params::{BboxFilter, OgcCrs};
use crate::app::MapData;
use crate::geodata::{buildings_to_geojson, places_to_geojson};
use crate::model::{Building, Id, Place, PlaceKind};
use crate::spatial::crs::CrsError;
use geo::{BoundingRect, MultiPolygon, Rect};
use geojson::{Feature, GeometryValue, Position};
use std::collections::HashMap;

/// Where a collection's features come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Places(PlaceKind),
    Buildings,
}

/// A published collection. Households are deliberately absent: they hold personal data.
#[derive(Debug)]
pub struct Collection {
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub source: Source,
}

pub const COLLECTIONS: [Collection; 6] = [
    Collection {
        id: "districts",
        title: "Districts (区)",
        description: "Districts: the top of the hierarchy. parent_code is always null.",
        source: Source::Places(PlaceKind::District),
    },
    Collection {
        id: "streets",
        title: "Streets (街道)",
        description: "Street offices (街道); parent_code is the district's code.",
        source: Source::Places(PlaceKind::Street),
    },
    Collection {
        id: "communities",
        title: "Communities (社区)",
        description: "Communities (社区); parent_code is the street's code.",
        source: Source::Places(PlaceKind::Community),
    },
    Collection {
        id: "grids",
        title: "Grids (网格)",
        description: "Grids (网格) of a few hundred households; parent_code is the community's code.",
        source: Source::Places(PlaceKind::Grid),
    },
    Collection {
        id: "areas",
        title: "Responsibility areas (民情责任田)",
        description: "Responsibility areas (民情责任田) of street cadres; they may cut across grids. \
                      parent_code is the street's code.",
        source: Source::Places(PlaceKind::Area),
    },
    Collection {
        id: "buildings",
        title: "Buildings (楼栋)",
        description: "Building footprints with floors and units; grid_code (also the \
                      parent_code filter) is the grid holding the building.",
        source: Source::Buildings,
    },
];

pub fn find(id: &str) -> Option<&'static Collection> {
    COLLECTIONS.iter().find(|c| c.id == id)
}

/// One feature of a collection, borrowed from the snapshot.
#[derive(Debug, Clone, Copy)]
pub enum Item<'a> {
    Place(&'a Place),
    Building(&'a Building),
}

impl Item<'_> {
    pub fn id(&self) -> Id {
        match self {
            Item::Place(p) => p.id,
            Item::Building(b) => b.id,
        }
    }

    pub fn code(&self) -> &str {
        match self {
            Item::Place(p) => &p.code,
            Item::Building(b) => &b.code,
        }
    }

    /// The place a `parent_code` filter compares with: a place's parent, a building's grid.
    pub fn parent_id(&self) -> Option<Id> {
        match self {
            Item::Place(p) => p.parent_id,
            Item::Building(b) => b.grid_id,
        }
    }

    pub fn geometry(&self) -> &MultiPolygon<f64> {
        match self {
            Item::Place(p) => &p.geometry,
            Item::Building(b) => &b.footprint,
        }
    }
}

/// Every feature of a collection, by id.
pub fn items(map: &MapData, source: Source) -> Vec<Item<'_>> {
    let mut items: Vec<Item<'_>> = match source {
        Source::Places(kind) => map
            .places
            .iter()
            .filter(|p| p.kind == kind)
            .map(Item::Place)
            .collect(),
        Source::Buildings => map.buildings.iter().map(Item::Building).collect(),
    };
    items.sort_by_key(Item::id);
    items
}

/// The WGS84 rectangle holding every feature; `None` for an empty collection.
pub fn extent(items: &[Item<'_>]) -> Option<Rect<f64>> {
    items
        .iter()
        .filter_map(|i| i.geometry().bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                geo::Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                geo::Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
}

/// What an `items` request asks for.
#[derive(Debug, Default)]
pub struct Selection<'q> {
    pub bbox: Option<BboxFilter>,
    pub code: Option<&'q str>,
    pub parent_code: Option<&'q str>,
}

/// The features of `items` that `selection` selects, in id order.
pub fn select<'a>(
    map: &'a MapData,
    items: Vec<Item<'a>>,
    selection: &Selection<'_>,
) -> Result<Vec<Item<'a>>, CrsError> {
    // Codes are unique across places, so a parent code names at most one place.
    let parent_id: Option<Option<Id>> = selection
        .parent_code
        .map(|code| map.places.iter().find(|p| p.code == code).map(|p| p.id));
    let mut selected = Vec::new();
    for item in items {
        if selection.code.is_some_and(|code| item.code() != code) {
            continue;
        }
        if let Some(wanted) = parent_id
            && (wanted.is_none() || item.parent_id() != wanted)
        {
            continue;
        }
        if let Some(bbox) = &selection.bbox {
            let Some(bounds) = item.geometry().bounding_rect() else {
                continue;
            };
            if !bbox.selects(item.geometry(), bounds)? {
                continue;
            }
        }
        selected.push(item);
    }
    Ok(selected)
}

/// The features as GeoJSON in `crs`, coordinates in the CRS's axis order, with the properties of
/// `wangge export`.
pub fn to_geojson(
    map: &MapData,
    items: &[Item<'_>],
    crs: OgcCrs,
) -> Result<Vec<Feature>, CrsError> {
    let wanted: std::collections::HashSet<Id> = items.iter().filter_map(Item::parent_id).collect();
    let codes: HashMap<Id, String> = map
        .places
        .iter()
        .filter(|p| wanted.contains(&p.id))
        .map(|p| (p.id, p.code.clone()))
        .collect();
    let places: Vec<Place> = items
        .iter()
        .filter_map(|i| match i {
            Item::Place(p) => Some((*p).clone()),
            Item::Building(_) => None,
        })
        .collect();
    let buildings: Vec<Building> = items
        .iter()
        .filter_map(|i| match i {
            Item::Building(b) => Some((*b).clone()),
            Item::Place(_) => None,
        })
        .collect();
    let mut features = if buildings.is_empty() {
        places_to_geojson(&places, &codes, crs.crs())?.features
    } else {
        buildings_to_geojson(&buildings, &codes, crs.crs())?.features
    };
    if crs.northing_first() {
        for feature in &mut features {
            if let Some(geometry) = &mut feature.geometry {
                swap_axes(&mut geometry.value);
            }
        }
    }
    Ok(features)
}

/// Puts each position of a geometry into the CRS's axis order (the swap of x and y).
fn swap_axes(value: &mut GeometryValue) {
    fn swap(p: &mut Position) {
        if p.len() >= 2 {
            p.as_slice_mut().swap(0, 1);
        }
    }
    match value {
        GeometryValue::Point { coordinates } => swap(coordinates),
        GeometryValue::MultiPoint { coordinates } | GeometryValue::LineString { coordinates } => {
            coordinates.iter_mut().for_each(swap)
        }
        GeometryValue::MultiLineString { coordinates } | GeometryValue::Polygon { coordinates } => {
            coordinates.iter_mut().flatten().for_each(swap)
        }
        GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter_mut().flatten().flatten().for_each(swap)
        }
        GeometryValue::GeometryCollection { geometries } => {
            for g in geometries {
                swap_axes(&mut g.value);
            }
        }
    }
}
