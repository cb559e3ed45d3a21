//! Rules a polygon must pass before it is stored.
//!
//! Structural checks on the raw GeoJSON (closed rings, enough positions) happen while parsing in
//! [`crate::geodata`], because converting to `geo` types closes rings silently. What is checked
//! here holds for any polygon, however it arrived: finite WGS84 coordinates in range, OGC
//! validity (no self-intersection, holes inside their shell, …) and a sane size.

use geo::{BoundingRect, CoordsIter, MultiPolygon, Point, Validation};

/// No place or building managed here spans more than this many degrees; anything larger is a
/// unit or axis-order mistake (metres read as degrees, lat/lon swapped), not a grid.
pub const MAX_EXTENT_DEGREES: f64 = 5.0;

/// Checks that a WGS84 longitude/latitude pair is finite and in range.
pub fn check_lon_lat(lon: f64, lat: f64) -> Result<(), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err(format!("coordinate ({lon}, {lat}) is not a finite number"));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(format!("longitude {lon} is outside -180..180"));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(format!("latitude {lat} is outside -90..90"));
    }
    Ok(())
}

/// Checks a WGS84 point.
pub fn check_point(p: &Point<f64>) -> Result<(), String> {
    check_lon_lat(p.x(), p.y())
}

/// Checks a WGS84 (multi)polygon: coordinates, OGC validity and size.
pub fn check_polygonal(geometry: &MultiPolygon<f64>) -> Result<(), String> {
    if geometry.0.is_empty() {
        return Err("the geometry is empty".into());
    }
    for c in geometry.coords_iter() {
        check_lon_lat(c.x, c.y)?;
    }
    if let Some(problem) = geometry.validation_errors().into_iter().next() {
        return Err(format!("invalid polygon: {problem}"));
    }
    let bbox = geometry.bounding_rect().expect("non-empty");
    if bbox.width() > MAX_EXTENT_DEGREES || bbox.height() > MAX_EXTENT_DEGREES {
        return Err(format!(
            "the polygon spans {:.3}° × {:.3}°, more than the {MAX_EXTENT_DEGREES}° a district can; \
             are the coordinates in another CRS or in lat/lon order?",
            bbox.width(),
            bbox.height()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{polygon, wkt};

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
        assert!(err.contains("invalid polygon"), "{err}");

        let north_of_pole = polygon![(x: 120.0, y: 89.0), (x: 121.0, y: 91.0), (x: 121.0, y: 89.0)];
        let err = check_polygonal(&MultiPolygon(vec![north_of_pole])).unwrap_err();
        assert!(err.contains("latitude 91"), "{err}");

        let metres = polygon![(x: 0.0, y: 0.0), (x: 100.0, y: 0.0), (x: 100.0, y: 50.0)];
        let err = check_polygonal(&MultiPolygon(vec![metres])).unwrap_err();
        assert!(err.contains("spans"), "{err}");

        let nan = polygon![(x: f64::NAN, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
        assert!(check_polygonal(&MultiPolygon(vec![nan])).is_err());
        assert!(check_polygonal(&MultiPolygon(vec![])).is_err());
    }
}
