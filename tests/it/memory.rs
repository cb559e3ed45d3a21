//! Memory follows the database, through real HTTP against the real `wangge` binary:
//!
//! - a release and a claim of one area racing leave the lookup's holder as the store has it,
//!   whichever handler finishes first (changes carry the database's commit order); over HTTP
//!   the late handler is rare, so the same is also forced through `App` on a real store;
//! - a client that hangs up right after sending a claim or an edit does not leave memory behind
//!   the store (the write and the memory update run in a task the client cannot stop);
//! - after PostgreSQL restarts, another instance still follows writes, without a restart of its
//!   own (the change listener reconnects and reloads). This one runs its own PostgreSQL cluster,
//!   never the shared one.

use crate::common;

use common::Server;
use geo::{InteriorPoint, MultiPolygon};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// How long memory may take to agree with the store after a write's answer (or after the
/// client hung up): the write finishes in milliseconds; this is "does not hang".
const SETTLE_WITHIN: Duration = Duration::from_secs(10);

fn add_user(database: &str, name: &str, role: &str, shown: &str) {
    let args = [
        "user",
        "add",
        "--name",
        name,
        "--role",
        role,
        "--display-name",
        shown,
        "--database",
        database,
    ];
    let output = common::wangge_with_stdin(&args, &format!("pw of {name}\n"));
    assert!(
        output.status.success(),
        "wangge user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Option<String>, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, etag, body)
}

async fn token_of(server: &Server, name: &str) -> String {
    let (status, _, body) = send(
        reqwest::Client::new()
            .post(server.url("/api/v1/auth/login"))
            .json(&json!({"name": name, "password": format!("pw of {name}")})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["token"].as_str().unwrap().to_string()
}

async fn get(server: &Server, path: &str, token: &str) -> (StatusCode, Option<String>, Value) {
    send(
        reqwest::Client::new()
            .get(server.url(path))
            .bearer_auth(token),
    )
    .await
}

async fn post(server: &Server, path: &str, token: &str) -> StatusCode {
    send(
        reqwest::Client::new()
            .post(server.url(path))
            .bearer_auth(token),
    )
    .await
    .0
}

/// The first demo area: its id and a point inside it.
async fn an_area(server: &Server, token: &str) -> (i64, (f64, f64)) {
    let (_, _, areas) = get(server, "/api/v1/areas", token).await;
    let feature = &areas["features"][0];
    let geometry: geojson::Geometry = serde_json::from_value(feature["geometry"].clone()).unwrap();
    let shape: MultiPolygon<f64> = geometry.try_into().unwrap();
    let p = shape.interior_point().unwrap();
    (feature["id"].as_i64().unwrap(), (p.x(), p.y()))
}

/// Who holds the area by the store (its claims history): the holder's display name.
async fn holder_in_store(server: &Server, token: &str, area: i64) -> Value {
    let (status, _, body) = get(server, &format!("/api/v1/areas/{area}/claims"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["claims"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["released_at"].is_null())
        .map_or(Value::Null, |c| c["holder"]["display_name"].clone())
}

/// Who holds the area by memory (the lookup's answer): the holder's display name.
async fn holder_in_memory(server: &Server, area: i64, (lon, lat): (f64, f64)) -> Value {
    let url = server.url(&format!("/api/v1/lookup?lon={lon}&lat={lat}"));
    let body: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body["areas"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == area)
        .unwrap_or_else(|| panic!("the lookup names the area: {body}"))["holder"]
        .get("display_name")
        .cloned()
        .unwrap_or(Value::Null)
}

/// Waits until memory and the store agree on the area's holder; fails after [`SETTLE_WITHIN`].
async fn holders_agree(server: &Server, token: &str, area: i64, point: (f64, f64), what: &str) {
    let start = Instant::now();
    loop {
        let stored = holder_in_store(server, token, area).await;
        let memory = holder_in_memory(server, area, point).await;
        if stored == memory {
            return;
        }
        assert!(
            start.elapsed() < SETTLE_WITHIN,
            "{what}: memory says {memory}, the store says {stored}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A release by the holder and a claim by another cadre, sent at once, many times: afterwards
/// the lookup (memory) names whom the claims history (the store) names.
async fn race_leaves_memory_as_the_store(url: &str) {
    add_user(url, "admin", "admin", "管理员");
    add_user(url, "jia", "cadre", "甲");
    add_user(url, "yi", "cadre", "乙");
    let server = Server::start(url, &["--demo"]);
    let admin = token_of(&server, "admin").await;
    let jia = token_of(&server, "jia").await;
    let yi = token_of(&server, "yi").await;
    let (area, point) = an_area(&server, &admin).await;
    let claim = format!("/api/v1/areas/{area}/claim");
    let release = format!("/api/v1/areas/{area}/release");
    let mut yi_won = 0;
    for round in 0..40 {
        // 甲 holds the area.
        match holder_in_store(&server, &admin, area).await {
            Value::Null => assert_eq!(post(&server, &claim, &jia).await, StatusCode::CREATED),
            held if held == "乙" => {
                assert_eq!(post(&server, &release, &yi).await, StatusCode::OK);
                assert_eq!(post(&server, &claim, &jia).await, StatusCode::CREATED);
            }
            _ => {}
        }
        let (released, claimed) =
            tokio::join!(post(&server, &release, &jia), post(&server, &claim, &yi));
        assert_eq!(released, StatusCode::OK, "round {round}");
        assert!(
            [StatusCode::CREATED, StatusCode::CONFLICT].contains(&claimed),
            "round {round}: {claimed}"
        );
        yi_won += usize::from(claimed == StatusCode::CREATED);
        // Both answers are in: memory has had its update from both.
        let stored = holder_in_store(&server, &admin, area).await;
        let memory = holder_in_memory(&server, area, point).await;
        assert_eq!(memory, stored, "round {round}: memory against the store");
    }
    eprintln!("the claim won {yi_won} of 40 races");
}

#[tokio::test]
async fn a_release_and_a_claim_racing_leave_memory_as_the_store_on_sqlite() {
    let db = common::temp_sqlite();
    race_leaves_memory_as_the_store(&db.url).await;
}

#[tokio::test]
async fn a_release_and_a_claim_racing_leave_memory_as_the_store_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    race_leaves_memory_as_the_store(&url).await;
}

/// Sends one request on a connection of its own and hangs up `after` the request is written,
/// without reading the answer.
async fn hang_up(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    after: Duration,
) {
    let authority = server.base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(after).await;
    drop(stream);
    // The server reads the request after the hang-up, or never: give it time to, so that what
    // is compared next is after the write (a request handled later still ends in agreement,
    // and the final edit below retries if it meets one).
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// The latest version of a place by the store (its history) and by memory (the `ETag`).
async fn versions(server: &Server, token: &str, path: &str) -> (i64, i64) {
    let (status, _, history) = get(server, &format!("{path}/history"), token).await;
    assert_eq!(status, StatusCode::OK, "{history}");
    let stored = history["versions"]
        .as_array()
        .unwrap_or_else(|| panic!("a history: {history}"))
        .iter()
        .filter_map(|v| v["version"].as_i64())
        .max()
        .unwrap();
    let (_, etag, _) = get(server, path, token).await;
    let memory = etag.unwrap().trim_matches('"').parse().unwrap();
    (stored, memory)
}

/// Claims, releases and edits whose clients hang up at once (and a little later, to land at
/// every step of the write): memory ends where the store is, and the next edit with the stored
/// version is accepted.
async fn hung_up_writes_still_reach_memory(url: &str) {
    add_user(url, "planner", "planner", "规划员");
    add_user(url, "jia", "cadre", "甲");
    let server = Server::start(url, &["--demo"]);
    let planner = token_of(&server, "planner").await;
    let jia = token_of(&server, "jia").await;
    let (area, point) = an_area(&server, &planner).await;
    let (_, _, grids) = get(&server, "/api/v1/grids", &planner).await;
    let grid = grids["features"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/grids/{grid}");
    let bearer = |token: &str| format!("Bearer {token}");
    for step in 0..12u64 {
        let after = Duration::from_micros(step * 750);
        let what = if holder_in_store(&server, &planner, area).await.is_null() {
            "claim"
        } else {
            "release"
        };
        hang_up(
            &server,
            "POST",
            &format!("/api/v1/areas/{area}/{what}"),
            &[("authorization", &bearer(&jia))],
            "",
            after,
        )
        .await;
        holders_agree(
            &server,
            &planner,
            area,
            point,
            &format!("{what} hung up after {after:?}"),
        )
        .await;

        let (stored, _) = versions(&server, &planner, &path).await;
        let body = json!({"type": "Feature", "geometry": null,
                          "properties": {"name": format!("挂断{step}")}})
        .to_string();
        hang_up(
            &server,
            "PATCH",
            &path,
            &[
                ("authorization", &bearer(&planner)),
                ("content-type", "application/json"),
                ("if-match", &format!("\"{stored}\"")),
            ],
            &body,
            after,
        )
        .await;
        let start = Instant::now();
        loop {
            let (stored, memory) = versions(&server, &planner, &path).await;
            if stored == memory {
                break;
            }
            assert!(
                start.elapsed() < SETTLE_WITHIN,
                "edit hung up after {after:?}: memory has version {memory}, the store {stored}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // The next edit, with the version the store has, is accepted (unless a hung-up edit was
    // stored only just now: then the store has moved on, and the edit is tried again).
    for attempt in 0..3 {
        let (stored, _) = versions(&server, &planner, &path).await;
        let (status, etag, body) = send(
            reqwest::Client::new()
                .patch(server.url(&path))
                .bearer_auth(&planner)
                .header("if-match", format!("\"{stored}\""))
                .json(
                    &json!({"type": "Feature", "geometry": null, "properties": {"name": "最后"}}),
                ),
        )
        .await;
        if status == StatusCode::PRECONDITION_FAILED
            && versions(&server, &planner, &path).await.0 > stored
            && attempt < 2
        {
            continue;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(etag, Some(format!("\"{}\"", stored + 1)));
        break;
    }
}

#[tokio::test]
async fn hung_up_writes_still_reach_memory_on_sqlite() {
    let db = common::temp_sqlite();
    hung_up_writes_still_reach_memory(&db.url).await;
}

#[tokio::test]
async fn hung_up_writes_still_reach_memory_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    hung_up_writes_still_reach_memory(&url).await;
}

/// PostgreSQL 15's programs, as Debian installs them.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL cluster of this test's own in a temporary folder, on a free port of 127.0.0.1,
/// run by the `postgres` OS user (initdb refuses root); stopped when dropped. The shared
/// cluster on port 5432 serves other tests and is never restarted.
struct PrivateCluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl PrivateCluster {
    /// Starts a cluster, or `None` (with a message) where PostgreSQL or PostGIS is not
    /// installed; with `WANGGE_REQUIRE_POSTGRES=1` that is a failure instead.
    async fn start() -> Option<PrivateCluster> {
        let postgis = Path::new("/usr/share/postgresql/15/extension/postgis.control");
        let missing = [
            Path::new(PG_BIN).join("initdb"),
            postgis.to_path_buf(),
            PathBuf::from("/usr/sbin/runuser"),
        ]
        .into_iter()
        .find(|p| !p.exists());
        if let Some(missing) = missing {
            assert!(
                std::env::var("WANGGE_REQUIRE_POSTGRES").is_err(),
                "WANGGE_REQUIRE_POSTGRES is set but {} is missing",
                missing.display()
            );
            eprintln!(
                "{} is missing: skipping the PostgreSQL restart test (run scripts/test.sh)",
                missing.display()
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        run(
            "chown",
            &["postgres:postgres", dir.path().to_str().unwrap()],
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = PrivateCluster { dir, port };
        cluster.as_postgres(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        cluster.pg_ctl("start");
        let admin = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        let pool = sqlx::PgPool::connect(&admin).await.unwrap();
        sqlx::query("CREATE DATABASE wangge")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let pool = sqlx::PgPool::connect(&cluster.url()).await.unwrap();
        sqlx::query("CREATE EXTENSION postgis")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/wangge", self.port)
    }

    fn as_postgres(&self, program: &str, args: &[&str]) {
        let program = format!("{PG_BIN}/{program}");
        let mut all = vec!["-u", "postgres", "--", program.as_str()];
        all.extend(args);
        run("runuser", &all);
    }

    /// `pg_ctl ACTION`, waiting until it is done; the server listens on 127.0.0.1 only, its
    /// socket in the temporary folder.
    fn pg_ctl(&self, action: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.as_postgres(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log,
                "-w",
                "-m",
                "fast",
                "-o",
                &options,
                action,
            ],
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--", &format!("{PG_BIN}/pg_ctl")])
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two instances serve one PostGIS; PostgreSQL restarts; a rename made through one instance
/// afterwards is served by the other within 2 s, and the same after an outage of 6 s.
#[tokio::test]
async fn another_instance_follows_writes_after_postgres_restarts() {
    let Some(cluster) = PrivateCluster::start().await else {
        return;
    };
    let url = cluster.url();
    add_user(&url, "planner", "planner", "规划员");
    let a = Server::start(&url, &["--demo"]);
    let b = Server::start(&url, &[]);
    let planner = token_of(&a, "planner").await;
    let (_, _, grids) = get(&b, "/api/v1/grids", &planner).await;
    let grid = grids["features"][0]["id"].as_i64().unwrap();
    let path = format!("/api/v1/grids/{grid}");
    let rename = |name: &str, tag: &str| {
        reqwest::Client::new()
            .patch(a.url(&path))
            .bearer_auth(&planner)
            .header("if-match", tag)
            .json(&json!({"type": "Feature", "geometry": null, "properties": {"name": name}}))
    };
    let name_on_b = async || get(&b, &path, &planner).await.2["properties"]["name"].clone();

    // A quick restart, then an outage of a few seconds: long enough that a listener which
    // waits for its pool's own reconnection (backing off up to 6 s) is still away when the
    // rename's notice is sent.
    for round in 0..2 {
        if round == 0 {
            cluster.pg_ctl("restart");
        } else {
            cluster.pg_ctl("stop");
            tokio::time::sleep(Duration::from_secs(6)).await;
            cluster.pg_ctl("start");
        }
        let (_, tag, _) = get(&a, &path, &planner).await;
        let name = format!("重启后改名{round}");
        let (status, _, body) = send(rename(&name, tag.as_deref().unwrap())).await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        let written = Instant::now();
        loop {
            if name_on_b().await == name.as_str() {
                break;
            }
            assert!(
                written.elapsed() < Duration::from_secs(2),
                "round {round}: B does not serve the rename 2 s after it was made through A"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The same race with the handlers' order forced: the store commits a release and then a
/// claim, and memory hears of the claim first. The late release changes nothing, before or
/// after a full reload, and memory ends as the store is.
async fn a_late_release_does_not_undo_a_later_claim(
    store: std::sync::Arc<dyn wangge::store::Store>,
) {
    use wangge::auth::Role;
    use wangge::model::PlaceKind;
    let app = wangge::app::App::open(store.clone()).await.unwrap();
    for (layer, text) in wangge::demo::LAYERS.iter().take(5) {
        let data = wangge::geodata::parse_layer(text, *layer, None, || {}).unwrap();
        app.import(data).await.unwrap();
    }
    let area = app
        .map_data()
        .places
        .iter()
        .find(|p| p.kind == PlaceKind::Area)
        .unwrap()
        .id;
    let jia = store.create_user("jia", Role::Cadre, "h").await.unwrap();
    let yi = store.create_user("yi", Role::Cadre, "h").await.unwrap();
    let (held, seq) = store.claim_area(area, jia.id).await.unwrap();
    assert!(app.set_holder(area, Some(held.holder), seq));

    for round in 0..2 {
        let (_, released) = store.release_area(area, jia.id, jia.id).await.unwrap();
        let (claim, claimed) = store.claim_area(area, yi.id).await.unwrap();
        assert!(claimed > released);
        assert!(app.set_holder(area, Some(claim.holder), claimed));
        if round == 1 {
            // A reload between the two: it includes both changes.
            app.reload().await.unwrap();
        }
        assert!(!app.set_holder(area, None, released), "round {round}");
        assert_eq!(app.map_data().holders[&area].id, yi.id, "round {round}");
        // Back to 甲 for the next round.
        let (_, released) = store.release_area(area, yi.id, yi.id).await.unwrap();
        assert!(app.set_holder(area, None, released));
        let (held, seq) = store.claim_area(area, jia.id).await.unwrap();
        assert!(app.set_holder(area, Some(held.holder), seq));
    }
    let stored: std::collections::HashMap<i64, i64> = store
        .current_claims()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.area_id, c.holder.id))
        .collect();
    let memory: std::collections::HashMap<i64, i64> = app
        .map_data()
        .holders
        .iter()
        .map(|(area, h)| (*area, h.id))
        .collect();
    assert_eq!(memory, stored);
}

#[tokio::test]
async fn a_late_release_does_not_undo_a_later_claim_on_sqlite() {
    let db = common::temp_sqlite();
    a_late_release_does_not_undo_a_later_claim(common::sqlite_store(&db).await).await;
}

#[tokio::test]
async fn a_late_release_does_not_undo_a_later_claim_on_postgis() {
    let Some(store) = common::postgres_store().await else {
        return;
    };
    a_late_release_does_not_undo_a_later_claim(store).await;
}
