//! Hostile input, route by route: a table of bad requests (malformed, oversized, out of range,
//! of the wrong type, from the wrong role), each with the 4xx status and error code it must get,
//! and after each a check that the store is exactly as it was (every row of every table).
//!
//! Runs against the real binary over HTTP, on the demo street in SQLite and in PostGIS. (A body
//! over the 2 MiB limit is tested in `editing.rs` over a raw connection, which reads the 413
//! while still writing.)

use crate::common;

use crate::shapes;

use common::Server;
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Row;
use std::collections::HashMap;

/// Who sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum As {
    Anonymous,
    Admin,
    Planner,
    Cadre,
    Secretary,
}

/// A request body.
enum Body {
    None,
    Json(Value),
    /// Sent as is, with the given Content-Type.
    Raw(&'static str, Vec<u8>),
}

/// One bad request and the answer it must get.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    who: As,
    headers: Vec<(&'static str, String)>,
    body: Body,
    status: u16,
    code: &'static str,
}

fn case(what: &'static str, method: Method, path: impl Into<String>, who: As) -> Case {
    Case {
        what,
        method,
        path: path.into(),
        who,
        headers: Vec::new(),
        body: Body::None,
        status: 0,
        code: "",
    }
}

impl Case {
    fn json(mut self, body: Value) -> Self {
        self.body = Body::Json(body);
        self
    }
    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Raw(content_type, body.into());
        self
    }
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn expect(mut self, status: u16, code: &'static str) -> Self {
        self.status = status;
        self.code = code;
        self
    }
}

/// Every row of every table of the store, per table, so that any change shows.
async fn snapshot(database: &str) -> HashMap<String, String> {
    let mut tables = HashMap::new();
    if database.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database).await.expect("open");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for name in names {
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
                .bind(&name)
                .fetch_all(&pool)
                .await
                .unwrap();
            let row = columns
                .iter()
                .map(|c| format!("quote(\"{c}\")"))
                .collect::<Vec<_>>()
                .join("||','||");
            let sql = format!(
                "SELECT coalesce(group_concat(r, '|'), '') FROM \
                 (SELECT {row} AS r FROM \"{name}\" ORDER BY 1)"
            );
            let rows: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap();
            tables.insert(name, rows);
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database).await.expect("connect");
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        for name in names {
            let sql = format!(
                "SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') \
                 FROM \"{name}\" t"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap();
            tables.insert(name, row.get::<String, _>(0));
        }
        pool.close().await;
    }
    assert!(tables.len() > 5, "the store has its tables: {tables:?}");
    tables
}

/// The demo street, one account per role, and the server.
async fn demo(database: &str) -> (Server, HashMap<As, String>) {
    for (name, role) in [
        ("admin", "admin"),
        ("planner", "planner"),
        ("cadre", "cadre"),
        ("secretary", "secretary"),
    ] {
        common::add_user(database, name, role, "correct horse");
    }
    let server = Server::start(database, &["--demo"]);
    let mut tokens = HashMap::new();
    for (who, name) in [
        (As::Admin, "admin"),
        (As::Planner, "planner"),
        (As::Cadre, "cadre"),
        (As::Secretary, "secretary"),
    ] {
        let answer: Value = reqwest::Client::new()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": "correct horse"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.insert(who, answer["token"].as_str().expect("a token").to_string());
    }
    (server, tokens)
}

async fn get_json(server: &Server, path: &str) -> Value {
    reqwest::get(server.url(path))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A feature of the given geometry for a new grid of the first demo community.
fn grid_feature(geometry: Value, parent: &str) -> Value {
    json!({"type": "Feature", "geometry": geometry,
           "properties": {"code": "HOSTILE-1", "name": "坏网格", "parent_code": parent}})
}

fn multipolygon_json(shape: &geo::MultiPolygon<f64>) -> Value {
    serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(shape))).unwrap()
}

/// The table of bad requests against the demo street.
async fn cases(server: &Server) -> Vec<Case> {
    use As::*;
    let grids = get_json(server, "/api/v1/grids").await;
    let grid = &grids["features"][0];
    let grid_id = grid["id"].as_i64().unwrap();
    let grid_version = grid["properties"]["version"].as_i64().unwrap();
    let neighbour = &grids["features"][1];
    let community_code = grid["properties"]["parent_code"]
        .as_str()
        .unwrap()
        .to_string();
    let communities = get_json(server, "/api/v1/communities").await;
    let community = &communities["features"][0];
    let community_id = community["id"].as_i64().unwrap();
    let community_version = community["properties"]["version"].as_i64().unwrap();
    let areas = get_json(server, "/api/v1/areas").await;
    let area_id = areas["features"][0]["id"].as_i64().unwrap();

    let bowtie = json!({"type": "Polygon", "coordinates":
        [[[120.37, 36.05], [120.38, 36.06], [120.38, 36.05], [120.37, 36.06], [120.37, 36.05]]]});
    let huge = json!({"type": "Polygon", "coordinates":
        [[[1e308, 36.05], [120.38, 36.06], [120.38, 36.05], [1e308, 36.05]]]});
    let unclosed = json!({"type": "Polygon", "coordinates":
        [[[120.37, 36.05], [120.38, 36.06], [120.38, 36.05], [120.37, 36.051]]]});
    let far_line = json!({"type": "LineString", "coordinates": [[100.0, 30.0], [100.1, 30.1]]});
    let grid_path = format!("/api/v1/grids/{grid_id}");

    vec![
        // Which grid am I in.
        case(
            "lookup without a point",
            Method::GET,
            "/api/v1/lookup",
            Anonymous,
        )
        .expect(400, "missing_parameter"),
        case(
            "lookup with text for lon",
            Method::GET,
            "/api/v1/lookup?lon=abc&lat=36",
            Anonymous,
        )
        .expect(400, "invalid_number"),
        case(
            "lookup out of range",
            Method::GET,
            "/api/v1/lookup?lon=200&lat=36",
            Anonymous,
        )
        .expect(422, "out_of_range"),
        case(
            "lookup in an unknown CRS",
            Method::GET,
            "/api/v1/lookup?lon=120.38&lat=36.06&crs=EPSG:99999",
            Anonymous,
        )
        .expect(400, "unknown_crs"),
        case(
            "lookup lon/lat in a projected CRS",
            Method::GET,
            "/api/v1/lookup?lon=120.38&lat=36.06&crs=EPSG:4549",
            Anonymous,
        )
        .expect(400, "projected_crs_needs_xy"),
        case(
            "lookup at a date that is not one",
            Method::GET,
            "/api/v1/lookup?lon=120.38&lat=36.06&at=yesterday",
            Anonymous,
        )
        .expect(400, "invalid_date"),
        case(
            "lookup at an instant past the year 9999 in UTC",
            Method::GET,
            "/api/v1/lookup?lon=120.38&lat=36.06&at=9999-12-31T23:59:59-23:59",
            Anonymous,
        )
        .expect(422, "bad_time"),
        case(
            "batch sent as a form",
            Method::POST,
            "/api/v1/lookup",
            Anonymous,
        )
        .raw(
            "application/x-www-form-urlencoded",
            "{\"points\":[[120.38,36.06]]}",
        )
        .expect(415, "unsupported_media_type"),
        case(
            "batch of 10,001 points",
            Method::POST,
            "/api/v1/lookup",
            Anonymous,
        )
        .json(json!({"points": vec![[120.38, 36.06]; 10_001]}))
        .expect(413, "too_many_points"),
        case(
            "batch point of the wrong type",
            Method::POST,
            "/api/v1/lookup",
            Anonymous,
        )
        .json(json!({"points": [["a", 36.06]]}))
        .expect(422, "invalid_body"),
        case(
            "batch point out of range",
            Method::POST,
            "/api/v1/lookup",
            Anonymous,
        )
        .json(json!({"points": [[120.38, 95.0]]}))
        .expect(422, "out_of_range"),
        case(
            "batch with an unknown member",
            Method::POST,
            "/api/v1/lookup",
            Anonymous,
        )
        .json(json!({"points": [], "radius": 5}))
        .expect(422, "invalid_body"),
        case(
            "batch that is not JSON",
            Method::POST,
            "/api/v1/lookup",
            Anonymous,
        )
        .raw("application/json", "{\"points\": [")
        .expect(400, "malformed_json"),
        // Accounts.
        case(
            "login with a wrong password",
            Method::POST,
            "/api/v1/auth/login",
            Anonymous,
        )
        .json(json!({"name": "planner", "password": "wrong"}))
        .expect(401, "unauthorized"),
        case(
            "login without a password",
            Method::POST,
            "/api/v1/auth/login",
            Anonymous,
        )
        .json(json!({"name": "planner"}))
        .expect(422, "invalid_body"),
        case(
            "login with a number for a name",
            Method::POST,
            "/api/v1/auth/login",
            Anonymous,
        )
        .json(json!({"name": 7, "password": "x"}))
        .expect(422, "invalid_body"),
        case(
            "login with a name of a million letters",
            Method::POST,
            "/api/v1/auth/login",
            Anonymous,
        )
        .json(json!({"name": "李".repeat(1_000_000 / 3), "password": "x"}))
        .expect(422, "name_too_long"),
        case(
            "login as text/plain",
            Method::POST,
            "/api/v1/auth/login",
            Anonymous,
        )
        .raw(
            "text/plain",
            "{\"name\":\"planner\",\"password\":\"correct horse\"}",
        )
        .expect(415, "unsupported_media_type"),
        case(
            "create a grid from another site's form",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .raw("multipart/form-data; boundary=x", "--x--")
        .expect(415, "unsupported_media_type"),
        case(
            "logout without a token",
            Method::POST,
            "/api/v1/auth/logout",
            Anonymous,
        )
        .expect(401, "unauthorized"),
        case(
            "me with a made-up token",
            Method::GET,
            "/api/v1/me",
            Anonymous,
        )
        .header("authorization", "Bearer 00")
        .expect(401, "unauthorized"),
        case(
            "me with another scheme",
            Method::GET,
            "/api/v1/me",
            Anonymous,
        )
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .expect(401, "unauthorized"),
        case(
            "the trace as a cadre",
            Method::GET,
            "/api/v1/audit?entity=user",
            Cadre,
        )
        .expect(403, "forbidden"),
        case(
            "the trace without an entity",
            Method::GET,
            "/api/v1/audit",
            Admin,
        )
        .expect(400, "missing_parameter"),
        case(
            "the trace of a non-numeric id",
            Method::GET,
            "/api/v1/audit?entity=user&id=x",
            Admin,
        )
        .expect(400, "invalid_parameter"),
        // Editing places.
        case(
            "create a grid anonymously",
            Method::POST,
            "/api/v1/grids",
            Anonymous,
        )
        .json(grid_feature(bowtie.clone(), &community_code))
        .expect(401, "unauthorized"),
        case(
            "create a grid as a cadre",
            Method::POST,
            "/api/v1/grids",
            Cadre,
        )
        .json(grid_feature(bowtie.clone(), &community_code))
        .expect(403, "forbidden"),
        case(
            "create a grid as a secretary",
            Method::POST,
            "/api/v1/grids",
            Secretary,
        )
        .json(grid_feature(bowtie.clone(), &community_code))
        .expect(403, "forbidden"),
        case("create a bowtie", Method::POST, "/api/v1/grids", Planner)
            .json(grid_feature(bowtie.clone(), &community_code))
            .expect(422, "invalid_feature"),
        case("create with 1e308", Method::POST, "/api/v1/grids", Planner)
            .json(grid_feature(huge, &community_code))
            .expect(422, "invalid_feature"),
        case(
            "create with an unclosed ring",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .json(grid_feature(unclosed, &community_code))
        .expect(422, "invalid_feature"),
        case(
            "create something that is not a Feature",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .json(json!({"type": "FeatureCollection", "features": []}))
        .expect(422, "invalid_feature"),
        case(
            "create with a number for coordinates",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .json(grid_feature(
            json!({"type": "Polygon", "coordinates": 5}),
            &community_code,
        ))
        .expect(422, "invalid_feature"),
        case(
            "create over a neighbour",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .json(grid_feature(neighbour["geometry"].clone(), &community_code))
        .expect(422, "invalid_feature"),
        case(
            "create under an unknown parent",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .json(grid_feature(
            neighbour["geometry"].clone(),
            "no-such-community",
        ))
        .expect(422, "invalid_feature"),
        case(
            "create with 25,000 vertices",
            Method::POST,
            "/api/v1/grids",
            Planner,
        )
        .json(grid_feature(
            multipolygon_json(&shapes::wobbly_ring(25_000)),
            &community_code,
        ))
        .expect(422, "too_many_vertices"),
        case(
            "validate 60,000 vertices",
            Method::POST,
            "/api/v1/grids/validate",
            Anonymous,
        )
        .json(grid_feature(
            multipolygon_json(&shapes::wobbly_ring(60_000)),
            &community_code,
        ))
        .expect(413, "too_many_vertices"),
        case(
            "update without If-Match",
            Method::PATCH,
            grid_path.clone(),
            Planner,
        )
        .json(grid_feature(Value::Null, &community_code))
        .expect(428, "precondition_required"),
        case(
            "update from a stale version",
            Method::PATCH,
            grid_path.clone(),
            Planner,
        )
        .header("if-match", format!("\"{}\"", grid_version + 7))
        .json(json!({"type": "Feature", "geometry": null, "properties": {"name": "改名"}}))
        .expect(412, "version_mismatch"),
        case(
            "update with a garbled If-Match",
            Method::PATCH,
            grid_path.clone(),
            Planner,
        )
        .header("if-match", "\"three\"")
        .json(json!({"type": "Feature", "geometry": null, "properties": {"name": "改名"}}))
        .expect(400, "invalid_if_match"),
        case(
            "update with an empty name",
            Method::PATCH,
            grid_path.clone(),
            Planner,
        )
        .header("if-match", format!("\"{grid_version}\""))
        .json(json!({"type": "Feature", "geometry": null, "properties": {"name": ["x"]}}))
        .expect(422, "invalid_feature"),
        case(
            "update an unknown grid",
            Method::PATCH,
            "/api/v1/grids/999999",
            Planner,
        )
        .header("if-match", "\"1\"")
        .json(json!({"type": "Feature", "geometry": null, "properties": {}}))
        .expect(404, "not_found"),
        case(
            "update a grid id that is not a number",
            Method::PATCH,
            "/api/v1/grids/abc",
            Planner,
        )
        .header("if-match", "\"1\"")
        .json(json!({"type": "Feature", "geometry": null, "properties": {}}))
        .expect(400, "invalid_id"),
        case(
            "delete a community that has grids",
            Method::DELETE,
            format!("/api/v1/communities/{community_id}"),
            Planner,
        )
        .header("if-match", format!("\"{community_version}\""))
        .expect(409, "conflict"),
        case(
            "delete as a cadre",
            Method::DELETE,
            grid_path.clone(),
            Cadre,
        )
        .header("if-match", format!("\"{grid_version}\""))
        .expect(403, "forbidden"),
        case(
            "split along a line far away",
            Method::POST,
            format!("{grid_path}/split"),
            Planner,
        )
        .header("if-match", format!("\"{grid_version}\""))
        .json(json!({"line": far_line, "code": "X", "name": "X"}))
        .expect(422, "invalid_split"),
        case(
            "split along a polygon",
            Method::POST,
            format!("{grid_path}/split"),
            Planner,
        )
        .header("if-match", format!("\"{grid_version}\""))
        .json(json!({"line": bowtie, "code": "X", "name": "X"}))
        .expect(422, "invalid_line"),
        case(
            "merge one place",
            Method::POST,
            "/api/v1/grids/merge",
            Planner,
        )
        .json(json!({"ids": [grid_id], "versions": [grid_version]}))
        .expect(422, "invalid_merge"),
        case(
            "merge 101 places",
            Method::POST,
            "/api/v1/grids/merge",
            Planner,
        )
        .json(json!({"ids": (1..=101).collect::<Vec<i64>>(), "versions": vec![1; 101]}))
        .expect(413, "too_many_places"),
        case(
            "merge a place with itself",
            Method::POST,
            "/api/v1/grids/merge",
            Planner,
        )
        .json(json!({"ids": [grid_id, grid_id], "versions": [grid_version, grid_version]}))
        .expect(422, "invalid_merge"),
        case(
            "history of a grid that never was",
            Method::GET,
            "/api/v1/grids/999999/history",
            Anonymous,
        )
        .expect(404, "not_found"),
        case(
            "coverage of an unknown community",
            Method::GET,
            "/api/v1/communities/999999/coverage",
            Anonymous,
        )
        .expect(404, "not_found"),
        // Claims.
        case(
            "claim anonymously",
            Method::POST,
            format!("/api/v1/areas/{area_id}/claim"),
            Anonymous,
        )
        .expect(401, "unauthorized"),
        case(
            "claim as a planner",
            Method::POST,
            format!("/api/v1/areas/{area_id}/claim"),
            Planner,
        )
        .expect(403, "forbidden"),
        case(
            "claim a grid",
            Method::POST,
            format!("/api/v1/areas/{grid_id}/claim"),
            Cadre,
        )
        .expect(404, "not_found"),
        case(
            "claim an id that is not a number",
            Method::POST,
            "/api/v1/areas/x/claim",
            Cadre,
        )
        .expect(400, "invalid_id"),
        case(
            "release what nobody holds",
            Method::POST,
            format!("/api/v1/areas/{area_id}/release"),
            Cadre,
        )
        .expect(409, "not_claimed"),
        case(
            "reassign as a cadre",
            Method::POST,
            format!("/api/v1/areas/{area_id}/reassign"),
            Cadre,
        )
        .json(json!({"user": "cadre"}))
        .expect(403, "forbidden"),
        case(
            "reassign to nobody",
            Method::POST,
            format!("/api/v1/areas/{area_id}/reassign"),
            Admin,
        )
        .json(json!({"user": "nobody"}))
        .expect(422, "unknown_user"),
        case(
            "reassign to a planner",
            Method::POST,
            format!("/api/v1/areas/{area_id}/reassign"),
            Admin,
        )
        .json(json!({"user": "planner"}))
        .expect(422, "not_a_cadre"),
        case(
            "claims history anonymously",
            Method::GET,
            format!("/api/v1/areas/{area_id}/claims"),
            Anonymous,
        )
        .expect(401, "unauthorized"),
        // Tiles and OGC API Features.
        case(
            "tile of an unknown layer",
            Method::GET,
            "/tiles/nope/1/0/0.mvt",
            Anonymous,
        )
        .expect(404, "unknown_layer"),
        case(
            "tile past the world",
            Method::GET,
            "/tiles/grids/1/5/0.mvt",
            Anonymous,
        )
        .expect(400, "invalid_tile"),
        case(
            "tile with letters",
            Method::GET,
            "/tiles/grids/a/b/c.mvt",
            Anonymous,
        )
        .expect(400, "invalid_tile"),
        case(
            "unknown collection",
            Method::GET,
            "/ogc/collections/nope/items",
            Anonymous,
        )
        .expect(404, "not_found"),
        case(
            "items with limit 0",
            Method::GET,
            "/ogc/collections/grids/items?limit=0",
            Anonymous,
        )
        .expect(400, "invalid_limit"),
        case(
            "items with a three-number bbox",
            Method::GET,
            "/ogc/collections/grids/items?bbox=1,2,3",
            Anonymous,
        )
        .expect(400, "invalid_bbox"),
        // Routes and methods.
        case(
            "a route that does not exist",
            Method::GET,
            "/api/v1/nothing",
            Anonymous,
        )
        .expect(404, "not_found"),
        case(
            "a method the route does not take",
            Method::DELETE,
            "/api/v1/lookup",
            Anonymous,
        )
        .expect(405, "method_not_allowed"),
    ]
}

async fn send(server: &Server, tokens: &HashMap<As, String>, case: &Case) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(case.method.clone(), server.url(&case.path));
    if let Some(token) = tokens.get(&case.who) {
        request = request.bearer_auth(token);
    }
    for (name, value) in &case.headers {
        request = request.header(*name, value);
    }
    request = match &case.body {
        Body::None => request,
        Body::Json(value) => request
            .header("content-type", "application/json")
            .body(value.to_string()),
        Body::Raw(content_type, bytes) => request
            .header("content-type", *content_type)
            .body(bytes.clone()),
    };
    let answer = request.send().await.expect("an answer");
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body)
}

async fn every_bad_request_is_refused_and_changes_nothing(database: &str) {
    let (server, tokens) = demo(database).await;
    let cases = cases(&server).await;
    let before = snapshot(database).await;
    let mut failures = Vec::new();
    for case in &cases {
        let (status, body) = send(&server, &tokens, case).await;
        let code = body["error"]["code"].as_str().unwrap_or("");
        if status != case.status || code != case.code {
            failures.push(format!(
                "{}: {} {} as {:?} got {status} {code:?}, expected {} {:?}: {body}",
                case.what, case.method, case.path, case.who, case.status, case.code
            ));
        }
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{}: the answer explains itself: {body}",
            case.what
        );
        let after = snapshot(database).await;
        for (table, rows) in &before {
            assert_eq!(
                after.get(table),
                Some(rows),
                "{}: table {table} changed",
                case.what
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_bad_request_is_refused_and_changes_nothing_on_sqlite() {
    let db = common::temp_sqlite();
    every_bad_request_is_refused_and_changes_nothing(&db.url).await;
}

#[tokio::test]
async fn every_bad_request_is_refused_and_changes_nothing_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    every_bad_request_is_refused_and_changes_nothing(&url).await;
}
