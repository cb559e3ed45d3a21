//! Shared helpers for the benchmarks: a tiny deterministic PRNG, the demo street as `Place`s,
//! PostGIS tables to compare against, and the closing summary that sets the in-process and
//! PostGIS medians side by side.
#![allow(dead_code)] // each bench file uses its own subset

use geo::{BoundingRect, Coord, Rect};
use geozero::{CoordDimensions, ToWkb};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::SystemTime;
use wangge::geodata::{LayerData, parse_layer};
use wangge::model::{Id, Layer, Place, PlaceKind};

/// Whether this is a real measurement (`cargo bench`) rather than `cargo test --benches`, where
/// criterion runs every benchmark once and heavy setup should be scaled down.
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The PostGIS database to compare against, from `WANGGE_BENCH_POSTGRES`; `None` skips the
/// PostGIS half.
pub fn postgres_url() -> Option<String> {
    match std::env::var("WANGGE_BENCH_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "WANGGE_BENCH_POSTGRES is not set: in-process benchmarks only \
                 (see the comment at the top of the bench file)"
            );
            None
        }
    }
}

/// SplitMix64: deterministic, tiny, good enough to scatter points.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`, 53 bits.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// A point uniform in `rect`.
    pub fn point_in(&mut self, rect: Rect<f64>) -> Coord<f64> {
        Coord {
            x: self.range(rect.min().x, rect.max().x),
            y: self.range(rect.min().y, rect.max().y),
        }
    }
}

/// The five place layers of the demo street (districts … areas), ids 1, 2, … in file order,
/// parents resolved from `parent_code`, as the stores would load them.
pub fn demo_places() -> Vec<Place> {
    let mut places: Vec<Place> = Vec::new();
    let mut ids: HashMap<String, Id> = HashMap::new();
    for (layer, text) in wangge::demo::LAYERS {
        if !matches!(layer, Layer::Places(_)) {
            continue;
        }
        let Ok(LayerData::Places(new_places)) = parse_layer(text, layer, None, || {}) else {
            panic!("the demo layer {layer} does not parse as places");
        };
        for new in new_places {
            let id = places.len() as Id + 1;
            let parent_id = new
                .parent_code
                .as_ref()
                .and_then(|code| ids.get(code).copied());
            ids.insert(new.code.clone(), id);
            places.push(Place {
                id,
                kind: new.kind,
                code: new.code,
                name: new.name,
                parent_id,
                geometry: new.geometry,
                version: 1,
            });
        }
    }
    places
}

/// The bounding box of all places of `kind`.
pub fn bbox_of(places: &[Place], kind: PlaceKind) -> Rect<f64> {
    places
        .iter()
        .filter(|p| p.kind == kind)
        .filter_map(|p| p.geometry.bounding_rect())
        .reduce(|a, b| {
            Rect::new(
                Coord {
                    x: a.min().x.min(b.min().x),
                    y: a.min().y.min(b.min().y),
                },
                Coord {
                    x: a.max().x.max(b.max().x),
                    y: a.max().y.max(b.max().y),
                },
            )
        })
        .unwrap_or_else(|| panic!("no place of kind {kind}"))
}

/// A single-connection pool (the comparison is one query at a time) that does not ping the
/// server before each query, so a measured round trip is exactly one round trip.
pub async fn connect(url: &str) -> PgPool {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .connect(url)
        .await
        .expect("connect to WANGGE_BENCH_POSTGRES");
    let postgis: Option<String> =
        sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
            .fetch_optional(&pool)
            .await
            .expect("query pg_extension");
    let version = postgis.expect("WANGGE_BENCH_POSTGRES has no postgis extension");
    let server: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await
        .expect("server version");
    eprintln!("PostgreSQL {server}, PostGIS {version}");
    pool
}

/// Runs one or more SQL statements that take no parameters.
pub async fn execute(pool: &PgPool, sql: String) {
    sqlx::raw_sql(AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {sql}"));
}

/// (Re)creates `table` (`id`, `kind`, `code`, `geom geometry(MultiPolygon,4326)`) holding
/// `places`, with a GiST index on `geom`, and analyses it.
pub async fn load_places_table(pool: &PgPool, table: &str, places: &[Place]) {
    execute(
        pool,
        format!(
            "DROP TABLE IF EXISTS {table}; \
             CREATE TABLE {table} (id BIGINT PRIMARY KEY, kind TEXT NOT NULL, \
             code TEXT NOT NULL, geom geometry(MultiPolygon, 4326) NOT NULL)"
        ),
    )
    .await;
    let insert = format!(
        "INSERT INTO {table} (id, kind, code, geom) \
         SELECT id, kind, code, ST_Multi(ST_GeomFromWKB(wkb, 4326)) \
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bytea[]) AS u(id, kind, code, wkb)"
    );
    for chunk in places.chunks(5_000) {
        let ids: Vec<Id> = chunk.iter().map(|p| p.id).collect();
        let kinds: Vec<&str> = chunk.iter().map(|p| p.kind.as_str()).collect();
        let codes: Vec<&str> = chunk.iter().map(|p| p.code.as_str()).collect();
        let wkbs: Vec<Vec<u8>> = chunk.iter().map(|p| wkb(&p.geometry)).collect();
        sqlx::query(AssertSqlSafe(insert.clone()))
            .bind(&ids)
            .bind(&kinds)
            .bind(&codes)
            .bind(&wkbs)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("insert into {table}: {e}"));
    }
    execute(
        pool,
        format!("CREATE INDEX {table}_geom ON {table} USING GIST (geom); ANALYZE {table}"),
    )
    .await;
}

/// OGC WKB (2D) of a geometry, as the PostGIS store sends it.
pub fn wkb(geometry: &geo::MultiPolygon<f64>) -> Vec<u8> {
    geo::Geometry::MultiPolygon(geometry.clone())
        .to_wkb(CoordDimensions::xy())
        .expect("writing WKB into memory cannot fail")
}

/// Prints the plan PostgreSQL picks for `sql` (with parameters), so that a run shows whether
/// the GiST index is used.
pub async fn explain(pool: &PgPool, sql: &str, args: impl FnOnce(String) -> String) {
    let explain = args(format!("EXPLAIN {sql}"));
    let rows = sqlx::raw_sql(AssertSqlSafe(explain.clone()))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}: {explain}"));
    eprintln!("plan for {sql}");
    for row in rows {
        let line: String = row.try_get(0).expect("EXPLAIN returns text");
        eprintln!("    {line}");
    }
}

/// Where criterion writes its results, following its own rule (except that, lacking
/// `cargo metadata`, the fallback is this package's `target/`).
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        PathBuf::from(home)
    } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        PathBuf::from(target).join("criterion")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/criterion")
    }
}

/// The median (ns per iteration) criterion estimated for `group/function` in this run; `None`
/// when the benchmark did not run now (filtered out, skipped, or test mode).
pub fn median_ns(group: &str, function: &str, started: SystemTime) -> Option<f64> {
    let safe = |s: &str| s.replace(['?', '"', '/', '\\', '*', '<', '>', ':', '|', '^'], "_");
    let path = criterion_home()
        .join(safe(group))
        .join(safe(function))
        .join("new/estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < started {
        return None; // a result left by an earlier run
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["median"]["point_estimate"].as_f64()
}

/// A duration in the unit that suits it.
pub fn human(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}
