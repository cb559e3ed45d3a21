//! Listening for the change notices of migrations 0005 and 0012, and listening again after the
//! connection is lost (PostgreSQL restarted, a network cut), without a restart of wangge.
//!
//! A notice is lost while nobody listens, so every time the listener connects again it also
//! says "read everything again": the reader then sees every change committed while it was away.

use crate::store::{ChangeFeed, ChangeSender, Result, change_feed, retry_delay};
use sqlx::postgres::{PgListener, PgPool};

/// The channel migration 0005's triggers notify.
const CHANGES_CHANNEL: &str = "wangge_changes";

/// A listener on [`CHANGES_CHANNEL`].
async fn listen(pool: &PgPool) -> Result<PgListener> {
    let mut listener = PgListener::connect_with(pool).await?;
    // A lost connection is replaced by `watch`, which reads again after each new one; sqlx's
    // own reconnection would replace it silently.
    listener.eager_reconnect(false);
    listener.listen(CHANGES_CHANNEL).await?;
    Ok(listener)
}

/// What a notice from another writer asks of the reader. Migration 0012's notices about visits
/// and needs name the households (`"households": [ids]`), migration 0014's the requests
/// (`"requests": [ids]`); every other notice, and one that cannot be read, asks to read
/// everything again.
fn tell(payload: &str, schema: &str, own: &str, changed: &ChangeSender) -> bool {
    let Ok(notice) = serde_json::from_str::<serde_json::Value>(payload) else {
        return changed.everything();
    };
    if notice["schema"] != schema || notice["writer"] == own {
        return true;
    }
    let ids = |key: &str| -> Option<Vec<i64>> {
        notice[key]
            .as_array()?
            .iter()
            .map(serde_json::Value::as_i64)
            .collect()
    };
    if let Some(households) = ids("households") {
        households.into_iter().all(|id| changed.visited(id))
    } else if let Some(requests) = ids("requests") {
        requests.into_iter().all(|id| changed.request(id))
    } else {
        changed.everything()
    }
}

/// Starts listening on a connection of `pool` (a pool of its own, so that waiting for a lost
/// server does not hold a connection the queries need) for notices from other writers (`own`
/// is this store's writer name) about tables in `schema`. After every reconnection the feed
/// says "read everything again": notices are lost while nobody listens.
pub(super) async fn watch(pool: PgPool, schema: String, own: String) -> Result<ChangeFeed> {
    let listener = listen(&pool).await?;
    let (changed, feed) = change_feed();
    tokio::spawn(async move {
        let mut listener = Some(listener);
        // Failed attempts to listen again since the connection was lost.
        let mut failures: u32 = 0;
        loop {
            let Some(current) = listener.as_mut() else {
                if failures > 0 {
                    let delay = retry_delay(failures);
                    tokio::select! {
                        _ = changed.closed() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                match listen(&pool).await {
                    Ok(again) => {
                        tracing::warn!(
                            attempt = failures + 1,
                            "listening for changes again; reading everything again in case a \
                             change was missed"
                        );
                        listener = Some(again);
                        failures = 0;
                        if !changed.everything() {
                            break;
                        }
                    }
                    Err(crate::store::StoreError::Database(sqlx::Error::PoolClosed)) => break,
                    Err(e) => {
                        failures += 1;
                        tracing::warn!(
                            attempt = failures,
                            retry_in_ms = retry_delay(failures).as_millis() as u64,
                            error = %e,
                            "listening for changes again failed"
                        );
                    }
                }
                continue;
            };
            let notice = tokio::select! {
                _ = changed.closed() => break,
                notice = current.try_recv() => notice,
            };
            let heard = match notice {
                Ok(Some(notice)) => tell(notice.payload(), &schema, &own, &changed),
                Err(sqlx::Error::PoolClosed) => break,
                // The connection is gone (`Ok(None)`), or broken in a way sqlx does not
                // recognise as lost: drop it and connect anew rather than trust its own
                // reconnection, so that each new connection is followed by a reload.
                lost => {
                    let error = lost.err().map(|e| e.to_string());
                    tracing::warn!(
                        error = error.as_deref().unwrap_or("connection closed"),
                        "lost the connection that listens for changes; connecting again"
                    );
                    listener = None;
                    // Also read again now: the change that ended the connection may be one.
                    changed.everything()
                }
            };
            if !heard {
                break;
            }
        }
    });
    Ok(feed)
}
