//! Fixed units per category (FixMyStreet's contacts): some requests are not the grid's to
//! handle but a unit's (the water company for a burst main, the street's 城管中队 for illegal
//! parking). A category given a unit is dispatched to it the moment it is posted; the
//! responsible chain still supervises: it verifies the work and closes the request.

use super::Id;
use serde::Serialize;

/// A unit that answers for a category of request, in one community or everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryUnit {
    /// Its database id.
    pub id: Id,
    /// The category ([`super::requests::Category::code`]).
    pub category: String,
    /// The community it answers in; `None`: every community without a unit of its own.
    pub community_id: Option<Id>,
    /// The unit's name, as requests dispatched to it and Open311's `agency_responsible` show it.
    pub unit: String,
    /// A phone number the unit answers, for the cadres who follow the work.
    pub phone: Option<String>,
}

/// A unit as an admin sets it for a category (and community), replacing the one there was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitContact {
    /// The category.
    pub category: String,
    /// The community; `None` for everywhere.
    pub community_id: Option<Id>,
    /// The unit's name, 1 to 200 characters.
    pub unit: String,
    /// Its phone number.
    pub phone: Option<String>,
}
