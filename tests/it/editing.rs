//! Planner editing through the real binary over HTTP, on SQLite and on PostGIS: create, update,
//! split, merge and delete with households moving grid, validation problems, optimistic locking,
//! history, `at=` lookups, hostile input and roles.

use crate::common;
mod guards;

use common::Server;
use geozero::mvt::{Message, Tile};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wangge::spatial::tiles::TileId;

/// Street ⊃ community ⊃ two grids side by side (G1 west, G2 east, sharing the edge x = 120.375),
/// an area, a building and two households: H1 in G1 near the shared edge, H2 in G2.
const G1: &str = "370202010001001";
const G2: &str = "370202010001002";
const H1: (f64, f64) = (120.374, 36.055);
const H2: (f64, f64) = (120.376, 36.055);

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

fn place(code: &str, name: &str, parent: Option<&str>, geometry: Value) -> Value {
    json!({"type": "Feature", "geometry": geometry,
           "properties": {"code": code, "name": name, "parent_code": parent}})
}

/// Imports the fixture with `wangge import` and creates a planner, a cadre and an admin.
fn load_fixture(database: &str) {
    let dir = tempfile::tempdir().unwrap();
    let layers = [
        (
            "districts",
            vec![place(
                "370202",
                "市南区",
                None,
                rect(120.30, 36.00, 120.50, 36.20),
            )],
        ),
        (
            "streets",
            vec![place(
                "370202010",
                "珠海路街道",
                Some("370202"),
                rect(120.37, 36.05, 120.40, 36.08),
            )],
        ),
        (
            "communities",
            vec![place(
                "370202010001",
                "香港花园社区",
                Some("370202010"),
                rect(120.37, 36.05, 120.38, 36.06),
            )],
        ),
        (
            "grids",
            vec![
                place(
                    G1,
                    "第一网格",
                    Some("370202010001"),
                    rect(120.370, 36.05, 120.375, 36.06),
                ),
                place(
                    G2,
                    "第二网格",
                    Some("370202010001"),
                    rect(120.375, 36.05, 120.380, 36.06),
                ),
            ],
        ),
        (
            "areas",
            vec![place(
                "370202010-Q01",
                "责任田一",
                Some("370202010"),
                rect(120.371, 36.051, 120.374, 36.054),
            )],
        ),
        (
            "buildings",
            vec![
                json!({"type": "Feature", "geometry": rect(120.3738, 36.0548, 120.3742, 36.0552),
                "properties": {"code": "B1", "name": "1号楼", "address": "香港中路1号", "floors": 6}}),
            ],
        ),
        (
            "households",
            [("H1", H1), ("H2", H2)]
                .iter()
                .map(|(code, (x, y))| {
                    json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
                        "properties": {"code": code, "address": "香港中路", "head_name": "王芳"}})
                })
                .collect(),
        ),
    ];
    for (layer, features) in layers {
        let file = dir.path().join(format!("{layer}.geojson"));
        std::fs::write(&file, collection(features)).unwrap();
        let out = common::wangge(&[
            "import",
            file.to_str().unwrap(),
            "--layer",
            layer,
            "--database",
            database,
        ]);
        assert!(
            out.status.success(),
            "import {layer}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (name, role) in [
        ("planner", "planner"),
        ("cadre", "cadre"),
        ("admin", "admin"),
    ] {
        let out = common::wangge_with_stdin(
            &[
                "user",
                "add",
                "--name",
                name,
                "--role",
                role,
                "--database",
                database,
            ],
            "correct horse\n",
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

struct Api {
    server: Server,
    client: reqwest::Client,
    planner: String,
    cadre: String,
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error: {}", self.body))
    }
    fn etag(&self) -> &str {
        self.headers["etag"].to_str().unwrap()
    }
}

impl Api {
    async fn start(database: &str) -> Api {
        load_fixture(database);
        let server = Server::start(database, &[]);
        let client = reqwest::Client::new();
        let mut api = Api {
            server,
            client,
            planner: String::new(),
            cadre: String::new(),
        };
        api.planner = api.login("planner").await;
        api.cadre = api.login("cadre").await;
        api
    }

    async fn login(&self, name: &str) -> String {
        let a = self
            .send(
                Method::POST,
                "/api/v1/auth/login",
                None,
                &[],
                Some(json!({"name": name, "password": "correct horse"})),
            )
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["token"].as_str().unwrap().to_string()
    }

    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Answer {
        let mut request = self.client.request(method, self.server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}"))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        self.send_raw(
            method,
            path,
            token,
            headers,
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None, &[], None).await
    }

    /// A planner's write.
    async fn write(
        &self,
        method: Method,
        path: &str,
        if_match: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
        self.send(method, path, Some(&self.planner), &headers, body)
            .await
    }

    /// The id and ETag of the grid with this code.
    async fn grid(&self, code: &str) -> (i64, String) {
        let list = self.get("/api/v1/grids").await;
        let id = list.body["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["code"] == code)
            .unwrap_or_else(|| panic!("no grid {code}"))["id"]
            .as_i64()
            .unwrap();
        let one = self.get(&format!("/api/v1/grids/{id}")).await;
        assert_eq!(one.status, StatusCode::OK);
        (id, one.etag().to_string())
    }

    /// The grid code a lookup gives for a point, optionally at a date.
    async fn grid_at(&self, (lon, lat): (f64, f64), at: Option<&str>) -> Option<String> {
        let at = at
            .map(|a| format!("&at={}", urlencode(a)))
            .unwrap_or_default();
        let a = self
            .get(&format!("/api/v1/lookup?lon={lon}&lat={lat}{at}"))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        a.body["grid"]["code"].as_str().map(str::to_string)
    }

    /// The household count of a grid in its z14 tile.
    async fn tile_households(&self, code: &str) -> Option<i64> {
        let t = TileId::containing(120.375, 36.055, 14);
        let bytes = self
            .client
            .get(
                self.server
                    .url(&format!("/tiles/grids/{}/{}/{}.mvt", t.z, t.x, t.y)),
            )
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let tile = Tile::decode(&bytes[..]).unwrap();
        let layer = &tile.layers[0];
        let key = |name: &str| layer.keys.iter().position(|k| k == name).unwrap() as u32;
        layer.features.iter().find_map(|f| {
            let tags: Vec<(u32, u32)> = f.tags.chunks(2).map(|kv| (kv[0], kv[1])).collect();
            let value = |k: u32| {
                tags.iter()
                    .find(|(key, _)| *key == k)
                    .map(|(_, v)| &layer.values[*v as usize])
            };
            (value(key("code"))?.string_value.as_deref() == Some(code)).then(|| {
                value(key("households"))
                    .and_then(|v| {
                        v.int_value
                            .or(v.sint_value)
                            .or(v.uint_value.map(|u| u as i64))
                    })
                    .unwrap_or(0)
            })
        })
    }
}

/// Sends a PATCH with a body of `size` spaces over a raw connection and returns the answer's
/// text. The server answers 413 and closes before the body is sent; an HTTP client would stop at
/// the broken pipe, so the answer is read while the body is still being written.
async fn oversized_patch(api: &Api, path: &str, tag: &str, size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = api.server.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         If-Match: {tag}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\
         Connection: close\r\n\r\n",
        api.planner
    );
    let write = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await?;
        let chunk = vec![b' '; 64 * 1024];
        for _ in 0..size / chunk.len() {
            writer.write_all(&chunk).await?;
        }
        std::io::Result::Ok(())
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    // Read until the server closes; a reset after the answer arrived ends it too.
    while let Ok(n) = reader.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    let _ = write.await; // the write may well fail once the server has closed
    String::from_utf8_lossy(&answer).into_owned()
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

fn feature(geometry: Value, properties: Value) -> Value {
    json!({"type": "Feature", "geometry": geometry, "properties": properties})
}

async fn round_trip(database: &str) {
    let api = Api::start(database).await;
    let (g1, tag1) = api.grid(G1).await;
    let (g2, tag2) = api.grid(G2).await;
    assert_eq!(api.grid_at(H1, None).await.as_deref(), Some(G1));
    assert_eq!(api.tile_households(G2).await, Some(1));
    let before_edits = wangge::timestamp::now();
    // Versions keep milliseconds: let the first edit land in a later one than `before_edits`.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    // Shrink G1: H1 and the building fall out of every grid.
    let shrunk = api
        .write(
            Method::PATCH,
            &format!("/api/v1/grids/{g1}"),
            Some(&tag1),
            Some(feature(rect(120.370, 36.05, 120.3735, 36.06), json!({}))),
        )
        .await;
    assert_eq!(shrunk.status, StatusCode::OK, "{}", shrunk.body);
    assert_eq!(shrunk.etag(), "\"2\"");
    assert_eq!(shrunk.body["properties"]["version"], 2);
    assert_eq!(
        shrunk.body["reassigned"],
        json!({"households": 1, "buildings": 1})
    );
    assert_eq!(api.grid_at(H1, None).await, None);

    // Grow G2 into the gap, in EPSG:4549 metres: H1 and the building now count towards G2, in
    // the lookup and in the tiles at once.
    let crs = wangge::spatial::crs::Crs::parse("EPSG:4549").unwrap();
    let ring: Vec<[f64; 2]> = [
        (120.3735, 36.05),
        (120.380, 36.05),
        (120.380, 36.06),
        (120.3735, 36.06),
        (120.3735, 36.05),
    ]
    .iter()
    .map(|(x, y)| {
        let (e, n) = crs.from_wgs84(*x, *y).unwrap();
        [e, n]
    })
    .collect();
    let grown = api
        .write(
            Method::PATCH,
            &format!("/api/v1/grids/{g2}?crs=EPSG:4549"),
            Some(&tag2),
            Some(feature(
                json!({"type": "Polygon", "coordinates": [ring]}),
                json!({"name": "第二网格（扩）"}),
            )),
        )
        .await;
    assert_eq!(grown.status, StatusCode::OK, "{}", grown.body);
    assert_eq!(
        grown.body["reassigned"],
        json!({"households": 1, "buildings": 1})
    );
    assert_eq!(grown.body["properties"]["name"], "第二网格（扩）");
    assert_eq!(api.grid_at(H1, None).await.as_deref(), Some(G2));
    assert_eq!(api.tile_households(G2).await, Some(2));
    let ogc = api.get(&format!("/ogc/collections/grids/items/{g2}")).await;
    assert_eq!(ogc.status, StatusCode::OK);

    // at=: before the edits H1 was in G1; a bare date far back finds nothing; a bad date is 400.
    assert_eq!(
        api.grid_at(H1, Some(&before_edits)).await.as_deref(),
        Some(G1)
    );
    assert_eq!(api.grid_at(H1, Some("2000-01-01")).await, None);
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .date();
    assert_eq!(
        api.grid_at(H1, Some(&today.to_string())).await.as_deref(),
        Some(G2)
    );
    let bad = api
        .get("/api/v1/lookup?lon=120.374&lat=36.055&at=2026-02-30")
        .await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_REQUEST, "invalid_date")
    );
    let batch = api
        .send(
            Method::POST,
            "/api/v1/lookup",
            None,
            &[],
            Some(json!({"points": [[H1.0, H1.1]], "at": before_edits})),
        )
        .await;
    assert_eq!(
        batch.body["results"][0]["grid"]["code"], G1,
        "{}",
        batch.body
    );

    // Split G2 along x = 120.377: the larger western piece (with H1 and H2) keeps the id.
    let tag2 = api.grid(G2).await.1;
    let split = api
        .write(Method::POST, &format!("/api/v1/grids/{g2}/split"), Some(&tag2),
            Some(json!({"line": {"type": "LineString", "coordinates": [[120.377, 36.049], [120.377, 36.061]]},
                        "code": "370202010001003", "name": "第三网格"})))
        .await;
    assert_eq!(split.status, StatusCode::OK, "{}", split.body);
    assert_eq!(split.body["kept"]["id"], g2);
    assert_eq!(split.body["kept"]["properties"]["version"], 3);
    let g3 = split.body["created"]["id"].as_i64().unwrap();
    assert_eq!(
        split.body["created"]["properties"]["parent_code"],
        "370202010001"
    );
    assert_eq!(
        api.grid_at((120.379, 36.055), None).await.as_deref(),
        Some("370202010001003")
    );
    assert_eq!(api.grid_at(H2, None).await.as_deref(), Some(G2));

    // A line that does not cut is refused.
    let miss = api
        .write(Method::POST, &format!("/api/v1/grids/{g3}/split"), Some("\"1\""),
            Some(json!({"line": {"type": "LineString", "coordinates": [[121.0, 36.0], [121.0, 37.0]]}, "code": "X", "name": "X"})))
        .await;
    assert_eq!(
        (miss.status, miss.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_split")
    );

    // Merge them back: G2 survives, G3 is gone, the point east of the cut is in G2 again.
    let merged = api
        .write(
            Method::POST,
            "/api/v1/grids/merge",
            None,
            Some(json!({"ids": [g2, g3], "versions": [3, 1]})),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    assert_eq!(merged.body["deleted"], json!([g3]));
    assert_eq!(merged.body["merged"]["properties"]["version"], 4);
    assert_eq!(
        api.grid_at((120.379, 36.055), None).await.as_deref(),
        Some(G2)
    );
    assert_eq!(
        api.get(&format!("/api/v1/grids/{g3}")).await.status,
        StatusCode::NOT_FOUND
    );

    // Create a grid in the strip of the community nobody covers, then delete it.
    let coverage = api.get("/api/v1/communities").await.body["features"][0]["id"]
        .as_i64()
        .unwrap();
    let report = api
        .get(&format!("/api/v1/communities/{coverage}/coverage"))
        .await;
    assert_eq!(report.status, StatusCode::OK);
    assert_eq!(
        report.body["gaps"]["features"].as_array().unwrap().len(),
        0,
        "{}",
        report.body
    );
    let created = api
        .write(
            Method::POST,
            "/api/v1/grids",
            None,
            Some(feature(
                rect(120.370, 36.05, 120.3735, 36.052),
                json!({"code": "G9", "name": "新网格", "parent_code": "370202010001"}),
            )),
        )
        .await;
    // It overlaps G1, which still covers that strip.
    assert_eq!(
        (created.status, created.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_feature")
    );
    let g1_tag = api.grid(G1).await.1;
    let cut = api
        .write(
            Method::PATCH,
            &format!("/api/v1/grids/{g1}"),
            Some(&g1_tag),
            Some(feature(rect(120.370, 36.052, 120.3735, 36.06), json!({}))),
        )
        .await;
    assert_eq!(cut.status, StatusCode::OK, "{}", cut.body);
    let report = api
        .get(&format!("/api/v1/communities/{coverage}/coverage"))
        .await;
    let gaps = report.body["gaps"]["features"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{}", report.body);
    assert!(gaps[0]["properties"]["area_m2"].as_f64().unwrap() > 60_000.0);
    let created = api
        .write(
            Method::POST,
            "/api/v1/grids",
            None,
            Some(feature(
                rect(120.370, 36.05, 120.3735, 36.052),
                json!({"code": "G9", "name": "新网格", "parent_code": "370202010001"}),
            )),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let g9 = created.body["id"].as_i64().unwrap();
    assert_eq!(
        created.headers["location"],
        format!("/api/v1/grids/{g9}").as_str()
    );
    assert_eq!(created.etag(), "\"1\"");
    let deleted = api
        .write(
            Method::DELETE,
            &format!("/api/v1/grids/{g9}"),
            Some("\"1\""),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(
        api.get(&format!("/api/v1/grids/{g9}")).await.status,
        StatusCode::NOT_FOUND
    );

    // A community with grids cannot be deleted.
    let community = api.get(&format!("/api/v1/communities/{coverage}")).await;
    let refused = api
        .write(
            Method::DELETE,
            &format!("/api/v1/communities/{coverage}"),
            Some(community.etag()),
            None,
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);

    // History: every version of G2, who made it, and the deleted grids' too.
    let history = api.get(&format!("/api/v1/grids/{g2}/history")).await;
    let actions: Vec<&str> = history.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["import", "update", "split", "merge"],
        "{}",
        history.body
    );
    let versions = history.body["versions"].as_array().unwrap();
    assert!(versions[0]["user"].is_null());
    // The editor by id (and display name, none here), never by login name: the history is public.
    assert_eq!(
        versions[1]["user"],
        json!({"id": versions[1]["user"]["id"], "display_name": null})
    );
    assert!(versions[1]["user"]["id"].is_i64());
    assert_eq!(versions[0]["valid_to"], versions[1]["valid_from"]);
    assert!(versions[3]["valid_to"].is_null());
    let gone = api.get(&format!("/api/v1/grids/{g9}/history")).await;
    let gone: Vec<&str> = gone.body["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(gone, ["create", "delete"]);

    // The trace has before and after of each edit.
    let admin = api.login("admin").await;
    let audit = api
        .send(
            Method::GET,
            &format!("/api/v1/audit?entity=grid&id={g2}"),
            Some(&admin),
            &[],
            None,
        )
        .await;
    let records = audit.body["records"].as_array().unwrap();
    let update = records.iter().find(|r| r["action"] == "update").unwrap();
    assert_eq!(update["before"]["properties"]["version"], 1);
    assert_eq!(update["after"]["properties"]["version"], 2);
}

#[tokio::test]
async fn create_update_split_merge_delete_on_sqlite() {
    let db = common::temp_sqlite();
    round_trip(&db.url).await;
}

#[tokio::test]
async fn create_update_split_merge_delete_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    round_trip(&url).await;
}

async fn concurrent_patches(database: &str) {
    let api = Api::start(database).await;
    let (g1, tag) = api.grid(G1).await;
    let path = format!("/api/v1/grids/{g1}");
    let (a, b) = tokio::join!(
        api.write(
            Method::PATCH,
            &path,
            Some(&tag),
            Some(feature(Value::Null, json!({"name": "甲"})))
        ),
        api.write(
            Method::PATCH,
            &path,
            Some(&tag),
            Some(feature(Value::Null, json!({"name": "乙"})))
        ),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::PRECONDITION_FAILED],
        "{} {}",
        a.body,
        b.body
    );
    let loser = if a.status == StatusCode::OK { &b } else { &a };
    assert_eq!(loser.code(), "version_mismatch");
    let winner = if a.status == StatusCode::OK { &a } else { &b };
    let now = api.get(&path).await;
    assert_eq!(
        now.body["properties"]["name"],
        winner.body["properties"]["name"]
    );
    assert_eq!(now.etag(), "\"2\"");

    // A stale If-Match changes nothing; a missing one is 428.
    let stale = api
        .write(
            Method::PATCH,
            &path,
            Some(&tag),
            Some(feature(Value::Null, json!({"name": "丙"}))),
        )
        .await;
    assert_eq!(
        (stale.status, stale.code()),
        (StatusCode::PRECONDITION_FAILED, "version_mismatch")
    );
    let missing = api
        .write(
            Method::PATCH,
            &path,
            None,
            Some(feature(Value::Null, json!({"name": "丙"}))),
        )
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::PRECONDITION_REQUIRED, "precondition_required")
    );
    let stale_merge = api
        .write(
            Method::POST,
            "/api/v1/grids/merge",
            None,
            Some(json!({"ids": [g1, api.grid(G2).await.0], "versions": [1, 1]})),
        )
        .await;
    assert_eq!(
        stale_merge.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale_merge.body
    );
    assert_eq!(api.get(&path).await.body, now.body);
    let history = api.get(&format!("{path}/history")).await;
    assert_eq!(history.body["versions"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn two_patches_with_one_version_one_wins_on_sqlite() {
    let db = common::temp_sqlite();
    concurrent_patches(&db.url).await;
}

#[tokio::test]
async fn two_patches_with_one_version_one_wins_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    concurrent_patches(&url).await;
}
