//! The visit diary (民情日记) as use cases: who sees which households, recording a visit at the
//! door (once per idempotency key, with its distance from the household), needs met, and the
//! due households of a cadre in walking order.
//!
//! Memory keeps, beside the snapshot, when each household was last visited
//! ([`VisitTimes`]): the plans and the coverage read only that, so they answer for a whole
//! street without reading the visits table.

use super::access::{HouseholdScope, grids_of, may_visit};
use super::cpu::Busy;
use super::{App, HouseholdPoint, MapData};
use crate::auth::{Role, User};
use crate::model::visits::{Need, NeedCounts, NewNeed, NewVisit, Visit};
use crate::model::{Household, Id, NewHousehold, PlaceKind};
use crate::spatial::route::{Walk, WalkingOrder};
use crate::store::{ItemProblem, StoreError};
use crate::timestamp::{from_millis as stored, now_millis, to_millis as millis};
use geo::{Contains, Coord, Distance, Haversine, MultiPoint, Point};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, RwLock};

/// A phone's clock may run a little ahead of the server's: a visit this far in the future is
/// taken as now-ish, further is refused.
const CLOCK_SKEW_MS: i64 = 5 * 60 * 1000;
/// Within this many metres of the household (plus the stated accuracy) a visit is on site.
const ON_SITE_METRES: f64 = 50.0;
/// However poor the accuracy, no further than this.
const ON_SITE_CAP_METRES: f64 = 100.0;
/// The most households one walk orders: a cadre's areas hold a few hundred to two thousand;
/// an admin, who sees every household, walks to the nearest of those due.
pub const MAX_WALK: usize = 2_000;
/// A day, in the milliseconds of [`VisitTimes`].
pub(super) const DAY_MS: i64 = 86_400_000;

/// How often households are visited, by tag; the tags households may carry are its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitPolicy {
    /// Days between visits of a household without a tag listed here.
    pub default_days: u32,
    /// Days between visits by tag; a household with several tags is visited as often as the
    /// most demanding asks.
    pub intervals: BTreeMap<String, u32>,
}

impl Default for VisitPolicy {
    fn default() -> Self {
        let intervals = [
            ("elderly_alone", 7),
            ("disabled", 14),
            ("child_left_behind", 14),
            ("low_income", 30),
            ("mobile_member", 30),
            ("veteran", 60),
            ("party_member", 90),
        ];
        VisitPolicy {
            default_days: 90,
            intervals: intervals
                .into_iter()
                .map(|(tag, days)| (tag.to_string(), days))
                .collect(),
        }
    }
}

impl VisitPolicy {
    /// Days between visits of a household with these tags.
    pub fn interval_days(&self, tags: &[String]) -> u32 {
        tags.iter()
            .filter_map(|t| self.intervals.get(t))
            .copied()
            .min()
            .unwrap_or(self.default_days)
    }

    /// Refuses the first household that carries a tag without an interval.
    pub fn check_tags(&self, households: &[NewHousehold]) -> Result<(), StoreError> {
        for (position, h) in households.iter().enumerate() {
            if let Some(tag) = h
                .details
                .tags
                .iter()
                .find(|t| !self.intervals.contains_key(*t))
            {
                let known: Vec<&str> = self.intervals.keys().map(String::as_str).collect();
                return Err(StoreError::Item {
                    position,
                    code: h.code.clone(),
                    problem: ItemProblem::UnknownTag {
                        tag: tag.clone(),
                        known: known.join(", "),
                    },
                });
            }
        }
        Ok(())
    }

    /// A policy from `TAG=DAYS` pairs, each tag's interval; tags not given are unknown.
    ///
    /// ```
    /// use wangge::app::VisitPolicy;
    /// let policy = VisitPolicy::from_pairs(&["elderly_alone=3".into()], 60).unwrap();
    /// assert_eq!(policy.interval_days(&["elderly_alone".into()]), 3);
    /// assert_eq!(policy.interval_days(&[]), 60);
    /// assert!(VisitPolicy::from_pairs(&["elderly_alone".into()], 60).is_err());
    /// ```
    pub fn from_pairs(pairs: &[String], default_days: u32) -> Result<VisitPolicy, String> {
        let intervals = pairs
            .iter()
            .map(|pair| {
                let (tag, days) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not TAG=DAYS"))?;
                let days: u32 = days
                    .trim()
                    .parse()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| format!("{pair:?}: days are a whole number from 1 to 3650"))?;
                Ok((tag.trim().to_string(), days))
            })
            .collect::<Result<_, String>>()?;
        Ok(VisitPolicy {
            default_days,
            intervals,
        })
    }
}

/// When a household was last visited, in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VisitTimes {
    /// Its latest visit of any kind.
    pub any: Option<i64>,
    /// Its latest visit at the door, which plans and coverage count.
    pub on_site: Option<i64>,
}

/// The latest visits of every household, kept beside the snapshot: visits come many times a
/// minute and change no map, so they do not make new snapshots.
#[derive(Debug, Default)]
pub(super) struct Diary {
    times: RwLock<HashMap<Id, VisitTimes>>,
}

impl Diary {
    pub(super) fn replace(&self, times: HashMap<Id, VisitTimes>) {
        *self.times.write().unwrap_or_else(|e| e.into_inner()) = times;
    }

    fn record(&self, household_id: Id, at: i64, on_site: bool) {
        let mut times = self.times.write().unwrap_or_else(|e| e.into_inner());
        let entry = times.entry(household_id).or_default();
        entry.any = entry.any.max(Some(at));
        if on_site {
            entry.on_site = entry.on_site.max(Some(at));
        }
    }

    fn set(&self, household_id: Id, times: VisitTimes) {
        let mut all = self.times.write().unwrap_or_else(|e| e.into_inner());
        all.insert(household_id, times);
    }

    /// The times of every household, read under one lock.
    pub(super) fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Id, VisitTimes>> {
        self.times.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Why a use case of the diary was refused.
#[derive(Debug, thiserror::Error)]
pub enum VisitError {
    /// No household has this id, or none the caller may see (the two are not told apart, so
    /// that ids cannot be probed).
    #[error("there is no household with id {0}")]
    NoSuchHousehold(Id),
    /// The caller may read statistics only.
    #[error("a {0} sees household statistics only, not households")]
    CountsOnly(Role),
    /// Only the holder of one of the household's areas (or an admin) records its visits.
    #[error("household {0} is in no area you hold; only its area's holder records its visits")]
    NotYours(Id),
    /// `visited_at` is later than now.
    #[error("visited_at {0} is in the future")]
    InTheFuture(String),
    /// `visited_at` is not an RFC 3339 date-time.
    #[error("visited_at {0:?} is not an RFC 3339 date-time such as 2026-12-02T10:30:00+08:00")]
    BadTime(String),
    /// The phone was outside every grid: a position from elsewhere, not a visit here.
    #[error("the position ({lon}, {lat}) is outside every grid")]
    OutsideGrids {
        /// WGS84 longitude.
        lon: f64,
        /// WGS84 latitude.
        lat: f64,
    },
    /// Only who recorded a visit (or an admin) corrects it.
    #[error("visit {0} was recorded by someone else; only they or an admin may correct it")]
    NotYourVisit(Id),
    /// A need a user may not mark met.
    #[error("need {0} is of a household you do not answer for")]
    NotYourNeed(Id),
    /// Too much CPU work is in line to order the walk now.
    #[error("{0}")]
    Busy(#[from] Busy),
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A visit as a phone sends it, its position in WGS84 already.
#[derive(Debug, Clone)]
pub struct VisitInput {
    /// The household visited.
    pub household_id: Id,
    /// The phone's own id for the record (`Idempotency-Key`).
    pub key: String,
    /// When, RFC 3339 with any offset.
    pub visited_at: String,
    /// Where the phone was, WGS84.
    pub position: Coord<f64>,
    /// The accuracy the phone stated, metres.
    pub accuracy_m: Option<f64>,
    /// What the cadre wrote.
    pub notes: String,
    /// What the household needs.
    pub needs: Vec<NewNeed>,
    /// The visit this record corrects (the caller's own, or any for an admin).
    pub corrects: Option<Id>,
}

/// Which households a list asks for, beside the caller's scope.
#[derive(Debug, Clone, Default)]
pub struct HouseholdFilter {
    /// In this area.
    pub area: Option<Id>,
    /// In this grid.
    pub grid: Option<Id>,
    /// In a grid of this community.
    pub community: Option<Id>,
    /// In an area this cadre (user id) holds now.
    pub cadre: Option<Id>,
    /// In the building with this code.
    pub building: Option<String>,
    /// Carrying this tag.
    pub tag: Option<String>,
    /// Head's name, address or code containing this text.
    pub text: Option<String>,
    /// Due (or overdue) for a visit.
    pub due: bool,
}

/// A household with what its visits say.
#[derive(Debug, Clone)]
pub struct HouseholdView {
    /// As stored, with its personal data.
    pub household: Household,
    /// Its latest visits.
    pub times: VisitTimes,
    /// When its next visit is due (Unix ms): its last on-site visit plus its interval; `None`
    /// for a household never visited at the door, which is due now.
    pub next_due: Option<i64>,
}

/// One page of households.
#[derive(Debug, Clone)]
pub struct HouseholdPage {
    /// How many households match, over all pages.
    pub matched: usize,
    /// This page's households, by id.
    pub households: Vec<HouseholdView>,
}

/// My due households in walking order.
#[derive(Debug, Clone)]
pub struct DueWalk {
    /// How many households are due, of which the walk takes the [`MAX_WALK`] nearest.
    pub matched: usize,
    /// In walking order.
    pub households: Vec<HouseholdView>,
    /// The length of the walk from the start, metres on the ground.
    pub metres: f64,
}

/// When a household with `times` and `tags` is next due, by `policy`.
pub(super) fn next_due(policy: &VisitPolicy, times: VisitTimes, tags: &[String]) -> Option<i64> {
    let days = i64::from(policy.interval_days(tags));
    times.on_site.map(|at| at + days * DAY_MS)
}

/// Whether a phone at `distance_m` from the household, stating `accuracy_m`, was at the door:
/// within 50 m plus the accuracy, capped at 100 m. A stated accuracy of 0 is what phones report
/// for a hand-placed pin or a mocked location: never on site.
pub fn on_site(distance_m: f64, accuracy_m: Option<f64>) -> bool {
    match accuracy_m {
        Some(a) if a <= 0.0 => false,
        a => distance_m <= (ON_SITE_METRES + a.unwrap_or(0.0)).min(ON_SITE_CAP_METRES),
    }
}

impl App {
    /// How often households are visited.
    pub fn visit_policy(&self) -> &VisitPolicy {
        &self.visit_policy
    }

    /// The latest visits of a household.
    pub fn visit_times(&self, household_id: Id) -> VisitTimes {
        self.diary
            .read()
            .get(&household_id)
            .copied()
            .unwrap_or_default()
    }

    /// The households `user` may see in the current snapshot, filtered, one page of them.
    pub async fn households_page(
        &self,
        user: &User,
        filter: &HouseholdFilter,
        offset: usize,
        limit: usize,
    ) -> Result<HouseholdPage, VisitError> {
        let map = self.map_data();
        let scope = HouseholdScope::of(user, &map);
        if !scope.sees_households() {
            return Err(VisitError::CountsOnly(user.role));
        }
        let text: Option<HashSet<Id>> = match &filter.text {
            Some(t) => Some(
                self.store
                    .households_matching(t)
                    .await?
                    .into_iter()
                    .collect(),
            ),
            None => None,
        };
        let now = now_millis();
        let community_grids = filter.community.map(|c| grids_of(&map, c));
        let matching: Vec<Id> = {
            let times = self.diary.read();
            map.households
                .iter()
                .filter(|h| scope.admits(h))
                .filter(|h| filter.area.is_none_or(|a| h.area_ids.contains(&a)))
                .filter(|h| filter.grid.is_none_or(|g| h.grid_id == Some(g)))
                .filter(|h| {
                    community_grids
                        .as_ref()
                        .is_none_or(|grids| h.grid_id.is_some_and(|g| grids.contains(&g)))
                })
                .filter(|h| {
                    filter.cadre.is_none_or(|cadre| {
                        h.area_ids
                            .iter()
                            .any(|a| map.holders.get(a).is_some_and(|holder| holder.id == cadre))
                    })
                })
                .filter(|h| {
                    filter
                        .building
                        .as_ref()
                        .is_none_or(|b| h.building_code.as_ref() == Some(b))
                })
                .filter(|h| filter.tag.as_ref().is_none_or(|t| h.tags.contains(t)))
                .filter(|h| text.as_ref().is_none_or(|ids| ids.contains(&h.id)))
                .filter(|h| {
                    !filter.due || {
                        let t = times.get(&h.id).copied().unwrap_or_default();
                        next_due(&self.visit_policy, t, &h.tags).is_none_or(|d| d <= now)
                    }
                })
                .map(|h| h.id)
                .collect()
        };
        let page: Vec<Id> = matching.iter().skip(offset).take(limit).copied().collect();
        let households = self.views(self.store.households_by_id(&page).await?);
        Ok(HouseholdPage {
            matched: matching.len(),
            households,
        })
    }

    /// One household `user` may see.
    pub async fn household(&self, user: &User, id: Id) -> Result<HouseholdView, VisitError> {
        let map = self.map_data();
        let scope = HouseholdScope::of(user, &map);
        if !scope.sees_households() {
            return Err(VisitError::CountsOnly(user.role));
        }
        if !map.household(id).is_some_and(|h| scope.admits(h)) {
            return Err(VisitError::NoSuchHousehold(id));
        }
        let household = self.store.households_by_id(&[id]).await?;
        self.views(household)
            .pop()
            .ok_or(VisitError::NoSuchHousehold(id))
    }

    /// The visits of a household `user` may see, newest first.
    pub async fn household_visits(&self, user: &User, id: Id) -> Result<Vec<Visit>, VisitError> {
        self.household(user, id).await?;
        Ok(self.store.visits(id).await?)
    }

    pub(super) fn views(&self, households: Vec<Household>) -> Vec<HouseholdView> {
        let times = self.diary.read();
        households
            .into_iter()
            .map(|household| {
                let t = times.get(&household.id).copied().unwrap_or_default();
                HouseholdView {
                    next_due: next_due(&self.visit_policy, t, &household.details.tags),
                    times: t,
                    household,
                }
            })
            .collect()
    }

    /// Records a visit by `user`: the holder of one of the household's areas, or an admin.
    /// Returns the stored visit and whether it is new (a resend under the same key is not).
    pub async fn record_visit(
        self: &Arc<Self>,
        user: &User,
        input: VisitInput,
    ) -> Result<(Visit, bool), VisitError> {
        let map = self.map_data();
        let household = map
            .household(input.household_id)
            .filter(|h| HouseholdScope::of(user, &map).admits(h))
            .ok_or(VisitError::NoSuchHousehold(input.household_id))?;
        if !may_visit(user, household, &map) {
            return Err(VisitError::NotYours(household.id));
        }
        let at = millis(&input.visited_at).ok_or(VisitError::BadTime(input.visited_at.clone()))?;
        if at > now_millis() + CLOCK_SKEW_MS {
            return Err(VisitError::InTheFuture(input.visited_at));
        }
        if map.index.owner(PlaceKind::Grid, input.position).is_none() {
            return Err(VisitError::OutsideGrids {
                lon: input.position.x,
                lat: input.position.y,
            });
        }
        if let Some(old) = input.corrects {
            let corrected = self
                .store
                .visit(old)
                .await?
                .ok_or(StoreError::NoSuchVisit(old))?;
            if corrected.user_id != user.id && user.role != Role::Admin {
                return Err(VisitError::NotYourVisit(old));
            }
        }
        let distance_m = distance_from(&map, household, input.position);
        let visit = NewVisit {
            household_id: household.id,
            user_id: user.id,
            digest: digest(&input),
            key: input.key,
            visited_at: stored(at),
            lon: input.position.x,
            lat: input.position.y,
            accuracy_m: input.accuracy_m,
            distance_m,
            on_site: on_site(distance_m, input.accuracy_m),
            notes: input.notes,
            needs: input.needs,
            corrects: input.corrects,
        };
        let app = self.clone();
        Self::to_the_end(async move {
            let (visit, created) = app.store.record_visit(&visit).await?;
            if created && visit.corrects.is_some() {
                // The corrected visit counts no more: its household's times from what counts.
                let counted = app.store.visits(visit.household_id).await?;
                app.diary.set(visit.household_id, times_counted(&counted));
                app.put_open_needs(visit.household_id, open_needs_of(&counted));
            } else if created {
                app.diary.record(visit.household_id, at, visit.on_site);
                if !visit.needs.is_empty() {
                    let all = app.store.visits(visit.household_id).await?;
                    app.put_open_needs(visit.household_id, open_needs_of(&all));
                }
            }
            Ok((visit, created))
        })
        .await
    }

    /// Reads the visits of `households` again, for their latest visits and open needs: what
    /// another instance's visits and needs met change here.
    pub(super) async fn reread_diaries(
        &self,
        households: &std::collections::BTreeSet<Id>,
    ) -> crate::store::Result<()> {
        for &id in households {
            let visits = self.store.visits(id).await?;
            self.diary.set(id, times_counted(&visits));
            self.put_open_needs(id, open_needs_of(&visits));
        }
        Ok(())
    }

    /// Marks a need met: by whoever may see its household, except a planner.
    pub async fn meet_need(&self, user: &User, id: Id) -> Result<Need, VisitError> {
        let need = self
            .store
            .need(id)
            .await?
            .ok_or(StoreError::NoSuchNeed(id))?;
        let map = self.map_data();
        let scope = HouseholdScope::of(user, &map);
        let visible = map
            .household(need.household_id)
            .is_some_and(|h| scope.admits(h));
        if !visible {
            return Err(VisitError::NotYourNeed(id));
        }
        let met = self.store.meet_need(id, user.id).await?;
        if need.met_at.is_none() {
            // Counted from the store, not by one less: two people may meet it at once.
            let visits = self.store.visits(need.household_id).await?;
            self.put_open_needs(need.household_id, open_needs_of(&visits));
        }
        Ok(met)
    }

    /// The households `user` may visit that are due now, in walking order from `start`.
    pub async fn due_walk(&self, user: &User, start: Coord<f64>) -> Result<DueWalk, VisitError> {
        let map = self.map_data();
        let scope = HouseholdScope::of(user, &map);
        if !scope.sees_households() {
            return Err(VisitError::CountsOnly(user.role));
        }
        let now = now_millis();
        let due: Vec<HouseholdPoint> = {
            let times = self.diary.read();
            map.households
                .iter()
                .filter(|h| scope.admits(h))
                .filter(|h| {
                    let t = times.get(&h.id).copied().unwrap_or_default();
                    next_due(&self.visit_policy, t, &h.tags).is_none_or(|d| d <= now)
                })
                .cloned()
                .collect()
        };
        let matched = due.len();
        let (ids, Walk { order, metres }) = self
            .compute(move || {
                let due = nearest(due, start, MAX_WALK);
                let points = MultiPoint::new(due.iter().map(|h| Point::from(h.location)).collect());
                let ids: Vec<Id> = due.iter().map(|h| h.id).collect();
                (ids, points.walking_order(Point::from(start)))
            })
            .await?;
        let mut by_id: HashMap<Id, HouseholdView> = self
            .views(self.store.households_by_id(&ids).await?)
            .into_iter()
            .map(|v| (v.household.id, v))
            .collect();
        let households = order
            .into_iter()
            .filter_map(|i| by_id.remove(&ids[i]))
            .collect();
        Ok(DueWalk {
            matched,
            households,
            metres,
        })
    }
}

/// The `n` households nearest to `start` (all of them if there are no more), in no order.
fn nearest(
    mut households: Vec<HouseholdPoint>,
    start: Coord<f64>,
    n: usize,
) -> Vec<HouseholdPoint> {
    if households.len() > n {
        let from = Point::from(start);
        let metres = |h: &HouseholdPoint| Haversine.distance(from, Point::from(h.location));
        households.select_nth_unstable_by(n, |a, b| metres(a).total_cmp(&metres(b)));
        households.truncate(n);
    }
    households
}

/// Metres on the ground from the household: 0 inside its building's footprint, else from its
/// door (the household's point).
pub(super) fn distance_from(map: &MapData, household: &HouseholdPoint, at: Coord<f64>) -> f64 {
    let inside = household.building_code.as_ref().is_some_and(|code| {
        map.buildings
            .iter()
            .find(|b| &b.code == code)
            .is_some_and(|b| b.footprint.contains(&at))
    });
    if inside {
        0.0
    } else {
        Haversine.distance(Point::from(household.location), Point::from(at))
    }
}

/// A digest of what a phone sent, to tell a resend from a key reused for other content. The
/// time is digested as the instant it names, so that one sent again with another offset is the
/// same visit.
fn digest(input: &VisitInput) -> String {
    let canonical = serde_json::json!({
        "household": input.household_id,
        "visited_at": millis(&input.visited_at),
        "lon": input.position.x,
        "lat": input.position.y,
        "accuracy_m": input.accuracy_m,
        "notes": input.notes,
        "needs": input.needs,
        "corrects": input.corrects,
    });
    let hash = Sha256::digest(canonical.to_string().as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The latest visits among `visits` (of one household) that still count: not corrected.
fn times_counted(visits: &[Visit]) -> VisitTimes {
    let counted = visits.iter().filter(|v| v.corrected_by.is_none());
    let mut times = VisitTimes::default();
    for v in counted {
        let at = millis(&v.visited_at);
        times.any = times.any.max(at);
        if v.on_site {
            times.on_site = times.on_site.max(at);
        }
    }
    times
}

/// The open needs the visits of one household found, corrected visits' too: a correction
/// keeps what the first record asked for until someone meets it.
fn open_needs_of(visits: &[Visit]) -> NeedCounts {
    NeedCounts::open_of(visits.iter().flat_map(|v| &v.needs))
}

/// The diary's times from the store's latest visits.
pub(super) fn times_of(last: Vec<crate::model::visits::LastVisits>) -> HashMap<Id, VisitTimes> {
    last.into_iter()
        .map(|l| {
            let times = VisitTimes {
                any: millis(&l.any),
                on_site: l.on_site.as_deref().and_then(millis),
            };
            (l.household_id, times)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_site_is_within_fifty_metres_plus_the_accuracy_capped_at_a_hundred() {
        assert!(on_site(0.0, None));
        assert!(on_site(50.0, None));
        assert!(!on_site(50.1, None));
        assert!(on_site(70.0, Some(25.0)));
        assert!(!on_site(80.0, Some(25.0)));
        assert!(on_site(100.0, Some(500.0)));
        assert!(!on_site(100.5, Some(500.0)));
        // A hand-placed pin or a mocked location states 0: never on site, even at the door.
        assert!(!on_site(0.0, Some(0.0)));
    }

    #[test]
    fn the_most_demanding_tag_sets_the_interval() {
        let policy = VisitPolicy::default();
        assert_eq!(policy.interval_days(&[]), 90);
        assert_eq!(policy.interval_days(&["unknown".into()]), 90);
        let tags = ["party_member".to_string(), "elderly_alone".to_string()];
        assert_eq!(policy.interval_days(&tags), 7);
    }

    #[test]
    fn instants_round_trip_through_milliseconds() {
        let at = "2026-12-02T02:30:00.123Z";
        assert_eq!(stored(millis(at).unwrap()), at);
        assert_eq!(
            millis("2026-12-02T10:30:00.123+08:00"),
            millis(at),
            "an offset names the same instant"
        );
    }

    #[test]
    fn a_resend_with_another_offset_has_the_same_digest() {
        let input = VisitInput {
            household_id: 7,
            key: "k".into(),
            visited_at: "2026-12-02T10:30:00+08:00".into(),
            position: Coord {
                x: 120.37,
                y: 36.06,
            },
            accuracy_m: Some(10.0),
            notes: "好".into(),
            needs: vec![],
            corrects: None,
        };
        let mut utc = input.clone();
        utc.visited_at = "2026-12-02T02:30:00Z".into();
        assert_eq!(digest(&input), digest(&utc));
        let mut other = input.clone();
        other.notes = "不好".into();
        assert_ne!(digest(&input), digest(&other));
    }
}
