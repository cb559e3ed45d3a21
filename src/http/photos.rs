//! Photos of requests.
//!
//! - `POST /api/v1/requests/{id}/photos?kind=report|after`: the image itself as the body
//!   (`Content-Type: image/jpeg` or `image/png`, at most [`MAX_PHOTO_BYTES`]), by staff who may
//!   read the request; 201 with the photo and its URLs. At most
//!   [`crate::app::MAX_PHOTOS_PER_KIND`] of each kind (409 `too_many_photos`).
//! - `GET /api/v1/requests/{id}/photos`: the photos of a request (kinds, sizes, times, URLs).
//! - `GET /api/v1/requests/{id}/photo`: the public copy of its first photo, the one Open311's
//!   `media_url` names.
//! - `GET /api/v1/photos/{id}` and `…/{id}/thumbnail`: the public copy and the thumbnail,
//!   upright JPEGs without metadata, for anyone; `…/{id}/original`: as uploaded, EXIF and
//!   all, for those who may read the request in full.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::query::id_param;
use crate::auth::Role;
use crate::model::photos::{Photo, PhotoCopy, PhotoKind};
use crate::photos::MAX_PHOTO_BYTES;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// The routes of photos.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/requests/{id}/photos",
            post(upload)
                .get(list)
                .layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES)),
        )
        .route("/api/v1/requests/{id}/photo", get(first))
        .route("/api/v1/photos/{id}", get(public_copy))
        .route("/api/v1/photos/{id}/thumbnail", get(thumbnail))
        .route("/api/v1/photos/{id}/original", get(original))
}

/// A photo with the URLs of its copies.
pub fn described(photo: &Photo) -> Value {
    let mut value = serde_json::to_value(photo).unwrap_or(Value::Null);
    value["url"] = json!(format!("/api/v1/photos/{}", photo.id));
    value["thumbnail_url"] = json!(format!("/api/v1/photos/{}/thumbnail", photo.id));
    value
}

/// The body of an upload, or 413 in the usual envelope when it is larger than a photo may be.
pub fn photo_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(_) => ApiError::TooLarge {
            code: "photo_too_large",
            message: format!("a photo may have at most {MAX_PHOTO_BYTES} bytes"),
        },
        other => ApiError::bad_request("invalid_body", other.body_text()),
    })
}

/// 415 unless the body is said to be a JPEG or a PNG.
pub fn require_image(headers: &HeaderMap) -> Result<(), ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    if matches!(media.as_deref(), Some("image/jpeg" | "image/png")) {
        Ok(())
    } else if matches!(media.as_deref(), Some("image/heic" | "image/heif")) {
        // Decoding HEIC needs libheif 1.17 or later; Debian 12 ships 1.15 (see the README).
        Err(ApiError::UnsupportedMediaType(
            "HEIC photos are not taken yet: send a JPEG or PNG (on an iPhone: Settings, Camera, \
             Formats, Most Compatible)"
                .into(),
        ))
    } else {
        Err(ApiError::UnsupportedMediaType(
            "send the photo itself as the body, with Content-Type: image/jpeg or image/png".into(),
        ))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    kind: Option<String>,
}

/// `POST /api/v1/requests/{id}/photos`.
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(&[Role::Admin, Role::Secretary, Role::Cadre])?;
    let id = id_param(&id, "request")?;
    let kind: PhotoKind = query
        .kind
        .as_deref()
        .unwrap_or("report")
        .parse()
        .map_err(|e: String| ApiError::bad_request("invalid_kind", e))?;
    require_image(&headers)?;
    let bytes = photo_body(body)?;
    let photo = state
        .app
        .add_photo(Some(&caller.user), id, kind, bytes.to_vec())
        .await?;
    Ok((StatusCode::CREATED, Json(described(&photo))))
}

/// `GET /api/v1/requests/{id}/photos`.
async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = id_param(&id, "request")?;
    state.app.public_request(id).await?;
    let photos = state.app.photos(id).await?;
    let photos: Vec<Value> = photos.iter().map(described).collect();
    Ok(Json(json!({ "photos": photos })))
}

/// A copy of a photo as an answer: its media type, and cached for good when it is for anyone
/// (a photo never changes: a replaced one gets a new id); one for some people only is never
/// kept by a cache.
pub fn image(media_type: &str, bytes: Vec<u8>, for_anyone: bool) -> Response {
    let cache = if for_anyone {
        "public, max-age=31536000, immutable"
    } else {
        "private, no-store"
    };
    let media = HeaderValue::from_str(media_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (
        [
            (header::CONTENT_TYPE, media),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        bytes,
    )
        .into_response()
}

async fn copy_of(
    state: &AppState,
    caller: Option<&Caller>,
    raw: &str,
    copy: PhotoCopy,
) -> Result<Response, ApiError> {
    let id = id_param(raw, "photo")?;
    let found = state.app.photo(caller.map(|c| &c.user), id, copy).await?;
    Ok(image(
        &found.media_type,
        found.bytes,
        copy != PhotoCopy::Original,
    ))
}

/// `GET /api/v1/photos/{id}`.
async fn public_copy(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    copy_of(&state, None, &id, PhotoCopy::Public).await
}

/// `GET /api/v1/photos/{id}/thumbnail`.
async fn thumbnail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    copy_of(&state, None, &id, PhotoCopy::Thumbnail).await
}

/// `GET /api/v1/photos/{id}/original`.
async fn original(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    copy_of(&state, Some(&caller), &id, PhotoCopy::Original).await
}

/// `GET /api/v1/requests/{id}/photo`: the public copy of the request's first photo.
async fn first(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let request = id_param(&id, "request")?;
    let photos = state.app.photos(request).await?;
    let photo = photos
        .first()
        .ok_or_else(|| ApiError::NotFound(format!("request {request} has no photo")))?;
    let found = state.app.photo(None, photo.id, PhotoCopy::Public).await?;
    Ok(image(&found.media_type, found.bytes, true))
}
