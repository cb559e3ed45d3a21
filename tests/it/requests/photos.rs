//! Photos of requests: the original kept whole for staff, the public copy and thumbnail without
//! metadata, the after-photo that handling needs, and the limits. Part of the `requests` tests
//! (its helpers are in `tests/it/requests.rs`).

use super::*;

/// A `width`×`height` PNG of one colour.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(width, height, image::Rgb([200, 80, 20]))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    out.into_inner()
}

pub(crate) async fn upload(
    demo: &Demo,
    id: &str,
    who: &str,
    kind: &str,
    media: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let path = format!("/api/v1/requests/{id}/photos?kind={kind}");
    let request = reqwest::Client::new().post(demo.server.url(&path));
    demo.send_image(request, who, media, body).await
}

async fn fetch(demo: &Demo, path: &str, who: Option<&str>) -> (StatusCode, String, Vec<u8>) {
    demo.get_bytes(path, who, "content-type").await
}

#[tokio::test]
async fn photos_are_kept_whole_for_staff_and_shown_to_the_public_without_metadata() {
    let demo = demo().await;
    let (_, lon, lat) = my_household(demo, 5).await;
    // A resident's report with a photo, as a multipart form.
    let boundary = "wangge-test-boundary";
    let mut body = Vec::new();
    for (name, value) in repair_at(lon, lat, "窗户玻璃碎了") {
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .bytes(),
        );
    }
    let original = png(1200, 900);
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").bytes());
    body.extend(&original);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let (status, answer) = send(
        reqwest::Client::new()
            .post(demo.server.url("/open311/v2/requests.json"))
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let media_url = public(demo, &id).await["media_url"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(media_url, format!("/api/v1/requests/{id}/photo"));
    let (status, kind, shown) = fetch(demo, &media_url, None).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "image/jpeg"));
    let shown = image::load_from_memory(&shown).unwrap();
    assert_eq!((shown.width(), shown.height()), (1200, 900));

    // Staff add the photo of the work done; the list names both.
    let (status, after) = upload(demo, &id, "cadre", "after", "image/png", png(640, 480)).await;
    assert_eq!(status, StatusCode::CREATED, "{after}");
    assert_eq!(
        (after["kind"].as_str(), after["width"].as_u64()),
        (Some("after"), Some(640))
    );
    let (_, listed) = demo
        .get(&format!("/api/v1/requests/{id}/photos"), None)
        .await;
    let kinds: Vec<&str> = listed["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["report", "after"]);
    let (_, full) = demo
        .get(&format!("/api/v1/requests/{id}"), Some("cadre"))
        .await;
    assert_eq!(full["photos"].as_array().unwrap().len(), 2);

    // The thumbnail is small; the original is the uploaded file, for those who answer only.
    let report_photo = &listed["photos"][0];
    let (status, _, thumb) =
        fetch(demo, report_photo["thumbnail_url"].as_str().unwrap(), None).await;
    assert_eq!(status, StatusCode::OK);
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
    let original_url = format!("/api/v1/photos/{}/original", report_photo["id"]);
    for (who, expected) in [
        (Some("cadre"), StatusCode::OK),
        (Some("shuji"), StatusCode::OK),
        (Some("idle"), StatusCode::FORBIDDEN),
        (Some("planner"), StatusCode::FORBIDDEN),
        (None, StatusCode::UNAUTHORIZED),
    ] {
        let (status, kind, bytes) = fetch(demo, &original_url, who).await;
        assert_eq!(status, expected, "{who:?}");
        if status == StatusCode::OK {
            assert_eq!(kind, "image/png");
            assert_eq!(bytes, original, "the original is kept byte for byte");
        }
    }

    // Refused: not an image, a broken one, someone who does not answer for it, too many.
    let (status, _) = upload(demo, &id, "cadre", "after", "text/plain", b"hello".to_vec()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut broken = png(64, 64);
    broken.truncate(broken.len() / 2);
    let (status, body) = upload(demo, &id, "cadre", "after", "image/png", broken).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("unreadable_photo"))
    );
    let (status, _) = upload(demo, &id, "idle", "after", "image/png", png(8, 8)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for _ in 1..wangge::app::MAX_PHOTOS_PER_KIND {
        let (status, body) = upload(demo, &id, "cadre", "after", "image/png", png(8, 8)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = upload(demo, &id, "cadre", "after", "image/png", png(8, 8)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("too_many_photos"))
    );
    let (status, _, _) = fetch(demo, "/api/v1/photos/999999", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
