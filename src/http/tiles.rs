//! Vector tiles: `GET /tiles/{layer}/{z}/{x}/{y}.mvt` (Mapbox Vector Tile 2.1), TileJSON 3.0 at
//! `GET /tiles/{layer}.json` and the list of layers at `GET /tiles`.
//!
//! Every layer is a [`TileSource`] (as in Martin): it names itself, describes its fields and
//! turns one [`MapData`] snapshot into [`TileFeature`]s; the rest is shared: selection, clipping,
//! simplification and encoding (`crate::spatial::tiles`), the cache, gzip, ETags and the HTTP
//! answers. The MVT layer inside each tile has the name of the URL's layer.
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
//! the [`MapData::version`] it was made from. A write does not empty the cache: every snapshot
//! logs where each part of the data changed ([`crate::app::MapChange`]), each layer says which
//! parts it is drawn from ([`TileSource::depends_on`]), and a cached tile is made again only when
//! a later write changed one of its layer's parts inside the tile (with its buffer). So a claim
//! re-renders only the `areas` tiles over the claimed area, and a grid edit only the `grids` and
//! `households` tiles over the grid's old and new outline and over the grids whose household
//! count it changed. The `ETag` is a hash of the tile's bytes (not of a version, which restarts
//! at 1 with every process and would let a browser keep a tile across a restart with other
//! data); data layers are sent with `Cache-Control: no-cache`, so browsers revalidate every time
//! and get 304 while their tile's bytes did not change.
//!
//! Each answer says `X-Cache: hit` when the tile came from the cache, `miss` when it was made.
//!
//! **Errors.** 404 `unknown_layer` for a layer name that is not served (the message lists the
//! known ones); 400 `invalid_tile` for z/x/y that are not whole numbers, z above 24 or x/y outside
//! `0..2^z`; 400 `invalid_tile_path` for a tile path without `.mvt` or a TileJSON path without
//! `.json`. Empty tiles are 204 with no body.

use super::AppState;
use super::client::BaseUrl;
use super::error::ApiError;
use crate::app::{Aspect, MapData};
use crate::model::{Id, PlaceKind};
use crate::spatial::crs::Crs;
use crate::spatial::tiles::{self as tile_math, PropertyValue, TileFeature, TileId};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use geo::{GeodesicArea, Geometry, InteriorPoint, MultiPolygon};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

mod cache;
mod service;
pub use cache::{CACHE_MAX_BYTES, EncodedTile};
pub use service::{CacheStats, TileService};

/// The media type of a Mapbox Vector Tile.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// Zoom range advertised in TileJSON; clients overzoom beyond it. Tiles are served up to
/// [`tile_math::MAX_ZOOM`] all the same.
pub const MIN_ZOOM: u8 = 0;
pub const MAX_ZOOM: u8 = 18;

/// From this zoom up, `households` has one point per household; below it, one per grid.
pub const HOUSEHOLD_POINTS_MIN_ZOOM: u8 = 16;

/// Storey height used for `height_m`.
pub const METRES_PER_FLOOR: i64 = 3;

/// Says whether the tile came from the server's cache (`hit`) or was made for this request
/// (`miss`), as CDNs do: for operators, and for tests that a write left a tile alone.
const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");

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

fn prop(key: &str, value: impl Into<PropertyValue>) -> (String, PropertyValue) {
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

/// Every layer served, in drawing order from the bottom.
pub fn default_sources() -> Vec<Box<dyn TileSource>> {
    let mut sources: Vec<Box<dyn TileSource>> = Vec::new();
    for (name, parsed) in BASEMAP.iter() {
        let description = match *name {
            "water" => "Basemap: sea, lakes and rivers of the demo area",
            "roads" => "Basemap: roads of the demo area",
            _ => "Basemap layer of the demo area",
        };
        sources.push(Box::new(StaticSource {
            name,
            description,
            parsed,
        }));
    }
    for kind in PlaceKind::ALL {
        sources.push(Box::new(PlaceSource { kind }));
    }
    sources.push(Box::new(BuildingSource));
    sources.push(Box::new(HouseholdSource));
    sources
}

/// The datum tiles are drawn in. Our data is WGS84; a map over a GCJ-02 basemap (AMap, Tencent)
/// asks for `?crs=gcj02` and gets every position shifted into GCJ-02, so that the two line up.
/// (Raster tiles cannot be re-projected in the browser, so the vectors move instead.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Datum {
    Wgs84,
    Gcj02,
}

impl Datum {
    /// From the `crs` query parameter: absent or `wgs84` (any spelling [`Crs`] accepts), or `gcj02`.
    fn from_query(crs: Option<&str>) -> Result<Datum, ApiError> {
        match crs.map(Crs::parse).transpose()? {
            None | Some(Crs::Wgs84) => Ok(Datum::Wgs84),
            Some(Crs::Gcj02) => Ok(Datum::Gcj02),
            Some(other) => Err(ApiError::bad_request(
                "unsupported_crs",
                format!("tiles are drawn in Web Mercator over wgs84 or gcj02, not {other}"),
            )),
        }
    }
}

/// The tile routes, each router with its own [`TileService`] (and so its own cache).
pub fn routes() -> Router<AppState> {
    let service = Arc::new(TileService::new(default_sources()));
    Router::new()
        .route("/tiles", get(list))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tile))
        .layer(Extension(service))
}

/// 404 `unknown_layer`, naming the layers there are. (Built here because [`ApiError::NotFound`]
/// has the fixed code `not_found`.)
fn unknown_layer(service: &TileService, name: &str) -> Response {
    let message = format!(
        "unknown layer {name:?}; the layers are: {}",
        service.layer_names().join(", ")
    );
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": {"code": "unknown_layer", "message": message}})),
    )
        .into_response()
}

/// A tile coordinate from the path: digits only (no sign, no spaces).
fn coordinate(axis: &str, text: &str) -> Result<u64, ApiError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "invalid_tile",
            format!("{axis} must be a whole number from 0, got {text:?}"),
        ));
    }
    // All digits: too long for u64 means too large, which the range checks then report.
    Ok(text.parse().unwrap_or(u64::MAX))
}

fn tile_id(z: &str, x: &str, y: &str) -> Result<TileId, ApiError> {
    let (z, x, y) = (
        coordinate("z", z)?,
        coordinate("x", x)?,
        coordinate("y", y)?,
    );
    TileId::new(z, x, y).map_err(|e| ApiError::bad_request("invalid_tile", e.to_string()))
}

/// Whether the client takes gzip (`Accept-Encoding`, honouring `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip = None;
    let mut any = None;
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => gzip = Some(q > 0.0),
                "*" => any = Some(q > 0.0),
                _ => {}
            }
        }
    }
    gzip.or(any).unwrap_or(false)
}

/// `GET /tiles/{layer}/{z}/{x}/{y}.mvt`
async fn tile(
    Extension(service): Extension<Arc<TileService>>,
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let datum = match Datum::from_query(params.get("crs").map(String::as_str)) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let Path((layer, z, x, y)) = match path {
        Ok(p) => p,
        Err(e) => return ApiError::bad_request("invalid_tile_path", e.body_text()).into_response(),
    };
    let Some((source, src)) = service.source(&layer) else {
        return unknown_layer(&service, &layer);
    };
    let Some(y) = y.strip_suffix(".mvt") else {
        return ApiError::bad_request(
            "invalid_tile_path",
            format!("a tile path ends in .mvt: /tiles/{layer}/{z}/{x}/{y}.mvt"),
        )
        .into_response();
    };
    let tile = match tile_id(&z, &x, y) {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let cache_control = src.cache_control();
    let data = state.app.map_data();
    let cached = service.cached(source, &data, tile, datum);
    let x_cache = if cached.is_some() { "hit" } else { "miss" };
    let encoded = match cached {
        Some(hit) => hit,
        None => {
            let service = service.clone();
            match tokio::task::spawn_blocking(move || service.tile(source, &data, tile, datum))
                .await
            {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => return ApiError::Internal(e).into_response(),
                Err(e) => return ApiError::Internal(format!("tile task: {e}")).into_response(),
            }
        }
    };
    let common = [
        (header::CACHE_CONTROL, cache_control),
        (header::VARY, "accept-encoding"),
        (X_CACHE, x_cache),
    ];
    let Some(encoded) = encoded else {
        return (StatusCode::NO_CONTENT, common).into_response();
    };
    let gzip = accepts_gzip(&headers);
    let etag = encoded.etag(gzip);
    let not_modified = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| encoded.matches(v));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, common, [(header::ETAG, etag)]).into_response();
    }
    let body = if gzip {
        encoded.gzip.clone()
    } else {
        encoded.raw.clone()
    };
    let mut response = (
        common,
        [
            (header::CONTENT_TYPE, MVT_CONTENT_TYPE.to_string()),
            (header::ETAG, etag),
        ],
        Body::from(body),
    )
        .into_response();
    if gzip {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    response
}

/// `GET /tiles/{layer}.json`: TileJSON 3.0.0.
async fn tilejson(
    Extension(service): Extension<Arc<TileService>>,
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    base: BaseUrl,
) -> Response {
    let Path(file) = match path {
        Ok(p) => p,
        Err(e) => return ApiError::bad_request("invalid_tile_path", e.body_text()).into_response(),
    };
    let Some(layer) = file.strip_suffix(".json") else {
        return ApiError::bad_request(
            "invalid_tile_path",
            format!(
                "TileJSON is at /tiles/{{layer}}.json (e.g. /tiles/grids.json) and tiles at \
                 /tiles/{{layer}}/{{z}}/{{x}}/{{y}}.mvt; got /tiles/{file}"
            ),
        )
        .into_response();
    };
    let Some((source, src)) = service.source(layer) else {
        return unknown_layer(&service, layer);
    };
    let base = match base.required() {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let data = state.app.map_data();
    let bounds = service.bounds(source, &data, MAX_ZOOM);
    let center = match bounds {
        Some([w, s, e, n]) => {
            let world = geo::Rect::new(
                tile_math::lonlat_to_world(geo::coord! { x: w, y: n }),
                tile_math::lonlat_to_world(geo::coord! { x: e, y: s }),
            );
            let zoom = tile_math::zoom_to_fit(world, MAX_ZOOM);
            json!([(w + e) / 2.0, (s + n) / 2.0, zoom])
        }
        None => json!([0.0, 0.0, MIN_ZOOM]),
    };
    let bounds = bounds.unwrap_or([
        -180.0,
        -tile_math::MAX_LATITUDE,
        180.0,
        tile_math::MAX_LATITUDE,
    ]);
    let fields: serde_json::Map<String, Value> = src
        .fields()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Json(json!({
        "tilejson": "3.0.0",
        "name": layer,
        "description": src.description(),
        "scheme": "xyz",
        "tiles": [format!("{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt")],
        "minzoom": MIN_ZOOM,
        "maxzoom": MAX_ZOOM,
        "bounds": bounds,
        "center": center,
        "vector_layers": [{
            "id": layer,
            "description": src.description(),
            "minzoom": MIN_ZOOM,
            "maxzoom": MAX_ZOOM,
            "fields": fields,
        }],
    }))
    .into_response()
}

/// `GET /tiles`: the layers served, with their TileJSON and tile URLs.
async fn list(
    Extension(service): Extension<Arc<TileService>>,
    base: BaseUrl,
) -> Result<Json<Value>, ApiError> {
    let base = base.required()?;
    let layers: Vec<Value> = service
        .sources
        .iter()
        .map(|s| {
            let name = s.name();
            json!({
                "name": name,
                "description": s.description(),
                "tilejson": format!("{base}/tiles/{name}.json"),
                "tiles": format!("{base}/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt"),
            })
        })
        .collect();
    Ok(Json(json!({ "layers": layers })))
}

#[cfg(test)]
mod tests {
    use super::service::tests::data;
    use super::*;

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

    #[test]
    fn accept_encoding_and_if_none_match() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "br, gzip;q=0.5".parse().unwrap());
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "gzip;q=0, *".parse().unwrap());
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "*".parse().unwrap());
        assert!(accepts_gzip(&h));
        let t = EncodedTile::new(vec![1, 2, 3]);
        assert!(t.matches(&t.etag(false)));
        assert!(t.matches(&format!("\"x\", W/{}", t.etag(true))));
        assert!(t.matches("*"));
        assert!(!t.matches("\"something-else\""));
    }
}
