//! Party branches (党支部) and their rolls.
//!
//! - `GET /api/v1/branches` (public; `?community_id=` narrows): every branch with its code,
//!   name, community and grids; never a member.
//! - `POST /api/v1/branches` (admins): `[{"code", "name", "community", "grids": [CODE…]}]`,
//!   communities and grids by code; creates or updates by code, all or nothing (audited as
//!   `branch`).
//! - `GET /api/v1/branches/{id}/members`: the roll with names and phones, for the branch's own
//!   secretary, the community's secretaries bound to no branch and the admins (403 otherwise).
//! - `POST /api/v1/branches/{id}/members` (the same people): the roll as CSV
//!   (`Content-Type: text/csv`; columns `name,phone,joined_on,status,city` or
//!   `姓名,手机,入党日期,状态,所在城市`), members matched by phone; every row is checked first
//!   (422 `invalid_rows` lists the problems by line) and the write is all or nothing.
//! - `GET /api/v1/branches/{id}/attendance?period=quarter|month&year=2026` (the same people):
//!   each member's attendance rate per period, by name.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::id_param;
use crate::app::{BranchError, MAX_MEMBER_ROWS};
use crate::auth::Role;
use crate::model::branches::{Branch, NewBranch};
use crate::model::{Id, PlaceKind};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The largest roll file: 10,000 rows of about 80 bytes.
const MAX_ROLL_BYTES: usize = 1024 * 1024;
/// The most branches one write creates or updates.
const MAX_BRANCHES: usize = 1_000;

/// The routes of branches and members.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/branches", get(list).post(import))
        .route("/api/v1/branches/{id}/attendance", get(attendance))
        .route(
            "/api/v1/branches/{id}/members",
            get(members)
                .post(import_members)
                .layer(DefaultBodyLimit::max(MAX_ROLL_BYTES)),
        )
}

/// A branch as the API shows it: with its community's name and its grids' codes.
pub fn shown(state: &AppState, branch: &Branch) -> Value {
    let map = state.app.map_data();
    let place = |id: Id| map.places.iter().find(|p| p.id == id);
    let mut value = serde_json::to_value(branch).unwrap_or(Value::Null);
    value["community_name"] = json!(place(branch.community_id).map(|p| p.name.clone()));
    let grids: Vec<&str> = branch
        .grid_ids
        .iter()
        .filter_map(|&g| place(g).map(|p| p.code.as_str()))
        .collect();
    value["grid_codes"] = json!(grids);
    value
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    community_id: Option<String>,
}

/// `GET /api/v1/branches`.
async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let community = query
        .community_id
        .map(|raw| id_param(&raw, "community"))
        .transpose()?;
    let branches = state.app.branches();
    let branches: Vec<Value> = branches
        .iter()
        .filter(|b| community.is_none_or(|c| b.community_id == c))
        .map(|b| shown(&state, b))
        .collect();
    Ok(Json(json!({"count": branches.len(), "branches": branches})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BranchBody {
    code: String,
    name: String,
    community: String,
    #[serde(default)]
    grids: Vec<String>,
}

/// `POST /api/v1/branches`.
async fn import(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<Vec<BranchBody>>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    if body.len() > MAX_BRANCHES {
        return Err(ApiError::TooLarge {
            code: "too_many_branches",
            message: format!("one write holds at most {MAX_BRANCHES} branches"),
        });
    }
    let branches = body
        .into_iter()
        .map(|b| resolve(&state, b))
        .collect::<Result<Vec<_>, _>>()?;
    let summary = state
        .app
        .import_branches(&branches, Some(caller.user.id))
        .await?;
    Ok(Json(
        json!({"inserted": summary.inserted, "updated": summary.updated}),
    ))
}

/// A branch with its community and grids named by code, as ids.
fn resolve(state: &AppState, body: BranchBody) -> Result<NewBranch, ApiError> {
    let map = state.app.map_data();
    let find = |code: &str, kind: PlaceKind| {
        map.places
            .iter()
            .find(|p| p.code == code && p.kind == kind)
            .map(|p| p.id)
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "unknown_place",
                    format!(
                        "branch {:?}: there is no {kind} with code {code:?}",
                        body.code
                    ),
                )
            })
    };
    let community_id = find(&body.community, PlaceKind::Community)?;
    let grid_ids = body
        .grids
        .iter()
        .map(|g| find(g, PlaceKind::Grid))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NewBranch {
        code: body.code.trim().to_string(),
        name: body.name.trim().to_string(),
        community_id,
        grid_ids,
    })
}

/// `GET /api/v1/branches/{id}/members`.
async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "branch")?;
    let members = state.app.members(&caller.user, id).await?;
    Ok(Json(json!({"count": members.len(), "members": members})))
}

/// `POST /api/v1/branches/{id}/members`.
async fn import_members(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "branch")?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !media
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("text/csv")
    {
        return Err(ApiError::UnsupportedMediaType(
            "send the roll as the body, with Content-Type: text/csv".into(),
        ));
    }
    let body = body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge {
            code: "roll_too_large",
            message: format!(
                "a roll may have at most {MAX_ROLL_BYTES} bytes ({MAX_MEMBER_ROWS} members)"
            ),
        },
        other => ApiError::bad_request("invalid_body", other.body_text()),
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_body", "the roll is not UTF-8 text"))?;
    let summary = state.app.import_members(&caller.user, id, text).await?;
    Ok(Json(
        json!({"inserted": summary.inserted, "updated": summary.updated}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AttendanceQuery {
    period: Option<String>,
    year: Option<String>,
}

/// `GET /api/v1/branches/{id}/attendance`.
async fn attendance(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<AttendanceQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "branch")?;
    let (period, year) =
        super::query::period_params(query.period.as_deref(), query.year.as_deref())?;
    let rows = state
        .app
        .member_attendance(&caller.user, id, period, year)
        .await?;
    let members = state.app.members(&caller.user, id).await?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut value = serde_json::to_value(row).unwrap_or(Value::Null);
            let name = members
                .iter()
                .find(|m| Some(m.id) == row.member_id)
                .map(|m| &m.name);
            value["name"] = json!(name);
            value
        })
        .collect();
    Ok(Json(json!({"year": year, "rows": rows})))
}

impl From<BranchError> for ApiError {
    fn from(e: BranchError) -> Self {
        let message = e.to_string();
        match e {
            BranchError::NotYourBranch(_) | BranchError::NotYourCommunity(_) => {
                ApiError::Forbidden(message)
            }
            BranchError::WhichBranch => ApiError::unprocessable("missing_branch", message),
            BranchError::BadRoll(problems) => ApiError::InvalidRows {
                message,
                problems: problems
                    .iter()
                    .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
                    .collect(),
            },
            BranchError::Invalid(_) => ApiError::unprocessable("invalid", message),
            BranchError::InTheFuture(_) => ApiError::unprocessable("future_activity", message),
            BranchError::Photo(e) => super::requests::photo_error(e),
            BranchError::Busy(busy) => busy.into(),
            BranchError::Store(e) => e.into(),
        }
    }
}
