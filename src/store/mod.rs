//! Persistence: one [`Store`] contract, two backends chosen by URL.
//!
//! - `sqlite://PATH` ([`sqlite::SqliteStore`]): the default, an embedded file created on first start.
//! - `postgres://…` ([`postgres::PostgresStore`]): PostGIS, the durable truth for production, with
//!   `geometry(…, 4326)` columns, GiST indexes and an `ST_IsValid` check.
//!
//! Both run their migrations (`migrations/sqlite`, `migrations/postgres`) when opened. Geometry
//! travels between Rust and the database as WKB. The stores keep data; they do no spatial
//! reasoning beyond what their constraints enforce: that is [`crate::spatial`]'s job.

pub mod postgres;
pub mod sqlite;

use crate::auth::{AuditRecord, NewAudit, NewUser, Role, StoredUser, User};
use crate::model::edit::{CommittedEdit, EditAction, PlaceEdit, PlaceFields, PlaceVersion};
use crate::model::{
    Building, BuildingAssignment, Claim, ClaimEnd, HeldArea, Holder, Household,
    HouseholdAssignment, Id, NewBuilding, NewHousehold, NewPlace, Place, PlaceKind,
};
use async_trait::async_trait;
use geo::{Geometry, MultiPolygon, Point};
use geozero::{CoordDimensions, ToGeo, ToWkb, wkb::Wkb};
use std::sync::Arc;

/// What can go wrong in a store, sorted by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write clashes with what is stored (a duplicate code, a row still referenced).
    #[error("{0}")]
    Conflict(String),
    /// The data breaks a rule of the model (unknown parent, wrong parent kind, invalid geometry).
    #[error("{0}")]
    Invalid(String),
    /// An edit expected a version of a place that is no longer the stored one; nothing was
    /// written.
    #[error("{0}")]
    VersionMismatch(String),
    /// The database URL names no supported backend.
    #[error(
        "unsupported database URL {0:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    /// Constraint violations become [`StoreError::Conflict`] or [`StoreError::Invalid`] so that the
    /// HTTP layer can answer 409 or 422 instead of 500.
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let message = db.message().to_string();
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => return StoreError::Conflict(message),
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    return StoreError::Conflict(format!("still referenced: {message}"));
                }
                sqlx::error::ErrorKind::CheckViolation
                | sqlx::error::ErrorKind::NotNullViolation => return StoreError::Invalid(message),
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A place in the database's order of the changes of area holders (migration 0006
/// `change_order`): a later commit has a larger number, on either backend and across every
/// instance that writes to one database. Memory applies a change of an area's holder only if its
/// number is larger than the one it last applied for that area, so that a handler that finishes
/// late never undoes a change committed after its own.
pub type Seq = i64;

/// Takes the next [`Seq`] in a write transaction; the same SQL on both backends. Run it as the
/// last statement before the commit: on PostgreSQL the row stays locked until then, which is
/// what makes the numbers follow the commit order (see the migration).
pub(crate) const NEXT_SEQ: &str =
    "UPDATE change_order SET seq = seq + 1 WHERE id = 1 RETURNING seq";

/// How many rows a bulk write inserted and how many it updated (matched by code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    pub inserted: usize,
    pub updated: usize,
}

/// Row counts per layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub places: usize,
    pub buildings: usize,
    pub households: usize,
}

/// The storage contract. Every method is one transaction: a bulk write stores all of its rows or,
/// on the first error, none.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    async fn counts(&self) -> Result<Counts>;

    /// All places of one kind (or of every kind), ordered by id.
    async fn places(&self, kind: Option<PlaceKind>) -> Result<Vec<Place>>;

    async fn place(&self, id: Id) -> Result<Option<Place>>;

    /// Inserts new places and updates those whose code exists (name, parent, geometry; the
    /// version grows by one). Parents are named by code and must exist, in the store or earlier
    /// in `places`, and be of the kind [`PlaceKind::parent_kind`] asks for. Errors name the
    /// position in `places` of the offending item.
    async fn upsert_places(&self, places: &[NewPlace]) -> Result<WriteSummary>;

    /// All buildings, ordered by id.
    async fn buildings(&self) -> Result<Vec<Building>>;

    /// Inserts or updates (by code) buildings.
    async fn upsert_buildings(&self, buildings: &[NewBuilding]) -> Result<WriteSummary>;

    /// All households with their assignments, ordered by id.
    async fn households(&self) -> Result<Vec<Household>>;

    /// Inserts or updates (by code) households. A `building_code` must name a stored building.
    async fn upsert_households(&self, households: &[NewHousehold]) -> Result<WriteSummary>;

    /// Records where the spatial index put households and buildings, in one transaction.
    async fn apply_assignments(
        &self,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) -> Result<()>;

    /// Stores one edit in one transaction: its places (each update and delete only if the stored
    /// version is still the expected one, else [`StoreError::VersionMismatch`] and nothing is
    /// written), a version row and an audit record (before and after as GeoJSON) per changed
    /// place, and the household and building assignments the edit causes. The edit takes a
    /// [`Seq`] ([`CommittedEdit::seq`]): deleting an area ends its claim.
    async fn commit_edit(&self, edit: &PlaceEdit) -> Result<CommittedEdit>;

    /// When each current place got its current version (RFC 3339 UTC with milliseconds).
    async fn places_updated_at(&self) -> Result<Vec<(Id, String)>>;

    /// Every version of a place, oldest first; empty if the place never existed.
    async fn place_history(&self, id: Id) -> Result<Vec<PlaceVersion>>;

    /// The places as they were at `at` (RFC 3339 UTC with milliseconds, see
    /// [`crate::timestamp`]), ordered by id.
    async fn places_at(&self, at: &str) -> Result<Vec<Place>>;

    /// Creates an account; a taken name is [`StoreError::Conflict`].
    async fn insert_user(&self, user: &NewUser) -> Result<User>;

    /// Creates an account without contact details; a taken name is [`StoreError::Conflict`].
    async fn create_user(&self, name: &str, role: Role, password_hash: &str) -> Result<User> {
        self.insert_user(&NewUser {
            name: name.to_string(),
            role,
            password_hash: password_hash.to_string(),
            display_name: None,
            phone: None,
        })
        .await
    }

    /// The account with this name, with its password hash.
    async fn user_by_name(&self, name: &str) -> Result<Option<StoredUser>>;

    /// Stores a bearer token by its hash, valid until `expires_at` (Unix seconds).
    async fn create_token(&self, token_hash: &str, user_id: Id, expires_at: i64) -> Result<()>;

    /// The owner of a token that exists, is not revoked and has not expired at `now`.
    async fn token_user(&self, token_hash: &str, now: i64) -> Result<Option<User>>;

    /// Revokes a token at `now`; false if there was no such live token.
    async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool>;

    /// Deletes the tokens that can no longer be used at `now` (expired or revoked) and returns
    /// how many. Logins and logouts stay in the trace; the tokens table only answers "who is this".
    async fn forget_dead_tokens(&self, now: i64) -> Result<u64>;

    /// Appends one record to the trace and returns its id.
    async fn append_audit(&self, record: &NewAudit) -> Result<Id>;

    /// The trace of one entity (of one of its rows if `entity_id` is given), oldest first.
    async fn audit(&self, entity: &str, entity_id: Option<Id>) -> Result<Vec<AuditRecord>>;

    /// `user_id` claims the area `area_id`, with its audit record (action `claim`, entity
    /// `area`), in one transaction. An unknown id, or the id of a place that is not an area, is
    /// [`StoreError::NotFound`]; an area someone holds already (the caller included) is
    /// [`StoreError::Conflict`]. The database's partial unique index decides between concurrent
    /// claims, also across several wangge instances on one PostGIS. With the claim comes the
    /// [`Seq`] of its commit, as with every change of a holder below.
    async fn claim_area(&self, area_id: Id, user_id: Id) -> Result<(Claim, Seq)>;

    /// Ends the current claim of an area if `holder_id` holds it (action `release`, done by
    /// `by`). An area nobody holds, or that someone else holds by now, is
    /// [`StoreError::Conflict`]; an unknown area [`StoreError::NotFound`].
    async fn release_area(&self, area_id: Id, holder_id: Id, by: Id) -> Result<(Claim, Seq)>;

    /// Gives an area to `user_id` (action `reassign`, done by `by`): the current claim, if any,
    /// ends with [`ClaimEnd::Reassign`] at the instant the new one starts. The new holder must
    /// be a cadre ([`StoreError::Invalid`] otherwise); giving the area to its holder is
    /// [`StoreError::Conflict`].
    async fn reassign_area(&self, area_id: Id, user_id: Id, by: Id) -> Result<(Claim, Seq)>;

    /// Every claim of an area, oldest first, also of an area deleted since (a database trigger
    /// ends the open claim of a deleted area with [`ClaimEnd::Delete`], `ended_by_user` null);
    /// [`StoreError::NotFound`] if there are none and the id names no area.
    async fn area_claims(&self, area_id: Id) -> Result<Vec<Claim>>;

    /// The current claim of every held area, by area id.
    async fn current_claims(&self) -> Result<Vec<Claim>>;

    /// [`Store::current_claims`] read in one snapshot together with the [`Seq`] of the last
    /// change of a holder that snapshot includes: every change numbered up to it is in the
    /// answer, none after it.
    async fn current_claims_ordered(&self) -> Result<(Seq, Vec<Claim>)>;

    /// The claims that were current at an instant, by area id: claimed at or before it and not
    /// released by then (claims are half-open intervals). What `lookup?at=DATE` asks. `at` is
    /// in the stored form, RFC 3339 UTC with exactly three decimals (`2026-11-28T15:59:59.999Z`);
    /// any other text is [`StoreError::Invalid`].
    async fn holders_at(&self, at: &str) -> Result<Vec<Claim>>;

    /// The areas `user_id` holds now, oldest claim first, with their household counts.
    async fn held_areas(&self, user_id: Id) -> Result<Vec<HeldArea>>;

    /// Starts watching for writes that other processes commit to this store (another instance
    /// over the same database, `wangge import`). Each message on the receiver means "something
    /// changed since the last message: read it again"; messages that arrive while one is pending
    /// fold into it. `None` for a backend only one process writes at a time (SQLite).
    async fn watch_changes(&self) -> Result<Option<tokio::sync::mpsc::Receiver<()>>> {
        Ok(None)
    }
}

/// How long to wait before the next try after `failures` failed ones to reach the database
/// again: 100 ms, doubling up to 5 s, so that a short outage is over quickly and a long one is
/// not hammered.
pub fn retry_delay(failures: u32) -> std::time::Duration {
    let millis = 100u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    std::time::Duration::from_millis(millis.min(5_000))
}

/// Opens the store a URL names, creating and migrating it as needed.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_string()))
    }
}

/// The columns [`claim_from_row`] reads, in order, given the SQL of the three timestamps.
pub(crate) fn claim_columns(claimed_at: &str, released_at: &str) -> String {
    format!(
        "c.id, c.area_id, u.id AS holder_id, u.name, u.display_name, u.phone, \
         {claimed_at} AS claimed_at, {released_at} AS released_at, c.ended_by, c.ended_by_user"
    )
}

/// A claim row as both backends select it (see [`claim_columns`]).
pub(crate) type ClaimRow = (
    Id,
    Id,
    Id,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    Option<Id>,
);

pub(crate) fn claim_from_row(row: ClaimRow) -> Result<Claim> {
    let (id, area_id, holder_id, name, display_name, phone, claimed_at, released_at, ended, by) =
        row;
    Ok(Claim {
        id,
        area_id,
        holder: Holder {
            id: holder_id,
            name,
            display_name,
            phone,
        },
        claimed_at,
        released_at,
        ended_by: ended
            .map(|e| e.parse::<ClaimEnd>())
            .transpose()
            .map_err(|e| StoreError::Invalid(format!("stored claim end: {e}")))?,
        ended_by_user: by,
    })
}

/// Checks that `at` is an instant in the stored form (`2026-11-28T15:59:59.999Z`), the only
/// text that compares like the instants on SQLite.
pub(crate) fn instant(at: &str) -> Result<&str> {
    const SHAPE: &[u8] = b"dddd-dd-ddTdd:dd:dd.dddZ";
    let fits = at.len() == SHAPE.len()
        && SHAPE.iter().zip(at.bytes()).all(|(&want, got)| {
            if want == b'd' {
                got.is_ascii_digit()
            } else {
                want == got
            }
        });
    if fits {
        Ok(at)
    } else {
        Err(StoreError::Invalid(format!(
            "instant {at:?} is not RFC 3339 UTC with milliseconds, like 2026-11-28T15:59:59.999Z"
        )))
    }
}

/// The error for an id that names no responsibility area.
pub(crate) fn not_an_area(area_id: Id, kind: Option<String>) -> StoreError {
    match kind {
        None => StoreError::NotFound(format!("there is no area with id {area_id}")),
        Some(kind) => StoreError::NotFound(format!(
            "place {area_id} is a {kind}, not a responsibility area; only areas can be claimed"
        )),
    }
}

/// The audit record of a change of an area's holder.
pub(crate) fn holder_audit(
    action: &str,
    by: Id,
    area_id: Id,
    before: Option<&Holder>,
    after: Option<&Holder>,
) -> NewAudit {
    NewAudit {
        user_id: Some(by),
        action: action.into(),
        entity: "area".into(),
        entity_id: Some(area_id),
        before: Some(serde_json::json!({ "holder": before.map(audited_holder) })),
        after: Some(serde_json::json!({ "holder": after.map(audited_holder) })),
    }
}

/// A holder as the admins' trace keeps it: with the login name, which answers never show.
fn audited_holder(holder: &Holder) -> serde_json::Value {
    serde_json::json!({
        "id": holder.id,
        "name": holder.name,
        "display_name": holder.display_name,
        "phone": holder.phone,
    })
}

/// A user as both backends select it: id, name, role, display_name, phone.
pub(crate) type UserRow = (Id, String, String, Option<String>, Option<String>);

pub(crate) fn user_from_row(row: UserRow) -> Result<User> {
    let (id, name, role, display_name, phone) = row;
    Ok(User {
        id,
        name,
        role: parse_role(&role)?,
        display_name,
        phone,
    })
}

/// Whether a database error is a unique violation: for claims, the partial unique index that
/// allows one open claim per area.
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db)
        if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// How a holder is named in messages: `张伟 (user 7)`, or `user 7` without a display name. Never
/// the login name: these messages reach any signed-in cadre, and login names are half of a
/// password guess.
pub(crate) fn holder_label(holder: &Holder) -> String {
    match &holder.display_name {
        Some(shown) => format!("{shown} (user {})", holder.id),
        None => format!("user {}", holder.id),
    }
}

/// The conflict of a claim on an area someone holds (`current`, if it is still known).
pub(crate) fn already_claimed(area_id: Id, current: Option<&Claim>) -> StoreError {
    StoreError::Conflict(match current {
        Some(c) => format!(
            "area {area_id} is already claimed by {} since {}",
            holder_label(&c.holder),
            c.claimed_at
        ),
        None => format!("area {area_id} is already claimed"),
    })
}

/// The conflict of a release of an area that `holder_id` does not hold (any more).
pub(crate) fn not_held(area_id: Id, holder_id: Id, current: Option<&Claim>) -> StoreError {
    StoreError::Conflict(match current {
        None => format!("area {area_id} is not claimed by anyone"),
        Some(c) => format!(
            "area {area_id} is held by {}, not by user {holder_id}",
            holder_label(&c.holder)
        ),
    })
}

/// Checks the user an area is reassigned to: `name_and_role` as stored, if the user exists.
pub(crate) fn reassign_target(user_id: Id, name_and_role: Option<(String, String)>) -> Result<()> {
    match name_and_role {
        None => Err(StoreError::NotFound(format!(
            "there is no user with id {user_id}"
        ))),
        Some((_, role)) if role == Role::Cadre.as_str() => Ok(()),
        Some((name, role)) => Err(StoreError::Invalid(format!(
            "{name} is a {role}; only a cadre can hold an area"
        ))),
    }
}

/// Reads a stored role name.
pub(crate) fn parse_role(role: &str) -> Result<Role> {
    role.parse().map_err(StoreError::Invalid)
}

/// Reads a stored JSON text of the trace.
pub(crate) fn parse_json(text: Option<String>) -> Result<Option<serde_json::Value>> {
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| StoreError::Invalid(format!("stored audit JSON is invalid: {e}")))
    })
    .transpose()
}

/// An audit row as both backends select it: id, at, user_id, action, entity, entity_id, before
/// and after (JSON as text).
pub(crate) type AuditRow = (
    Id,
    String,
    Option<Id>,
    String,
    String,
    Option<Id>,
    Option<String>,
    Option<String>,
);

pub(crate) fn audit_from_row(row: AuditRow) -> Result<AuditRecord> {
    let (id, at, user_id, action, entity, entity_id, before, after) = row;
    Ok(AuditRecord {
        id,
        at,
        user_id,
        action,
        entity,
        entity_id,
        before: parse_json(before)?,
        after: parse_json(after)?,
    })
}

/// A place as the trace records it before and after an edit: a GeoJSON Feature in WGS84.
pub(crate) fn place_json(place: &Place) -> serde_json::Value {
    let geometry = geojson::Geometry::new(geojson::GeometryValue::from(&Geometry::MultiPolygon(
        place.geometry.clone(),
    )));
    serde_json::json!({
        "type": "Feature",
        "id": place.id,
        "geometry": geometry,
        "properties": {
            "kind": place.kind,
            "code": place.code,
            "name": place.name,
            "parent_id": place.parent_id,
            "version": place.version,
        },
    })
}

/// The audit record of one changed place: `entity` is the place's kind.
pub(crate) fn place_audit(
    edit: &PlaceEdit,
    kind: PlaceKind,
    id: Id,
    before: Option<&Place>,
    after: Option<&Place>,
) -> NewAudit {
    NewAudit {
        user_id: edit.user_id,
        action: edit.action.as_str().into(),
        entity: kind.as_str().into(),
        entity_id: Some(id),
        before: before.map(place_json),
        after: after.map(place_json),
    }
}

/// The error for an update or delete whose expected version is not the stored one.
pub fn version_mismatch(id: Id, expected: i64, stored: Option<i64>) -> StoreError {
    match stored {
        None => StoreError::NotFound(format!("no place with id {id}")),
        Some(stored) => StoreError::VersionMismatch(format!(
            "place {id} is at version {stored}, not {expected}: reload it and edit again"
        )),
    }
}

/// The stored fields of an imported place whose parent was resolved to `parent_id`.
pub(crate) fn import_fields(place: &NewPlace, parent_id: Option<Id>) -> PlaceFields {
    PlaceFields {
        kind: place.kind,
        code: place.code.clone(),
        name: place.name.clone(),
        parent_id,
        geometry: place.geometry.clone(),
    }
}

/// A unique violation on writing a place means its code is taken.
pub(crate) fn code_taken(code: &str, e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict(format!(
            "the code {code:?} is already used by another place"
        )),
        other => other,
    }
}

/// A foreign key violation on deleting a place means other places still name it as parent.
/// (SQLite reports a restricting foreign key as a constraint of its own kind, hence the message
/// test.)
pub(crate) fn has_children(id: Id, e: sqlx::Error) -> StoreError {
    let restricted = matches!(&e, sqlx::Error::Database(db)
        if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation
            || db.message().contains("FOREIGN KEY"));
    if restricted {
        StoreError::Conflict(format!(
            "place {id} still has child places: delete or move them first"
        ))
    } else {
        StoreError::from(e)
    }
}

/// A version row as both backends select it: place_id, version, kind, code, name, parent_id,
/// geometry (WKB), valid_from, valid_to, action, user_id, user name, user display name.
pub(crate) type VersionRow = (
    Id,
    i64,
    String,
    String,
    String,
    Option<Id>,
    Vec<u8>,
    String,
    Option<String>,
    String,
    Option<Id>,
    Option<String>,
    Option<String>,
);

pub(crate) fn version_from_row(row: VersionRow) -> Result<PlaceVersion> {
    let (
        id,
        version,
        kind,
        code,
        name,
        parent_id,
        geom,
        valid_from,
        valid_to,
        action,
        uid,
        uname,
        display_name,
    ) = row;
    let fields = PlaceFields {
        kind: kind
            .parse()
            .map_err(|e: crate::model::UnknownName| StoreError::Invalid(e.to_string()))?,
        code,
        name,
        parent_id,
        geometry: multipolygon_from_wkb(&geom)?,
    };
    Ok(PlaceVersion {
        place: fields.into_place(id, version),
        action: action.parse::<EditAction>().map_err(StoreError::Invalid)?,
        valid_from,
        valid_to,
        user: uid
            .zip(uname)
            .map(|(id, name)| crate::model::edit::UserRef {
                id,
                name,
                display_name,
            }),
    })
}

/// Encodes a geometry as OGC WKB (2D).
pub(crate) fn to_wkb(geometry: impl Into<Geometry<f64>>) -> Vec<u8> {
    geometry
        .into()
        .to_wkb(CoordDimensions::xy())
        .expect("writing WKB into memory cannot fail")
}

fn decode(bytes: &[u8]) -> Result<Geometry<f64>> {
    Wkb(bytes)
        .to_geo()
        .map_err(|e| StoreError::Invalid(format!("stored geometry is not valid WKB: {e}")))
}

/// Decodes stored WKB into a multipolygon (a polygon is promoted).
pub(crate) fn multipolygon_from_wkb(bytes: &[u8]) -> Result<MultiPolygon<f64>> {
    match decode(bytes)? {
        Geometry::MultiPolygon(m) => Ok(m),
        Geometry::Polygon(p) => Ok(MultiPolygon(vec![p])),
        other => Err(StoreError::Invalid(format!(
            "stored geometry is a {other:?}, not a polygon"
        ))),
    }
}

/// Decodes stored WKB into a point.
pub(crate) fn point_from_wkb(bytes: &[u8]) -> Result<Point<f64>> {
    match decode(bytes)? {
        Geometry::Point(p) => Ok(p),
        _ => Err(StoreError::Invalid("stored geometry is not a point".into())),
    }
}

/// The error for a parent code that is missing or of the wrong kind, naming the item.
pub(crate) fn check_parent(
    position: usize,
    place: &NewPlace,
    parent: Option<(Id, PlaceKind)>,
) -> Result<Option<Id>> {
    let item = format!("item {position} ({})", place.code);
    match (place.kind.parent_kind(), &place.parent_code, parent) {
        (None, None, _) => Ok(None),
        (None, Some(code), _) => Err(StoreError::Invalid(format!(
            "{item}: a {} has no parent, but parent_code {code:?} was given",
            place.kind
        ))),
        (Some(want), None, _) => Err(StoreError::Invalid(format!(
            "{item}: a {} needs a parent_code naming its {want}",
            place.kind
        ))),
        (Some(_), Some(code), None) => Err(StoreError::Invalid(format!(
            "{item}: parent_code {code:?} names no stored place"
        ))),
        (Some(want), Some(_), Some((id, kind))) if kind == want => Ok(Some(id)),
        (Some(want), Some(code), Some((_, kind))) => Err(StoreError::Invalid(format!(
            "{item}: parent_code {code:?} is a {kind}, but a {}'s parent must be a {want}",
            place.kind
        ))),
    }
}

/// A database error on one item of a bulk write, with the item named.
pub(crate) fn item_error(position: usize, code: &str, e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Invalid(m) => StoreError::Invalid(format!("item {position} ({code}): {m}")),
        StoreError::Conflict(m) => StoreError::Conflict(format!("item {position} ({code}): {m}")),
        other => other,
    }
}
