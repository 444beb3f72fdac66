//! The home's memory of rows already verified, so that showing a report again does not check
//! every signature again — bounded, so a long-running home's memory does not grow with its
//! store.

/// Fingerprints of stored rows whose signature, hash and links verified. The fingerprint is
/// SipHash under this process's random key over the row's header, signature and payload: a row
/// changed on disk gets a different one (an attacker cannot aim a collision without the key),
/// so it is verified again.
///
/// Bounded: at most [`MAX_VERIFIED`] rows, in two generations of half as many. Rows go into
/// the newer; when it is full it becomes the older and the older is dropped. A row remembered
/// again (every show of a report remembers its rows) moves to the newer, so what is dropped is
/// what was least recently shown: an LRU in effect, at a map lookup per row and no per-row
/// bookkeeping. A row forgotten is only verified again.
#[derive(Debug)]
pub(crate) struct Verified {
    hasher: std::hash::RandomState,
    newer: std::collections::HashMap<countersign_ledger::EntryId, u64>,
    older: std::collections::HashMap<countersign_ledger::EntryId, u64>,
    capacity: usize,
}

/// Verified rows remembered at most (about 50 bytes each: some 13 MiB), so that a long-running
/// home's memory does not grow with its store; ten reports of 10 000 entries fit many times.
pub(crate) const MAX_VERIFIED: usize = 1 << 18;

impl Default for Verified {
    fn default() -> Self {
        Verified::with_capacity(MAX_VERIFIED)
    }
}

impl Verified {
    pub(crate) fn with_capacity(capacity: usize) -> Verified {
        Verified {
            hasher: std::hash::RandomState::new(),
            newer: std::collections::HashMap::new(),
            older: std::collections::HashMap::new(),
            capacity: capacity.max(2),
        }
    }

    /// How many rows are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }

    pub(crate) fn fingerprint(&self, row: &countersign_store::StoredEntry) -> u64 {
        use std::hash::{BuildHasher, Hash as _, Hasher};
        let mut h = self.hasher.build_hasher();
        row.header.hash(&mut h);
        row.signature.hash(&mut h);
        row.payload.hash(&mut h);
        h.finish()
    }

    pub(crate) fn is_verified(&self, id: &countersign_ledger::EntryId, fingerprint: u64) -> bool {
        self.newer.get(id).or_else(|| self.older.get(id)) == Some(&fingerprint)
    }

    pub(crate) fn remember(&mut self, id: countersign_ledger::EntryId, fingerprint: u64) {
        if self.newer.len() >= self.capacity / 2 && !self.newer.contains_key(&id) {
            self.older = std::mem::take(&mut self.newer);
        }
        self.older.remove(&id);
        self.newer.insert(id, fingerprint);
    }
}
