//! Which polygon owns a point, with one rule for boundaries.
//!
//! A grid map is a partition: every point of the street must belong to exactly one grid, and a
//! point that lies exactly on the edge two grids share must not belong to both or to neither.
//! `geo`'s `Contains` excludes boundaries (so an edge point is in no grid) and `Intersects`
//! includes them (so it is in both), which is why ownership is decided here instead.
//!
//! # The rule
//! A polygon owns its interior, its **western and southern** boundary, and not its eastern and
//! northern boundary (the "half-open" rule that rasterisers use for pixels). So a point on an edge
//! shared by two grids belongs to the grid to its **east**; on an east–west edge, to the grid to its
//! **north**; at a corner shared by several grids, to the one to its north-east. A point on the
//! outer eastern or northern edge of the whole partition belongs to no grid.
//!
//! It is implemented as a crossing-number test: a horizontal ray is cast east from the point, an
//! edge counts when one end lies strictly above the point and the other at or below it, and the
//! crossing counts when it is strictly east of the point. Each edge is stored with its lower end
//! first, so two neighbours that share an edge evaluate the identical expression and can never
//! disagree, even in the last bit of floating point.
//!
//! Polygons with many vertices are cut into horizontal bands, each listing the edges it meets, so
//! a test reads only the edges of one band instead of all of them (see georust/geo#1184 for why
//! bounding boxes alone are not enough).

use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon, Rect};

/// Tests whether a geometry owns a point under the half-open rule of this module.
///
/// ```
/// use geo::{coord, polygon};
/// use wangge::spatial::owner::OwnsPoint;
///
/// let west = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
/// let east = polygon![(x: 1.0, y: 0.0), (x: 2.0, y: 0.0), (x: 2.0, y: 1.0), (x: 1.0, y: 1.0)];
/// let on_shared_edge = coord! { x: 1.0, y: 0.5 };
/// assert!(!west.owns_point(on_shared_edge));
/// assert!(east.owns_point(on_shared_edge)); // the grid to the east owns the edge
/// ```
pub trait OwnsPoint {
    /// True when the point lies inside the geometry or on a boundary the geometry owns.
    fn owns_point(&self, p: Coord<f64>) -> bool;
}

/// One polygon edge with its lower end first (`a.y <= b.y`).
#[derive(Debug, Clone, Copy)]
struct Edge {
    a: Coord<f64>,
    b: Coord<f64>,
}

impl Edge {
    fn new(p: Coord<f64>, q: Coord<f64>) -> Self {
        // Lower end first, ties broken on x, so that both polygons sharing an edge store it alike.
        if (p.y, p.x) <= (q.y, q.x) {
            Edge { a: p, b: q }
        } else {
            Edge { a: q, b: p }
        }
    }

    /// Whether the eastward ray from `p` crosses this edge under the half-open rule.
    #[inline]
    fn crossed_by_ray_from(&self, p: Coord<f64>) -> bool {
        // The edge spans p.y: lower end at or below, upper end strictly above.
        if !(self.a.y <= p.y && p.y < self.b.y) {
            return false;
        }
        // The crossing is strictly east of p exactly when p is strictly left of the upward edge.
        let cross =
            (self.b.x - self.a.x) * (p.y - self.a.y) - (self.b.y - self.a.y) * (p.x - self.a.x);
        cross > 0.0
    }
}

fn push_ring_edges(ring: &LineString<f64>, edges: &mut Vec<Edge>) {
    // geo closes rings, so consecutive pairs cover every edge once.
    edges.extend(
        ring.lines()
            .filter(|l| l.start.y != l.end.y) // horizontal edges never count
            .map(|l| Edge::new(l.start, l.end)),
    );
}

fn ray_parity<'a>(edges: impl IntoIterator<Item = &'a Edge>, p: Coord<f64>) -> bool {
    edges
        .into_iter()
        .fold(false, |inside, e| inside ^ e.crossed_by_ray_from(p))
}

fn polygon_edges(polygon: &Polygon<f64>, edges: &mut Vec<Edge>) {
    push_ring_edges(polygon.exterior(), edges);
    for hole in polygon.interiors() {
        push_ring_edges(hole, edges);
    }
}

impl OwnsPoint for Polygon<f64> {
    fn owns_point(&self, p: Coord<f64>) -> bool {
        let mut edges = Vec::new();
        polygon_edges(self, &mut edges);
        ray_parity(&edges, p)
    }
}

impl OwnsPoint for MultiPolygon<f64> {
    fn owns_point(&self, p: Coord<f64>) -> bool {
        PreparedArea::new(self).owns_point(p)
    }
}

/// Polygons with at most this many edges are tested edge by edge; beyond it, by bands.
const LINEAR_SCAN_EDGES: usize = 32;
/// Aim for about this many edges per band.
const EDGES_PER_BAND: usize = 8;
/// Upper bound on the number of bands of one polygon.
const MAX_BANDS: usize = 1 << 16;

/// A (multi)polygon prepared for many point tests.
///
/// Building it costs a pass over the edges; a test then costs a band lookup and a few edge tests,
/// whatever the number of vertices.
#[derive(Debug, Clone)]
pub struct PreparedArea {
    bbox: Option<Rect<f64>>,
    search: EdgeSearch,
}

#[derive(Debug, Clone)]
enum EdgeSearch {
    /// Few edges: test them all.
    Linear(Vec<Edge>),
    /// Many edges: `edges[offsets[i]..offsets[i + 1]]` are the edges meeting band `i`.
    Bands {
        min_y: f64,
        max_y: f64,
        band_height: f64,
        offsets: Vec<u32>,
        edges: Vec<Edge>,
    },
}

impl PreparedArea {
    /// Prepares a multipolygon. Its parts must not overlap (as in any valid multipolygon).
    pub fn new(geometry: &MultiPolygon<f64>) -> Self {
        let mut edges = Vec::new();
        for polygon in geometry {
            polygon_edges(polygon, &mut edges);
        }
        let bbox = geometry.bounding_rect();
        let search = match bbox {
            Some(bbox) if edges.len() > LINEAR_SCAN_EDGES && bbox.height() > 0.0 => {
                Self::bands(bbox, edges)
            }
            _ => EdgeSearch::Linear(edges),
        };
        PreparedArea { bbox, search }
    }

    fn bands(bbox: Rect<f64>, edges: Vec<Edge>) -> EdgeSearch {
        let count = (edges.len() / EDGES_PER_BAND).clamp(1, MAX_BANDS);
        let min_y = bbox.min().y;
        let band_height = bbox.height() / count as f64;
        let band_of = |y: f64| band_index(y, min_y, band_height, count);
        // Counting pass, then a filling pass: one flat allocation instead of a Vec per band.
        let mut offsets = vec![0u32; count + 1];
        for e in &edges {
            for band in band_of(e.a.y)..=band_of(e.b.y) {
                offsets[band + 1] += 1;
            }
        }
        for i in 0..count {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut banded = vec![edges[0]; offsets[count] as usize];
        for e in &edges {
            for band in band_of(e.a.y)..=band_of(e.b.y) {
                banded[next[band] as usize] = *e;
                next[band] += 1;
            }
        }
        EdgeSearch::Bands {
            min_y,
            max_y: bbox.max().y,
            band_height,
            offsets,
            edges: banded,
        }
    }

    /// The bounding box, `None` for an empty geometry.
    pub fn bbox(&self) -> Option<Rect<f64>> {
        self.bbox
    }
}

/// The band holding height `y`; monotonic in `y`, which the band search relies on.
#[inline]
fn band_index(y: f64, min_y: f64, band_height: f64, count: usize) -> usize {
    (((y - min_y) / band_height) as usize).min(count - 1)
}

impl OwnsPoint for PreparedArea {
    #[inline]
    fn owns_point(&self, p: Coord<f64>) -> bool {
        match &self.search {
            EdgeSearch::Linear(edges) => ray_parity(edges, p),
            EdgeSearch::Bands {
                min_y,
                max_y,
                band_height,
                offsets,
                edges,
            } => {
                // Nothing at or above the top is owned (half-open rule); NaN fails both tests.
                if !(p.y >= *min_y && p.y < *max_y) {
                    return false;
                }
                // The same arithmetic as when the bands were filled, so an edge spanning p.y is
                // always found in p's band.
                let band = band_index(p.y, *min_y, *band_height, offsets.len() - 1);
                let range = offsets[band] as usize..offsets[band + 1] as usize;
                ray_parity(&edges[range], p)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Intersects, coord, polygon};

    fn square(x0: f64, y0: f64, size: f64) -> Polygon<f64> {
        polygon![
            (x: x0, y: y0),
            (x: x0 + size, y: y0),
            (x: x0 + size, y: y0 + size),
            (x: x0, y: y0 + size),
        ]
    }

    /// A star with `n` spikes and 2n vertices: many edges, far from convex.
    fn star(n: usize) -> Polygon<f64> {
        let points: Vec<(f64, f64)> = (0..2 * n)
            .map(|i| {
                let r = if i % 2 == 0 { 10.0 } else { 4.0 };
                let t = i as f64 * std::f64::consts::PI / n as f64;
                (r * t.cos(), r * t.sin())
            })
            .collect();
        Polygon::new(LineString::from(points), vec![])
    }

    #[test]
    fn a_shared_edge_belongs_to_exactly_one_side() {
        let cells: Vec<PreparedArea> = (0..3)
            .flat_map(|i| (0..3).map(move |j| square(i as f64, j as f64, 1.0)))
            .map(|p| PreparedArea::new(&MultiPolygon(vec![p])))
            .collect();
        // Every vertex, edge midpoint and centre strictly inside the 3×3 block has one owner.
        for i in 1..=10 {
            for j in 1..=10 {
                let p = coord! { x: i as f64 * 0.25, y: j as f64 * 0.25 };
                let owners = cells.iter().filter(|c| c.owns_point(p)).count();
                assert_eq!(owners, 1, "point {p:?} has {owners} owners");
            }
        }
    }

    #[test]
    fn west_and_south_edges_are_owned_east_and_north_are_not() {
        let s = square(0.0, 0.0, 1.0);
        assert!(s.owns_point(coord! { x: 0.0, y: 0.5 }));
        assert!(s.owns_point(coord! { x: 0.5, y: 0.0 }));
        assert!(s.owns_point(coord! { x: 0.0, y: 0.0 }));
        assert!(!s.owns_point(coord! { x: 1.0, y: 0.5 }));
        assert!(!s.owns_point(coord! { x: 0.5, y: 1.0 }));
        assert!(!s.owns_point(coord! { x: 1.0, y: 1.0 }));
    }

    #[test]
    fn holes_are_not_owned() {
        let mut with_hole = square(0.0, 0.0, 10.0);
        with_hole.interiors_push(square(4.0, 4.0, 2.0).exterior().clone());
        assert!(!with_hole.owns_point(coord! { x: 5.0, y: 5.0 }));
        assert!(with_hole.owns_point(coord! { x: 2.0, y: 5.0 }));
        // The island filling the hole owns the hole's western edge; the ring around it does not.
        let island = square(4.0, 4.0, 2.0);
        let edge = coord! { x: 4.0, y: 5.0 };
        assert!(island.owns_point(edge) ^ with_hole.owns_point(edge));
    }

    #[test]
    fn banded_test_agrees_with_geo_off_the_boundary() {
        let polygon = star(500);
        let prepared = PreparedArea::new(&MultiPolygon(vec![polygon.clone()]));
        assert!(matches!(prepared.search, EdgeSearch::Bands { .. }));
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let x = (seed % 24_000) as f64 / 1000.0 - 12.0;
            let y = ((seed >> 20) % 24_000) as f64 / 1000.0 - 12.0;
            let p = coord! { x: x, y: y };
            if polygon.exterior().intersects(&p) {
                continue; // on the boundary geo and the half-open rule differ by design
            }
            assert_eq!(prepared.owns_point(p), polygon.contains(&p), "at {p:?}");
        }
    }

    #[test]
    fn points_outside_the_extent_are_not_owned() {
        let prepared = PreparedArea::new(&MultiPolygon(vec![star(100)]));
        for p in [
            coord! { x: 0.0, y: 11.0 },
            coord! { x: 0.0, y: -11.0 },
            coord! { x: f64::NAN, y: 0.0 },
            coord! { x: 0.0, y: f64::NAN },
            coord! { x: 50.0, y: 0.0 },
        ] {
            assert!(!prepared.owns_point(p), "{p:?}");
        }
        assert!(prepared.owns_point(coord! { x: 0.0, y: 0.0 }));
    }
}
