//! The layers of the demo street: communities, grids, responsibility areas, buildings and
//! households, made step by step by [`generate`].

use std::collections::BTreeMap;

use crate::basemap::{Road, Water, pond, roads, sea};
use crate::geometry::{dot, norm, sub, to_fix, to_m};
use crate::lattice::{Lattice, cell_ij, in_street, neighbours, partition, reading_order};
use crate::rng::Rng;
use crate::{
    ADDRESS_PREFIX, COMMUNITIES, ESTATES, Fix, GIVEN, HK_GARDEN, HK_GARDEN_SHARED, N_AREAS, NX, NY,
    STREET_CODE, STREET_NAME, SURNAMES, TAGS,
};

pub(crate) struct Region {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) parent_code: String,
    pub(crate) cells: Vec<usize>,
    pub(crate) ring: Vec<Fix>,
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    LowRise,
    Block,
    MidRise,
    HighRise,
}

pub(crate) struct Building {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) address: String,
    pub(crate) floors: u32,
    pub(crate) units: u32,
    pub(crate) ring: Vec<Fix>,
}

pub(crate) struct Household {
    pub(crate) code: String,
    pub(crate) building_code: String,
    pub(crate) unit: u32,
    pub(crate) floor: u32,
    pub(crate) room: String,
    pub(crate) address: String,
    pub(crate) head_name: String,
    pub(crate) phone: String,
    pub(crate) people: u32,
    pub(crate) tags: Vec<&'static str>,
    pub(crate) point: Fix,
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
pub(crate) struct Demo {
    pub(crate) street_ring: Vec<Fix>,
    pub(crate) communities: Vec<Region>,
    pub(crate) grids: Vec<Region>,
    pub(crate) areas: Vec<Region>,
    pub(crate) buildings: Vec<Building>,
    pub(crate) households: Vec<Household>,
    pub(crate) water: Vec<Water>,
    pub(crate) roads: Vec<Road>,
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
pub(crate) fn generate() -> Demo {
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
