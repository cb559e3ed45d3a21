//! Against hostile clients and pages (issue 11, items 4 to 6): a panic is a JSON 500 and a logged
//! event, out-of-range times are 422 `bad_time`, JSON bodies are read only when sent as JSON, every
//! answer carries the browser headers, and a failing database is "database unavailable" without
//! the driver's text. All through the real router in process.

use crate::common;

use axum::Router;
use axum::http::{Method, StatusCode, header};
use axum::routing::get;
use common::in_process::{PLANNER, call, demo_places, request};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// A log sink for a test's tracing subscriber.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn a_panicking_handler_answers_a_json_500_and_logs_the_panic() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // The test runtime is single-threaded: the handler runs on this thread, under this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);

    let routes = Router::new().route(
        "/boom",
        get(|| async {
            let vertices: Vec<u32> = Vec::new();
            // A bug as it would happen: an index out of bounds deep in a handler.
            let third = vertices
                .get(2)
                .copied()
                .unwrap_or_else(|| panic!("no third vertex in a ring of {}", vertices.len()));
            third.to_string()
        }),
    );
    let router = wangge::http::security::harden(routes, None);
    let answer = call(&router, request(Method::GET, "/boom", None, None, "")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(answer.code(), "internal", "{:?}", answer.body);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/json",
        "{answer:?}"
    );
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("vertex"), "the panic leaked: {message}");
    // The browser headers are on a 500 too.
    assert_eq!(answer.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let logged = log.text();
    assert!(
        logged.contains("ERROR") && logged.contains("no third vertex in a ring of 0"),
        "the panic is not in the log: {logged}"
    );
}

#[tokio::test]
async fn instants_beyond_the_year_9999_are_422_bad_time() {
    let env = demo_places().await;
    for at in [
        // In UTC this is 10000-01-01T23:58:59: it used to panic and drop the connection.
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00%2B23:59",
        "0000-01-01",
    ] {
        let uri = format!("/api/v1/lookup?lon=120.38&lat=36.06&at={at}");
        let answer = call(&env.router, request(Method::GET, &uri, None, None, "")).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {answer:?}"
        );
        assert_eq!(answer.code(), "bad_time", "{uri}: {answer:?}");
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("0001 to 9999"), "{message}");
    }
    let body = json!({"points": [[120.38, 36.06]], "at": "9999-12-31T23:59:59-23:59"});
    let answer = call(
        &env.router,
        request(
            Method::POST,
            "/api/v1/lookup",
            Some("application/json"),
            None,
            body.to_string(),
        ),
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{answer:?}"
    );
    assert_eq!(answer.code(), "bad_time");
    // The edges of the range still answer, and a malformed instant stays 400 invalid_date.
    for (at, status, code) in [
        ("9999-12-31T23:59:59Z", StatusCode::OK, ""),
        ("0001-01-01", StatusCode::OK, ""),
        ("2026-02-30", StatusCode::BAD_REQUEST, "invalid_date"),
    ] {
        let uri = format!("/api/v1/lookup?lon=120.38&lat=36.06&at={at}");
        let answer = call(&env.router, request(Method::GET, &uri, None, None, "")).await;
        assert_eq!(
            (answer.status, answer.code()),
            (status, code),
            "{uri}: {answer:?}"
        );
    }
}

#[tokio::test]
async fn a_geometry_with_short_positions_is_refused_not_panicked_on() {
    // Found by tests/it/hostile_parsers.rs: geojson's conversion indexes [0] and [1] of every
    // position, and a LineString was converted before being refused as not a polygon.
    let env = demo_places().await;
    for geometry in [
        json!({"type": "LineString", "coordinates": [[120.38], [120.39, 36.06]]}),
        json!({"type": "MultiPoint", "coordinates": [[]]}),
        json!({"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [1]}]}),
    ] {
        let body = json!({"type": "Feature", "geometry": geometry,
            "properties": {"code": "X", "name": "X"}});
        let answer = call(
            &env.router,
            request(
                Method::POST,
                "/api/v1/grids/validate",
                Some("application/json"),
                None,
                body.to_string(),
            ),
        )
        .await;
        // Refused as a body (422) or answered as an invalid geometry (200, `valid: false`);
        // before the fix the LineString dropped the connection.
        let refused =
            answer.status == StatusCode::UNPROCESSABLE_ENTITY && answer.code() == "invalid_feature";
        let invalid = answer.status == StatusCode::OK
            && answer.body["valid"] == false
            && answer.body["problems"][0]["code"] == "invalid_geometry";
        assert!(refused || invalid, "{geometry}: {answer:?}");
    }
}

/// The bodies a cross-site HTML form can send without a preflight, and no type at all.
const NOT_JSON: [Option<&str>; 4] = [
    Some("application/x-www-form-urlencoded"),
    Some("text/plain"),
    Some("multipart/form-data; boundary=xyz"),
    None,
];

#[tokio::test]
async fn json_bodies_are_read_only_when_sent_as_json() {
    let env = demo_places().await;
    let token = env.planner_token.as_str();
    let planner = env
        .store
        .user_by_name(PLANNER.0)
        .await
        .unwrap()
        .unwrap()
        .user;
    let places_before = env.store.counts().await.unwrap();
    let grid = env
        .app
        .map_data()
        .places
        .iter()
        .find(|p| p.kind == wangge::model::PlaceKind::Grid)
        .cloned()
        .unwrap();
    let square = json!({"type": "Polygon", "coordinates": [[[120.3001, 36.0001], [120.3002, 36.0001],
        [120.3002, 36.0002], [120.3001, 36.0002], [120.3001, 36.0001]]]});
    let login = json!({"name": PLANNER.0, "password": PLANNER.1}).to_string();
    let rename =
        json!({"type": "Feature", "geometry": null, "properties": {"name": "changed by a form"}})
            .to_string();
    let created = json!({"type": "Feature", "geometry": square,
        "properties": {"code": "FORM-1", "name": "made by a form"}})
    .to_string();
    let if_match = format!("\"{}\"", grid.version);
    let patch_path = format!("/api/v1/grids/{}", grid.id);
    let cases: Vec<(Method, &str, Option<&str>, String)> = vec![
        (Method::POST, "/api/v1/auth/login", None, login.clone()),
        (
            Method::POST,
            "/api/v1/lookup",
            None,
            r#"{"points":[[120.38,36.06]]}"#.to_string(),
        ),
        (Method::POST, "/api/v1/grids", Some(token), created.clone()),
        (Method::POST, "/api/v1/grids/validate", None, created),
        (Method::PATCH, &patch_path, Some(token), rename.clone()),
    ];
    for (method, path, token, body) in &cases {
        for content_type in NOT_JSON {
            let mut req = request(method.clone(), path, content_type, *token, body.clone());
            req.headers_mut()
                .insert(header::IF_MATCH, if_match.parse().unwrap());
            let answer = call(&env.router, req).await;
            assert_eq!(
                answer.status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{method} {path} as {content_type:?}: {answer:?}"
            );
            assert_eq!(answer.code(), "unsupported_media_type");
            let message = answer.body["error"]["message"].as_str().unwrap();
            assert!(message.contains("application/json"), "{message}");
        }
    }
    // Nothing was read, so nothing changed: no login recorded, no grid made or renamed.
    assert_eq!(env.store.counts().await.unwrap(), places_before);
    let logins = env.store.audit("user", Some(planner.id)).await.unwrap();
    assert!(logins.is_empty(), "{logins:?}");
    let stored = env.app.map_data();
    let same = stored.places.iter().find(|p| p.id == grid.id).unwrap();
    assert_eq!((same.version, &same.name), (grid.version, &grid.name));

    // The same bodies sent as JSON do what they say (charset and geo+json included).
    let answer = call(
        &env.router,
        request(
            Method::POST,
            "/api/v1/auth/login",
            Some("application/json; charset=utf-8"),
            None,
            login,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    let logins = env.store.audit("user", Some(planner.id)).await.unwrap();
    assert_eq!(logins.len(), 1, "the login is in the trace: {logins:?}");
    let mut rename_as_json = request(
        Method::PATCH,
        &patch_path,
        Some("application/geo+json"),
        Some(token),
        rename,
    );
    rename_as_json
        .headers_mut()
        .insert(header::IF_MATCH, if_match.parse().unwrap());
    let answer = call(&env.router, rename_as_json).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["properties"]["name"], "changed by a form");
}

fn assert_browser_headers(path: &str, headers: &axum::http::HeaderMap) -> String {
    let csp = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap_or_else(|| panic!("{path}: no CSP in {headers:?}"))
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
    assert!(csp.contains("worker-src 'self' blob:"), "{path}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
    assert_eq!(
        headers[header::REFERRER_POLICY],
        "strict-origin-when-cross-origin",
        "{path}"
    );
    csp
}

#[tokio::test]
async fn every_answer_carries_the_browser_headers() {
    let env = demo_places().await;
    for (path, status) in [
        ("/health", StatusCode::OK),
        ("/api/v1/lookup?lon=120.38&lat=36.06", StatusCode::OK),
        ("/api/v1/lookup?lon=a", StatusCode::BAD_REQUEST),
        ("/no/such/route", StatusCode::NOT_FOUND),
        ("/tiles/grids/14/13670/6430.mvt", StatusCode::OK),
        ("/src/main.js", StatusCode::OK),
    ] {
        let answer = call(&env.router, request(Method::GET, path, None, None, "")).await;
        assert_eq!(answer.status, status, "{path}: {answer:?}");
        let csp = assert_browser_headers(path, &answer.headers);
        assert!(!csp.contains("sha256-"), "{path}: {csp}");
    }
    // The page allows its own inline import map by hash, and no other inline script.
    let page = call(&env.router, request(Method::GET, "/", None, None, "")).await;
    let csp = assert_browser_headers("/", &page.headers);
    let html = std::fs::read_to_string("web-map/index.html").unwrap();
    let hashes = wangge::http::security::inline_script_hashes(&html);
    assert_eq!(
        hashes.len(),
        1,
        "the page has one inline script, its import map"
    );
    assert!(
        csp.contains(&format!("script-src 'self' '{}';", hashes[0])),
        "{csp}"
    );

    // With a basemap, its origin (and only that) may be fetched and drawn.
    let basemap = wangge::http::web::Basemap::new(
        "https://t3.tianditu.gov.cn/DataServer?T=vec_w&x={x}&y={y}&l={z}&tk=KEY",
        wangge::http::web::BasemapCrs::Wgs84,
        None,
    )
    .unwrap();
    let config = wangge::http::HttpConfig {
        web: wangge::http::web::WebConfig {
            basemap: Some(basemap),
            ..Default::default()
        },
        ..Default::default()
    };
    let router = wangge::http::router_with(env.app.clone(), config);
    for path in ["/", "/health"] {
        let answer = call(&router, request(Method::GET, path, None, None, "")).await;
        let csp = assert_browser_headers(path, &answer.headers);
        assert!(
            csp.contains("img-src 'self' data: blob: https://t3.tianditu.gov.cn;")
                && csp.contains("connect-src 'self' https://t3.tianditu.gov.cn;"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("KEY"), "{csp}");
    }
}

#[tokio::test]
async fn a_failing_database_is_database_unavailable_without_the_drivers_text() {
    let env = demo_places().await;
    let answer = call(&env.router, request(Method::GET, "/health", None, None, "")).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // Break the database under the running service, through a connection of our own.
    let pool = sqlx::SqlitePool::connect(&env.db.url).await.unwrap();
    sqlx::query("DROP TABLE households")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let answer = call(&env.router, request(Method::GET, "/health", None, None, "")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    assert_eq!(
        answer.body,
        json!({"error": {"code": "unavailable", "message": "database unavailable"}})
    );
    let text = answer.body.to_string();
    assert!(
        !text.contains("no such table") && !text.contains("households"),
        "{text}"
    );
}

#[test]
fn a_connection_error_is_503_without_the_drivers_text() {
    use axum::response::IntoResponse;
    let io = std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "connect to db.internal:5432 as wangge failed",
    );
    let error = wangge::http::error::ApiError::from(wangge::store::StoreError::Database(
        sqlx::Error::Io(io),
    ));
    let response = error.into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["message"], "database unavailable");
    assert!(!body.to_string().contains("db.internal"), "{body}");
}
