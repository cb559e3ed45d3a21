//! Planner editing of grids, communities and responsibility areas over REST, at
//! `/api/v1/{grids|communities|areas}`.
//!
//! Reads are public; writes need a planner or an admin. Features travel as GeoJSON with the
//! properties `code`, `name` and `parent_code`, plus the read-only `id`, `version` and
//! `updated_at`; the version is also the `ETag`, and every update, delete and split must send it
//! back as `If-Match`. Writes take `?crs=` like the lookup; answers are WGS84. Every write is
//! validated ([`crate::spatial::validate`]) before anything is stored and leaves a version and an
//! audit record per changed place.

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::json::ApiJson;
use super::limits;
use crate::app::{EditError, EditOutcome, MapData, Reassigned, ReshapeError};
use crate::auth::Role;
use crate::geodata;
use crate::model::edit::{EditAction, PlaceChange, PlaceFields, PlaceVersion};
use crate::model::{Id, Layer, Place, PlaceKind};
use crate::spatial::crs::Crs;
use crate::spatial::validate::{Problem, ProblemCode, area_m2, gaps};
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use geo::orient::{Direction, Orient};
use geo::{CoordsIter, Geometry, InteriorPoint, MultiPolygon};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The roles that may edit places.
const EDITORS: [Role; 2] = [Role::Planner, Role::Admin];

/// The kinds of place editable over REST.
pub const EDITABLE: [PlaceKind; 3] = [PlaceKind::Grid, PlaceKind::Community, PlaceKind::Area];

/// The routes of every editable layer; each handler learns its layer from its path ([`LayerKind`]).
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for kind in EDITABLE {
        let base = format!("/api/v1/{}", Layer::Places(kind));
        let mut layer = Router::new()
            .route(&base, get(list).post(create))
            .route(&format!("{base}/validate"), post(validate))
            .route(&format!("{base}/merge"), post(merge))
            .route(
                &format!("{base}/{{id}}"),
                get(get_one).patch(update).delete(delete),
            )
            .route(&format!("{base}/{{id}}/split"), post(split))
            .route(&format!("{base}/{{id}}/history"), get(history));
        if kind == PlaceKind::Community {
            layer = layer.route(&format!("{base}/{{id}}/coverage"), get(coverage));
        }
        router = router.merge(layer);
    }
    router
}

/// The kind of place a route serves, read from its path: `/api/v1/grids/…` serves grids.
struct LayerKind(PlaceKind);

impl FromRequestParts<AppState> for LayerKind {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let segment = parts
            .uri
            .path()
            .strip_prefix("/api/v1/")
            .and_then(|rest| rest.split('/').next());
        EDITABLE
            .into_iter()
            .find(|kind| segment == Some(Layer::Places(*kind).as_str()))
            .map(LayerKind)
            // Only the routes of `routes()` use it, and each names its layer.
            .ok_or_else(|| ApiError::Internal(format!("no layer in {}", parts.uri.path())))
    }
}

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(params: Params) -> Result<HashMap<String, String>, ApiError> {
    params
        .map(|Query(p)| p)
        .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
}

fn crs_of(params: &HashMap<String, String>) -> Result<Crs, ApiError> {
    super::query::crs_param(params.get("crs").map(String::as_str))
}

fn parse_id(raw: &str) -> Result<Id, ApiError> {
    raw.parse::<Id>()
        .map_err(|_| ApiError::bad_request("invalid_id", format!("id {raw:?} is not an integer")))
}

/// The version an `If-Match` header names: `"3"`, `W/"3"` or `3`.
/// The version an `If-Match` names; 428 without one.
pub(super) fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let raw = headers
        .get(header::IF_MATCH)
        .ok_or_else(|| {
            ApiError::PreconditionRequired(
                "send If-Match with the ETag (version) you read, e.g. If-Match: \"3\"".into(),
            )
        })?
        .to_str()
        .unwrap_or_default()
        .trim();
    let bare = raw.trim_start_matches("W/").trim_matches('"');
    bare.parse::<i64>().map_err(|_| {
        ApiError::bad_request(
            "invalid_if_match",
            format!("If-Match {raw:?} is not a version such as \"3\""),
        )
    })
}

fn etag(version: i64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// The code of each place, to name parents.
fn codes(map: &MapData) -> HashMap<Id, String> {
    map.places.iter().map(|p| (p.id, p.code.clone())).collect()
}

/// A geometry as GeoJSON (RFC 7946 orientation).
fn geometry_json(geometry: &MultiPolygon<f64>) -> Value {
    let oriented = geometry.orient(Direction::Default);
    serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(
        &Geometry::MultiPolygon(oriented),
    )))
    .expect("geometry serialises")
}

/// Where a problem is, as GeoJSON; polygons with their rings oriented as RFC 7946 asks.
fn where_json(at: &Geometry<f64>) -> Value {
    match at {
        Geometry::MultiPolygon(parts) => geometry_json(parts),
        other => serde_json::to_value(geojson::Geometry::new(geojson::GeometryValue::from(other)))
            .expect("geometry serialises"),
    }
}

/// A place as a GeoJSON Feature of this API: that of [`geodata::place_feature`] with the place's
/// `id` and when it was last changed.
fn feature(place: &Place, codes: &HashMap<Id, String>, updated_at: Option<&str>) -> Value {
    let parent_code = place.parent_id.and_then(|id| codes.get(&id));
    let mut feature = geodata::place_feature(place, parent_code.map(String::as_str), Crs::Wgs84)
        .expect("WGS84 needs no transformation");
    if let Some(properties) = &mut feature.properties {
        properties.insert("id".into(), place.id.into());
        properties.insert("updated_at".into(), updated_at.into());
    }
    serde_json::to_value(feature).expect("a feature serialises")
}

/// A problem as the API reports it.
fn problem_json(problem: &Problem) -> Value {
    let mut value = json!({
        "code": problem.code,
        "message": problem.message,
        "where": problem.at.as_ref().map(where_json),
    });
    if let Some(with) = &problem.with {
        value["with"] = json!(with);
    }
    if let Some(area) = problem.area_m2 {
        value["area_m2"] = json!(area);
    }
    value
}

fn invalid(problems: &[Problem]) -> ApiError {
    ApiError::InvalidFeature {
        message: match problems {
            [one] => one.message.clone(),
            many => format!("{} problems; first: {}", many.len(), many[0].message),
        },
        problems: problems.iter().map(problem_json).collect(),
    }
}

/// One problem without a place, as a 422.
fn invalid_because(code: ProblemCode, message: impl Into<String>) -> ApiError {
    invalid(&[Problem {
        code,
        message: message.into(),
        at: None,
        with: None,
        area_m2: None,
    }])
}

impl From<ReshapeError> for ApiError {
    fn from(e: ReshapeError) -> Self {
        let message = e.to_string();
        match e {
            ReshapeError::NoSuchPlace { .. } => ApiError::NotFound(message),
            ReshapeError::BadSplit(_) => ApiError::unprocessable("invalid_split", message),
            ReshapeError::BadMerge(_) => ApiError::unprocessable("invalid_merge", message),
            ReshapeError::TooManyPlaces => ApiError::TooLarge {
                code: "too_many_places",
                message,
            },
            ReshapeError::Edit(e) => e.into(),
        }
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> Self {
        match e {
            EditError::Invalid(problems) => invalid(&problems),
            EditError::Store(e) => e.into(),
            EditError::Busy(busy) => busy.into(),
        }
    }
}

/// The current place of this layer with this id, or 404.
fn current(map: &MapData, kind: PlaceKind, id: Id) -> Result<&Place, ApiError> {
    map.places
        .iter()
        .find(|p| p.id == id && p.kind == kind)
        .ok_or_else(|| ApiError::NotFound(format!("no {kind} with id {id}")))
}

async fn updated_at(state: &AppState) -> Result<HashMap<Id, String>, ApiError> {
    Ok(state.app.places_updated_at().await?)
}

/// The answer to a write: the features of the stored places, keyed as the contract names them.
async fn stored_features(state: &AppState, outcome: &EditOutcome) -> Result<Vec<Value>, ApiError> {
    let map = state.app.map_data();
    let codes = codes(&map);
    Ok(outcome
        .places
        .iter()
        .map(|p| feature(p, &codes, Some(&outcome.at)))
        .collect())
}

fn reassigned_json(r: Reassigned) -> Value {
    json!({"households": r.households, "buildings": r.buildings})
}

/// `GET /api/v1/{layer}[?parent_code=]`: every place of the layer.
async fn list(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    query: Params,
) -> Result<Json<Value>, ApiError> {
    let query = params(query)?;
    let map = state.app.map_data();
    let codes = codes(&map);
    let updated = updated_at(&state).await?;
    let parent = query.get("parent_code");
    let features: Vec<Value> = map
        .places
        .iter()
        .filter(|p| p.kind == kind)
        .filter(|p| match parent {
            None => true,
            Some(code) => p.parent_id.and_then(|id| codes.get(&id)) == Some(code),
        })
        .map(|p| feature(p, &codes, updated.get(&p.id).map(String::as_str)))
        .collect();
    Ok(Json(
        json!({"type": "FeatureCollection", "features": features}),
    ))
}

/// `GET /api/v1/{layer}/{id}`: one place, its version as the `ETag`.
async fn get_one(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let map = state.app.map_data();
    let place = current(&map, kind, id)?;
    let updated = updated_at(&state).await?;
    let body = feature(place, &codes(&map), updated.get(&id).map(String::as_str));
    Ok(([(header::ETAG, etag(place.version))], Json(body)).into_response())
}

/// The properties a write may set.
struct Props {
    code: Option<String>,
    name: Option<String>,
    /// `Some(None)`: given as null.
    parent_code: Option<Option<String>>,
}

fn text(props: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ApiError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(ApiError::unprocessable(
            "invalid_feature",
            format!("properties.{key} must be a non-empty string, found {other}"),
        )),
    }
}

/// A body that must be a GeoJSON Feature; its geometry is read in `crs` (`None` if null),
/// within the vertex limits, and converted and checked off the async workers.
async fn read_feature(
    state: &AppState,
    body: Value,
    crs: Crs,
) -> Result<(Option<MultiPolygon<f64>>, Props), ApiError> {
    if body.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err(ApiError::unprocessable(
            "invalid_feature",
            "the body must be a GeoJSON Feature ({\"type\":\"Feature\",…})",
        ));
    }
    let feature: geojson::Feature = serde_json::from_value(body).map_err(|e| {
        ApiError::unprocessable("invalid_feature", format!("not a GeoJSON Feature: {e}"))
    })?;
    if let Some(geometry) = &feature.geometry {
        state.limits.check(&[limits::vertices(&geometry.value)])?;
    }
    let empty = serde_json::Map::new();
    let props = feature.properties.as_ref().unwrap_or(&empty);
    let props = Props {
        code: text(props, "code")?,
        name: text(props, "name")?,
        parent_code: match props.get("parent_code") {
            None => None,
            Some(_) => Some(text(props, "parent_code")?),
        },
    };
    let geometry = match feature.geometry {
        None => None,
        Some(_) => Some(
            state
                .app
                .compute(move || geodata::polygonal(&feature, crs))
                .await?
                .map_err(|e| {
                    invalid(&[Problem {
                        code: ProblemCode::InvalidGeometry,
                        message: e.message,
                        at: e.at.map(Geometry::MultiPoint),
                        with: None,
                        area_m2: None,
                    }])
                })?,
        ),
    };
    Ok((geometry, props))
}

/// The parent id for `code`; for an area without one, the street holding its interior point.
fn parent_id(
    state: &AppState,
    map: &MapData,
    kind: PlaceKind,
    code: Option<&str>,
    geometry: &MultiPolygon<f64>,
) -> Result<Option<Id>, ApiError> {
    let want = kind.parent_kind().expect("editable kinds have parents");
    match code {
        Some(code) => match map.places.iter().find(|p| p.code == code) {
            Some(p) if p.kind == want => Ok(Some(p.id)),
            Some(p) => Err(invalid_because(
                ProblemCode::InvalidParent,
                format!(
                    "parent_code {code:?} is a {}, but a {kind}'s parent must be a {want}",
                    p.kind
                ),
            )),
            None => Err(invalid_because(
                ProblemCode::InvalidParent,
                format!("parent_code {code:?} names no place"),
            )),
        },
        None if kind == PlaceKind::Area => {
            let inside = geometry.interior_point().map(|p| p.0);
            let street = inside.and_then(|c| state.app.index().owner(want, c));
            street.map(Some).ok_or_else(|| {
                invalid_because(
                    ProblemCode::InvalidParent,
                    "the area lies in no street; give parent_code",
                )
            })
        }
        None => Err(invalid_because(
            ProblemCode::InvalidParent,
            format!("a {kind} needs parent_code naming its {want}"),
        )),
    }
}

fn required(value: Option<String>, key: &str) -> Result<String, ApiError> {
    value.ok_or_else(|| {
        ApiError::unprocessable(
            "invalid_feature",
            format!("properties.{key} is missing or empty"),
        )
    })
}

/// `POST /api/v1/{layer}`: creates a place.
async fn create(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    caller: Caller,
    query: Params,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(&EDITORS)?;
    let crs = crs_of(&params(query)?)?;
    let (geometry, props) = read_feature(&state, body, crs).await?;
    let geometry = geometry.ok_or_else(|| {
        invalid_because(ProblemCode::InvalidGeometry, "a new place needs a geometry")
    })?;
    let map = state.app.map_data();
    let place = PlaceFields {
        kind,
        code: required(props.code, "code")?,
        name: required(props.name, "name")?,
        parent_id: parent_id(
            &state,
            &map,
            kind,
            props.parent_code.flatten().as_deref(),
            &geometry,
        )?,
        geometry,
    };
    let outcome = state
        .app
        .edit(
            EditAction::Create,
            Some(caller.user.id),
            vec![PlaceChange::Insert { temp_id: -1, place }],
        )
        .await?;
    let mut body = stored_features(&state, &outcome).await?.remove(0);
    body["reassigned"] = reassigned_json(outcome.reassigned);
    let created = &outcome.places[0];
    let location = format!("/api/v1/{}/{}", Layer::Places(kind), created.id);
    Ok((
        StatusCode::CREATED,
        [
            (
                header::LOCATION,
                HeaderValue::from_str(&location).expect("ascii path"),
            ),
            (header::ETAG, etag(created.version)),
        ],
        Json(body),
    )
        .into_response())
}

/// `PATCH /api/v1/{layer}/{id}` with `If-Match`: changes geometry and/or properties.
async fn update(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Params,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    caller.require(&EDITORS)?;
    let id = parse_id(&id)?;
    let crs = crs_of(&params(query)?)?;
    let map = state.app.map_data();
    let stored = current(&map, kind, id)?.clone();
    let expected = if_match(&headers)?;
    let (geometry, props) = read_feature(&state, body, crs).await?;
    let geometry = geometry.unwrap_or_else(|| stored.geometry.clone());
    let parent = match props.parent_code {
        None => stored.parent_id,
        Some(code) => parent_id(&state, &map, kind, code.as_deref(), &geometry)?,
    };
    let place = PlaceFields {
        kind,
        code: props.code.unwrap_or(stored.code),
        name: props.name.unwrap_or(stored.name),
        parent_id: parent,
        geometry,
    };
    let outcome = state
        .app
        .edit(
            EditAction::Update,
            Some(caller.user.id),
            vec![PlaceChange::Update {
                id,
                expected_version: expected,
                place,
            }],
        )
        .await?;
    let mut body = stored_features(&state, &outcome).await?.remove(0);
    body["reassigned"] = reassigned_json(outcome.reassigned);
    Ok((
        [(header::ETAG, etag(outcome.places[0].version))],
        Json(body),
    )
        .into_response())
}

/// `DELETE /api/v1/{layer}/{id}` with `If-Match`: 204; 409 while it has children.
async fn delete(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    caller.require(&EDITORS)?;
    let id = parse_id(&id)?;
    current(&state.app.map_data(), kind, id)?;
    let expected = if_match(&headers)?;
    state
        .app
        .edit(
            EditAction::Delete,
            Some(caller.user.id),
            vec![PlaceChange::Delete {
                id,
                expected_version: expected,
            }],
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SplitBody {
    line: geojson::Geometry,
    code: String,
    name: String,
}

/// `POST /api/v1/{layer}/{id}/split` with `If-Match`: cuts a place in two along a line; the
/// larger piece keeps the id, the smaller becomes a new place with the given code and name, and
/// takes the children that lie in it.
async fn split(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Params,
    ApiJson(body): ApiJson<SplitBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&EDITORS)?;
    let id = parse_id(&id)?;
    let crs = crs_of(&params(query)?)?;
    let stored = state.app.current_place(kind, id)?;
    let expected = if_match(&headers)?;
    let line_vertices = limits::vertices(&body.line.value);
    state.limits.check(&[line_vertices])?;
    state
        .limits
        .check_request(stored.geometry.coords_count() + line_vertices)?;
    let line = geodata::line(&body.line, crs)
        .map_err(|m| ApiError::unprocessable("invalid_line", format!("line: {m}")))?;
    let outcome = state
        .app
        .split_place(
            kind,
            id,
            expected,
            line,
            &body.code,
            &body.name,
            caller.user.id,
        )
        .await?;
    let mut features = stored_features(&state, &outcome).await?.into_iter();
    Ok(Json(json!({
        "kept": features.next(),
        "created": features.next(),
        "reassigned": reassigned_json(outcome.reassigned),
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MergeBody {
    ids: Vec<Id>,
    versions: Vec<i64>,
}

/// `POST /api/v1/{layer}/merge`: unites neighbours of one parent; the first id survives and
/// takes the children of the others.
async fn merge(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    caller: Caller,
    ApiJson(body): ApiJson<MergeBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(&EDITORS)?;
    let places = state.app.places_to_merge(kind, &body.ids, &body.versions)?;
    state
        .limits
        .check_request(places.iter().map(|p| p.geometry.coords_count()).sum())?;
    let outcome = state
        .app
        .merge_places(places, &body.versions, caller.user.id)
        .await?;
    let merged = stored_features(&state, &outcome).await?.remove(0);
    Ok(Json(json!({
        "merged": merged,
        "deleted": outcome.deleted,
        "reassigned": reassigned_json(outcome.reassigned),
    })))
}

/// `POST /api/v1/{layer}/validate`: the problems a feature would have, nothing stored. With
/// `properties.id` the feature is checked as an update of that place.
async fn validate(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    query: Params,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let crs = crs_of(&params(query)?)?;
    let id = match body.pointer("/properties/id") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| {
            ApiError::unprocessable("invalid_feature", "properties.id must be an integer")
        })?),
        Some(other) => {
            return Err(ApiError::unprocessable(
                "invalid_feature",
                format!("properties.id must be an integer, found {other}"),
            ));
        }
    };
    let problems = match read_feature(&state, body, crs).await {
        Err(ApiError::InvalidFeature { problems, .. }) => {
            return Ok(Json(json!({"valid": false, "problems": problems})));
        }
        Err(other) => return Err(other),
        Ok((geometry, props)) => {
            let map = state.app.map_data();
            let stored = id.map(|id| current(&map, kind, id).cloned()).transpose()?;
            let geometry = match (geometry, &stored) {
                (Some(g), _) => g,
                (None, Some(s)) => s.geometry.clone(),
                (None, None) => {
                    return Ok(Json(
                        json!({"valid": false, "problems": [problem_json(&Problem {
                            code: ProblemCode::InvalidGeometry,
                            message: "the feature has no geometry".into(),
                            at: None, with: None, area_m2: None,
                        })]}),
                    ));
                }
            };
            let parent = match (props.parent_code, &stored) {
                (None, Some(s)) => Ok(s.parent_id),
                (code, _) => parent_id(&state, &map, kind, code.flatten().as_deref(), &geometry),
            };
            let parent = match parent {
                Ok(parent) => parent,
                Err(ApiError::InvalidFeature { problems, .. }) => {
                    return Ok(Json(json!({"valid": false, "problems": problems})));
                }
                Err(other) => return Err(other),
            };
            let place = Place {
                id: id.unwrap_or(-1),
                kind,
                code: props
                    .code
                    .or(stored.as_ref().map(|s| s.code.clone()))
                    .unwrap_or_default(),
                name: props
                    .name
                    .or(stored.as_ref().map(|s| s.name.clone()))
                    .unwrap_or_default(),
                parent_id: parent,
                geometry,
                version: stored.as_ref().map_or(1, |s| s.version),
            };
            state.app.validate(place).await?
        }
    };
    Ok(Json(json!({
        "valid": problems.is_empty(),
        "problems": problems.iter().map(problem_json).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/communities/{id}/coverage`: the parts of a community no grid covers.
async fn coverage(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let map = state.app.map_data();
    let community = current(&map, PlaceKind::Community, id)?;
    let grids: Vec<MultiPolygon<f64>> = map
        .places
        .iter()
        .filter(|p| p.kind == PlaceKind::Grid && p.parent_id == Some(id))
        .map(|p| p.geometry.clone())
        .collect();
    let shape = community.geometry.clone();
    let found = state
        .app
        .compute(move || gaps(&shape, &grids.iter().collect::<Vec<_>>()))
        .await?;
    let total = area_m2(&community.geometry);
    let uncovered: f64 = found.iter().map(|(_, a)| a).sum();
    let features: Vec<Value> = found
        .into_iter()
        .map(|(gap, area)| {
            json!({
                "type": "Feature",
                "geometry": geometry_json(&MultiPolygon(vec![gap])),
                "properties": {"area_m2": area},
            })
        })
        .collect();
    Ok(Json(json!({
        "community": {"id": community.id, "code": community.code, "name": community.name},
        "area_m2": total,
        "covered_m2": (total - uncovered).max(0.0),
        "gaps": {"type": "FeatureCollection", "features": features},
    })))
}

fn version_json(v: &PlaceVersion, codes: &HashMap<Id, String>) -> Value {
    json!({
        "version": v.place.version,
        "action": v.action,
        "valid_from": v.valid_from,
        "valid_to": v.valid_to,
        "user": v.user,
        "feature": feature(&v.place, codes, Some(&v.valid_from)),
    })
}

/// `GET /api/v1/{layer}/{id}/history`: every version, oldest first, deleted places included.
async fn history(
    State(state): State<AppState>,
    LayerKind(kind): LayerKind,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&id)?;
    let versions = state.app.place_history(id).await?;
    if versions.is_empty() || versions.iter().all(|v| v.place.kind != kind) {
        return Err(ApiError::NotFound(format!(
            "no {kind} with id {id} ever existed"
        )));
    }
    let codes = codes(&state.app.map_data());
    Ok(Json(json!({
        "versions": versions.iter().map(|v| version_json(v, &codes)).collect::<Vec<_>>(),
    })))
}
