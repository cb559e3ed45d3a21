//! The HTTP API on axum: the router, the shared state, and one module per resource.

pub mod activities;
pub mod auth;
pub mod branches;
pub mod claims;
pub mod client;
pub mod error;
pub mod events;
pub mod households;
pub mod json;
pub mod lessons;
pub mod limits;
pub mod lookup;
pub mod metrics;
pub mod ogc;
pub mod open311;
pub mod photos;
pub mod places;
pub mod query;
pub mod requests;
pub mod security;
pub mod stats;
pub mod tiles;
pub mod units;
pub mod web;

use crate::app::App;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, Uri, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use error::ApiError;
use serde_json::json;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

/// Largest request body accepted, in bytes: a full batch of 10,000 points fits with room to spare.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The use cases, the store and the in-memory map data.
    pub app: Arc<App>,
    /// The vector tile sources and their cache.
    pub tiles: Arc<crate::tiles::TileService>,
    /// How long a bearer token from a login stays valid, in seconds.
    pub token_ttl_secs: i64,
    /// How many vertices one feature and one request may carry.
    pub limits: limits::GeometryLimits,
    /// Reverse proxies whose `X-Forwarded-*` headers count (`--trust-proxy`).
    pub trusted_proxies: Arc<client::TrustedProxies>,
    /// Open311's registered apps and the counters of anonymous reports.
    pub open311: Arc<open311::Intake>,
    /// The event streams that may still open ([`events::MAX_EVENT_STREAMS`] in all).
    pub event_streams: Arc<tokio::sync::Semaphore>,
    /// The webhooks and how they fare.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The web map's folder and basemap.
    pub web: web::WebConfig,
    /// Lifetime of a bearer token in seconds (`--token-ttl`, `WANGGE_TOKEN_TTL`).
    pub token_ttl_secs: i64,
    /// Vertex caps (`--max-feature-vertices`, `--max-request-vertices`).
    pub limits: limits::GeometryLimits,
    /// Reverse proxies whose `X-Forwarded-*` headers count (`--trust-proxy`, `WANGGE_TRUST_PROXY`).
    pub trusted_proxies: client::TrustedProxies,
    /// Open311 api keys and the rate of anonymous reports (`--open311-key`,
    /// `--open311-require-key`, `--open311-posts-per-minute`).
    pub open311: open311::Open311Config,
    /// The webhooks this instance sends (`--webhook`, `--webhook-secret`); started by `serve`.
    pub webhooks: Arc<crate::webhooks::Webhooks>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            web: web::WebConfig::default(),
            token_ttl_secs: crate::auth::TOKEN_LIFETIME_SECS,
            limits: limits::GeometryLimits::default(),
            trusted_proxies: client::TrustedProxies::default(),
            open311: open311::Open311Config::default(),
            webhooks: Arc::new(crate::webhooks::Webhooks::new(Vec::new(), String::new())),
        }
    }
}

/// The OpenAPI 3.0 description of this API, kept beside the code it describes.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The whole HTTP API, with the web map served from `web-map/` under the working directory.
pub fn router(app: Arc<App>) -> Router {
    router_with(app, HttpConfig::default())
}

/// The whole HTTP API configured by `config` (the web map's folder and basemap, token lifetime).
pub fn router_with(app: Arc<App>, config: HttpConfig) -> Router {
    let basemap = config.web.basemap.clone();
    let router = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::scrape))
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            "/api/v1/lookup",
            get(lookup::lookup_point).post(lookup::lookup_batch),
        )
        .merge(auth::routes())
        .merge(places::routes())
        .merge(claims::routes())
        .merge(households::routes())
        .merge(stats::routes())
        .merge(requests::routes())
        .merge(events::routes())
        .merge(photos::routes())
        .merge(units::routes())
        .merge(branches::routes())
        .merge(activities::routes())
        .merge(lessons::routes())
        .route("/api/v1/webhooks", get(webhooks))
        .merge(open311::routes())
        .merge(tiles::routes())
        .nest("/ogc", ogc::routes())
        // A nested router answers "/ogc" but not "/ogc/"; OGC clients use both.
        .route("/ogc/", get(ogc::landing))
        .merge(web::routes(config.web))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    metrics::install();
    security::harden(router, basemap.as_ref())
        .layer(axum::middleware::from_fn(metrics::record))
        .layer(TraceLayer::new_for_http())
        .with_state(AppState {
            app,
            tiles: tiles::service(),
            token_ttl_secs: config.token_ttl_secs,
            limits: config.limits,
            trusted_proxies: Arc::new(config.trusted_proxies),
            open311: Arc::new(open311::Intake::new(config.open311)),
            event_streams: Arc::new(tokio::sync::Semaphore::new(events::MAX_EVENT_STREAMS)),
            webhooks: config.webhooks,
        })
}

/// `GET /health`: the service is up and its database answers; 503 "database unavailable"
/// otherwise (the driver's error goes to the log only).
async fn health(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let counts = state
        .app
        .counts()
        .await
        .map_err(|e| ApiError::Unavailable(format!("the database does not answer: {e}")))?;
    Ok(Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "backend": state.app.backend(),
        "indexed_places": state.app.index().len(),
        "counts": counts,
    })))
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on {}", uri.path()))
}

/// `GET /api/v1/webhooks` (admins): each webhook with its deliveries, failed tries and last
/// error on this instance.
async fn webhooks(
    State(state): State<AppState>,
    caller: auth::Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[crate::auth::Role::Admin])?;
    Ok(Json(json!({ "webhooks": state.webhooks.status() })))
}
