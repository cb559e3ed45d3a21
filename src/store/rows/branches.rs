//! Rows of branches, members, activities and lessons, as both backends select them.

use super::{Result, parse};
use crate::model::Id;
use crate::model::branches::{
    ActivityPhoto, Attendance, AttendanceLine, Branch, Member, PhotoFlag,
};
use crate::model::lessons::Lesson;
use crate::model::summary::SummaryCounts;
use crate::store::StoreError;

/// The columns of the branches' statements (`store::sql::branches`).
#[derive(sqlx::FromRow)]
pub struct BranchRow {
    pub(crate) id: Id,
    code: String,
    name: String,
    pub(crate) community_id: Id,
}

impl BranchRow {
    /// The branch, with the grids it serves.
    pub fn with_grids(self, grid_ids: Vec<Id>) -> Branch {
        Branch {
            id: self.id,
            code: self.code,
            name: self.name,
            community_id: self.community_id,
            grid_ids,
        }
    }
}

/// The columns of `Dialect::MEMBERS` and `Dialect::ROLLS`.
#[derive(sqlx::FromRow)]
pub struct MemberRow {
    id: Id,
    branch_id: Id,
    name: String,
    phone: String,
    joined_on: String,
    status: String,
    city: Option<String>,
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;
    fn try_from(row: MemberRow) -> Result<Member> {
        Ok(Member {
            id: row.id,
            branch_id: row.branch_id,
            name: row.name,
            phone: row.phone,
            joined_on: row.joined_on,
            status: parse("member status", &row.status)?,
            city: row.city,
        })
    }
}

/// The columns of `Dialect::ACTIVITIES`.
#[derive(sqlx::FromRow)]
pub struct ActivityRow {
    pub(crate) id: Id,
    pub(crate) branch_id: Id,
    pub(crate) kind: String,
    pub(crate) theme: String,
    pub(crate) held_at: String,
    pub(crate) lon: f64,
    pub(crate) lat: f64,
    pub(crate) recorded_by: Id,
    pub(crate) recorded_at: String,
}

/// The columns of `Dialect::ATTENDANCE_OF`.
#[derive(sqlx::FromRow)]
pub struct AttendanceRow {
    pub(crate) activity_id: Id,
    member_id: Id,
    status: String,
    reason: Option<String>,
}

impl TryFrom<AttendanceRow> for Attendance {
    type Error = StoreError;
    fn try_from(row: AttendanceRow) -> Result<Attendance> {
        Ok(Attendance {
            member_id: row.member_id,
            status: parse("attendance", &row.status)?,
            reason: row.reason,
        })
    }
}

/// The columns of `Dialect::ACTIVITY_PHOTOS_OF`.
#[derive(sqlx::FromRow)]
pub struct ActivityPhotoRow {
    pub(crate) activity_id: Id,
    id: Id,
    kind: String,
    media_type: String,
    width: i32,
    height: i32,
    taken_at: Option<String>,
    flags: String,
    at: String,
}

impl TryFrom<ActivityPhotoRow> for ActivityPhoto {
    type Error = StoreError;
    fn try_from(row: ActivityPhotoRow) -> Result<ActivityPhoto> {
        let side = |n: i32| {
            u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("a photo {n} pixels wide")))
        };
        let flags: Vec<String> = serde_json::from_str(&row.flags)
            .map_err(|e| StoreError::Corrupt(format!("photo flags {:?}: {e}", row.flags)))?;
        Ok(ActivityPhoto {
            id: row.id,
            kind: parse("activity photo kind", &row.kind)?,
            media_type: row.media_type,
            width: side(row.width)?,
            height: side(row.height)?,
            taken_at: row.taken_at,
            flags: flags
                .iter()
                .map(|f| parse::<PhotoFlag>("photo flag", f))
                .collect::<Result<_>>()?,
            at: row.at,
        })
    }
}

/// The columns of `Dialect::ATTENDANCE_LINES`.
#[derive(sqlx::FromRow)]
pub struct AttendanceLineRow {
    activity_id: Id,
    branch_id: Id,
    member_id: Id,
    held_at: String,
    status: String,
}

impl TryFrom<AttendanceLineRow> for AttendanceLine {
    type Error = StoreError;
    fn try_from(row: AttendanceLineRow) -> Result<AttendanceLine> {
        Ok(AttendanceLine {
            activity_id: row.activity_id,
            branch_id: row.branch_id,
            member_id: row.member_id,
            held_at: row.held_at,
            status: parse("attendance", &row.status)?,
        })
    }
}

/// The columns of `Dialect::SUMMARY_COUNTS`.
#[derive(sqlx::FromRow)]
pub struct SummaryCountsRow {
    households: i64,
    visited: i64,
    members: i64,
    mobile_members: i64,
    open_requests: i64,
    activities: i64,
    took_part: i64,
    roll_lines: i64,
}

impl From<SummaryCountsRow> for SummaryCounts {
    fn from(row: SummaryCountsRow) -> SummaryCounts {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        SummaryCounts {
            households: n(row.households),
            visited: n(row.visited),
            members: n(row.members),
            mobile_members: n(row.mobile_members),
            open_requests: n(row.open_requests),
            activities: n(row.activities),
            took_part: n(row.took_part),
            roll_lines: n(row.roll_lines),
        }
    }
}

/// The columns of `Dialect::LESSONS`; `branch_ids` a JSON array.
#[derive(sqlx::FromRow)]
pub struct LessonRow {
    id: Id,
    title: String,
    body: String,
    link: Option<String>,
    sent_by: Id,
    sent_at: String,
    branch_ids: String,
    recipients: i64,
    reads: i64,
}

impl TryFrom<LessonRow> for Lesson {
    type Error = StoreError;
    fn try_from(row: LessonRow) -> Result<Lesson> {
        let mut branch_ids: Vec<Id> = serde_json::from_str(&row.branch_ids).map_err(|e| {
            StoreError::Corrupt(format!("lesson branches {:?}: {e}", row.branch_ids))
        })?;
        branch_ids.sort_unstable();
        branch_ids.dedup();
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Lesson {
            id: row.id,
            title: row.title,
            body: row.body,
            link: row.link,
            sent_by: row.sent_by,
            sent_at: row.sent_at,
            branch_ids,
            recipients: count(row.recipients),
            reads: count(row.reads),
        })
    }
}
