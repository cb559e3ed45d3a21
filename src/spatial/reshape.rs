//! Splitting a polygon along a line and merging neighbours into one polygon.
//!
//! Both run on i_overlay, the engine under [`geo::BooleanOps`]: the cut is its `FloatSlice`
//! (a polygon sliced by a polyline), the merge geo's [`unary_union`]. Pieces smaller than
//! [`TOLERANCE_M2`] (slivers where a line runs along an edge) are not counted as pieces.

use super::validate::TOLERANCE_M2;
use geo::orient::{Direction, Orient};
use geo::{CoordsIter, GeodesicArea, LineString, MultiPolygon, Polygon, unary_union};
use i_overlay::core::fill_rule::FillRule;
use i_overlay::float::slice::FloatSlice;

/// Polygons larger than the tolerance, largest first, with their geodesic areas.
fn pieces(polygons: impl IntoIterator<Item = Polygon<f64>>) -> Vec<(Polygon<f64>, f64)> {
    let mut pieces: Vec<(Polygon<f64>, f64)> = polygons
        .into_iter()
        .map(|p| {
            let p = p.orient(Direction::Default);
            let area = p.geodesic_area_unsigned();
            (p, area)
        })
        .filter(|(_, area)| *area > TOLERANCE_M2)
        .collect();
    pieces.sort_by(|a, b| b.1.total_cmp(&a.1));
    pieces
}

/// i_overlay's contours are implicitly closed: the closing position is left out.
fn contour(ring: &LineString<f64>) -> Vec<[f64; 2]> {
    let n = ring.0.len().saturating_sub(1);
    ring.0[..n].iter().map(|c| [c.x, c.y]).collect()
}

fn ring(contour: Vec<[f64; 2]>) -> LineString<f64> {
    // LineString::from closes nothing, Polygon::new closes the ring.
    contour.into_iter().map(|[x, y]| (x, y)).collect()
}

/// Cuts `shape` along `line` into exactly two pieces: `(larger, smaller)`.
///
/// The line must cross the polygon from outside to outside (or from boundary to boundary) so
/// that it separates it; a line that does not cut, or cuts into three or more pieces, is an
/// error. So is a shape of several polygons: which side its other parts would join is not for
/// a line to say.
///
/// ```
/// use geo::{wkt, GeodesicArea};
/// use wangge::spatial::reshape::split_by_line;
/// let square = wkt!(MULTIPOLYGON(((120.0 36.0, 120.002 36.0, 120.002 36.002, 120.0 36.002, 120.0 36.0))));
/// let line = wkt!(LINESTRING(120.0005 35.999, 120.0005 36.003));
/// let (larger, smaller) = split_by_line(&square, &line).unwrap();
/// assert!(larger.geodesic_area_unsigned() > 2.5 * smaller.geodesic_area_unsigned());
/// // A line that misses the polygon does not split it.
/// assert!(split_by_line(&square, &wkt!(LINESTRING(121.0 36.0, 121.0 37.0))).is_err());
/// // Two polygons are two pieces already; a line that misses both does not split them either.
/// let two = wkt!(MULTIPOLYGON(((120.0 36.0, 120.001 36.0, 120.001 36.001, 120.0 36.0)),
///     ((120.01 36.0, 120.011 36.0, 120.011 36.001, 120.01 36.0))));
/// assert!(split_by_line(&two, &wkt!(LINESTRING(121.0 36.0, 121.0 37.0))).is_err());
/// ```
pub fn split_by_line(
    shape: &MultiPolygon<f64>,
    line: &LineString<f64>,
) -> Result<(Polygon<f64>, Polygon<f64>), String> {
    if line.0.len() < 2 {
        return Err("the line needs at least two positions".into());
    }
    let [polygon] = shape.0.as_slice() else {
        return Err(format!(
            "the place is {} polygons; a split cuts one polygon in two (edit or merge its parts \
             first)",
            shape.0.len()
        ));
    };
    let shapes: Vec<Vec<Vec<[f64; 2]>>> = vec![
        std::iter::once(polygon.exterior())
            .chain(polygon.interiors())
            .map(contour)
            .collect(),
    ];
    let path: Vec<[f64; 2]> = line.coords_iter().map(|c| [c.x, c.y]).collect();
    let sliced = shapes.slice_by(&path, FillRule::EvenOdd);
    let polygons = sliced.into_iter().filter_map(|mut contours| {
        if contours.is_empty() {
            return None;
        }
        let exterior = ring(contours.remove(0));
        Some(Polygon::new(
            exterior,
            contours.into_iter().map(ring).collect(),
        ))
    });
    let mut found = pieces(polygons);
    match found.len() {
        2 => {
            let (smaller, _) = found.pop().expect("two pieces");
            let (larger, _) = found.pop().expect("two pieces");
            Ok((larger, smaller))
        }
        1 => Err(
            "the line does not cut the polygon in two: draw it across, from outside to outside"
                .into(),
        ),
        n => Err(format!(
            "the line cuts the polygon into {n} pieces; a split makes exactly two"
        )),
    }
}

/// Unites neighbouring polygons into one connected polygon.
///
/// ```
/// use geo::wkt;
/// use wangge::spatial::reshape::merge;
/// let a = wkt!(MULTIPOLYGON(((120.0 36.0, 120.001 36.0, 120.001 36.001, 120.0 36.001, 120.0 36.0))));
/// let b = wkt!(MULTIPOLYGON(((120.001 36.0, 120.002 36.0, 120.002 36.001, 120.001 36.001, 120.001 36.0))));
/// assert_eq!(merge(&[&a, &b]).unwrap().0.len(), 1);
/// let far = wkt!(MULTIPOLYGON(((120.01 36.0, 120.011 36.0, 120.011 36.001, 120.01 36.001, 120.01 36.0))));
/// assert!(merge(&[&a, &far]).is_err());
/// ```
pub fn merge(parts: &[&MultiPolygon<f64>]) -> Result<MultiPolygon<f64>, String> {
    let united = unary_union(parts.iter().flat_map(|m| m.0.iter()));
    let mut found = pieces(united);
    match found.len() {
        1 => Ok(MultiPolygon(vec![found.remove(0).0])),
        0 => Err("the merged polygon is empty".into()),
        n => Err(format!(
            "the places do not form one connected polygon (they make {n} separate parts); \
             merge only neighbours"
        )),
    }
}
