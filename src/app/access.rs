//! Who may see which households' personal data: decided here, once, for every endpoint that
//! answers with names, phones or rooms, and for every write that touches a household.
//!
//! | role      | sees                                                      |
//! |-----------|-----------------------------------------------------------|
//! | admin     | every household                                           |
//! | cadre     | the households in the areas they hold now                 |
//! | secretary | the households in the grids of their branch, or of their community when they are bound to no branch |
//! | planner   | none (statistics only)                                    |
//!
//! Requests (社情民意) follow the same lines: [`may_read_request`] says who reads a request's
//! personal data, [`Steppers`] who takes each step of its workflow; a secretary bound to a
//! branch supervises the requests in its grids, one bound to no branch those of the community.
//!
//! Party branches (党支部): [`manages_branch`] says who reads a branch's members (names,
//! phones), records its activities and reads their rolls by name: the branch's own secretary,
//! the secretaries of its community who are bound to no branch, and the admins.
//! [`reads_feed`] says who reads the activities of a community's branches without names: every
//! secretary of the community, and the admins.
//!
//! Anonymous callers never reach here: the HTTP layer answers 401 first.

use super::{HouseholdPoint, MapData};
use crate::auth::{Role, User};
use crate::model::branches::Branch;
use crate::model::requests::{Request, RequestState};
use crate::model::{Id, PlaceKind};
use std::collections::HashSet;

/// The households a user may see, from one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HouseholdScope {
    /// Every household (an admin).
    All,
    /// Those in any of these areas (a cadre's areas).
    Areas(HashSet<Id>),
    /// Those in any of these grids (a secretary's community's grids).
    Grids(HashSet<Id>),
    /// None: statistics only (a planner, or a secretary without a community).
    Nothing,
}

impl HouseholdScope {
    /// The scope of `user` in `map`.
    pub fn of(user: &User, map: &MapData) -> HouseholdScope {
        match user.role {
            Role::Admin => HouseholdScope::All,
            Role::Cadre => HouseholdScope::Areas(
                map.holders
                    .iter()
                    .filter(|(_, holder)| holder.id == user.id)
                    .map(|(&area, _)| area)
                    .collect(),
            ),
            Role::Secretary => match (user.branch_id, user.community_id) {
                (Some(branch), _) => HouseholdScope::Grids(
                    map.branches
                        .iter()
                        .filter(|b| b.id == branch)
                        .flat_map(|b| b.grid_ids.iter().copied())
                        .collect(),
                ),
                (None, Some(community)) => HouseholdScope::Grids(grids_of(map, community)),
                (None, None) => HouseholdScope::Nothing,
            },
            Role::Planner => HouseholdScope::Nothing,
        }
    }

    /// Whether the household is in the scope.
    pub fn admits(&self, household: &HouseholdPoint) -> bool {
        self.admits_at(household.grid_id, &household.area_ids)
    }

    /// Whether a household in this grid and these areas would be in the scope.
    pub fn admits_at(&self, grid_id: Option<Id>, area_ids: &[Id]) -> bool {
        match self {
            HouseholdScope::All => true,
            HouseholdScope::Areas(areas) => area_ids.iter().any(|a| areas.contains(a)),
            HouseholdScope::Grids(grids) => grid_id.is_some_and(|g| grids.contains(&g)),
            HouseholdScope::Nothing => false,
        }
    }

    /// Whether the user may see any household's personal data at all.
    pub fn sees_households(&self) -> bool {
        *self != HouseholdScope::Nothing
    }
}

/// The grids of a community.
pub fn grids_of(map: &MapData, community: Id) -> HashSet<Id> {
    map.places
        .iter()
        .filter(|p| p.kind == PlaceKind::Grid && p.parent_id == Some(community))
        .map(|p| p.id)
        .collect()
}

/// Whether `user` manages `branch`: reads its members' personal data, records its activities
/// and their photos, reads its rolls by name and sends lessons to its members.
pub fn manages_branch(user: &User, branch: &Branch) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Secretary => match user.branch_id {
            Some(own) => own == branch.id,
            None => user.community_id == Some(branch.community_id),
        },
        Role::Cadre | Role::Planner => false,
    }
}

/// Whether `user` reads the activities of the branches of `community` (themes, times, photos,
/// attendance counts; names only where [`manages_branch`] says so): so that its branches see
/// each other's work.
pub fn reads_feed(user: &User, community: Id) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Secretary => user.community_id == Some(community),
        Role::Cadre | Role::Planner => false,
    }
}

/// Whether `user` may record a visit to `household`: its area's holder, or an admin. A
/// secretary reads the diary of their community but does not write in a cadre's.
pub fn may_visit(user: &User, household: &HouseholdPoint, map: &MapData) -> bool {
    match user.role {
        Role::Admin => true,
        Role::Cadre => household
            .area_ids
            .iter()
            .any(|a| map.holders.get(a).is_some_and(|h| h.id == user.id)),
        Role::Secretary | Role::Planner => false,
    }
}

/// Whether `user` supervises what happens in `grid` of `community`: an admin; a secretary
/// bound to a branch that serves the grid; a secretary of the community bound to no branch.
fn supervises_spot(user: &User, grid: Id, community: Id, map: &MapData) -> bool {
    match (user.role, user.branch_id) {
        (Role::Admin, _) => true,
        (Role::Secretary, Some(branch)) => map
            .branches
            .iter()
            .any(|b| b.id == branch && b.grid_ids.contains(&grid)),
        (Role::Secretary, None) => user.community_id == Some(community),
        (Role::Cadre | Role::Planner, _) => false,
    }
}

/// Whether `user` may read a request with its personal data (the reporter, the household):
/// whoever answers for it or was sent to do it, the holder of its area, the secretaries who
/// supervise its grid (its branch's, or its community's bound to no branch) and the admins.
/// Everyone else reads its public form (Open311), without them.
pub fn may_read_request(user: &User, request: &Request, map: &MapData) -> bool {
    let spot = &request.spot;
    match user.role {
        Role::Admin => true,
        Role::Secretary => {
            supervises_spot(user, spot.grid_id, spot.community_id, map)
                || request.responsible_id == Some(user.id)
                || request.assignee_id == Some(user.id)
        }
        Role::Cadre => {
            request.responsible_id == Some(user.id)
                || request.assignee_id == Some(user.id)
                || request
                    .spot
                    .area_id
                    .is_some_and(|a| map.holders.get(&a).is_some_and(|h| h.id == user.id))
        }
        Role::Planner => false,
    }
}

/// Who may take a step of the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steppers {
    /// Whoever answers for the request now (the cadre of its area, or the secretary its link
    /// names), the secretaries of its community and the admins: accept, reject, duplicate.
    Answerers,
    /// The secretaries of its community and the admins: dispatch, verify, close, reopen.
    Supervisors,
    /// Whoever it was dispatched to; when it went to a unit, a supervisor records for them.
    Assignee,
}

impl Steppers {
    /// Who takes the step to `to`.
    pub fn of(to: RequestState) -> Steppers {
        match to {
            RequestState::Accepted | RequestState::Rejected | RequestState::Duplicate => {
                Steppers::Answerers
            }
            RequestState::Handled => Steppers::Assignee,
            RequestState::Dispatched
            | RequestState::Verified
            | RequestState::Closed
            | RequestState::Reopened
            | RequestState::Reported => Steppers::Supervisors,
        }
    }

    /// Whether `user` is one of them for `request`.
    pub fn include(self, user: &User, request: &Request, map: &MapData) -> bool {
        let spot = &request.spot;
        let supervises = supervises_spot(user, spot.grid_id, spot.community_id, map);
        match self {
            Steppers::Supervisors => supervises,
            Steppers::Answerers => supervises || request.responsible_id == Some(user.id),
            Steppers::Assignee => match request.assignee_id {
                Some(assignee) => assignee == user.id,
                None => supervises,
            },
        }
    }
}
