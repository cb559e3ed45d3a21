//! The visit state of each floor of a building, for the households a user may see: what the web
//! map's 3D view colours floor by floor, so that a cadre sees at a glance which storeys of which
//! block still wait for a visit.

use super::App;
use super::access::HouseholdScope;
use super::visits::{VisitError, next_due};
use crate::auth::User;
use crate::model::{Building, Id};
use crate::timestamp::now_millis;
use geo::{BoundingRect, Intersects, MultiPolygon, Rect};
use std::collections::{BTreeMap, HashMap};

/// The most households one answer counts: an admin asks for a part of the city, not all of it.
pub const MAX_FLOOR_HOUSEHOLDS: usize = 20_000;

/// One floor of a building and the visit state of the households on it that a user may see.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorState {
    /// The building's database id.
    pub building_id: Id,
    /// The building's code.
    pub building_code: String,
    /// The floor, from 1. A household without a floor, or below ground, counts on the ground
    /// floor: the map has nothing else to draw it on.
    pub floor: i32,
    /// The households on the floor the user may see.
    pub households: usize,
    /// Those of them due or overdue for a visit (never visited on site counts as due).
    pub due: usize,
    /// The building's outline, WGS84.
    pub footprint: MultiPolygon<f64>,
}

/// Why the floors were not counted.
#[derive(Debug, thiserror::Error)]
pub enum FloorsError {
    /// More households than [`MAX_FLOOR_HOUSEHOLDS`] in the asked part of the map.
    #[error(
        "{households} households of yours are in buildings there, more than {max} at once; \
         ask for a smaller bbox"
    )]
    TooMany {
        /// How many there were.
        households: usize,
        /// The most counted at once.
        max: usize,
    },
    /// As for every read of households.
    #[error(transparent)]
    Visits(#[from] VisitError),
}

impl App {
    /// Every floor of the buildings (those meeting `within`, if given) with households `user`
    /// may see, with how many of them are due; ordered by building code, then floor.
    pub async fn floors(
        &self,
        user: &User,
        within: Option<Rect<f64>>,
    ) -> Result<Vec<FloorState>, FloorsError> {
        let map = self.map_data();
        let scope = HouseholdScope::of(user, &map);
        if !scope.sees_households() {
            return Err(VisitError::CountsOnly(user.role).into());
        }
        let buildings: HashMap<&str, &Building> = map
            .buildings
            .iter()
            .filter(|b| {
                within.is_none_or(|area| {
                    b.footprint
                        .bounding_rect()
                        .is_some_and(|r| r.intersects(&area))
                })
            })
            .map(|b| (b.code.as_str(), b))
            .collect();
        let ids: Vec<Id> = map
            .households
            .iter()
            .filter(|h| scope.admits(h))
            .filter(|h| {
                h.building_code
                    .as_deref()
                    .is_some_and(|code| buildings.contains_key(code))
            })
            .map(|h| h.id)
            .collect();
        if ids.len() > MAX_FLOOR_HOUSEHOLDS {
            return Err(FloorsError::TooMany {
                households: ids.len(),
                max: MAX_FLOOR_HOUSEHOLDS,
            });
        }
        // Floors are in the store only: memory keeps no more of a household than maps need.
        let households = self
            .store
            .households_by_id(&ids)
            .await
            .map_err(VisitError::from)?;
        let now = now_millis();
        let times = self.diary.read();
        let mut floors: BTreeMap<(&str, i32), (usize, usize)> = BTreeMap::new();
        for h in &households {
            let Some((code, _)) = h
                .details
                .building_code
                .as_deref()
                .and_then(|code| buildings.get_key_value(code))
            else {
                continue;
            };
            let floor = h.details.floor.unwrap_or(1).max(1);
            let t = times.get(&h.id).copied().unwrap_or_default();
            let due = next_due(&self.visit_policy, t, &h.details.tags).is_none_or(|d| d <= now);
            let tally = floors.entry((code, floor)).or_default();
            tally.0 += 1;
            tally.1 += usize::from(due);
        }
        Ok(floors
            .into_iter()
            .map(|((code, floor), (households, due))| {
                let building = buildings[code];
                FloorState {
                    building_id: building.id,
                    building_code: building.code.clone(),
                    floor,
                    households,
                    due,
                    footprint: building.footprint.clone(),
                }
            })
            .collect())
    }
}
