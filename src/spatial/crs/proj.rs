//! EPSG codes through PROJ: which codes are accepted, and the cached PROJ transformations
//! that convert them to and from WGS84.

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::sync::{LazyLock, Mutex};

// `::proj` is the PROJ crate; this module is `crs::proj`.
use ::proj::Proj;

use super::{CrsError, check_finite, check_lon_lat};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EpsgKind {
    Geographic,
    Projected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Direction {
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

pub(super) fn epsg_kind(code: u32) -> Result<EpsgKind, CrsError> {
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
pub(super) fn with_proj<R>(
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

pub(super) fn epsg_to_wgs84(
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

pub(super) fn epsg_from_wgs84(
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;
    use crate::spatial::crs::{Crs, CrsError};
    use geo::{Geometry, Point};

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
}
