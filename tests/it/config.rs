//! `wangge serve --config FILE`: the settings file, through the real binary and real HTTP.
//! Precedence: default < file < environment < flag.

use crate::common;

use common::{Server, wangge};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// A port free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn healthy(base: &str) {
    let answer = reqwest::get(format!("{base}/health"))
        .await
        .expect("health");
    assert_eq!(answer.status(), 200, "{base}/health");
}

#[tokio::test]
async fn serve_listens_where_the_file_says_and_opens_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let file = write(
        dir.path(),
        "wangge.toml",
        &format!(
            "# a deployment's settings\nbind = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\ntoken_ttl = 600\n",
            sqlite(dir.path(), "from-file.db")
        ),
    );
    let server = Server::run(&["serve", "--config", &file], &[]);
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(server.base, base);
    healthy(&base).await;
    assert!(dir.path().join("from-file.db").exists());
    drop(server);

    // WANGGE_CONFIG names the file as --config does.
    let server = Server::run(&["serve"], &[("WANGGE_CONFIG", &file)]);
    assert_eq!(server.base, base);
    healthy(&base).await;
}

#[tokio::test]
async fn the_environment_beats_the_file_and_a_flag_beats_both() {
    // Three loopback addresses tell apart where the address came from; port 0 avoids races.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "wangge.toml",
        &format!(
            "bind = \"127.0.0.2:0\"\ndatabase = \"{}\"\n",
            sqlite(dir.path(), "file.db")
        ),
    );
    let env_db = sqlite(dir.path(), "env.db");
    let env = [
        ("WANGGE_BIND", "127.0.0.3:0"),
        ("DATABASE_URL", env_db.as_str()),
    ];

    let server = Server::run(&["serve", "--config", &file], &env);
    assert!(
        server.base.starts_with("http://127.0.0.3:"),
        "{}",
        server.base
    );
    healthy(&server.base).await;
    assert!(dir.path().join("env.db").exists());
    assert!(!dir.path().join("file.db").exists());
    drop(server);

    let flag_db = sqlite(dir.path(), "flag.db");
    let server = Server::run(
        &[
            "serve",
            "--config",
            &file,
            "--bind",
            "127.0.0.4:0",
            "--database",
            &flag_db,
        ],
        &env,
    );
    assert!(
        server.base.starts_with("http://127.0.0.4:"),
        "{}",
        server.base
    );
    healthy(&server.base).await;
    assert!(dir.path().join("flag.db").exists());
    assert!(!dir.path().join("file.db").exists());
}

fn refused(file: &str) -> String {
    let out = wangge(&["serve", "--config", file]);
    assert!(!out.status.success(), "wangge served with {file}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn an_unknown_key_a_wrong_type_or_a_missing_file_stops_serve_with_the_key_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "typo.toml",
        "bind = \"127.0.0.1:0\"\ntoken_tll = 600\n",
    );
    let err = refused(&file);
    assert!(err.contains("token_tll") && err.contains(&file), "{err}");

    let file = write(dir.path(), "type.toml", "max_feature_vertices = \"many\"\n");
    let err = refused(&file);
    assert!(
        err.contains("max_feature_vertices") && err.contains(&file),
        "{err}"
    );

    let file = write(dir.path(), "range.toml", "token_ttl = 0\n");
    let err = refused(&file);
    assert!(err.contains("token_ttl") && err.contains(&file), "{err}");

    let missing = dir.path().join("missing.toml");
    let err = refused(missing.to_str().unwrap());
    assert!(err.contains("missing.toml"), "{err}");
}
