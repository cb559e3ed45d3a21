//! The HTTP API, through real HTTP against the real `wangge` binary serving the demo street.

use crate::common;

use common::Server;
use geo::{InteriorPoint, MultiPolygon};
use geojson::{FeatureCollection, JsonValue};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::HashMap;
use std::sync::OnceLock;

/// One demo server on SQLite shared by the read-only tests of this file. A static is never
/// dropped, so [`Server`] also stops the process when this test binary exits (see common).
fn demo_server() -> &'static Server {
    static SERVER: OnceLock<(common::TempSqlite, Server)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let db = common::temp_sqlite();
            let server = Server::start(&db.url, &["--demo"]);
            (db, server)
        })
        .1
}

fn demo_layer(name: &str) -> FeatureCollection {
    let path = format!("{}/geodata/demo/{name}.geojson", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn prop(f: &geojson::Feature, key: &str) -> String {
    f.property(key)
        .and_then(JsonValue::as_str)
        .unwrap_or_default()
        .to_string()
}

/// For every demo grid: a point inside it, the grid's code and its community's code.
fn grid_samples() -> Vec<((f64, f64), String, String)> {
    demo_layer("grids")
        .features
        .iter()
        .map(|f| {
            let shape: MultiPolygon<f64> =
                match geo::Geometry::try_from(f.geometry.clone().unwrap()).unwrap() {
                    geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                    geo::Geometry::MultiPolygon(m) => m,
                    other => panic!("grid geometry {other:?}"),
                };
            let p = shape.interior_point().unwrap();
            ((p.x(), p.y()), prop(f, "code"), prop(f, "parent_code"))
        })
        .collect()
}

async fn get(url: String) -> (StatusCode, JsonValue) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn post(url: String, body: impl Into<reqwest::Body>) -> (StatusCode, JsonValue) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn error_code(body: &JsonValue) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

#[tokio::test]
async fn health_reports_the_backend_and_the_demo_counts() {
    let (status, body) = get(demo_server().url("/health")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["backend"], "sqlite");
    let places: usize = ["districts", "streets", "communities", "grids", "areas"]
        .iter()
        .map(|l| demo_layer(l).features.len())
        .sum();
    assert_eq!(body["counts"]["places"], places);
    assert_eq!(body["indexed_places"], places);
    assert_eq!(
        body["counts"]["households"],
        demo_layer("households").features.len()
    );
}

#[tokio::test]
async fn every_demo_grid_answers_for_a_point_inside_it_with_its_ancestors() {
    let server = demo_server();
    let communities: HashMap<String, String> = demo_layer("communities")
        .features
        .iter()
        .map(|f| (prop(f, "code"), prop(f, "parent_code")))
        .collect();
    let samples = grid_samples();
    assert!(samples.len() >= 13);
    for ((lon, lat), grid, community) in samples {
        let (status, body) = get(server.url(&format!("/api/v1/lookup?lon={lon}&lat={lat}"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["grid"]["code"], grid, "at {lon},{lat}: {body}");
        assert_eq!(body["community"]["code"], community);
        assert_eq!(body["street"]["code"], communities[&community]);
        assert_eq!(body["district"]["code"], "370202");
        assert!(body["grid"]["name"].as_str().unwrap().chars().count() > 1);
        assert_eq!(body["point"], json!({"lon": lon, "lat": lat}));
        assert!(
            !body["areas"].as_array().unwrap().is_empty(),
            "the demo areas cover the street"
        );
    }
}

#[tokio::test]
async fn far_away_points_get_nulls_and_200() {
    let (status, body) = get(demo_server().url("/api/v1/lookup?lon=0&lat=0")).await;
    assert_eq!(status, StatusCode::OK);
    for unit in ["district", "street", "community", "grid"] {
        assert!(body[unit].is_null(), "{unit}: {body}");
    }
    assert_eq!(body["areas"], json!([]));
}

/// Reference rows from independent libraries (tests/reference): a point sent in GCJ-02 or BD-09
/// must be looked up at its WGS84 position, within 5 mm.
#[tokio::test]
async fn gcj02_and_bd09_points_are_looked_up_where_they_really_are() {
    let server = demo_server();
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/gcj02_bd09_reference.csv"
    ))
    .unwrap();
    let mut checked = 0;
    for line in csv.lines().skip(1) {
        let cols: Vec<&str> = line.split(',').collect();
        let crs = match (cols[0], cols[3]) {
            ("gcoord", "wgs84_to_gcj02") => "gcj02",
            ("gcoord", "wgs84_to_bd09") => "bd09",
            _ => continue,
        };
        let n = |i: usize| cols[i].parse::<f64>().unwrap();
        let (lon, lat, x, y) = (n(4), n(5), n(6), n(7));
        if lon > 135.0 {
            continue; // Tokyo: outside China, covered by the crs unit tests
        }
        let (_, shifted) = get(server.url(&format!("/api/v1/lookup?x={x}&y={y}&crs={crs}"))).await;
        let (_, direct) = get(server.url(&format!("/api/v1/lookup?lon={lon}&lat={lat}"))).await;
        let metres = |a: f64, b: f64| (a - b).abs() * 111_000.0;
        assert!(
            metres(shifted["point"]["lon"].as_f64().unwrap(), lon) < 0.005,
            "{shifted}"
        );
        assert!(
            metres(shifted["point"]["lat"].as_f64().unwrap(), lat) < 0.005,
            "{shifted}"
        );
        assert_eq!(shifted["grid"], direct["grid"]);
        checked += 1;
    }
    // Every in-China reference point (three in Qingdao) in both CRSs.
    assert!(checked >= 6, "only {checked} reference rows checked");
}

/// EPSG:4549 (CGCS2000 / 3-degree Gauss-Kruger CM 120E) from PROJ's own numbers.
#[tokio::test]
async fn projected_coordinates_take_x_and_y() {
    let server = demo_server();
    let (status, body) =
        get(server.url("/api/v1/lookup?x=534467.459486227&y=3993055.813157572&crs=EPSG:4549"))
            .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        (body["point"]["lon"].as_f64().unwrap() - 120.3826).abs() < 1e-8,
        "{body}"
    );
    assert!(
        (body["point"]["lat"].as_f64().unwrap() - 36.0671).abs() < 1e-8,
        "{body}"
    );
    let (_, direct) = get(server.url("/api/v1/lookup?lon=120.3826&lat=36.0671")).await;
    assert_eq!(body["grid"], direct["grid"]);
    assert_eq!(body["areas"], direct["areas"]);
}

#[tokio::test]
async fn a_batch_answers_in_order_like_single_lookups() {
    let server = demo_server();
    let samples = grid_samples();
    let mut points: Vec<[f64; 2]> = samples.iter().map(|((x, y), _, _)| [*x, *y]).collect();
    points.insert(1, [0.0, 0.0]);
    let (status, body) = post(
        server.url("/api/v1/lookup"),
        json!({ "points": points }).to_string(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), points.len());
    for (result, [lon, lat]) in results.iter().zip(&points) {
        let (_, single) = get(server.url(&format!("/api/v1/lookup?lon={lon}&lat={lat}"))).await;
        assert_eq!(result, &single);
    }
    assert!(results[1]["grid"].is_null());
}

#[tokio::test]
async fn a_gcj02_batch_matches_the_wgs84_answers() {
    let server = demo_server();
    let points: Vec<[f64; 2]> = grid_samples()
        .iter()
        .map(|((x, y), _, _)| [*x, *y])
        .collect();
    let shifted: Vec<[f64; 2]> = points
        .iter()
        .map(|[x, y]| {
            let (gx, gy) = wangge::spatial::crs::wgs84_to_gcj02(*x, *y);
            [gx, gy]
        })
        .collect();
    let (_, wgs) = post(
        server.url("/api/v1/lookup"),
        json!({"points": points}).to_string(),
    )
    .await;
    let (_, gcj) = post(
        server.url("/api/v1/lookup"),
        json!({"crs": "gcj02", "points": shifted}).to_string(),
    )
    .await;
    for (a, b) in wgs["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(gcj["results"].as_array().unwrap())
    {
        assert_eq!(a["grid"], b["grid"]);
    }
}

#[tokio::test]
async fn bad_single_lookups_get_clear_4xx_errors() {
    let server = demo_server();
    let cases = [
        (
            "/api/v1/lookup?lon=120.38",
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "lat",
        ),
        (
            "/api/v1/lookup",
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "lon",
        ),
        (
            "/api/v1/lookup?lon=abc&lat=36",
            StatusCode::BAD_REQUEST,
            "invalid_number",
            "\"abc\"",
        ),
        (
            "/api/v1/lookup?lon=120&lat=95",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            "95",
        ),
        (
            "/api/v1/lookup?lon=200&lat=36",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            "200",
        ),
        (
            "/api/v1/lookup?lon=NaN&lat=36",
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            "NaN",
        ),
        (
            "/api/v1/lookup?lon=120&lat=36&crs=foo",
            StatusCode::BAD_REQUEST,
            "unknown_crs",
            "foo",
        ),
        (
            "/api/v1/lookup?x=1&y=2&crs=EPSG:99999",
            StatusCode::BAD_REQUEST,
            "unknown_crs",
            "99999",
        ),
        (
            "/api/v1/lookup?lon=120&lat=36&crs=EPSG:4549",
            StatusCode::BAD_REQUEST,
            "projected_crs_needs_xy",
            "easting",
        ),
        (
            "/api/v1/lookup?x=534467&crs=EPSG:4549",
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "y",
        ),
    ];
    for (path, status, code, mentions) in cases {
        let (got, body) = get(server.url(path)).await;
        assert_eq!((got, error_code(&body)), (status, code), "{path}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{path}: {message}");
    }
}

#[tokio::test]
async fn bad_batches_get_clear_4xx_errors() {
    let url = demo_server().url("/api/v1/lookup");
    let too_many: Vec<[f64; 2]> = vec![[120.38, 36.06]; 10_001];
    let cases: Vec<(String, StatusCode, &str, &str)> = vec![
        (
            json!({"points": too_many}).to_string(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_points",
            "10000",
        ),
        (
            "{\"points\": [[120.38, 36.06],".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "JSON",
        ),
        (
            "not json".into(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "JSON",
        ),
        (
            json!({"points": [[120.38, 36.06], ["a", 36.0]]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "points[1]",
        ),
        (
            json!({"points": [[120.38]]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "points[0]",
        ),
        (
            json!({"pts": []}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "pts",
        ),
        (
            json!({"points": [[120.38, 36.06], [120.0, 91.0]]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "out_of_range",
            "points[1]",
        ),
        (
            json!({"crs": "mars", "points": []}).to_string(),
            StatusCode::BAD_REQUEST,
            "unknown_crs",
            "mars",
        ),
    ];
    for (body, status, code, mentions) in cases {
        let (got, answer) = post(url.clone(), body.clone()).await;
        assert_eq!(
            (got, error_code(&answer)),
            (status, code),
            "{}: {answer}",
            &body[..body.len().min(80)]
        );
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{message}");
    }
}

#[tokio::test]
async fn oversized_bodies_unknown_routes_and_methods_answer_json() {
    let server = demo_server();
    let (status, body) = post(server.url("/api/v1/lookup"), vec![b' '; 3 * 1024 * 1024]).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (status, body) = get(server.url("/api/v1/nothing-here")).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let response = reqwest::Client::new()
        .delete(server.url("/api/v1/lookup"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: JsonValue = response.json().await.unwrap();
    assert_eq!(error_code(&body), "method_not_allowed");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let (status, doc) = get(demo_server().url("/api/v1/openapi.json")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/health", "get"),
        ("/metrics", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/api/v1/lookup", "get"),
        ("/api/v1/lookup", "post"),
        ("/ogc", "get"),
        ("/ogc/", "get"),
        ("/ogc/conformance", "get"),
        ("/ogc/collections", "get"),
        ("/ogc/collections/{collectionId}", "get"),
        ("/ogc/collections/{collectionId}/items", "get"),
        ("/ogc/collections/{collectionId}/items/{featureId}", "get"),
        ("/tiles", "get"),
        ("/tiles/{layer}.json", "get"),
        ("/tiles/{layer}/{z}/{x}/{y}.mvt", "get"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/audit", "get"),
        ("/api/v1/areas/{id}/claim", "post"),
        ("/api/v1/areas/{id}/release", "post"),
        ("/api/v1/areas/{id}/reassign", "post"),
        ("/api/v1/areas/{id}/claims", "get"),
        ("/api/v1/areas/holders", "get"),
        ("/api/v1/me/areas", "get"),
        ("/api/v1/households", "get"),
        ("/api/v1/households/{id}", "get"),
        ("/api/v1/households/{id}/visits", "get"),
        ("/api/v1/households", "post"),
        ("/api/v1/households/{id}", "patch"),
        ("/api/v1/households/{id}/history", "get"),
        ("/api/v1/me/visits/due", "get"),
        ("/api/v1/visits", "post"),
        ("/api/v1/needs/{id}/met", "post"),
        ("/api/v1/stats/coverage", "get"),
        ("/api/v1/stats/needs", "get"),
        ("/api/v1/stats/pioneers", "get"),
        ("/api/v1/stats/summary", "get"),
        ("/api/v1/stats/attendance", "get"),
        ("/api/v1/branches/{id}/attendance", "get"),
        ("/api/v1/branches", "get"),
        ("/api/v1/branches", "post"),
        ("/api/v1/branches/{id}/members", "get"),
        ("/api/v1/branches/{id}/members", "post"),
        ("/api/v1/activities", "post"),
        ("/api/v1/activities/{id}", "get"),
        ("/api/v1/activities/{id}/photos/{kind}", "put"),
        ("/api/v1/communities/{id}/feed", "get"),
        ("/api/v1/activity-photos/{id}", "get"),
        ("/api/v1/activity-photos/{id}/thumbnail", "get"),
        ("/api/v1/activity-photos/{id}/original", "get"),
        ("/api/v1/lessons", "get"),
        ("/api/v1/lessons", "post"),
        ("/api/v1/lessons/read/{token}", "get"),
        ("/api/v1/requests", "post"),
        ("/api/v1/requests/{id}", "get"),
        ("/api/v1/requests/{id}/transitions", "post"),
        ("/api/v1/me/requests", "get"),
        ("/api/v1/me/events", "get"),
        ("/api/v1/webhooks", "get"),
        ("/api/v1/requests/{id}/photos", "post"),
        ("/api/v1/requests/{id}/photos", "get"),
        ("/api/v1/requests/{id}/photo", "get"),
        ("/api/v1/photos/{id}", "get"),
        ("/api/v1/photos/{id}/thumbnail", "get"),
        ("/api/v1/photos/{id}/original", "get"),
        ("/api/v1/requests/{id}/category", "post"),
        ("/api/v1/category-units", "get"),
        ("/api/v1/category-units", "post"),
        ("/api/v1/category-units/{id}", "delete"),
        ("/api/v1/stats/requests", "get"),
        ("/open311/v2/discovery.json", "get"),
        ("/open311/v2/services.json", "get"),
        ("/open311/v2/services/{code}.json", "get"),
        ("/open311/v2/requests.json", "get"),
        ("/open311/v2/requests.json", "post"),
        ("/open311/v2/requests/{id}.json", "get"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    for (path, method) in [
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/audit", "get"),
        ("/api/v1/areas/{id}/claim", "post"),
        ("/api/v1/areas/{id}/release", "post"),
        ("/api/v1/areas/{id}/reassign", "post"),
        ("/api/v1/areas/{id}/claims", "get"),
        ("/api/v1/me/areas", "get"),
    ] {
        assert_eq!(
            doc["paths"][path][method]["security"][0]["bearerAuth"],
            json!([]),
            "{method} {path} must say it needs a token"
        );
    }
}

/// The same answers from PostGIS as from SQLite: the backend changes nothing a client sees.
#[tokio::test]
async fn a_postgis_backed_server_answers_like_the_sqlite_one() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let pg = Server::start(&url, &["--demo"]);
    let (_, health) = get(pg.url("/health")).await;
    assert_eq!(health["backend"], "postgres");
    let points: Vec<[f64; 2]> = grid_samples()
        .iter()
        .map(|((x, y), _, _)| [*x, *y])
        .collect();
    let body = json!({"points": points}).to_string();
    let (_, from_pg) = post(pg.url("/api/v1/lookup"), body.clone()).await;
    let (_, from_sqlite) = post(demo_server().url("/api/v1/lookup"), body).await;
    // Ids may differ between databases; codes and names may not.
    let strip = |v: &JsonValue| -> Vec<JsonValue> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                json!([
                    r["grid"]["code"],
                    r["community"]["code"],
                    r["areas"][0]["code"]
                ])
            })
            .collect()
    };
    assert_eq!(strip(&from_pg), strip(&from_sqlite));
}
