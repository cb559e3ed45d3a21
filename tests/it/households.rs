//! Households over real HTTP against the running binary, on the demo street: who sees which
//! households (a role × endpoint matrix), creating and editing them, overdue lists per cadre and
//! unit, and no personal data in tiles.

use crate::common;

use common::street::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

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
    // The OGC collections publish no households at all: tests/it/ogc.rs.
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
