//! Residents' requests over Open311 GeoReport v2 (JSON), the standard city apps already speak
//! (<https://wiki.open311.org/GeoReport_v2>), under `/open311/v2`:
//!
//! - `GET discovery.json`, `GET services.json`, `GET services/{code}.json`: the categories and
//!   the extra questions each asks.
//! - `POST requests.json`: a report, form-encoded as the standard says or as JSON
//!   (`service_code`, `lat`, `long`, `address_string`, `description`, `media_url`,
//!   `first_name`, `last_name`, `phone`, `email`, `attribute[code]`, `api_key`), plus our `crs`
//!   extension so that a phone sends GCJ-02 or BD-09 as it reads them. Anonymous; posts without
//!   a registered `api_key` are rate-limited per client address.
//! - `GET requests.json` (filters `service_request_id`, `service_code`, `start_date`,
//!   `end_date`, `status`) and `GET requests/{id}.json`.
//!
//! Every answer here is public: it never carries the reporter's name, phone or email, nor the
//! household. Errors keep wangge's envelope (`{"error":{"code","message"}}`), not Open311's
//! list of `{code, description}`.

use super::AppState;
use super::client::ClientAddr;
use super::error::ApiError;
use super::query::crs_param;
use super::requests::{MAX_TEXT_CHARS, bounded, check_reporter, description};
use crate::app::{MAX_REQUESTS, RequestInput, RequestView};
use crate::model::Id;
use crate::model::photos::PhotoKind;
use crate::model::requests::{Category, Reporter, RequestFilter, RequestState, category};
use crate::photos::MAX_PHOTO_BYTES;
use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use geo::Coord;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::num::NonZeroU32;
use time::{Duration, OffsetDateTime};

/// Days back a list of requests reaches when it names no dates (the standard's default).
pub const DEFAULT_DAYS: i64 = 90;
/// The specification this endpoint follows, as discovery names it.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";

/// Who may post, and how often: the registered apps' keys and the limit on anonymous posts.
#[derive(Debug, Clone)]
pub struct Open311Config {
    /// Anonymous posts let through per client address and minute (also the burst).
    pub posts_per_minute: NonZeroU32,
    /// Registered apps as (app name, api_key).
    pub keys: Vec<(String, String)>,
    /// Whether a post without a registered `api_key` is refused (`--open311-require-key`).
    pub require_key: bool,
}

impl Default for Open311Config {
    fn default() -> Self {
        Open311Config {
            posts_per_minute: NonZeroU32::new(10).expect("10 is not zero"),
            keys: Vec::new(),
            require_key: false,
        }
    }
}

impl Open311Config {
    /// Reads `APP=KEY` pairs (`--open311-key`); a key must be at least 16 characters, so that
    /// it cannot be guessed by trying.
    pub fn parse_key(pair: &str) -> Result<(String, String), String> {
        let (app, key) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not APP=KEY"))?;
        let (app, key) = (app.trim(), key.trim());
        if app.is_empty() {
            return Err(format!("{pair:?} names no app"));
        }
        if key.chars().count() < 16 {
            return Err(format!("the key of {app:?} is shorter than 16 characters"));
        }
        Ok((app.to_string(), key.to_string()))
    }
}

/// The intake's state: its settings and the per-address counters of anonymous posts.
pub struct Intake {
    config: Open311Config,
    anonymous: DefaultKeyedRateLimiter<IpAddr>,
}

impl Intake {
    /// An intake with no post counted yet.
    pub fn new(config: Open311Config) -> Intake {
        let anonymous = DefaultKeyedRateLimiter::keyed(Quota::per_minute(config.posts_per_minute));
        Intake { config, anonymous }
    }

    /// Lets a post through, or says why not: an unknown key is 403, a missing one 403 when keys
    /// are required, and an anonymous client over its rate 429 with the seconds to wait.
    fn admit(&self, api_key: Option<&str>, client: IpAddr) -> Result<(), ApiError> {
        if let Some(key) = api_key {
            return if self.config.keys.iter().any(|(_, k)| k == key) {
                Ok(())
            } else {
                Err(ApiError::Forbidden("this api_key is not registered".into()))
            };
        }
        if self.config.require_key {
            return Err(ApiError::Forbidden(
                "this service takes reports only from registered apps: send your api_key".into(),
            ));
        }
        // Forget addresses whose quota is whole again, so that the table stays small.
        if self.anonymous.len() > 10_000 {
            self.anonymous.retain_recent();
        }
        self.anonymous.check_key(&client).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited {
                retry_after_secs: wait.as_secs() + 1,
            }
        })
    }
}

/// The Open311 routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/discovery.json", get(discovery))
        .route("/open311/v2/services.json", get(services))
        .route("/open311/v2/services/{file}", get(service))
        .route(
            "/open311/v2/requests.json",
            get(list)
                .post(post)
                .layer(DefaultBodyLimit::max(MAX_PHOTO_BYTES + 64 * 1024)),
        )
        .route("/open311/v2/requests/{file}", get(one))
}

/// `name.json` → `name`; anything else is not ours to serve.
fn json_file(file: &str) -> Result<&str, ApiError> {
    file.strip_suffix(".json").ok_or_else(|| {
        ApiError::NotFound("Open311 answers only in JSON: ask for NAME.json".to_string())
    })
}

/// `GET /open311/v2/discovery.json`.
async fn discovery() -> Json<Value> {
    Json(json!({
        "changeset": "2026-12-03T00:00:00Z",
        "contact": "网格服务管理员",
        "key_service": "api_key 由管理员登记发放（wangge serve --open311-key APP=KEY）",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": "/open311/v2",
            "changeset": "2026-12-03T00:00:00Z",
            "type": "production",
            "formats": ["application/json"],
        }],
    }))
}

fn service_summary(c: &Category) -> Value {
    json!({
        "service_code": c.code,
        "service_name": c.name,
        "description": c.description,
        "metadata": !c.attributes.is_empty(),
        "type": "realtime",
        "keywords": "",
        "group": c.group,
    })
}

/// `GET /open311/v2/services.json`.
async fn services(State(state): State<AppState>) -> Json<Value> {
    Json(state.app.categories().iter().map(service_summary).collect())
}

/// `GET /open311/v2/services/{code}.json`: the extra questions of one category.
async fn service(Path(file): Path<String>) -> Result<Json<Value>, ApiError> {
    let code = json_file(&file)?;
    let c = category(code)
        .ok_or_else(|| ApiError::NotFound(format!("no service with the code {code:?}")))?;
    let attributes: Vec<Value> = c
        .attributes
        .iter()
        .enumerate()
        .map(|(order, a)| {
            json!({
                "variable": true,
                "code": a.code,
                "datatype": if a.values.is_empty() { "string" } else { "singlevaluelist" },
                "required": a.required,
                "datatype_description": null,
                "order": order + 1,
                "description": a.description,
                "values": a.values.iter().map(|(key, name)| json!({"key": key, "name": name}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(
        json!({"service_code": c.code, "attributes": attributes}),
    ))
}

/// How a request stands, in words for the resident.
fn status_notes(view: &RequestView) -> String {
    let r = &view.request;
    match r.state {
        RequestState::Reported => "已收到，等待立案".into(),
        RequestState::Reopened => "已重新受理，等待立案".into(),
        RequestState::Accepted => "已立案，等待派遣".into(),
        RequestState::Dispatched => "已派遣，正在处置".into(),
        RequestState::Handled => "已处置，等待核查".into(),
        RequestState::Verified => "已核查，等待结案".into(),
        RequestState::Closed if r.fixed == Some(true) => "已结案：问题已解决".into(),
        RequestState::Closed => "已结案：问题未能解决".into(),
        RequestState::Rejected => "不予受理".into(),
        RequestState::Duplicate => match r.duplicate_of {
            Some(original) => format!("与 {original} 号诉求重复，随原诉求一并处理"),
            None => "重复诉求".into(),
        },
    }
}

/// The photo of a request as Open311 names it: the URL the reporter gave, else the public
/// copy of its first photo, else nothing.
fn media_url(r: &crate::model::requests::Request) -> String {
    match &r.media_url {
        Some(url) => url.clone(),
        None if r.photos > 0 => format!("/api/v1/requests/{}/photo", r.id),
        None => String::new(),
    }
}

/// A request as the public reads it: no reporter, no household, no staff.
fn public(state: &AppState, view: &RequestView) -> Value {
    let r = &view.request;
    json!({
        "service_request_id": r.id.to_string(),
        "status": if r.state.is_open() { "open" } else { "closed" },
        "status_notes": status_notes(view),
        "service_name": view.category.name,
        "service_code": r.category,
        "description": r.description,
        "agency_responsible": state.app.agency_responsible(r),
        "service_notice": "",
        "requested_datetime": r.requested_at,
        "updated_datetime": r.updated_at,
        "expected_datetime": view.expected_at.map(crate::timestamp::format),
        "address": r.address,
        "address_id": "",
        "zipcode": "",
        "lat": r.lat,
        "long": r.lon,
        "media_url": media_url(r),
    })
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    service_request_id: Option<String>,
    service_code: Option<String>,
    start_date: Option<String>,
    end_date: Option<String>,
    status: Option<String>,
}

fn instant(name: &str, text: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            format!("{name}={text:?} is not a W3C date-time such as 2026-12-03T09:30:00+08:00"),
        )
    })
}

/// The filter a list asks for. Ids given, the other filters do not apply (as the standard
/// says); otherwise the last [`DEFAULT_DAYS`] days unless dates are given.
fn filter_of(query: ListQuery, now: OffsetDateTime) -> Result<RequestFilter, ApiError> {
    let mut filter = RequestFilter {
        limit: MAX_REQUESTS,
        ..RequestFilter::default()
    };
    if let Some(ids) = query.service_request_id {
        let ids: Vec<Id> = ids
            .split(',')
            .map(|id| {
                id.trim().parse().map_err(|_| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!("service_request_id {id:?} is not a request number"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        if ids.len() > MAX_REQUESTS {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("at most {MAX_REQUESTS} ids at once"),
            ));
        }
        filter.ids = Some(ids);
        return Ok(filter);
    }
    filter.category = query.service_code;
    let end = query
        .end_date
        .map(|t| instant("end_date", &t))
        .transpose()?;
    let start = match query.start_date {
        Some(t) => instant("start_date", &t)?,
        None => end.unwrap_or(now) - Duration::days(DEFAULT_DAYS),
    };
    filter.since = Some(crate::timestamp::format(start));
    filter.until = end.map(crate::timestamp::format);
    filter.open = match query.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(statuses) => {
            let (mut open, mut closed) = (false, false);
            for status in statuses.split(',').map(str::trim) {
                match status {
                    "open" => open = true,
                    "closed" => closed = true,
                    other => {
                        return Err(ApiError::bad_request(
                            "invalid_query",
                            format!("status {other:?} is neither open nor closed"),
                        ));
                    }
                }
            }
            (open != closed).then_some(open)
        }
    };
    Ok(filter)
}

/// `GET /open311/v2/requests.json`.
async fn list(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = filter_of(query, OffsetDateTime::now_utc())?;
    let views = state.app.requests(&filter).await?;
    Ok(Json(views.iter().map(|v| public(&state, v)).collect()))
}

/// `GET /open311/v2/requests/{id}.json`: a list of one, as the standard says.
async fn one(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let raw = json_file(&file)?;
    let id: Id = raw
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no request numbered {raw:?}")))?;
    let view = state.app.public_request(id).await?;
    Ok(Json(json!([public(&state, &view)])))
}

/// The fields of a post, whichever way it came: form pairs, a JSON object whose `attribute`
/// is an object of answers, or a multipart form whose `media` part is a photo.
async fn fields(request: Request) -> Result<(HashMap<String, String>, Option<Bytes>), ApiError> {
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let mut photo = None;
    let too_large = |_| ApiError::TooLarge {
        code: "too_large",
        message: format!("a report may have at most {MAX_PHOTO_BYTES} bytes with its photo"),
    };
    let pairs: Vec<(String, String)> = match media.as_str() {
        "multipart/form-data" => {
            let (pairs, media) = multipart(request).await?;
            photo = media;
            pairs
        }
        "application/x-www-form-urlencoded" | "application/json" => {
            let body = Bytes::from_request(request, &()).await.map_err(too_large)?;
            if media == "application/json" {
                json_fields(&body)?
            } else {
                serde_urlencoded::from_bytes(&body).map_err(|e| {
                    ApiError::bad_request("invalid_body", format!("unreadable form: {e}"))
                })?
            }
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "post a report as application/x-www-form-urlencoded, multipart/form-data (with \
                 the photo as its media part) or application/json"
                    .into(),
            ));
        }
    };
    let mut fields = HashMap::new();
    for (key, value) in pairs {
        if fields.insert(key.clone(), value).is_some() {
            return Err(ApiError::bad_request(
                "invalid_body",
                format!("{key} is given twice"),
            ));
        }
    }
    Ok((fields, photo))
}

/// The pairs of a JSON object, its `attribute` object's answers as `attribute[code]`.
fn json_fields(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let object: serde_json::Map<String, Value> = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_body", format!("unreadable JSON: {e}")))?;
    let mut pairs = Vec::new();
    for (key, value) in object {
        match (key.as_str(), value) {
            ("attribute", Value::Object(answers)) => {
                for (code, answer) in answers {
                    pairs.push((format!("attribute[{code}]"), text_of(answer)));
                }
            }
            (_, value) => pairs.push((key, text_of(value))),
        }
    }
    Ok(pairs)
}

/// The text parts of a multipart form, and its `media` part (a photo) if any.
async fn multipart(request: Request) -> Result<(Vec<(String, String)>, Option<Bytes>), ApiError> {
    let bad = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge {
                code: "too_large",
                message: format!(
                    "a report may have at most {MAX_PHOTO_BYTES} bytes with its photo"
                ),
            };
        }
        ApiError::bad_request(
            "invalid_body",
            format!("unreadable multipart form: {}", e.body_text()),
        )
    };
    let mut form = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request("invalid_body", e.body_text()))?;
    let (mut pairs, mut media) = (Vec::new(), None);
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "media" {
            media = Some(field.bytes().await.map_err(bad)?);
        } else {
            pairs.push((name, field.text().await.map_err(bad)?));
        }
    }
    Ok((pairs, media))
}

fn text_of(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn coordinate(fields: &HashMap<String, String>, name: &str) -> Result<f64, ApiError> {
    let raw = fields.get(name).map(|v| v.trim()).unwrap_or_default();
    if raw.is_empty() {
        return Err(ApiError::bad_request(
            "missing_location",
            "a report needs its spot as lat and long",
        ));
    }
    raw.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid_location",
            format!("{name}={raw:?} is not a number"),
        )
    })
}

fn optional(fields: &HashMap<String, String>, name: &str) -> Option<String> {
    fields
        .get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `POST /open311/v2/requests.json`: 201 with `[{"service_request_id", "service_notice",
/// "account_id"}]`.
async fn post(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    request: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (fields, photo) = fields(request).await?;
    state
        .open311
        .admit(optional(&fields, "api_key").as_deref(), client)?;
    let service_code = optional(&fields, "service_code").ok_or_else(|| {
        ApiError::bad_request("missing_service_code", "a report needs its service_code")
    })?;
    let crs = crs_param(fields.get("crs").map(String::as_str))?;
    let (lon, lat) = crs.to_wgs84(coordinate(&fields, "long")?, coordinate(&fields, "lat")?)?;
    let address = optional(&fields, "address_string").unwrap_or_default();
    bounded("address_string", &address, MAX_TEXT_CHARS)?;
    let media_url = optional(&fields, "media_url");
    bounded(
        "media_url",
        media_url.as_deref().unwrap_or_default(),
        MAX_TEXT_CHARS,
    )?;
    let name = [
        optional(&fields, "last_name"),
        optional(&fields, "first_name"),
    ]
    .into_iter()
    .flatten()
    .collect::<String>();
    let reporter = Reporter {
        name: (!name.is_empty()).then_some(name),
        phone: optional(&fields, "phone"),
        email: optional(&fields, "email"),
    };
    check_reporter(&reporter)?;
    let attributes: BTreeMap<String, String> = fields
        .iter()
        .filter_map(|(k, v)| {
            let code = k.strip_prefix("attribute[")?.strip_suffix(']')?;
            Some((code.to_string(), v.trim().to_string()))
        })
        .collect();
    let input = RequestInput {
        category: service_code,
        position: Coord { x: lon, y: lat },
        address,
        description: description(fields.get("description").cloned())?,
        media_url,
        attributes,
        reporter,
        household_id: None,
    };
    let view = state.app.submit_request(None, input).await?;
    if let Some(photo) = photo {
        // The report stands without its photo: a photo refused is logged, not fatal.
        if let Err(e) = state
            .app
            .add_photo(None, view.request.id, PhotoKind::Report, photo.to_vec())
            .await
        {
            tracing::info!(request = view.request.id, error = %e, "a reporter's photo was refused");
        }
    }
    let notice = match view.due_at {
        Some(due) => format!(
            "已转交{}，将于 {} 前立案",
            state.app.agency_responsible(&view.request),
            crate::timestamp::format(due)
        ),
        None => format!("已转交{}", state.app.agency_responsible(&view.request)),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!([{
            "service_request_id": view.request.id.to_string(),
            "service_notice": notice,
            "account_id": null,
        }])),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_list_reaches_back_ninety_days_unless_told_otherwise() {
        let now = datetime!(2026-12-03 00:00 UTC);
        let filter = filter_of(ListQuery::default(), now).unwrap();
        assert_eq!(filter.since.as_deref(), Some("2026-09-04T00:00:00.000Z"));
        assert_eq!(filter.until, None);
        let query = ListQuery {
            start_date: Some("2026-12-01T08:00:00+08:00".into()),
            end_date: Some("2026-12-02T00:00:00Z".into()),
            status: Some("closed".into()),
            service_code: Some("repair".into()),
            ..ListQuery::default()
        };
        let filter = filter_of(query, now).unwrap();
        assert_eq!(filter.since.as_deref(), Some("2026-12-01T00:00:00.000Z"));
        assert_eq!(filter.until.as_deref(), Some("2026-12-02T00:00:00.000Z"));
        assert_eq!(filter.open, Some(false));
        assert_eq!(filter.category.as_deref(), Some("repair"));
    }

    #[test]
    fn ids_override_the_other_filters_and_both_statuses_mean_either() {
        let now = datetime!(2026-12-03 00:00 UTC);
        let query = ListQuery {
            service_request_id: Some("3, 5".into()),
            status: Some("open".into()),
            ..ListQuery::default()
        };
        let filter = filter_of(query, now).unwrap();
        assert_eq!(filter.ids, Some(vec![3, 5]));
        assert_eq!((filter.open, filter.since), (None, None));
        let either = ListQuery {
            status: Some("open,closed".into()),
            ..ListQuery::default()
        };
        assert_eq!(filter_of(either, now).unwrap().open, None);
        for bad in [
            ListQuery {
                status: Some("pending".into()),
                ..ListQuery::default()
            },
            ListQuery {
                start_date: Some("yesterday".into()),
                ..ListQuery::default()
            },
            ListQuery {
                service_request_id: Some("3,x".into()),
                ..ListQuery::default()
            },
        ] {
            assert!(filter_of(bad, now).is_err());
        }
    }

    #[test]
    fn keys_are_app_equals_key_and_long_enough_to_resist_guessing() {
        assert_eq!(
            Open311Config::parse_key("wechat=0123456789abcdef").unwrap(),
            ("wechat".to_string(), "0123456789abcdef".to_string())
        );
        assert!(Open311Config::parse_key("wechat=short").is_err());
        assert!(Open311Config::parse_key("=0123456789abcdef").is_err());
        assert!(Open311Config::parse_key("0123456789abcdef").is_err());
    }

    #[test]
    fn an_anonymous_client_over_its_rate_waits_and_others_do_not() {
        let intake = Intake::new(Open311Config {
            posts_per_minute: NonZeroU32::new(2).unwrap(),
            keys: vec![("app".into(), "0123456789abcdef".into())],
            require_key: false,
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(intake.admit(None, a).is_ok());
        assert!(intake.admit(None, a).is_ok());
        match intake.admit(None, a) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=31).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(
            intake.admit(None, b).is_ok(),
            "another address is not slowed"
        );
        assert!(
            intake.admit(Some("0123456789abcdef"), a).is_ok(),
            "a registered app is not limited by address"
        );
        assert!(matches!(
            intake.admit(Some("guess"), b),
            Err(ApiError::Forbidden(_))
        ));
    }
}
