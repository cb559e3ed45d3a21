//! The demo street, compiled into the binary so that `wangge serve --demo` needs no files.
//! The data and its generator live in `geodata/` (see `geodata/README.md`).

use crate::model::{Layer, PlaceKind};

/// Every demo layer with its GeoJSON, parents first.
pub const LAYERS: [(Layer, &str); 7] = [
    (
        Layer::Places(PlaceKind::District),
        include_str!("../geodata/demo/districts.geojson"),
    ),
    (
        Layer::Places(PlaceKind::Street),
        include_str!("../geodata/demo/streets.geojson"),
    ),
    (
        Layer::Places(PlaceKind::Community),
        include_str!("../geodata/demo/communities.geojson"),
    ),
    (
        Layer::Places(PlaceKind::Grid),
        include_str!("../geodata/demo/grids.geojson"),
    ),
    (
        Layer::Places(PlaceKind::Area),
        include_str!("../geodata/demo/areas.geojson"),
    ),
    (
        Layer::Buildings,
        include_str!("../geodata/demo/buildings.geojson"),
    ),
    (
        Layer::Households,
        include_str!("../geodata/demo/households.geojson"),
    ),
];

/// Background layers of the demo area (sea and roads) that the web map draws under our data,
/// so that it needs no external basemap. Not part of the model: served as static tile layers.
pub const BASEMAP: [(&str, &str); 2] = [
    ("water", include_str!("../geodata/demo/water.geojson")),
    ("roads", include_str!("../geodata/demo/roads.geojson")),
];
