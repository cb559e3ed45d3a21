//! Claims of responsibility areas: who holds an area, since when, and how a claim ended. Each
//! change of a holder is one transaction with its audit record and its place in the order of
//! such changes ([`Seq`]).

use super::{Dialect, ONE_HOLDER, SqlStore};
use crate::auth::{NewAudit, Role};
use crate::model::{Claim, ClaimEnd, Holder, Id, PlaceKind};
use crate::store::rows::{self, ClaimRow};
use crate::store::{Result, Seq, StoreError};
use sqlx::{AssertSqlSafe, Encode, Executor, FromRow, IntoArguments, Type};

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
    (String,): for<'r> FromRow<'r, DB::Row>,
    (i64, String): for<'r> FromRow<'r, DB::Row>,
    (String, String): for<'r> FromRow<'r, DB::Row>,
    crate::store::rows::PlaceRow: for<'r> FromRow<'r, DB::Row>,
    ClaimRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::Store::claim_area`].
    pub(super) async fn claim(&self, area_id: Id, user_id: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        Self::check_area(&mut tx, area_id).await?;
        // On PostgreSQL a concurrent claim's insert waits here for ours to commit or roll
        // back, then fails on the partial unique index.
        let inserted = sqlx::query_scalar::<_, Id>(DB::INSERT_CLAIM)
            .bind(area_id)
            .bind(user_id)
            .bind(None::<&str>)
            .fetch_one(&mut *tx)
            .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if StoreError::violates(&e, ONE_HOLDER) => {
                // The failed statement spoiled the transaction (on PostgreSQL): name the
                // winner from a fresh connection.
                tx.rollback().await?;
                let current = match self.pool.acquire().await {
                    Ok(mut conn) => Self::open_claim(&mut conn, area_id, false)
                        .await
                        .ok()
                        .flatten(),
                    Err(_) => None,
                };
                return Err(StoreError::AlreadyClaimed {
                    area_id,
                    current: current.map(Box::new),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let claim = Self::claim_by_id(&mut tx, id).await?;
        let audit = holder_audit("claim", user_id, area_id, None, Some(&claim.holder));
        Self::insert_audit(&mut tx, &audit, None).await?;
        let seq = Self::next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok((claim, seq))
    }

    /// See [`crate::store::Store::release_area`].
    pub(super) async fn release(&self, area_id: Id, holder_id: Id, by: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        Self::check_area(&mut tx, area_id).await?;
        let claim = match Self::open_claim(&mut tx, area_id, true).await? {
            Some(c) if c.holder.id == holder_id => c,
            other => {
                return Err(StoreError::NotHeld {
                    area_id,
                    holder_id,
                    current: other.map(Box::new),
                });
            }
        };
        Self::end_claim(&mut tx, claim.id, ClaimEnd::Release, by).await?;
        let ended = Self::claim_by_id(&mut tx, claim.id).await?;
        let audit = holder_audit("release", by, area_id, Some(&claim.holder), None);
        Self::insert_audit(&mut tx, &audit, None).await?;
        let seq = Self::next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok((ended, seq))
    }

    /// See [`crate::store::Store::reassign_area`].
    pub(super) async fn reassign(&self, area_id: Id, user_id: Id, by: Id) -> Result<(Claim, Seq)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        Self::check_area(&mut tx, area_id).await?;
        let user: Option<(String, String)> =
            sqlx::query_as("SELECT name, role FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        let (name, role) = user.ok_or(StoreError::NoSuchUser(user_id))?;
        let role: Role = role
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("stored role {role:?}")))?;
        if role != Role::Cadre {
            return Err(StoreError::NotACadre { name, role });
        }
        let current = Self::open_claim(&mut tx, area_id, true).await?;
        // The new claim starts at the instant the old one ends, to the millisecond.
        let mut since = None;
        if let Some(c) = &current {
            if c.holder.id == user_id {
                return Err(StoreError::AlreadyClaimed {
                    area_id,
                    current: Some(Box::new(c.clone())),
                });
            }
            since = Some(Self::end_claim(&mut tx, c.id, ClaimEnd::Reassign, by).await?);
        }
        let inserted = sqlx::query_scalar::<_, Id>(DB::INSERT_CLAIM)
            .bind(area_id)
            .bind(user_id)
            .bind(since.as_deref())
            .fetch_one(&mut *tx)
            .await;
        let id = match inserted {
            Ok(id) => id,
            // A cadre claimed the free area meanwhile.
            Err(e) if StoreError::violates(&e, ONE_HOLDER) => {
                return Err(StoreError::AlreadyClaimed {
                    area_id,
                    current: None,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let claim = Self::claim_by_id(&mut tx, id).await?;
        let before = current.as_ref().map(|c| &c.holder);
        let audit = holder_audit("reassign", by, area_id, before, Some(&claim.holder));
        Self::insert_audit(&mut tx, &audit, None).await?;
        let seq = Self::next_seq(&mut tx).await?;
        tx.commit().await?;
        Ok((claim, seq))
    }

    /// See [`crate::store::Store::area_claims`].
    pub(super) async fn claims_of(&self, area_id: Id) -> Result<Vec<Claim>> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "{} WHERE c.area_id = $1 ORDER BY c.claimed_at, c.id",
            DB::CLAIMS
        );
        let rows: Vec<ClaimRow> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(area_id)
            .fetch_all(&mut *conn)
            .await?;
        if rows.is_empty() {
            // No claims at all: say whether the area exists.
            Self::check_area(&mut conn, area_id).await?;
        }
        rows::all(rows)
    }

    /// Fails unless `area_id` names a responsibility area; in a write transaction the area's
    /// row is kept from deletion until it ends.
    async fn check_area(conn: &mut DB::Connection, area_id: Id) -> Result<()> {
        let kind: Option<String> = sqlx::query_scalar(DB::PLACE_KIND_FOR_SHARE)
            .bind(area_id)
            .fetch_optional(conn)
            .await?;
        area_or_error(area_id, kind)
    }

    /// The open claim of an area; with `lock`, its row stays locked until the transaction
    /// ends.
    async fn open_claim(
        conn: &mut DB::Connection,
        area_id: Id,
        lock: bool,
    ) -> Result<Option<Claim>> {
        let row: Option<ClaimRow> = if lock {
            sqlx::query_as(DB::OPEN_CLAIM_FOR_UPDATE)
                .bind(area_id)
                .fetch_optional(conn)
                .await?
        } else {
            let sql = format!(
                "{} WHERE c.area_id = $1 AND c.released_at IS NULL",
                DB::CLAIMS
            );
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(area_id)
                .fetch_optional(conn)
                .await?
        };
        row.map(Claim::try_from).transpose()
    }

    async fn claim_by_id(conn: &mut DB::Connection, id: Id) -> Result<Claim> {
        let sql = format!("{} WHERE c.id = $1", DB::CLAIMS);
        let row: ClaimRow = sqlx::query_as(AssertSqlSafe(sql))
            .bind(id)
            .fetch_one(conn)
            .await?;
        Claim::try_from(row)
    }

    /// Ends a claim now and returns when it ended.
    async fn end_claim(
        conn: &mut DB::Connection,
        claim_id: Id,
        how: ClaimEnd,
        by: Id,
    ) -> Result<String> {
        Ok(sqlx::query_scalar(DB::END_CLAIM)
            .bind(how.as_str())
            .bind(by)
            .bind(claim_id)
            .fetch_one(conn)
            .await?)
    }
}

/// `Ok` if a place of `kind` (`None`: no place) with id `area_id` is an area.
fn area_or_error(area_id: Id, kind: Option<String>) -> Result<()> {
    match kind.map(|k| k.parse::<PlaceKind>()) {
        Some(Ok(PlaceKind::Area)) => Ok(()),
        Some(Ok(kind)) => Err(StoreError::NotAnArea { id: area_id, kind }),
        Some(Err(e)) => Err(StoreError::Corrupt(e.to_string())),
        None => Err(StoreError::NoSuchArea(area_id)),
    }
}

/// The audit record of a change of an area's holder.
fn holder_audit(
    action: &str,
    by: Id,
    area_id: Id,
    before: Option<&Holder>,
    after: Option<&Holder>,
) -> NewAudit {
    // The admins' trace keeps the login name, which answers never show.
    let audited = |holder: &Holder| {
        serde_json::json!({
            "id": holder.id,
            "name": holder.name,
            "display_name": holder.display_name,
            "phone": holder.phone,
        })
    };
    NewAudit {
        user_id: Some(by),
        action: action.into(),
        entity: "area".into(),
        entity_id: Some(area_id),
        before: Some(serde_json::json!({ "holder": before.map(audited) })),
        after: Some(serde_json::json!({ "holder": after.map(audited) })),
    }
}
