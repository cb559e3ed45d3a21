//! Vector tiles and TileJSON, through real HTTP: against the real `wangge` binary serving the
//! demo street, and against an in-process router over an `App` to see a write reach the tiles.

use crate::common;

use common::Server;
use futures::StreamExt;
use geo::{BoundingRect, Contains, Coord, InteriorPoint, MultiPolygon, Point, Rect};
use geojson::{FeatureCollection, JsonValue};
use geozero::ToGeo;
use geozero::mvt::{Message, Tile, tile};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::sync::{Arc, OnceLock};
use wangge::spatial::tiles::{MAX_TILE_BYTES, TileId, tiles_covering};

/// One demo server on SQLite shared by the read-only tests of this file.
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

const LAYERS: [&str; 10] = [
    "water",
    "roads",
    "districts",
    "streets",
    "communities",
    "grids",
    "areas",
    "needs",
    "buildings",
    "households",
];

fn demo_layer(name: &str) -> FeatureCollection {
    let path = format!("{}/geodata/demo/{name}.geojson", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn shape(f: &geojson::Feature) -> MultiPolygon<f64> {
    match geo::Geometry::try_from(f.geometry.clone().unwrap()).unwrap() {
        geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
        geo::Geometry::MultiPolygon(m) => m,
        other => panic!("not polygonal: {other:?}"),
    }
}

fn code(f: &geojson::Feature) -> String {
    f.property("code").unwrap().as_str().unwrap().to_string()
}

/// The demo street's bounds in lon/lat.
fn street_bounds() -> Rect<f64> {
    shape(&demo_layer("streets").features[0])
        .bounding_rect()
        .unwrap()
}

struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

async fn fetch(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Fetched {
    let mut request = client.get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.unwrap();
    Fetched {
        status: response.status(),
        headers: response.headers().clone(),
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// An HTTP client for the calling test. Each test has its own runtime, and a client's pooled
/// connections belong to the runtime that opened them, so clients are never shared across tests
/// (one per thread: each test runs on its own thread).
fn client() -> reqwest::Client {
    thread_local! {
        static CLIENT: reqwest::Client = reqwest::Client::new();
    }
    CLIENT.with(Clone::clone)
}

async fn tile_bytes(server_base: &str, layer: &str, t: TileId) -> Option<Vec<u8>> {
    let url = format!("{server_base}/tiles/{layer}/{}/{}/{}.mvt", t.z, t.x, t.y);
    let r = fetch(&client(), &url, &[]).await;
    match r.status {
        StatusCode::OK => {
            assert_eq!(
                r.headers["content-type"], "application/vnd.mapbox-vector-tile",
                "{url}"
            );
            Some(r.body)
        }
        StatusCode::NO_CONTENT => {
            assert!(r.body.is_empty());
            None
        }
        other => panic!("{url}: {other} {}", String::from_utf8_lossy(&r.body)),
    }
}

/// Decodes a tile, checks it holds exactly the one layer named `layer` and every geometry
/// decodes, and returns that layer.
fn decode(bytes: &[u8], layer: &str) -> tile::Layer {
    let tile = Tile::decode(bytes).expect("a protobuf tile");
    assert_eq!(tile.layers.len(), 1);
    let l = tile.layers.into_iter().next().unwrap();
    assert_eq!(l.name, layer);
    assert_eq!(l.version, 2);
    assert_eq!(l.extent, Some(4096));
    for f in &l.features {
        f.to_geo()
            .unwrap_or_else(|e| panic!("{layer}: a feature does not decode: {e}"));
    }
    l
}

#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    I(i64),
    D(f64),
}

/// The properties of a feature, decoded through the layer's key and value tables.
fn props(layer: &tile::Layer, f: &tile::Feature) -> BTreeMap<String, V> {
    f.tags
        .chunks(2)
        .map(|kv| {
            let key = layer.keys[kv[0] as usize].clone();
            let v = &layer.values[kv[1] as usize];
            let value = if let Some(s) = &v.string_value {
                V::S(s.clone())
            } else if let Some(i) = v.int_value.or(v.sint_value) {
                V::I(i)
            } else if let Some(u) = v.uint_value {
                V::I(u as i64)
            } else if let Some(d) = v.double_value {
                V::D(d)
            } else {
                panic!("unexpected value {v:?}")
            };
            (key, value)
        })
        .collect()
}

fn int(p: &BTreeMap<String, V>, key: &str) -> i64 {
    match p.get(key) {
        Some(V::I(i)) => *i,
        other => panic!("{key}: {other:?}"),
    }
}

fn string(p: &BTreeMap<String, V>, key: &str) -> String {
    match p.get(key) {
        Some(V::S(s)) => s.clone(),
        other => panic!("{key}: {other:?}"),
    }
}

async fn json(url: String) -> (StatusCode, JsonValue) {
    let r = fetch(&client(), &url, &[]).await;
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|_| panic!("{url}: not JSON: {}", String::from_utf8_lossy(&r.body)));
    (r.status, body)
}

async fn total_households(server: &Server) -> i64 {
    let (_, health) = json(server.url("/health")).await;
    health["counts"]["households"].as_i64().unwrap()
}

#[tokio::test]
async fn the_grid_tile_at_a_grids_interior_point_holds_that_grid() {
    let server = demo_server();
    let grids = demo_layer("grids");
    assert!(grids.features.len() >= 30);
    for z in [13, 16] {
        for f in &grids.features {
            let p = shape(f).interior_point().unwrap();
            let t = TileId::containing(p.x(), p.y(), z);
            let bytes = tile_bytes(&server.base, "grids", t).await.expect("a tile");
            let layer = decode(&bytes, "grids");
            let wanted = code(f);
            let feature = layer
                .features
                .iter()
                .find(|g| props(&layer, g).get("code") == Some(&V::S(wanted.clone())))
                .unwrap_or_else(|| panic!("grid {wanted} missing from grids/{t}"));
            let p_tile = t.lonlat_to_tile(p.x(), p.y());
            let geometry = feature.to_geo().unwrap();
            if z == 16 {
                assert!(
                    geometry.contains(&Point(p_tile)),
                    "grid {wanted}: the interior point is outside the tile geometry"
                );
            }
            let pr = props(&layer, feature);
            assert_eq!(string(&pr, "kind"), "grid");
            assert_eq!(
                string(&pr, "parent_code"),
                f.property("parent_code").unwrap().as_str().unwrap()
            );
            assert!(int(&pr, "households") > 0, "demo grids all have households");
            let Some(V::D(density)) = pr.get("density") else {
                panic!("density: {pr:?}")
            };
            assert!(*density > 0.0);
            assert!(feature.id.is_some());
        }
    }
}

#[tokio::test]
async fn household_points_from_z16_carry_only_id_and_grid_code() {
    let server = demo_server();
    let total = total_households(server).await;
    let mut ids = BTreeSet::new();
    for t in tiles_covering(street_bounds(), 16) {
        let Some(bytes) = tile_bytes(&server.base, "households", t).await else {
            continue;
        };
        let layer = decode(&bytes, "households");
        let allowed: BTreeSet<&str> = ["id", "grid_code"].into();
        let keys: BTreeSet<&str> = layer.keys.iter().map(String::as_str).collect();
        assert_eq!(keys, allowed, "the layer's whole key table");
        for f in &layer.features {
            let p = props(&layer, f);
            let keys: BTreeSet<&str> = p.keys().map(String::as_str).collect();
            assert_eq!(keys, allowed);
            assert_eq!(f.id, Some(int(&p, "id") as u64));
            let geometry = f.to_geo().unwrap();
            let geo::Geometry::Point(pt) = geometry else {
                panic!("a household is a point")
            };
            // Points in a tile's buffer repeat in the neighbour: count each household once.
            if (0.0..4096.0).contains(&pt.x()) && (0.0..4096.0).contains(&pt.y()) {
                assert!(ids.insert(int(&p, "id")), "a household twice");
            }
        }
    }
    assert_eq!(ids.len() as i64, total);
}

#[tokio::test]
async fn below_z16_households_are_counted_per_grid_and_sum_to_the_total() {
    let server = demo_server();
    let total = total_households(server).await;
    let grid_codes: BTreeSet<String> = demo_layer("grids").features.iter().map(code).collect();
    for z in [10, 13, 15] {
        let mut per_grid: HashMap<String, i64> = HashMap::new();
        for t in tiles_covering(street_bounds(), z) {
            let Some(bytes) = tile_bytes(&server.base, "households", t).await else {
                continue;
            };
            let layer = decode(&bytes, "households");
            for f in &layer.features {
                let p = props(&layer, f);
                let keys: BTreeSet<&str> = p.keys().map(String::as_str).collect();
                assert_eq!(keys, BTreeSet::from(["grid_code", "households"]));
                let grid = string(&p, "grid_code");
                assert!(grid_codes.contains(&grid));
                let n = int(&p, "households");
                // A grid's point may sit in two tiles' buffers: the same count both times.
                if let Some(seen) = per_grid.insert(grid, n) {
                    assert_eq!(seen, n);
                }
            }
        }
        assert_eq!(per_grid.values().sum::<i64>(), total, "at z{z}");
    }
}

#[tokio::test]
async fn buildings_carry_floors_and_height() {
    let server = demo_server();
    let buildings = demo_layer("buildings");
    for f in buildings.features.iter().step_by(25) {
        let p = shape(f).interior_point().unwrap();
        let t = TileId::containing(p.x(), p.y(), 17);
        let bytes = tile_bytes(&server.base, "buildings", t).await.unwrap();
        let layer = decode(&bytes, "buildings");
        let wanted = code(f);
        let found = layer
            .features
            .iter()
            .map(|b| props(&layer, b))
            .find(|pr| pr.get("code") == Some(&V::S(wanted.clone())))
            .unwrap_or_else(|| panic!("building {wanted} missing"));
        let floors = f.property("floors").unwrap().as_i64().unwrap();
        assert_eq!(int(&found, "floors"), floors);
        assert_eq!(int(&found, "height_m"), floors * 3);
        assert_eq!(
            string(&found, "name"),
            f.property("name").unwrap().as_str().unwrap()
        );
        let keys: BTreeSet<&str> = found.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["code", "name", "floors", "height_m"]));
    }
}

fn street_tile() -> TileId {
    let c = street_bounds().center();
    TileId::containing(c.x, c.y, 15)
}

#[tokio::test]
async fn gzip_when_asked_with_the_same_bytes() {
    let server = demo_server();
    let t = street_tile();
    let url = server.url(&format!("/tiles/grids/{}/{}/{}.mvt", t.z, t.x, t.y));
    let plain = fetch(&client(), &url, &[]).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.headers.get("content-encoding").is_none());
    let zipped = fetch(&client(), &url, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(zipped.status, StatusCode::OK);
    assert_eq!(zipped.headers["content-encoding"], "gzip");
    assert_eq!(
        zipped.headers["content-type"],
        "application/vnd.mapbox-vector-tile"
    );
    assert!(
        zipped.headers["vary"]
            .to_str()
            .unwrap()
            .contains("accept-encoding")
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain.body);
    assert!(zipped.body.len() < plain.body.len());
    // q=0 refuses gzip.
    let refused = fetch(&client(), &url, &[("accept-encoding", "gzip;q=0")]).await;
    assert!(refused.headers.get("content-encoding").is_none());
    assert_eq!(refused.body, plain.body);
}

#[tokio::test]
async fn etag_and_304() {
    let server = demo_server();
    let t = street_tile();
    let url = server.url(&format!("/tiles/buildings/{}/{}/{}.mvt", t.z, t.x, t.y));
    let first = fetch(&client(), &url, &[]).await;
    assert_eq!(first.status, StatusCode::OK);
    let etag = first.headers["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert!(
        first.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("no-cache")
    );
    let again = fetch(&client(), &url, &[("if-none-match", &etag)]).await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.body.is_empty());
    assert_eq!(again.headers["etag"], etag.as_str());
    let other = fetch(&client(), &url, &[("if-none-match", "\"not-this-one\"")]).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_eq!(other.body, first.body);
    // The gzip representation has its own ETag and revalidates too.
    let zipped = fetch(&client(), &url, &[("accept-encoding", "gzip")]).await;
    let gz_etag = zipped.headers["etag"].to_str().unwrap().to_string();
    assert_ne!(gz_etag, etag);
    let gz_again = fetch(
        &client(),
        &url,
        &[("accept-encoding", "gzip"), ("if-none-match", &gz_etag)],
    )
    .await;
    assert_eq!(gz_again.status, StatusCode::NOT_MODIFIED);
    // Another layer's tile has another ETag.
    let grids = fetch(
        &client(),
        &server.url(&format!("/tiles/grids/{}/{}/{}.mvt", t.z, t.x, t.y)),
        &[],
    )
    .await;
    assert_ne!(grids.headers["etag"], etag.as_str());
}

#[tokio::test]
async fn empty_tiles_are_204() {
    let server = demo_server();
    for path in [
        "/tiles/grids/14/0/0.mvt",
        "/tiles/households/18/0/0.mvt",
        "/tiles/water/10/0/0.mvt",
        "/tiles/districts/0/0/0.mvt", // the whole district is far below a pixel at z0
    ] {
        let r = fetch(&client(), &server.url(path), &[("accept-encoding", "gzip")]).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}");
        assert!(r.body.is_empty());
        assert!(r.headers.get("content-encoding").is_none());
    }
}

#[tokio::test]
async fn tilejson_describes_every_layer() {
    let server = demo_server();
    let (status, list) = json(server.url("/tiles")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, LAYERS);
    let street = street_bounds();
    for layer in LAYERS {
        let (status, tj) = json(server.url(&format!("/tiles/{layer}.json"))).await;
        assert_eq!(status, StatusCode::OK, "{layer}: {tj}");
        assert_eq!(tj["tilejson"], "3.0.0");
        assert_eq!(
            tj["tiles"],
            serde_json::json!([format!(
                "{}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt",
                server.base
            )])
        );
        assert_eq!(
            list["layers"][names.iter().position(|n| *n == layer).unwrap()]["tilejson"],
            format!("{}/tiles/{layer}.json", server.base)
        );
        assert_eq!(tj["minzoom"], 0);
        assert_eq!(tj["maxzoom"], 18);
        let b: Vec<f64> = tj["bounds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(b.len(), 4);
        assert!(b[0] < b[2] && b[1] < b[3]);
        let c = tj["center"].as_array().unwrap();
        assert_eq!(c.len(), 3);
        let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
        assert!(b[0] <= lon && lon <= b[2] && b[1] <= lat && lat <= b[3]);
        let vl = &tj["vector_layers"][0];
        assert_eq!(vl["id"], layer);
        assert!(vl["fields"].is_object());
        if !["water", "roads"].contains(&layer) {
            // Data layers: bounds on the demo street (around it for the hierarchy), a zoom
            // that shows it.
            assert!(
                b[0] < street.max().x && b[2] > street.min().x,
                "{layer}: {b:?}"
            );
            assert!(
                b[1] < street.max().y && b[3] > street.min().y,
                "{layer}: {b:?}"
            );
            if ["districts", "streets", "communities", "grids"].contains(&layer) {
                let e = 1e-6;
                assert!(
                    b[0] <= street.min().x + e && b[2] >= street.max().x - e,
                    "{layer}"
                );
                assert!(
                    b[1] <= street.min().y + e && b[3] >= street.max().y - e,
                    "{layer}"
                );
            }
            assert!(
                (10..=18).contains(&c[2].as_u64().unwrap()),
                "{layer}: {c:?}"
            );
            assert!(!vl["fields"].as_object().unwrap().is_empty(), "{layer}");
            assert!(vl["description"].as_str().unwrap().len() > 5);
        }
    }
    let (_, grids) = json(server.url("/tiles/grids.json")).await;
    let fields = grids["vector_layers"][0]["fields"].as_object().unwrap();
    for key in [
        "id",
        "code",
        "name",
        "parent_code",
        "kind",
        "households",
        "density",
    ] {
        assert!(fields[key].as_str().unwrap().len() > 3, "grids field {key}");
    }
    let (_, households) = json(server.url("/tiles/households.json")).await;
    let fields = households["vector_layers"][0]["fields"]
        .as_object()
        .unwrap();
    let keys: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["id", "grid_code", "households"]));
    let (_, buildings) = json(server.url("/tiles/buildings.json")).await;
    assert!(buildings["vector_layers"][0]["fields"]["height_m"].is_string());

    // The tile URL follows the Host the client used; X-Forwarded-* count only from a proxy
    // named with --trust-proxy (tests/it/login_flood.rs), so here they change nothing.
    let r = fetch(
        &client(),
        &server.url("/tiles/grids.json"),
        &[
            ("host", "tiles.example.org:8443"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ],
    )
    .await;
    let tj: JsonValue = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        tj["tiles"][0],
        "http://tiles.example.org:8443/tiles/grids/{z}/{x}/{y}.mvt"
    );
}

/// Every tile of the demo at zooms 10 to 18, for every layer, fits the size budget and decodes.
/// Prints the largest tile per layer.
#[tokio::test]
async fn every_demo_tile_from_z10_to_z18_fits_the_size_budget() {
    let server = demo_server();
    // The basemap layers may be empty: cover the whole district for them.
    let (_, district) = json(server.url("/tiles/districts.json")).await;
    let mut report = Vec::new();
    for layer in LAYERS {
        let (_, tj) = json(server.url(&format!("/tiles/{layer}.json"))).await;
        let src = if ["water", "roads"].contains(&layer) {
            &district
        } else {
            &tj
        };
        let b: Vec<f64> = src["bounds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let bounds = Rect::new(Coord { x: b[0], y: b[1] }, Coord { x: b[2], y: b[3] });
        let tiles: Vec<TileId> = (10..=18).flat_map(|z| tiles_covering(bounds, z)).collect();
        let count = tiles.len();
        let base = server.base.clone();
        let sizes: Vec<(TileId, usize)> = futures::stream::iter(tiles)
            .map(|t| {
                let base = base.clone();
                async move {
                    let size = match tile_bytes(&base, layer, t).await {
                        Some(bytes) => {
                            decode(&bytes, layer);
                            bytes.len()
                        }
                        None => 0,
                    };
                    (t, size)
                }
            })
            .buffer_unordered(4)
            .collect()
            .await;
        let (largest_tile, largest) = sizes.iter().max_by_key(|(_, s)| *s).copied().unwrap();
        let non_empty = sizes.iter().filter(|(_, s)| *s > 0).count();
        for (t, size) in &sizes {
            assert!(
                *size <= MAX_TILE_BYTES,
                "{layer}/{t} is {size} bytes, over the {MAX_TILE_BYTES}-byte budget"
            );
        }
        report.push(format!(
            "{layer:>12}: {count:>5} tiles, {non_empty:>5} non-empty, largest {largest:>7} B at {largest_tile}"
        ));
    }
    eprintln!("tile sizes, z10-z18:\n{}", report.join("\n"));
}

#[tokio::test]
async fn bad_parameters_are_400_or_404_json() {
    let server = demo_server();
    let cases: [(&str, StatusCode, &str, &str); 14] = [
        (
            "/tiles/grids/25/0/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "max zoom is 24",
        ),
        (
            "/tiles/grids/99999999999999999999999/0/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "max zoom is 24",
        ),
        (
            "/tiles/grids/2/4/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "x=4 is outside 0..4",
        ),
        (
            "/tiles/grids/2/0/4.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "y=4 is outside 0..4",
        ),
        (
            "/tiles/grids/0/1/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "x=1",
        ),
        (
            "/tiles/grids/abc/0/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "z must be a whole number",
        ),
        (
            "/tiles/grids/3/-1/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "x must be a whole number",
        ),
        (
            "/tiles/grids/3/1.5/0.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "x must be a whole number",
        ),
        (
            "/tiles/grids/3/0/y.mvt",
            StatusCode::BAD_REQUEST,
            "invalid_tile",
            "y must be a whole number",
        ),
        (
            "/tiles/grids/3/0/0",
            StatusCode::BAD_REQUEST,
            "invalid_tile_path",
            ".mvt",
        ),
        (
            "/tiles/grids/3/0/0.png",
            StatusCode::BAD_REQUEST,
            "invalid_tile_path",
            ".mvt",
        ),
        (
            "/tiles/parcels/3/0/0.mvt",
            StatusCode::NOT_FOUND,
            "unknown_layer",
            "grids",
        ),
        (
            "/tiles/parcels.json",
            StatusCode::NOT_FOUND,
            "unknown_layer",
            "households",
        ),
        (
            "/tiles/grids",
            StatusCode::BAD_REQUEST,
            "invalid_tile_path",
            "/tiles/{layer}.json",
        ),
    ];
    for (path, status, code, message) in cases {
        let r = fetch(&client(), &server.url(path), &[]).await;
        assert_eq!(r.status, status, "{path}");
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        let body: JsonValue = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        let text = body["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{path}: {text:?} lacks {message:?}");
    }
}

/// Scales every coordinate pair of a GeoJSON geometry around a point.
fn scale_coordinates(value: &mut JsonValue, centre: Point<f64>, factor: f64) {
    if let Some(items) = value.as_array_mut() {
        if items.len() >= 2 && items.iter().all(JsonValue::is_number) {
            let x = items[0].as_f64().unwrap();
            let y = items[1].as_f64().unwrap();
            items[0] = (centre.x() + (x - centre.x()) * factor).into();
            items[1] = (centre.y() + (y - centre.y()) * factor).into();
        } else {
            for item in items {
                scale_coordinates(item, centre, factor);
            }
        }
    }
}

/// A write through the `App` reaches the next tile request at once: new geometry, new ETag,
/// and the old ETag no longer gets a 304.
#[tokio::test]
async fn a_write_changes_the_next_tile_and_its_etag() {
    use wangge::model::{Layer, PlaceKind};
    let db = common::temp_sqlite();
    let store = common::sqlite_store(&db).await;
    let app = Arc::new(wangge::app::App::open(store).await.unwrap());
    for (layer, text) in wangge::demo::LAYERS.iter().take(4) {
        let data = wangge::geodata::parse_layer(text, *layer, None, || {}).unwrap();
        app.import(data).await.unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = wangge::http::router(app.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let grids_text = wangge::demo::LAYERS[3].1;
    let mut grids: JsonValue = serde_json::from_str(grids_text).unwrap();
    let collection: FeatureCollection = grids_text.parse().unwrap();
    let target = &collection.features[0];
    let target_code = code(target);
    let centre = shape(target).interior_point().unwrap();
    let t = TileId::containing(centre.x(), centre.y(), 16);
    let url = format!("{base}/tiles/grids/{}/{}/{}.mvt", t.z, t.x, t.y);

    let bbox_of = |bytes: &[u8]| -> Rect<f64> {
        let layer = decode(bytes, "grids");
        let f = layer
            .features
            .iter()
            .find(|f| props(&layer, f).get("code") == Some(&V::S(target_code.clone())))
            .expect("the grid is in its tile");
        f.to_geo().unwrap().bounding_rect().unwrap()
    };
    let before = fetch(&client(), &url, &[]).await;
    assert_eq!(before.status, StatusCode::OK);
    let etag = before.headers["etag"].to_str().unwrap().to_string();
    let old_box = bbox_of(&before.body);
    // Unchanged data: 304.
    let same = fetch(&client(), &url, &[("if-none-match", &etag)]).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);

    // Shrink the grid to half its size around its interior point and import it.
    let mut feature = grids["features"][0].take();
    scale_coordinates(&mut feature["geometry"]["coordinates"], centre, 0.5);
    let expected = shape(&serde_json::from_value::<geojson::Feature>(feature.clone()).unwrap())
        .bounding_rect()
        .unwrap();
    let text = serde_json::json!({"type": "FeatureCollection", "features": [feature]}).to_string();
    let data =
        wangge::geodata::parse_layer(&text, Layer::Places(PlaceKind::Grid), None, || {}).unwrap();
    app.import(data).await.unwrap();

    let after = fetch(&client(), &url, &[("if-none-match", &etag)]).await;
    assert_eq!(after.status, StatusCode::OK, "the old ETag must not match");
    assert_ne!(after.body, before.body);
    assert_ne!(after.headers["etag"], etag.as_str());
    let new_box = bbox_of(&after.body);
    assert!(new_box.width() < old_box.width() * 0.6);
    // The new box is where the new geometry projects (to a unit of rounding).
    let nw = t.lonlat_to_tile(expected.min().x, expected.max().y);
    let se = t.lonlat_to_tile(expected.max().x, expected.min().y);
    for (got, want) in [
        (new_box.min().x, nw.x),
        (new_box.min().y, nw.y),
        (new_box.max().x, se.x),
        (new_box.max().y, se.y),
    ] {
        assert!((got - want).abs() <= 1.0, "{got} vs {want}");
    }
}

/// Over a GCJ-02 basemap the map asks for `?crs=gcj02`: every grid is drawn where GCJ-02 puts
/// it, so a grid's interior point shifted into GCJ-02 lies in that grid's tile geometry.
#[tokio::test]
async fn gcj02_tiles_draw_our_data_where_a_gcj02_basemap_has_it() {
    let server = demo_server();
    let z = 17;
    let mut checked = 0;
    for f in demo_layer("grids").features.iter().take(8) {
        let p = shape(f).interior_point().unwrap();
        let (gx, gy) = wangge::spatial::crs::wgs84_to_gcj02(p.x(), p.y());
        let t = TileId::containing(gx, gy, z);
        let url = format!(
            "{}/tiles/grids/{z}/{}/{}.mvt?crs=gcj02",
            server.base, t.x, t.y
        );
        let shifted = fetch(&client(), &url, &[]).await;
        assert_eq!(shifted.status, StatusCode::OK, "{url}");
        let layer = decode(&shifted.body, "grids");
        let wanted = V::S(code(f));
        let geometry = layer
            .features
            .iter()
            .find(|g| props(&layer, g).get("code") == Some(&wanted))
            .map(|g| g.to_geo().unwrap())
            .unwrap_or_else(|| panic!("grid {wanted:?} missing from the gcj02 tile {t}"));
        assert!(
            geometry.contains(&Point(t.lonlat_to_tile(gx, gy))),
            "{wanted:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 8);
    for (crs, code) in [("EPSG:4549", "unsupported_crs"), ("mars", "unknown_crs")] {
        let url = format!("{}/tiles/grids/15/27340/12749.mvt?crs={crs}", server.base);
        let r = fetch(&client(), &url, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{crs}");
        let body: JsonValue = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["error"]["code"], code);
    }
}

/// GDAL's MVT driver, an independent decoder, reads our tiles with the feature counts we encoded.
/// Skipped with a message when `ogrinfo` is missing, unless `WANGGE_REQUIRE_GDAL=1` (CI).
#[tokio::test]
async fn gdal_reads_a_tile_with_our_feature_counts() {
    if std::process::Command::new("ogrinfo")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("WANGGE_REQUIRE_GDAL").is_err(),
            "WANGGE_REQUIRE_GDAL is set but ogrinfo is missing (apt-get install gdal-bin)"
        );
        eprintln!("ogrinfo is missing: skipping the GDAL tile test (apt-get install gdal-bin)");
        return;
    }
    let server = demo_server();
    let dir = tempfile::tempdir().unwrap();
    let t = street_tile();
    for layer in ["grids", "buildings", "households"] {
        let bytes = tile_bytes(&server.base, layer, t).await.expect("a tile");
        let ours = decode(&bytes, layer).features.len();
        // A path ending in z/x/y.mvt makes GDAL place the tile in EPSG:3857.
        let folder = dir
            .path()
            .join(layer)
            .join(t.z.to_string())
            .join(t.x.to_string());
        std::fs::create_dir_all(&folder).unwrap();
        let file = folder.join(format!("{}.mvt", t.y));
        std::fs::write(&file, &bytes).unwrap();
        let output = std::process::Command::new("ogrinfo")
            .args(["-ro", "-so", "-al"])
            .arg(&file)
            .output()
            .unwrap();
        let summary = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{summary}");
        let counted: usize = summary
            .lines()
            .filter_map(|l| l.strip_prefix("Feature Count: "))
            .map(|n| n.trim().parse::<usize>().unwrap())
            .sum();
        assert_eq!(counted, ours, "{layer}: ogrinfo said\n{summary}");
        assert!(
            summary.contains(&format!("Layer name: {layer}")),
            "{summary}"
        );
    }
}
