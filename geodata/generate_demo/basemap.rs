//! The background layers of the web map: roads along the lattice and the water.

use geo::{Validation, Winding};
use std::collections::BTreeMap;

use crate::check::clearance;
use crate::geometry::{area2, cross, dist, dot, geo_polygon, noise, norm, sub, to_fix, to_m};
use crate::lattice::{Lattice, cell_ij, cid, in_street, neighbours, vid};
use crate::layers::{Building, Region};
use crate::rng::Rng;
use crate::{COMMUNITIES, Fix, HK_GARDEN, NX, NY, SCALE};

/// A road: one run of consecutive lattice edges on one lattice line, of one kind.
pub(crate) struct Road {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) width_m: u32,
    pub(crate) line: Vec<Fix>,
}

/// A water body (the sea, or a pond in a park).
pub(crate) struct Water {
    pub(crate) name: String,
    pub(crate) kind: &'static str,
    pub(crate) ring: Vec<Fix>,
}

/// The road on the lattice line along the street's southern edge, by the sea.
const COASTAL_ROAD: &str = "东海西路";
/// Names for the other lattice lines, in Qingdao style (roads named after places,
/// many in Fujian). Some are real Qingdao road names; none is placed where it really is.
const ROAD_NAMES: [&str; 44] = [
    "珠海路",
    "燕儿岛路",
    "宁夏路",
    "闽江路",
    "漳州路",
    "彰化路",
    "云霄路",
    "福州南路",
    "澳门路",
    "仙游路",
    "龙岩路",
    "福清路",
    "莆田路",
    "长乐路",
    "古田路",
    "屏南路",
    "福安路",
    "永安路",
    "三明路",
    "南平路",
    "建宁路",
    "晋江路",
    "惠安路",
    "同安路",
    "德化路",
    "安溪路",
    "永春路",
    "南安路",
    "石狮路",
    "诏安路",
    "东山路",
    "平潭路",
    "罗源路",
    "连江路",
    "寿宁路",
    "周宁路",
    "政和路",
    "松溪路",
    "武夷路",
    "邵武路",
    "泰宁路",
    "将乐路",
    "上杭路",
    "永定路",
];
/// Nominal carriageway widths in metres: street outline (arteries), community
/// boundaries, grid boundaries. A road is narrower where a building stands close to it.
const WIDTH_ARTERY: u32 = 24;
const WIDTH_PRIMARY: u32 = 16;
const WIDTH_SECONDARY: u32 = 10;
/// Least gap in metres between a road's carriageway and a building (the pavement).
pub(crate) const PAVEMENT_M: f64 = 1.0;

/// A lattice line: the vertices (·, j) of row j, or (i, ·) of column i.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum LatticeLine {
    Row(usize),
    Col(usize),
}

impl LatticeLine {
    /// The edges of the line in order (west to east, or south to north): their two
    /// vertex ids and the cells on either side (south/west first), which may lie
    /// outside the lattice.
    fn edges(self) -> Vec<(usize, usize, [isize; 2], [isize; 2])> {
        match self {
            LatticeLine::Row(j) => (0..NX)
                .map(|i| {
                    let (ii, jj) = (i as isize, j as isize);
                    (vid(i, j), vid(i + 1, j), [ii, jj - 1], [ii, jj])
                })
                .collect(),
            LatticeLine::Col(i) => (0..NY)
                .map(|j| {
                    let (ii, jj) = (i as isize, j as isize);
                    (vid(i, j), vid(i, j + 1), [ii - 1, jj], [ii, jj])
                })
                .collect(),
        }
    }
}

/// Roads along every lattice edge that separates two grids (`secondary`), two
/// communities (`primary`) or the street from the outside (`primary`, the arteries
/// around the street). Consecutive edges of one kind on one lattice line are one road.
/// Buildings keep 4 m from their cell's edges, so no road crosses a building. A road
/// (all runs of one name and kind) gets its nominal width, narrowed to an even number of
/// metres so that its carriageway keeps `PAVEMENT_M` from every building.
pub(crate) fn roads(
    lat: &Lattice,
    communities: &[Region],
    grids: &[Region],
    buildings: &[Building],
) -> Vec<Road> {
    // (community, grid) of every street cell.
    let mut label: Vec<Option<(usize, usize)>> = vec![None; NX * NY];
    for (g, grid) in grids.iter().enumerate() {
        let ci = communities
            .iter()
            .position(|c| c.code == grid.parent_code)
            .expect("grid's community");
        for &c in &grid.cells {
            label[c] = Some((ci, g));
        }
    }
    let at = |[i, j]: [isize; 2]| -> Option<(usize, usize)> {
        if i < 0 || j < 0 || i as usize >= NX || j as usize >= NY {
            None
        } else {
            label[cid(i as usize, j as usize)]
        }
    };
    // Kind and width of the road on an edge between two cells, if any.
    let road_on = |a: Option<(usize, usize)>, b: Option<(usize, usize)>| match (a, b) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => Some(("primary", WIDTH_ARTERY)),
        (Some((ca, ga)), Some((cb, gb))) => {
            if ca != cb {
                Some(("primary", WIDTH_PRIMARY))
            } else if ga != gb {
                Some(("secondary", WIDTH_SECONDARY))
            } else {
                None
            }
        }
    };

    let lines: Vec<LatticeLine> = (0..=NY)
        .map(LatticeLine::Row)
        .chain((0..=NX).map(LatticeLine::Col))
        .collect();
    // Runs per line, and how many road edges of each line border each community.
    let mut runs: Vec<(LatticeLine, &'static str, u32, Vec<usize>)> = Vec::new();
    let mut borders: BTreeMap<LatticeLine, Vec<usize>> = BTreeMap::new();
    for &line in &lines {
        let mut open: Option<(&'static str, u32, Vec<usize>)> = None;
        for (from, to, a, b) in line.edges() {
            let (la, lb) = (at(a), at(b));
            let road = road_on(la, lb);
            if road.is_some() {
                let count = borders
                    .entry(line)
                    .or_insert_with(|| vec![0; communities.len()]);
                for (ci, _) in [la, lb].into_iter().flatten() {
                    count[ci] += 1;
                }
            }
            match (&mut open, road) {
                (Some((k, w, vs)), Some((kind, width))) if *k == kind && *w == width => {
                    vs.push(to);
                }
                _ => {
                    if let Some((k, w, vs)) = open.take() {
                        runs.push((line, k, w, vs));
                    }
                    open = road.map(|(kind, width)| (kind, width, vec![from, to]));
                }
            }
        }
        if let Some((k, w, vs)) = open {
            runs.push((line, k, w, vs));
        }
    }

    // Names: the coastal road, then each community's main road (the one used in its
    // addresses) on the line that borders it most, then the rest in order.
    let mut names: BTreeMap<LatticeLine, String> = BTreeMap::new();
    if borders.contains_key(&LatticeLine::Row(0)) {
        names.insert(LatticeLine::Row(0), COASTAL_ROAD.to_string());
    }
    // Greedily, best-bordering (community, line) pair first.
    let mut pairs: Vec<(usize, usize, LatticeLine)> = Vec::new();
    for (ci, comm) in communities.iter().enumerate() {
        for (&line, count) in &borders {
            // 香港中路 runs east-west.
            if comm.name != HK_GARDEN || matches!(line, LatticeLine::Row(_)) {
                pairs.push((count[ci], ci, line));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut named = vec![false; communities.len()];
    for (_, ci, line) in pairs {
        if named[ci] || names.contains_key(&line) {
            continue;
        }
        let &(_, road, _, _) = COMMUNITIES
            .iter()
            .find(|d| d.0 == communities[ci].name)
            .expect("community definition");
        names.insert(line, road.to_string());
        named[ci] = true;
    }
    let mut spare = ROAD_NAMES.iter();
    for &line in borders.keys() {
        names
            .entry(line)
            .or_insert_with(|| spare.next().expect("enough road names").to_string());
    }

    let mut roads: Vec<Road> = runs
        .into_iter()
        .map(|(line, kind, width_m, vs)| Road {
            name: names[&line].clone(),
            kind,
            width_m,
            line: vs.into_iter().map(|v| lat.v[v]).collect(),
        })
        .collect();
    // Keyed by name, kind and nominal width (arteries and community roads differ).
    let mut width: BTreeMap<(String, &str, u32), u32> = BTreeMap::new();
    for r in &roads {
        let gap = buildings
            .iter()
            .map(|b| clearance(&r.line, false, &b.ring, true))
            .fold(f64::MAX, f64::min);
        let fits = 2 * (gap - PAVEMENT_M).floor() as u32;
        let w = width
            .entry((r.name.clone(), r.kind, r.width_m))
            .or_insert(r.width_m);
        *w = (*w).min(fits);
    }
    for r in &mut roads {
        r.width_m = width[&(r.name.clone(), r.kind, r.width_m)];
        assert!(r.width_m >= 6, "road {} is too narrow", r.name);
    }
    roads
}

/// Shape of the coast (lon, lat), west to east: from the west end past a few small bays
/// and a headland at 120.356 (like 太平角), along the street's southern edge (the north
/// shore of the bay), out to a headland at 120.418 (like 燕儿岛), then north-east.
/// Illustrative, not the real coastline.
const COAST: [(f64, f64); 15] = [
    (120.2980, 36.0555),
    (120.3060, 36.0540),
    (120.3150, 36.0500),
    (120.3250, 36.0525),
    (120.3350, 36.0490),
    (120.3450, 36.0530),
    (120.3560, 36.0470),
    (120.3630, 36.0530),
    (120.3720, 36.0545),
    (120.3950, 36.0545),
    (120.4050, 36.0530),
    (120.4180, 36.0455),
    (120.4250, 36.0520),
    (120.4350, 36.0560),
    (120.4480, 36.0600),
];
/// The headlands that close the bay (indices into `COAST`).
const BAY_HEADLANDS: [usize; 2] = [6, 11];
/// Southern edge of the sea polygons.
const SEA_SOUTH_LAT: f64 = 36.0340;
/// Least distance between the street and the water line, in metres.
const SHORE_M: f64 = 60.0;
/// Spacing of the coastline's vertices, in metres.
const COAST_STEP_M: f64 = 40.0;

fn fix_deg(lon: f64, lat: f64) -> Fix {
    [(lon * SCALE).round() as i64, (lat * SCALE).round() as i64]
}

/// The sea south of the street: the bay (浮山湾) in front of the street and the open
/// sea (黄海) beyond it, two polygons that share the straight line between the two
/// headlands. The coast is a function of longitude (so the polygons are simple): the
/// interpolated shape of `COAST` plus some noise, held at least `SHORE_M` south of
/// every point of the street outline within 80 m east or west.
pub(crate) fn sea(street_ring: &[Fix]) -> Vec<Water> {
    let mut rng = Rng::new(0x5EED_0600);
    // The street outline sampled every few metres, in local metres.
    let n = street_ring.len();
    let mut street_pts: Vec<[f64; 2]> = Vec::new();
    for k in 0..n {
        let (a, b) = (to_m(street_ring[k]), to_m(street_ring[(k + 1) % n]));
        let steps = (dist(a, b) / 5.0).ceil() as usize;
        for s in 0..steps {
            let t = s as f64 / steps as f64;
            street_pts.push([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t]);
        }
    }
    let ctrl: Vec<[f64; 2]> = COAST
        .iter()
        .map(|&(lon, lat)| to_m(fix_deg(lon, lat)))
        .collect();
    let (x_w, x_e) = (ctrl[0][0], ctrl[ctrl.len() - 1][0]);
    let knots: Vec<f64> = (0..=((x_e - x_w) / 250.0) as usize)
        .map(|_| rng.range(-1.0, 1.0))
        .collect();
    let steps = ((x_e - x_w) / COAST_STEP_M).ceil() as usize;
    let mut coast: Vec<Fix> = Vec::with_capacity(steps + 1);
    for k in 0..=steps {
        let x = x_w + (x_e - x_w) * k as f64 / steps as f64;
        let seg = ctrl
            .windows(2)
            .position(|w| x <= w[1][0])
            .unwrap_or(ctrl.len() - 2);
        let (a, b) = (ctrl[seg], ctrl[seg + 1]);
        let t = ((x - a[0]) / (b[0] - a[0])).clamp(0.0, 1.0);
        let t = t * t * (3.0 - 2.0 * t);
        let mut y = a[1] + (b[1] - a[1]) * t + 20.0 * noise(&knots, k as f64 / steps as f64);
        let nearby = street_pts
            .iter()
            .filter(|p| (p[0] - x).abs() <= 2.0 * COAST_STEP_M)
            .map(|p| p[1])
            .fold(f64::MAX, f64::min);
        y = y.min(nearby - SHORE_M);
        let mut p = to_fix([x, y]);
        if k == 0 {
            p[0] = fix_deg(COAST[0].0, 0.0)[0];
        } else if k == steps {
            p[0] = fix_deg(COAST[COAST.len() - 1].0, 0.0)[0];
        }
        coast.push(p);
    }
    // The bay's mouth: the edge of the coast's lower convex hull that spans the bay,
    // from a vertex near the first headland to one near the second, so that the whole
    // bay shore lies north of it.
    let near = |k: usize, h: usize| (to_m(coast[k])[0] - ctrl[h][0]).abs() <= 400.0;
    let first = (0..coast.len())
        .find(|&k| near(k, BAY_HEADLANDS[0]))
        .unwrap();
    let last = (0..coast.len())
        .rfind(|&k| near(k, BAY_HEADLANDS[1]))
        .unwrap();
    let mut hull: Vec<usize> = Vec::new();
    for k in first..=last {
        while hull.len() >= 2
            && cross(
                coast[hull[hull.len() - 2]],
                coast[hull[hull.len() - 1]],
                coast[k],
            ) <= 0
        {
            hull.pop();
        }
        hull.push(k);
    }
    let mouth = hull
        .windows(2)
        .find(|w| near(w[0], BAY_HEADLANDS[0]) && near(w[1], BAY_HEADLANDS[1]))
        .expect("one straight mouth between the headlands");
    let tips = [mouth[0], mouth[1]];
    let south = fix_deg(0.0, SEA_SOUTH_LAT)[1];
    let (sw, se) = ([coast[0][0], south], [coast[coast.len() - 1][0], south]);
    let [a, b] = tips;
    // Counter-clockwise: along the south edge eastwards, then back along the coast.
    let full: Vec<Fix> = [sw, se]
        .into_iter()
        .chain(coast.iter().rev().copied())
        .collect();
    let bay: Vec<Fix> = [coast[a]]
        .into_iter()
        .chain(coast[a + 1..=b].iter().rev().copied())
        .collect();
    let open: Vec<Fix> = [sw, se]
        .into_iter()
        .chain(coast[b..].iter().rev().copied())
        .chain(coast[..=a].iter().rev().copied())
        .collect();
    for (what, ring) in [("sea", &full), ("bay", &bay), ("open sea", &open)] {
        let p = geo_polygon(ring);
        assert!(
            p.is_valid() && p.exterior().is_ccw(),
            "{what} polygon invalid"
        );
    }
    assert_eq!(area2(&bay) + area2(&open), area2(&full), "bay + sea != sea");
    vec![
        Water {
            name: "浮山湾".to_string(),
            kind: "sea",
            ring: bay,
        },
        Water {
            name: "黄海".to_string(),
            kind: "sea",
            ring: open,
        },
    ]
}

/// A pond in the park of one grid: in the largest lattice cell that has no building and
/// whose neighbours are all in the street, at least 15 m from the cell's edges (so it
/// touches no road and no building).
pub(crate) fn pond(
    lat: &Lattice,
    grids: &[Region],
    estate_of_grid: &[(String, String, u32)],
    buildings: &[Building],
) -> Option<Water> {
    const MARGIN_M: f64 = 15.0;
    let mut occupied = vec![false; NX * NY];
    for b in buildings {
        let grid_code = &b.code[..b.code.len() - 5];
        let g = grids
            .iter()
            .position(|g| g.code == grid_code)
            .expect("building's grid");
        let c = grids[g]
            .cells
            .iter()
            .copied()
            .find(|&c| {
                let q = lat.quad(c);
                (0..4).all(|k| cross(q[k], q[(k + 1) % 4], b.ring[0]) > 0)
            })
            .expect("building in one of its grid's cells");
        occupied[c] = true;
    }
    // Distance from the centroid to the nearest edge (the cell is convex).
    let inradius = |c: usize| {
        let q = lat.quad(c).map(to_m);
        let m = lat.cent[c];
        (0..4)
            .map(|k| {
                let (a, b) = (q[k], q[(k + 1) % 4]);
                let e = sub(b, a);
                (e[0] * (m[1] - a[1]) - e[1] * (m[0] - a[0])) / dot(e, e).sqrt()
            })
            .fold(f64::MAX, f64::min)
    };
    let (g, c) = grids
        .iter()
        .enumerate()
        .flat_map(|(g, grid)| grid.cells.iter().map(move |&c| (g, c)))
        .filter(|&(_, c)| !occupied[c])
        .filter(|&(_, c)| {
            let (i, j) = cell_ij(c);
            i > 0
                && j > 0
                && i + 1 < NX
                && j + 1 < NY
                && neighbours(c).all(|n| {
                    let (ni, nj) = cell_ij(n);
                    in_street(ni, nj)
                })
        })
        .max_by(|a, b| inradius(a.1).total_cmp(&inradius(b.1)).then(b.1.cmp(&a.1)))?;
    let r = inradius(c) - MARGIN_M;
    if r < 15.0 {
        return None;
    }
    let mut rng = Rng::new(0x5EED_0700);
    let q = lat.quad(c).map(to_m);
    let u = norm(sub(q[1], q[0]));
    let v = [-u[1], u[0]];
    let centre = lat.cent[c];
    // 20 directions, counter-clockwise (points of a square's outline, normalised), with
    // smoothly varying radius: an irregular ellipse, elongated along the cell.
    let mut knots: Vec<f64> = (0..6).map(|_| rng.range(0.0, 1.0)).collect();
    knots.push(knots[0]); // closes smoothly
    let mut ring = Vec::new();
    for side in 0..4 {
        for m in 0..5 {
            let s = -1.0 + 2.0 * m as f64 / 5.0;
            let d = norm(match side {
                0 => [1.0, s],
                1 => [-s, 1.0],
                2 => [-1.0, -s],
                _ => [s, -1.0],
            });
            let k = (side * 5 + m) as f64 / 20.0;
            let f = r * (0.75 + 0.25 * noise(&knots, k));
            let (a, b) = (d[0] * f, d[1] * f * 0.7);
            ring.push(to_fix([
                centre[0] + a * u[0] + b * v[0],
                centre[1] + a * u[1] + b * v[1],
            ]));
        }
    }
    Some(Water {
        name: format!("{}景观湖", estate_of_grid[g].0),
        kind: "pond",
        ring,
    })
}
