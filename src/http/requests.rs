//! Residents' requests inside wangge, for the staff who answer them. Personal data (who
//! reported, the household) reaches only those `app::access::may_read_request` admits; the
//! public form is Open311's (`super::open311`).
//!
//! - `POST /api/v1/requests`: a cadre, secretary or admin reports on a resident's behalf,
//!   optionally naming the household: `{"category", "lon", "lat", "crs"?, "address"?,
//!   "description", "media_url"?, "attributes"?, "reporter"?: {"name", "phone", "email"},
//!   "household_id"?}`; 201 with the request as stored and routed.
//! - `GET /api/v1/requests/{id}`: the request, every step taken (`events`) and the open ones of
//!   its category nearby (`nearby`, possible duplicates).
//! - `POST /api/v1/requests/{id}/transitions` with `{"to", "note"?, "assignee"? (a user id or a
//!   unit's name), "fixed"?, "duplicate_of"?}`: one step of the workflow.
//! - `POST /api/v1/requests/{id}/category` with `{"category", "note"?}`: another category,
//!   and the request routed again for it.
//! - `GET /api/v1/me/requests`: what waits on me, most urgent first.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::{crs_param, id_param};
use crate::app::{RequestError, RequestInput, RequestView, StepInput};
use crate::auth::Role;
use crate::model::Id;
use crate::model::requests::{Reporter, RequestEvent, RequestState};
use crate::photos::PhotoError;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use geo::Coord;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The longest description, in characters (Open311's limit).
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;
/// The longest address, note, unit name or contact field, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// The routes of requests for staff.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/requests", post(create))
        .route("/api/v1/requests/{id}", get(one))
        .route("/api/v1/requests/{id}/transitions", post(transition))
        .route("/api/v1/requests/{id}/category", post(recategorise))
        .route("/api/v1/me/requests", get(mine))
}

/// A request as staff read it: everything stored, its category's name and its time limits.
pub fn full(view: &RequestView) -> Value {
    let now = time::OffsetDateTime::now_utc();
    let mut value = serde_json::to_value(&view.request).unwrap_or(Value::Null);
    value["category_name"] = json!(view.category.name);
    value["open"] = json!(view.request.state.is_open());
    value["due_at"] = json!(view.due_at.map(crate::timestamp::format));
    value["overdue"] = json!(view.overdue(now));
    value["expected_at"] = json!(view.expected_at.map(crate::timestamp::format));
    value
}

/// Checks the length of a free text field.
pub fn bounded(name: &str, text: &str, max: usize) -> Result<(), ApiError> {
    if text.chars().count() > max {
        return Err(ApiError::unprocessable(
            "too_long",
            format!("{name} is longer than {max} characters"),
        ));
    }
    Ok(())
}

/// The description of a report: present, at most [`MAX_DESCRIPTION_CHARS`].
pub fn description(text: Option<String>) -> Result<String, ApiError> {
    let text = text.map(|t| t.trim().to_string()).unwrap_or_default();
    if text.is_empty() {
        return Err(ApiError::unprocessable(
            "missing_description",
            "a request needs a description of the problem",
        ));
    }
    bounded("description", &text, MAX_DESCRIPTION_CHARS)?;
    Ok(text)
}

/// Refuses overlong contact fields.
pub fn check_reporter(reporter: &Reporter) -> Result<(), ApiError> {
    for (name, field) in [
        ("reporter name", &reporter.name),
        ("phone", &reporter.phone),
        ("email", &reporter.email),
    ] {
        bounded(name, field.as_deref().unwrap_or_default(), MAX_TEXT_CHARS)?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequestBody {
    category: String,
    lon: f64,
    lat: f64,
    crs: Option<String>,
    #[serde(default)]
    address: String,
    description: Option<String>,
    media_url: Option<String>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
    #[serde(default)]
    reporter: Reporter,
    household_id: Option<Id>,
}

/// `POST /api/v1/requests`.
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<NewRequestBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Admin, Role::Secretary, Role::Cadre])?;
    let (lon, lat) = crs_param(body.crs.as_deref())?.to_wgs84(body.lon, body.lat)?;
    bounded("address", &body.address, MAX_TEXT_CHARS)?;
    bounded(
        "media_url",
        body.media_url.as_deref().unwrap_or_default(),
        MAX_TEXT_CHARS,
    )?;
    check_reporter(&body.reporter)?;
    let input = RequestInput {
        category: body.category,
        position: Coord { x: lon, y: lat },
        address: body.address,
        description: description(body.description)?,
        media_url: body.media_url,
        attributes: body.attributes,
        reporter: body.reporter,
        household_id: body.household_id,
    };
    let view = state.app.submit_request(Some(&caller.user), input).await?;
    Ok((StatusCode::CREATED, Json(full(&view))))
}

/// `GET /api/v1/requests/{id}`.
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (view, events, nearby) = state
        .app
        .request_in_full(&caller.user, id_param(&id, "request")?)
        .await?;
    let mut value = full(&view);
    let photos = state.app.photos(view.request.id).await?;
    value["photos"] = photos.iter().map(super::photos::described).collect();
    value["events"] = json!(events);
    value["nearby"] = nearby
        .iter()
        .map(|v| {
            json!({
                "id": v.request.id,
                "state": v.request.state,
                "lon": v.request.lon,
                "lat": v.request.lat,
                "requested_at": v.request.requested_at,
            })
        })
        .collect();
    Ok(Json(value))
}

/// Whom a dispatch names: a user by id, or a unit by name.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Assignee {
    Person(Id),
    Unit(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    to: String,
    #[serde(default)]
    note: String,
    assignee: Option<Assignee>,
    fixed: Option<bool>,
    duplicate_of: Option<Id>,
}

/// `POST /api/v1/requests/{id}/transitions`.
async fn transition(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StepBody>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "request")?;
    let to: RequestState = body
        .to
        .parse()
        .map_err(|e: String| ApiError::unprocessable("invalid_state", e))?;
    bounded("note", &body.note, MAX_DESCRIPTION_CHARS)?;
    let (assignee_id, assignee_unit) = match body.assignee {
        Some(Assignee::Person(id)) => (Some(id), None),
        Some(Assignee::Unit(unit)) => {
            bounded("assignee", &unit, MAX_TEXT_CHARS)?;
            (None, Some(unit))
        }
        None => (None, None),
    };
    let step = StepInput {
        to,
        note: body.note,
        assignee_id,
        assignee_unit,
        fixed: body.fixed,
        duplicate_of: body.duplicate_of,
    };
    let (view, event): (RequestView, RequestEvent) =
        state.app.take_step(&caller.user, id, step).await?;
    Ok(Json(json!({"request": full(&view), "event": event})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryBody {
    category: String,
    #[serde(default)]
    note: String,
}

/// `POST /api/v1/requests/{id}/category`.
async fn recategorise(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CategoryBody>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "request")?;
    bounded("note", &body.note, MAX_DESCRIPTION_CHARS)?;
    let (view, event) = state
        .app
        .recategorise(&caller.user, id, &body.category, &body.note)
        .await?;
    Ok(Json(json!({"request": full(&view), "event": event})))
}

/// `GET /api/v1/me/requests`.
async fn mine(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let views = state.app.my_requests(&caller.user).await?;
    let requests: Vec<Value> = views.iter().map(full).collect();
    Ok(Json(json!({"count": requests.len(), "requests": requests})))
}

impl From<RequestError> for ApiError {
    fn from(e: RequestError) -> Self {
        let message = e.to_string();
        match e {
            RequestError::UnknownCategory(_) => ApiError::unprocessable("unknown_service", message),
            RequestError::BadAttribute { .. } => {
                ApiError::unprocessable("invalid_attribute", message)
            }
            RequestError::OutsideGrids { .. } => ApiError::unprocessable("outside_grids", message),
            RequestError::NotYourHousehold(_)
            | RequestError::NotYours(_)
            | RequestError::MayNot { .. }
            | RequestError::HandlerVerifies(_) => ApiError::Forbidden(message),
            RequestError::NotFrom { .. } => ApiError::conflict("invalid_transition", message),
            RequestError::NotRecategorisable { .. } => {
                ApiError::conflict("not_recategorisable", message)
            }
            RequestError::Incomplete(_) => ApiError::unprocessable("incomplete_step", message),
            RequestError::BadDuplicate(_) => ApiError::unprocessable("invalid_duplicate", message),
            RequestError::NotACommunity(_) => ApiError::unprocessable("not_a_community", message),
            RequestError::Photo(e) => photo_error(e),
            RequestError::Busy(busy) => busy.into(),
            RequestError::Store(e) => e.into(),
        }
    }
}

/// The status of a refused photo: too large 413, not an image we take 415, too many pixels or
/// unreadable 422.
pub(super) fn photo_error(e: PhotoError) -> ApiError {
    let message = e.to_string();
    match e {
        PhotoError::TooLarge(_) => ApiError::TooLarge {
            code: "photo_too_large",
            message,
        },
        PhotoError::Unsupported(_) => ApiError::UnsupportedMediaType(message),
        PhotoError::TooManyPixels { .. } => ApiError::unprocessable("too_many_pixels", message),
        PhotoError::Unreadable(_) => ApiError::unprocessable("unreadable_photo", message),
    }
}
