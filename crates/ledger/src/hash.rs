//! 32-byte SHA-256 digests and the ids built from them.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// A SHA-256 digest. Displayed and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The all-zero value, used in headers where a field is "not yet known" (genesis entries).
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Hash(Sha256::digest(bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 32]
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses exactly 64 hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        let mut out = [0u8; 32];
        if s.len() != 64 {
            return Err(HexError::Length { found: s.len() });
        }
        hex::decode_to_slice(s, &mut out).map_err(|_| HexError::NotHex)?;
        Ok(Hash(out))
    }

    /// From a slice that must be exactly 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..12])
    }
}

impl FromStr for Hash {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Hash::from_hex(s)
    }
}

/// Why a hex string is not a 32-byte value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("expected 64 hex digits, found {found} characters")]
    Length { found: usize },
    #[error("not hexadecimal")]
    NotHex,
}

/// The id of an entry: SHA-256 of its canonical header bytes.
pub type EntryId = Hash;
/// The id of a log: the id of the log's genesis entry.
pub type LogId = Hash;
/// The id of a department network: the id of its `network.genesis` entry.
pub type NetworkId = Hash;

impl serde::Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash::of(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Hash::from_hex(&h.to_hex()), Ok(h));
        assert_eq!(Hash::from_hex("ab"), Err(HexError::Length { found: 2 }));
        assert_eq!(Hash::from_hex(&"zz".repeat(32)), Err(HexError::NotHex));
    }
}

/// A hasher for maps keyed by [`Hash`]: the key is already a SHA-256 digest, uniformly
/// distributed, so its first eight bytes are the hash. Keys an attacker picks are digests of
/// signed headers; making many of them share eight bytes would take ~2^64 work per key.
/// Several times cheaper than SipHash over 32 bytes, which dominated projecting large reports.
///
/// [`Hash`]: struct@Hash
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as one write of its bytes; anything else still hashes, only slower
        // to spread.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
            if bytes.len() == 32 {
                break;
            }
        }
    }
}

/// A `HashMap` keyed by digests (entry ids, log ids), hashed by [`IdHasher`].
pub type IdMap<V> = std::collections::HashMap<Hash, V, std::hash::BuildHasherDefault<IdHasher>>;
/// A `HashSet` of digests, hashed by [`IdHasher`].
pub type IdSet = std::collections::HashSet<Hash, std::hash::BuildHasherDefault<IdHasher>>;
