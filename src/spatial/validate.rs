//! Rules a polygon must pass before it is stored.
//!
//! Structural checks on the raw GeoJSON (closed rings, enough positions) happen while parsing in
//! [`crate::geodata`], because converting to `geo` types closes rings silently. What is checked
//! here holds for any polygon, however it arrived: finite WGS84 coordinates in range, OGC
//! validity (no self-intersection, holes inside their shell, …) and a sane size.
//!
//! Topology ([`check_place`]) is checked against the places as they would be after an edit:
//! - a place does not overlap its siblings: places of the same kind with the same parent (grids
//!   of one community, communities of one street, responsibility areas of one street). Areas may
//!   cut across grids, but not across each other;
//! - a place lies inside its parent;
//! - the children of an edited place still lie inside it.
//!
//! Overlaps and parts outside are computed with geo's [`BooleanOps`] and count only where a part
//! is larger than [`TOLERANCE_M2`] (geodesic area). Neighbours that share an edge exactly produce
//! zero-area slivers in the boolean operations; the tolerance absorbs them.

use crate::model::{Id, Place};
use crate::spatial::validity::{Invalidity, Validity};
use geo::orient::{Direction, Orient};
use geo::{
    BooleanOps, BoundingRect, CoordsIter, GeodesicArea, Geometry, Intersects, MultiPoint,
    MultiPolygon, Point, Polygon,
};
use std::fmt;

/// No place or building managed here spans more than this many degrees; anything larger is a
/// unit or axis-order mistake (metres read as degrees, lat/lon swapped), not a grid.
pub const MAX_EXTENT_DEGREES: f64 = 5.0;

/// Checks that a WGS84 longitude/latitude pair is finite and in range, with the lookup's words.
pub fn check_lon_lat(lon: f64, lat: f64) -> Result<(), String> {
    crate::spatial::crs::check_lon_lat(lon, lat).map_err(|e| e.to_string())
}

/// Checks a WGS84 point.
pub fn check_point(p: &Point<f64>) -> Result<(), String> {
    check_lon_lat(p.x(), p.y())
}

/// Why a geometry cannot be stored, and where on it, when that can be pointed at.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidGeometry {
    /// What is wrong, for people.
    pub message: String,
    /// Where the rings of an invalid polygon cross or touch (see [`Invalidity::at`]).
    pub at: Option<MultiPoint<f64>>,
}

impl fmt::Display for InvalidGeometry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for InvalidGeometry {
    fn from(message: String) -> Self {
        InvalidGeometry { message, at: None }
    }
}

impl From<InvalidGeometry> for String {
    fn from(e: InvalidGeometry) -> Self {
        e.message
    }
}

/// Checks a WGS84 (multi)polygon: coordinates, size and OGC validity, the cheap checks first.
pub fn check_polygonal(geometry: &MultiPolygon<f64>) -> Result<(), InvalidGeometry> {
    if geometry.0.is_empty() {
        return Err(String::from("the geometry is empty").into());
    }
    for c in geometry.coords_iter() {
        check_lon_lat(c.x, c.y)?;
    }
    let bbox = geometry.bounding_rect().expect("non-empty");
    if bbox.width() > MAX_EXTENT_DEGREES || bbox.height() > MAX_EXTENT_DEGREES {
        return Err(format!(
            "the polygon spans {:.3}° × {:.3}°, more than the {MAX_EXTENT_DEGREES}° a district can; \
             are the coordinates in another CRS or in lat/lon order?",
            bbox.width(),
            bbox.height()
        )
        .into());
    }
    if let Some(Invalidity { problem, at }) = geometry.invalidity() {
        let message = match at.as_ref().and_then(|points| points.0.first()) {
            Some(p) => format!("invalid polygon: {problem} (at {:.7} {:.7})", p.x(), p.y()),
            None => format!("invalid polygon: {problem}"),
        };
        return Err(InvalidGeometry { message, at });
    }
    Ok(())
}

/// The smallest overlap or outside part that counts, in square metres (geodesic area): a hundred
/// square centimetres, far below anything drawn on purpose and far above rounding noise.
pub const TOLERANCE_M2: f64 = 0.01;

/// What kind of problem a place has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// The geometry itself is broken (self-intersection, out of range, too large, …).
    InvalidGeometry,
    /// The place has no parent, or its parent is unknown or of the wrong kind.
    InvalidParent,
    /// The place overlaps a sibling.
    Overlap,
    /// Part of the place lies outside its parent.
    OutsideParent,
    /// Part of a child of the place lies outside it.
    ChildrenOutside,
}

/// Another place a problem involves.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Other {
    /// The other place's database id.
    pub id: Id,
    /// The other place's code.
    pub code: String,
    /// The other place's Chinese name.
    pub name: String,
}

impl Other {
    fn of(place: &Place) -> Self {
        Other {
            id: place.id,
            code: place.code.clone(),
            name: place.name.clone(),
        }
    }
}

/// One problem of a place, with where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Which rule is broken.
    pub code: ProblemCode,
    /// What is wrong, for people.
    pub message: String,
    /// Where it is: the overlap or the part outside as polygons, the crossings of an invalid
    /// polygon as points; `None` if the problem has no place.
    pub at: Option<Geometry<f64>>,
    /// The other place involved (the sibling overlapped, the parent, the child).
    pub with: Option<Other>,
    /// The geodesic area of `at`, in square metres.
    pub area_m2: Option<f64>,
}

/// Geodesic area in square metres, whatever the ring orientation.
///
/// ```
/// use geo::wkt;
/// use wangge::spatial::validate::area_m2;
/// // 0.001° × 0.001° at 36°N is about 111 m × 90 m.
/// let square = wkt!(MULTIPOLYGON(((120.0 36.0, 120.0 36.001, 120.001 36.001, 120.001 36.0, 120.0 36.0))));
/// assert!((area_m2(&square) - 10_000.0).abs() < 100.0);
/// ```
pub fn area_m2(geometry: &MultiPolygon<f64>) -> f64 {
    geometry
        .0
        .iter()
        .map(|p| p.orient(Direction::Default).geodesic_area_unsigned())
        .sum()
}

/// The polygons of `geometry` larger than [`TOLERANCE_M2`], with their total area; `None` if
/// there are none.
pub fn significant(geometry: MultiPolygon<f64>) -> Option<(MultiPolygon<f64>, f64)> {
    let parts: Vec<(Polygon<f64>, f64)> = geometry
        .0
        .into_iter()
        .map(|p| {
            let area = p.orient(Direction::Default).geodesic_area_unsigned();
            (p, area)
        })
        .filter(|(_, area)| *area > TOLERANCE_M2)
        .collect();
    if parts.is_empty() {
        return None;
    }
    let total = parts.iter().map(|(_, a)| a).sum();
    Some((
        MultiPolygon(parts.into_iter().map(|(p, _)| p).collect()),
        total,
    ))
}

/// How two polygonal places relate, with the [`TOLERANCE_M2`] applied.
pub trait Topology {
    /// The part shared with `other`, if larger than the tolerance.
    ///
    /// ```
    /// use geo::wkt;
    /// use wangge::spatial::validate::Topology;
    /// let a = wkt!(MULTIPOLYGON(((120.0 36.0, 120.002 36.0, 120.002 36.001, 120.0 36.001, 120.0 36.0))));
    /// let b = wkt!(MULTIPOLYGON(((120.001 36.0, 120.003 36.0, 120.003 36.001, 120.001 36.001, 120.001 36.0))));
    /// let (shared, m2) = a.overlap_with(&b).unwrap();
    /// assert!(m2 > 9_000.0 && m2 < 11_000.0); // about 90 m × 111 m
    /// assert_eq!(shared.0.len(), 1);
    /// // Neighbours sharing an edge exactly do not overlap.
    /// let c = wkt!(MULTIPOLYGON(((120.002 36.0, 120.004 36.0, 120.004 36.001, 120.002 36.001, 120.002 36.0))));
    /// assert!(a.overlap_with(&c).is_none());
    /// ```
    fn overlap_with(&self, other: &MultiPolygon<f64>) -> Option<(MultiPolygon<f64>, f64)>;

    /// The part outside `container`, if larger than the tolerance.
    ///
    /// ```
    /// use geo::wkt;
    /// use wangge::spatial::validate::Topology;
    /// let inner = wkt!(MULTIPOLYGON(((120.0 36.0, 120.001 36.0, 120.001 36.001, 120.0 36.001, 120.0 36.0))));
    /// let outer = wkt!(MULTIPOLYGON(((120.0 36.0, 120.002 36.0, 120.002 36.002, 120.0 36.002, 120.0 36.0))));
    /// assert!(inner.outside_of(&outer).is_none());
    /// assert!(outer.outside_of(&inner).is_some());
    /// ```
    fn outside_of(&self, container: &MultiPolygon<f64>) -> Option<(MultiPolygon<f64>, f64)>;
}

impl Topology for MultiPolygon<f64> {
    fn overlap_with(&self, other: &MultiPolygon<f64>) -> Option<(MultiPolygon<f64>, f64)> {
        let (Some(a), Some(b)) = (self.bounding_rect(), other.bounding_rect()) else {
            return None;
        };
        if !a.intersects(&b) {
            return None;
        }
        significant(self.intersection(other))
    }

    fn outside_of(&self, container: &MultiPolygon<f64>) -> Option<(MultiPolygon<f64>, f64)> {
        significant(self.difference(container))
    }
}

/// The gaps of `container` that none of `parts` covers, each larger than the tolerance, with
/// their areas.
///
/// ```
/// use geo::wkt;
/// use wangge::spatial::validate::gaps;
/// let community = wkt!(MULTIPOLYGON(((120.0 36.0, 120.002 36.0, 120.002 36.001, 120.0 36.001, 120.0 36.0))));
/// let grid = wkt!(MULTIPOLYGON(((120.0 36.0, 120.001 36.0, 120.001 36.001, 120.0 36.001, 120.0 36.0))));
/// let found = gaps(&community, &[&grid]);
/// assert_eq!(found.len(), 1);
/// assert!(found[0].1 > 8_000.0);
/// ```
pub fn gaps(
    container: &MultiPolygon<f64>,
    parts: &[&MultiPolygon<f64>],
) -> Vec<(Polygon<f64>, f64)> {
    let covered = geo::unary_union(parts.iter().flat_map(|m| m.0.iter()));
    container
        .difference(&covered)
        .0
        .into_iter()
        .map(|p| {
            let area = p.orient(Direction::Default).geodesic_area_unsigned();
            (p, area)
        })
        .filter(|(_, area)| *area > TOLERANCE_M2)
        .collect()
}

/// Every problem of `place` among `world`, the places as they would be after the edit (`place`
/// itself is skipped in `world` by id).
pub fn check_place(place: &Place, world: &[Place]) -> Vec<Problem> {
    if let Err(invalid) = check_polygonal(&place.geometry) {
        return vec![Problem {
            code: ProblemCode::InvalidGeometry,
            message: invalid.message,
            at: invalid.at.map(Geometry::MultiPoint),
            with: None,
            area_m2: None,
        }];
    }
    let mut problems = Vec::new();
    let others = || world.iter().filter(|p| p.id != place.id);
    match (place.kind.parent_kind(), place.parent_id) {
        (None, _) => {}
        (Some(want), None) => problems.push(parent_problem(format!(
            "a {} needs a parent {want}",
            place.kind
        ))),
        (Some(want), Some(parent_id)) => match others().find(|p| p.id == parent_id) {
            None => problems.push(parent_problem(format!(
                "the parent {parent_id} does not exist"
            ))),
            Some(parent) if parent.kind != want => problems.push(parent_problem(format!(
                "the parent {} is a {}, but a {}'s parent must be a {want}",
                parent.code, parent.kind, place.kind
            ))),
            Some(parent) => {
                if let Some((part, m2)) = place.geometry.outside_of(&parent.geometry) {
                    problems.push(Problem {
                        code: ProblemCode::OutsideParent,
                        message: format!(
                            "{:.2} m² of {} lie outside its parent {} {}",
                            m2, place.code, parent.kind, parent.code
                        ),
                        at: Some(Geometry::MultiPolygon(part)),
                        with: Some(Other::of(parent)),
                        area_m2: Some(m2),
                    });
                }
            }
        },
    }
    for sibling in others().filter(|p| p.kind == place.kind && p.parent_id == place.parent_id) {
        if let Some((part, m2)) = place.geometry.overlap_with(&sibling.geometry) {
            problems.push(Problem {
                code: ProblemCode::Overlap,
                message: format!(
                    "{} overlaps {} {} by {:.2} m²",
                    place.code, sibling.kind, sibling.code, m2
                ),
                at: Some(Geometry::MultiPolygon(part)),
                with: Some(Other::of(sibling)),
                area_m2: Some(m2),
            });
        }
    }
    for child in others().filter(|p| p.parent_id == Some(place.id)) {
        if let Some((part, m2)) = child.geometry.outside_of(&place.geometry) {
            problems.push(Problem {
                code: ProblemCode::ChildrenOutside,
                message: format!(
                    "{:.2} m² of its {} {} would lie outside {}",
                    m2, child.kind, child.code, place.code
                ),
                at: Some(Geometry::MultiPolygon(part)),
                with: Some(Other::of(child)),
                area_m2: Some(m2),
            });
        }
    }
    problems
}

fn parent_problem(message: String) -> Problem {
    Problem {
        code: ProblemCode::InvalidParent,
        message,
        at: None,
        with: None,
        area_m2: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PlaceKind;
    use crate::spatial::validity::crossings;
    use geo::{polygon, wkt};

    fn place(id: Id, kind: PlaceKind, parent_id: Option<Id>, x0: f64, size: f64) -> Place {
        Place {
            id,
            kind,
            code: format!("P{id}"),
            name: format!("place {id}"),
            parent_id,
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: 36.0), (x: x0 + size, y: 36.0),
                (x: x0 + size, y: 36.0 + size), (x: x0, y: 36.0 + size)
            ]]),
            version: 1,
        }
    }

    /// A street (100) holding a community (1) with two grids (2, 3) sharing an edge exactly.
    fn world() -> Vec<Place> {
        vec![
            place(100, PlaceKind::Street, Some(1000), 119.9, 0.5),
            place(1, PlaceKind::Community, Some(100), 120.0, 0.002),
            place(2, PlaceKind::Grid, Some(1), 120.0, 0.001),
            place(3, PlaceKind::Grid, Some(1), 120.001, 0.001),
        ]
    }

    #[test]
    fn neighbours_sharing_an_edge_validate_clean() {
        let world = world();
        for grid in &world[2..] {
            assert_eq!(check_place(grid, &world), vec![]);
        }
    }

    #[test]
    fn an_overlap_is_reported_with_where_and_whom() {
        let world = world();
        let wider = place(2, PlaceKind::Grid, Some(1), 120.0, 0.0015);
        let problems = check_place(&wider, &world);
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert_eq!(p.code, ProblemCode::Overlap);
        assert_eq!(p.with.as_ref().unwrap().id, 3);
        let area = p.area_m2.unwrap();
        // 0.0005° × 0.001° at 36°N: about 45 m × 111 m.
        assert!((area - 5_000.0).abs() < 100.0, "{area}");
        let Some(Geometry::MultiPolygon(shared)) = &p.at else {
            panic!("an overlap is a polygon: {:?}", p.at);
        };
        assert!((area_m2(shared) - area).abs() < 1e-6);
    }

    #[test]
    fn outside_parent_and_children_outside() {
        let world = world();
        let sticking_out = place(3, PlaceKind::Grid, Some(1), 120.001, 0.0015);
        let codes: Vec<ProblemCode> = check_place(&sticking_out, &world)
            .iter()
            .map(|p| p.code)
            .collect();
        assert_eq!(codes, [ProblemCode::OutsideParent]);

        let shrunk = place(1, PlaceKind::Community, Some(100), 120.0, 0.0015);
        let problems = check_place(&shrunk, &world);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].code, ProblemCode::ChildrenOutside);
        assert_eq!(problems[0].with.as_ref().unwrap().id, 3);
    }

    #[test]
    fn a_sliver_below_the_tolerance_does_not_count() {
        let world = world();
        // A corner pushed 1e-10° (about 0.01 mm) into the neighbour: a thin triangle of about
        // 0.0005 m², a drawing error no one could see.
        let mut grid = place(2, PlaceKind::Grid, Some(1), 120.0, 0.001);
        grid.geometry = wkt!(MULTIPOLYGON(((120.0 36.0, 120.0010000001 36.0, 120.0010000001 36.0001, 120.001 36.001, 120.0 36.001, 120.0 36.0))));
        assert_eq!(check_place(&grid, &world), vec![]);
    }

    /// The demo street's places share their edges exactly; every one must validate clean.
    #[test]
    fn the_demo_street_validates_clean() {
        use crate::geodata::{LayerData, parse_layer};
        let mut places: Vec<Place> = Vec::new();
        for (layer, text) in crate::demo::LAYERS {
            let Ok(LayerData::Places(layer_places)) = parse_layer(text, layer, None, || {}) else {
                continue;
            };
            for p in layer_places {
                let parent_id = p
                    .parent_code
                    .as_ref()
                    .map(|code| places.iter().find(|q| &q.code == code).expect("parent").id);
                places.push(Place {
                    id: places.len() as Id + 1,
                    kind: p.kind,
                    code: p.code,
                    name: p.name,
                    parent_id,
                    geometry: p.geometry,
                    version: 1,
                });
            }
        }
        assert!(places.len() > 40, "{}", places.len());
        for place in &places {
            assert_eq!(check_place(place, &places), vec![], "{}", place.code);
        }
    }

    #[test]
    fn a_missing_or_wrong_parent_is_a_problem() {
        let world = world();
        let orphan = place(4, PlaceKind::Grid, Some(99), 120.0, 0.001);
        assert_eq!(
            check_place(&orphan, &world)[0].code,
            ProblemCode::InvalidParent
        );
        let wrong = place(4, PlaceKind::Grid, Some(2), 120.0, 0.0005);
        assert_eq!(
            check_place(&wrong, &world)[0].code,
            ProblemCode::InvalidParent
        );
    }

    #[test]
    fn crossings_point_at_holes_through_their_shell_and_parts_overlapping() {
        let hole_out = wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.),
            (3. 1., 5. 1., 5. 3., 3. 3., 3. 1.))));
        let err = check_polygonal(&hole_out).unwrap_err();
        let at = err.at.expect("pointed at");
        assert_eq!(at, MultiPoint::from(vec![(4.0, 1.0), (4.0, 3.0)]));

        let parts = wkt!(MULTIPOLYGON(((0. 0., 2. 0., 2. 2., 0. 2., 0. 0.)),
            ((1. 1., 3. 1., 3. 3., 1. 3., 1. 1.))));
        let at = check_polygonal(&parts).unwrap_err().at.expect("pointed at");
        assert_eq!(at, MultiPoint::from(vec![(1.0, 2.0), (2.0, 1.0)]));
    }

    #[test]
    fn crossings_ignore_the_vertices_a_ring_passes_through_once() {
        // A concave ring with a repeated position: its segments meet only at their shared
        // vertices, including the closing one.
        let arrow = wkt!(MULTIPOLYGON(((0. 0., 2. 1., 2. 1., 4. 0., 2. 4., 0. 0.))));
        assert_eq!(crossings(&arrow), None);
        // A hole touching its shell at one vertex is valid (OGC) and is not reported either.
        let touching = wkt!(MULTIPOLYGON(((0. 0., 4. 0., 4. 4., 0. 4., 0. 0.),
            (0. 0., 2. 1., 1. 2., 0. 0.))));
        assert_eq!(check_polygonal(&touching), Ok(()));
    }

    #[test]
    fn accepts_a_plain_polygon() {
        let p = polygon![(x: 120.0, y: 36.0), (x: 120.01, y: 36.0), (x: 120.01, y: 36.01)];
        assert_eq!(check_polygonal(&MultiPolygon(vec![p])), Ok(()));
    }

    #[test]
    fn refuses_bowties_ranges_and_giants() {
        let bowtie =
            wkt!(POLYGON((120.0 36.0, 120.01 36.01, 120.01 36.0, 120.0 36.01, 120.0 36.0)));
        let err = check_polygonal(&MultiPolygon(vec![bowtie])).unwrap_err();
        assert!(err.message.contains("invalid polygon"), "{err}");
        assert!(err.message.contains("(at 120.0050000 36.0050000)"), "{err}");
        let at = err.at.expect("the crossing is pointed at");
        assert_eq!(at.0.len(), 1);
        assert!((at.0[0].x() - 120.005).abs() < 1e-9 && (at.0[0].y() - 36.005).abs() < 1e-9);

        let north_of_pole = polygon![(x: 120.0, y: 89.0), (x: 121.0, y: 91.0), (x: 121.0, y: 89.0)];
        let err = check_polygonal(&MultiPolygon(vec![north_of_pole])).unwrap_err();
        assert!(err.message.contains("latitude 91"), "{err}");

        let metres = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 50.0)];
        let err = check_polygonal(&MultiPolygon(vec![metres])).unwrap_err();
        assert!(err.message.contains("spans"), "{err}");

        let nan = polygon![(x: f64::NAN, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
        assert!(check_polygonal(&MultiPolygon(vec![nan])).is_err());
        assert!(check_polygonal(&MultiPolygon(vec![])).is_err());
    }
}
