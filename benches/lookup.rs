//! "Which grid am I in": the in-process lookup against the same lookup in PostGIS.
//!
//! Three data sets, each a criterion group:
//! - `lookup/demo`: the demo street (all five place layers: district, street, communities,
//!   grids, responsibility areas), points uniform in the street's bounding box;
//! - `lookup/synthetic_50k_grids`: 50,000 grids, a 250 × 200 lattice of jittered quads sharing
//!   their vertices exactly, points uniform in the lattice;
//! - `lookup/huge_polygons`: 4 grids of 120,002 vertices each, a square cut into quadrants by
//!   two finely subdivided wiggly polylines that the neighbours share exactly, points uniform in
//!   the square.
//!
//! In each group, timed one point per iteration, cycling through 10,000 fixed pseudo-random
//! points (the same points for every case):
//! - `in_process`: [`SpatialIndex::locate`] (grid, its ancestors and the responsibility areas);
//! - `postgis`: one round trip per point over one connection, `SELECT id FROM bench_lookup_… WHERE
//!   ST_Covers(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))` (a prepared statement, GiST index);
//! - `postgis_batch`: the first 10,000 of the points (1,000 for the huge polygons, where PostGIS
//!   takes milliseconds per point) in one query, `UNNEST` joined with `ST_Covers`, timed per
//!   batch, so that the time inside the server can be told apart from the round trip; the
//!   throughput line (elements = points) and the summary give it per point.
//!
//! All setup (parsing, building the index, loading PostGIS) happens before timing. At the end,
//! a summary prints the medians per point and the PostGIS / in-process ratios. The target of the
//! issue is a median of at most 1 µs per in-process lookup.
//!
//! Run (release, as `cargo bench` always is):
//! ```sh
//! cargo bench --bench lookup
//! # with the PostGIS side by side (installs/starts PostgreSQL + PostGIS if needed, as root):
//! WANGGE_BENCH_POSTGRES=$(scripts/setup-postgres.sh | tail -1) cargo bench --bench lookup
//! ```
//! `scripts/setup-postgres.sh` recreates its database (`wangge_test`); to leave a test run
//! alone, give the benchmarks their own: `WANGGE_PG_DB=wangge_bench scripts/setup-postgres.sh`.
//! The benchmarks (re)create their own tables, all named `bench_lookup_*`.
//!
//! Under `cargo test --benches` criterion runs every case once, as a smoke test.

mod common;

use common::{SplitMix64, bbox_of, bench_mode, connect, explain, human, median_ns, postgres_url};
use criterion::{Criterion, SamplingMode, Throughput};
use geo::{Coord, LineString, MultiPolygon, Polygon, Rect};
use sqlx::postgres::PgPool;
use std::hint::black_box;
use std::time::{Duration, SystemTime};
use tokio::runtime::Runtime;
use wangge::model::{Id, Place, PlaceKind};
use wangge::spatial::index::{Located, SpatialIndex};

/// Points per data set; the timed loops cycle through them.
const POINTS: usize = 10_000;

/// One data set: places, the region the points are drawn from, the PostGIS table.
struct DataSet {
    name: &'static str,
    table: &'static str,
    places: Vec<Place>,
    region: Rect<f64>,
    /// Points per PostGIS batch query (the first of the points).
    batch: usize,
}

fn demo() -> DataSet {
    let places = common::demo_places();
    let region = bbox_of(&places, PlaceKind::Street);
    DataSet {
        name: "demo",
        table: "bench_lookup_demo",
        places,
        region,
        batch: POINTS,
    }
}

fn grid(id: Id, code: String, exterior: Vec<Coord<f64>>) -> Place {
    Place {
        id,
        kind: PlaceKind::Grid,
        name: format!("网格 {code}"),
        code,
        parent_id: None,
        geometry: MultiPolygon(vec![Polygon::new(LineString(exterior), vec![])]),
        version: 1,
    }
}

/// A 250 × 200 lattice of quads about 45 m × 55 m. Interior vertices are jittered by up to a
/// fifth of a cell (so every quad stays simple) and shared exactly by the four quads around them;
/// the outer vertices are not jittered, so the union is exactly the lattice's rectangle.
fn synthetic() -> DataSet {
    const NX: usize = 250;
    const NY: usize = 200;
    const CELL: f64 = 0.0005;
    let origin = Coord { x: 120.0, y: 36.0 };
    let mut rng = SplitMix64::new(0x5eed_0002);
    let mut vertices = Vec::with_capacity((NX + 1) * (NY + 1));
    for j in 0..=NY {
        for i in 0..=NX {
            let interior = i > 0 && i < NX && j > 0 && j < NY;
            let jitter = if interior { 0.2 } else { 0.0 };
            vertices.push(Coord {
                x: origin.x + (i as f64 + rng.range(-jitter, jitter)) * CELL,
                y: origin.y + (j as f64 + rng.range(-jitter, jitter)) * CELL,
            });
        }
    }
    let at = |i: usize, j: usize| vertices[j * (NX + 1) + i];
    let mut places = Vec::with_capacity(NX * NY);
    for j in 0..NY {
        for i in 0..NX {
            let ring = vec![at(i, j), at(i + 1, j), at(i + 1, j + 1), at(i, j + 1)];
            places.push(grid(places.len() as Id + 1, format!("S{j:03}{i:03}"), ring));
        }
    }
    DataSet {
        name: "synthetic_50k_grids",
        table: "bench_lookup_synthetic",
        places,
        region: Rect::new(
            origin,
            Coord {
                x: origin.x + NX as f64 * CELL,
                y: origin.y + NY as f64 * CELL,
            },
        ),
        batch: POINTS,
    }
}

/// A square about 4.5 km wide cut into four quadrants by a north–south and an east–west
/// polyline of 2 × 60,000 segments each. Each polyline is a random walk confined to a narrow
/// cone around the square's midline (so the two meet only at the centre), and every quadrant
/// takes its two inner sides from the very same vertices: 120,002 vertices per quadrant.
fn huge() -> DataSet {
    const HALF: usize = 60_000; // segments from an edge of the square to its centre
    const SIDE: f64 = 0.05;
    let origin = Coord { x: 121.0, y: 36.0 };
    let at = |u: f64, v: f64| Coord {
        x: origin.x + u * SIDE,
        y: origin.y + v * SIDE,
    };
    let mut rng = SplitMix64::new(0x5eed_0003);
    // Offsets from the midline, k = 0 ..= 2 HALF; |offset| <= 0.1 |t - 1/2|, 0 at the centre.
    let mut walk = || {
        let step = 1.0 / (2 * HALF) as f64;
        let mut offset = 0.0_f64;
        (0..=2 * HALF)
            .map(|k| {
                let t = k as f64 * step;
                let cone = 0.1 * (t - 0.5).abs();
                offset = (offset + rng.range(-2.0 * step, 2.0 * step)).clamp(-cone, cone);
                (t, offset)
            })
            .collect::<Vec<_>>()
    };
    let v: Vec<Coord<f64>> = walk().into_iter().map(|(t, o)| at(0.5 + o, t)).collect();
    let h: Vec<Coord<f64>> = walk().into_iter().map(|(t, o)| at(t, 0.5 + o)).collect();
    let (n, last) = (HALF, 2 * HALF);
    let rings: [Vec<Coord<f64>>; 4] = [
        // South-west: corner, up the north–south line to the centre, west along the east–west one.
        std::iter::once(at(0.0, 0.0))
            .chain(v[0..=n].iter().copied())
            .chain(h[0..n].iter().rev().copied())
            .collect(),
        // South-east.
        [v[0], at(1.0, 0.0)]
            .into_iter()
            .chain(h[n..=last].iter().rev().copied())
            .chain(v[1..n].iter().rev().copied())
            .collect(),
        // North-east.
        v[n..=last]
            .iter()
            .copied()
            .chain(std::iter::once(at(1.0, 1.0)))
            .chain(h[n + 1..=last].iter().rev().copied())
            .collect(),
        // North-west.
        h[0..=n]
            .iter()
            .copied()
            .chain(v[n + 1..=last].iter().copied())
            .chain(std::iter::once(at(0.0, 1.0)))
            .collect(),
    ];
    let places = rings
        .into_iter()
        .zip(["SW", "SE", "NE", "NW"])
        .enumerate()
        .map(|(i, (ring, code))| grid(i as Id + 1, format!("H{code}"), ring))
        .collect();
    DataSet {
        name: "huge_polygons",
        table: "bench_lookup_huge",
        places,
        region: Rect::new(at(0.0, 0.0), at(1.0, 1.0)),
        // Several milliseconds per point in PostGIS: 10,000 would take minutes per sample.
        batch: 1_000,
    }
}

/// Every id `locate` names, sorted: what `SELECT id … WHERE ST_Covers` returns.
fn located_ids(located: &Located) -> Vec<Id> {
    let mut ids: Vec<Id> = [
        located.district,
        located.street,
        located.community,
        located.grid,
    ]
    .into_iter()
    .flatten()
    .chain(located.areas.iter().copied())
    .collect();
    ids.sort_unstable();
    ids
}

struct Postgres {
    rt: Runtime,
    pool: PgPool,
}

fn point_sql(table: &str) -> &'static str {
    let sql = format!(
        "SELECT id FROM {table} WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))"
    );
    Box::leak(sql.into_boxed_str())
}

fn batch_sql(table: &str) -> &'static str {
    let sql = format!(
        "SELECT count(*) FROM UNNEST($1::float8[], $2::float8[]) AS p(x, y) \
         JOIN {table} g ON ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326))"
    );
    Box::leak(sql.into_boxed_str())
}

async fn query_point(pool: &PgPool, sql: &'static str, p: Coord<f64>) -> Vec<Id> {
    sqlx::query_scalar(sql)
        .bind(p.x)
        .bind(p.y)
        .fetch_all(pool)
        .await
        .expect("PostGIS point query")
}

async fn query_batch(pool: &PgPool, sql: &'static str, xs: &[f64], ys: &[f64]) -> i64 {
    sqlx::query_scalar(sql)
        .bind(xs)
        .bind(ys)
        .fetch_one(pool)
        .await
        .expect("PostGIS batch query")
}

/// Loads the data set into PostGIS and checks, untimed, that PostGIS and the index agree.
fn prepare_postgres(
    pg: &Postgres,
    set: &DataSet,
    index: &SpatialIndex,
    points: &[Coord<f64>],
    batch: usize,
) {
    pg.rt.block_on(async {
        let loaded = std::time::Instant::now();
        common::load_places_table(&pg.pool, set.table, &set.places).await;
        eprintln!(
            "loaded {} places into {} in {:.1?}",
            set.places.len(),
            set.table,
            loaded.elapsed()
        );
        let sql = point_sql(set.table);
        let p = points[0];
        explain(&pg.pool, sql, |s| {
            s.replace("$1", &p.x.to_string())
                .replace("$2", &p.y.to_string())
        })
        .await;
        // The half-open rule and ST_Covers differ only exactly on a boundary, which random
        // points practically never hit; a mismatch would mean the comparison is unfair.
        let checked = points.len().min(if bench_mode() { 2_000 } else { 50 });
        let mut mismatches = 0;
        for &p in &points[..checked] {
            let mut ids = query_point(&pg.pool, sql, p).await;
            ids.sort_unstable();
            if ids != located_ids(&index.locate(p)) {
                mismatches += 1;
            }
        }
        if mismatches > 0 {
            eprintln!(
                "WARNING {}: {mismatches} of {checked} points differ",
                set.name
            );
        }
        let (xs, ys): (Vec<f64>, Vec<f64>) = points[..batch].iter().map(|p| (p.x, p.y)).unzip();
        let in_db = query_batch(&pg.pool, batch_sql(set.table), &xs, &ys).await;
        let in_process: usize = points[..batch]
            .iter()
            .map(|&p| located_ids(&index.locate(p)).len())
            .sum();
        if in_db != in_process as i64 {
            eprintln!(
                "WARNING {}: batch found {in_db} (point, place) pairs, the index {in_process}",
                set.name
            );
        }
    });
}

fn bench_data_set(c: &mut Criterion, set: &DataSet, postgres: Option<&Postgres>) {
    let index = SpatialIndex::build(&set.places);
    let mut rng = SplitMix64::new(0x5eed_0001);
    let points: Vec<Coord<f64>> = (0..POINTS).map(|_| rng.point_in(set.region)).collect();
    let found = points
        .iter()
        .filter(|&&p| index.owner(PlaceKind::Grid, p).is_some())
        .count();
    eprintln!(
        "{}: {} places, {found} of {POINTS} points in a grid",
        set.name,
        set.places.len()
    );
    // Under `cargo test --benches` a batch runs once, unoptimised: keep it short.
    let batch = if bench_mode() {
        set.batch
    } else {
        set.batch.min(100)
    };
    if let Some(pg) = postgres {
        prepare_postgres(pg, set, &index, &points, batch);
    }

    let mut group = c.benchmark_group(format!("lookup/{}", set.name));
    group.throughput(Throughput::Elements(1));
    let mut next = 0;
    group.bench_function("in_process", |b| {
        b.iter(|| {
            let p = points[next];
            next = (next + 1) % POINTS;
            index.locate(black_box(p))
        })
    });

    if let Some(pg) = postgres {
        let (pool, sql) = (&pg.pool, point_sql(set.table));
        let mut next = 0;
        // Tens of µs to milliseconds per iteration: equal samples, a bounded time.
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(20)
            .measurement_time(Duration::from_secs(10));
        group.bench_function("postgis", |b| {
            b.to_async(&pg.rt).iter(|| {
                let p = points[next];
                next = (next + 1) % POINTS;
                query_point(pool, sql, p)
            })
        });

        let sql = batch_sql(set.table);
        let (xs, ys): (Vec<f64>, Vec<f64>) = points[..batch].iter().map(|p| (p.x, p.y)).unzip();
        // Up to seconds per batch: criterion's minimum of 10 samples.
        group
            .throughput(Throughput::Elements(batch as u64))
            .sample_size(10);
        group.bench_function("postgis_batch", |b| {
            b.to_async(&pg.rt)
                .iter(|| query_batch(pool, sql, black_box(&xs), black_box(&ys)))
        });
    }
    group.finish();
}

/// The medians of this run side by side, per point, with the PostGIS / in-process ratios.
fn summary(sets: &[(&str, usize)], started: SystemTime) {
    println!();
    println!(
        "median per point    in_process   postgis (round trip)        postgis_batch_per_point"
    );
    for &(set, batch_points) in sets {
        let group = format!("lookup/{set}");
        let Some(local) = median_ns(&group, "in_process", started) else {
            continue;
        };
        let target = if local <= 1_000.0 {
            "ok"
        } else {
            "ABOVE 1 µs"
        };
        let mut line = format!("{set:<20}{:>10} {target:<10}", human(local));
        if let Some(pg) = median_ns(&group, "postgis", started) {
            line += &format!("{:>10} = {:>7.0}×", human(pg), pg / local);
        }
        if let Some(batch) = median_ns(&group, "postgis_batch", started) {
            let per_point = batch / batch_points as f64;
            line += &format!("{:>12} = {:>5.1}×", human(per_point), per_point / local);
        }
        println!("{line}");
    }
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default().configure_from_args();
    let postgres = postgres_url().map(|url| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let pool = rt.block_on(connect(&url));
        Postgres { rt, pool }
    });
    let mut names = Vec::new();
    for make in [demo, synthetic, huge] {
        let set = make();
        bench_data_set(&mut c, &set, postgres.as_ref());
        names.push((set.name, set.batch));
    }
    c.final_summary();
    if bench_mode() {
        summary(&names, started);
    }
}
