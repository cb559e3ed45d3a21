//! Coordinate reference systems (CRSs) a client may send or ask for.
//!
//! Everything inside wangge is stored and indexed in **WGS84 longitude/latitude**.
//! This module converts between WGS84 and the other systems clients use:
//!
//! | [`Crs`] | What it is | How it is converted |
//! |---|---|---|
//! | [`Crs::Wgs84`] | WGS 84 (EPSG:4326, OGC CRS84), GPS coordinates. The default. | identity |
//! | [`Crs::Cgcs2000`] | China Geodetic Coordinate System 2000 (EPSG:4490), the national datum. | identity (see below) |
//! | [`Crs::Gcj02`] | GCJ-02, the obfuscated "Mars coordinates" required for maps published in China (Amap/Gaode, Tencent, Apple Maps in China). | hand-written formula |
//! | [`Crs::Bd09`] | BD-09, Baidu Maps' coordinates: a further offset on top of GCJ-02. | hand-written formula |
//! | [`Crs::Epsg`] | any 2D geographic or projected CRS known to PROJ, e.g. **EPSG:4549** (CGCS2000 / 3-degree Gauss-Kruger CM 120E), the grid used by Qingdao survey files, or EPSG:4528 (the same with the zone number 40 prefixed to the easting). | PROJ |
//!
//! # CGCS2000 is treated as WGS84
//!
//! CGCS2000 and WGS84 (in its current realisations) agree within a few centimetres, far below
//! the accuracy of anything this service handles. PROJ itself uses a null transformation
//! between EPSG:4490 and EPSG:4326, so CGCS2000 longitude/latitude pass through unchanged, and
//! CGCS2000-based projected CRSs (EPSG:4549, EPSG:4528, ...) are converted by PROJ with that
//! same null datum shift.
//!
//! # GCJ-02 and BD-09
//!
//! GCJ-02 adds a deterministic, position-dependent offset (a few hundred metres) to WGS84
//! longitude/latitude, computed on the Krasovsky ellipsoid (a = 6378245 m,
//! e² = 0.00669342162296594323). BD-09 adds Baidu's offset (a small rotation and shift in
//! degree space) on top of GCJ-02. Neither is in PROJ, so they are written here by hand; the
//! forward conversions agree with the common open-source implementations (gcoord,
//! coordtransform, prcoords, coord-convert) to 1e-9 degrees.
//!
//! There is no closed-form inverse. [`gcj02_to_wgs84`] and [`bd09_to_gcj02`] invert the forward
//! formulas iteratively (fixed-point iteration until the forward image of the estimate is within
//! 1e-9 degrees of the input, at most a bounded number of steps), so that
//! WGS84 → GCJ-02 → WGS84 and BD-09 → GCJ-02 → BD-09 round-trip within a millimetre.
//! The one-step inverses found in many libraries are off by 0.4 to 1.3 m (GCJ-02, at the
//! reference points in Qingdao) and up to 0.25 m (BD-09, over the China box).
//!
//! ## Outside China
//!
//! The GCJ-02 offset only applies inside the "China box"
//! **longitude 72.004 to 137.8347 E, latitude 0.8293 to 55.8271 N** (edges included; see
//! [`in_china`]). It is a rectangle, so it also covers neighbouring countries and seas; that is
//! what the majority of implementations do. The rule follows the majority of the reference
//! libraries at a point in Tokyo (gcoord, coordtransform, prcoords and coord-convert agree on
//! it for the forward conversions; eviltransform applies no BD-09 offset outside China, and
//! prcoords' iterative GCJ-02 inverse ignores the box):
//!
//! - **GCJ-02 is the identity outside the China box** (both directions).
//! - **BD-09 is Baidu's offset of GCJ-02 everywhere.** So outside the box, BD-09 is Baidu's
//!   offset applied directly to WGS84.
//!
//! The box test uses the coordinate being converted: the WGS84 point for WGS84 → GCJ-02 and
//! the GCJ-02 point for GCJ-02 → WGS84. (Points within a few hundred metres of the box edge
//! could in principle disagree between the two directions; the edges lie in the sea or
//! outside China's land border.)
//!
//! # Axis order
//!
//! In this API **x always comes first and is longitude or easting; y is latitude or
//! northing**, whatever the official EPSG axis order is. EPSG:4326 and EPSG:4490 officially
//! list latitude first and EPSG:4549 lists northing first; wangge ignores that and always uses
//! (lon, lat) / (easting, northing), as GeoJSON does. This holds for geographic EPSG codes too
//! (e.g. EPSG:4214 takes (lon, lat)). PROJ's "normalised for visualisation" order is used to
//! get there.
//!
//! # Example
//!
//! ```
//! use wangge::spatial::crs::Crs;
//!
//! // A point in Qingdao (WGS84 lon/lat) in the Qingdao survey grid, easting first.
//! let survey: Crs = "EPSG:4549".parse()?;
//! let (easting, northing) = survey.from_wgs84(120.3826, 36.0671)?;
//! assert!((easting - 534_467.459).abs() < 0.01);
//! assert!((northing - 3_993_055.813).abs() < 0.01);
//! let (lon, lat) = survey.to_wgs84(easting, northing)?;
//! assert!((lon - 120.3826).abs() < 1e-9 && (lat - 36.0671).abs() < 1e-9);
//!
//! // The same point as shown on Amap (GCJ-02) and Baidu Maps (BD-09).
//! let (glon, glat) = Crs::Gcj02.from_wgs84(120.3826, 36.0671)?;
//! assert!((glon - 120.387733080).abs() < 1e-8 && (glat - 36.067376228).abs() < 1e-8);
//! let (blon, blat) = Crs::Bd09.from_wgs84(120.3826, 36.0671)?;
//! assert!((blon - 120.394213050).abs() < 1e-8 && (blat - 36.073416833).abs() < 1e-8);
//!
//! // Names and URIs.
//! assert_eq!(Crs::parse("urn:ogc:def:crs:EPSG::4490")?, Crs::Cgcs2000);
//! assert_eq!(survey.to_string(), "EPSG:4549");
//! assert_eq!(survey.ogc_uri().as_deref(), Some("http://www.opengis.net/def/crs/EPSG/0/4549"));
//! assert!(Crs::parse("EPSG:99999999").is_err());
//! # Ok::<(), wangge::spatial::crs::CrsError>(())
//! ```

mod china;
mod proj;

use std::fmt;
use std::str::FromStr;

use geo::{Coord, Geometry, MapCoords};

use self::proj::{Direction, EpsgKind, epsg_from_wgs84, epsg_kind, epsg_to_wgs84, with_proj};
pub use china::{
    CHINA_EAST, CHINA_NORTH, CHINA_SOUTH, CHINA_WEST, bd09_to_gcj02, bd09_to_wgs84, gcj02_to_bd09,
    gcj02_to_wgs84, in_china, wgs84_to_bd09, wgs84_to_gcj02,
};

/// A coordinate reference system a client may send or ask for.
///
/// `Epsg` never holds 4326 or 4490 when built by [`Crs::parse`] or [`Crs::from_epsg`]: those are
/// normalised to [`Crs::Wgs84`] and [`Crs::Cgcs2000`]. (A hand-built `Crs::Epsg(4326)` still
/// works; it goes through PROJ.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Crs {
    /// WGS 84 longitude/latitude (EPSG:4326 / OGC CRS84). The default.
    #[default]
    Wgs84,
    /// CGCS2000 longitude/latitude (EPSG:4490), treated as identical to WGS84.
    Cgcs2000,
    /// GCJ-02 ("Mars coordinates"), used by Amap/Gaode and Tencent maps.
    Gcj02,
    /// BD-09, used by Baidu Maps.
    Bd09,
    /// Any other 2D geographic or projected CRS known to PROJ, by EPSG code.
    Epsg(u32),
}

/// Why a CRS could not be parsed or a coordinate could not be converted.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum CrsError {
    /// The CRS string is not one we accept (or names an EPSG code PROJ does not know, or one
    /// that is not a 2D geographic or projected CRS). Holds the offending string (cut to
    /// [`MAX_CRS_INPUT_LEN`] bytes).
    #[error(
        "unknown CRS {0:?}: accepted forms are wgs84 (the default), cgcs2000, gcj02 (or gcj-02), \
         bd09 (or bd-09), EPSG:<code>, urn:ogc:def:crs:EPSG::<code>, \
         http://www.opengis.net/def/crs/EPSG/0/<code>, urn:ogc:def:crs:OGC:1.3:CRS84 and \
         http://www.opengis.net/def/crs/OGC/1.3/CRS84 (case-insensitive); <code> must be a 2D \
         geographic or projected CRS known to PROJ"
    )]
    UnknownCrs(String),
    /// A coordinate is not finite, or a longitude/latitude is outside ±180/±90.
    #[error("{axis} {value} is out of range ({allowed})")]
    OutOfRange {
        /// Which value: "longitude", "latitude", "x", "y", or an output value such as
        /// "BD-09 latitude".
        axis: &'static str,
        /// The offending value.
        value: f64,
        /// What would have been accepted.
        allowed: &'static str,
    },
    /// PROJ failed to convert this coordinate (e.g. outside the projection's domain).
    #[error("coordinate transformation failed: {0}")]
    Transform(String),
}

/// Longest CRS string kept in an [`CrsError::UnknownCrs`] message; longer input is cut.
pub const MAX_CRS_INPUT_LEN: usize = 120;

const CRS84_URN: &str = "urn:ogc:def:crs:ogc:1.3:crs84";
const CRS84_URI: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const EPSG_URI_PREFIX: &str = "http://www.opengis.net/def/crs/EPSG/0/";

impl Crs {
    /// Parses a CRS as a client writes it. Case-insensitive, surrounding whitespace ignored.
    ///
    /// Accepted forms:
    /// - `wgs84` (the default CRS of the service), `cgcs2000`, `gcj02` or `gcj-02`, `bd09` or
    ///   `bd-09`;
    /// - `EPSG:nnnn`;
    /// - OGC URN `urn:ogc:def:crs:EPSG::nnnn` (a version between the colons is allowed, e.g.
    ///   `urn:ogc:def:crs:EPSG:9.9.1:nnnn`);
    /// - OGC URI `http://www.opengis.net/def/crs/EPSG/0/nnnn` (`https` also accepted);
    /// - `urn:ogc:def:crs:OGC:1.3:CRS84` and `http://www.opengis.net/def/crs/OGC/1.3/CRS84`
    ///   (= [`Crs::Wgs84`]).
    ///
    /// EPSG:4326 becomes [`Crs::Wgs84`] and EPSG:4490 [`Crs::Cgcs2000`]. Other EPSG codes must
    /// lie in the EPSG range 1024..=32767 and are checked against PROJ: a code PROJ does not
    /// know, or one that is not a 2D geographic or projected CRS (e.g. a vertical CRS), is
    /// [`CrsError::UnknownCrs`]. Whatever the form, the
    /// axis order used by this API is (lon, lat) / (easting, northing).
    ///
    /// An empty string is an error; callers that want the default when no CRS was given should
    /// use [`Crs::default`] (= [`Crs::Wgs84`]).
    pub fn parse(s: &str) -> Result<Crs, CrsError> {
        let unknown = || CrsError::UnknownCrs(truncate_for_message(s));
        let t = s.trim();
        if t.is_empty() || t.len() > MAX_CRS_INPUT_LEN {
            return Err(unknown());
        }
        let lower = t.to_ascii_lowercase();
        match lower.as_str() {
            "wgs84" => return Ok(Crs::Wgs84),
            "cgcs2000" => return Ok(Crs::Cgcs2000),
            "gcj02" | "gcj-02" => return Ok(Crs::Gcj02),
            "bd09" | "bd-09" => return Ok(Crs::Bd09),
            _ => {}
        }
        let without_scheme = lower
            .strip_prefix("http://")
            .or_else(|| lower.strip_prefix("https://"));
        if lower == CRS84_URN || without_scheme == Some("www.opengis.net/def/crs/ogc/1.3/crs84") {
            return Ok(Crs::Wgs84);
        }
        let code = if let Some(code) = lower.strip_prefix("epsg:") {
            Some(code)
        } else if let Some(rest) = lower.strip_prefix("urn:ogc:def:crs:epsg:") {
            // urn:ogc:def:crs:EPSG:{version}:{code}, version usually empty.
            rest.split_once(':')
                .filter(|(version, _)| is_version(version))
                .map(|(_, code)| code)
        } else if let Some(rest) =
            without_scheme.and_then(|r| r.strip_prefix("www.opengis.net/def/crs/epsg/"))
        {
            // http://www.opengis.net/def/crs/EPSG/{version}/{code}, version usually 0.
            rest.split_once('/')
                .filter(|(version, _)| !version.is_empty() && is_version(version))
                .map(|(_, code)| code)
        } else {
            None
        };
        let code = code.and_then(parse_epsg_code).ok_or_else(unknown)?;
        Crs::from_epsg(code).map_err(|_| unknown())
    }

    /// The CRS for an EPSG code: 4326 is [`Crs::Wgs84`], 4490 is [`Crs::Cgcs2000`], any other
    /// code must be a 2D geographic or projected CRS known to PROJ, else
    /// [`CrsError::UnknownCrs`].
    pub fn from_epsg(code: u32) -> Result<Crs, CrsError> {
        match code {
            4326 => Ok(Crs::Wgs84),
            4490 => Ok(Crs::Cgcs2000),
            _ => epsg_kind(code).map(|_| Crs::Epsg(code)),
        }
    }

    /// True for longitude/latitude systems: WGS84, CGCS2000, GCJ-02, BD-09 and geographic EPSG
    /// codes (e.g. EPSG:4214). False for projected EPSG codes (and for codes PROJ does not know).
    pub fn is_geographic(&self) -> bool {
        match *self {
            Crs::Wgs84 | Crs::Cgcs2000 | Crs::Gcj02 | Crs::Bd09 => true,
            Crs::Epsg(code) => matches!(epsg_kind(code), Ok(EpsgKind::Geographic)),
        }
    }

    /// The canonical name: `"wgs84"`, `"cgcs2000"`, `"gcj02"`, `"bd09"` or `"EPSG:nnnn"`.
    /// [`Crs::parse`] accepts it back.
    pub fn name(&self) -> String {
        match *self {
            Crs::Wgs84 => "wgs84".to_owned(),
            Crs::Cgcs2000 => "cgcs2000".to_owned(),
            Crs::Gcj02 => "gcj02".to_owned(),
            Crs::Bd09 => "bd09".to_owned(),
            Crs::Epsg(code) => format!("EPSG:{code}"),
        }
    }

    /// The OGC URI, e.g. for OGC API Features `Content-Crs` headers:
    /// `http://www.opengis.net/def/crs/OGC/1.3/CRS84` for WGS84 (lon/lat order, like our API),
    /// `http://www.opengis.net/def/crs/EPSG/0/4490` for CGCS2000,
    /// `http://www.opengis.net/def/crs/EPSG/0/nnnn` for EPSG codes.
    /// `None` for GCJ-02 and BD-09, which have no registered identifier.
    pub fn ogc_uri(&self) -> Option<String> {
        match *self {
            Crs::Wgs84 => Some(CRS84_URI.to_owned()),
            Crs::Cgcs2000 => Some(format!("{EPSG_URI_PREFIX}4490")),
            Crs::Gcj02 | Crs::Bd09 => None,
            Crs::Epsg(code) => Some(format!("{EPSG_URI_PREFIX}{code}")),
        }
    }

    /// Converts (x, y) in this CRS to WGS84 (lon, lat).
    ///
    /// x is longitude or easting, y latitude or northing (see the module docs on axis order).
    /// All input must be finite, and geographic input within ±180 (lon) / ±90 (lat), else
    /// [`CrsError::OutOfRange`]. PROJ failures are [`CrsError::Transform`].
    pub fn to_wgs84(&self, x: f64, y: f64) -> Result<(f64, f64), CrsError> {
        match *self {
            Crs::Wgs84 | Crs::Cgcs2000 => {
                check_lon_lat(x, y)?;
                Ok((x, y))
            }
            Crs::Gcj02 => {
                check_lon_lat(x, y)?;
                let (lon, lat) = gcj02_to_wgs84(x, y);
                check_output_lon_lat(lon, lat, "WGS84 longitude", "WGS84 latitude")?;
                Ok((lon, lat))
            }
            Crs::Bd09 => {
                check_lon_lat(x, y)?;
                let (lon, lat) = bd09_to_wgs84(x, y);
                check_output_lon_lat(lon, lat, "WGS84 longitude", "WGS84 latitude")?;
                Ok((lon, lat))
            }
            Crs::Epsg(code) => {
                let kind = epsg_kind(code)?;
                with_proj(code, Direction::ToWgs84, |p| {
                    epsg_to_wgs84(p, code, kind, x, y)
                })?
            }
        }
    }

    /// Converts WGS84 (lon, lat) to (x, y) in this CRS (x = longitude or easting).
    ///
    /// The input must be finite and within ±180/±90, else [`CrsError::OutOfRange`]; so must a
    /// geographic output (BD-09 near the poles can leave the range). PROJ failures are
    /// [`CrsError::Transform`].
    pub fn from_wgs84(&self, lon: f64, lat: f64) -> Result<(f64, f64), CrsError> {
        match *self {
            Crs::Wgs84 | Crs::Cgcs2000 => {
                check_lon_lat(lon, lat)?;
                Ok((lon, lat))
            }
            Crs::Gcj02 => {
                check_lon_lat(lon, lat)?;
                Ok(wgs84_to_gcj02(lon, lat))
            }
            Crs::Bd09 => {
                check_lon_lat(lon, lat)?;
                let (x, y) = wgs84_to_bd09(lon, lat);
                check_output_lon_lat(x, y, "BD-09 longitude", "BD-09 latitude")?;
                Ok((x, y))
            }
            Crs::Epsg(code) => {
                let kind = epsg_kind(code)?;
                with_proj(code, Direction::FromWgs84, |p| {
                    epsg_from_wgs84(p, code, kind, lon, lat)
                })?
            }
        }
    }

    /// Converts every coordinate of a geometry in this CRS to WGS84 (for import).
    /// The first coordinate that fails decides the error.
    pub fn geometry_to_wgs84(&self, g: &Geometry<f64>) -> Result<Geometry<f64>, CrsError> {
        match *self {
            Crs::Wgs84 | Crs::Cgcs2000 => {
                // No arithmetic, only the range check.
                g.try_map_coords(|c| check_lon_lat(c.x, c.y).map(|()| c))
            }
            Crs::Epsg(code) => {
                // Look the PROJ object up once for the whole geometry.
                let kind = epsg_kind(code)?;
                with_proj(code, Direction::ToWgs84, |p| {
                    g.try_map_coords(|c| {
                        epsg_to_wgs84(p, code, kind, c.x, c.y).map(|(x, y)| Coord { x, y })
                    })
                })?
            }
            Crs::Gcj02 | Crs::Bd09 => {
                g.try_map_coords(|c| self.to_wgs84(c.x, c.y).map(|(x, y)| Coord { x, y }))
            }
        }
    }

    /// Converts every coordinate of a WGS84 geometry to this CRS (for export).
    /// The first coordinate that fails decides the error.
    pub fn geometry_from_wgs84(&self, g: &Geometry<f64>) -> Result<Geometry<f64>, CrsError> {
        match *self {
            Crs::Wgs84 | Crs::Cgcs2000 => g.try_map_coords(|c| check_lon_lat(c.x, c.y).map(|()| c)),
            Crs::Epsg(code) => {
                let kind = epsg_kind(code)?;
                with_proj(code, Direction::FromWgs84, |p| {
                    g.try_map_coords(|c| {
                        epsg_from_wgs84(p, code, kind, c.x, c.y).map(|(x, y)| Coord { x, y })
                    })
                })?
            }
            Crs::Gcj02 | Crs::Bd09 => {
                g.try_map_coords(|c| self.from_wgs84(c.x, c.y).map(|(x, y)| Coord { x, y }))
            }
        }
    }
}

impl FromStr for Crs {
    type Err = CrsError;

    /// Same as [`Crs::parse`].
    fn from_str(s: &str) -> Result<Crs, CrsError> {
        Crs::parse(s)
    }
}

impl fmt::Display for Crs {
    /// Writes [`Crs::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Serialised as [`Crs::name`].
impl serde::Serialize for Crs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Deserialised from a string with [`Crs::parse`].
impl<'de> serde::Deserialize<'de> for Crs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Crs, D::Error> {
        struct CrsVisitor;
        impl serde::de::Visitor<'_> for CrsVisitor {
            type Value = Crs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CRS name such as \"wgs84\", \"gcj02\" or \"EPSG:4549\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Crs, E> {
                Crs::parse(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(CrsVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing helpers

/// A URN/URI version segment: digits and dots (may be empty in URNs).
fn is_version(v: &str) -> bool {
    v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// Digits only (no sign, no spaces); longer than 6 digits is refused before parsing.
/// The range check against `proj::EPSG_CODES` happens in `proj::epsg_kind`.
fn parse_epsg_code(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|&c| c > 0)
}

fn truncate_for_message(s: &str) -> String {
    if s.len() <= MAX_CRS_INPUT_LEN {
        return s.to_owned();
    }
    let mut end = MAX_CRS_INPUT_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

// ---------------------------------------------------------------------------------------------
// Range checks

fn check_finite(axis: &'static str, v: f64) -> Result<(), CrsError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(CrsError::OutOfRange {
            axis,
            value: v,
            allowed: "must be a finite number",
        })
    }
}

pub(crate) fn check_lon_lat(lon: f64, lat: f64) -> Result<(), CrsError> {
    check_range(
        "longitude",
        lon,
        180.0,
        "must be a finite number within -180..=180",
    )?;
    check_range(
        "latitude",
        lat,
        90.0,
        "must be a finite number within -90..=90",
    )
}

fn check_output_lon_lat(
    lon: f64,
    lat: f64,
    lon_axis: &'static str,
    lat_axis: &'static str,
) -> Result<(), CrsError> {
    check_range(lon_axis, lon, 180.0, "must be within -180..=180")?;
    check_range(lat_axis, lat, 90.0, "must be within -90..=90")
}

fn check_range(
    axis: &'static str,
    v: f64,
    limit: f64,
    allowed: &'static str,
) -> Result<(), CrsError> {
    // NaN fails `is_finite`, so it is rejected too.
    if v.is_finite() && v.abs() <= limit {
        Ok(())
    } else {
        Err(CrsError::OutOfRange {
            axis,
            value: v,
            allowed,
        })
    }
}

/// Helpers shared by the tests of this module and of its `china` and `proj` submodules.
#[cfg(test)]
mod test_support {
    pub(super) const GCJ_REFERENCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/gcj02_bd09_reference.csv"
    );
    pub(super) const PROJ_REFERENCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/proj_reference.csv"
    );

    /// About 111 km per degree of latitude (and of longitude at the equator). Good to 1 %,
    /// which is all a millimetre tolerance needs.
    const METRES_PER_DEGREE: f64 = 111_000.0;

    /// Approximate ground distance in metres between two nearby lon/lat points.
    pub(super) fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let dx = (a.0 - b.0) * METRES_PER_DEGREE * a.1.to_radians().cos();
        let dy = (a.1 - b.1) * METRES_PER_DEGREE;
        dx.hypot(dy)
    }

    pub(super) fn max_abs_diff(a: (f64, f64), b: (f64, f64)) -> f64 {
        (a.0 - b.0).abs().max((a.1 - b.1).abs())
    }

    pub(super) fn read(path: &str) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header = lines.next().expect("header");
        let columns = header.split(',').count();
        lines
            .map(|l| {
                // proj_reference.csv writes its last column (out_axis_order) as two unquoted
                // fields, e.g. "northing_X,easting_Y", so a row may have one field more.
                let fields: Vec<String> = l.split(',').map(|f| f.trim().to_owned()).collect();
                assert!(fields.len() >= columns, "{path}: bad row {l}");
                fields
            })
            .collect()
    }

    pub(super) fn num(s: &str) -> f64 {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    pub(super) fn grid(lons: (f64, f64), lats: (f64, f64), step: f64) -> Vec<(f64, f64)> {
        let nx = ((lons.1 - lons.0) / step).round() as usize;
        let ny = ((lats.1 - lats.0) / step).round() as usize;
        (0..=nx)
            .flat_map(|i| {
                (0..=ny).map(move |j| (lons.0 + i as f64 * step, lats.0 + j as f64 * step))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use geo::{Geometry, LineString, MultiPoint, Point, Polygon, coord, line_string, polygon};

    // ----------------------------------------------------------------------------- parsing

    #[test]
    fn parses_every_accepted_form() {
        let cases = [
            ("wgs84", Crs::Wgs84),
            ("WGS84", Crs::Wgs84),
            ("  wgs84\n", Crs::Wgs84),
            ("cgcs2000", Crs::Cgcs2000),
            ("CGCS2000", Crs::Cgcs2000),
            ("gcj02", Crs::Gcj02),
            ("GCJ02", Crs::Gcj02),
            ("gcj-02", Crs::Gcj02),
            ("GCJ-02", Crs::Gcj02),
            ("bd09", Crs::Bd09),
            ("BD09", Crs::Bd09),
            ("bd-09", Crs::Bd09),
            ("BD-09", Crs::Bd09),
            ("EPSG:4326", Crs::Wgs84),
            ("epsg:4326", Crs::Wgs84),
            ("EPSG:4490", Crs::Cgcs2000),
            ("EPSG:4549", Crs::Epsg(4549)),
            ("epsg:4528", Crs::Epsg(4528)),
            ("EPSG:3857", Crs::Epsg(3857)),
            ("EPSG:32651", Crs::Epsg(32651)),
            ("EPSG:4214", Crs::Epsg(4214)),
            ("urn:ogc:def:crs:EPSG::4549", Crs::Epsg(4549)),
            ("urn:ogc:def:crs:EPSG::4326", Crs::Wgs84),
            ("URN:OGC:DEF:CRS:EPSG::4490", Crs::Cgcs2000),
            ("urn:ogc:def:crs:EPSG:9.9.1:4549", Crs::Epsg(4549)),
            (
                "http://www.opengis.net/def/crs/EPSG/0/4549",
                Crs::Epsg(4549),
            ),
            ("http://www.opengis.net/def/crs/EPSG/0/4326", Crs::Wgs84),
            ("https://www.opengis.net/def/crs/EPSG/0/4490", Crs::Cgcs2000),
            ("urn:ogc:def:crs:OGC:1.3:CRS84", Crs::Wgs84),
            ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", Crs::Wgs84),
            ("https://www.opengis.net/def/crs/OGC/1.3/CRS84", Crs::Wgs84),
        ];
        for (s, expected) in cases {
            assert_eq!(Crs::parse(s), Ok(expected), "{s:?}");
            assert_eq!(s.parse::<Crs>(), Ok(expected), "{s:?}");
        }
        assert_eq!(Crs::from_epsg(4326), Ok(Crs::Wgs84));
        assert_eq!(Crs::from_epsg(4490), Ok(Crs::Cgcs2000));
        assert_eq!(Crs::from_epsg(4549), Ok(Crs::Epsg(4549)));
        assert_eq!(Crs::default(), Crs::Wgs84);
    }

    #[test]
    fn rejects_unknown_crs() {
        let long = "x".repeat(10_000);
        let cases = [
            "foo",
            "",
            "   ",
            "wgs",
            "wgs84x",
            "gcj 02",
            "EPSG:99999999",
            "EPSG:99999",
            "EPSG:abc",
            "EPSG:",
            "EPSG:0",
            "EPSG:-4326",
            "EPSG:+4326",
            "EPSG:4326.0",
            "EPSG::4549",
            "EPSG:5773", // a vertical CRS (EGM96 height)
            "EPSG:4978", // geocentric
            "EPSG:4979", // 3D geographic
            "EPSG:7030", // an ellipsoid
            "EPSG:1671", // a coordinate operation
            "urn:ogc:def:crs:EPSG::",
            "urn:ogc:def:crs:EPSG::abc",
            "urn:ogc:def:crs:EPSG:4549",
            "urn:ogc:def:crs:OGC:1.3:CRS83",
            "http://www.opengis.net/def/crs/EPSG/0/",
            "http://www.opengis.net/def/crs/EPSG//4549",
            "http://www.opengis.net/def/crs/EPSG/0/4549/",
            "ftp://www.opengis.net/def/crs/EPSG/0/4549",
            long.as_str(),
        ];
        for s in cases {
            match Crs::parse(s) {
                Err(CrsError::UnknownCrs(named)) => {
                    assert!(named.len() <= MAX_CRS_INPUT_LEN + 3, "{named}");
                    assert!(s.starts_with(named.trim_end_matches("...")), "{named}");
                }
                other => panic!("{s:?}: {other:?}"),
            }
        }
        // Surrounding whitespace is trimmed.
        assert_eq!(Crs::parse(" EPSG:4549 "), Ok(Crs::Epsg(4549)));
        let message = Crs::parse("foo").unwrap_err().to_string();
        for needle in [
            "\"foo\"",
            "wgs84",
            "cgcs2000",
            "gcj02",
            "bd09",
            "EPSG:<code>",
            "CRS84",
        ] {
            assert!(message.contains(needle), "{message}");
        }
        assert!(matches!(
            Crs::from_epsg(99_999_999),
            Err(CrsError::UnknownCrs(_))
        ));
        assert!(!Crs::Epsg(99_999_999).is_geographic());
        assert!(matches!(
            Crs::Epsg(99_999_999).to_wgs84(1.0, 2.0),
            Err(CrsError::UnknownCrs(_))
        ));
    }

    #[test]
    fn names_uris_and_kinds() {
        let cases = [
            (
                Crs::Wgs84,
                "wgs84",
                Some("http://www.opengis.net/def/crs/OGC/1.3/CRS84"),
                true,
            ),
            (
                Crs::Cgcs2000,
                "cgcs2000",
                Some("http://www.opengis.net/def/crs/EPSG/0/4490"),
                true,
            ),
            (Crs::Gcj02, "gcj02", None, true),
            (Crs::Bd09, "bd09", None, true),
            (
                Crs::Epsg(4549),
                "EPSG:4549",
                Some("http://www.opengis.net/def/crs/EPSG/0/4549"),
                false,
            ),
            (
                Crs::Epsg(3857),
                "EPSG:3857",
                Some("http://www.opengis.net/def/crs/EPSG/0/3857"),
                false,
            ),
            (
                Crs::Epsg(4214),
                "EPSG:4214",
                Some("http://www.opengis.net/def/crs/EPSG/0/4214"),
                true,
            ),
        ];
        for (crs, name, uri, geographic) in cases {
            assert_eq!(crs.name(), name);
            assert_eq!(crs.to_string(), name);
            assert_eq!(crs.ogc_uri().as_deref(), uri);
            assert_eq!(crs.is_geographic(), geographic, "{name}");
            assert_eq!(Crs::parse(name), Ok(crs));
            if let Some(uri) = uri {
                assert_eq!(Crs::parse(uri), Ok(crs));
            }
        }
    }

    #[test]
    fn serde_uses_the_name() {
        use serde::Deserialize;
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error, StrDeserializer};
        let de: StrDeserializer<'_, Error> = "urn:ogc:def:crs:EPSG::4549".into_deserializer();
        assert_eq!(Crs::deserialize(de), Ok(Crs::Epsg(4549)));
        let de: StrDeserializer<'_, Error> = "foo".into_deserializer();
        assert!(
            Crs::deserialize(de)
                .unwrap_err()
                .to_string()
                .contains("foo")
        );
    }

    // ----------------------------------------------------------------------------- ranges

    #[test]
    fn out_of_range_input_is_rejected_and_named() {
        let geographic = [
            Crs::Wgs84,
            Crs::Cgcs2000,
            Crs::Gcj02,
            Crs::Bd09,
            Crs::Epsg(4214),
        ];
        for crs in geographic {
            for (x, y, axis, value) in [
                (120.0, 91.0, "latitude", 91.0),
                (120.0, -90.5, "latitude", -90.5),
                (181.0, 36.0, "longitude", 181.0),
                (-180.25, 36.0, "longitude", -180.25),
                (f64::INFINITY, 36.0, "longitude", f64::INFINITY),
            ] {
                let err = crs.to_wgs84(x, y).unwrap_err();
                assert_eq!(
                    err,
                    CrsError::OutOfRange {
                        axis,
                        value,
                        allowed: if axis == "latitude" {
                            "must be a finite number within -90..=90"
                        } else {
                            "must be a finite number within -180..=180"
                        }
                    },
                    "{crs}"
                );
                assert!(err.to_string().contains(&value.to_string()), "{err}");
            }
            let err = crs.to_wgs84(f64::NAN, 36.0).unwrap_err();
            assert!(
                matches!(err, CrsError::OutOfRange { axis: "longitude", value, .. } if value.is_nan()),
                "{crs}: {err:?}"
            );
            assert!(err.to_string().contains("NaN"), "{err}");
            assert!(crs.to_wgs84(120.0, f64::NAN).is_err());
        }
        // from_wgs84 checks its lon/lat input for every CRS, projected ones included.
        for crs in [
            Crs::Wgs84,
            Crs::Cgcs2000,
            Crs::Gcj02,
            Crs::Bd09,
            Crs::Epsg(4549),
        ] {
            assert!(matches!(
                crs.from_wgs84(120.0, 91.0),
                Err(CrsError::OutOfRange {
                    axis: "latitude",
                    ..
                })
            ));
            assert!(matches!(
                crs.from_wgs84(181.0, 36.0),
                Err(CrsError::OutOfRange {
                    axis: "longitude",
                    ..
                })
            ));
            assert!(crs.from_wgs84(f64::NAN, 36.0).is_err());
        }
        // Projected input only needs to be finite.
        let survey = Crs::Epsg(4549);
        assert!(matches!(
            survey.to_wgs84(f64::NAN, 3_993_055.8),
            Err(CrsError::OutOfRange { axis: "x", .. })
        ));
        assert!(matches!(
            survey.to_wgs84(534_467.5, f64::NEG_INFINITY),
            Err(CrsError::OutOfRange { axis: "y", .. })
        ));
        // The edges themselves are fine.
        assert_eq!(Crs::Wgs84.to_wgs84(-180.0, 90.0), Ok((-180.0, 90.0)));
        assert_eq!(Crs::Wgs84.to_wgs84(180.0, -90.0), Ok((180.0, -90.0)));
        // BD-09 of a point near the pole leaves the latitude range: an error, not garbage.
        assert!(matches!(
            Crs::Bd09.from_wgs84(0.0, 90.0),
            Err(CrsError::OutOfRange {
                axis: "BD-09 latitude",
                ..
            })
        ));
    }

    // ----------------------------------------------------------------------------- geometries

    fn qingdao_polygon() -> Polygon<f64> {
        polygon![
            (x: 120.3826, y: 36.0671),
            (x: 120.4152, y: 36.0736),
            (x: 120.4000, y: 36.1000),
            (x: 120.3200, y: 36.0600),
            (x: 120.3826, y: 36.0671),
        ]
    }

    fn coords(g: &Geometry<f64>) -> Vec<(f64, f64)> {
        use geo::CoordsIter;
        g.coords_iter().map(|c| (c.x, c.y)).collect()
    }

    #[test]
    fn geometries_convert_coordinate_by_coordinate() {
        let shapes: Vec<Geometry<f64>> = vec![
            Geometry::Point(Point::new(120.3826, 36.0671)),
            Geometry::LineString(line_string![(x: 120.38, y: 36.06), (x: 120.41, y: 36.07)]),
            Geometry::Polygon(qingdao_polygon()),
            Geometry::MultiPoint(MultiPoint::from(vec![(120.3, 36.0), (120.5, 36.2)])),
            Geometry::GeometryCollection(geo::GeometryCollection::from(vec![
                Geometry::Polygon(qingdao_polygon()),
                Geometry::Point(Point::new(120.0, 36.0)),
            ])),
        ];
        let crss = [
            Crs::Wgs84,
            Crs::Cgcs2000,
            Crs::Gcj02,
            Crs::Bd09,
            Crs::Epsg(4549),
            Crs::Epsg(4528),
            Crs::Epsg(3857),
            Crs::Epsg(4214),
        ];
        for crs in crss {
            for shape in &shapes {
                let there = crs.geometry_from_wgs84(shape).unwrap();
                assert_eq!(
                    std::mem::discriminant(&there),
                    std::mem::discriminant(shape)
                );
                // Same as point by point.
                for (a, b) in coords(&there).iter().zip(coords(shape)) {
                    assert_eq!(*a, crs.from_wgs84(b.0, b.1).unwrap(), "{crs}");
                }
                let back = crs.geometry_to_wgs84(&there).unwrap();
                for (a, b) in coords(&back).iter().zip(coords(shape)) {
                    assert!(metres(*a, b) < 0.001, "{crs}: {a:?} vs {b:?}");
                }
            }
        }
    }

    #[test]
    fn geometry_conversion_reports_the_first_bad_coordinate() {
        let bad = Geometry::LineString(LineString::from(vec![
            coord! { x: 120.0, y: 36.0 },
            coord! { x: 120.0, y: 91.0 },
            coord! { x: f64::NAN, y: 36.0 },
        ]));
        for crs in [Crs::Wgs84, Crs::Gcj02, Crs::Bd09, Crs::Epsg(4214)] {
            for result in [crs.geometry_to_wgs84(&bad), crs.geometry_from_wgs84(&bad)] {
                assert!(
                    matches!(result, Err(CrsError::OutOfRange { axis: "latitude", value, .. }) if value == 91.0),
                    "{crs}: {result:?}"
                );
            }
        }
        assert!(matches!(
            Crs::Epsg(4549).geometry_from_wgs84(&bad),
            Err(CrsError::OutOfRange {
                axis: "latitude",
                ..
            })
        ));
        let bad_projected = Geometry::LineString(LineString::from(vec![
            coord! { x: 534_467.5, y: 3_993_055.8 },
            coord! { x: f64::NAN, y: 3_993_055.8 },
            coord! { x: 534_467.5, y: f64::INFINITY },
        ]));
        assert!(matches!(
            Crs::Epsg(4549).geometry_to_wgs84(&bad_projected),
            Err(CrsError::OutOfRange { axis: "x", .. })
        ));
        assert!(matches!(
            Crs::Epsg(99_999_999).geometry_to_wgs84(&bad_projected),
            Err(CrsError::UnknownCrs(_))
        ));
    }
}
