//! The PostGIS backend: the durable truth in production, shared by several `wangge` instances.
//!
//! Geometry columns are `geometry(MultiPolygon, 4326)` and `geometry(Point, 4326)` with GiST
//! indexes; a `CHECK (ST_IsValid(geom))` refuses invalid polygons even from other writers.
//! Geometry crosses the wire as WKB (`ST_GeomFromWKB` / `ST_AsBinary`).

use super::{
    AuditRow, ClaimRow, Counts, NEXT_SEQ, Result, Seq, Store, StoreError, UserRow, VersionRow,
    WriteSummary, already_claimed, audit_from_row, check_parent, claim_columns, claim_from_row,
    code_taken, has_children, holder_audit, import_fields, instant, is_unique_violation,
    item_error, multipolygon_from_wkb, not_an_area, not_held, place_audit, point_from_wkb,
    reassign_target, to_wkb, user_from_row, version_from_row, version_mismatch,
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
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// A store in a PostgreSQL database with PostGIS.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The `application_name` of this store's connections, unique to it: the change notices
    /// (migration 0005) carry it, so that a store can tell its own writes from others'.
    writer: String,
    /// One connection for listening to change notices, apart from `pool`, and quick to give up
    /// while the server is away, so that the listener can log and retry at its own pace.
    listen_pool: PgPool,
}

mod listen;

impl PostgresStore {
    /// Connects to `postgres://…` and runs the migrations. The `postgis` extension must exist in
    /// the database already (creating it needs a superuser).
    pub async fn open(url: &str) -> Result<Self> {
        static OPENED: AtomicU64 = AtomicU64::new(0);
        let writer = format!(
            "wangge/{}/{}",
            std::process::id(),
            OPENED.fetch_add(1, Ordering::Relaxed)
        );
        let options = PgConnectOptions::from_str(url)?.application_name(&writer);
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(2))
            .connect_lazy_with(options.clone());
        let pool = PgPoolOptions::new()
            .max_connections(8)
            // While the server is away, sqlx retries inside an acquire with a backoff of up to a
            // fifth of this timeout: 5 s (not the default 30) keeps that under a second, so that
            // a reload waiting for a restarted server finishes soon after it is back.
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_with(options)
            .await?;
        let postgis: Option<String> =
            sqlx::query_scalar("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
                .fetch_optional(&pool)
                .await?;
        if postgis.is_none() {
            return Err(StoreError::Invalid(
                "the database has no PostGIS: run CREATE EXTENSION postgis as a superuser".into(),
            ));
        }
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            pool,
            writer,
            listen_pool,
        })
    }

    /// The connection pool, for benchmarks and tests that compare against PostGIS queries.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

fn place_from_row(row: &PgRow) -> Result<Place> {
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

/// The columns of a user as [`user_from_row`] reads them.
const USER_COLUMNS: &str = "u.id, u.name, u.role, u.display_name, u.phone";

/// A timestamp column as RFC 3339 UTC text with milliseconds, the form SQLite stores.
macro_rules! rfc3339_ms {
    ($column:literal) => {
        concat!(
            "to_char(",
            $column,
            " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
        )
    };
}

/// Now, to the millisecond: claim times keep no more precision than SQLite's.
const NOW_MS: &str = "date_trunc('milliseconds', clock_timestamp())";

/// Selects claims with their holders; append `WHERE …`.
fn claims_select() -> String {
    format!(
        "SELECT {} FROM area_claims c JOIN users u ON u.id = c.user_id",
        claim_columns(rfc3339_ms!("c.claimed_at"), rfc3339_ms!("c.released_at"))
    )
}

/// The error for an id that names no area, unless it names one. With `lock` (in a claim's
/// write transaction) the area's row is held `FOR SHARE`, so that it cannot be deleted while
/// its claims change.
async fn check_area(conn: &mut PgConnection, area_id: Id, lock: bool) -> Result<()> {
    let kind: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT kind FROM places WHERE id = $1{}",
        if lock { " FOR SHARE" } else { "" }
    )))
    .bind(area_id)
    .fetch_optional(conn)
    .await?;
    match kind {
        Some(kind) if kind == PlaceKind::Area.as_str() => Ok(()),
        other => Err(not_an_area(area_id, other)),
    }
}

/// The current claim of an area; with `lock`, its row stays locked until the transaction ends.
async fn current_claim(conn: &mut PgConnection, area_id: Id, lock: bool) -> Result<Option<Claim>> {
    let row: Option<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{} WHERE c.area_id = $1 AND c.released_at IS NULL{}",
        claims_select(),
        if lock { " FOR UPDATE OF c" } else { "" }
    )))
    .bind(area_id)
    .fetch_optional(conn)
    .await?;
    row.map(claim_from_row).transpose()
}

/// The current claim of every held area, by area id.
async fn current_claims_in(conn: &mut PgConnection) -> Result<Vec<Claim>> {
    let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
        "{} WHERE c.released_at IS NULL ORDER BY c.area_id",
        claims_select()
    )))
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(claim_from_row).collect()
}

/// The next number in the order of changes of holders. The UPDATE holds the row's lock until
/// the transaction ends, so call it last: the next writer waits for this commit and numbers
/// follow commits (see migration 0006).
async fn next_seq(tx: &mut Transaction<'_, Postgres>) -> Result<Seq> {
    Ok(sqlx::query_scalar(NEXT_SEQ).fetch_one(&mut **tx).await?)
}

async fn claim_by_id(conn: &mut PgConnection, id: Id) -> Result<Claim> {
    let row: ClaimRow = sqlx::query_as(AssertSqlSafe(format!(
        "{} WHERE c.id = $1",
        claims_select()
    )))
    .bind(id)
    .fetch_one(conn)
    .await?;
    claim_from_row(row)
}

async fn insert_audit(conn: &mut PgConnection, record: &NewAudit) -> Result<Id> {
    Ok(sqlx::query_scalar(
        "INSERT INTO audit (user_id, action, entity, entity_id, before, after) \
         VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb) RETURNING id",
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

const PLACE_COLUMNS: &str = "id, kind, code, name, parent_id, ST_AsBinary(geom) AS geom, version";

async fn place_in(tx: &mut Transaction<'_, Postgres>, id: Id) -> Result<Option<Place>> {
    // FOR UPDATE: a concurrent edit of the same place waits here and then sees the new version.
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {PLACE_COLUMNS} FROM places WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(place_from_row).transpose()
}

/// Ends the current version of a place at `at`.
async fn close_version(tx: &mut Transaction<'_, Postgres>, id: Id, at: &str) -> Result<()> {
    sqlx::query(
        "UPDATE place_versions SET valid_to = $1::timestamptz \
         WHERE place_id = $2 AND valid_to IS NULL",
    )
    .bind(at)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends a version row; `valid_to` is `None` for the new current version.
#[allow(clippy::too_many_arguments)]
async fn insert_version(
    tx: &mut Transaction<'_, Postgres>,
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
         valid_from, valid_to, action, user_id) VALUES ($1, $2, $3, $4, $5, $6, \
         ST_Multi(ST_GeomFromWKB($7, 4326)), $8::timestamptz, $9::timestamptz, $10, $11)",
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
    tx: &mut Transaction<'_, Postgres>,
    record: &NewAudit,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit (at, user_id, action, entity, entity_id, before, after) \
         VALUES ($1::timestamptz, $2, $3, $4, $5, $6::jsonb, $7::jsonb)",
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
    tx: &mut Transaction<'_, Postgres>,
    households: &[HouseholdAssignment],
    buildings: &[BuildingAssignment],
) -> Result<()> {
    // Whole arrays per statement: one round trip each, however many rows moved.
    let ids: Vec<Id> = households.iter().map(|a| a.household_id).collect();
    let grids: Vec<Option<Id>> = households.iter().map(|a| a.grid_id).collect();
    let (area_households, area_ids): (Vec<Id>, Vec<Id>) = households
        .iter()
        .flat_map(|a| a.area_ids.iter().map(|area| (a.household_id, *area)))
        .unzip();
    let building_ids: Vec<Id> = buildings.iter().map(|a| a.building_id).collect();
    let building_grids: Vec<Option<Id>> = buildings.iter().map(|a| a.grid_id).collect();
    sqlx::query(
        "UPDATE households h SET grid_id = u.grid_id \
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(id, grid_id) WHERE h.id = u.id",
    )
    .bind(&ids)
    .bind(&grids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM household_areas WHERE household_id = ANY($1)")
        .bind(&ids)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO household_areas (household_id, area_id) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
    )
    .bind(&area_households)
    .bind(&area_ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE buildings b SET grid_id = u.grid_id \
         FROM UNNEST($1::bigint[], $2::bigint[]) AS u(id, grid_id) WHERE b.id = u.id",
    )
    .bind(&building_ids)
    .bind(&building_grids)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PLACE_COLUMNS} FROM places WHERE $1::text IS NULL OR kind = $1 ORDER BY id"
        )))
        .bind(kind.map(PlaceKind::as_str))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(place_from_row).collect()
    }

    async fn place(&self, id: Id) -> Result<Option<Place>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PLACE_COLUMNS} FROM places WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(place_from_row).transpose()
    }

    async fn upsert_places(&self, places: &[NewPlace]) -> Result<WriteSummary> {
        let mut tx = self.pool.begin().await?;
        let at = crate::timestamp::now();
        let mut summary = WriteSummary::default();
        for (position, place) in places.iter().enumerate() {
            let parent = match &place.parent_code {
                Some(code) => {
                    sqlx::query_as::<_, (Id, String)>("SELECT id, kind FROM places WHERE code = $1")
                        .bind(code)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|(id, kind)| (id, PlaceKind::from_str(&kind).expect("checked kind")))
                }
                None => None,
            };
            let parent_id = check_parent(position, place, parent)?;
            // The WHERE makes a code clash across kinds return no row instead of updating.
            let row: Option<(Id, i64, bool)> = sqlx::query_as(
                "INSERT INTO places (kind, code, name, parent_id, geom, updated_at) \
                 VALUES ($1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5, 4326)), $6::timestamptz) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, \
                 parent_id = EXCLUDED.parent_id, geom = EXCLUDED.geom, \
                 version = places.version + 1, updated_at = EXCLUDED.updated_at \
                 WHERE places.kind = EXCLUDED.kind \
                 RETURNING id, version, (xmax = 0) AS inserted",
            )
            .bind(place.kind.as_str())
            .bind(&place.code)
            .bind(&place.name)
            .bind(parent_id)
            .bind(to_wkb(place.geometry.clone()))
            .bind(&at)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| item_error(position, &place.code, e))?;
            let fields = import_fields(place, parent_id);
            match row {
                Some((id, version, inserted)) => {
                    if inserted {
                        summary.inserted += 1;
                    } else {
                        summary.updated += 1;
                        close_version(&mut tx, id, &at).await?;
                    }
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
                }
                None => {
                    return Err(StoreError::Conflict(format!(
                        "item {position}: code {} is already used by a place of another kind",
                        place.code
                    )));
                }
            }
        }
        tx.commit().await?;
        Ok(summary)
    }

    async fn buildings(&self) -> Result<Vec<Building>> {
        let rows = sqlx::query(
            "SELECT id, code, name, address, floors, units, ST_AsBinary(geom) AS geom, grid_id \
             FROM buildings ORDER BY id",
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
        let mut tx = self.pool.begin().await?;
        let mut summary = WriteSummary::default();
        for (position, b) in buildings.iter().enumerate() {
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO buildings (code, name, address, floors, units, geom) \
                 VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_GeomFromWKB($6, 4326))) \
                 ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, \
                 address = EXCLUDED.address, floors = EXCLUDED.floors, units = EXCLUDED.units, \
                 geom = EXCLUDED.geom RETURNING (xmax = 0)",
            )
            .bind(&b.code)
            .bind(&b.name)
            .bind(&b.address)
            .bind(b.floors)
            .bind(b.units)
            .bind(to_wkb(b.footprint.clone()))
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| item_error(position, &b.code, e))?;
            if inserted {
                summary.inserted += 1;
            } else {
                summary.updated += 1;
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
             h.head_name, h.phone, h.people, h.tags, ST_AsBinary(h.location) AS location, \
             h.grid_id FROM households h LEFT JOIN buildings b ON b.id = h.building_id \
             ORDER BY h.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let id: Id = row.try_get("id")?;
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
                        tags: row.try_get("tags")?,
                    },
                    location: point_from_wkb(row.try_get("location")?)?,
                    grid_id: row.try_get("grid_id")?,
                    area_ids: areas.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    async fn upsert_households(&self, households: &[NewHousehold]) -> Result<WriteSummary> {
        let mut tx = self.pool.begin().await?;
        let mut summary = WriteSummary::default();
        for (position, h) in households.iter().enumerate() {
            let d = &h.details;
            // The building is resolved in the same statement; a code that names nothing leaves
            // building_id NULL, which is caught below.
            let (inserted, building_found): (bool, bool) = sqlx::query_as(
                "INSERT INTO households (code, building_id, unit, floor, room, address, \
                 head_name, phone, people, tags, location) \
                 VALUES ($1, (SELECT id FROM buildings WHERE code = $2), $3, $4, $5, $6, $7, $8, \
                 $9, $10, ST_SetSRID(ST_MakePoint($11, $12), 4326)) \
                 ON CONFLICT (code) DO UPDATE SET building_id = EXCLUDED.building_id, \
                 unit = EXCLUDED.unit, floor = EXCLUDED.floor, room = EXCLUDED.room, \
                 address = EXCLUDED.address, head_name = EXCLUDED.head_name, \
                 phone = EXCLUDED.phone, people = EXCLUDED.people, tags = EXCLUDED.tags, \
                 location = EXCLUDED.location \
                 RETURNING (xmax = 0), ($2::text IS NULL OR building_id IS NOT NULL)",
            )
            .bind(&h.code)
            .bind(&d.building_code)
            .bind(d.unit)
            .bind(d.floor)
            .bind(&d.room)
            .bind(&d.address)
            .bind(&d.head_name)
            .bind(&d.phone)
            .bind(d.people)
            .bind(&d.tags)
            .bind(h.location.x())
            .bind(h.location.y())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| item_error(position, &h.code, e))?;
            if !building_found {
                return Err(StoreError::Invalid(format!(
                    "item {position} ({}): building_code {:?} names no stored building",
                    h.code,
                    d.building_code.as_deref().unwrap_or_default()
                )));
            }
            if inserted {
                summary.inserted += 1;
            } else {
                summary.updated += 1;
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
        let mut tx = self.pool.begin().await?;
        write_assignments(&mut tx, households, buildings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn commit_edit(&self, edit: &PlaceEdit) -> Result<CommittedEdit> {
        let mut tx = self.pool.begin().await?;
        let at = crate::timestamp::now();
        let mut done = CommittedEdit {
            at: at.clone(),
            ..CommittedEdit::default()
        };
        for change in &edit.changes {
            match change {
                PlaceChange::Insert { temp_id, place } => {
                    let place = &done.resolve(place);
                    let id: Id = sqlx::query_scalar(
                        "INSERT INTO places (kind, code, name, parent_id, geom, version, \
                         updated_at) VALUES ($1, $2, $3, $4, ST_Multi(ST_GeomFromWKB($5, 4326)), \
                         1, $6::timestamptz) RETURNING id",
                    )
                    .bind(place.kind.as_str())
                    .bind(&place.code)
                    .bind(&place.name)
                    .bind(place.parent_id)
                    .bind(to_wkb(place.geometry.clone()))
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
                    let updated = sqlx::query(
                        "UPDATE places SET kind = $1, code = $2, name = $3, parent_id = $4, \
                         geom = ST_Multi(ST_GeomFromWKB($5, 4326)), version = version + 1, \
                         updated_at = $6::timestamptz WHERE id = $7 AND version = $8",
                    )
                    .bind(place.kind.as_str())
                    .bind(&place.code)
                    .bind(&place.name)
                    .bind(place.parent_id)
                    .bind(to_wkb(place.geometry.clone()))
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
                    let deleted = sqlx::query("DELETE FROM places WHERE id = $1 AND version = $2")
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
        Ok(sqlx::query_as(concat!(
            "SELECT place_id, ",
            rfc3339_ms!("valid_from"),
            " FROM place_versions WHERE valid_to IS NULL ORDER BY place_id"
        ))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn place_history(&self, id: Id) -> Result<Vec<PlaceVersion>> {
        let rows: Vec<VersionRow> = sqlx::query_as(concat!(
            "SELECT v.place_id, v.version, v.kind, v.code, v.name, v.parent_id, \
             ST_AsBinary(v.geom), ",
            rfc3339_ms!("v.valid_from"),
            ", ",
            rfc3339_ms!("v.valid_to"),
            ", v.action, v.user_id, u.name, u.display_name FROM place_versions v \
             LEFT JOIN users u ON u.id = v.user_id WHERE v.place_id = $1 ORDER BY v.version"
        ))
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(version_from_row).collect()
    }

    async fn places_at(&self, at: &str) -> Result<Vec<Place>> {
        let rows = sqlx::query(
            "SELECT place_id AS id, kind, code, name, parent_id, ST_AsBinary(geom) AS geom, \
             version FROM place_versions WHERE valid_from <= $1::timestamptz \
             AND (valid_to IS NULL OR valid_to > $1::timestamptz) ORDER BY place_id",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(place_from_row).collect()
    }

    async fn insert_user(&self, user: &NewUser) -> Result<User> {
        let id: Id = sqlx::query_scalar(
            "INSERT INTO users (name, role, password_hash, display_name, phone) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
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
                "SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = $1"
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
        sqlx::query("INSERT INTO tokens (hash, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn forget_dead_tokens(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM tokens WHERE expires_at <= $1 OR revoked_at IS NOT NULL")
                .bind(now)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }

    async fn token_user(&self, token_hash: &str, now: i64) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.hash = $1 AND t.revoked_at IS NULL AND t.expires_at > $2"
        )))
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(user_from_row).transpose()
    }

    async fn revoke_token(&self, token_hash: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $2 \
             WHERE hash = $1 AND revoked_at IS NULL AND expires_at > $2",
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
            "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), \
             user_id, action, entity, entity_id, before::text, after::text FROM audit \
             WHERE entity = $1 AND ($2::bigint IS NULL OR entity_id = $2) ORDER BY id",
        )
        .bind(entity)
        .bind(entity_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(audit_from_row).collect()
    }

    async fn claim_area(&self, area_id: Id, user_id: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.pool.begin().await?;
        check_area(&mut tx, area_id, true).await?;
        // A concurrent claim's insert waits here for ours to commit or roll back, then fails
        // on the partial unique index.
        let inserted = sqlx::query_scalar::<_, Id>(AssertSqlSafe(format!(
            "INSERT INTO area_claims (area_id, user_id, claimed_at) VALUES ($1, $2, {NOW_MS}) \
             RETURNING id"
        )))
        .bind(area_id)
        .bind(user_id)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                tx.rollback().await?;
                let mut conn = self.pool.acquire().await?;
                let current = current_claim(&mut conn, area_id, false)
                    .await
                    .ok()
                    .flatten();
                return Err(already_claimed(area_id, current.as_ref()));
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
        let mut tx = self.pool.begin().await?;
        check_area(&mut tx, area_id, true).await?;
        let claim = match current_claim(&mut tx, area_id, true).await? {
            Some(c) if c.holder.id == holder_id => c,
            other => return Err(not_held(area_id, holder_id, other.as_ref())),
        };
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE area_claims SET released_at = GREATEST(claimed_at, {NOW_MS}), \
             ended_by = 'release', ended_by_user = $1 WHERE id = $2"
        )))
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
        let mut tx = self.pool.begin().await?;
        check_area(&mut tx, area_id, true).await?;
        let role: Option<(String, String)> =
            sqlx::query_as("SELECT name, role FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        reassign_target(user_id, role)?;
        let current = current_claim(&mut tx, area_id, true).await?;
        // The new claim starts at the instant the old one ends, to the millisecond.
        let mut since: Option<String> = None;
        if let Some(c) = &current {
            if c.holder.id == user_id {
                return Err(already_claimed(area_id, Some(c)));
            }
            since = Some(
                sqlx::query_scalar(AssertSqlSafe(format!(
                    "UPDATE area_claims SET released_at = GREATEST(claimed_at, {NOW_MS}), \
                     ended_by = 'reassign', ended_by_user = $1 WHERE id = $2 \
                     RETURNING {}",
                    rfc3339_ms!("released_at")
                )))
                .bind(by)
                .bind(c.id)
                .fetch_one(&mut *tx)
                .await?,
            );
        }
        let inserted = sqlx::query_scalar::<_, Id>(AssertSqlSafe(format!(
            "INSERT INTO area_claims (area_id, user_id, claimed_at) \
             VALUES ($1, $2, COALESCE($3::timestamptz, {NOW_MS})) RETURNING id"
        )))
        .bind(area_id)
        .bind(user_id)
        .bind(since)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            // A cadre claimed the free area meanwhile.
            Err(e) if is_unique_violation(&e) => return Err(already_claimed(area_id, None)),
            Err(e) => return Err(e.into()),
        };
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
            "{} WHERE c.area_id = $1 ORDER BY c.claimed_at, c.id",
            claims_select()
        )))
        .bind(area_id)
        .fetch_all(&mut *conn)
        .await?;
        if rows.is_empty() {
            check_area(&mut conn, area_id, false).await?;
        }
        rows.into_iter().map(claim_from_row).collect()
    }

    async fn current_claims(&self) -> Result<Vec<Claim>> {
        current_claims_in(&mut *self.pool.acquire().await?).await
    }

    async fn current_claims_ordered(&self) -> Result<(Seq, Vec<Claim>)> {
        // One snapshot for both reads (READ COMMITTED would take one per statement): it holds
        // exactly the changes numbered up to `seq` (migration 0006).
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let seq: Seq = sqlx::query_scalar("SELECT seq FROM change_order WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let claims = current_claims_in(&mut tx).await?;
        tx.commit().await?;
        Ok((seq, claims))
    }

    async fn holders_at(&self, at: &str) -> Result<Vec<Claim>> {
        let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(format!(
            "{} WHERE c.claimed_at <= $1::timestamptz \
             AND (c.released_at IS NULL OR c.released_at > $1::timestamptz) ORDER BY c.area_id",
            claims_select()
        )))
        .bind(instant(at)?)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(claim_from_row).collect()
    }

    async fn held_areas(&self, user_id: Id) -> Result<Vec<HeldArea>> {
        let rows: Vec<(Id, String, String, String, i64)> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT p.id, p.code, p.name, {}, \
             (SELECT count(*) FROM household_areas h WHERE h.area_id = p.id) \
             FROM area_claims c JOIN places p ON p.id = c.area_id \
             WHERE c.user_id = $1 AND c.released_at IS NULL ORDER BY c.claimed_at, c.id",
            rfc3339_ms!("c.claimed_at")
        )))
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

    async fn watch_changes(&self) -> Result<Option<mpsc::Receiver<()>>> {
        let schema: String = sqlx::query_scalar("SELECT current_schema()")
            .fetch_one(&self.pool)
            .await?;
        let changes = listen::watch(self.listen_pool.clone(), schema, self.writer.clone()).await?;
        Ok(Some(changes))
    }
}
