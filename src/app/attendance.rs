//! Attendance rates (出勤率) by month or quarter: per branch for everyone signed in (the branches
//! of a community see each other's, which is what makes them compete), per member for those who
//! manage the branch. Only complete activities count (three photos in); a member's line counts
//! as taking part when they were present or online.

use super::App;
use super::access::manages_branch;
use super::branches::BranchError;
use crate::auth::User;
use crate::model::Id;
use crate::model::branches::{AttendanceLine, AttendanceStatus};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use time::{Date, Month, OffsetDateTime, Time};

/// The periods rates are counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// A calendar month, `2026-11`.
    Month,
    /// A quarter, `2026-Q4`.
    Quarter,
}

impl Period {
    /// The period (in China time) an instant falls in, as its label.
    fn label(self, at: OffsetDateTime) -> String {
        let local = at.to_offset(crate::timestamp::LOCAL_OFFSET);
        let month = u8::from(local.month());
        match self {
            Period::Month => format!("{}-{month:02}", local.year()),
            Period::Quarter => format!("{}-Q{}", local.year(), (month - 1) / 3 + 1),
        }
    }
}

/// The attendance of one branch, or one member, over one period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttendanceRow {
    /// The branch.
    pub branch_id: Id,
    /// The member, in a member's row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_id: Option<Id>,
    /// `2026-11` or `2026-Q4`.
    pub period: String,
    /// Complete activities held in it.
    pub activities: usize,
    /// Roll lines of those activities.
    pub lines: usize,
    /// Of those, present or online.
    pub took_part: usize,
    /// `took_part / lines`, 0 to 1.
    pub rate: Option<f64>,
}

/// The first instant of `year` and of the next year, in China time, as stored instants.
fn year_window(year: i32) -> Option<(String, String)> {
    let start = |y: i32| {
        Date::from_calendar_date(y, Month::January, 1)
            .ok()
            .map(|d| d.with_time(Time::MIDNIGHT))
            .map(|t| crate::timestamp::format(t.assume_offset(crate::timestamp::LOCAL_OFFSET)))
    };
    Some((start(year)?, start(year + 1)?))
}

/// Rows of `lines` grouped by `key` and period, in the order of the keys.
fn rows<K: Ord + Copy>(
    lines: &[AttendanceLine],
    period: Period,
    key: impl Fn(&AttendanceLine) -> K,
    row: impl Fn(K, String, usize, usize, BTreeSet<Id>) -> AttendanceRow,
) -> Vec<AttendanceRow> {
    let mut groups: BTreeMap<(K, String), (usize, usize, BTreeSet<Id>)> = BTreeMap::new();
    for line in lines {
        let Ok(at) = OffsetDateTime::parse(
            &line.held_at,
            &time::format_description::well_known::Rfc3339,
        ) else {
            continue;
        };
        let group = groups.entry((key(line), period.label(at))).or_default();
        group.0 += 1;
        group.1 += usize::from(line.status != AttendanceStatus::Absent);
        group.2.insert(line.activity_id);
    }
    groups
        .into_iter()
        .map(|((k, label), (lines, took_part, activities))| {
            row(k, label, lines, took_part, activities)
        })
        .collect()
}

fn rate(took_part: usize, lines: usize) -> Option<f64> {
    (lines > 0).then(|| took_part as f64 / lines as f64)
}

impl App {
    /// Each branch's attendance (of `community`, or every branch) by period over `year`.
    pub async fn branch_attendance(
        &self,
        community: Option<Id>,
        period: Period,
        year: i32,
    ) -> Result<Vec<AttendanceRow>, BranchError> {
        let (since, until) =
            year_window(year).ok_or_else(|| BranchError::Invalid(format!("no year {year}")))?;
        let branches: HashMap<Id, Id> = self
            .branches()
            .iter()
            .map(|b| (b.id, b.community_id))
            .collect();
        let lines: Vec<AttendanceLine> = self
            .store
            .attendance_lines(&since, &until)
            .await?
            .into_iter()
            .filter(|l| community.is_none_or(|c| branches.get(&l.branch_id) == Some(&c)))
            .collect();
        Ok(rows(
            &lines,
            period,
            |l| l.branch_id,
            |branch_id, period, lines, took_part, activities| AttendanceRow {
                branch_id,
                member_id: None,
                period,
                activities: activities.len(),
                lines,
                took_part,
                rate: rate(took_part, lines),
            },
        ))
    }

    /// Each member's attendance in a branch `user` manages, by period over `year`.
    pub async fn member_attendance(
        &self,
        user: &User,
        branch_id: Id,
        period: Period,
        year: i32,
    ) -> Result<Vec<AttendanceRow>, BranchError> {
        let branch = self.branch(branch_id)?;
        if !manages_branch(user, &branch) {
            return Err(BranchError::NotYourBranch(branch_id));
        }
        let (since, until) =
            year_window(year).ok_or_else(|| BranchError::Invalid(format!("no year {year}")))?;
        let lines: Vec<AttendanceLine> = self
            .store
            .attendance_lines(&since, &until)
            .await?
            .into_iter()
            .filter(|l| l.branch_id == branch_id)
            .collect();
        Ok(rows(
            &lines,
            period,
            |l| l.member_id,
            |member_id, period, lines, took_part, activities| AttendanceRow {
                branch_id,
                member_id: Some(member_id),
                period,
                activities: activities.len(),
                lines,
                took_part,
                rate: rate(took_part, lines),
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn periods_are_labelled_in_china_time() {
        let new_year_eve = datetime!(2026-12-31 16:30 UTC); // 2027-01-01 00:30 in China
        assert_eq!(Period::Month.label(new_year_eve), "2027-01");
        assert_eq!(Period::Quarter.label(new_year_eve), "2027-Q1");
        assert_eq!(
            Period::Quarter.label(datetime!(2026-11-30 01:00 UTC)),
            "2026-Q4"
        );
        assert_eq!(
            year_window(2026),
            Some((
                "2025-12-31T16:00:00.000Z".to_string(),
                "2026-12-31T16:00:00.000Z".to_string()
            ))
        );
    }
}
