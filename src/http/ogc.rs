//! OGC API – Features under `/ogc`: Part 1 (core, GeoJSON, OpenAPI 3.0) and Part 2 (CRS by
//! reference), so that GDAL/OGR, QGIS and other clients read the polygons without wangge's own API.
//!
//! | path | what |
//! | --- | --- |
//! | `/ogc` | landing page: links `self`, `service-desc`, `conformance`, `data` |
//! | `/ogc/api` | the OpenAPI 3.0 document (the one at `/api/v1/openapi.json`) |
//! | `/ogc/conformance` | the conformance classes below |
//! | `/ogc/collections` | every collection |
//! | `/ogc/collections/{id}` | one collection: `extent` (CRS84, from the data), `crs`, `storageCrs` |
//! | `/ogc/collections/{id}/items` | its features, `application/geo+json` |
//! | `/ogc/collections/{id}/items/{featureId}` | one feature; `featureId` is wangge's numeric id |
//!
//! `/ogc/` (trailing slash) cannot be routed from here: axum 0.8 matches a router nested at
//! `/ogc` with a `/` route only at `/ogc`, and a nested fallback does not see `/ogc/` either. The
//! parent router serves it with `.route("/ogc/", get(ogc::landing))`.
//!
//! Collections: `districts`, `streets`, `communities`, `grids`, `areas`, `buildings`.
//! **Households are not published** (personal data): `/ogc/collections/households` is 404 like
//! any unknown collection.
//!
//! **Items** take `bbox` (4 numbers, lower corner then upper corner, in `bbox-crs`, default
//! CRS84; a 6-number bbox is 400: the data are 2D), `bbox-crs`, `crs`, `limit` (1..=10,000,
//! default 10), `offset` (from 0; `next`/`prev` links carry it), `code` (exact feature code) and
//! `parent_code` (the parent's code; for buildings the code of the grid holding the building),
//! and `f`. A feature is selected by `bbox` when its geometry (not merely its bounding box)
//! intersects the box, decided in the box's CRS. Features are ordered by id; `numberMatched`
//! counts every match, `numberReturned` the page, `timeStamp` is the time of the response.
//!
//! **CRS (Part 2).** Every collection lists CRS84 (the storage CRS), EPSG:4490, EPSG:4549,
//! EPSG:3857 and EPSG:4326; `crs` and `bbox-crs` take those URIs (also as URNs,
//! `[EPSG:nnnn]` or `EPSG:nnnn`). Feature responses carry `Content-Crs: <uri>`. **Axis order
//! follows the CRS definition**, as Part 2 requires: CRS84 is longitude, latitude; EPSG:4326 and
//! EPSG:4490 are *latitude, longitude*; EPSG:4549 is *northing, easting*; EPSG:3857 is easting,
//! northing. The same holds for `bbox` in `bbox-crs`. (The rest of wangge's API always puts
//! longitude or easting first; the OGC API does not, so that standard clients read it right.)
//!
//! **Formats.** Features come as `application/geo+json` (default, `f=geojson`) or, the same
//! document, as `application/json` (`f=json`, or an `Accept` header preferring it); every other
//! resource as `application/json` only (`f=json`; `f=geojson` there is 400). An `Accept` header
//! naming nothing we offer is disregarded (RFC 9110 allows it) rather than answered with 406.
//! Every response has `links` with `self` and, for features, `alternate`.
//!
//! **Errors** are wangge's JSON errors, never 500 for bad input: 400 for a malformed `bbox`, a
//! `limit` of 0, above 10,000 or not a number, a bad `offset`, an unknown or unoffered CRS, an
//! unknown `f`, an empty `code`/`parent_code`, a parameter given twice, and **any query parameter
//! a resource does not take** (Part 1 requires 400 for those); 404 for an unknown collection or
//! feature.

mod features;
mod params;

use super::AppState;
use super::client::BaseUrl;
use super::error::ApiError;
use crate::app::MapData;
use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use features::{COLLECTIONS, Collection, Item, Selection};
use params::{Format, OgcCrs, Params};
use serde_json::{Value as JsonValue, json};

pub use params::{DEFAULT_LIMIT, MAX_LIMIT};

/// The conformance classes declared at `/ogc/conformance`.
pub const CONFORMANCE: [&str; 4] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
];

/// The media type of the OpenAPI document at `/ogc/api`.
pub const OPENAPI_MEDIA_TYPE: &str = "application/vnd.oai.openapi+json;version=3.0";

const JSON: &str = "application/json";

/// The query parameters each resource takes; anything else is 400.
const PLAIN_PARAMS: &[&str] = &["f"];
const ITEMS_PARAMS: &[&str] = &[
    "f",
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "code",
    "parent_code",
];
const FEATURE_PARAMS: &[&str] = &["f", "crs"];

/// The routes of OGC API - Features: landing page, API description, conformance, collections and their items.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(landing))
        .route("/api", get(api))
        .route("/conformance", get(conformance))
        .route("/collections", get(collections))
        .route("/collections/{collection}", get(collection))
        .route("/collections/{collection}/items", get(items))
        .route("/collections/{collection}/items/{feature}", get(feature))
}

/// The query string as name/value pairs in order, or why it cannot be read (answered as 400 `invalid_query`).
pub type QueryPairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

fn params(query: QueryPairs, allowed: &[&str]) -> Result<Params, ApiError> {
    let Query(pairs) = query.map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!("the query string cannot be read: {}", e.body_text()),
        )
    })?;
    Params::new(pairs, allowed)
}

/// Percent-encodes a query value, keeping what reads well and is safe (`,`, `:`, `/`).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,:/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `base + path`, with a query string built from `pairs`.
fn href(base: &str, path: &str, pairs: &[(&str, String)]) -> String {
    let mut url = format!("{base}{path}");
    for (i, (name, value)) in pairs.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(name);
        url.push('=');
        url.push_str(&encode(value));
    }
    url
}

fn link(href: String, rel: &str, media: &str, title: &str) -> JsonValue {
    json!({"href": href, "rel": rel, "type": media, "title": title})
}

/// A 200 with a JSON body, its media type and, for features, the `Content-Crs` header.
fn respond(body: &JsonValue, media: &str, content_crs: Option<OgcCrs>) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media).expect("ASCII"),
    );
    if let Some(crs) = content_crs {
        headers.insert(
            "content-crs",
            HeaderValue::from_str(&format!("<{}>", crs.uri())).expect("ASCII"),
        );
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    response
}

fn collection_or_404(
    path: Result<Path<String>, PathRejection>,
) -> Result<&'static Collection, ApiError> {
    let Path(id) = path.map_err(|e| ApiError::NotFound(e.body_text()))?;
    features::find(&id).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no collection {id:?}; the collections are: {}",
            COLLECTIONS
                .iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// Runs CPU work (CRS conversion, selection) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("OGC API worker failed: {e}")))?
}

/// `GET /ogc`: the landing page.
pub async fn landing(BaseUrl(base): BaseUrl, query: QueryPairs) -> Result<Response, ApiError> {
    params::json_only(&params(query, PLAIN_PARAMS)?)?;
    let body = json!({
        "title": "wangge 网格 — OGC API Features",
        "description": "The grid hierarchy (districts, streets, communities, grids), street \
                        cadres' responsibility areas and buildings of this wangge service. \
                        Households are not published.",
        "links": [
            link(href(&base, "/ogc", &[]), "self", JSON, "This document"),
            link(href(&base, "/ogc/api", &[]), "service-desc", OPENAPI_MEDIA_TYPE,
                 "The API definition (OpenAPI 3.0)"),
            link(href(&base, "/ogc/conformance", &[]), "conformance", JSON,
                 "The conformance classes this API implements"),
            link(href(&base, "/ogc/conformance", &[]),
                 "http://www.opengis.net/def/rel/ogc/1.0/conformance", JSON,
                 "The conformance classes this API implements"),
            link(href(&base, "/ogc/collections", &[]), "data", JSON, "The collections"),
            link(href(&base, "/ogc/collections", &[]),
                 "http://www.opengis.net/def/rel/ogc/1.0/data", JSON, "The collections"),
        ],
    });
    Ok(respond(&body, JSON, None))
}

/// `GET /ogc/api`: the service's OpenAPI document, also at `/api/v1/openapi.json`.
async fn api(query: QueryPairs) -> Result<Response, ApiError> {
    let params = params(query, PLAIN_PARAMS)?;
    params::json_only(&params)?;
    let media = if params.get("f").is_some() {
        JSON
    } else {
        OPENAPI_MEDIA_TYPE
    };
    let mut response = (StatusCode::OK, super::OPENAPI).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    headers.insert(
        header::CONTENT_LOCATION,
        HeaderValue::from_static("/api/v1/openapi.json"),
    );
    Ok(response)
}

/// `GET /ogc/conformance`.
async fn conformance(BaseUrl(base): BaseUrl, query: QueryPairs) -> Result<Response, ApiError> {
    params::json_only(&params(query, PLAIN_PARAMS)?)?;
    let body = json!({
        "conformsTo": CONFORMANCE,
        "links": [link(href(&base, "/ogc/conformance", &[]), "self", JSON, "This document")],
    });
    Ok(respond(&body, JSON, None))
}

/// The description of one collection, as in `/ogc/collections` and `/ogc/collections/{id}`.
fn collection_json(base: &str, c: &Collection, map: &MapData) -> JsonValue {
    let path = format!("/ogc/collections/{}", c.id);
    let items_path = format!("{path}/items");
    let mut body = json!({
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "links": [
            link(href(base, &path, &[]), "self", JSON, "This collection"),
            link(href(base, &items_path, &[]), "items", Format::GeoJson.media_type(),
                 "The features as GeoJSON"),
            link(href(base, &items_path, &[("f", "json".into())]), "items", JSON,
                 "The features as JSON"),
        ],
        "crs": OgcCrs::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>(),
        "storageCrs": OgcCrs::Crs84.uri(),
    });
    if let Some(rect) = features::extent(&features::items(map, c.source)) {
        body["extent"] = json!({
            "spatial": {
                "bbox": [[rect.min().x, rect.min().y, rect.max().x, rect.max().y]],
                "crs": OgcCrs::Crs84.uri(),
            }
        });
    }
    body
}

/// `GET /ogc/collections`.
async fn collections(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    params::json_only(&params(query, PLAIN_PARAMS)?)?;
    let map = state.app.map_data();
    let body = blocking(move || {
        let list: Vec<JsonValue> = COLLECTIONS
            .iter()
            .map(|c| collection_json(&base, c, &map))
            .collect();
        Ok(json!({
            "links": [link(href(&base, "/ogc/collections", &[]), "self", JSON, "This document")],
            "collections": list,
        }))
    })
    .await?;
    Ok(respond(&body, JSON, None))
}

/// `GET /ogc/collections/{id}`.
async fn collection(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    path: Result<Path<String>, PathRejection>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let c = collection_or_404(path)?;
    params::json_only(&params(query, PLAIN_PARAMS)?)?;
    let map = state.app.map_data();
    let body = blocking(move || Ok(collection_json(&base, c, &map))).await?;
    Ok(respond(&body, JSON, None))
}

/// The time of a response, RFC 3339 in UTC to the second (`2025-05-01T08:00:00Z`).
fn timestamp(now: std::time::SystemTime) -> String {
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::timestamp::rfc3339(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// `GET /ogc/collections/{id}/items`.
async fn items(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let c = collection_or_404(path)?;
    let params = params(query, ITEMS_PARAMS)?;
    let format = params::feature_format(&params, accept(&headers))?;
    let crs = params.crs("crs")?;
    let bbox = params.bbox()?;
    let limit = params.limit()?;
    let offset = params.offset()?;
    let code = params.non_empty("code")?.map(str::to_owned);
    let parent_code = params.non_empty("parent_code")?.map(str::to_owned);
    // The parameters every link of this page carries, as the client gave them.
    let carried: Vec<(&'static str, String)> = ["crs", "bbox", "bbox-crs", "code", "parent_code"]
        .into_iter()
        .filter_map(|name| params.get(name).map(|v| (name, v.to_string())))
        .collect();
    let map = state.app.map_data();
    let body = blocking(move || {
        let selection = Selection {
            bbox,
            code: code.as_deref(),
            parent_code: parent_code.as_deref(),
        };
        let all = features::items(&map, c.source);
        let selected = features::select(&map, all, &selection)?;
        let matched = selected.len();
        let page: Vec<Item<'_>> = selected.iter().skip(offset).take(limit).copied().collect();
        let returned = page.len();
        let features = features::to_geojson(&map, &page, crs)?;

        let path = format!("/ogc/collections/{}/items", c.id);
        let page_href = |format: Format, offset: usize| {
            let mut pairs = vec![("f", format.f().to_string())];
            pairs.extend(carried.iter().cloned());
            pairs.push(("limit", limit.to_string()));
            if offset > 0 {
                pairs.push(("offset", offset.to_string()));
            }
            href(&base, &path, &pairs)
        };
        let mut links = vec![
            link(
                page_href(format, offset),
                "self",
                format.media_type(),
                "This page",
            ),
            link(
                page_href(format.other(), offset),
                "alternate",
                format.other().media_type(),
                &format!("This page as {}", format.other().media_type()),
            ),
        ];
        if offset + returned < matched {
            links.push(link(
                page_href(format, offset + returned),
                "next",
                format.media_type(),
                "The next page",
            ));
        }
        if offset > 0 {
            let prev = offset
                .saturating_sub(limit)
                .min(matched.saturating_sub(limit));
            links.push(link(
                page_href(format, prev),
                "prev",
                format.media_type(),
                "The previous page",
            ));
        }
        links.push(link(
            href(&base, &format!("/ogc/collections/{}", c.id), &[]),
            "collection",
            JSON,
            "The collection",
        ));
        Ok(json!({
            "type": "FeatureCollection",
            "features": features,
            "links": links,
            "numberMatched": matched,
            "numberReturned": returned,
            "timeStamp": timestamp(std::time::SystemTime::now()),
        }))
    })
    .await?;
    Ok(respond(&body, format.media_type(), Some(crs)))
}

/// `GET /ogc/collections/{id}/items/{featureId}`.
async fn feature(
    State(state): State<AppState>,
    BaseUrl(base): BaseUrl,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    query: QueryPairs,
) -> Result<Response, ApiError> {
    let Path((collection_id, feature_id)) = path.map_err(|e| ApiError::NotFound(e.body_text()))?;
    let c = collection_or_404(Ok(Path(collection_id)))?;
    let params = params(query, FEATURE_PARAMS)?;
    let format = params::feature_format(&params, accept(&headers))?;
    let crs = params.crs("crs")?;
    let parsed = feature_id.trim().parse::<i64>();
    let not_found = move || {
        ApiError::NotFound(format!(
            "the collection {} has no feature {:?}",
            c.id,
            feature_id.trim()
        ))
    };
    let id: i64 = match parsed {
        Ok(id) => id,
        Err(_) => return Err(not_found()),
    };
    let carried: Vec<(&'static str, String)> = params
        .get("crs")
        .map(|v| vec![("crs", v.to_string())])
        .unwrap_or_default();
    let map = state.app.map_data();
    let body = blocking(move || {
        let all = features::items(&map, c.source);
        let Some(item) = all.iter().find(|i| i.id() == id) else {
            return Err(not_found());
        };
        let mut feature = features::to_geojson(&map, std::slice::from_ref(item), crs)?
            .pop()
            .expect("one feature in, one out");
        let path = format!("/ogc/collections/{}/items/{id}", c.id);
        let feature_href = |format: Format| {
            let mut pairs = vec![("f", format.f().to_string())];
            pairs.extend(carried.iter().cloned());
            href(&base, &path, &pairs)
        };
        let links = json!([
            link(
                feature_href(format),
                "self",
                format.media_type(),
                "This feature"
            ),
            link(
                feature_href(format.other()),
                "alternate",
                format.other().media_type(),
                &format!("This feature as {}", format.other().media_type()),
            ),
            link(
                href(&base, &format!("/ogc/collections/{}", c.id), &[]),
                "collection",
                JSON,
                "The collection",
            ),
        ]);
        feature
            .foreign_members
            .get_or_insert_with(Default::default)
            .insert("links".into(), links);
        Ok(serde_json::to_value(&feature).expect("a feature serialises"))
    })
    .await?;
    Ok(respond(&body, format.media_type(), Some(crs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The route the parent router needs for `/ogc/` fits beside the nested router.
    #[test]
    fn the_trailing_slash_landing_route_fits_beside_the_nest() {
        let _: Router<AppState> = Router::new()
            .route("/ogc/", get(landing))
            .nest("/ogc", routes());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at =
            |secs: u64| timestamp(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_746_086_399), "2025-05-01T07:59:59Z");
    }

    #[test]
    fn links_encode_their_values() {
        assert_eq!(
            href(
                "http://h",
                "/ogc/x",
                &[
                    ("crs", "http://www.opengis.net/def/crs/EPSG/0/4549".into()),
                    ("code", "a b&c".into())
                ]
            ),
            "http://h/ogc/x?crs=http://www.opengis.net/def/crs/EPSG/0/4549&code=a%20b%26c"
        );
    }
}
