//! How much geometry one request may make the server work on.
//!
//! Validation and reshaping cost time that grows with the vertices involved, so they are counted
//! before any of that work starts: a feature with more than [`GeometryLimits::feature_vertices`]
//! is refused with 422 `too_many_vertices` (it is too detailed to be a grid: the largest real
//! county boundary of China has about 12,000 vertices), and a request whose geometries add up
//! to more than [`GeometryLimits::request_vertices`] (a merge of many places, say) with 413
//! `too_many_vertices`.

use super::error::ApiError;
use geojson::GeometryValue;

/// Vertex caps, from `--max-feature-vertices` and `--max-request-vertices`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeometryLimits {
    /// The most positions one feature (or a split line) may have.
    pub feature_vertices: usize,
    /// The most positions the geometries one request works on may have together.
    pub request_vertices: usize,
}

impl Default for GeometryLimits {
    fn default() -> Self {
        GeometryLimits {
            feature_vertices: 20_000,
            request_vertices: 50_000,
        }
    }
}

impl GeometryLimits {
    /// Checks the vertices of each geometry of a request (`counts`), the total first.
    ///
    /// ```
    /// use wangge::http::limits::GeometryLimits;
    /// let limits = GeometryLimits { feature_vertices: 10, request_vertices: 15 };
    /// assert!(limits.check(&[10, 5]).is_ok());
    /// assert!(limits.check(&[11]).is_err()); // 422: one feature too detailed
    /// assert!(limits.check(&[8, 8]).is_err()); // 413: too much at once
    /// ```
    pub fn check(&self, counts: &[usize]) -> Result<(), ApiError> {
        self.check_request(counts.iter().sum())?;
        if let Some(n) = counts.iter().find(|n| **n > self.feature_vertices) {
            return Err(ApiError::unprocessable(
                "too_many_vertices",
                format!(
                    "a geometry has {n} vertices; at most {} are accepted per feature \
                     (simplify it first)",
                    self.feature_vertices
                ),
            ));
        }
        Ok(())
    }

    /// Checks only the total of a request's geometries, for work on stored places (a merge).
    pub fn check_request(&self, total: usize) -> Result<(), ApiError> {
        if total > self.request_vertices {
            return Err(ApiError::TooLarge {
                code: "too_many_vertices",
                message: format!(
                    "the geometries of this request have {total} vertices; one request may work \
                     on at most {}",
                    self.request_vertices
                ),
            });
        }
        Ok(())
    }
}

/// The number of positions in a GeoJSON geometry, counted before it is converted.
pub fn vertices(geometry: &GeometryValue) -> usize {
    match geometry {
        GeometryValue::Point { .. } => 1,
        GeometryValue::MultiPoint { coordinates } | GeometryValue::LineString { coordinates } => {
            coordinates.len()
        }
        GeometryValue::MultiLineString { coordinates } | GeometryValue::Polygon { coordinates } => {
            coordinates.iter().map(Vec::len).sum()
        }
        GeometryValue::MultiPolygon { coordinates } => coordinates
            .iter()
            .flat_map(|polygon| polygon.iter().map(Vec::len))
            .sum(),
        GeometryValue::GeometryCollection { geometries } => {
            geometries.iter().map(|g| vertices(&g.value)).sum()
        }
    }
}
