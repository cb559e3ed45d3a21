//! The real router (`wangge::http::router`) called in process with `tower::ServiceExt::oneshot`,
//! over a temporary SQLite store holding the demo street's places, with a planner who can log in.

use super::TempSqlite;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;
use wangge::app::App;
use wangge::auth::Role;
use wangge::store::Store;

/// The planner's login name and password.
pub const PLANNER: (&str, &str) = ("planner", "planner's long passphrase");

/// An App over the demo places and the router in front of it.
pub struct InProcess {
    /// Kept so that the database file outlives the router.
    pub db: TempSqlite,
    pub store: Arc<dyn Store>,
    pub app: Arc<App>,
    pub router: Router,
    /// A live bearer token of [`PLANNER`].
    pub planner_token: String,
}

/// The demo's districts, streets, communities, grids and areas (no buildings or households, to
/// stay quick in debug builds) and a planner with a token.
pub async fn demo_places() -> InProcess {
    let db = super::temp_sqlite();
    let store = super::sqlite_store(&db).await;
    let app = Arc::new(App::open(store.clone()).await.expect("open app"));
    for (layer, text) in wangge::demo::LAYERS.iter().take(5) {
        let data = wangge::geodata::parse_layer(text, *layer, None, || {}).expect("demo layer");
        app.import(data).await.expect("import demo layer");
    }
    let hash = wangge::auth::hash_password(PLANNER.1).expect("hash");
    let planner = store
        .create_user(PLANNER.0, Role::Planner, &hash)
        .await
        .expect("create planner");
    let (planner_token, token_hash) = wangge::auth::new_token().expect("token");
    store
        .create_token(&token_hash, planner.id, wangge::auth::now_unix() + 3600)
        .await
        .expect("store token");
    let router = wangge::http::router(app.clone());
    InProcess {
        db,
        store,
        app,
        router,
        planner_token,
    }
}

/// A request with an optional `Content-Type` and bearer token.
pub fn request(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    token: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(t) = content_type {
        builder = builder.header(header::CONTENT_TYPE, t);
    }
    if let Some(t) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    builder.body(body.into()).expect("a valid request")
}

/// What the router answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON, `Value::Null` when empty, or the text as a JSON string when it is not JSON.
    pub body: Value,
}

impl Answer {
    /// The `error.code` of an error answer, or "" when there is none.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Sends one request through the router.
pub async fn call(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("read the body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        headers,
        body,
    }
}
