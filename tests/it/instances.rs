//! Several `wangge` instances over one PostGIS, as production runs them: a write through one
//! instance, or through `wangge import` in another process, reaches what the others answer
//! without a restart (PostgreSQL notifications, migrations 0005, 0012 and 0014); a visit or a need
//! met reaches the others' diaries and needs tiles without a reload of their maps; a report
//! reaches the phones listening on the others.

use crate::common;

use common::Server;
use common::sse::EventStream;
use geo::{InteriorPoint, MultiPolygon};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// How long another instance may take to follow a write; a reload of the demo street takes well
/// under a second even in a debug build.
const FOLLOW_WITHIN: Duration = Duration::from_secs(20);

fn add_user(database: &str, name: &str, role: &str, contact: &[&str]) {
    let mut args = vec![
        "user",
        "add",
        "--name",
        name,
        "--role",
        role,
        "--database",
        database,
    ];
    args.extend(contact);
    let output = common::wangge_with_stdin(&args, &format!("pw of {name}\n"));
    assert!(
        output.status.success(),
        "wangge user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn token_of(server: &Server, name: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"name": name, "password": format!("pw of {name}")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().expect("a token").to_string()
}

async fn get(server: &Server, path: &str) -> (StatusCode, Option<String>, Value) {
    let response = reqwest::get(server.url(path)).await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (status, etag, response.json().await.unwrap())
}

/// Asks `path` of `server` until `wanted` holds for the answer; fails after [`FOLLOW_WITHIN`].
async fn until(server: &Server, path: &str, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    until_as(server, None, path, what, wanted).await
}

/// [`until`], signed in with `token` if given.
async fn until_as(
    server: &Server,
    token: Option<&str>,
    path: &str,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let mut request = reqwest::Client::new().get(server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let body: Value = request
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap_or(Value::Null);
        if wanted(&body) {
            return body;
        }
        assert!(
            start.elapsed() < FOLLOW_WITHIN,
            "{what}: not seen within {FOLLOW_WITHIN:?}; last answer {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A point inside the demo area `code`.
async fn inside(server: &Server, id: i64) -> (f64, f64) {
    let (_, _, feature) = get(server, &format!("/api/v1/areas/{id}")).await;
    let geometry: geojson::Geometry = serde_json::from_value(feature["geometry"].clone()).unwrap();
    let shape: MultiPolygon<f64> = geometry.try_into().unwrap();
    let p = shape.interior_point().unwrap();
    (p.x(), p.y())
}

#[tokio::test]
async fn writes_through_one_instance_or_the_command_line_reach_the_others() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    add_user(&url, "planner", "planner", &[]);
    add_user(
        &url,
        "cadre",
        "cadre",
        &["--display-name", "李娜", "--phone", "13900002222"],
    );
    let a = Server::start(&url, &["--demo"]);
    let b = Server::start(&url, &[]);

    // A claim through A: B's lookup names the holder.
    let (_, _, areas) = get(&b, "/api/v1/areas").await;
    let area = areas["features"][0]["id"].as_i64().unwrap();
    let (lon, lat) = inside(&b, area).await;
    let lookup = format!("/api/v1/lookup?lon={lon}&lat={lat}");
    let holder_on_b = |body: &Value| {
        body["areas"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == area)
            .map(|a| a["holder"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(holder_on_b(&get(&b, &lookup).await.2), Value::Null);
    let cadre = token_of(&a, "cadre").await;
    let claimed = reqwest::Client::new()
        .post(a.url(&format!("/api/v1/areas/{area}/claim")))
        .bearer_auth(&cadre)
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let seen = until(&b, &lookup, "the holder on B", |body| {
        !holder_on_b(body).is_null()
    })
    .await;
    assert_eq!(holder_on_b(&seen)["display_name"], "李娜");
    assert_eq!(holder_on_b(&seen)["phone"], "13900002222");

    // A rename through A: B serves the new version, and takes the new ETag for its own edit.
    let (_, _, grids) = get(&b, "/api/v1/grids").await;
    let grid = grids["features"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/grids/{grid}");
    let (_, tag, _) = get(&a, &path).await;
    let planner = token_of(&a, "planner").await;
    let patch = |server: &Server, tag: &str, name: &str| {
        reqwest::Client::new()
            .patch(server.url(&path))
            .bearer_auth(&planner)
            .header("if-match", tag)
            .json(&json!({"type": "Feature", "geometry": null, "properties": {"name": name}}))
            .send()
    };
    let renamed = patch(&a, tag.as_deref().unwrap(), "改名后的网格")
        .await
        .unwrap();
    assert_eq!(renamed.status(), StatusCode::OK);
    let new_tag = renamed.headers()["etag"].to_str().unwrap().to_string();
    until(&b, &path, "the rename on B", |body| {
        body["properties"]["name"] == "改名后的网格"
    })
    .await;
    assert_eq!(get(&b, &path).await.1.as_deref(), Some(new_tag.as_str()));
    let stale = patch(&b, tag.as_deref().unwrap(), "过时").await.unwrap();
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let on_b = patch(&b, &new_tag, "再改一次").await.unwrap();
    assert_eq!(on_b.status(), StatusCode::OK);
    until(&a, &path, "B's rename on A", |body| {
        body["properties"]["name"] == "再改一次"
    })
    .await;

    // `wangge import` in another process: both instances serve what it stored.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("communities.geojson");
    let exported = common::wangge(&[
        "export",
        "--layer",
        "communities",
        "--database",
        &url,
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(exported.status.success(), "{exported:?}");
    let mut communities: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let code = communities["features"][0]["properties"]["code"].clone();
    communities["features"][0]["properties"]["name"] = json!("导入改名社区");
    std::fs::write(&file, communities.to_string()).unwrap();
    let imported = common::wangge(&[
        "import",
        "--layer",
        "communities",
        "--database",
        &url,
        file.to_str().unwrap(),
    ]);
    assert!(imported.status.success(), "{imported:?}");
    for server in [&a, &b] {
        until(server, "/api/v1/communities", "the imported name", |body| {
            body["features"].as_array().unwrap().iter().any(|f| {
                f["properties"]["code"] == code && f["properties"]["name"] == "导入改名社区"
            })
        })
        .await;
    }
}

/// The open needs of grid `grid` on `server`'s `needs` tile over (lon, lat).
async fn open_needs(server: &Server, lon: f64, lat: f64, grid: i64) -> i64 {
    use geozero::mvt::{Message, Tile};
    let t = wangge::spatial::tiles::TileId::containing(lon, lat, 14);
    let url = server.url(&format!("/tiles/needs/{}/{}/{}.mvt", t.z, t.x, t.y));
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    let tile = Tile::decode(&bytes[..]).unwrap();
    let layer = &tile.layers[0];
    let open = layer.keys.iter().position(|k| k == "open").unwrap() as u32;
    let feature = layer
        .features
        .iter()
        .find(|f| f.id == Some(grid as u64))
        .expect("the grid on its tile");
    let value = feature
        .tags
        .chunks(2)
        .find(|kv| kv[0] == open)
        .map(|kv| &layer.values[kv[1] as usize])
        .unwrap();
    value.int_value.or(value.sint_value).unwrap()
}

#[tokio::test]
async fn a_visit_through_one_instance_reaches_the_diary_and_needs_of_the_others() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    add_user(&url, "cadre", "cadre", &[]);
    let a = Server::start(&url, &["--demo"]);
    let b = Server::start(&url, &[]);
    let (_, _, areas) = get(&b, "/api/v1/areas").await;
    let area = areas["features"][0]["id"].as_i64().unwrap();
    let (token_a, token_b) = (token_of(&a, "cadre").await, token_of(&b, "cadre").await);
    let claimed = reqwest::Client::new()
        .post(a.url(&format!("/api/v1/areas/{area}/claim")))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let mine = until_as(
        &b,
        Some(&token_b),
        "/api/v1/households?limit=1",
        "my households on B",
        |body| body["numberMatched"].as_u64().is_some_and(|n| n > 0),
    )
    .await;
    let household = &mine["features"][0];
    let id = household["id"].as_i64().unwrap();
    let grid = household["properties"]["grid_id"].as_i64().unwrap();
    let c = &household["geometry"]["coordinates"];
    let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    assert!(household["properties"]["last_on_site_visit_at"].is_null());
    assert_eq!(open_needs(&b, lon, lat, grid).await, 0);

    let visited = reqwest::Client::new()
        .post(a.url("/api/v1/visits"))
        .bearer_auth(&token_a)
        .header("Idempotency-Key", "instances-visit-1")
        .json(&json!({
            "household": id,
            "visited_at": "2026-11-30T10:30:00+08:00",
            "position": {"lon": lon, "lat": lat, "accuracy_m": 10.0},
            "notes": "独居老人",
            "needs": [{"type": "wristband", "note": "需要智能手环"}],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(visited.status(), StatusCode::CREATED);
    // B knows the visit without a reload of its map: the households table did not change.
    let path = format!("/api/v1/households/{id}");
    let seen = until_as(&b, Some(&token_b), &path, "the visit on B", |body| {
        body["properties"]["last_on_site_visit_at"].is_string()
    })
    .await;
    assert!(seen["properties"]["next_visit_due"].is_string());
    let start = Instant::now();
    while open_needs(&b, lon, lat, grid).await != 1 {
        assert!(start.elapsed() < FOLLOW_WITHIN, "the need on B's tiles");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_report_through_one_instance_reaches_the_phones_listening_on_another() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    add_user(&url, "cadre", "cadre", &[]);
    add_user(&url, "idle", "cadre", &[]);
    let a = Server::start(&url, &["--demo"]);
    let b = Server::start(&url, &[]);
    let (_, _, areas) = get(&b, "/api/v1/areas").await;
    let area = areas["features"][0]["id"].as_i64().unwrap();
    let token_a = token_of(&a, "cadre").await;
    let claimed = reqwest::Client::new()
        .post(a.url(&format!("/api/v1/areas/{area}/claim")))
        .bearer_auth(&token_a)
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), StatusCode::CREATED);
    let (token_b, idle_b) = (token_of(&b, "cadre").await, token_of(&b, "idle").await);
    until_as(
        &b,
        Some(&token_b),
        "/api/v1/me/areas",
        "the claim on B",
        |body| body["areas"].as_array().is_some_and(|a| !a.is_empty()),
    )
    .await;
    let events = b.url("/api/v1/me/events");
    let mut cadre = EventStream::open(&events, &token_b).await;
    let mut idle = EventStream::open(&events, &idle_b).await;

    let (lon, lat) = inside(&b, area).await;
    let posted_at = Instant::now();
    let answer: Value = reqwest::Client::new()
        .post(a.url("/open311/v2/requests.json"))
        .form(&[
            ("service_code", "elderly_care".to_string()),
            ("lat", lat.to_string()),
            ("long", lon.to_string()),
            ("description", "独居老人摔倒了".to_string()),
            ("attribute[urgent]", "yes".to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string();
    let heard = cadre
        .request(&id, FOLLOW_WITHIN)
        .await
        .expect("the cadre's phone on B hears of a report posted through A");
    println!(
        "a report through A reached a phone on B in {} ms",
        posted_at.elapsed().as_millis()
    );
    assert_eq!(heard["notice"], "reported");
    assert_eq!(heard["link"], "area");
    assert_eq!(
        idle.request(&id, Duration::from_millis(500)).await,
        None,
        "a cadre who does not answer for the spot hears nothing"
    );
}
