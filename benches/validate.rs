//! Validating a polygon before it is stored: what one planner's (or one attacker's) feature costs.
//!
//! One criterion group, `validate`:
//! - `wobbly_ring/N`: a valid ring of N vertices around Qingdao in seven smooth lobes (a real
//!   boundary's shape: few segments overlap in x), through [`check_polygonal`], for N = 1,000,
//!   20,000 (the default cap per feature) and 100,000 (the target: under 200 ms);
//! - `jagged_star/20000`: a star whose spikes are longer than the spacing of its vertices, so
//!   that each segment overlaps hundreds of others in x;
//! - `comb/20000`: the worst case for the sweep at the default cap, a valid comb whose 20,000
//!   segments are long and overlap in x, so that the sweep pairs many of them;
//! - `geo_validation/N` beside `wobbly_ring/N` at N = 1,000 and 4,000: geo's own quadratic
//!   `Validation`, which this replaced, on the same rings, for the ratio.
//!
//! Run: `cargo bench --bench validate`. Under `cargo test --benches` criterion runs each case once.

// `criterion_group!` defines a public function that cannot carry a doc comment.
#![allow(missing_docs)]

mod shapes;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use geo::Validation;
use shapes::{comb, jagged_star, wobbly_ring};
use std::hint::black_box;
use wangge::spatial::validate::check_polygonal;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    for n in [1_000, 20_000, 100_000] {
        let ring = wobbly_ring(n);
        assert_eq!(check_polygonal(&ring), Ok(()), "the ring is valid");
        group.bench_with_input(BenchmarkId::new("wobbly_ring", n), &ring, |b, ring| {
            b.iter(|| check_polygonal(black_box(ring)))
        });
    }
    let star = jagged_star(20_000);
    assert_eq!(check_polygonal(&star), Ok(()), "the star is valid");
    group.bench_with_input(BenchmarkId::new("jagged_star", 20_000), &star, |b, star| {
        b.iter(|| check_polygonal(black_box(star)))
    });
    let comb = comb(20_000);
    assert_eq!(check_polygonal(&comb), Ok(()), "the comb is valid");
    group.bench_with_input(BenchmarkId::new("comb", 20_000), &comb, |b, comb| {
        b.iter(|| check_polygonal(black_box(comb)))
    });
    for n in [1_000, 4_000] {
        let ring = wobbly_ring(n);
        group.bench_with_input(BenchmarkId::new("geo_validation", n), &ring, |b, ring| {
            b.iter(|| black_box(ring).is_valid())
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
