//! Writing one household (a create or an edit from a phone or the web map): decided by the
//! same scope as reading (`access.rs`), placed by the spatial index, stored with its version
//! and trace, and put into the snapshot at once.

use super::access::HouseholdScope;
use super::visits::VisitError;
use super::{App, HouseholdPoint, HouseholdView};
use crate::auth::{AuditRecord, User};
use crate::model::visits::NeedCounts;
use crate::model::{Household, HouseholdWrite, Id, NewHousehold, PlaceKind};
use std::sync::Arc;

impl App {
    /// Creates a household `user` answers for: its location must lie in a grid, and in their
    /// scope (an area they hold, a grid of their community, anywhere for an admin).
    pub async fn create_household(
        self: &Arc<Self>,
        user: &User,
        household: NewHousehold,
    ) -> Result<HouseholdView, VisitError> {
        self.write_household(user, None, 0, household).await
    }

    /// Changes household `id` from `version`: the household and its new location must both be
    /// in `user`'s scope.
    pub async fn update_household(
        self: &Arc<Self>,
        user: &User,
        id: Id,
        version: i64,
        household: NewHousehold,
    ) -> Result<HouseholdView, VisitError> {
        self.write_household(user, Some(id), version, household)
            .await
    }

    /// Every change of a household `user` may see, oldest first, with before and after.
    pub async fn household_history(
        &self,
        user: &User,
        id: Id,
    ) -> Result<Vec<AuditRecord>, VisitError> {
        self.household(user, id).await?;
        Ok(self.store.audit("household", Some(id)).await?)
    }

    async fn write_household(
        self: &Arc<Self>,
        user: &User,
        id: Option<Id>,
        version: i64,
        household: NewHousehold,
    ) -> Result<HouseholdView, VisitError> {
        self.visit_policy
            .check_tags(std::slice::from_ref(&household))?;
        let map = self.map_data();
        let scope = HouseholdScope::of(user, &map);
        if !scope.sees_households() {
            return Err(VisitError::CountsOnly(user.role));
        }
        if let Some(id) = id
            && !map.household(id).is_some_and(|h| scope.admits(h))
        {
            return Err(VisitError::NoSuchHousehold(id));
        }
        let at = household.location.0;
        let grid_id = map.index.owner(PlaceKind::Grid, at);
        if grid_id.is_none() {
            return Err(VisitError::OutsideGrids {
                lon: at.x,
                lat: at.y,
            });
        }
        let area_ids = map.index.areas_at(at);
        if !scope.admits_at(grid_id, &area_ids) {
            return Err(VisitError::NotYours(id.unwrap_or_default()));
        }
        let write = HouseholdWrite {
            id,
            expected_version: version,
            household,
            grid_id,
            area_ids,
            user_id: Some(user.id),
        };
        let app = self.clone();
        let stored = Self::to_the_end(async move {
            let stored = app.store.write_household(&write).await?;
            app.put_household(&stored);
            Ok::<_, VisitError>(stored)
        })
        .await?;
        Ok(self
            .views(vec![stored])
            .pop()
            .expect("one household in, one view out"))
    }

    /// Puts a stored household into the snapshot, replacing its old self.
    fn put_household(&self, stored: &Household) {
        self.publish_household(stored.id, |was| {
            Some(HouseholdPoint {
                id: stored.id,
                location: stored.location.0,
                grid_id: stored.grid_id,
                area_ids: stored.area_ids.clone(),
                building_code: stored.details.building_code.clone(),
                tags: stored.details.tags.clone(),
                // Its needs are the visits' business, not the household's fields.
                open_needs: was.map(|h| h.open_needs).unwrap_or_default(),
            })
        });
    }

    /// Sets the open needs of a household in the snapshot, as its visits now count them.
    pub(super) fn put_open_needs(&self, id: Id, open_needs: NeedCounts) {
        self.publish_household(id, |was| {
            was.filter(|h| h.open_needs != open_needs)
                .map(|h| HouseholdPoint {
                    open_needs,
                    ..h.clone()
                })
        });
    }

    /// Swaps in a snapshot in which household `id` is what `make` makes of its current self
    /// (`None` when the snapshot has none); `make` returning `None` changes nothing.
    fn publish_household(
        &self,
        id: Id,
        make: impl FnOnce(Option<&HouseholdPoint>) -> Option<HouseholdPoint>,
    ) {
        let _publish = self.holder_order();
        let current = self.snapshot.load();
        let Some(point) = make(current.household(id)) else {
            return;
        };
        let mut households = (*current.households).clone();
        match households.binary_search_by_key(&id, |h| h.id) {
            Ok(at) => households[at] = point,
            Err(at) => households.insert(at, point),
        }
        let next = current
            .followed_by(
                current.places.clone(),
                current.buildings.clone(),
                Arc::new(households),
                current.holders.clone(),
            )
            .with_index(current.index.clone());
        self.snapshot.store(Arc::new(next));
    }
}
