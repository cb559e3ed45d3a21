//! The quadrilateral lattice every administrative polygon is a union of cells of, and its
//! partitioning into regions.

use std::collections::BTreeMap;

use crate::geometry::{area2, cross, dist, noise, to_fix, to_m};
use crate::rng::Rng;
use crate::{AVOID_BONUS, Fix, HEIGHT_M, NX, NY, WIDTH_M};

pub(crate) fn vid(i: usize, j: usize) -> usize {
    j * (NX + 1) + i
}
pub(crate) fn cid(i: usize, j: usize) -> usize {
    j * NX + i
}
pub(crate) fn cell_ij(c: usize) -> (usize, usize) {
    (c % NX, c / NX)
}

/// Cells that belong to the street (an irregular outline with a few notches).
pub(crate) fn in_street(i: usize, j: usize) -> bool {
    let notch = (i < 4 && j < 3)
        || ((11..15).contains(&i) && j < 2)
        || (i >= 19 && j >= 15)
        || (i < 2 && j >= 17)
        || (i >= 22 && (5..9).contains(&j));
    !notch
}

pub(crate) struct Lattice {
    /// (NX+1)·(NY+1) vertices, already rounded to 1e-7 degree.
    pub(crate) v: Vec<Fix>,
    /// NX·NY cell centroids in local metres.
    pub(crate) cent: Vec<[f64; 2]>,
}

impl Lattice {
    /// A Coons patch between four wavy boundary curves, with uneven row and column
    /// spacing and a few metres of jitter on every vertex, rounded to fixed point.
    pub(crate) fn build(rng: &mut Rng) -> Lattice {
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
    pub(crate) fn remove_collinear(&mut self) {
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

    pub(crate) fn quad(&self, c: usize) -> [Fix; 4] {
        let (i, j) = cell_ij(c);
        [
            self.v[vid(i, j)],
            self.v[vid(i + 1, j)],
            self.v[vid(i + 1, j + 1)],
            self.v[vid(i, j + 1)],
        ]
    }

    pub(crate) fn check_convex(&self) {
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

    pub(crate) fn centroid_m(&self, c: usize) -> [f64; 2] {
        let q = self.quad(c).map(to_m);
        [
            (q[0][0] + q[1][0] + q[2][0] + q[3][0]) / 4.0,
            (q[0][1] + q[1][1] + q[2][1] + q[3][1]) / 4.0,
        ]
    }

    /// The outline of a set of cells as one counter-clockwise ring, or `None` if the
    /// set is not a single simple polygon (disconnected, with a hole, or pinched at a
    /// vertex). Every vertex is a lattice vertex, so neighbours share them exactly.
    pub(crate) fn outline(&self, cells: &[usize]) -> Option<Vec<Fix>> {
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

pub(crate) fn neighbours(c: usize) -> impl Iterator<Item = usize> {
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
pub(crate) fn reading_order(regions: &[Vec<usize>], cent: &[[f64; 2]], band: f64) -> Vec<usize> {
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
pub(crate) fn partition(
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
