// Test shapes for validation, shared by the `validate` bench, the unit tests of
// `spatial::validity` and the HTTP tests of bounded work (each includes this file by path).
// Coordinates are rounded to 7 decimals (1 cm), as clients send them, so that 60,000 vertices
// fit in a request body under the 2 MiB limit.

use geo::{Coord, LineString, MultiPolygon, Polygon};

/// `(x, y)` rounded to 1 cm.
fn at(x: f64, y: f64) -> Coord<f64> {
    Coord {
        x: (x * 1e7).round() / 1e7,
        y: (y * 1e7).round() / 1e7,
    }
}

/// A valid ring of `n` vertices around (120.38, 36.06), about 2 km across, whose radius swells
/// and shrinks in seven smooth lobes: the shape of a real boundary, where few segments overlap
/// in x.
pub fn wobbly_ring(n: usize) -> MultiPolygon<f64> {
    star(n, |i| {
        (i as f64 / n as f64 * std::f64::consts::TAU * 7.0).sin()
    })
}

/// A valid star of `n` vertices whose radius jumps by up to 10 % from one vertex to the next:
/// with many vertices its spikes are far longer than the spacing between them, so each segment
/// overlaps hundreds of others in x (a drawing no one makes by hand, but a client could send).
pub fn jagged_star(n: usize) -> MultiPolygon<f64> {
    star(n, |i| (i as f64 * 0.7).sin())
}

/// A ring around (120.38, 36.06) of radius 0.01° × (1 + 0.05 `wobble(i)`) at vertex `i`: simple
/// whatever the wobble, since the angle only grows.
fn star(n: usize, wobble: impl Fn(usize) -> f64) -> MultiPolygon<f64> {
    let coords: Vec<Coord<f64>> = (0..n)
        .map(|i| {
            let angle = i as f64 / n as f64 * std::f64::consts::TAU;
            let r = 0.01 * (1.0 + 0.05 * wobble(i));
            at(120.38 + r * angle.cos(), 36.06 + r * angle.sin())
        })
        .collect();
    MultiPolygon(vec![Polygon::new(LineString::from(coords), vec![])])
}

/// A valid ring of `n` vertices zigzagging up between x = 120.38 and 120.39: half its segments
/// span the whole width, so a sweep along x pairs each of them with all the others. The worst
/// case for validation at a given vertex count.
pub fn comb(n: usize) -> MultiPolygon<f64> {
    let teeth = n / 2 - 1;
    let step = 0.01 / teeth as f64;
    let mut coords = vec![at(120.37, 36.05)];
    for t in 0..teeth {
        let y = 36.05 + step * (t as f64 + 0.5);
        let x = if t % 2 == 0 { 120.39 } else { 120.38 };
        coords.push(at(x, y));
        coords.push(at(x, y + step * 0.5));
    }
    coords.push(at(120.37, 36.06));
    MultiPolygon(vec![Polygon::new(LineString::from(coords), vec![])])
}
