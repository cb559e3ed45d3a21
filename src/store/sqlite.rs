//! The embedded backend: one SQLite file, created and migrated on first start.
//!
//! SQLite has no geometry type here: polygons are WKB blobs with their bounding box in plain
//! columns, and household locations are two REAL columns. Validity is checked in Rust before
//! anything is written, which is the same check PostGIS repeats with `ST_IsValid`.

use super::{
    AuditRow, ClaimRow, Counts, NEXT_SEQ, Result, Seq, Store, StoreError, UserRow, VersionRow,
    WriteSummary, already_claimed, audit_from_row, check_parent, claim_columns, claim_from_row,
    code_taken, has_children, holder_audit, import_fields, instant, is_unique_violation,
    item_error, multipolygon_from_wkb, not_an_area, not_held, place_audit, reassign_target, to_wkb,
    user_from_row, version_from_row, version_mismatch,
};
use crate::auth::{AuditRecord, NewAudit, NewUser, StoredUser, User};
use crate::model::edit::{
    CommittedEdit, EditAction, PlaceChange, PlaceEdit, PlaceFields, PlaceVersion,
};
use crate::model::{
    Building, BuildingAssignment, Claim, HeldArea, Household, HouseholdAssignment,
    HouseholdDetails, Id, NewBuilding, NewHousehold, NewPlace, Place, PlaceKind,
};
use async_trait::async_trait;
use geo::{BoundingRect, MultiPolygon, Point};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, Transaction};
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating the file and its folder if needed) and migrates `sqlite://PATH`.
    /// `sqlite::memory:` gives a private in-memory store.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Writers queue instead of failing at once when another connection holds the lock.
            .busy_timeout(Duration::from_secs(10));
        if let Some(folder) = Path::new(options.get_filename()).parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(|e| {
                StoreError::Invalid(format!("cannot create folder {}: {e}", folder.display()))
            })?;
        }
        let in_memory = options.get_filename() == Path::new(":memory:");
        let pool = SqlitePoolOptions::new()
            // An in-memory database lives in one connection.
            .max_connections(if in_memory { 1 } else { 4 })
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    /// A write transaction that takes the write lock at once (`BEGIN IMMEDIATE`). A deferred
    /// transaction that reads first and writes later fails with SQLITE_BUSY when another writer
    /// got in between; an immediate one waits on the busy timeout instead.
    async fn write(&self) -> Result<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The error for a claim that lost to an existing one, naming the holder if it can.
    async fn already_claimed(&self, area_id: Id) -> StoreError {
        let current = match self.pool.acquire().await {
            Ok(mut conn) => current_claim(&mut conn, area_id).await.ok().flatten(),
            Err(_) => None,
        };
        already_claimed(area_id, current.as_ref())
    }
}

/// The columns of a user as [`user_from_row`] reads them.
const USER_COLUMNS: &str = "u.id, u.name, u.role, u.display_name, u.phone";

/// Selects claims with their holders; append `WHERE …`.
fn claims_select() -> String {
    format!(
        "SELECT {} FROM area_claims c JOIN users u ON u.id = c.user_id",
        claim_columns("c.claimed_at", "c.released_at")
    )
}

/// The kind of a place, or the error for an id that names no area.
async fn check_area(conn: &mut SqliteConnection, area_id: Id) -> Result<()> {
    let kind: Option<String> = sqlx::query_scalar("SELECT kind FROM places WHERE id = ?")
        .bind(area_id)
        .fetch_optional(conn)
        .await?;
    match kind {
        Some(kind) if kind == PlaceKind::Area.as_str() => Ok(()),
        other => Err(not_an_area(area_id, other)),
    }
}

async fn current_claim(conn: &mut SqliteConnection, area_id: Id) -> Result<Option<Claim>> {
    let row: Option<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{} WHERE c.area_id = ? AND c.released_at IS NULL",
        claims_select()
    )))
    .bind(area_id)
    .fetch_optional(conn)
    .await?;
    row.map(claim_from_row).transpose()
}

/// The current claim of every held area, by area id.
async fn current_claims_in(conn: &mut SqliteConnection) -> Result<Vec<Claim>> {
    let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{} WHERE c.released_at IS NULL ORDER BY c.area_id",
        claims_select()
    )))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(claim_from_row).collect()
}

/// The next number in the order of changes of holders (migration 0006); one writer at a time
/// holds SQLite's write lock, so the numbers follow the commits.
async fn next_seq(tx: &mut Transaction<'_, Sqlite>) -> Result<Seq> {
    Ok(sqlx::query_scalar(NEXT_SEQ).fetch_one(&mut **tx).await?)
}

async fn claim_by_id(conn: &mut SqliteConnection, id: Id) -> Result<Claim> {
    let row: ClaimRow =
        sqlx::query_as(AssertSqlSafe(format!("{} WHERE c.id = ?", claims_select())))
            .bind(id)
            .fetch_one(conn)
            .await?;
    claim_from_row(row)
}

async fn insert_audit(conn: &mut SqliteConnection, record: &NewAudit) -> Result<Id> {
    Ok(sqlx::query_scalar(
        "INSERT INTO audit (user_id, action, entity, entity_id, before, after) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(record.user_id)
    .bind(&record.action)
    .bind(&record.entity)
    .bind(record.entity_id)
    .bind(record.before.as_ref().map(|v| v.to_string()))
    .bind(record.after.as_ref().map(|v| v.to_string()))
    .fetch_one(conn)
    .await?)
}

fn bbox(position: usize, code: &str, geometry: &MultiPolygon<f64>) -> Result<geo::Rect<f64>> {
    geometry
        .bounding_rect()
        .ok_or_else(|| StoreError::Invalid(format!("item {position} ({code}): empty geometry")))
}

fn place_from_row(row: &SqliteRow) -> Result<Place> {
    let kind: String = row.try_get("kind")?;
    Ok(Place {
        id: row.try_get("id")?,
        kind: PlaceKind::from_str(&kind).map_err(|e| StoreError::Invalid(e.to_string()))?,
        code: row.try_get("code")?,
        name: row.try_get("name")?,
        parent_id: row.try_get("parent_id")?,
        geometry: multipolygon_from_wkb(row.try_get("geom")?)?,
        version: row.try_get("version")?,
    })
}

async fn existing_id(
    tx: &mut Transaction<'_, Sqlite>,
    table: &'static str,
    code: &str,
) -> Result<Option<Id>> {
    Ok(
        // `table` is one of our own table names, never user input.
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT id FROM {table} WHERE code = ?"
        )))
        .bind(code)
        .fetch_optional(&mut **tx)
        .await?,
    )
}

/// The id of a new place: never one a deleted place had, since its history keeps the id.
/// (SQLite would otherwise reuse the largest id once its row is deleted.)
const NEXT_PLACE_ID: &str = "(SELECT max(m) + 1 FROM (SELECT coalesce(max(id), 0) AS m FROM places \
     UNION ALL SELECT coalesce(max(place_id), 0) FROM place_versions))";

async fn place_in(tx: &mut Transaction<'_, Sqlite>, id: Id) -> Result<Option<Place>> {
    let row = sqlx::query(
        "SELECT id, kind, code, name, parent_id, geom, version FROM places WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(place_from_row).transpose()
}

/// Ends the current version of a place at `at`.
async fn close_version(tx: &mut Transaction<'_, Sqlite>, id: Id, at: &str) -> Result<()> {
    sqlx::query("UPDATE place_versions SET valid_to = ? WHERE place_id = ? AND valid_to IS NULL")
        .bind(at)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Appends a version row; `valid_to` is `None` for the new current version.
#[allow(clippy::too_many_arguments)]
async fn insert_version(
    tx: &mut Transaction<'_, Sqlite>,
    id: Id,
    version: i64,
    place: &PlaceFields,
    at: &str,
    valid_to: Option<&str>,
    action: EditAction,
    user_id: Option<Id>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO place_versions (place_id, version, kind, code, name, parent_id, geom, \
         valid_from, valid_to, action, user_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(version)
    .bind(place.kind.as_str())
    .bind(&place.code)
    .bind(&place.name)
    .bind(place.parent_id)
    .bind(to_wkb(place.geometry.clone()))
    .bind(at)
    .bind(valid_to)
    .bind(action.as_str())
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn append_audit_in(
    tx: &mut Transaction<'_, Sqlite>,
    record: &NewAudit,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (at, user_id, action, entity, entity_id, before, after) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(at)
    .bind(record.user_id)
    .bind(&record.action)
    .bind(&record.entity)
    .bind(record.entity_id)
    .bind(record.before.as_ref().map(|v| v.to_string()))
    .bind(record.after.as_ref().map(|v| v.to_string()))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn write_assignments(
    tx: &mut Transaction<'_, Sqlite>,
    households: &[HouseholdAssignment],
    buildings: &[BuildingAssignment],
) -> Result<()> {
    for a in households {
        sqlx::query("UPDATE households SET grid_id = ? WHERE id = ?")
            .bind(a.grid_id)
            .bind(a.household_id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM household_areas WHERE household_id = ?")
            .bind(a.household_id)
            .execute(&mut **tx)
            .await?;
        for area in &a.area_ids {
            sqlx::query("INSERT INTO household_areas (household_id, area_id) VALUES (?, ?)")
                .bind(a.household_id)
                .bind(area)
                .execute(&mut **tx)
                .await?;
        }
    }
    for a in buildings {
        sqlx::query("UPDATE buildings SET grid_id = ? WHERE id = ?")
            .bind(a.grid_id)
            .bind(a.building_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn counts(&self) -> Result<Counts> {
        let (places, buildings, households): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM places), (SELECT count(*) FROM buildings), \
             (SELECT count(*) FROM households)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Counts {
            places: places as usize,
            buildings: buildings as usize,
            households: households as usize,
        })
    }

    async fn places(&self, kind: Option<PlaceKind>) -> Result<Vec<Place>> {
        let rows = sqlx::query(
            "SELECT id, kind, code, name, parent_id, geom, version FROM places \
             WHERE ?1 IS NULL OR kind = ?1 ORDER BY id",
        )
        .bind(kind.map(PlaceKind::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(place_from_row).collect()
    }

    async fn place(&self, id: Id) -> Result<Option<Place>> {
        let row = sqlx::query(
            "SELECT id, kind, code, name, parent_id, geom, version FROM places WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(place_from_row).transpose()
    }

    async fn upsert_places(&self, places: &[NewPlace]) -> Result<WriteSummary> {
        let mut tx = self.write().await?;
        let at = crate::timestamp::now();
        let mut summary = WriteSummary::default();
        for (position, place) in places.iter().enumerate() {
            let parent = match &place.parent_code {
                Some(code) => {
                    sqlx::query_as::<_, (Id, String)>("SELECT id, kind FROM places WHERE code = ?")
                        .bind(code)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|(id, kind)| (id, PlaceKind::from_str(&kind).expect("checked kind")))
                }
                None => None,
            };
            let parent_id = check_parent(position, place, parent)?;
            let b = bbox(position, &place.code, &place.geometry)?;
            let wkb = to_wkb(place.geometry.clone());
            let existing: Option<(Id, String)> =
                sqlx::query_as("SELECT id, kind FROM places WHERE code = ?")
                    .bind(&place.code)
                    .fetch_optional(&mut *tx)
                    .await?;
            match existing {
                Some((_, kind)) if kind != place.kind.as_str() => {
                    return Err(StoreError::Conflict(format!(
                        "item {position}: code {} is already used by a {kind}",
                        place.code
                    )));
                }
                Some((id, _)) => {
                    let version: i64 = sqlx::query_scalar(
                        "UPDATE places SET name = ?, parent_id = ?, geom = ?, min_x = ?, \
                         min_y = ?, max_x = ?, max_y = ?, version = version + 1, \
                         updated_at = ? WHERE id = ? RETURNING version",
                    )
                    .bind(&place.name)
                    .bind(parent_id)
                    .bind(wkb)
                    .bind(b.min().x)
                    .bind(b.min().y)
                    .bind(b.max().x)
                    .bind(b.max().y)
                    .bind(&at)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    close_version(&mut tx, id, &at).await?;
                    let fields = import_fields(place, parent_id);
                    insert_version(
                        &mut tx,
                        id,
                        version,
                        &fields,
                        &at,
                        None,
                        EditAction::Import,
                        None,
                    )
                    .await?;
                    summary.updated += 1;
                }
                None => {
                    let id: Id = sqlx::query_scalar(AssertSqlSafe(format!(
                        "INSERT INTO places (id, kind, code, name, parent_id, geom, min_x, \
                             min_y, max_x, max_y, updated_at) \
                             VALUES ({NEXT_PLACE_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
                    )))
                    .bind(place.kind.as_str())
                    .bind(&place.code)
                    .bind(&place.name)
                    .bind(parent_id)
                    .bind(wkb)
                    .bind(b.min().x)
                    .bind(b.min().y)
                    .bind(b.max().x)
                    .bind(b.max().y)
                    .bind(&at)
                    .fetch_one(&mut *tx)
                    .await?;
                    let fields = import_fields(place, parent_id);
                    insert_version(&mut tx, id, 1, &fields, &at, None, EditAction::Import, None)
                        .await?;
                    summary.inserted += 1;
                }
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn buildings(&self) -> Result<Vec<Building>> {
        let rows = sqlx::query(
            "SELECT id, code, name, address, floors, units, geom, grid_id FROM buildings \
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Building {
                    id: row.try_get("id")?,
                    code: row.try_get("code")?,
                    name: row.try_get("name")?,
                    address: row.try_get("address")?,
                    floors: row.try_get("floors")?,
                    units: row.try_get("units")?,
                    footprint: multipolygon_from_wkb(row.try_get("geom")?)?,
                    grid_id: row.try_get("grid_id")?,
                })
            })
            .collect()
    }

    async fn upsert_buildings(&self, buildings: &[NewBuilding]) -> Result<WriteSummary> {
        let mut tx = self.write().await?;
        let mut summary = WriteSummary::default();
        for (position, b) in buildings.iter().enumerate() {
            bbox(position, &b.code, &b.footprint)?;
            let existed = existing_id(&mut tx, "buildings", &b.code).await?.is_some();
            sqlx::query(
                "INSERT INTO buildings (code, name, address, floors, units, geom) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
                 address = excluded.address, floors = excluded.floors, units = excluded.units, \
                 geom = excluded.geom",
            )
            .bind(&b.code)
            .bind(&b.name)
            .bind(&b.address)
            .bind(b.floors)
            .bind(b.units)
            .bind(to_wkb(b.footprint.clone()))
            .execute(&mut *tx)
            .await
            .map_err(|e| item_error(position, &b.code, e))?;
            if existed {
                summary.updated += 1;
            } else {
                summary.inserted += 1;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn households(&self) -> Result<Vec<Household>> {
        let mut areas: HashMap<Id, Vec<Id>> = HashMap::new();
        for (household, area) in sqlx::query_as::<_, (Id, Id)>(
            "SELECT household_id, area_id FROM household_areas ORDER BY household_id, area_id",
        )
        .fetch_all(&self.pool)
        .await?
        {
            areas.entry(household).or_default().push(area);
        }
        let rows = sqlx::query(
            "SELECT h.id, h.code, b.code AS building_code, h.unit, h.floor, h.room, h.address, \
             h.head_name, h.phone, h.people, h.tags, h.lon, h.lat, h.grid_id \
             FROM households h LEFT JOIN buildings b ON b.id = h.building_id ORDER BY h.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: Id = row.try_get("id")?;
                let tags: String = row.try_get("tags")?;
                Ok(Household {
                    id,
                    code: row.try_get("code")?,
                    details: HouseholdDetails {
                        building_code: row.try_get("building_code")?,
                        unit: row.try_get("unit")?,
                        floor: row.try_get("floor")?,
                        room: row.try_get("room")?,
                        address: row.try_get("address")?,
                        head_name: row.try_get("head_name")?,
                        phone: row.try_get("phone")?,
                        people: row.try_get("people")?,
                        tags: serde_json::from_str(&tags)
                            .map_err(|e| StoreError::Invalid(format!("stored tags: {e}")))?,
                    },
                    location: Point::new(row.try_get("lon")?, row.try_get("lat")?),
                    grid_id: row.try_get("grid_id")?,
                    area_ids: areas.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn upsert_households(&self, households: &[NewHousehold]) -> Result<WriteSummary> {
        let mut tx = self.write().await?;
        let mut summary = WriteSummary::default();
        let mut building_ids: HashMap<&str, Id> = HashMap::new();
        for (position, h) in households.iter().enumerate() {
            let building_id = match h.details.building_code.as_deref() {
                None => None,
                Some(code) => match building_ids.get(code) {
                    Some(id) => Some(*id),
                    None => {
                        let id = existing_id(&mut tx, "buildings", code).await?.ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "item {position} ({}): building_code {code:?} names no stored building",
                                h.code
                            ))
                        })?;
                        building_ids.insert(code, id);
                        Some(id)
                    }
                },
            };
            let existed = existing_id(&mut tx, "households", &h.code).await?.is_some();
            let d = &h.details;
            sqlx::query(
                "INSERT INTO households (code, building_id, unit, floor, room, address, head_name, \
                 phone, people, tags, lon, lat) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (code) DO UPDATE SET building_id = excluded.building_id, \
                 unit = excluded.unit, floor = excluded.floor, room = excluded.room, \
                 address = excluded.address, head_name = excluded.head_name, \
                 phone = excluded.phone, people = excluded.people, tags = excluded.tags, \
                 lon = excluded.lon, lat = excluded.lat",
            )
            .bind(&h.code)
            .bind(building_id)
            .bind(d.unit)
            .bind(d.floor)
            .bind(&d.room)
            .bind(&d.address)
            .bind(&d.head_name)
            .bind(&d.phone)
            .bind(d.people)
            .bind(serde_json::to_string(&d.tags).expect("strings serialise"))
            .bind(h.location.x())
            .bind(h.location.y())
            .execute(&mut *tx)
            .await
            .map_err(|e| item_error(position, &h.code, e))?;
            if existed {
                summary.updated += 1;
            } else {
                summary.inserted += 1;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn apply_assignments(
        &self,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) -> Result<()> {
        let mut tx = self.write().await?;
        write_assignments(&mut tx, households, buildings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_edit(&self, edit: &PlaceEdit) -> Result<CommittedEdit> {
        let mut tx = self.write().await?;
        // Read the clock inside the write lock, so that versions of one place never go back in
        // time whoever commits next.
        let at = crate::timestamp::now();
        let mut done = CommittedEdit {
            at: at.clone(),
            ..CommittedEdit::default()
        };
        for change in &edit.changes {
            match change {
                PlaceChange::Insert { temp_id, place } => {
                    let place = &done.resolve(place);
                    let b = bbox(0, &place.code, &place.geometry)?;
                    let id: Id = sqlx::query_scalar(AssertSqlSafe(format!(
                        "INSERT INTO places (id, kind, code, name, parent_id, geom, min_x, \
                             min_y, max_x, max_y, version, updated_at) \
                             VALUES ({NEXT_PLACE_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id"
                    )))
                    .bind(place.kind.as_str())
                    .bind(&place.code)
                    .bind(&place.name)
                    .bind(place.parent_id)
                    .bind(to_wkb(place.geometry.clone()))
                    .bind(b.min().x)
                    .bind(b.min().y)
                    .bind(b.max().x)
                    .bind(b.max().y)
                    .bind(&at)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| code_taken(&place.code, e))?;
                    insert_version(&mut tx, id, 1, place, &at, None, edit.action, edit.user_id)
                        .await?;
                    let after = place.clone().into_place(id, 1);
                    append_audit_in(
                        &mut tx,
                        &place_audit(edit, place.kind, id, None, Some(&after)),
                        &at,
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
                    let before = place_in(&mut tx, *id).await?;
                    let stored = before.as_ref().map(|p| p.version);
                    if stored != Some(*expected_version) {
                        return Err(version_mismatch(*id, *expected_version, stored));
                    }
                    let b = bbox(0, &place.code, &place.geometry)?;
                    let updated = sqlx::query(
                        "UPDATE places SET kind = ?, code = ?, name = ?, parent_id = ?, geom = ?, \
                         min_x = ?, min_y = ?, max_x = ?, max_y = ?, version = version + 1, \
                         updated_at = ? WHERE id = ? AND version = ?",
                    )
                    .bind(place.kind.as_str())
                    .bind(&place.code)
                    .bind(&place.name)
                    .bind(place.parent_id)
                    .bind(to_wkb(place.geometry.clone()))
                    .bind(b.min().x)
                    .bind(b.min().y)
                    .bind(b.max().x)
                    .bind(b.max().y)
                    .bind(&at)
                    .bind(id)
                    .bind(expected_version)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| code_taken(&place.code, e))?;
                    if updated.rows_affected() == 0 {
                        return Err(version_mismatch(*id, *expected_version, stored));
                    }
                    let version = expected_version + 1;
                    close_version(&mut tx, *id, &at).await?;
                    insert_version(
                        &mut tx,
                        *id,
                        version,
                        place,
                        &at,
                        None,
                        edit.action,
                        edit.user_id,
                    )
                    .await?;
                    let after = place.clone().into_place(*id, version);
                    append_audit_in(
                        &mut tx,
                        &place_audit(edit, place.kind, *id, before.as_ref(), Some(&after)),
                        &at,
                    )
                    .await?;
                    done.places.push(after);
                }
                PlaceChange::Delete {
                    id,
                    expected_version,
                } => {
                    let before = place_in(&mut tx, *id).await?;
                    let stored = before.as_ref().map(|p| p.version);
                    let Some(before) = before.filter(|p| p.version == *expected_version) else {
                        return Err(version_mismatch(*id, *expected_version, stored));
                    };
                    let deleted = sqlx::query("DELETE FROM places WHERE id = ? AND version = ?")
                        .bind(id)
                        .bind(expected_version)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| has_children(*id, e))?;
                    if deleted.rows_affected() == 0 {
                        return Err(version_mismatch(*id, *expected_version, stored));
                    }
                    close_version(&mut tx, *id, &at).await?;
                    let fields = PlaceFields::of(&before);
                    insert_version(
                        &mut tx,
                        *id,
                        expected_version + 1,
                        &fields,
                        &at,
                        Some(&at),
                        EditAction::Delete,
                        edit.user_id,
                    )
                    .await?;
                    append_audit_in(
                        &mut tx,
                        &place_audit(edit, before.kind, *id, Some(&before), None),
                        &at,
                    )
                    .await?;
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
        write_assignments(&mut tx, &households, &buildings).await?;
        done.seq = next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn places_updated_at(&self) -> Result<Vec<(Id, String)>> {
        Ok(sqlx::query_as(
            "SELECT place_id, valid_from FROM place_versions WHERE valid_to IS NULL \
             ORDER BY place_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn place_history(&self, id: Id) -> Result<Vec<PlaceVersion>> {
        let rows: Vec<VersionRow> = sqlx::query_as(
            "SELECT v.place_id, v.version, v.kind, v.code, v.name, v.parent_id, v.geom, \
             v.valid_from, v.valid_to, v.action, v.user_id, u.name, u.display_name \
             FROM place_versions v \
             LEFT JOIN users u ON u.id = v.user_id WHERE v.place_id = ? ORDER BY v.version",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(version_from_row).collect()
    }

    async fn places_at(&self, at: &str) -> Result<Vec<Place>> {
        let rows = sqlx::query(
            "SELECT place_id AS id, kind, code, name, parent_id, geom, version \
             FROM place_versions WHERE valid_from <= ?1 AND (valid_to IS NULL OR valid_to > ?1) \
             ORDER BY place_id",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(place_from_row).collect()
    }

    async fn insert_user(&self, user: &NewUser) -> Result<User> {
        let id: Id = sqlx::query_scalar(
            "INSERT INTO users (name, role, password_hash, display_name, phone) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&user.name)
        .bind(user.role.as_str())
        .bind(&user.password_hash)
        .bind(&user.display_name)
        .bind(&user.phone)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("a user named {:?} already exists", user.name))
            }
            other => other,
        })?;
        Ok(User {
            id,
            name: user.name.clone(),
            role: user.role,
            display_name: user.display_name.clone(),
            phone: user.phone.clone(),
        })
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<StoredUser>> {
        let row: Option<(Id, String, String, Option<String>, Option<String>, String)> =
            sqlx::query_as(AssertSqlSafe(format!(
                "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = ?"
            )))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(id, name, role, display_name, phone, password_hash)| {
            Ok(StoredUser {
                user: user_from_row((id, name, role, display_name, phone))?,
                password_hash,
            })
        })
        .transpose()
    }

    async fn create_token(&self, token_hash: &str, user_id: Id, expires_at: i64) -> Result<()> {
        sqlx::query("INSERT INTO tokens (hash, user_id, expires_at) VALUES (?, ?, ?)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn forget_dead_tokens(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM tokens WHERE expires_at <= ? OR revoked_at IS NOT NULL")
                .bind(now)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    async fn token_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.hash = ? AND t.revoked_at IS NULL AND t.expires_at > ?"
        )))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(user_from_row).transpose()
    }

    async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = ?2 \
             WHERE hash = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        )
        .bind(token_hash)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn append_audit(&self, record: &NewAudit) -> Result<Id> {
        insert_audit(&mut *self.pool.acquire().await?, record).await
    }

    async fn audit(&self, entity: &str, entity_id: Option<Id>) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = sqlx::query_as(
            "SELECT id, at, user_id, action, entity, entity_id, before, after FROM audit \
             WHERE entity = ?1 AND (?2 IS NULL OR entity_id = ?2) ORDER BY id",
        )
        .bind(entity)
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(audit_from_row).collect()
    }

    async fn claim_area(&self, area_id: Id, user_id: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.write().await?;
        check_area(&mut tx, area_id).await?;
        let inserted = sqlx::query_scalar::<_, Id>(
            "INSERT INTO area_claims (area_id, user_id) VALUES (?, ?) RETURNING id",
        )
        .bind(area_id)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                return Err(self.already_claimed(area_id).await);
            }
            Err(e) => return Err(e.into()),
        };
        let claim = claim_by_id(&mut tx, id).await?;
        insert_audit(
            &mut tx,
            &holder_audit("claim", user_id, area_id, None, Some(&claim.holder)),
        )
        .await?;
        let seq = next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok((claim, seq))
    }

    async fn release_area(&self, area_id: Id, holder_id: Id, by: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.write().await?;
        check_area(&mut tx, area_id).await?;
        let current = current_claim(&mut tx, area_id).await?;
        let claim = match current {
            Some(c) if c.holder.id == holder_id => c,
            other => return Err(not_held(area_id, holder_id, other.as_ref())),
        };
        sqlx::query(
            "UPDATE area_claims SET released_at = max(claimed_at, \
             strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ended_by = 'release', ended_by_user = ? \
             WHERE id = ?",
        )
        .bind(by)
        .bind(claim.id)
        .execute(&mut *tx)
        .await?;
        let ended = claim_by_id(&mut tx, claim.id).await?;
        insert_audit(
            &mut tx,
            &holder_audit("release", by, area_id, Some(&claim.holder), None),
        )
        .await?;
        let seq = next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok((ended, seq))
    }

    async fn reassign_area(&self, area_id: Id, user_id: Id, by: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.write().await?;
        check_area(&mut tx, area_id).await?;
        let role: Option<(String, String)> =
            sqlx::query_as("SELECT name, role FROM users WHERE id = ?")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        reassign_target(user_id, role)?;
        let current = current_claim(&mut tx, area_id).await?;
        let mut since: Option<String> = None;
        if let Some(c) = &current {
            if c.holder.id == user_id {
                return Err(already_claimed(area_id, Some(c)));
            }
            since = Some(
                sqlx::query_scalar(
                    "UPDATE area_claims SET released_at = max(claimed_at, \
                     strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ended_by = 'reassign', \
                     ended_by_user = ? WHERE id = ? RETURNING released_at",
                )
                .bind(by)
                .bind(c.id)
                .fetch_one(&mut *tx)
                .await?,
            );
        }
        let id: Id = sqlx::query_scalar(
            "INSERT INTO area_claims (area_id, user_id, claimed_at) \
             VALUES (?, ?, coalesce(?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))) RETURNING id",
        )
        .bind(area_id)
        .bind(user_id)
        .bind(since)
        .fetch_one(&mut *tx)
        .await?;
        let claim = claim_by_id(&mut tx, id).await?;
        let before = current.as_ref().map(|c| &c.holder);
        insert_audit(
            &mut tx,
            &holder_audit("reassign", by, area_id, before, Some(&claim.holder)),
        )
        .await?;
        let seq = next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok((claim, seq))
    }

    async fn area_claims(&self, area_id: Id) -> Result<Vec<Claim>> {
        let mut conn = self.pool.acquire().await?;
        let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{} WHERE c.area_id = ? ORDER BY c.claimed_at, c.id",
            claims_select()
        )))
        .bind(area_id)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            check_area(&mut conn, area_id).await?;
        }
        rows.into_iter().map(claim_from_row).collect()
    }

    async fn current_claims(&self) -> Result<Vec<Claim>> {
        current_claims_in(&mut *self.pool.acquire().await?).await
    }

    async fn current_claims_ordered(&self) -> Result<(Seq, Vec<Claim>)> {
        // In WAL mode a read transaction sees one snapshot from its first read to its end.
        let mut tx = self.pool.begin().await?;
        let seq: Seq = sqlx::query_scalar("SELECT seq FROM change_order WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let claims = current_claims_in(&mut tx).await?;
        tx.commit().await?;
        Ok((seq, claims))
    }

    async fn holders_at(&self, at: &str) -> Result<Vec<Claim>> {
        let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{} WHERE c.claimed_at <= ?1 AND (c.released_at IS NULL OR c.released_at > ?1) \
             ORDER BY c.area_id",
            claims_select()
        )))
        .bind(instant(at)?)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(claim_from_row).collect()
    }

    async fn held_areas(&self, user_id: Id) -> Result<Vec<HeldArea>> {
        let rows: Vec<(Id, String, String, String, i64)> = sqlx::query_as(
            "SELECT p.id, p.code, p.name, c.claimed_at, \
             (SELECT count(*) FROM household_areas h WHERE h.area_id = p.id) \
             FROM area_claims c JOIN places p ON p.id = c.area_id \
             WHERE c.user_id = ? AND c.released_at IS NULL ORDER BY c.claimed_at, c.id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, code, name, claimed_at, households)| HeldArea {
                id,
                code,
                name,
                claimed_at,
                households,
            })
            .collect())
    }
}
