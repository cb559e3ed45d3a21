//! Statistics of the visit diary for leaders (counts only, no personal data; any signed-in
//! role):
//!
//! - `GET /api/v1/stats/coverage?level=area|grid|community|street&days=30`
//! - `GET /api/v1/stats/needs?level=…`
//! - `GET /api/v1/stats/pioneers?days=30`: the 先锋榜.
//! - `GET /api/v1/stats/requests?level=category|grid|community|street&days=90`: residents'
//!   requests answered: counts, 结案率, 按期结案率, 返工率, and the median and 90th percentile
//!   of the minutes to acceptance, to the door and to closing.
//! - `GET /api/v1/stats/summary?level=street|community|grid&id=ID`: the one summary the screen
//!   (党建信息屏) shows: households, members, visit coverage in 30 days, open and overdue
//!   requests, 结案率 and 按期结案率 and the median time to the door over 90 days, the quarter's
//!   complete activities and their attendance rate. Counted in the database.
//! - `GET /api/v1/stats/attendance?period=quarter|month&year=2026&community_id=`: each party
//!   branch's attendance rate (出勤率) per period, from its complete activities: so that the
//!   branches of a community see each other's.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use crate::app::{RequestGrouping, SummaryError};
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
        .route("/api/v1/stats/summary", get(summary))
        .route("/api/v1/stats/attendance", get(attendance))
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

/// `GET /api/v1/stats/summary`.
async fn summary(
    State(state): State<AppState>,
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let level = match params.get("level").map(String::as_str) {
        Some("street") => PlaceKind::Street,
        Some("community") => PlaceKind::Community,
        Some("grid") => PlaceKind::Grid,
        other => {
            return Err(ApiError::bad_request(
                "invalid_level",
                format!("level is street, community or grid, got {other:?}"),
            ));
        }
    };
    let raw = params.get("id").ok_or_else(|| {
        ApiError::bad_request("invalid_id", "id names the street, community or grid")
    })?;
    let id = super::query::id_param(raw, level.as_str())?;
    let summary = state
        .app
        .summary(level, id, time::OffsetDateTime::now_utc())
        .await?;
    Ok(Json(serde_json::to_value(summary).unwrap_or(Value::Null)))
}

impl From<SummaryError> for ApiError {
    fn from(e: SummaryError) -> Self {
        match e {
            SummaryError::NoSuchUnit { .. } => ApiError::NotFound(e.to_string()),
            SummaryError::Store(e) => e.into(),
        }
    }
}

/// `GET /api/v1/stats/attendance`: rows by branch code, then period.
async fn attendance(
    State(state): State<AppState>,
    _caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let (period, year) = super::query::period_params(
        params.get("period").map(String::as_str),
        params.get("year").map(String::as_str),
    )?;
    let community = params
        .get("community_id")
        .map(|raw| super::query::id_param(raw, "community"))
        .transpose()?;
    let rows = state.app.branch_attendance(community, period, year).await?;
    let branches = state.app.branches();
    let mut rows: Vec<Value> = rows
        .iter()
        .filter_map(|row| {
            let branch = branches.iter().find(|b| b.id == row.branch_id)?;
            let mut value = serde_json::to_value(row).ok()?;
            value["code"] = json!(branch.code);
            value["name"] = json!(branch.name);
            value["community_id"] = json!(branch.community_id);
            Some(value)
        })
        .collect();
    rows.sort_by(|a, b| {
        (a["code"].as_str(), a["period"].as_str()).cmp(&(b["code"].as_str(), b["period"].as_str()))
    });
    Ok(Json(json!({"year": year, "rows": rows})))
}
