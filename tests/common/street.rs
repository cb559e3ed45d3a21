//! The demo street as the household and visit tests use it over real HTTP: a running server with
//! an admin, a planner, two cadres (one holding area Q01), a secretary of community
//! 370202010001 and one without a community, logged in; and what those tests compare with,
//! computed from the demo files with `geo`.

use super::Server;
use geo::{Contains, MultiPolygon, Point};
use geojson::FeatureCollection;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The demo street with an admin, a planner, two cadres (one holding area Q01), a secretary of
/// community 370202010001 and one without a community; shared by the tests of one test file
/// ([`demo`]) or started for one test ([`Demo::start`]).
pub struct Demo {
    _db: super::TempSqlite,
    pub server: Server,
    pub tokens: std::collections::HashMap<&'static str, String>,
}

pub const USERS: [(&str, &str, Option<&str>); 6] = [
    ("admin", "admin", None),
    ("planner", "planner", None),
    ("cadre", "cadre", None),
    ("idle", "cadre", None),
    ("shuji", "secretary", Some("370202010001")),
    ("lonely", "secretary", None),
];

pub const AREA: &str = "370202010-Q01";

pub const COMMUNITY: &str = "370202010001";

pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, body)
}

pub async fn demo() -> &'static Demo {
    static DEMO: tokio::sync::OnceCell<Demo> = tokio::sync::OnceCell::const_new();
    DEMO.get_or_init(Demo::start).await
}

impl Demo {
    /// A server of its own, for tests that count what the others would change.
    pub async fn start() -> Demo {
        let db = super::temp_sqlite();
        // The tests of one file post more anonymous reports than a resident would.
        let server = Server::start(&db.url, &["--demo", "--open311-posts-per-minute", "1000"]);
        let mut tokens = std::collections::HashMap::new();
        for (name, role, community) in USERS {
            let mut args = vec!["user", "add", "--name", name, "--role", role, "--database"];
            args.push(&db.url);
            if let Some(code) = community {
                args.extend(["--community", code]);
            }
            let out = super::wangge_with_stdin(&args, &format!("pw of {name}\n"));
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

    /// Adds an account with `wangge user add` (role and extra flags as given) and logs it in.
    pub async fn sign_up(&mut self, name: &'static str, role: &str, extra: &[&str]) {
        let mut args = vec!["user", "add", "--name", name, "--role", role, "--database"];
        args.push(&self._db.url);
        args.extend(extra);
        let out = super::wangge_with_stdin(&args, &format!("pw of {name}\n"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (status, body) = send(
            reqwest::Client::new()
                .post(self.server.url("/api/v1/auth/login"))
                .json(&json!({"name": name, "password": format!("pw of {name}")})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        self.tokens
            .insert(name, body["token"].as_str().unwrap().to_string());
    }

    /// A GET answered with bytes (a photo): its status, the value of `header` and the body.
    pub async fn get_bytes(
        &self,
        path: &str,
        who: Option<&str>,
        header: &str,
    ) -> (StatusCode, String, Vec<u8>) {
        let mut request = reqwest::Client::new().get(self.server.url(path));
        if let Some(who) = who {
            request = request.bearer_auth(&self.tokens[who]);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let value = response
            .headers()
            .get(header)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, value, response.bytes().await.unwrap().to_vec())
    }

    /// An image sent as the body of `request` (a POST or a PUT to this server) by `who`.
    pub async fn send_image(
        &self,
        request: reqwest::RequestBuilder,
        who: &str,
        media: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        send(
            request
                .bearer_auth(&self.tokens[who])
                .header("Content-Type", media)
                .body(body),
        )
        .await
    }

    pub async fn get(&self, path: &str, who: Option<&str>) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new().get(self.server.url(path));
        if let Some(who) = who {
            request = request.bearer_auth(&self.tokens[who]);
        }
        send(request).await
    }

    pub async fn post(
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

pub async fn place_id(demo: &Demo, layer: &str, code: &str) -> i64 {
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

pub fn demo_layer(name: &str) -> FeatureCollection {
    let path = format!("{}/geodata/demo/{name}.geojson", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

/// The codes of the demo households inside the outline of the place `code` of `layer`, found
/// with `geo` from the demo files: an independent answer to "whose households are these".
pub fn households_inside(layer: &str, code: &str) -> BTreeSet<String> {
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
pub async fn seen_by(demo: &Demo, who: &str) -> (StatusCode, BTreeSet<String>, Vec<Value>) {
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

/// A household of the cadre's area, with its point and building.
pub async fn my_household(demo: &Demo, offset: usize) -> (i64, f64, f64) {
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

pub fn visit(household: i64, lon: f64, lat: f64, accuracy: f64, notes: &str) -> Value {
    json!({
        "household": household,
        "visited_at": "2026-11-30T10:30:00+08:00",
        "position": {"lon": lon, "lat": lat, "accuracy_m": accuracy},
        "notes": notes,
        "needs": [{"type": "wristband", "note": "独居老人需要智能手环"}],
    })
}

/// An instant `days` ago, RFC 3339.
pub fn days_ago(days: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::days(days);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

pub fn row<'a>(rows: &'a Value, code: &str) -> &'a Value {
    rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap_or_else(|| panic!("no row {code} in {rows}"))
}

/// A request with a JSON body and optional `If-Match`, answering status, ETag and body.
pub async fn write(
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

pub fn new_household(code: &str, lon: f64, lat: f64, tags: Value) -> Value {
    json!({
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {
            "code": code, "address": "山东省青岛市市南区珠海路街道新建住户", "head_name": "赵新",
            "phone": "13700001111", "people": 2, "tags": tags,
        },
    })
}
