//! The one summary of a street, a community or a grid that the screen (党建信息屏) and the
//! leaders' big screen show: households, members, visit coverage, requests and attendance.
//! Counts come from the database ([`crate::store::BranchStore::summary_counts`], each figure one
//! aggregate over the rows it counts); the requests' rates and times come from the milestones
//! each request carries ([`crate::store::Store::request_timings`]), read alongside. Counts only:
//! nothing personal.

use super::App;
use super::request_stats::RequestStatsRow;
use crate::model::summary::{SummaryCounts, SummaryScope};
use crate::model::{Id, PlaceKind};
use crate::store::StoreError;
use serde::Serialize;
use std::collections::HashSet;
use time::{Date, Duration, Month, OffsetDateTime, Time};

/// The window of visit coverage, in days.
pub const COVERAGE_DAYS: i64 = 30;
/// The window of the requests' rates and times, in days: a quarter.
pub const REQUEST_DAYS: i64 = 90;

/// The summary of one unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// `street`, `community` or `grid`.
    pub level: PlaceKind,
    /// The unit's place id.
    pub id: Id,
    /// Its code.
    pub code: String,
    /// Its name.
    pub name: String,
    /// Its grids.
    pub grids: usize,
    /// Its party branches.
    pub branches: usize,
    /// The counts as the database made them.
    #[serde(flatten)]
    pub counts: SummaryCounts,
    /// Households visited at the door in the last [`COVERAGE_DAYS`] days over all, 0 to 1.
    pub coverage: Option<f64>,
    /// Present or online over the roll lines of the quarter's complete activities, 0 to 1.
    pub attendance_rate: Option<f64>,
    /// Since when visits count, RFC 3339 UTC.
    pub visited_since: String,
    /// The start of the quarter (China time), RFC 3339 UTC.
    pub quarter_since: String,
    /// The requests reported in the last [`REQUEST_DAYS`] days: 结案率, 按期结案率, overdue ones,
    /// time to the door.
    pub requests: RequestStatsRow,
}

/// Why a summary was refused.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    /// The id names no place of the level asked for.
    #[error("there is no {level} with id {id}")]
    NoSuchUnit {
        /// The level asked for.
        level: PlaceKind,
        /// The id given.
        id: Id,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The first instant of the quarter `now` is in, in China time (UTC+8).
fn quarter_start(now: OffsetDateTime) -> OffsetDateTime {
    let local = now.to_offset(crate::timestamp::LOCAL_OFFSET);
    let first_month = (u8::from(local.month()) - 1) / 3 * 3 + 1;
    let month = Month::try_from(first_month).expect("a month from 1 to 10");
    let day = Date::from_calendar_date(local.year(), month, 1).expect("the 1st exists");
    day.with_time(Time::MIDNIGHT)
        .assume_offset(crate::timestamp::LOCAL_OFFSET)
}

impl App {
    /// The summary of the street, community or grid `id` at `now`.
    pub async fn summary(
        &self,
        level: PlaceKind,
        id: Id,
        now: OffsetDateTime,
    ) -> Result<Summary, SummaryError> {
        let map = self.map_data();
        let unit = map
            .places
            .iter()
            .find(|p| p.id == id && p.kind == level)
            .ok_or(SummaryError::NoSuchUnit { level, id })?;
        let parent = |p: Option<Id>| map.places.iter().find(|q| Some(q.id) == p);
        // The communities of the unit, and its grids.
        let communities: HashSet<Id> = match level {
            PlaceKind::Street => map
                .places
                .iter()
                .filter(|p| p.kind == PlaceKind::Community && p.parent_id == Some(id))
                .map(|p| p.id)
                .collect(),
            PlaceKind::Community => HashSet::from([id]),
            _ => HashSet::new(),
        };
        let grid_ids: Vec<Id> = map
            .places
            .iter()
            .filter(|p| p.kind == PlaceKind::Grid)
            .filter(|p| match level {
                PlaceKind::Grid => p.id == id,
                _ => parent(p.parent_id).is_some_and(|c| communities.contains(&c.id)),
            })
            .map(|p| p.id)
            .collect();
        let branch_ids: Vec<Id> = map
            .branches
            .iter()
            .filter(|b| match level {
                PlaceKind::Grid => b.grid_ids.contains(&id),
                _ => communities.contains(&b.community_id),
            })
            .map(|b| b.id)
            .collect();
        let visited_since = crate::timestamp::format(now - Duration::days(COVERAGE_DAYS));
        let quarter_since = crate::timestamp::format(quarter_start(now));
        let since = crate::timestamp::format(now - Duration::days(REQUEST_DAYS));
        let until = crate::timestamp::format(now + Duration::milliseconds(1));
        let scope = SummaryScope {
            grid_ids: grid_ids.clone(),
            branch_ids: branch_ids.clone(),
            visited_since: visited_since.clone(),
            activities_since: quarter_since.clone(),
        };
        // Two independent reads: on PostGIS each runs on its own connection, side by side.
        let (counts, timings) = tokio::try_join!(
            self.store.summary_counts(&scope),
            self.store.request_timings(&since, &until, Some(&grid_ids)),
        )?;
        let requests = self.row(
            unit.code.clone(),
            Some(unit.id),
            unit.name.clone(),
            &timings,
            now,
        );
        let ratio = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        Ok(Summary {
            level,
            id,
            code: unit.code.clone(),
            name: unit.name.clone(),
            grids: grid_ids.len(),
            branches: branch_ids.len(),
            counts,
            coverage: ratio(counts.visited, counts.households),
            attendance_rate: ratio(counts.took_part, counts.roll_lines),
            visited_since,
            quarter_since,
            requests,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_quarter_starts_on_its_first_day_in_china() {
        // 2026-09-30T17:00Z is already 1 October in China: the fourth quarter.
        assert_eq!(
            quarter_start(datetime!(2026-09-30 17:00 UTC)),
            datetime!(2026-10-01 00:00 +8)
        );
        assert_eq!(
            quarter_start(datetime!(2026-09-30 15:00 UTC)),
            datetime!(2026-07-01 00:00 +8)
        );
        assert_eq!(
            quarter_start(datetime!(2026-02-14 03:00 UTC)),
            datetime!(2026-01-01 00:00 +8)
        );
    }
}
