//! Fixed units per category: one table, plain SQL both backends read alike; every change is
//! written with its audit record (before and after) in the same transaction.

use super::{Dialect, SqlStore};
use crate::auth::NewAudit;
use crate::model::Id;
use crate::model::units::{CategoryUnit, UnitContact};
use crate::store::rows::CategoryUnitRow;
use crate::store::{Result, StoreError};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};

/// Every unit, by category and community (everywhere first).
const UNITS: &str = "SELECT id, category, community_id, unit, phone FROM category_units \
     ORDER BY category, community_id IS NOT NULL, community_id";
/// The unit of category `$1` in community `$2` exactly (`NULL`: the one for everywhere).
const UNIT_AT: &str = "SELECT id, category, community_id, unit, phone FROM category_units \
     WHERE category = $1 AND coalesce(community_id, 0) = coalesce(CAST($2 AS BIGINT), 0)";
/// Unit `$1`.
const UNIT_BY_ID: &str =
    "SELECT id, category, community_id, unit, phone FROM category_units WHERE id = $1";
/// The unit that answers for category `$1` in community `$2`: the community's own, else the
/// one for everywhere.
const UNIT_FOR: &str = "SELECT id, category, community_id, unit, phone FROM category_units \
     WHERE category = $1 AND (community_id = $2 OR community_id IS NULL) \
     ORDER BY community_id IS NULL LIMIT 1";
const INSERT_UNIT: &str = "INSERT INTO category_units (category, community_id, unit, phone) \
     VALUES ($1, $2, $3, $4) RETURNING id";
const UPDATE_UNIT: &str = "UPDATE category_units SET unit = $2, phone = $3 WHERE id = $1";
const DELETE_UNIT: &str = "DELETE FROM category_units WHERE id = $1";
/// The constraint that keeps one unit per category and community.
const ONE_UNIT: &str = "category_units_one";

impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    CategoryUnitRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::Store::category_units`].
    pub(super) async fn units(&self) -> Result<Vec<CategoryUnit>> {
        let rows: Vec<CategoryUnitRow> = sqlx::query_as(UNITS).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(CategoryUnit::from).collect())
    }

    /// The unit that answers for `category` in `community`, if one does.
    pub(super) async fn unit_on(
        conn: &mut DB::Connection,
        category: &str,
        community: Id,
    ) -> Result<Option<CategoryUnit>> {
        let row: Option<CategoryUnitRow> = sqlx::query_as(UNIT_FOR)
            .bind(category)
            .bind(community)
            .fetch_optional(conn)
            .await?;
        Ok(row.map(CategoryUnit::from))
    }

    /// See [`crate::store::Store::unit_for`].
    pub(super) async fn unit_answering(
        &self,
        category: &str,
        community: Id,
    ) -> Result<Option<CategoryUnit>> {
        let mut conn = self.pool.acquire().await?;
        Self::unit_on(&mut conn, category, community).await
    }
}

/// The writes, each with its audit record.
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
    (i64,): for<'r> FromRow<'r, DB::Row>,
    CategoryUnitRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::Store::set_category_unit`].
    pub(super) async fn put_unit(
        &self,
        contact: &UnitContact,
        by: Option<Id>,
    ) -> Result<(CategoryUnit, bool)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let before: Option<CategoryUnitRow> = sqlx::query_as(UNIT_AT)
            .bind(contact.category.as_str())
            .bind(contact.community_id)
            .fetch_optional(&mut *tx)
            .await?;
        let before = before.map(CategoryUnit::from);
        let id = match &before {
            Some(old) => {
                sqlx::query(UPDATE_UNIT)
                    .bind(old.id)
                    .bind(contact.unit.as_str())
                    .bind(contact.phone.as_deref())
                    .execute(&mut *tx)
                    .await?;
                old.id
            }
            None => sqlx::query_scalar(INSERT_UNIT)
                .bind(contact.category.as_str())
                .bind(contact.community_id)
                .bind(contact.unit.as_str())
                .bind(contact.phone.as_deref())
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| {
                    // Another admin set the same category and community between our read and
                    // our insert.
                    if StoreError::violates(&e, ONE_UNIT) {
                        StoreError::UnitSetMeanwhile(contact.category.clone())
                    } else {
                        e.into()
                    }
                })?,
        };
        let after = CategoryUnit {
            id,
            category: contact.category.clone(),
            community_id: contact.community_id,
            unit: contact.unit.clone(),
            phone: contact.phone.clone(),
        };
        let audit = NewAudit {
            user_id: by,
            action: if before.is_some() { "update" } else { "create" }.into(),
            entity: "category_unit".into(),
            entity_id: Some(id),
            before: before.as_ref().map(audit_json),
            after: Some(audit_json(&after)),
        };
        Self::insert_audit(&mut tx, &audit, None).await?;
        tx.commit().await?;
        Ok((after, before.is_some()))
    }

    /// See [`crate::store::Store::remove_category_unit`].
    pub(super) async fn drop_unit(&self, id: Id, by: Option<Id>) -> Result<CategoryUnit> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let before: Option<CategoryUnitRow> = sqlx::query_as(UNIT_BY_ID)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let before = CategoryUnit::from(before.ok_or(StoreError::NoSuchCategoryUnit(id))?);
        sqlx::query(DELETE_UNIT).bind(id).execute(&mut *tx).await?;
        let audit = NewAudit {
            user_id: by,
            action: "delete".into(),
            entity: "category_unit".into(),
            entity_id: Some(id),
            before: Some(audit_json(&before)),
            after: None,
        };
        Self::insert_audit(&mut tx, &audit, None).await?;
        tx.commit().await?;
        Ok(before)
    }
}

fn audit_json(unit: &CategoryUnit) -> serde_json::Value {
    serde_json::to_value(unit).expect("a category unit serialises")
}
