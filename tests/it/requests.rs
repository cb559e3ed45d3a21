//! Residents' requests (社情民意) over real HTTP against the running binary on the demo street:
//! an Open311 report reaches the cadre who holds its spot's area and the community's
//! secretary, the public never reads who sent it, the workflow's steps are taken only by whom
//! and from where they may be, and bad reports are refused without a trace. In process, with
//! a clock of the test's choosing: late requests pass up the chain; anonymous reports are
//! rate-limited per address and registered apps' keys are checked.

use crate::common;
mod photos;
use photos::{png, upload};
mod units;
mod webhooks;

use common::in_process::{self, call};
use common::sse::EventStream;
use common::street::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use wangge::http::HttpConfig;
use wangge::http::open311::Open311Config;
use wangge::spatial::crs::Crs;

/// The reporter's details, which no public answer may carry.
const NAME: (&str, &str) = ("王", "秀英");
const PHONE: &str = "13905320001";
const EMAIL: &str = "xiuying@example.cn";

/// Posts a report over Open311 as a form, as the standard says; returns the status and body.
async fn report(demo: &Demo, fields: &[(&str, String)]) -> (StatusCode, Value) {
    send(
        reqwest::Client::new()
            .post(demo.server.url("/open311/v2/requests.json"))
            .form(fields),
    )
    .await
}

/// A repair report at (lon, lat) WGS84, sent as a phone reads it: in GCJ-02.
fn repair_at(lon: f64, lat: f64, description: &str) -> Vec<(&'static str, String)> {
    let (x, y) = Crs::Gcj02.from_wgs84(lon, lat).unwrap();
    vec![
        ("service_code", "repair".into()),
        ("lat", y.to_string()),
        ("long", x.to_string()),
        ("crs", "gcj02".into()),
        ("address_string", "珠海路 1 号".into()),
        ("description", description.into()),
        ("attribute[appliance]", "water_heater".into()),
        ("last_name", NAME.0.into()),
        ("first_name", NAME.1.into()),
        ("phone", PHONE.into()),
        ("email", EMAIL.into()),
    ]
}

async fn user_id(demo: &Demo, who: &str) -> i64 {
    let (status, me) = demo.get("/api/v1/me", Some(who)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    me["id"].as_i64().unwrap()
}

async fn step(demo: &Demo, id: &str, who: &str, body: Value) -> (StatusCode, Value) {
    demo.post(
        &format!("/api/v1/requests/{id}/transitions"),
        Some(who),
        body,
        None,
    )
    .await
}

async fn public(demo: &Demo, id: &str) -> Value {
    let (status, body) = demo
        .get(&format!("/open311/v2/requests/{id}.json"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    body[0].clone()
}

fn ids(list: &Value) -> Vec<String> {
    list["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].to_string())
        .collect()
}

#[tokio::test]
async fn a_report_reaches_the_cadre_of_its_spot_and_the_public_never_reads_who_sent_it() {
    let demo = demo().await;
    let (_, lon, lat) = my_household(demo, 0).await;
    let (status, answer) = report(demo, &repair_at(lon, lat, "热水器坏了，没有热水")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let area_name = demo_layer("areas")
        .features
        .iter()
        .find(|f| f.properties.as_ref().unwrap()["code"] == AREA)
        .map(|f| {
            f.properties.as_ref().unwrap()["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    let notice = answer[0]["service_notice"].as_str().unwrap();
    assert!(notice.contains(&area_name), "{notice}");

    // It waits on the cadre who holds the area and on the community's secretary, nobody else.
    let cadre = user_id(demo, "cadre").await;
    for (who, waits) in [
        ("cadre", true),
        ("shuji", true),
        ("admin", true),
        ("idle", false),
        ("lonely", false),
        ("planner", false),
    ] {
        let (status, mine) = demo.get("/api/v1/me/requests", Some(who)).await;
        assert_eq!(status, StatusCode::OK, "{who}: {mine}");
        assert_eq!(ids(&mine).contains(&id), waits, "{who}: {mine}");
    }
    let (status, full) = demo
        .get(&format!("/api/v1/requests/{id}"), Some("cadre"))
        .await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(full["link"], "area");
    assert_eq!(full["responsible_id"], cadre);
    assert_eq!(full["reporter"]["phone"], PHONE);
    assert_eq!(full["events"][0]["to"], "reported");
    // The phone's GCJ-02 point was stored as the WGS84 point it names.
    assert!((full["lon"].as_f64().unwrap() - lon).abs() < 1e-5, "{full}");
    assert!((full["lat"].as_f64().unwrap() - lat).abs() < 1e-5, "{full}");

    // Who may read the reporter: the role × endpoint matrix of one request.
    for (who, expected) in [
        (Some("shuji"), StatusCode::OK),
        (Some("admin"), StatusCode::OK),
        (Some("idle"), StatusCode::FORBIDDEN),
        (Some("lonely"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let (status, body) = demo.get(&format!("/api/v1/requests/{id}"), who).await;
        assert_eq!(status, expected, "{who:?}: {body}");
        if status != StatusCode::OK {
            assert!(!body.to_string().contains(PHONE), "{who:?}: {body}");
        }
    }

    // The public forms, one and in a list, say where and how it stands, not who sent it.
    let one = public(demo, &id).await;
    assert_eq!(one["status"], "open");
    assert_eq!(one["service_code"], "repair");
    assert_eq!(one["agency_responsible"], area_name.as_str());
    assert!(one["expected_datetime"].is_string(), "{one}");
    let (status, list) = demo.get("/open311/v2/requests.json", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service_request_id"] == id.as_str())
        .expect("the list holds the new report");
    assert_eq!(listed, &one);
    for text in [one.to_string(), list.to_string()] {
        for private in [NAME.1, PHONE, EMAIL, "household"] {
            assert!(!text.contains(private), "a public answer carries {private}");
        }
    }
}

#[tokio::test]
async fn the_phones_of_those_who_answer_hear_of_a_report_and_its_steps_and_nobody_else_does() {
    let demo = demo().await;
    let url = demo.server.url("/api/v1/me/events");
    let mut cadre = EventStream::open(&url, &demo.tokens["cadre"]).await;
    let mut shuji = EventStream::open(&url, &demo.tokens["shuji"]).await;
    let mut idle = EventStream::open(&url, &demo.tokens["idle"]).await;
    let mut lonely = EventStream::open(&url, &demo.tokens["lonely"]).await;
    let (status, _) = demo.get("/api/v1/me/events", Some("planner")).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a planner answers no request"
    );
    let (status, _) = demo.get("/api/v1/me/events", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, lon, lat) = my_household(demo, 4).await;
    let (status, answer) = report(demo, &repair_at(lon, lat, "燃气灶打不着火")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let within = Duration::from_secs(10);
    let heard = cadre
        .request(&id, within)
        .await
        .expect("the cadre hears of it");
    assert_eq!(heard["notice"], "reported");
    assert_eq!(heard["state"], "reported");
    assert_eq!(
        heard["reporter"]["phone"], PHONE,
        "staff who answer read it in full"
    );
    let heard = shuji
        .request(&id, within)
        .await
        .expect("the secretary hears of it");
    assert_eq!(heard["notice"], "reported");

    let (status, body) = step(demo, &id, "cadre", json!({"to": "accepted"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let heard = shuji
        .request(&id, within)
        .await
        .expect("the secretary hears of the step");
    assert_eq!(
        (&heard["notice"], &heard["state"]),
        (&json!("stepped"), &json!("accepted"))
    );
    let heard = cadre.request(&id, within).await.expect("so does the cadre");
    assert_eq!(heard["state"], "accepted");

    // Those who do not answer for it hear nothing of it, in the time the others heard twice.
    let quiet = Duration::from_millis(500);
    assert_eq!(idle.request(&id, quiet).await, None);
    assert_eq!(lonely.request(&id, quiet).await, None);
}

#[tokio::test]
async fn a_request_goes_from_report_to_closed_by_whom_and_in_the_order_the_workflow_says() {
    let demo = demo().await;
    let (household, lon, lat) = my_household(demo, 1).await;
    let (status, created) = demo
        .post(
            "/api/v1/requests",
            Some("cadre"),
            json!({
                "category": "repair", "lon": lon, "lat": lat,
                "description": "楼道灯不亮，老人夜里出门不便",
                "attributes": {"appliance": "electric"},
                "reporter": {"name": "李大爷", "phone": "13800000000"},
                "household_id": household,
            }),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["household_id"], household);
    let id = created["id"].to_string();
    let cadre = user_id(demo, "cadre").await;
    let shuji = user_id(demo, "shuji").await;

    // (who, body, expected status, expected code) in order; a refusal changes nothing.
    let script: Vec<(&str, Value, StatusCode, &str)> = vec![
        (
            "idle",
            json!({"to": "accepted"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "cadre",
            json!({"to": "closed", "fixed": true}),
            StatusCode::CONFLICT,
            "invalid_transition",
        ),
        (
            "cadre",
            json!({"to": "accepted", "note": "已联系住户"}),
            StatusCode::OK,
            "",
        ),
        (
            "cadre",
            json!({"to": "accepted"}),
            StatusCode::CONFLICT,
            "invalid_transition",
        ),
        (
            "cadre",
            json!({"to": "dispatched", "assignee": cadre}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "shuji",
            json!({"to": "dispatched"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "incomplete_step",
        ),
        (
            "shuji",
            json!({"to": "dispatched", "assignee": cadre}),
            StatusCode::OK,
            "",
        ),
        (
            "idle",
            json!({"to": "handled", "note": "修好了"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "cadre",
            json!({"to": "handled"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "incomplete_step",
        ),
        // The work done needs its photo first.
        (
            "cadre",
            json!({"to": "handled", "note": "换了灯泡"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "incomplete_step",
        ),
        ("cadre", json!({"photo": "after"}), StatusCode::CREATED, ""),
        (
            "cadre",
            json!({"to": "handled", "note": "换了灯泡"}),
            StatusCode::OK,
            "",
        ),
        (
            "cadre",
            json!({"to": "verified"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "shuji",
            json!({"to": "dispatched", "assignee": shuji, "note": "灯座也坏了，返工"}),
            StatusCode::OK,
            "",
        ),
        (
            "shuji",
            json!({"to": "handled", "note": "换了灯座"}),
            StatusCode::OK,
            "",
        ),
        // Whoever did the work may not check it.
        (
            "shuji",
            json!({"to": "verified"}),
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "admin",
            json!({"to": "verified", "note": "夜里去看过，亮了"}),
            StatusCode::OK,
            "",
        ),
        (
            "shuji",
            json!({"to": "closed"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "incomplete_step",
        ),
        (
            "shuji",
            json!({"to": "closed", "fixed": true}),
            StatusCode::OK,
            "",
        ),
        (
            "shuji",
            json!({"to": "handled", "note": "再修"}),
            StatusCode::CONFLICT,
            "invalid_transition",
        ),
    ];
    let mut taken = vec!["reported".to_string()];
    for (who, body, expected, code) in script {
        if let Some(kind) = body["photo"].as_str() {
            let (status, answer) = upload(demo, &id, who, kind, "image/png", png(64, 48)).await;
            assert_eq!(status, expected, "{answer}");
            continue;
        }
        let (status, answer) = step(demo, &id, who, body.clone()).await;
        assert_eq!(status, expected, "{who} {body}: {answer}");
        if status == StatusCode::OK {
            taken.push(body["to"].as_str().unwrap().to_string());
            assert_eq!(answer["request"]["state"], body["to"], "{answer}");
        } else {
            assert_eq!(answer["error"]["code"], code, "{who} {body}: {answer}");
        }
    }

    let (_, full) = demo
        .get(&format!("/api/v1/requests/{id}"), Some("shuji"))
        .await;
    let events: Vec<&str> = full["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        events, taken,
        "every step taken is kept, in order, and no other"
    );
    assert_eq!(full["fixed"], true);
    assert_eq!(full["open"], false);
    let handled = full["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["to"] == "handled")
        .unwrap();
    assert_eq!(handled["actor_id"], cadre);
    assert_eq!(handled["note"], "换了灯泡");

    let closed = public(demo, &id).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["status_notes"], "已结案：问题已解决");
    let (_, open_ones) = demo
        .get("/open311/v2/requests.json?status=open", None)
        .await;
    assert!(
        open_ones
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["service_request_id"] != id.as_str() && r["status"] == "open"),
        "{open_ones}"
    );
    let (_, mine) = demo.get("/api/v1/me/requests", Some("cadre")).await;
    assert!(
        !ids(&mine).contains(&id),
        "a closed request waits on nobody"
    );
}

#[tokio::test]
async fn a_second_report_of_the_same_problem_shows_as_nearby_and_follows_the_first() {
    let demo = demo().await;
    let (_, lon, lat) = my_household(demo, 2).await;
    let mut first = repair_at(lon, lat, "单元门关不上");
    first[6] = ("attribute[appliance]", "door_window".into());
    let (status, a) = report(demo, &first).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    let mut second = repair_at(lon + 0.0005, lat, "单元门坏了，关不严");
    second[6] = ("attribute[appliance]", "door_window".into());
    let (status, b) = report(demo, &second).await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
    let (a, b) = (
        a[0]["service_request_id"].as_str().unwrap(),
        b[0]["service_request_id"].as_str().unwrap(),
    );

    let (_, full) = demo
        .get(&format!("/api/v1/requests/{b}"), Some("cadre"))
        .await;
    let nearby: Vec<String> = full["nearby"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].to_string())
        .collect();
    assert!(nearby.contains(&a.to_string()), "{full}");
    assert!(
        !nearby.contains(&b.to_string()),
        "a request is not its own duplicate"
    );

    let (status, refused) = step(
        demo,
        b,
        "cadre",
        json!({"to": "duplicate", "duplicate_of": b.parse::<i64>().unwrap()}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, marked) = step(
        demo,
        b,
        "cadre",
        json!({"to": "duplicate", "duplicate_of": a.parse::<i64>().unwrap()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    let follows = public(demo, b).await;
    assert_eq!(follows["status"], "closed");
    assert!(
        follows["status_notes"].as_str().unwrap().contains(a),
        "the reporter of the duplicate is told which request to follow: {follows}"
    );
    assert_eq!(public(demo, a).await["status"], "open");
}

#[tokio::test]
async fn bad_reports_are_refused_with_a_reason_and_leave_nothing_behind() {
    let demo = demo().await;
    let (_, lon, lat) = my_household(demo, 3).await;
    let (_, before) = demo
        .get("/open311/v2/requests.json?status=open,closed", None)
        .await;
    let with = |changes: &[(&'static str, &str)]| {
        let mut fields = repair_at(lon, lat, "水管漏水");
        for (key, value) in changes {
            fields.retain(|(k, _)| k != key);
            if !value.is_empty() {
                fields.push((key, value.to_string()));
            }
        }
        fields
    };
    let long_text = "漏".repeat(4_001);
    for (fields, status, code) in [
        (
            with(&[("crs", ""), ("long", "120.0"), ("lat", "10.0")]),
            422,
            "outside_grids",
        ),
        (
            with(&[("service_code", "graffiti")]),
            422,
            "unknown_service",
        ),
        (
            with(&[("attribute[appliance]", "")]),
            422,
            "invalid_attribute",
        ),
        (
            with(&[("attribute[appliance]", "rocket")]),
            422,
            "invalid_attribute",
        ),
        (
            with(&[("attribute[colour]", "red")]),
            422,
            "invalid_attribute",
        ),
        (with(&[("crs", "mars")]), 400, "unknown_crs"),
        (with(&[("lat", "")]), 400, "missing_location"),
        (with(&[("lat", "north")]), 400, "invalid_location"),
        (with(&[("description", "")]), 422, "missing_description"),
        (with(&[("description", &long_text)]), 422, "too_long"),
        (with(&[("service_code", "")]), 400, "missing_service_code"),
        (
            with(&[("api_key", "a-key-nobody-registered")]),
            403,
            "forbidden",
        ),
    ] {
        let (got, body) = report(demo, &fields).await;
        assert_eq!(got.as_u16(), status, "{fields:?}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    // Not a form nor JSON: refused before anything is read.
    let (status, body) = send(
        reqwest::Client::new()
            .post(demo.server.url("/open311/v2/requests.json"))
            .header("Content-Type", "text/plain")
            .body("service_code=repair"),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    // A request that does not exist, and a step nobody knows.
    let (status, _) = demo.get("/open311/v2/requests/999999.json", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = step(demo, "999999", "admin", json!({"to": "accepted"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (_, after) = demo
        .get("/open311/v2/requests.json?status=open,closed", None)
        .await;
    let count = |v: &Value| {
        v.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["description"] == "水管漏水")
            .count()
    };
    assert_eq!(
        count(&after),
        count(&before),
        "a refused report is not stored"
    );
}

#[tokio::test]
async fn the_services_say_what_each_category_asks() {
    let demo = demo().await;
    let (status, services) = demo.get("/open311/v2/services.json", None).await;
    assert_eq!(status, StatusCode::OK);
    let repair = services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service_code"] == "repair")
        .expect("repair is a service");
    assert_eq!(repair["metadata"], true);
    assert_eq!(repair["type"], "realtime");
    let (status, definition) = demo.get("/open311/v2/services/repair.json", None).await;
    assert_eq!(status, StatusCode::OK, "{definition}");
    let appliance = &definition["attributes"][0];
    assert_eq!(appliance["code"], "appliance");
    assert_eq!(appliance["datatype"], "singlevaluelist");
    assert_eq!(appliance["required"], true);
    assert!(
        appliance["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["key"] == "water_heater")
    );
    let (status, _) = demo.get("/open311/v2/services/graffiti.json", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, discovery) = demo.get("/open311/v2/discovery.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(discovery["endpoints"][0]["formats"][0], "application/json");
}

/// A point inside the demo's area Q01, by the demo files: the area's interior point.
fn inside_area() -> (f64, f64) {
    use geo::InteriorPoint;
    let area = demo_layer("areas")
        .features
        .into_iter()
        .find(|f| f.properties.as_ref().unwrap()["code"] == AREA)
        .unwrap();
    let shape: geo::Geometry<f64> = area.geometry.unwrap().try_into().unwrap();
    let point = shape.interior_point().unwrap();
    (point.x(), point.y())
}

fn form(fields: &[(&str, String)], api_key: Option<&str>) -> String {
    let mut fields = fields.to_vec();
    if let Some(key) = api_key {
        fields.push(("api_key", key.to_string()));
    }
    serde_urlencoded::to_string(fields).unwrap()
}

#[tokio::test]
async fn anonymous_reports_are_rate_limited_per_address_and_registered_apps_are_not() {
    let places = in_process::demo_places().await;
    const KEY: &str = "miniprogram-0123456789";
    let config = HttpConfig {
        open311: Open311Config {
            posts_per_minute: NonZeroU32::new(2).unwrap(),
            keys: vec![("miniprogram".into(), KEY.into())],
            require_key: false,
        },
        ..HttpConfig::default()
    };
    let router = wangge::http::router_with(places.app.clone(), config);
    let (lon, lat) = inside_area();
    let fields = repair_at(lon, lat, "热水器漏水");
    let post = |key: Option<&str>| {
        in_process::request(
            axum::http::Method::POST,
            "/open311/v2/requests.json",
            Some("application/x-www-form-urlencoded"),
            None,
            form(&fields, key),
        )
    };
    for _ in 0..2 {
        let answer = call(&router, post(None)).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    }
    let limited = call(&router, post(None)).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        limited.body
    );
    assert_eq!(limited.code(), "rate_limited");
    let wait: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=31).contains(&wait), "{wait}");
    let keyed = call(&router, post(Some(KEY))).await;
    assert_eq!(
        keyed.status,
        StatusCode::CREATED,
        "a registered app is not slowed by others"
    );

    // With keys required, an anonymous report is refused however slowly it comes.
    let strict = wangge::http::router_with(
        places.app.clone(),
        HttpConfig {
            open311: Open311Config {
                require_key: true,
                keys: vec![("miniprogram".into(), KEY.into())],
                ..Open311Config::default()
            },
            ..HttpConfig::default()
        },
    );
    assert_eq!(
        call(&strict, post(None)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(&strict, post(Some(KEY))).await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn a_request_left_too_long_passes_up_the_chain_once_per_time_limit() {
    use time::Duration;
    use wangge::app::RequestInput;
    let places = in_process::demo_places().await;
    let app: &Arc<wangge::app::App> = &places.app;
    let cadre =
        common::fixtures::user(&places.store, "cadre", wangge::auth::Role::Cadre, None).await;
    let area = app
        .map_data()
        .places
        .iter()
        .find(|p| p.code == AREA)
        .unwrap()
        .id;
    app.claim_area(area, cadre.id).await.unwrap();
    let (lon, lat) = inside_area();
    let input = RequestInput {
        category: "repair".into(),
        position: geo::Coord { x: lon, y: lat },
        address: String::new(),
        description: "热水器坏了".into(),
        media_url: None,
        attributes: [("appliance".to_string(), "water_heater".to_string())].into(),
        reporter: Default::default(),
        household_id: None,
    };
    let view = app.submit_request(None, input).await.unwrap();
    assert_eq!(view.request.responsible_id, Some(cadre.id));
    let due = view.due_at.expect("a report has a time to be accepted in");

    assert_eq!(
        app.escalate_overdue(due - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        app.escalate_overdue(due + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let moved = app.public_request(view.request.id).await.unwrap();
    assert_ne!(moved.request.link, view.request.link, "it went one link up");
    assert_ne!(moved.request.responsible_id, Some(cadre.id));
    assert_eq!(moved.request.escalations, 1);
    let next_due = moved.due_at.unwrap();
    assert!(next_due > due, "the next link gets a time limit of its own");
    assert!(moved.overdue(next_due + Duration::seconds(1)));
    assert!(!moved.overdue(due + Duration::seconds(1)));
    // The same instant again moves nothing: that link's time is not up.
    assert_eq!(
        app.escalate_overdue(due + Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    let (_, events, _) = app
        .request_in_full(
            &common::fixtures::user(&places.store, "root", wangge::auth::Role::Admin, None).await,
            view.request.id,
        )
        .await
        .unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.actor_id, None, "the clock, not a person, moved it");
    assert!(last.note.starts_with("逾期未立案"), "{}", last.note);
}

#[tokio::test]
async fn the_statistics_count_what_was_done_and_name_nobody() {
    let demo = Demo::start().await;
    let (_, lon, lat) = my_household(&demo, 0).await;
    let mut ids = Vec::new();
    for description in ["热水器不出热水", "热水器漏水"] {
        let (status, answer) = report(&demo, &repair_at(lon, lat, description)).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        ids.push(
            answer[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let cadre = user_id(&demo, "cadre").await;
    let (status, photo) = upload(&demo, &ids[0], "cadre", "after", "image/png", png(64, 48)).await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    for (who, body) in [
        ("cadre", json!({"to": "accepted"})),
        ("shuji", json!({"to": "dispatched", "assignee": cadre})),
        ("cadre", json!({"to": "handled", "note": "换了加热管"})),
        (
            "shuji",
            json!({"to": "dispatched", "note": "还是不热，返工"}),
        ),
        ("cadre", json!({"to": "handled", "note": "换了温控器"})),
        ("shuji", json!({"to": "verified"})),
        ("shuji", json!({"to": "closed", "fixed": true})),
    ] {
        let (status, answer) = step(&demo, &ids[0], who, body).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, answer) = step(
        &demo,
        &ids[1],
        "cadre",
        json!({"to": "rejected", "note": "物业负责"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (status, stats) = demo
        .get("/api/v1/stats/requests?level=category", Some("planner"))
        .await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let rows = stats["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the category reported: {stats}");
    let repair = &rows[0];
    assert_eq!(repair["code"], "repair");
    assert_eq!(repair["name"], "家庭维修");
    for (figure, value) in [
        ("requests", json!(2)),
        ("open", json!(0)),
        ("closed", json!(1)),
        ("fixed", json!(1)),
        ("rejected", json!(1)),
        ("closing_rate", json!(1.0)),
        ("on_time_rate", json!(1.0)),
        ("rework_rate", json!(1.0)),
    ] {
        assert_eq!(repair[figure], value, "{figure}: {repair}");
    }
    assert_eq!(repair["to_accept"]["count"], 1);
    assert_eq!(repair["to_door"]["count"], 1);
    let to_close = &repair["to_close"];
    assert_eq!(to_close["count"], 1);
    assert!(
        to_close["median_min"].as_f64().unwrap()
            >= repair["to_door"]["median_min"].as_f64().unwrap()
    );

    // By place: the one grid and community of the spot, the same counts.
    let (_, lookup) = demo
        .get(&format!("/api/v1/lookup?lon={lon}&lat={lat}"), None)
        .await;
    for (level, code) in [
        ("grid", &lookup["grid"]["code"]),
        ("community", &lookup["community"]["code"]),
    ] {
        let (_, stats) = demo
            .get(
                &format!("/api/v1/stats/requests?level={level}"),
                Some("cadre"),
            )
            .await;
        let rows = stats["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{stats}");
        assert_eq!(&rows[0]["code"], code, "{level}");
        assert_eq!(rows[0]["requests"], 2);
    }
    assert!(!stats.to_string().contains(PHONE));
    let (status, _) = demo.get("/api/v1/stats/requests", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = demo
        .get("/api/v1/stats/requests?level=household", Some("admin"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_request_given_another_category_is_routed_again_with_the_new_time_limits() {
    use time::Duration;
    use wangge::app::{RequestError, RequestInput, StepInput};
    use wangge::auth::Role;
    use wangge::model::requests::{Link, RequestState};
    let places = in_process::demo_places().await;
    let app: &Arc<wangge::app::App> = &places.app;
    let cadre = common::fixtures::user(&places.store, "cadre", Role::Cadre, None).await;
    let idle = common::fixtures::user(&places.store, "idle", Role::Cadre, None).await;
    let admin = common::fixtures::user(&places.store, "root", Role::Admin, None).await;
    let area = app
        .map_data()
        .places
        .iter()
        .find(|p| p.code == AREA)
        .unwrap()
        .id;
    app.claim_area(area, cadre.id).await.unwrap();
    let (lon, lat) = inside_area();
    let input = RequestInput {
        category: "repair".into(),
        position: geo::Coord { x: lon, y: lat },
        address: String::new(),
        description: "楼道里堆满了垃圾".into(),
        media_url: None,
        attributes: [("appliance".to_string(), "other".to_string())].into(),
        reporter: Default::default(),
        household_id: None,
    };
    let reported = app.submit_request(None, input).await.unwrap();
    let id = reported.request.id;
    // Late: it passed up the chain, away from the cadre.
    let late = reported.due_at.unwrap() + Duration::seconds(1);
    assert_eq!(app.escalate_overdue(late).await.unwrap(), 1);
    assert_ne!(
        app.public_request(id).await.unwrap().request.link,
        Link::Area
    );

    let refused = app.recategorise(&idle, id, "sanitation", "").await;
    assert!(
        matches!(refused, Err(RequestError::NotYours(_))),
        "{refused:?}"
    );
    let unknown = app.recategorise(&admin, id, "graffiti", "").await;
    assert!(
        matches!(unknown, Err(RequestError::UnknownCategory(_))),
        "{unknown:?}"
    );

    let (moved, event) = app
        .recategorise(&admin, id, "sanitation", "是环境卫生问题")
        .await
        .unwrap();
    assert_eq!(moved.request.category, "sanitation");
    assert_eq!(
        (moved.request.link, moved.request.responsible_id),
        (Link::Area, Some(cadre.id))
    );
    assert_eq!(
        moved.request.escalations, 0,
        "the new category's time starts again"
    );
    assert_ne!(
        moved.due_at, reported.due_at,
        "sanitation has its own time limits"
    );
    assert_eq!(
        (event.from, event.to),
        (Some(RequestState::Reported), RequestState::Reported)
    );
    assert!(event.note.contains("环境卫生"), "{}", event.note);

    // Once someone is sent to it, it keeps its category.
    let step = |to, assignee_id| StepInput {
        to,
        note: String::new(),
        assignee_id,
        assignee_unit: None,
        fixed: None,
        duplicate_of: None,
    };
    app.take_step(&cadre, id, step(RequestState::Accepted, None))
        .await
        .unwrap();
    app.take_step(&admin, id, step(RequestState::Dispatched, Some(cadre.id)))
        .await
        .unwrap();
    let at_work = app.recategorise(&admin, id, "facilities", "").await;
    assert!(
        matches!(at_work, Err(RequestError::NotRecategorisable { .. })),
        "{at_work:?}"
    );
}
