//! Claims as use cases: the store's write and the in-memory holder change together, in a task
//! of their own.
//!
//! axum drops a handler's future when its client goes away. Were the store write and the
//! in-memory update made in the handler, a client that hung up between the two would leave
//! memory behind the database until a restart. [`App::to_the_end`] runs them in a spawned task
//! that the handler only waits for: a dropped handler stops waiting, the task goes on.

use super::App;
use crate::auth::{Role, User};
use crate::model::{Claim, HeldArea, Holder, Id};
use crate::store::{Result, StoreError};
use std::future::Future;
use std::sync::Arc;

/// Why a release or reassignment asked by a user was refused before the store was asked.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("area {0} is not claimed")]
    /// Nobody holds the area with this id now, so there is nothing to release.
    NotClaimed(Id),
    /// Only the holder or an admin may release an area.
    #[error("area {area_id} is held by {}; only its holder or an admin may release it", holder.label())]
    NotYours {
        /// The area asked about.
        area_id: Id,
        /// Who holds it now.
        holder: Holder,
    },
    #[error("there is no user named {0:?}")]
    /// No account has the login name given as the new holder.
    UnknownUser(String),
    #[error("{name} is a {role}; only a cadre can hold an area")]
    /// The account given as the new holder is not a cadre (干部); only cadres hold areas.
    NotACadre {
        /// Its login name.
        name: String,
        /// Its role.
        role: Role,
    },
    #[error(transparent)]
    /// The store refused or failed the release or reassignment.
    Store(#[from] StoreError),
}

impl App {
    /// Runs `work` in a task of its own and waits for it: dropping the returned future (a client
    /// went away) leaves `work` running to its end. A panic in `work` resumes here.
    pub(super) async fn to_the_end<T: Send + 'static>(
        work: impl Future<Output = T> + Send + 'static,
    ) -> T {
        match tokio::spawn(work).await {
            Ok(done) => done,
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                // Only a runtime shutting down cancels the task.
                Err(e) => panic!("a write task did not finish: {e}"),
            },
        }
    }

    /// `user_id` claims the area ([`crate::store::Store::claim_area`]), and memory names them
    /// as its holder.
    pub async fn claim_area(self: &Arc<Self>, area_id: Id, user_id: Id) -> Result<Claim> {
        let app = self.clone();
        Self::to_the_end(async move {
            let (claim, seq) = app.store.claim_area(area_id, user_id).await?;
            app.set_holder(area_id, Some(claim.holder.clone()), seq);
            Ok(claim)
        })
        .await
    }

    /// Ends `holder_id`'s claim of the area, done by `by`
    /// ([`crate::store::Store::release_area`]); memory then has no holder for it.
    pub async fn release_area(
        self: &Arc<Self>,
        area_id: Id,
        holder_id: Id,
        by: Id,
    ) -> Result<Claim> {
        let app = self.clone();
        Self::to_the_end(async move {
            let (ended, seq) = app.store.release_area(area_id, holder_id, by).await?;
            app.set_holder(area_id, None, seq);
            Ok(ended)
        })
        .await
    }

    /// Gives the area to `user_id`, done by `by` ([`crate::store::Store::reassign_area`]), and
    /// memory names them as its holder.
    pub async fn reassign_area(
        self: &Arc<Self>,
        area_id: Id,
        user_id: Id,
        by: Id,
    ) -> Result<Claim> {
        let app = self.clone();
        Self::to_the_end(async move {
            let (claim, seq) = app.store.reassign_area(area_id, user_id, by).await?;
            app.set_holder(area_id, Some(claim.holder.clone()), seq);
            Ok(claim)
        })
        .await
    }

    /// `caller` releases the area: its holder may, and an admin for them. The store releases
    /// only if the same user still holds it, so a change in between is
    /// [`StoreError::NotHeld`].
    pub async fn release_by(
        self: &Arc<Self>,
        area_id: Id,
        caller: &User,
    ) -> std::result::Result<Claim, ClaimError> {
        let current = self
            .store
            .area_claims(area_id)
            .await?
            .pop()
            .filter(|c| c.released_at.is_none())
            .ok_or(ClaimError::NotClaimed(area_id))?;
        if current.holder.id != caller.id && caller.role != Role::Admin {
            return Err(ClaimError::NotYours {
                area_id,
                holder: current.holder,
            });
        }
        Ok(self
            .release_area(area_id, current.holder.id, caller.id)
            .await?)
    }

    /// Gives the area to the cadre with the login name `name`, done by `by`.
    pub async fn reassign_to(
        self: &Arc<Self>,
        area_id: Id,
        name: &str,
        by: Id,
    ) -> std::result::Result<Claim, ClaimError> {
        let target = self
            .user_named(name)
            .await?
            .ok_or_else(|| ClaimError::UnknownUser(name.to_string()))?;
        if target.role != Role::Cadre {
            return Err(ClaimError::NotACadre {
                name: target.name,
                role: target.role,
            });
        }
        Ok(self.reassign_area(area_id, target.id, by).await?)
    }

    /// Every claim of an area, oldest first, also of an area deleted since.
    pub async fn area_claims(&self, area_id: Id) -> Result<Vec<Claim>> {
        self.store.area_claims(area_id).await
    }

    /// The areas `user_id` holds now, oldest claim first, with their household counts.
    pub async fn held_areas(&self, user_id: Id) -> Result<Vec<HeldArea>> {
        self.store.held_areas(user_id).await
    }
}
