//! Domain types: the places of the grid hierarchy, responsibility areas, buildings and households.
//!
//! Geometry is always WGS84 (EPSG:4326) longitude/latitude. Conversions from other coordinate
//! systems happen at the edges (HTTP, import, export) through [`crate::spatial::crs`].

/// An enum whose every value has one name, the same in the API and in the database: with
/// `ALL`, `as_str`, `Display`, `FromStr` (whose error lists the names) and serde by that name.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in the order declared.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name in the API and the database.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    format!("{} is one of {}, not {s:?}", $what, names.join(", "))
                })
            }
        }
    };
}

pub mod branches;
mod claims;
pub mod edit;
pub mod lessons;
pub mod photos;
pub mod requests;
pub mod summary;
pub mod units;
pub mod visits;

pub use claims::{Claim, ClaimEnd, HeldArea, Holder};

use geo::{MultiPolygon, Point};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Database id of a place, building or household.
pub type Id = i64;

/// The kinds of polygon the service manages.
///
/// `District → Street → Community → Grid` is the administrative hierarchy; each level lies inside
/// its parent. A responsibility `Area` (民情责任田) belongs to a street but may cut across grids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlaceKind {
    /// A city district (区), e.g. 市南区 Shinan; the top of the hierarchy.
    District,
    /// A street (街道), a sub-district office area inside a district.
    Street,
    /// A residents' community (社区) inside a street.
    Community,
    /// A grid (网格, 片区), the smallest unit of management inside a community: a few hundred households.
    Grid,
    /// A responsibility area (民情责任田) that a street cadre claims; inside a street, may cut across grids.
    Area,
}

impl PlaceKind {
    /// Every kind, parents before children.
    pub const ALL: [PlaceKind; 5] = [
        PlaceKind::District,
        PlaceKind::Street,
        PlaceKind::Community,
        PlaceKind::Grid,
        PlaceKind::Area,
    ];

    /// The name stored in the database and used in the API (`"grid"`).
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::District => "district",
            PlaceKind::Street => "street",
            PlaceKind::Community => "community",
            PlaceKind::Grid => "grid",
            PlaceKind::Area => "area",
        }
    }

    /// The kind a parent of this kind must have; `None` for a district, which has no parent.
    pub fn parent_kind(self) -> Option<PlaceKind> {
        match self {
            PlaceKind::District => None,
            PlaceKind::Street => Some(PlaceKind::District),
            PlaceKind::Community => Some(PlaceKind::Street),
            PlaceKind::Grid => Some(PlaceKind::Community),
            PlaceKind::Area => Some(PlaceKind::Street),
        }
    }
}

impl fmt::Display for PlaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlaceKind {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PlaceKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// A layer as named on the command line and in URLs: the plural of a kind, or buildings/households.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The places of one kind (`districts`, `streets`, `communities`, `grids`, `areas`).
    Places(PlaceKind),
    /// The buildings (`buildings`).
    Buildings,
    /// The households (`households`); personal data.
    Households,
}

impl Layer {
    /// Every layer, in the order an import of a whole data set must follow (parents first).
    pub const ALL: [Layer; 7] = [
        Layer::Places(PlaceKind::District),
        Layer::Places(PlaceKind::Street),
        Layer::Places(PlaceKind::Community),
        Layer::Places(PlaceKind::Grid),
        Layer::Places(PlaceKind::Area),
        Layer::Buildings,
        Layer::Households,
    ];

    /// The plural name (`"grids"`, `"households"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Places(PlaceKind::District) => "districts",
            Layer::Places(PlaceKind::Street) => "streets",
            Layer::Places(PlaceKind::Community) => "communities",
            Layer::Places(PlaceKind::Grid) => "grids",
            Layer::Places(PlaceKind::Area) => "areas",
            Layer::Buildings => "buildings",
            Layer::Households => "households",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Layer {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layer::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| UnknownName(s.to_string()))
    }
}

/// A name that is not one of the known kinds or layers.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown name {0:?}")]
pub struct UnknownName(pub String);

/// A stored polygon of the hierarchy or a responsibility area.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The database id.
    pub id: Id,
    /// Which level of the hierarchy, or a responsibility area.
    pub kind: PlaceKind,
    /// Unique across all places, e.g. `370202010001003` (DB11/T 2157 style: admin + street + community + grid).
    pub code: String,
    /// The Chinese name, e.g. `香港花园社区`.
    pub name: String,
    /// The containing place, of the kind [`PlaceKind::parent_kind`] asks for; `None` for a district.
    pub parent_id: Option<Id>,
    /// The outline, in WGS84 longitude/latitude degrees.
    pub geometry: MultiPolygon<f64>,
    /// Starts at 1 and grows with every change.
    pub version: i64,
}

impl Place {
    /// The properties every GeoJSON form of this place carries: `code`, `name`, `kind` and
    /// `version`. Each form adds how it names the parent (`parent_id` in the audit trace,
    /// `parent_code` in answers and exports) and what else it knows.
    pub fn properties(&self) -> geojson::JsonObject {
        let mut properties = geojson::JsonObject::new();
        properties.insert("code".into(), self.code.clone().into());
        properties.insert("name".into(), self.name.clone().into());
        properties.insert("kind".into(), self.kind.as_str().into());
        properties.insert("version".into(), self.version.into());
        properties
    }

    /// The place as a GeoJSON Feature in WGS84 with its stored fields as properties (those of
    /// [`Place::properties`] and `parent_id`): what the audit trace keeps before and after an edit.
    pub fn to_feature(&self) -> serde_json::Value {
        let mut properties = self.properties();
        properties.insert("parent_id".into(), self.parent_id.into());
        let geometry = geojson::Geometry::new(geojson::GeometryValue::from(
            &geo::Geometry::MultiPolygon(self.geometry.clone()),
        ));
        serde_json::json!({
            "type": "Feature",
            "id": self.id,
            "geometry": geometry,
            "properties": properties,
        })
    }
}

/// A place to be stored; the parent is named by its code and resolved by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlace {
    /// Which level of the hierarchy, or a responsibility area.
    pub kind: PlaceKind,
    /// Unique across all places, e.g. `370202010001003`.
    pub code: String,
    /// The Chinese name, e.g. `香港花园社区`.
    pub name: String,
    /// The code of the containing place, of the kind [`PlaceKind::parent_kind`] asks for; `None` for a district.
    pub parent_code: Option<String>,
    /// The outline, in WGS84 longitude/latitude degrees.
    pub geometry: MultiPolygon<f64>,
}

/// A building: a footprint drawn in 3D by its number of floors.
#[derive(Debug, Clone, PartialEq)]
pub struct Building {
    /// The database id.
    pub id: Id,
    /// Unique across buildings.
    pub code: String,
    /// The building's name, e.g. its number in the estate.
    pub name: String,
    /// The standard address (标准地址) of the building.
    pub address: String,
    /// Number of floors (1 to 200 on import); the height the map draws it in 3D.
    pub floors: i32,
    /// Number of entrances (单元).
    pub units: i32,
    /// The outline on the ground, in WGS84 longitude/latitude degrees.
    pub footprint: MultiPolygon<f64>,
    /// The grid the building lies in, computed by the spatial index.
    pub grid_id: Option<Id>,
}

/// A building to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewBuilding {
    /// Unique across buildings.
    pub code: String,
    /// The building's name, e.g. its number in the estate.
    pub name: String,
    /// The standard address (标准地址) of the building.
    pub address: String,
    /// Number of floors (1 to 200 on import).
    pub floors: i32,
    /// Number of entrances (单元), at least 1.
    pub units: i32,
    /// The outline on the ground, in WGS84 longitude/latitude degrees.
    pub footprint: MultiPolygon<f64>,
}

/// One household (户) at one standard address. Holds personal data: never published in tiles or
/// public collections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Household {
    /// The database id.
    pub id: Id,
    /// Unique across households.
    pub code: String,
    #[serde(flatten)]
    /// What the user supplied: address, head of household, phone, tags, ….
    pub details: HouseholdDetails,
    #[serde(skip)]
    /// Where the household is, in WGS84 longitude/latitude degrees; never serialized with the details.
    pub location: Point<f64>,
    /// The grid the household lies in, computed by the spatial index.
    pub grid_id: Option<Id>,
    /// The responsibility areas the household lies in, computed by the spatial index.
    pub area_ids: Vec<Id>,
    /// Starts at 1 and grows with every change (an edit or an import).
    pub version: i64,
}

/// The fields of a household a user supplies (everything but ids and computed assignments).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct HouseholdDetails {
    /// The code of the building the household lives in, if known.
    pub building_code: Option<String>,
    /// The entrance (单元) of the building, if known.
    pub unit: Option<i32>,
    /// The floor (楼层), if known; negative below ground.
    pub floor: Option<i32>,
    /// The room number (户), if known, e.g. `302`.
    pub room: Option<String>,
    /// The standard address (标准地址) of the household.
    pub address: String,
    /// The name of the head of the household.
    pub head_name: String,
    /// A contact number, if known.
    pub phone: Option<String>,
    /// How many people live in the household (1 if not given on import).
    pub people: i32,
    /// Free tags such as `elderly_alone` or `party_member`.
    pub tags: Vec<String>,
}

/// A household to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHousehold {
    /// Unique across households.
    pub code: String,
    /// What the user supplied: address, head of household, phone, tags, ….
    pub details: HouseholdDetails,
    /// Where the household is, in WGS84 longitude/latitude degrees.
    pub location: Point<f64>,
}

/// One household to store by itself (an edit rather than an import), where the spatial index
/// puts it, and who writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdWrite {
    /// The household to change; `None` for a new one.
    pub id: Option<Id>,
    /// The version the change was made from; unused for a new household.
    pub expected_version: i64,
    /// Its fields and location.
    pub household: NewHousehold,
    /// The grid it lies in.
    pub grid_id: Option<Id>,
    /// The areas it lies in.
    pub area_ids: Vec<Id>,
    /// Who writes it; `None` is the operator at the command line.
    pub user_id: Option<Id>,
}

/// Where the spatial index puts a household: its grid and its responsibility areas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdAssignment {
    /// The household's database id.
    pub household_id: Id,
    /// The grid the household lies in; `None` if it lies outside every grid.
    pub grid_id: Option<Id>,
    /// The responsibility areas the household lies in; empty if none.
    pub area_ids: Vec<Id>,
}

/// Where the spatial index puts a building: the grid that holds its footprint's interior point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildingAssignment {
    /// The building's database id.
    pub building_id: Id,
    /// The grid that holds the footprint's interior point; `None` if none does.
    pub grid_id: Option<Id>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for layer in Layer::ALL {
            assert_eq!(layer.as_str().parse::<Layer>().unwrap(), layer);
        }
        for kind in PlaceKind::ALL {
            assert_eq!(kind.as_str().parse::<PlaceKind>().unwrap(), kind);
        }
        assert!("grid".parse::<Layer>().is_err());
    }
}
