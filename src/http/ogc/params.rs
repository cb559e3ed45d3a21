//! The query parameters of the OGC API and content negotiation. Every problem is a 400 that names
//! the parameter and says what would be accepted.

use super::super::error::ApiError;
use crate::spatial::crs::{Crs, CrsError};
use geo::{Coord, Rect};

/// Largest `limit` a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// `limit` when the client gives none.
pub const DEFAULT_LIMIT: usize = 10;

/// The query parameters of one request, checked against those the resource takes.
#[derive(Debug)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Rejects a parameter the resource does not take (OGC API Features Part 1,
    /// `/req/core/query-param-unknown`) and a parameter given twice.
    pub fn new(pairs: Vec<(String, String)>, allowed: &[&str]) -> Result<Self, ApiError> {
        for (i, (name, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(
                    "unknown_parameter",
                    format!(
                        "unknown query parameter {name:?}; this resource takes: {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if pairs[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(ApiError::bad_request(
                    "duplicate_parameter",
                    format!("the query parameter {name:?} is given more than once"),
                ));
            }
        }
        Ok(Params { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter that, when present, must not be empty.
    pub fn non_empty(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.get(name) {
            Some(v) if v.trim().is_empty() => Err(ApiError::bad_request(
                "invalid_parameter",
                format!("the query parameter {name} is empty"),
            )),
            other => Ok(other.map(str::trim)),
        }
    }

    /// `limit`: a whole number in 1..=[`MAX_LIMIT`], default [`DEFAULT_LIMIT`].
    pub fn limit(&self) -> Result<usize, ApiError> {
        let Some(raw) = self.get("limit") else {
            return Ok(DEFAULT_LIMIT);
        };
        match raw.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit must be a whole number from 1 to {MAX_LIMIT}, got {raw:?}"),
            )),
        }
    }

    /// `offset`: how many matching features to skip, a whole number from 0, default 0.
    pub fn offset(&self) -> Result<usize, ApiError> {
        let Some(raw) = self.get("offset") else {
            return Ok(0);
        };
        raw.trim().parse::<usize>().map_err(|_| {
            ApiError::bad_request(
                "invalid_offset",
                format!("offset must be a whole number from 0, got {raw:?}"),
            )
        })
    }

    /// `crs` or `bbox-crs`, default CRS84.
    pub fn crs(&self, name: &str) -> Result<OgcCrs, ApiError> {
        match self.get(name) {
            None => Ok(OgcCrs::Crs84),
            Some(raw) => OgcCrs::parse(raw).map_err(|e| e.at(name)),
        }
    }

    /// `bbox`: four numbers, in `bbox-crs` (default CRS84) and its axis order. A bad `bbox-crs`
    /// is an error even without a `bbox`.
    pub fn bbox(&self) -> Result<Option<BboxFilter>, ApiError> {
        let crs = self.crs("bbox-crs")?;
        let Some(raw) = self.get("bbox") else {
            return Ok(None);
        };
        let invalid = |why: String| ApiError::bad_request("invalid_bbox", format!("bbox: {why}"));
        let numbers = raw
            .split(',')
            .map(|part| {
                part.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .ok_or_else(|| invalid(format!("{part:?} is not a finite number")))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        let values: [f64; 4] = match numbers.len() {
            4 => [numbers[0], numbers[1], numbers[2], numbers[3]],
            6 => {
                return Err(invalid(
                    "a bbox with heights (6 numbers) is not supported: the data are 2D; \
                     give 4 numbers: lower corner, upper corner"
                        .into(),
                ));
            }
            n => {
                return Err(invalid(format!(
                    "expected 4 comma-separated numbers (lower corner, upper corner), got {n}"
                )));
            }
        };
        BboxFilter::new(values, crs).map(Some)
    }
}

/// The formats of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/json`.
    Json,
    /// `application/geo+json`, for features only.
    GeoJson,
}

impl Format {
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::GeoJson => "application/geo+json",
        }
    }

    /// The value of `f` that asks for this format.
    pub fn f(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::GeoJson => "geojson",
        }
    }

    /// The other format of a feature resource.
    pub fn other(self) -> Format {
        match self {
            Format::Json => Format::GeoJson,
            Format::GeoJson => Format::Json,
        }
    }

    fn from_f(raw: &str) -> Option<Format> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "geojson" => Some(Format::GeoJson),
            _ => None,
        }
    }
}

/// The format of a feature resource: `f` if given, else the `Accept` header, else GeoJSON.
///
/// `f=geojson` (and `Accept: application/geo+json`) gives `application/geo+json`, `f=json` (and
/// an `Accept` that prefers `application/json`) the same document as `application/json`. An
/// `Accept` that names neither is disregarded and GeoJSON is sent (RFC 9110 allows that).
pub fn feature_format(params: &Params, accept: Option<&str>) -> Result<Format, ApiError> {
    if let Some(raw) = params.get("f") {
        return Format::from_f(raw).ok_or_else(|| {
            ApiError::bad_request(
                "unsupported_format",
                format!("f={raw:?} is not offered; features come as f=geojson or f=json"),
            )
        });
    }
    let offered = [Format::GeoJson, Format::Json];
    let best = accept.and_then(|accept| {
        let media: Vec<&str> = offered.iter().map(|f| f.media_type()).collect();
        negotiate(accept, &media)
    });
    Ok(best.map_or(Format::GeoJson, |i| offered[i]))
}

/// Checks `f` of a resource that only comes as JSON.
pub fn json_only(params: &Params) -> Result<(), ApiError> {
    match params.get("f") {
        None => Ok(()),
        Some(raw) if Format::from_f(raw) == Some(Format::Json) => Ok(()),
        Some(raw) => Err(ApiError::bad_request(
            "unsupported_format",
            format!("f={raw:?} is not offered; this resource comes as f=json only"),
        )),
    }
}

/// The index in `offered` that the `Accept` header prefers (highest q above 0, ties to the
/// earlier), or `None` when it accepts none of them.
fn negotiate(accept: &str, offered: &[&str]) -> Option<usize> {
    // (type, subtype, q) of each media range.
    let ranges: Vec<(String, String, f32)> = accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';');
            let media = parts.next()?.trim().to_ascii_lowercase();
            let (kind, sub) = media.split_once('/')?;
            let q = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, v)| v.trim().parse::<f32>().unwrap_or(0.0));
            Some((kind.trim().to_string(), sub.trim().to_string(), q))
        })
        .collect();
    let quality = |media: &str| -> f32 {
        let (kind, sub) = media.split_once('/').expect("a media type");
        // The most specific range that matches decides.
        let mut best: Option<(u8, f32)> = None;
        for (k, s, q) in &ranges {
            let specificity = match (k.as_str(), s.as_str()) {
                (k, s) if k == kind && s == sub => 3,
                (k, "*") if k == kind => 2,
                ("*", "*") => 1,
                _ => continue,
            };
            if best.is_none_or(|(b, _)| specificity > b) {
                best = Some((specificity, *q));
            }
        }
        best.map_or(0.0, |(_, q)| q)
    };
    let mut chosen: Option<(usize, f32)> = None;
    for (i, media) in offered.iter().enumerate() {
        let q = quality(media);
        if q > 0.0 && chosen.is_none_or(|(_, best)| q > best) {
            chosen = Some((i, q));
        }
    }
    chosen.map(|(i, _)| i)
}

/// A CRS this API serves features in and takes bboxes in (OGC API Features Part 2).
///
/// **Axis order follows the CRS definition**, as Part 2 requires: CRS84 is (longitude,
/// latitude), EPSG:4326 and EPSG:4490 are (latitude, longitude), EPSG:4549 is (northing,
/// easting) and EPSG:3857 is (easting, northing). This is unlike the rest of wangge's API, which
/// always puts longitude or easting first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OgcCrs {
    Crs84,
    Epsg4490,
    Epsg4549,
    Epsg3857,
    Epsg4326,
}

impl OgcCrs {
    /// Every CRS offered, the storage CRS (CRS84) first.
    pub const ALL: [OgcCrs; 5] = [
        OgcCrs::Crs84,
        OgcCrs::Epsg4490,
        OgcCrs::Epsg4549,
        OgcCrs::Epsg3857,
        OgcCrs::Epsg4326,
    ];

    pub fn uri(self) -> &'static str {
        match self {
            OgcCrs::Crs84 => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            OgcCrs::Epsg4490 => "http://www.opengis.net/def/crs/EPSG/0/4490",
            OgcCrs::Epsg4549 => "http://www.opengis.net/def/crs/EPSG/0/4549",
            OgcCrs::Epsg3857 => "http://www.opengis.net/def/crs/EPSG/0/3857",
            OgcCrs::Epsg4326 => "http://www.opengis.net/def/crs/EPSG/0/4326",
        }
    }

    /// The CRS of `crate::spatial::crs` that converts to and from it, in (x = longitude or
    /// easting, y = latitude or northing) order.
    pub fn crs(self) -> Crs {
        match self {
            OgcCrs::Crs84 | OgcCrs::Epsg4326 => Crs::Wgs84,
            OgcCrs::Epsg4490 => Crs::Cgcs2000,
            OgcCrs::Epsg4549 => Crs::Epsg(4549),
            OgcCrs::Epsg3857 => Crs::Epsg(3857),
        }
    }

    /// Whether the CRS definition puts latitude or northing first, so that coordinates leave
    /// (and bboxes arrive) as (y, x).
    pub fn northing_first(self) -> bool {
        matches!(self, OgcCrs::Epsg4326 | OgcCrs::Epsg4490 | OgcCrs::Epsg4549)
    }

    pub fn is_geographic(self) -> bool {
        matches!(self, OgcCrs::Crs84 | OgcCrs::Epsg4326 | OgcCrs::Epsg4490)
    }

    /// Reads a CRS as a client names it: the OGC URI (as listed in a collection's `crs`), the
    /// URN `urn:ogc:def:crs:EPSG::4549`, the safe CURIE `[EPSG:4549]` or `EPSG:4549`. Whatever
    /// the spelling, the axis order is the CRS's own (see the type's docs).
    pub fn parse(raw: &str) -> Result<OgcCrs, ApiError> {
        let trimmed = raw.trim();
        let unwrapped = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        let offered = || {
            OgcCrs::ALL
                .iter()
                .map(|c| c.uri())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let crs = Crs::parse(unwrapped).map_err(|_: CrsError| {
            ApiError::bad_request(
                "unknown_crs",
                format!("unknown CRS {raw:?}; this API serves: {}", offered()),
            )
        })?;
        let lower = unwrapped.to_ascii_lowercase();
        match crs {
            Crs::Wgs84 if lower.contains("crs84") || lower == "wgs84" => Ok(OgcCrs::Crs84),
            Crs::Wgs84 => Ok(OgcCrs::Epsg4326),
            Crs::Cgcs2000 => Ok(OgcCrs::Epsg4490),
            Crs::Epsg(4549) => Ok(OgcCrs::Epsg4549),
            Crs::Epsg(3857) => Ok(OgcCrs::Epsg3857),
            _ => Err(ApiError::bad_request(
                "unsupported_crs",
                format!(
                    "the CRS {raw:?} is not offered by this API; it serves: {}",
                    offered()
                ),
            )),
        }
    }
}

/// Puts a coordinate from the CRS's axis order into (x, y) = (longitude or easting, latitude or
/// northing), or back: the swap is its own inverse.
pub fn axis_order(crs: OgcCrs, a: f64, b: f64) -> (f64, f64) {
    if crs.northing_first() { (b, a) } else { (a, b) }
}

/// A `bbox` filter: which features it selects is decided exactly, on the geometries.
#[derive(Debug, Clone)]
pub struct BboxFilter {
    crs: OgcCrs,
    /// The box in `crs`, (x, y) order; for a geographic box over the antimeridian, two boxes.
    boxes: Vec<Rect<f64>>,
    /// A WGS84 rectangle holding the whole box, to skip far features cheaply.
    envelope: Rect<f64>,
}

impl BboxFilter {
    /// `values` are lower corner then upper corner, in `crs`'s axis order.
    pub fn new(values: [f64; 4], crs: OgcCrs) -> Result<BboxFilter, ApiError> {
        let invalid = |why: String| ApiError::bad_request("invalid_bbox", format!("bbox: {why}"));
        let (x1, y1) = axis_order(crs, values[0], values[1]);
        let (x2, y2) = axis_order(crs, values[2], values[3]);
        let (y_name, x_name) = if crs.is_geographic() {
            ("latitude", "longitude")
        } else {
            ("northing", "easting")
        };
        if y1 > y2 {
            return Err(invalid(format!(
                "the lower corner's {y_name} {y1} is above the upper corner's {y2}"
            )));
        }
        if crs.is_geographic() {
            for (value, name, max) in [(x1, x_name, 180.0), (x2, x_name, 180.0)]
                .into_iter()
                .chain([(y1, y_name, 90.0), (y2, y_name, 90.0)])
            {
                if value.abs() > max {
                    return Err(invalid(format!(
                        "{name} {value} is out of range (-{max}..={max})"
                    )));
                }
            }
            // A lower-left longitude east of the upper-right one crosses the antimeridian.
            let boxes = if x1 > x2 {
                vec![
                    Rect::new(Coord { x: x1, y: y1 }, Coord { x: 180.0, y: y2 }),
                    Rect::new(Coord { x: -180.0, y: y1 }, Coord { x: x2, y: y2 }),
                ]
            } else {
                vec![Rect::new(Coord { x: x1, y: y1 }, Coord { x: x2, y: y2 })]
            };
            let envelope = if x1 > x2 {
                Rect::new(Coord { x: -180.0, y: y1 }, Coord { x: 180.0, y: y2 })
            } else {
                boxes[0]
            };
            return Ok(BboxFilter {
                crs,
                boxes,
                envelope,
            });
        }
        if x1 > x2 {
            return Err(invalid(format!(
                "the lower corner's {x_name} {x1} is east of the upper corner's {x2}"
            )));
        }
        let rect = Rect::new(Coord { x: x1, y: y1 }, Coord { x: x2, y: y2 });
        let envelope = wgs84_envelope(crs.crs(), rect).map_err(|e| {
            invalid(format!(
                "the box cannot be converted from {} to WGS84: {e}",
                crs.uri()
            ))
        })?;
        Ok(BboxFilter {
            crs,
            boxes: vec![rect],
            envelope,
        })
    }

    /// Whether a geometry (WGS84) whose bounding rectangle is `bounds` meets the box.
    pub fn selects(
        &self,
        geometry: &geo::MultiPolygon<f64>,
        bounds: Rect<f64>,
    ) -> Result<bool, CrsError> {
        use geo::Intersects;
        if !self.envelope.intersects(&bounds) {
            return Ok(false);
        }
        if self.crs.is_geographic() {
            // CRS84, EPSG:4326 and EPSG:4490 share the WGS84 coordinates of the store.
            return Ok(self.boxes.iter().any(|b| b.intersects(geometry)));
        }
        // Decide in the box's own CRS, where the box is a rectangle.
        let there = self
            .crs
            .crs()
            .geometry_from_wgs84(&geo::Geometry::MultiPolygon(geometry.clone()))?;
        Ok(self.boxes.iter().any(|b| b.intersects(&there)))
    }
}

/// A WGS84 rectangle that holds a projected box: its densified outline converted, grown by 1% so
/// that edges curving between the sampled points stay inside.
fn wgs84_envelope(crs: Crs, rect: Rect<f64>) -> Result<Rect<f64>, CrsError> {
    const STEPS: usize = 32;
    let (min, max) = (rect.min(), rect.max());
    let mut lon = (f64::INFINITY, f64::NEG_INFINITY);
    let mut lat = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..=STEPS {
        let t = i as f64 / STEPS as f64;
        let x = min.x + (max.x - min.x) * t;
        let y = min.y + (max.y - min.y) * t;
        for (px, py) in [(x, min.y), (x, max.y), (min.x, y), (max.x, y)] {
            let (lo, la) = crs.to_wgs84(px, py)?;
            lon = (lon.0.min(lo), lon.1.max(lo));
            lat = (lat.0.min(la), lat.1.max(la));
        }
    }
    let grow_lon = (lon.1 - lon.0) * 0.01 + 1e-7;
    let grow_lat = (lat.1 - lat.0) * 0.01 + 1e-7;
    Ok(Rect::new(
        Coord {
            x: lon.0 - grow_lon,
            y: lat.0 - grow_lat,
        },
        Coord {
            x: lon.1 + grow_lon,
            y: lat.1 + grow_lat,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params {
            pairs: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_rejected() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(Params::new(pairs(&[("f", "json")]), &["f"]).is_ok());
        let e = Params::new(pairs(&[("foo", "1")]), &["f", "limit"]).unwrap_err();
        assert!(e.to_string().contains("\"foo\"") && e.to_string().contains("limit"));
        let e = Params::new(pairs(&[("f", "json"), ("f", "json")]), &["f"]).unwrap_err();
        assert!(e.to_string().contains("more than once"));
    }

    #[test]
    fn limit_and_offset() {
        assert_eq!(params(&[]).limit().unwrap(), DEFAULT_LIMIT);
        assert_eq!(params(&[("limit", "10000")]).limit().unwrap(), 10_000);
        for bad in ["0", "10001", "-1", "1.5", "ten", ""] {
            assert!(params(&[("limit", bad)]).limit().is_err(), "{bad}");
        }
        assert_eq!(params(&[("offset", "7")]).offset().unwrap(), 7);
        assert!(params(&[("offset", "-7")]).offset().is_err());
    }

    #[test]
    fn crs_spellings_and_axis_order() {
        for (raw, crs) in [
            (
                "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
                OgcCrs::Crs84,
            ),
            ("urn:ogc:def:crs:OGC:1.3:CRS84", OgcCrs::Crs84),
            (
                "http://www.opengis.net/def/crs/EPSG/0/4326",
                OgcCrs::Epsg4326,
            ),
            ("EPSG:4326", OgcCrs::Epsg4326),
            ("[EPSG:4549]", OgcCrs::Epsg4549),
            ("urn:ogc:def:crs:EPSG::4490", OgcCrs::Epsg4490),
            (
                "http://www.opengis.net/def/crs/EPSG/0/3857",
                OgcCrs::Epsg3857,
            ),
        ] {
            assert_eq!(OgcCrs::parse(raw).unwrap(), crs, "{raw}");
        }
        for crs in OgcCrs::ALL {
            assert_eq!(OgcCrs::parse(crs.uri()).unwrap(), crs);
        }
        for bad in ["gcj02", "EPSG:4528", "EPSG:99999", "nonsense", ""] {
            assert!(OgcCrs::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(axis_order(OgcCrs::Epsg4326, 36.0, 120.0), (120.0, 36.0));
        assert_eq!(axis_order(OgcCrs::Crs84, 120.0, 36.0), (120.0, 36.0));
    }

    #[test]
    fn bboxes() {
        let b = |raw: &str| params(&[("bbox", raw)]).bbox();
        assert!(b("120.3,36.0,120.4,36.1").unwrap().is_some());
        for bad in [
            "120.3,36.0,120.4",
            "120.3,36.0,120.4,36.1,5",
            "120.3,36.0,0,120.4,36.1,10",
            "a,b,c,d",
            "120.3,36.1,120.4,36.0",
            "120.3,95,120.4,96",
            "NaN,36.0,120.4,36.1",
            "",
        ] {
            assert!(b(bad).is_err(), "{bad}");
        }
        // Over the antimeridian.
        assert!(b("170,36.0,-170,36.1").unwrap().is_some());
        // Lat/lon order for EPSG:4326.
        let p = params(&[
            ("bbox", "36.0,120.3,36.1,120.4"),
            ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326"),
        ]);
        assert!(p.bbox().is_ok());
        let p = params(&[
            ("bbox", "120.3,36.0,120.4,36.1"),
            ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/4326"),
        ]);
        assert!(p.bbox().is_err(), "latitude 120.3");
    }

    #[test]
    fn accept_header_negotiation() {
        let f = |accept: Option<&str>| feature_format(&params(&[]), accept).unwrap();
        assert_eq!(f(None), Format::GeoJson);
        assert_eq!(f(Some("application/json")), Format::Json);
        assert_eq!(f(Some("application/geo+json")), Format::GeoJson);
        assert_eq!(
            f(Some("application/geo+json, application/json")),
            Format::GeoJson
        );
        assert_eq!(
            f(Some("application/geo+json;q=0.5, application/json")),
            Format::Json
        );
        assert_eq!(f(Some("text/html,*/*;q=0.8")), Format::GeoJson);
        assert_eq!(f(Some("text/html")), Format::GeoJson);
        assert_eq!(
            feature_format(&params(&[("f", "json")]), Some("application/geo+json")).unwrap(),
            Format::Json
        );
        assert!(feature_format(&params(&[("f", "html")]), None).is_err());
    }
}
