//! A bounded cache of frame packets (see [`crate::viewer`]), so that scrolling back and forth
//! through a series, and slices fetched ahead of the scroll, cost no second decode.
//!
//! Bounded in bytes (the packets' lengths), least recently used first out. An image's bytes are
//! content-addressed and re-checked when first decoded, so a packet cached under an image's
//! SHA-256 stays right for as long as it is kept.
//!
//! ```
//! use countersign_app::FrameCache;
//!
//! let cache = FrameCache::new(1 << 20);
//! let packet = cache.get_or_insert_with("ab12", 0, || Ok(vec![1, 2, 3])).unwrap();
//! assert_eq!(&packet[..], &[1, 2, 3]);
//! assert_eq!(cache.stats().bytes, 3);
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::Result;

/// The cache's budget unless `COUNTERSIGN_FRAME_CACHE_MB` says otherwise: 500 slices of a 512²
/// CT (512 KiB each) fit in 256 MiB.
pub const DEFAULT_FRAME_CACHE_BYTES: usize = 256 << 20;

/// The budget the desktop uses: `COUNTERSIGN_FRAME_CACHE_MB` (whole MiB, 0 turns the cache
/// off), else [`DEFAULT_FRAME_CACHE_BYTES`].
pub fn frame_cache_budget() -> usize {
    std::env::var("COUNTERSIGN_FRAME_CACHE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(DEFAULT_FRAME_CACHE_BYTES, |mb| mb.saturating_mul(1 << 20))
}

type Key = (String, u32);

#[derive(Default)]
struct Inner {
    packets: HashMap<Key, (Arc<[u8]>, u64)>,
    /// Use order: the stamp of each packet's last use, oldest first.
    order: BTreeMap<u64, Key>,
    bytes: usize,
    clock: u64,
    hits: u64,
    misses: u64,
    /// Moves at every [`FrameCache::clear`]: a packet made before a clear is not kept after it.
    generation: u64,
    /// The last packet made that is larger than the whole budget, kept aside beside it (the
    /// viewer cuts the parts of such a frame from one decode), under the same rules: cleared
    /// with the rest, and not kept if made across a clear.
    oversized: Option<(Key, Arc<[u8]>)>,
}

/// What the cache holds now (for the benchmark and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCacheStats {
    pub packets: usize,
    pub bytes: usize,
    pub budget: usize,
    pub hits: u64,
    pub misses: u64,
}

/// See the module docs. Shared between threads; a decode runs outside the lock.
pub struct FrameCache {
    budget: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameCache({:?})", self.stats())
    }
}

impl FrameCache {
    pub fn new(budget: usize) -> FrameCache {
        FrameCache {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The packet of `frame` of `sha256`, made by `make` if it is not cached. Two threads
    /// asking for the same frame at once may both make it (the second result is dropped);
    /// nobody waits behind another's decode.
    pub fn get_or_insert_with(
        &self,
        sha256: &str,
        frame: u32,
        make: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<[u8]>> {
        let key = (sha256.to_string(), frame);
        let generation = {
            let mut inner = self.lock();
            inner.clock += 1;
            let now = inner.clock;
            if let Some((packet, stamp)) = inner.packets.get_mut(&key) {
                let (packet, old) = (packet.clone(), std::mem::replace(stamp, now));
                inner.order.remove(&old);
                inner.order.insert(now, key);
                inner.hits += 1;
                return Ok(packet);
            }
            if let Some((_, packet)) = inner.oversized.as_ref().filter(|(k, _)| *k == key) {
                let packet = packet.clone();
                inner.hits += 1;
                return Ok(packet);
            }
            inner.misses += 1;
            inner.generation
        };
        let packet: Arc<[u8]> = make()?.into();
        self.insert(key, packet.clone(), generation);
        Ok(packet)
    }

    /// Keeps `packet`, made while the cache was at `generation`: not if it was cleared since.
    /// An image erased while one of its frames was decoding (the decode had opened its file)
    /// was put back after the erasure's clear and served from memory on (found by review,
    /// 2026-12-05).
    fn insert(&self, key: Key, packet: Arc<[u8]>, generation: u64) {
        let mut inner = self.lock();
        if inner.generation != generation {
            return;
        }
        // A packet larger than the whole budget is kept aside alone, in place of the last
        // one. (The desktop kept it in a slot of its own, which its erasure emptied but a
        // decode running across the erasure filled again: found by review, 2026-12-05.)
        if packet.len() > self.budget {
            inner.oversized = Some((key, packet));
            return;
        }
        if inner.packets.contains_key(&key) {
            return;
        }
        while inner.bytes + packet.len() > self.budget {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some((gone, _)) = inner.packets.remove(&oldest) {
                inner.bytes -= gone.len();
            }
        }
        inner.clock += 1;
        let now = inner.clock;
        inner.bytes += packet.len();
        inner.order.insert(now, key.clone());
        inner.packets.insert(key, (packet, now));
    }

    /// Drops every packet kept (hit and miss counts stay). After an erasure: no decoded
    /// pixels of an erased image stay in memory to be served again.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.packets.clear();
        inner.order.clear();
        inner.bytes = 0;
        inner.oversized = None;
        inner.generation += 1;
    }

    pub fn stats(&self) -> FrameCacheStats {
        let inner = self.lock();
        FrameCacheStats {
            packets: inner.packets.len(),
            bytes: inner.bytes,
            budget: self.budget,
            hits: inner.hits,
            misses: inner.misses,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    fn packet(n: usize) -> Result<Vec<u8>> {
        Ok(vec![7; n])
    }

    /// Asks for frame 0 of `sha256` and says whether it had to be made (a packet of `n` bytes).
    fn made_again(cache: &FrameCache, sha256: &str, n: usize) -> bool {
        let mut made = false;
        cache
            .get_or_insert_with(sha256, 0, || {
                made = true;
                packet(n)
            })
            .unwrap();
        made
    }

    #[test]
    fn a_cached_frame_is_not_made_again_and_the_bytes_stay_within_the_budget() {
        let cache = FrameCache::new(100);
        cache.get_or_insert_with("a", 0, || packet(40)).unwrap();
        cache
            .get_or_insert_with("a", 0, || panic!("made twice"))
            .unwrap();
        cache.get_or_insert_with("b", 0, || packet(40)).unwrap();
        // "a" was last used before "b" was added, so "a" goes first.
        cache.get_or_insert_with("c", 0, || packet(40)).unwrap();
        let stats = cache.stats();
        assert!(stats.bytes <= 100, "{stats:?}");
        assert_eq!(stats.packets, 2);
        assert!(
            made_again(&cache, "a", 40),
            "the least recently used packet was the one dropped"
        );
        assert_eq!((stats.hits, stats.misses), (1, 3));
    }

    #[test]
    fn clearing_drops_every_packet_so_the_next_ask_makes_it_again() {
        let cache = FrameCache::new(100);
        cache.get_or_insert_with("a", 0, || packet(40)).unwrap();
        cache.clear();
        assert_eq!((cache.stats().packets, cache.stats().bytes), (0, 0));
        assert!(
            made_again(&cache, "a", 40),
            "a cleared packet is not served from memory"
        );
    }

    #[test]
    fn use_keeps_a_packet_and_a_packet_over_the_budget_is_served_not_kept() {
        let cache = FrameCache::new(100);
        cache.get_or_insert_with("a", 0, || packet(40)).unwrap();
        cache.get_or_insert_with("b", 0, || packet(40)).unwrap();
        cache.get_or_insert_with("a", 0, || packet(40)).unwrap();
        cache.get_or_insert_with("c", 0, || packet(40)).unwrap();
        // "b" was the least recently used.
        cache
            .get_or_insert_with("a", 0, || panic!("a was used, so kept"))
            .unwrap();
        let big = cache.get_or_insert_with("d", 0, || packet(101)).unwrap();
        assert_eq!(big.len(), 101);
        assert!(cache.stats().bytes <= 100);
        // Kept aside, alone: served again without a second decode until another takes its
        // place.
        cache
            .get_or_insert_with("d", 0, || {
                panic!("the last packet over the budget made again")
            })
            .unwrap();
        cache.get_or_insert_with("e", 0, || packet(101)).unwrap();
        assert!(
            made_again(&cache, "d", 101),
            "only the last packet over the budget is kept aside"
        );
        // Frames of one image are told apart, and an error is not cached.
        let failed = cache.get_or_insert_with("a", 1, || Err(AppError::InvalidInput("bad".into())));
        assert!(failed.is_err());
        cache.get_or_insert_with("a", 1, || packet(1)).unwrap();
    }

    /// Found by review (2026-12-05): a frame decoding while an erasure cleared the cache was
    /// kept once decoded, and the erased image's pixels were served from memory after the
    /// erasure. Cleared during `make` here (which runs outside the lock, as a decode does).
    /// Fails if a packet made before a clear is kept after it.
    #[test]
    fn a_frame_made_while_the_cache_was_cleared_is_served_not_kept() {
        let cache = FrameCache::new(1 << 20);
        let got = cache
            .get_or_insert_with("erased", 0, || {
                cache.clear();
                packet(100)
            })
            .unwrap();
        assert_eq!(got.len(), 100, "served to whoever asked");
        assert_eq!(cache.stats().packets, 0, "kept after the clear");
        assert!(made_again(&cache, "erased", 100), "served from memory");
    }

    /// The same for a frame larger than the whole budget, kept aside (the desktop's own slot
    /// for it had the race, found by review, 2026-12-05). Fails if it is kept across a clear.
    #[test]
    fn a_frame_over_the_budget_made_while_the_cache_was_cleared_is_not_kept_aside() {
        let cache = FrameCache::new(10);
        cache
            .get_or_insert_with("erased", 0, || {
                cache.clear();
                packet(100)
            })
            .unwrap();
        assert!(made_again(&cache, "erased", 100), "served from memory");
        // And a clear drops what is kept aside.
        cache.clear();
        assert!(
            made_again(&cache, "erased", 100),
            "kept aside across a clear"
        );
    }
}
