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

mod basemap;
mod check;
mod geometry;
mod lattice;
mod layers;
mod output;
mod rng;

use geo::{Contains, LineString, Validation, Winding};
use serde_json::{Value, json};
use std::fs;
use std::path::PathBuf;

use crate::check::check;
use crate::geometry::{coord, geo_polygon};
use crate::layers::generate;
use crate::output::{
    district_ring, feature, linestring_json, point_json, polygon_json, region_feature, write_layer,
};

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
