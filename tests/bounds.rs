//! Bounded geometry work over real HTTP: vertex caps answered before any work, and the service
//! staying responsive while the largest allowed validations keep every core busy.

mod common;

#[path = "../benches/shapes/mod.rs"]
#[allow(dead_code)] // the jagged star is for the bench
mod shapes;

use common::Server;
use geo::{CoordsIter, MultiPolygon};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A demo street on a fresh SQLite file, a planner, and the server with `extra` flags.
fn demo(extra: &[&str]) -> (common::TempSqlite, Server) {
    let db = common::temp_sqlite();
    common::add_user(&db.url, "planner", "planner", "correct horse");
    let mut args = vec!["--demo"];
    args.extend_from_slice(extra);
    let server = Server::start(&db.url, &args);
    (db, server)
}

fn feature(geometry: &MultiPolygon<f64>) -> Value {
    let geometry = geojson::Geometry::new(geojson::GeometryValue::from(geometry));
    json!({"type": "Feature", "geometry": geometry, "properties": {}})
}

async fn post(server: &Server, path: &str, body: &Value) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = answer.status();
    (status, answer.json().await.expect("a JSON answer"))
}

async fn token(server: &Server) -> String {
    let (status, body) = post(
        server,
        "/api/v1/auth/login",
        &json!({"name": "planner", "password": "correct horse"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn too_many_vertices_are_refused_before_any_work_and_change_nothing() {
    let (_db, server) = demo(&[]);
    // Over the request's cap (50,000): 413, over the feature's cap (20,000): 422.
    let (status, body) = post(
        &server,
        "/api/v1/grids/validate",
        &feature(&shapes::wobbly_ring(60_000)),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "too_many_vertices");
    let detailed = shapes::wobbly_ring(25_000);
    let (status, body) = post(&server, "/api/v1/grids/validate", &feature(&detailed)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "too_many_vertices");
    let positions = format!("{} vertices", detailed.coords_count());
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains(&positions),
        "{body}"
    );

    // A planner's PATCH with too detailed a boundary changes nothing.
    let client = reqwest::Client::new();
    let grids: Value = client
        .get(server.url("/api/v1/grids"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grid = &grids["features"][0];
    let (id, version) = (grid["id"].as_i64().unwrap(), &grid["properties"]["version"]);
    let answer = client
        .patch(server.url(&format!("/api/v1/grids/{id}")))
        .bearer_auth(token(&server).await)
        .header("content-type", "application/json")
        .header("if-match", format!("\"{version}\""))
        .body(feature(&shapes::wobbly_ring(25_000)).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let after: Value = client
        .get(server.url(&format!("/api/v1/grids/{id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["properties"]["version"], *version,
        "the grid is unchanged"
    );
    assert_eq!(after["geometry"], grid["geometry"]);

    // With a lower cap configured, a feature just over it is refused.
    let (_db, small) = demo(&["--max-feature-vertices", "100"]);
    let (status, body) = post(
        &small,
        "/api/v1/grids/validate",
        &feature(&shapes::wobbly_ring(101)),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "too_many_vertices");
    let (status, body) = post(
        &small,
        "/api/v1/grids/validate",
        &feature(&shapes::wobbly_ring(99)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn health_answers_while_heavy_validations_run() {
    let (_db, server) = demo(&[]);
    // The worst shape for validation (segments that overlap in x), sent four times at once, so
    // that every core has geometry work and more waits. 8,000 vertices rather than the cap's
    // 20,000 keep this test short in a debug build, where the sweep runs unoptimised and one such
    // validation takes seconds (the `validate` bench times the cap in release).
    let body = feature(&shapes::comb(8_000));
    let started = Instant::now();
    let validations: Vec<_> = (0..4)
        .map(|_| {
            let (server, body) = (&server, &body);
            async move { post(server, "/api/v1/grids/validate", body).await }
        })
        .collect();
    let probes = async {
        // Let the validations arrive first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut took = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let answer = reqwest::get(server.url("/health")).await.expect("health");
            assert_eq!(answer.status(), StatusCode::OK);
            took.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        took
    };
    let (answers, mut took) = tokio::join!(futures::future::join_all(validations), probes);
    let busy_for = started.elapsed();
    for (status, body) in &answers {
        // Each validation either ran (valid) or was turned away at once because the line was full.
        match *status {
            // The comb is a valid polygon; only its (missing) parent is wrong.
            StatusCode::OK => assert_eq!(body["problems"][0]["code"], "invalid_parent", "{body}"),
            StatusCode::SERVICE_UNAVAILABLE => assert_eq!(body["error"]["code"], "busy"),
            other => panic!("{other}: {body}"),
        }
    }
    took.sort();
    assert!(
        took[took.len() / 2] < Duration::from_millis(100),
        "/health took {took:?} while validations ran for {busy_for:?}"
    );
}
