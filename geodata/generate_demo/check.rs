//! Checks of the generated data before anything is written.

use geo::{Contains, Intersects, LineString, Point, Polygon, Validation, Winding};
use std::collections::BTreeMap;

use crate::Fix;
use crate::basemap::PAVEMENT_M;
use crate::geometry::{area2, coord, dist, dot, geo_polygon, sub, to_m};
use crate::layers::{Building, Demo};

/// Self-checks on the rounded output; any failure is a generator bug.
pub(crate) fn check(demo: &Demo) {
    let street_a2 = area2(&demo.street_ring);
    for (layer, regions, parents) in [
        ("communities", &demo.communities, None),
        ("grids", &demo.grids, Some(&demo.communities)),
        ("areas", &demo.areas, None),
    ] {
        for r in regions.iter() {
            let p = geo_polygon(&r.ring);
            assert!(p.is_valid(), "{layer} {} invalid", r.code);
            assert!(p.exterior().is_ccw(), "{layer} {} not ccw", r.code);
        }
        // Exact area bookkeeping: children add up to the parent, to the last unit.
        match parents {
            None => {
                let sum: i128 = regions.iter().map(|r| area2(&r.ring)).sum();
                assert_eq!(sum, street_a2, "{layer} do not add up to the street");
            }
            Some(parents) => {
                for parent in parents.iter() {
                    let sum: i128 = regions
                        .iter()
                        .filter(|r| r.parent_code == parent.code)
                        .map(|r| area2(&r.ring))
                        .sum();
                    assert_eq!(sum, area2(&parent.ring), "grids of {}", parent.code);
                }
            }
        }
    }
    let grid_polys: BTreeMap<&str, Polygon<f64>> = demo
        .grids
        .iter()
        .map(|g| (g.code.as_str(), geo_polygon(&g.ring)))
        .collect();
    let mut by_building: BTreeMap<&str, Polygon<f64>> = BTreeMap::new();
    for b in &demo.buildings {
        let p = geo_polygon(&b.ring);
        assert!(p.is_valid() && p.exterior().is_ccw(), "building {}", b.code);
        let grid_code = &b.code[..b.code.len() - 5];
        assert!(
            grid_polys[grid_code].contains(&p),
            "building {} outside its grid",
            b.code
        );
        for (other, q) in by_building.range(grid_code..) {
            if !other.starts_with(grid_code) {
                break;
            }
            assert!(!p.intersects(q), "buildings {} and {other} overlap", b.code);
        }
        by_building.insert(b.code.as_str(), p);
    }
    for h in &demo.households {
        let p = Point::from(coord(h.point));
        assert!(
            by_building[h.building_code.as_str()].contains(&p),
            "household {}",
            h.code
        );
    }
    assert!(demo.households.len() < 10_000, "phone numbers would repeat");

    // Basemap: roads clear of buildings, the sea clear of the street, ponds inside it.
    let street = geo_polygon(&demo.street_ring);
    let building_list: Vec<(&Building, Polygon<f64>)> = demo
        .buildings
        .iter()
        .map(|b| (b, geo_polygon(&b.ring)))
        .collect();
    let road_lines: Vec<LineString<f64>> = demo
        .roads
        .iter()
        .map(|r| LineString::new(r.line.iter().map(|&p| coord(p)).collect()))
        .collect();
    for (r, line) in demo.roads.iter().zip(&road_lines) {
        assert!(r.line.len() >= 2, "road {} is empty", r.name);
        for (b, p) in &building_list {
            assert!(!line.intersects(p), "road {} crosses {}", r.name, b.code);
        }
    }
    for w in &demo.water {
        let p = geo_polygon(&w.ring);
        assert!(p.is_valid() && p.exterior().is_ccw(), "water {}", w.name);
        match w.kind {
            "sea" => assert!(!p.intersects(&street), "{} reaches the street", w.name),
            _ => {
                assert!(street.contains(&p), "{} outside the street", w.name);
                for (b, bp) in &building_list {
                    assert!(!p.intersects(bp), "{} overlaps {}", w.name, b.code);
                }
                for (r, line) in demo.roads.iter().zip(&road_lines) {
                    assert!(!p.intersects(line), "{} crosses road {}", w.name, r.name);
                }
            }
        }
    }
    let shore = demo
        .water
        .iter()
        .filter(|w| w.kind == "sea")
        .map(|w| clearance(&w.ring, true, &demo.street_ring, true))
        .fold(f64::MAX, f64::min);
    println!("sea: at least {shore:.1} m from the street");
    for kind in ["primary", "secondary"] {
        let gap = demo
            .roads
            .iter()
            .filter(|r| r.kind == kind)
            .flat_map(|r| {
                demo.buildings
                    .iter()
                    .map(|b| clearance(&r.line, false, &b.ring, true))
            })
            .fold(f64::MAX, f64::min);
        println!("{kind} roads: buildings at least {gap:.1} m from the centre line");
    }
    for r in &demo.roads {
        for b in &demo.buildings {
            let gap = clearance(&r.line, false, &b.ring, true);
            assert!(
                gap >= f64::from(r.width_m) / 2.0 + PAVEMENT_M,
                "{} is on road {}",
                b.code,
                r.name
            );
        }
    }
}

/// Distance in metres from `p` to the segment `a`–`b`.
fn seg_dist(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let e = sub(b, a);
    let t = (dot(sub(p, a), e) / dot(e, e)).clamp(0.0, 1.0);
    dist(p, [a[0] + e[0] * t, a[1] + e[1] * t])
}

/// Least distance in metres between two polylines (rings if `closed`) that do not
/// cross: the least distance from a vertex of one to a segment of the other.
pub(crate) fn clearance(a: &[Fix], a_closed: bool, b: &[Fix], b_closed: bool) -> f64 {
    let segs = |r: &[Fix], closed: bool| -> Vec<([f64; 2], [f64; 2])> {
        let n = r.len();
        let m = if closed { n } else { n - 1 };
        (0..m).map(|k| (to_m(r[k]), to_m(r[(k + 1) % n]))).collect()
    };
    let (sa, sb) = (segs(a, a_closed), segs(b, b_closed));
    let one_way = |pts: &[Fix], segs: &[([f64; 2], [f64; 2])]| {
        pts.iter()
            .flat_map(|&p| segs.iter().map(move |&(s, e)| seg_dist(to_m(p), s, e)))
            .fold(f64::MAX, f64::min)
    };
    one_way(a, &sb).min(one_way(b, &sa))
}
