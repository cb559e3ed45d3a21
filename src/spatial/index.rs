//! The in-memory index that answers "which grid am I in".
//!
//! One R-tree of bounding boxes per kind of place finds the candidates for a point; each candidate
//! is a [`PreparedArea`] that decides ownership under the half-open rule of [`super::owner`] by
//! reading one band of its edges, so a polygon with 100,000 vertices costs about as much as a
//! square. The index is built from the store at start and kept in step with every write through
//! [`SpatialIndex::upsert`] and [`SpatialIndex::remove`].

use super::owner::{OwnsPoint, PreparedArea};
use crate::model::{Id, Place, PlaceKind};
use geo::Coord;
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use std::collections::HashMap;

type BoxEntry = GeomWithData<Rectangle<[f64; 2]>, Id>;

/// A place as the index keeps it: what a lookup answer names, and the prepared shape.
#[derive(Debug, Clone)]
pub struct IndexedPlace {
    /// The place's database id.
    pub id: Id,
    /// Which level of the hierarchy, or a responsibility area.
    pub kind: PlaceKind,
    /// The place's code.
    pub code: String,
    /// The place's Chinese name.
    pub name: String,
    /// The containing place; `None` for a district.
    pub parent_id: Option<Id>,
    area: PreparedArea,
    envelope: Option<BoxEntry>,
}

/// Where a point lies: the place of each kind that owns it, if any.
///
/// The hierarchy is coherent: when a grid is found, the community, street and district are its
/// ancestors; a level is looked up on its own only when no finer level owns the point (a gap).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Located {
    /// The district (区) that owns the point.
    pub district: Option<Id>,
    /// The street (街道) that owns the point.
    pub street: Option<Id>,
    /// The community (社区) that owns the point.
    pub community: Option<Id>,
    /// The grid (网格) that owns the point.
    pub grid: Option<Id>,
    /// Responsibility areas owning the point, ordered by code. Usually one.
    pub areas: Vec<Id>,
}

impl Located {
    fn slot(&mut self, kind: PlaceKind) -> Option<&mut Option<Id>> {
        match kind {
            PlaceKind::District => Some(&mut self.district),
            PlaceKind::Street => Some(&mut self.street),
            PlaceKind::Community => Some(&mut self.community),
            PlaceKind::Grid => Some(&mut self.grid),
            PlaceKind::Area => None,
        }
    }
}

/// Point → grid (with ancestors) and point → responsibility areas, in memory. Cloned to build
/// the candidate index of an edit beside the live one.
#[derive(Debug, Default, Clone)]
pub struct SpatialIndex {
    places: HashMap<Id, IndexedPlace>,
    trees: [RTree<BoxEntry>; 5],
}

fn tree_slot(kind: PlaceKind) -> usize {
    PlaceKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("every kind is in ALL")
}

impl SpatialIndex {
    /// Builds the index from all places at once (bulk-loaded R-trees).
    pub fn build<'a>(places: impl IntoIterator<Item = &'a Place>) -> Self {
        let mut index = SpatialIndex::default();
        let mut boxes: [Vec<BoxEntry>; 5] = Default::default();
        for place in places {
            let entry = IndexedPlace::new(place);
            if let Some(envelope) = &entry.envelope {
                boxes[tree_slot(place.kind)].push(*envelope);
            }
            index.places.insert(place.id, entry);
        }
        index.trees = boxes.map(RTree::bulk_load);
        index
    }

    /// Adds a place, or replaces the stored one with the same id (after a change of geometry,
    /// name, parent or kind).
    pub fn upsert(&mut self, place: &Place) {
        self.remove(place.id);
        let entry = IndexedPlace::new(place);
        if let Some(envelope) = &entry.envelope {
            self.trees[tree_slot(place.kind)].insert(*envelope);
        }
        self.places.insert(place.id, entry);
    }

    /// Forgets a place; returns whether it was there.
    pub fn remove(&mut self, id: Id) -> bool {
        match self.places.remove(&id) {
            Some(old) => {
                if let Some(envelope) = &old.envelope {
                    self.trees[tree_slot(old.kind)].remove(envelope);
                }
                true
            }
            None => false,
        }
    }

    /// The indexed place with this id.
    pub fn get(&self, id: Id) -> Option<&IndexedPlace> {
        self.places.get(&id)
    }

    /// Number of indexed places.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// The places of one kind whose bounding box holds `p` and that own `p`.
    fn owners(&self, kind: PlaceKind, p: Coord<f64>) -> impl Iterator<Item = &IndexedPlace> {
        self.trees[tree_slot(kind)]
            .locate_all_at_point(&[p.x, p.y])
            .filter_map(|e| self.places.get(&e.data))
            .filter(move |place| place.area.owns_point(p))
    }

    /// The one place of `kind` that owns `p`.
    ///
    /// In a valid partition at most one does. Should stored data overlap, the place with the
    /// smallest code wins, so the answer is still the same every time.
    pub fn owner(&self, kind: PlaceKind, p: Coord<f64>) -> Option<Id> {
        let mut owners = self.owners(kind, p);
        let first = owners.next()?;
        Some(
            owners
                .fold(
                    first,
                    |best, other| {
                        if other.code < best.code { other } else { best }
                    },
                )
                .id,
        )
    }

    /// Everything that owns `p` (a WGS84 lon/lat coordinate).
    ///
    /// ```
    /// use geo::{coord, polygon, MultiPolygon};
    /// use wangge::model::{Place, PlaceKind};
    /// use wangge::spatial::index::SpatialIndex;
    ///
    /// // A community split into a western and an eastern grid at x = 0.5.
    /// let place = |id, kind, parent_id, x0: f64, x1: f64| Place {
    ///     id, kind, parent_id, version: 1,
    ///     code: id.to_string(), name: format!("{kind} {id}"),
    ///     geometry: MultiPolygon(vec![polygon![
    ///         (x: x0, y: 0.0), (x: x1, y: 0.0), (x: x1, y: 1.0), (x: x0, y: 1.0)]]),
    /// };
    /// let index = SpatialIndex::build(&[
    ///     place(1, PlaceKind::Community, None, 0.0, 1.0),
    ///     place(2, PlaceKind::Grid, Some(1), 0.0, 0.5),
    ///     place(3, PlaceKind::Grid, Some(1), 0.5, 1.0),
    /// ]);
    /// let here = index.locate(coord! { x: 0.75, y: 0.5 });
    /// assert_eq!((here.grid, here.community), (Some(3), Some(1)));
    /// // On the shared edge, the eastern grid answers.
    /// assert_eq!(index.locate(coord! { x: 0.5, y: 0.5 }).grid, Some(3));
    /// ```
    pub fn locate(&self, p: Coord<f64>) -> Located {
        let mut located = Located {
            areas: self.areas_at(p),
            ..Located::default()
        };
        let finest = [
            PlaceKind::Grid,
            PlaceKind::Community,
            PlaceKind::Street,
            PlaceKind::District,
        ]
        .into_iter()
        .find_map(|kind| self.owner(kind, p));
        // Walk up the parent chain; the hop limit guards against a cycle in stored data.
        let mut next = finest;
        for _ in 0..PlaceKind::ALL.len() {
            let Some(place) = next.and_then(|id| self.places.get(&id)) else {
                break;
            };
            if let Some(slot) = located.slot(place.kind) {
                slot.get_or_insert(place.id);
            }
            next = place.parent_id;
        }
        located
    }

    /// The responsibility areas owning `p`, ordered by code.
    pub fn areas_at(&self, p: Coord<f64>) -> Vec<Id> {
        let mut areas: Vec<&IndexedPlace> = self.owners(PlaceKind::Area, p).collect();
        areas.sort_by(|a, b| a.code.cmp(&b.code));
        areas.into_iter().map(|a| a.id).collect()
    }
}

impl IndexedPlace {
    fn new(place: &Place) -> Self {
        let area = PreparedArea::new(&place.geometry);
        let envelope = area.bbox().map(|b| {
            GeomWithData::new(
                Rectangle::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]),
                place.id,
            )
        });
        IndexedPlace {
            id: place.id,
            kind: place.kind,
            code: place.code.clone(),
            name: place.name.clone(),
            parent_id: place.parent_id,
            area,
            envelope,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, coord, polygon};

    fn rect(id: Id, kind: PlaceKind, parent_id: Option<Id>, x: (f64, f64), y: (f64, f64)) -> Place {
        Place {
            id,
            kind,
            code: format!("C{id:03}"),
            name: format!("{kind}{id}"),
            parent_id,
            version: 1,
            geometry: MultiPolygon(vec![polygon![
                (x: x.0, y: y.0), (x: x.1, y: y.0), (x: x.1, y: y.1), (x: x.0, y: y.1)
            ]]),
        }
    }

    /// A district with one street, two communities side by side, each split into two grids, and
    /// one area across the middle.
    fn sample() -> Vec<Place> {
        use PlaceKind::*;
        vec![
            rect(1, District, None, (0.0, 10.0), (0.0, 10.0)),
            rect(2, Street, Some(1), (0.0, 4.0), (0.0, 4.0)),
            rect(3, Community, Some(2), (0.0, 2.0), (0.0, 4.0)),
            rect(4, Community, Some(2), (2.0, 4.0), (0.0, 4.0)),
            rect(5, Grid, Some(3), (0.0, 2.0), (0.0, 2.0)),
            rect(6, Grid, Some(3), (0.0, 2.0), (2.0, 4.0)),
            rect(7, Grid, Some(4), (2.0, 4.0), (0.0, 4.0)),
            rect(8, Area, Some(2), (1.0, 3.0), (0.0, 4.0)),
        ]
    }

    #[test]
    fn a_point_gets_its_grid_and_all_ancestors() {
        let index = SpatialIndex::build(&sample());
        let here = index.locate(coord! { x: 1.5, y: 0.5 });
        assert_eq!(
            here,
            Located {
                district: Some(1),
                street: Some(2),
                community: Some(3),
                grid: Some(5),
                areas: vec![8],
            }
        );
    }

    #[test]
    fn outside_everything_gives_nothing_and_gaps_fall_back_to_coarser_levels() {
        let index = SpatialIndex::build(&sample());
        assert_eq!(
            index.locate(coord! { x: 50.0, y: 50.0 }),
            Located::default()
        );
        let in_district_only = index.locate(coord! { x: 7.0, y: 7.0 });
        assert_eq!(in_district_only.district, Some(1));
        assert_eq!(in_district_only.street, None);
        assert_eq!(in_district_only.grid, None);
    }

    #[test]
    fn shared_boundaries_resolve_to_one_grid_the_same_way_every_time() {
        let index = SpatialIndex::build(&sample());
        // The edge x = 2 between grid 5 (west) and grid 7 (east): the east one owns it.
        assert_eq!(index.locate(coord! { x: 2.0, y: 1.0 }).grid, Some(7));
        assert_eq!(index.locate(coord! { x: 2.0, y: 1.0 }).community, Some(4));
        // The edge y = 2 between grid 5 (south) and grid 6 (north): the north one owns it.
        assert_eq!(index.locate(coord! { x: 1.0, y: 2.0 }).grid, Some(6));
        // The corner (2, 2) shared by three grids: the north-east one.
        assert_eq!(index.locate(coord! { x: 2.0, y: 2.0 }).grid, Some(7));
    }

    #[test]
    fn upsert_and_remove_keep_the_index_in_step() {
        let mut places = sample();
        let mut index = SpatialIndex::build(&places);
        // Grid 5 shrinks to the west half; its east half becomes a gap in the community.
        places[4] = rect(5, PlaceKind::Grid, Some(3), (0.0, 1.0), (0.0, 2.0));
        index.upsert(&places[4]);
        let gap = index.locate(coord! { x: 1.5, y: 0.5 });
        assert_eq!((gap.grid, gap.community), (None, Some(3)));
        assert_eq!(index.locate(coord! { x: 0.5, y: 0.5 }).grid, Some(5));
        assert!(index.remove(5));
        assert!(!index.remove(5));
        assert_eq!(index.locate(coord! { x: 0.5, y: 0.5 }).grid, None);
        index.upsert(&rect(9, PlaceKind::Grid, Some(3), (0.0, 2.0), (0.0, 2.0)));
        assert_eq!(index.locate(coord! { x: 0.5, y: 0.5 }).grid, Some(9));
        assert_eq!(index.len(), 8);
    }

    #[test]
    fn overlapping_data_still_answers_deterministically() {
        let mut places = sample();
        places.push(rect(10, PlaceKind::Grid, Some(3), (0.0, 2.0), (0.0, 2.0)));
        places[7].code = "Z".into();
        let index = SpatialIndex::build(&places);
        // Grids 5 (code C005) and 10 (code C010) overlap: the smaller code wins, every time.
        for _ in 0..3 {
            assert_eq!(
                index.owner(PlaceKind::Grid, coord! { x: 1.0, y: 1.0 }),
                Some(5)
            );
        }
    }
}
