//! The one implementation of [`Store`] over SQL, shared by the backends: every read and every
//! write sequence is written here once, generic over the sqlx database. What differs between
//! the backends is only SQL text (geometry functions, time casts, row locks), which each
//! backend gives as the constants of its [`Dialect`], and two hooks.
//!
//! Every statement uses `$1`-style placeholders, which both PostgreSQL and SQLite read.
//!
//! Adding a resource: put its statements that differ in [`Dialect`] (and both backends), the
//! ones that do not in a `const` here, its row struct in [`super::rows`], and its sequence in a
//! method below or in a module of its own (`sql/claims.rs` shows how, with the same `where`
//! list as the blocks here: the types it binds and the rows it reads).

use super::rows::{
    self, AuditRow, BuildingRow, CadreWorkRow, ClaimRow, HeldAreaRow, HouseholdRow, LastVisitsRow,
    NeedRow, NewVersion, PlaceRow, StoredUserRow, UserRow, VersionRow, VisitRow,
};
use super::{Counts, Result, Seq, Store, StoreError, WriteSummary};
use crate::auth::{AuditRecord, NewAudit, NewUser, StoredUser, User};
use crate::model::edit::{
    CommittedEdit, EditAction, PlaceChange, PlaceEdit, PlaceFields, PlaceVersion,
};
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
use sqlx::{AssertSqlSafe, Encode, Executor, FromRow, IntoArguments, Pool, Type};
use std::collections::HashMap;

mod activities;
mod branches;
mod claims;
mod dialect;
mod households;
mod photos;
mod requests;
mod units;
mod visits;

pub use dialect::Dialect;

/// A store in a SQL database; see [`super::sqlite`] and [`super::postgres`].
#[derive(Debug)]
pub struct SqlStore<DB: Dialect> {
    pub(super) pool: Pool<DB>,
    pub(super) watch: DB::Watch,
}

impl<DB: Dialect> SqlStore<DB> {
    /// The connection pool, for benchmarks and tests that compare against queries of their own.
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

const COUNTS: &str = "SELECT (SELECT count(*) FROM places), (SELECT count(*) FROM buildings), \
     (SELECT count(*) FROM households)";
const PLACE_BY_CODE: &str = "SELECT id, kind FROM places WHERE code = $1";
const DELETE_PLACE: &str = "DELETE FROM places WHERE id = $1 AND version = $2";
pub(super) const BUILDING_BY_CODE: &str = "SELECT id FROM buildings WHERE code = $1";
const HOUSEHOLD_BY_CODE: &str = "SELECT id FROM households WHERE code = $1";
const USER_COLUMNS: &str =
    "u.id, u.name, u.role, u.display_name, u.phone, u.community_id, u.branch_id";
const INSERT_USER: &str = "INSERT INTO users \
     (name, role, password_hash, display_name, phone, community_id, branch_id) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
const CREATE_TOKEN: &str = "INSERT INTO tokens (hash, user_id, expires_at) VALUES ($1, $2, $3)";
const FORGET_DEAD_TOKENS: &str =
    "DELETE FROM tokens WHERE expires_at <= $1 OR revoked_at IS NOT NULL RETURNING user_id";
const REVOKE_TOKEN: &str = "UPDATE tokens SET revoked_at = $2 \
     WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2 RETURNING user_id";
/// Takes the next [`Seq`]. Run it as the last statement before the commit: on PostgreSQL the
/// row stays locked until then, which is what makes the numbers follow the commit order (see
/// migration 0006).
const NEXT_SEQ: &str = "UPDATE change_order SET seq = seq + 1 WHERE id = 1 RETURNING seq";
const READ_SEQ: &str = "SELECT seq FROM change_order WHERE id = 1";

/// The constraint that keeps codes of places unique.
const PLACES_CODE: &str = "places_code_key";
/// The constraint that refuses a new claim on an area someone holds.
pub(crate) const ONE_HOLDER: &str = "area_claims_one_holder";

#[async_trait]
impl<DB> Store for SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i32>: Encode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    (i64, String): for<'r> FromRow<'r, DB::Row>,
    (i64, i64): for<'r> FromRow<'r, DB::Row>,
    (i64, i64, i64): for<'r> FromRow<'r, DB::Row>,
    (String, String): for<'r> FromRow<'r, DB::Row>,
    PlaceRow: for<'r> FromRow<'r, DB::Row>,
    VersionRow: for<'r> FromRow<'r, DB::Row>,
    BuildingRow: for<'r> FromRow<'r, DB::Row>,
    HouseholdRow: for<'r> FromRow<'r, DB::Row>,
    UserRow: for<'r> FromRow<'r, DB::Row>,
    StoredUserRow: for<'r> FromRow<'r, DB::Row>,
    AuditRow: for<'r> FromRow<'r, DB::Row>,
    ClaimRow: for<'r> FromRow<'r, DB::Row>,
    HeldAreaRow: for<'r> FromRow<'r, DB::Row>,
    VisitRow: for<'r> FromRow<'r, DB::Row>,
    NeedRow: for<'r> FromRow<'r, DB::Row>,
    LastVisitsRow: for<'r> FromRow<'r, DB::Row>,
    CadreWorkRow: for<'r> FromRow<'r, DB::Row>,
    rows::RequestRow: for<'r> FromRow<'r, DB::Row>,
    rows::RequestEventRow: for<'r> FromRow<'r, DB::Row>,
    rows::RequestTimingRow: for<'r> FromRow<'r, DB::Row>,
    rows::PhotoRow: for<'r> FromRow<'r, DB::Row>,
    rows::CategoryUnitRow: for<'r> FromRow<'r, DB::Row>,
    rows::BranchRow: for<'r> FromRow<'r, DB::Row>,
    rows::MemberRow: for<'r> FromRow<'r, DB::Row>,
    rows::ActivityRow: for<'r> FromRow<'r, DB::Row>,
    rows::AttendanceRow: for<'r> FromRow<'r, DB::Row>,
    rows::ActivityPhotoRow: for<'r> FromRow<'r, DB::Row>,
    rows::AttendanceLineRow: for<'r> FromRow<'r, DB::Row>,
    rows::LessonRow: for<'r> FromRow<'r, DB::Row>,
    rows::SummaryCountsRow: for<'r> FromRow<'r, DB::Row>,
    (String, Option<i64>): for<'r> FromRow<'r, DB::Row>,
    (i64, i64, String, String, Vec<u8>): for<'r> FromRow<'r, DB::Row>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    (i64, String, Vec<u8>): for<'r> FromRow<'r, DB::Row>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
{
    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    async fn counts(&self) -> Result<Counts> {
        let (places, buildings, households): (i64, i64, i64) =
            sqlx::query_as(COUNTS).fetch_one(&self.pool).await?;
        Ok(Counts {
            places: places as usize,
            buildings: buildings as usize,
            households: households as usize,
        })
    }

    async fn places(&self, kind: Option<PlaceKind>) -> Result<Vec<Place>> {
        let rows: Vec<PlaceRow> = sqlx::query_as(DB::PLACES)
            .bind(kind.map(PlaceKind::as_str))
            .fetch_all(&self.pool)
            .await?;
        rows::all(rows)
    }

    async fn place(&self, id: Id) -> Result<Option<Place>> {
        let row: Option<PlaceRow> = sqlx::query_as(DB::PLACE)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(Place::try_from).transpose()
    }

    async fn upsert_places(&self, places: &[NewPlace]) -> Result<WriteSummary> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let at = crate::timestamp::now();
        let mut summary = WriteSummary::default();
        for (position, place) in places.iter().enumerate() {
            let parent = match &place.parent_code {
                Some(code) => Self::place_by_code(&mut tx, code).await?,
                None => None,
            };
            let parent_id = super::error::check_parent(position, place, parent)?;
            let fields = PlaceFields {
                kind: place.kind,
                code: place.code.clone(),
                name: place.name.clone(),
                parent_id,
                geometry: place.geometry.clone(),
            };
            let (id, version) = match Self::place_by_code(&mut tx, &place.code).await? {
                Some((_, kind)) if kind != place.kind => {
                    return Err(StoreError::Item {
                        position,
                        code: place.code.clone(),
                        problem: super::ItemProblem::CodeOfAnotherKind(kind),
                    });
                }
                Some((id, _)) => {
                    let version = Self::write_place(&mut tx, id, None, &fields, &at)
                        .await
                        .map_err(|e| super::error::item_error(position, &place.code, e))?
                        .ok_or(StoreError::NoSuchPlace(id))?;
                    Self::close_version(&mut tx, id, &at).await?;
                    summary.updated += 1;
                    (id, version)
                }
                None => {
                    let id = Self::insert_place(&mut tx, &fields, &at)
                        .await
                        .map_err(|e| super::error::item_error(position, &place.code, e))?;
                    summary.inserted += 1;
                    (id, 1)
                }
            };
            Self::insert_version(
                &mut tx,
                &NewVersion {
                    id,
                    version,
                    place: &fields,
                    at: &at,
                    valid_to: None,
                    action: EditAction::Import,
                    user_id: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn buildings(&self) -> Result<Vec<Building>> {
        let rows: Vec<BuildingRow> = sqlx::query_as(DB::BUILDINGS).fetch_all(&self.pool).await?;
        rows::all(rows)
    }

    async fn upsert_buildings(&self, buildings: &[NewBuilding]) -> Result<WriteSummary> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let mut summary = WriteSummary::default();
        for (position, b) in buildings.iter().enumerate() {
            let existed: Option<Id> = sqlx::query_scalar(BUILDING_BY_CODE)
                .bind(b.code.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(DB::UPSERT_BUILDING)
                .bind(b.code.as_str())
                .bind(b.name.as_str())
                .bind(b.address.as_str())
                .bind(b.floors)
                .bind(b.units)
                .bind(rows::to_wkb(b.footprint.clone()))
                .execute(&mut *tx)
                .await
                .map_err(|e| super::error::item_error(position, &b.code, e))?;
            summary.count(existed.is_none());
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn households(&self) -> Result<Vec<Household>> {
        self.households_where(None).await
    }

    async fn households_by_id(&self, ids: &[Id]) -> Result<Vec<Household>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).expect("ids serialise");
        self.households_where(Some(&ids)).await
    }

    async fn write_household(&self, write: &HouseholdWrite) -> Result<Household> {
        self.write_one_household(write).await
    }

    async fn households_matching(&self, text: &str) -> Result<Vec<Id>> {
        Ok(sqlx::query_scalar(DB::HOUSEHOLDS_MATCHING)
            .bind(text)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn record_visit(&self, visit: &NewVisit) -> Result<(Visit, bool)> {
        self.insert_visit(visit).await
    }

    async fn import_visits(&self, visits: &[NewVisit]) -> Result<usize> {
        self.insert_visits(visits).await
    }

    async fn visit(&self, id: Id) -> Result<Option<Visit>> {
        self.visit_by_id(id).await
    }

    async fn visits(&self, household_id: Id) -> Result<Vec<Visit>> {
        self.visits_of(household_id).await
    }

    async fn last_visits(&self) -> Result<Vec<LastVisits>> {
        let rows: Vec<LastVisitsRow> = sqlx::query_as(DB::LAST_VISITS)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(LastVisits::from).collect())
    }

    async fn need(&self, id: Id) -> Result<Option<Need>> {
        self.need_by_id(id).await
    }

    async fn needs(&self) -> Result<Vec<Need>> {
        self.all_needs().await
    }

    async fn meet_need(&self, id: Id, by: Id) -> Result<Need> {
        self.mark_met(id, by).await
    }

    async fn submit_request(&self, request: &NewRequest) -> Result<Request> {
        self.insert_request(request).await
    }

    async fn answerer(&self, spot: &Spot, from: Link) -> Result<(Link, Option<Id>)> {
        self.answerer_of(spot, from).await
    }

    async fn requests(&self, filter: &RequestFilter) -> Result<Vec<Request>> {
        self.requests_matching(filter).await
    }

    async fn update_request(&self, update: &RequestUpdate) -> Result<(Request, RequestEvent)> {
        self.write_request(update).await
    }

    async fn request_events(&self, request_id: Id) -> Result<Vec<RequestEvent>> {
        self.events_of(request_id).await
    }

    async fn request_timings(
        &self,
        since: &str,
        until: &str,
        grids: Option<&[Id]>,
    ) -> Result<Vec<RequestTiming>> {
        self.timings_between(since, until, grids).await
    }

    async fn unit_for(&self, category: &str, community: Id) -> Result<Option<CategoryUnit>> {
        self.unit_answering(category, community).await
    }

    async fn category_units(&self) -> Result<Vec<CategoryUnit>> {
        self.units().await
    }

    async fn set_category_unit(
        &self,
        contact: &UnitContact,
        by: Option<Id>,
    ) -> Result<(CategoryUnit, bool)> {
        self.put_unit(contact, by).await
    }

    async fn remove_category_unit(&self, id: Id, by: Option<Id>) -> Result<CategoryUnit> {
        self.drop_unit(id, by).await
    }

    async fn add_request_photo(&self, photo: &NewPhoto, max: usize) -> Result<Photo> {
        self.insert_photo(photo, max).await
    }

    async fn request_photos(&self, request_id: Id) -> Result<Vec<Photo>> {
        self.photos_of(request_id).await
    }

    async fn request_photo(&self, id: Id, copy: PhotoCopy) -> Result<Option<PhotoBytes>> {
        self.photo_copy(id, copy).await
    }

    async fn cadre_work(&self, since: &str) -> Result<Vec<CadreWork>> {
        let rows: Vec<CadreWorkRow> = sqlx::query_as(DB::CADRE_WORK)
            .bind(super::instant(since)?)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(CadreWork::from).collect())
    }

    async fn upsert_households(&self, households: &[NewHousehold]) -> Result<WriteSummary> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let mut summary = WriteSummary::default();
        let mut building_ids: HashMap<&str, Id> = HashMap::new();
        for (position, h) in households.iter().enumerate() {
            let d = &h.details;
            let building_id = match d.building_code.as_deref() {
                None => None,
                Some(code) => match building_ids.get(code) {
                    Some(id) => Some(*id),
                    None => {
                        let id: Id = sqlx::query_scalar(BUILDING_BY_CODE)
                            .bind(code)
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or_else(|| StoreError::Item {
                                position,
                                code: h.code.clone(),
                                problem: super::ItemProblem::UnknownBuilding(code.to_string()),
                            })?;
                        building_ids.insert(code, id);
                        Some(id)
                    }
                },
            };
            let existed: Option<Id> = sqlx::query_scalar(HOUSEHOLD_BY_CODE)
                .bind(h.code.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            sqlx::query(DB::UPSERT_HOUSEHOLD)
                .bind(h.code.as_str())
                .bind(building_id)
                .bind(d.unit)
                .bind(d.floor)
                .bind(d.room.as_deref())
                .bind(d.address.as_str())
                .bind(d.head_name.as_str())
                .bind(d.phone.as_deref())
                .bind(d.people)
                .bind(serde_json::to_string(&d.tags).expect("strings serialise"))
                .bind(h.location.x())
                .bind(h.location.y())
                .execute(&mut *tx)
                .await
                .map_err(|e| super::error::item_error(position, &h.code, e))?;
            summary.count(existed.is_none());
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn apply_assignments(
        &self,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) -> Result<()> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        DB::write_assignments(&mut tx, households, buildings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_edit(&self, edit: &PlaceEdit) -> Result<CommittedEdit> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        // Read the clock once the transaction holds its locks, so that versions of one place
        // never go back in time whoever commits next.
        let at = crate::timestamp::now();
        let mut done = CommittedEdit {
            at: at.clone(),
            ..CommittedEdit::default()
        };
        for change in &edit.changes {
            let version = |id, version, place| NewVersion {
                id,
                version,
                place,
                at: &at,
                valid_to: None,
                action: edit.action,
                user_id: edit.user_id,
            };
            match change {
                PlaceChange::Insert { temp_id, place } => {
                    let place = &done.resolve(place);
                    let id = Self::insert_place(&mut tx, place, &at)
                        .await
                        .map_err(|e| code_taken(&place.code, e))?;
                    Self::insert_version(&mut tx, &version(id, 1, place)).await?;
                    let after = place.clone().into_place(id, 1);
                    Self::insert_audit(
                        &mut tx,
                        &place_audit(edit, id, None, Some(&after)),
                        Some(&at),
                    )
                    .await?;
                    done.ids.push((*temp_id, id));
                    done.places.push(after);
                }
                PlaceChange::Update {
                    id,
                    expected_version,
                    place,
                } => {
                    let place = &done.resolve(place);
                    let before = Self::locked_place(&mut tx, *id, *expected_version).await?;
                    Self::write_place(&mut tx, *id, Some(*expected_version), place, &at)
                        .await
                        .map_err(|e| code_taken(&place.code, e))?
                        .ok_or(StoreError::NoSuchPlace(*id))?;
                    let new_version = expected_version + 1;
                    Self::close_version(&mut tx, *id, &at).await?;
                    Self::insert_version(&mut tx, &version(*id, new_version, place)).await?;
                    let after = place.clone().into_place(*id, new_version);
                    let audit = place_audit(edit, *id, Some(&before), Some(&after));
                    Self::insert_audit(&mut tx, &audit, Some(&at)).await?;
                    done.places.push(after);
                }
                PlaceChange::Delete {
                    id,
                    expected_version,
                } => {
                    let before = Self::locked_place(&mut tx, *id, *expected_version).await?;
                    sqlx::query(DELETE_PLACE)
                        .bind(*id)
                        .bind(*expected_version)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| has_children(*id, e))?;
                    Self::close_version(&mut tx, *id, &at).await?;
                    let fields = PlaceFields::of(&before);
                    let last = NewVersion {
                        valid_to: Some(&at),
                        action: EditAction::Delete,
                        ..version(*id, expected_version + 1, &fields)
                    };
                    Self::insert_version(&mut tx, &last).await?;
                    let audit = place_audit(edit, *id, Some(&before), None);
                    Self::insert_audit(&mut tx, &audit, Some(&at)).await?;
                    done.deleted.push(*id);
                }
            }
        }
        let households: Vec<HouseholdAssignment> = edit
            .households
            .iter()
            .map(|a| HouseholdAssignment {
                household_id: a.household_id,
                grid_id: a.grid_id.map(|g| done.real_id(g)),
                area_ids: a.area_ids.iter().map(|g| done.real_id(*g)).collect(),
            })
            .collect();
        let buildings: Vec<BuildingAssignment> = edit
            .buildings
            .iter()
            .map(|a| BuildingAssignment {
                building_id: a.building_id,
                grid_id: a.grid_id.map(|g| done.real_id(g)),
            })
            .collect();
        DB::write_assignments(&mut tx, &households, &buildings).await?;
        // Deleting an area ends its claim (a trigger): the edit takes its place in the order
        // of changes of holders.
        done.seq = Self::next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn places_updated_at(&self) -> Result<Vec<(Id, String)>> {
        Ok(sqlx::query_as(DB::PLACES_UPDATED_AT)
            .fetch_all(&self.pool)
            .await?)
    }

    async fn place_history(&self, id: Id) -> Result<Vec<PlaceVersion>> {
        let rows: Vec<VersionRow> = sqlx::query_as(DB::PLACE_HISTORY)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows::all(rows)
    }

    async fn places_at(&self, at: &str) -> Result<Vec<Place>> {
        let rows: Vec<PlaceRow> = sqlx::query_as(DB::PLACES_AT)
            .bind(super::instant(at)?)
            .fetch_all(&self.pool)
            .await?;
        rows::all(rows)
    }

    async fn insert_user(&self, user: &NewUser) -> Result<User> {
        let id: Id = sqlx::query_scalar(INSERT_USER)
            .bind(user.name.as_str())
            .bind(user.role.as_str())
            .bind(user.password_hash.as_str())
            .bind(user.display_name.as_deref())
            .bind(user.phone.as_deref())
            .bind(user.community_id)
            .bind(user.branch_id)
            .fetch_one(&self.pool)
            .await
            .map_err(|e| {
                if StoreError::violates(&e, "users_name_key") {
                    StoreError::NameTaken(user.name.clone())
                } else {
                    e.into()
                }
            })?;
        Ok(User {
            id,
            name: user.name.clone(),
            role: user.role,
            display_name: user.display_name.clone(),
            phone: user.phone.clone(),
            community_id: user.community_id,
            branch_id: user.branch_id,
        })
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<StoredUser>> {
        let sql = format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = $1");
        let row: Option<StoredUserRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| {
            Ok(StoredUser {
                user: User::try_from(row.user)?,
                password_hash: row.password_hash,
            })
        })
        .transpose()
    }

    async fn create_token(&self, token_hash: &str, user_id: Id, expires_at: i64) -> Result<()> {
        sqlx::query(CREATE_TOKEN)
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn token_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2"
        );
        let row: Option<UserRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(User::try_from).transpose()
    }

    async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool> {
        let revoked: Option<Id> = sqlx::query_scalar(REVOKE_TOKEN)
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(revoked.is_some())
    }

    async fn forget_dead_tokens(&self, now: i64) -> Result<u64> {
        let forgotten: Vec<Id> = sqlx::query_scalar(FORGET_DEAD_TOKENS)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        Ok(forgotten.len() as u64)
    }

    async fn append_audit(&self, record: &NewAudit) -> Result<Id> {
        let mut conn = self.pool.acquire().await?;
        Self::insert_audit(&mut conn, record, None).await
    }

    async fn audit(&self, entity: &str, entity_id: Option<Id>) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(DB::AUDIT)
            .bind(entity)
            .bind(entity_id)
            .fetch_all(&self.pool)
            .await?;
        rows::all(rows)
    }

    async fn claim_area(&self, area_id: Id, user_id: Id) -> Result<(Claim, Seq)> {
        self.claim(area_id, user_id).await
    }

    async fn release_area(&self, area_id: Id, holder_id: Id, by: Id) -> Result<(Claim, Seq)> {
        self.release(area_id, holder_id, by).await
    }

    async fn reassign_area(&self, area_id: Id, user_id: Id, by: Id) -> Result<(Claim, Seq)> {
        self.reassign(area_id, user_id, by).await
    }

    async fn area_claims(&self, area_id: Id) -> Result<Vec<Claim>> {
        self.claims_of(area_id).await
    }

    async fn current_claims(&self) -> Result<Vec<Claim>> {
        let mut conn = self.pool.acquire().await?;
        Self::current_claims(&mut conn).await
    }

    async fn current_claims_ordered(&self) -> Result<(Seq, Vec<Claim>)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_SNAPSHOT).await?;
        let seq: Seq = sqlx::query_scalar(READ_SEQ).fetch_one(&mut *tx).await?;
        let claims = Self::current_claims(&mut tx).await?;
        tx.commit().await?;
        Ok((seq, claims))
    }

    async fn holders_at(&self, at: &str) -> Result<Vec<Claim>> {
        let rows: Vec<ClaimRow> = sqlx::query_as(DB::HOLDERS_AT)
            .bind(super::instant(at)?)
            .fetch_all(&self.pool)
            .await?;
        rows::all(rows)
    }

    async fn held_areas(&self, user_id: Id) -> Result<Vec<HeldArea>> {
        let rows: Vec<HeldAreaRow> = sqlx::query_as(DB::HELD_AREAS)
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(HeldArea::from).collect())
    }

    async fn watch_changes(&self) -> Result<Option<crate::store::ChangeFeed>> {
        DB::watch_changes(&self.pool, &self.watch).await
    }
}

impl WriteSummary {
    fn count(&mut self, inserted: bool) {
        if inserted {
            self.inserted += 1;
        } else {
            self.updated += 1;
        }
    }
}

/// The error of an insert or update of a place whose code another place has.
fn code_taken(code: &str, e: sqlx::Error) -> StoreError {
    if StoreError::violates(&e, PLACES_CODE) {
        StoreError::CodeTaken(code.to_string())
    } else {
        e.into()
    }
}

/// The error of a delete refused by a restricting foreign key: other places name it as parent.
fn has_children(id: Id, e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Refused { clash: true, .. } => StoreError::HasChildren { id, child: None },
        other => other,
    }
}

/// The audit record of one changed place: `entity` is the place's kind.
fn place_audit(
    edit: &PlaceEdit,
    id: Id,
    before: Option<&Place>,
    after: Option<&Place>,
) -> NewAudit {
    let kind = after.or(before).map_or(PlaceKind::Area, |p| p.kind);
    NewAudit {
        user_id: edit.user_id,
        action: edit.action.as_str().into(),
        entity: kind.as_str().into(),
        entity_id: Some(id),
        before: before.map(Place::to_feature),
        after: after.map(Place::to_feature),
    }
}

/// The audit record, which every kind of write appends: it needs only what it binds.
impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
{
    /// Appends an audit record at `at` (now if `None`) and returns its id.
    pub(super) async fn insert_audit(
        conn: &mut DB::Connection,
        record: &NewAudit,
        at: Option<&str>,
    ) -> Result<Id> {
        Ok(sqlx::query_scalar(DB::INSERT_AUDIT)
            .bind(at)
            .bind(record.user_id)
            .bind(record.action.as_str())
            .bind(record.entity.as_str())
            .bind(record.entity_id)
            .bind(record.before.as_ref().map(|v| v.to_string()))
            .bind(record.after.as_ref().map(|v| v.to_string()))
            .fetch_one(conn)
            .await?)
    }
}

/// The statements the sequences above share.
impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (i64, String): for<'r> FromRow<'r, DB::Row>,
    PlaceRow: for<'r> FromRow<'r, DB::Row>,
    ClaimRow: for<'r> FromRow<'r, DB::Row>,
{
    /// The id and kind of the place with this code.
    async fn place_by_code(
        conn: &mut DB::Connection,
        code: &str,
    ) -> Result<Option<(Id, PlaceKind)>> {
        let row: Option<(Id, String)> = sqlx::query_as(PLACE_BY_CODE)
            .bind(code)
            .fetch_optional(conn)
            .await?;
        row.map(|(id, kind)| {
            let kind = kind
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("stored place kind {kind:?}")))?;
            Ok((id, kind))
        })
        .transpose()
    }

    /// The stored place `id`, locked until the transaction ends, if it is at `expected`.
    async fn locked_place(conn: &mut DB::Connection, id: Id, expected: i64) -> Result<Place> {
        let row: Option<PlaceRow> = sqlx::query_as(DB::PLACE_FOR_UPDATE)
            .bind(id)
            .fetch_optional(conn)
            .await?;
        match row.map(Place::try_from).transpose()? {
            Some(p) if p.version == expected => Ok(p),
            other => Err(StoreError::version_mismatch(
                id,
                expected,
                other.map(|p| p.version),
            )),
        }
    }

    async fn insert_place(
        conn: &mut DB::Connection,
        place: &PlaceFields,
        at: &str,
    ) -> std::result::Result<Id, sqlx::Error> {
        sqlx::query_scalar(DB::INSERT_PLACE)
            .bind(place.kind.as_str())
            .bind(place.code.as_str())
            .bind(place.name.as_str())
            .bind(place.parent_id)
            .bind(rows::to_wkb(place.geometry.clone()))
            .bind(at)
            .fetch_one(conn)
            .await
    }

    /// Writes a place's fields with the next version (if it is at `expected`, when given);
    /// `None` if no row was at that version.
    async fn write_place(
        conn: &mut DB::Connection,
        id: Id,
        expected: Option<i64>,
        place: &PlaceFields,
        at: &str,
    ) -> std::result::Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar(DB::UPDATE_PLACE)
            .bind(place.kind.as_str())
            .bind(place.code.as_str())
            .bind(place.name.as_str())
            .bind(place.parent_id)
            .bind(rows::to_wkb(place.geometry.clone()))
            .bind(at)
            .bind(id)
            .bind(expected)
            .fetch_optional(conn)
            .await
    }

    async fn close_version(conn: &mut DB::Connection, id: Id, at: &str) -> Result<()> {
        sqlx::query(DB::CLOSE_VERSION)
            .bind(at)
            .bind(id)
            .execute(conn)
            .await?;
        Ok(())
    }

    async fn insert_version(conn: &mut DB::Connection, v: &NewVersion<'_>) -> Result<()> {
        sqlx::query(DB::INSERT_VERSION)
            .bind(v.id)
            .bind(v.version)
            .bind(v.place.kind.as_str())
            .bind(v.place.code.as_str())
            .bind(v.place.name.as_str())
            .bind(v.place.parent_id)
            .bind(rows::to_wkb(v.place.geometry.clone()))
            .bind(v.at)
            .bind(v.valid_to)
            .bind(v.action.as_str())
            .bind(v.user_id)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The next number in the order of changes of holders (see [`NEXT_SEQ`]).
    pub(super) async fn next_seq(conn: &mut DB::Connection) -> Result<Seq> {
        Ok(sqlx::query_scalar(NEXT_SEQ).fetch_one(conn).await?)
    }

    /// The current claim of every held area, by area id.
    async fn current_claims(conn: &mut DB::Connection) -> Result<Vec<Claim>> {
        let sql = format!(
            "{} WHERE c.released_at IS NULL ORDER BY c.area_id",
            DB::CLAIMS
        );
        let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?;
        rows::all(rows)
    }
}
