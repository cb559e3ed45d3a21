//! Accounts through the real binary: `wangge user add`, login, /me, logout, roles and the trace.

use crate::common;

use common::Server;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Creates a user with `wangge user add`, the password on standard input.
fn add_user(database: &str, name: &str, role: &str, password: &str) -> std::process::Output {
    common::wangge_with_stdin(
        &[
            "user",
            "add",
            "--name",
            name,
            "--role",
            role,
            "--database",
            database,
        ],
        &format!("{password}\n"),
    )
}

fn created(output: std::process::Output) {
    assert!(
        output.status.success(),
        "wangge user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

async fn login(server: &Server, name: &str, password: &str) -> (StatusCode, Value) {
    send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": password})),
    )
    .await
}

async fn token_of(server: &Server, name: &str, password: &str) -> String {
    let (status, body) = login(server, name, password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

async fn get_as(server: &Server, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().get(server.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    send(request).await
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {body}"))
}

#[tokio::test]
async fn login_me_logout_and_the_trace() {
    let db = common::temp_sqlite();
    created(add_user(&db.url, "admin", "admin", "s3cret pass"));
    created(add_user(&db.url, "网格员小李", "cadre", "cadre-pw"));
    let server = Server::start(&db.url, &[]);

    // A good login: a token, its expiry and who we are.
    let (status, body) = login(&server, "admin", "s3cret pass").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 64);
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["user"]["name"], "admin");
    assert_eq!(body["user"]["role"], "admin");
    let admin_id = body["user"]["id"].as_i64().unwrap();

    let (status, me) = get_as(&server, "/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        me,
        json!({"id": admin_id, "name": "admin", "role": "admin", "display_name": null, "phone": null,
               "community_id": null, "branch_id": null})
    );

    // Wrong password and unknown name: the same 401, so names cannot be probed.
    let (status, wrong) = login(&server, "admin", "guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(&wrong), "unauthorized");
    let (status, unknown) = login(&server, "nobody", "guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong, unknown);

    // No token, a made-up token, a malformed header: 401 JSON.
    for token in [None, Some("0000")] {
        let (status, body) = get_as(&server, "/api/v1/me", token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(error_code(&body), "unauthorized");
    }
    let response = reqwest::Client::new()
        .get(server.url("/api/v1/me"))
        .header("Authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));

    // A cadre may not read the trace.
    let cadre = token_of(&server, "网格员小李", "cadre-pw").await;
    let (status, body) = get_as(&server, "/api/v1/audit?entity=user", Some(&cadre)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(error_code(&body), "forbidden");

    // An admin reads it: the creation by the operator, then the login.
    let path = format!("/api/v1/audit?entity=user&id={admin_id}");
    let (status, body) = get_as(&server, &path, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let records = body["records"].as_array().unwrap();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "login"], "{body}");
    assert_eq!(records[0]["user_id"], Value::Null);
    assert_eq!(records[0]["after"]["role"], "admin");
    assert_eq!(records[1]["user_id"], admin_id);
    let (status, body) = get_as(&server, "/api/v1/audit", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = get_as(&server, "/api/v1/audit?entity=user&id=x", Some(&token)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Logout revokes the token, and only that one.
    let (status, _) = send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/logout"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = get_as(&server, "/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = get_as(&server, "/api/v1/me", Some(&cadre)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/logout"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "logging out twice");

    // The logout is in the trace too.
    let again = token_of(&server, "admin", "s3cret pass").await;
    let (_, body) = get_as(&server, &path, Some(&again)).await;
    let actions: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["create", "login", "logout", "login"], "{body}");
}

#[tokio::test]
async fn password_guessing_is_held_up_per_name() {
    let db = common::temp_sqlite();
    created(add_user(&db.url, "admin", "admin", "s3cret pass"));
    created(add_user(&db.url, "planner", "planner", "plan-pw"));
    let server = Server::start(&db.url, &[]);
    for guess in 1..=5 {
        let (status, body) = login(&server, "admin", &format!("guess {guess}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "guess {guess}: {body}");
    }
    // The sixth attempt waits, even with the right password: it is not checked at all.
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"name": "admin", "password": "s3cret pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_code(&body), "too_many_attempts", "{body}");
    // A made-up name is held up the same way, so the answer does not tell which names exist.
    for guess in 1..=5 {
        login(&server, "nobody", &format!("guess {guess}")).await;
    }
    assert_eq!(
        login(&server, "nobody", "guess").await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Other names are not held up.
    token_of(&server, "planner", "plan-pw").await;
}

#[tokio::test]
async fn bad_login_bodies_are_json_errors() {
    let db = common::temp_sqlite();
    let server = Server::start(&db.url, &[]);
    let client = reqwest::Client::new();
    for (body, want, code) in [
        ("{", StatusCode::BAD_REQUEST, "malformed_json"),
        (
            r#"{"name": "a"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
        (
            r#"{"name": 1, "password": "p"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
        ),
    ] {
        let (status, answer) = send(
            client
                .post(server.url("/api/v1/auth/login"))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
        assert_eq!(status, want, "{body}: {answer}");
        assert_eq!(error_code(&answer), code, "{body}: {answer}");
    }
}

#[test]
fn user_add_refuses_duplicates_bad_roles_and_empty_passwords() {
    let db = common::temp_sqlite();
    created(add_user(&db.url, "planner1", "planner", "pw"));
    let again = add_user(&db.url, "planner1", "secretary", "other");
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("already exists"), "{stderr}");

    let bad_role = add_user(&db.url, "x", "root", "pw");
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));

    let empty = add_user(&db.url, "y", "cadre", "");
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("password is empty"));

    // --password-file: its first line is the password.
    let file = db.dir.path().join("pw.txt");
    std::fs::write(&file, "from a file\nignored\n").unwrap();
    let output = common::wangge(&[
        "user",
        "add",
        "--name",
        "secretary1",
        "--role",
        "secretary",
        "--password-file",
        file.to_str().unwrap(),
        "--database",
        &db.url,
    ]);
    created(output);
}

/// The same flow on PostGIS: the CLI and the server share one database.
#[tokio::test]
async fn accounts_work_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    created(add_user(&url, "pg-admin", "admin", "pw on pg"));
    let server = Server::start(&url, &[]);
    let token = token_of(&server, "pg-admin", "pw on pg").await;
    let (status, me) = get_as(&server, "/api/v1/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["name"], "pg-admin");
    let (status, body) = get_as(&server, "/api/v1/audit?entity=user", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"].as_array().unwrap().len(), 2, "{body}");
}
