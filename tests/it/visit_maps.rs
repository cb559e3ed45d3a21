//! What the maps draw from the visit diary, over real HTTP against the running binary on the demo
//! street: open needs summed per grid on the public `needs` tiles (and nothing personal there),
//! and the floors of the 3D view coloured by whether their households are due.

use crate::common;

use common::street::*;
use geozero::mvt::{Message, Tile};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use wangge::spatial::tiles::TileId;

/// The `needs` tile at z14 over (lon, lat): the bytes, and the properties of grid `grid_id`.
async fn needs_of_grid(demo: &Demo, lon: f64, lat: f64, grid_id: i64) -> (Vec<u8>, Value) {
    let t = TileId::containing(lon, lat, 14);
    let url = format!("/tiles/needs/{}/{}/{}.mvt", t.z, t.x, t.y);
    let response = reqwest::get(demo.server.url(&url)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let bytes = response.bytes().await.unwrap().to_vec();
    let tile = Tile::decode(&bytes[..]).unwrap();
    let layer = &tile.layers[0];
    assert_eq!(layer.name, "needs");
    let feature = layer
        .features
        .iter()
        .find(|f| f.id == Some(grid_id as u64))
        .unwrap_or_else(|| panic!("grid {grid_id} is in {url}"));
    let mut properties = serde_json::Map::new();
    for kv in feature.tags.chunks(2) {
        let value = &layer.values[kv[1] as usize];
        let value = match (&value.string_value, value.int_value.or(value.sint_value)) {
            (Some(s), _) => json!(s),
            (None, Some(n)) => json!(n),
            _ => json!(value.uint_value),
        };
        properties.insert(layer.keys[kv[0] as usize].clone(), value);
    }
    (bytes, Value::Object(properties))
}

#[tokio::test]
async fn open_needs_show_per_grid_on_the_public_tiles_until_they_are_met() {
    let demo = Demo::start().await;
    let (id, lon, lat) = my_household(&demo, 2).await;
    let (_, household) = demo
        .get(&format!("/api/v1/households/{id}"), Some("cadre"))
        .await;
    let grid = household["properties"]["grid_id"].as_i64().unwrap();
    let (_, before) = needs_of_grid(&demo, lon, lat, grid).await;
    assert_eq!(before["open"], 0, "the demo without a diary has no needs");

    let mut body = visit(id, lon, lat, 10.0, "门锁坏了");
    body["needs"] = json!([
        {"type": "wristband", "note": "独居老人需要智能手环"},
        {"type": "door_bolt", "note": "家门需要推拉栓"},
    ]);
    let (status, stored) = demo
        .post("/api/v1/visits", Some("cadre"), body, Some("tile-needs-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let (bytes, after) = needs_of_grid(&demo, lon, lat, grid).await;
    assert_eq!(after["open"], 2, "{after}");
    assert_eq!(after["wristband"], 1);
    assert_eq!(after["door_bolt"], 1);
    assert_eq!(after["code"], before["code"]);
    let text = String::from_utf8_lossy(&bytes);
    let p = &household["properties"];
    for private in [&p["head_name"], &p["phone"], &p["code"], &p["address"]] {
        let private = private.as_str().unwrap();
        assert!(!text.contains(private), "the needs tile carries {private}");
    }
    assert!(
        !text.contains("推拉栓"),
        "the needs tile carries a need's note"
    );

    let wristband = stored["visit"]["needs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["type"] == "wristband")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    for _ in 0..2 {
        // Meeting it twice counts it once.
        let (status, met) = demo
            .post(
                &format!("/api/v1/needs/{wristband}/met"),
                Some("cadre"),
                json!({}),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{met}");
        let (_, now) = needs_of_grid(&demo, lon, lat, grid).await;
        assert_eq!(
            (now["open"].clone(), now["wristband"].clone()),
            (json!(1), json!(0))
        );
    }
    // The statistics say the same.
    let (_, stats) = demo
        .get("/api/v1/stats/needs?level=grid", Some("admin"))
        .await;
    let row = stats["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == grid)
        .unwrap();
    assert_eq!(row["open"]["door_bolt"], 1, "{row}");
    assert_eq!(row["met"]["wristband"], 1, "{row}");
}

/// Every household `who` sees, all pages.
async fn all_households(demo: &Demo, who: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let (status, page) = demo
            .get(
                &format!("/api/v1/households?limit=500&offset={}", all.len()),
                Some(who),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let features = page["features"].as_array().unwrap();
        if features.is_empty() {
            return all;
        }
        all.extend(features.iter().cloned());
    }
}

/// (building, floor) → (households, due), from the floors answer.
fn floors_of(answer: &Value) -> BTreeMap<(String, i64), (u64, u64)> {
    answer["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            assert_eq!(f["geometry"]["type"], "MultiPolygon");
            let floor = p["floor"].as_i64().unwrap();
            assert_eq!(p["base_m"].as_i64().unwrap(), (floor - 1) * 3);
            assert_eq!(p["height_m"].as_i64().unwrap(), floor * 3);
            (
                (p["building_code"].as_str().unwrap().to_string(), floor),
                (
                    p["households"].as_u64().unwrap(),
                    p["due"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[tokio::test]
async fn floors_count_the_households_one_may_see_and_which_are_due() {
    let demo = Demo::start().await;
    let now = time::OffsetDateTime::now_utc();
    for who in ["cadre", "shuji", "admin"] {
        // What the floors must say, from the household list of the same person.
        let mut expected: BTreeMap<(String, i64), (u64, u64)> = BTreeMap::new();
        for h in all_households(&demo, who).await {
            let p = &h["properties"];
            let Some(building) = p["building_code"].as_str() else {
                continue;
            };
            let floor = p["floor"].as_i64().unwrap_or(1).max(1);
            let due = p["next_visit_due"].as_str().is_none_or(|d| {
                let d =
                    time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc3339)
                        .unwrap();
                d <= now
            });
            let tally = expected.entry((building.to_string(), floor)).or_default();
            tally.0 += 1;
            tally.1 += u64::from(due);
        }
        assert!(!expected.is_empty(), "{who} sees households in buildings");
        let (status, answer) = demo.get("/api/v1/households/floors", Some(who)).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(floors_of(&answer), expected, "{who}");
        let text = answer.to_string();
        assert!(!text.contains("head_name") && !text.contains("phone"));
    }

    // An on-site visit takes one household of its floor off the due count.
    let (id, lon, lat) = my_household(&demo, 0).await;
    let (_, household) = demo
        .get(&format!("/api/v1/households/{id}"), Some("cadre"))
        .await;
    let p = &household["properties"];
    let key = (
        p["building_code"].as_str().unwrap().to_string(),
        p["floor"].as_i64().unwrap_or(1).max(1),
    );
    let (_, before) = demo.get("/api/v1/households/floors", Some("cadre")).await;
    let (status, stored) = demo
        .post(
            "/api/v1/visits",
            Some("cadre"),
            json!({
                "household": id,
                "visited_at": days_ago(0),
                "position": {"lon": lon, "lat": lat, "accuracy_m": 8.0},
                "notes": "上门走访",
                "needs": [],
            }),
            Some("floors-1"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["visit"]["on_site"], true);
    let (_, after) = demo.get("/api/v1/households/floors", Some("cadre")).await;
    let (was, is) = (floors_of(&before)[&key], floors_of(&after)[&key]);
    assert_eq!((is.0, is.1), (was.0, was.1 - 1), "{key:?}");

    // A bbox keeps the buildings that meet it; one far away none.
    let (status, near) = demo
        .get(
            &format!(
                "/api/v1/households/floors?bbox={},{},{},{}",
                lon - 0.0005,
                lat - 0.0005,
                lon + 0.0005,
                lat + 0.0005
            ),
            Some("cadre"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{near}");
    let near = floors_of(&near);
    assert!(near.contains_key(&key) && near.len() < floors_of(&after).len());
    let (_, far) = demo
        .get(
            "/api/v1/households/floors?bbox=116.3,39.9,116.4,40.0",
            Some("cadre"),
        )
        .await;
    assert_eq!(far["features"], json!([]));

    // Who may not, and what is malformed.
    for (who, bbox, status, code) in [
        (Some("planner"), "", StatusCode::FORBIDDEN, "forbidden"),
        (None, "", StatusCode::UNAUTHORIZED, "unauthorized"),
        (
            Some("cadre"),
            "?bbox=1,2,3",
            StatusCode::BAD_REQUEST,
            "invalid_bbox",
        ),
        (
            Some("cadre"),
            "?bbox=120.4,36,120.3,36.1",
            StatusCode::BAD_REQUEST,
            "invalid_bbox",
        ),
        (
            Some("cadre"),
            "?bbox=120,36,200,37",
            StatusCode::BAD_REQUEST,
            "invalid_bbox",
        ),
    ] {
        let (got, body) = demo
            .get(&format!("/api/v1/households/floors{bbox}"), who)
            .await;
        assert_eq!(got, status, "{who:?} {bbox}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
}
