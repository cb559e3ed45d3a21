//! Vector tiles over HTTP: `GET /tiles/{layer}/{z}/{x}/{y}.mvt` (Mapbox Vector Tile 2.1),
//! TileJSON 3.0 at `GET /tiles/{layer}.json` and the list of layers at `GET /tiles`.
//!
//! The layers, their features and the cache are in [`crate::tiles`]; this module parses the
//! requests and shapes the answers: gzip, ETags, `Cache-Control` and `X-Cache`.
//!
//! The `ETag` is a hash of the tile's bytes (not of a version, which restarts at 1 with every
//! process and would let a browser keep a tile across a restart with other data); data layers
//! are sent with `Cache-Control: no-cache`, so browsers revalidate every time and get 304 while
//! their tile's bytes did not change.
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
use super::query::crs_param;
use crate::spatial::crs::Crs;
use crate::spatial::tiles::{self as tile_math, TileId};
use crate::tiles::{Datum, TileService, default_sources};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The media type of a Mapbox Vector Tile.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";

/// Zoom range advertised in TileJSON; clients overzoom beyond it. Tiles are served up to
/// [`tile_math::MAX_ZOOM`] all the same.
pub const MIN_ZOOM: u8 = 0;
/// The highest zoom advertised in TileJSON.
pub const MAX_ZOOM: u8 = 18;

/// Says whether the tile came from the server's cache (`hit`) or was made for this request
/// (`miss`), as CDNs do: for operators, and for tests that a write left a tile alone.
const X_CACHE: header::HeaderName = header::HeaderName::from_static("x-cache");

/// The [`Datum`] of the `crs` query parameter: absent or `wgs84` (any spelling [`Crs`] accepts),
/// or `gcj02`.
fn datum_from_query(crs: Option<&str>) -> Result<Datum, ApiError> {
    match crs_param(crs)? {
        Crs::Wgs84 => Ok(Datum::Wgs84),
        Crs::Gcj02 => Ok(Datum::Gcj02),
        other => Err(ApiError::bad_request(
            "unsupported_crs",
            format!("tiles are drawn in Web Mercator over wgs84 or gcj02, not {other}"),
        )),
    }
}

/// The tile routes; they draw with the [`TileService`] of the [`AppState`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tiles", get(list))
        .route("/tiles/{file}", get(tilejson))
        .route("/tiles/{layer}/{z}/{x}/{y}", get(tile))
}

/// The tile service of a router: the default sources, with a cache of its own.
pub fn service() -> Arc<TileService> {
    Arc::new(TileService::new(default_sources()))
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
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let service = &state.tiles;
    let datum = match datum_from_query(params.get("crs").map(String::as_str)) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    let Path((layer, z, x, y)) = match path {
        Ok(p) => p,
        Err(e) => return ApiError::bad_request("invalid_tile_path", e.body_text()).into_response(),
    };
    let Some((source, src)) = service.source(&layer) else {
        return unknown_layer(service, &layer);
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
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    base: BaseUrl,
) -> Response {
    let service = &state.tiles;
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
        return unknown_layer(service, layer);
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
async fn list(State(state): State<AppState>, base: BaseUrl) -> Result<Json<Value>, ApiError> {
    let base = base.required()?;
    let layers: Vec<Value> = state
        .tiles
        .sources()
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
    use super::*;

    #[test]
    fn accept_encoding() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "br, gzip;q=0.5".parse().unwrap());
        assert!(accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "gzip;q=0, *".parse().unwrap());
        assert!(!accepts_gzip(&h));
        h.insert(header::ACCEPT_ENCODING, "*".parse().unwrap());
        assert!(accepts_gzip(&h));
    }
}
