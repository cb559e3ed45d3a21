//! Editing refused or guarded: validation with where the problem is, hostile input, roles, the
//! OpenAPI document; communities carrying their grids through split and merge; lookups `at=` a
//! past date. Part of the `editing` tests (its fixture and `Api` are in `tests/it/editing.rs`).

use super::*;

#[tokio::test]
async fn validate_reports_an_overlap_with_where_it_is_and_stores_nothing() {
    let db = common::temp_sqlite();
    let api = Api::start(&db.url).await;
    let (g1, _) = api.grid(G1).await;
    let wider = feature(rect(120.370, 36.05, 120.376, 36.06), json!({"id": g1}));
    let answer = api
        .send(
            Method::POST,
            "/api/v1/grids/validate",
            None,
            &[],
            Some(wider),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["valid"], false);
    let problems = answer.body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{}", answer.body);
    let overlap = &problems[0];
    assert_eq!(overlap["code"], "overlap");
    assert_eq!(overlap["with"]["code"], G2);
    assert_eq!(overlap["where"]["type"], "MultiPolygon");
    // 0.001° × 0.01° at 36°N: about 90 m × 1110 m.
    let area = overlap["area_m2"].as_f64().unwrap();
    assert!((area - 100_000.0).abs() < 5_000.0, "{area}");

    // An edge shared exactly with the neighbour is clean, and validating stored nothing.
    let same = feature(rect(120.370, 36.05, 120.375, 36.06), json!({"id": g1}));
    let answer = api
        .send(
            Method::POST,
            "/api/v1/grids/validate",
            None,
            &[],
            Some(same),
        )
        .await;
    assert_eq!(answer.body, json!({"valid": true, "problems": []}));
    assert_eq!(api.grid(G1).await.1, "\"1\"");

    // Saving the overlap is refused with the same problems.
    let refused = api
        .write(
            Method::PATCH,
            &format!("/api/v1/grids/{g1}"),
            Some("\"1\""),
            Some(feature(rect(120.370, 36.05, 120.376, 36.06), json!({}))),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_feature")
    );
    assert_eq!(refused.body["error"]["problems"][0]["code"], "overlap");
    assert_eq!(api.grid(G1).await.1, "\"1\"");
}

#[tokio::test]
async fn hostile_input_is_4xx_and_changes_nothing() {
    let db = common::temp_sqlite();
    let api = Api::start(&db.url).await;
    let (g1, tag) = api.grid(G1).await;
    let path = format!("/api/v1/grids/{g1}");
    let before = api.get(&path).await.body;
    let bowtie = json!({"type": "Polygon", "coordinates": [[[120.370, 36.05], [120.375, 36.06], [120.375, 36.05], [120.370, 36.06], [120.370, 36.05]]]});
    let unclosed = json!({"type": "Polygon", "coordinates": [[[120.370, 36.05], [120.375, 36.05], [120.375, 36.06], [120.370, 36.06]]]});
    let huge = json!({"type": "Polygon", "coordinates": [[[1e308, 36.05], [120.375, 36.05], [120.375, 36.06], [1e308, 36.05]]]});
    let bodies: Vec<(&str, Vec<u8>, StatusCode)> = vec![
        ("bowtie", feature(bowtie, json!({})).to_string().into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
        ("unclosed", feature(unclosed, json!({})).to_string().into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
        ("1e308", feature(huge, json!({})).to_string().into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
        (
            "NaN",
            br#"{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[NaN,36.05],[120.375,36.05],[120.375,36.06],[NaN,36.05]]]},"properties":{}}"#.to_vec(),
            StatusCode::BAD_REQUEST,
        ),
        ("name as number array", feature(Value::Null, json!({"name": [1, 2]})).to_string().into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
        ("geometry as string", json!({"type": "Feature", "geometry": "square", "properties": {}}).to_string().into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
        ("not a feature", json!([1, 2, 3]).to_string().into_bytes(), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (what, body, want) in bodies {
        let a = api
            .send_raw(
                Method::PATCH,
                &path,
                Some(&api.planner),
                &[("if-match", &tag)],
                Some(body),
            )
            .await;
        assert_eq!(a.status, want, "{what}: {}", a.body);
        assert!(a.body["error"]["code"].is_string(), "{what}: {}", a.body);
        if what == "bowtie" {
            // The problem points at where the ring crosses itself, for a map to show.
            let at = &a.body["error"]["problems"][0]["where"];
            assert_eq!(at["type"], "MultiPoint", "{}", a.body);
            let crossing = &at["coordinates"][0];
            let (x, y) = (crossing[0].as_f64().unwrap(), crossing[1].as_f64().unwrap());
            assert!(
                (x - 120.3725).abs() < 1e-9 && (y - 36.055).abs() < 1e-9,
                "{at}"
            );
        }
    }
    let answer = oversized_patch(&api, &path, &tag, 50 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "50 MB: {answer}");
    assert!(answer.contains("payload_too_large"), "50 MB: {answer}");
    // Unknown ids and layers-mismatched ids are 404; a non-numeric id is 400.
    for path in ["/api/v1/grids/999999", "/api/v1/areas/999999/history"] {
        assert_eq!(api.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let community = api.get("/api/v1/communities").await.body["features"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        api.get(&format!("/api/v1/grids/{community}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("/api/v1/grids/abc").await.status,
        StatusCode::BAD_REQUEST
    );
    let unknown = api
        .write(
            Method::PATCH,
            "/api/v1/grids/999999",
            Some("\"1\""),
            Some(feature(Value::Null, json!({}))),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let unknown = api
        .write(Method::DELETE, "/api/v1/grids/999999", Some("\"1\""), None)
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let merge = api
        .write(
            Method::POST,
            "/api/v1/grids/merge",
            None,
            Some(json!({"ids": [g1, 999999], "versions": [1, 1]})),
        )
        .await;
    assert_eq!(merge.status, StatusCode::NOT_FOUND);
    let merge = api
        .write(
            Method::POST,
            "/api/v1/grids/merge",
            None,
            Some(json!({"ids": "all", "versions": [1]})),
        )
        .await;
    assert_eq!(merge.status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(api.get(&path).await.body, before);
    assert_eq!(
        api.get(&format!("{path}/history")).await.body["versions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn only_planners_and_admins_edit_and_anonymous_callers_cannot_write() {
    let db = common::temp_sqlite();
    let api = Api::start(&db.url).await;
    let (g1, tag) = api.grid(G1).await;
    let path = format!("/api/v1/grids/{g1}");
    let rename = feature(Value::Null, json!({"name": "改"}));
    let cadre = api
        .send(
            Method::PATCH,
            &path,
            Some(&api.cadre),
            &[("if-match", &tag)],
            Some(rename.clone()),
        )
        .await;
    assert_eq!(
        (cadre.status, cadre.code()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let anonymous = api
        .send(
            Method::PATCH,
            &path,
            None,
            &[("if-match", &tag)],
            Some(rename.clone()),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let anonymous = api
        .send(
            Method::POST,
            "/api/v1/grids",
            None,
            &[],
            Some(feature(
                rect(120.37, 36.05, 120.371, 36.051),
                json!({"code": "X", "name": "X"}),
            )),
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let anonymous = api
        .send(Method::DELETE, &path, None, &[("if-match", &tag)], None)
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(api.get(&path).await.etag(), "\"1\"");
    let admin = api.login("admin").await;
    let by_admin = api
        .send(
            Method::PATCH,
            &path,
            Some(&admin),
            &[("if-match", &tag)],
            Some(rename),
        )
        .await;
    assert_eq!(by_admin.status, StatusCode::OK, "{}", by_admin.body);
}

#[test]
fn the_openapi_document_describes_every_editing_route() {
    let doc: Value = serde_json::from_str(wangge::http::OPENAPI).unwrap();
    for layer in ["grids", "communities", "areas"] {
        let base = format!("/api/v1/{layer}");
        for (path, methods) in [
            (base.clone(), &["get", "post"][..]),
            (format!("{base}/validate"), &["post"]),
            (format!("{base}/merge"), &["post"]),
            (format!("{base}/{{id}}"), &["get", "patch", "delete"]),
            (format!("{base}/{{id}}/split"), &["post"]),
            (format!("{base}/{{id}}/history"), &["get"]),
        ] {
            for method in methods {
                let op = &doc["paths"][&path][method];
                assert!(op.is_object(), "{method} {path} undocumented");
                if !["get"].contains(method) && !path.ends_with("/validate") {
                    assert_eq!(
                        op["security"][0]["bearerAuth"],
                        json!([]),
                        "{method} {path}"
                    );
                }
            }
        }
    }
    assert!(doc["paths"]["/api/v1/communities/{id}/coverage"]["get"].is_object());
    let lookup_params = doc["paths"]["/api/v1/lookup"]["get"]["parameters"].to_string();
    assert!(lookup_params.contains("#/components/parameters/At"));
}

async fn communities_carry_their_grids(database: &str) {
    let api = Api::start(database).await;
    let communities = api.get("/api/v1/communities").await;
    let c = communities.body["features"][0]["id"].as_i64().unwrap();
    let code_of_parent = |grids: &Value, code: &str| {
        grids["features"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["properties"]["code"] == code)
            .unwrap()["properties"]["parent_code"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Cut the community along the grids' shared edge: each piece keeps the grid inside it.
    let split = api
        .write(
            Method::POST,
            &format!("/api/v1/communities/{c}/split"),
            Some("\"1\""),
            Some(json!({"line": {"type": "LineString", "coordinates": [[120.375, 36.049], [120.375, 36.061]]},
                        "code": "370202010009", "name": "新社区"})),
        )
        .await;
    assert_eq!(split.status, StatusCode::OK, "{}", split.body);
    let kept = split.body["kept"]["properties"]["code"].as_str().unwrap();
    let created = split.body["created"]["properties"]["code"]
        .as_str()
        .unwrap();
    assert_eq!((kept, created), ("370202010001", "370202010009"));
    let new_id = split.body["created"]["id"].as_i64().unwrap();
    let grids = api.get("/api/v1/grids").await.body;
    let parents = [code_of_parent(&grids, G1), code_of_parent(&grids, G2)];
    assert!(
        parents.contains(&kept.to_string()) && parents.contains(&created.to_string()),
        "{parents:?}"
    );
    let lookup = api
        .get(&format!("/api/v1/lookup?lon={}&lat={}", H2.0, H2.1))
        .await
        .body;
    assert_eq!(lookup["community"]["code"], json!(parents[1]), "{lookup}");

    // Merge them back: the survivor takes the grids of the deleted one.
    let merged = api
        .write(
            Method::POST,
            "/api/v1/communities/merge",
            None,
            Some(json!({"ids": [c, new_id], "versions": [2, 1]})),
        )
        .await;
    assert_eq!(merged.status, StatusCode::OK, "{}", merged.body);
    let grids = api.get("/api/v1/grids").await.body;
    assert_eq!(code_of_parent(&grids, G1), "370202010001");
    assert_eq!(code_of_parent(&grids, G2), "370202010001");
    let history = api
        .get(&format!("/api/v1/communities/{new_id}/history"))
        .await
        .body;
    let actions: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["split", "delete"]);
}

#[tokio::test]
async fn communities_split_and_merge_carry_their_grids_on_sqlite() {
    let db = common::temp_sqlite();
    communities_carry_their_grids(&db.url).await;
}

#[tokio::test]
async fn communities_split_and_merge_carry_their_grids_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    communities_carry_their_grids(&url).await;
}

#[tokio::test]
async fn a_lookup_at_a_date_names_the_holder_of_then() {
    let db = common::temp_sqlite();
    let api = Api::start(&db.url).await;
    let area = api.get("/api/v1/areas").await.body["features"][0]["id"]
        .as_i64()
        .unwrap();
    let before_claim = wangge::timestamp::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let claim = api
        .send(
            Method::POST,
            &format!("/api/v1/areas/{area}/claim"),
            Some(&api.cadre),
            &[],
            None,
        )
        .await;
    assert_eq!(claim.status, StatusCode::CREATED, "{}", claim.body);
    let inside = "/api/v1/lookup?lon=120.372&lat=36.052";
    let now = api.get(inside).await.body;
    assert!(now["areas"][0]["holder"]["id"].is_i64(), "{now}");
    let then = api
        .get(&format!("{inside}&at={}", urlencode(&before_claim)))
        .await
        .body;
    assert_eq!(then["areas"][0]["id"], area, "{then}");
    assert!(then["areas"][0]["holder"].is_null(), "{then}");
}
