//! A report's data key: the 256-bit secret its sealed payloads are encrypted under (see
//! `countersign_report::payload::seal`). It never enters a log — an append-only, replicated log
//! could never forget it — and travels only beside payloads (bundles, sync batches), so that
//! destroying it on erasure makes every copy of the ciphertext unreadable.
//!
//! The bytes are wiped when the key is dropped and never printed: `Debug` shows a placeholder.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Bytes in a data key.
pub const DATA_KEY_LEN: usize = 32;

/// A report's data key (see the module docs).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; DATA_KEY_LEN]);

impl DataKey {
    /// Wraps key bytes (from a random source, the key table, a bundle or a batch).
    pub fn from_bytes(bytes: [u8; DATA_KEY_LEN]) -> DataKey {
        DataKey(bytes)
    }

    /// From a slice of exactly [`DATA_KEY_LEN`] bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        <[u8; DATA_KEY_LEN]>::try_from(bytes).ok().map(DataKey)
    }

    pub fn as_bytes(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = DataKey::from_bytes([0xab; DATA_KEY_LEN]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "DataKey(redacted)");
        assert!(!shown.to_lowercase().contains("ab"));
    }
}
