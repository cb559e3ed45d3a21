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
//! Run (release, as `cargo bench` always is): `cargo bench --bench tiles`. Needs
//! `[[bench]] name = "tiles" harness = false` in Cargo.toml, as the other benchmarks have.
//! Under `cargo test --benches` criterion runs each case once.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use wangge::app::{App, MapData};
use wangge::http::tiles::{Datum, TileService, default_sources};
use wangge::spatial::tiles::{TileId, encode_tile, tiles_covering};

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

fn bench(c: &mut Criterion) {
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
