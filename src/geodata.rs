//! GeoJSON import and export, shared by the command line and the HTTP layer.
//!
//! Import reads a FeatureCollection for one layer, converts every geometry to WGS84 and checks
//! every feature; it returns either all features ready to store or the list of every invalid one
//! with its index and reason, so that nothing is ever half-imported. Export writes RFC 7946
//! GeoJSON (exterior rings counter-clockwise) in any CRS the service knows.
//!
//! Properties read per layer:
//! - places (`districts` … `areas`): `code`, `name`, `parent_code` (null for a district);
//! - `buildings`: `code`, `name`, `address`, `floors`, `units`;
//! - `households`: `code`, `building_code`, `unit`, `floor`, `room`, `address`, `head_name`,
//!   `phone`, `people`, `tags`.
//!
//! Households also come from a CSV register ([`households_from_csv`]), placed by their building
//! or address when they have no coordinates.

mod households_csv;

pub use households_csv::{CsvHouseholds, UnmatchedRow, households_from_csv};

use crate::model::{
    Building, Household, Id, Layer, NewBuilding, NewHousehold, NewPlace, Place, PlaceKind,
};
use crate::spatial::crs::{Crs, CrsError};
use crate::spatial::validate::{InvalidGeometry, check_point, check_polygonal};
use geo::orient::{Direction, Orient};
use geo::{Geometry, MultiPolygon};
use geojson::{Feature, FeatureCollection, GeoJson, GeometryValue, JsonObject, JsonValue};
use serde_json::json;
use std::collections::HashMap;
use std::fmt;

/// The features of one layer, checked and in WGS84, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerData {
    /// Districts, streets, communities, grids or responsibility areas.
    Places(Vec<NewPlace>),
    /// Buildings with their footprints.
    Buildings(Vec<NewBuilding>),
    /// Households with their locations.
    Households(Vec<NewHousehold>),
}

impl LayerData {
    /// Number of features.
    pub fn len(&self) -> usize {
        match self {
            LayerData::Places(v) => v.len(),
            LayerData::Buildings(v) => v.len(),
            LayerData::Households(v) => v.len(),
        }
    }

    /// Whether there are no features.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One invalid feature: where it is in the file and what is wrong with it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeatureError {
    /// Position in the collection's `features` array, from 0.
    pub index: usize,
    /// The feature's `code`, when it had a readable one.
    pub code: Option<String>,
    /// What is wrong with the feature.
    pub reason: String,
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "feature {} ({code}): {}", self.index, self.reason),
            None => write!(f, "feature {}: {}", self.index, self.reason),
        }
    }
}

/// Why a GeoJSON document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not valid GeoJSON: {0}")]
    /// The text is not JSON or not GeoJSON; the text is the parser's message.
    Syntax(String),
    #[error("expected a FeatureCollection, found a {0}")]
    /// The document is GeoJSON of another type (named here) than a FeatureCollection.
    NotACollection(&'static str),
    #[error(transparent)]
    /// The coordinate system asked for or named in the document is unknown or cannot convert.
    Crs(#[from] CrsError),
    #[error("{} invalid feature(s), nothing imported; first: {}", .0.len(), .0[0])]
    /// Some features are invalid (every one is listed); nothing was imported.
    Features(Vec<FeatureError>),
}

/// Parses and checks a FeatureCollection of `layer`.
///
/// Coordinates are read in `crs`, or else in the CRS the collection's legacy `crs` member names,
/// or else WGS84. `on_feature` is called once per feature read (for a progress bar).
pub fn parse_layer(
    text: &str,
    layer: Layer,
    crs: Option<Crs>,
    mut on_feature: impl FnMut(),
) -> Result<LayerData, ImportError> {
    let collection = match text.parse::<GeoJson>() {
        Ok(GeoJson::FeatureCollection(c)) => c,
        Ok(GeoJson::Feature(_)) => return Err(ImportError::NotACollection("Feature")),
        Ok(GeoJson::Geometry(_)) => return Err(ImportError::NotACollection("Geometry")),
        Err(e) => return Err(ImportError::Syntax(e.to_string())),
    };
    let crs = match crs {
        Some(crs) => crs,
        None => declared_crs(&collection)?.unwrap_or(Crs::Wgs84),
    };
    let mut errors = Vec::new();
    macro_rules! collect {
        ($variant:ident, $parse:expr) => {{
            let mut items = Vec::with_capacity(collection.features.len());
            for (index, feature) in collection.features.iter().enumerate() {
                on_feature();
                match $parse(feature, crs) {
                    Ok(item) => items.push(item),
                    Err(reason) => errors.push(FeatureError {
                        index,
                        code: code_of(feature),
                        reason,
                    }),
                }
            }
            LayerData::$variant(items)
        }};
    }
    let data = match layer {
        Layer::Places(kind) => collect!(Places, |f, crs| parse_place(f, kind, crs)),
        Layer::Buildings => collect!(Buildings, parse_building),
        Layer::Households => collect!(Households, parse_household),
    };
    if errors.is_empty() {
        Ok(data)
    } else {
        Err(ImportError::Features(errors))
    }
}

/// The CRS named by a collection's legacy (GeoJSON 2008) `crs` member, as GDAL still writes it.
fn declared_crs(collection: &FeatureCollection) -> Result<Option<Crs>, CrsError> {
    let name = collection
        .foreign_members
        .as_ref()
        .and_then(|m| m.get("crs"))
        .and_then(|crs| crs.pointer("/properties/name"))
        .and_then(JsonValue::as_str);
    name.map(Crs::parse).transpose()
}

fn code_of(feature: &Feature) -> Option<String> {
    feature
        .properties
        .as_ref()
        .and_then(|p| text_value(p.get("code")?))
}

/// A string property; numbers are accepted too, since codes such as 370202 often arrive as numbers.
fn text_value(value: &JsonValue) -> Option<String> {
    match value {
        JsonValue::String(s) => Some(s.trim().to_string()),
        JsonValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

struct Properties<'a>(&'a JsonObject);

impl<'a> Properties<'a> {
    fn of(feature: &'a Feature) -> Result<Self, String> {
        feature
            .properties
            .as_ref()
            .map(Properties)
            .ok_or_else(|| "the feature has no properties".to_string())
    }

    fn optional_text(&self, key: &str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None | Some(JsonValue::Null) => Ok(None),
            Some(v) => text_value(v)
                .map(Some)
                .ok_or_else(|| format!("property {key:?} must be a string, found {v}")),
        }
    }

    fn text(&self, key: &str) -> Result<String, String> {
        match self.optional_text(key)? {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(format!("property {key:?} is missing or empty")),
        }
    }

    fn optional_int(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
    ) -> Result<Option<i32>, String> {
        match self.0.get(key) {
            None | Some(JsonValue::Null) => Ok(None),
            Some(v) => match v.as_i64() {
                Some(n) if range.contains(&n) => Ok(Some(n as i32)),
                _ => Err(format!(
                    "property {key:?} must be a whole number in {}..={}, found {v}",
                    range.start(),
                    range.end()
                )),
            },
        }
    }

    fn int(&self, key: &str, range: std::ops::RangeInclusive<i64>) -> Result<i32, String> {
        self.optional_int(key, range)?
            .ok_or_else(|| format!("property {key:?} is missing"))
    }

    fn tags(&self) -> Result<Vec<String>, String> {
        match self.0.get("tags") {
            None | Some(JsonValue::Null) => Ok(Vec::new()),
            Some(JsonValue::Array(items)) => items
                .iter()
                .map(|t| {
                    t.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| format!("tags must be strings, found {t}"))
                })
                .collect(),
            Some(v) => Err(format!(
                "property \"tags\" must be an array of strings, found {v}"
            )),
        }
    }
}

/// Rings must be closed and have at least four positions; `geo` would silently close them, so
/// this is checked on the raw GeoJSON.
fn check_rings(value: &GeometryValue) -> Result<(), String> {
    let polygons: Vec<&Vec<Vec<geojson::Position>>> = match value {
        GeometryValue::Polygon { coordinates } => vec![coordinates],
        GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
        _ => return Ok(()),
    };
    for (p, rings) in polygons.into_iter().enumerate() {
        if rings.is_empty() {
            return Err(format!("polygon {p} has no rings"));
        }
        for (r, ring) in rings.iter().enumerate() {
            if ring.len() < 4 {
                return Err(format!(
                    "polygon {p} ring {r} has {} positions; a closed ring needs at least 4",
                    ring.len()
                ));
            }
            if ring.first() != ring.last() {
                return Err(format!(
                    "polygon {p} ring {r} is not closed: its first and last positions differ"
                ));
            }
        }
    }
    Ok(())
}

fn check_positions(value: &GeometryValue) -> Result<(), String> {
    fn all(positions: &[geojson::Position]) -> Result<(), String> {
        match positions.iter().find(|p| p.len() < 2) {
            Some(p) => Err(format!(
                "position {:?} needs at least two numbers",
                p.as_slice()
            )),
            None => Ok(()),
        }
    }
    // Every kind: geojson's conversion to geo indexes [0] and [1] and panics on a shorter
    // position, and a kind we refuse afterwards (a LineString where a polygon belongs) is
    // converted before it is refused.
    match value {
        GeometryValue::Point { coordinates } => all(std::slice::from_ref(coordinates)),
        GeometryValue::MultiPoint { coordinates } | GeometryValue::LineString { coordinates } => {
            all(coordinates)
        }
        GeometryValue::Polygon { coordinates } | GeometryValue::MultiLineString { coordinates } => {
            coordinates.iter().try_for_each(|r| all(r))
        }
        GeometryValue::MultiPolygon { coordinates } => {
            coordinates.iter().flatten().try_for_each(|r| all(r))
        }
        GeometryValue::GeometryCollection { geometries } => geometries
            .iter()
            .try_for_each(|g| check_positions(&g.value)),
    }
}

/// Reads a feature's geometry, converted to WGS84.
fn wgs84_geometry(feature: &Feature, crs: Crs) -> Result<Geometry<f64>, String> {
    let geometry = feature
        .geometry
        .as_ref()
        .ok_or_else(|| "the feature has no geometry".to_string())?;
    check_positions(&geometry.value)?;
    check_rings(&geometry.value)?;
    let geometry = Geometry::<f64>::try_from(&geometry.value).map_err(|e| e.to_string())?;
    crs.geometry_to_wgs84(&geometry).map_err(|e| e.to_string())
}

/// Reads a feature's (multi)polygon in `crs` as checked WGS84: closed rings of at least four
/// positions (on the raw GeoJSON), finite coordinates in range, OGC validity and a sane size.
pub fn polygonal(feature: &Feature, crs: Crs) -> Result<MultiPolygon<f64>, InvalidGeometry> {
    let multipolygon = match wgs84_geometry(feature, crs)? {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(m) => m,
        other => {
            return Err(format!(
                "the geometry must be a Polygon or MultiPolygon, found {}",
                geometry_type(&other)
            )
            .into());
        }
    };
    check_polygonal(&multipolygon)?;
    Ok(multipolygon)
}

/// Reads a LineString geometry (a split line) in `crs` as checked WGS84 positions.
pub fn line(geometry: &geojson::Geometry, crs: Crs) -> Result<geo::LineString<f64>, String> {
    let GeometryValue::LineString { coordinates } = &geometry.value else {
        return Err("the line must be a GeoJSON LineString".into());
    };
    if coordinates.len() < 2 || coordinates.iter().any(|p| p.len() < 2) {
        return Err("the line needs at least two positions of two numbers each".into());
    }
    match crs
        .geometry_to_wgs84(&Geometry::<f64>::try_from(&geometry.value).map_err(|e| e.to_string())?)
    {
        Ok(Geometry::LineString(line)) => {
            for c in &line.0 {
                crate::spatial::validate::check_lon_lat(c.x, c.y)?;
            }
            Ok(line)
        }
        Ok(_) => Err("the line must be a GeoJSON LineString".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn geometry_type(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) | Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
    }
}

fn parse_place(feature: &Feature, kind: PlaceKind, crs: Crs) -> Result<NewPlace, String> {
    let props = Properties::of(feature)?;
    Ok(NewPlace {
        kind,
        code: props.text("code")?,
        name: props.text("name")?,
        parent_code: props.optional_text("parent_code")?,
        geometry: polygonal(feature, crs)?,
    })
}

fn parse_building(feature: &Feature, crs: Crs) -> Result<NewBuilding, String> {
    let props = Properties::of(feature)?;
    Ok(NewBuilding {
        code: props.text("code")?,
        name: props.optional_text("name")?.unwrap_or_default(),
        address: props.text("address")?,
        floors: props.int("floors", 1..=200)?,
        units: props.optional_int("units", 1..=100)?.unwrap_or(1),
        footprint: polygonal(feature, crs)?,
    })
}

/// A household from a GeoJSON Feature with a Point in `crs`; the sentence says what is wrong.
pub fn parse_household(feature: &Feature, crs: Crs) -> Result<NewHousehold, String> {
    let props = Properties::of(feature)?;
    let location = match wgs84_geometry(feature, crs)? {
        Geometry::Point(p) => p,
        other => {
            return Err(format!(
                "the geometry must be a Point, found {}",
                geometry_type(&other)
            ));
        }
    };
    check_point(&location)?;
    Ok(NewHousehold {
        code: props.text("code")?,
        details: crate::model::HouseholdDetails {
            building_code: props.optional_text("building_code")?,
            unit: props.optional_int("unit", 0..=1000)?,
            floor: props.optional_int("floor", -10..=300)?,
            room: props.optional_text("room")?,
            address: props.text("address")?,
            head_name: props.text("head_name")?,
            phone: props.optional_text("phone")?,
            people: props.optional_int("people", 0..=100)?.unwrap_or(1),
            tags: props.tags()?,
        },
        location,
    })
}

/// A feature in `crs`, with RFC 7946 ring orientation.
fn feature(
    id: Id,
    geometry: Geometry<f64>,
    crs: Crs,
    properties: JsonValue,
) -> Result<Feature, CrsError> {
    let geometry = match crs.geometry_from_wgs84(&geometry)? {
        Geometry::MultiPolygon(m) => Geometry::MultiPolygon(m.orient(Direction::Default)),
        other => other,
    };
    let JsonValue::Object(properties) = properties else {
        unreachable!("properties are built as objects")
    };
    Ok(Feature {
        id: Some(geojson::feature::Id::Number(id.into())),
        geometry: Some(geojson::Geometry::new(GeometryValue::from(&geometry))),
        properties: Some(properties),
        ..Feature::default()
    })
}

/// A collection; outside WGS84 it names its CRS in the legacy `crs` member, which GDAL and QGIS read.
fn collection(features: Vec<Feature>, crs: Crs) -> FeatureCollection {
    let mut collection = FeatureCollection::new(features);
    if crs != Crs::Wgs84 {
        let name = crs.ogc_uri().unwrap_or_else(|| crs.name());
        let mut members = JsonObject::new();
        members.insert(
            "crs".into(),
            json!({"type": "name", "properties": {"name": name}}),
        );
        collection.foreign_members = Some(members);
    }
    collection
}

/// A place as a GeoJSON Feature in `crs`: the properties of [`Place::properties`] and the code of
/// its parent. Every API answer and export of a place is built here; answers add their own
/// properties to it.
pub fn place_feature(
    place: &Place,
    parent_code: Option<&str>,
    crs: Crs,
) -> Result<Feature, CrsError> {
    let mut properties = place.properties();
    properties.insert("parent_code".into(), parent_code.into());
    feature(
        place.id,
        place.geometry.clone().into(),
        crs,
        JsonValue::Object(properties),
    )
}

/// Places as GeoJSON; `codes` maps ids to codes so each feature can name its parent.
pub fn places_to_geojson(
    places: &[Place],
    codes: &HashMap<Id, String>,
    crs: Crs,
) -> Result<FeatureCollection, CrsError> {
    let features = places
        .iter()
        .map(|p| {
            let parent_code = p.parent_id.and_then(|id| codes.get(&id));
            place_feature(p, parent_code.map(String::as_str), crs)
        })
        .collect::<Result<_, _>>()?;
    Ok(collection(features, crs))
}

/// Buildings as GeoJSON, each with the code of its grid.
pub fn buildings_to_geojson(
    buildings: &[Building],
    codes: &HashMap<Id, String>,
    crs: Crs,
) -> Result<FeatureCollection, CrsError> {
    let features = buildings
        .iter()
        .map(|b| {
            let props = json!({
                "code": b.code,
                "name": b.name,
                "address": b.address,
                "floors": b.floors,
                "units": b.units,
                "grid_code": b.grid_id.and_then(|id| codes.get(&id)),
            });
            feature(b.id, b.footprint.clone().into(), crs, props)
        })
        .collect::<Result<_, _>>()?;
    Ok(collection(features, crs))
}

/// Households as GeoJSON, with the codes of their grid and areas. Holds personal data.
pub fn households_to_geojson(
    households: &[Household],
    codes: &HashMap<Id, String>,
    crs: Crs,
) -> Result<FeatureCollection, CrsError> {
    let features = households
        .iter()
        .map(|h| {
            let mut props = serde_json::to_value(h).expect("households serialise");
            props["grid_code"] = json!(h.grid_id.and_then(|id| codes.get(&id)));
            props["area_codes"] = json!(
                h.area_ids
                    .iter()
                    .filter_map(|id| codes.get(id))
                    .collect::<Vec<_>>()
            );
            for computed in ["id", "grid_id", "area_ids"] {
                props.as_object_mut().expect("object").remove(computed);
            }
            feature(h.id, h.location.into(), crs, props)
        })
        .collect::<Result<_, _>>()?;
    Ok(collection(features, crs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grids(features: &str) -> Result<LayerData, ImportError> {
        let text = format!(r#"{{"type":"FeatureCollection","features":[{features}]}}"#);
        parse_layer(&text, Layer::Places(PlaceKind::Grid), None, || {})
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[120.38,36.06],[120.39,36.06],[120.39,36.07],[120.38,36.07],[120.38,36.06]]]}"#;

    #[test]
    fn reads_a_grid_with_its_parent_code() {
        let f = format!(
            r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"code":370202010001001,"name":"第一网格","parent_code":"370202010001"}}}}"#
        );
        let LayerData::Places(places) = grids(&f).unwrap() else {
            panic!("places expected")
        };
        assert_eq!(places[0].code, "370202010001001");
        assert_eq!(places[0].parent_code.as_deref(), Some("370202010001"));
        assert_eq!(places[0].geometry.0.len(), 1);
    }

    #[test]
    fn reports_every_bad_feature_by_index_and_reason() {
        let unclosed = r#"{"type":"Polygon","coordinates":[[[120.38,36.06],[120.39,36.06],[120.39,36.07],[120.38,36.07]]]}"#;
        let bowtie = r#"{"type":"Polygon","coordinates":[[[120.38,36.06],[120.39,36.07],[120.39,36.06],[120.38,36.07],[120.38,36.06]]]}"#;
        let good = format!(
            r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"code":"A","name":"a","parent_code":"C"}}}}"#
        );
        let features = [
            good.clone(),
            format!(r#"{{"type":"Feature","geometry":{unclosed},"properties":{{"code":"B","name":"b"}}}}"#),
            format!(r#"{{"type":"Feature","geometry":{bowtie},"properties":{{"code":"C","name":"c"}}}}"#),
            format!(r#"{{"type":"Feature","geometry":{SQUARE},"properties":{{"name":"d"}}}}"#),
            r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[120.38,36.06]},"properties":{"code":"E","name":"e"}}"#.to_string(),
        ];
        let Err(ImportError::Features(errors)) = grids(&features.join(",")) else {
            panic!("errors expected")
        };
        let found: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.index, e.reason.as_str()))
            .collect();
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found[0].0 == 1 && found[0].1.contains("not closed"),
            "{found:?}"
        );
        assert!(
            found[1].0 == 2 && found[1].1.contains("invalid polygon"),
            "{found:?}"
        );
        assert!(
            found[2].0 == 3 && found[2].1.contains("\"code\""),
            "{found:?}"
        );
        assert!(found[3].0 == 4 && found[3].1.contains("Point"), "{found:?}");
    }

    #[test]
    fn a_declared_legacy_crs_is_honoured_and_an_explicit_one_wins() {
        // The square above in EPSG:4549 metres (easting, northing), approximately.
        let text = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::4549"}},"features":[{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[534000,3992000],[535000,3992000],[535000,3993000],[534000,3993000],[534000,3992000]]]},"properties":{"code":"A","name":"a","parent_code":"C"}}]}"#;
        let LayerData::Places(places) =
            parse_layer(text, Layer::Places(PlaceKind::Grid), None, || {}).unwrap()
        else {
            panic!()
        };
        let first = places[0].geometry.0[0].exterior().0[0];
        assert!(
            (first.x - 120.377).abs() < 0.01 && (first.y - 36.057).abs() < 0.01,
            "{first:?}"
        );
        // Read as WGS84 degrees the same numbers are far out of range.
        assert!(
            parse_layer(
                text,
                Layer::Places(PlaceKind::Grid),
                Some(Crs::Wgs84),
                || {}
            )
            .is_err()
        );
    }

    #[test]
    fn refuses_what_is_not_a_feature_collection() {
        assert!(matches!(grids("{").unwrap_err(), ImportError::Syntax(_)));
        let point = r#"{"type":"Point","coordinates":[1,2]}"#;
        assert!(matches!(
            parse_layer(point, Layer::Households, None, || {}).unwrap_err(),
            ImportError::NotACollection("Geometry")
        ));
    }
}
