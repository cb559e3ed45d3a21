//! A walking order through doors to visit: the nearest one next, then 2-opt, which undoes the
//! crossings greedy choice leaves. The search works in a local plane (metres east and north of
//! the start), where a cadre's few square kilometres are flat to a fraction of a percent; the
//! length it reports is measured on the ground ([`Haversine`]).

use geo::{Distance, Haversine, MultiPoint, Point};
use rstar::RTree;
use rstar::primitives::GeomWithData;

/// How many nearest doors 2-opt considers as the next stop after each door: the classic
/// neighbour lists, which find nearly every improving move at a fraction of the cost of trying
/// all pairs (O(n·K) a round instead of O(n²)).
const NEIGHBOURS: usize = 12;
/// The rounds of 2-opt: each tries every door's neighbours once. The bound keeps the worst case
/// known; a few rounds reach a local optimum.
const MAX_ROUNDS: usize = 16;
/// The mean radius of the Earth, metres (IUGG), the one `Haversine` uses.
const EARTH_RADIUS: f64 = 6_371_008.8;

/// An order in which to walk to the points.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    /// Indexes of the points in walking order.
    pub order: Vec<usize>,
    /// The length of the walk from the start through every point in order, in metres on the
    /// ground.
    pub metres: f64,
}

/// Orders points into a short walk from a start: nearest neighbour, improved by 2-opt.
pub trait WalkingOrder {
    /// The walk from `start` through every point once (an open path: no return to the start).
    ///
    /// ```
    /// use geo::{MultiPoint, Point};
    /// use wangge::spatial::route::WalkingOrder;
    ///
    /// // Three doors along a street, given out of order.
    /// let doors = MultiPoint::new(vec![
    ///     Point::new(120.3720, 36.0600),
    ///     Point::new(120.3700, 36.0600),
    ///     Point::new(120.3710, 36.0600),
    /// ]);
    /// let walk = doors.walking_order(Point::new(120.3690, 36.0600));
    /// assert_eq!(walk.order, vec![1, 2, 0]);
    /// assert!((walk.metres - 270.0).abs() < 1.0, "{}", walk.metres);
    /// ```
    fn walking_order(&self, start: Point<f64>) -> Walk;
}

impl WalkingOrder for MultiPoint<f64> {
    fn walking_order(&self, start: Point<f64>) -> Walk {
        let points: Vec<Point<f64>> = std::iter::once(start).chain(self.iter().copied()).collect();
        let plane = Plane::around(start, &points);
        let mut path = nearest_neighbour(&plane);
        two_opt(&plane, &mut path);
        let metres = path
            .windows(2)
            .map(|leg| Haversine.distance(points[leg[0]], points[leg[1]]))
            .sum();
        Walk {
            // Position 0 of `points` is the start.
            order: path[1..].iter().map(|&i| i - 1).collect(),
            metres,
        }
    }
}

/// The points in metres east and north of the start (an equirectangular projection).
struct Plane {
    xy: Vec<[f64; 2]>,
}

impl Plane {
    fn around(start: Point<f64>, points: &[Point<f64>]) -> Plane {
        let east = start.y().to_radians().cos() * EARTH_RADIUS;
        let xy = points
            .iter()
            .map(|p| {
                [
                    (p.x() - start.x()).to_radians() * east,
                    (p.y() - start.y()).to_radians() * EARTH_RADIUS,
                ]
            })
            .collect();
        Plane { xy }
    }

    fn metres(&self, a: usize, b: usize) -> f64 {
        let ([ax, ay], [bx, by]) = (self.xy[a], self.xy[b]);
        (ax - bx).hypot(ay - by)
    }
}

/// From point 0, always to the nearest point not yet visited: an R-tree of the points left
/// answers each "nearest" in about log n, where a scan of all would make the walk O(n²).
fn nearest_neighbour(plane: &Plane) -> Vec<usize> {
    let mut left = RTree::bulk_load(
        plane
            .xy
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, &xy)| GeomWithData::new(xy, i))
            .collect(),
    );
    let mut path = Vec::with_capacity(plane.xy.len());
    path.push(0);
    let mut here = plane.xy[0];
    while let Some(next) = left.nearest_neighbor(&here).copied() {
        left.remove(&next);
        here = *next.geom();
        path.push(next.data);
    }
    path
}

/// Reverses stretches of the path while that shortens it. The path starts at point 0, which
/// stays first; its end is open, so reversing a tail changes only the leg into it. A move
/// joins a point to one of its [`NEIGHBOURS`] nearest.
fn two_opt(plane: &Plane, path: &mut [usize]) {
    let n = path.len();
    if n < 4 {
        // With the start fixed, one or two stops have one best order, which nearest
        // neighbour found.
        return;
    }
    let tree = RTree::bulk_load(
        plane
            .xy
            .iter()
            .enumerate()
            .map(|(i, &xy)| GeomWithData::new(xy, i))
            .collect(),
    );
    let neighbours: Vec<Vec<usize>> = plane
        .xy
        .iter()
        .map(|xy| {
            tree.nearest_neighbor_iter(xy)
                .skip(1)
                .take(NEIGHBOURS)
                .map(|g| g.data)
                .collect()
        })
        .collect();
    let mut position = vec![0; n];
    for (at, &p) in path.iter().enumerate() {
        position[p] = at;
    }
    let leg = |path: &[usize], at: usize| match path.get(at + 1) {
        Some(&next) => plane.metres(path[at], next),
        None => 0.0,
    };
    for _ in 0..MAX_ROUNDS {
        let mut improved = false;
        for i in 0..n - 1 {
            for &c in &neighbours[path[i]] {
                let j = position[c];
                if j <= i + 1 {
                    continue;
                }
                // Legs (i, i+1) and (j, j+1) become (i, j) and (i+1, j+1).
                let before = leg(path, i) + leg(path, j);
                let after = plane.metres(path[i], path[j])
                    + path
                        .get(j + 1)
                        .map_or(0.0, |&next| plane.metres(path[i + 1], next));
                // A millimetre of slack: no endless swaps between equal paths.
                if after + 1e-3 < before {
                    path[i + 1..=j].reverse();
                    for (at, &p) in path.iter().enumerate().take(j + 1).skip(i + 1) {
                        position[p] = at;
                    }
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn length(points: &[Point<f64>], start: Point<f64>, order: &[usize]) -> f64 {
        std::iter::once(start)
            .chain(order.iter().map(|&i| points[i]))
            .collect::<Vec<_>>()
            .windows(2)
            .map(|leg| Haversine.distance(leg[0], leg[1]))
            .sum()
    }

    /// Every permutation of `n` indexes.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut all = Vec::new();
        for p in permutations(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                all.push(q);
            }
        }
        all
    }

    /// A deterministic scatter of doors over a few hundred metres.
    fn doors(n: usize, seed: u64) -> Vec<Point<f64>> {
        let mut state = seed;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as f64 / (1u64 << 31) as f64
        };
        (0..n)
            .map(|_| Point::new(120.37 + next() * 0.004, 36.05 + next() * 0.004))
            .collect()
    }

    #[test]
    fn every_point_is_visited_once_and_the_length_is_the_walks() {
        let points = doors(60, 7);
        let start = Point::new(120.369, 36.049);
        let walk = MultiPoint::new(points.clone()).walking_order(start);
        let mut seen = walk.order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..60).collect::<Vec<_>>());
        let expected = length(&points, start, &walk.order);
        assert!((walk.metres - expected).abs() < 1e-6);
    }

    #[test]
    fn small_walks_are_close_to_the_best_possible() {
        for seed in 1..=20 {
            let points = doors(7, seed);
            let start = Point::new(120.372, 36.052);
            let walk = MultiPoint::new(points.clone()).walking_order(start);
            let best = permutations(points.len())
                .iter()
                .map(|order| length(&points, start, order))
                .fold(f64::INFINITY, f64::min);
            assert!(
                walk.metres <= best * 1.10,
                "seed {seed}: {} m against the best {best} m",
                walk.metres
            );
        }
    }

    #[test]
    fn two_opt_undoes_a_crossing_that_greedy_choice_makes() {
        let points = doors(40, 3);
        let start = Point::new(120.369, 36.049);
        let all: Vec<Point<f64>> = std::iter::once(start)
            .chain(points.iter().copied())
            .collect();
        let greedy = nearest_neighbour(&Plane::around(start, &all));
        let greedy_metres: f64 = greedy
            .windows(2)
            .map(|l| Haversine.distance(all[l[0]], all[l[1]]))
            .sum();
        let walk = MultiPoint::new(points).walking_order(start);
        assert!(
            walk.metres < greedy_metres,
            "{} ≥ {greedy_metres}",
            walk.metres
        );
    }

    #[test]
    fn no_points_is_an_empty_walk() {
        let walk = MultiPoint::<f64>::new(vec![]).walking_order(Point::new(120.0, 36.0));
        assert_eq!(
            walk,
            Walk {
                order: vec![],
                metres: 0.0
            }
        );
    }
}
