//! Households and buildings to grids and responsibility areas, in bulk.
//!
//! After any boundary change every household's grid and areas are recomputed here, in memory,
//! and only the rows that changed are written back. The work is split across the machine's
//! cores, since a street's worth of points is cheap but a city's (millions) is not.

use super::index::SpatialIndex;
use crate::model::{BuildingAssignment, HouseholdAssignment, Id, PlaceKind};
use geo::Coord;
use std::thread;

/// Runs `f` over `items` on every available core, keeping the order.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    // Below this, spawning threads costs more than it saves.
    const MIN_PER_WORKER: usize = 4096;
    if workers == 1 || items.len() < 2 * MIN_PER_WORKER {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(workers);
    thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("assignment worker panicked"))
            .collect()
    })
}

/// The grid and areas of each household at its location.
pub fn assign_households(
    index: &SpatialIndex,
    households: &[(Id, Coord<f64>)],
) -> Vec<HouseholdAssignment> {
    par_map(households, |&(household_id, at)| HouseholdAssignment {
        household_id,
        grid_id: index.owner(PlaceKind::Grid, at),
        area_ids: index.areas_at(at),
    })
}

/// The grid of each building, given a point inside its footprint.
pub fn assign_buildings(
    index: &SpatialIndex,
    buildings: &[(Id, Coord<f64>)],
) -> Vec<BuildingAssignment> {
    par_map(buildings, |&(building_id, at)| BuildingAssignment {
        building_id,
        grid_id: index.owner(PlaceKind::Grid, at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Place;
    use geo::{MultiPolygon, coord, polygon};

    #[test]
    fn many_households_are_assigned_in_order_across_threads() {
        let grid = |id: Id, x0: f64| Place {
            id,
            kind: PlaceKind::Grid,
            code: id.to_string(),
            name: String::new(),
            parent_id: None,
            version: 1,
            geometry: MultiPolygon(vec![polygon![
                (x: x0, y: 0.0), (x: x0 + 1.0, y: 0.0), (x: x0 + 1.0, y: 1.0), (x: x0, y: 1.0)
            ]]),
        };
        let index = SpatialIndex::build(&[grid(1, 0.0), grid(2, 1.0)]);
        let points: Vec<(Id, Coord<f64>)> = (0..20_000)
            .map(|i| (i, coord! { x: (i % 300) as f64 / 100.0, y: 0.5 }))
            .collect();
        let assigned = assign_households(&index, &points);
        assert_eq!(assigned.len(), points.len());
        for (a, (id, at)) in assigned.iter().zip(&points) {
            assert_eq!(a.household_id, *id);
            let expected = match at.x {
                x if x < 1.0 => Some(1),
                x if x < 2.0 => Some(2),
                _ => None,
            };
            assert_eq!(a.grid_id, expected, "at {at:?}");
            assert!(a.area_ids.is_empty());
        }
    }
}
