//! Households read by id, and the visit diary (民情日记): a visit is stored with its needs in one
//! transaction, once per idempotency key; needs stay open until someone marks them met.

use super::{Dialect, SqlStore};
use crate::model::visits::{Need, NewVisit, Visit};
use crate::model::{Household, Id};
use crate::store::rows::{HouseholdRow, NeedRow, VisitRow};
use crate::store::{Result, StoreError};
use sqlx::{AssertSqlSafe, Encode, Executor, FromRow, IntoArguments, Type};
use std::collections::HashMap;

/// The one-visit-per-key constraint of migration 0008.
const VISITS_KEY: &str = "visits_key";
/// Recomputes the latest visits of household `$1` (migration 0011), from the visits that count.
const REFRESH_LAST_VISITS: &str = "INSERT INTO household_last_visits \
     (household_id, any_at, on_site_at) \
     SELECT household_id, max(visited_at), max(CASE WHEN on_site THEN visited_at END) \
     FROM visits WHERE household_id = $1 AND corrected_by IS NULL GROUP BY household_id \
     ON CONFLICT (household_id) DO UPDATE \
     SET any_at = excluded.any_at, on_site_at = excluded.on_site_at";
/// The one-correction-per-visit index of migration 0010.
const ONE_CORRECTION: &str = "visits_one_correction";
const INSERT_NEED: &str =
    "INSERT INTO needs (visit_id, household_id, kind, note) VALUES ($1, $2, $3, $4)";
const HOUSEHOLD_EXISTS: &str = "SELECT id FROM households WHERE id = $1";
/// Visit `$1` of household `$3` is corrected by visit `$2`, unless it was corrected already.
const MARK_CORRECTED: &str = "UPDATE visits SET corrected_by = $2 \
     WHERE id = $1 AND household_id = $3 AND corrected_by IS NULL RETURNING id";

/// Which visits to read.
enum Which {
    /// One visit, by id.
    Visit(Id),
    /// Every visit of a household.
    Household(Id),
}

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (i64, i64): for<'r> FromRow<'r, DB::Row>,
    HouseholdRow: for<'r> FromRow<'r, DB::Row>,
    VisitRow: for<'r> FromRow<'r, DB::Row>,
    NeedRow: for<'r> FromRow<'r, DB::Row>,
{
    /// Households with their areas: all if `ids` is `None`, else those in the JSON array `ids`.
    pub(super) async fn households_where(&self, ids: Option<&str>) -> Result<Vec<Household>> {
        let mut conn = self.pool.acquire().await?;
        Self::households_on(&mut conn, ids).await
    }

    /// [`Self::households_where`] on one connection (in a transaction, say).
    pub(super) async fn households_on(
        conn: &mut DB::Connection,
        ids: Option<&str>,
    ) -> Result<Vec<Household>> {
        let mut areas: HashMap<Id, Vec<Id>> = HashMap::new();
        let pairs: Vec<(Id, Id)> = sqlx::query_as(DB::HOUSEHOLD_AREAS)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
        for (household, area) in pairs {
            areas.entry(household).or_default().push(area);
        }
        let rows: Vec<HouseholdRow> = sqlx::query_as(DB::HOUSEHOLDS)
            .bind(ids)
            .fetch_all(&mut *conn)
            .await?;
        rows.into_iter()
            .map(|row| {
                let area_ids = areas.remove(&row.id).unwrap_or_default();
                row.into_household(area_ids)
            })
            .collect()
    }

    /// See [`crate::store::Store::record_visit`].
    pub(super) async fn insert_visit(&self, visit: &NewVisit) -> Result<(Visit, bool)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let exists: Option<Id> = sqlx::query_scalar(HOUSEHOLD_EXISTS)
            .bind(visit.household_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NoSuchHousehold(visit.household_id));
        }
        // A correction names a visit of this household not corrected yet; checked under the
        // write lock (SQLite) or, between concurrent corrections on PostgreSQL, by the unique
        // index `visits_one_correction` below.
        if let Some(old) = visit.corrects {
            Self::check_correctable(&mut tx, old, visit.household_id).await?;
        }
        let inserted = Self::insert_one(&mut tx, visit).await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if StoreError::violates(&e, ONE_CORRECTION) => {
                tx.rollback().await?;
                let old = visit.corrects.unwrap_or_default();
                let by = self.visit_by_id(old).await?.and_then(|v| v.corrected_by);
                return Err(StoreError::AlreadyCorrected {
                    visit_id: old,
                    by: by.unwrap_or_default(),
                });
            }
            Err(e) if StoreError::violates(&e, VISITS_KEY) => {
                // A resend: the same content is the stored visit, other content a reused key.
                // The failed insert spoiled the transaction on PostgreSQL; read apart.
                tx.rollback().await?;
                let stored = self.visit_by_key(visit.user_id, &visit.key).await?;
                return match stored {
                    Some((digest, stored)) if digest == visit.digest => Ok((stored, false)),
                    Some((_, stored)) => Err(StoreError::KeyReused {
                        key: visit.key.clone(),
                        visit_id: stored.id,
                    }),
                    None => Err(e.into()),
                };
            }
            Err(e) => return Err(e.into()),
        };
        Self::insert_needs(&mut tx, id, visit).await?;
        if let Some(old) = visit.corrects {
            Self::mark_corrected(&mut tx, old, id, visit.household_id).await?;
        }
        Self::refresh_last_visits(&mut tx, visit.household_id).await?;
        let stored = Self::visits_where(&mut tx, Which::Visit(id)).await?;
        tx.commit().await?;
        let visit = stored
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .ok_or_else(|| StoreError::Corrupt(format!("visit {id} vanished")))?;
        Ok((visit, true))
    }

    /// See [`crate::store::Store::import_visits`].
    pub(super) async fn insert_visits(&self, visits: &[NewVisit]) -> Result<usize> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        for visit in visits {
            let id = Self::insert_one(&mut tx, visit).await?;
            Self::insert_needs(&mut tx, id, visit).await?;
        }
        let mut households: Vec<Id> = visits.iter().map(|v| v.household_id).collect();
        households.sort_unstable();
        households.dedup();
        for household in households {
            Self::refresh_last_visits(&mut tx, household).await?;
        }
        tx.commit().await?;
        Ok(visits.len())
    }

    async fn insert_one(conn: &mut DB::Connection, visit: &NewVisit) -> sqlx::Result<Id> {
        sqlx::query_scalar::<_, Id>(DB::INSERT_VISIT)
            .bind(visit.household_id)
            .bind(visit.user_id)
            .bind(visit.key.as_str())
            .bind(visit.digest.as_str())
            .bind(visit.visited_at.as_str())
            .bind(visit.lon)
            .bind(visit.lat)
            .bind(visit.accuracy_m)
            .bind(visit.distance_m)
            .bind(visit.on_site)
            .bind(visit.notes.as_str())
            .bind(visit.corrects)
            .fetch_one(&mut *conn)
            .await
    }

    /// Why `old` cannot be corrected by a visit of `household`, if it cannot: no such visit, a
    /// visit of another household, or one corrected already.
    async fn check_correctable(conn: &mut DB::Connection, old: Id, household: Id) -> Result<()> {
        let found = Self::visits_where(conn, Which::Visit(old)).await?;
        match found.into_iter().next().map(|(_, v)| v) {
            None => Err(StoreError::NoSuchVisit(old)),
            Some(v) if v.household_id != household => Err(StoreError::CorrectsAnotherHousehold {
                visit_id: old,
                household_id: v.household_id,
            }),
            Some(Visit {
                corrected_by: Some(by),
                ..
            }) => Err(StoreError::AlreadyCorrected { visit_id: old, by }),
            Some(_) => Ok(()),
        }
    }

    /// Marks `old` corrected by `new` (checked by [`Self::check_correctable`] first).
    async fn mark_corrected(
        conn: &mut DB::Connection,
        old: Id,
        new: Id,
        household: Id,
    ) -> Result<()> {
        sqlx::query_scalar::<_, Id>(MARK_CORRECTED)
            .bind(old)
            .bind(new)
            .bind(household)
            .fetch_optional(&mut *conn)
            .await?
            .map(|_| ())
            .ok_or(StoreError::AlreadyCorrected {
                visit_id: old,
                by: new,
            })
    }

    /// Brings the row of `household` in `household_last_visits` up to date.
    async fn refresh_last_visits(conn: &mut DB::Connection, household: Id) -> Result<()> {
        sqlx::query(REFRESH_LAST_VISITS)
            .bind(household)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// See [`crate::store::Store::visit`].
    pub(super) async fn visit_by_id(&self, id: Id) -> Result<Option<Visit>> {
        let mut conn = self.pool.acquire().await?;
        let found = Self::visits_where(&mut conn, Which::Visit(id)).await?;
        Ok(found.into_iter().next().map(|(_, v)| v))
    }

    async fn insert_needs(conn: &mut DB::Connection, id: Id, visit: &NewVisit) -> Result<()> {
        for need in &visit.needs {
            sqlx::query(INSERT_NEED)
                .bind(id)
                .bind(visit.household_id)
                .bind(need.kind.as_str())
                .bind(need.note.as_str())
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The visit `user_id` stored under `key`, with its digest.
    async fn visit_by_key(&self, user_id: Id, key: &str) -> Result<Option<(String, Visit)>> {
        let sql = format!(
            "{} WHERE v.user_id = $1 AND v.idempotency_key = $2",
            DB::VISITS
        );
        let row: Option<VisitRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(user_id)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let needs = Self::needs_where(&self.pool, "n.visit_id = $1", row.id).await?;
        let digest = row.digest.clone();
        Ok(Some((digest, row.into_visit(needs))))
    }

    /// See [`crate::store::Store::visits`].
    pub(super) async fn visits_of(&self, household_id: Id) -> Result<Vec<Visit>> {
        let mut conn = self.pool.acquire().await?;
        let visits = Self::visits_where(&mut conn, Which::Household(household_id)).await?;
        Ok(visits.into_iter().rev().map(|(_, v)| v).collect())
    }

    /// The visits `which` names, oldest first, with their digests and needs.
    async fn visits_where(conn: &mut DB::Connection, which: Which) -> Result<Vec<(String, Visit)>> {
        let (visits, needs_of, value) = match which {
            Which::Visit(id) => ("v.id = $1", "n.visit_id = $1", id),
            Which::Household(id) => ("v.household_id = $1", "n.household_id = $1", id),
        };
        let sql = format!("{} WHERE {visits} ORDER BY v.visited_at, v.id", DB::VISITS);
        let rows: Vec<VisitRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(value)
            .fetch_all(&mut *conn)
            .await?;
        let mut needs: HashMap<Id, Vec<Need>> = HashMap::new();
        for need in Self::needs_where(&mut *conn, needs_of, value).await? {
            needs.entry(need.visit_id).or_default().push(need);
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let digest = row.digest.clone();
                let found = needs.remove(&row.id).unwrap_or_default();
                (digest, row.into_visit(found))
            })
            .collect())
    }

    /// Needs matching `condition` on `$1` = `value`, by id.
    async fn needs_where<'e, E>(executor: E, condition: &str, value: Id) -> Result<Vec<Need>>
    where
        E: Executor<'e, Database = DB>,
    {
        let sql = format!("{} WHERE {condition} ORDER BY n.id", DB::NEEDS);
        let rows: Vec<NeedRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(value)
            .fetch_all(executor)
            .await?;
        rows.into_iter().map(Need::try_from).collect()
    }

    /// See [`crate::store::Store::needs`].
    pub(super) async fn all_needs(&self) -> Result<Vec<Need>> {
        // Every need has an id above 0: the condition keeps one statement shape for all reads.
        Self::needs_where(&self.pool, "n.id > $1", 0).await
    }

    /// See [`crate::store::Store::need`].
    pub(super) async fn need_by_id(&self, id: Id) -> Result<Option<Need>> {
        let found = Self::needs_where(&self.pool, "n.id = $1", id).await?;
        Ok(found.into_iter().next())
    }

    /// See [`crate::store::Store::meet_need`].
    pub(super) async fn mark_met(&self, id: Id, by: Id) -> Result<Need> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        sqlx::query(DB::MEET_NEED)
            .bind(id)
            .bind(by)
            .execute(&mut *tx)
            .await?;
        let need = Self::needs_where(&mut *tx, "n.id = $1", id)
            .await?
            .into_iter()
            .next()
            .ok_or(StoreError::NoSuchNeed(id))?;
        tx.commit().await?;
        Ok(need)
    }
}
