//! `GET /metrics` through real HTTP against the real binary: what a Prometheus server scraping
//! wangge reads. Every answer is counted under its route's template (never the path asked for,
//! so no id and no query string reaches the metrics), with its latency; the snapshot's size
//! agrees with `/health`; the tile cache's hits and misses follow the tiles asked for.

use crate::common;

use common::Server;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use wangge::spatial::tiles::TileId;

/// The samples of a scrape in the text format: `name{labels}` → value (comments skipped).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line: series value");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

async fn scrape(server: &Server) -> (String, HashMap<String, f64>) {
    let answer = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let kind = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/plain"), "{kind}");
    let text = answer.text().await.unwrap();
    let samples = samples(&text);
    (text, samples)
}

/// The value of the series `name` with exactly these labels, in the exporter's order.
fn value(samples: &HashMap<String, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    let series = if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    };
    *samples
        .get(&series)
        .unwrap_or_else(|| panic!("no {series} among {:?}", samples.keys()))
}

#[tokio::test]
async fn a_scrape_counts_answers_by_route_template_with_their_latency_and_the_index() {
    let db = common::temp_sqlite();
    let server = Server::start(&db.url, &["--demo"]);
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = &client;
        let url = server.url(&path);
        async move { client.get(url).send().await.unwrap().status() }
    };

    let grids: Value = client
        .get(server.url("/api/v1/grids"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = grids["features"][0]["id"].as_i64().expect("a grid id");
    for _ in 0..3 {
        assert_eq!(
            get("/api/v1/lookup?lon=120.3712&lat=36.0661".into()).await,
            200
        );
    }
    assert_eq!(get(format!("/api/v1/grids/{id}")).await, 200);
    assert_eq!(get("/api/v1/grids/999999999".into()).await, 404);
    assert_eq!(get("/no/such/route".into()).await, 404);
    // The same tile over the street twice: made once, then served from the cache.
    let t = TileId::containing(120.3712, 36.0661, 15);
    for _ in 0..2 {
        assert_eq!(
            get(format!("/tiles/grids/15/{}/{}.mvt", t.x, t.y)).await,
            200
        );
    }

    let (text, s) = scrape(&server).await;
    let lookups = [
        ("method", "GET"),
        ("route", "/api/v1/lookup"),
        ("status", "200"),
    ];
    assert_eq!(value(&s, "wangge_http_requests_total", &lookups), 3.0);
    let timed = [("method", "GET"), ("route", "/api/v1/lookup")];
    assert_eq!(
        value(&s, "wangge_http_request_duration_seconds_count", &timed),
        3.0
    );
    assert!(value(&s, "wangge_http_request_duration_seconds_sum", &timed) > 0.0);
    let by_id = |status| {
        [
            ("method", "GET"),
            ("route", "/api/v1/grids/{id}"),
            ("status", status),
        ]
    };
    assert_eq!(value(&s, "wangge_http_requests_total", &by_id("200")), 1.0);
    assert_eq!(value(&s, "wangge_http_requests_total", &by_id("404")), 1.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&s, "wangge_http_requests_total", &unmatched), 1.0);
    // Neither the ids, nor the query strings, nor the unknown path are in the metrics.
    for asked in [
        &format!("/grids/{id}"),
        "999999999",
        "lon=",
        "/no/such/route",
    ] {
        assert!(!text.contains(asked), "{asked} is in the metrics");
    }

    let health: Value = client
        .get(server.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (_, s) = scrape(&server).await;
    assert_eq!(
        value(&s, "wangge_index_places", &[]),
        health["indexed_places"].as_f64().unwrap()
    );
    assert_eq!(
        value(&s, "wangge_memory_households", &[]),
        health["counts"]["households"].as_f64().unwrap()
    );
    assert_eq!(value(&s, "wangge_store_up", &[]), 1.0);
    assert!(value(&s, "wangge_store_count_seconds", &[]) > 0.0);
    assert_eq!(value(&s, "wangge_tile_cache_misses_total", &[]), 1.0);
    assert_eq!(value(&s, "wangge_tile_cache_hits_total", &[]), 1.0);
    // The first scrape is counted too, by the time of the second.
    let scrapes = [("method", "GET"), ("route", "/metrics"), ("status", "200")];
    assert_eq!(value(&s, "wangge_http_requests_total", &scrapes), 1.0);
}
