//! The SQL each backend speaks in its own dialect: the one trait `sqlite.rs` and `postgres.rs`
//! implement, so that everything else in [`super`] is written once.

use crate::model::{BuildingAssignment, HouseholdAssignment};
use crate::store::Result;
use async_trait::async_trait;
use sqlx::{Database, Pool};

/// What a backend says in its own SQL. Every statement takes its parameters in the order its
/// comment gives and returns the columns the row struct it is read into names.
#[async_trait]
pub trait Dialect: Database {
    /// `"sqlite"` or `"postgres"`.
    const BACKEND: &'static str;
    /// Begins a write transaction (SQLite takes its one write lock at once: a transaction that
    /// reads first and writes later would fail with SQLITE_BUSY when another writer got in).
    const BEGIN_WRITE: &'static str;
    /// Begins a read of one snapshot (PostgreSQL's READ COMMITTED takes one per statement).
    const BEGIN_SNAPSHOT: &'static str;

    /// [`PlaceRow`]s: `$1` a kind or NULL for all, by id.
    const PLACES: &'static str;
    /// A [`PlaceRow`] by id `$1`.
    const PLACE: &'static str;
    /// A [`PlaceRow`] by id `$1`, locked until the transaction ends.
    const PLACE_FOR_UPDATE: &'static str;
    /// New place (kind, code, name, parent_id, WKB, at) at version 1, returning `id`. A new id
    /// is never one a deleted place had: its history keeps the id.
    const INSERT_PLACE: &'static str;
    /// Place `$7` takes (kind, code, name, parent_id, WKB, at) and the next version if its
    /// version is `$8` (or `$8` is NULL), returning `version`.
    const UPDATE_PLACE: &'static str;
    /// [`PlaceRow`]s as they were at instant `$1`.
    const PLACES_AT: &'static str;
    /// `(place_id, valid_from)` of every current version.
    const PLACES_UPDATED_AT: &'static str;
    /// [`VersionRow`]s of place `$1`, oldest first.
    const PLACE_HISTORY: &'static str;
    /// Ends the current version of place `$2` at `$1`.
    const CLOSE_VERSION: &'static str;
    /// A version row (place_id, version, kind, code, name, parent_id, WKB, valid_from,
    /// valid_to, action, user_id).
    const INSERT_VERSION: &'static str;

    /// [`BuildingRow`]s by id.
    const BUILDINGS: &'static str;
    /// Inserts or updates by code (code, name, address, floors, units, WKB).
    const UPSERT_BUILDING: &'static str;
    /// [`HouseholdRow`]s by id: all if `$1` is NULL, else those whose id is in the JSON array
    /// `$1`.
    const HOUSEHOLDS: &'static str;
    /// `(household_id, area_id)` by household and area: all if `$1` is NULL, else those of the
    /// households in the JSON array `$1`.
    const HOUSEHOLD_AREAS: &'static str;
    /// The `id`s of the households whose head's name, address or code contains `$1`, by id.
    const HOUSEHOLDS_MATCHING: &'static str;
    /// Inserts or updates by code (code, building_id, unit, floor, room, address, head_name,
    /// phone, people, tags as a JSON array, lon, lat).
    const UPSERT_HOUSEHOLD: &'static str;
    /// A new household (the columns of [`Self::UPSERT_HOUSEHOLD`]), returning `id`.
    const INSERT_HOUSEHOLD: &'static str;
    /// Household `$13` takes the columns of [`Self::UPSERT_HOUSEHOLD`] and its next version if
    /// its version is `$14`, returning `version`.
    const UPDATE_HOUSEHOLD: &'static str;

    /// An audit record (at or NULL for now, user_id, action, entity, entity_id, before, after
    /// as JSON text), returning `id`.
    const INSERT_AUDIT: &'static str;
    /// [`AuditRow`]s of entity `$1` (and of its row `$2` unless NULL), oldest first.
    const AUDIT: &'static str;

    /// Selects [`ClaimRow`]s (`c` the claim, `u` its holder); append `WHERE …`.
    const CLAIMS: &'static str;
    /// The kind of place `$1`, its row kept from deletion until the transaction ends.
    const PLACE_KIND_FOR_SHARE: &'static str;
    /// The open [`ClaimRow`] of area `$1`, locked until the transaction ends.
    const OPEN_CLAIM_FOR_UPDATE: &'static str;
    /// A new claim (area_id, user_id, claimed_at or NULL for now), returning `id`.
    const INSERT_CLAIM: &'static str;
    /// Ends claim `$3` now (never before it began), how `$1`, by user `$2`, returning
    /// `released_at`.
    const END_CLAIM: &'static str;
    /// [`ClaimRow`]s current at instant `$1`, by area.
    const HOLDERS_AT: &'static str;
    /// [`HeldAreaRow`]s of user `$1`, oldest claim first.
    const HELD_AREAS: &'static str;

    /// A new visit (household_id, user_id, idempotency_key, digest, visited_at, lon, lat,
    /// accuracy_m, distance_m, on_site, notes), returning `id`.
    const INSERT_VISIT: &'static str;
    /// Selects [`crate::store::rows::VisitRow`]s (`v` the visit); append `WHERE …`.
    const VISITS: &'static str;
    /// Selects [`crate::store::rows::NeedRow`]s (`n` the need); append `WHERE …`.
    const NEEDS: &'static str;
    /// Marks need `$1` met now by user `$2`, unless it is met already.
    const MEET_NEED: &'static str;
    /// [`crate::store::rows::LastVisitsRow`]s of every household with a visit (table
    /// `household_last_visits`, which the visit sequences keep).
    const LAST_VISITS: &'static str;
    /// [`crate::store::rows::CadreWorkRow`]s of every cadre since instant `$1`, by user id.
    const CADRE_WORK: &'static str;

    /// A new request (category, state, lon, lat, address, description, media_url, attributes,
    /// reporter_name, reporter_phone, reporter_email, household_id, posted_by, grid_id,
    /// area_id, community_id, street_id, link, responsible_id, requested_at; which is also its
    /// opened_at and updated_at), returning `id`.
    const INSERT_REQUEST: &'static str;
    /// Selects [`crate::store::rows::RequestRow`]s (`r` the request) that match a filter: ids as a JSON
    /// array `$1`, category `$2`, open `$3`, posted from `$4` and before `$5`, community `$6`,
    /// involving user `$7` (responsible or assignee), inside the box `$8`–`$11` (west, south,
    /// east, north); each NULL for "any"; newest first, at most `$12`.
    const REQUESTS: &'static str;
    /// Request `$1` at version `$13` takes (state, fixed, link, responsible_id, assignee_id,
    /// assignee_unit, handled_by, duplicate_of, escalations, category, updated_at) as `$2`–`$12`,
    /// opened_at `$14` and its next version, returning `version`.
    const UPDATE_REQUEST: &'static str;
    /// A step of a request (request_id, from_state, to_state, actor_id, note, link, assignee_id,
    /// assignee_unit, at), returning `id`.
    const INSERT_REQUEST_EVENT: &'static str;
    /// [`crate::store::rows::RequestEventRow`]s of request `$1`, oldest first.
    const REQUEST_EVENTS: &'static str;
    /// Request `$1`'s id, locking its row until the transaction ends where the backend locks
    /// rows (PostgreSQL; SQLite's write transaction holds the whole database).
    const REQUEST_FOR_UPDATE: &'static str;
    /// A photo (request_id, kind, media_type, width, height, original, public, thumbnail,
    /// uploaded_by, at), returning `id`.
    const INSERT_REQUEST_PHOTO: &'static str;
    /// [`crate::store::rows::PhotoRow`]s of request `$1`, oldest first.
    const REQUEST_PHOTOS: &'static str;
    /// [`crate::store::rows::RequestTimingRow`]s of the requests reported at or after `$1` and
    /// before `$2` in the grids of the JSON array `$3` (NULL: anywhere), in no order: each
    /// request's first acceptance, first handling, last closing and failed checks, as the
    /// requests carry them (migration 0019 keeps them from their steps); instants as
    /// milliseconds since the Unix epoch.
    const REQUEST_TIMINGS: &'static str;

    /// [`crate::store::rows::MemberRow`]s of branch `$1`, by id; `joined_on` as `YYYY-MM-DD`.
    const MEMBERS: &'static str;
    /// [`crate::store::rows::MemberRow`]s on the rolls (not transferred) of the branches in the
    /// JSON array `$1`, by id.
    const ROLLS: &'static str;
    /// A new member (branch_id, name, phone, joined_on, status, city), returning `id`.
    const INSERT_MEMBER: &'static str;
    /// Member `$1` takes (branch_id, name, joined_on, status, city) as `$2`–`$6`.
    const UPDATE_MEMBER: &'static str;
    /// A new activity (branch_id, type, theme, held_at, lon, lat, recorded_by, recorded_at),
    /// returning `id`.
    const INSERT_ACTIVITY: &'static str;
    /// [`crate::store::rows::ActivityRow`]s: ids as a JSON array `$1`, branch ids as a JSON
    /// array `$2`, after the activity held at `$3` with id `$5` in the order, each NULL for
    /// "any"; newest first (held time, then id), at most `$4`.
    const ACTIVITIES: &'static str;
    /// [`crate::store::rows::AttendanceRow`]s of the activities in the JSON array `$1`.
    const ATTENDANCE_OF: &'static str;
    /// [`crate::store::rows::ActivityPhotoRow`]s of the activities in the JSON array `$1`, by id.
    const ACTIVITY_PHOTOS_OF: &'static str;
    /// Activity `$1`'s id, locking its row until the transaction ends (PostgreSQL).
    const ACTIVITY_FOR_UPDATE: &'static str;
    /// A photo of an activity (activity_id, kind, media_type, width, height, original, public,
    /// thumbnail, taken_at, taken_lon, taken_lat, flags as a JSON array, uploaded_by, at),
    /// returning `id`.
    const INSERT_ACTIVITY_PHOTO: &'static str;
    /// [`crate::store::rows::AttendanceLineRow`]s of the complete activities held at or after
    /// `$1` and before `$2`, oldest first.
    const ATTENDANCE_LINES: &'static str;
    /// One [`crate::store::rows::SummaryCountsRow`]: grids as a JSON array `$1`, branches as a
    /// JSON array `$2`, visited since `$3`, activities since `$4`.
    const SUMMARY_COUNTS: &'static str;
    /// A new lesson (title, body, link, sent_by, sent_at), returning `id`.
    const INSERT_LESSON: &'static str;
    /// [`crate::store::rows::LessonRow`]s, lesson `$1` or all if NULL, newest first.
    const LESSONS: &'static str;
    /// Marks the recipient with token hash `$1` as having read at `$2` unless they had,
    /// returning `lesson_id`.
    const OPEN_LESSON: &'static str;

    /// Where the spatial index put households and buildings: the statements differ in shape,
    /// not only in text (PostgreSQL sends whole arrays, one round trip each).
    async fn write_assignments(
        conn: &mut Self::Connection,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) -> Result<()>;

    /// What the backend needs, beside its pool, to hear of other writers.
    type Watch: Send + Sync + std::fmt::Debug;

    /// See [`crate::store::Store::watch_changes`].
    async fn watch_changes(
        pool: &Pool<Self>,
        watch: &Self::Watch,
    ) -> Result<Option<crate::store::ChangeFeed>>;
}
