//! Persistence: one [`Store`] contract, two backends chosen by URL.
//!
//! - `sqlite://PATH` ([`sqlite::SqliteStore`]): the default, an embedded file created on first start.
//! - `postgres://…` ([`postgres::PostgresStore`]): PostGIS, the durable truth for production, with
//!   `geometry(…, 4326)` columns, GiST indexes and an `ST_IsValid` check.
//!
//! Both run their migrations (`migrations/sqlite`, `migrations/postgres`) when opened. Geometry
//! travels between Rust and the database as WKB. The stores keep data; they do no spatial
//! reasoning beyond what their constraints enforce: that is [`crate::spatial`]'s job.

mod branches;
mod changes;
mod error;
pub mod postgres;
mod rows;
pub mod sql;
pub mod sqlite;

pub use branches::BranchStore;
pub use changes::{ChangeFeed, ChangeSender, Changed, change_feed};
pub use error::{ItemProblem, StoreError};

use crate::auth::{AuditRecord, NewAudit, NewUser, Role, StoredUser, User};
use crate::model::edit::{CommittedEdit, PlaceEdit, PlaceVersion};
use crate::model::photos::{NewPhoto, Photo, PhotoBytes, PhotoCopy};
use crate::model::requests::{
    Link, NewRequest, Request, RequestEvent, RequestFilter, RequestTiming, RequestUpdate, Spot,
};
use crate::model::units::{CategoryUnit, UnitContact};
use crate::model::visits::{CadreWork, LastVisits, Need, NewVisit, Visit};
use crate::model::{
    Building, BuildingAssignment, Claim, HeldArea, Household, HouseholdAssignment, HouseholdWrite,
    Id, NewBuilding, NewHousehold, NewPlace, Place, PlaceKind,
};
use async_trait::async_trait;
use std::sync::Arc;

/// The result of a store operation; the error is a [`StoreError`] unless said otherwise.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A place in the database's order of the changes of area holders (migration 0006
/// `change_order`): a later commit has a larger number, on either backend and across every
/// instance that writes to one database. Memory applies a change of an area's holder only if its
/// number is larger than the one it last applied for that area, so that a handler that finishes
/// late never undoes a change committed after its own.
pub type Seq = i64;

/// How many rows a bulk write inserted and how many it updated (matched by code).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteSummary {
    /// Rows inserted (a code not stored before).
    pub inserted: usize,
    /// Rows updated (a code already stored).
    pub updated: usize,
}

/// Row counts per layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Places of every kind.
    pub places: usize,
    /// Buildings.
    pub buildings: usize,
    /// Households.
    pub households: usize,
}

/// The storage contract. Every method is one transaction: a bulk write stores all of its rows or,
/// on the first error, none.
#[async_trait]
pub trait Store: BranchStore + Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// How many places, buildings and households are stored.
    async fn counts(&self) -> Result<Counts>;

    /// All places of one kind (or of every kind), ordered by id.
    async fn places(&self, kind: Option<PlaceKind>) -> Result<Vec<Place>>;

    /// The place with this id, or `None` if there is none.
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

    /// The households of `ids` that exist, with their assignments, ordered by id.
    async fn households_by_id(&self, ids: &[Id]) -> Result<Vec<Household>>;

    /// Writes one household, a new one (`write.id` is `None`) or household `write.id` if its
    /// version is still `write.expected_version` (else [`StoreError::HouseholdVersionMismatch`]
    /// and nothing is written), with its grid and areas and an audit record (entity
    /// `household`, before and after), in one transaction. A code another household has is
    /// [`StoreError::HouseholdCodeTaken`]; an unknown building an [`ItemProblem::UnknownBuilding`].
    async fn write_household(&self, write: &HouseholdWrite) -> Result<Household>;

    /// The ids of the households whose head's name, address or code contains `text`, ordered
    /// by id.
    async fn households_matching(&self, text: &str) -> Result<Vec<Id>>;

    /// Stores a visit and the needs it found, in one transaction, and returns it with `true`.
    /// A visit that `corrects` another marks it corrected in the same transaction: an unknown
    /// visit is [`StoreError::NoSuchVisit`], one of another household
    /// [`StoreError::CorrectsAnotherHousehold`], one corrected already
    /// [`StoreError::AlreadyCorrected`]; nothing is stored then.
    /// A visit whose user and key are stored already (constraint `visits_key`) stores nothing:
    /// with the same digest it returns the stored visit with `false` (a resend), with another
    /// digest it is [`StoreError::KeyReused`]. An unknown household is
    /// [`StoreError::NoSuchHousehold`].
    async fn record_visit(&self, visit: &NewVisit) -> Result<(Visit, bool)>;

    /// Stores visits and their needs in one transaction (an import, such as the demo diary):
    /// all or, on the first error, none. Returns how many were stored.
    async fn import_visits(&self, visits: &[NewVisit]) -> Result<usize>;

    /// The visit with this id, or `None`.
    async fn visit(&self, id: Id) -> Result<Option<Visit>>;

    /// Every visit of a household with its needs, newest first.
    async fn visits(&self, household_id: Id) -> Result<Vec<Visit>>;

    /// The latest visit, and the latest on-site visit, of every household that had a visit.
    async fn last_visits(&self) -> Result<Vec<LastVisits>>;

    /// The need with this id, or `None`.
    async fn need(&self, id: Id) -> Result<Option<Need>>;

    /// Every need, open or met, by id.
    async fn needs(&self) -> Result<Vec<Need>>;

    /// Marks a need met by `by` now and returns it; a need met already keeps who met it and
    /// when. An unknown id is [`StoreError::NoSuchNeed`].
    async fn meet_need(&self, id: Id, by: Id) -> Result<Need>;

    /// Each cadre's on-site visits and needs met since `since` (stored instant form; other text
    /// is [`StoreError::BadInstant`]), by user id.
    async fn cadre_work(&self, since: &str) -> Result<Vec<CadreWork>>;

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

    /// Creates an account; a taken name is [`StoreError::NameTaken`].
    async fn insert_user(&self, user: &NewUser) -> Result<User>;

    /// Creates an account without contact details; a taken name is [`StoreError::NameTaken`].
    async fn create_user(&self, name: &str, role: Role, password_hash: &str) -> Result<User> {
        self.insert_user(&NewUser {
            name: name.to_string(),
            role,
            password_hash: password_hash.to_string(),
            display_name: None,
            phone: None,
            community_id: None,
            branch_id: None,
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
    /// [`StoreError::NoSuchArea`] or [`StoreError::NotAnArea`]; an area someone holds already
    /// (the caller included) is [`StoreError::AlreadyClaimed`]. The database's partial unique index decides between concurrent
    /// claims, also across several wangge instances on one PostGIS. With the claim comes the
    /// [`Seq`] of its commit, as with every change of a holder below.
    async fn claim_area(&self, area_id: Id, user_id: Id) -> Result<(Claim, Seq)>;

    /// Ends the current claim of an area if `holder_id` holds it (action `release`, done by
    /// `by`). An area nobody holds, or that someone else holds by now, is
    /// [`StoreError::NotHeld`]; an unknown area [`StoreError::NoSuchArea`].
    async fn release_area(&self, area_id: Id, holder_id: Id, by: Id) -> Result<(Claim, Seq)>;

    /// Gives an area to `user_id` (action `reassign`, done by `by`): the current claim, if any,
    /// ends with [`ClaimEnd::Reassign`] at the instant the new one starts. The new holder must
    /// be a cadre ([`StoreError::NotACadre`] otherwise); giving the area to its holder is
    /// [`StoreError::AlreadyClaimed`].
    async fn reassign_area(&self, area_id: Id, user_id: Id, by: Id) -> Result<(Claim, Seq)>;

    /// Every claim of an area, oldest first, also of an area deleted since (a database trigger
    /// ends the open claim of a deleted area with [`ClaimEnd::Delete`], `ended_by_user` null);
    /// [`StoreError::NoSuchArea`] if there are none and the id names no area.
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
    /// any other text is [`StoreError::BadInstant`].
    async fn holders_at(&self, at: &str) -> Result<Vec<Claim>>;

    /// The areas `user_id` holds now, oldest claim first, with their household counts.
    async fn held_areas(&self, user_id: Id) -> Result<Vec<HeldArea>>;

    /// Stores a resident's request with whoever answers for its spot now, found in the same
    /// transaction: the holder of its area, else the secretary of its community, else the
    /// community ([`Link`]); with its first event. When a unit answers for its category there
    /// ([`Store::unit_for`]), it starts dispatched to that unit, with a second event saying so.
    /// Returns it as stored.
    async fn submit_request(&self, request: &NewRequest) -> Result<Request>;

    /// The first link of the responsible chain at or after `from` that answers for `spot`, with
    /// its person if it has one: what an escalation or a new category passes a request to.
    async fn answerer(&self, spot: &Spot, from: Link) -> Result<(Link, Option<Id>)>;

    /// The unit that answers for `category` in `community`: the community's own, else the one
    /// for everywhere, else `None` (the responsible chain does the work).
    async fn unit_for(&self, category: &str, community: Id) -> Result<Option<CategoryUnit>>;

    /// Every category unit, by category, the one for everywhere before communities' own.
    async fn category_units(&self) -> Result<Vec<CategoryUnit>>;

    /// Sets the unit of a category in a community (or everywhere), replacing the one there was,
    /// with an audit record (entity `category_unit`) in the same transaction. Returns it and
    /// whether it replaced another.
    async fn set_category_unit(
        &self,
        contact: &UnitContact,
        by: Option<Id>,
    ) -> Result<(CategoryUnit, bool)>;

    /// Removes a category unit, with an audit record; returns it as it was.
    async fn remove_category_unit(&self, id: Id, by: Option<Id>) -> Result<CategoryUnit>;

    /// The requests `filter` asks for, newest first.
    async fn requests(&self, filter: &RequestFilter) -> Result<Vec<Request>>;

    /// The request with this id, or `None`.
    async fn request(&self, id: Id) -> Result<Option<Request>> {
        let filter = RequestFilter {
            ids: Some(vec![id]),
            limit: 1,
            ..RequestFilter::default()
        };
        Ok(self.requests(&filter).await?.pop())
    }

    /// Takes a step: writes the request's new columns and appends the step's event, in one
    /// transaction, if the request is still at `update.expected_version`; else
    /// [`StoreError::RequestChanged`] (or [`StoreError::NoSuchRequest`]) and nothing changes.
    async fn update_request(&self, update: &RequestUpdate) -> Result<(Request, RequestEvent)>;

    /// Every step of a request, oldest first (the report itself first).
    async fn request_events(&self, request_id: Id) -> Result<Vec<RequestEvent>>;

    /// The milestones of every request reported at or after `since` and before `until`
    /// (stored instants) in `grids` (`None`: anywhere), oldest first: what response times and
    /// rates are computed from.
    async fn request_timings(
        &self,
        since: &str,
        until: &str,
        grids: Option<&[Id]>,
    ) -> Result<Vec<RequestTiming>>;

    /// Keeps a photo of a request, unless the request has `max` of its kind already
    /// ([`StoreError::TooManyPhotos`]; counted under the request's lock, so that two uploads
    /// racing cannot both pass) or does not exist ([`StoreError::NoSuchRequest`]).
    async fn add_request_photo(&self, photo: &NewPhoto, max: usize) -> Result<Photo>;

    /// The photos of a request, oldest first, without their bytes.
    async fn request_photos(&self, request_id: Id) -> Result<Vec<Photo>>;

    /// One copy of a photo, if there is such a photo.
    async fn request_photo(&self, id: Id, copy: PhotoCopy) -> Result<Option<PhotoBytes>>;

    /// Starts watching for writes that other processes commit to this store (another instance
    /// over the same database, `wangge import`). Each [`ChangeFeed::next`] says what changed
    /// since the last: everything to read again, or only the visits of some households; changes
    /// that arrive while some are pending fold into them. `None` for a backend only one process
    /// writes at a time (SQLite).
    async fn watch_changes(&self) -> Result<Option<ChangeFeed>> {
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
        Err(StoreError::BadInstant(at.to_string()))
    }
}
