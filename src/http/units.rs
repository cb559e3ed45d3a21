//! Fixed units per category (FixMyStreet's contacts): which unit answers for a category of
//! request, in one community or everywhere. Staff read them; admins set and remove them, and
//! every change is in the audit trace (`GET /api/v1/audit?entity=category_unit`).
//!
//! - `GET /api/v1/category-units`: every unit, with its category's and community's names.
//! - `POST /api/v1/category-units` with `{"category", "community_id"?, "unit", "phone"?}`: sets
//!   the unit of a category in a community (no `community_id`: everywhere), replacing the one
//!   there was (200) or adding it (201). Requests posted from then on start dispatched to it.
//! - `DELETE /api/v1/category-units/{id}`: the category goes back to the responsible chain.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::id_param;
use super::requests::bounded;
use crate::auth::Role;
use crate::model::Id;
use crate::model::requests::category;
use crate::model::units::{CategoryUnit, UnitContact};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The longest unit name, in characters (the width of a request's `assignee_unit`).
const MAX_UNIT_CHARS: usize = 200;
/// The longest phone number, in characters.
const MAX_PHONE_CHARS: usize = 32;

/// The routes of category units.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/category-units", get(list).post(set))
        .route("/api/v1/category-units/{id}", delete(remove))
}

/// A unit as the API shows it: with its category's and community's names.
fn shown(state: &AppState, unit: &CategoryUnit) -> Value {
    let map = state.app.map_data();
    let community = unit
        .community_id
        .and_then(|id| map.places.iter().find(|p| p.id == id))
        .map(|p| p.name.clone());
    let mut value = serde_json::to_value(unit).unwrap_or(Value::Null);
    value["category_name"] = json!(category(&unit.category).map(|c| c.name));
    value["community_name"] = json!(community);
    value
}

/// `GET /api/v1/category-units`.
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin, Role::Secretary, Role::Cadre, Role::Planner])?;
    let units = state.app.category_units().await?;
    let units: Vec<Value> = units.iter().map(|u| shown(&state, u)).collect();
    Ok(Json(json!({"count": units.len(), "units": units})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitBody {
    category: String,
    community_id: Option<Id>,
    unit: String,
    phone: Option<String>,
}

/// `POST /api/v1/category-units`.
async fn set(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<UnitBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Admin])?;
    let unit = body.unit.trim().to_string();
    if unit.is_empty() {
        return Err(ApiError::unprocessable(
            "missing_unit",
            "a category unit needs the unit's name",
        ));
    }
    bounded("unit", &unit, MAX_UNIT_CHARS)?;
    let phone = body
        .phone
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty());
    if let Some(phone) = &phone {
        bounded("phone", phone, MAX_PHONE_CHARS)?;
        if !phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
        {
            return Err(ApiError::unprocessable(
                "invalid_phone",
                format!("phone {phone:?} holds more than digits, '+', '-' and spaces"),
            ));
        }
    }
    let contact = UnitContact {
        category: body.category,
        community_id: body.community_id,
        unit,
        phone,
    };
    let (stored, replaced) = state.app.set_category_unit(&caller.user, contact).await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(shown(&state, &stored))))
}

/// `DELETE /api/v1/category-units/{id}`.
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let id = id_param(&id, "category unit")?;
    let removed = state.app.remove_category_unit(&caller.user, id).await?;
    Ok(Json(shown(&state, &removed)))
}
