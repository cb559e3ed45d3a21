//! Coordinates in other CRS: EPSG:4549 in metres northing first, geographic axis order, and the
//! served numbers against PROJ's own. Part of the `ogc` tests (its demo server and helpers
//! are in `tests/it/ogc.rs`).

use super::*;

#[tokio::test]
async fn crs_epsg_4549_gives_metres_northing_first_with_content_crs() {
    let server = demo_server();
    let base = "/ogc/collections/grids/items?limit=3";
    let degrees = get(&server.url(base)).await;
    let metres = get(&server.url(&format!("{base}&crs={EPSG}4549"))).await;
    assert_eq!(
        metres.content_crs.as_deref(),
        Some(format!("<{EPSG}4549>").as_str())
    );
    let survey = Crs::Epsg(4549);
    for (d, m) in degrees.body["features"]
        .as_array()
        .unwrap()
        .iter()
        .zip(metres.body["features"].as_array().unwrap())
    {
        assert_eq!(d["id"], m["id"]);
        let lonlat = &d["geometry"]["coordinates"][0][0][0];
        let ne = &m["geometry"]["coordinates"][0][0][0];
        let (lon, lat) = (lonlat[0].as_f64().unwrap(), lonlat[1].as_f64().unwrap());
        let (n, e) = (ne[0].as_f64().unwrap(), ne[1].as_f64().unwrap());
        assert!(
            (3_900_000.0..4_100_000.0).contains(&n),
            "northing first: {ne}"
        );
        assert!((400_000.0..600_000.0).contains(&e), "easting second: {ne}");
        let (e2, n2) = survey.from_wgs84(lon, lat).unwrap();
        assert!((e - e2).abs() < 1e-6 && (n - n2).abs() < 1e-6);
    }
    // Links keep the CRS.
    let next = link(&metres.body, "next", None).unwrap();
    assert!(
        next.contains("crs=http://www.opengis.net/def/crs/EPSG/0/4549"),
        "{next}"
    );
    let page2 = get(&next).await;
    assert_eq!(
        page2.content_crs.as_deref(),
        Some(format!("<{EPSG}4549>").as_str())
    );
    // Other spellings of the same CRS.
    for spelling in ["EPSG:4549", "urn:ogc:def:crs:EPSG::4549", "%5BEPSG:4549%5D"] {
        let again = get(&server.url(&format!("{base}&crs={spelling}"))).await;
        assert_eq!(
            again.body["features"], metres.body["features"],
            "{spelling}"
        );
    }
}

#[tokio::test]
async fn geographic_crs_axis_order_follows_the_definition() {
    let server = demo_server();
    let base = "/ogc/collections/districts/items";
    let crs84 = get(&server.url(&format!("{base}?crs={CRS84}"))).await;
    let default = get(&server.url(base)).await;
    assert_eq!(crs84.body["features"], default.body["features"]);
    for code in ["4326", "4490"] {
        let latlon = get(&server.url(&format!("{base}?crs={EPSG}{code}"))).await;
        assert_eq!(
            latlon.content_crs.as_deref(),
            Some(format!("<{EPSG}{code}>").as_str())
        );
        let a = &crs84.body["features"][0]["geometry"]["coordinates"][0][0];
        let b = &latlon.body["features"][0]["geometry"]["coordinates"][0][0];
        for (p, q) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
            assert_eq!(p[0], q[1], "EPSG:{code} is latitude, longitude");
            assert_eq!(p[1], q[0]);
        }
    }
}

/// A district whose corners are the reference points of tests/reference/proj_reference.csv,
/// imported with the CLI and served: the served coordinates must be PROJ's within 1 mm, and a
/// box around a served corner in that CRS must find the district again.
#[tokio::test]
async fn served_coordinates_match_proj_reference_within_a_millimetre() {
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/reference/proj_reference.csv"
    ))
    .unwrap();
    // (dst EPSG code, lat, lon) → (axis 1, axis 2) as PROJ answers, in the CRS's own order.
    let mut reference: HashMap<(String, String, String), (f64, f64)> = HashMap::new();
    let mut corners: Vec<(String, String)> = Vec::new();
    for line in csv.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if c[0] != "cs2cs" || c[2] != "EPSG:4326" {
            continue;
        }
        let key = (c[3].to_string(), c[4].to_string(), c[5].to_string());
        reference.insert(key, (c[6].parse().unwrap(), c[7].parse().unwrap()));
        let corner = (c[4].to_string(), c[5].to_string());
        if !corners.contains(&corner) {
            corners.push(corner);
        }
    }
    assert_eq!(corners.len(), 3, "three reference points: {corners:?}");
    let ring: Vec<String> = corners
        .iter()
        .chain(std::iter::once(&corners[0]))
        .map(|(lat, lon)| format!("[{lon},{lat}]"))
        .collect();
    let text = format!(
        r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"code":"REF","name":"reference"}},"geometry":{{"type":"Polygon","coordinates":[[{}]]}}}}]}}"#,
        ring.join(",")
    );
    let db = common::temp_sqlite();
    let file = db.dir.path().join("reference.geojson");
    std::fs::write(&file, text).unwrap();
    let output = common::wangge(&[
        "import",
        file.to_str().unwrap(),
        "--layer",
        "districts",
        "--database",
        &db.url,
    ]);
    assert!(output.status.success(), "{output:?}");
    let server = Server::start(&db.url, &[]);

    let mut checked = 0;
    for code in ["4549", "3857"] {
        let answer = get(&server.url(&format!(
            "/ogc/collections/districts/items?crs={EPSG}{code}"
        )))
        .await;
        assert_eq!(
            answer.content_crs.as_deref(),
            Some(format!("<{EPSG}{code}>").as_str())
        );
        let feature = &answer.body["features"][0];
        let id = feature["id"].as_i64().unwrap();
        let served: Vec<(f64, f64)> = feature["geometry"]["coordinates"][0][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        for (lat, lon) in &corners {
            let want = reference[&(format!("EPSG:{code}"), lat.clone(), lon.clone())];
            let nearest = served
                .iter()
                .map(|p| ((p.0 - want.0).powi(2) + (p.1 - want.1).powi(2)).sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!(
                nearest < 0.001,
                "EPSG:{code} at {lat},{lon}: PROJ says {want:?}, served {served:?}"
            );
            checked += 1;
            // Round trip: a 2 mm box around PROJ's coordinates, in the CRS's axis order.
            let found = get(&server.url(&format!(
                "/ogc/collections/districts/items?bbox={},{},{},{}&bbox-crs={EPSG}{code}",
                want.0 - 0.001,
                want.1 - 0.001,
                want.0 + 0.001,
                want.1 + 0.001
            )))
            .await;
            assert_eq!(
                found.body["numberMatched"], 1,
                "EPSG:{code} box at {want:?}"
            );
            assert_eq!(found.body["features"][0]["id"], id);
        }
    }
    assert_eq!(checked, 6);
}

// ------------------------------------------------------------------------ formats
