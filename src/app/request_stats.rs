//! How well requests are answered, per category, grid, community or street: counts, rates and
//! response times. Each request carries its milestones, kept from its steps by the database
//! ([`crate::store::Store::request_timings`]); this module groups them and takes the medians
//! and 90th percentiles. Counts and times only: nothing personal.

use super::{App, MapData};
use crate::model::Id;
use crate::model::requests::{RequestState, RequestTiming, category};
use crate::store::StoreError;
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};

/// What the requests are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestGrouping {
    /// Their category (Open311's service).
    Category,
    /// The grid of their spot.
    Grid,
    /// The community of their spot.
    Community,
    /// The street of their spot.
    Street,
}

/// Minutes from a request's report to a milestone, over the requests that reached it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Durations {
    /// How many reached it.
    pub count: usize,
    /// The median, in minutes of wall-clock time (the lower middle value of an even count).
    pub median_min: Option<f64>,
    /// The 90th percentile (nearest rank), in minutes.
    pub p90_min: Option<f64>,
}

impl Durations {
    fn of(mut minutes: Vec<f64>) -> Durations {
        minutes.sort_by(f64::total_cmp);
        Durations {
            count: minutes.len(),
            median_min: nearest_rank(&minutes, 0.5),
            p90_min: nearest_rank(&minutes, 0.9),
        }
    }
}

/// The value at quantile `q` of sorted `values` by the nearest-rank method: the smallest value
/// with at least a share `q` of the values at or below it.
fn nearest_rank(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// The figures of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestStatsRow {
    /// The category's code, or the place's code.
    pub code: String,
    /// The place's id; `None` for a category.
    pub id: Option<Id>,
    /// The category's or place's name.
    pub name: String,
    /// Reported in the window.
    pub requests: usize,
    /// Of those, still open.
    pub open: usize,
    /// Open past the day they were expected to be handled.
    pub overdue: usize,
    /// Closed (fixed or not).
    pub closed: usize,
    /// Closed fixed.
    pub fixed: usize,
    /// Not ours (不予受理).
    pub rejected: usize,
    /// Duplicates of another.
    pub duplicates: usize,
    /// 结案率: closed over the requests that were ours to close (neither rejected nor
    /// duplicates); `None` without any.
    pub closing_rate: Option<f64>,
    /// 按期结案率: closed by the expected day over closed.
    pub on_time_rate: Option<f64>,
    /// 返工率: handled ones whose check failed at least once, over handled ones.
    pub rework_rate: Option<f64>,
    /// From report to acceptance (立案).
    pub to_accept: Durations,
    /// From report to first handling: someone was at the door (处置).
    pub to_door: Durations,
    /// From report to closing (结案).
    pub to_close: Durations,
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

fn minutes_between(from: OffsetDateTime, to: Option<OffsetDateTime>) -> Option<f64> {
    Some((to? - from).as_seconds_f64() / 60.0)
}

impl App {
    /// The figures of requests reported in the last `days` days before `now`, grouped by
    /// `grouping`, in the order of the groups' codes.
    pub async fn request_stats(
        &self,
        grouping: RequestGrouping,
        days: u32,
        now: OffsetDateTime,
    ) -> Result<Vec<RequestStatsRow>, StoreError> {
        let since = crate::timestamp::format(now - Duration::days(i64::from(days)));
        let until = crate::timestamp::format(now + Duration::milliseconds(1));
        let timings = self.store.request_timings(&since, &until, None).await?;
        let map = self.map_data();
        let mut groups: BTreeMap<(String, Option<Id>, String), Vec<RequestTiming>> =
            BTreeMap::new();
        for timing in timings {
            if let Some(key) = group_of(&map, grouping, &timing) {
                groups.entry(key).or_default().push(timing);
            }
        }
        Ok(groups
            .into_iter()
            .map(|((code, id, name), timings)| self.row(code, id, name, &timings, now))
            .collect())
    }

    /// The figures of `timings` as one group.
    pub(super) fn row(
        &self,
        code: String,
        id: Option<Id>,
        name: String,
        timings: &[RequestTiming],
        now: OffsetDateTime,
    ) -> RequestStatsRow {
        let count = |state: RequestState| timings.iter().filter(|t| t.state == state).count();
        let (mut accept, mut door, mut close) = (Vec::new(), Vec::new(), Vec::new());
        let (mut open, mut overdue, mut on_time, mut handled, mut reworked) = (0, 0, 0, 0, 0);
        for t in timings {
            let reported = t.requested_at;
            accept.extend(minutes_between(reported, t.accepted_at));
            door.extend(minutes_between(reported, t.handled_at));
            let expected = category(&t.category).map(|c| {
                self.calendar
                    .add_working_hours(t.opened_at, c.handle_days * 24)
            });
            if t.state.is_open() {
                open += 1;
                overdue += usize::from(expected.is_some_and(|e| e < now));
            }
            if t.state == RequestState::Closed {
                close.extend(minutes_between(reported, t.closed_at));
                on_time += usize::from(expected.zip(t.closed_at).is_some_and(|(e, c)| c <= e));
            }
            if t.handled_at.is_some() {
                handled += 1;
                reworked += usize::from(t.reworks > 0);
            }
        }
        let closed = count(RequestState::Closed);
        let (rejected, duplicates) = (
            count(RequestState::Rejected),
            count(RequestState::Duplicate),
        );
        RequestStatsRow {
            code,
            id,
            name,
            requests: timings.len(),
            open,
            overdue,
            closed,
            fixed: timings.iter().filter(|t| t.fixed == Some(true)).count(),
            rejected,
            duplicates,
            closing_rate: ratio(closed, timings.len() - rejected - duplicates),
            on_time_rate: ratio(on_time, closed),
            rework_rate: ratio(reworked, handled),
            to_accept: Durations::of(accept),
            to_door: Durations::of(door),
            to_close: Durations::of(close),
        }
    }
}

/// The group of a request: (code, place id, name); `None` for a place no longer known.
fn group_of(
    map: &MapData,
    grouping: RequestGrouping,
    t: &RequestTiming,
) -> Option<(String, Option<Id>, String)> {
    let place = match grouping {
        RequestGrouping::Category => {
            let name = category(&t.category).map_or(t.category.as_str(), |c| c.name);
            return Some((t.category.clone(), None, name.to_string()));
        }
        RequestGrouping::Grid => t.spot.grid_id,
        RequestGrouping::Community => t.spot.community_id,
        RequestGrouping::Street => t.spot.street_id?,
    };
    let p = map.places.iter().find(|p| p.id == place)?;
    Some((p.code.clone(), Some(p.id), p.name.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_and_ninetieth_percentile_are_values_of_the_list_by_nearest_rank() {
        let minutes: Vec<f64> = (1..=10).map(f64::from).collect();
        let d = Durations::of(minutes.into_iter().rev().collect());
        assert_eq!(d.count, 10);
        assert_eq!(d.median_min, Some(5.0));
        assert_eq!(d.p90_min, Some(9.0));
        let one = Durations::of(vec![42.0]);
        assert_eq!((one.median_min, one.p90_min), (Some(42.0), Some(42.0)));
        assert_eq!(Durations::of(Vec::new()), Durations::default());
    }
}
