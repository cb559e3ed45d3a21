//! Party branches and their members: the branches with the grids they serve (every write
//! audited in its transaction), and the rolls, matched by phone across imports.

use super::{Dialect, SqlStore};
use crate::auth::NewAudit;
use crate::model::branches::{
    Activity, ActivityFilter, ActivityPhoto, ActivityPhotoBytes, AttendanceLine, Branch, Member,
    NewActivity, NewActivityPhoto, NewBranch, NewMember,
};
use crate::model::lessons::{Lesson, LessonRecipient, NewLesson};
use crate::model::photos::PhotoCopy;
use crate::model::summary::{SummaryCounts, SummaryScope};
use crate::model::{Id, PlaceKind};
use crate::store::BranchStore;
use crate::store::error::item_error;
use crate::store::rows::{
    ActivityPhotoRow, ActivityRow, AttendanceLineRow, AttendanceRow, BranchRow, LessonRow,
    MemberRow, SummaryCountsRow,
};
use crate::store::{ItemProblem, Result, StoreError, WriteSummary};
use async_trait::async_trait;
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use std::collections::{BTreeMap, HashMap};

const BRANCHES: &str = "SELECT id, code, name, community_id FROM branches ORDER BY code";
const BRANCH_BY_CODE: &str = "SELECT id, code, name, community_id FROM branches WHERE code = $1";
const BRANCH_BY_ID: &str = "SELECT id, code, name, community_id FROM branches WHERE id = $1";
const BRANCH_GRIDS: &str = "SELECT branch_id, grid_id FROM branch_grids ORDER BY grid_id";
const GRIDS_OF_BRANCH: &str =
    "SELECT grid_id FROM branch_grids WHERE branch_id = $1 ORDER BY grid_id";
const INSERT_BRANCH: &str =
    "INSERT INTO branches (code, name, community_id) VALUES ($1, $2, $3) RETURNING id";
const UPDATE_BRANCH: &str = "UPDATE branches SET name = $2, community_id = $3 WHERE id = $1";
const CLEAR_BRANCH_GRIDS: &str = "DELETE FROM branch_grids WHERE branch_id = $1";
const INSERT_BRANCH_GRID: &str = "INSERT INTO branch_grids (branch_id, grid_id) VALUES ($1, $2)";
/// A place's kind and parent, to check a branch's community and grids.
const PLACE_KIND_PARENT: &str = "SELECT kind, parent_id FROM places WHERE id = $1";
const MEMBER_BY_PHONE: &str = "SELECT id FROM members WHERE phone = $1";

/// Reads.
impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (i64, i64): for<'r> FromRow<'r, DB::Row>,
    BranchRow: for<'r> FromRow<'r, DB::Row>,
    MemberRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::BranchStore::branches`].
    pub(super) async fn all_branches(&self) -> Result<Vec<Branch>> {
        let rows: Vec<BranchRow> = sqlx::query_as(BRANCHES).fetch_all(&self.pool).await?;
        let links: Vec<(i64, i64)> = sqlx::query_as(BRANCH_GRIDS).fetch_all(&self.pool).await?;
        let mut grids: HashMap<Id, Vec<Id>> = HashMap::new();
        for (branch, grid) in links {
            grids.entry(branch).or_default().push(grid);
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let ids = grids.remove(&row.id).unwrap_or_default();
                row.with_grids(ids)
            })
            .collect())
    }

    /// See [`crate::store::BranchStore::members`].
    pub(super) async fn members_of(&self, branch_id: Id) -> Result<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(DB::MEMBERS)
            .bind(branch_id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Member::try_from).collect()
    }

    /// See [`crate::store::BranchStore::rolls`].
    pub(super) async fn rolls_of(&self, branch_ids: &[Id]) -> Result<Vec<Member>> {
        let ids = serde_json::to_string(branch_ids).expect("ids serialise");
        let rows: Vec<MemberRow> = sqlx::query_as(DB::ROLLS)
            .bind(ids)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Member::try_from).collect()
    }

    /// Branch `id` with its grids, read on `conn`.
    async fn branch_on(conn: &mut DB::Connection, id: Id) -> Result<Option<Branch>> {
        let row: Option<BranchRow> = sqlx::query_as(BRANCH_BY_ID)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let grids: Vec<(i64,)> = sqlx::query_as(GRIDS_OF_BRANCH)
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        Ok(Some(
            row.with_grids(grids.into_iter().map(|(g,)| g).collect()),
        ))
    }
}

/// Writes, each all or nothing.
impl<DB> SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (i64, i64): for<'r> FromRow<'r, DB::Row>,
    (String, Option<i64>): for<'r> FromRow<'r, DB::Row>,
    BranchRow: for<'r> FromRow<'r, DB::Row>,
    MemberRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::BranchStore::upsert_branches`].
    pub(super) async fn put_branches(
        &self,
        branches: &[NewBranch],
        by: Option<Id>,
    ) -> Result<WriteSummary> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let mut summary = WriteSummary::default();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (position, branch) in branches.iter().enumerate() {
            let refuse = |problem| StoreError::Item {
                position,
                code: branch.code.clone(),
                problem,
            };
            if let Some(&first) = seen.get(branch.code.as_str()) {
                return Err(refuse(ItemProblem::Repeated(first)));
            }
            seen.insert(&branch.code, position);
            let community: Option<(String, Option<i64>)> = sqlx::query_as(PLACE_KIND_PARENT)
                .bind(branch.community_id)
                .fetch_optional(&mut *tx)
                .await?;
            let is_community =
                matches!(community, Some((kind, _)) if kind == PlaceKind::Community.as_str());
            if !is_community {
                return Err(refuse(ItemProblem::NotACommunity(branch.community_id)));
            }
            for &grid_id in &branch.grid_ids {
                let grid: Option<(String, Option<i64>)> = sqlx::query_as(PLACE_KIND_PARENT)
                    .bind(grid_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let in_community = grid.is_some_and(|(kind, parent)| {
                    kind == PlaceKind::Grid.as_str() && parent == Some(branch.community_id)
                });
                if !in_community {
                    return Err(refuse(ItemProblem::GridElsewhere {
                        grid_id,
                        community_id: branch.community_id,
                    }));
                }
            }
            let stored: Option<BranchRow> = sqlx::query_as(BRANCH_BY_CODE)
                .bind(branch.code.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let (id, before) = match stored {
                Some(row) => {
                    let id = row.id;
                    let before = Self::branch_on(&mut tx, id).await?;
                    sqlx::query(UPDATE_BRANCH)
                        .bind(id)
                        .bind(branch.name.as_str())
                        .bind(branch.community_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(CLEAR_BRANCH_GRIDS)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    summary.updated += 1;
                    (id, before)
                }
                None => {
                    let id: i64 = sqlx::query_scalar(INSERT_BRANCH)
                        .bind(branch.code.as_str())
                        .bind(branch.name.as_str())
                        .bind(branch.community_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    summary.inserted += 1;
                    (id, None)
                }
            };
            let mut grid_ids = branch.grid_ids.clone();
            grid_ids.sort_unstable();
            grid_ids.dedup();
            for &grid_id in &grid_ids {
                sqlx::query(INSERT_BRANCH_GRID)
                    .bind(id)
                    .bind(grid_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let after = Branch {
                id,
                code: branch.code.clone(),
                name: branch.name.clone(),
                community_id: branch.community_id,
                grid_ids,
            };
            let audit = NewAudit {
                user_id: by,
                action: if before.is_some() { "update" } else { "create" }.into(),
                entity: "branch".into(),
                entity_id: Some(id),
                before: before.as_ref().map(to_json),
                after: Some(to_json(&after)),
            };
            Self::insert_audit(&mut tx, &audit, None).await?;
        }
        tx.commit().await?;
        Ok(summary)
    }

    /// See [`crate::store::BranchStore::import_members`].
    pub(super) async fn put_members(
        &self,
        branch_id: Id,
        members: &[NewMember],
        by: Option<Id>,
    ) -> Result<WriteSummary> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        if Self::branch_on(&mut tx, branch_id).await?.is_none() {
            return Err(StoreError::NoSuchBranch(branch_id));
        }
        let mut summary = WriteSummary::default();
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (position, member) in members.iter().enumerate() {
            let refuse = |problem| StoreError::Item {
                position,
                code: member.phone.clone(),
                problem,
            };
            if let Some(&first) = seen.get(member.phone.as_str()) {
                return Err(refuse(ItemProblem::Repeated(first)));
            }
            seen.insert(&member.phone, position);
            let stored: Option<(i64,)> = sqlx::query_as(MEMBER_BY_PHONE)
                .bind(member.phone.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let written = match stored {
                Some((id,)) => {
                    summary.updated += 1;
                    sqlx::query(DB::UPDATE_MEMBER)
                        .bind(id)
                        .bind(branch_id)
                        .bind(member.name.as_str())
                        .bind(member.joined_on.as_str())
                        .bind(member.status.as_str())
                        .bind(member.city.as_deref())
                        .execute(&mut *tx)
                        .await
                        .map(|_| ())
                }
                None => {
                    summary.inserted += 1;
                    sqlx::query(DB::INSERT_MEMBER)
                        .bind(branch_id)
                        .bind(member.name.as_str())
                        .bind(member.phone.as_str())
                        .bind(member.joined_on.as_str())
                        .bind(member.status.as_str())
                        .bind(member.city.as_deref())
                        .execute(&mut *tx)
                        .await
                        .map(|_| ())
                }
            };
            written.map_err(|e| item_error(position, &member.phone, e))?;
        }
        let audit = NewAudit {
            user_id: by,
            action: "import_members".into(),
            entity: "branch".into(),
            entity_id: Some(branch_id),
            before: None,
            after: Some(serde_json::json!({
                "inserted": summary.inserted,
                "updated": summary.updated,
            })),
        };
        Self::insert_audit(&mut tx, &audit, None).await?;
        tx.commit().await?;
        Ok(summary)
    }
}

fn to_json(branch: &Branch) -> serde_json::Value {
    serde_json::to_value(branch).expect("a branch serialises")
}

#[async_trait]
impl<DB> BranchStore for SqlStore<DB>
where
    DB: Dialect,
    DB::Arguments: IntoArguments<DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> i32: Encode<'q, DB> + Type<DB>,
    for<'q> f64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<f64>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    (i64, i64): for<'r> FromRow<'r, DB::Row>,
    (String, Option<i64>): for<'r> FromRow<'r, DB::Row>,
    (i64, i64, String, String, Vec<u8>): for<'r> FromRow<'r, DB::Row>,
    BranchRow: for<'r> FromRow<'r, DB::Row>,
    MemberRow: for<'r> FromRow<'r, DB::Row>,
    ActivityRow: for<'r> FromRow<'r, DB::Row>,
    AttendanceRow: for<'r> FromRow<'r, DB::Row>,
    ActivityPhotoRow: for<'r> FromRow<'r, DB::Row>,
    AttendanceLineRow: for<'r> FromRow<'r, DB::Row>,
    LessonRow: for<'r> FromRow<'r, DB::Row>,
    SummaryCountsRow: for<'r> FromRow<'r, DB::Row>,
{
    async fn branches(&self) -> Result<Vec<Branch>> {
        self.all_branches().await
    }

    async fn upsert_branches(
        &self,
        branches: &[NewBranch],
        by: Option<Id>,
    ) -> Result<WriteSummary> {
        self.put_branches(branches, by).await
    }

    async fn members(&self, branch_id: Id) -> Result<Vec<Member>> {
        self.members_of(branch_id).await
    }

    async fn import_members(
        &self,
        branch_id: Id,
        members: &[NewMember],
        by: Option<Id>,
    ) -> Result<WriteSummary> {
        self.put_members(branch_id, members, by).await
    }

    async fn record_activity(&self, activity: &NewActivity) -> Result<Activity> {
        self.insert_activity(activity).await
    }

    async fn activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
        self.read_activities(filter).await
    }

    async fn put_activity_photo(&self, photo: &NewActivityPhoto) -> Result<(ActivityPhoto, bool)> {
        self.insert_activity_photo(photo).await
    }

    async fn activity_photo(&self, id: Id, copy: PhotoCopy) -> Result<Option<ActivityPhotoBytes>> {
        self.activity_photo_copy(id, copy).await
    }

    async fn attendance_lines(&self, since: &str, until: &str) -> Result<Vec<AttendanceLine>> {
        self.lines_between(since, until).await
    }

    async fn rolls(&self, branch_ids: &[Id]) -> Result<Vec<Member>> {
        self.rolls_of(branch_ids).await
    }

    async fn send_lesson(
        &self,
        lesson: &NewLesson,
        recipients: &[LessonRecipient],
    ) -> Result<Lesson> {
        self.insert_lesson(lesson, recipients).await
    }

    async fn summary_counts(&self, scope: &SummaryScope) -> Result<SummaryCounts> {
        self.count_summary(scope).await
    }

    async fn lessons(&self) -> Result<Vec<Lesson>> {
        self.lessons_where(None).await
    }

    async fn open_lesson(&self, token_hash: &str, at: &str) -> Result<Option<Lesson>> {
        self.read_lesson(token_hash, at).await
    }
}
