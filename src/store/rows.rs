//! Rows as both backends select them, with named fields, and what they become. The backends'
//! SQL gives every column the same name and type on both: geometry as WKB (`ST_AsBinary` on
//! PostGIS), instants as RFC 3339 UTC text with milliseconds (`to_char` on PostGIS), household
//! tags as a JSON array (`array_to_json` on PostGIS).

use super::StoreError;
use crate::auth::{AuditRecord, Role, User};
use crate::model::edit::{EditAction, PlaceFields, PlaceVersion, UserRef};
use crate::model::photos::Photo;
use crate::model::requests::{Reporter, Request, RequestEvent, RequestTiming, Spot};
use crate::model::units::CategoryUnit;
use crate::model::visits::{CadreWork, LastVisits, Need, NeedKind, Visit};
use crate::model::{Building, Claim, HeldArea, Holder, Household, HouseholdDetails, Id, Place};
use geo::{Geometry, MultiPolygon, Point};
use geozero::{CoordDimensions, ToGeo, ToWkb, wkb::Wkb};

mod branches;
pub use branches::*;

type Result<T> = std::result::Result<T, StoreError>;

/// Reads a stored name of one of our enums (kind, role, action, how a claim ended).
fn parse<T: std::str::FromStr>(what: &str, text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| StoreError::Corrupt(format!("stored {what} {text:?} is unknown")))
}

/// An instant stored as milliseconds since the Unix epoch (what `Dialect::REQUEST_TIMINGS`
/// reads, cheaper than formatting and parsing text for every row).
fn instant_ms(ms: i64) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("stored instant {ms} ms is out of range")))
}

#[derive(sqlx::FromRow)]
pub struct PlaceRow {
    id: Id,
    kind: String,
    code: String,
    name: String,
    parent_id: Option<Id>,
    geom: Vec<u8>,
    version: i64,
}

impl TryFrom<PlaceRow> for Place {
    type Error = StoreError;
    fn try_from(row: PlaceRow) -> Result<Place> {
        Ok(Place {
            id: row.id,
            kind: parse("place kind", &row.kind)?,
            code: row.code,
            name: row.name,
            parent_id: row.parent_id,
            geometry: multipolygon_from_wkb(&row.geom)?,
            version: row.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct BuildingRow {
    id: Id,
    code: String,
    name: String,
    address: String,
    floors: i32,
    units: i32,
    geom: Vec<u8>,
    grid_id: Option<Id>,
}

impl TryFrom<BuildingRow> for Building {
    type Error = StoreError;
    fn try_from(row: BuildingRow) -> Result<Building> {
        Ok(Building {
            id: row.id,
            code: row.code,
            name: row.name,
            address: row.address,
            floors: row.floors,
            units: row.units,
            footprint: multipolygon_from_wkb(&row.geom)?,
            grid_id: row.grid_id,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct HouseholdRow {
    pub(crate) id: Id,
    code: String,
    building_code: Option<String>,
    unit: Option<i32>,
    floor: Option<i32>,
    room: Option<String>,
    address: String,
    head_name: String,
    phone: Option<String>,
    people: i32,
    /// A JSON array of strings.
    tags: String,
    lon: f64,
    lat: f64,
    grid_id: Option<Id>,
    version: i64,
}

impl HouseholdRow {
    /// The household, in the areas `area_ids` (read apart: a household may lie in several).
    pub(crate) fn into_household(self, area_ids: Vec<Id>) -> Result<Household> {
        Ok(Household {
            id: self.id,
            code: self.code,
            details: HouseholdDetails {
                building_code: self.building_code,
                unit: self.unit,
                floor: self.floor,
                room: self.room,
                address: self.address,
                head_name: self.head_name,
                phone: self.phone,
                people: self.people,
                tags: serde_json::from_str(&self.tags)
                    .map_err(|e| StoreError::Corrupt(format!("stored tags: {e}")))?,
            },
            location: Point::new(self.lon, self.lat),
            grid_id: self.grid_id,
            area_ids,
            version: self.version,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    id: Id,
    name: String,
    role: String,
    display_name: Option<String>,
    phone: Option<String>,
    community_id: Option<Id>,
    branch_id: Option<Id>,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<User> {
        Ok(User {
            id: row.id,
            name: row.name,
            role: parse::<Role>("role", &row.role)?,
            display_name: row.display_name,
            phone: row.phone,
            community_id: row.community_id,
            branch_id: row.branch_id,
        })
    }
}

/// A user with the password hash, for a login.
#[derive(sqlx::FromRow)]
pub struct StoredUserRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) password_hash: String,
}

#[derive(sqlx::FromRow)]
pub struct ClaimRow {
    id: Id,
    area_id: Id,
    holder_id: Id,
    name: String,
    display_name: Option<String>,
    phone: Option<String>,
    claimed_at: String,
    released_at: Option<String>,
    ended_by: Option<String>,
    ended_by_user: Option<Id>,
}

impl TryFrom<ClaimRow> for Claim {
    type Error = StoreError;
    fn try_from(row: ClaimRow) -> Result<Claim> {
        Ok(Claim {
            id: row.id,
            area_id: row.area_id,
            holder: Holder {
                id: row.holder_id,
                name: row.name,
                display_name: row.display_name,
                phone: row.phone,
            },
            claimed_at: row.claimed_at,
            released_at: row.released_at,
            ended_by: row.ended_by.map(|e| parse("claim end", &e)).transpose()?,
            ended_by_user: row.ended_by_user,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct HeldAreaRow {
    id: Id,
    code: String,
    name: String,
    claimed_at: String,
    households: i64,
}

impl From<HeldAreaRow> for HeldArea {
    fn from(row: HeldAreaRow) -> HeldArea {
        HeldArea {
            id: row.id,
            code: row.code,
            name: row.name,
            claimed_at: row.claimed_at,
            households: row.households,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct AuditRow {
    id: Id,
    at: String,
    user_id: Option<Id>,
    action: String,
    entity: String,
    entity_id: Option<Id>,
    /// JSON as text.
    before: Option<String>,
    after: Option<String>,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> Result<AuditRecord> {
        let json = |text: Option<String>| {
            text.map(|t| {
                serde_json::from_str(&t)
                    .map_err(|e| StoreError::Corrupt(format!("stored audit JSON: {e}")))
            })
            .transpose()
        };
        Ok(AuditRecord {
            id: row.id,
            at: row.at,
            user_id: row.user_id,
            action: row.action,
            entity: row.entity,
            entity_id: row.entity_id,
            before: json(row.before)?,
            after: json(row.after)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct VersionRow {
    #[sqlx(flatten)]
    place: PlaceRow,
    valid_from: String,
    valid_to: Option<String>,
    action: String,
    user_id: Option<Id>,
    user_name: Option<String>,
    user_display_name: Option<String>,
}

impl TryFrom<VersionRow> for PlaceVersion {
    type Error = StoreError;
    fn try_from(row: VersionRow) -> Result<PlaceVersion> {
        Ok(PlaceVersion {
            place: Place::try_from(row.place)?,
            action: parse::<EditAction>("edit action", &row.action)?,
            valid_from: row.valid_from,
            valid_to: row.valid_to,
            user: row.user_id.zip(row.user_name).map(|(id, name)| UserRef {
                id,
                name,
                display_name: row.user_display_name,
            }),
        })
    }
}

/// Maps every row, stopping at the first that cannot be read.
pub(crate) fn all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> Result<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

/// Encodes a geometry as OGC WKB (2D).
pub(crate) fn to_wkb(geometry: impl Into<Geometry<f64>>) -> Vec<u8> {
    geometry
        .into()
        .to_wkb(CoordDimensions::xy())
        .expect("writing WKB into memory cannot fail")
}

/// Decodes stored WKB into a multipolygon (a polygon is promoted).
pub(crate) fn multipolygon_from_wkb(bytes: &[u8]) -> Result<MultiPolygon<f64>> {
    let geometry = Wkb(bytes)
        .to_geo()
        .map_err(|e| StoreError::Corrupt(format!("stored geometry is not valid WKB: {e}")))?;
    match geometry {
        Geometry::MultiPolygon(m) => Ok(m),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(StoreError::Corrupt(format!(
            "stored geometry is a {other:?}, not a polygon"
        ))),
    }
}

/// The stored fields of a place as a version row keeps them.
pub(crate) struct NewVersion<'a> {
    pub id: Id,
    pub version: i64,
    pub place: &'a PlaceFields,
    pub at: &'a str,
    /// `None` for the new current version; a deletion's version ends when it starts.
    pub valid_to: Option<&'a str>,
    pub action: EditAction,
    pub user_id: Option<Id>,
}

/// A visit without its needs (read apart); the columns of `Dialect::VISITS`.
#[derive(sqlx::FromRow)]
pub struct VisitRow {
    pub(crate) id: Id,
    household_id: Id,
    user_id: Id,
    pub(crate) digest: String,
    visited_at: String,
    recorded_at: String,
    lon: f64,
    lat: f64,
    accuracy_m: Option<f64>,
    distance_m: f64,
    on_site: bool,
    notes: String,
    corrects: Option<Id>,
    corrected_by: Option<Id>,
}

impl VisitRow {
    /// The visit with the needs it found.
    pub(crate) fn into_visit(self, needs: Vec<Need>) -> Visit {
        Visit {
            id: self.id,
            household_id: self.household_id,
            user_id: self.user_id,
            visited_at: self.visited_at,
            recorded_at: self.recorded_at,
            lon: self.lon,
            lat: self.lat,
            accuracy_m: self.accuracy_m,
            distance_m: self.distance_m,
            on_site: self.on_site,
            notes: self.notes,
            corrects: self.corrects,
            corrected_by: self.corrected_by,
            needs,
        }
    }
}

/// The columns of `Dialect::NEEDS`.
#[derive(sqlx::FromRow)]
pub struct NeedRow {
    id: Id,
    visit_id: Id,
    household_id: Id,
    kind: String,
    note: String,
    met_at: Option<String>,
    met_by: Option<Id>,
}

impl TryFrom<NeedRow> for Need {
    type Error = StoreError;
    fn try_from(row: NeedRow) -> Result<Need> {
        Ok(Need {
            id: row.id,
            visit_id: row.visit_id,
            household_id: row.household_id,
            kind: parse::<NeedKind>("need type", &row.kind)?,
            note: row.note,
            met_at: row.met_at,
            met_by: row.met_by,
        })
    }
}

/// The columns of `Dialect::LAST_VISITS`.
#[derive(sqlx::FromRow)]
pub struct LastVisitsRow {
    household_id: Id,
    any_at: String,
    on_site_at: Option<String>,
}

impl From<LastVisitsRow> for LastVisits {
    fn from(row: LastVisitsRow) -> LastVisits {
        LastVisits {
            household_id: row.household_id,
            any: row.any_at,
            on_site: row.on_site_at,
        }
    }
}

/// The columns of `Dialect::CADRE_WORK`.
#[derive(sqlx::FromRow)]
pub struct CadreWorkRow {
    user_id: Id,
    display_name: Option<String>,
    on_site_visits: i64,
    needs_met: i64,
}

impl From<CadreWorkRow> for CadreWork {
    fn from(row: CadreWorkRow) -> CadreWork {
        CadreWork {
            user_id: row.user_id,
            display_name: row.display_name,
            on_site_visits: row.on_site_visits,
            needs_met: row.needs_met,
        }
    }
}

/// The columns of `Dialect::REQUESTS`.
#[derive(sqlx::FromRow)]
pub struct RequestRow {
    id: Id,
    category: String,
    state: String,
    fixed: Option<bool>,
    lon: f64,
    lat: f64,
    address: String,
    description: String,
    media_url: Option<String>,
    attributes: String,
    reporter_name: Option<String>,
    reporter_phone: Option<String>,
    reporter_email: Option<String>,
    household_id: Option<Id>,
    posted_by: Option<Id>,
    grid_id: Id,
    area_id: Option<Id>,
    community_id: Id,
    street_id: Option<Id>,
    link: String,
    responsible_id: Option<Id>,
    assignee_id: Option<Id>,
    assignee_unit: Option<String>,
    handled_by: Option<Id>,
    duplicate_of: Option<Id>,
    escalations: i32,
    requested_at: String,
    opened_at: String,
    updated_at: String,
    version: i64,
    photos: i64,
}

impl TryFrom<RequestRow> for Request {
    type Error = StoreError;
    fn try_from(row: RequestRow) -> Result<Request> {
        let attributes = serde_json::from_str(&row.attributes)
            .map_err(|e| StoreError::Corrupt(format!("attributes of request {}: {e}", row.id)))?;
        Ok(Request {
            id: row.id,
            category: row.category,
            state: parse("request state", &row.state)?,
            fixed: row.fixed,
            lon: row.lon,
            lat: row.lat,
            address: row.address,
            description: row.description,
            media_url: row.media_url,
            attributes,
            reporter: Reporter {
                name: row.reporter_name,
                phone: row.reporter_phone,
                email: row.reporter_email,
            },
            household_id: row.household_id,
            posted_by: row.posted_by,
            spot: Spot {
                grid_id: row.grid_id,
                area_id: row.area_id,
                community_id: row.community_id,
                street_id: row.street_id,
            },
            link: parse("link", &row.link)?,
            responsible_id: row.responsible_id,
            assignee_id: row.assignee_id,
            assignee_unit: row.assignee_unit,
            handled_by: row.handled_by,
            duplicate_of: row.duplicate_of,
            escalations: row.escalations,
            requested_at: row.requested_at,
            opened_at: row.opened_at,
            updated_at: row.updated_at,
            version: row.version,
            photos: row.photos,
        })
    }
}

/// The columns of `Dialect::REQUEST_EVENTS`.
#[derive(sqlx::FromRow)]
pub struct RequestEventRow {
    id: Id,
    request_id: Id,
    from_state: Option<String>,
    to_state: String,
    actor_id: Option<Id>,
    note: String,
    link: String,
    assignee_id: Option<Id>,
    assignee_unit: Option<String>,
    at: String,
}

impl TryFrom<RequestEventRow> for RequestEvent {
    type Error = StoreError;
    fn try_from(row: RequestEventRow) -> Result<RequestEvent> {
        Ok(RequestEvent {
            id: row.id,
            request_id: row.request_id,
            from: row
                .from_state
                .as_deref()
                .map(|s| parse("request state", s))
                .transpose()?,
            to: parse("request state", &row.to_state)?,
            actor_id: row.actor_id,
            note: row.note,
            link: parse("link", &row.link)?,
            assignee_id: row.assignee_id,
            assignee_unit: row.assignee_unit,
            at: row.at,
        })
    }
}

/// The columns of `Dialect::REQUEST_TIMINGS`.
#[derive(sqlx::FromRow)]
pub struct RequestTimingRow {
    id: Id,
    category: String,
    state: String,
    fixed: Option<bool>,
    grid_id: Id,
    area_id: Option<Id>,
    community_id: Id,
    street_id: Option<Id>,
    requested_at: i64,
    opened_at: i64,
    accepted_at: Option<i64>,
    handled_at: Option<i64>,
    closed_at: Option<i64>,
    reworks: i64,
}

impl TryFrom<RequestTimingRow> for RequestTiming {
    type Error = StoreError;
    fn try_from(row: RequestTimingRow) -> Result<RequestTiming> {
        Ok(RequestTiming {
            id: row.id,
            category: row.category,
            state: parse("request state", &row.state)?,
            fixed: row.fixed,
            spot: Spot {
                grid_id: row.grid_id,
                area_id: row.area_id,
                community_id: row.community_id,
                street_id: row.street_id,
            },
            requested_at: instant_ms(row.requested_at)?,
            opened_at: instant_ms(row.opened_at)?,
            accepted_at: row.accepted_at.map(instant_ms).transpose()?,
            handled_at: row.handled_at.map(instant_ms).transpose()?,
            closed_at: row.closed_at.map(instant_ms).transpose()?,
            reworks: row.reworks,
        })
    }
}

/// The columns of `Dialect::REQUEST_PHOTOS`.
#[derive(sqlx::FromRow)]
pub struct PhotoRow {
    id: Id,
    request_id: Id,
    kind: String,
    media_type: String,
    width: i32,
    height: i32,
    uploaded_by: Option<Id>,
    at: String,
}

impl TryFrom<PhotoRow> for Photo {
    type Error = StoreError;
    fn try_from(row: PhotoRow) -> Result<Photo> {
        let side = |n: i32| {
            u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("a photo {n} pixels wide")))
        };
        Ok(Photo {
            id: row.id,
            request_id: row.request_id,
            kind: parse("photo kind", &row.kind)?,
            media_type: row.media_type,
            width: side(row.width)?,
            height: side(row.height)?,
            uploaded_by: row.uploaded_by,
            at: row.at,
        })
    }
}

/// The columns of the category units' statements (`store::sql::units`).
#[derive(sqlx::FromRow)]
pub struct CategoryUnitRow {
    id: Id,
    category: String,
    community_id: Option<Id>,
    unit: String,
    phone: Option<String>,
}

impl From<CategoryUnitRow> for CategoryUnit {
    fn from(row: CategoryUnitRow) -> CategoryUnit {
        CategoryUnit {
            id: row.id,
            category: row.category,
            community_id: row.community_id,
            unit: row.unit,
            phone: row.phone,
        }
    }
}
