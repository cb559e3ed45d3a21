//! What each write changed, as places on the map, so that whatever is drawn from the map data
//! (vector tiles) is made again only where and for what a write changed it.
//!
//! Every new [`MapData`] snapshot is compared with the one it replaces ([`MapChange::between`]):
//! a claim, an edit, an import and a reload from the store alike. The comparison is per
//! [`Aspect`] of the data, and says where each aspect changed as lon/lat rectangles that cover the
//! changed things before and after the write. A snapshot carries the changes of the last writes
//! ([`ChangeLog`]), so a cache holding something made from an older snapshot can tell whether it
//! still holds.

use super::{HouseholdPoint, MapData};
use crate::model::{Building, Holder, Id, Place, PlaceKind};
use crate::spatial::index::SpatialIndex;
use geo::{BoundingRect, Coord, Intersects, Rect};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// A part of the map data that a drawing may be made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aspect {
    /// The places of one kind as drawn: outline, code, name and their parent's code.
    Places(PlaceKind),
    /// Whether each area is claimed (not who holds it: no map shows that).
    Claims,
    /// How many households each grid has.
    GridCounts,
    /// Where each household is, and its grid's code.
    Households,
    /// Buildings as drawn: footprint, code, name, floors.
    Buildings,
    /// How many needs are open in each grid, by kind.
    Needs,
}

impl Aspect {
    /// Every aspect: what a drawing that does not say what it is made from depends on.
    pub const ALL: [Aspect; 10] = [
        Aspect::Places(PlaceKind::District),
        Aspect::Places(PlaceKind::Street),
        Aspect::Places(PlaceKind::Community),
        Aspect::Places(PlaceKind::Grid),
        Aspect::Places(PlaceKind::Area),
        Aspect::Claims,
        Aspect::GridCounts,
        Aspect::Households,
        Aspect::Buildings,
        Aspect::Needs,
    ];

    fn index(self) -> usize {
        Aspect::ALL
            .iter()
            .position(|a| *a == self)
            .expect("every aspect is in ALL")
    }
}

/// Past this many rectangles a region becomes the one rectangle around them all: a write that
/// changes thousands of things (an import) then costs one comparison per cached tile, at the
/// price of remaking some tiles it did not change.
const MAX_RECTS: usize = 64;

/// How many writes a snapshot remembers. Something made from a snapshot older than that is made
/// again, changed or not.
pub const CHANGE_LOG_LENGTH: usize = 256;

/// Where one aspect changed: lon/lat (WGS84) rectangles covering everything that changed, as it
/// was and as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Region {
    rects: Vec<Rect<f64>>,
}

impl Region {
    fn add(&mut self, rect: Rect<f64>) {
        self.rects.push(rect);
        if self.rects.len() > MAX_RECTS {
            let all = self.rects.drain(..).reduce(union).expect("not empty");
            self.rects.push(all);
        }
    }

    fn add_opt(&mut self, rect: Option<Rect<f64>>) {
        if let Some(rect) = rect {
            self.add(rect);
        }
    }

    /// Whether nothing of the aspect changed.
    pub fn is_empty(&self) -> bool {
        self.rects.is_empty()
    }

    /// Whether the change reaches into `area` (edges touching count).
    pub fn intersects(&self, area: &Rect<f64>) -> bool {
        self.rects.iter().any(|r| r.intersects(area))
    }

    /// The rectangles, for tests and logs.
    pub fn rects(&self) -> &[Rect<f64>] {
        &self.rects
    }
}

fn union(a: Rect<f64>, b: Rect<f64>) -> Rect<f64> {
    Rect::new(
        Coord {
            x: a.min().x.min(b.min().x),
            y: a.min().y.min(b.min().y),
        },
        Coord {
            x: a.max().x.max(b.max().x),
            y: a.max().y.max(b.max().y),
        },
    )
}

fn point(c: Coord<f64>) -> Rect<f64> {
    Rect::new(c, c)
}

/// What one write changed, per aspect.
#[derive(Debug, Default, PartialEq)]
pub struct MapChange {
    regions: [Region; Aspect::ALL.len()],
}

impl MapChange {
    /// Where `aspect` changed.
    pub fn region(&self, aspect: Aspect) -> &Region {
        &self.regions[aspect.index()]
    }

    fn add(&mut self, aspect: Aspect, rect: Option<Rect<f64>>) {
        self.regions[aspect.index()].add_opt(rect);
    }

    /// Whether the write changed nothing any map shows.
    pub fn is_empty(&self) -> bool {
        self.regions.iter().all(Region::is_empty)
    }

    /// Compares two snapshots. Layers held in the same `Arc` are not looked at, so a claim, which
    /// replaces only the holders, costs a look at the holders.
    pub fn between(old: &MapData, new: &MapData) -> MapChange {
        let mut change = MapChange::default();
        let recoded = change.places(&old.places, &new.places);
        change.claims(old, new);
        change.households(old, new, &recoded);
        change.buildings(&old.buildings, &new.buildings);
        change
    }

    /// Places added, removed or drawn differently; returns the grids whose households are labelled
    /// differently now (a grid gone or with a new code).
    fn places(&mut self, old: &Arc<Vec<Place>>, new: &Arc<Vec<Place>>) -> HashSet<Id> {
        let mut recoded = HashSet::new();
        if Arc::ptr_eq(old, new) {
            return recoded;
        }
        let before: HashMap<Id, &Place> = old.iter().map(|p| (p.id, p)).collect();
        let after: HashMap<Id, &Place> = new.iter().map(|p| (p.id, p)).collect();
        let parent_code = |places: &HashMap<Id, &Place>, p: &Place| {
            p.parent_id
                .and_then(|id| places.get(&id))
                .map(|parent| parent.code.clone())
        };
        for (id, was) in &before {
            if !after.contains_key(id) {
                self.add(Aspect::Places(was.kind), was.geometry.bounding_rect());
                if was.kind == PlaceKind::Grid {
                    recoded.insert(*id);
                }
            }
        }
        for (id, is) in &after {
            let was = before.get(id);
            let drawn_alike = was.is_some_and(|was| {
                was.kind == is.kind
                    && was.code == is.code
                    && was.name == is.name
                    && was.geometry == is.geometry
                    && parent_code(&before, was) == parent_code(&after, is)
            });
            if drawn_alike {
                continue;
            }
            self.add(Aspect::Places(is.kind), is.geometry.bounding_rect());
            if let Some(was) = was {
                self.add(Aspect::Places(was.kind), was.geometry.bounding_rect());
                if was.kind == PlaceKind::Grid && (was.code != is.code || is.kind != was.kind) {
                    recoded.insert(*id);
                }
            }
        }
        recoded
    }

    /// Areas claimed or released (a holder handing over to another changes no map).
    fn claims(&mut self, old: &MapData, new: &MapData) {
        if Arc::ptr_eq(&old.holders, &new.holders) {
            return;
        }
        let flipped = |a: &HashMap<Id, Holder>, b: &HashMap<Id, Holder>| {
            a.keys()
                .filter(|id| !b.contains_key(id))
                .copied()
                .collect::<Vec<Id>>()
        };
        let mut ids = flipped(&old.holders, &new.holders);
        ids.extend(flipped(&new.holders, &old.holders));
        for id in ids {
            // The area as it is now and as it was: an edit may have moved it since the claim.
            for places in [&new.places, &old.places] {
                let outline = places.iter().find(|p| p.id == id);
                self.add(
                    Aspect::Claims,
                    outline.and_then(|p| p.geometry.bounding_rect()),
                );
            }
        }
    }

    /// Households added, removed, moved or in another grid; grids whose count or open needs
    /// changed; households of the grids in `recoded`.
    fn households(&mut self, old: &MapData, new: &MapData, recoded: &HashSet<Id>) {
        let mut counts: HashMap<Id, i64> = HashMap::new();
        let mut needs: HashSet<Id> = HashSet::new();
        if !Arc::ptr_eq(&old.households, &new.households) {
            let before: HashMap<Id, &HouseholdPoint> =
                old.households.iter().map(|h| (h.id, h)).collect();
            let mut seen = HashSet::new();
            let mut needs_of = |h: &HouseholdPoint| {
                if h.open_needs.total() > 0 {
                    needs.insert(h.grid_id.unwrap_or(0));
                }
            };
            for is in new.households.iter() {
                seen.insert(is.id);
                let was = before.get(&is.id);
                if was.is_some_and(|was| *was == is) {
                    continue;
                }
                needs_of(is);
                if let Some(was) = was {
                    needs_of(was);
                    if was.drawn_alike(is) {
                        continue;
                    }
                }
                self.add(Aspect::Households, Some(point(is.location)));
                *counts.entry(is.grid_id.unwrap_or(0)).or_default() += 1;
                if let Some(was) = was {
                    self.add(Aspect::Households, Some(point(was.location)));
                    *counts.entry(was.grid_id.unwrap_or(0)).or_default() -= 1;
                }
            }
            for was in old.households.iter().filter(|h| !seen.contains(&h.id)) {
                needs_of(was);
                self.add(Aspect::Households, Some(point(was.location)));
                *counts.entry(was.grid_id.unwrap_or(0)).or_default() -= 1;
            }
        }
        for places in [&new.places, &old.places] {
            for grid in places.iter().filter(|p| needs.contains(&p.id)) {
                self.add(Aspect::Needs, grid.geometry.bounding_rect());
            }
        }
        if !recoded.is_empty() {
            for h in new.households.iter().chain(old.households.iter()) {
                if h.grid_id.is_some_and(|g| recoded.contains(&g)) {
                    self.add(Aspect::Households, Some(point(h.location)));
                }
            }
        }
        counts.retain(|grid, n| *n != 0 && *grid != 0);
        if counts.is_empty() {
            return;
        }
        for places in [&new.places, &old.places] {
            for grid in places.iter().filter(|p| counts.contains_key(&p.id)) {
                self.add(Aspect::GridCounts, grid.geometry.bounding_rect());
            }
        }
    }

    /// Buildings added, removed or drawn differently (their grid is not drawn).
    fn buildings(&mut self, old: &Arc<Vec<Building>>, new: &Arc<Vec<Building>>) {
        if Arc::ptr_eq(old, new) {
            return;
        }
        let before: HashMap<Id, &Building> = old.iter().map(|b| (b.id, b)).collect();
        let mut seen = HashSet::new();
        for is in new.iter() {
            seen.insert(is.id);
            let was = before.get(&is.id);
            let drawn_alike = was.is_some_and(|was| {
                was.code == is.code
                    && was.name == is.name
                    && was.floors == is.floors
                    && was.footprint == is.footprint
            });
            if drawn_alike {
                continue;
            }
            self.add(Aspect::Buildings, is.footprint.bounding_rect());
            if let Some(was) = was {
                self.add(Aspect::Buildings, was.footprint.bounding_rect());
            }
        }
        for was in old.iter().filter(|b| !seen.contains(&b.id)) {
            self.add(Aspect::Buildings, was.footprint.bounding_rect());
        }
    }
}

/// The changes of the last [`CHANGE_LOG_LENGTH`] writes, oldest first; the last one made the
/// snapshot that holds the log.
#[derive(Debug, Clone, Default)]
pub struct ChangeLog {
    changes: VecDeque<Arc<MapChange>>,
    /// The version the last change made.
    newest: u64,
}

impl ChangeLog {
    fn then(&self, version: u64, change: MapChange) -> ChangeLog {
        let mut changes = self.changes.clone();
        if version != self.newest + 1 {
            // Not the next write: what came between is unknown.
            changes.clear();
        }
        changes.push_back(Arc::new(change));
        if changes.len() > CHANGE_LOG_LENGTH {
            changes.pop_front();
        }
        ChangeLog {
            changes,
            newest: version,
        }
    }

    /// The changes from version `since` to the snapshot's own, or `None` when the log does not
    /// reach back that far (then anything may have changed). Empty when `since` is the newest.
    pub fn since(&self, since: u64) -> Option<impl Iterator<Item = &MapChange>> {
        if since > self.newest {
            return None;
        }
        let count = usize::try_from(self.newest - since).ok()?;
        let skip = self.changes.len().checked_sub(count)?;
        Some(self.changes.iter().skip(skip).map(Arc::as_ref))
    }
}

impl MapData {
    /// The snapshot after this one with these layers: the next version, and what changed added
    /// to the log.
    pub(crate) fn followed_by(
        &self,
        places: Arc<Vec<Place>>,
        buildings: Arc<Vec<Building>>,
        households: Arc<Vec<HouseholdPoint>>,
        holders: Arc<HashMap<Id, Holder>>,
    ) -> MapData {
        let mut next = MapData {
            version: self.version + 1,
            index: self.index.clone(),
            places,
            buildings,
            households,
            holders,
            branches: self.branches.clone(),
            changes: ChangeLog::default(),
        };
        let change = MapChange::between(self, &next);
        next.changes = self.changes.then(next.version, change);
        next
    }

    /// The same snapshot with another spatial index: the one its places make. A snapshot made by
    /// [`MapData::followed_by`] keeps the index it follows; a write that changes places gives
    /// the new index here.
    pub(crate) fn with_index(self, index: Arc<SpatialIndex>) -> MapData {
        MapData { index, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::visits::NeedCounts;
    use geo::{MultiPolygon, polygon};

    fn place(id: Id, kind: PlaceKind, west: f64, parent_id: Option<Id>) -> Place {
        Place {
            id,
            kind,
            code: format!("P{id}"),
            name: "place".into(),
            parent_id,
            geometry: MultiPolygon(vec![polygon![
                (x: west, y: 36.0),
                (x: west + 0.01, y: 36.0),
                (x: west + 0.01, y: 36.01),
                (x: west, y: 36.01),
                (x: west, y: 36.0),
            ]]),
            version: 1,
        }
    }

    fn household(id: Id, x: f64, grid_id: Option<Id>) -> HouseholdPoint {
        HouseholdPoint {
            id,
            location: Coord { x, y: 36.005 },
            grid_id,
            area_ids: Vec::new(),
            building_code: None,
            tags: Vec::new(),
            open_needs: NeedCounts::default(),
        }
    }

    fn start() -> MapData {
        let places = vec![
            place(1, PlaceKind::Community, 120.0, None),
            place(2, PlaceKind::Grid, 120.0, Some(1)),
            place(3, PlaceKind::Grid, 120.5, Some(1)),
            place(4, PlaceKind::Area, 120.0, Some(2)),
            place(5, PlaceKind::Area, 120.5, Some(3)),
        ];
        let households = vec![
            household(10, 120.005, Some(2)),
            household(11, 120.505, Some(3)),
        ];
        MapData::default().followed_by(
            Arc::new(places),
            Arc::default(),
            Arc::new(households),
            Arc::default(),
        )
    }

    fn only(change: &MapChange, aspects: &[Aspect]) -> bool {
        Aspect::ALL
            .iter()
            .all(|a| aspects.contains(a) != change.region(*a).is_empty())
    }

    fn last(data: &MapData) -> &MapChange {
        data.changes
            .since(data.version - 1)
            .unwrap()
            .next()
            .unwrap()
    }

    #[test]
    fn a_claim_changes_only_the_claims_where_its_area_is() {
        let v1 = start();
        let holder = Holder {
            id: 7,
            name: "cadre".into(),
            display_name: None,
            phone: None,
        };
        let holders = Arc::new(HashMap::from([(4, holder.clone())]));
        let v2 = v1.followed_by(
            v1.places.clone(),
            v1.buildings.clone(),
            v1.households.clone(),
            holders,
        );
        let change = last(&v2);
        assert!(only(change, &[Aspect::Claims]));
        let area = v1.places[3].geometry.bounding_rect().unwrap();
        assert_eq!(change.region(Aspect::Claims).rects(), &[area, area]);
        // Handing the area to another cadre changes no map.
        let other = Holder { id: 8, ..holder };
        let v3 = v2.followed_by(
            v2.places.clone(),
            v2.buildings.clone(),
            v2.households.clone(),
            Arc::new(HashMap::from([(4, other)])),
        );
        assert!(last(&v3).is_empty());
        assert_eq!(v3.changes.since(1).unwrap().count(), 2);
    }

    #[test]
    fn a_grid_edit_changes_its_old_and_new_outline_and_the_counts_it_moves() {
        let v1 = start();
        // Grid 3 moves east by 0.1° and takes household 10 from grid 2 (a reassignment).
        let mut places = (*v1.places).clone();
        places[2] = place(3, PlaceKind::Grid, 120.6, Some(1));
        let households = vec![
            household(10, 120.005, Some(3)),
            household(11, 120.505, None),
        ];
        let v2 = v1.followed_by(
            Arc::new(places),
            v1.buildings.clone(),
            Arc::new(households),
            v1.holders.clone(),
        );
        let change = last(&v2);
        assert!(only(
            change,
            &[
                Aspect::Places(PlaceKind::Grid),
                Aspect::GridCounts,
                Aspect::Households
            ]
        ));
        let grids = change.region(Aspect::Places(PlaceKind::Grid));
        let old = v1.places[2].geometry.bounding_rect().unwrap();
        let new = v2.places[2].geometry.bounding_rect().unwrap();
        assert!(grids.intersects(&old) && grids.intersects(&new));
        let elsewhere = Rect::new(
            Coord { x: 120.0, y: 36.5 },
            Coord {
                x: 120.01,
                y: 36.51,
            },
        );
        assert!(!grids.intersects(&elsewhere));
        // Grid 2 lost a household: its count changed where it is.
        let grid2 = v1.places[1].geometry.bounding_rect().unwrap();
        assert!(change.region(Aspect::GridCounts).intersects(&grid2));
    }

    #[test]
    fn a_renamed_parent_changes_its_children_as_drawn() {
        let v1 = start();
        let mut places = (*v1.places).clone();
        places[0].code = "NEW".into();
        let v2 = v1.followed_by(
            Arc::new(places),
            v1.buildings.clone(),
            v1.households.clone(),
            v1.holders.clone(),
        );
        let change = last(&v2);
        assert!(only(
            change,
            &[
                Aspect::Places(PlaceKind::Community),
                Aspect::Places(PlaceKind::Grid)
            ]
        ));
    }

    #[test]
    fn the_log_forgets_beyond_its_length() {
        let mut data = start();
        for _ in 0..CHANGE_LOG_LENGTH + 5 {
            data = data.followed_by(
                data.places.clone(),
                data.buildings.clone(),
                data.households.clone(),
                data.holders.clone(),
            );
        }
        assert!(data.changes.since(data.version).unwrap().next().is_none());
        let oldest = data.version - CHANGE_LOG_LENGTH as u64;
        assert_eq!(
            data.changes.since(oldest).unwrap().count(),
            CHANGE_LOG_LENGTH
        );
        assert!(data.changes.since(oldest - 1).is_none());
        assert!(data.changes.since(data.version + 1).is_none());
    }
}
