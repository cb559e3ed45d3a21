//! Fixed units per category as use cases. Only admins set and remove them (the HTTP layer
//! admits no one else); every change is audited by the store. Staff read them, to know whom a
//! request went to and how to call them.

use super::{App, RequestError};
use crate::auth::User;
use crate::model::requests::category;
use crate::model::units::{CategoryUnit, UnitContact};
use crate::model::{Id, PlaceKind};
use crate::store::StoreError;

impl App {
    /// Every category unit.
    pub async fn category_units(&self) -> Result<Vec<CategoryUnit>, StoreError> {
        self.store.category_units().await
    }

    /// Sets the unit that answers for a category in a community (or everywhere), replacing
    /// the one there was; requests posted from now on go to it. Returns it and whether it
    /// replaced another.
    pub async fn set_category_unit(
        &self,
        user: &User,
        contact: UnitContact,
    ) -> Result<(CategoryUnit, bool), RequestError> {
        if category(&contact.category).is_none() {
            return Err(RequestError::UnknownCategory(contact.category));
        }
        if let Some(community) = contact.community_id {
            let map = self.map_data();
            let found = map.places.iter().find(|p| p.id == community);
            if found.is_none_or(|p| p.kind != PlaceKind::Community) {
                return Err(RequestError::NotACommunity(community));
            }
        }
        Ok(self
            .store
            .set_category_unit(&contact, Some(user.id))
            .await?)
    }

    /// Removes a category unit: its category goes to the responsible chain again there.
    pub async fn remove_category_unit(
        &self,
        user: &User,
        id: Id,
    ) -> Result<CategoryUnit, StoreError> {
        self.store.remove_category_unit(id, Some(user.id)).await
    }
}
