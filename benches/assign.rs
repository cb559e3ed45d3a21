//! Assigning 1,000,000 households to the grids of the demo street, in process and in PostGIS.
//!
//! The households are 1,000,000 fixed pseudo-random points inside the demo street (ids 1 …).
//! One criterion group, `assign/1m_households`, 10 samples of one whole run each:
//! - `in_process`: [`assign_households`] over the index of the demo street (all five place
//!   layers), on every core, as after a boundary change. It finds each household's grid *and*
//!   its responsibility areas, so it does more than the PostGIS query below. Dropping the result
//!   is not timed.
//! - `postgis`: the same households in a table with a GiST index, joined with the demo grids
//!   (GiST index too) in one query that gives each household one grid, the one with the smallest
//!   code should several cover it, as the index does:
//!   `SELECT count(*) FROM (SELECT DISTINCT ON (h.id) h.id, g.id FROM bench_assign_households h
//!   JOIN bench_assign_grids g ON ST_Covers(g.geom, h.location) ORDER BY h.id, g.code) x`.
//!   PostgreSQL picks the plan (the bench prints it; with default settings, a nested loop over
//!   the grids probing the households' GiST index, then a sort for `DISTINCT ON`).
//!
//! Setup (parsing, index, points, loading PostGIS, a check that both sides assign the same
//! number of households) is not timed. At the end a summary prints both medians and their ratio.
//! The target of the issue is at most 1 s in process.
//!
//! Run (release, as `cargo bench` always is):
//! ```sh
//! cargo bench --bench assign
//! # with PostGIS side by side (installs/starts PostgreSQL + PostGIS if needed, as root):
//! WANGGE_BENCH_POSTGRES=$(scripts/setup-postgres.sh | tail -1) cargo bench --bench assign
//! ```
//! `scripts/setup-postgres.sh` recreates its database (`wangge_test`); to leave a test run
//! alone, give the benchmarks their own: `WANGGE_PG_DB=wangge_bench scripts/setup-postgres.sh`.
//! The benchmark (re)creates its own tables, `bench_assign_grids` and `bench_assign_households`.
//!
//! Under `cargo test --benches` criterion runs each case once, and only 20,000 households are
//! made, to keep the smoke test quick in a debug build.

mod common;

use common::{SplitMix64, bbox_of, bench_mode, connect, execute, explain, human, median_ns};
use criterion::{Criterion, SamplingMode, Throughput};
use geo::Coord;
use sqlx::postgres::PgPool;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};
use wangge::model::{Id, Place, PlaceKind};
use wangge::spatial::assign::assign_households;
use wangge::spatial::index::SpatialIndex;

const GROUP: &str = "assign/1m_households";

const ASSIGN_SQL: &str = "SELECT count(*) FROM (SELECT DISTINCT ON (h.id) h.id, g.id AS grid_id \
     FROM bench_assign_households h JOIN bench_assign_grids g ON ST_Covers(g.geom, h.location) \
     ORDER BY h.id, g.code) x";

/// `count` households at fixed pseudo-random points inside the street (rejection sampling in
/// the street's bounding box).
fn households(index: &SpatialIndex, places: &[Place], count: usize) -> Vec<(Id, Coord<f64>)> {
    let region = bbox_of(places, PlaceKind::Street);
    let mut rng = SplitMix64::new(0x5eed_0004);
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        let p = rng.point_in(region);
        if index.owner(PlaceKind::Street, p).is_some() {
            out.push((out.len() as Id + 1, p));
        }
    }
    out
}

/// Loads the grids and the households into PostGIS; returns how many households PostGIS
/// assigns to a grid.
async fn prepare_postgres(pool: &PgPool, places: &[Place], households: &[(Id, Coord<f64>)]) -> i64 {
    let started = Instant::now();
    let grids: Vec<Place> = places
        .iter()
        .filter(|p| p.kind == PlaceKind::Grid)
        .cloned()
        .collect();
    common::load_places_table(pool, "bench_assign_grids", &grids).await;
    execute(
        pool,
        "DROP TABLE IF EXISTS bench_assign_households; \
         CREATE TABLE bench_assign_households (id BIGINT PRIMARY KEY, \
         location geometry(Point, 4326) NOT NULL)"
            .into(),
    )
    .await;
    for chunk in households.chunks(100_000) {
        let ids: Vec<Id> = chunk.iter().map(|(id, _)| *id).collect();
        let xs: Vec<f64> = chunk.iter().map(|(_, p)| p.x).collect();
        let ys: Vec<f64> = chunk.iter().map(|(_, p)| p.y).collect();
        sqlx::query(
            "INSERT INTO bench_assign_households (id, location) \
             SELECT id, ST_SetSRID(ST_MakePoint(x, y), 4326) \
             FROM UNNEST($1::bigint[], $2::float8[], $3::float8[]) AS u(id, x, y)",
        )
        .bind(&ids)
        .bind(&xs)
        .bind(&ys)
        .execute(pool)
        .await
        .expect("insert households");
    }
    execute(
        pool,
        "CREATE INDEX bench_assign_households_location ON bench_assign_households \
         USING GIST (location); ANALYZE bench_assign_households"
            .into(),
    )
    .await;
    eprintln!(
        "loaded {} grids and {} households into PostGIS in {:.1?}",
        grids.len(),
        households.len(),
        started.elapsed()
    );
    explain(pool, ASSIGN_SQL, |s| s).await;
    sqlx::query_scalar(ASSIGN_SQL)
        .fetch_one(pool)
        .await
        .expect("PostGIS assignment")
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let places = common::demo_places();
    let index = SpatialIndex::build(&places);
    let count = if bench_mode() { 1_000_000 } else { 20_000 };
    let households = households(&index, &places, count);
    let in_grid = assign_households(&index, &households)
        .iter()
        .filter(|a| a.grid_id.is_some())
        .count();
    eprintln!("{count} households, {in_grid} in a grid");

    let postgres = common::postgres_url().map(|url| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let pool = rt.block_on(async {
            let pool = connect(&url).await;
            let in_db = prepare_postgres(&pool, &places, &households).await;
            if in_db != in_grid as i64 {
                eprintln!(
                    "WARNING: PostGIS assigns {in_db} households to a grid, the index {in_grid}"
                );
            }
            pool
        });
        (rt, pool)
    });

    let mut group = c.benchmark_group(GROUP);
    group
        .throughput(Throughput::Elements(count as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("in_process", |b| {
        b.iter_with_large_drop(|| assign_households(&index, black_box(&households)))
    });
    if let Some((rt, pool)) = &postgres {
        group.measurement_time(Duration::from_secs(30));
        group.bench_function("postgis", |b| {
            b.to_async(rt).iter(|| async {
                let assigned: i64 = sqlx::query_scalar(ASSIGN_SQL)
                    .fetch_one(pool)
                    .await
                    .expect("PostGIS assignment");
                assigned
            })
        });
    }
    group.finish();
    c.final_summary();

    if bench_mode() {
        println!();
        if let Some(local) = median_ns(GROUP, "in_process", started) {
            let target = if local <= 1e9 { "ok" } else { "ABOVE 1 s" };
            let mut line = format!("{GROUP}: in_process {} ({target})", human(local));
            if let Some(pg) = median_ns(GROUP, "postgis", started) {
                line += &format!(", postgis {} = {:.1}×", human(pg), pg / local);
            }
            println!("{line}");
        }
    }
}
