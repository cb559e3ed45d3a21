//! The static basemap layers compiled into the binary (the demo area's water and roads): a
//! GeoJSON FeatureCollection read once into tile features.

use super::source::TileSource;
use crate::app::MapData;
use crate::spatial::tiles::{PropertyValue, TileFeature};
use geo::Geometry;
use serde_json::Value;
use std::sync::LazyLock;

/// A static GeoJSON layer compiled into the binary (the demo basemap), parsed once.
pub struct StaticSource {
    name: &'static str,
    description: &'static str,
    parsed: &'static ParsedGeoJson,
}

/// A GeoJSON FeatureCollection as tile features, with the property names and types it uses.
pub struct ParsedGeoJson {
    features: Vec<TileFeature>,
    fields: Vec<(String, String)>,
}

impl ParsedGeoJson {
    /// Reads a FeatureCollection in WGS84; a geometry collection becomes one feature per member.
    /// A document that does not parse gives no features (and an error in the log), never a panic.
    pub fn parse(name: &str, text: &str) -> ParsedGeoJson {
        let mut parsed = ParsedGeoJson {
            features: Vec::new(),
            fields: Vec::new(),
        };
        let collection = match text.parse::<geojson::GeoJson>() {
            Ok(geojson::GeoJson::FeatureCollection(c)) => c,
            Ok(_) => {
                tracing::error!(layer = name, "basemap layer is not a FeatureCollection");
                return parsed;
            }
            Err(e) => {
                tracing::error!(layer = name, error = %e, "basemap layer does not parse");
                return parsed;
            }
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for feature in collection.features {
            let Some(geometry) = feature.geometry else {
                continue;
            };
            let geometry = match Geometry::<f64>::try_from(geometry) {
                Ok(g) => g,
                Err(e) => {
                    tracing::warn!(layer = name, error = %e, "skipping a basemap feature");
                    continue;
                }
            };
            let id = match &feature.id {
                Some(geojson::feature::Id::Number(n)) => n.as_u64(),
                _ => None,
            };
            let mut props = Vec::new();
            for (key, value) in feature.properties.into_iter().flatten() {
                let (value, kind) = match value {
                    Value::Null => continue,
                    Value::Bool(b) => (PropertyValue::Bool(b), "Boolean"),
                    Value::Number(n) => match n.as_i64() {
                        Some(i) => (PropertyValue::Int(i), "Number"),
                        None => (PropertyValue::Double(n.as_f64().unwrap_or(0.0)), "Number"),
                    },
                    Value::String(s) => (PropertyValue::Str(s), "String"),
                    other => (PropertyValue::Str(other.to_string()), "String"),
                };
                if !fields.iter().any(|(k, _)| *k == key) {
                    fields.push((key.clone(), kind.to_string()));
                }
                props.push((key, value));
            }
            let mut parts = vec![geometry];
            while let Some(g) = parts.pop() {
                match g {
                    Geometry::GeometryCollection(c) => parts.extend(c.0),
                    g => parsed
                        .features
                        .extend(TileFeature::new(id, g, props.clone())),
                }
            }
        }
        parsed.fields = fields;
        parsed
    }
}

/// The basemap layers of [`crate::demo::BASEMAP`], parsed on first use.
static BASEMAP: LazyLock<Vec<(&'static str, ParsedGeoJson)>> = LazyLock::new(|| {
    crate::demo::BASEMAP
        .iter()
        .map(|(name, text)| (*name, ParsedGeoJson::parse(name, text)))
        .collect()
});

impl TileSource for StaticSource {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn fields(&self) -> Vec<(String, String)> {
        self.parsed.fields.clone()
    }

    fn is_static(&self) -> bool {
        true
    }

    fn features(&self, _data: &MapData, _group: u8) -> Vec<TileFeature> {
        self.parsed.features.clone()
    }
}

/// A source for each layer of [`crate::demo::BASEMAP`], in its order.
pub(super) fn basemap_sources() -> impl Iterator<Item = StaticSource> {
    BASEMAP.iter().map(|(name, parsed)| {
        let description = match *name {
            "water" => "Basemap: sea, lakes and rivers of the demo area",
            "roads" => "Basemap: roads of the demo area",
            _ => "Basemap layer of the demo area",
        };
        StaticSource {
            name,
            description,
            parsed,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::source::prop;
    use super::*;

    #[test]
    fn basemap_geojson_becomes_features_with_their_properties() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","id":5,"properties":{"kind":"sea","depth":12.5,"name":null},
             "geometry":{"type":"Polygon","coordinates":[[[120.3,36.0],[120.4,36.0],[120.4,36.05],[120.3,36.0]]]}},
            {"type":"Feature","properties":{"kind":"primary","lanes":4,"oneway":true,"ref":["G22"]},
             "geometry":{"type":"GeometryCollection","geometries":[
                {"type":"LineString","coordinates":[[120.38,36.06],[120.39,36.06]]},
                {"type":"Point","coordinates":[120.38,36.06]}]}},
            {"type":"Feature","properties":{},"geometry":null}]}"#;
        let parsed = ParsedGeoJson::parse("test", text);
        assert_eq!(
            parsed.features.len(),
            3,
            "a collection splits into its members"
        );
        assert_eq!(parsed.features[0].id, Some(5));
        assert_eq!(
            parsed.features[0].properties,
            vec![prop("depth", 12.5), prop("kind", "sea")]
        );
        assert!(parsed.features[1].properties.contains(&prop("lanes", 4i64)));
        assert!(
            parsed.features[1]
                .properties
                .contains(&prop("oneway", true))
        );
        assert!(
            parsed.features[1]
                .properties
                .contains(&prop("ref", r#"["G22"]"#))
        );
        let keys: Vec<&str> = parsed.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["depth", "kind", "lanes", "oneway", "ref"]);
        // A broken document gives an empty layer, not a panic.
        assert!(ParsedGeoJson::parse("broken", "{").features.is_empty());
        // The placeholders compiled in parse.
        assert_eq!(BASEMAP.len(), crate::demo::BASEMAP.len());
    }
}
