//! A write re-renders only the tiles it changed, through real HTTP against the real `wangge`
//! binary serving the demo street, on SQLite and on PostGIS: a claim changes the `areas` tile
//! over the claimed area and no grid tile nor a far areas tile; a grid edit changes the grid
//! tiles under the grid's old and new outline and no grid tile elsewhere. Unchanged tiles answer
//! 304 to the ETag a client already holds, from the cache (`X-Cache: hit`: not made again);
//! changed ones are made again and answer 200 with a new ETag (or 204 when left empty).

use crate::common;

use common::Server;
use geo::{BooleanOps, BoundingRect, Intersects, MultiPolygon, Rect};
use geozero::mvt::{Message, Tile};
use reqwest::StatusCode;
use serde_json::{Value, json};
use wangge::spatial::tiles::{TileId, tiles_covering};

fn add_user(database: &str, name: &str, role: &str) {
    let args = [
        "user",
        "add",
        "--name",
        name,
        "--role",
        role,
        "--database",
        database,
        "--display-name",
        name,
        "--phone",
        "13900000000",
    ];
    let output = common::wangge_with_stdin(&args, &format!("pw of {name}\n"));
    assert!(
        output.status.success(),
        "wangge user add failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn token_of(server: &Server, name: &str) -> String {
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({"name": name, "password": format!("pw of {name}")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// A place as the API lists it.
struct Listed {
    id: i64,
    version: i64,
    shape: MultiPolygon<f64>,
}

async fn places(server: &Server, layer: &str) -> Vec<Listed> {
    let body: Value = reqwest::get(server.url(&format!("/api/v1/{layer}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let geometry: geojson::Geometry =
                serde_json::from_value(f["geometry"].clone()).unwrap();
            let shape = match geo::Geometry::try_from(geometry).unwrap() {
                geo::Geometry::Polygon(p) => MultiPolygon(vec![p]),
                geo::Geometry::MultiPolygon(m) => m,
                other => panic!("not polygonal: {other:?}"),
            };
            Listed {
                id: f["id"].as_i64().unwrap(),
                version: f["properties"]["version"].as_i64().unwrap(),
                shape,
            }
        })
        .collect()
}

/// A tile's status, ETag, `X-Cache` and bytes, sending `If-None-Match` when given.
struct Answer {
    status: StatusCode,
    etag: Option<String>,
    hit: bool,
    body: Vec<u8>,
}

async fn tile(server: &Server, layer: &str, t: TileId, if_none_match: Option<&str>) -> Answer {
    let url = server.url(&format!("/tiles/{layer}/{}/{}/{}.mvt", t.z, t.x, t.y));
    let mut request = reqwest::Client::new().get(&url);
    if let Some(tag) = if_none_match {
        request = request.header("if-none-match", tag);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let (etag, x_cache) = (header("etag"), header("x-cache"));
    Answer {
        status: response.status(),
        etag,
        hit: match x_cache.as_deref() {
            Some("hit") => true,
            Some("miss") => false,
            other => panic!("{url}: X-Cache {other:?}"),
        },
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// The ETag of a tile that has something in it; asked twice, so that it is in the cache.
async fn etag_of(server: &Server, layer: &str, t: TileId) -> String {
    let first = tile(server, layer, t, None).await;
    assert_eq!(first.status, StatusCode::OK, "{layer} {t}");
    let again = tile(server, layer, t, None).await;
    assert!(again.hit, "{layer} {t} is cached");
    assert_eq!(again.etag, first.etag);
    first.etag.unwrap()
}

/// The tile's lon/lat bounds with a margin wider than the tile buffer.
fn padded(t: TileId) -> Rect<f64> {
    let b = t.lonlat_bounds();
    let pad = b.width().max(b.height()) * 0.05;
    Rect::new(
        geo::coord! { x: b.min().x - pad, y: b.min().y - pad },
        geo::coord! { x: b.max().x + pad, y: b.max().y + pad },
    )
}

/// A tile at `z` over the street that is well clear of every rectangle in `avoid` and has
/// something of `layer` in it.
async fn tile_away_from(server: &Server, layer: &str, z: u8, avoid: &[Rect<f64>]) -> TileId {
    let path = format!(
        "{}/geodata/demo/streets.geojson",
        env!("CARGO_MANIFEST_DIR")
    );
    let streets: geojson::FeatureCollection =
        std::fs::read_to_string(path).unwrap().parse().unwrap();
    let street = geo::Geometry::try_from(streets.features[0].geometry.clone().unwrap())
        .unwrap()
        .bounding_rect()
        .unwrap();
    for t in tiles_covering(street, z) {
        if avoid.iter().any(|r| r.intersects(&padded(t))) {
            continue;
        }
        if tile(server, layer, t, None).await.status == StatusCode::OK {
            return t;
        }
    }
    panic!("no {layer} tile at z{z} away from {avoid:?}");
}

/// 304 to the ETag held before, from the cache: the write left the tile alone and the server did
/// not make it again.
async fn kept(server: &Server, layer: &str, t: TileId, etag: &str) {
    let answer = tile(server, layer, t, Some(etag)).await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_MODIFIED,
        "{layer} {t} should be unchanged"
    );
    assert!(answer.hit, "{layer} {t} should not have been made again");
}

/// Made again, and 200 with a new ETag to the ETag held before, or 204 when nothing of the layer
/// is left in the tile: the tile changed.
async fn changed(server: &Server, layer: &str, t: TileId, etag: &str) {
    let answer = tile(server, layer, t, Some(etag)).await;
    assert!(!answer.hit, "{layer} {t} should have been made again");
    assert!(
        [StatusCode::OK, StatusCode::NO_CONTENT].contains(&answer.status),
        "{layer} {t} should have changed: {}",
        answer.status
    );
    assert_ne!(answer.etag.as_deref(), Some(etag), "{layer} {t}");
}

/// Whether the area is drawn claimed in its tile.
fn claimed(bytes: &[u8], area_id: i64) -> bool {
    let tile = Tile::decode(bytes).unwrap();
    let layer = &tile.layers[0];
    let feature = layer
        .features
        .iter()
        .find(|f| f.id == Some(area_id as u64))
        .expect("the area is in its tile");
    let kv = feature
        .tags
        .chunks(2)
        .find(|kv| layer.keys[kv[0] as usize] == "claimed")
        .expect("areas carry claimed");
    layer.values[kv[1] as usize].bool_value.unwrap()
}

async fn tiles_over_http(database: &str) {
    add_user(database, "cadre", "cadre");
    add_user(database, "planner", "planner");
    let server = Server::start(database, &["--demo"]);
    let cadre = token_of(&server, "cadre").await;
    let planner = token_of(&server, "planner").await;

    // A claim: the areas tile over the area changes, nothing else does.
    let areas = places(&server, "areas").await;
    let area = &areas[0];
    let area_box = area.shape.bounding_rect().unwrap();
    let inside = geo::InteriorPoint::interior_point(&area.shape).unwrap();
    let at = TileId::containing(inside.x(), inside.y(), 16);
    let far = tile_away_from(&server, "areas", 17, &[area_box]).await;
    let area_tag = etag_of(&server, "areas", at).await;
    let far_tag = etag_of(&server, "areas", far).await;
    let other_layers = ["grids", "communities", "buildings", "households"];
    let mut other_tags = Vec::new();
    for layer in other_layers {
        let answer = tile(&server, layer, at, None).await;
        if answer.status == StatusCode::OK {
            other_tags.push((layer, answer.etag.unwrap()));
        }
    }
    assert!(
        other_tags.iter().any(|(l, _)| *l == "grids"),
        "the area lies on grids"
    );
    let response = reqwest::Client::new()
        .post(server.url(&format!("/api/v1/areas/{}/claim", area.id)))
        .bearer_auth(&cadre)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    changed(&server, "areas", at, &area_tag).await;
    let bytes = tile(&server, "areas", at, None).await.body;
    assert!(claimed(&bytes, area.id));
    kept(&server, "areas", far, &far_tag).await;
    for (layer, tag) in &other_tags {
        kept(&server, layer, at, tag).await;
    }

    // A grid edit: the grid shrinks to a small square around a point inside it. The grid tiles
    // under its old outline and under its new one change; a grid tile elsewhere and the areas
    // tile over it do not.
    let grids = places(&server, "grids").await;
    let grid = &grids[0];
    let grid_box = grid.shape.bounding_rect().unwrap();
    let centre = geo::InteriorPoint::interior_point(&grid.shape).unwrap();
    let d = 0.0004;
    let square = geo::Rect::new(
        geo::coord! { x: centre.x() - d, y: centre.y() - d },
        geo::coord! { x: centre.x() + d, y: centre.y() + d },
    )
    .to_polygon();
    let smaller = grid.shape.intersection(&MultiPolygon(vec![square]));
    let smaller_box = smaller.bounding_rect().unwrap();
    // Under the new outline: the tile at its centre; under the old only: the tile at the old
    // outline's corner farthest from the new square.
    let z = 19;
    let under_new = TileId::containing(centre.x(), centre.y(), z);
    let corner = grid.shape.0[0]
        .exterior()
        .0
        .iter()
        .copied()
        .max_by(|a, b| {
            let da = (a.x - centre.x()).hypot(a.y - centre.y());
            let db = (b.x - centre.x()).hypot(b.y - centre.y());
            da.total_cmp(&db)
        })
        .unwrap();
    let under_old = TileId::containing(corner.x, corner.y, z);
    assert!(
        !padded(under_old).intersects(&smaller_box),
        "a tile of the old outline only"
    );
    let elsewhere = tile_away_from(&server, "grids", 17, &[grid_box]).await;
    let tags = [
        etag_of(&server, "grids", under_new).await,
        etag_of(&server, "grids", under_old).await,
        etag_of(&server, "grids", elsewhere).await,
    ];
    let areas_over_grid = tile(&server, "areas", under_new, None).await;
    let geometry = geojson::Geometry::from(&geo::Geometry::MultiPolygon(smaller));
    let response = reqwest::Client::new()
        .patch(server.url(&format!("/api/v1/grids/{}", grid.id)))
        .bearer_auth(&planner)
        .header("if-match", format!("\"{}\"", grid.version))
        .json(&json!({"type": "Feature", "geometry": geometry, "properties": {}}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(status, StatusCode::OK, "{}", response.text().await.unwrap());
    changed(&server, "grids", under_new, &tags[0]).await;
    changed(&server, "grids", under_old, &tags[1]).await;
    kept(&server, "grids", elsewhere, &tags[2]).await;
    if let (StatusCode::OK, Some(tag)) = (areas_over_grid.status, &areas_over_grid.etag) {
        kept(&server, "areas", under_new, tag).await;
    }
    // The new outline is what the tile at its centre draws: the grid there is no wider than
    // the new outline.
    let bytes = tile(&server, "grids", under_new, None).await.body;
    let layer = &Tile::decode(bytes.as_slice()).unwrap().layers[0];
    let feature = layer
        .features
        .iter()
        .find(|f| f.id == Some(grid.id as u64))
        .expect("the grid is in the tile at its centre");
    let drawn = geozero::ToGeo::to_geo(feature)
        .unwrap()
        .bounding_rect()
        .unwrap();
    let nw = under_new.lonlat_to_tile(smaller_box.min().x, smaller_box.max().y);
    let se = under_new.lonlat_to_tile(smaller_box.max().x, smaller_box.min().y);
    assert!(
        drawn.width() <= (se.x - nw.x) + 2.0,
        "{drawn:?} vs {nw:?}–{se:?}"
    );
}

#[tokio::test]
async fn a_write_rerenders_only_its_tiles_on_sqlite() {
    let db = common::temp_sqlite();
    tiles_over_http(&db.url).await;
}

#[tokio::test]
async fn a_write_rerenders_only_its_tiles_on_postgis() {
    let Some(url) = common::fresh_postgres_url().await else {
        return;
    };
    tiles_over_http(&url).await;
}
