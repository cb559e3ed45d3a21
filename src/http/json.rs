//! A JSON body extractor whose every rejection is an [`ApiError`].
//!
//! It answers 415 unless the `Content-Type` is `application/json` or `application/geo+json`
//! (see [`super::security::require_json`]; with curl, pass `-H 'Content-Type: application/json'`),
//! 413 past the body limit, 400 for JSON that does not parse, and 422 naming the path of a field
//! of the wrong type (`points[3]: invalid type: string "a", expected f64`).

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        super::security::require_json(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge {
                    code: "payload_too_large",
                    message: format!("the request body is too large: {}", rejection.body_text()),
                }
            } else {
                ApiError::bad_request("unreadable_body", rejection.body_text())
            }
        })?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(ApiJson)
            .map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_data() {
                    ApiError::unprocessable("invalid_body", format!("{path}: {inner}"))
                } else {
                    ApiError::bad_request(
                        "malformed_json",
                        format!("the body is not valid JSON: {inner}"),
                    )
                }
            })
    }
}
