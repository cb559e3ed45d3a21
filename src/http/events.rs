//! `GET /api/v1/me/events`: server-sent events for the phones and screens of staff. Each report,
//! step and escalation of a request the caller may read (the same rule as reading it,
//! `app::access::may_read_request`) arrives as an event `request` whose data is the request as
//! staff read it plus `"notice": "reported" | "stepped" | "escalated"`, within moments of its
//! commit on any instance over the same database. A listener that fell more than
//! [`crate::app::FEED_CAPACITY`] notices behind gets an event `lagged` and should read
//! `GET /api/v1/me/requests` again. The stream ends when the caller's login does (checked at
//! most every [`LOGIN_CHECK_SECS`] seconds) and when the server stops. At most
//! [`MAX_EVENT_STREAMS`] are open at once (503 `busy` beyond).

use super::AppState;
use super::auth::Caller;
use super::error::ApiError;
use super::requests::full;
use crate::app::access::may_read_request;
use crate::app::{App, RequestNotice};
use crate::auth::{Role, User};
use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures::Stream;
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{Receiver, error::RecvError};
use tokio::sync::{OwnedSemaphorePermit, watch};

/// How often, at most, a stream checks that the login it was opened with still holds.
pub const LOGIN_CHECK_SECS: u64 = 60;
/// The most event streams open at once on one instance: a phone each for every cadre of a
/// district, with room; one more is 503 `busy`, so that streams cannot use up the server.
pub const MAX_EVENT_STREAMS: usize = 20_000;

/// The route of the event stream.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/me/events", get(events))
}

/// One listener: what it hears, who it is and when its login was last checked.
struct Listener {
    /// Held while the stream lives: one of [`MAX_EVENT_STREAMS`].
    _slot: OwnedSemaphorePermit,
    notices: Receiver<Arc<RequestNotice>>,
    closing: watch::Receiver<bool>,
    app: Arc<App>,
    user: User,
    token_hash: String,
    checked: Instant,
}

impl Listener {
    /// The next event for this listener; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            let heard = tokio::select! {
                heard = self.notices.recv() => heard,
                _ = self.closing.wait_for(|closing| *closing) => return None,
            };
            let notice = match heard {
                Ok(notice) => notice,
                Err(RecvError::Lagged(missed)) => {
                    return Some(Event::default().event("lagged").data(missed.to_string()));
                }
                Err(RecvError::Closed) => return None,
            };
            if self.checked.elapsed() >= Duration::from_secs(LOGIN_CHECK_SECS) {
                match self.app.token_hash_user(&self.token_hash).await {
                    Ok(Some(user)) => self.user = user,
                    // Logged out or expired: the stream ends with the login.
                    Ok(None) => return None,
                    // The database is away: keep serving on the login as last seen.
                    Err(e) => tracing::warn!(error = %e, "checking a stream's login failed"),
                }
                self.checked = Instant::now();
            }
            if !may_read_request(&self.user, &notice.request, &self.app.map_data()) {
                continue;
            }
            let mut data = full(&self.app.request_view(notice.request.clone()));
            data["notice"] = json!(notice.kind);
            return Some(Event::default().event("request").data(data.to_string()));
        }
    }
}

/// `GET /api/v1/me/events`.
async fn events(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    caller.require(&[Role::Admin, Role::Secretary, Role::Cadre])?;
    let slot = state
        .event_streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| ApiError::Busy)?;
    let (notices, closing) = state.app.request_notices();
    let listener = Listener {
        _slot: slot,
        notices,
        closing,
        app: state.app.clone(),
        token_hash: caller.token_hash().to_string(),
        user: caller.user,
        checked: Instant::now(),
    };
    let stream = futures::stream::unfold(listener, |mut listener| async move {
        let event = listener.next().await?;
        Some((Ok(event), listener))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
