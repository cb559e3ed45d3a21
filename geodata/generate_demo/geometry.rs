//! Small geometry helpers: fixed-point lon/lat and local metres, vectors, areas.

use geo::{Coord, LineString, Polygon};

use crate::{Fix, LAT0, LON0, M_PER_DEG_LAT, M_PER_DEG_LON, SCALE};

/// Local metres (east, north of the anchor) to rounded fixed-point lon/lat.
pub(crate) fn to_fix(p: [f64; 2]) -> Fix {
    [
        LON0 + (p[0] / M_PER_DEG_LON * SCALE).round() as i64,
        LAT0 + (p[1] / M_PER_DEG_LAT * SCALE).round() as i64,
    ]
}

/// Fixed-point lon/lat to local metres.
pub(crate) fn to_m(p: Fix) -> [f64; 2] {
    [
        (p[0] - LON0) as f64 / SCALE * M_PER_DEG_LON,
        (p[1] - LAT0) as f64 / SCALE * M_PER_DEG_LAT,
    ]
}

/// Exact cross product (b - a) × (c - a).
pub(crate) fn cross(a: Fix, b: Fix, c: Fix) -> i128 {
    i128::from(b[0] - a[0]) * i128::from(c[1] - a[1])
        - i128::from(b[1] - a[1]) * i128::from(c[0] - a[0])
}

/// Twice the signed area of a ring (not closed), exact.
pub(crate) fn area2(ring: &[Fix]) -> i128 {
    let n = ring.len();
    (0..n)
        .map(|k| {
            let (a, b) = (ring[k], ring[(k + 1) % n]);
            i128::from(a[0]) * i128::from(b[1]) - i128::from(b[0]) * i128::from(a[1])
        })
        .sum()
}

pub(crate) fn coord(p: Fix) -> Coord<f64> {
    Coord {
        x: p[0] as f64 / SCALE,
        y: p[1] as f64 / SCALE,
    }
}

pub(crate) fn geo_polygon(ring: &[Fix]) -> Polygon<f64> {
    Polygon::new(
        LineString::new(ring.iter().map(|&p| coord(p)).collect()),
        vec![],
    )
}

pub(crate) fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}
pub(crate) fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}
pub(crate) fn norm(a: [f64; 2]) -> [f64; 2] {
    let l = dot(a, a).sqrt();
    [a[0] / l, a[1] / l]
}
pub(crate) fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = sub(a, b);
    dot(d, d).sqrt()
}

/// Smooth 1-D value noise through `knots` random values, evaluated at s in [0, 1].
pub(crate) fn noise(knots: &[f64], s: f64) -> f64 {
    let n = knots.len() - 1;
    let x = s * n as f64;
    let i = (x.floor() as usize).min(n - 1);
    let t = x - i as f64;
    let t = t * t * (3.0 - 2.0 * t);
    knots[i] * (1.0 - t) + knots[i + 1] * t
}
