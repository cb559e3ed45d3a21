//! What other writers commit to a store, as [`super::Store::watch_changes`] tells of it: a
//! doorbell that rings once for any number of changes, and what they were, folded together
//! until the reader takes them. Nothing is lost and a busy reader is never flooded.

use crate::model::Id;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What other writers changed since the reader last took the changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changed {
    /// Something the map data is made of (places, buildings, households, claims), or anything
    /// the watcher could not read: read everything again.
    pub everything: bool,
    /// Households whose visits or needs changed: their diary is read again, the map is not.
    pub visited: BTreeSet<Id>,
    /// Requests reported, moved or escalated: the phones that answer for them are told.
    pub requests: BTreeSet<Id>,
}

impl Changed {
    fn is_empty(&self) -> bool {
        !self.everything && self.visited.is_empty() && self.requests.is_empty()
    }
}

/// The reading end: [`ChangeFeed::next`].
#[derive(Debug)]
pub struct ChangeFeed {
    bell: mpsc::Receiver<()>,
    pending: Arc<Mutex<Changed>>,
}

/// The writing end, kept by the watcher.
#[derive(Debug, Clone)]
pub struct ChangeSender {
    bell: mpsc::Sender<()>,
    pending: Arc<Mutex<Changed>>,
}

/// A feed and the sender that fills it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let (sender, mut feed) = wangge::store::change_feed();
/// sender.visited(7);
/// sender.visited(9);
/// sender.visited(7);
/// let changed = feed.next().await.unwrap();
/// assert!(!changed.everything);
/// assert_eq!(changed.visited.into_iter().collect::<Vec<_>>(), [7, 9]);
/// # });
/// ```
pub fn change_feed() -> (ChangeSender, ChangeFeed) {
    // Capacity one: a ring pending already says "take the changes"; later ones fold into it.
    let (bell, rung) = mpsc::channel(1);
    let pending = Arc::new(Mutex::new(Changed::default()));
    (
        ChangeSender {
            bell,
            pending: pending.clone(),
        },
        ChangeFeed {
            bell: rung,
            pending,
        },
    )
}

fn lock(pending: &Mutex<Changed>) -> std::sync::MutexGuard<'_, Changed> {
    // Every change to it is one insert or one flag: still whole after a panic elsewhere.
    pending.lock().unwrap_or_else(|e| e.into_inner())
}

impl ChangeFeed {
    /// Waits for changes and takes every one that came meanwhile; `None` once the watcher has
    /// stopped.
    pub async fn next(&mut self) -> Option<Changed> {
        loop {
            self.bell.recv().await?;
            let changed = std::mem::take(&mut *lock(&self.pending));
            // A ring after the changes were taken with an earlier one: nothing new.
            if !changed.is_empty() {
                return Some(changed);
            }
        }
    }
}

impl ChangeSender {
    /// Tells the reader to read everything again; `false` once the reader is gone.
    pub fn everything(&self) -> bool {
        lock(&self.pending).everything = true;
        self.ring()
    }

    /// Tells the reader that household `id` was visited or its needs changed; `false` once the
    /// reader is gone.
    pub fn visited(&self, id: Id) -> bool {
        lock(&self.pending).visited.insert(id);
        self.ring()
    }

    /// Tells the reader that request `id` was reported or moved; `false` once the reader is
    /// gone.
    pub fn request(&self, id: Id) -> bool {
        lock(&self.pending).requests.insert(id);
        self.ring()
    }

    /// Waits until the reader is gone.
    pub async fn closed(&self) {
        self.bell.closed().await
    }

    fn ring(&self) -> bool {
        !matches!(
            self.bell.try_send(()),
            Err(mpsc::error::TrySendError::Closed(()))
        )
    }
}
