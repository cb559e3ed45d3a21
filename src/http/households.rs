//! Households and the visit diary (民情日记) over HTTP. Personal data: every route needs a login,
//! and which households come back is decided once, by `app::access::HouseholdScope`.
//!
//! - `GET /api/v1/households?area=&grid=&community=&cadre=&building=&tag=&q=&due=true&limit=&offset=`:
//!   a page of the households the caller may see, as GeoJSON Features (WGS84 points);
//!   `due=true` with `cadre`, `area`, `grid` or `community` is that unit's overdue list.
//! - `GET /api/v1/households/{id}` (its version as the `ETag`), `…/{id}/visits` (newest first)
//!   and `…/{id}/history` (every change with before and after).
//! - `POST /api/v1/households` and `PATCH /api/v1/households/{id}` with `If-Match`: by those
//!   who answer for the household's location.
//! - `GET /api/v1/households/floors?bbox=`: each floor of the buildings with households the
//!   caller may see, with how many are due: what the 3D map colours (counts, no names).
//! - `GET /api/v1/me/visits/due?lon=&lat=&crs=`: my due households in walking order from there
//!   (the nearest `MAX_WALK` of them when more are due; `numberMatched` says how many are).
//! - `POST /api/v1/visits` with an `Idempotency-Key` header: 201 stored, 200 a resend of the
//!   same record, 409 the key used for other content.
//! - `POST /api/v1/needs/{id}/met`.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{crs_param, id_param};
use crate::app::{HouseholdFilter, HouseholdView, VisitInput};
use crate::geodata;
use crate::model::visits::{NeedKind, NewNeed, Visit};
use crate::model::{Id, NewHousehold};
use crate::spatial::crs::Crs;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use geo::{Coord, Rect};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The largest page of households.
pub const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 50;
/// The longest notes of a visit, in characters.
const MAX_NOTES_CHARS: usize = 4_000;
/// The most needs one visit records.
const MAX_NEEDS: usize = 20;
/// The longest idempotency key.
const MAX_KEY_CHARS: usize = 128;

/// The routes of households, visits and needs.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/households", get(list).post(create))
        .route("/api/v1/households/floors", get(floors))
        .route("/api/v1/households/{id}", get(one).patch(update))
        .route("/api/v1/households/{id}/history", get(history))
        .route("/api/v1/households/{id}/visits", get(visits))
        .route("/api/v1/me/visits/due", get(due))
        .route("/api/v1/visits", post(record))
        .route("/api/v1/needs/{id}/met", post(met))
}

/// A whole number parameter no larger than `max`.
fn count(
    params: &HashMap<String, String>,
    name: &str,
    max: usize,
) -> Result<Option<usize>, ApiError> {
    params
        .get(name)
        .map(|raw| match raw.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("{name} is a whole number up to {max}, got {raw:?}"),
            )),
        })
        .transpose()
}

/// A household as a GeoJSON Feature: its point, its fields, where it counts and its visits.
fn feature(view: &HouseholdView) -> Value {
    let h = &view.household;
    let d = &h.details;
    json!({
        "type": "Feature",
        "id": h.id,
        "geometry": {"type": "Point", "coordinates": [h.location.x(), h.location.y()]},
        "properties": {
            "id": h.id,
            "code": h.code,
            "building_code": d.building_code,
            "unit": d.unit,
            "floor": d.floor,
            "room": d.room,
            "address": d.address,
            "head_name": d.head_name,
            "phone": d.phone,
            "people": d.people,
            "tags": d.tags,
            "grid_id": h.grid_id,
            "area_ids": h.area_ids,
            "last_visit_at": view.times.any.map(crate::timestamp::from_millis),
            "last_on_site_visit_at": view.times.on_site.map(crate::timestamp::from_millis),
            "next_visit_due": view.next_due.map(crate::timestamp::from_millis),
        },
    })
}

/// `GET /api/v1/households`.
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let number = |name: &str| -> Result<Option<Id>, ApiError> {
        params.get(name).map(|raw| id_param(raw, name)).transpose()
    };
    let due = match params.get("due").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_parameter",
                format!("due is true or false, got {other:?}"),
            ));
        }
    };
    let filter = HouseholdFilter {
        area: number("area")?,
        grid: number("grid")?,
        community: number("community")?,
        cadre: number("cadre")?,
        building: params.get("building").cloned(),
        tag: params.get("tag").cloned(),
        text: params
            .get("q")
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().to_string()),
        due,
    };
    let limit = count(&params, "limit", MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    let offset = count(&params, "offset", usize::MAX)?.unwrap_or(0);
    let page = state
        .app
        .households_page(&caller.user, &filter, offset, limit)
        .await?;
    let features: Vec<Value> = page.households.iter().map(feature).collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "numberMatched": page.matched,
        "numberReturned": features.len(),
        "features": features,
    })))
}

/// A household with its version as the `ETag`.
fn tagged(view: &HouseholdView) -> impl IntoResponse {
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.household.version))
        .expect("digits are a valid header");
    ([(header::ETAG, etag)], Json(feature(view)))
}

/// `GET /api/v1/households/{id}`: the version is the `ETag`, for `If-Match` on a `PATCH`.
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let view = state
        .app
        .household(&caller.user, id_param(&raw, "household")?)
        .await?;
    Ok(tagged(&view).into_response())
}

/// The household of a GeoJSON Feature body with a Point in `crs`.
fn household_of(body: Value, crs: Crs) -> Result<NewHousehold, ApiError> {
    let feature: geojson::Feature = serde_json::from_value(body).map_err(|e| {
        ApiError::unprocessable("invalid_feature", format!("not a GeoJSON Feature: {e}"))
    })?;
    geodata::parse_household(&feature, crs)
        .map_err(|e| ApiError::unprocessable("invalid_household", e))
}

fn crs_of(params: &HashMap<String, String>) -> Result<Crs, ApiError> {
    crs_param(params.get("crs").map(String::as_str))
}

/// `POST /api/v1/households[?crs=]` with a Feature (a Point, and the properties of an import):
/// 201 with the household and its `ETag`.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let household = household_of(body, crs_of(&params)?)?;
    let view = state.app.create_household(&caller.user, household).await?;
    Ok((StatusCode::CREATED, tagged(&view)).into_response())
}

/// `PATCH /api/v1/households/{id}[?crs=]` with `If-Match` and a Feature of what changes:
/// properties given replace the stored ones (`null` clears an optional one), a `null` or
/// absent geometry keeps the location.
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let id = id_param(&raw, "household")?;
    let version = super::places::if_match(&headers)?;
    let crs = crs_of(&params)?;
    let current = state.app.household(&caller.user, id).await?;
    let mut merged = feature(&current);
    let Value::Object(change) = body else {
        return Err(ApiError::unprocessable(
            "invalid_feature",
            "the body is a GeoJSON Feature object".to_string(),
        ));
    };
    if let Some(Value::Object(properties)) = change.get("properties") {
        for (key, value) in properties {
            merged["properties"][key] = value.clone();
        }
    }
    let moved = change.get("geometry").filter(|g| !g.is_null());
    let household = match moved {
        Some(geometry) => {
            merged["geometry"] = geometry.clone();
            household_of(merged, crs)?
        }
        // The stored location is WGS84 whatever `crs` the change is in.
        None => household_of(merged, Crs::Wgs84)?,
    };
    let view = state
        .app
        .update_household(&caller.user, id, version, household)
        .await?;
    Ok(tagged(&view).into_response())
}

/// `GET /api/v1/households/{id}/history`: every change, oldest first, with before and after.
async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let records = state
        .app
        .household_history(&caller.user, id_param(&raw, "household")?)
        .await?;
    let changes: Vec<Value> = records
        .iter()
        .map(|r| {
            json!({
                "at": r.at,
                "action": r.action,
                "user": r.user_id.map(|id| json!({"id": id})),
                "before": r.before,
                "after": r.after,
            })
        })
        .collect();
    Ok(Json(json!({ "changes": changes })))
}

/// `GET /api/v1/households/{id}/visits`: newest first.
async fn visits(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let visits = state
        .app
        .household_visits(&caller.user, id_param(&raw, "household")?)
        .await?;
    Ok(Json(json!({ "visits": visits })))
}

/// A `bbox` of four WGS84 numbers, west, south, east, north.
fn bbox_of(raw: &str) -> Result<Rect<f64>, ApiError> {
    let bad = |why: &str| {
        ApiError::bad_request(
            "invalid_bbox",
            format!("bbox is west,south,east,north in WGS84 degrees ({why}), got {raw:?}"),
        )
    };
    let numbers: Vec<f64> = raw
        .split(',')
        .map(|n| n.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("four numbers"))?;
    let [west, south, east, north] = numbers[..] else {
        return Err(bad("four numbers"));
    };
    let on_earth = [west, east].iter().all(|x| (-180.0..=180.0).contains(x))
        && [south, north].iter().all(|y| (-90.0..=90.0).contains(y));
    if !on_earth || west > east || south > north {
        return Err(bad("west ≤ east, south ≤ north, on the earth"));
    }
    Ok(Rect::new(
        Coord { x: west, y: south },
        Coord { x: east, y: north },
    ))
}

/// `GET /api/v1/households/floors?bbox=`: a FeatureCollection with one feature per floor (the
/// building's footprint, `base_m` and `height_m` to extrude it, `households` and `due`).
async fn floors(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let within = params.get("bbox").map(|raw| bbox_of(raw)).transpose()?;
    let floors = state.app.floors(&caller.user, within).await?;
    let storey = crate::tiles::METRES_PER_FLOOR;
    let features: Vec<Value> = floors
        .iter()
        .map(|f| {
            let geometry = geojson::Geometry::from(&f.footprint);
            json!({
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "building_id": f.building_id,
                    "building_code": f.building_code,
                    "floor": f.floor,
                    "base_m": (i64::from(f.floor) - 1) * storey,
                    "height_m": i64::from(f.floor) * storey,
                    "households": f.households,
                    "due": f.due,
                },
            })
        })
        .collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "numberReturned": features.len(),
        "features": features,
    })))
}

/// `GET /api/v1/me/visits/due?lon=&lat=&crs=`.
async fn due(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let crs = crs_param(params.get("crs").map(String::as_str))?;
    let coordinate = |name: &str| -> Result<f64, ApiError> {
        let raw = params.get(name).ok_or_else(|| {
            ApiError::bad_request(
                "missing_parameter",
                format!("the parameter {name} is missing: where the walk starts"),
            )
        })?;
        raw.parse().map_err(|_| {
            ApiError::bad_request(
                "invalid_number",
                format!("{name} must be a number, got {raw:?}"),
            )
        })
    };
    let (lon, lat) = crs.to_wgs84(coordinate("lon")?, coordinate("lat")?)?;
    let walk = state
        .app
        .due_walk(&caller.user, Coord { x: lon, y: lat })
        .await?;
    let features: Vec<Value> = walk.households.iter().map(feature).collect();
    Ok(Json(json!({
        "type": "FeatureCollection",
        "numberMatched": walk.matched,
        "walk_m": (walk.metres * 10.0).round() / 10.0,
        "start": [lon, lat],
        "features": features,
    })))
}

/// Where the phone was.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Position {
    lon: f64,
    lat: f64,
    crs: Option<String>,
    accuracy_m: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NeedBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VisitBody {
    household: Id,
    visited_at: String,
    position: Position,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    needs: Vec<NeedBody>,
    /// The visit this record corrects.
    corrects: Option<Id>,
}

fn visit_json(visit: &Visit) -> Value {
    json!({ "visit": visit, "distance_m": visit.distance_m, "on_site": visit.on_site })
}

/// `POST /api/v1/visits`.
async fn record(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<VisitBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.chars().count() <= MAX_KEY_CHARS)
        .ok_or_else(|| {
            ApiError::bad_request(
                "missing_idempotency_key",
                format!(
                    "send the phone's own id for this record (1 to {MAX_KEY_CHARS} characters) \
                     as the Idempotency-Key header, so that a resend stores nothing twice"
                ),
            )
        })?
        .to_string();
    if body.notes.chars().count() > MAX_NOTES_CHARS {
        return Err(ApiError::unprocessable(
            "notes_too_long",
            format!("notes have at most {MAX_NOTES_CHARS} characters"),
        ));
    }
    if body.needs.len() > MAX_NEEDS {
        return Err(ApiError::unprocessable(
            "too_many_needs",
            format!("a visit records at most {MAX_NEEDS} needs"),
        ));
    }
    let needs = body
        .needs
        .into_iter()
        .map(|n| {
            let kind: NeedKind = n
                .kind
                .parse()
                .map_err(|e: String| ApiError::unprocessable("unknown_need_type", e))?;
            Ok(NewNeed { kind, note: n.note })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let p = &body.position;
    if let Some(a) = p.accuracy_m
        && !(a.is_finite() && a >= 0.0)
    {
        return Err(ApiError::unprocessable(
            "invalid_accuracy",
            format!("accuracy_m is a distance in metres, 0 or more, got {a}"),
        ));
    }
    let crs = crs_param(p.crs.as_deref())?;
    let (lon, lat) = crs.to_wgs84(p.lon, p.lat)?;
    let input = VisitInput {
        household_id: body.household,
        key,
        visited_at: body.visited_at,
        position: Coord { x: lon, y: lat },
        accuracy_m: p.accuracy_m,
        notes: body.notes,
        needs,
        corrects: body.corrects,
    };
    let (visit, created) = state.app.record_visit(&caller.user, input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(visit_json(&visit))))
}

/// `POST /api/v1/needs/{id}/met`.
async fn met(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let need = state
        .app
        .meet_need(&caller.user, id_param(&raw, "need")?)
        .await?;
    Ok(Json(json!({ "need": need })))
}
