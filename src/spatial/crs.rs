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

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::f64::consts::PI;
use std::fmt;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};

use geo::{Coord, Geometry, MapCoords};
use proj::Proj;

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
/// The range check against [`EPSG_CODES`] happens in [`epsg_kind`].
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

// ---------------------------------------------------------------------------------------------
// EPSG codes through PROJ

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EpsgKind {
    Geographic,
    Projected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Direction {
    ToWgs84,
    FromWgs84,
}

/// EPSG dataset codes lie in 1024..=32767 (PROJ 9.6's EPSG CRSs use 2000..=32766, plus the
/// deprecated 900913, an alias of 3857 that we do not accept). Codes outside this range are
/// rejected without asking PROJ.
const EPSG_CODES: std::ops::RangeInclusive<u32> = 1024..=32767;

/// How many EPSG codes PROJ may fail to find, per process, before we stop asking it about
/// codes we have never seen. See [`EpsgRegistry`].
const MAX_FAILED_PROJ_LOOKUPS: usize = 1024;

/// What PROJ says about each EPSG code asked so far.
///
/// Plain data, so one process-wide map behind a mutex is fine. Failures are remembered too,
/// and limited, because in the `proj` crate (0.31) a failed `Proj::new` leaks the PROJ context
/// it created (about 24 KB, measured) and PROJ prints "proj_create: crs not found" to stderr.
/// Clients choose the code, so: each code is asked about at most once per process (at most
/// 31744 codes in [`EPSG_CODES`]), and after [`MAX_FAILED_PROJ_LOOKUPS`] failures (~25 MB)
/// codes never seen before are refused without asking. Codes already found stay usable.
struct EpsgRegistry {
    /// `None`: unknown to PROJ, or not a 2D geographic/projected CRS.
    kinds: HashMap<u32, Option<EpsgKind>>,
    failed_lookups: usize,
}

static EPSG_REGISTRY: LazyLock<Mutex<EpsgRegistry>> = LazyLock::new(|| {
    Mutex::new(EpsgRegistry {
        kinds: HashMap::new(),
        failed_lookups: 0,
    })
});

/// Whether PROJ failed to create the object (which leaks) or created something unsuitable.
enum Classification {
    Kind(EpsgKind),
    NotA2dCrs,
    NotFound,
}

fn epsg_kind(code: u32) -> Result<EpsgKind, CrsError> {
    let unknown = || CrsError::UnknownCrs(format!("EPSG:{code}"));
    if !EPSG_CODES.contains(&code) {
        return Err(unknown());
    }
    let lock = || {
        EPSG_REGISTRY
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    {
        let registry = lock();
        if let Some(&kind) = registry.kinds.get(&code) {
            return kind.ok_or_else(unknown);
        }
        if registry.failed_lookups >= MAX_FAILED_PROJ_LOOKUPS {
            return Err(unknown());
        }
    }
    // Ask PROJ without holding the lock (about a millisecond).
    let classification = classify_epsg(code);
    let mut registry = lock();
    let kind = match classification {
        Classification::Kind(kind) => Some(kind),
        Classification::NotA2dCrs => None,
        Classification::NotFound => {
            registry.failed_lookups += 1;
            None
        }
    };
    registry.kinds.insert(code, kind);
    kind.ok_or_else(unknown)
}

/// Asks PROJ what `EPSG:code` is: a 2D geographic CRS, a 2D projected CRS, or something we do
/// not accept (unknown, 3D, geocentric, vertical, compound, an ellipsoid, a unit, ...).
fn classify_epsg(code: u32) -> Classification {
    let Ok(obj) = Proj::new(&format!("EPSG:{code}")) else {
        return Classification::NotFound;
    };
    // WKT2:2019 starts with the object type; the CS[...] line of a CRS gives its dimension.
    // (In a PROJCRS the base geographic CRS carries no CS, so the only CS is the projected one.)
    let Ok(wkt) = obj.as_wkt(None, None) else {
        return Classification::NotA2dCrs;
    };
    let wkt = wkt.trim_start();
    if wkt.starts_with("GEOGCRS[") && wkt.contains("CS[ellipsoidal,2]") {
        Classification::Kind(EpsgKind::Geographic)
    } else if wkt.starts_with("PROJCRS[") && wkt.contains("CS[Cartesian,2]") {
        Classification::Kind(EpsgKind::Projected)
    } else {
        Classification::NotA2dCrs
    }
}

/// Most PROJ transformation objects kept per thread; past this the thread's cache is emptied.
/// Each object holds its own PROJ context and weighs about 600 KB (measured), so this bounds a
/// thread's cache to about 10 MB.
const MAX_CACHED_PER_THREAD: usize = 16;

// Why a thread-local cache:
//
// Creating a PROJ transformation (`Proj::new_known_crs`) looks up the PROJ database and takes
// milliseconds, so objects are created once and reused. But `proj::Proj` is neither `Send` nor
// `Sync` (it holds raw pointers to a PJ object and its own PJ_CONTEXT), matching PROJ's rule
// that a PJ object / context must not be used by two threads at the same time. It therefore
// cannot live in a global `Mutex<HashMap>` or be shared through an `Arc` without `unsafe`, and
// even with `unsafe` a global mutex would serialise every EPSG conversion of the whole server.
// So each thread (each tokio worker, each blocking thread) keeps its own small cache, keyed by
// (code, direction). Objects are only ever used on the thread that created them, no locking
// is needed on the hot path, and the cost is one creation per (thread, code, direction).
//
// Dropping a `Proj` also calls PROJ's process-wide `proj_cleanup()` (the `proj` crate does
// this in `Drop`). In PROJ 9.6 the global caches it clears are mutex-protected and the default
// context it resets is never used by `proj` objects (each has its own context), so dropping on
// one thread while others convert is fine. We still avoid churn: entries are only dropped when
// a thread's cache is full or the thread exits.
thread_local! {
    static PROJ_CACHE: RefCell<HashMap<(u32, Direction), Proj>> = RefCell::new(HashMap::new());
}

fn create_proj(code: u32, direction: Direction) -> Result<Proj, CrsError> {
    let epsg = format!("EPSG:{code}");
    let (from, to) = match direction {
        Direction::ToWgs84 => (epsg.as_str(), "EPSG:4326"),
        Direction::FromWgs84 => ("EPSG:4326", epsg.as_str()),
    };
    // new_known_crs normalises the axis order to (lon, lat) / (easting, northing).
    Proj::new_known_crs(from, to, None).map_err(|e| {
        CrsError::Transform(format!(
            "PROJ cannot build a transformation {from} -> {to}: {e}"
        ))
    })
}

/// Runs `f` with the cached PROJ transformation for (code, direction), creating it if needed.
fn with_proj<R>(
    code: u32,
    direction: Direction,
    f: impl FnOnce(&Proj) -> R,
) -> Result<R, CrsError> {
    let mut f = Some(f);
    let cached = PROJ_CACHE.try_with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.len() >= MAX_CACHED_PER_THREAD && !cache.contains_key(&(code, direction)) {
            cache.clear();
        }
        let proj = match cache.entry((code, direction)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(create_proj(code, direction)?),
        };
        let f = f.take().expect("called once");
        Ok(f(proj))
    });
    match cached {
        Ok(result) => result,
        // The thread-local was already destroyed (conversion from another thread-local's
        // destructor): use an uncached object.
        Err(_) => {
            let proj = create_proj(code, direction)?;
            let f = f.take().expect("called once");
            Ok(f(&proj))
        }
    }
}

fn transform_error(code: u32, what: &str, x: f64, y: f64, detail: &dyn fmt::Display) -> CrsError {
    CrsError::Transform(format!("{what} ({x}, {y}) with EPSG:{code}: {detail}"))
}

fn epsg_to_wgs84(
    p: &Proj,
    code: u32,
    kind: EpsgKind,
    x: f64,
    y: f64,
) -> Result<(f64, f64), CrsError> {
    match kind {
        EpsgKind::Geographic => check_lon_lat(x, y)?,
        EpsgKind::Projected => {
            check_finite("x", x)?;
            check_finite("y", y)?;
        }
    }
    let (lon, lat) = p
        .convert((x, y))
        .map_err(|e| transform_error(code, "cannot convert", x, y, &e))?;
    if !(lon.is_finite() && lat.is_finite() && lon.abs() <= 180.0 && lat.abs() <= 90.0) {
        return Err(transform_error(
            code,
            "cannot convert",
            x,
            y,
            &format_args!("PROJ returned ({lon}, {lat}), not a WGS84 longitude/latitude"),
        ));
    }
    Ok((lon, lat))
}

fn epsg_from_wgs84(
    p: &Proj,
    code: u32,
    kind: EpsgKind,
    lon: f64,
    lat: f64,
) -> Result<(f64, f64), CrsError> {
    check_lon_lat(lon, lat)?;
    let (x, y) = p
        .convert((lon, lat))
        .map_err(|e| transform_error(code, "cannot convert WGS84", lon, lat, &e))?;
    let valid = x.is_finite()
        && y.is_finite()
        && (kind == EpsgKind::Projected || (x.abs() <= 180.0 && y.abs() <= 90.0));
    if !valid {
        return Err(transform_error(
            code,
            "cannot convert WGS84",
            lon,
            lat,
            &format_args!("PROJ returned ({x}, {y})"),
        ));
    }
    Ok((x, y))
}

// ---------------------------------------------------------------------------------------------
// GCJ-02 and BD-09

/// Semi-major axis of the Krasovsky 1940 ellipsoid, used by GCJ-02 (metres).
const KRASOVSKY_A: f64 = 6_378_245.0;
/// First eccentricity squared of the Krasovsky 1940 ellipsoid, as used by GCJ-02.
const KRASOVSKY_EE: f64 = 0.006_693_421_622_965_943;

/// The China box the GCJ-02 rule applies in (degrees).
pub const CHINA_WEST: f64 = 72.004;
pub const CHINA_EAST: f64 = 137.8347;
pub const CHINA_SOUTH: f64 = 0.8293;
pub const CHINA_NORTH: f64 = 55.8271;

/// Baidu's angular constant: pi * 3000 / 180.
const BAIDU_X_PI: f64 = PI * 3000.0 / 180.0;
const BAIDU_DLON: f64 = 0.0065;
const BAIDU_DLAT: f64 = 0.006;

/// Stop iterating an inverse once the forward image is this close to the target (degrees,
/// about 0.1 mm).
const INVERSE_TOLERANCE_DEG: f64 = 1e-9;
/// Upper bound on inverse iterations. Each step shrinks the error by a factor of about 100 or
/// more (the offsets change slowly with position), so 3 to 5 steps are normal.
const INVERSE_MAX_ITERATIONS: usize = 30;

/// True if (lon, lat) is inside the box where GCJ-02 applies:
/// longitude 72.004..=137.8347 E, latitude 0.8293..=55.8271 N. False for NaN.
pub fn in_china(lon: f64, lat: f64) -> bool {
    (CHINA_WEST..=CHINA_EAST).contains(&lon) && (CHINA_SOUTH..=CHINA_NORTH).contains(&lat)
}

/// The GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat), without the China-box test.
fn gcj02_offset(lon: f64, lat: f64) -> (f64, f64) {
    // The published polynomial-plus-sines distortion, evaluated relative to (105 E, 35 N).
    // It yields offsets in metres-like units, then scaled to degrees with the Krasovsky
    // meridian and parallel radii at this latitude.
    let x = lon - 105.0;
    let y = lat - 35.0;
    let sqrt_abs_x = x.abs().sqrt();
    let common = (20.0 * (6.0 * x * PI).sin() + 20.0 * (2.0 * x * PI).sin()) * 2.0 / 3.0;

    let north = -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * sqrt_abs_x
        + common
        + (20.0 * (y * PI).sin() + 40.0 * (y / 3.0 * PI).sin()) * 2.0 / 3.0
        + (160.0 * (y / 12.0 * PI).sin() + 320.0 * (y * PI / 30.0).sin()) * 2.0 / 3.0;

    let east = 300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * sqrt_abs_x
        + common
        + (20.0 * (x * PI).sin() + 40.0 * (x / 3.0 * PI).sin()) * 2.0 / 3.0
        + (150.0 * (x / 12.0 * PI).sin() + 300.0 * (x / 30.0 * PI).sin()) * 2.0 / 3.0;

    let phi = lat.to_radians();
    let sin_phi = phi.sin();
    let w = 1.0 - KRASOVSKY_EE * sin_phi * sin_phi;
    let sqrt_w = w.sqrt();
    // Meridian radius of curvature M = a (1 - e²) / w^(3/2); parallel radius N cos(phi) with
    // N = a / w^(1/2).
    let meridian_radius = KRASOVSKY_A * (1.0 - KRASOVSKY_EE) / (w * sqrt_w);
    let parallel_radius = KRASOVSKY_A / sqrt_w * phi.cos();
    let dlat = north * 180.0 / (meridian_radius * PI);
    let dlon = east * 180.0 / (parallel_radius * PI);
    (dlon, dlat)
}

/// WGS84 → GCJ-02. Identity outside the China box ([`in_china`] of the WGS84 point).
pub fn wgs84_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    if !in_china(lon, lat) {
        return (lon, lat);
    }
    let (dlon, dlat) = gcj02_offset(lon, lat);
    (lon + dlon, lat + dlat)
}

/// GCJ-02 → WGS84, inverted iteratively: round-trips [`wgs84_to_gcj02`] within about 0.1 mm.
/// Identity outside the China box ([`in_china`] of the GCJ-02 point).
pub fn gcj02_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    if !in_china(lon, lat) {
        return (lon, lat);
    }
    // Fixed-point iteration w <- w + (target - forward(w)), starting from the usual one-step
    // estimate (offset evaluated at the GCJ-02 point). The forward map used inside the
    // iteration is the smooth offset without the box test, so the iteration cannot get stuck
    // on the box edge.
    let (dlon, dlat) = gcj02_offset(lon, lat);
    let (mut wlon, mut wlat) = (lon - dlon, lat - dlat);
    for _ in 0..INVERSE_MAX_ITERATIONS {
        let (dlon, dlat) = gcj02_offset(wlon, wlat);
        let (elon, elat) = (lon - (wlon + dlon), lat - (wlat + dlat));
        wlon += elon;
        wlat += elat;
        if elon.abs() < INVERSE_TOLERANCE_DEG && elat.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (wlon, wlat)
}

/// GCJ-02 → BD-09 (Baidu's offset; applied everywhere, also outside China).
pub fn gcj02_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let r = lon.hypot(lat) + 0.00002 * (lat * BAIDU_X_PI).sin();
    let theta = lat.atan2(lon) + 0.000003 * (lon * BAIDU_X_PI).cos();
    (r * theta.cos() + BAIDU_DLON, r * theta.sin() + BAIDU_DLAT)
}

/// The usual one-step BD-09 → GCJ-02 (what most libraries return); off by up to 0.25 m.
fn bd09_to_gcj02_one_step(lon: f64, lat: f64) -> (f64, f64) {
    let x = lon - BAIDU_DLON;
    let y = lat - BAIDU_DLAT;
    let r = x.hypot(y) - 0.00002 * (y * BAIDU_X_PI).sin();
    let theta = y.atan2(x) - 0.000003 * (x * BAIDU_X_PI).cos();
    (r * theta.cos(), r * theta.sin())
}

/// BD-09 → GCJ-02, inverted iteratively so that BD-09 → GCJ-02 → BD-09 round-trips within
/// about 0.1 mm (the one-step formula most libraries use is off by up to 0.25 m).
pub fn bd09_to_gcj02(lon: f64, lat: f64) -> (f64, f64) {
    let (mut glon, mut glat) = bd09_to_gcj02_one_step(lon, lat);
    for _ in 0..INVERSE_MAX_ITERATIONS {
        let (blon, blat) = gcj02_to_bd09(glon, glat);
        let (elon, elat) = (lon - blon, lat - blat);
        glon += elon;
        glat += elat;
        if elon.abs() < INVERSE_TOLERANCE_DEG && elat.abs() < INVERSE_TOLERANCE_DEG {
            break;
        }
    }
    (glon, glat)
}

/// WGS84 → BD-09: [`wgs84_to_gcj02`] then [`gcj02_to_bd09`].
pub fn wgs84_to_bd09(lon: f64, lat: f64) -> (f64, f64) {
    let (glon, glat) = wgs84_to_gcj02(lon, lat);
    gcj02_to_bd09(glon, glat)
}

/// BD-09 → WGS84: [`bd09_to_gcj02`] then [`gcj02_to_wgs84`] (both iterative).
pub fn bd09_to_wgs84(lon: f64, lat: f64) -> (f64, f64) {
    let (glon, glat) = bd09_to_gcj02(lon, lat);
    gcj02_to_wgs84(glon, glat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Geometry, LineString, MultiPoint, Point, Polygon, coord, line_string, polygon};

    const GCJ_REFERENCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/gcj02_bd09_reference.csv"
    );
    const PROJ_REFERENCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/proj_reference.csv"
    );

    /// Libraries whose GCJ-02/BD-09 forward conversions agree with each other (README.md of the
    /// reference data); eviltransform uses a different ellipsoid axis and is left out.
    const REFERENCE_LIBS: [&str; 4] = ["gcoord", "coordtransform", "prcoords", "coord-convert"];

    /// About 111 km per degree of latitude (and of longitude at the equator). Good to 1 %,
    /// which is all a millimetre tolerance needs.
    const METRES_PER_DEGREE: f64 = 111_000.0;

    /// Approximate ground distance in metres between two nearby lon/lat points.
    fn metres(a: (f64, f64), b: (f64, f64)) -> f64 {
        let dx = (a.0 - b.0) * METRES_PER_DEGREE * a.1.to_radians().cos();
        let dy = (a.1 - b.1) * METRES_PER_DEGREE;
        dx.hypot(dy)
    }

    fn max_abs_diff(a: (f64, f64), b: (f64, f64)) -> f64 {
        (a.0 - b.0).abs().max((a.1 - b.1).abs())
    }

    fn read(path: &str) -> Vec<Vec<String>> {
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

    fn num(s: &str) -> f64 {
        s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    struct GcjRow {
        library: String,
        op: String,
        input: (f64, f64),
        output: (f64, f64),
    }

    impl GcjRow {
        /// The op without the inverse method suffix: "gcj02_to_wgs84_iterative_1e-6" ->
        /// "gcj02_to_wgs84".
        fn family(&self) -> &str {
            ["_approx", "_iterative", "_bisection"]
                .iter()
                .find_map(|suffix| self.op.find(suffix).map(|i| &self.op[..i]))
                .unwrap_or(&self.op)
        }
    }

    fn gcj_rows() -> Vec<GcjRow> {
        read(GCJ_REFERENCE)
            .into_iter()
            .map(|f| GcjRow {
                library: f[0].clone(),
                op: f[3].clone(),
                input: (num(&f[4]), num(&f[5])),
                output: (num(&f[6]), num(&f[7])),
            })
            .collect()
    }

    /// Our answer for an op family of the reference file.
    fn ours(family: &str, (lon, lat): (f64, f64)) -> (f64, f64) {
        match family {
            "wgs84_to_gcj02" => wgs84_to_gcj02(lon, lat),
            "gcj02_to_wgs84" => gcj02_to_wgs84(lon, lat),
            "wgs84_to_bd09" => wgs84_to_bd09(lon, lat),
            "bd09_to_wgs84" => bd09_to_wgs84(lon, lat),
            "gcj02_to_bd09" => gcj02_to_bd09(lon, lat),
            "bd09_to_gcj02" => bd09_to_gcj02(lon, lat),
            other => panic!("unexpected op {other}"),
        }
    }

    /// The same through the `Crs` API, to check it routes to the same functions.
    fn ours_via_crs(family: &str, p: (f64, f64)) -> Option<(f64, f64)> {
        let r = match family {
            "wgs84_to_gcj02" => Crs::Gcj02.from_wgs84(p.0, p.1),
            "gcj02_to_wgs84" => Crs::Gcj02.to_wgs84(p.0, p.1),
            "wgs84_to_bd09" => Crs::Bd09.from_wgs84(p.0, p.1),
            "bd09_to_wgs84" => Crs::Bd09.to_wgs84(p.0, p.1),
            _ => return None,
        };
        Some(r.expect("in range"))
    }

    fn china_rows(rows: &[GcjRow]) -> impl Iterator<Item = &GcjRow> {
        rows.iter().filter(|r| {
            REFERENCE_LIBS.contains(&r.library.as_str()) && in_china(r.input.0, r.input.1)
        })
    }

    #[test]
    fn forward_conversions_match_reference_libraries_to_1e8_degrees() {
        let rows = gcj_rows();
        let mut checked = 0;
        for row in china_rows(&rows) {
            if !["wgs84_to_gcj02", "gcj02_to_bd09", "wgs84_to_bd09"].contains(&row.op.as_str()) {
                continue;
            }
            let got = ours(&row.op, row.input);
            let diff = max_abs_diff(got, row.output);
            assert!(
                diff <= 1e-8,
                "{} {} {:?}: ours {got:?}, reference {:?}, diff {diff:e} deg",
                row.library,
                row.op,
                row.input,
                row.output
            );
            if let Some(via) = ours_via_crs(&row.op, row.input) {
                assert_eq!(via, got);
            }
            checked += 1;
        }
        // 3 Qingdao points x 4 libraries x 3 ops.
        assert_eq!(checked, 36);
    }

    /// The reference libraries' bd09_to_gcj02 is the one-step formula, which evaluates Baidu's
    /// perturbation (radius + 2e-5 sin(lat X_PI), angle + 3e-6 cos(lon X_PI)) at the shifted
    /// BD-09 point instead of the GCJ-02 point. The two points differ by up to r * 3e-6 +
    /// 2e-5 ~ 4e-4 degrees (r = |(lon, lat)| ~ 126 degrees in Qingdao), so the angle term is
    /// off by up to 3e-6 * X_PI * 4e-4 ~ 6e-8 rad, i.e. r * 6e-8 ~ 8e-6 degrees (~0.9 m); a
    /// scan of the China box finds at most 0.24 m (2.2e-6 degrees), 0.13 m at these rows.
    /// Our iterative inverse therefore may differ from those rows by up to 1e-5 degrees; and
    /// it must be closer to being an exact inverse than they are.
    #[test]
    fn bd09_to_gcj02_is_the_exact_inverse_and_close_to_the_one_step_reference() {
        let rows = gcj_rows();
        let mut checked = 0;
        let mut max_diff: f64 = 0.0;
        for row in china_rows(&rows).filter(|r| r.op == "bd09_to_gcj02") {
            let got = bd09_to_gcj02(row.input.0, row.input.1);
            let diff = max_abs_diff(got, row.output);
            max_diff = max_diff.max(diff);
            assert!(
                diff <= 1e-5,
                "{} {:?}: ours {got:?}, reference {:?}, diff {diff:e} deg",
                row.library,
                row.input,
                row.output
            );
            // Forward image of each answer vs the input: ours is exact, the one-step is not.
            let our_residual = max_abs_diff(gcj02_to_bd09(got.0, got.1), row.input);
            let ref_residual = max_abs_diff(gcj02_to_bd09(row.output.0, row.output.1), row.input);
            assert!(our_residual <= 1e-9, "residual {our_residual:e}");
            assert!(our_residual < ref_residual);
            // The distance between ours and the reference is the reference's own error, which
            // shows up (the forward map is the identity to within 2 %) as its residual.
            assert!(
                diff <= ref_residual * 1.05 + 1e-9,
                "diff {diff:e} vs reference residual {ref_residual:e}"
            );
            // And our private one-step formula is the one they use.
            let one = bd09_to_gcj02_one_step(row.input.0, row.input.1);
            assert!(
                max_abs_diff(one, row.output) <= 1e-8,
                "one-step formula {one:?}"
            );
            checked += 1;
        }
        assert_eq!(checked, 12);
        eprintln!("bd09_to_gcj02: max |iterative - one-step reference| = {max_diff:e} deg");
    }

    /// The reference libraries stop iterating at their own thresholds (1e-5 or 1e-6 degrees on
    /// the forward residual, i.e. up to a few millimetres), while ours iterates to 1e-9
    /// degrees. So each reference row is off the exact inverse by about its own residual
    /// |forward(reference) - input| (the forward maps are the identity to within 2 %), and
    /// ours must agree with it to that residual plus 0.5 mm (9-decimal rounding of the file is
    /// 0.06 mm), and in any case within 1 cm.
    #[test]
    fn iterative_inverses_match_reference_iterative_rows_within_a_few_mm() {
        let rows = gcj_rows();
        let mut checked = 0;
        for row in china_rows(&rows).filter(|r| r.op.contains("_iterative_")) {
            let family = row.family();
            let got = ours(family, row.input);
            let forward = match family {
                "gcj02_to_wgs84" => "wgs84_to_gcj02",
                "bd09_to_wgs84" => "wgs84_to_bd09",
                other => panic!("unexpected {other}"),
            };
            let our_residual = metres(ours(forward, got), row.input);
            let ref_residual = metres(ours(forward, row.output), row.input);
            let error = metres(got, row.output);
            eprintln!(
                "{} {} {:?}: |ours - reference| = {:.2} mm; residual of reference {:.2} mm, \
                 of ours {:.4} mm",
                row.library,
                row.op,
                row.input,
                error * 1e3,
                ref_residual * 1e3,
                our_residual * 1e3
            );
            assert!(our_residual < 0.0001, "{our_residual} m");
            assert!(
                error <= ref_residual * 1.05 + 0.0005 && error <= 0.01,
                "{} {}: {error} m",
                row.library,
                row.op
            );
            checked += 1;
        }
        // gcoord, coord-convert, prcoords gcj02_to_wgs84 and prcoords bd09_to_wgs84, 3 points.
        assert_eq!(checked, 12);
    }

    #[test]
    fn one_step_inverse_rows_are_what_we_improve_on() {
        // Sanity check of the reference data and of the reason for iterating: the "approx"
        // rows miss the true inverse by decimetres to metres.
        let rows = gcj_rows();
        for row in china_rows(&rows).filter(|r| r.op.ends_with("_approx")) {
            let exact = gcj02_to_wgs84(row.input.0, row.input.1);
            let error = metres(exact, row.output);
            assert!(error > 0.1 && error < 2.0, "{} {error} m", row.library);
        }
    }

    /// Grids of WGS84 points: every 0.01 degree over Qingdao, every 0.25 degree over the China
    /// box. Returns the worst round-trip error in metres for each conversion pair.
    #[test]
    fn round_trips_within_5_mm_over_qingdao_and_china() {
        let qingdao = grid((119.5, 121.0), (35.5, 37.0), 0.01);
        let china = grid((72.1, 137.7), (0.9, 55.7), 0.25);
        for (name, points) in [("Qingdao", qingdao), ("China", china)] {
            let mut worst = [0.0f64; 5];
            let mut n = 0;
            for &(lon, lat) in &points {
                let g = wgs84_to_gcj02(lon, lat);
                let b = gcj02_to_bd09(g.0, g.1);
                if !in_china(g.0, g.1) {
                    // Within the GCJ-02 offset of the box edge: the rule is ambiguous there.
                    continue;
                }
                n += 1;
                let errors = [
                    // WGS84 -> GCJ-02 -> WGS84
                    metres(gcj02_to_wgs84(g.0, g.1), (lon, lat)),
                    // GCJ-02 -> BD-09 -> GCJ-02
                    metres(bd09_to_gcj02(b.0, b.1), g),
                    // WGS84 -> BD-09 -> WGS84
                    metres(bd09_to_wgs84(b.0, b.1), (lon, lat)),
                    // Treat the point as GCJ-02 / BD-09 input: GCJ-02 -> WGS84 -> GCJ-02 and
                    // BD-09 -> GCJ-02 -> BD-09.
                    {
                        let w = gcj02_to_wgs84(lon, lat);
                        metres(wgs84_to_gcj02(w.0, w.1), (lon, lat))
                    },
                    {
                        let g2 = bd09_to_gcj02(lon, lat);
                        metres(gcj02_to_bd09(g2.0, g2.1), (lon, lat))
                    },
                ];
                for (w, e) in worst.iter_mut().zip(errors) {
                    *w = w.max(e);
                }
            }
            eprintln!(
                "{name} ({n} points), worst round trip in mm: wgs-gcj-wgs {:.6}, gcj-bd-gcj \
                 {:.6}, wgs-bd-wgs {:.6}, gcj-wgs-gcj {:.6}, bd-gcj-bd {:.6}",
                worst[0] * 1e3,
                worst[1] * 1e3,
                worst[2] * 1e3,
                worst[3] * 1e3,
                worst[4] * 1e3
            );
            assert!(n > 1000);
            for w in worst {
                assert!(w < 0.005, "{name}: {w} m");
            }
        }
    }

    fn grid(lons: (f64, f64), lats: (f64, f64), step: f64) -> Vec<(f64, f64)> {
        let nx = ((lons.1 - lons.0) / step).round() as usize;
        let ny = ((lats.1 - lats.0) / step).round() as usize;
        (0..=nx)
            .flat_map(|i| {
                (0..=ny).map(move |j| (lons.0 + i as f64 * step, lats.0 + j as f64 * step))
            })
            .collect()
    }

    /// Outside the China box the libraries disagree; our rule (GCJ-02 = identity, BD-09 =
    /// Baidu's offset of GCJ-02 everywhere) must side with the majority for every op.
    #[test]
    fn outside_china_rule_follows_the_majority_of_reference_libraries() {
        let rows = gcj_rows();
        let outside: Vec<&GcjRow> = rows
            .iter()
            .filter(|r| !in_china(r.input.0, r.input.1))
            .collect();
        assert!(!outside.is_empty());
        let mut families: Vec<&str> = outside.iter().map(|r| r.family()).collect();
        families.sort();
        families.dedup();
        assert_eq!(families.len(), 6, "{families:?}");
        for family in families {
            let (mut agree, mut disagree) = (Vec::new(), Vec::new());
            for row in outside.iter().filter(|r| r.family() == family) {
                let got = ours(family, row.input);
                // The competing answers (identity vs an offset) are hundreds of metres apart;
                // 2e-5 degrees (~2 m) absorbs the one-step-vs-iterative BD-09 inverse difference
                // (see the bd09_to_gcj02 test).
                if max_abs_diff(got, row.output) <= 2e-5 {
                    agree.push(format!("{} {}", row.library, row.op));
                } else {
                    disagree.push(format!("{} {}", row.library, row.op));
                }
            }
            eprintln!("outside China, {family}: agree {agree:?}, disagree {disagree:?}");
            if family == "bd09_to_wgs84" {
                // Only two rows: gcoord (BD-09 offset removed, GCJ-02 identity: our rule) and
                // prcoords' iterative inverse, which ignores the China box (its own
                // gcj02_to_wgs84_approx returns the input unchanged at the same point).
                assert_eq!(agree, ["gcoord bd09_to_wgs84"]);
            } else {
                assert!(agree.len() > disagree.len(), "{family}");
            }
        }
        // And the rule itself, at Tokyo.
        let tokyo = (139.6917, 35.6895);
        assert!(!in_china(tokyo.0, tokyo.1));
        assert_eq!(wgs84_to_gcj02(tokyo.0, tokyo.1), tokyo);
        assert_eq!(gcj02_to_wgs84(tokyo.0, tokyo.1), tokyo);
        assert_eq!(
            wgs84_to_bd09(tokyo.0, tokyo.1),
            gcj02_to_bd09(tokyo.0, tokyo.1)
        );
    }

    #[test]
    fn china_box_edges() {
        assert!(in_china(72.004, 0.8293));
        assert!(in_china(137.8347, 55.8271));
        assert!(in_china(120.3826, 36.0671));
        assert!(!in_china(72.0039, 30.0));
        assert!(!in_china(137.8348, 30.0));
        assert!(!in_china(100.0, 0.8292));
        assert!(!in_china(100.0, 55.8272));
        assert!(!in_china(f64::NAN, 30.0));
        assert!(!in_china(-120.0, 36.0));
    }

    // ----------------------------------------------------------------------------- PROJ

    /// Converts an official-axis-order pair to our (x, y) = (lon/easting, lat/northing).
    fn to_xy(axis1: f64, axis2: f64, order_first: &str) -> (f64, f64) {
        match order_first {
            "lat" | "northing" | "northing_X" => (axis2, axis1),
            "lon" | "easting" | "easting_Y" => (axis1, axis2),
            other => panic!("unknown axis {other}"),
        }
    }

    #[test]
    fn proj_conversions_match_reference() {
        let rows = read(PROJ_REFERENCE);
        let (mut forward, mut inverse) = (0, 0);
        for f in &rows {
            let (src, dst) = (f[2].as_str(), f[3].as_str());
            // Columns: tool, proj_version, src_crs, dst_crs, in_axis1, in_axis2, out_axis1,
            // out_axis2, then the output axis order as two fields.
            assert_eq!(f.len(), 10, "{f:?}");
            let (out_first, out_second) = (f[8].as_str(), f[9].as_str());
            assert_ne!(out_first, out_second);
            let src_crs = Crs::parse(src).unwrap();
            let dst_crs = Crs::parse(dst).unwrap();
            // Input in official order: latitude first for geographic, northing first for
            // EPSG:4549.
            let input = if src_crs.is_geographic() {
                to_xy(num(&f[4]), num(&f[5]), "lat")
            } else {
                to_xy(num(&f[4]), num(&f[5]), "northing")
            };
            let expected = to_xy(num(&f[6]), num(&f[7]), out_first);
            let wgs = src_crs.to_wgs84(input.0, input.1).unwrap();
            let got = dst_crs.from_wgs84(wgs.0, wgs.1).unwrap();
            if dst_crs.is_geographic() {
                let diff = max_abs_diff(got, expected);
                assert!(
                    diff <= 1e-9,
                    "{src}->{dst} {input:?}: {got:?} vs {expected:?}"
                );
                inverse += 1;
            } else {
                let diff = (got.0 - expected.0).hypot(got.1 - expected.1);
                assert!(
                    diff <= 0.001,
                    "{} {src}->{dst} {input:?}: ours {got:?}, reference {expected:?}, {diff} m",
                    f[0]
                );
                // And back.
                let back = dst_crs.to_wgs84(got.0, got.1).unwrap();
                assert!(
                    max_abs_diff(back, wgs) <= 1e-9,
                    "{dst} back: {back:?} vs {wgs:?}"
                );
                forward += 1;
            }
        }
        assert_eq!((forward, inverse), (30, 1));
    }

    #[test]
    fn geographic_epsg_codes_take_lon_lat() {
        // Beijing 1954: the old national datum, within ~100 m of WGS84 around Qingdao. If the
        // axis order were latitude first, the answer would be thousands of km away (or fail).
        let beijing54 = Crs::parse("EPSG:4214").unwrap();
        assert_eq!(beijing54, Crs::Epsg(4214));
        assert!(beijing54.is_geographic());
        let (lon, lat) = beijing54.to_wgs84(120.3826, 36.0671).unwrap();
        assert!(
            metres((lon, lat), (120.3826, 36.0671)) < 300.0,
            "{lon} {lat}"
        );
        let (x, y) = beijing54.from_wgs84(lon, lat).unwrap();
        assert!(max_abs_diff((x, y), (120.3826, 36.0671)) < 1e-9);
        assert!(matches!(
            beijing54.to_wgs84(181.0, 0.0),
            Err(CrsError::OutOfRange {
                axis: "longitude",
                ..
            })
        ));
    }

    #[test]
    fn proj_errors_are_transform_errors() {
        // Far outside the Gauss-Kruger projection's domain.
        let survey = Crs::parse("EPSG:4549").unwrap();
        let err = survey.to_wgs84(1e10, 1e10).unwrap_err();
        assert!(matches!(err, CrsError::Transform(_)), "{err:?}");
        assert!(err.to_string().contains("EPSG:4549"), "{err}");
        let err = survey
            .geometry_to_wgs84(&Geometry::Point(Point::new(1e10, 1e10)))
            .unwrap_err();
        assert!(matches!(err, CrsError::Transform(_)), "{err:?}");
    }

    #[test]
    fn proj_objects_are_cached_per_thread_and_work_on_many_threads() {
        let crs = Crs::parse("EPSG:4549").unwrap();
        let points: Vec<(f64, f64)> = grid((120.0, 120.6), (35.9, 36.4), 0.02);
        let expected: Vec<(f64, f64)> = points
            .iter()
            .map(|&(lon, lat)| crs.from_wgs84(lon, lat).unwrap())
            .collect();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for (p, e) in points.iter().zip(&expected) {
                        let got = crs.from_wgs84(p.0, p.1).unwrap();
                        assert_eq!(got, *e);
                        let back = crs.to_wgs84(got.0, got.1).unwrap();
                        assert!(max_abs_diff(back, *p) < 1e-9);
                    }
                });
            }
        });
        PROJ_CACHE.with(|c| {
            let c = c.borrow();
            assert!(c.contains_key(&(4549, Direction::FromWgs84)));
        });
    }

    #[test]
    fn per_thread_proj_cache_is_bounded() {
        // CGCS2000 3-degree Gauss-Kruger zones with the CM in the code name: EPSG:4534..=4554.
        std::thread::spawn(|| {
            for code in 4534..=4554u32 {
                let crs = Crs::from_epsg(code).unwrap();
                let cm = 75.0 + 3.0 * f64::from(code - 4534);
                let (e, n) = crs.from_wgs84(cm, 36.0).unwrap();
                assert!((e - 500_000.0).abs() < 1e-6, "EPSG:{code}: {e}");
                let back = crs.to_wgs84(e, n).unwrap();
                assert!(max_abs_diff(back, (cm, 36.0)) < 1e-9);
                let cached = PROJ_CACHE.with(|c| c.borrow().len());
                assert!((1..=MAX_CACHED_PER_THREAD).contains(&cached), "{cached}");
            }
        })
        .join()
        .unwrap();
    }

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
