//! Ed25519 identities: a person, an AI model or a device is its public key.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::hash::{Hash, HexError};

/// A public key that has passed the weak-key check. Only these can author entries.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(VerifyingKey);

impl PartialOrd for PublicKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for PublicKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

/// Why 32 bytes are not an acceptable public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key is not a valid curve point")]
    NotAPoint,
    #[error("public key is weak (small order) and cannot author entries")]
    Weak,
    #[error("public key: {0}")]
    Hex(#[from] HexError),
}

impl PublicKey {
    /// Accepts only keys that decompress and are not of small order.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotAPoint)?;
        if key.is_weak() {
            return Err(KeyError::Weak);
        }
        Ok(PublicKey(key))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.as_bytes())
    }

    /// Whether `signature` is this key's signature of `message` (`verify_strict`: small-order R
    /// and non-canonical S are refused). For a signer outside this process, which must check
    /// what it hands back (see [`Signer`]).
    pub fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        self.0
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.0
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let h = Hash::from_hex(s)?;
        PublicKey::from_bytes(&h.0)
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &self.to_hex()[..12])
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A private signing key. Wiped from memory on drop (ed25519-dalek's `zeroize` feature) and
/// never printed: `Debug` shows only the public half.
pub struct SecretKey(SigningKey);

impl SecretKey {
    pub fn generate(rng: &mut impl CryptoRngCore) -> Self {
        SecretKey(SigningKey::generate(rng))
    }

    /// Builds a key from its 32-byte seed. The caller should hold the seed in a
    /// [`Zeroizing`] buffer.
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The seed, in a buffer that is wiped when dropped. Only the key store should call this.
    pub fn to_seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    pub fn public(&self) -> PublicKey {
        // A freshly derived key is never weak (it is a multiple of the base point).
        PublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.0.sign(message).to_bytes()
    }
}

/// Signs as one key: a key in memory ([`SecretKey`]), a hardware token or an agent holding the
/// key in another process. A key in memory cannot fail; the others can (a token removed, an agent
/// gone), and must return only a signature that verifies for [`Signer::public`] — they check it
/// before returning it, since the bytes came from outside this process.
pub trait Signer {
    /// The key signatures are made with.
    fn public(&self) -> PublicKey;
    /// The 64-byte ed25519 signature of `message`.
    fn try_sign(&self, message: &[u8]) -> Result<[u8; 64], SignError>;
}

/// Why a signer outside this process made no signature (its own words, for the user).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// This signature was not made (a token removed, an agent that did not answer).
    #[error("{0}")]
    Failed(String),
    /// The signer put its key away for good and will sign nothing more with it: a signing
    /// agent whose key was rotated away or revoked. Told apart from [`SignError::Failed`] so
    /// that the caller says why (the key is no longer the home's), not that signing failed.
    #[error("{0}")]
    KeyPutAway(String),
}

impl Signer for SecretKey {
    fn public(&self) -> PublicKey {
        SecretKey::public(self)
    }
    fn try_sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        Ok(self.sign(message))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(<redacted>, public {})",
            self.public().to_hex()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let seed = [7u8; 32];
        let key = SecretKey::from_seed(&seed);
        let shown = format!("{key:?}");
        assert!(shown.contains("redacted"));
        assert!(!shown.contains(&hex::encode(seed)));
        assert!(!shown.contains("0707070707"));
    }

    #[test]
    fn weak_keys_are_rejected() {
        // The identity point (y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(PublicKey::from_bytes(&identity), Err(KeyError::Weak));
        let all_zero = [0u8; 32];
        assert_eq!(PublicKey::from_bytes(&all_zero), Err(KeyError::Weak));
    }

    #[test]
    fn verifies_only_this_keys_signature_of_this_message() {
        let key = SecretKey::from_seed(&[3; 32]);
        let signature = key.sign(b"message");
        assert!(key.public().verifies(b"message", &signature));
        assert!(!key.public().verifies(b"massage", &signature));
        let other = SecretKey::from_seed(&[4; 32]).public();
        assert!(!other.verifies(b"message", &signature));
        let mut flipped = signature;
        flipped[40] ^= 1;
        assert!(!key.public().verifies(b"message", &flipped));
    }

    #[test]
    fn hex_parse_round_trip() {
        let key = SecretKey::from_seed(&[1; 32]).public();
        assert_eq!(key.to_hex().parse::<PublicKey>(), Ok(key));
        assert!(matches!("xyz".parse::<PublicKey>(), Err(KeyError::Hex(_))));
    }
}
