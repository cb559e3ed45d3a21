//! Statistics of the visit diary for leaders (counts only, no personal data; any signed-in
//! role):
//!
//! - `GET /api/v1/stats/coverage?level=area|grid|community|street&days=30`
//! - `GET /api/v1/stats/needs?level=…`
//! - `GET /api/v1/stats/pioneers?days=30`: the 先锋榜.
//! - `GET /api/v1/stats/requests?level=category|grid|community|street&days=90`: residents'
//!   requests answered: counts, 结案率, 按期结案率, 返工率, and the median and 90th percentile
//!   of the minutes to acceptance, to the door and to closing.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::app::RequestGrouping;
use crate::model::PlaceKind;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The longest window of the statistics, in days: ten years.
const MAX_DAYS: u32 = 3_650;
const DEFAULT_DAYS: u32 = 30;
/// The window of the requests' statistics unless `days` says otherwise: a quarter.
const REQUEST_DAYS: u32 = 90;

/// The routes of the statistics.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stats/coverage", get(coverage))
        .route("/api/v1/stats/needs", get(needs))
        .route("/api/v1/stats/pioneers", get(pioneers))
        .route("/api/v1/stats/requests", get(requests))
}

fn level(params: &HashMap<String, String>) -> Result<PlaceKind, ApiError> {
    match params.get("level").map(String::as_str).unwrap_or("grid") {
        "area" => Ok(PlaceKind::Area),
        "grid" => Ok(PlaceKind::Grid),
        "community" => Ok(PlaceKind::Community),
        "street" => Ok(PlaceKind::Street),
        other => Err(ApiError::bad_request(
            "invalid_level",
            format!("level is area, grid, community or street, got {other:?}"),
        )),
    }
}

fn days(params: &HashMap<String, String>) -> Result<u32, ApiError> {
    match params.get("days") {
        None => Ok(DEFAULT_DAYS),
        Some(raw) => match raw.parse::<u32>() {
            Ok(d) if (1..=MAX_DAYS).contains(&d) => Ok(d),
            _ => Err(ApiError::bad_request(
                "invalid_days",
                format!("days is a whole number from 1 to {MAX_DAYS}, got {raw:?}"),
            )),
        },
    }
}

/// `GET /api/v1/stats/coverage`.
async fn coverage(
    State(state): State<AppState>,
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.app.coverage(level(&params)?, days(&params)?).await?;
    Ok(Json(json!({ "rows": rows })))
}

/// `GET /api/v1/stats/needs`.
async fn needs(
    State(state): State<AppState>,
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let rows = state.app.needs_by_unit(level(&params)?).await?;
    Ok(Json(json!({ "rows": rows })))
}

/// `GET /api/v1/stats/pioneers`: cadres by name people know them by, never by login name.
async fn pioneers(
    State(state): State<AppState>,
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let work = state.app.pioneers(days(&params)?).await?;
    let rows: Vec<Value> = work
        .iter()
        .enumerate()
        .map(|(at, w)| {
            json!({
                "rank": at + 1,
                "user": {"id": w.user_id, "display_name": w.display_name},
                "on_site_visits": w.on_site_visits,
                "needs_met": w.needs_met,
            })
        })
        .collect();
    Ok(Json(json!({ "rows": rows })))
}

/// `GET /api/v1/stats/requests`.
async fn requests(
    State(state): State<AppState>,
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let grouping = match params
        .get("level")
        .map(String::as_str)
        .unwrap_or("category")
    {
        "category" => RequestGrouping::Category,
        "grid" => RequestGrouping::Grid,
        "community" => RequestGrouping::Community,
        "street" => RequestGrouping::Street,
        other => {
            return Err(ApiError::bad_request(
                "invalid_level",
                format!("level is category, grid, community or street, got {other:?}"),
            ));
        }
    };
    let days = match params.get("days") {
        None => REQUEST_DAYS,
        Some(_) => days(&params)?,
    };
    let rows = state
        .app
        .request_stats(grouping, days, time::OffsetDateTime::now_utc())
        .await?;
    Ok(Json(json!({ "days": days, "rows": rows })))
}
