//! Shared helpers for the integration tests: real stores (a temporary SQLite file, a private
//! schema in a real PostGIS) and the real `wangge` binary serving on a free port.
#![allow(dead_code)] // each test file uses its own subset

pub mod fixtures;
pub mod in_process;
pub mod sse;
pub mod street;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use wangge::store::{self, Store};

/// A temporary SQLite database file; removed with its folder when dropped.
pub struct TempSqlite {
    pub dir: tempfile::TempDir,
    pub url: String,
}

pub fn temp_sqlite() -> TempSqlite {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/wangge.db", dir.path().display());
    TempSqlite { dir, url }
}

/// The PostGIS database given by `WANGGE_TEST_POSTGRES`, or `None` to skip.
///
/// `scripts/test.sh` sets it and also `WANGGE_REQUIRE_POSTGRES=1`, which turns a missing
/// database into a failure so that the PostGIS half of the suite can never be skipped silently.
pub fn postgres_base_url() -> Option<String> {
    match std::env::var("WANGGE_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("WANGGE_REQUIRE_POSTGRES").is_err(),
                "WANGGE_REQUIRE_POSTGRES is set but WANGGE_TEST_POSTGRES is not"
            );
            eprintln!(
                "WANGGE_TEST_POSTGRES is not set: skipping a PostGIS test (run scripts/test.sh)"
            );
            None
        }
    }
}

/// A URL for a fresh, empty schema of the test database, so that tests never see each other's
/// rows. PostGIS stays reachable through `public` in the search path.
pub async fn fresh_postgres_url() -> Option<String> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = postgres_base_url()?;
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let pool = sqlx::PgPool::connect(&base)
        .await
        .expect("connect to test PostGIS");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&pool)
        .await
        .expect("create schema");
    pool.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    Some(format!(
        "{base}{separator}options[search_path]={schema},public"
    ))
}

pub async fn sqlite_store(db: &TempSqlite) -> Arc<dyn Store> {
    store::open(&db.url).await.expect("open sqlite store")
}

pub async fn postgres_store() -> Option<Arc<dyn Store>> {
    let url = fresh_postgres_url().await?;
    Some(store::open(&url).await.expect("open postgres store"))
}

/// The `wangge` binary serving on a free port; stopped when dropped or when the test process
/// exits.
///
/// The server runs under a small shell that holds a pipe from the test process and stops the
/// server when that pipe closes. A server kept in a `static` (never dropped) is therefore still
/// stopped when the test binary ends, instead of outliving it.
pub struct Server {
    child: Child,
    lifeline: Option<std::process::ChildStdin>,
    pub base: String,
}

const SUPERVISOR: &str = r#""$0" "$@" & server=$!; read -r _; kill "$server"; wait "$server""#;

impl Server {
    /// Starts `wangge serve --bind 127.0.0.1:0 --database URL` plus `extra` arguments and waits
    /// until it prints the address it listens on.
    pub fn start(database_url: &str, extra: &[&str]) -> Server {
        Server::start_with_env(database_url, extra, &[])
    }

    /// Like [`Server::start`], with extra environment variables for the server.
    pub fn start_with_env(database_url: &str, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0", "--database", database_url];
        args.extend(extra);
        Server::run(&args, env)
    }

    /// Runs `wangge ARGS` (which must serve) with these environment variables and none of the
    /// test process's own `WANGGE_BIND`, `DATABASE_URL` or `WANGGE_CONFIG`, and waits until it
    /// prints the address it listens on.
    pub fn run(args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new("sh")
            .args(["-c", SUPERVISOR, env!("CARGO_BIN_EXE_wangge")])
            .args(args)
            .env_remove("WANGGE_BIND")
            .env_remove("DATABASE_URL")
            .env_remove("WANGGE_CONFIG")
            .envs(env.iter().copied())
            .env("RUST_LOG", "wangge=warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start wangge");
        let lifeline = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("wangge listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => {
                    let status = child.wait().expect("wait");
                    panic!("wangge exited before listening: {status}");
                }
            }
        };
        Server {
            child,
            lifeline,
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The process id of the `wangge` server itself (a child of the supervising shell).
    pub fn server_pid(&self) -> u32 {
        let shell = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .expect("read the supervisor's children");
        children
            .split_whitespace()
            .next()
            .expect("the server runs")
            .parse()
            .expect("a pid")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.lifeline.take()); // the supervisor stops the server and exits
        let _ = self.child.wait();
    }
}

/// Runs the `wangge` binary to completion with the given arguments.
pub fn wangge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(args)
        .env("RUST_LOG", "wangge=warn")
        .output()
        .expect("run wangge")
}

/// Runs the `wangge` binary to completion with the given arguments and standard input.
pub fn wangge_with_stdin(args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args(args)
        .env("RUST_LOG", "wangge=warn")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wangge");
    // A command that refuses its arguments exits before reading standard input; the write then
    // fails with a broken pipe, and what matters is the exit status and output below.
    match child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().expect("wait for wangge")
}

/// Creates an account with `wangge user add`, the password on standard input.
pub fn add_user(database: &str, name: &str, role: &str, password: &str) {
    let output = wangge_with_stdin(
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
    );
    assert!(
        output.status.success(),
        "wangge user add {name} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs each named `async fn(Arc<dyn Store>)` of the calling test file against SQLite and against
/// PostGIS: `store_contract!(a_test, another_test);` makes `sqlite::a_test`, `postgres::a_test`, ….
#[macro_export]
macro_rules! store_contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = $crate::common::temp_sqlite();
                    super::$name($crate::common::sqlite_store(&db).await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(store) = $crate::common::postgres_store().await else { return };
                    super::$name(store).await;
                }
            )*
        }
    };
}
