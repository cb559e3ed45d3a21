//! Planner edits: validated against the places in memory, stored in one transaction with the
//! households and buildings they move, then made visible to lookups and tiles at once.
//!
//! Edits are serialised in this process by an async mutex: each one validates against the state
//! the previous one left. The store still checks every expected version, so that a stale edit is
//! refused even when another process wrote first.

use super::cpu::Busy;
use super::{App, AppError, HouseholdPoint, MapData, Reassigned};
use crate::model::edit::{CommittedEdit, EditAction, PlaceChange, PlaceEdit};
use crate::model::{BuildingAssignment, Holder, HouseholdAssignment, Id, Place, PlaceKind};
use crate::spatial::index::SpatialIndex;
use crate::spatial::validate::{Problem, check_place};
use crate::store::StoreError;
use geo::{BoundingRect, Coord, InteriorPoint, Intersects, Rect};
use std::collections::HashMap;
use std::sync::Arc;

/// Why an edit was not stored.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The places would break a rule of [`crate::spatial::validate`]; nothing was stored.
    #[error("the edit breaks {} rule(s); first: {}", .0.len(), .0[0].message)]
    Invalid(Vec<Problem>),
    #[error(transparent)]
    /// The store refused the edit (a version mismatch, a taken code, …) or failed.
    Store(#[from] StoreError),
    /// Too much geometry work is in line; nothing was stored.
    #[error(transparent)]
    Busy(#[from] Busy),
}

/// The places and the holders of areas at a past instant, for lookups `at=` it.
#[derive(Debug)]
pub struct Past {
    /// The places valid at that instant, for locating points.
    pub index: SpatialIndex,
    /// The holder of every area held then, by area id.
    pub holders: HashMap<Id, Holder>,
}

/// What an edit stored and moved.
#[derive(Debug, Clone)]
pub struct EditOutcome {
    /// The inserted and updated places as stored, in the order of the edit's changes.
    pub places: Vec<Place>,
    /// The ids of the places the edit deleted.
    pub deleted: Vec<Id>,
    /// How many households and buildings moved to another grid or area.
    pub reassigned: Reassigned,
    /// When the new versions start.
    pub at: String,
}

/// The places after `changes`, with inserts under their temporary ids. Checks the expected
/// versions against the places in memory, so that a stale edit fails before any work.
fn apply(places: &[Place], changes: &[PlaceChange]) -> Result<Vec<Place>, StoreError> {
    let mut world: Vec<Place> = places.to_vec();
    for change in changes {
        match change {
            PlaceChange::Insert { temp_id, place } => {
                world.push(place.clone().into_place(*temp_id, 1));
            }
            PlaceChange::Update {
                id,
                expected_version,
                place,
            } => {
                let slot = world.iter_mut().find(|p| p.id == *id);
                let stored = slot.as_ref().map(|p| p.version);
                match slot {
                    Some(slot) if slot.version == *expected_version => {
                        *slot = place.clone().into_place(*id, expected_version + 1);
                    }
                    _ => return Err(StoreError::version_mismatch(*id, *expected_version, stored)),
                }
            }
            PlaceChange::Delete {
                id,
                expected_version,
            } => {
                let stored = world.iter().find(|p| p.id == *id).map(|p| p.version);
                if stored != Some(*expected_version) {
                    return Err(StoreError::version_mismatch(*id, *expected_version, stored));
                }
                world.retain(|p| p.id != *id);
            }
        }
    }
    Ok(world)
}

/// A copy of `index` with `places` upserted and `deleted` removed.
fn reindexed(index: &SpatialIndex, places: &[Place], deleted: &[Id]) -> SpatialIndex {
    let mut index = index.clone();
    for id in deleted {
        index.remove(*id);
    }
    for place in places {
        index.upsert(place);
    }
    index
}

fn changed_ids(changes: &[PlaceChange]) -> Vec<Id> {
    changes
        .iter()
        .map(|c| match c {
            PlaceChange::Insert { temp_id, .. } => *temp_id,
            PlaceChange::Update { id, .. } | PlaceChange::Delete { id, .. } => *id,
        })
        .collect()
}

/// What an edit will store besides its places: the households and buildings it moves.
struct Plan {
    households: Vec<HouseholdAssignment>,
    buildings: Vec<BuildingAssignment>,
}

/// Validates `changes` against `map` and works out who they move; pure CPU work, run off the
/// async workers.
fn plan(map: &MapData, changes: &[PlaceChange]) -> Result<Plan, EditError> {
    let current = &map.index;
    let world = apply(&map.places, changes)?;
    let ids = changed_ids(changes);
    let deleted: Vec<Id> = changes
        .iter()
        .filter_map(|c| match c {
            PlaceChange::Delete { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    for id in &deleted {
        if let Some(child) = world.iter().find(|p| p.parent_id == Some(*id)) {
            return Err(StoreError::HasChildren {
                id: *id,
                child: Some((child.kind, child.code.clone())),
            }
            .into());
        }
    }
    let changed: Vec<Place> = world
        .iter()
        .filter(|p| ids.contains(&p.id))
        .cloned()
        .collect();
    let problems: Vec<Problem> = changed
        .iter()
        .flat_map(|p| check_place(p, &world))
        .collect();
    if !problems.is_empty() {
        return Err(EditError::Invalid(problems));
    }

    // Only households and buildings where a changed grid or area was or will be can move.
    let regions: Vec<Rect<f64>> = map
        .places
        .iter()
        .chain(&changed)
        .filter(|p| ids.contains(&p.id))
        .filter(|p| matches!(p.kind, PlaceKind::Grid | PlaceKind::Area))
        .filter_map(|p| p.geometry.bounding_rect())
        .collect();
    let touched = |c: Coord<f64>| regions.iter().any(|r| r.intersects(&c));
    let candidate = reindexed(current, &changed, &deleted);
    let households: Vec<HouseholdAssignment> = map
        .households
        .iter()
        .filter(|h| touched(h.location))
        .filter_map(|h| {
            let grid_id = candidate.owner(PlaceKind::Grid, h.location);
            let area_ids = candidate.areas_at(h.location);
            (grid_id != h.grid_id || area_ids != current.areas_at(h.location)).then_some(
                HouseholdAssignment {
                    household_id: h.id,
                    grid_id,
                    area_ids,
                },
            )
        })
        .collect();
    let buildings: Vec<BuildingAssignment> = map
        .buildings
        .iter()
        .filter_map(|b| Some((b, b.footprint.interior_point()?.0)))
        .filter(|(_, at)| touched(*at))
        .filter_map(|(b, at)| {
            let grid_id = candidate.owner(PlaceKind::Grid, at);
            (grid_id != b.grid_id).then_some(BuildingAssignment {
                building_id: b.id,
                grid_id,
            })
        })
        .collect();
    Ok(Plan {
        households,
        buildings,
    })
}

impl App {
    /// Checks `place` as it would be stored (an update when its id is a stored one, else an
    /// insert) without storing anything. Runs off the async workers.
    pub async fn validate(&self, place: Place) -> Result<Vec<Problem>, Busy> {
        let map = self.map_data();
        self.compute(move || {
            let mut world: Vec<Place> = map
                .places
                .iter()
                .filter(|p| p.id != place.id)
                .cloned()
                .collect();
            world.push(place.clone());
            check_place(&place, &world)
        })
        .await
    }

    /// Validates, stores and publishes one edit. Updates and deletes name the version they
    /// expect; a stale one fails with [`StoreError::VersionMismatch`] and nothing changes.
    /// Runs in a task of its own ([`App::to_the_end`]): once begun, the edit is stored and
    /// published even if the caller stops waiting (an HTTP client hung up).
    /// Validation and the search for moved households run off the async workers.
    pub async fn edit(
        self: &Arc<Self>,
        action: EditAction,
        user_id: Option<Id>,
        changes: Vec<PlaceChange>,
    ) -> Result<EditOutcome, EditError> {
        let app = self.clone();
        Self::to_the_end(async move { app.edit_now(action, user_id, changes).await }).await
    }

    async fn edit_now(
        &self,
        action: EditAction,
        user_id: Option<Id>,
        changes: Vec<PlaceChange>,
    ) -> Result<EditOutcome, EditError> {
        let _serial = self.edits.lock().await;
        let map = self.map_data();
        let (changes, planned) = {
            let map = map.clone();
            self.compute(move || {
                let planned = plan(&map, &changes);
                (changes, planned)
            })
            .await?
        };
        let Plan {
            households,
            buildings,
        } = planned?;
        let reassigned = Reassigned {
            households: households.len(),
            buildings: buildings.len(),
        };
        let committed = self
            .store
            .commit_edit(&PlaceEdit {
                action,
                user_id,
                changes,
                households: households.clone(),
                buildings: buildings.clone(),
            })
            .await?;
        self.publish(&map, &committed, &households, &buildings);
        Ok(EditOutcome {
            places: committed.places,
            deleted: committed.deleted,
            reassigned,
            at: committed.at,
        })
    }

    /// Swaps in the index and the map data a committed edit produces.
    fn publish(
        &self,
        map: &MapData,
        committed: &CommittedEdit,
        households: &[HouseholdAssignment],
        buildings: &[BuildingAssignment],
    ) {
        let fresh = reindexed(&map.index, &committed.places, &committed.deleted);
        let mut places: Vec<Place> = map
            .places
            .iter()
            .filter(|p| !committed.deleted.contains(&p.id))
            .filter(|p| !committed.places.iter().any(|c| c.id == p.id))
            .cloned()
            .chain(committed.places.iter().cloned())
            .collect();
        places.sort_by_key(|p| p.id);
        let moved: HashMap<Id, &HouseholdAssignment> =
            households.iter().map(|a| (a.household_id, a)).collect();
        let building_grids: HashMap<Id, Option<Id>> = buildings
            .iter()
            .map(|a| (a.building_id, a.grid_id.map(|g| committed.real_id(g))))
            .collect();
        let households = map
            .households
            .iter()
            .map(|h| match moved.get(&h.id) {
                Some(a) => HouseholdPoint {
                    grid_id: a.grid_id.map(|g| committed.real_id(g)),
                    area_ids: a.area_ids.iter().map(|&g| committed.real_id(g)).collect(),
                    ..h.clone()
                },
                None => h.clone(),
            })
            .collect();
        let buildings = map
            .buildings
            .iter()
            .map(|b| {
                let mut b = b.clone();
                if let Some(grid) = building_grids.get(&b.id) {
                    b.grid_id = *grid;
                }
                b
            })
            .collect();
        let mut order = self.holder_order();
        let current = self.snapshot.load();
        // Holders come from the snapshot being replaced: a claim may have landed during the edit.
        // A deleted area's claim was ended in the same transaction (a trigger), so it goes too,
        // recorded under the edit's order number: a claim that committed before the deletion
        // but whose handler finishes after this does not bring the holder back.
        let holders = if committed.deleted.is_empty() {
            current.holders.clone()
        } else {
            let mut holders = (*current.holders).clone();
            for id in &committed.deleted {
                order.apply(&mut holders, *id, None, committed.seq);
            }
            Arc::new(holders)
        };
        let next = current
            .followed_by(
                Arc::new(places),
                Arc::new(buildings),
                Arc::new(households),
                holders,
            )
            .with_index(Arc::new(fresh));
        self.snapshot.store(Arc::new(next));
    }

    /// The places (indexed) and the area holders as they were at `at` (the stored form of
    /// [`crate::timestamp`]). The last one built is kept, keyed by the instant and the map
    /// version.
    pub async fn past(&self, at: &str) -> Result<Arc<Past>, AppError> {
        let key = (at.to_string(), self.map_data().version);
        let mut past = self.past.lock().await;
        if let Some((cached, view)) = past.as_ref()
            && *cached == key
        {
            return Ok(view.clone());
        }
        let places = self.store.places_at(at).await?;
        let holders = super::holders_of(self.store.holders_at(at).await?);
        let index = self.compute(move || SpatialIndex::build(&places)).await?;
        let view = Arc::new(Past { index, holders });
        *past = Some((key, view.clone()));
        Ok(view)
    }
}
