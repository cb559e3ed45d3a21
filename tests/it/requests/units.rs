//! Fixed units per category: a category given a unit is dispatched to it the moment a resident
//! posts it, the public reads the unit's name; only admins set or remove units, bad ones are
//! refused and leave nothing, and every change is in the audit trace. Part of the `requests`
//! tests (its helpers are in `tests/it/requests.rs`).

use super::*;

const UNIT: &str = "珠海路街道物业维修服务中心";

async fn delete(demo: &Demo, path: &str, who: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().delete(demo.server.url(path));
    if let Some(who) = who {
        request = request.bearer_auth(&demo.tokens[who]);
    }
    send(request).await
}

async fn units(demo: &Demo) -> Value {
    let (status, body) = demo.get("/api/v1/category-units", Some("admin")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn a_category_with_a_unit_goes_straight_to_it_and_only_admins_change_that() {
    // A server of its own: the other tests report repairs and expect the chain to answer.
    let demo = &Demo::start().await;
    let community = place_id(demo, "communities", COMMUNITY).await;
    let grid = place_id(demo, "grids", &format!("{COMMUNITY}001")).await;
    let contact = json!({"category": "repair", "community_id": community, "unit": UNIT,
        "phone": "0532-8288 1234"});

    // Who may set and read units.
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("cadre"), StatusCode::FORBIDDEN),
        (Some("shuji"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
    ] {
        let (status, body) = demo
            .post("/api/v1/category-units", who, contact.clone(), None)
            .await;
        assert_eq!(status, expected, "{who:?}: {body}");
    }
    assert_eq!(units(demo).await["count"], 0);
    let (status, set) = demo
        .post(
            "/api/v1/category-units",
            Some("admin"),
            contact.clone(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{set}");
    assert_eq!(set["category_name"], "家庭维修");
    assert_eq!(set["community_id"], community);
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("cadre"), StatusCode::OK),
        (Some("shuji"), StatusCode::OK),
        (Some("planner"), StatusCode::OK),
    ] {
        let (status, body) = demo.get("/api/v1/category-units", who).await;
        assert_eq!(status, expected, "{who:?}: {body}");
        if status == StatusCode::OK {
            assert_eq!(body["units"][0]["unit"], UNIT, "{who:?}: {body}");
        }
    }

    // Bad units are refused with a reason and change nothing.
    let with = |field: &str, value: Value| {
        let mut body = contact.clone();
        body[field] = value;
        body
    };
    for (body, code) in [
        (with("category", json!("graffiti")), "unknown_service"),
        (with("community_id", json!(grid)), "not_a_community"),
        (with("unit", json!("  ")), "missing_unit"),
        (with("unit", json!("单".repeat(201))), "too_long"),
        (with("phone", json!("call 110")), "invalid_phone"),
    ] {
        let (status, answer) = demo
            .post("/api/v1/category-units", Some("admin"), body.clone(), None)
            .await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{body}: {answer}"
        );
    }
    let now = units(demo).await;
    assert_eq!((now["count"].as_i64(), &now["units"][0]), (Some(1), &set));

    // A resident's repair goes straight to the unit; the area's cadre still answers above it.
    let (lon, lat) = inside_area();
    let (status, answer) = report(demo, &repair_at(lon, lat, "楼道水管爆了")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = public(demo, &id).await;
    assert_eq!(shown["agency_responsible"], UNIT);
    assert_eq!(shown["status"], "open");
    let (status, full) = demo
        .get(&format!("/api/v1/requests/{id}"), Some("cadre"))
        .await;
    assert_eq!(status, StatusCode::OK, "{full}");
    assert_eq!(
        (&full["state"], &full["assignee_unit"], &full["link"]),
        (&json!("dispatched"), &json!(UNIT), &json!("area"))
    );
    assert_eq!(full["events"][1]["to"], "dispatched");
    assert_eq!(full["events"][1]["assignee_unit"], UNIT);

    // Renamed: the same unit replaced; removed: the category goes back to the chain.
    let renamed = with("unit", json!("珠海路街道维修中心"));
    let (status, again) = demo
        .post("/api/v1/category-units", Some("admin"), renamed, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], set["id"]);
    let path = format!("/api/v1/category-units/{}", set["id"]);
    let (status, _) = delete(demo, &path, Some("cadre")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, removed) = delete(demo, &path, Some("admin")).await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    let (status, gone) = delete(demo, &path, Some("admin")).await;
    assert_eq!(
        (status, &gone["error"]["code"]),
        (StatusCode::NOT_FOUND, &json!("not_found"))
    );
    let (status, answer) = report(demo, &repair_at(lon, lat, "楼道灯不亮")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let next = answer[0]["service_request_id"].as_str().unwrap();
    let agency = public(demo, next).await["agency_responsible"].clone();
    assert!(
        agency.as_str().is_some_and(|a| !a.is_empty() && a != UNIT),
        "{agency}"
    );
    let (_, full) = demo
        .get(&format!("/api/v1/requests/{next}"), Some("cadre"))
        .await;
    assert_eq!(
        (&full["state"], &full["assignee_unit"]),
        (&json!("reported"), &Value::Null)
    );

    // The trace: who set, renamed and removed it, with what was before.
    let (status, trace) = demo
        .get("/api/v1/audit?entity=category_unit", Some("admin"))
        .await;
    assert_eq!(status, StatusCode::OK, "{trace}");
    let admin = user_id(demo, "admin").await;
    let records = trace["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{trace}"));
    let actions: Vec<(&str, i64)> = records
        .iter()
        .map(|r| {
            (
                r["action"].as_str().unwrap(),
                r["user_id"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![("create", admin), ("update", admin), ("delete", admin)]
    );
    assert_eq!(records[1]["before"]["unit"], UNIT);
}
