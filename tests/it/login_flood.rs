//! Logins under attack, over real HTTP against the real `wangge` binary: a flood of parallel
//! guesses is refused before hashing and the server's memory stays small; one address hammering
//! a name does not lock its user out from elsewhere; `X-Forwarded-*` count only from the proxy
//! named with `--trust-proxy`; over-long names are refused.

use crate::common;

use common::Server;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use wangge::auth::throttle::FREE_ATTEMPTS;

/// A name long enough to be recognisable if an answer echoed it.
const NAME: &str = "li-na-of-zhuhai-road";
const PASSWORD: &str = "correct horse battery";

fn add_user(database: &str, name: &str, password: &str) -> std::process::Output {
    common::wangge_with_stdin(
        &[
            "user",
            "add",
            "--name",
            name,
            "--role",
            "cadre",
            "--display-name",
            "李娜",
            "--phone",
            "13900000001",
            "--database",
            database,
        ],
        &format!("{password}\n"),
    )
}

struct Answer {
    status: StatusCode,
    retry_after: Option<u64>,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// `POST /api/v1/auth/login`, with `X-Forwarded-For: forwarded_for` if given.
async fn login(
    client: &reqwest::Client,
    server: &Server,
    name: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Answer {
    let mut request = client
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"name": name, "password": password}));
    if let Some(addr) = forwarded_for {
        request = request.header("x-forwarded-for", addr);
    }
    let response = request.send().await.expect("send");
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let text = response.text().await.unwrap();
    Answer {
        status,
        retry_after,
        text,
    }
}

/// The peak resident memory of a process, in KiB, from `/proc/PID/status`.
fn peak_memory_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

#[tokio::test]
async fn three_hundred_parallel_guesses_check_five_passwords_and_memory_stays_small() {
    let db = common::temp_sqlite();
    assert!(add_user(&db.url, NAME, PASSWORD).status.success());
    let server = Server::start(&db.url, &[]);
    let client = reqwest::Client::new();
    // A known name and a made-up one follow the same rules.
    for name in [NAME, "no-such-user-anywhere"] {
        let guesses: Vec<String> = (0..300).map(|i| format!("guess {i}")).collect();
        let answers = join_all(
            guesses
                .iter()
                .map(|guess| login(&client, &server, name, guess, None)),
        )
        .await;
        let checked = answers
            .iter()
            .filter(|a| a.status == StatusCode::UNAUTHORIZED)
            .count();
        // Each attempt reserved its slot before hashing: only the first five were checked.
        assert_eq!(checked, FREE_ATTEMPTS as usize, "{name}");
        for a in answers
            .iter()
            .filter(|a| a.status != StatusCode::UNAUTHORIZED)
        {
            assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
            assert_eq!(a.code(), "too_many_attempts");
            assert!(matches!(a.retry_after, Some(1..=60)), "{:?}", a.retry_after);
            assert!(
                !a.text.contains(name),
                "the 429 echoes the name: {}",
                a.text
            );
        }
    }
    // At most one 19 MiB argon2 check per core ran at once; 300 at once would take 5.7 GiB.
    let peak = peak_memory_kib(server.server_pid());
    eprintln!("peak memory of the server: {} MiB", peak / 1024);
    assert!(peak < 1024 * 1024, "peak memory {peak} KiB");
    // The server still answers.
    let health = client.get(server.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_right_password_from_another_address_logs_in_while_one_address_hammers() {
    let db = common::temp_sqlite();
    assert!(add_user(&db.url, NAME, PASSWORD).status.success());
    let server = Server::start(&db.url, &["--trust-proxy", "127.0.0.1"]);
    let client = reqwest::Client::new();
    let guesser = Some("198.51.100.9");
    let phone = Some("203.0.113.7");
    for i in 0..20 {
        let a = login(&client, &server, NAME, &format!("guess {i}"), guesser).await;
        let want = if i < FREE_ATTEMPTS {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(a.status, want, "guess {i}: {}", a.text);
    }
    // The guesser waits even with the right password; the user's phone logs in.
    let a = login(&client, &server, NAME, PASSWORD, guesser).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
    let a = login(&client, &server, NAME, PASSWORD, phone).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(a.json()["user"]["display_name"], "李娜");
    // A client cannot pass for the proxy by claiming its address further left in the header.
    let forged = Some("127.0.0.1, 198.51.100.9");
    let a = login(&client, &server, NAME, PASSWORD, forged).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
}

#[tokio::test]
async fn without_trust_proxy_x_forwarded_for_is_ignored() {
    let db = common::temp_sqlite();
    assert!(add_user(&db.url, NAME, PASSWORD).status.success());
    let server = Server::start(&db.url, &[]);
    let client = reqwest::Client::new();
    for i in 0..FREE_ATTEMPTS {
        let a = login(
            &client,
            &server,
            NAME,
            "wrong",
            Some(&format!("10.0.0.{i}")),
        )
        .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    }
    // A new X-Forwarded-For on every try does not make a new client: all came from 127.0.0.1.
    let a = login(&client, &server, NAME, PASSWORD, Some("10.0.0.99")).await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS, "{}", a.text);
}

#[tokio::test]
async fn over_long_names_and_passwords_are_refused_before_anything_else() {
    let db = common::temp_sqlite();
    let long = "n".repeat(wangge::auth::MAX_NAME_CHARS + 1);
    let out = add_user(&db.url, &long, PASSWORD);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at most 64 characters"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(add_user(&db.url, NAME, PASSWORD).status.success());
    let server = Server::start(&db.url, &[]);
    let client = reqwest::Client::new();
    // A name of a megabyte, many times: each is 422 without an echo, and none is counted.
    let huge = "x".repeat(1 << 20);
    for name in [long.as_str(), huge.as_str()] {
        for _ in 0..FREE_ATTEMPTS + 2 {
            let a = login(&client, &server, name, "pw", None).await;
            assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.status);
            assert_eq!(a.code(), "name_too_long");
            assert!(a.text.len() < 300, "{}", a.text.len());
        }
    }
    // Exactly the limit is a name like any other (wrong here): 401, not 422.
    let at_limit = "网".repeat(wangge::auth::MAX_NAME_CHARS);
    let a = login(&client, &server, &at_limit, "pw", None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{}", a.text);
    let a = login(&client, &server, NAME, &"p".repeat(4096), None).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text);
    assert_eq!(a.code(), "password_too_long");
    // None of it counted against the real name.
    let a = login(&client, &server, NAME, PASSWORD, None).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
}

/// The TileJSON tile URL and the OGC landing page's self link for a request that claims
/// another host and scheme through `X-Forwarded-*`.
async fn links_under_forged_headers(server: &Server) -> (String, String) {
    let client = reqwest::Client::new();
    let get = |path: &str| {
        client
            .get(server.url(path))
            .header("host", "wangge.example.org")
            .header("x-forwarded-host", "evil.example")
            .header("x-forwarded-proto", "https")
            .send()
    };
    let tilejson: Value = get("/tiles/grids.json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let landing: Value = get("/ogc").await.unwrap().json().await.unwrap();
    let own = landing["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "self")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_string();
    (tilejson["tiles"][0].as_str().unwrap().to_string(), own)
}

#[tokio::test]
async fn forwarded_host_and_proto_count_only_from_the_trusted_proxy() {
    let db = common::temp_sqlite();
    let server = Server::start(&db.url, &[]);
    let (tiles, own) = links_under_forged_headers(&server).await;
    assert_eq!(
        tiles,
        "http://wangge.example.org/tiles/grids/{z}/{x}/{y}.mvt"
    );
    assert_eq!(own, "http://wangge.example.org/ogc");
    drop(server);
    // The same headers from the proxy named with --trust-proxy (here the test itself).
    let server = Server::start_with_env(
        &db.url,
        &[],
        &[("WANGGE_TRUST_PROXY", "10.9.9.9,127.0.0.1")],
    );
    let (tiles, own) = links_under_forged_headers(&server).await;
    assert_eq!(tiles, "https://evil.example/tiles/grids/{z}/{x}/{y}.mvt");
    assert_eq!(own, "https://evil.example/ogc");
}
