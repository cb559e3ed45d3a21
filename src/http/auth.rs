//! Accounts over HTTP: login, logout, "who am I", the [`Caller`] extractor and the trace (留痕).
//!
//! A client logs in with `POST /api/v1/auth/login` and sends the token it gets back as
//! `Authorization: Bearer TOKEN`. Handlers that need a known user take a [`Caller`]; those
//! that need a role call [`Caller::require`].

use super::AppState;
use super::client::ClientAddr;
use super::error::ApiError;
use super::json::ApiJson;
use crate::auth::{self, NewAudit, Role, User};
use crate::model::Id;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Instant;

/// The one answer to a failed login, whether the name or the password was wrong.
const BAD_LOGIN: &str = "wrong name or password";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/me", get(me))
        .route("/api/v1/audit", get(audit))
}

/// The authenticated user of a request, from its `Authorization: Bearer …` header. Extracting
/// it answers 401 when the token is missing, unknown, expired or revoked.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    token_hash: String,
}

impl Caller {
    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "this needs the role {}; you are {}",
                names.join(" or "),
                self.user.role
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "log in first: send Authorization: Bearer TOKEN from POST /api/v1/auth/login"
                        .into(),
                )
            })?
            .to_str()
            .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(ApiError::Unauthorized(
                    "the Authorization header must be Bearer TOKEN".into(),
                ));
            }
        };
        let token_hash = auth::token_hash(token);
        let user = state
            .app
            .store()
            .token_user(&token_hash, auth::now_unix())
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized("the token is unknown, expired or revoked".into())
            })?;
        Ok(Caller { user, token_hash })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    name: String,
    password: String,
}

/// Checks a password off the async threads (argon2 is deliberately slow), one check per core at
/// a time: each takes a core and 19 MiB, so unbounded checks would let a flood of logins starve
/// the other requests and run the server out of memory. Others wait their turn for a permit.
async fn password_matches(
    state: &AppState,
    password: String,
    stored: Option<String>,
) -> Result<bool, ApiError> {
    // An unknown name still costs one verification, so that timing does not tell names apart.
    static DUMMY: OnceLock<String> = OnceLock::new();
    let permit = state
        .password_checks
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| ApiError::Internal(format!("password check queue closed: {e}")))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit; // held until the hash is done, even if the client went away
        let (hash, known) = match stored {
            Some(hash) => (hash, true),
            None => (
                DUMMY
                    .get_or_init(|| auth::hash_password("no such user").unwrap_or_default())
                    .clone(),
                false,
            ),
        };
        known & auth::verify_password(&password, &hash)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))
}

/// `POST /api/v1/auth/login` with `{"name","password"}`: a bearer token for the configured
/// lifetime (12 hours unless `--token-ttl` says otherwise).
///
/// In this order, so that refused attempts cost nothing: the name's and password's lengths
/// (422), then the throttle reserves the attempt (429, see [`crate::auth::throttle`]), and only
/// then the store is asked and the password hashed.
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<Login>,
) -> Result<Json<Value>, ApiError> {
    auth::check_name(&body.name).map_err(|m| ApiError::unprocessable("name_too_long", m))?;
    if body.password.len() > auth::MAX_PASSWORD_BYTES {
        return Err(ApiError::unprocessable(
            "password_too_long",
            format!("a password has at most {} bytes", auth::MAX_PASSWORD_BYTES),
        ));
    }
    let throttle = &state.login_throttle;
    if let Err(wait) = throttle.attempt(&body.name, client, Instant::now()) {
        return Err(ApiError::TooManyAttempts {
            // Rounded up: a client that waits this long is let through.
            retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
        });
    }
    let store = state.app.store();
    let stored = store.user_by_name(&body.name).await?;
    let matches = password_matches(
        &state,
        body.password,
        stored.as_ref().map(|s| s.password_hash.clone()),
    )
    .await?;
    let user = match stored {
        // The reserved attempt stays counted as a failure.
        Some(stored) if matches => stored.user,
        _ => return Err(ApiError::Unauthorized(BAD_LOGIN.into())),
    };
    throttle.succeeded(&body.name, client);
    let (token, token_hash) = auth::new_token().map_err(ApiError::Internal)?;
    let now = auth::now_unix();
    let expires_at = now + state.token_ttl_secs;
    store.create_token(&token_hash, user.id, expires_at).await?;
    // Each login clears out the tokens nobody can use any more, so the table stays as small as
    // the number of live sessions without a background job.
    store.forget_dead_tokens(now).await?;
    store
        .append_audit(&user_event(&user, "login", None))
        .await?;
    Ok(Json(json!({
        "token": token,
        "expires_at": auth::rfc3339(expires_at),
        "user": user,
    })))
}

/// `POST /api/v1/auth/logout`: revokes the caller's token.
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    let store = state.app.store();
    store
        .revoke_token(&caller.token_hash, auth::now_unix())
        .await?;
    store
        .append_audit(&user_event(&caller.user, "logout", None))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/me`: who the caller is.
async fn me(caller: Caller) -> Json<User> {
    Json(caller.user)
}

/// `GET /api/v1/audit?entity=user[&id=3]`: the trace of an entity, oldest first; admins only.
async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let entity = params
        .get("entity")
        .filter(|e| !e.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("missing_parameter", "pass entity, e.g. ?entity=user&id=1")
        })?;
    let id = params
        .get("id")
        .map(|id| {
            id.parse::<Id>().map_err(|_| {
                ApiError::bad_request("invalid_parameter", format!("id {id:?} is not an integer"))
            })
        })
        .transpose()?;
    let records = state.app.store().audit(entity, id).await?;
    Ok(Json(
        json!({"entity": entity, "id": id, "records": records}),
    ))
}

/// A trace record of something a user did to their own account.
fn user_event(user: &User, action: &str, after: Option<Value>) -> NewAudit {
    NewAudit {
        user_id: Some(user.id),
        action: action.into(),
        entity: "user".into(),
        entity_id: Some(user.id),
        before: None,
        after,
    }
}
