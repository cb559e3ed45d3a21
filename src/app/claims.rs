//! Claims as use cases: the store's write and the in-memory holder change together, in a task
//! of their own.
//!
//! axum drops a handler's future when its client goes away. Were the store write and the
//! in-memory update made in the handler, a client that hung up between the two would leave
//! memory behind the database until a restart. [`App::to_the_end`] runs them in a spawned task
//! that the handler only waits for: a dropped handler stops waiting, the task goes on.

use super::App;
use crate::model::{Claim, Id};
use crate::store::Result;
use std::future::Future;
use std::sync::Arc;

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
}
