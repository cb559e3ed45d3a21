//! Making vector tiles of the demo street: the cost of one tile that is not in the cache.
//!
//! The demo street is loaded into a temporary SQLite store through the `App`, as `serve --demo`
//! does; its map data is then tiled in process (no HTTP). One criterion group, `tiles/encode`,
//! times `encode_tile` (select, simplify, clip, snap, orient, encode) on the features a layer
//! has prepared for the data version, at the demo's heaviest tiles:
//! - `buildings_z12`: every building of the street in one tile;
//! - `households_z14`: the per-grid counts;
//! - `households_z16`: the busiest tile of individual household points;
//! - `grids_z15`, `districts_z18`: polygons clipped to the tile;
//!
//! and, for comparison, `prepare_households_points` (projecting every household once per data
//! version) and `cache_hit` (a tile already made for the current version).
//!
//! Before the timings it prints the **cache hit rate under one write per second**: a simulated
//! two minutes of map use over the street (each second, 5 map views of 3 × 3 tiles of every
//! layer at a zoom from 14 to 17, about 400 tile requests) while a write lands every second
//! (in turn a claim, a release and a grid renamed, through the store and the `App`), counted by
//! the tile service's hit and miss counters after one warm-up minute. It is measured twice: with
//! the snapshots' change logs (tiles made again only where a write changed their layer), and
//! with the change logs withheld, which is how the cache behaved before (one global data
//! version: every write made every tile again). The rates do not depend on the machine (the
//! requests and writes are fixed); on the demo street: 97.0% now, 35.0% before.
//!
//! Run (release, as `cargo bench` always is): `cargo bench --bench tiles`. Needs
//! `[[bench]] name = "tiles" harness = false` in Cargo.toml, as the other benchmarks have.
//! Under `cargo test --benches` criterion runs each case once.

// `criterion_group!` defines a public function that cannot carry a doc comment.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use wangge::app::{App, ChangeLog, MapData, NewAccount};
use wangge::auth::Role;
use wangge::model::PlaceKind;
use wangge::model::edit::{EditAction, PlaceChange, PlaceFields};
use wangge::spatial::tiles::{TileId, encode_tile, tiles_covering};
use wangge::tiles::{CacheStats, Datum, TileService, default_sources};

/// The demo street loaded through the `App`, and its map data.
fn demo_map_data() -> (tempfile::TempDir, Arc<MapData>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/wangge.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let data = runtime.block_on(async {
        let store = wangge::store::open(&url).await.expect("store");
        let app = App::open(store).await.expect("app");
        app.load_demo_if_empty().await.expect("demo");
        app.map_data()
    });
    (dir, data)
}

/// The tile of `layer` at zoom `z` with the most bytes over the street.
fn heaviest(service: &TileService, data: &MapData, layer: &str, z: u8) -> TileId {
    let (source, _) = service.source(layer).expect("layer");
    let street = data
        .places
        .iter()
        .find(|p| p.kind == wangge::model::PlaceKind::Street)
        .expect("a street");
    let bounds = geo::BoundingRect::bounding_rect(&street.geometry).expect("bounds");
    tiles_covering(bounds, z)
        .max_by_key(|t| {
            service
                .tile(source, data, *t, Datum::Wgs84)
                .expect("tile")
                .map_or(0, |e| e.raw.len())
        })
        .expect("a tile")
}

/// A tiny deterministic generator (xorshift), so both runs see the same requests.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// `data` without its change log: every tile made before looks as if anything may have changed.
fn without_log(data: &MapData) -> MapData {
    MapData {
        version: data.version,
        index: data.index.clone(),
        places: data.places.clone(),
        buildings: data.buildings.clone(),
        households: data.households.clone(),
        holders: data.holders.clone(),
        branches: data.branches.clone(),
        changes: ChangeLog::default(),
    }
}

/// The hit rates (with the change log, without it) of the simulated use described above.
fn hit_rates_under_one_write_per_second() -> (CacheStats, CacheStats) {
    const SECONDS: u64 = 120;
    const WARM_UP: u64 = 60;
    const VIEWS_PER_SECOND: u64 = 5;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/wangge.db", dir.path().display());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let app = runtime.block_on(async {
        let store = wangge::store::open(&url).await.expect("store");
        let app = App::open(store).await.expect("app");
        app.load_demo_if_empty().await.expect("demo");
        std::sync::Arc::new(app)
    });
    let cadre = runtime
        .block_on(app.create_user(
            NewAccount {
                name: "bench".into(),
                role: Role::Cadre,
                password: "bench password".into(),
                display_name: None,
                phone: None,
                community: None,
                branch: None,
            },
            None,
        ))
        .expect("user");
    let map = app.map_data();
    let street = map
        .places
        .iter()
        .find(|p| p.kind == PlaceKind::Street)
        .and_then(|p| geo::BoundingRect::bounding_rect(&p.geometry))
        .expect("a street");
    let area = map
        .places
        .iter()
        .find(|p| p.kind == PlaceKind::Area)
        .expect("an area")
        .id;
    let grid = map
        .places
        .iter()
        .find(|p| p.kind == PlaceKind::Grid)
        .expect("a grid")
        .id;
    let services = [
        TileService::new(default_sources()),
        TileService::new(default_sources()),
    ];
    let layers: Vec<usize> = services[0]
        .layer_names()
        .iter()
        .map(|name| services[0].source(name).expect("layer").0)
        .collect();
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut after_warm_up = [CacheStats::default(); 2];
    for second in 0..SECONDS {
        if second == WARM_UP {
            after_warm_up = [services[0].stats(), services[1].stats()];
        }
        let data = app.map_data();
        let logless = without_log(&data);
        for _ in 0..VIEWS_PER_SECOND {
            let z = 14 + random.below(4) as u8;
            let x = street.min().x + street.width() * random.below(1000) as f64 / 1000.0;
            let y = street.min().y + street.height() * random.below(1000) as f64 / 1000.0;
            let centre = TileId::containing(x, y, z);
            for dx in 0..3 {
                for dy in 0..3 {
                    let tile = TileId {
                        z,
                        x: (centre.x + dx).saturating_sub(1),
                        y: (centre.y + dy).saturating_sub(1),
                    };
                    for &layer in &layers {
                        for (service, data) in services.iter().zip([&*data, &logless]) {
                            if service.cached(layer, data, tile, Datum::Wgs84).is_none() {
                                service.tile(layer, data, tile, Datum::Wgs84).expect("tile");
                            }
                        }
                    }
                }
            }
        }
        // The write of this second.
        runtime.block_on(async {
            match second % 3 {
                0 => {
                    app.claim_area(area, cadre.id).await.expect("claim");
                }
                1 => {
                    app.release_area(area, cadre.id, cadre.id)
                        .await
                        .expect("release");
                }
                _ => {
                    let place = app
                        .map_data()
                        .places
                        .iter()
                        .find(|p| p.id == grid)
                        .cloned()
                        .expect("the grid");
                    let mut fields = PlaceFields::of(&place);
                    fields.name = format!("网格 {second}");
                    let change = PlaceChange::Update {
                        id: grid,
                        expected_version: place.version,
                        place: fields,
                    };
                    app.edit(EditAction::Update, None, vec![change])
                        .await
                        .expect("rename");
                }
            }
        });
    }
    let delta = |now: CacheStats, then: CacheStats| CacheStats {
        hits: now.hits - then.hits,
        misses: now.misses - then.misses,
    };
    (
        delta(services[0].stats(), after_warm_up[0]),
        delta(services[1].stats(), after_warm_up[1]),
    )
}

fn bench(c: &mut Criterion) {
    let (now, before) = hit_rates_under_one_write_per_second();
    for (label, stats) in [
        ("per layer and place (now)", now),
        ("one global version (before)", before),
    ] {
        println!(
            "tiles/hit_rate_one_write_per_second, {label}: {:.1}% ({} hits, {} misses)",
            stats.hit_rate() * 100.0,
            stats.hits,
            stats.misses
        );
    }
    let (_dir, data) = demo_map_data();
    let service = TileService::new(default_sources());
    let mut group = c.benchmark_group("tiles/encode");
    for (layer, z, label) in [
        ("buildings", 12, "buildings_z12"),
        ("households", 14, "households_z14"),
        ("households", 16, "households_z16"),
        ("grids", 15, "grids_z15"),
        ("districts", 18, "districts_z18"),
    ] {
        let tile = heaviest(&service, &data, layer, z);
        let (source, _) = service.source(layer).expect("layer");
        let features = service.features(source, &data, z, Datum::Wgs84);
        group.bench_function(label, |b| {
            b.iter(|| encode_tile(layer, black_box(tile), features.iter()).expect("encode"))
        });
    }
    let (households, src) = service.source("households").expect("layer");
    group.bench_function("prepare_households_points", |b| {
        b.iter(|| src.features(black_box(&data), 1).len())
    });
    let tile = heaviest(&service, &data, "households", 16);
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            service
                .tile(households, &data, black_box(tile), Datum::Wgs84)
                .expect("tile")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
