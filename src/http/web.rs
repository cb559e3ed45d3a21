//! The web map (`web-map/`), served from disk: the page at `/`, the residents' page for reporting
//! a problem and following it (社情民意, `report.html`) at `/report`, the screen of a community
//! centre and of the leaders (党建信息屏, `screen.html`) at `/screen`, their modules under `/src/`,
//! its npm libraries from `node_modules` under `/vendor/` (MapLibre GL JS, and Terra Draw with
//! its MapLibre adapter for the planners' drawing tools), SDF glyph ranges for the
//! labels under `/glyphs/`; the page's settings (an optional external basemap) at
//! `GET /api/v1/web-config`, and one label point per place at `GET /api/v1/labels`.
//!
//! Files are read on every request, so `npm ci --prefix web-map` or an edit of the page takes
//! effect without a restart. A missing web root or `node_modules` is answered with a page that
//! says how to install it, not with a bare 404.

use super::AppState;
use super::error::ApiError;
use super::query::crs_param;
use crate::model::{Id, PlaceKind};
use axum::extract::{Path, Query, State};
use axum::handler::HandlerWithoutStateExt;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router, middleware};
use geo::InteriorPoint;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

/// The web root used when none is given: `web-map` under the working directory.
pub const DEFAULT_WEB_ROOT: &str = "web-map";

/// The command that installs the page's JavaScript dependencies.
const INSTALL_HINT: &str = "npm ci --prefix web-map";

/// The page's npm libraries: each is served at `/vendor/<package>/` from its `dist` folder
/// (`node_modules/<package>/dist` in the web root), with the file the page imports first. The
/// page finds Terra Draw, which the adapter imports by its bare name, through an import map.
const VENDOR: [(&str, &str); 3] = [
    ("maplibre-gl", "maplibre-gl.mjs"),
    ("terra-draw", "terra-draw.modern.js"),
    (
        "terra-draw-maplibre-gl-adapter",
        "terra-draw-maplibre-gl-adapter.modern.js",
    ),
];

/// Where a package's distribution lies inside the web root.
fn dist(package: &str) -> PathBuf {
    PathBuf::from("node_modules").join(package).join("dist")
}

/// What the web map needs from the server's configuration.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// The `web-map/` folder: `index.html`, `report.html`, `src/`, `glyphs/` and `node_modules/`.
    pub root: PathBuf,
    /// An external raster basemap drawn under our own layers; none by default (the map then
    /// needs nothing but this server).
    pub basemap: Option<Basemap>,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            root: PathBuf::from(DEFAULT_WEB_ROOT),
            basemap: None,
        }
    }
}

impl WebConfig {
    /// What is missing for the page to work, if anything: said at start so that an operator
    /// sees it in the log before a user sees the explanation page.
    pub fn problem(&self) -> Option<String> {
        if !self.root.join("index.html").is_file() {
            Some(format!(
                "the web map is not at {} (no index.html there); pass --web-root DIR or set WANGGE_WEB_ROOT",
                self.root.display()
            ))
        } else if let Some((package, _)) = VENDOR
            .iter()
            .find(|(package, file)| !self.root.join(dist(package)).join(file).is_file())
        {
            Some(format!(
                "the web map's dependencies are not installed in {} ({package} is missing); run `{INSTALL_HINT}`",
                self.root.join("node_modules").display()
            ))
        } else {
            None
        }
    }
}

/// An external XYZ raster basemap.
#[derive(Clone, Debug, Serialize)]
pub struct Basemap {
    /// Tile URL template with `{z}`, `{x}` and `{y}`.
    pub url: String,
    /// The coordinate system the basemap's imagery is drawn in.
    pub crs: BasemapCrs,
    /// Attribution shown in the map's corner.
    pub attribution: Option<String>,
}

impl Basemap {
    /// Checks the URL template: absolute http(s) with `{z}`, `{x}` and `{y}`.
    pub fn new(
        url: impl Into<String>,
        crs: BasemapCrs,
        attribution: Option<String>,
    ) -> Result<Basemap, String> {
        let url = url.into();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "the basemap URL {url:?} must start with http:// or https://"
            ));
        }
        let missing: Vec<&str> = ["{z}", "{x}", "{y}"]
            .into_iter()
            .filter(|p| !url.contains(p))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the basemap URL {url:?} lacks {}; write it as a tile template such as https://example.com/{{z}}/{{x}}/{{y}}.png",
                missing.join(", ")
            ));
        }
        Ok(Basemap {
            url,
            crs,
            attribution: attribution.filter(|a| !a.trim().is_empty()),
        })
    }
}

/// The coordinate system of a basemap's imagery. Tianditu draws in CGCS2000, which is within
/// centimetres of WGS84; AMap and Tencent draw in GCJ-02. Baidu (BD-09) tiles use a tiling
/// scheme of their own and are not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BasemapCrs {
    /// WGS84 or CGCS2000 imagery (e.g. Tianditu); `wgs84` in the settings.
    Wgs84,
    /// GCJ-02 imagery (AMap, Tencent); `gcj02` in the settings.
    Gcj02,
}

impl FromStr for BasemapCrs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wgs84" | "epsg:4326" | "cgcs2000" | "epsg:4490" => Ok(BasemapCrs::Wgs84),
            "gcj02" | "gcj-02" => Ok(BasemapCrs::Gcj02),
            "bd09" | "bd-09" => Err(
                "Baidu (BD-09) basemaps use their own tiling scheme and are not supported; use wgs84 or gcj02".into(),
            ),
            _ => Err(format!("unknown basemap CRS {s:?}; use wgs84 or gcj02")),
        }
    }
}

impl fmt::Display for BasemapCrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BasemapCrs::Wgs84 => "wgs84",
            BasemapCrs::Gcj02 => "gcj02",
        })
    }
}

type Web = Arc<WebConfig>;

/// The web map's routes.
pub fn routes(config: WebConfig) -> Router<AppState> {
    let root = config.root.clone();
    let config = Arc::new(config);
    let page_files = ServeDir::new(root.join("src"))
        .append_index_html_on_directories(false)
        .not_found_service(page_file_not_found.into_service());
    let mut router = Router::new()
        .route("/", get(index))
        .route("/report", get(report))
        .route("/screen", get(screen))
        .route("/api/v1/web-config", get(web_config))
        .route("/glyphs/{fontstack}/{range}", get(glyphs))
        .with_state(config)
        .route("/api/v1/labels", get(labels))
        .nest_service(
            "/src",
            Router::new()
                .fallback_service(page_files)
                .layer(middleware::map_response(|r| static_headers(r, "no-cache"))),
        );
    for (package, _) in VENDOR {
        let files = ServeDir::new(root.join(dist(package)))
            .append_index_html_on_directories(false)
            .not_found_service(vendor_file_not_found.into_service());
        router = router.nest_service(
            &format!("/vendor/{package}"),
            Router::new()
                .fallback_service(files)
                .layer(middleware::map_response(|r| {
                    static_headers(r, "public, max-age=3600")
                })),
        );
    }
    router.layer(CompressionLayer::new())
}

/// Headers of a file served from disk: JavaScript as `text/javascript` (HTML's own type for
/// modules; the MIME table says `application/javascript`), and a cache policy for what was found.
async fn static_headers(mut response: Response, cache_control: &'static str) -> Response {
    let headers = response.headers_mut();
    if headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"application/javascript"))
    {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        );
    }
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
    }
    response
}

async fn page_file_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no web map file {}", uri.path()))
}

async fn vendor_file_not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no such library file {}: are the web map's dependencies installed? Run `{INSTALL_HINT}`",
        uri.path()
    ))
}

/// `GET /`: the map, or an explanation of what to install.
async fn index(State(web): State<Web>) -> Response {
    page(&web, "index.html").await
}

/// `GET /report`: the residents' page (a phone's screen, no login): report a problem at a spot
/// over Open311 and follow it by its ticket number.
async fn report(State(web): State<Web>) -> Response {
    page(&web, "report.html").await
}

/// `GET /screen`: the screen (党建信息屏) of a community centre and the leaders' big screen:
/// the figures of a street, community or grid over the 3D map, refreshed live.
async fn screen(State(web): State<Web>) -> Response {
    page(&web, "screen.html").await
}

/// A page of the web root, with a Content-Security-Policy that lets its inline scripts (an
/// import map) run by their hashes; or an explanation of what to install.
async fn page(web: &WebConfig, file: &str) -> Response {
    if let Some(problem) = web.problem() {
        tracing::warn!("{problem}");
        return (StatusCode::SERVICE_UNAVAILABLE, Html(setup_page(&problem))).into_response();
    }
    match tokio::fs::read(web.root.join(file)).await {
        Ok(bytes) => {
            // The file is read on every request, so the hashes follow an edit of the page.
            let hashes = super::security::inline_script_hashes(&String::from_utf8_lossy(&bytes));
            let csp = super::security::content_security_policy(web.basemap.as_ref(), &hashes);
            (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
                    (header::CACHE_CONTROL, "no-cache".to_string()),
                    (header::CONTENT_SECURITY_POLICY, csp),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ApiError::NotFound(format!(
            "the web map has no {file} in {}",
            web.root.display()
        ))
        .into_response(),
        Err(e) => ApiError::Internal(format!("reading the web map's {file}: {e}")).into_response(),
    }
}

fn setup_page(problem: &str) -> String {
    let problem = problem
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>网格地图尚未安装 · web map not installed</title>
<style>body{{font:16px/1.6 system-ui,sans-serif;max-width:44em;margin:3em auto;padding:0 1em;color:#222}}
code,pre{{background:#f3f3f3;padding:.15em .4em;border-radius:4px}}pre{{padding:.8em 1em}}</style></head>
<body>
<h1>网格地图尚未安装</h1>
<p>服务正在运行（API 可用），但网页地图的文件不完整：</p>
<pre>{problem}</pre>
<p>在仓库根目录安装网页地图的依赖（MapLibre GL JS），然后刷新本页：</p>
<pre>{INSTALL_HINT}</pre>
<h2>The web map is not installed</h2>
<p>The service is running (the API works) but the web map's files are incomplete (see above).
From the repository root run <code>{INSTALL_HINT}</code> and reload this page, or start
<code>wangge serve</code> with <code>--web-root DIR</code> (environment <code>WANGGE_WEB_ROOT</code>)
pointing at the <code>web-map</code> folder.</p>
<p>API: <a href="/health">/health</a> · <a href="/api/v1/openapi.json">/api/v1/openapi.json</a></p>
</body></html>
"#
    )
}

/// The page's settings.
#[derive(Serialize)]
struct PageConfig<'a> {
    /// The coordinate system the map is drawn in: the basemap's, else WGS84. In `gcj02` the page
    /// asks for our tiles and lookups with `crs=gcj02` so that they line up with the basemap.
    map_crs: BasemapCrs,
    basemap: Option<&'a Basemap>,
    /// URL template of the label glyphs.
    glyphs: &'static str,
}

/// `GET /api/v1/web-config`.
async fn web_config(State(web): State<Web>) -> Json<serde_json::Value> {
    let config = PageConfig {
        map_crs: web
            .basemap
            .as_ref()
            .map(|b| b.crs)
            .unwrap_or(BasemapCrs::Wgs84),
        basemap: web.basemap.as_ref(),
        glyphs: "/glyphs/{fontstack}/{range}.pbf",
    };
    Json(serde_json::to_value(config).expect("serialisable"))
}

#[derive(Deserialize)]
struct LabelQuery {
    crs: Option<String>,
}

/// `GET /api/v1/labels[?crs=]`: one label point per place (district, street, community, grid,
/// responsibility area) as a GeoJSON FeatureCollection, with `kind`, `code`, `name`,
/// `parent_code`, and for grids the number of `households`.
///
/// The map labels places from these points, not from the polygons in the tiles: a polygon cut
/// into tiles would be labelled once per tile. The points are computed from the whole polygon
/// (inside it, on its widest horizontal stretch), in WGS84 or in the CRS asked for (`gcj02`
/// under a GCJ-02 basemap). The ETag follows the data's version.
async fn labels(
    State(state): State<AppState>,
    Query(query): Query<LabelQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // An empty `?crs=` has always meant WGS84 here (elsewhere it is 400 unknown_crs); kept so
    // that no answer changes.
    let crs = crs_param(query.crs.as_deref().filter(|s| !s.is_empty()))?;
    let data = state.app.map_data();
    let etag = format!("W/\"labels-{}-{}\"", data.version, crs.name());
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let codes: HashMap<Id, &str> = data
        .places
        .iter()
        .map(|p| (p.id, p.code.as_str()))
        .collect();
    let mut households: HashMap<Id, u64> = HashMap::new();
    for h in data.households.iter() {
        if let Some(grid) = h.grid_id {
            *households.entry(grid).or_default() += 1;
        }
    }
    let mut features = Vec::with_capacity(data.places.len());
    for place in data.places.iter() {
        let Some(point) = place.geometry.interior_point() else {
            continue;
        };
        let (x, y) = crs.from_wgs84(point.x(), point.y())?;
        let mut properties = json!({
            "kind": place.kind.as_str(),
            "code": place.code,
            "name": place.name,
            "parent_code": place.parent_id.and_then(|id| codes.get(&id)),
        });
        if place.kind == PlaceKind::Grid {
            properties["households"] = json!(households.get(&place.id).copied().unwrap_or(0));
        }
        features.push(json!({
            "type": "Feature",
            "id": place.id,
            "geometry": {"type": "Point", "coordinates": [x, y]},
            "properties": properties,
        }));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json".to_string()),
            (header::CACHE_CONTROL, "no-cache".to_string()),
            (header::ETAG, etag),
        ],
        Json(json!({"type": "FeatureCollection", "features": features})),
    )
        .into_response())
}

/// `GET /glyphs/{fontstack}/{start}-{end}.pbf`: one range of 256 SDF glyphs.
///
/// The font stack is MapLibre's comma-separated `text-font` list; the first font that has a
/// file for the range answers (`web-map/glyphs/<font>/<start>-<end>.pbf`). A range no font has
/// is a 404, upon which MapLibre draws those characters itself with the browser's fonts. CJK
/// ideographs are always drawn in the browser and never asked for.
async fn glyphs(
    State(web): State<Web>,
    Path((fontstack, range)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let range = parse_range(&range).ok_or_else(|| {
        ApiError::bad_request(
            "bad_glyph_range",
            format!("{range:?} is not a glyph range such as 0-255.pbf"),
        )
    })?;
    for font in fontstack.split(',').map(str::trim) {
        if font.is_empty()
            || font.starts_with('.')
            || font.contains(['/', '\\'])
            || font.len() > 200
        {
            return Err(ApiError::bad_request(
                "bad_font_name",
                format!("{font:?} is not a font name"),
            ));
        }
        let path = web.root.join("glyphs").join(font).join(&range);
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                return Ok((
                    [
                        (header::CONTENT_TYPE, "application/x-protobuf"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    bytes,
                )
                    .into_response());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(ApiError::Internal(format!(
                    "reading {}: {e}",
                    path.display()
                )));
            }
        }
    }
    Err(ApiError::NotFound(format!(
        "no glyphs for the range {range} in the fonts {fontstack:?}"
    )))
}

/// `0-255.pbf` → the file name, for ranges aligned on 256 codepoints in the first 17 planes.
fn parse_range(range: &str) -> Option<String> {
    let (start, end) = range.strip_suffix(".pbf")?.split_once('-')?;
    let (start, end): (u32, u32) = (start.parse().ok()?, end.parse().ok()?);
    (start % 256 == 0 && end == start + 255 && end < 0x110000).then(|| format!("{start}-{end}.pbf"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_ranges() {
        assert_eq!(parse_range("0-255.pbf").as_deref(), Some("0-255.pbf"));
        assert_eq!(
            parse_range("65280-65535.pbf").as_deref(),
            Some("65280-65535.pbf")
        );
        assert_eq!(parse_range("1-256.pbf"), None);
        assert_eq!(parse_range("0-255"), None);
        assert_eq!(parse_range("0-255.pbf.pbf"), None);
        assert_eq!(parse_range("../0-255.pbf"), None);
        assert_eq!(parse_range("-0-255.pbf"), None);
    }

    #[test]
    fn basemaps() {
        assert!(Basemap::new("https://t.example/{z}/{x}/{y}.png", BasemapCrs::Gcj02, None).is_ok());
        let err =
            Basemap::new("https://t.example/{z}/{x}.png", BasemapCrs::Wgs84, None).unwrap_err();
        assert!(err.contains("{y}"), "{err}");
        assert!(Basemap::new("t.example/{z}/{x}/{y}", BasemapCrs::Wgs84, None).is_err());
        assert_eq!("GCJ02".parse::<BasemapCrs>(), Ok(BasemapCrs::Gcj02));
        assert_eq!("cgcs2000".parse::<BasemapCrs>(), Ok(BasemapCrs::Wgs84));
        assert!("bd09".parse::<BasemapCrs>().unwrap_err().contains("Baidu"));
    }
}
