//! The command line: import, export and their round trips, through the real binary.

use crate::common;

use common::wangge;
use geo::{Geometry, MultiPolygon, Winding};
use geojson::{FeatureCollection, JsonValue};

const PLACE_LAYERS: [&str; 5] = ["districts", "streets", "communities", "grids", "areas"];

fn demo_path(layer: &str) -> String {
    format!(
        "{}/geodata/demo/{layer}.geojson",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn read(path: &str) -> FeatureCollection {
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn ok(output: std::process::Output) -> String {
    assert!(
        output.status.success(),
        "wangge failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn import(db: &str, file: &str, layer: &str, crs: Option<&str>) -> std::process::Output {
    let mut args = vec!["import", file, "--layer", layer, "--database", db];
    if let Some(crs) = crs {
        args.extend(["--crs", crs]);
    }
    wangge(&args)
}

fn export(db: &str, layer: &str, crs: &str) -> FeatureCollection {
    ok(wangge(&[
        "export",
        "--layer",
        layer,
        "--crs",
        crs,
        "--database",
        db,
    ]))
    .parse()
    .unwrap()
}

fn shape(f: &geojson::Feature) -> MultiPolygon<f64> {
    match Geometry::try_from(f.geometry.clone().unwrap()).unwrap() {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(m) => m,
        other => panic!("{other:?}"),
    }
}

fn max_difference(a: &MultiPolygon<f64>, b: &MultiPolygon<f64>) -> f64 {
    use geo::CoordsIter;
    assert_eq!(a.coords_count(), b.coords_count());
    a.coords_iter()
        .zip(b.coords_iter())
        .map(|(p, q)| (p.x - q.x).abs().max((p.y - q.y).abs()))
        .fold(0.0, f64::max)
}

fn code(f: &geojson::Feature) -> &str {
    f.property("code").and_then(JsonValue::as_str).unwrap()
}

fn import_demo(db: &str) {
    for layer in PLACE_LAYERS.iter().chain(&["buildings", "households"]) {
        let out = ok(import(db, &demo_path(layer), layer, None));
        assert!(out.contains("inserted"), "{out}");
    }
}

#[test]
fn the_demo_imports_and_exports_unchanged_with_households_assigned() {
    let db = common::temp_sqlite();
    import_demo(&db.url);
    for layer in PLACE_LAYERS {
        let source = read(&demo_path(layer));
        let exported = export(&db.url, layer, "wgs84");
        assert_eq!(exported.features.len(), source.features.len(), "{layer}");
        for (a, b) in source.features.iter().zip(&exported.features) {
            assert_eq!(code(a), code(b));
            assert_eq!(a.property("name"), b.property("name"));
            assert_eq!(a.property("parent_code"), b.property("parent_code"));
            assert!(
                max_difference(&shape(a), &shape(b)) < 1e-12,
                "{layer} {}",
                code(a)
            );
            // RFC 7946: exterior rings counter-clockwise, holes clockwise.
            for polygon in shape(b) {
                assert!(polygon.exterior().is_ccw(), "{layer} {}", code(b));
                assert!(polygon.interiors().iter().all(|h| h.is_cw()));
            }
        }
    }
    let households = export(&db.url, "households", "wgs84");
    assert_eq!(
        households.features.len(),
        read(&demo_path("households")).features.len()
    );
    let unassigned = households
        .features
        .iter()
        .filter(|f| f.property("grid_code").is_none_or(JsonValue::is_null))
        .count();
    assert_eq!(unassigned, 0, "every demo household lies in a grid");
    let buildings = export(&db.url, "buildings", "wgs84");
    assert!(
        buildings
            .features
            .iter()
            .all(|f| f.property("grid_code").is_some_and(JsonValue::is_string))
    );
}

#[test]
fn boundaries_survive_a_round_trip_through_every_crs() {
    let db = common::temp_sqlite();
    ok(import(&db.url, &demo_path("districts"), "districts", None));
    let original = export(&db.url, "districts", "wgs84");
    for (crs, tolerance_degrees) in [
        ("EPSG:4549", 1e-9),
        ("cgcs2000", 1e-12),
        ("gcj02", 5e-8), // 5 mm ≈ 4.5e-8 degrees
        ("bd09", 5e-8),
        ("EPSG:3857", 1e-9),
    ] {
        let exported = export(&db.url, "districts", crs);
        let file = db
            .dir
            .path()
            .join(format!("{}.geojson", crs.replace(':', "_")));
        std::fs::write(&file, serde_json::to_string(&exported).unwrap()).unwrap();
        let other = common::temp_sqlite();
        // The exported file names its CRS, so no --crs is needed to read it back.
        ok(import(
            &other.url,
            file.to_str().unwrap(),
            "districts",
            None,
        ));
        let back = export(&other.url, "districts", "wgs84");
        let error = max_difference(&shape(&original.features[0]), &shape(&back.features[0]));
        assert!(error < tolerance_degrees, "{crs}: off by {error} degrees");
        if crs != "cgcs2000" {
            let moved =
                max_difference(&shape(&original.features[0]), &shape(&exported.features[0]));
            assert!(moved > 1e-5, "{crs} export did not convert coordinates");
        }
    }
}

#[test]
fn invalid_features_are_reported_by_index_and_nothing_is_imported() {
    let db = common::temp_sqlite();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.geojson");
    std::fs::write(
        &file,
        r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"code":"370202","name":"市南区"},"geometry":{"type":"Polygon","coordinates":[[[120.3,36.0],[120.5,36.0],[120.5,36.2],[120.3,36.2],[120.3,36.0]]]}},
        {"type":"Feature","properties":{"code":"370203","name":"自交"},"geometry":{"type":"Polygon","coordinates":[[[120.3,36.0],[120.5,36.2],[120.5,36.0],[120.3,36.2],[120.3,36.0]]]}},
        {"type":"Feature","properties":{"code":"370204","name":"未闭合"},"geometry":{"type":"Polygon","coordinates":[[[120.3,36.0],[120.5,36.0],[120.5,36.2],[120.3,36.2]]]}},
        {"type":"Feature","properties":{"code":"370205","name":"越界"},"geometry":{"type":"Polygon","coordinates":[[[120.3,96.0],[120.5,96.0],[120.5,96.2],[120.3,96.0]]]}}
        ]}"#,
    )
    .unwrap();
    let output = import(&db.url, file.to_str().unwrap(), "districts", None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "feature 1 (370203): invalid polygon",
        "feature 2 (370204): polygon 0 ring 0 is not closed",
        "feature 3 (370205)",
        "3 of the features",
        "nothing was imported",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(!stderr.contains("feature 0"), "{stderr}");
    assert_eq!(export(&db.url, "districts", "wgs84").features.len(), 0);
}

#[test]
fn a_child_whose_parent_is_missing_is_refused_whole() {
    let db = common::temp_sqlite();
    let output = import(&db.url, &demo_path("grids"), "grids", None);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("item 0") && stderr.contains("parent_code"),
        "{stderr}"
    );
    assert_eq!(export(&db.url, "grids", "wgs84").features.len(), 0);
}

#[test]
fn unknown_layers_and_crs_are_refused_with_the_accepted_names() {
    let output = wangge(&["export", "--layer", "parks"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("districts, streets, communities, grids, areas, buildings, households"),
        "{stderr}"
    );
    let output = wangge(&["export", "--layer", "grids", "--crs", "EPSG:0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("EPSG:0"));
}

#[test]
fn households_carry_only_the_configured_tags() {
    let db = common::temp_sqlite();
    for layer in PLACE_LAYERS.iter().chain(&["buildings"]) {
        ok(import(&db.url, &demo_path(layer), layer, None));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("households.geojson");
    let mut households = read(&demo_path("households"));
    households.features.truncate(3);
    households.features[2].properties.as_mut().unwrap().insert(
        "tags".into(),
        serde_json::json!(["elderly_alone", "spaceship_pilot"]),
    );
    std::fs::write(&file, households.to_string()).unwrap();
    let file = file.to_str().unwrap();

    // The built-in list knows elderly_alone, not spaceship_pilot: nothing is stored.
    let refused = import(&db.url, file, "households", None);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("item 2")
            && stderr.contains("spaceship_pilot")
            && stderr.contains("elderly_alone"),
        "{stderr}"
    );
    assert_eq!(export(&db.url, "households", "wgs84").features.len(), 0);

    // Configured, it is a tag like the others.
    ok(wangge(&[
        "import",
        file,
        "--layer",
        "households",
        "--database",
        &db.url,
        "--visit-interval",
        "elderly_alone=7,spaceship_pilot=30",
    ]));
    assert_eq!(export(&db.url, "households", "wgs84").features.len(), 3);
    let bad = wangge(&[
        "import",
        file,
        "--layer",
        "households",
        "--database",
        &db.url,
        "--visit-interval",
        "elderly_alone",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("TAG=DAYS"));
}

#[test]
fn a_csv_register_is_placed_by_building_or_address_and_unmatched_rows_are_listed() {
    let db = common::temp_sqlite();
    for layer in PLACE_LAYERS.iter().chain(&["buildings"]) {
        ok(import(&db.url, &demo_path(layer), layer, None));
    }
    let buildings = read(&demo_path("buildings"));
    let (b1, b2) = (&buildings.features[0], &buildings.features[1]);
    let b2_address = b2.property("address").and_then(JsonValue::as_str).unwrap();
    // A point of the street in GCJ-02, as a phone's map app shows it.
    let (glon, glat) = wangge::spatial::crs::Crs::Gcj02
        .from_wgs84(120.3747, 36.0692)
        .unwrap();
    let csv = format!(
        "code,building_code,unit,floor,room,address,head_name,phone,people,tags,lon,lat\n\
         CSV-1,{},1,2,201,随便,王芳,13800000001,2,elderly_alone,,\n\
         CSV-2,,2,3,302,{b2_address}2单元302户,李雷,,1,,,\n\
         CSV-3,,,,,临时住户,韩梅梅,,1,,{glon},{glat}\n\
         CSV-4,NO-SUCH-BUILDING,,,,不知道,张三,,1,,,\n\
         CSV-5,,,,,香港中路999号,赵四,,1,,,\n",
        code(b1)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("register.csv");
    std::fs::write(&file, csv).unwrap();
    let file = file.to_str().unwrap();
    let out = import(&db.url, file, "households", Some("gcj02"));
    let stdout = ok(out.clone());
    assert!(stdout.contains("3 inserted"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 5 (CSV-4)") && stderr.contains("NO-SUCH-BUILDING"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 6 (CSV-5)") && stderr.contains("香港中路999号"),
        "{stderr}"
    );
    let stored = export(&db.url, "households", "wgs84");
    let by_code = |c: &str| {
        stored
            .features
            .iter()
            .find(|f| code(f) == c)
            .unwrap_or_else(|| panic!("{c} stored"))
    };
    let point = |f: &geojson::Feature| match Geometry::try_from(f.geometry.clone().unwrap()) {
        Ok(Geometry::Point(p)) => p,
        other => panic!("{other:?}"),
    };
    use geo::Contains;
    let csv1 = by_code("CSV-1");
    assert!(shape(b1).contains(&point(csv1)));
    let csv2 = by_code("CSV-2");
    assert_eq!(csv2.property("building_code"), b2.property("code"));
    assert!(shape(b2).contains(&point(csv2)));
    // Read in GCJ-02, stored in WGS84.
    let csv3 = point(by_code("CSV-3"));
    assert!((csv3.x() - 120.3747).abs() < 1e-6 && (csv3.y() - 36.0692).abs() < 1e-6);
    assert_eq!(stored.features.len(), 3);

    // A CSV file is households only; a malformed row stores nothing.
    let refused = import(&db.url, file, "buildings", None);
    assert!(!refused.status.success());
    std::fs::write(
        dir.path().join("bad.csv"),
        "code,address,head_name,floor,lon,lat\nCSV-9,某路1号,王五,三楼,120.3747,36.0692\n",
    )
    .unwrap();
    let bad = import(
        &db.url,
        dir.path().join("bad.csv").to_str().unwrap(),
        "households",
        None,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("floor"));
    assert_eq!(export(&db.url, "households", "wgs84").features.len(), 3);
}
