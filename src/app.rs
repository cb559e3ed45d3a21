//! The application core shared by the command line and the HTTP layer: a store, the spatial
//! index built from it, and the writes that keep the two in step.

use crate::geodata::LayerData;
use crate::model::branches::Branch;
use crate::model::visits::{Need, NeedCounts};
use crate::model::{
    Building, BuildingAssignment, Claim, Holder, Household, HouseholdAssignment, Id, Place,
};
use crate::spatial::assign::{assign_buildings, assign_households};
use crate::spatial::index::SpatialIndex;
use crate::store::{Result, Seq, Store, WriteSummary};
use arc_swap::ArcSwap;
use geo::{Coord, InteriorPoint};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub mod access;
mod accounts;
mod attendance;
mod branches;
mod changes;
mod claims;
pub mod cpu;
mod demo_branches;
mod demo_diary;
mod edit;
mod floors;
mod households;
mod lessons;
mod members_csv;
mod photos;
mod request_feed;
mod request_stats;
mod requests;
mod reshape;
mod stats;
mod summary;
mod units;
mod visits;
pub use accounts::{AccountError, NewAccount, Session, retry_secs};
pub use attendance::{AttendanceRow, Period};
pub use branches::{
    ActivityInput, ActivityView, BranchError, MAX_FEED_PAGE, MAX_REASON_CHARS, MAX_THEME_CHARS,
};
pub use changes::{Aspect, CHANGE_LOG_LENGTH, ChangeLog, MapChange, Region};
pub use claims::ClaimError;
use cpu::{Busy, CpuPool};
pub use edit::{EditError, EditOutcome, Past};
pub use floors::{FloorState, FloorsError, MAX_FLOOR_HOUSEHOLDS};
pub use lessons::{
    LessonInput, LessonLink, MAX_LESSON_BODY_CHARS, MAX_LESSON_LINK_BYTES, MAX_LESSON_TITLE_CHARS,
};
pub use members_csv::{MAX_MEMBER_ROWS, RowProblem, members_from_csv};
pub use photos::MAX_PHOTOS_PER_KIND;
pub use request_feed::{FEED_CAPACITY, NoticeKind, RequestNotice};
pub use request_stats::{Durations, RequestGrouping, RequestStatsRow};
pub use requests::{
    MAX_REQUESTS, NEARBY_DAYS, NEARBY_METRES, RequestError, RequestInput, RequestView, StepInput,
};
pub use reshape::{MAX_MERGE, ReshapeError};
pub use stats::{CoverageRow, NeedsRow, coverage};
pub use summary::{COVERAGE_DAYS, REQUEST_DAYS, Summary, SummaryError};
pub use visits::{
    DueWalk, HouseholdFilter, HouseholdPage, HouseholdView, VisitError, VisitInput, VisitPolicy,
    VisitTimes, on_site,
};

/// Why a use case that does geometry work failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    /// The store refused or failed the work; see [`crate::store::StoreError`].
    Store(#[from] crate::store::StoreError),
    /// Too much geometry work is running or waiting; nothing was done.
    #[error(transparent)]
    Busy(#[from] Busy),
}

/// The past view last built and the (instant, map version) it was built for.
type PastIndex = Option<((String, u64), Arc<Past>)>;

/// The store and what memory holds of it: one [`MapData`] snapshot (the spatial index, the
/// places, buildings, household points and holders), replaced whole.
pub struct App {
    store: Arc<dyn Store>,
    /// Read without a lock; every write makes a new snapshot from the current one and swaps it
    /// in while holding `holder_order`, so that two writers never lose each other's change.
    snapshot: ArcSwap<MapData>,
    /// Held for the whole of a write (edit or import), so that writes validate against what the
    /// previous one left.
    edits: tokio::sync::Mutex<()>,
    /// The last index built for a lookup `at=` an instant.
    past: tokio::sync::Mutex<PastIndex>,
    /// Where validation, reshaping and index builds run: off the async workers, bounded.
    cpu: CpuPool,
    /// Which changes of holders the snapshot includes, in the database's order. Held while a
    /// new snapshot is made from the current one and swapped in: the lock of every publish.
    holder_order: Mutex<HolderOrder>,
    /// The login throttle and the password checks in flight.
    logins: accounts::Logins,
    /// When each household was last visited.
    diary: visits::Diary,
    /// How often households are visited, by tag.
    visit_policy: visits::VisitPolicy,
    /// Which days are worked: the time limits of requests count only those.
    calendar: crate::calendar::WorkCalendar,
    /// Tells the phones of this instance of every report, step and escalation.
    request_feed: request_feed::RequestFeed,
}

/// The changes of area holders that the in-memory holders include, by their [`Seq`]: memory
/// applies a change only if it is newer than what it has for that area, so that handlers that
/// finish in another order than their commits (a release and a claim of one area racing) still
/// leave memory as the database is.
#[derive(Debug, Default)]
struct HolderOrder {
    /// The [`Seq`] of the last full read of the holders: it includes every change up to it.
    read: Seq,
    /// The areas whose holder changed after that read, with the [`Seq`] of the change applied.
    changed: HashMap<Id, Seq>,
}

impl HolderOrder {
    /// Applies a change of `area_id`'s holder numbered `seq` to `holders` unless memory already
    /// has that change or a later one; returns whether it did.
    fn apply(
        &mut self,
        holders: &mut HashMap<Id, Holder>,
        area_id: Id,
        holder: Option<Holder>,
        seq: Seq,
    ) -> bool {
        let last = self.changed.get(&area_id).copied().unwrap_or(self.read);
        if seq <= last {
            return false;
        }
        self.changed.insert(area_id, seq);
        match holder {
            Some(h) => holders.insert(area_id, h),
            None => holders.remove(&area_id),
        };
        true
    }

    /// The holders after a full read `read` numbered `seq`, keeping what memory has for areas
    /// that changed after it.
    fn merge(
        &mut self,
        memory: &HashMap<Id, Holder>,
        mut read: HashMap<Id, Holder>,
        seq: Seq,
    ) -> HashMap<Id, Holder> {
        if seq < self.read {
            // Older than what memory was built from (cannot happen while reads are serialised,
            // but never go back).
            return memory.clone();
        }
        for (area_id, changed) in &self.changed {
            if *changed > seq {
                match memory.get(area_id) {
                    Some(h) => read.insert(*area_id, h.clone()),
                    None => read.remove(area_id),
                };
            }
        }
        self.changed.retain(|_, changed| *changed > seq);
        self.read = seq;
        read
    }
}

/// Everything lookups answer from and maps draw (tiles, OGC collections), held in memory and
/// replaced whole after every write, so readers never see half of a change, nor an index of one
/// version with the names of another. The parts sit behind their own `Arc`s so that a claim,
/// which changes only `holders`, makes a new snapshot without copying the others.
#[derive(Debug, Default)]
pub struct MapData {
    /// Grows by one with every write.
    pub version: u64,
    /// The places in an R-tree, for "which grid is this point in".
    pub index: Arc<SpatialIndex>,
    /// Every place of every kind (districts to responsibility areas), as stored.
    pub places: Arc<Vec<Place>>,
    /// Every building, with the grid the index put it in.
    pub buildings: Arc<Vec<Building>>,
    /// Every household without its personal data: maps show only the location and grid.
    pub households: Arc<Vec<HouseholdPoint>>,
    /// The current holder of every claimed area, by area id.
    pub holders: Arc<HashMap<Id, Holder>>,
    /// The party branches with the grids they serve, by code: public, without members.
    pub branches: Arc<Vec<Branch>>,
    /// What the last writes changed, where: tile caches keep what a write did not touch.
    pub changes: ChangeLog,
}

impl MapData {
    /// The household with this id, found by binary search: `households` is kept ordered by id
    /// (the store reads them so, and every change of one keeps the order).
    pub fn household(&self, id: Id) -> Option<&HouseholdPoint> {
        let at = self.households.binary_search_by_key(&id, |h| h.id).ok()?;
        Some(&self.households[at])
    }
}

/// A household as memory keeps it: a position, where it counts and what the visit plans read,
/// nothing personal (names, phones and rooms stay in the store). Maps show only the position
/// and the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdPoint {
    /// The household's database id.
    pub id: Id,
    /// Where the household is, in WGS84 longitude/latitude degrees.
    pub location: Coord<f64>,
    /// The grid (网格) the household lies in; `None` if it lies outside every grid.
    pub grid_id: Option<Id>,
    /// The responsibility areas it lies in: their holders answer for it.
    pub area_ids: Vec<Id>,
    /// Its building's code, if it is in one.
    pub building_code: Option<String>,
    /// Its tags (`elderly_alone`, …), which set how often it is visited.
    pub tags: Vec<String>,
    /// Its open needs by kind, which the `needs` tile layer sums per grid.
    pub open_needs: NeedCounts,
}

impl HouseholdPoint {
    /// Whether the two are drawn alike on the households layer, where only the position and the
    /// grid show.
    pub fn drawn_alike(&self, other: &HouseholdPoint) -> bool {
        self.id == other.id && self.location == other.location && self.grid_id == other.grid_id
    }
}

/// How many households and buildings a reassignment moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reassigned {
    /// Households whose grid or responsibility areas changed.
    pub households: usize,
    /// Buildings whose grid changed.
    pub buildings: usize,
}

impl App {
    /// [`App::open`] with visit intervals other than the default ones.
    pub async fn open_with(store: Arc<dyn Store>, policy: visits::VisitPolicy) -> Result<Self> {
        let mut app = App::open(store).await?;
        app.visit_policy = policy;
        Ok(app)
    }

    /// This App counting working time by `calendar` (a later year's holidays added).
    pub fn with_calendar(mut self, calendar: crate::calendar::WorkCalendar) -> Self {
        self.calendar = calendar;
        self
    }

    /// Builds the index from everything the store holds.
    pub async fn open(store: Arc<dyn Store>) -> Result<Self> {
        let app = App {
            store,
            snapshot: ArcSwap::default(),
            edits: tokio::sync::Mutex::new(()),
            past: tokio::sync::Mutex::new(None),
            cpu: CpuPool::for_this_machine(),
            holder_order: Mutex::default(),
            logins: accounts::Logins::default(),
            diary: visits::Diary::default(),
            visit_policy: visits::VisitPolicy::default(),
            calendar: crate::calendar::WorkCalendar::china_2026(),
            request_feed: request_feed::RequestFeed::default(),
        };
        app.refresh().await?;
        tracing::info!(
            places = app.index().len(),
            backend = app.store.backend(),
            "spatial index built"
        );
        Ok(app)
    }

    /// The current snapshot; cheap to call (one `Arc` clone), and whole: take it once per
    /// answer so that every part of the answer comes from one version.
    pub fn map_data(&self) -> Arc<MapData> {
        self.snapshot.load_full()
    }

    /// The spatial index of the current snapshot.
    pub fn index(&self) -> Arc<SpatialIndex> {
        self.snapshot.load().index.clone()
    }

    /// Reads everything from the store and swaps in a new snapshot built from it, and the
    /// latest visits of every household.
    async fn refresh(&self) -> Result<()> {
        let last_visits = self.store.last_visits().await?;
        self.diary.replace(visits::times_of(last_visits));
        let stored = self.read_stored().await?;
        let (stored, index) = indexed(stored).await;
        self.publish_stored(stored, index).await
    }

    /// Every place, building and household the store holds, for a new snapshot.
    async fn read_stored(&self) -> Result<Stored> {
        Ok(Stored {
            places: self.store.places(None).await?,
            buildings: self.store.buildings().await?,
            households: self.store.households().await?,
            branches: self.store.branches().await?,
            open_needs: open_needs_by_household(&self.store.needs().await?),
        })
    }

    /// Swaps in a snapshot of `stored` with `index` and the current claims.
    async fn publish_stored(&self, stored: Stored, index: Arc<SpatialIndex>) -> Result<()> {
        let open_needs = &stored.open_needs;
        let households: Vec<HouseholdPoint> = stored
            .households
            .into_iter()
            .map(|h| HouseholdPoint {
                id: h.id,
                location: h.location.0,
                grid_id: h.grid_id,
                area_ids: h.area_ids,
                building_code: h.details.building_code,
                tags: h.details.tags,
                open_needs: open_needs.get(&h.id).copied().unwrap_or_default(),
            })
            .collect();
        let (places, buildings, households) = (
            Arc::new(stored.places),
            Arc::new(stored.buildings),
            Arc::new(households),
        );
        let (seq, claims) = self.store.current_claims_ordered().await?;
        let mut order = self.holder_order();
        let current = self.snapshot.load();
        // A claim may have been committed and applied while the holders were read: the order
        // numbers tell which of the two is newer, area by area.
        let holders = order.merge(&current.holders, holders_of(claims), seq);
        // Compared with what it replaces, so that only the tiles it changes are made again.
        let mut next = current
            .followed_by(places, buildings, households, Arc::new(holders))
            .with_index(index);
        next.branches = Arc::new(stored.branches);
        self.snapshot.store(Arc::new(next));
        Ok(())
    }

    /// The order of the holders in memory, and the lock of every publish.
    fn holder_order(&self) -> std::sync::MutexGuard<'_, HolderOrder> {
        // Every change to it is one insert or one swap: still whole after a panic elsewhere.
        self.holder_order.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads everything from the store again and swaps in a new index and map data, for writes
    /// this process did not make.
    pub async fn reload(&self) -> Result<()> {
        let _serial = self.edits.lock().await;
        self.refresh().await
    }

    /// Keeps this process in step with writes that others commit to the store (other instances
    /// over one PostGIS, `wangge import`), where the store can tell of them: a task reloads after
    /// each, or for visits and needs reads only the diaries of the households they were about.
    /// Returns whether the store can; the task ends when the `App` is dropped.
    pub async fn follow_store(self: &Arc<Self>) -> Result<bool> {
        let Some(mut changes) = self.store.watch_changes().await? else {
            return Ok(false);
        };
        // A write committed after `open` read the store and before the watch began was not
        // heard: read once more now that every later one will be.
        self.reload().await?;
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(changed) = changes.next().await {
                // A reload that fails (the database is away) is tried again with backoff until
                // it succeeds: nothing else would read the changes it was to bring.
                let mut failures = 0;
                loop {
                    let Some(app) = app.upgrade() else { return };
                    let started = std::time::Instant::now();
                    let followed = if changed.everything {
                        app.reload().await
                    } else if changed.visited.is_empty() {
                        Ok(())
                    } else {
                        app.reread_diaries(&changed.visited).await
                    };
                    let followed = match followed {
                        Ok(()) => app.announce_stored(&changed.requests).await,
                        failed => failed,
                    };
                    match followed {
                        Ok(()) => {
                            tracing::info!(
                                version = app.map_data().version,
                                everything = changed.everything,
                                households = changed.visited.len(),
                                took_ms = started.elapsed().as_millis() as u64,
                                "followed a change by another writer"
                            );
                            break;
                        }
                        Err(e) => {
                            failures += 1;
                            let delay = crate::store::retry_delay(failures);
                            tracing::warn!(
                                attempt = failures,
                                retry_in_ms = delay.as_millis() as u64,
                                error = %e,
                                "reloading after a change failed"
                            );
                            drop(app);
                            tokio::time::sleep(delay).await;
                        }
                    }
                }
            }
        });
        Ok(true)
    }

    /// Records a change of an area's holder (`None`: released) that the store has committed
    /// with the order number `seq`: a new snapshot with a new version, whose change log names the
    /// area's outline, so that the cached `areas` tiles there render again with their `claimed`
    /// flag and no other tile does. Nothing is read from the store. A change older than the one
    /// memory has for the area (its handler finished late) is ignored; returns whether it was
    /// applied.
    pub fn set_holder(&self, area_id: Id, holder: Option<Holder>, seq: Seq) -> bool {
        let mut order = self.holder_order();
        let current = self.snapshot.load();
        let mut holders = (*current.holders).clone();
        if !order.apply(&mut holders, area_id, holder, seq) {
            return false;
        }
        let next = current.followed_by(
            current.places.clone(),
            current.buildings.clone(),
            current.households.clone(),
            Arc::new(holders),
        );
        self.snapshot.store(Arc::new(next));
        true
    }

    /// Runs CPU-heavy `job` (validating, reshaping, converting a large geometry) off the async
    /// workers and within the machine's cores; [`Busy`] when too much such work is in line.
    pub async fn compute<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<T, Busy> {
        self.cpu.run(job).await
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// Row counts per layer, read from the store: also a check that the database answers.
    pub async fn counts(&self) -> Result<crate::store::Counts> {
        self.store.counts().await
    }

    /// When each current place got its current version, by place id.
    pub async fn places_updated_at(&self) -> Result<HashMap<Id, String>> {
        Ok(self.store.places_updated_at().await?.into_iter().collect())
    }

    /// Every version of a place, oldest first; empty if it never existed.
    pub async fn place_history(&self, id: Id) -> Result<Vec<crate::model::edit::PlaceVersion>> {
        self.store.place_history(id).await
    }

    /// Stores one layer's features, then brings the index and every household's and building's
    /// grid and areas up to date.
    pub async fn import(&self, data: LayerData) -> Result<(WriteSummary, Reassigned)> {
        if let LayerData::Households(households) = &data {
            self.visit_policy.check_tags(households)?;
        }
        let _serial = self.edits.lock().await;
        let summary = match &data {
            LayerData::Places(places) => self.store.upsert_places(places).await?,
            LayerData::Buildings(buildings) => self.store.upsert_buildings(buildings).await?,
            LayerData::Households(households) => self.store.upsert_households(households).await?,
        };
        let stored = self.read_stored().await?;
        let (mut stored, index) = match data {
            LayerData::Places(_) => indexed(stored).await,
            _ => (stored, self.index()),
        };
        let moved = self.reassign(&index, &mut stored).await?;
        self.publish_stored(stored, index).await?;
        Ok((summary, moved))
    }

    /// Recomputes every household's grid and areas and every building's grid in `index`, and
    /// writes the ones that changed, to the store and to `stored`.
    async fn reassign(&self, index: &SpatialIndex, stored: &mut Stored) -> Result<Reassigned> {
        let household_points: Vec<(Id, Coord<f64>)> = stored
            .households
            .iter()
            .map(|h| (h.id, h.location.0))
            .collect();
        let building_points: Vec<(Id, Coord<f64>)> = stored
            .buildings
            .iter()
            .filter_map(|b| Some((b.id, b.footprint.interior_point()?.0)))
            .collect();
        let household_moves = assign_households(index, &household_points);
        let building_moves = assign_buildings(index, &building_points);
        let changed_households: Vec<HouseholdAssignment> = household_moves
            .into_iter()
            .zip(&stored.households)
            .filter(|(new, old)| new.grid_id != old.grid_id || new.area_ids != old.area_ids)
            .map(|(new, _)| new)
            .collect();
        let old_building_grids: HashMap<Id, Option<Id>> =
            stored.buildings.iter().map(|b| (b.id, b.grid_id)).collect();
        let changed_buildings: Vec<BuildingAssignment> = building_moves
            .into_iter()
            .filter(|new| old_building_grids.get(&new.building_id) != Some(&new.grid_id))
            .collect();
        if !changed_households.is_empty() || !changed_buildings.is_empty() {
            self.store
                .apply_assignments(&changed_households, &changed_buildings)
                .await?;
        }
        let moved: HashMap<Id, &HouseholdAssignment> = changed_households
            .iter()
            .map(|a| (a.household_id, a))
            .collect();
        for household in &mut stored.households {
            if let Some(a) = moved.get(&household.id) {
                household.grid_id = a.grid_id;
                household.area_ids = a.area_ids.clone();
            }
        }
        let moved: HashMap<Id, Option<Id>> = changed_buildings
            .iter()
            .map(|a| (a.building_id, a.grid_id))
            .collect();
        for building in &mut stored.buildings {
            if let Some(grid_id) = moved.get(&building.id) {
                building.grid_id = *grid_id;
            }
        }
        Ok(Reassigned {
            households: changed_households.len(),
            buildings: changed_buildings.len(),
        })
    }

    /// Loads the demo street, its party branches and their rolls into an empty store; does
    /// nothing if the store holds any place.
    /// Returns whether it loaded.
    pub async fn load_demo_if_empty(&self) -> anyhow::Result<bool> {
        if self.store.counts().await?.places > 0 {
            return Ok(false);
        }
        for (layer, text) in crate::demo::LAYERS {
            let data = crate::geodata::parse_layer(text, layer, None, || {})?;
            self.import(data).await?;
        }
        self.load_demo_branches().await?;
        Ok(true)
    }
}

/// What the store holds, read once for a new snapshot.
struct Stored {
    places: Vec<Place>,
    buildings: Vec<Building>,
    households: Vec<Household>,
    branches: Vec<Branch>,
    /// Open needs by household.
    open_needs: HashMap<Id, NeedCounts>,
}

/// The open needs of every household that has some.
fn open_needs_by_household(needs: &[Need]) -> HashMap<Id, NeedCounts> {
    let mut by_household: HashMap<Id, Vec<&Need>> = HashMap::new();
    for need in needs.iter().filter(|n| n.met_at.is_none()) {
        by_household
            .entry(need.household_id)
            .or_default()
            .push(need);
    }
    by_household
        .into_iter()
        .map(|(id, needs)| (id, NeedCounts::open_of(needs)))
        .collect()
}

/// `stored` with an index of its places, built off the async workers: at city scale it takes
/// seconds, and a reload must not be refused as busy, so it does not queue in the CPU pool.
async fn indexed(stored: Stored) -> (Stored, Arc<SpatialIndex>) {
    tokio::task::spawn_blocking(move || {
        let index = SpatialIndex::build(&stored.places);
        (stored, Arc::new(index))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Holders by area id from the current claims.
fn holders_of(claims: Vec<Claim>) -> HashMap<Id, Holder> {
    claims.into_iter().map(|c| (c.area_id, c.holder)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(id: Id) -> Holder {
        Holder {
            id,
            name: format!("cadre{id}"),
            display_name: None,
            phone: None,
        }
    }

    /// Handlers that finish in the opposite order of their commits: the later commit stays.
    #[test]
    fn a_late_older_change_does_not_undo_a_newer_one() {
        let mut order = HolderOrder::default();
        let mut holders = HashMap::from([(7, holder(1))]);
        // The claim (committed second, number 2) is applied before the release (number 1).
        assert!(order.apply(&mut holders, 7, Some(holder(2)), 2));
        assert!(!order.apply(&mut holders, 7, None, 1));
        assert_eq!(holders.get(&7), Some(&holder(2)));
        // Other areas are ordered on their own; a repeated change is not applied twice.
        assert!(order.apply(&mut holders, 8, Some(holder(3)), 1));
        assert!(!order.apply(&mut holders, 8, None, 1));
        assert_eq!(holders.len(), 2);
    }

    /// A full read keeps what memory applied after the read's snapshot, takes the rest, and
    /// makes every change it includes old.
    #[test]
    fn a_full_read_merges_by_order() {
        let mut order = HolderOrder::default();
        let mut memory = HashMap::new();
        order.apply(&mut memory, 1, Some(holder(1)), 3); // in the read below
        order.apply(&mut memory, 2, Some(holder(2)), 6); // after it
        let read = HashMap::from([(1, holder(1)), (3, holder(3))]);
        let merged = order.merge(&memory, read, 5);
        assert_eq!(
            merged,
            HashMap::from([(1, holder(1)), (2, holder(2)), (3, holder(3))])
        );
        assert_eq!(order.read, 5);
        assert_eq!(order.changed, HashMap::from([(2, 6)]));
        // A change the read included comes late: ignored.
        let mut merged = merged;
        assert!(!order.apply(&mut merged, 3, None, 4));
        // A read older than what memory was built from changes nothing.
        assert_eq!(order.merge(&merged, HashMap::new(), 4), merged);
    }
}
