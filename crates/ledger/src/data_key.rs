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
        // Distinct bytes, none of whose renderings a placeholder could contain by chance.
        let bytes: [u8; DATA_KEY_LEN] = std::array::from_fn(|i| 0xc0 + i as u8);
        let key = DataKey::from_bytes(bytes);
        for shown in [format!("{key:?}"), format!("{key:#?}")] {
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let decimal = format!("{bytes:?}");
            let inner = &decimal[1..decimal.len() - 1];
            let lower = shown.to_lowercase();
            assert!(!lower.contains(&hex[..8]), "{shown}");
            assert!(!shown.contains(&inner[..14]), "{shown}");
            // Any two adjacent bytes, as hex or as a decimal list.
            for w in bytes.windows(2) {
                assert!(
                    !lower.contains(&format!("{:02x}{:02x}", w[0], w[1])),
                    "{shown}"
                );
                assert!(!shown.contains(&format!("{}, {}", w[0], w[1])), "{shown}");
            }
        }
    }
}
