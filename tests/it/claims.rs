//! Claims of responsibility areas (民情责任田) through real HTTP against the real `wangge`
//! binary serving the demo street, on SQLite and on PostGIS; and tokens that expire.

use crate::common;

use common::Server;
use futures::future::join_all;
use geo::{InteriorPoint, MultiPolygon};
use geojson::FeatureCollection;
use geozero::mvt::{Message, Tile};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wangge::spatial::tiles::TileId;

const CADRES: usize = 10;
const ATTEMPTS: usize = 100;

/// Creates a user with `wangge user add`, the password on standard input.
fn add_user(database: &str, name: &str, role: &str, contact: Option<(&str, &str)>) {
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
    if let Some((shown, phone)) = contact {
        args.extend(["--display-name", shown, "--phone", phone]);
    }
    let output = common::wangge_with_stdin(&args, &format!("pw of {name}\n"));
    assert!(
        output.status.success(),
        "wangge user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

async fn token_of(server: &Server, name: &str) -> String {
    let (status, body) = send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": format!("pw of {name}")})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

async fn get(server: &Server, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

async fn post(
    server: &Server,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().post(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    send(request).await
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

fn demo_layer(name: &str) -> FeatureCollection {
    let path = format!("{}/geodata/demo/{name}.geojson", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

/// A point inside the demo area with this code.
fn inside_area(code: &str) -> (f64, f64) {
    let area = demo_layer("areas")
        .features
        .into_iter()
        .find(|f| f.property("code").and_then(Value::as_str) == Some(code))
        .unwrap();
    let shape: MultiPolygon<f64> = match geo::Geometry::try_from(area.geometry.unwrap()).unwrap() {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        other => panic!("area geometry {other:?}"),
    };
    let p = shape.interior_point().unwrap();
    (p.x(), p.y())
}

/// How many demo households the lookup places in the area: every household point of the demo
/// file sent through the batch lookup, independently of the stored household–area links.
async fn households_in_area(server: &Server, area_id: i64) -> usize {
    let points: Vec<[f64; 2]> = demo_layer("households")
        .features
        .into_iter()
        .map(|f| match f.geometry.unwrap().value {
            geojson::GeometryValue::Point { coordinates: p } => [p[0], p[1]],
            other => panic!("household geometry {other:?}"),
        })
        .collect();
    let (status, body) = post(
        server,
        "/api/v1/lookup",
        None,
        Some(json!({ "points": points })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["areas"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == area_id)
        })
        .count()
}

/// The `claimed` flag of an area in the `areas` tile at zoom 14 around a point.
async fn claimed_in_tile(server: &Server, area_id: i64, (lon, lat): (f64, f64)) -> bool {
    let t = TileId::containing(lon, lat, 14);
    let url = server.url(&format!("/tiles/areas/{}/{}/{}.mvt", t.z, t.x, t.y));
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let tile = Tile::decode(response.bytes().await.unwrap()).unwrap();
    let layer = &tile.layers[0];
    let feature = layer
        .features
        .iter()
        .find(|f| f.id == Some(area_id as u64))
        .expect("the area is in its tile");
    let claimed = feature
        .tags
        .chunks(2)
        .find(|kv| layer.keys[kv[0] as usize] == "claimed")
        .expect("areas carry claimed");
    layer.values[claimed[1] as usize]
        .bool_value
        .expect("claimed is a boolean")
}

/// The area of the lookup answer at `point`.
async fn looked_up_area(server: &Server, area_id: i64, (lon, lat): (f64, f64)) -> Value {
    let (status, body) = get(server, &format!("/api/v1/lookup?lon={lon}&lat={lat}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == area_id)
        .unwrap_or_else(|| panic!("the lookup names the area: {body}"))
        .clone()
}

/// Everything a cadre, a planner, an admin and an anonymous caller do with claims.
async fn claims_over_http(url: &str) {
    add_user(url, "admin", "admin", None);
    add_user(url, "planner", "planner", None);
    for i in 0..CADRES {
        let phone = format!("139000000{i:02}");
        add_user(
            url,
            &format!("cadre{i}"),
            "cadre",
            Some((&format!("干部{i}"), &phone)),
        );
    }
    let server = Server::start(url, &["--demo"]);
    let admin = token_of(&server, "admin").await;
    let planner = token_of(&server, "planner").await;
    let mut cadres = Vec::new();
    for i in 0..CADRES {
        cadres.push(token_of(&server, &format!("cadre{i}")).await);
    }

    // The map's view: every area, nobody holds any yet.
    let (status, holders) = get(&server, "/api/v1/areas/holders", None).await;
    assert_eq!(status, StatusCode::OK);
    let areas = holders["areas"].as_array().unwrap();
    assert_eq!(areas.len(), demo_layer("areas").features.len());
    assert!(areas.iter().all(|a| a["holder"].is_null()), "{holders}");
    let area = areas[0]["id"].as_i64().unwrap();
    let code = areas[0]["code"].as_str().unwrap();
    let point = inside_area(code);
    assert!(looked_up_area(&server, area, point).await["holder"].is_null());
    assert!(!claimed_in_tile(&server, area, point).await);
    let claim_path = format!("/api/v1/areas/{area}/claim");

    // Who may not claim, and what cannot be claimed.
    let (status, body) = post(&server, &claim_path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    for token in [&planner, &admin] {
        let (status, body) = post(&server, &claim_path, Some(token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    let (status, body) = post(
        &server,
        "/api/v1/areas/987654/claim",
        Some(&cadres[0]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, lookup) = get(
        &server,
        &format!("/api/v1/lookup?lon={}&lat={}", point.0, point.1),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let grid = lookup["grid"]["id"].as_i64().unwrap();
    let (status, body) = post(
        &server,
        &format!("/api/v1/areas/{grid}/claim"),
        Some(&cadres[0]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("is a grid, not a responsibility area"),
        "{message}"
    );
    let (status, body) = post(&server, "/api/v1/areas/x/claim", Some(&cadres[0]), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // 100 claims at once from 10 cadres: one wins, 99 are told it is taken.
    let client = reqwest::Client::new();
    let attempts = (0..ATTEMPTS).map(|i| {
        let request = client
            .post(server.url(&claim_path))
            .bearer_auth(&cadres[i % CADRES]);
        async move { (i % CADRES, send(request).await) }
    });
    let results = join_all(attempts).await;
    let winners: Vec<&(usize, (StatusCode, Value))> = results
        .iter()
        .filter(|(_, (status, _))| *status == StatusCode::CREATED)
        .collect();
    let statuses: Vec<u16> = results.iter().map(|(_, (s, _))| s.as_u16()).collect();
    assert_eq!(winners.len(), 1, "statuses: {statuses:?}");
    for (_, (status, body)) in &results {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_eq!(error_code(body), "already_claimed", "{body}");
        }
    }
    let (winner, (_, won)) = winners[0];
    let winner = *winner;
    let loser = (winner + 1) % CADRES;
    // The 409s name the holder as residents know them, never by login name.
    for (_, (status, body)) in &results {
        if *status == StatusCode::CONFLICT {
            let message = body["error"]["message"].as_str().unwrap();
            assert!(!message.contains(&format!("cadre{winner}")), "{message}");
        }
    }
    assert_eq!(won["area"]["id"], area);
    assert_eq!(won["area"]["code"], code);
    assert_eq!(won["holder"]["display_name"], format!("干部{winner}"));
    assert!(won["claimed_at"].as_str().unwrap().ends_with('Z'));

    // The store, read directly, has exactly one holder.
    let store = wangge::store::open(url).await.unwrap();
    let current = store.current_claims().await.unwrap();
    assert_eq!(current.len(), 1, "{current:?}");
    assert_eq!(current[0].area_id, area);
    assert_eq!(current[0].holder.name, format!("cadre{winner}"));
    assert_eq!(store.area_claims(area).await.unwrap().len(), 1);

    // The lookup names the holder by display name and phone, never by login name (half of a
    // password guess); the map colours the area as claimed.
    let found = looked_up_area(&server, area, point).await;
    assert_eq!(
        found["holder"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["display_name", "id", "phone"],
        "{found}"
    );
    assert_eq!(found["holder"]["display_name"], format!("干部{winner}"));
    assert_eq!(found["holder"]["phone"], format!("139000000{winner:02}"));
    assert!(claimed_in_tile(&server, area, point).await);
    let (_, holders) = get(&server, "/api/v1/areas/holders", None).await;
    let listed = holders["areas"].as_array().unwrap();
    assert_eq!(listed.iter().filter(|a| !a["holder"].is_null()).count(), 1);
    assert_eq!(listed[0]["holder"]["display_name"], format!("干部{winner}"));
    assert!(listed[0]["holder"].get("name").is_none(), "{holders}");

    // My areas: the winner's with its households, counted independently; nothing for others.
    let (status, mine) = get(&server, "/api/v1/me/areas", Some(&cadres[winner])).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let expected = households_in_area(&server, area).await;
    assert!(expected > 0, "the demo area has households");
    assert_eq!(
        mine["areas"],
        json!([{"id": area, "code": code, "name": areas[0]["name"],
                "claimed_at": won["claimed_at"], "households": expected}])
    );
    let (_, theirs) = get(&server, "/api/v1/me/areas", Some(&cadres[loser])).await;
    assert_eq!(theirs, json!({"areas": []}));
    let (status, _) = get(&server, "/api/v1/me/areas", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, me) = get(&server, "/api/v1/me", Some(&cadres[winner])).await;
    assert_eq!(me["display_name"], format!("干部{winner}"));
    assert_eq!(me["phone"], format!("139000000{winner:02}"));

    // Only the holder (or an admin) releases.
    let release_path = format!("/api/v1/areas/{area}/release");
    let (status, body) = post(&server, &release_path, Some(&cadres[loser]), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = post(&server, &release_path, Some(&planner), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = post(&server, &release_path, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = post(&server, &release_path, Some(&cadres[winner]), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ended_by"], "release");
    assert!(body["released_at"].as_str().unwrap() >= won["claimed_at"].as_str().unwrap());
    let (status, body) = post(&server, &release_path, Some(&cadres[winner]), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(error_code(&body), "not_claimed");
    assert!(looked_up_area(&server, area, point).await["holder"].is_null());
    assert!(!claimed_in_tile(&server, area, point).await);

    // Free again: another cadre claims it.
    let (status, body) = post(&server, &claim_path, Some(&cadres[loser]), None).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let found = looked_up_area(&server, area, point).await;
    assert_eq!(found["holder"]["display_name"], format!("干部{loser}"));

    // An admin reassigns it, to a cadre only.
    let reassign_path = format!("/api/v1/areas/{area}/reassign");
    let to = |name: String| Some(json!({ "user": name }));
    let (status, body) = post(
        &server,
        &reassign_path,
        Some(&cadres[winner]),
        to(format!("cadre{winner}")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = post(&server, &reassign_path, Some(&admin), to("planner".into())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "not_a_cadre");
    let (status, body) = post(&server, &reassign_path, Some(&admin), to("nobody".into())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_code(&body), "unknown_user");
    let (status, body) = post(
        &server,
        &reassign_path,
        Some(&admin),
        Some(json!({"user": 5})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = post(
        &server,
        &reassign_path,
        Some(&admin),
        to(format!("cadre{winner}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["holder"]["display_name"], format!("干部{winner}"));
    let found = looked_up_area(&server, area, point).await;
    assert_eq!(found["holder"]["display_name"], format!("干部{winner}"));
    let (_, theirs) = get(&server, "/api/v1/me/areas", Some(&cadres[loser])).await;
    assert_eq!(theirs, json!({"areas": []}));

    // The history, for anyone signed in, oldest first.
    let history_path = format!("/api/v1/areas/{area}/claims");
    let (status, _) = get(&server, &history_path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, history) = get(&server, &history_path, Some(&planner)).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let claims = history["claims"].as_array().unwrap();
    let summary: Vec<(String, Value)> = claims
        .iter()
        .map(|c| {
            (
                c["holder"]["display_name"].as_str().unwrap().to_string(),
                c["ended_by"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (format!("干部{winner}"), json!("release")),
            (format!("干部{loser}"), json!("reassign")),
            (format!("干部{winner}"), Value::Null),
        ]
    );
    assert_eq!(claims[0]["claimed_at"], won["claimed_at"]);
    assert_eq!(claims[1]["released_at"], claims[2]["claimed_at"]);
    assert!(claims[2]["released_at"].is_null());
    let (status, _) = get(
        &server,
        &format!("/api/v1/areas/{grid}/claims"),
        Some(&planner),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The trace has each change with the holder before and after.
    let (status, trace) = get(
        &server,
        &format!("/api/v1/audit?entity=area&id={area}"),
        Some(&admin),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let records = trace["records"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["claim", "release", "claim", "reassign"],
        "{trace}"
    );
    assert_eq!(
        records[3]["before"]["holder"]["name"],
        format!("cadre{loser}")
    );
    assert_eq!(
        records[3]["after"]["holder"]["name"],
        format!("cadre{winner}")
    );

    // A revoked token claims nothing.
    let (status, _) = post(&server, "/api/v1/auth/logout", Some(&cadres[loser]), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let other = areas[1]["id"].as_i64().unwrap();
    let (status, body) = post(
        &server,
        &format!("/api/v1/areas/{other}/claim"),
        Some(&cadres[loser]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(store.area_claims(other).await.unwrap().is_empty());
}

#[tokio::test]
async fn claims_on_sqlite() {
    let db = common::temp_sqlite();
    claims_over_http(&db.url).await;
}

#[tokio::test]
async fn claims_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    claims_over_http(&url).await;
}

/// Seconds since the Unix epoch of `YYYY-MM-DDTHH:MM:SSZ`, read with the `time` crate rather
/// than the library's own code.
fn unix_seconds(t: &str) -> i64 {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{t}: {e}"))
        .unix_timestamp()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Logs in and returns the token and how many seconds after the login it expires, bounded by
/// the clock read before and after.
async fn login_lifetime(server: &Server, name: &str) -> (String, i64, i64) {
    let before = now();
    let (status, body) = send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": format!("pw of {name}")})),
    )
    .await;
    let after = now();
    assert_eq!(status, StatusCode::OK, "{body}");
    let expires = unix_seconds(body["expires_at"].as_str().unwrap());
    (
        body["token"].as_str().unwrap().to_string(),
        expires - after,
        expires - before,
    )
}

/// `--token-ttl` beats `WANGGE_TOKEN_TTL`, which beats the 12-hour default; a token stops
/// working once its lifetime has passed.
#[tokio::test]
async fn tokens_live_as_long_as_configured() {
    let db = common::temp_sqlite();
    add_user(&db.url, "cadre", "cadre", None);

    let server = Server::start(&db.url, &[]);
    let (_, low, high) = login_lifetime(&server, "cadre").await;
    assert!((low..=high).contains(&(12 * 3600)), "{low}..{high}");
    drop(server);

    let server = Server::start_with_env(&db.url, &[], &[("WANGGE_TOKEN_TTL", "600")]);
    let (_, low, high) = login_lifetime(&server, "cadre").await;
    assert!((low..=high).contains(&600), "{low}..{high}");
    drop(server);

    let server = Server::start_with_env(
        &db.url,
        &["--token-ttl", "3"],
        &[("WANGGE_TOKEN_TTL", "600")],
    );
    let (token, low, high) = login_lifetime(&server, "cadre").await;
    assert!((low..=high).contains(&3), "{low}..{high}");
    let expires = now() + high;
    // Wait for the expiry by polling; the token must work until then and fail after.
    loop {
        let (status, body) = get(&server, "/api/v1/me", Some(&token)).await;
        if status == StatusCode::UNAUTHORIZED {
            assert!(now() >= expires - 1, "expired early: {body}");
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(now() <= expires + 2, "the token outlived its lifetime");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let (status, body) = post(&server, "/api/v1/areas/1/claim", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    drop(server);

    for bad in ["0", "-5", "soon"] {
        let flag = format!("--token-ttl={bad}");
        let output = common::wangge(&["serve", "--database", &db.url, &flag]);
        assert!(!output.status.success(), "--token-ttl {bad} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--token-ttl"), "{stderr}");
    }
}

/// Deleting a held area through an edit ends its claim in the store (a trigger) and drops its
/// holder from the map data in memory, where `set_holder` put it.
#[tokio::test]
async fn a_deleted_area_leaves_no_holder_in_memory() {
    use wangge::auth::Role;
    use wangge::model::PlaceKind;
    use wangge::model::edit::{EditAction, PlaceChange};
    let db = common::temp_sqlite();
    let store = common::sqlite_store(&db).await;
    let app = std::sync::Arc::new(wangge::app::App::open(store.clone()).await.unwrap());
    for (layer, text) in wangge::demo::LAYERS.iter().take(5) {
        let data = wangge::geodata::parse_layer(text, *layer, None, || {}).unwrap();
        app.import(data).await.unwrap();
    }
    let areas: Vec<_> = app
        .map_data()
        .places
        .iter()
        .filter(|p| p.kind == PlaceKind::Area)
        .cloned()
        .collect();
    let (gone, kept) = (&areas[0], &areas[1]);
    let cadre = store.create_user("zhang", Role::Cadre, "h").await.unwrap();
    for area in [gone, kept] {
        app.claim_area(area.id, cadre.id).await.unwrap();
    }
    let planner = store.create_user("li", Role::Planner, "h").await.unwrap();
    app.edit(
        EditAction::Delete,
        Some(planner.id),
        vec![PlaceChange::Delete {
            id: gone.id,
            expected_version: gone.version,
        }],
    )
    .await
    .unwrap();
    let holders = app.map_data().holders.clone();
    assert!(!holders.contains_key(&gone.id), "{holders:?}");
    assert_eq!(holders[&kept.id].id, cadre.id);
    // What memory says is what a fresh read of the store says.
    app.reload().await.unwrap();
    assert_eq!(app.map_data().holders, holders);
}
