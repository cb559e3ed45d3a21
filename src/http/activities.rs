//! Activities of party branches (三会一课 and 主题党日), the trace (留痕) each leaves.
//!
//! - `POST /api/v1/activities` (who manages the branch): `{"type", "theme", "held_at",
//!   "place": {"lon", "lat", "crs"?}, "attendance": [{"member", "status", "reason"?}],
//!   "branch_id"?}`. `type` is `general_meeting` (支部党员大会), `committee_meeting` (支委会),
//!   `group_meeting` (党小组会), `party_lecture` (党课) or `theme_day` (主题党日); `held_at` an
//!   RFC 3339 date-time; the attendance lists every member on the branch's roll once (422
//!   `roll_mismatch` names who is missing or extra), `present`, `online` or `absent` with a
//!   reason. 201 with the activity, a draft.
//! - `PUT /api/v1/activities/{id}/photos/{group|sign_in|minutes}` (the same people): the image
//!   as the body (JPEG or PNG). 201, or 200 when it replaced the photo of that kind; once the
//!   three are in the activity is complete and 409 `activity_complete` refuses changes. Each
//!   photo carries `flags` where its camera's time or place is far from the activity's.
//! - `GET /api/v1/activities/{id}` and `GET /api/v1/communities/{id}/feed?before=&before_id=&limit=`: for
//!   the community's secretaries and the admins; names on the roll only for those who manage
//!   the activity's branch, counts for the others.
//! - `GET /api/v1/activity-photos/{id}` and `…/thumbnail`: upright JPEGs without metadata;
//!   public for group photos, for the community's secretaries for the sign-in sheet and the
//!   minutes. `…/original`: as uploaded, for those who manage the branch.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use super::photos::{image, photo_body, require_image};
use super::query::{crs_param, id_param};
use crate::app::{ActivityInput, ActivityView, BranchError, MAX_MEMBER_ROWS};
use crate::auth::Role;
use crate::model::Id;
use crate::model::branches::{
    ActivityPhoto, ActivityPhotoKind, ActivityType, Attendance, AttendanceStatus,
};
use crate::model::photos::PhotoCopy;
use crate::photos::MAX_PHOTO_BYTES;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The routes of activities and their photos.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/activities", post(record))
        .route("/api/v1/activities/{id}", get(one))
        .route(
            "/api/v1/activities/{id}/photos/{kind}",
            put(upload).layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .route("/api/v1/communities/{id}/feed", get(feed))
        .route("/api/v1/activity-photos/{id}", get(public_copy))
        .route("/api/v1/activity-photos/{id}/thumbnail", get(thumbnail))
        .route("/api/v1/activity-photos/{id}/original", get(original))
}

/// A photo with the URLs of its copies.
fn photo(photo: &ActivityPhoto) -> Value {
    let mut value = serde_json::to_value(photo).unwrap_or(Value::Null);
    value["url"] = json!(format!("/api/v1/activity-photos/{}", photo.id));
    value["thumbnail_url"] = json!(format!("/api/v1/activity-photos/{}/thumbnail", photo.id));
    value
}

/// An activity as the caller may see it.
fn shown(view: &ActivityView) -> Value {
    let a = &view.activity;
    let count = |status| a.attendance.iter().filter(|l| l.status == status).count();
    let photos: Vec<Value> = a.photos.iter().map(photo).collect();
    let mut value = json!({
        "id": a.id,
        "branch": {"id": view.branch.id, "code": view.branch.code, "name": view.branch.name},
        "community_id": view.branch.community_id,
        "type": a.kind,
        "type_name": a.kind.name(),
        "theme": a.theme,
        "held_at": a.held_at,
        "place": {"lon": a.lon, "lat": a.lat},
        "recorded_by": a.recorded_by,
        "recorded_at": a.recorded_at,
        "complete": a.complete(),
        "attendance_rate": a.attendance_rate(),
        "attendance_counts": {
            "roll": a.attendance.len(),
            "present": count(AttendanceStatus::Present),
            "online": count(AttendanceStatus::Online),
            "absent": count(AttendanceStatus::Absent),
        },
        "photos": photos,
    });
    if let Some(names) = &view.names {
        let lines: Vec<Value> = a
            .attendance
            .iter()
            .map(|l| {
                json!({
                    "member": l.member_id,
                    "name": names.get(&l.member_id),
                    "status": l.status,
                    "reason": l.reason,
                })
            })
            .collect();
        value["attendance"] = json!(lines);
    }
    value
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceBody {
    lon: f64,
    lat: f64,
    crs: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineBody {
    member: Id,
    status: AttendanceStatus,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActivityBody {
    #[serde(rename = "type")]
    kind: ActivityType,
    theme: String,
    held_at: String,
    place: PlaceBody,
    attendance: Vec<LineBody>,
    branch_id: Option<Id>,
}

/// `POST /api/v1/activities`.
async fn record(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ActivityBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Admin, Role::Secretary])?;
    if body.attendance.len() > MAX_MEMBER_ROWS {
        return Err(ApiError::TooLarge {
            code: "too_many_lines",
            message: format!("an attendance has at most {MAX_MEMBER_ROWS} lines"),
        });
    }
    // A date alone would say nothing of when on that day: the photos are checked against it.
    if body.held_at.trim().len() <= 10 {
        return Err(ApiError::unprocessable(
            "invalid_time",
            "held_at is an RFC 3339 date-time, like 2026-12-01T09:30:00+08:00",
        ));
    }
    let held_at = crate::timestamp::parse_at(&body.held_at)?;
    let place = crs_param(body.place.crs.as_deref())?.to_wgs84(body.place.lon, body.place.lat)?;
    let attendance = body
        .attendance
        .into_iter()
        .map(|l| Attendance {
            member_id: l.member,
            status: l.status,
            reason: l.reason,
        })
        .collect();
    let view = state
        .app
        .record_activity(
            &caller.user,
            ActivityInput {
                branch_id: body.branch_id,
                kind: body.kind,
                theme: body.theme,
                held_at,
                place,
                attendance,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(shown(&view))))
}

/// `GET /api/v1/activities/{id}`.
async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "activity")?;
    let view = state.app.activity(&caller.user, id).await?;
    Ok(Json(shown(&view)))
}

/// `PUT /api/v1/activities/{id}/photos/{kind}`.
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = id_param(&id, "activity")?;
    let kind: ActivityPhotoKind = kind
        .parse()
        .map_err(|e: String| ApiError::bad_request("invalid_kind", e))?;
    require_image(&headers)?;
    let bytes = photo_body(body)?;
    let (stored, replaced) = state
        .app
        .put_activity_photo(&caller.user, id, kind, bytes.to_vec())
        .await?;
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(photo(&stored))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    before: Option<String>,
    before_id: Option<Id>,
    limit: Option<usize>,
}

/// `GET /api/v1/communities/{id}/feed`: newest first; `next` holds the `before` and
/// `before_id` of the next page (the held time and id of this page's last activity).
async fn feed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<FeedQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "community")?;
    let after = query
        .before
        .map(|b| crate::timestamp::parse_at(&b))
        .transpose()?
        .map(|at| (at, query.before_id.unwrap_or(Id::MAX)));
    let limit = query.limit.unwrap_or(20);
    let views = state
        .app
        .community_feed(&caller.user, id, after, limit)
        .await?;
    let next = (views.len() >= limit.clamp(1, crate::app::MAX_FEED_PAGE))
        .then(|| views.last())
        .flatten()
        .map(|v| json!({"before": v.activity.held_at, "before_id": v.activity.id}));
    let activities: Vec<Value> = views.iter().map(shown).collect();
    Ok(Json(json!({"activities": activities, "next": next})))
}

/// One copy of an activity's photo; without a valid token only the public ones, and a refusal
/// then asks for one (401).
async fn copy_of(
    state: &AppState,
    caller: Option<Caller>,
    raw: &str,
    copy: PhotoCopy,
) -> Result<Response, ApiError> {
    let id = id_param(raw, "photo")?;
    let user = caller.as_ref().map(|c| &c.user);
    match state.app.activity_photo(user, id, copy).await {
        Ok(found) => {
            let for_anyone = copy != PhotoCopy::Original && found.kind == ActivityPhotoKind::Group;
            Ok(image(&found.media_type, found.bytes, for_anyone))
        }
        Err(BranchError::NotYourBranch(_)) if user.is_none() => Err(ApiError::Unauthorized(
            "this photo is for the community's secretaries: sign in".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v1/activity-photos/{id}`.
async fn public_copy(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    copy_of(&state, caller.ok(), &id, PhotoCopy::Public).await
}

/// `GET /api/v1/activity-photos/{id}/thumbnail`.
async fn thumbnail(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    copy_of(&state, caller.ok(), &id, PhotoCopy::Thumbnail).await
}

/// `GET /api/v1/activity-photos/{id}/original`.
async fn original(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    copy_of(&state, Some(caller), &id, PhotoCopy::Original).await
}
