//! `wangge serve --demo-diary`: a year of invented visits that makes the statistics show well
//! covered and neglected areas on first start, by demo cadres who cannot log in, once.

use crate::common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;

async fn post_json(server: &Server, path: &str, body: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.url(path))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(server: &Server, path: &str, token: &str) -> Value {
    let response = reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

fn coverage_of(rows: &Value, code: &str) -> f64 {
    rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == code)
        .unwrap()["coverage"]
        .as_f64()
        .unwrap()
}

/// Grid id → `open` of the `needs` tiles at z12 over the data's bounds.
async fn open_on_tiles(server: &Server) -> BTreeMap<u64, u64> {
    use geozero::mvt::{Message, Tile};
    use wangge::spatial::tiles::tiles_covering;
    let tilejson: Value = reqwest::get(server.url("/tiles/needs.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b: Vec<f64> = tilejson["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let bounds = geo::Rect::new((b[0], b[1]), (b[2], b[3]));
    let mut open = BTreeMap::new();
    for t in tiles_covering(bounds, 12) {
        let url = server.url(&format!("/tiles/needs/{}/{}/{}.mvt", t.z, t.x, t.y));
        let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
        let Ok(tile) = Tile::decode(&bytes[..]) else {
            continue;
        };
        for layer in &tile.layers {
            let key = layer.keys.iter().position(|k| k == "open").unwrap() as u32;
            for f in &layer.features {
                let kv = f.tags.chunks(2).find(|kv| kv[0] == key).unwrap();
                let value = &layer.values[kv[1] as usize];
                let n = value.int_value.or(value.sint_value).unwrap() as u64;
                open.insert(f.id.unwrap(), n);
            }
        }
    }
    open
}

#[tokio::test]
async fn the_demo_diary_shows_covered_and_neglected_areas_once() {
    let db = common::temp_sqlite();
    common::add_user(&db.url, "boss", "admin", "pw of boss");
    let total_visits = |pioneers: &Value| -> u64 {
        pioneers["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["on_site_visits"].as_u64().unwrap())
            .sum()
    };
    let mut first_total = None;
    for start in 0..2 {
        let server = Server::start(&db.url, &["--demo-diary"]);
        let (status, login) = post_json(
            &server,
            "/api/v1/auth/login",
            json!({"name": "boss", "password": "pw of boss"}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{login}");
        let token = login["token"].as_str().unwrap();
        let rows = get(&server, "/api/v1/stats/coverage?level=area&days=90", token).await;
        let best = coverage_of(&rows, "370202010-Q01");
        let laziest = coverage_of(&rows, "370202010-Q06");
        assert!(best > 0.6, "the most diligent cadre's area: {best}");
        assert!(laziest < best / 2.0, "{laziest} vs {best}");
        for neglected in ["370202010-Q07", "370202010-Q08"] {
            assert_eq!(coverage_of(&rows, neglected), 0.0, "{neglected}");
        }
        let needs = get(&server, "/api/v1/stats/needs?level=street", token).await;
        let open = &needs["rows"][0]["open"];
        assert!(open["wristband"].as_u64().unwrap() > 0, "{needs}");
        // The public needs tiles show every grid's open needs as the statistics count them.
        let by_grid = get(&server, "/api/v1/stats/needs?level=grid", token).await;
        let counted: BTreeMap<u64, u64> = by_grid["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let open = r["open"].as_object().unwrap().values();
                (
                    r["id"].as_u64().unwrap(),
                    open.map(|n| n.as_u64().unwrap()).sum(),
                )
            })
            .collect();
        assert_eq!(open_on_tiles(&server).await, counted, "start {start}");
        let pioneers = get(&server, "/api/v1/stats/pioneers?days=365", token).await;
        assert_eq!(pioneers["rows"].as_array().unwrap().len(), 6);
        assert_eq!(pioneers["rows"][0]["user"]["display_name"], "张伟");
        // 香港花园社区's branches held activities, most complete, their rolls mostly present.
        let branches = get(&server, "/api/v1/branches", token).await;
        let garden = branches["branches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["code"] == "DZB370202010003001")
            .unwrap()["community_id"]
            .as_i64()
            .unwrap();
        let feed = get(
            &server,
            &format!("/api/v1/communities/{garden}/feed?limit=100"),
            token,
        )
        .await;
        let activities = feed["activities"].as_array().unwrap();
        assert_eq!(
            activities.len(),
            100,
            "13 branches, 8 activities each: {feed}"
        );
        let complete = activities.iter().filter(|a| a["complete"] == true).count();
        assert!(complete > 90, "{complete} of 100 complete");
        let rates = get(
            &server,
            &format!("/api/v1/stats/attendance?community_id={garden}"),
            token,
        )
        .await;
        for row in rates["rows"].as_array().unwrap() {
            let rate = row["rate"].as_f64().unwrap();
            assert!((0.5..=1.0).contains(&rate), "{row}");
        }
        // A second start adds nothing.
        let total = total_visits(&pioneers);
        assert_eq!(*first_total.get_or_insert(total), total, "start {start}");
        let (status, _) = post_json(
            &server,
            "/api/v1/auth/login",
            json!({"name": "demo-zhangwei", "password": "!demo account: no login"}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "demo cadres cannot log in"
        );
    }
}
