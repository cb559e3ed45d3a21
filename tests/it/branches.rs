//! Party branches over real HTTP on the demo street: the branches are public and their rolls
//! reach only those who manage them (a role × endpoint matrix); a branch's secretary sees the
//! households of its grids only; a roll comes in as CSV, checked whole before anything is
//! written; an activity takes the whole roll, counts once its three photos are in, flags photos
//! whose camera says another time or place, and shows names only to its own branch.

use crate::common;

use common::street::{Demo, households_inside, place_id, seen_by, send};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::Cursor;

/// The first grid of community 370202010001 and its branch; the second grid's branch.
const GRID: &str = "370202010001001";
const BRANCH: &str = "DZB370202010001001";
const OTHER_BRANCH: &str = "DZB370202010001002";
/// The grid of the real case's branch with 41 members.
const LARGE_GRID: &str = "370202010003001";

/// The demo street with two branch secretaries of community 370202010001: `zhibu` of the
/// first grid's branch, `zhibu2` of the second's.
async fn street() -> Demo {
    let mut demo = Demo::start().await;
    demo.sign_up("zhibu", "secretary", &["--branch", BRANCH])
        .await;
    demo.sign_up("zhibu2", "secretary", &["--branch", OTHER_BRANCH])
        .await;
    demo
}

async fn branch_id(demo: &Demo, code: &str) -> i64 {
    let (status, body) = demo.get("/api/v1/branches", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["code"] == code)
        .unwrap_or_else(|| panic!("no branch {code}"))["id"]
        .as_i64()
        .unwrap()
}

async fn post_roll(demo: &Demo, branch: i64, who: &str, csv: &str) -> (StatusCode, Value) {
    send(
        reqwest::Client::new()
            .post(
                demo.server
                    .url(&format!("/api/v1/branches/{branch}/members")),
            )
            .bearer_auth(&demo.tokens[who])
            .header("Content-Type", "text/csv; charset=utf-8")
            .body(csv.to_string()),
    )
    .await
}

#[tokio::test]
async fn branches_are_public_and_their_rolls_reach_only_those_who_manage_them() {
    let demo = &street().await;
    // The demo: a branch per grid, thirteen in 香港花园社区, one of them with 41 members.
    let (status, all) = demo.get("/api/v1/branches", None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let grids = common::street::demo_layer("grids").features.len();
    assert_eq!(all["count"], grids);
    let text = all.to_string();
    assert!(
        !text.contains("phone") && !text.contains("members"),
        "public: {text}"
    );
    let garden = place_id(demo, "communities", "370202010003").await;
    let (_, theirs) = demo
        .get(&format!("/api/v1/branches?community_id={garden}"), None)
        .await;
    assert_eq!(theirs["count"], 13);
    let large = branch_id(demo, &format!("DZB{LARGE_GRID}")).await;
    let (status, roll) = demo
        .get(&format!("/api/v1/branches/{large}/members"), Some("admin"))
        .await;
    assert_eq!(status, StatusCode::OK, "{roll}");
    assert_eq!(roll["count"], 41);

    // Who reads a roll: its own secretary, the community's secretary, the admins.
    let branch = branch_id(demo, BRANCH).await;
    let path = format!("/api/v1/branches/{branch}/members");
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("cadre"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
        (Some("lonely"), StatusCode::FORBIDDEN),
        (Some("zhibu2"), StatusCode::FORBIDDEN),
        (Some("zhibu"), StatusCode::OK),
        (Some("shuji"), StatusCode::OK),
        (Some("admin"), StatusCode::OK),
    ] {
        let (status, body) = demo.get(&path, who).await;
        assert_eq!(status, expected, "{who:?}: {body}");
        if status == StatusCode::OK {
            assert!(body["members"][0]["phone"].is_string(), "{body}");
        } else {
            assert!(!body.to_string().contains("139"), "{who:?}: {body}");
        }
    }
    let (_, before) = demo.get(&path, Some("zhibu")).await;

    // A roll as CSV: every row checked first; one bad row and nothing is written.
    let bad = "姓名,手机,入党日期,状态,所在城市\n赵敏,13700000001,2003-07-01,正式,\n\
               钱进,12,2030-01-01,流动,\n孙丽,13700000003,2001-02-29,在册,\n";
    let (status, body) = post_roll(demo, branch, "zhibu", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "invalid_rows");
    let lines: Vec<u64> = body["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [3, 3, 3, 4], "{body}");
    assert_eq!(demo.get(&path, Some("zhibu")).await.1, before);
    let good = "name,phone,joined_on,status,city\n赵敏,13700000001,2003-07-01,active,\n\
                钱进,13700000002,2010-05-04,mobile,深圳\n";
    for (who, expected) in [
        ("cadre", StatusCode::FORBIDDEN),
        ("zhibu2", StatusCode::FORBIDDEN),
        ("zhibu", StatusCode::OK),
    ] {
        let (status, body) = post_roll(demo, branch, who, good).await;
        assert_eq!(status, expected, "{who}: {body}");
    }
    let (_, after) = demo.get(&path, Some("zhibu")).await;
    assert_eq!(after["count"], before["count"].as_u64().unwrap() + 2);
    let mobile = after["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["phone"] == "13700000002")
        .unwrap();
    assert_eq!(
        (mobile["status"].as_str(), mobile["city"].as_str()),
        (Some("mobile"), Some("深圳"))
    );
    // The same phones again: updated, not doubled.
    let (_, again) = post_roll(demo, branch, "zhibu", good).await;
    assert_eq!(
        (again["inserted"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(2))
    );
    let (status, body) = send(
        reqwest::Client::new()
            .post(demo.server.url(&path))
            .bearer_auth(&demo.tokens["zhibu"])
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");

    // A branch's secretary sees the households of its grids, not the community's.
    let (status, seen, _) = seen_by(demo, "zhibu").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!seen.is_empty());
    assert_eq!(seen, households_inside("grids", GRID));
    let (_, community, _) = seen_by(demo, "shuji").await;
    assert!(community.len() > seen.len() && seen.is_subset(&community));

    // Only admins define branches, by community and grid codes.
    let defined = json!([{"code": "DZB-NEW", "name": "新网格党支部", "community": "370202010001",
        "grids": [GRID]}]);
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("shuji"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
    ] {
        let (status, body) = demo
            .post("/api/v1/branches", who, defined.clone(), None)
            .await;
        assert_eq!(status, expected, "{who:?}: {body}");
    }
    let elsewhere = json!([{"code": "DZB-NEW", "name": "新网格党支部", "community": "370202010001",
        "grids": [LARGE_GRID]}]);
    let (status, body) = demo
        .post("/api/v1/branches", Some("admin"), elsewhere, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a grid of"),
        "{body}"
    );
    let (status, body) = demo
        .post("/api/v1/branches", Some("admin"), defined, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["inserted"], 1);
    assert_eq!(
        demo.get("/api/v1/branches", None).await.1["count"],
        grids + 1
    );
}

/// A JPEG whose EXIF says it was taken at `taken` (local time, China) at (lon, lat).
fn camera_jpeg(taken: &str, lon: f64, lat: f64) -> Vec<u8> {
    use exif::experimental::Writer;
    use exif::{Field, In, Rational, Tag, Value as Exif};
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut plain)
        .encode_image(&image::RgbImage::from_pixel(
            64,
            48,
            image::Rgb([180, 30, 30]),
        ))
        .unwrap();
    let degrees = |v: f64| {
        let seconds = (v.fract() * 3600.0 * 100.0).round() as u32;
        Exif::Rational(vec![
            Rational::from((v.trunc() as u32, 1)),
            Rational::from((0, 1)),
            Rational::from((seconds, 100)),
        ])
    };
    let ascii = |s: &str| Exif::Ascii(vec![s.as_bytes().to_vec()]);
    let fields = [
        (Tag::DateTimeOriginal, ascii(taken)),
        (Tag::GPSLatitudeRef, ascii("N")),
        (Tag::GPSLatitude, degrees(lat)),
        (Tag::GPSLongitudeRef, ascii("E")),
        (Tag::GPSLongitude, degrees(lon)),
    ]
    .map(|(tag, value)| Field {
        tag,
        ifd_num: In::PRIMARY,
        value,
    });
    let mut writer = Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut tiff = Cursor::new(Vec::new());
    writer.write(&mut tiff, false).unwrap();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff.into_inner());
    let mut out = plain[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend((app1.len() as u16 + 2).to_be_bytes());
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}

fn png() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::RgbImage::from_pixel(40, 30, image::Rgb([20, 80, 200]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

async fn put_photo(
    demo: &Demo,
    activity: i64,
    kind: &str,
    who: &str,
    media: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/activities/{activity}/photos/{kind}");
    let request = reqwest::Client::new().put(demo.server.url(&path));
    demo.send_image(request, who, media, body).await
}

async fn fetch(demo: &Demo, path: &str, who: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    demo.get_bytes(path, who, "cache-control").await
}

#[tokio::test]
async fn an_activity_leaves_a_trace_once_its_three_photos_are_in() {
    let demo = &street().await;
    let branch = branch_id(demo, BRANCH).await;
    let (_, roll) = demo
        .get(&format!("/api/v1/branches/{branch}/members"), Some("zhibu"))
        .await;
    let on_roll: Vec<&Value> = roll["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] != "transferred")
        .collect();
    assert!(on_roll.len() >= 3, "{roll}");
    let attendance: Vec<Value> = on_roll
        .iter()
        .enumerate()
        .map(|(i, m)| match i {
            0 => json!({"member": m["id"], "status": "absent", "reason": "住院"}),
            1 => json!({"member": m["id"], "status": "online"}),
            _ => json!({"member": m["id"], "status": "present"}),
        })
        .collect();
    // 2026-12-01 09:30 in China, at the branch's grid.
    let activity = json!({"type": "theme_day", "theme": "学习贯彻党的二十届四中全会精神",
        "held_at": "2026-12-01T09:30:00+08:00",
        "place": {"lon": 120.3705, "lat": 36.0705, "crs": "wgs84"}, "attendance": attendance});

    // Who may record one, and what is refused.
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("cadre"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
        (Some("lonely"), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, body) = demo
            .post("/api/v1/activities", who, activity.clone(), None)
            .await;
        assert_eq!(status, expected, "{who:?}: {body}");
    }
    let mut theirs = activity.clone();
    theirs["branch_id"] = json!(branch);
    let (status, body) = demo
        .post("/api/v1/activities", Some("zhibu2"), theirs, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let with = |field: &str, value: Value| {
        let mut body = activity.clone();
        body[field] = value;
        body
    };
    let partial = json!(attendance[1..].to_vec());
    for (body, code) in [
        (with("attendance", partial), "roll_mismatch"),
        (
            with("held_at", json!("2099-01-01T09:00:00+08:00")),
            "future_activity",
        ),
        (with("held_at", json!("2026-12-01")), "invalid_time"),
        (with("theme", json!(" ")), "invalid"),
        (
            with("place", json!({"lon": 220.0, "lat": 36.0})),
            "out_of_range",
        ),
    ] {
        let (status, answer) = demo
            .post("/api/v1/activities", Some("zhibu"), body, None)
            .await;
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(status.is_client_error(), "{status}");
    }
    let mut absent_without_reason = attendance.clone();
    absent_without_reason[0]["reason"] = Value::Null;
    let (status, answer) = demo
        .post(
            "/api/v1/activities",
            Some("zhibu"),
            with("attendance", json!(absent_without_reason)),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (_, feed) = demo
        .get(
            &format!(
                "/api/v1/communities/{}/feed",
                place_id(demo, "communities", "370202010001").await
            ),
            Some("shuji"),
        )
        .await;
    assert_eq!(feed["activities"], json!([]), "nothing refused was stored");

    let (status, recorded) = demo
        .post("/api/v1/activities", Some("zhibu"), activity.clone(), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{recorded}");
    let id = recorded["id"].as_i64().unwrap();
    assert_eq!(recorded["held_at"], "2026-12-01T01:30:00.000Z");
    assert_eq!(recorded["type_name"], "主题党日");
    assert_eq!(recorded["complete"], false);
    let roll_size = on_roll.len() as f64;
    let rate = recorded["attendance_rate"].as_f64().unwrap();
    assert!(
        (rate - (roll_size - 1.0) / roll_size).abs() < 1e-12,
        "{recorded}"
    );
    assert_eq!(recorded["attendance"][0]["reason"], "住院");
    assert_eq!(recorded["attendance"][0]["name"], on_roll[0]["name"]);

    // The photos: taken on the day nearby, or far away, or saying nothing.
    let group = camera_jpeg("2026:12:01 09:40:00", 120.3705, 36.0705);
    let (status, photo) = put_photo(demo, id, "group", "zhibu2", "image/jpeg", group.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{photo}");
    let (status, photo) = put_photo(demo, id, "group", "zhibu", "image/jpeg", group.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    assert_eq!(photo["flags"], json!([]), "{photo}");
    let far = camera_jpeg("2026:11:20 20:00:00", 120.40, 36.07);
    let (status, sheet) = put_photo(demo, id, "sign_in", "zhibu", "image/jpeg", far).await;
    assert_eq!(status, StatusCode::CREATED, "{sheet}");
    assert_eq!(sheet["flags"], json!(["time_far", "place_far"]), "{sheet}");
    let (status, sheet) = put_photo(demo, id, "sign_in", "zhibu", "image/png", png()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "a draft's photo is replaced: {sheet}"
    );
    assert_eq!(sheet["flags"], json!(["no_time", "no_place"]), "{sheet}");
    let (status, body) = put_photo(demo, id, "selfie", "zhibu", "image/png", png()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = put_photo(demo, id, "minutes", "zhibu", "image/gif", png()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = put_photo(demo, id, "minutes", "zhibu", "image/heic", png()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("HEIC"),
        "{body}"
    );
    let (_, draft) = demo
        .get(&format!("/api/v1/activities/{id}"), Some("zhibu"))
        .await;
    assert_eq!(draft["complete"], false);
    let (status, minutes) = put_photo(demo, id, "minutes", "zhibu", "image/png", png()).await;
    assert_eq!(status, StatusCode::CREATED, "{minutes}");
    let (status, body) = put_photo(demo, id, "minutes", "zhibu", "image/png", png()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "activity_complete");

    // Who reads it: the community's secretaries (names only for its own branch) and admins.
    let path = format!("/api/v1/activities/{id}");
    for (who, expected, names) in [
        (None, StatusCode::UNAUTHORIZED, false),
        (Some("cadre"), StatusCode::FORBIDDEN, false),
        (Some("lonely"), StatusCode::FORBIDDEN, false),
        (Some("zhibu2"), StatusCode::OK, false),
        (Some("zhibu"), StatusCode::OK, true),
        (Some("shuji"), StatusCode::OK, true),
        (Some("admin"), StatusCode::OK, true),
    ] {
        let (status, body) = demo.get(&path, who).await;
        assert_eq!(status, expected, "{who:?}: {body}");
        if status == StatusCode::OK {
            assert_eq!(body["complete"], true, "{body}");
            assert_eq!(body["attendance_counts"]["absent"], 1);
            assert_eq!(body["attendance"].is_array(), names, "{who:?}: {body}");
            let absentee = on_roll[0]["name"].as_str().unwrap();
            assert_eq!(
                body.to_string().contains(absentee),
                names,
                "{who:?}: {body}"
            );
        }
    }
    let community = place_id(demo, "communities", "370202010001").await;
    let (status, feed) = demo
        .get(
            &format!("/api/v1/communities/{community}/feed"),
            Some("zhibu2"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    assert_eq!(feed["activities"][0]["id"], id);
    assert!(feed["activities"][0].get("attendance").is_none(), "{feed}");
    let other = place_id(demo, "communities", "370202010003").await;
    let (status, _) = demo
        .get(&format!("/api/v1/communities/{other}/feed"), Some("zhibu"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Attendance rates: per branch for anyone signed in, per member for who manages it.
    let (status, rates) = demo
        .get(
            &format!("/api/v1/stats/attendance?period=month&year=2026&community_id={community}"),
            Some("planner"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rates}");
    let rows = rates["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        1,
        "only the complete activity's branch: {rates}"
    );
    assert_eq!(
        (&rows[0]["code"], &rows[0]["period"], &rows[0]["activities"]),
        (&json!(BRANCH), &json!("2026-12"), &json!(1))
    );
    assert_eq!(rows[0]["lines"], on_roll.len());
    assert_eq!(rows[0]["took_part"], on_roll.len() - 1);
    let (_, quarter) = demo
        .get("/api/v1/stats/attendance?year=2026", Some("cadre"))
        .await;
    assert_eq!(quarter["rows"][0]["period"], "2026-Q4", "{quarter}");
    let path = format!("/api/v1/branches/{branch}/attendance?period=quarter&year=2026");
    let (status, _) = demo.get(&path, Some("zhibu2")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, members) = demo.get(&path, Some("zhibu")).await;
    assert_eq!(status, StatusCode::OK, "{members}");
    let absentee = members["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["member_id"] == on_roll[0]["id"])
        .unwrap();
    assert_eq!(
        (&absentee["name"], &absentee["rate"]),
        (&on_roll[0]["name"], &json!(0.0))
    );
    for bad in ["period=week", "year=1999", "year=x"] {
        let (status, _) = demo
            .get(&format!("/api/v1/stats/attendance?{bad}"), Some("admin"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // The copies: a group photo for anyone, the sign-in sheet for the community's secretaries,
    // originals for who manages the branch.
    let group_id = photo["id"].as_i64().unwrap();
    let sheet_id = sheet["id"].as_i64().unwrap();
    let (status, cache, bytes) = fetch(
        demo,
        &format!("/api/v1/activity-photos/{group_id}/thumbnail"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(cache.starts_with("public"), "{cache}");
    assert!(image::load_from_memory(&bytes).is_ok());
    let (status, _, public) =
        fetch(demo, &format!("/api/v1/activity-photos/{group_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !public.windows(4).any(|w| w == b"Exif"),
        "the public copy keeps no EXIF"
    );
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("cadre"), StatusCode::FORBIDDEN),
        (Some("zhibu2"), StatusCode::OK),
    ] {
        let (status, cache, _) = fetch(
            demo,
            &format!("/api/v1/activity-photos/{sheet_id}/thumbnail"),
            who,
        )
        .await;
        assert_eq!(status, expected, "{who:?}");
        if status == StatusCode::OK {
            assert!(cache.starts_with("private"), "{cache}");
        }
    }
    for (who, expected) in [
        (Some("zhibu2"), StatusCode::FORBIDDEN),
        (Some("zhibu"), StatusCode::OK),
    ] {
        let (status, _, bytes) = fetch(
            demo,
            &format!("/api/v1/activity-photos/{group_id}/original"),
            who,
        )
        .await;
        assert_eq!(status, expected, "{who:?}");
        if status == StatusCode::OK {
            assert_eq!(bytes, group, "the original as uploaded");
        }
    }
}

#[tokio::test]
async fn the_summary_counts_what_the_street_holds_for_any_signed_in_role() {
    let demo = &street().await;
    let community = place_id(demo, "communities", "370202010001").await;
    let path = |level: &str, id: i64| format!("/api/v1/stats/summary?level={level}&id={id}");
    let (status, _) = demo.get(&path("community", community), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, summary) = demo
        .get(&path("community", community), Some("planner"))
        .await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    // Against what the demo files and the rolls say, counted here independently.
    let inside = households_inside("communities", "370202010001");
    assert_eq!(summary["households"], inside.len());
    let grids = common::street::demo_layer("grids")
        .features
        .iter()
        .filter(|g| g.property("parent_code").and_then(Value::as_str) == Some("370202010001"))
        .count();
    assert_eq!(
        (summary["grids"].as_u64(), summary["branches"].as_u64()),
        (Some(grids as u64), Some(grids as u64))
    );
    let (_, branches) = demo
        .get(&format!("/api/v1/branches?community_id={community}"), None)
        .await;
    let (mut members, mut mobile) = (0, 0);
    for b in branches["branches"].as_array().unwrap() {
        let (_, roll) = demo
            .get(
                &format!("/api/v1/branches/{}/members", b["id"]),
                Some("admin"),
            )
            .await;
        for m in roll["members"].as_array().unwrap() {
            members += usize::from(m["status"] != "transferred");
            mobile += usize::from(m["status"] == "mobile");
        }
    }
    assert_eq!(
        (
            summary["members"].as_u64(),
            summary["mobile_members"].as_u64()
        ),
        (Some(members as u64), Some(mobile as u64))
    );
    assert_eq!(summary["visited"], 0);
    assert_eq!(summary["coverage"], 0.0);
    assert_eq!(summary["attendance_rate"], Value::Null, "no activity yet");

    // A visit at the door and a request in one grid move that grid's figures.
    let (household, lon, lat) = common::street::my_household(demo, 0).await;
    let (_, shown) = demo
        .get(&format!("/api/v1/households/{household}"), Some("cadre"))
        .await;
    let grid = shown["properties"]["grid_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{shown}"));
    let mut visit = common::street::visit(household, lon, lat, 8.0, "身体尚好");
    visit["visited_at"] = json!(common::street::days_ago(1));
    let (status, body) = demo
        .post("/api/v1/visits", Some("cadre"), visit, Some("s-1"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let report = json!({"category": "repair", "lon": lon, "lat": lat, "description": "楼道灯不亮",
        "attributes": {"appliance": "electric"}});
    let (status, body) = demo
        .post("/api/v1/requests", Some("cadre"), report, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, there) = demo.get(&path("grid", grid), Some("cadre")).await;
    assert_eq!(status, StatusCode::OK, "{there}");
    assert_eq!(there["visited"], 1, "{there}");
    assert_eq!(there["open_requests"], 1, "{there}");
    assert_eq!(there["requests"]["requests"], 1, "{there}");
    let households = there["households"].as_f64().unwrap();
    assert!((there["coverage"].as_f64().unwrap() - 1.0 / households).abs() < 1e-12);

    // Unknown levels and units.
    for (query, expected) in [
        ("level=district&id=1".to_string(), StatusCode::BAD_REQUEST),
        (format!("level=community&id={grid}"), StatusCode::NOT_FOUND),
        ("level=grid&id=x".to_string(), StatusCode::BAD_REQUEST),
        ("level=grid".to_string(), StatusCode::BAD_REQUEST),
    ] {
        let (status, body) = demo
            .get(&format!("/api/v1/stats/summary?{query}"), Some("admin"))
            .await;
        assert_eq!(status, expected, "{query}: {body}");
    }
}

#[tokio::test]
async fn a_lesson_reaches_every_member_on_the_chosen_rolls_and_counts_each_first_read() {
    let demo = &street().await;
    let mine = branch_id(demo, BRANCH).await;
    let theirs = branch_id(demo, OTHER_BRANCH).await;
    let lesson = json!({"title": "微课堂：网格里的党员先锋", "body": "第一讲：如何联系群众……",
        "link": "https://example.org/lesson/1"});
    for (who, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("cadre"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
    ] {
        let (status, body) = demo
            .post("/api/v1/lessons", who, lesson.clone(), None)
            .await;
        assert_eq!(status, expected, "{who:?}: {body}");
    }
    let mut to_theirs = lesson.clone();
    to_theirs["branch_ids"] = json!([theirs]);
    let (status, body) = demo
        .post("/api/v1/lessons", Some("zhibu"), to_theirs, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let mut bad_link = lesson.clone();
    bad_link["link"] = json!("javascript:alert(1)");
    let (status, body) = demo
        .post("/api/v1/lessons", Some("zhibu"), bad_link, None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The branch's secretary sends to their branch: every member on its roll, mobile ones too.
    let (status, sent) = demo
        .post("/api/v1/lessons", Some("zhibu"), lesson.clone(), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (_, roll) = demo
        .get(&format!("/api/v1/branches/{mine}/members"), Some("zhibu"))
        .await;
    let on_roll = roll["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] != "transferred")
        .count();
    let recipients = sent["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), on_roll);
    assert_eq!(sent["lesson"]["recipients"], on_roll);
    assert_eq!(sent["lesson"]["branch_ids"], json!([mine]));
    assert!(recipients.iter().all(|r| r["branch_id"] == mine));

    // Opening a link counts once; a made-up link is no one's.
    let link = recipients[0]["link"].as_str().unwrap();
    for _ in 0..2 {
        let (status, read) = demo.get(link, None).await;
        assert_eq!(status, StatusCode::OK, "{read}");
        assert_eq!(read["title"], lesson["title"]);
        assert!(read.get("recipients").is_none(), "{read}");
    }
    let (status, _) = demo
        .get(&format!("/api/v1/lessons/read/{}", "0".repeat(64)), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = demo.get("/api/v1/lessons/read/short", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = demo.get("/api/v1/lessons", Some("zhibu")).await;
    assert_eq!(listed["lessons"][0]["reads"], 1, "{listed}");
    // The other branch's secretary does not see it; the community's does.
    let (_, other) = demo.get("/api/v1/lessons", Some("zhibu2")).await;
    assert_eq!(other["count"], 0, "{other}");
    let (_, community) = demo.get("/api/v1/lessons", Some("shuji")).await;
    assert_eq!(community["count"], 1, "{community}");
    // The community's secretary sends to every branch of the community by default.
    let (status, wide) = demo
        .post("/api/v1/lessons", Some("shuji"), lesson, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{wide}");
    let (_, branches) = demo
        .get(
            &format!(
                "/api/v1/branches?community_id={}",
                place_id(demo, "communities", "370202010001").await
            ),
            None,
        )
        .await;
    assert_eq!(
        wide["lesson"]["branch_ids"].as_array().unwrap().len(),
        branches["count"].as_u64().unwrap() as usize
    );
}

#[tokio::test]
async fn a_request_in_a_branchs_grid_goes_to_its_secretary_who_supervises_that_grid_only() {
    let demo = &street().await;
    // The demo's held area covers the grid: released, the chain passes to the grid.
    let area = place_id(demo, "areas", common::street::AREA).await;
    let (status, body) = demo
        .post(
            &format!("/api/v1/areas/{area}/release"),
            Some("cadre"),
            json!({}),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let grid = common::street::demo_layer("grids")
        .features
        .into_iter()
        .find(|f| f.property("code").and_then(Value::as_str) == Some(GRID))
        .unwrap();
    let outline: geo::Geometry<f64> = grid.try_into().unwrap();
    let bounds = geo::BoundingRect::bounding_rect(&outline).unwrap();
    let mut spot = None;
    'search: for i in 1..10 {
        for j in 1..10 {
            let lon = bounds.min().x + bounds.width() * f64::from(i) / 10.0;
            let lat = bounds.min().y + bounds.height() * f64::from(j) / 10.0;
            let (_, found) = demo
                .get(&format!("/api/v1/lookup?lon={lon}&lat={lat}"), None)
                .await;
            let unheld = found["areas"]
                .as_array()
                .unwrap()
                .iter()
                .all(|a| a["holder"].is_null());
            if found["grid"]["code"] == GRID && unheld {
                spot = Some((lon, lat));
                break 'search;
            }
        }
    }
    let (lon, lat) = spot.expect("a point of the grid outside held areas");
    let report = json!({"category": "repair", "lon": lon, "lat": lat, "description": "楼道灯不亮",
        "attributes": {"appliance": "electric"}});
    let (status, created) = demo
        .post("/api/v1/requests", Some("admin"), report, None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (_, me) = demo.get("/api/v1/me", Some("zhibu")).await;
    assert_eq!(
        created["responsible_id"], me["id"],
        "the branch's secretary answers: {created}"
    );
    let id = created["id"].as_i64().unwrap();
    for (who, expected) in [
        ("zhibu", StatusCode::OK),
        ("shuji", StatusCode::OK),
        ("zhibu2", StatusCode::FORBIDDEN),
    ] {
        let (status, body) = demo.get(&format!("/api/v1/requests/{id}"), Some(who)).await;
        assert_eq!(status, expected, "{who}: {body}");
        let (_, waiting) = demo.get("/api/v1/me/requests", Some(who)).await;
        let listed = waiting.to_string().contains(&format!("\"id\":{id},"));
        assert_eq!(listed, expected == StatusCode::OK, "{who}: {waiting}");
    }
    let accept = json!({"to": "accepted", "note": "已受理"});
    let path = format!("/api/v1/requests/{id}/transitions");
    let (status, body) = demo.post(&path, Some("zhibu2"), accept.clone(), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = demo.post(&path, Some("zhibu"), accept, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
