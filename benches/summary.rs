//! The screen's summary (`GET /api/v1/stats/summary`) at city scale on PostGIS: the demo street's
//! 36 grids holding 1 M households, with 10 M visits, 100 k requests in the last 90 days (with
//! their steps) and the branches' activities; the summary of the street, of one community and of
//! one grid, end to end through `App::summary` (the counts query and the requests' milestones).
//! Target: the street's summary in at most 500 ms.
//!
//! The data is made in the database with `generate_series` in a schema of its own
//! (`bench_summary`), kept between runs when it already holds the same numbers of rows; never
//! committed. Without `WANGGE_BENCH_POSTGRES` the benchmark says so and does nothing.
//!
//! ```sh
//! WANGGE_BENCH_POSTGRES=postgres://wangge:wangge@127.0.0.1/wangge_test cargo bench --bench summary
//! ```
#![allow(missing_docs)] // `criterion_group!` defines a public function that cannot carry a doc comment.

mod common;

use common::{bench_mode, execute};
use criterion::{Criterion, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;
use wangge::app::App;
use wangge::model::PlaceKind;

/// Rows to make: (households, visits, requests).
fn sizes() -> (i64, i64, i64) {
    if bench_mode() {
        (1_000_000, 10_000_000, 100_000)
    } else {
        (1_000, 10_000, 100)
    }
}

/// Whether `schema` holds the demo street and the rows of [`sizes`] already.
async fn ready(pool: &sqlx::PgPool, schema: &str) -> bool {
    let made: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT to_regclass('{schema}.requests')::text"
    )))
    .fetch_one(pool)
    .await
    .expect("look for the schema");
    if made.is_none() {
        return false;
    }
    let (households, visits, requests) = sizes();
    let count = |table: &str| {
        let sql = format!("SELECT count(*) FROM {schema}.{table}");
        async move {
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                .fetch_one(pool)
                .await
                .expect("count")
        }
    };
    count("households").await >= households
        && count("visits").await >= visits
        && count("requests").await >= requests
}

/// An `App` over a schema of its own holding the demo street (with its branches) and the rows
/// of [`sizes`], made unless they are there from an earlier run.
async fn street(url: &str) -> Arc<App> {
    let (households, visits, requests) = sizes();
    let schema = format!("bench_summary_{households}");
    let pool = common::connect(url).await;
    let made = ready(&pool, &schema).await;
    if !made {
        execute(
            &pool,
            format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        )
        .await;
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped = format!("{url}{separator}options[search_path]={schema},public");
    let store = wangge::store::open(&scoped).await.expect("open the store");
    let app = Arc::new(App::open(store).await.expect("open the app"));
    // The street's places and branches are what the summary reads from memory; the rows made
    // below are read from the database only.
    app.load_demo_if_empty()
        .await
        .expect("load the demo street");
    if !made {
        let scoped_pool = common::connect(&scoped).await;
        let started = std::time::Instant::now();
        fill(&scoped_pool, households, visits, requests).await;
        eprintln!(
            "made {households} households, {visits} visits, {requests} requests in {:?}",
            started.elapsed()
        );
    }
    app
}

/// Makes the rows, all in the database.
async fn fill(pool: &sqlx::PgPool, households: i64, visits: i64, requests: i64) {
    execute(
        pool,
        "INSERT INTO users (name, role, password_hash) VALUES ('bench-cadre', 'cadre', '!') \
         ON CONFLICT DO NOTHING"
            .into(),
    )
    .await;
    // Households over the grids, at points of the street; a tenth of a metre apart is enough:
    // the summary counts by grid, not by position.
    execute(
        pool,
        format!(
            "WITH g AS (SELECT array_agg(id ORDER BY id) AS ids FROM places WHERE kind = 'grid') \
             INSERT INTO households (code, address, head_name, people, location, grid_id) \
             SELECT 'B' || i, '珠海路' || i || '号', '户主', 3, \
                    ST_SetSRID(ST_MakePoint(120.36 + (i % 1000) * 1e-5, 36.06 + (i / 1000) * 1e-7), 4326), \
                    g.ids[1 + i % array_length(g.ids, 1)] \
             FROM generate_series(1::bigint, {households}) AS i, g"
        ),
    )
    .await;
    // Visits over the last year, nine in ten at the door, and each household's latest ones as
    // the store keeps them.
    execute(
        pool,
        format!(
            "WITH h AS (SELECT min(id) AS lo, count(*) AS n FROM households), \
                  u AS (SELECT id FROM users WHERE name = 'bench-cadre') \
             INSERT INTO visits (household_id, user_id, idempotency_key, digest, visited_at, \
                                 position, distance_m, on_site, notes) \
             SELECT h.lo + (i * 7919) % h.n, u.id, 'bench-' || i, 'd', \
                    now() - ((i * 104729) % (365 * 24)) * interval '1 hour', \
                    ST_SetSRID(ST_MakePoint(120.37, 36.06), 4326), 1.0, i % 10 <> 0, '' \
             FROM generate_series(1::bigint, {visits}) AS i, h, u; \
             INSERT INTO household_last_visits (household_id, any_at, on_site_at) \
             SELECT household_id, max(visited_at), max(visited_at) FILTER (WHERE on_site) \
             FROM visits GROUP BY household_id \
             ON CONFLICT (household_id) DO UPDATE SET any_at = excluded.any_at, \
                on_site_at = excluded.on_site_at"
        ),
    )
    .await;
    // Requests of the last 90 days in every grid: a third closed (with their steps), a tenth
    // rejected, the rest open; each with its report as the first step.
    execute(
        pool,
        format!(
            "WITH g AS (SELECT array_agg(p.id ORDER BY p.id) AS ids, \
                               array_agg(p.parent_id ORDER BY p.id) AS communities \
                        FROM places p WHERE p.kind = 'grid') \
             INSERT INTO requests (category, state, fixed, position, address, description, \
                                   attributes, grid_id, community_id, link, requested_at, \
                                   opened_at, updated_at) \
             SELECT 'repair', \
                    CASE WHEN i % 3 = 0 THEN 'closed' WHEN i % 10 = 1 THEN 'rejected' \
                         ELSE 'reported' END, \
                    CASE WHEN i % 3 = 0 THEN true END, \
                    ST_SetSRID(ST_MakePoint(120.37, 36.06), 4326), '', '楼道灯不亮', '{{}}', \
                    g.ids[1 + i % array_length(g.ids, 1)], \
                    g.communities[1 + i % array_length(g.ids, 1)], 'community', \
                    now() - (i % (90 * 24)) * interval '1 hour', \
                    now() - (i % (90 * 24)) * interval '1 hour', now() \
             FROM generate_series(1::bigint, {requests}) AS i, g; \
             INSERT INTO request_events (request_id, from_state, to_state, note, link, at) \
             SELECT id, NULL, 'reported', '', 'community', requested_at FROM requests; \
             INSERT INTO request_events (request_id, from_state, to_state, note, link, at) \
             SELECT id, s.from_state, s.to_state, '', 'community', \
                    requested_at + s.after * interval '1 hour' \
             FROM requests, (VALUES ('reported', 'accepted', 1), ('accepted', 'dispatched', 2), \
                                    ('dispatched', 'handled', 5), ('handled', 'verified', 6), \
                                    ('verified', 'closed', 7)) AS s(from_state, to_state, after) \
             WHERE state = 'closed'; \
             ANALYZE households, visits, household_last_visits, requests, request_events"
        ),
    )
    .await;
}

fn bench(c: &mut Criterion) {
    let Some(url) = common::postgres_url() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let app = runtime.block_on(street(&url));
    let map = app.map_data();
    let first = |kind: PlaceKind| {
        map.places
            .iter()
            .filter(|p| p.kind == kind)
            .min_by_key(|p| p.id)
            .expect("a place of the kind")
            .id
    };
    let mut group = c.benchmark_group("summary");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(if bench_mode() { 20 } else { 1 }));
    for kind in [PlaceKind::Street, PlaceKind::Community, PlaceKind::Grid] {
        let id = first(kind);
        let summary = runtime
            .block_on(app.summary(kind, id, time::OffsetDateTime::now_utc()))
            .expect("a summary");
        eprintln!(
            "summary of the {kind}: {} households, {} visited, {} open requests of {}",
            summary.counts.households,
            summary.counts.visited,
            summary.counts.open_requests,
            summary.requests.requests
        );
        group.bench_function(kind.as_str(), |b| {
            b.iter(|| {
                runtime
                    .block_on(app.summary(kind, id, time::OffsetDateTime::now_utc()))
                    .expect("a summary")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
