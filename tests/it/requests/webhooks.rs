//! Webhooks per category: signed reports reach a real receiver, and a dead one shows its
//! failures. Part of the `requests` tests (its helpers are in `tests/it/requests.rs`).

use super::*;

/// What a webhook receiver got: the signature header and the body.
type Received = Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver on a free port of this machine: its URL and what it received.
async fn receiver() -> (String, Received) {
    use axum::routing::post;
    let got: Received = Default::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    let signature = headers
                        .get("x-wangge-signature")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    kept.lock().unwrap().push((signature, body.to_vec()));
                    StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

#[tokio::test]
async fn webhooks_receive_signed_reports_and_their_failures_show() {
    use hmac::{Hmac, Mac};
    const SECRET: &str = "webhook-secret-of-the-test";
    let (url, got) = receiver().await;
    // A second hook on a port nobody listens on: its tries fail.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let db = common::temp_sqlite();
    common::add_user(&db.url, "root", "admin", "pw of root");
    let server = common::Server::start(
        &db.url,
        &[
            "--demo",
            "--webhook",
            &format!("repair={url}"),
            "--webhook",
            &format!("sanitation={dead_url}"),
            "--webhook-secret",
            SECRET,
        ],
    );
    let (_, login) = send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"name": "root", "password": "pw of root"})),
    )
    .await;
    let token = login["token"].as_str().unwrap().to_string();
    let (lon, lat) = inside_area();
    let post = |fields: Vec<(&'static str, String)>| {
        send(
            reqwest::Client::new()
                .post(server.url("/open311/v2/requests.json"))
                .form(&fields),
        )
    };
    let (status, answer) = post(repair_at(lon, lat, "热水器坏了")).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let id = answer[0]["service_request_id"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    let mut sanitation = repair_at(lon, lat, "垃圾没人清");
    sanitation[0] = ("service_code", "sanitation".into());
    sanitation.retain(|(k, _)| !k.starts_with("attribute"));
    let (status, answer) = post(sanitation).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");

    let (signature, body) = loop {
        if let Some(first) = got.lock().unwrap().first().cloned() {
            break first;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(&body);
    assert_eq!(
        signature,
        format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
    );
    let hooked: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(hooked["event"], "reported");
    assert_eq!(hooked["request"]["id"], id);
    assert_eq!(hooked["request"]["category"], "repair");
    let text = String::from_utf8_lossy(&body);
    assert!(
        !text.contains(PHONE) && !text.contains(NAME.1),
        "a webhook carries no reporter"
    );
    assert_eq!(
        got.lock().unwrap().len(),
        1,
        "the sanitation report went to its own hook only"
    );

    // The failing hook's tries show to admins, and only to them.
    let (status, _) = send(reqwest::Client::new().get(server.url("/api/v1/webhooks"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status_of = || async { signed_in_get(&server, "/api/v1/webhooks", &token).await };
    let hooks = loop {
        let hooks = status_of().await;
        if hooks["webhooks"][1]["failed_attempts"].as_u64() > Some(0) {
            break hooks;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (good, bad) = (&hooks["webhooks"][0], &hooks["webhooks"][1]);
    assert_eq!(
        (good["category"].as_str(), good["delivered"].as_u64()),
        (Some("repair"), Some(1))
    );
    assert_eq!(good["failed_attempts"], 0);
    assert_eq!(
        (bad["category"].as_str(), bad["delivered"].as_u64()),
        (Some("sanitation"), Some(0))
    );
    assert!(
        bad["last_error"].as_str().unwrap().starts_with("no answer"),
        "{bad}"
    );
}

async fn signed_in_get(server: &common::Server, path: &str, token: &str) -> Value {
    let (status, body) = send(
        reqwest::Client::new()
            .get(server.url(path))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}
