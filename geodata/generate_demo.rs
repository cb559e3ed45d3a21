//! Deterministic generator of the `wangge` demo data set (see `geodata/README.md`).
//!
//! ```text
//! cargo run --example generate_demo -- geodata/demo
//! git diff --exit-code geodata/demo
//! ```
//!
//! Everything is derived from fixed seeds through an inline splitmix64 generator, and
//! all arithmetic that reaches the output is IEEE `+ - * / sqrt` plus rounding (no
//! `sin`/`cos`, whose last bit may differ between platforms), so every run writes
//! byte-identical files.
//!
//! How the partition is made exact: all administrative polygons (street, communities,
//! grids, responsibility areas) are unions of the cells of one quadrilateral lattice.
//! The lattice vertices are rounded to 1e-7 degree *integers* first; a region's outline
//! is then traced from the lattice edges that separate it from cells outside it. Two
//! neighbouring regions therefore share exactly the same vertices along their common
//! boundary, and the areas add up exactly (checked here in integer arithmetic).
//!
//! Two background layers for the web map come from the same lattice: `roads` along the
//! lattice edges between communities and between grids (and around the street), and
//! `water`, the sea south of the street with a shore strip, plus a pond in a park.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use geo::{Contains, Coord, Intersects, LineString, Point, Polygon, Validation, Winding};
use serde_json::{Value, json};

// ───────────────────────────── constants ─────────────────────────────

/// Coordinates are handled as integers in units of 1e-7 degree.
type Fix = [i64; 2];
const SCALE: f64 = 1e7;

/// South-west anchor of the street lattice: 120.370 E, 36.055 N.
const LON0: i64 = 1_203_700_000;
const LAT0: i64 = 360_550_000;
/// Metres per degree at 36.06 N (WGS84 series); the test uses the same values.
const M_PER_DEG_LON: f64 = 90_095.3;
const M_PER_DEG_LAT: f64 = 110_960.1;

/// Lattice of NX × NY quadrilateral cells spanning about WIDTH_M × HEIGHT_M.
const NX: usize = 24;
const NY: usize = 20;
const WIDTH_M: f64 = 2_240.0;
const HEIGHT_M: f64 = 1_880.0;

const DISTRICT_CODE: &str = "370202";
const DISTRICT_NAME: &str = "市南区";
const STREET_CODE: &str = "370202010";
const STREET_NAME: &str = "珠海路街道";
const ADDRESS_PREFIX: &str = "山东省青岛市市南区珠海路街道";
const HK_GARDEN: &str = "香港花园社区";

/// Communities: name, main road (used in addresses), number of grids, grid naming
/// style (`true`: "…第N网格", `false`: "…<estate>片区"). The first one is the real case.
const COMMUNITIES: [(&str, &str, usize, bool); 6] = [
    (HK_GARDEN, "香港中路", 13, true),
    ("海门路社区", "海门路", 4, true),
    ("宁德路社区", "宁德路", 5, false),
    ("泉港路社区", "泉港路", 6, true),
    ("漳浦路社区", "漳浦路", 3, false),
    ("霞浦路社区", "霞浦路", 5, true),
];
/// Growth bonus (metres) for a responsibility area reaching across a grid boundary.
const AVOID_BONUS: f64 = 120.0;
/// Number of responsibility areas (民情责任田).
const N_AREAS: usize = 8;
/// The first HK_GARDEN_SHARED grids of 香港花园社区 all belong to one big estate.
const HK_GARDEN_SHARED: usize = 4;

/// Invented estate (小区) names, one per remaining grid.
const ESTATES: [&str; 34] = [
    "海韵花园",
    "福林苑",
    "松涛小区",
    "银海公寓",
    "青苑小区",
    "华侨新村",
    "碧海园",
    "观澜苑",
    "嘉和园",
    "金海湾花园",
    "东海花园",
    "澜湾小区",
    "宁德新村",
    "泉港小区",
    "闽江花园",
    "汇泉苑",
    "秀湖小区",
    "盈海园",
    "安和小区",
    "福瑞苑",
    "海天苑",
    "颐和小区",
    "鹏程苑",
    "紫荆花园",
    "翠海小区",
    "望海园",
    "清风苑",
    "丽景花园",
    "海岸名苑",
    "和悦小区",
    "明珠苑",
    "康乐小区",
    "长青园",
    "滨海新村",
];

/// Surnames (repeated entries make them more frequent; 于/姜/隋/曲/宫 are typical of Qingdao).
const SURNAMES: [&str; 40] = [
    "王", "王", "王", "张", "张", "张", "李", "李", "刘", "刘", "孙", "孙", "于", "于", "杨", "赵",
    "徐", "姜", "姜", "陈", "宋", "高", "周", "吴", "马", "郭", "林", "曲", "隋", "宫", "薛", "丁",
    "董", "韩", "袁", "邵", "崔", "栾", "臧", "逄",
];
const GIVEN: [&str; 48] = [
    "志", "文", "华", "明", "国", "英", "秀", "丽", "军", "平", "强", "玉", "兰", "红", "伟", "静",
    "敏", "芳", "海", "涛", "磊", "洋", "霞", "燕", "杰", "勇", "刚", "辉", "鹏", "琳", "娜", "倩",
    "婷", "雪", "宁", "波", "斌", "凯", "鑫", "浩", "宇", "晨", "欣", "悦", "建", "春", "梅", "林",
];
/// Household tags and the probability of each.
const TAGS: [(&str, f64); 6] = [
    ("elderly_alone", 0.05),
    ("party_member", 0.08),
    ("disabled", 0.02),
    ("low_income", 0.025),
    ("veteran", 0.02),
    ("child_left_behind", 0.008),
];

// ───────────────────────────── PRNG ─────────────────────────────

/// splitmix64 (Steele, Lea & Flood 2014).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// Uniform integer in lo..=hi.
    fn int(&mut self, lo: u32, hi: u32) -> u32 {
        lo + (self.next_u64() % u64::from(hi - lo + 1)) as u32
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next_u64() % xs.len() as u64) as usize]
    }
    /// Picks a value with integer weights.
    fn weighted<T: Copy>(&mut self, items: &[(T, u32)]) -> T {
        let total: u32 = items.iter().map(|&(_, w)| w).sum();
        let mut x = self.int(0, total - 1);
        for &(v, w) in items {
            if x < w {
                return v;
            }
            x -= w;
        }
        unreachable!()
    }
    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            xs.swap(i, j);
        }
    }
}

// ───────────────────────────── geometry helpers ─────────────────────────────

/// Local metres (east, north of the anchor) to rounded fixed-point lon/lat.
fn to_fix(p: [f64; 2]) -> Fix {
    [
        LON0 + (p[0] / M_PER_DEG_LON * SCALE).round() as i64,
        LAT0 + (p[1] / M_PER_DEG_LAT * SCALE).round() as i64,
    ]
}

/// Fixed-point lon/lat to local metres.
fn to_m(p: Fix) -> [f64; 2] {
    [
        (p[0] - LON0) as f64 / SCALE * M_PER_DEG_LON,
        (p[1] - LAT0) as f64 / SCALE * M_PER_DEG_LAT,
    ]
}

/// Exact cross product (b - a) × (c - a).
fn cross(a: Fix, b: Fix, c: Fix) -> i128 {
    i128::from(b[0] - a[0]) * i128::from(c[1] - a[1])
        - i128::from(b[1] - a[1]) * i128::from(c[0] - a[0])
}

/// Twice the signed area of a ring (not closed), exact.
fn area2(ring: &[Fix]) -> i128 {
    let n = ring.len();
    (0..n)
        .map(|k| {
            let (a, b) = (ring[k], ring[(k + 1) % n]);
            i128::from(a[0]) * i128::from(b[1]) - i128::from(b[0]) * i128::from(a[1])
        })
        .sum()
}

fn coord(p: Fix) -> Coord<f64> {
    Coord {
        x: p[0] as f64 / SCALE,
        y: p[1] as f64 / SCALE,
    }
}

fn geo_polygon(ring: &[Fix]) -> Polygon<f64> {
    Polygon::new(
        LineString::new(ring.iter().map(|&p| coord(p)).collect()),
        vec![],
    )
}

fn sub(a: [f64; 2], b: [f64; 2]) -> [f64; 2] {
    [a[0] - b[0], a[1] - b[1]]
}
fn dot(a: [f64; 2], b: [f64; 2]) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}
fn norm(a: [f64; 2]) -> [f64; 2] {
    let l = dot(a, a).sqrt();
    [a[0] / l, a[1] / l]
}
fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = sub(a, b);
    dot(d, d).sqrt()
}

/// Smooth 1-D value noise through `knots` random values, evaluated at s in [0, 1].
fn noise(knots: &[f64], s: f64) -> f64 {
    let n = knots.len() - 1;
    let x = s * n as f64;
    let i = (x.floor() as usize).min(n - 1);
    let t = x - i as f64;
    let t = t * t * (3.0 - 2.0 * t);
    knots[i] * (1.0 - t) + knots[i + 1] * t
}

// ───────────────────────────── lattice ─────────────────────────────

fn vid(i: usize, j: usize) -> usize {
    j * (NX + 1) + i
}
fn cid(i: usize, j: usize) -> usize {
    j * NX + i
}
fn cell_ij(c: usize) -> (usize, usize) {
    (c % NX, c / NX)
}

/// Cells that belong to the street (an irregular outline with a few notches).
fn in_street(i: usize, j: usize) -> bool {
    let notch = (i < 4 && j < 3)
        || ((11..15).contains(&i) && j < 2)
        || (i >= 19 && j >= 15)
        || (i < 2 && j >= 17)
        || (i >= 22 && (5..9).contains(&j));
    !notch
}

struct Lattice {
    /// (NX+1)·(NY+1) vertices, already rounded to 1e-7 degree.
    v: Vec<Fix>,
    /// NX·NY cell centroids in local metres.
    cent: Vec<[f64; 2]>,
}

impl Lattice {
    /// A Coons patch between four wavy boundary curves, with uneven row and column
    /// spacing and a few metres of jitter on every vertex, rounded to fixed point.
    fn build(rng: &mut Rng) -> Lattice {
        let knots = |rng: &mut Rng| -> Vec<f64> { (0..7).map(|_| rng.range(-1.0, 1.0)).collect() };
        let (kb, kt, kl, kr) = (knots(rng), knots(rng), knots(rng), knots(rng));
        let (ab, at, al, ar) = (95.0, 70.0, 80.0, 70.0);
        let lines = |rng: &mut Rng, n: usize| -> Vec<f64> {
            (0..=n)
                .map(|k| {
                    if k == 0 || k == n {
                        k as f64 / n as f64
                    } else {
                        (k as f64 + rng.range(-0.22, 0.22)) / n as f64
                    }
                })
                .collect()
        };
        let su = lines(rng, NX);
        let sv = lines(rng, NY);
        let env = |s: f64| 4.0 * s * (1.0 - s);
        let mut v = Vec::with_capacity((NX + 1) * (NY + 1));
        for &t in &sv {
            for &s in &su {
                let bottom = [s * WIDTH_M, ab * noise(&kb, s) * env(s)];
                let top = [s * WIDTH_M, HEIGHT_M + at * noise(&kt, s) * env(s)];
                let left = [al * noise(&kl, t) * env(t), t * HEIGHT_M];
                let right = [WIDTH_M + ar * noise(&kr, t) * env(t), t * HEIGHT_M];
                let x = (1.0 - t) * bottom[0] + t * top[0] + (1.0 - s) * left[0] + s * right[0]
                    - s * WIDTH_M;
                let y = (1.0 - t) * bottom[1] + t * top[1] + (1.0 - s) * left[1] + s * right[1]
                    - t * HEIGHT_M;
                let jx = rng.range(-5.0, 5.0);
                let jy = rng.range(-5.0, 5.0);
                v.push(to_fix([x + jx, y + jy]));
            }
        }
        let mut lat = Lattice { v, cent: vec![] };
        lat.remove_collinear();
        lat.check_convex();
        lat.cent = (0..NX * NY).map(|c| lat.centroid_m(c)).collect();
        lat
    }

    /// Nudges any vertex that is exactly collinear with its two lattice neighbours
    /// on a lattice line, so that no outline carries a redundant vertex.
    fn remove_collinear(&mut self) {
        loop {
            let mut changed = false;
            for j in 0..=NY {
                for i in 0..=NX {
                    let mut pairs = Vec::new();
                    if i > 0 && i < NX {
                        pairs.push((vid(i - 1, j), vid(i + 1, j)));
                    }
                    if j > 0 && j < NY {
                        pairs.push((vid(i, j - 1), vid(i, j + 1)));
                    }
                    for (a, b) in pairs {
                        if cross(self.v[a], self.v[vid(i, j)], self.v[b]) == 0 {
                            self.v[vid(i, j)][1] += 1;
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                return;
            }
        }
    }

    fn quad(&self, c: usize) -> [Fix; 4] {
        let (i, j) = cell_ij(c);
        [
            self.v[vid(i, j)],
            self.v[vid(i + 1, j)],
            self.v[vid(i + 1, j + 1)],
            self.v[vid(i, j + 1)],
        ]
    }

    fn check_convex(&self) {
        for c in 0..NX * NY {
            let q = self.quad(c);
            for k in 0..4 {
                assert!(
                    cross(q[k], q[(k + 1) % 4], q[(k + 2) % 4]) > 0,
                    "lattice cell {c} is not strictly convex"
                );
            }
        }
    }

    fn centroid_m(&self, c: usize) -> [f64; 2] {
        let q = self.quad(c).map(to_m);
        [
            (q[0][0] + q[1][0] + q[2][0] + q[3][0]) / 4.0,
            (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4.0,
        ]
    }

    /// The outline of a set of cells as one counter-clockwise ring, or `None` if the
    /// set is not a single simple polygon (disconnected, with a hole, or pinched at a
    /// vertex). Every vertex is a lattice vertex, so neighbours share them exactly.
    fn outline(&self, cells: &[usize]) -> Option<Vec<Fix>> {
        let mut member = vec![false; NX * NY];
        for &c in cells {
            member[c] = true;
        }
        let is_member = |i: isize, j: isize| {
            i >= 0
                && j >= 0
                && (i as usize) < NX
                && (j as usize) < NY
                && member[cid(i as usize, j as usize)]
        };
        let mut next: BTreeMap<usize, usize> = BTreeMap::new();
        for &c in cells {
            let (i, j) = cell_ij(c);
            let (a, b, cc, d) = (vid(i, j), vid(i + 1, j), vid(i + 1, j + 1), vid(i, j + 1));
            let (ii, jj) = (i as isize, j as isize);
            for (from, to, ni, nj) in [
                (a, b, ii, jj - 1),
                (b, cc, ii + 1, jj),
                (cc, d, ii, jj + 1),
                (d, a, ii - 1, jj),
            ] {
                if !is_member(ni, nj) && next.insert(from, to).is_some() {
                    return None; // pinch: two boundary edges leave one vertex
                }
            }
        }
        let start = *next.keys().next()?;
        let mut ring = vec![start];
        let mut cur = next.remove(&start)?;
        while cur != start {
            ring.push(cur);
            cur = next.remove(&cur)?;
        }
        if !next.is_empty() {
            return None; // a second ring: hole or second component
        }
        let ring: Vec<Fix> = ring.into_iter().map(|k| self.v[k]).collect();
        let n = ring.len();
        for k in 0..n {
            assert!(
                cross(ring[k], ring[(k + 1) % n], ring[(k + 2) % n]) != 0,
                "collinear outline vertex"
            );
        }
        assert!(area2(&ring) > 0, "outline is not counter-clockwise");
        Some(ring)
    }
}

fn neighbours(c: usize) -> impl Iterator<Item = usize> {
    let (i, j) = cell_ij(c);
    let mut out = Vec::with_capacity(4);
    if j > 0 {
        out.push(cid(i, j - 1));
    }
    if i + 1 < NX {
        out.push(cid(i + 1, j));
    }
    if j + 1 < NY {
        out.push(cid(i, j + 1));
    }
    if i > 0 {
        out.push(cid(i - 1, j));
    }
    out.into_iter()
}

// ───────────────────────────── partitioning ─────────────────────────────

/// Splits `cells` into `targets.len()` contiguous regions of roughly proportional size:
/// seeds by farthest-point sampling, then the relatively smallest region repeatedly
/// takes the adjacent free cell nearest to its running centroid (plus per-cell noise).
fn grow(
    cells: &[usize],
    cent: &[[f64; 2]],
    targets: &[f64],
    avoid: Option<&[usize]>,
    rng: &mut Rng,
) -> Vec<Vec<usize>> {
    const FREE: usize = usize::MAX;
    let k = targets.len();
    let mut owner = vec![FREE; NX * NY];
    let mut available = vec![false; NX * NY];
    for &c in cells {
        available[c] = true;
    }
    let noise: Vec<f64> = (0..NX * NY).map(|_| rng.range(0.0, 60.0)).collect();
    let mut seeds = vec![cells[(rng.next_u64() % cells.len() as u64) as usize]];
    while seeds.len() < k {
        let mut best = (f64::MIN, 0);
        for &c in cells {
            let d = seeds
                .iter()
                .map(|&s| dist(cent[c], cent[s]))
                .fold(f64::MAX, f64::min)
                + rng.range(0.0, 80.0);
            if d > best.0 {
                best = (d, c);
            }
        }
        seeds.push(best.1);
    }
    let mut members: Vec<Vec<usize>> = seeds.iter().map(|&s| vec![s]).collect();
    let mut sum: Vec<[f64; 2]> = seeds.iter().map(|&s| cent[s]).collect();
    for (r, &s) in seeds.iter().enumerate() {
        owner[s] = r;
    }
    let mut left = cells.len() - k;
    while left > 0 {
        let mut order: Vec<usize> = (0..k).collect();
        order.sort_by(|&a, &b| {
            let fa = members[a].len() as f64 / targets[a];
            let fb = members[b].len() as f64 / targets[b];
            fa.total_cmp(&fb).then(a.cmp(&b))
        });
        let mut grown = false;
        for r in order {
            let n = members[r].len() as f64;
            let centre = [sum[r][0] / n, sum[r][1] / n];
            let mut best: Option<(f64, usize)> = None;
            for &m in &members[r] {
                for nb in neighbours(m) {
                    if available[nb] && owner[nb] == FREE {
                        // Prefer cells that fill in notches: smoother, road-like edges.
                        let hugged = neighbours(nb).filter(|&x| owner[x] == r).count() as f64;
                        // With `avoid`, also prefer to reach across its boundaries, so
                        // that the new boundaries run through its regions instead.
                        let across = avoid.map_or(0.0, |label| {
                            neighbours(nb)
                                .filter(|&x| owner[x] == r && label[x] != label[nb])
                                .count() as f64
                        });
                        let cost = dist(cent[nb], centre) + noise[nb]
                            - 70.0 * hugged
                            - AVOID_BONUS * across;
                        if best.is_none_or(|(bc, bn)| cost < bc || (cost == bc && nb < bn)) {
                            best = Some((cost, nb));
                        }
                    }
                }
            }
            if let Some((_, nb)) = best {
                owner[nb] = r;
                members[r].push(nb);
                sum[r] = [sum[r][0] + cent[nb][0], sum[r][1] + cent[nb][1]];
                left -= 1;
                grown = true;
                break;
            }
        }
        assert!(grown, "cell set is not connected");
    }
    for m in &mut members {
        m.sort_unstable();
    }
    members
}

/// Orders regions north to south in bands of `band` metres, then west to east.
fn reading_order(regions: &[Vec<usize>], cent: &[[f64; 2]], band: f64) -> Vec<usize> {
    let key = |r: &Vec<usize>| {
        let n = r.len() as f64;
        let x = r.iter().map(|&c| cent[c][0]).sum::<f64>() / n;
        let y = r.iter().map(|&c| cent[c][1]).sum::<f64>() / n;
        (-((y / band).floor() as i64), x)
    };
    let mut idx: Vec<usize> = (0..regions.len()).collect();
    idx.sort_by(|&a, &b| {
        let (ka, kb) = (key(&regions[a]), key(&regions[b]));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    idx
}

/// Repeats `grow` with fresh random streams until every region is a simple polygon
/// with at least `min_cells` cells and `accept` agrees.
fn partition(
    lat: &Lattice,
    cells: &[usize],
    targets: &[f64],
    min_cells: usize,
    seed: u64,
    avoid: Option<&[usize]>,
    accept: impl Fn(&[Vec<usize>]) -> bool,
) -> Vec<(Vec<usize>, Vec<Fix>)> {
    for attempt in 0..10_000u64 {
        let mut rng = Rng::new(seed ^ attempt.wrapping_mul(0xA24B_AED4_963E_E407));
        let regions = grow(cells, &lat.cent, targets, avoid, &mut rng);
        if regions.iter().any(|r| r.len() < min_cells) || !accept(&regions) {
            continue;
        }
        let outlines: Option<Vec<Vec<Fix>>> = regions.iter().map(|r| lat.outline(r)).collect();
        if let Some(outlines) = outlines {
            return regions.into_iter().zip(outlines).collect();
        }
    }
    panic!("no valid partition found for seed {seed:#x}");
}

// ───────────────────────────── layers ─────────────────────────────

struct Region {
    code: String,
    name: String,
    parent_code: String,
    cells: Vec<usize>,
    ring: Vec<Fix>,
}

#[derive(Clone, Copy)]
enum Kind {
    LowRise,
    Block,
    MidRise,
    HighRise,
}

struct Building {
    code: String,
    name: String,
    address: String,
    floors: u32,
    units: u32,
    ring: Vec<Fix>,
}

struct Household {
    code: String,
    building_code: String,
    unit: u32,
    floor: u32,
    room: String,
    address: String,
    head_name: String,
    phone: String,
    people: u32,
    tags: Vec<&'static str>,
    point: Fix,
}

/// An oriented rectangle in local metres.
struct Rect {
    c: [f64; 2],
    u: [f64; 2],
    v: [f64; 2],
    half_len: f64,
    half_wid: f64,
}

impl Rect {
    fn at(&self, a: f64, b: f64) -> [f64; 2] {
        [
            self.c[0] + a * self.u[0] + b * self.v[0],
            self.c[1] + a * self.u[1] + b * self.v[1],
        ]
    }
    /// Corners, counter-clockwise (u points roughly east, v = u rotated 90°).
    fn corners(&self) -> [[f64; 2]; 4] {
        let (l, w) = (self.half_len, self.half_wid);
        [
            self.at(-l, -w),
            self.at(l, -w),
            self.at(l, w),
            self.at(-l, w),
        ]
    }
    /// Separating-axis test with `gap` metres of clearance.
    fn clear_of(&self, o: &Rect, gap: f64) -> bool {
        let d = sub(o.c, self.c);
        [self.u, self.v, o.u, o.v].iter().any(|&ax| {
            let r1 = self.half_len * dot(self.u, ax).abs() + self.half_wid * dot(self.v, ax).abs();
            let r2 = o.half_len * dot(o.u, ax).abs() + o.half_wid * dot(o.v, ax).abs();
            dot(d, ax).abs() >= r1 + r2 + gap
        })
    }
}

/// Chinese numeral for 1..=99.
fn cn_number(n: usize) -> String {
    const D: [&str; 10] = ["", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
    match n {
        1..=9 => D[n].to_string(),
        10 => "十".to_string(),
        11..=19 => format!("十{}", D[n - 10]),
        20..=99 => format!("{}十{}", D[n / 10], D[n % 10]),
        _ => n.to_string(),
    }
}

/// Everything the generator produces.
struct Demo {
    street_ring: Vec<Fix>,
    communities: Vec<Region>,
    grids: Vec<Region>,
    areas: Vec<Region>,
    buildings: Vec<Building>,
    households: Vec<Household>,
    water: Vec<Water>,
    roads: Vec<Road>,
}

/// For a grouping into responsibility areas: (area-boundary lattice edges that run
/// inside a grid, all area-boundary lattice edges, grids split between several areas).
fn area_stats(
    regions: &[Vec<usize>],
    grid_of: &[usize],
    grids: &[Region],
) -> (usize, usize, usize) {
    let mut area_of = vec![usize::MAX; NX * NY];
    for (a, r) in regions.iter().enumerate() {
        for &c in r {
            area_of[c] = a;
        }
    }
    let (mut area_edges, mut crossing) = (0, 0);
    for c in 0..NX * NY {
        if area_of[c] == usize::MAX {
            continue;
        }
        for nb in neighbours(c) {
            if nb > c && area_of[nb] != usize::MAX && area_of[nb] != area_of[c] {
                area_edges += 1;
                if grid_of[nb] == grid_of[c] {
                    crossing += 1;
                }
            }
        }
    }
    let split = grids
        .iter()
        .filter(|g| {
            let mut a: Vec<usize> = g.cells.iter().map(|&c| area_of[c]).collect();
            a.sort_unstable();
            a.dedup();
            a.len() > 1
        })
        .count();
    (crossing, area_edges, split)
}

/// Every step in order; each makes one layer (or what later layers are placed in) from its own
/// fixed seed.
fn generate() -> Demo {
    let lat = Lattice::build(&mut Rng::new(0x5EED_0001));
    let street_cells = street_cells();
    let street_ring = lat.outline(&street_cells).expect("street outline");
    let (communities, comm_def) = communities(&lat, &street_cells);
    let (mut grids, grid_comm) = grids(&lat, &communities, &comm_def);
    let areas = areas(&lat, &street_cells, &grids);
    let estate_of_grid = estates(&mut grids, &grid_comm, &comm_def, communities.len());
    let (buildings, households) =
        buildings_and_households(&lat, &grids, &grid_comm, &comm_def, &estate_of_grid);
    let roads = roads(&lat, &communities, &grids, &buildings);
    let mut water = sea(&street_ring);
    water.extend(pond(&lat, &grids, &estate_of_grid, &buildings));

    Demo {
        street_ring,
        communities,
        grids,
        areas,
        buildings,
        households,
        water,
        roads,
    }
}

/// The lattice cells inside the street.
fn street_cells() -> Vec<usize> {
    (0..NX * NY)
        .filter(|&c| {
            let (i, j) = cell_ij(c);
            in_street(i, j)
        })
        .collect()
}

/// The communities in code order, and the [`COMMUNITIES`] index of each. Their sizes are
/// proportional to their number of grids (denser in 香港花园).
fn communities(lat: &Lattice, street_cells: &[usize]) -> (Vec<Region>, Vec<usize>) {
    let weights: Vec<f64> = COMMUNITIES
        .iter()
        .map(|&(_, _, g, _)| g as f64 * if g >= 10 { 10.0 } else { 14.0 })
        .collect();
    let comm_parts = partition(lat, street_cells, &weights, 12, 0x5EED_0002, None, |_| true);
    let order = reading_order(
        &comm_parts
            .iter()
            .map(|(c, _)| c.clone())
            .collect::<Vec<_>>(),
        &lat.cent,
        500.0,
    );
    let mut communities = Vec::new();
    let mut comm_def = Vec::new(); // COMMUNITIES index per community, in code order
    for (n, &r) in order.iter().enumerate() {
        let (cells, ring) = comm_parts[r].clone();
        communities.push(Region {
            code: format!("{STREET_CODE}{:03}", n + 1),
            name: COMMUNITIES[r].0.to_string(),
            parent_code: STREET_CODE.to_string(),
            cells,
            ring,
        });
        comm_def.push(r);
    }
    (communities, comm_def)
}

/// The grids within each community, unnamed (see [`estates`]), and the community index of each.
fn grids(lat: &Lattice, communities: &[Region], comm_def: &[usize]) -> (Vec<Region>, Vec<usize>) {
    let mut grids = Vec::new();
    let mut grid_comm = Vec::new(); // community index per grid
    for (ci, comm) in communities.iter().enumerate() {
        let def = COMMUNITIES[comm_def[ci]];
        let targets = vec![1.0; def.2];
        let parts = partition(
            lat,
            &comm.cells,
            &targets,
            4,
            0x5EED_0100 + comm_def[ci] as u64,
            None,
            |_| true,
        );
        let order = reading_order(
            &parts.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>(),
            &lat.cent,
            280.0,
        );
        for (n, &r) in order.iter().enumerate() {
            let (cells, ring) = parts[r].clone();
            grids.push(Region {
                code: format!("{}{:03}", comm.code, n + 1),
                name: String::new(), // named by `estates`, once estates are known
                parent_code: comm.code.clone(),
                cells,
                ring,
            });
            grid_comm.push(ci);
        }
    }
    (grids, grid_comm)
}

/// Responsibility areas: a second, independent grouping of the same cells, accepted only if it
/// cuts across most grids.
fn areas(lat: &Lattice, street_cells: &[usize], grids: &[Region]) -> Vec<Region> {
    let mut grid_of = vec![usize::MAX; NX * NY];
    for (g, grid) in grids.iter().enumerate() {
        for &c in &grid.cells {
            grid_of[c] = g;
        }
    }
    let area_parts = partition(
        lat,
        street_cells,
        &[1.0; N_AREAS],
        20,
        0x5EED_0200,
        Some(&grid_of),
        |regions| {
            let (crossing, area_edges, split) = area_stats(regions, &grid_of, grids);
            crossing * 10 >= area_edges * 8 && split * 4 >= grids.len() * 3
        },
    );
    let (crossing, area_edges, split) = area_stats(
        &area_parts
            .iter()
            .map(|(c, _)| c.clone())
            .collect::<Vec<_>>(),
        &grid_of,
        grids,
    );
    println!(
        "areas: {crossing} of {area_edges} lattice edges of area boundaries run inside a grid; \
         {split} of {} grids are split between areas",
        grids.len()
    );
    reading_order(
        &area_parts
            .iter()
            .map(|(c, _)| c.clone())
            .collect::<Vec<_>>(),
        &lat.cent,
        600.0,
    )
    .into_iter()
    .enumerate()
    .map(|(n, r)| Region {
        code: format!("{STREET_CODE}-Q{:02}", n + 1),
        name: format!("{STREET_NAME}民情责任田{:02}", n + 1),
        parent_code: STREET_CODE.to_string(),
        cells: area_parts[r].0.clone(),
        ring: area_parts[r].1.clone(),
    })
    .collect()
}

/// A residential estate (小区): its name, the road its gate is on and the gate's number.
type Estate = (String, String, u32);

/// The estate of each grid: one per grid, except that the first grids of 香港花园社区 share one.
/// Names the grids too, since most are named after their estate.
fn estates(
    grids: &mut [Region],
    grid_comm: &[usize],
    comm_def: &[usize],
    n_communities: usize,
) -> Vec<Estate> {
    let mut estate_of_grid = Vec::new();
    let mut next_estate = ESTATES.iter();
    let mut gate: BTreeMap<&str, u32> = BTreeMap::new();
    let mut rng = Rng::new(0x5EED_0300);
    let mut hk_estate: Option<Estate> = None;
    let mut seen_in_comm = vec![0usize; n_communities];
    for (g, grid) in grids.iter_mut().enumerate() {
        let ci = grid_comm[g];
        let def = COMMUNITIES[comm_def[ci]];
        seen_in_comm[ci] += 1;
        let nth = seen_in_comm[ci];
        let road = def.1;
        let mut new_estate = |name: String, rng: &mut Rng| {
            let n = gate.entry(road).or_insert(0);
            *n += rng.int(2, 14);
            (name, road.to_string(), *n)
        };
        let estate = if def.0 == HK_GARDEN && nth <= HK_GARDEN_SHARED {
            hk_estate
                .get_or_insert_with(|| new_estate("香港花园小区".to_string(), &mut rng))
                .clone()
        } else {
            let name = next_estate.next().expect("enough estate names");
            new_estate(name.to_string(), &mut rng)
        };
        grid.name = if def.3 {
            format!("{}第{}网格", def.0, cn_number(nth))
        } else {
            format!("{}{}片区", def.0, estate.0)
        };
        estate_of_grid.push(estate);
    }
    estate_of_grid
}

/// The buildings of every grid and the households living in them. Buildings are placed cell by
/// cell (at most three per cell, clear of each other and of the cell's edges) until the grid
/// houses its target number of households.
fn buildings_and_households(
    lat: &Lattice,
    grids: &[Region],
    grid_comm: &[usize],
    comm_def: &[usize],
    estate_of_grid: &[Estate],
) -> (Vec<Building>, Vec<Household>) {
    let mut brng = Rng::new(0x5EED_0400);
    let mut hrng = Rng::new(0x5EED_0500);
    let mut buildings = Vec::new();
    let mut households = Vec::new();
    let mut building_no: BTreeMap<String, u32> = BTreeMap::new();
    for (g, grid) in grids.iter().enumerate() {
        let hk = COMMUNITIES[comm_def[grid_comm[g]]].0 == HK_GARDEN;
        let target = (if hk {
            brng.int(210, 250)
        } else {
            brng.int(130, 170)
        }) as usize;
        let mix: &[(Kind, u32)] = if hk {
            &[
                (Kind::LowRise, 10),
                (Kind::Block, 50),
                (Kind::MidRise, 22),
                (Kind::HighRise, 18),
            ]
        } else {
            &[
                (Kind::LowRise, 40),
                (Kind::Block, 50),
                (Kind::MidRise, 7),
                (Kind::HighRise, 3),
            ]
        };
        let (estate, road, gate_no) = &estate_of_grid[g];
        let mut cells = grid.cells.clone();
        brng.shuffle(&mut cells);
        let mut housed = 0;
        let mut in_grid = 0;
        'cells: for &c in &cells {
            let q = lat.quad(c).map(to_m);
            let mut placed: Vec<Rect> = Vec::new();
            for _ in 0..16 {
                if housed >= target {
                    break 'cells;
                }
                if placed.len() >= 3 {
                    break;
                }
                let size = BuildingSize::draw(brng.weighted(mix), &mut brng);
                let rect = footprint(&q, &size, &mut brng);
                let corners = rect.corners();
                if !inside_cell(&q, &corners) || !placed.iter().all(|o| o.clear_of(&rect, 8.0)) {
                    continue;
                }
                in_grid += 1;
                let no = building_no.entry(estate.clone()).or_insert(0);
                *no += 1;
                let code = format!("{}-B{in_grid:03}", grid.code);
                let address = format!("{ADDRESS_PREFIX}{road}{gate_no}号{no}号楼");
                housed +=
                    building_households(&mut hrng, &mut households, &code, &address, &size, &rect);
                buildings.push(Building {
                    code,
                    name: format!("{estate}{no}号楼"),
                    address,
                    floors: size.floors,
                    units: size.units,
                    ring: corners.iter().map(|&p| to_fix(p)).collect(),
                });
                placed.push(rect);
            }
        }
    }
    (buildings, households)
}

/// A building's size, drawn for its kind.
struct BuildingSize {
    floors: u32,
    units: u32,
    /// Flats per floor of each unit (entrance).
    rooms: u32,
    /// Depth of the building, metres.
    width: f64,
    /// Length of the building, metres: its units side by side, within bounds.
    len: f64,
}

impl BuildingSize {
    fn draw(kind: Kind, rng: &mut Rng) -> BuildingSize {
        let (floors, units, rooms, unit_len, width) = match kind {
            Kind::LowRise => (
                rng.int(2, 4),
                rng.int(1, 2),
                rng.int(1, 2),
                rng.range(10.0, 13.0),
                rng.range(9.0, 11.0),
            ),
            Kind::Block => (
                rng.weighted(&[(5, 12), (6, 45), (7, 33), (8, 10)]),
                rng.weighted(&[(1, 25), (2, 40), (3, 25), (4, 10)]),
                2,
                rng.range(12.0, 15.0),
                rng.range(10.0, 12.5),
            ),
            Kind::MidRise => (
                rng.int(9, 12),
                rng.int(1, 3),
                2,
                rng.range(13.0, 16.0),
                rng.range(12.0, 14.0),
            ),
            Kind::HighRise => (
                rng.int(18, 33),
                rng.int(1, 2),
                rng.int(2, 4),
                rng.range(15.0, 18.0),
                rng.range(15.0, 19.0),
            ),
        };
        let len = (f64::from(units) * unit_len).max(width + 2.0).min(60.0);
        BuildingSize {
            floors,
            units,
            rooms,
            width,
            len,
        }
    }
}

/// Where a building of this size would stand in the cell `q` (corners in local metres).
/// Centre: bilinear position inside the cell; axis: along the cell's southern edge, turned by a
/// few degrees.
fn footprint(q: &[[f64; 2]; 4], size: &BuildingSize, rng: &mut Rng) -> Rect {
    let (s, t) = (rng.range(0.22, 0.78), rng.range(0.22, 0.78));
    let lerp =
        |a: [f64; 2], b: [f64; 2], k: f64| [a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k];
    let centre = lerp(lerp(q[0], q[1], s), lerp(q[3], q[2], s), t);
    let base = norm(sub(q[1], q[0]));
    let tilt = rng.range(-0.07, 0.07);
    let u = norm([base[0] - tilt * base[1], base[1] + tilt * base[0]]);
    Rect {
        c: centre,
        u,
        v: [-u[1], u[0]],
        half_len: size.len / 2.0,
        half_wid: size.width / 2.0,
    }
}

/// Whether every corner lies at least 4 m inside the cell `q`.
fn inside_cell(q: &[[f64; 2]; 4], corners: &[[f64; 2]; 4]) -> bool {
    corners.iter().all(|&p| {
        (0..4).all(|k| {
            let (a, b) = (q[k], q[(k + 1) % 4]);
            let e = sub(b, a);
            (e[0] * (p[1] - a[1]) - e[1] * (p[0] - a[0])) / dot(e, e).sqrt() >= 4.0
        })
    })
}

/// The households of one building, appended to `households` (whose length numbers the phone
/// numbers); returns how many. Each flat is vacant with probability 0.07; each household stands
/// at its unit's entrance.
fn building_households(
    rng: &mut Rng,
    households: &mut Vec<Household>,
    code: &str,
    address: &str,
    size: &BuildingSize,
    rect: &Rect,
) -> usize {
    let units = size.units;
    let entrances: Vec<Fix> = (0..units)
        .map(|k| {
            let a = ((f64::from(k) + 0.5) / f64::from(units) - 0.5) * size.len;
            to_fix(rect.at(a, -size.width / 4.0))
        })
        .collect();
    let before = households.len();
    for unit in 1..=units {
        for floor in 1..=size.floors {
            for room in 1..=size.rooms {
                if rng.chance(0.07) {
                    continue; // vacant
                }
                let room_s = format!("{floor:02}{room:02}");
                let tags = household_tags(rng);
                let people = household_people(rng, &tags);
                let mut head_name = rng.pick(&SURNAMES).to_string();
                head_name.push_str(rng.pick(&GIVEN));
                if rng.chance(0.7) {
                    head_name.push_str(rng.pick(&GIVEN));
                }
                let idx = households.len() as u64;
                households.push(Household {
                    code: format!("{code}-{unit}-{room_s}"),
                    building_code: code.to_string(),
                    unit,
                    floor,
                    room: room_s,
                    address: format!("{address}{unit}单元{floor}{room:02}户"),
                    head_name,
                    phone: format!("1380000{:04}", (idx * 7919 + 2357) % 10_000),
                    people,
                    tags,
                    point: entrances[unit as usize - 1],
                });
            }
        }
    }
    households.len() - before
}

/// A household's [`TAGS`], each drawn with its probability; an elderly person living alone is
/// not also a child left behind.
fn household_tags(rng: &mut Rng) -> Vec<&'static str> {
    let mut tags = Vec::new();
    for &(tag, p) in &TAGS {
        if rng.chance(p) {
            tags.push(tag);
        }
    }
    if tags.contains(&"elderly_alone") && tags.contains(&"child_left_behind") {
        tags.retain(|&t| t != "child_left_behind");
    }
    tags
}

/// How many people a household has: one for an elderly person alone, at least two with a child
/// left behind.
fn household_people(rng: &mut Rng, tags: &[&str]) -> u32 {
    if tags.contains(&"elderly_alone") {
        return 1;
    }
    let p = rng.weighted(&[(1, 10), (2, 30), (3, 34), (4, 15), (5, 8), (6, 3)]);
    if tags.contains(&"child_left_behind") {
        p.max(2)
    } else {
        p
    }
}

// ───────────────────────────── basemap: roads and water ─────────────────────────────

/// A road: one run of consecutive lattice edges on one lattice line, of one kind.
struct Road {
    name: String,
    kind: &'static str,
    width_m: u32,
    line: Vec<Fix>,
}

/// A water body (the sea, or a pond in a park).
struct Water {
    name: String,
    kind: &'static str,
    ring: Vec<Fix>,
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
const PAVEMENT_M: f64 = 1.0;

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
fn roads(
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
fn sea(street_ring: &[Fix]) -> Vec<Water> {
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
fn pond(
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

// ───────────────────────────── checks ─────────────────────────────

/// Self-checks on the rounded output; any failure is a generator bug.
fn check(demo: &Demo) {
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
fn clearance(a: &[Fix], a_closed: bool, b: &[Fix], b_closed: bool) -> f64 {
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

// ───────────────────────────── output ─────────────────────────────

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

fn polygon_json(ring: &[Fix]) -> String {
    let mut out = String::from(r#"{"type":"Polygon","coordinates":[["#);
    for &p in ring.iter().chain(ring.first()) {
        push_pos(&mut out, p);
        out.push(',');
    }
    out.pop();
    out.push_str("]]}");
    out
}

fn linestring_json(line: &[Fix]) -> String {
    let mut out = String::from(r#"{"type":"LineString","coordinates":["#);
    for &p in line {
        push_pos(&mut out, p);
        out.push(',');
    }
    out.pop();
    out.push_str("]}");
    out
}

fn point_json(p: Fix) -> String {
    let mut out = String::from(r#"{"type":"Point","coordinates":"#);
    push_pos(&mut out, p);
    out.push('}');
    out
}

/// One feature on one line. Properties keep the given order (written by hand so the
/// output does not depend on serde_json's `preserve_order` feature).
fn feature(props: &[(&str, Value)], geometry: String) -> String {
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

fn region_feature(r: &Region) -> String {
    feature(
        &[
            ("code", json!(r.code)),
            ("name", json!(r.name)),
            ("parent_code", json!(r.parent_code)),
        ],
        polygon_json(&r.ring),
    )
}

fn write_layer(dir: &Path, name: &str, features: &[String]) -> usize {
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
fn district_ring() -> Vec<Fix> {
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

fn main() {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "geodata/demo".into()),
    );
    let demo = generate();
    check(&demo);
    let district = district_ring();
    let dp = geo_polygon(&district);
    assert!(dp.is_valid() && dp.exterior().is_ccw());
    assert!(
        dp.contains(&geo_polygon(&demo.street_ring)),
        "district must contain the street"
    );

    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    let mut total = 0;
    total += write_layer(
        &dir,
        "districts",
        &[feature(
            &[
                ("code", json!(DISTRICT_CODE)),
                ("name", json!(DISTRICT_NAME)),
                ("parent_code", Value::Null),
            ],
            polygon_json(&district),
        )],
    );
    total += write_layer(
        &dir,
        "streets",
        &[feature(
            &[
                ("code", json!(STREET_CODE)),
                ("name", json!(STREET_NAME)),
                ("parent_code", json!(DISTRICT_CODE)),
            ],
            polygon_json(&demo.street_ring),
        )],
    );
    for (name, regions) in [
        ("communities", &demo.communities),
        ("grids", &demo.grids),
        ("areas", &demo.areas),
    ] {
        total += write_layer(
            &dir,
            name,
            &regions.iter().map(region_feature).collect::<Vec<_>>(),
        );
    }
    let buildings: Vec<String> = demo
        .buildings
        .iter()
        .map(|b| {
            feature(
                &[
                    ("code", json!(b.code)),
                    ("name", json!(b.name)),
                    ("address", json!(b.address)),
                    ("floors", json!(b.floors)),
                    ("units", json!(b.units)),
                ],
                polygon_json(&b.ring),
            )
        })
        .collect();
    total += write_layer(&dir, "buildings", &buildings);
    let households: Vec<String> = demo
        .households
        .iter()
        .map(|h| {
            feature(
                &[
                    ("code", json!(h.code)),
                    ("building_code", json!(h.building_code)),
                    ("unit", json!(h.unit)),
                    ("floor", json!(h.floor)),
                    ("room", json!(h.room)),
                    ("address", json!(h.address)),
                    ("head_name", json!(h.head_name)),
                    ("phone", json!(h.phone)),
                    ("people", json!(h.people)),
                    ("tags", json!(h.tags)),
                ],
                point_json(h.point),
            )
        })
        .collect();
    total += write_layer(&dir, "households", &households);
    let water: Vec<String> = demo
        .water
        .iter()
        .map(|w| {
            feature(
                &[("name", json!(w.name)), ("kind", json!(w.kind))],
                polygon_json(&w.ring),
            )
        })
        .collect();
    total += write_layer(&dir, "water", &water);
    let roads: Vec<String> = demo
        .roads
        .iter()
        .map(|r| {
            let line = LineString::new(r.line.iter().map(|&p| coord(p)).collect());
            assert!(dp.contains(&line), "road {} outside the district", r.name);
            feature(
                &[
                    ("name", json!(r.name)),
                    ("kind", json!(r.kind)),
                    ("width_m", json!(r.width_m)),
                ],
                linestring_json(&r.line),
            )
        })
        .collect();
    total += write_layer(&dir, "roads", &roads);
    println!("{:>14}: {total:>25} bytes", "total");
}
