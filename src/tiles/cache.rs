//! The encoded tiles kept in memory: bounded by bytes (moka, least recently and least frequently
//! used out), each entry knowing which data versions it holds for.
//!
//! An entry is made from one [`crate::app::MapData`] version and holds for every later version
//! whose writes did not change its layer inside its tile; the tile service checks that against
//! the snapshot's change log ([`crate::app::ChangeLog`]) and then records the newer version in the
//! entry, so the next check starts from there.

use super::Datum;
use crate::spatial::tiles::TileId;
use axum::body::Bytes;
use moka::ops::compute::Op;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bound of the tile cache, in bytes: plain plus gzip of every tile, and [`ENTRY_OVERHEAD`] per
/// entry (empty tiles count).
pub const CACHE_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// What an entry is counted as beyond its bytes: its key, its bookkeeping and the cache's own,
/// so that a flood of empty tiles is bounded too (at 64 MiB, about 130,000 of them).
const ENTRY_OVERHEAD: u64 = 512;

/// A layer, a datum and a tile: what one cache entry is for.
pub type Key = (usize, Datum, TileId);

/// One encoded tile: the plain bytes, the same gzipped, and the hash the ETags derive from.
#[derive(Debug)]
pub struct EncodedTile {
    /// The tile as encoded, uncompressed.
    pub raw: Bytes,
    /// The same bytes gzipped, for clients that accept gzip.
    pub gzip: Bytes,
    hash: String,
}

impl EncodedTile {
    pub(super) fn new(raw: Vec<u8>) -> EncodedTile {
        // A hash of the bytes, not a data version: the same bytes keep their ETag across writes
        // elsewhere and across restarts, and different bytes never get an ETag seen before.
        let digest = Sha256::digest(&raw);
        let hash = format!("{:x}-{}", raw.len(), hex::encode(&digest[..16]));
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 2 + 64),
            flate2::Compression::default(),
        );
        let gzip = encoder
            .write_all(&raw)
            .and_then(|()| encoder.finish())
            .expect("gzip into memory cannot fail");
        EncodedTile {
            raw: raw.into(),
            gzip: gzip.into(),
            hash,
        }
    }

    /// The strong ETag of one representation (plain or gzip).
    pub fn etag(&self, gzip: bool) -> String {
        if gzip {
            format!("\"{}-gzip\"", self.hash)
        } else {
            format!("\"{}\"", self.hash)
        }
    }

    /// Whether an `If-None-Match` value names this tile (either representation, weak or strong).
    pub fn matches(&self, if_none_match: &str) -> bool {
        if_none_match.split(',').any(|tag| {
            let tag = tag.trim();
            let tag = tag.strip_prefix("W/").unwrap_or(tag);
            tag == "*" || {
                let opaque = tag.trim_matches('"');
                opaque.strip_suffix("-gzip").unwrap_or(opaque) == self.hash
            }
        })
    }
}

/// A tile made from data version `made` (`None`: the layer has nothing there), known to hold up
/// to version `checked`.
#[derive(Debug)]
pub struct CacheEntry {
    made: u64,
    checked: AtomicU64,
    pub tile: Option<Arc<EncodedTile>>,
}

impl CacheEntry {
    pub fn new(made: u64, tile: Option<Arc<EncodedTile>>) -> CacheEntry {
        CacheEntry {
            made,
            checked: AtomicU64::new(made),
            tile,
        }
    }

    /// Whether the entry holds for data `version`. `unchanged_since(v)` answers whether the
    /// writes from version `v` to `version` left the tile alone; it is asked only when the entry
    /// has not been checked up to `version` yet.
    pub fn holds(&self, version: u64, unchanged_since: impl FnOnce(u64) -> bool) -> bool {
        let checked = self.checked.load(Ordering::Acquire);
        if (self.made..=checked).contains(&version) {
            return true;
        }
        if version < self.made {
            // Asked with an older snapshot than the tile was made from.
            return false;
        }
        if unchanged_since(checked) {
            self.checked.fetch_max(version, Ordering::AcqRel);
            return true;
        }
        false
    }

    fn weight(&self) -> u32 {
        let bytes = self
            .tile
            .as_ref()
            .map_or(0, |t| (t.raw.len() + t.gzip.len()) as u64);
        u32::try_from(ENTRY_OVERHEAD + bytes).unwrap_or(u32::MAX)
    }
}

/// The tile cache.
pub struct TileCache {
    entries: moka::sync::Cache<Key, Arc<CacheEntry>>,
}

impl TileCache {
    pub fn new(max_bytes: u64) -> TileCache {
        TileCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|_, entry: &Arc<CacheEntry>| entry.weight())
                .build(),
        }
    }

    pub fn get(&self, key: &Key) -> Option<Arc<CacheEntry>> {
        self.entries.get(key)
    }

    /// Stores a tile made from data version `made`, unless the entry there already holds for that
    /// version or a later one (a slower render of older data finished last).
    pub fn insert(&self, key: Key, made: u64, tile: Option<Arc<EncodedTile>>) {
        self.entries
            .entry(key)
            .and_compute_with(|current| match current {
                Some(entry) if entry.value().checked.load(Ordering::Acquire) >= made => Op::Nop,
                _ => Op::Put(Arc::new(CacheEntry::new(made, tile))),
            });
    }

    /// Bytes held as the weigher counts them, after pending evictions.
    #[cfg(test)]
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_stays_bounded() {
        let max = 1024 * 1024;
        let cache = TileCache::new(max);
        let tile = Some(Arc::new(EncodedTile::new(vec![0; 1000])));
        for i in 0..5_000 {
            cache.insert(
                (0, Datum::Wgs84, TileId { z: 20, x: i, y: 0 }),
                1,
                tile.clone(),
            );
        }
        assert!(cache.weighted_size() <= max);
        assert!(cache.entries.entry_count() > 100, "it still holds many");
    }

    #[test]
    fn an_older_version_never_replaces_a_newer_one() {
        let cache = TileCache::new(CACHE_MAX_BYTES);
        let key = (0, Datum::Wgs84, TileId { z: 20, x: 0, y: 0 });
        let tile = Some(Arc::new(EncodedTile::new(vec![1, 2, 3])));
        cache.insert(key, 5, tile);
        cache.insert(key, 4, None);
        assert!(cache.get(&key).unwrap().tile.is_some());
        cache.insert(key, 6, None);
        assert!(cache.get(&key).unwrap().tile.is_none());
    }

    #[test]
    fn an_entry_holds_from_the_version_it_was_made_from_while_nothing_touched_it() {
        let entry = CacheEntry::new(5, None);
        assert!(entry.holds(5, |_| panic!("no check needed")));
        assert!(!entry.holds(4, |_| panic!("older data: no check")));
        assert!(!entry.holds(7, |since| {
            assert_eq!(since, 5);
            false
        }));
        assert!(entry.holds(8, |since| since == 5));
        // Checked up to 8 now: 6 to 8 need no check.
        assert!(entry.holds(6, |_| panic!("already checked")));
        assert!(entry.holds(9, |since| since == 8));
    }

    #[test]
    fn etags_follow_the_bytes() {
        let a = EncodedTile::new(vec![1, 2, 3]);
        let b = EncodedTile::new(vec![1, 2, 4]);
        assert_eq!(a.etag(false), EncodedTile::new(vec![1, 2, 3]).etag(false));
        assert_ne!(a.etag(false), b.etag(false));
        assert_ne!(a.etag(false), a.etag(true));
        assert!(a.matches(&a.etag(true)) && !a.matches(&b.etag(false)));
    }

    #[test]
    fn if_none_match_names_either_representation() {
        let t = EncodedTile::new(vec![1, 2, 3]);
        assert!(t.matches(&t.etag(false)));
        assert!(t.matches(&format!("\"x\", W/{}", t.etag(true))));
        assert!(t.matches("*"));
        assert!(!t.matches("\"something-else\""));
    }
}
