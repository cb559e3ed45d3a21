//! The one error type of the HTTP layer. Every failure leaves as
//! `{"error":{"code":"…","message":"…"}}` with a status that says whose fault it was.

use crate::app::AppError;
use crate::app::cpu::Busy;
use crate::geodata::ImportError;
use crate::spatial::crs::CrsError;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An HTTP error: a status, a stable machine-readable code and a message for people.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (missing or non-numeric parameter, broken JSON, unknown CRS).
    #[error("{message}")]
    BadRequest {
        /// The machine-readable code, e.g. `invalid_query`.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// 401: no valid bearer token (missing, unknown, expired or revoked), or a failed login.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller is known but their role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such route or resource.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the request clashes with stored data.
    #[error("{0}")]
    Conflict(String),
    /// 412: the `If-Match` version (or a merge's `versions`) is no longer the stored one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 428: a write that needs `If-Match` came without it.
    #[error("{0}")]
    PreconditionRequired(String),
    /// 422 `invalid_feature`: the feature breaks validation rules, each listed as a problem
    /// (see [`crate::spatial::validate::Problem`]).
    #[error("{message}")]
    InvalidFeature {
        /// What is wrong, for people.
        message: String,
        /// Each broken rule as JSON (code, message, where).
        problems: Vec<serde_json::Value>,
    },
    /// 422 `invalid_rows`: rows of an uploaded file (a roll in CSV) are wrong, each listed as a
    /// problem with its line; nothing was written.
    #[error("{message}")]
    InvalidRows {
        /// What is wrong, for people.
        message: String,
        /// Each problem as JSON (line, problem).
        problems: Vec<serde_json::Value>,
    },
    /// 409 with a code that says which clash (`already_claimed`, `not_claimed`).
    #[error("{message}")]
    ConflictWith {
        /// The machine-readable code, e.g. `already_claimed`.
        code: &'static str,
        /// What clashes, for people.
        message: String,
    },
    /// 413: the body or the batch is too large.
    #[error("{message}")]
    TooLarge {
        /// The machine-readable code, e.g. `too_many_vertices`.
        code: &'static str,
        /// What is too large and the limit, for people.
        message: String,
    },
    /// 422: well-formed but semantically wrong (out-of-range coordinates, invalid geometry).
    #[error("{message}")]
    Unprocessable {
        /// The machine-readable code.
        code: &'static str,
        /// What is wrong, for people.
        message: String,
    },
    /// 429: too many login attempts for this name (from this address, or from everywhere); try
    /// again after `retry_after_secs`. The message does not repeat the name: it may be long,
    /// and an answer should not carry what an attacker sent back to whoever reads it.
    #[error("too many login attempts for this name; try again in {retry_after_secs} s")]
    TooManyAttempts {
        /// Whole seconds to wait before the next attempt is let through.
        retry_after_secs: u64,
    },
    /// 429 `rate_limited`: this client address sent more anonymous reports than it may; try
    /// again after `retry_after_secs`.
    #[error("too many reports from this address; try again in {retry_after_secs} s")]
    RateLimited {
        /// Whole seconds to wait before the next report is let through.
        retry_after_secs: u64,
    },
    /// 415 `unsupported_media_type`: a JSON body sent without `Content-Type: application/json`
    /// (or `application/geo+json`), as an HTML form on another site would send it.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 500: our fault; the details go to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(String),
    /// 503: the database is down. The text is the detail for the log; the client reads only
    /// "database unavailable" (driver messages name hosts, users and schemas).
    #[error("{0}")]
    Unavailable(String),
    /// 503 `busy`: every core is already doing geometry work and the line is full; try again
    /// after a second.
    #[error("the server is busy with other geometry work; try again in a moment")]
    Busy,
}

impl ApiError {
    /// A 400 [`ApiError::BadRequest`] with this code and message.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 422 [`ApiError::Unprocessable`] with this code and message.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// A 409 [`ApiError::ConflictWith`] with this code and message.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::ConflictWith {
            code,
            message: message.into(),
        }
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PreconditionFailed(_) => {
                (StatusCode::PRECONDITION_FAILED, "version_mismatch")
            }
            ApiError::PreconditionRequired(_) => {
                (StatusCode::PRECONDITION_REQUIRED, "precondition_required")
            }
            ApiError::InvalidFeature { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_feature")
            }
            ApiError::InvalidRows { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows"),
            ApiError::ConflictWith { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::TooLarge { code, .. } => (StatusCode::PAYLOAD_TOO_LARGE, code),
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::TooManyAttempts { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; see the server log".to_string()
            }
            ApiError::Unavailable(detail) => {
                tracing::error!(%detail, "database unavailable");
                "database unavailable".to_string()
            }
            other => other.to_string(),
        };
        let retry_after = match &self {
            ApiError::TooManyAttempts { retry_after_secs }
            | ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Busy => Some(1),
            _ => None,
        };
        let mut error = json!({"code": code, "message": message});
        if let ApiError::InvalidFeature { problems, .. } | ApiError::InvalidRows { problems, .. } =
            self
        {
            error["problems"] = serde_json::Value::Array(problems);
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wangge\""),
            );
        }
        response
    }
}

impl From<CrsError> for ApiError {
    fn from(e: CrsError) -> Self {
        match e {
            CrsError::UnknownCrs(_) => ApiError::bad_request("unknown_crs", e.to_string()),
            CrsError::OutOfRange { .. } => ApiError::unprocessable("out_of_range", e.to_string()),
            CrsError::Transform(_) => ApiError::unprocessable("transform_failed", e.to_string()),
        }
    }
}

impl From<crate::timestamp::AtError> for ApiError {
    fn from(e: crate::timestamp::AtError) -> Self {
        use crate::timestamp::AtError;
        match e {
            AtError::Malformed(m) => ApiError::bad_request("invalid_date", m),
            AtError::OutOfRange(m) => ApiError::unprocessable("bad_time", m),
        }
    }
}

impl From<StoreError> for ApiError {
    /// The status and code of each refusal of the store; its sentence is the error's own.
    fn from(e: StoreError) -> Self {
        use crate::store::ItemProblem;
        let message = e.to_string();
        match e {
            StoreError::NoSuchPlace(_)
            | StoreError::NoSuchArea(_)
            | StoreError::NotAnArea { .. }
            | StoreError::NoSuchUser(_)
            | StoreError::NoSuchHousehold(_)
            | StoreError::NoSuchNeed(_)
            | StoreError::NoSuchRequest(_)
            | StoreError::NoSuchPhoto(_)
            | StoreError::NoSuchCategoryUnit(_)
            | StoreError::NoSuchBranch(_)
            | StoreError::NoSuchActivity(_)
            | StoreError::NoSuchVisit(_) => ApiError::NotFound(message),
            StoreError::RollMismatch { .. } => ApiError::unprocessable("roll_mismatch", message),
            StoreError::ActivityComplete(_) => ApiError::conflict("activity_complete", message),
            StoreError::RequestChanged { .. } => ApiError::conflict("request_changed", message),
            StoreError::TooManyPhotos { .. } => ApiError::conflict("too_many_photos", message),
            StoreError::UnitSetMeanwhile(_) => ApiError::conflict("unit_changed", message),
            StoreError::AlreadyCorrected { .. } => ApiError::conflict("already_corrected", message),
            StoreError::CorrectsAnotherHousehold { .. } => {
                ApiError::unprocessable("invalid", message)
            }
            StoreError::CodeTaken(_)
            | StoreError::NameTaken(_)
            | StoreError::HasChildren { .. }
            | StoreError::Refused { clash: true, .. }
            | StoreError::Item {
                problem:
                    ItemProblem::CodeOfAnotherKind(_) | ItemProblem::Refused { clash: true, .. },
                ..
            } => ApiError::Conflict(message),
            StoreError::VersionMismatch { .. } | StoreError::HouseholdVersionMismatch { .. } => {
                ApiError::PreconditionFailed(message)
            }
            StoreError::HouseholdCodeTaken(_) => ApiError::Conflict(message),
            StoreError::AlreadyClaimed { .. } => ApiError::conflict("already_claimed", message),
            StoreError::NotHeld { .. } => ApiError::conflict("not_claimed", message),
            StoreError::KeyReused { .. } => ApiError::conflict("idempotency_key_reused", message),
            StoreError::NotACadre { .. }
            | StoreError::Item { .. }
            | StoreError::BadInstant(_)
            | StoreError::Refused { .. } => ApiError::unprocessable("invalid", message),
            StoreError::Database(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)) => {
                ApiError::Unavailable(format!("the database is unavailable: {message}"))
            }
            _ => ApiError::Internal(message),
        }
    }
}

impl From<crate::app::AccountError> for ApiError {
    fn from(e: crate::app::AccountError) -> Self {
        use crate::app::AccountError;
        let message = e.to_string();
        match e {
            AccountError::NameTooLong => ApiError::unprocessable("name_too_long", message),
            AccountError::PasswordTooLong => ApiError::unprocessable("password_too_long", message),
            AccountError::EmptyName
            | AccountError::EmptyPassword
            | AccountError::NoSuchCommunity(_)
            | AccountError::NoSuchBranch(_)
            | AccountError::BranchForNonSecretary(_) => ApiError::unprocessable("invalid", message),
            AccountError::Throttled { retry_after } => ApiError::TooManyAttempts {
                retry_after_secs: crate::app::retry_secs(retry_after),
            },
            AccountError::BadCredentials => ApiError::Unauthorized(message),
            AccountError::Store(e) => e.into(),
            AccountError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

impl From<crate::app::VisitError> for ApiError {
    fn from(e: crate::app::VisitError) -> Self {
        use crate::app::VisitError;
        let message = e.to_string();
        match e {
            VisitError::NoSuchHousehold(_) => ApiError::NotFound(message),
            VisitError::CountsOnly(_)
            | VisitError::NotYours(_)
            | VisitError::NotYourNeed(_)
            | VisitError::NotYourVisit(_) => ApiError::Forbidden(message),
            VisitError::InTheFuture(_) => ApiError::unprocessable("future_visit", message),
            VisitError::BadTime(_) => ApiError::unprocessable("invalid_time", message),
            VisitError::OutsideGrids { .. } => ApiError::unprocessable("outside_grids", message),
            VisitError::Busy(busy) => busy.into(),
            VisitError::Store(e) => e.into(),
        }
    }
}

impl From<crate::app::FloorsError> for ApiError {
    fn from(e: crate::app::FloorsError) -> Self {
        use crate::app::FloorsError;
        match e {
            FloorsError::TooMany { .. } => ApiError::unprocessable("too_many", e.to_string()),
            FloorsError::Visits(e) => e.into(),
        }
    }
}

impl From<crate::app::ClaimError> for ApiError {
    fn from(e: crate::app::ClaimError) -> Self {
        use crate::app::ClaimError;
        let message = e.to_string();
        match e {
            ClaimError::NotClaimed(_) => ApiError::conflict("not_claimed", message),
            ClaimError::NotYours { .. } => ApiError::Forbidden(message),
            ClaimError::UnknownUser(_) => ApiError::unprocessable("unknown_user", message),
            ClaimError::NotACadre { .. } => ApiError::unprocessable("not_a_cadre", message),
            ClaimError::Store(e) => e.into(),
        }
    }
}

impl From<Busy> for ApiError {
    fn from(_: Busy) -> Self {
        ApiError::Busy
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(e) => e.into(),
            AppError::Busy(busy) => busy.into(),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Syntax(_) => ApiError::bad_request("malformed_geojson", e.to_string()),
            ImportError::NotACollection(_) => {
                ApiError::unprocessable("not_a_feature_collection", e.to_string())
            }
            ImportError::Crs(crs) => crs.into(),
            ImportError::Features(_) => ApiError::unprocessable("invalid_features", e.to_string()),
        }
    }
}

impl ApiError {
    /// Prefixes the message with where in the request the problem is (`points[3]: …`).
    pub fn at(self, place: &str) -> Self {
        match self {
            ApiError::BadRequest { code, message } => ApiError::BadRequest {
                code,
                message: format!("{place}: {message}"),
            },
            ApiError::Unprocessable { code, message } => ApiError::Unprocessable {
                code,
                message: format!("{place}: {message}"),
            },
            other => other,
        }
    }
}
