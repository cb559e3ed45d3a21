//! OGC API – Features (`/ogc`), through real HTTP against the real `wangge` binary serving the
//! demo street, and read by an independent client (GDAL's `ogrinfo`, OAPIF driver).
//!
//! Expected counts, codes and extents come from `geodata/demo/*.geojson`, and projected
//! coordinates from PROJ's own numbers in `tests/reference/proj_reference.csv`.

use crate::common;
mod crs;

use common::Server;
use geo::{BoundingRect, Coord, Geometry, Intersects, MultiPolygon, Rect};
use geojson::{FeatureCollection, JsonValue};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;
use wangge::spatial::crs::Crs;

const COLLECTIONS: [&str; 6] = [
    "districts",
    "streets",
    "communities",
    "grids",
    "areas",
    "buildings",
];
const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
const EPSG: &str = "http://www.opengis.net/def/crs/EPSG/0/";

/// One demo server on SQLite shared by the read-only tests of this file. A static is never
/// dropped, so [`Server`] also stops the process when this test binary exits (see common).
fn demo_server() -> &'static Server {
    static SERVER: OnceLock<(common::TempSqlite, Server)> = OnceLock::new();
    &SERVER
        .get_or_init(|| {
            let db = common::temp_sqlite();
            let server = Server::start(&db.url, &["--demo"]);
            (db, server)
        })
        .1
}

fn demo_layer(name: &str) -> FeatureCollection {
    let path = format!("{}/geodata/demo/{name}.geojson", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn prop(f: &geojson::Feature, key: &str) -> String {
    f.property(key)
        .and_then(JsonValue::as_str)
        .unwrap_or_default()
        .to_string()
}

fn shape(f: &geojson::Feature) -> MultiPolygon<f64> {
    match Geometry::try_from(f.geometry.clone().unwrap()).unwrap() {
        Geometry::Polygon(p) => MultiPolygon(vec![p]),
        Geometry::MultiPolygon(m) => m,
        other => panic!("{other:?}"),
    }
}

/// code → shape of every feature of a demo layer.
fn demo_shapes(layer: &str) -> BTreeMap<String, MultiPolygon<f64>> {
    demo_layer(layer)
        .features
        .iter()
        .map(|f| (prop(f, "code"), shape(f)))
        .collect()
}

struct Answer {
    status: StatusCode,
    content_type: String,
    content_crs: Option<String>,
    body: JsonValue,
}

async fn fetch(url: &str, accept: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new().get(url);
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let content_crs = header("content-crs");
    let status = response.status();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {text:.300}"));
    Answer {
        status,
        content_type,
        content_crs,
        body,
    }
}

async fn get(url: &str) -> Answer {
    let answer = fetch(url, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{url}: {}", answer.body);
    answer
}

/// The `href` of the link with this `rel` (and `type`, when given).
fn link(body: &JsonValue, rel: &str, media: Option<&str>) -> Option<String> {
    body["links"]
        .as_array()
        .unwrap_or_else(|| panic!("no links: {body}"))
        .iter()
        .find(|l| l["rel"] == rel && media.is_none_or(|m| l["type"] == m))
        .map(|l| l["href"].as_str().unwrap().to_string())
}

/// Follows `next` links from `url`, returning every feature's code in order and checking every
/// page's counts on the way.
async fn all_pages(url: &str) -> Vec<String> {
    let mut codes = Vec::new();
    let mut next = Some(url.to_string());
    let mut matched = None;
    let mut pages = 0;
    while let Some(url) = next {
        let page = get(&url).await;
        let features = page.body["features"].as_array().unwrap();
        assert_eq!(page.body["numberReturned"], features.len(), "{url}");
        let m = page.body["numberMatched"].as_u64().unwrap();
        assert_eq!(
            *matched.get_or_insert(m),
            m,
            "numberMatched changed at {url}"
        );
        codes.extend(
            features
                .iter()
                .map(|f| f["properties"]["code"].as_str().unwrap().to_string()),
        );
        next = link(&page.body, "next", None);
        pages += 1;
        assert!(pages < 10_000, "next links never end");
    }
    assert_eq!(matched, Some(codes.len() as u64), "numberMatched vs pages");
    codes
}

fn error_code(answer: &Answer) -> &str {
    answer.body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {}", answer.body))
}

fn rect(a: (f64, f64), b: (f64, f64)) -> Rect<f64> {
    Rect::new(Coord { x: a.0, y: a.1 }, Coord { x: b.0, y: b.1 })
}

// ------------------------------------------------------------------------ landing, conformance

#[tokio::test]
async fn the_landing_page_links_the_api_definition_conformance_and_data() {
    let server = demo_server();
    let landing = get(&server.url("/ogc")).await;
    assert_eq!(landing.content_type, "application/json");
    assert!(landing.body["title"].as_str().is_some());
    assert_eq!(
        link(&landing.body, "self", None).unwrap(),
        server.url("/ogc")
    );
    let api = link(
        &landing.body,
        "service-desc",
        Some("application/vnd.oai.openapi+json;version=3.0"),
    )
    .expect("a service-desc link");
    let doc = get(&api).await;
    assert_eq!(
        doc.content_type,
        "application/vnd.oai.openapi+json;version=3.0"
    );
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    // The same document as the service's own.
    assert_eq!(
        doc.body,
        get(&server.url("/api/v1/openapi.json")).await.body
    );

    let conformance = get(&link(&landing.body, "conformance", None).unwrap()).await;
    let classes: Vec<&str> = conformance.body["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for class in [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    ] {
        assert!(classes.contains(&class), "{class} missing: {classes:?}");
    }
    let data = get(&link(&landing.body, "data", None).unwrap()).await;
    assert!(data.body["collections"].is_array());
}

/// `/ogc/` has a route of its own in src/http/mod.rs: axum 0.8 matches a nested `/` only at `/ogc`.
#[tokio::test]
async fn the_landing_page_also_answers_with_a_trailing_slash() {
    let server = demo_server();
    let landing = get(&server.url("/ogc/")).await;
    assert!(link(&landing.body, "service-desc", None).is_some());
}

// ------------------------------------------------------------------------ collections

#[tokio::test]
async fn collections_list_the_six_layers_with_extents_and_crs() {
    let server = demo_server();
    let list = get(&server.url("/ogc/collections")).await;
    assert_eq!(list.content_type, "application/json");
    assert!(link(&list.body, "self", None).is_some());
    let collections = list.body["collections"].as_array().unwrap();
    let ids: Vec<&str> = collections
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, COLLECTIONS);
    for c in collections {
        let id = c["id"].as_str().unwrap();
        let one = get(&server.url(&format!("/ogc/collections/{id}"))).await;
        assert_eq!(&one.body, c, "the list and /collections/{id} agree");
        assert_eq!(c["itemType"], "feature");
        assert_eq!(c["storageCrs"], CRS84);
        let crs: Vec<&str> = c["crs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        for wanted in [
            CRS84.to_string(),
            format!("{EPSG}4490"),
            format!("{EPSG}4549"),
            format!("{EPSG}3857"),
            format!("{EPSG}4326"),
        ] {
            assert!(
                crs.contains(&wanted.as_str()),
                "{id}: {wanted} not in {crs:?}"
            );
        }
        assert!(
            link(c, "items", Some("application/geo+json")).is_some(),
            "{id}"
        );
        assert!(link(c, "self", None).is_some(), "{id}");
        // The extent is the demo layer's bounding box, in CRS84.
        assert_eq!(c["extent"]["spatial"]["crs"], CRS84);
        let bbox: Vec<f64> = c["extent"]["spatial"]["bbox"][0]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let expected = demo_shapes(id)
            .values()
            .map(|s| s.bounding_rect().unwrap())
            .reduce(|a, b| {
                rect(
                    (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                    (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
                )
            })
            .unwrap();
        let want = [
            expected.min().x,
            expected.min().y,
            expected.max().x,
            expected.max().y,
        ];
        for (got, want) in bbox.iter().zip(want) {
            assert!((got - want).abs() < 1e-9, "{id}: {bbox:?} vs {want:?}");
        }
    }
}

#[tokio::test]
async fn households_are_not_published() {
    let server = demo_server();
    for path in [
        "/ogc/collections/households",
        "/ogc/collections/households/items",
        "/ogc/collections/households/items/1",
    ] {
        let answer = fetch(&server.url(path), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(&answer), "not_found");
    }
    let list = get(&server.url("/ogc/collections")).await;
    assert!(!list.body.to_string().contains("households/items"));
}

// ------------------------------------------------------------------------ items and paging

#[tokio::test]
async fn items_count_and_page_through_every_feature_exactly_once() {
    let server = demo_server();
    for id in COLLECTIONS {
        let demo: BTreeSet<String> = demo_shapes(id).into_keys().collect();
        let first = get(&server.url(&format!("/ogc/collections/{id}/items"))).await;
        assert_eq!(first.content_type, "application/geo+json");
        assert_eq!(
            first.content_crs.as_deref(),
            Some(format!("<{CRS84}>").as_str())
        );
        assert_eq!(first.body["type"], "FeatureCollection");
        assert_eq!(first.body["numberMatched"], demo.len(), "{id}");
        assert_eq!(
            first.body["numberReturned"],
            demo.len().min(10),
            "{id}: limit 10 by default"
        );
        assert!(first.body["timeStamp"].as_str().unwrap().ends_with('Z'));
        assert!(link(&first.body, "self", Some("application/geo+json")).is_some());
        assert!(link(&first.body, "alternate", Some("application/json")).is_some());
        assert!(link(&first.body, "prev", None).is_none());

        let codes = all_pages(&server.url(&format!("/ogc/collections/{id}/items?limit=7"))).await;
        let unique: BTreeSet<String> = codes.iter().cloned().collect();
        assert_eq!(unique.len(), codes.len(), "{id}: a feature came twice");
        assert_eq!(unique, demo, "{id}");
        // The largest page holds everything.
        let all = get(&server.url(&format!("/ogc/collections/{id}/items?limit=10000"))).await;
        assert_eq!(all.body["numberReturned"], demo.len());
        assert!(link(&all.body, "next", None).is_none());
    }
}

#[tokio::test]
async fn prev_links_walk_back_and_pages_past_the_end_are_empty() {
    let server = demo_server();
    let total = demo_layer("buildings").features.len();
    let url = server.url("/ogc/collections/buildings/items?limit=50&offset=100");
    let page = get(&url).await;
    let prev = get(&link(&page.body, "prev", None).unwrap()).await;
    let before = get(&server.url("/ogc/collections/buildings/items?limit=50&offset=50")).await;
    assert_eq!(prev.body["features"], before.body["features"]);
    let next = get(&link(&page.body, "next", None).unwrap()).await;
    let after = get(&server.url("/ogc/collections/buildings/items?limit=50&offset=150")).await;
    assert_eq!(next.body["features"], after.body["features"]);

    let past = get(&server.url(&format!(
        "/ogc/collections/buildings/items?limit=50&offset={}",
        total + 5
    )))
    .await;
    assert_eq!(past.body["numberReturned"], 0);
    assert_eq!(past.body["numberMatched"], total);
    assert!(link(&past.body, "next", None).is_none());
    assert!(link(&past.body, "prev", None).is_some());
}

#[tokio::test]
async fn one_feature_by_its_numeric_id() {
    let server = demo_server();
    let page = get(&server.url("/ogc/collections/grids/items?limit=1")).await;
    let first = &page.body["features"][0];
    let id = first["id"].as_i64().expect("numeric ids");
    let one = get(&server.url(&format!("/ogc/collections/grids/items/{id}"))).await;
    assert_eq!(one.content_type, "application/geo+json");
    assert_eq!(
        one.content_crs.as_deref(),
        Some(format!("<{CRS84}>").as_str())
    );
    assert_eq!(one.body["type"], "Feature");
    assert_eq!(one.body["id"], id);
    assert_eq!(one.body["geometry"], first["geometry"]);
    assert_eq!(one.body["properties"], first["properties"]);
    assert!(link(&one.body, "self", Some("application/geo+json")).is_some());
    assert!(link(&one.body, "alternate", Some("application/json")).is_some());
    assert_eq!(
        link(&one.body, "collection", None).unwrap(),
        server.url("/ogc/collections/grids")
    );
    // The same id is not a feature of another collection.
    let elsewhere = fetch(
        &server.url(&format!("/ogc/collections/streets/items/{id}")),
        None,
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    for missing in ["999999999", "abc", "-1", "1.5"] {
        let answer = fetch(
            &server.url(&format!("/ogc/collections/grids/items/{missing}")),
            None,
        )
        .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(error_code(&answer), "not_found");
    }
}

#[tokio::test]
async fn the_rest_api_and_ogc_answer_a_place_with_one_feature() {
    let server = demo_server();
    let page = get(&server.url("/ogc/collections/grids/items?limit=1")).await;
    let ogc = &page.body["features"][0];
    let id = ogc["id"].as_i64().expect("numeric ids");
    let rest = get(&server.url(&format!("/api/v1/grids/{id}"))).await;
    assert_eq!(rest.body["id"], id);
    assert_eq!(rest.body["geometry"], ogc["geometry"]);
    let mut properties = rest.body["properties"].as_object().unwrap().clone();
    assert_eq!(properties.remove("id"), Some(json!(id)));
    let updated_at = properties.remove("updated_at").unwrap();
    assert!(
        updated_at.as_str().is_some_and(|t| t.ends_with('Z')),
        "{updated_at}"
    );
    assert_eq!(JsonValue::Object(properties), ogc["properties"]);
    assert_eq!(ogc["properties"]["kind"], "grid");
}

// ------------------------------------------------------------------------ filters

/// Probe boxes over a layer's extent: a 6×6 lattice of small boxes, the whole extent and a box
/// far away.
fn probe_boxes(shapes: &BTreeMap<String, MultiPolygon<f64>>) -> Vec<Rect<f64>> {
    let all = shapes
        .values()
        .map(|s| s.bounding_rect().unwrap())
        .reduce(|a, b| {
            rect(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        })
        .unwrap();
    let (w, h) = (all.width(), all.height());
    let mut boxes = vec![all, rect((10.0, 10.0), (10.1, 10.1))];
    for i in 0..6 {
        for j in 0..6 {
            let x = all.min().x + w * (0.05 + 0.16 * f64::from(i));
            let y = all.min().y + h * (0.05 + 0.16 * f64::from(j));
            boxes.push(rect((x, y), (x + w * 0.03, y + h * 0.03)));
        }
    }
    boxes
}

async fn codes_of(url: &str) -> BTreeSet<String> {
    let page = get(url).await;
    let features = page.body["features"].as_array().unwrap();
    assert_eq!(
        page.body["numberMatched"],
        features.len(),
        "{url}: one page"
    );
    features
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn bbox_selects_exactly_the_features_whose_geometry_meets_the_box() {
    let server = demo_server();
    let mut sharper_than_bounding_boxes = 0;
    for layer in ["grids", "areas", "buildings"] {
        let shapes = demo_shapes(layer);
        for b in probe_boxes(&shapes) {
            let expected: BTreeSet<String> = shapes
                .iter()
                .filter(|(_, s)| b.intersects(*s))
                .map(|(c, _)| c.clone())
                .collect();
            let by_bounds = shapes
                .values()
                .filter(|s| b.intersects(&s.bounding_rect().unwrap()))
                .count();
            if by_bounds != expected.len() {
                sharper_than_bounding_boxes += 1;
            }
            let (x1, y1, x2, y2) = (b.min().x, b.min().y, b.max().x, b.max().y);
            let url = format!("/ogc/collections/{layer}/items?limit=10000");
            let got = codes_of(&server.url(&format!("{url}&bbox={x1},{y1},{x2},{y2}"))).await;
            assert_eq!(got, expected, "{layer} bbox {x1},{y1},{x2},{y2}");
            // The same box in EPSG:4326 is latitude first; in CRS84 by name, longitude first.
            let got = codes_of(&server.url(&format!(
                "{url}&bbox={y1},{x1},{y2},{x2}&bbox-crs={EPSG}4326"
            )))
            .await;
            assert_eq!(got, expected, "{layer} EPSG:4326 bbox");
            let got =
                codes_of(&server.url(&format!("{url}&bbox={x1},{y1},{x2},{y2}&bbox-crs={CRS84}")))
                    .await;
            assert_eq!(got, expected, "{layer} CRS84 bbox");
        }
    }
    // The probes include boxes that meet a feature's bounding box but not the feature.
    assert!(sharper_than_bounding_boxes > 0);
}

#[tokio::test]
async fn a_bbox_in_epsg_4549_is_northing_first_and_decided_in_metres() {
    let server = demo_server();
    let survey = Crs::Epsg(4549);
    let shapes: BTreeMap<String, Geometry<f64>> = demo_shapes("grids")
        .into_iter()
        .map(|(c, s)| {
            let there = survey
                .geometry_from_wgs84(&Geometry::MultiPolygon(s))
                .unwrap();
            (c, there)
        })
        .collect();
    let all = shapes
        .values()
        .map(|s| s.bounding_rect().unwrap())
        .reduce(|a, b| {
            rect(
                (a.min().x.min(b.min().x), a.min().y.min(b.min().y)),
                (a.max().x.max(b.max().x), a.max().y.max(b.max().y)),
            )
        })
        .unwrap();
    for (fx, fy) in [(0.1, 0.1), (0.4, 0.5), (0.7, 0.2), (0.5, 0.8)] {
        // Easting, northing of a 150 m box.
        let e = all.min().x + all.width() * fx;
        let n = all.min().y + all.height() * fy;
        let b = rect((e, n), (e + 150.0, n + 150.0));
        let expected: BTreeSet<String> = shapes
            .iter()
            .filter(|(_, s)| b.intersects(*s))
            .map(|(c, _)| c.clone())
            .collect();
        assert!(!expected.is_empty());
        let got = codes_of(&server.url(&format!(
            "/ogc/collections/grids/items?limit=10000&bbox={n},{e},{},{}&bbox-crs={EPSG}4549",
            n + 150.0,
            e + 150.0
        )))
        .await;
        assert_eq!(got, expected, "box at E {e} N {n}");
    }
}

#[tokio::test]
async fn code_and_parent_code_filter() {
    let server = demo_server();
    let grids = demo_layer("grids");
    let first = &grids.features[0];
    let code = prop(first, "code");
    let got = codes_of(&server.url(&format!("/ogc/collections/grids/items?code={code}"))).await;
    assert_eq!(got, BTreeSet::from([code.clone()]));
    let none = get(&server.url("/ogc/collections/grids/items?code=no-such-code")).await;
    assert_eq!(none.body["numberMatched"], 0);

    // Every community's grids, by parent_code.
    let mut by_parent: HashMap<String, BTreeSet<String>> = HashMap::new();
    for f in &grids.features {
        by_parent
            .entry(prop(f, "parent_code"))
            .or_default()
            .insert(prop(f, "code"));
    }
    assert!(by_parent.len() > 1);
    for (parent, children) in &by_parent {
        let got = codes_of(&server.url(&format!(
            "/ogc/collections/grids/items?parent_code={parent}&limit=10000"
        )))
        .await;
        assert_eq!(&got, children, "grids of {parent}");
    }
    // Both together.
    let parent = prop(first, "parent_code");
    let got = codes_of(&server.url(&format!(
        "/ogc/collections/grids/items?parent_code={parent}&code={code}"
    )))
    .await;
    assert_eq!(got, BTreeSet::from([code]));
    // Streets of the district.
    let district = prop(&demo_layer("districts").features[0], "code");
    let streets: BTreeSet<String> = demo_shapes("streets").into_keys().collect();
    let got = codes_of(&server.url(&format!(
        "/ogc/collections/streets/items?parent_code={district}"
    )))
    .await;
    assert_eq!(got, streets);
    // A building's parent is the grid it lies in: the grids partition the buildings.
    let mut seen = 0;
    for grid in demo_shapes("grids").keys() {
        let page = get(&server.url(&format!(
            "/ogc/collections/buildings/items?parent_code={grid}&limit=10000"
        )))
        .await;
        for f in page.body["features"].as_array().unwrap() {
            assert_eq!(f["properties"]["grid_code"], grid.as_str());
            seen += 1;
        }
    }
    let in_a_grid = get(&server.url("/ogc/collections/buildings/items?limit=10000"))
        .await
        .body["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["properties"]["grid_code"].is_string())
        .count();
    assert_eq!(seen, in_a_grid);
    assert!(seen > 0);
}

// ------------------------------------------------------------------------ CRS (Part 2)

#[tokio::test]
async fn formats_by_f_and_by_accept_header() {
    let server = demo_server();
    let items = server.url("/ogc/collections/areas/items");
    for (query, accept, media) in [
        ("", None, "application/geo+json"),
        ("?f=geojson", None, "application/geo+json"),
        ("?f=json", None, "application/json"),
        ("", Some("application/json"), "application/json"),
        ("", Some("application/geo+json"), "application/geo+json"),
        (
            "",
            Some("application/geo+json, application/json"),
            "application/geo+json",
        ),
        (
            "",
            Some("text/html,application/xhtml+xml,*/*;q=0.8"),
            "application/geo+json",
        ),
        (
            "?f=geojson",
            Some("application/json"),
            "application/geo+json",
        ),
    ] {
        let answer = fetch(&format!("{items}{query}"), accept).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.content_type, media, "{query} {accept:?}");
        assert_eq!(answer.body["type"], "FeatureCollection");
        assert_eq!(
            answer.body["links"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["rel"] == "self")
                .unwrap()["type"],
            media
        );
    }
    for path in [
        "/ogc",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/areas",
    ] {
        let answer = get(&server.url(&format!("{path}?f=json"))).await;
        assert_eq!(answer.content_type, "application/json", "{path}");
        let answer = fetch(&server.url(&format!("{path}?f=geojson")), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(error_code(&answer), "unsupported_format");
    }
}

// ------------------------------------------------------------------------ bad requests

#[tokio::test]
async fn every_bad_parameter_is_a_400_json_error() {
    let server = demo_server();
    let items = "/ogc/collections/grids/items";
    let cases: &[(&str, &str)] = &[
        ("bbox=120.3,36.0,120.4", "invalid_bbox"),
        ("bbox=120.3,36.0,0,120.4,36.1,100", "invalid_bbox"),
        ("bbox=120.3,36.0,120.4,36.1,5", "invalid_bbox"),
        ("bbox=a,b,c,d", "invalid_bbox"),
        ("bbox=", "invalid_bbox"),
        ("bbox=120.3,36.1,120.4,36.0", "invalid_bbox"),
        ("bbox=120.3,95,120.4,96", "invalid_bbox"),
        ("bbox=inf,36.0,120.4,36.1", "invalid_bbox"),
        (
            "bbox=120.3,36.0,120.4,36.1&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4326",
            "invalid_bbox",
        ),
        (
            "bbox=120.3,36.0,120.4,36.1&bbox-crs=EPSG:99999",
            "unknown_crs",
        ),
        ("limit=0", "invalid_limit"),
        ("limit=10001", "invalid_limit"),
        ("limit=ten", "invalid_limit"),
        ("limit=-5", "invalid_limit"),
        ("limit=2.5", "invalid_limit"),
        ("offset=-1", "invalid_offset"),
        ("offset=x", "invalid_offset"),
        ("crs=EPSG:99999", "unknown_crs"),
        ("crs=nonsense", "unknown_crs"),
        (
            "crs=http://www.opengis.net/def/crs/EPSG/0/4528",
            "unsupported_crs",
        ),
        ("crs=gcj02", "unsupported_crs"),
        ("f=html", "unsupported_format"),
        ("code=", "invalid_parameter"),
        ("parent_code=", "invalid_parameter"),
        ("limit=5&limit=6", "duplicate_parameter"),
        ("foo=bar", "unknown_parameter"),
        ("datetime=2024-01-01T00:00:00Z", "unknown_parameter"),
    ];
    for (query, code) in cases {
        let answer = fetch(&server.url(&format!("{items}?{query}")), None).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            answer.body
        );
        assert_eq!(error_code(&answer), *code, "{query}: {}", answer.body);
        let message = answer.body["error"]["message"].as_str().unwrap();
        assert!(message.len() > 10, "{query}: {message}");
    }
    // Unknown parameters elsewhere too; the single feature takes crs and f only.
    for path in [
        "/ogc?x=1",
        "/ogc/conformance?limit=1",
        "/ogc/collections?bbox=1,2,3,4",
        "/ogc/collections/grids?crs=EPSG:4549",
        "/ogc/collections/grids/items/1?limit=1",
        "/ogc/collections/grids/items/1?crs=EPSG:1",
    ] {
        let answer = fetch(&server.url(path), None).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(error_code(&answer).len() > 3);
    }
    for path in [
        "/ogc/collections/parks",
        "/ogc/collections/parks/items",
        "/ogc/collections/parks/items/1",
        "/ogc/collections/grids/items/1/extra",
    ] {
        let answer = fetch(&server.url(path), None).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error_code(&answer), "not_found");
    }
    let answer = fetch(&server.url("/ogc/collections/parks"), None).await;
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("grids"),
        "the message lists the collections"
    );
}

// ------------------------------------------------------------------------ PostGIS

#[tokio::test]
async fn a_postgis_backed_server_publishes_the_same_collections() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    let pg = Server::start(&url, &["--demo"]);
    for id in COLLECTIONS {
        let path = format!("/ogc/collections/{id}/items?limit=10000");
        let from_pg = codes_of(&pg.url(&path)).await;
        let from_sqlite = codes_of(&demo_server().url(&path)).await;
        assert_eq!(from_pg, from_sqlite, "{id}");
    }
}

// ------------------------------------------------------------------------ GDAL

/// GDAL's OGC API Features driver reads every collection, and its counts are ours.
///
/// Skipped with a message when `ogrinfo` is missing, unless `WANGGE_REQUIRE_GDAL=1` (CI), which
/// turns a missing GDAL into a failure. Debian: `apt-get install gdal-bin`.
#[tokio::test]
async fn gdal_reads_the_collections_with_the_oapif_driver() {
    let present = std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        assert!(
            std::env::var("WANGGE_REQUIRE_GDAL").is_err(),
            "WANGGE_REQUIRE_GDAL is set but ogrinfo is missing (apt-get install gdal-bin)"
        );
        eprintln!("ogrinfo is missing: skipping the GDAL test (apt-get install gdal-bin)");
        return;
    }
    let server = demo_server();
    let source = format!("OAPIF:{}", server.url("/ogc"));
    let run = |args: &[&str]| {
        let output = std::process::Command::new("ogrinfo")
            .args(args)
            .output()
            .expect("run ogrinfo");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "ogrinfo {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    // Summary of every layer: names and feature counts (GDAL takes numberMatched).
    let summary = run(&["-ro", "-so", "-al", &source]);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut layer = None;
    for line in summary.lines() {
        if let Some(name) = line.strip_prefix("Layer name: ") {
            layer = Some(name.trim().to_string());
        } else if let Some(n) = line.strip_prefix("Feature Count: ") {
            counts.insert(layer.clone().unwrap(), n.trim().parse().unwrap());
        }
    }
    let expected: BTreeMap<String, usize> = COLLECTIONS
        .iter()
        .map(|id| (id.to_string(), demo_layer(id).features.len()))
        .collect();
    assert_eq!(counts, expected, "ogrinfo said:\n{summary}");
    assert!(summary.contains("Multi Polygon"), "{summary}");

    // Reading every feature makes GDAL follow our next links to the end.
    let features = run(&["-ro", "-al", "-q", &source, "grids"]);
    let read: BTreeSet<String> = features
        .lines()
        .filter_map(|l| l.trim().strip_prefix("code (String) = "))
        .map(str::to_string)
        .collect();
    let grids: BTreeSet<String> = demo_shapes("grids").into_keys().collect();
    assert_eq!(read, grids);
    assert_eq!(
        features
            .lines()
            .filter(|l| l.starts_with("OGRFeature(grids)"))
            .count(),
        grids.len()
    );

    // A spatial filter goes to the server as bbox.
    let shapes = demo_shapes("grids");
    let b = probe_boxes(&shapes)[10];
    let expected = shapes.values().filter(|s| b.intersects(*s)).count();
    let (x1, y1, x2, y2) = (b.min().x, b.min().y, b.max().x, b.max().y);
    let filtered = run(&[
        "-ro",
        "-so",
        "-spat",
        &x1.to_string(),
        &y1.to_string(),
        &x2.to_string(),
        &y2.to_string(),
        &source,
        "grids",
    ]);
    assert!(
        filtered.contains(&format!("Feature Count: {expected}")),
        "expected {expected}:\n{filtered}"
    );
}
