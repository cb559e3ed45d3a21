//! The visit diary over real HTTP against the running binary, on the demo street: visits once per
//! key with the geofence, only by the holder, corrections kept, needs met, the due walk, and the
//! statistics.

use crate::common;

use common::street::*;
use geo::{Distance, Haversine, Point};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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
