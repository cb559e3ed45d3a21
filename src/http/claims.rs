//! Claims of responsibility areas (民情责任田): a cadre claims a free area and answers for it
//! until they release it or an admin reassigns it.
//!
//! - `POST /api/v1/areas/{id}/claim` (cadre) → 201; held already (by anyone) → 409
//!   `already_claimed`.
//! - `POST /api/v1/areas/{id}/release` (the holder, or an admin) → 200; not held → 409
//!   `not_claimed`; held by someone else → 403.
//! - `POST /api/v1/areas/{id}/reassign` (admin) with `{"user": NAME}`, a cadre → 200.
//! - `GET /api/v1/areas/{id}/claims` (signed in): every claim, oldest first.
//! - `GET /api/v1/areas/holders` (public): every area with its holder or `null`, from memory.
//! - `GET /api/v1/me/areas` (signed in): the caller's areas with their household counts.
//!
//! One holder at a time is the database's guarantee (a partial unique index), not this
//! module's: concurrent claims race in the store and all but one get 409. After a committed
//! change the in-memory holders ([`crate::app::MapData::holders`]) are updated, which the
//! lookup reads and which invalidates the `areas` tiles; the `App` use cases do both in a task
//! that a client hanging up cannot stop, and in the database's commit order.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use crate::auth::Role;
use crate::model::{Claim, Id, PlaceKind};
use axum::extract::State;
use axum::extract::{Path, rejection::PathRejection};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The routes of claims (认领) of responsibility areas: holders, claim, release, reassign, a claim history and the caller's own areas.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/areas/holders", get(holders))
        .route("/api/v1/areas/{id}/claim", post(claim))
        .route("/api/v1/areas/{id}/release", post(release))
        .route("/api/v1/areas/{id}/reassign", post(reassign))
        .route("/api/v1/areas/{id}/claims", get(history))
        .route("/api/v1/me/areas", get(my_areas))
}

/// The area id of the path; 400 if it is not an integer.
fn area_id(path: Result<Path<String>, PathRejection>) -> Result<Id, ApiError> {
    let Path(raw) = path.map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))?;
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_id",
            format!("an area id is an integer, got {raw:?}"),
        )
    })
}

/// `{"id","code","name"}` of an area the store has just confirmed.
fn area_ref(state: &AppState, area_id: Id) -> Result<Value, ApiError> {
    let map = state.app.map_data();
    let place = map
        .places
        .iter()
        .find(|p| p.id == area_id)
        .ok_or_else(|| ApiError::NotFound(format!("there is no area with id {area_id}")))?;
    Ok(json!({"id": place.id, "code": place.code, "name": place.name}))
}

/// A claim as the API shows it.
fn claim_json(claim: &Claim) -> Value {
    json!({
        "holder": claim.holder,
        "claimed_at": claim.claimed_at,
        "released_at": claim.released_at,
        "ended_by": claim.ended_by,
    })
}

/// `POST /api/v1/areas/{id}/claim`: the calling cadre takes the area.
async fn claim(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Cadre])?;
    let area_id = area_id(path)?;
    let claim = state.app.claim_area(area_id, caller.user.id).await?;
    let area = area_ref(&state, area_id)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"area": area, "holder": claim.holder, "claimed_at": claim.claimed_at})),
    ))
}

/// `POST /api/v1/areas/{id}/release`: the holder (or an admin) lets the area go.
async fn release(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let area_id = area_id(path)?;
    let ended = state.app.release_by(area_id, &caller.user).await?;
    let area = area_ref(&state, area_id)?;
    let mut body = claim_json(&ended);
    body["area"] = area;
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reassign {
    /// The login name of the cadre who takes the area.
    user: String,
}

/// `POST /api/v1/areas/{id}/reassign` with `{"user": NAME}`: an admin gives the area to a cadre.
async fn reassign(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<Reassign>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let area_id = area_id(path)?;
    let claim = state
        .app
        .reassign_to(area_id, &body.user, caller.user.id)
        .await?;
    let area = area_ref(&state, area_id)?;
    Ok(Json(
        json!({"area": area, "holder": claim.holder, "claimed_at": claim.claimed_at}),
    ))
}

/// `GET /api/v1/areas/{id}/claims`: the area's claims, oldest first, also after its deletion.
async fn history(
    State(state): State<AppState>,
    _caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let area_id = area_id(path)?;
    // Also the history of an area deleted since, which has no place to name any more.
    let claims = state.app.area_claims(area_id).await?;
    let claims: Vec<Value> = claims.iter().map(claim_json).collect();
    Ok(Json(json!({ "claims": claims })))
}

/// `GET /api/v1/areas/holders`: every area with its holder or `null`, for the map's colouring.
async fn holders(State(state): State<AppState>) -> Json<Value> {
    let data = state.app.map_data();
    let areas: Vec<Value> = data
        .places
        .iter()
        .filter(|p| p.kind == PlaceKind::Area)
        .map(|p| {
            json!({
                "id": p.id,
                "code": p.code,
                "name": p.name,
                "holder": data.holders.get(&p.id),
            })
        })
        .collect();
    Json(json!({ "areas": areas }))
}

/// `GET /api/v1/me/areas`: the areas the caller holds, with their household counts.
async fn my_areas(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let areas = state.app.held_areas(caller.user.id).await?;
    Ok(Json(json!({ "areas": areas })))
}
