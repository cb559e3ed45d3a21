//! Requests as they happen, for the phones that answer them (`GET /api/v1/me/events`): every
//! report, step and escalation, whether this instance wrote it or another one over the same
//! PostGIS did (its notice comes through [`crate::store::Changed::requests`]). Who hears of
//! which request is decided where reading one is: [`super::access::may_read_request`].

use super::App;
use crate::model::Id;
use crate::model::requests::Request;
use crate::store::StoreError;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{broadcast, watch};

/// Notices kept for a listener that reads slower than they come; one that falls further behind
/// is told so ([`broadcast::error::RecvError::Lagged`]) and reads its list again.
pub const FEED_CAPACITY: usize = 1_024;

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A resident or staff reported it.
    Reported,
    /// Someone took a step of the workflow.
    Stepped,
    /// Its time ran out and it passed up the chain.
    Escalated,
}

/// One request after something happened to it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestNotice {
    /// What happened.
    pub kind: NoticeKind,
    /// The request as it is now.
    pub request: Request,
    /// Whether this instance wrote it (webhooks send only their own instance's writes).
    pub here: bool,
}

/// The sending end every instance keeps, and the word that ends every listener's stream.
#[derive(Debug)]
pub struct RequestFeed {
    notices: broadcast::Sender<Arc<RequestNotice>>,
    closing: watch::Sender<bool>,
}

impl Default for RequestFeed {
    fn default() -> Self {
        RequestFeed {
            notices: broadcast::channel(FEED_CAPACITY).0,
            closing: watch::channel(false).0,
        }
    }
}

impl App {
    /// Every request notice from now on, for one listener, and a receiver that turns `true`
    /// when the server stops: a stream must end then, or the server would wait for it.
    pub fn request_notices(
        &self,
    ) -> (
        broadcast::Receiver<Arc<RequestNotice>>,
        watch::Receiver<bool>,
    ) {
        (
            self.request_feed.notices.subscribe(),
            self.request_feed.closing.subscribe(),
        )
    }

    /// Ends every listener's stream: the server is stopping.
    pub fn close_request_notices(&self) {
        self.request_feed.closing.send_replace(true);
    }

    /// Tells the listeners of this instance of its own write (nobody listening is fine).
    pub(super) fn announce(&self, kind: NoticeKind, request: Request) {
        self.tell(RequestNotice {
            kind,
            request,
            here: true,
        });
    }

    fn tell(&self, notice: RequestNotice) {
        let _ = self.request_feed.notices.send(Arc::new(notice));
    }

    /// Tells the listeners of requests another writer changed: each is read again, and what
    /// happened is its last step's (a step without an actor is the clock's escalation).
    pub(super) async fn announce_stored(&self, ids: &BTreeSet<Id>) -> Result<(), StoreError> {
        for &id in ids {
            let Some(request) = self.store.request(id).await? else {
                continue;
            };
            let events = self.store.request_events(id).await?;
            let kind = match events.last() {
                Some(e) if e.from.is_none() => NoticeKind::Reported,
                Some(e) if e.actor_id.is_none() => NoticeKind::Escalated,
                _ => NoticeKind::Stepped,
            };
            self.tell(RequestNotice {
                kind,
                request,
                here: false,
            });
        }
        Ok(())
    }
}
