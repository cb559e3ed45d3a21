//! Listening for the change notices of migration 0005, and listening again after the
//! connection is lost (PostgreSQL restarted, a network cut), without a restart of wangge.
//!
//! A notice is lost while nobody listens, so every time the listener connects again it also
//! says "read everything again": the reader then sees every change committed while it was away.

use crate::store::{Result, retry_delay};
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::mpsc;

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

/// Starts listening on a connection of `pool` (a pool of its own, so that waiting for a lost
/// server does not hold a connection the queries need) for notices from other writers (`own`
/// is this store's writer name) about tables in `schema`. Each message on the receiver means
/// "read again"; it is also sent after every reconnection.
pub(super) async fn watch(pool: PgPool, schema: String, own: String) -> Result<mpsc::Receiver<()>> {
    let listener = listen(&pool).await?;
    // Capacity one: a pending message already says "read again", later notices fold into it.
    let (changed, receiver) = mpsc::channel(1);
    // Notices about this store's tables from other writers; anything unreadable counts.
    let from_others = move |payload: &str| match serde_json::from_str::<serde_json::Value>(payload)
    {
        Ok(notice) => notice["schema"] == schema.as_str() && notice["writer"] != own.as_str(),
        Err(_) => true,
    };
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
                        if let Err(mpsc::error::TrySendError::Closed(())) = changed.try_send(()) {
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
            match notice {
                Ok(Some(notice)) if !from_others(notice.payload()) => continue,
                Ok(Some(_)) => {}
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
                }
            }
            if let Err(mpsc::error::TrySendError::Closed(())) = changed.try_send(()) {
                break;
            }
        }
    });
    Ok(receiver)
}
