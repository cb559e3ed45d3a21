//! One household written by itself (a create or an edit): the row, its grid and areas and its
//! audit record in one transaction, an edit only from the version it was read at.

use super::{BUILDING_BY_CODE, Dialect, SqlStore};
use crate::auth::NewAudit;
use crate::model::{Household, HouseholdAssignment, HouseholdWrite, Id};
use crate::store::rows::{
    AuditRow, BuildingRow, CadreWorkRow, ClaimRow, HeldAreaRow, HouseholdRow, LastVisitsRow,
    NeedRow, PlaceRow, StoredUserRow, UserRow, VersionRow, VisitRow,
};
use crate::store::{ItemProblem, Result, StoreError};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

/// The unique index on household codes.
const HOUSEHOLDS_CODE: &str = "households_code_key";

impl<DB> SqlStore<DB>
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
{
    /// See [`crate::store::Store::write_household`].
    pub(super) async fn write_one_household(&self, write: &HouseholdWrite) -> Result<Household> {
        let h = &write.household;
        let d = &h.details;
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let building_id: Option<Id> = match d.building_code.as_deref() {
            None => None,
            Some(code) => Some(
                sqlx::query_scalar(BUILDING_BY_CODE)
                    .bind(code)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::Item {
                        position: 0,
                        code: h.code.clone(),
                        problem: ItemProblem::UnknownBuilding(code.to_string()),
                    })?,
            ),
        };
        let before = match write.id {
            None => None,
            Some(id) => Some(
                Self::household_on(&mut tx, id)
                    .await?
                    .ok_or(StoreError::NoSuchHousehold(id))?,
            ),
        };
        let statement = if before.is_some() {
            DB::UPDATE_HOUSEHOLD
        } else {
            DB::INSERT_HOUSEHOLD
        };
        let mut query = sqlx::query_scalar::<_, i64>(statement)
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
            .bind(h.location.y());
        if let Some(id) = write.id {
            query = query.bind(id).bind(write.expected_version);
        }
        let written = query.fetch_optional(&mut *tx).await.map_err(|e| {
            if StoreError::violates(&e, HOUSEHOLDS_CODE) {
                StoreError::HouseholdCodeTaken(h.code.clone())
            } else {
                e.into()
            }
        })?;
        // An insert returns the new id, an update the new version (none: another version).
        let id = match (&before, written) {
            (None, Some(id)) => id,
            (Some(b), Some(_)) => b.id,
            (Some(b), None) => {
                return Err(StoreError::HouseholdVersionMismatch {
                    id: b.id,
                    expected: write.expected_version,
                    stored: b.version,
                });
            }
            (None, None) => return Err(StoreError::Corrupt("an insert returned no id".into())),
        };
        let assignment = HouseholdAssignment {
            household_id: id,
            grid_id: write.grid_id,
            area_ids: write.area_ids.clone(),
        };
        DB::write_assignments(&mut tx, &[assignment], &[]).await?;
        let after = Self::household_on(&mut tx, id)
            .await?
            .ok_or(StoreError::NoSuchHousehold(id))?;
        let audit = NewAudit {
            user_id: write.user_id,
            action: if before.is_some() { "update" } else { "create" }.into(),
            entity: "household".into(),
            entity_id: Some(id),
            before: before.as_ref().map(audit_json),
            after: Some(audit_json(&after)),
        };
        Self::insert_audit(&mut tx, &audit, None).await?;
        tx.commit().await?;
        Ok(after)
    }

    async fn household_on(conn: &mut DB::Connection, id: Id) -> Result<Option<Household>> {
        let ids = format!("[{id}]");
        Ok(Self::households_on(conn, Some(&ids)).await?.pop())
    }
}

/// A household as the audit trace keeps it: every field, its location and assignments.
fn audit_json(h: &Household) -> serde_json::Value {
    let mut value = serde_json::to_value(h).expect("a household serialises");
    value["lon"] = h.location.x().into();
    value["lat"] = h.location.y().into();
    value
}
