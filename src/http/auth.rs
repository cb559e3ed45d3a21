//! Accounts over HTTP: login, logout, "who am I", the [`Caller`] extractor and the trace (留痕).
//!
//! A client logs in with `POST /api/v1/auth/login` and sends the token it gets back as
//! `Authorization: Bearer TOKEN`. Handlers that need a known user take a [`Caller`]; those
//! that need a role call [`Caller::require`].

use super::AppState;
use super::client::ClientAddr;
use super::error::ApiError;
use super::json::ApiJson;
use crate::auth::{self, Role, User};
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

/// The routes of login, logout, `GET /api/v1/me` and the audit trace (`GET /api/v1/audit`).
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
    /// The account the token belongs to.
    pub user: User,
    token_hash: String,
}

impl Caller {
    /// The SHA-256 of the caller's token, as the store keeps it.
    pub fn token_hash(&self) -> &str {
        &self.token_hash
    }

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
        let user = state.app.token_user(token).await?.ok_or_else(|| {
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
    let session = state
        .app
        .login(&body.name, body.password, client, state.token_ttl_secs)
        .await?;
    Ok(Json(json!({
        "token": session.token,
        "expires_at": auth::rfc3339(session.expires_at),
        "user": session.user,
    })))
}

/// `POST /api/v1/auth/logout`: revokes the caller's token.
async fn logout(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    state.app.logout(&caller.user, &caller.token_hash).await?;
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
    let records = state.app.audit_trail(entity, id).await?;
    Ok(Json(
        json!({"entity": entity, "id": id, "records": records}),
    ))
}
