//! 微课堂: lessons sent to the members of branches.
//!
//! - `POST /api/v1/lessons` (secretaries, admins): `{"title", "body", "link"?, "branch_ids"?}`;
//!   every member on the rolls of the chosen branches (all those the caller manages by default;
//!   403 for one they do not) gets a link of their own. 201 with the lesson and, once, each
//!   member's link to pass on.
//! - `GET /api/v1/lessons` (the same people): the lessons that went to branches they manage,
//!   newest first, with how many members each reached and how many opened it.
//! - `GET /api/v1/lessons/read/{token}` (public: the member's link): the lesson; the first
//!   opening counts as the member's read. 404 for a link that is no one's.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use crate::app::LessonInput;
use crate::auth::Role;
use crate::model::Id;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The routes of lessons.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/lessons", post(send).get(list))
        .route("/api/v1/lessons/read/{token}", get(read))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonBody {
    title: String,
    body: String,
    link: Option<String>,
    branch_ids: Option<Vec<Id>>,
}

/// `POST /api/v1/lessons`.
async fn send(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<LessonBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Admin, Role::Secretary])?;
    let (lesson, links) = state
        .app
        .send_lesson(
            &caller.user,
            LessonInput {
                title: body.title,
                body: body.body,
                link: body.link,
                branch_ids: body.branch_ids,
            },
        )
        .await?;
    let recipients: Vec<Value> = links
        .iter()
        .map(|l| {
            json!({
                "member": l.member.id,
                "name": l.member.name,
                "phone": l.member.phone,
                "branch_id": l.member.branch_id,
                "status": l.member.status,
                "link": format!("/api/v1/lessons/read/{}", l.token),
            })
        })
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(json!({"lesson": lesson, "recipients": recipients})),
    ))
}

/// `GET /api/v1/lessons`.
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin, Role::Secretary])?;
    let lessons = state.app.lessons(&caller.user).await?;
    Ok(Json(json!({"count": lessons.len(), "lessons": lessons})))
}

/// `GET /api/v1/lessons/read/{token}`: the lesson without who sent it or how far it reached.
async fn read(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let unknown = || ApiError::NotFound("this lesson link is no one's".into());
    // A token is 64 hex digits; anything else is no one's, and is not hashed or looked up.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(unknown());
    }
    let lesson = state.app.open_lesson(&token).await?.ok_or_else(unknown)?;
    Ok(Json(json!({
        "title": lesson.title,
        "body": lesson.body,
        "link": lesson.link,
        "sent_at": lesson.sent_at,
    })))
}
