//! Compact GeoJSON output, one feature per line.

use serde_json::{Value, json};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::layers::Region;
use crate::{Fix, SCALE};

/// Writes a fixed-point coordinate with at most 7 decimals, trailing zeros dropped.
fn push_num(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    let (int, frac) = (a / 10_000_000, a % 10_000_000);
    write!(out, "{int}").unwrap();
    if frac != 0 {
        let digits = format!("{frac:07}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
}

fn push_pos(out: &mut String, p: Fix) {
    out.push('[');
    push_num(out, p[0]);
    out.push(',');
    push_num(out, p[1]);
    out.push(']');
}

pub(crate) fn polygon_json(ring: &[Fix]) -> String {
    let mut out = String::from(r#"{"type":"Polygon","coordinates":[["#);
    for &p in ring.iter().chain(ring.first()) {
        push_pos(&mut out, p);
        out.push(',');
    }
    out.pop();
    out.push_str("]]}");
    out
}

pub(crate) fn linestring_json(line: &[Fix]) -> String {
    let mut out = String::from(r#"{"type":"LineString","coordinates":["#);
    for &p in line {
        push_pos(&mut out, p);
        out.push(',');
    }
    out.pop();
    out.push_str("]}");
    out
}

pub(crate) fn point_json(p: Fix) -> String {
    let mut out = String::from(r#"{"type":"Point","coordinates":"#);
    push_pos(&mut out, p);
    out.push('}');
    out
}

/// One feature on one line. Properties keep the given order (written by hand so the
/// output does not depend on serde_json's `preserve_order` feature).
pub(crate) fn feature(props: &[(&str, Value)], geometry: String) -> String {
    let mut out = String::from(r#"{"type":"Feature","properties":{"#);
    for (k, (key, value)) in props.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        write!(out, "{}:{}", json!(key), value).unwrap();
    }
    write!(out, r#"}},"geometry":{geometry}}}"#).unwrap();
    out
}

pub(crate) fn region_feature(r: &Region) -> String {
    feature(
        &[
            ("code", json!(r.code)),
            ("name", json!(r.name)),
            ("parent_code", json!(r.parent_code)),
        ],
        polygon_json(&r.ring),
    )
}

pub(crate) fn write_layer(dir: &Path, name: &str, features: &[String]) -> usize {
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[\n");
    out.push_str(&features.join(",\n"));
    out.push_str("\n]}\n");
    let path = dir.join(format!("{name}.geojson"));
    fs::write(&path, &out).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    println!(
        "{:>14}: {:>6} features, {:>9} bytes",
        name,
        features.len(),
        out.len()
    );
    out.len()
}

/// A district outline around the street (illustrative; the real 市南区 is larger).
pub(crate) fn district_ring() -> Vec<Fix> {
    [
        (120.3050, 36.0560),
        (120.3180, 36.0480),
        (120.3400, 36.0470),
        (120.3600, 36.0440),
        (120.3820, 36.0460),
        (120.4050, 36.0420),
        (120.4300, 36.0500),
        (120.4420, 36.0620),
        (120.4350, 36.0780),
        (120.4100, 36.0830),
        (120.3900, 36.0860),
        (120.3650, 36.0840),
        (120.3400, 36.0790),
        (120.3200, 36.0760),
        (120.3080, 36.0680),
    ]
    .iter()
    .map(|&(x, y): &(f64, f64)| [(x * SCALE).round() as i64, (y * SCALE).round() as i64])
    .collect()
}
