//! Households and the visit diary over real HTTP against the running binary, on the demo street:
//! who sees which households (a role × endpoint matrix), visits once per key with the geofence,
//! needs met, the due walk, and no personal data in tiles.

mod common;

use common::Server;
use geo::{Contains, Distance, Haversine, MultiPolygon, Point};
use geojson::FeatureCollection;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The demo street with an admin, a planner, two cadres (one holding area Q01), a secretary of
/// community 370202010001 and one without a community; shared by the tests of this file.
struct Demo {
    _db: common::TempSqlite,
    server: Server,
    tokens: std::collections::HashMap<&'static str, String>,
}

const USERS: [(&str, &str, Option<&str>); 6] = [
    ("admin", "admin", None),
    ("planner", "planner", None),
    ("cadre", "cadre", None),
    ("idle", "cadre", None),
    ("shuji", "secretary", Some("370202010001")),
    ("lonely", "secretary", None),
];
const AREA: &str = "370202010-Q01";
const COMMUNITY: &str = "370202010001";

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

async fn demo() -> &'static Demo {
    static DEMO: tokio::sync::OnceCell<Demo> = tokio::sync::OnceCell::const_new();
    DEMO.get_or_init(Demo::start).await
}

impl Demo {
    /// A server of its own, for tests that count what the others would change.
    async fn start() -> Demo {
        let db = common::temp_sqlite();
        let server = Server::start(&db.url, &["--demo"]);
        let mut tokens = std::collections::HashMap::new();
        for (name, role, community) in USERS {
            let mut args = vec!["user", "add", "--name", name, "--role", role, "--database"];
            args.push(&db.url);
            if let Some(code) = community {
                args.extend(["--community", code]);
            }
            let out = common::wangge_with_stdin(&args, &format!("pw of {name}\n"));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let (status, body) = send(
                reqwest::Client::new()
                    .post(server.url("/api/v1/auth/login"))
                    .json(&json!({"name": name, "password": format!("pw of {name}")})),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            tokens.insert(name, body["token"].as_str().unwrap().to_string());
        }
        let demo = Demo {
            _db: db,
            server,
            tokens,
        };
        let area = place_id(&demo, "areas", AREA).await;
        let (status, body) = demo
            .post(
                &format!("/api/v1/areas/{area}/claim"),
                Some("cadre"),
                json!({}),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        demo
    }

    async fn get(&self, path: &str, who: Option<&str>) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new().get(self.server.url(path));
        if let Some(who) = who {
            request = request.bearer_auth(&self.tokens[who]);
        }
        send(request).await
    }

    async fn post(
        &self,
        path: &str,
        who: Option<&str>,
        body: Value,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .post(self.server.url(path))
            .json(&body);
        if let Some(who) = who {
            request = request.bearer_auth(&self.tokens[who]);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        send(request).await
    }
}

async fn place_id(demo: &Demo, layer: &str, code: &str) -> i64 {
    let (_, body) = demo.get(&format!("/api/v1/{layer}"), None).await;
    body["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {layer}"))["id"]
        .as_i64()
        .unwrap()
}

fn demo_layer(name: &str) -> FeatureCollection {
    let path = format!("{}/geodata/demo/{name}.geojson", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

/// The codes of the demo households inside the outline of the place `code` of `layer`, found
/// with `geo` from the demo files: an independent answer to "whose households are these".
fn households_inside(layer: &str, code: &str) -> BTreeSet<String> {
    let places = demo_layer(layer);
    let outline = places
        .features
        .iter()
        .find(|f| f.property("code").and_then(Value::as_str) == Some(code))
        .unwrap();
    let outline: MultiPolygon<f64> = match geo::Geometry::<f64>::try_from(outline.clone()).unwrap()
    {
        geo::Geometry::MultiPolygon(m) => m,
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        other => panic!("{other:?}"),
    };
    demo_layer("households")
        .features
        .iter()
        .filter(|f| {
            let p: Point<f64> = geo::Geometry::<f64>::try_from(f.geometry.clone().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            outline.contains(&p)
        })
        .map(|f| f.property("code").unwrap().as_str().unwrap().to_string())
        .collect()
}

/// Every household a user sees, over all pages.
async fn seen_by(demo: &Demo, who: &str) -> (StatusCode, BTreeSet<String>, Vec<Value>) {
    let mut codes = BTreeSet::new();
    let mut features = Vec::new();
    let mut offset = 0;
    loop {
        let (status, body) = demo
            .get(
                &format!("/api/v1/households?limit=500&offset={offset}"),
                Some(who),
            )
            .await;
        if status != StatusCode::OK {
            return (status, codes, features);
        }
        let page = body["features"].as_array().unwrap().clone();
        assert_eq!(body["numberReturned"], page.len());
        offset += page.len();
        for f in &page {
            codes.insert(f["properties"]["code"].as_str().unwrap().to_string());
        }
        features.extend(page);
        if offset >= body["numberMatched"].as_u64().unwrap() as usize {
            return (status, codes, features);
        }
    }
}

#[tokio::test]
async fn each_role_sees_exactly_the_households_it_answers_for() {
    let demo = demo().await;
    let all: BTreeSet<String> = demo_layer("households")
        .features
        .iter()
        .map(|f| f.property("code").unwrap().as_str().unwrap().to_string())
        .collect();
    let (status, admin, features) = seen_by(demo, "admin").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(admin, all);
    // Personal data comes back to those who may see it.
    assert!(
        features
            .iter()
            .all(|f| f["properties"]["head_name"].is_string())
    );

    let (status, cadre, _) = seen_by(demo, "cadre").await;
    assert_eq!(status, StatusCode::OK);
    let in_area = households_inside("areas", AREA);
    assert!(!in_area.is_empty());
    assert_eq!(
        cadre, in_area,
        "the cadre sees the households of the area they hold"
    );

    let (status, idle, _) = seen_by(demo, "idle").await;
    assert_eq!(
        (status, idle.len()),
        (StatusCode::OK, 0),
        "no areas, no households"
    );

    let (status, secretary, _) = seen_by(demo, "shuji").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(secretary, households_inside("communities", COMMUNITY));

    for who in ["planner", "lonely"] {
        let (status, body) = demo.get("/api/v1/households", Some(who)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
        assert!(!body.to_string().contains("head_name"));
    }
    let (status, body) = demo.get("/api/v1/households", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

#[tokio::test]
async fn one_household_answers_only_to_those_who_see_it() {
    let demo = demo().await;
    let (_, body) = demo.get("/api/v1/households?limit=1", Some("cadre")).await;
    let mine = body["features"][0]["id"].as_i64().unwrap();
    let (_, body) = demo
        .get(
            &format!("/api/v1/households?limit=1&offset={}", 7000),
            Some("admin"),
        )
        .await;
    let elsewhere = body["features"][0]["id"].as_i64().unwrap();
    let expect = [
        ("admin", mine, StatusCode::OK),
        ("admin", elsewhere, StatusCode::OK),
        ("cadre", mine, StatusCode::OK),
        ("cadre", elsewhere, StatusCode::NOT_FOUND),
        ("idle", mine, StatusCode::NOT_FOUND),
        ("planner", mine, StatusCode::FORBIDDEN),
        ("lonely", mine, StatusCode::FORBIDDEN),
    ];
    for (who, id, status) in expect {
        for path in [
            format!("/api/v1/households/{id}"),
            format!("/api/v1/households/{id}/visits"),
        ] {
            let (got, body) = demo.get(&path, Some(who)).await;
            assert_eq!(got, status, "{who} {path}: {body}");
            let named = body.to_string().contains("head_name");
            assert_eq!(
                named,
                got == StatusCode::OK && path.ends_with(&id.to_string())
            );
        }
    }
    let (status, _) = demo.get(&format!("/api/v1/households/{mine}"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A household of the cadre's area, with its point and building.
async fn my_household(demo: &Demo, offset: usize) -> (i64, f64, f64) {
    let (_, body) = demo
        .get(
            &format!("/api/v1/households?limit=1&offset={offset}"),
            Some("cadre"),
        )
        .await;
    let f = &body["features"][0];
    let c = &f["geometry"]["coordinates"];
    (
        f["id"].as_i64().unwrap(),
        c[0].as_f64().unwrap(),
        c[1].as_f64().unwrap(),
    )
}

fn visit(household: i64, lon: f64, lat: f64, accuracy: f64, notes: &str) -> Value {
    json!({
        "household": household,
        "visited_at": "2026-11-30T10:30:00+08:00",
        "position": {"lon": lon, "lat": lat, "accuracy_m": accuracy},
        "notes": notes,
        "needs": [{"type": "wristband", "note": "独居老人需要智能手环"}],
    })
}

#[tokio::test]
async fn a_visit_is_stored_once_and_says_whether_it_was_at_the_door() {
    let demo = demo().await;
    let (id, lon, lat) = my_household(demo, 3).await;
    let body = visit(id, lon, lat, 10.0, "身体尚好");
    let (status, first) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            body.clone(),
            Some("phone-a-1"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["on_site"], true);
    assert_eq!(first["distance_m"], 0.0, "inside the household's building");
    // The phone lost the answer and sends again: the stored visit, nothing new.
    let (status, again) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            body.clone(),
            Some("phone-a-1"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["visit"]["id"], first["visit"]["id"]);
    let (status, reused) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            visit(id, lon, lat, 10.0, "另一次"),
            Some("phone-a-1"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{reused}");
    assert_eq!(reused["error"]["code"], "idempotency_key_reused");
    let (_, visits) = demo
        .get(&format!("/api/v1/households/{id}/visits"), Some("cadre"))
        .await;
    assert_eq!(visits["visits"].as_array().unwrap().len(), 1);
    let (_, household) = demo
        .get(&format!("/api/v1/households/{id}"), Some("cadre"))
        .await;
    assert_eq!(
        household["properties"]["last_visit_at"],
        "2026-11-30T02:30:00.000Z"
    );

    // 150 m away, inside the street: recorded, but not on site.
    let mut far = None;
    for (dx, dy) in [(0.0, 1.0), (0.0, -1.0), (1.0, 0.0), (-1.0, 0.0)] {
        let (x, y) = (lon + dx * 150.0 / 90_000.0, lat + dy * 150.0 / 111_195.0);
        let (_, found) = demo
            .get(&format!("/api/v1/lookup?lon={x}&lat={y}"), None)
            .await;
        if found["grid"].is_object() {
            far = Some((x, y));
            break;
        }
    }
    let (far_lon, far) = far.expect("a point 150 m away inside a grid");
    let (status, away) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            visit(id, far_lon, far, 10.0, "电话回访"),
            Some("phone-a-2"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{away}");
    assert_eq!(away["on_site"], false);
    let metres = away["distance_m"].as_f64().unwrap();
    let expected = Haversine.distance(Point::new(lon, lat), Point::new(far_lon, far));
    assert!((metres - expected).abs() < 1.0, "{metres} vs {expected}");
    // An accuracy of 0 (a pin placed by hand, a mocked location) is never on site.
    let (_, pinned) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            visit(id, lon, lat, 0.0, "定位"),
            Some("phone-a-3"),
        )
        .await;
    assert_eq!(pinned["on_site"], false, "{pinned}");
}

#[tokio::test]
async fn only_the_holder_records_and_bad_visits_change_nothing() {
    let demo = demo().await;
    let (id, lon, lat) = my_household(demo, 5).await;
    let body = visit(id, lon, lat, 10.0, "走访");
    let expect = [
        ("idle", StatusCode::NOT_FOUND),
        ("planner", StatusCode::NOT_FOUND),
        ("shuji", StatusCode::FORBIDDEN),
    ];
    for (who, status) in expect {
        let (got, answer) = demo
            .post("/api/v1/visits", Some(who), body.clone(), Some("k-1"))
            .await;
        assert_eq!(got, status, "{who}: {answer}");
    }
    let (status, _) = demo
        .post("/api/v1/visits", None, body.clone(), Some("k"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = demo
        .post("/api/v1/visits", Some("cadre"), body.clone(), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "missing_idempotency_key");

    let mut future = body.clone();
    future["visited_at"] = json!("2099-01-01T00:00:00Z");
    let mut outside = body.clone();
    outside["position"] = json!({"lon": 116.39, "lat": 39.9, "accuracy_m": 5});
    let mut unknown_need = body.clone();
    unknown_need["needs"] = json!([{"type": "spaceship"}]);
    let mut bad_time = body.clone();
    bad_time["visited_at"] = json!("yesterday");
    for (sent, code) in [
        (future, "future_visit"),
        (outside, "outside_grids"),
        (unknown_need, "unknown_need_type"),
        (bad_time, "invalid_time"),
    ] {
        let (status, answer) = demo
            .post("/api/v1/visits", Some("cadre"), sent, Some(code))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["error"]["code"], code);
    }
    let (_, visits) = demo
        .get(&format!("/api/v1/households/{id}/visits"), Some("admin"))
        .await;
    assert_eq!(visits["visits"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn needs_are_met_by_those_who_answer_for_the_household() {
    let demo = demo().await;
    let (id, lon, lat) = my_household(demo, 7).await;
    let (_, stored) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            visit(id, lon, lat, 10.0, "需要手环"),
            Some("needs-1"),
        )
        .await;
    let need = stored["visit"]["needs"][0]["id"].as_i64().unwrap();
    let (status, _) = demo
        .post(
            &format!("/api/v1/needs/{need}/met"),
            Some("idle"),
            json!({}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, met) = demo
        .post(
            &format!("/api/v1/needs/{need}/met"),
            Some("cadre"),
            json!({}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{met}");
    assert!(met["need"]["met_at"].is_string());
    let (status, _) = demo
        .post("/api/v1/needs/999999/met", Some("cadre"), json!({}), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn my_due_households_come_in_a_walk_of_the_stated_length() {
    let demo = demo().await;
    let (status, walk) = demo
        .get(
            "/api/v1/me/visits/due?lon=120.3745&lat=36.0690",
            Some("cadre"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{walk}");
    let features = walk["features"].as_array().unwrap();
    assert!(!features.is_empty());
    assert!(walk["numberMatched"].as_u64().unwrap() as usize >= features.len());
    let mut at = Point::new(120.3745, 36.0690);
    let mut metres = 0.0;
    for f in features {
        let c = &f["geometry"]["coordinates"];
        let next = Point::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        metres += Haversine.distance(at, next);
        at = next;
        assert!(f["properties"]["head_name"].is_string());
    }
    let stated = walk["walk_m"].as_f64().unwrap();
    assert!((stated - metres).abs() < 1.0, "{stated} vs {metres}");
    // Only households due now are in it (other tests of this file visit some meanwhile, so
    // counts are compared on a server of their own in the overdue-list test).
    let now = time::OffsetDateTime::now_utc();
    for f in features {
        if let Some(due) = f["properties"]["next_visit_due"].as_str() {
            let due =
                time::OffsetDateTime::parse(due, &time::format_description::well_known::Rfc3339)
                    .unwrap();
            assert!(due <= now, "{due} is not due yet");
        }
    }
    // An admin sees every household: the walk takes the nearest 2,000 of those due.
    let start = Point::new(120.3745, 36.0690);
    let (status, everyone) = demo
        .get(
            "/api/v1/me/visits/due?lon=120.3745&lat=36.0690",
            Some("admin"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let walked = everyone["features"].as_array().unwrap();
    assert_eq!(walked.len(), 2_000);
    assert!(everyone["numberMatched"].as_u64().unwrap() > 2_000);
    let from_start = |c: &Value| {
        Haversine.distance(
            start,
            Point::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap()),
        )
    };
    let farthest = walked
        .iter()
        .map(|f| from_start(&f["geometry"]["coordinates"]))
        .fold(0.0, f64::max);
    let walked_ids: BTreeSet<i64> = walked.iter().map(|f| f["id"].as_i64().unwrap()).collect();
    let (_, due) = demo
        .get("/api/v1/households?due=true&limit=500", Some("admin"))
        .await;
    for f in due["features"].as_array().unwrap() {
        if from_start(&f["geometry"]["coordinates"]) < farthest - 1.0 {
            let id = f["id"].as_i64().unwrap();
            // Visited by another test meanwhile, it may have left the walk; else it is in it.
            assert!(
                walked_ids.contains(&id) || f["properties"]["last_visit_at"].is_string(),
                "{id} is nearer than the walk's farthest door but not in it"
            );
        }
    }
    let (status, _) = demo
        .get(
            "/api/v1/me/visits/due?lon=120.3745&lat=36.0690",
            Some("planner"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = demo
        .get("/api/v1/me/visits/due?lon=120.3745", Some("cadre"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tiles_and_ogc_never_carry_names_or_phones() {
    let demo = demo().await;
    let (_, body) = demo.get("/api/v1/households?limit=20", Some("admin")).await;
    for f in body["features"].as_array().unwrap() {
        let c = &f["geometry"]["coordinates"];
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        let tile = wangge::spatial::tiles::TileId::containing(lon, lat, 16);
        let url = format!("/tiles/households/{}/{}/{}.mvt", tile.z, tile.x, tile.y);
        let bytes = reqwest::get(demo.server.url(&url))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(!bytes.is_empty(), "{url} has the household");
        let text = String::from_utf8_lossy(&bytes);
        let p = &f["properties"];
        // The household's code names its room (…-B001-1-0101); the room alone is too short a
        // text to look for in binary tiles (grid codes contain "0201").
        for private in [&p["head_name"], &p["phone"], &p["code"]] {
            if let Some(s) = private.as_str() {
                assert!(!text.contains(s), "{url} carries {s}");
            }
        }
    }
    // The OGC collections publish no households at all: tests/ogc.rs.
}

/// An instant `days` ago, RFC 3339.
fn days_ago(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn row<'a>(rows: &'a Value, code: &str) -> &'a Value {
    rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no row {code} in {rows}"))
}

#[tokio::test]
async fn coverage_needs_and_pioneers_count_the_diary() {
    let demo = Demo::start().await;
    let in_area = households_inside("areas", AREA).len();
    let (status, before) = demo
        .get("/api/v1/stats/coverage?level=area", Some("planner"))
        .await;
    assert_eq!(status, StatusCode::OK, "{before}");
    let q01 = row(&before, AREA);
    assert_eq!(q01["households"], in_area);
    assert_eq!(
        (q01["visited"].as_u64(), q01["overdue"].as_u64()),
        (Some(0), Some(in_area as u64))
    );
    let (_, streets) = demo
        .get("/api/v1/stats/coverage?level=street", Some("admin"))
        .await;
    let all = demo_layer("households").features.len();
    assert_eq!(streets["rows"][0]["households"], all);

    // Yesterday at one door, 40 days ago at another.
    let (recent, lon, lat) = my_household(&demo, 0).await;
    let (old, old_lon, old_lat) = my_household(&demo, 1).await;
    for (id, x, y, at, key) in [
        (recent, lon, lat, days_ago(1), "s-1"),
        (old, old_lon, old_lat, days_ago(40), "s-2"),
    ] {
        let mut body = visit(id, x, y, 10.0, "走访");
        body["visited_at"] = json!(at);
        let (status, answer) = demo
            .post("/api/v1/visits", Some("cadre"), body, Some(key))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let (_, month) = demo
        .get("/api/v1/stats/coverage?level=area&days=30", Some("shuji"))
        .await;
    let (_, two_months) = demo
        .get("/api/v1/stats/coverage?level=area&days=60", Some("cadre"))
        .await;
    assert_eq!(row(&month, AREA)["visited"], 1);
    assert_eq!(row(&two_months, AREA)["visited"], 2);
    let coverage = row(&month, AREA)["coverage"].as_f64().unwrap();
    assert!(
        (coverage - 1.0 / in_area as f64).abs() < 0.001,
        "{coverage}"
    );
    // Yesterday's household is not overdue whatever its tags (7 days at least).
    assert!(row(&month, AREA)["overdue"].as_u64().unwrap() < in_area as u64);

    let (_, needs) = demo
        .get("/api/v1/stats/needs?level=area", Some("planner"))
        .await;
    assert_eq!(row(&needs, AREA)["open"]["wristband"], 2);
    let (_, visits) = demo
        .get(
            &format!("/api/v1/households/{recent}/visits"),
            Some("cadre"),
        )
        .await;
    let need = visits["visits"][0]["needs"][0]["id"].as_i64().unwrap();
    demo.post(
        &format!("/api/v1/needs/{need}/met"),
        Some("cadre"),
        json!({}),
        None,
    )
    .await;
    let (_, needs) = demo
        .get("/api/v1/stats/needs?level=grid", Some("planner"))
        .await;
    let met: u64 = needs["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["met"]["wristband"].as_u64())
        .sum();
    assert_eq!(met, 1);

    let (_, pioneers) = demo
        .get("/api/v1/stats/pioneers?days=60", Some("shuji"))
        .await;
    let first = &pioneers["rows"][0];
    assert_eq!(
        (
            first["rank"].as_u64(),
            first["on_site_visits"].as_u64(),
            first["needs_met"].as_u64()
        ),
        (Some(1), Some(2), Some(1))
    );
    assert!(
        !pioneers.to_string().contains("\"cadre\""),
        "no login names: {pioneers}"
    );
    let (_, month) = demo
        .get("/api/v1/stats/pioneers?days=30", Some("admin"))
        .await;
    assert_eq!(month["rows"][0]["on_site_visits"], 1);

    for (path, status) in [
        (
            "/api/v1/stats/coverage?level=country",
            StatusCode::BAD_REQUEST,
        ),
        ("/api/v1/stats/coverage?days=0", StatusCode::BAD_REQUEST),
        ("/api/v1/stats/pioneers?days=99999", StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = demo.get(path, Some("admin")).await;
        assert_eq!(got, status, "{path}: {body}");
    }
    let (status, _) = demo.get("/api/v1/stats/coverage", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// A request with a JSON body and optional `If-Match`, answering status, ETag and body.
async fn write(
    demo: &Demo,
    method: reqwest::Method,
    path: &str,
    who: Option<&str>,
    body: Value,
    if_match: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .request(method, demo.server.url(path))
        .json(&body);
    if let Some(who) = who {
        request = request.bearer_auth(&demo.tokens[who]);
    }
    if let Some(tag) = if_match {
        request = request.header("If-Match", tag);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

fn new_household(code: &str, lon: f64, lat: f64, tags: Value) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "code": code, "address": "山东省青岛市市南区珠海路街道新建住户", "head_name": "赵新",
            "phone": "13700001111", "people": 2, "tags": tags,
        },
    })
}

#[tokio::test]
async fn households_are_created_and_edited_by_those_who_answer_for_them() {
    use reqwest::Method;
    let demo = Demo::start().await;
    let (_, lon, lat) = my_household(&demo, 0).await;
    let (_, before) = demo.get("/api/v1/households?limit=1", Some("cadre")).await;
    let mine = before["numberMatched"].as_u64().unwrap();

    let body = new_household("NEW-1", lon, lat, json!(["elderly_alone"]));
    let (status, etag, created) = write(
        &demo,
        Method::POST,
        "/api/v1/households",
        Some("cadre"),
        body.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(etag.as_deref(), Some("\"1\""));
    assert_eq!(created["properties"]["head_name"], "赵新");
    assert!(
        !created["properties"]["area_ids"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let id = created["id"].as_i64().unwrap();
    let (_, after) = demo.get("/api/v1/households?limit=1", Some("cadre")).await;
    assert_eq!(
        after["numberMatched"].as_u64().unwrap(),
        mine + 1,
        "it is in my list at once"
    );

    let (status, _, again) = write(
        &demo,
        Method::POST,
        "/api/v1/households",
        Some("cadre"),
        body.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    // Outside the cadre's areas, by roles that may not, with an unknown tag, outside every grid.
    let (_, far) = demo
        .get("/api/v1/households?limit=1&offset=7000", Some("admin"))
        .await;
    let c = &far["features"][0]["geometry"]["coordinates"];
    let elsewhere = new_household(
        "NEW-2",
        c[0].as_f64().unwrap(),
        c[1].as_f64().unwrap(),
        json!([]),
    );
    for (who, sent, status) in [
        (Some("cadre"), elsewhere, StatusCode::FORBIDDEN),
        (
            Some("planner"),
            new_household("NEW-3", lon, lat, json!([])),
            StatusCode::FORBIDDEN,
        ),
        (
            None,
            new_household("NEW-4", lon, lat, json!([])),
            StatusCode::UNAUTHORIZED,
        ),
        (
            Some("cadre"),
            new_household("NEW-5", lon, lat, json!(["spaceship_pilot"])),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            Some("cadre"),
            new_household("NEW-6", 116.39, 39.9, json!([])),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (got, _, answer) =
            write(&demo, Method::POST, "/api/v1/households", who, sent, None).await;
        assert_eq!(got, status, "{who:?}: {answer}");
    }

    let path = format!("/api/v1/households/{id}");
    let change =
        json!({"type": "Feature", "geometry": null, "properties": {"phone": "13799998888"}});
    let (status, _, _) = write(
        &demo,
        Method::PATCH,
        &path,
        Some("cadre"),
        change.clone(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    let (status, etag, patched) = write(
        &demo,
        Method::PATCH,
        &path,
        Some("cadre"),
        change.clone(),
        Some("\"1\""),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(patched["properties"]["phone"], "13799998888");
    assert_eq!(
        patched["properties"]["head_name"], "赵新",
        "properties not given stay"
    );
    assert_eq!(
        patched["geometry"], created["geometry"],
        "no geometry keeps the location"
    );
    let (status, _, stale) = write(
        &demo,
        Method::PATCH,
        &path,
        Some("cadre"),
        change,
        Some("\"1\""),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{stale}");
    let (status, _, _) = write(
        &demo,
        Method::PATCH,
        &path,
        Some("idle"),
        json!({"type": "Feature", "properties": {}}),
        Some("\"2\""),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a household outside one's view is not there"
    );

    let (status, history) = demo.get(&format!("{path}/history"), Some("cadre")).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let changes = history["changes"].as_array().unwrap();
    let actions: Vec<&str> = changes
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "update"]);
    assert_eq!(changes[1]["before"]["phone"], "13700001111");
    assert_eq!(changes[1]["after"]["phone"], "13799998888");
    let (status, _) = demo.get(&format!("{path}/history"), Some("planner")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn overdue_lists_per_cadre_and_community_match_what_each_sees() {
    let demo = Demo::start().await;
    let (_, me) = demo.get("/api/v1/me", Some("cadre")).await;
    let cadre = me["id"].as_i64().unwrap();
    let count = |body: &Value| body["numberMatched"].as_u64().unwrap();
    let (_, own) = demo
        .get("/api/v1/households?due=true&limit=0", Some("cadre"))
        .await;
    let (status, listed) = demo
        .get(
            &format!("/api/v1/households?due=true&cadre={cadre}&limit=0"),
            Some("admin"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert!(count(&own) > 0);
    assert_eq!(
        count(&listed),
        count(&own),
        "the admin's list of the cadre's overdue households"
    );
    let (_, idle) = demo.get("/api/v1/me", Some("idle")).await;
    let (_, none) = demo
        .get(
            &format!("/api/v1/households?cadre={}&limit=0", idle["id"]),
            Some("admin"),
        )
        .await;
    assert_eq!(count(&none), 0, "a cadre without areas answers for nobody");

    let community = place_id(&demo, "communities", COMMUNITY).await;
    let (_, secretary) = demo.get("/api/v1/households?limit=0", Some("shuji")).await;
    let (_, by_admin) = demo
        .get(
            &format!("/api/v1/households?community={community}&limit=0"),
            Some("admin"),
        )
        .await;
    assert_eq!(count(&by_admin), count(&secretary));
    assert_eq!(
        count(&by_admin),
        households_inside("communities", COMMUNITY).len() as u64
    );
}

#[tokio::test]
async fn a_visit_is_corrected_by_a_new_one_and_kept() {
    let demo = Demo::start().await;
    let (id, lon, lat) = my_household(&demo, 2).await;
    let (_, first) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            visit(id, lon, lat, 10.0, "入户"),
            Some("v-1"),
        )
        .await;
    let original = first["visit"]["id"].as_i64().unwrap();
    let mut fix = visit(id, lon, lat, 0.0, "其实是电话回访");
    fix["corrects"] = json!(original);
    let (status, _) = demo
        .post("/api/v1/visits", Some("shuji"), fix.clone(), Some("v-2"))
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a secretary records no visits"
    );
    let (status, fixed) = demo
        .post("/api/v1/visits", Some("cadre"), fix.clone(), Some("v-2"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{fixed}");
    assert_eq!(fixed["visit"]["corrects"], original);
    let (status, again) = demo
        .post("/api/v1/visits", Some("admin"), fix, Some("v-3"))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "already_corrected");

    let (_, visits) = demo
        .get(&format!("/api/v1/households/{id}/visits"), Some("cadre"))
        .await;
    let visits = visits["visits"].as_array().unwrap();
    assert_eq!(visits.len(), 2, "the corrected visit is kept");
    let kept = visits.iter().find(|v| v["id"] == original).unwrap();
    assert_eq!(kept["corrected_by"], fixed["visit"]["id"]);
    assert_eq!(kept["notes"], "入户");
    let (_, household) = demo
        .get(&format!("/api/v1/households/{id}"), Some("cadre"))
        .await;
    assert_eq!(
        household["properties"]["last_on_site_visit_at"],
        Value::Null,
        "the correction (accuracy 0) is not on site, and the corrected visit counts no more"
    );
}
