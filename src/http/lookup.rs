//! "Which grid am I in": `GET /api/v1/lookup` for one point, `POST /api/v1/lookup` for a batch.
//!
//! Both take `at` (a date, the end of that day in China Standard Time, or an RFC 3339 instant)
//! to answer from the places as they were then, built from their version history.

use super::AppState;
use super::error::ApiError;
use super::json::ApiJson;
use super::query::crs_param;
use crate::app::Past;
use crate::model::{Holder, Id};
use crate::spatial::index::{Located, SpatialIndex};
use axum::Json;
use axum::extract::{Query, State};
use geo::coord;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Most points one batch request may carry.
pub const MAX_BATCH_POINTS: usize = 10_000;

/// A place as a lookup names it.
#[derive(Debug, Serialize, PartialEq)]
pub struct PlaceRef {
    /// The place's database id.
    pub id: Id,
    /// The place's code, e.g. `370202010001003`.
    pub code: String,
    /// The place's Chinese name, e.g. `香港花园社区`.
    pub name: String,
}

/// A responsibility area as a lookup names it, with who answers for it now.
#[derive(Debug, Serialize, PartialEq)]
pub struct AreaRef {
    /// The area's database id.
    pub id: Id,
    /// The area's code.
    pub code: String,
    /// The area's Chinese name.
    pub name: String,
    /// The cadre who holds the area, `null` if nobody does.
    pub holder: Option<Holder>,
}

/// The WGS84 position that was looked up.
#[derive(Debug, Serialize, PartialEq)]
pub struct LonLat {
    /// Longitude in WGS84 degrees (-180 to 180).
    pub lon: f64,
    /// Latitude in WGS84 degrees (-90 to 90).
    pub lat: f64,
}

/// The answer for one point. A unit is `null` where the point lies outside every unit of its kind.
#[derive(Debug, Serialize, PartialEq)]
pub struct LookupAnswer {
    /// The point that was looked up, in WGS84 whatever CRS it was sent in.
    pub point: LonLat,
    /// The district (区) the point lies in.
    pub district: Option<PlaceRef>,
    /// The street (街道) the point lies in.
    pub street: Option<PlaceRef>,
    /// The community (社区) the point lies in.
    pub community: Option<PlaceRef>,
    /// The grid (网格) the point lies in.
    pub grid: Option<PlaceRef>,
    /// The responsibility areas (民情责任田) the point lies in, ordered by code; usually one, empty if none.
    pub areas: Vec<AreaRef>,
}

fn answer(index: &SpatialIndex, holders: &HashMap<Id, Holder>, lon: f64, lat: f64) -> LookupAnswer {
    let Located {
        district,
        street,
        community,
        grid,
        areas,
    } = index.locate(coord! { x: lon, y: lat });
    let named = |id: Id| {
        index.get(id).map(|p| PlaceRef {
            id,
            code: p.code.clone(),
            name: p.name.clone(),
        })
    };
    LookupAnswer {
        point: LonLat { lon, lat },
        district: district.and_then(named),
        street: street.and_then(named),
        community: community.and_then(named),
        grid: grid.and_then(named),
        areas: areas
            .into_iter()
            .filter_map(named)
            .map(|PlaceRef { id, code, name }| AreaRef {
                id,
                code,
                name,
                holder: holders.get(&id).cloned(),
            })
            .collect(),
    }
}

fn number(params: &HashMap<String, String>, name: &str) -> Result<Option<f64>, ApiError> {
    params
        .get(name)
        .map(|raw| {
            raw.trim().parse::<f64>().map_err(|_| {
                ApiError::bad_request(
                    "invalid_number",
                    format!("{name} must be a number, got {raw:?}"),
                )
            })
        })
        .transpose()
}

fn required(value: Option<f64>, name: &str, hint: &str) -> Result<f64, ApiError> {
    value.ok_or_else(|| {
        ApiError::bad_request(
            "missing_parameter",
            format!("the parameter {name} is missing; {hint}"),
        )
    })
}

/// The places and holders as they were `at` an instant; `None` (no `at`) answers from now.
async fn past_for(
    state: &AppState,
    at: Option<&str>,
) -> Result<Option<std::sync::Arc<Past>>, ApiError> {
    let Some(at) = at else { return Ok(None) };
    let instant = crate::timestamp::parse_at(at)?;
    Ok(Some(state.app.past(&instant).await?))
}

/// `GET /api/v1/lookup?lon=&lat=[&crs=][&at=]`, or `?x=&y=&crs=EPSG:4549` for a projected CRS.
pub async fn lookup_point(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<LookupAnswer>, ApiError> {
    let crs = crs_param(params.get("crs").map(String::as_str))?;
    let (x, y) = if crs.is_geographic() {
        let hint = "pass lon and lat, e.g. ?lon=120.38&lat=36.06";
        let lon = number(&params, "lon")?.or(number(&params, "x")?);
        let lat = number(&params, "lat")?.or(number(&params, "y")?);
        (required(lon, "lon", hint)?, required(lat, "lat", hint)?)
    } else {
        if params.contains_key("lon") || params.contains_key("lat") {
            return Err(ApiError::bad_request(
                "projected_crs_needs_xy",
                format!("{crs} is a projected CRS: pass x (easting) and y (northing), not lon/lat"),
            ));
        }
        let hint = "a projected CRS takes x (easting) and y (northing), in metres";
        (
            required(number(&params, "x")?, "x", hint)?,
            required(number(&params, "y")?, "y", hint)?,
        )
    };
    let (lon, lat) = crs.to_wgs84(x, y)?;
    match past_for(&state, params.get("at").map(String::as_str)).await? {
        Some(past) => Ok(Json(answer(&past.index, &past.holders, lon, lat))),
        None => {
            // One snapshot: the grid and its holder from the same version.
            let data = state.app.map_data();
            Ok(Json(answer(&data.index, &data.holders, lon, lat)))
        }
    }
}

/// The body of a batch lookup.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The CRS of every point, default `wgs84`.
    crs: Option<String>,
    /// `[x, y]` pairs: longitude/latitude, or easting/northing for a projected CRS.
    points: Vec<[f64; 2]>,
    /// Answer as of this date or instant instead of now.
    at: Option<String>,
}

/// The answer to a batch: one result per point, in the order sent.
#[derive(Debug, Serialize)]
pub struct BatchAnswer {
    /// One answer per point, in the order the points were sent.
    pub results: Vec<LookupAnswer>,
}

/// `POST /api/v1/lookup` with `{"crs":"gcj02","points":[[lon,lat],…]}`, up to 10,000 points.
pub async fn lookup_batch(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<BatchRequest>,
) -> Result<Json<BatchAnswer>, ApiError> {
    if request.points.len() > MAX_BATCH_POINTS {
        return Err(ApiError::TooLarge {
            code: "too_many_points",
            message: format!(
                "{} points sent; one request takes at most {MAX_BATCH_POINTS}",
                request.points.len()
            ),
        });
    }
    let crs = crs_param(request.crs.as_deref())?;
    // Convert everything first so that one bad point fails the request before any lookup.
    let wgs84 = request
        .points
        .iter()
        .enumerate()
        .map(|(i, [x, y])| {
            crs.to_wgs84(*x, *y)
                .map_err(|e| ApiError::from(e).at(&format!("points[{i}]")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = match past_for(&state, request.at.as_deref()).await? {
        Some(past) => wgs84
            .into_iter()
            .map(|(lon, lat)| answer(&past.index, &past.holders, lon, lat))
            .collect(),
        None => {
            let data = state.app.map_data();
            wgs84
                .into_iter()
                .map(|(lon, lat)| answer(&data.index, &data.holders, lon, lat))
                .collect()
        }
    };
    Ok(Json(BatchAnswer { results }))
}
