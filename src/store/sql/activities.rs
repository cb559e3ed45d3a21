//! Activities of branches with their rolls and photos, and the lessons sent to members.

use super::{Dialect, SqlStore};
use crate::model::Id;
use crate::model::branches::{
    Activity, ActivityFilter, ActivityPhoto, ActivityPhotoBytes, Attendance, AttendanceLine,
    NewActivity, NewActivityPhoto,
};
use crate::model::lessons::{Lesson, LessonRecipient, NewLesson};
use crate::model::photos::PhotoCopy;
use crate::model::summary::{SummaryCounts, SummaryScope};
use crate::store::rows::{
    ActivityPhotoRow, ActivityRow, AttendanceLineRow, AttendanceRow, LessonRow, SummaryCountsRow,
};
use crate::store::{Result, StoreError};
use sqlx::{Encode, Executor, FromRow, IntoArguments, Type};
use std::collections::{BTreeSet, HashMap};

/// The ids on branch `$1`'s roll: its members not transferred.
const ROLL_IDS: &str =
    "SELECT id FROM members WHERE branch_id = $1 AND status <> 'transferred' ORDER BY id";
const INSERT_ATTENDANCE: &str = "INSERT INTO activity_attendance \
     (activity_id, member_id, status, reason) VALUES ($1, $2, $3, $4)";
const PHOTO_KINDS: &str = "SELECT kind FROM activity_photos WHERE activity_id = $1";
const DELETE_PHOTO_OF_KIND: &str =
    "DELETE FROM activity_photos WHERE activity_id = $1 AND kind = $2";
const INSERT_RECIPIENT: &str = "INSERT INTO lesson_recipients \
     (lesson_id, member_id, branch_id, token_hash) VALUES ($1, $2, $3, $4)";

/// The statement that reads one copy of activity photo `$1`:
/// (activity_id, branch_id, kind, media_type, bytes).
fn copy_statement(copy: PhotoCopy) -> &'static str {
    match copy {
        PhotoCopy::Original => {
            "SELECT p.activity_id, a.branch_id, p.kind, p.media_type, p.original \
             FROM activity_photos p JOIN activities a ON a.id = p.activity_id WHERE p.id = $1"
        }
        PhotoCopy::Public => {
            "SELECT p.activity_id, a.branch_id, p.kind, 'image/jpeg', p.public \
             FROM activity_photos p JOIN activities a ON a.id = p.activity_id WHERE p.id = $1"
        }
        PhotoCopy::Thumbnail => {
            "SELECT p.activity_id, a.branch_id, p.kind, 'image/jpeg', p.thumbnail \
             FROM activity_photos p JOIN activities a ON a.id = p.activity_id WHERE p.id = $1"
        }
    }
}

impl<DB> SqlStore<DB>
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
    for<'q> Option<String>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    (i64,): for<'r> FromRow<'r, DB::Row>,
    (String,): for<'r> FromRow<'r, DB::Row>,
    (i64, i64, String, String, Vec<u8>): for<'r> FromRow<'r, DB::Row>,
    ActivityRow: for<'r> FromRow<'r, DB::Row>,
    AttendanceRow: for<'r> FromRow<'r, DB::Row>,
    ActivityPhotoRow: for<'r> FromRow<'r, DB::Row>,
    AttendanceLineRow: for<'r> FromRow<'r, DB::Row>,
    LessonRow: for<'r> FromRow<'r, DB::Row>,
    SummaryCountsRow: for<'r> FromRow<'r, DB::Row>,
{
    /// See [`crate::store::BranchStore::summary_counts`].
    pub(super) async fn count_summary(&self, scope: &SummaryScope) -> Result<SummaryCounts> {
        let json = |ids: &[Id]| serde_json::to_string(ids).expect("ids serialise");
        let row: SummaryCountsRow = sqlx::query_as(DB::SUMMARY_COUNTS)
            .bind(json(&scope.grid_ids))
            .bind(json(&scope.branch_ids))
            .bind(crate::store::instant(&scope.visited_since)?)
            .bind(crate::store::instant(&scope.activities_since)?)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.into())
    }

    /// See [`crate::store::BranchStore::record_activity`].
    pub(super) async fn insert_activity(&self, activity: &NewActivity) -> Result<Activity> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let roll: Vec<(i64,)> = sqlx::query_as(ROLL_IDS)
            .bind(activity.branch_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut missing: BTreeSet<Id> = roll.into_iter().map(|(id,)| id).collect();
        let mut strangers = Vec::new();
        for line in &activity.attendance {
            if !missing.remove(&line.member_id) {
                strangers.push(line.member_id);
            }
        }
        if !missing.is_empty() || !strangers.is_empty() {
            return Err(StoreError::RollMismatch {
                branch_id: activity.branch_id,
                missing: missing.into_iter().collect(),
                strangers,
            });
        }
        let id: i64 = sqlx::query_scalar(DB::INSERT_ACTIVITY)
            .bind(activity.branch_id)
            .bind(activity.kind.as_str())
            .bind(activity.theme.as_str())
            .bind(activity.held_at.as_str())
            .bind(activity.lon)
            .bind(activity.lat)
            .bind(activity.recorded_by)
            .bind(activity.recorded_at.as_str())
            .fetch_one(&mut *tx)
            .await?;
        for line in &activity.attendance {
            sqlx::query(INSERT_ATTENDANCE)
                .bind(id)
                .bind(line.member_id)
                .bind(line.status.as_str())
                .bind(line.reason.as_deref())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.activity_by_id(id)
            .await?
            .ok_or(StoreError::NoSuchActivity(id))
    }

    async fn activity_by_id(&self, id: Id) -> Result<Option<Activity>> {
        let filter = ActivityFilter {
            ids: Some(vec![id]),
            limit: 1,
            ..ActivityFilter::default()
        };
        Ok(self.read_activities(&filter).await?.pop())
    }

    /// See [`crate::store::BranchStore::activities`].
    pub(super) async fn read_activities(&self, filter: &ActivityFilter) -> Result<Vec<Activity>> {
        let json = |ids: &Option<Vec<Id>>| {
            ids.as_ref()
                .map(|ids| serde_json::to_string(ids).expect("ids serialise"))
        };
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let rows: Vec<ActivityRow> = sqlx::query_as(DB::ACTIVITIES)
            .bind(json(&filter.ids))
            .bind(json(&filter.branch_ids))
            .bind(filter.after.as_ref().map(|(at, _)| at.as_str()))
            .bind(limit)
            .bind(filter.after.as_ref().map(|&(_, id)| id))
            .fetch_all(&self.pool)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Id> = rows.iter().map(|r| r.id).collect();
        let ids = serde_json::to_string(&ids).expect("ids serialise");
        let lines: Vec<AttendanceRow> = sqlx::query_as(DB::ATTENDANCE_OF)
            .bind(ids.as_str())
            .fetch_all(&self.pool)
            .await?;
        let photos: Vec<ActivityPhotoRow> = sqlx::query_as(DB::ACTIVITY_PHOTOS_OF)
            .bind(ids.as_str())
            .fetch_all(&self.pool)
            .await?;
        let mut rolls: HashMap<Id, Vec<Attendance>> = HashMap::new();
        for line in lines {
            let activity = line.activity_id;
            rolls
                .entry(activity)
                .or_default()
                .push(Attendance::try_from(line)?);
        }
        let mut pictures: HashMap<Id, Vec<ActivityPhoto>> = HashMap::new();
        for photo in photos {
            let activity = photo.activity_id;
            pictures
                .entry(activity)
                .or_default()
                .push(ActivityPhoto::try_from(photo)?);
        }
        rows.into_iter()
            .map(|row| {
                Ok(Activity {
                    id: row.id,
                    branch_id: row.branch_id,
                    kind: row
                        .kind
                        .parse()
                        .map_err(|e: String| StoreError::Corrupt(e))?,
                    theme: row.theme,
                    held_at: row.held_at,
                    lon: row.lon,
                    lat: row.lat,
                    recorded_by: row.recorded_by,
                    recorded_at: row.recorded_at,
                    attendance: rolls.remove(&row.id).unwrap_or_default(),
                    photos: pictures.remove(&row.id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// See [`crate::store::BranchStore::put_activity_photo`].
    pub(super) async fn insert_activity_photo(
        &self,
        photo: &NewActivityPhoto,
    ) -> Result<(ActivityPhoto, bool)> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let locked: Option<(i64,)> = sqlx::query_as(DB::ACTIVITY_FOR_UPDATE)
            .bind(photo.activity_id)
            .fetch_optional(&mut *tx)
            .await?;
        if locked.is_none() {
            return Err(StoreError::NoSuchActivity(photo.activity_id));
        }
        let kinds: Vec<(String,)> = sqlx::query_as(PHOTO_KINDS)
            .bind(photo.activity_id)
            .fetch_all(&mut *tx)
            .await?;
        if kinds.len() >= crate::model::branches::ActivityPhotoKind::ALL.len() {
            return Err(StoreError::ActivityComplete(photo.activity_id));
        }
        let replaced = kinds.iter().any(|(k,)| k == photo.kind.as_str());
        sqlx::query(DELETE_PHOTO_OF_KIND)
            .bind(photo.activity_id)
            .bind(photo.kind.as_str())
            .execute(&mut *tx)
            .await?;
        let side = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
        let flags: Vec<&str> = photo.flags.iter().map(|f| f.as_str()).collect();
        let flags = serde_json::to_string(&flags).expect("flags serialise");
        let (lon, lat) = photo.taken_position.unzip();
        let id: i64 = sqlx::query_scalar(DB::INSERT_ACTIVITY_PHOTO)
            .bind(photo.activity_id)
            .bind(photo.kind.as_str())
            .bind(photo.media_type.as_str())
            .bind(side(photo.width))
            .bind(side(photo.height))
            .bind(photo.original.as_slice())
            .bind(photo.public.as_slice())
            .bind(photo.thumbnail.as_slice())
            .bind(photo.taken_at.as_deref())
            .bind(lon)
            .bind(lat)
            .bind(flags)
            .bind(photo.uploaded_by)
            .bind(photo.at.as_str())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let stored = ActivityPhoto {
            id,
            kind: photo.kind,
            media_type: photo.media_type.clone(),
            width: photo.width,
            height: photo.height,
            taken_at: photo.taken_at.clone(),
            flags: photo.flags.clone(),
            at: photo.at.clone(),
        };
        Ok((stored, replaced))
    }

    /// See [`crate::store::BranchStore::activity_photo`].
    pub(super) async fn activity_photo_copy(
        &self,
        id: Id,
        copy: PhotoCopy,
    ) -> Result<Option<ActivityPhotoBytes>> {
        let row: Option<(i64, i64, String, String, Vec<u8>)> = sqlx::query_as(copy_statement(copy))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|(activity_id, branch_id, kind, media_type, bytes)| {
            Ok(ActivityPhotoBytes {
                activity_id,
                branch_id,
                kind: kind.parse().map_err(|e: String| StoreError::Corrupt(e))?,
                media_type,
                bytes,
            })
        })
        .transpose()
    }

    /// See [`crate::store::BranchStore::attendance_lines`].
    pub(super) async fn lines_between(
        &self,
        since: &str,
        until: &str,
    ) -> Result<Vec<AttendanceLine>> {
        let rows: Vec<AttendanceLineRow> = sqlx::query_as(DB::ATTENDANCE_LINES)
            .bind(crate::store::instant(since)?)
            .bind(crate::store::instant(until)?)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(AttendanceLine::try_from).collect()
    }

    /// See [`crate::store::BranchStore::send_lesson`].
    pub(super) async fn insert_lesson(
        &self,
        lesson: &NewLesson,
        recipients: &[LessonRecipient],
    ) -> Result<Lesson> {
        let mut tx = self.pool.begin_with(DB::BEGIN_WRITE).await?;
        let id: i64 = sqlx::query_scalar(DB::INSERT_LESSON)
            .bind(lesson.title.as_str())
            .bind(lesson.body.as_str())
            .bind(lesson.link.as_deref())
            .bind(lesson.sent_by)
            .bind(lesson.sent_at.as_str())
            .fetch_one(&mut *tx)
            .await?;
        for recipient in recipients {
            sqlx::query(INSERT_RECIPIENT)
                .bind(id)
                .bind(recipient.member_id)
                .bind(recipient.branch_id)
                .bind(recipient.token_hash.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.lessons_where(Some(id))
            .await?
            .pop()
            .ok_or_else(|| StoreError::Corrupt(format!("lesson {id} vanished")))
    }

    /// Lesson `id`, or every lesson, newest first.
    pub(super) async fn lessons_where(&self, id: Option<Id>) -> Result<Vec<Lesson>> {
        let rows: Vec<LessonRow> = sqlx::query_as(DB::LESSONS)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(Lesson::try_from).collect()
    }

    /// See [`crate::store::BranchStore::open_lesson`].
    pub(super) async fn read_lesson(&self, token_hash: &str, at: &str) -> Result<Option<Lesson>> {
        let lesson: Option<(i64,)> = sqlx::query_as(DB::OPEN_LESSON)
            .bind(token_hash)
            .bind(crate::store::instant(at)?)
            .fetch_optional(&self.pool)
            .await?;
        match lesson {
            Some((id,)) => Ok(self.lessons_where(Some(id)).await?.pop()),
            None => Ok(None),
        }
    }
}
