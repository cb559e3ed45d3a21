//! Prometheus metrics at `GET /metrics`, in the text exposition format: every answer counted by
//! route (the route's template, `/api/v1/grids/{id}`, never the path asked for, so that neither
//! ids nor query strings reach the metrics and their number stays bounded), method and status,
//! with its latency; the size of the in-memory snapshot; the tile cache's hits and misses; and
//! how long the store took to answer a count at this scrape. Counts and times only: nothing
//! personal. Recorded through the `metrics` facade; `metrics-exporter-prometheus` keeps and
//! renders them.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Answers counted, by `method`, `route` and `status`.
const REQUESTS: &str = "wangge_http_requests_total";
/// Seconds from a request's arrival to its answer's head, by `method` and `route`.
const LATENCY: &str = "wangge_http_request_duration_seconds";
/// Latency buckets: a lookup answers in well under a millisecond, a city-scale summary in
/// hundreds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// How often the recorder drains what it holds when nobody scrapes, so that it stays bounded.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder: installed once, the first time a router is made (tests make many
/// routers in one process; they share it).
fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the buckets are not empty")
            .install_recorder()
            .expect("no other metrics recorder is installed in this process");
        metrics::describe_counter!(REQUESTS, "Answers, by method, route template and status.");
        metrics::describe_histogram!(
            LATENCY,
            metrics::Unit::Seconds,
            "Seconds to an answer's head, by method and route template."
        );
        handle
    })
}

/// Installs the recorder (once per process); called when the router is made, so that the first
/// request is already counted.
pub(super) fn install() {
    recorder();
}

/// Drains what the recorder holds every few seconds, so that it stays bounded however rarely
/// it is scraped. `serve` runs it for as long as the server does.
pub async fn keep_bounded() {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        every.tick().await;
        recorder().run_upkeep();
    }
}

/// Middleware: counts the answer and times it.
pub(super) async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(LATENCY, "method" => method.clone(), "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(REQUESTS, "method" => method, "route" => route, "status" => status)
        .increment(1);
    response
}

/// `GET /metrics`: everything recorded, with the snapshot's size and the store's latency taken
/// now. A store that does not answer shows as `wangge_store_up 0`, not as a failed scrape.
pub(super) async fn scrape(State(state): State<AppState>) -> Response {
    let map = state.app.map_data();
    metrics::gauge!("wangge_snapshot_version").set(map.version as f64);
    metrics::gauge!("wangge_index_places").set(map.index.len() as f64);
    metrics::gauge!("wangge_memory_buildings").set(map.buildings.len() as f64);
    metrics::gauge!("wangge_memory_households").set(map.households.len() as f64);
    let tiles = state.tiles.stats();
    metrics::counter!("wangge_tile_cache_hits_total").absolute(tiles.hits);
    metrics::counter!("wangge_tile_cache_misses_total").absolute(tiles.misses);
    let asked = Instant::now();
    let answered = state.app.counts().await.is_ok();
    metrics::gauge!("wangge_store_up").set(if answered { 1.0 } else { 0.0 });
    metrics::gauge!("wangge_store_count_seconds").set(asked.elapsed().as_secs_f64());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        recorder().render(),
    )
        .into_response()
}
