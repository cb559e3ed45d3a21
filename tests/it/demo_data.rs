//! Checks the committed demo data set in `geodata/demo` (see `geodata/README.md`).
//!
//! The files are produced by `geodata/generate_demo/`; these tests only read them, so
//! they also guard hand edits. Reproducibility of the files themselves is checked with
//! `cargo run --example generate_demo -- geodata/demo && git diff --exit-code geodata/demo`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Contains, Coord, Distance, Euclidean, Geometry,
    Intersects, LineString, MapCoords, MultiPolygon, Point, Polygon, Rect, Validation, Winding,
    Within, unary_union,
};
use geojson::FeatureCollection;
use serde_json::{Map, Value};

/// Metres per degree at 36.06 N, the latitude of the data (WGS84 series).
const M_PER_DEG_LON: f64 = 90_095.3;
const M_PER_DEG_LAT: f64 = 110_960.1;
/// Largest overlap or gap tolerated anywhere in a partition.
const TOLERANCE_M2: f64 = 0.01;

const ALLOWED_TAGS: [&str; 6] = [
    "elderly_alone",
    "party_member",
    "disabled",
    "low_income",
    "veteran",
    "child_left_behind",
];

fn m2(deg2: f64) -> f64 {
    deg2 * M_PER_DEG_LON * M_PER_DEG_LAT
}

/// One feature: its properties and its geometry.
struct Item<G> {
    props: Map<String, Value>,
    geom: G,
}

impl<G> Item<G> {
    fn str(&self, key: &str) -> &str {
        self.props
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("property {key:?} missing or not a string: {:?}", self.props))
    }
    fn int(&self, key: &str) -> i64 {
        self.props
            .get(key)
            .and_then(Value::as_i64)
            .unwrap_or_else(|| {
                panic!(
                    "property {key:?} missing or not an integer: {:?}",
                    self.props
                )
            })
    }
    fn code(&self) -> &str {
        self.str("code")
    }
}

struct Data {
    districts: Vec<Item<MultiPolygon>>,
    streets: Vec<Item<MultiPolygon>>,
    communities: Vec<Item<MultiPolygon>>,
    grids: Vec<Item<MultiPolygon>>,
    areas: Vec<Item<MultiPolygon>>,
    buildings: Vec<Item<MultiPolygon>>,
    households: Vec<Item<Point>>,
    water: Vec<Item<MultiPolygon>>,
    roads: Vec<Item<LineString>>,
}

fn load(layer: &str) -> Vec<Item<Geometry>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("geodata/demo")
        .join(format!("{layer}.geojson"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let fc: FeatureCollection = text
        .parse()
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    fc.features
        .into_iter()
        .map(|f| Item {
            props: f.properties.expect("feature without properties"),
            geom: Geometry::try_from(f.geometry.expect("feature without geometry"))
                .expect("convertible geometry"),
        })
        .collect()
}

fn areal(layer: &str) -> Vec<Item<MultiPolygon>> {
    load(layer)
        .into_iter()
        .map(|it| Item {
            geom: match it.geom {
                Geometry::Polygon(p) => MultiPolygon(vec![p]),
                Geometry::MultiPolygon(mp) => mp,
                other => panic!("{layer}: expected a polygon, got {other:?}"),
            },
            props: it.props,
        })
        .collect()
}

fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| Data {
        districts: areal("districts"),
        streets: areal("streets"),
        communities: areal("communities"),
        grids: areal("grids"),
        areas: areal("areas"),
        buildings: areal("buildings"),
        households: load("households")
            .into_iter()
            .map(|it| Item {
                geom: match it.geom {
                    Geometry::Point(p) => p,
                    other => panic!("households: expected a point, got {other:?}"),
                },
                props: it.props,
            })
            .collect(),
        water: areal("water"),
        roads: load("roads")
            .into_iter()
            .map(|it| Item {
                geom: match it.geom {
                    Geometry::LineString(l) => l,
                    other => panic!("roads: expected a line string, got {other:?}"),
                },
                props: it.props,
            })
            .collect(),
    })
}

fn bbox(mp: &MultiPolygon) -> Rect {
    mp.bounding_rect().expect("non-empty geometry")
}

fn children_of<'a>(
    parent: &Item<MultiPolygon>,
    layer: &'a [Item<MultiPolygon>],
) -> Vec<&'a Item<MultiPolygon>> {
    layer
        .iter()
        .filter(|c| c.str("parent_code") == parent.code())
        .collect()
}

/// `children` partition `parent`: each lies within it, siblings do not overlap, and
/// together they leave no gap.
fn assert_partition(parent: &Item<MultiPolygon>, children: &[&Item<MultiPolygon>]) {
    assert!(!children.is_empty(), "{} has no children", parent.code());
    for child in children {
        assert!(
            child.geom.is_within(&parent.geom),
            "{} is not within {}",
            child.code(),
            parent.code()
        );
    }
    for (i, a) in children.iter().enumerate() {
        for b in &children[i + 1..] {
            if !bbox(&a.geom).intersects(&bbox(&b.geom)) {
                continue;
            }
            let overlap = m2(a.geom.intersection(&b.geom).unsigned_area());
            assert!(
                overlap <= TOLERANCE_M2,
                "{} and {} overlap by {overlap} m²",
                a.code(),
                b.code()
            );
        }
    }
    let union = unary_union(children.iter().map(|c| &c.geom));
    let parent_area = m2(parent.geom.unsigned_area());
    let union_area = m2(union.unsigned_area());
    assert!(
        (union_area - parent_area).abs() <= TOLERANCE_M2,
        "children of {} cover {union_area} m² of {parent_area} m²",
        parent.code()
    );
    let gap = m2(parent.geom.difference(&union).unsigned_area());
    assert!(gap <= TOLERANCE_M2, "gap of {gap} m² in {}", parent.code());
    let sum: f64 = children.iter().map(|c| m2(c.geom.unsigned_area())).sum();
    assert!(
        (sum - parent_area).abs() <= TOLERANCE_M2,
        "children of {} add up to {sum} m² of {parent_area} m²",
        parent.code()
    );
}

#[test]
fn administrative_hierarchy_is_as_modelled() {
    let d = data();
    assert_eq!(d.districts.len(), 1);
    let district = &d.districts[0];
    assert_eq!(district.code(), "370202");
    assert_eq!(district.str("name"), "市南区");
    assert_eq!(district.props.get("parent_code"), Some(&Value::Null));

    assert_eq!(d.streets.len(), 1);
    let street = &d.streets[0];
    assert_eq!(street.code(), "370202010");
    assert_eq!(street.str("name"), "珠海路街道");
    assert_eq!(street.str("parent_code"), "370202");

    assert_eq!(d.communities.len(), 6, "the real street has 6 communities");
    let hk: Vec<_> = d
        .communities
        .iter()
        .filter(|c| c.str("name") == "香港花园社区")
        .collect();
    assert_eq!(hk.len(), 1);
    assert_eq!(
        children_of(hk[0], &d.grids).len(),
        13,
        "香港花园社区: one party committee, 13 branches, 13 grids"
    );
    for c in &d.communities {
        assert!(c.str("name").ends_with("社区"), "{}", c.str("name"));
        let n = children_of(c, &d.grids).len();
        assert!(
            n == 13 || (3..=6).contains(&n),
            "{} has {n} grids",
            c.code()
        );
    }
    assert!((6..=10).contains(&d.areas.len()), "{} areas", d.areas.len());
    assert!(
        (100..1_000).contains(&d.buildings.len()),
        "{} buildings",
        d.buildings.len()
    );
    assert!(
        (1_000..10_000).contains(&d.households.len()),
        "households should number in the thousands, got {}",
        d.households.len()
    );
}

#[test]
fn codes_are_unique_and_prefixed_by_their_parent() {
    let d = data();
    let is_digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let unique = |layer: &str, codes: Vec<&str>| -> BTreeSet<String> {
        let set: BTreeSet<String> = codes.iter().map(|s| s.to_string()).collect();
        assert_eq!(set.len(), codes.len(), "duplicate codes in {layer}");
        set
    };
    let districts = unique("districts", d.districts.iter().map(Item::code).collect());
    let streets = unique("streets", d.streets.iter().map(Item::code).collect());
    let communities = unique(
        "communities",
        d.communities.iter().map(Item::code).collect(),
    );
    let grids = unique("grids", d.grids.iter().map(Item::code).collect());
    unique("areas", d.areas.iter().map(Item::code).collect());
    let buildings = unique("buildings", d.buildings.iter().map(Item::code).collect());
    unique("households", d.households.iter().map(Item::code).collect());

    assert!(districts.iter().all(|c| is_digits(c, 6)));
    let prefixed = |layer: &str,
                    items: &[Item<MultiPolygon>],
                    parents: &BTreeSet<String>,
                    suffix: &dyn Fn(&str) -> bool| {
        for it in items {
            let (code, parent) = (it.code(), it.str("parent_code"));
            assert!(
                parents.contains(parent),
                "{layer} {code}: unknown parent {parent}"
            );
            let rest = code
                .strip_prefix(parent)
                .unwrap_or_else(|| panic!("{layer} {code} does not start with {parent}"));
            assert!(suffix(rest), "{layer} {code}: bad suffix {rest:?}");
        }
    };
    prefixed("streets", &d.streets, &districts, &|s| is_digits(s, 3));
    prefixed("communities", &d.communities, &streets, &|s| {
        is_digits(s, 3)
    });
    prefixed("grids", &d.grids, &communities, &|s| is_digits(s, 3));
    prefixed("areas", &d.areas, &streets, &|s| {
        s.strip_prefix("-Q").is_some_and(|n| is_digits(n, 2))
    });
    for b in &d.buildings {
        let code = b.code();
        let (grid, no) = code.rsplit_once("-B").expect("building code has -B");
        assert!(grids.contains(grid), "building {code}: unknown grid {grid}");
        assert!(is_digits(no, 3), "building {code}");
    }
    for h in &d.households {
        let building = h.str("building_code");
        assert!(
            buildings.contains(building),
            "household {}: unknown building",
            h.code()
        );
        let expected = format!("{building}-{}-{}", h.int("unit"), h.str("room"));
        assert_eq!(h.code(), expected);
    }
}

#[test]
fn polygons_are_valid_rfc7946() {
    let d = data();
    let layers = [
        ("districts", &d.districts),
        ("streets", &d.streets),
        ("communities", &d.communities),
        ("grids", &d.grids),
        ("areas", &d.areas),
        ("buildings", &d.buildings),
    ];
    let seven_decimals = |v: f64| (v * 1e7).round() / 1e7 == v;
    for (layer, items) in layers {
        for it in items.iter() {
            for p in &it.geom {
                let check = |ring: &geo::LineString, ccw: bool| {
                    assert_eq!(ring.is_ccw(), ccw, "{layer} {}: winding", it.code());
                    for w in ring.0.windows(2) {
                        assert_ne!(w[0], w[1], "{layer} {}: repeated point", it.code());
                    }
                    for c in ring.coords() {
                        assert!(
                            (120.2..120.5).contains(&c.x) && (35.9..36.2).contains(&c.y),
                            "{layer} {}: {c:?} is not lon/lat near Qingdao",
                            it.code()
                        );
                        assert!(seven_decimals(c.x) && seven_decimals(c.y), "{c:?}");
                    }
                };
                check(p.exterior(), true);
                for hole in p.interiors() {
                    check(hole, false);
                }
                assert!(
                    p.is_valid(),
                    "{layer} {}: {:?}",
                    it.code(),
                    p.validation_errors()
                );
            }
        }
    }
}

#[test]
fn street_communities_and_grids_partition_exactly() {
    let d = data();
    let district = &d.districts[0];
    let street = &d.streets[0];
    assert!(street.geom.is_within(&district.geom));
    assert!(m2(district.geom.unsigned_area()) > m2(street.geom.unsigned_area()));

    let communities = children_of(street, &d.communities);
    assert_eq!(communities.len(), d.communities.len());
    assert_partition(street, &communities);
    for community in communities {
        assert_partition(community, &children_of(community, &d.grids));
    }
}

#[test]
fn responsibility_areas_partition_the_street_across_grids() {
    let d = data();
    let street = &d.streets[0];
    let areas = children_of(street, &d.areas);
    assert_eq!(areas.len(), d.areas.len());
    assert_partition(street, &areas);

    // The areas deliberately do not follow grid boundaries.
    let split = d
        .grids
        .iter()
        .filter(|g| {
            areas
                .iter()
                .filter(|a| {
                    bbox(&a.geom).intersects(&bbox(&g.geom))
                        && m2(a.geom.intersection(&g.geom).unsigned_area()) > 1.0
                })
                .count()
                > 1
        })
        .count();
    assert!(
        split * 2 >= d.grids.len(),
        "only {split} of {} grids are cut by responsibility areas",
        d.grids.len()
    );
}

#[test]
fn buildings_lie_in_exactly_one_grid_and_do_not_overlap() {
    let d = data();
    let grid_boxes: Vec<Rect> = d.grids.iter().map(|g| bbox(&g.geom)).collect();
    for b in &d.buildings {
        let floors = b.int("floors");
        let units = b.int("units");
        assert!((2..=33).contains(&floors), "{}: {floors} floors", b.code());
        assert!((1..=4).contains(&units), "{}: {units} units", b.code());
        assert!(!b.str("name").is_empty() && b.str("address").starts_with("山东省青岛市市南区"));

        let bb = bbox(&b.geom);
        let containing: Vec<&str> = d
            .grids
            .iter()
            .zip(&grid_boxes)
            .filter(|(g, gb)| gb.intersects(&bb) && g.geom.contains(&b.geom))
            .map(|(g, _)| g.code())
            .collect();
        assert_eq!(
            containing.len(),
            1,
            "building {} lies in grids {containing:?}",
            b.code()
        );
        assert!(
            b.code().starts_with(containing[0]),
            "building {} in {}",
            b.code(),
            containing[0]
        );
    }
    let boxes: Vec<Rect> = d.buildings.iter().map(|b| bbox(&b.geom)).collect();
    for i in 0..d.buildings.len() {
        for j in i + 1..d.buildings.len() {
            if boxes[i].intersects(&boxes[j]) {
                let (a, b) = (&d.buildings[i], &d.buildings[j]);
                assert!(
                    m2(a.geom.intersection(&b.geom).unsigned_area()) <= TOLERANCE_M2,
                    "buildings {} and {} overlap",
                    a.code(),
                    b.code()
                );
            }
        }
    }
}

#[test]
fn households_are_inside_their_buildings() {
    let d = data();
    let buildings: BTreeMap<&str, &Item<MultiPolygon>> =
        d.buildings.iter().map(|b| (b.code(), b)).collect();
    let mut per_building: BTreeMap<&str, usize> = BTreeMap::new();
    for h in &d.households {
        let b = buildings[h.str("building_code")];
        assert!(
            b.geom.contains(&h.geom),
            "household {} is not strictly inside {}",
            h.code(),
            b.code()
        );
        *per_building.entry(b.code()).or_default() += 1;

        let (unit, floor) = (h.int("unit"), h.int("floor"));
        assert!((1..=b.int("units")).contains(&unit), "{}", h.code());
        assert!((1..=b.int("floors")).contains(&floor), "{}", h.code());
        let room = h.str("room");
        assert!(
            room.len() == 4 && room[..2].parse::<i64>() == Ok(floor),
            "{}: room {room}",
            h.code()
        );
        assert!(
            h.str("address").starts_with(b.str("address"))
                && h.str("address")
                    .ends_with(&format!("{unit}单元{}户", room.trim_start_matches('0'))),
            "{}: address {}",
            h.code(),
            h.str("address")
        );
        let name = h.str("head_name").chars().count();
        assert!((2..=4).contains(&name), "{}", h.code());
        let phone = h.str("phone");
        assert!(
            phone.len() == 11
                && phone.starts_with("1380000")
                && phone.bytes().all(|c| c.is_ascii_digit()),
            "{}: phone {phone}",
            h.code()
        );
        assert!((1..=6).contains(&h.int("people")), "{}", h.code());
        let tags = h.props["tags"].as_array().expect("tags is an array");
        for t in tags {
            assert!(
                t.as_str().is_some_and(|t| ALLOWED_TAGS.contains(&t)),
                "{}: tag {t}",
                h.code()
            );
        }
    }
    let untagged = d
        .households
        .iter()
        .filter(|h| h.props["tags"].as_array().is_some_and(Vec::is_empty))
        .count();
    assert!(
        untagged * 2 > d.households.len(),
        "most households carry no tag"
    );
    assert!(
        per_building.len() * 10 >= d.buildings.len() * 9,
        "most buildings have households"
    );
}

// ───────────────────────────── basemap: water and roads ─────────────────────────────

/// Local metres (a plane at 36.06 N), for distances.
fn metres<G: MapCoords<f64, f64, Output = G>>(g: &G) -> G {
    g.map_coords(|c| Coord {
        x: c.x * M_PER_DEG_LON,
        y: c.y * M_PER_DEG_LAT,
    })
}

/// Least distance in metres between a polygon layer item and a polygon or line.
fn gap_m(a: &MultiPolygon, b: &Geometry) -> f64 {
    let b = metres(b);
    a.iter()
        .map(|p| {
            let p = metres(p);
            match &b {
                Geometry::Polygon(q) => Euclidean.distance(&p, q),
                Geometry::LineString(l) => Euclidean.distance(l, &p),
                other => panic!("gap_m: {other:?}"),
            }
        })
        .fold(f64::MAX, f64::min)
}

fn seven_decimals(c: Coord) -> bool {
    let ok = |v: f64| (v * 1e7).round() / 1e7 == v;
    ok(c.x) && ok(c.y) && (120.2..120.5).contains(&c.x) && (35.9..36.2).contains(&c.y)
}

#[test]
fn water_is_valid_and_clear_of_the_street() {
    let d = data();
    let street = &d.streets[0].geom;
    let street_box = bbox(street);
    let seas: Vec<&Item<MultiPolygon>> =
        d.water.iter().filter(|w| w.str("kind") == "sea").collect();
    assert!(!seas.is_empty(), "the demo lies on the coast");
    for w in &d.water {
        let name = w.str("name");
        assert!(!name.is_empty());
        assert!(["sea", "pond"].contains(&w.str("kind")), "{name}");
        for p in &w.geom {
            assert!(p.is_valid(), "{name}: {:?}", p.validation_errors());
            assert!(p.exterior().is_ccw(), "{name}: winding");
            assert!(p.interiors().is_empty(), "{name}: holes");
            for wnd in p.exterior().0.windows(2) {
                assert_ne!(wnd[0], wnd[1], "{name}: repeated point");
            }
            assert!(p.exterior().coords().all(|&c| seven_decimals(c)), "{name}");
        }
        // Nothing of ours is under water: ponds lie in the street, but off buildings.
        for b in &d.buildings {
            assert!(!w.geom.intersects(&b.geom), "{name} covers {}", b.code());
        }
    }
    for w in &seas {
        let name = w.str("name");
        // Only touching would be tolerated; in fact there is a shore strip.
        let overlap = m2(w.geom.intersection(street).unsigned_area());
        assert!(
            overlap <= TOLERANCE_M2,
            "{name} covers {overlap} m² of the street"
        );
        let shore = gap_m(&w.geom, &Geometry::Polygon(street.0[0].clone()));
        assert!(
            (30.0..1_000.0).contains(&shore),
            "{name} is {shore} m from the street"
        );
        let c = w.geom.centroid().expect("non-empty");
        assert!(
            c.y() < street_box.min().y,
            "{name} is not south of the street"
        );
        assert!(
            w.geom.intersects(&d.districts[0].geom),
            "{name} is not off the district's coast"
        );
    }
    for (i, a) in seas.iter().enumerate() {
        for b in &seas[i + 1..] {
            let overlap = m2(a.geom.intersection(&b.geom).unsigned_area());
            assert!(
                overlap <= TOLERANCE_M2,
                "{} and {} overlap",
                a.str("name"),
                b.str("name")
            );
        }
    }
    for w in d.water.iter().filter(|w| w.str("kind") == "pond") {
        assert!(
            w.geom.is_within(street),
            "{} is outside the street",
            w.str("name")
        );
        for r in &d.roads {
            assert!(
                !w.geom.intersects(&r.geom),
                "{} crosses {}",
                w.str("name"),
                r.str("name")
            );
        }
    }
}

/// A lattice edge as an unordered pair of exact coordinates.
type Edge = [(u64, u64); 2];

fn edge(a: Coord, b: Coord) -> Edge {
    let k = |c: Coord| (c.x.to_bits(), c.y.to_bits());
    let (a, b) = (k(a), k(b));
    if a <= b { [a, b] } else { [b, a] }
}

fn ring_edges(p: &Polygon) -> Vec<Edge> {
    p.exterior().lines().map(|l| edge(l.start, l.end)).collect()
}

#[test]
fn roads_run_along_grid_boundaries_and_clear_of_buildings() {
    let d = data();
    let district = &d.districts[0].geom;
    // Which grids each lattice edge bounds, and the street's own outline.
    let mut bounds: BTreeMap<Edge, Vec<&Item<MultiPolygon>>> = BTreeMap::new();
    for g in &d.grids {
        for e in ring_edges(&g.geom.0[0]) {
            bounds.entry(e).or_default().push(g);
        }
    }
    let outline: BTreeSet<Edge> = ring_edges(&d.streets[0].geom.0[0]).into_iter().collect();
    let mut covered: BTreeSet<Edge> = BTreeSet::new();
    let mut ends: BTreeMap<(&str, &str), Vec<Coord>> = BTreeMap::new();
    for r in &d.roads {
        let (name, kind) = (r.str("name"), r.str("kind"));
        let width = r.int("width_m");
        assert!(name.ends_with('路'), "{name}");
        assert!(["primary", "secondary"].contains(&kind), "{name}: {kind}");
        assert!((6..=40).contains(&width), "{name}: {width} m");
        assert!(r.geom.0.len() >= 2, "{name}: empty");
        assert!(r.geom.coords().all(|&c| seven_decimals(c)), "{name}");
        assert!(r.geom.is_within(district), "{name} is outside the district");

        // Every segment is a lattice edge of the right kind: a community boundary or the
        // street's outline for `primary`, a boundary between two grids of one community
        // for `secondary`.
        for l in r.geom.lines() {
            let e = edge(l.start, l.end);
            assert!(covered.insert(e), "{name}: an edge drawn twice");
            let grids = bounds.get(&e).map_or(&[][..], Vec::as_slice);
            let is_primary = outline.contains(&e)
                || (grids.len() == 2 && grids[0].str("parent_code") != grids[1].str("parent_code"));
            let is_secondary =
                grids.len() == 2 && grids[0].str("parent_code") == grids[1].str("parent_code");
            match kind {
                "primary" => assert!(is_primary, "{name}: {l:?} is no community boundary"),
                _ => assert!(is_secondary, "{name}: {l:?} is no grid boundary"),
            }
        }
        // Consecutive edges of one road are merged: pieces of one road do not meet.
        let pieces = ends.entry((name, kind)).or_default();
        for c in [r.geom.0[0], r.geom.0[r.geom.0.len() - 1]] {
            assert!(!pieces.contains(&c), "{name}: two pieces meet at {c:?}");
            pieces.push(c);
        }

        // No building stands on the road, nor on its carriageway.
        // Buildings farther than 0.0005° (over 40 m) cannot reach a carriageway.
        let bb = r.geom.bounding_rect().expect("non-empty");
        let near = Rect::new(
            Coord {
                x: bb.min().x - 5e-4,
                y: bb.min().y - 5e-4,
            },
            Coord {
                x: bb.max().x + 5e-4,
                y: bb.max().y + 5e-4,
            },
        );
        for b in &d.buildings {
            assert!(!r.geom.intersects(&b.geom), "{name} crosses {}", b.code());
            if bbox(&b.geom).intersects(&near) {
                let gap = gap_m(&b.geom, &Geometry::LineString(r.geom.clone()));
                assert!(
                    gap >= width as f64 / 2.0,
                    "{} is {gap} m from the centre of {name}, {width} m wide",
                    b.code()
                );
            }
        }
    }
    // And every grid boundary inside the street, and the street outline, is a road.
    for (e, grids) in &bounds {
        if grids.len() == 2 || outline.contains(e) {
            assert!(
                covered.contains(e),
                "no road between {:?}",
                grids.iter().map(|g| g.code()).collect::<Vec<_>>()
            );
        }
    }
    let expected = bounds
        .iter()
        .filter(|&(e, g)| g.len() == 2 || outline.contains(e))
        .count();
    assert_eq!(covered.len(), expected, "roads on other edges");
}
