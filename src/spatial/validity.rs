//! OGC validity of (multi)polygons, in time that grows as n log n with the number of vertices on
//! the shapes people draw.
//!
//! geo's own [`geo::Validation`] compares every segment of a ring with every other one, so a
//! 60,000-vertex ring keeps a core busy for minutes. Here all the segments of all the rings go
//! through one sweep along x ([`sweep`]) that only pairs segments whose x-ranges overlap, and
//! each pair that meets is judged by the rings it belongs to:
//! - two segments of one ring may meet only where one ends and the next begins; anything else
//!   (a crossing, a ring touching itself, a spike running back over itself) is a
//!   self-intersection;
//! - two rings (a shell and its hole, two holes, two parts) that cross properly or overlap along a
//!   line are invalid at once; rings that only touch at points are judged by geo's `relate`, as
//!   geo does, but only for those few pairs;
//! - rings that never meet are either apart or one inside the other, which one vertex tells: a
//!   hole must lie inside its shell, and no hole or part inside another.
//!
//! The sweep is linear in practice for real boundaries (a few segments are active at any x);
//! drawings crafted so that thousands of long segments overlap in x cost more, which is why the
//! HTTP layer caps the vertices of a feature before anything here runs.

use geo::coordinate_position::{CoordPos, coord_pos_relative_to_ring};
use geo::dimensions::Dimensions;
use geo::line_intersection::line_intersection;
use geo::relate::Relate;
use geo::{
    BoundingRect, Coord, Line, LineIntersection, LineString, MultiPoint, MultiPolygon, Point,
    Polygon, PreparedGeometry, Rect, RemoveRepeatedPoints,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Why a polygon is not valid, and where its rings meet if they do.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalidity {
    /// What is wrong, for people (`part 1: interior ring 2 is not inside the exterior ring`).
    pub problem: String,
    /// Where rings cross or touch in a way that makes the polygon invalid, at most
    /// [`MAX_POINTS`] of them, sorted; `None` when no rings meet (a hole outside its shell).
    pub at: Option<MultiPoint<f64>>,
}

impl fmt::Display for Invalidity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem)
    }
}

/// The most points one answer lists; a scribble can have thousands of crossings.
pub const MAX_POINTS: usize = 100;

/// OGC validity as an operation on polygonal geometries.
///
/// ```
/// use geo::wkt;
/// use wangge::spatial::validity::Validity;
/// let square = wkt!(MULTIPOLYGON(((0. 0., 2. 0., 2. 2., 0. 2., 0. 0.))));
/// assert_eq!(square.invalidity(), None);
/// let bowtie = wkt!(MULTIPOLYGON(((0. 0., 2. 2., 2. 0., 0. 2., 0. 0.))));
/// let why = bowtie.invalidity().unwrap();
/// assert!(why.problem.contains("self-intersection"));
/// assert_eq!(why.at.unwrap().0, vec![geo::Point::new(1.0, 1.0)]);
/// ```
pub trait Validity {
    /// `None` if the geometry is valid, else the first kind of problem found and where.
    fn invalidity(&self) -> Option<Invalidity>;
}

impl Validity for MultiPolygon<f64> {
    fn invalidity(&self) -> Option<Invalidity> {
        // Repeated positions would make zero-length segments whose neighbours seem to touch.
        let parts: Vec<Polygon<f64>> = self.0.iter().map(|p| p.remove_repeated_points()).collect();
        let rings = Rings::of(&parts);
        if let Some(problem) = rings.too_short() {
            return Some(Invalidity { problem, at: None });
        }
        let meetings = rings.meetings();
        if let Some(found) = meetings.self_intersection() {
            return Some(found);
        }
        if let Some(found) = meetings.rings_crossing() {
            return Some(found);
        }
        nesting(&parts, &meetings)
    }
}

impl Validity for Polygon<f64> {
    fn invalidity(&self) -> Option<Invalidity> {
        MultiPolygon(vec![self.clone()]).invalidity()
    }
}

/// Where the rings of `geometry` cross or touch themselves or each other, other than where one
/// segment of a ring ends and the next begins: the points that make a bowtie, a hole poking out
/// of its shell or two parts overlapping, so that they can be shown on a map (also the points
/// where a hole touches its shell, which is allowed). `None` if no rings meet.
///
/// ```
/// use geo::wkt;
/// use wangge::spatial::validity::crossings;
/// let bowtie = wkt!(MULTIPOLYGON(((0. 0., 2. 2., 2. 0., 0. 2., 0. 0.))));
/// let at = crossings(&bowtie).unwrap();
/// assert_eq!(at.0.len(), 1);
/// assert_eq!((at.0[0].x(), at.0[0].y()), (1.0, 1.0));
/// ```
pub fn crossings(geometry: &MultiPolygon<f64>) -> Option<MultiPoint<f64>> {
    let parts: Vec<Polygon<f64>> = geometry
        .0
        .iter()
        .map(|p| p.remove_repeated_points())
        .collect();
    let meetings = Rings::of(&parts).meetings();
    points(meetings.all.iter().map(|m| m.at))
}

/// Which ring of the geometry: part index, and 0 for the exterior or 1 + the hole's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RingId {
    part: usize,
    ring: usize,
}

impl fmt::Display for RingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.ring {
            0 => write!(f, "part {}: the exterior ring", self.part + 1),
            hole => write!(f, "part {}: interior ring {hole}", self.part + 1),
        }
    }
}

/// The rings of every part, each with its id.
struct Rings<'a> {
    rings: Vec<(RingId, &'a LineString<f64>)>,
}

impl<'a> Rings<'a> {
    fn of(parts: &'a [Polygon<f64>]) -> Self {
        let rings = parts
            .iter()
            .enumerate()
            .flat_map(|(part, polygon)| {
                std::iter::once(polygon.exterior())
                    .chain(polygon.interiors())
                    .enumerate()
                    .map(move |(ring, line)| (RingId { part, ring }, line))
            })
            .collect();
        Rings { rings }
    }

    /// A ring needs three distinct positions and its closing one.
    fn too_short(&self) -> Option<String> {
        self.rings
            .iter()
            .find(|(_, ring)| ring.0.len() < 4)
            .map(|(id, _)| format!("{id} has fewer than 3 distinct positions"))
    }

    /// Every pair of segments that meet, found by one sweep over all rings.
    fn meetings(&self) -> Meetings {
        let segments = self.rings.iter().flat_map(|(id, ring)| {
            let len = ring.0.len() - 1;
            ring.lines().enumerate().map(move |(index, line)| Segment {
                line,
                ring: *id,
                index,
                ring_len: len,
            })
        });
        let segments: Vec<Segment> = segments.collect();
        let mut all = Vec::new();
        sweep(&segments, |a, b, meet| {
            all.extend(Meeting::judge(a, b, meet));
        });
        Meetings { all }
    }
}

/// Holes inside their shell, no hole inside another, no part inside another: decided by one
/// vertex for rings that never meet, and by geo's `relate` for rings that touch at points.
fn nesting(parts: &[Polygon<f64>], meetings: &Meetings) -> Option<Invalidity> {
    let touching = meetings.touching_rings();
    let touching_parts: BTreeSet<(usize, usize)> = touching
        .keys()
        .filter(|(a, b)| a.part != b.part)
        .map(|(a, b)| (a.part, b.part))
        .collect();
    for (part_index, part) in parts.iter().enumerate() {
        if let Some(found) = holes_in_shell(part, part_index, &touching) {
            return Some(found);
        }
    }
    // Parts against parts, only where their boxes overlap.
    let boxes: Vec<Option<Rect<f64>>> = parts.iter().map(|p| p.bounding_rect()).collect();
    let index = BoxIndex::new(&boxes);
    for (i, part) in parts.iter().enumerate() {
        for j in index.overlapping(i).filter(|j| *j > i) {
            let other = &parts[j];
            let overlap = if touching_parts.contains(&(i, j)) {
                let matrix = part.relate(other);
                matrix.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional
                    || matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary)
                        == Dimensions::OneDimensional
            } else {
                // Boundaries apart: one is inside the other if one vertex is.
                inside_polygon(other.exterior().0[0], part)
                    || inside_polygon(part.exterior().0[0], other)
            };
            if overlap {
                return Some(Invalidity {
                    problem: format!("parts {} and {} overlap", i + 1, j + 1),
                    at: points(meetings.between_parts(i, j)),
                });
            }
        }
    }
    None
}

/// The holes of one part: each inside the shell, none inside another.
fn holes_in_shell(
    part: &Polygon<f64>,
    part_index: usize,
    touching: &BTreeMap<(RingId, RingId), Vec<Coord<f64>>>,
) -> Option<Invalidity> {
    if part.interiors().is_empty() {
        return None;
    }
    let shell = RingId {
        part: part_index,
        ring: 0,
    };
    let shell_polygon = Polygon::new(part.exterior().clone(), vec![]);
    let prepared_shell = PreparedGeometry::from(&shell_polygon);
    for (i, hole) in part.interiors().iter().enumerate() {
        let id = RingId {
            part: part_index,
            ring: i + 1,
        };
        let contained = match touching.get(&(shell, id)) {
            // Touching at points only: the hole may still leave the shell through a vertex.
            Some(_) => prepared_shell
                .relate(&Polygon::new(hole.clone(), vec![]))
                .is_contains(),
            None => coord_pos_relative_to_ring(hole.0[0], part.exterior()) == CoordPos::Inside,
        };
        if !contained {
            return Some(Invalidity {
                problem: format!("{id} is not inside the exterior ring"),
                at: touching
                    .get(&(shell, id))
                    .and_then(|at| points(at.iter().copied())),
            });
        }
    }
    let holes: Vec<Polygon<f64>> = part
        .interiors()
        .iter()
        .map(|h| Polygon::new(h.clone(), vec![]))
        .collect();
    let boxes: Vec<Option<Rect<f64>>> = holes.iter().map(|h| h.bounding_rect()).collect();
    let index = BoxIndex::new(&boxes);
    for (i, hole) in holes.iter().enumerate() {
        for j in index.overlapping(i).filter(|j| *j > i) {
            let (a, b) = (
                RingId {
                    part: part_index,
                    ring: i + 1,
                },
                RingId {
                    part: part_index,
                    ring: j + 1,
                },
            );
            let nested = match touching.get(&(a, b)) {
                Some(_) => {
                    hole.relate(&holes[j])
                        .get(CoordPos::Inside, CoordPos::Inside)
                        == Dimensions::TwoDimensional
                }
                None => {
                    coord_pos_relative_to_ring(holes[j].exterior().0[0], hole.exterior())
                        == CoordPos::Inside
                        || coord_pos_relative_to_ring(hole.exterior().0[0], holes[j].exterior())
                            == CoordPos::Inside
                }
            };
            if nested {
                return Some(Invalidity {
                    problem: format!("{a} and {b} overlap"),
                    at: touching
                        .get(&(a, b))
                        .and_then(|at| points(at.iter().copied())),
                });
            }
        }
    }
    None
}

/// Whether `c` lies in the interior of `polygon` (inside its shell and outside its holes).
fn inside_polygon(c: Coord<f64>, polygon: &Polygon<f64>) -> bool {
    coord_pos_relative_to_ring(c, polygon.exterior()) == CoordPos::Inside
        && polygon
            .interiors()
            .iter()
            .all(|hole| coord_pos_relative_to_ring(c, hole) == CoordPos::Outside)
}

/// Bounding boxes in an R-tree, to pair only the rings or parts whose boxes overlap.
struct BoxIndex {
    tree: rstar::RTree<
        rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, usize>,
    >,
    boxes: Vec<Option<Rect<f64>>>,
}

impl BoxIndex {
    fn new(boxes: &[Option<Rect<f64>>]) -> Self {
        let items = boxes
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let b = (*b)?;
                Some(rstar::primitives::GeomWithData::new(
                    rstar::primitives::Rectangle::from_corners(
                        [b.min().x, b.min().y],
                        [b.max().x, b.max().y],
                    ),
                    i,
                ))
            })
            .collect();
        BoxIndex {
            tree: rstar::RTree::bulk_load(items),
            boxes: boxes.to_vec(),
        }
    }

    /// The indices whose boxes overlap the box of `i` (including `i`).
    fn overlapping(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        let envelope = self.boxes[i]
            .map(|b| rstar::AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]));
        envelope.into_iter().flat_map(move |e| {
            self.tree
                .locate_in_envelope_intersecting(&e)
                .map(|g| g.data)
        })
    }
}

/// Sorted, distinct and at most [`MAX_POINTS`]; `None` if there are none.
fn points(coords: impl Iterator<Item = Coord<f64>>) -> Option<MultiPoint<f64>> {
    let mut points: Vec<Coord<f64>> = coords.collect();
    points.sort_by(|p, q| p.x.total_cmp(&q.x).then(p.y.total_cmp(&q.y)));
    points.dedup();
    points.truncate(MAX_POINTS);
    (!points.is_empty()).then(|| points.into_iter().map(Point::from).collect())
}

/// A segment of one ring, numbered so that the vertex it shares with the next segment is not
/// taken for a crossing.
struct Segment {
    line: Line<f64>,
    ring: RingId,
    index: usize,
    ring_len: usize,
}

impl Segment {
    /// Whether the two are consecutive segments of one ring (the last and the first included).
    fn follows(&self, other: &Segment) -> bool {
        self.ring == other.ring
            && (self.index == (other.index + 1) % self.ring_len
                || other.index == (self.index + 1) % self.ring_len)
    }
}

/// Calls `meet` for every pair of segments that intersect, sweeping along x: segments sorted by
/// their west end, each compared only with those that start before it ends.
///
/// This is what geo's `sweep::Intersections` does, but as a loop: geo's iterator calls itself
/// once per segment that meets nothing new, and on a crafted ring of a few thousand long
/// segments that recursion overflows the thread's stack and aborts the whole server.
fn sweep(segments: &[Segment], mut meet: impl FnMut(&Segment, &Segment, LineIntersection<f64>)) {
    let west_east = |s: &Segment| {
        let (a, b) = (s.line.start.x, s.line.end.x);
        if a <= b { (a, b) } else { (b, a) }
    };
    let mut order: Vec<(f64, f64, usize)> = segments
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (west, east) = west_east(s);
            (west, east, i)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (k, &(_, east, i)) in order.iter().enumerate() {
        for &(west, _, j) in &order[k + 1..] {
            if west > east {
                break;
            }
            if let Some(found) = line_intersection(segments[i].line, segments[j].line) {
                meet(&segments[i], &segments[j], found);
            }
        }
    }
}

/// How two segments meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum How {
    /// Where the interiors of both cross: never valid between any two rings.
    Crossing,
    /// Along a stretch: never valid.
    Overlapping,
    /// At a point that is an end of one or both: valid between distinct rings when they only
    /// touch, which `relate` decides.
    Touching,
}

/// Two segments of the geometry that meet, other than consecutive ones at their shared vertex.
#[derive(Debug, Clone, Copy)]
struct Meeting {
    rings: (RingId, RingId),
    how: How,
    at: Coord<f64>,
}

impl Meeting {
    fn judge(a: &Segment, b: &Segment, meet: LineIntersection<f64>) -> Option<Meeting> {
        let (how, at) = match meet {
            LineIntersection::SinglePoint {
                is_proper: false, ..
            } if a.follows(b) => return None,
            LineIntersection::SinglePoint {
                intersection,
                is_proper,
            } => (
                if is_proper {
                    How::Crossing
                } else {
                    How::Touching
                },
                intersection,
            ),
            LineIntersection::Collinear { intersection } => (How::Overlapping, intersection.start),
        };
        let rings = if a.ring <= b.ring {
            (a.ring, b.ring)
        } else {
            (b.ring, a.ring)
        };
        Some(Meeting { rings, how, at })
    }
}

/// Every pair of segments that meet.
struct Meetings {
    all: Vec<Meeting>,
}

impl Meetings {
    /// The first ring that meets itself, with every point where it does.
    fn self_intersection(&self) -> Option<Invalidity> {
        let ring = self
            .all
            .iter()
            .filter(|m| m.rings.0 == m.rings.1)
            .map(|m| m.rings.0)
            .min()?;
        Some(Invalidity {
            problem: format!("{ring} has a self-intersection"),
            at: points(
                self.all
                    .iter()
                    .filter(|m| m.rings == (ring, ring))
                    .map(|m| m.at),
            ),
        })
    }

    /// The first two rings that cross or run along each other.
    fn rings_crossing(&self) -> Option<Invalidity> {
        let (a, b) = self
            .all
            .iter()
            .filter(|m| m.how != How::Touching)
            .map(|m| m.rings)
            .min()?;
        let how = if self
            .all
            .iter()
            .any(|m| m.rings == (a, b) && m.how == How::Overlapping)
        {
            "run along each other"
        } else {
            "cross"
        };
        let subject = if a.part == b.part {
            format!("{a} and {b} {how}")
        } else {
            format!(
                "parts {} and {} overlap ({a} and {b} {how})",
                a.part + 1,
                b.part + 1
            )
        };
        Some(Invalidity {
            problem: subject,
            at: points(self.all.iter().filter(|m| m.rings == (a, b)).map(|m| m.at)),
        })
    }

    /// The points where each pair of distinct rings touch.
    fn touching_rings(&self) -> BTreeMap<(RingId, RingId), Vec<Coord<f64>>> {
        let mut touching: BTreeMap<(RingId, RingId), Vec<Coord<f64>>> = BTreeMap::new();
        for m in self.all.iter().filter(|m| m.rings.0 != m.rings.1) {
            touching.entry(m.rings).or_default().push(m.at);
        }
        touching
    }

    /// The points where rings of parts `i` and `j` meet.
    fn between_parts(&self, i: usize, j: usize) -> impl Iterator<Item = Coord<f64>> + '_ {
        self.all
            .iter()
            .filter(move |m| m.rings.0.part == i && m.rings.1.part == j)
            .map(|m| m.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation, wkt};

    /// The shapes the `validate` bench measures.
    mod shapes {
        include!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/shapes/mod.rs"
        ));
    }
    use shapes::{comb, jagged_star, wobbly_ring};

    /// Our answer agrees with geo's quadratic validation on valid and invalid shapes alike.
    fn agrees_with_geo(geometry: &MultiPolygon<f64>) {
        assert_eq!(
            geometry.invalidity().is_none(),
            geometry.is_valid(),
            "{geometry:?}: {:?} vs {:?}",
            geometry.invalidity(),
            geometry.validation_errors()
        );
    }

    #[test]
    fn agrees_with_geo_on_the_cases_geo_tests() {
        let cases = [
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.)))),
            // a hole touching the shell at a point, holes touching each other at a point
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.), (0. 0., 2. 1., 1. 2., 0. 0.)))),
            wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),
                (1. 1., 3. 1., 3. 3., 1. 3., 1. 1.), (3. 3., 5. 3., 5. 5., 3. 5., 3. 3.)))),
            // holes touching along a line, crossing, nested
            wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),
                (1. 1., 3. 1., 3. 3., 1. 3., 1. 1.), (3. 1., 5. 1., 5. 3., 3. 3., 3. 1.)))),
            wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),
                (1. 1., 4. 1., 4. 4., 1. 4., 1. 1.), (3. 3., 5. 3., 5. 5., 3. 5., 3. 3.)))),
            wkt!(MULTIPOLYGON(((0. 0., 10. 0., 10. 10., 0. 10., 0. 0.),
                (1. 1., 8. 1., 8. 8., 1. 8., 1. 1.), (3. 3., 5. 3., 5. 5., 3. 5., 3. 3.)))),
            // a hole along the shell on a line, out of the shell, wholly outside
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.), (0. 0., 2. 0., 1. 1., 0. 0.)))),
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.), (3. 1., 5. 1., 5. 3., 3. 3., 3. 1.)))),
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.), (6. 1., 7. 1., 7. 2., 6. 2., 6. 1.)))),
            // bowtie, spike, too few points
            wkt!(MULTIPOLYGON(((0. 0., 2. 2., 2. 0., 0. 2., 0. 0.)))),
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 2. 4., 2. 6., 2. 4., 0. 4., 0. 0.)))),
            wkt!(MULTIPOLYGON(((0. 0., 4. 0., 0. 0.)))),
            // parts apart, touching at a point, along a line, overlapping, nested, in a hole
            wkt!(MULTIPOLYGON(((0. 0., 1. 0., 1. 1., 0. 1., 0. 0.)), ((2. 0., 3. 0., 3. 1., 2. 1., 2. 0.)))),
            wkt!(MULTIPOLYGON(((0. 0., 1. 0., 1. 1., 0. 1., 0. 0.)), ((1. 1., 2. 1., 2. 2., 1. 2., 1. 1.)))),
            wkt!(MULTIPOLYGON(((0. 0., 1. 0., 1. 1., 0. 1., 0. 0.)), ((1. 0., 2. 0., 2. 1., 1. 1., 1. 0.)))),
            wkt!(MULTIPOLYGON(((0. 0., 2. 0., 2. 2., 0. 2., 0. 0.)), ((1. 1., 3. 1., 3. 3., 1. 3., 1. 1.)))),
            wkt!(MULTIPOLYGON(((0. 0., 9. 0., 9. 9., 0. 9., 0. 0.)), ((1. 1., 2. 1., 2. 2., 1. 2., 1. 1.)))),
            wkt!(MULTIPOLYGON(((0. 0., 9. 0., 9. 9., 0. 9., 0. 0.), (1. 1., 8. 1., 8. 8., 1. 8., 1. 1.)),
                ((2. 2., 3. 2., 3. 3., 2. 3., 2. 2.)))),
        ];
        for case in &cases {
            agrees_with_geo(case);
        }
    }

    #[test]
    fn names_the_ring_and_where() {
        let hole_out = wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.),
            (3. 1., 5. 1., 5. 3., 3. 3., 3. 1.))));
        let why = hole_out.invalidity().unwrap();
        assert_eq!(
            why.problem,
            "part 1: the exterior ring and part 1: interior ring 1 cross"
        );
        assert_eq!(
            why.at.unwrap(),
            MultiPoint::from(vec![(4.0, 1.0), (4.0, 3.0)])
        );

        let hole_far = wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.),
            (6. 1., 7. 1., 7. 2., 6. 2., 6. 1.))));
        let why = hole_far.invalidity().unwrap();
        assert_eq!(
            why.problem,
            "part 1: interior ring 1 is not inside the exterior ring"
        );
        assert_eq!(why.at, None);

        let nested = wkt!(MULTIPOLYGON(((0. 0., 9. 0., 9. 9., 0. 9., 0. 0.)),
            ((1. 1., 2. 1., 2. 2., 1. 2., 1. 1.))));
        assert_eq!(
            nested.invalidity().unwrap().problem,
            "parts 1 and 2 overlap"
        );
    }

    #[test]
    fn large_rings_agree_with_geo() {
        let ring = wobbly_ring(2_000);
        agrees_with_geo(&ring);
        // Swap two vertices far apart: the ring now crosses itself.
        let mut crossed = ring.clone();
        crossed.0[0].exterior_mut(|r| r.0.swap(10, 1_000));
        agrees_with_geo(&crossed);
        assert!(
            crossed
                .invalidity()
                .unwrap()
                .problem
                .contains("self-intersection")
        );
        // The hard cases for the sweep are still judged right.
        agrees_with_geo(&jagged_star(2_000));
        assert_eq!(jagged_star(2_000).invalidity(), None);
        let comb = comb(1_000);
        agrees_with_geo(&comb);
        assert_eq!(comb.invalidity(), None);
    }

    /// The sweep is a loop: a comb whose long segments all overlap in x (where geo's recursive
    /// sweep went one call deeper per segment and overflowed a 2 MiB stack at 20,000 vertices)
    /// validates in a thread with a small stack.
    #[test]
    fn a_comb_needs_no_deep_stack() {
        let comb = comb(4_000);
        let verdict = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || comb.invalidity())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(verdict, None);
    }

    /// A ring of `n` random positions on a 5 × 5 grid of integers, where collinear runs,
    /// shared vertices and touching rings are common.
    fn random_ring(n: usize, next: &mut impl FnMut(u64) -> u64) -> LineString<f64> {
        let mut coords: Vec<Coord<f64>> = (0..n)
            .map(|_| Coord {
                x: next(5) as f64,
                y: next(5) as f64,
            })
            .collect();
        coords.push(coords[0]);
        LineString(coords)
    }

    /// Thousands of small random shapes (one ring, a ring with a hole, two parts): the same verdict
    /// as geo's quadratic check on every one, except that a ring of zero area (all its positions
    /// on one line) is invalid here and valid for geo: OGC counts a collapsed ring as a
    /// self-intersection.
    #[test]
    fn random_small_shapes_agree_with_geo() {
        let mut seed: u64 = 42;
        let mut next = |m: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        let (mut compared, mut collapsed) = (0, 0);
        for _ in 0..20_000 {
            let n = 3 + next(4) as usize;
            let shape = match next(3) {
                0 => vec![Polygon::new(random_ring(n, &mut next), vec![])],
                1 => vec![Polygon::new(
                    random_ring(n, &mut next),
                    vec![random_ring(3, &mut next)],
                )],
                _ => vec![
                    Polygon::new(random_ring(n, &mut next), vec![]),
                    Polygon::new(random_ring(3, &mut next), vec![]),
                ],
            };
            let shape = MultiPolygon(shape.iter().map(|p| p.remove_repeated_points()).collect());
            let rings: Vec<&LineString<f64>> = shape
                .0
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .collect();
            if rings.iter().any(|r| r.0.len() < 4) {
                continue;
            }
            if rings
                .iter()
                .any(|r| Polygon::new((*r).clone(), vec![]).unsigned_area() == 0.0)
            {
                assert!(shape.invalidity().is_some(), "{shape:?}");
                collapsed += 1;
                continue;
            }
            agrees_with_geo(&shape);
            compared += 1;
        }
        assert!(
            compared > 10_000 && collapsed > 100,
            "{compared} {collapsed}"
        );
    }
}
