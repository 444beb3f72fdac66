//! A report's data key: the 256-bit secret its sealed payloads are encrypted under (see
//! `countersign_report::payload::seal`). It never enters a log — an append-only, replicated log
//! could never forget it — and travels only beside payloads (bundles, sync batches), so that
//! destroying it on erasure makes every copy of the ciphertext unreadable.
//!
//! The bytes are wiped when the key is dropped and never printed: `Debug` shows a placeholder.
//!
//! # At rest: wrapped under the member's key-encryption key
//!
//! A home stores its data keys beside the ciphertext they open (`report_keys` in its ledger),
//! so a copy of the ledger (a stolen laptop, a backup) must not hold them in clear. Each is
//! wrapped under the home's [`Kek`], which exists only while the member's signing key is
//! unlocked — whichever store holds that key:
//!
//! ```text
//! message  b"countersign data-key wrapping v1\0" ‖ member public key[32]
//! KEK      HKDF-SHA256(salt = b"countersign kek v1", ikm = Ed25519 signature of message,
//!                      info = b"countersign data-key wrapping v1" ‖ member public key)
//! wrapped  b"CWK1" ‖ nonce[24] ‖ XChaCha20-Poly1305(KEK, nonce, aad, data key[32]) ‖ tag[16]
//! aad      b"countersign wrapped data key v1\0" ‖ log[32]
//! ```
//!
//! Ed25519 (RFC 8032) signatures are deterministic, so the key in memory, the OS keychain's,
//! a PKCS#11 token's (which never gives the key out) and an agent's all give the same KEK.
//! The signature is checked (`verify_strict`) before it is used: a holder answering with
//! anything but the member's signature fails loudly instead of wrapping keys under garbage.
//! The message starts with a domain no other signed format of this project starts with (an
//! entry signs `countersign/entry/v1\0 ‖ header`, and checkpoints, invitations, delegations,
//! rotations and split-view evidence each their own `countersign…\0` domain), so the
//! signature that makes the KEK is never a signature of anything else, nor the reverse.
//!
//! The message names the member's key rather than the network: the network is not always
//! known when a home's first key arrives (a home trusting a founder takes the genesis and the
//! keys in one bundle), and the signature is bound to the key anyway. One member key gives one
//! KEK; a rotated key gives another, and the home re-wraps every row when it rotates.
//!
//! The AAD names the report: a wrapped key moved to another report's row does not open.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{LogId, PublicKey};

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

/// What the member's key signs to make the KEK (followed by its public key).
pub const KEK_MESSAGE_DOMAIN: &[u8] = b"countersign data-key wrapping v1\0";
const KEK_SALT: &[u8] = b"countersign kek v1";
const KEK_INFO: &[u8] = b"countersign data-key wrapping v1";
/// The first bytes of a wrapped data key.
pub const WRAP_MAGIC: &[u8; 4] = b"CWK1";
/// Bytes of a wrapping nonce (XChaCha20: random nonces are safe at any volume).
pub const WRAP_NONCE_LEN: usize = 24;
const WRAP_TAG_LEN: usize = 16;
/// Bytes of a wrapped data key.
pub const WRAPPED_LEN: usize = WRAP_MAGIC.len() + WRAP_NONCE_LEN + DATA_KEY_LEN + WRAP_TAG_LEN;
const WRAP_AAD_DOMAIN: &[u8] = b"countersign wrapped data key v1\0";

/// The bytes `member` signs to make its KEK (see the module docs).
pub fn kek_message(member: &PublicKey) -> Vec<u8> {
    let mut m = Vec::with_capacity(KEK_MESSAGE_DOMAIN.len() + 32);
    m.extend_from_slice(KEK_MESSAGE_DOMAIN);
    m.extend_from_slice(member.as_bytes());
    m
}

/// Why a KEK is not made, or a wrapped key does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    #[error(
        "the key holder's answer is not the member key's signature of the key-wrapping message"
    )]
    BadSignature,
    #[error("the wrapped data key is malformed (not {WRAPPED_LEN} bytes starting with its magic)")]
    Malformed,
    #[error("the wrapped data key does not open with this home's key (wrapped under another member key, for another report, or damaged)")]
    Unauthentic,
}

/// A home's key-encryption key (see the module docs): wiped when dropped, never printed. Made
/// only from a checked signature, so holding one proves the member key was unlocked.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Kek {
    bytes: [u8; 32],
    #[zeroize(skip)]
    member: PublicKey,
}

impl Kek {
    /// The KEK from `member`'s `signature` of [`kek_message`], checked with `verify_strict`
    /// first.
    pub fn from_signature(member: &PublicKey, signature: &[u8; 64]) -> Result<Kek, WrapError> {
        if !member.verifies(&kek_message(member), signature) {
            return Err(WrapError::BadSignature);
        }
        let hk = hkdf::Hkdf::<sha2_11::Sha256>::new(Some(KEK_SALT), signature);
        let mut info = Vec::with_capacity(KEK_INFO.len() + 32);
        info.extend_from_slice(KEK_INFO);
        info.extend_from_slice(member.as_bytes());
        let mut bytes = [0u8; 32];
        hk.expand(&info, &mut bytes)
            .expect("32 bytes is within HKDF-SHA256's output limit");
        Ok(Kek {
            bytes,
            member: *member,
        })
    }

    /// The member key this KEK was made with.
    pub fn member(&self) -> &PublicKey {
        &self.member
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(&self.bytes))
    }

    /// `key` wrapped for report `log`'s row. `nonce` must be fresh random bytes.
    pub fn wrap(&self, log: &LogId, key: &DataKey, nonce: &[u8; WRAP_NONCE_LEN]) -> Vec<u8> {
        let mut out = Vec::with_capacity(WRAPPED_LEN);
        out.extend_from_slice(WRAP_MAGIC);
        out.extend_from_slice(nonce);
        out.extend_from_slice(key.as_bytes());
        let start = WRAP_MAGIC.len() + WRAP_NONCE_LEN;
        let tag = self
            .cipher()
            .encrypt_in_place_detached(XNonce::from_slice(nonce), &wrap_aad(log), &mut out[start..])
            .expect("32 bytes are within XChaCha20-Poly1305's length limit");
        out.extend_from_slice(&tag);
        out
    }

    /// Opens a key wrapped by [`Kek::wrap`] for report `log`. Untrusted input: the length is
    /// checked before anything is copied.
    pub fn unwrap(&self, log: &LogId, wrapped: &[u8]) -> Result<DataKey, WrapError> {
        if wrapped.len() != WRAPPED_LEN {
            return Err(WrapError::Malformed);
        }
        let rest = wrapped
            .strip_prefix(WRAP_MAGIC)
            .ok_or(WrapError::Malformed)?;
        let (nonce, rest) = rest.split_at(WRAP_NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(DATA_KEY_LEN);
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        key.copy_from_slice(ciphertext);
        self.cipher()
            .decrypt_in_place_detached(
                XNonce::from_slice(nonce),
                &wrap_aad(log),
                key.as_mut_slice(),
                Tag::from_slice(tag),
            )
            .map_err(|_| WrapError::Unauthentic)?;
        Ok(DataKey::from_bytes(*key))
    }
}

fn wrap_aad(log: &LogId) -> Vec<u8> {
    let mut aad = Vec::with_capacity(WRAP_AAD_DOMAIN.len() + 32);
    aad.extend_from_slice(WRAP_AAD_DOMAIN);
    aad.extend_from_slice(log.as_bytes());
    aad
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kek(redacted, member {})", self.member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hash, SecretKey, Signer};

    fn kek_of(seed: u8) -> Kek {
        let secret = SecretKey::from_seed(&[seed; 32]);
        let member = secret.public();
        let sig = secret.try_sign(&kek_message(&member)).unwrap();
        Kek::from_signature(&member, &sig).unwrap()
    }

    fn data_key() -> DataKey {
        DataKey::from_bytes(std::array::from_fn(|i| 0x40 + i as u8))
    }

    #[test]
    fn a_wrapped_key_opens_for_its_report_only_and_under_its_kek_only() {
        let kek = kek_of(1);
        let log = Hash::of(b"report one");
        let wrapped = kek.wrap(&log, &data_key(), &[7; WRAP_NONCE_LEN]);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        assert_eq!(kek.unwrap(&log, &wrapped), Ok(data_key()));
        // The clear key is nowhere in the wrapped bytes.
        assert!(!wrapped
            .windows(8)
            .any(|w| data_key().as_bytes().windows(8).any(|k| k == w)));
        // Another member's KEK.
        assert_eq!(
            kek_of(2).unwrap(&log, &wrapped),
            Err(WrapError::Unauthentic)
        );
        // Moved to another report's row.
        let other = Hash::of(b"report two");
        assert_eq!(kek.unwrap(&other, &wrapped), Err(WrapError::Unauthentic));
        // Truncated, extended, or its magic changed.
        assert_eq!(
            kek.unwrap(&log, &wrapped[..WRAPPED_LEN - 1]),
            Err(WrapError::Malformed)
        );
        let mut longer = wrapped.clone();
        longer.push(0);
        assert_eq!(kek.unwrap(&log, &longer), Err(WrapError::Malformed));
        let mut magic = wrapped.clone();
        magic[0] ^= 1;
        assert_eq!(kek.unwrap(&log, &magic), Err(WrapError::Malformed));
        // Any bit of the nonce, the ciphertext or the tag flipped.
        for i in WRAP_MAGIC.len()..WRAPPED_LEN {
            let mut flipped = wrapped.clone();
            flipped[i] ^= 0x10;
            assert_eq!(
                kek.unwrap(&log, &flipped),
                Err(WrapError::Unauthentic),
                "{i}"
            );
        }
        // A clear key (a row from before wrapping) is not a wrapped one.
        assert_eq!(
            kek.unwrap(&log, data_key().as_bytes()),
            Err(WrapError::Malformed)
        );
    }

    #[test]
    fn the_kek_is_the_same_for_every_holder_and_only_from_the_members_signature() {
        // Deterministic: two derivations from the same key agree (a token, the keychain and
        // an agent all sign with the same key).
        let log = Hash::of(b"r");
        let wrapped = kek_of(3).wrap(&log, &data_key(), &[1; WRAP_NONCE_LEN]);
        assert_eq!(kek_of(3).unwrap(&log, &wrapped), Ok(data_key()));
        let secret = SecretKey::from_seed(&[3; 32]);
        let member = secret.public();
        // Garbage, another key's signature of the message, the member's signature of another
        // message: all refused.
        assert_eq!(
            Kek::from_signature(&member, &[0x55; 64]).err(),
            Some(WrapError::BadSignature)
        );
        let other = SecretKey::from_seed(&[4; 32]);
        let theirs = other.try_sign(&kek_message(&member)).unwrap();
        assert_eq!(
            Kek::from_signature(&member, &theirs).err(),
            Some(WrapError::BadSignature)
        );
        let entry_sig = secret.try_sign(b"countersign/entry/v1\0header").unwrap();
        assert_eq!(
            Kek::from_signature(&member, &entry_sig).err(),
            Some(WrapError::BadSignature)
        );
    }

    #[test]
    fn the_kek_message_is_no_other_signed_format() {
        let member = SecretKey::from_seed(&[5; 32]).public();
        let message = kek_message(&member);
        // Every other domain this project signs under, and none is a prefix of the other.
        for domain in [
            crate::SIGNATURE_DOMAIN,
            crate::checkpoint::CHECKPOINT_DOMAIN,
            crate::invitation::INVITATION_DOMAIN,
            crate::delegation::NODE_DELEGATION_DOMAIN,
            crate::rotation::ROTATION_CONSENT_DOMAIN,
            crate::rotation::ROTATION_POSSESSION_DOMAIN,
            crate::split_view::SPLIT_VIEW_DOMAIN,
        ] {
            assert!(!message.starts_with(domain), "{domain:?}");
            assert!(!domain.starts_with(KEK_MESSAGE_DOMAIN), "{domain:?}");
        }
        // A header (what an entry signs after its domain) starts with a version byte, never
        // with text.
        assert!(message.starts_with(b"countersign data-key wrapping v1\0"));
        // The message names the member: two members' messages differ.
        let other = SecretKey::from_seed(&[6; 32]).public();
        assert_ne!(kek_message(&other), message);
    }

    #[test]
    fn debug_never_shows_the_kek() {
        let kek = kek_of(9);
        let shown = format!("{kek:?} {kek:#?}");
        assert!(shown.contains("redacted"), "{shown}");
        for w in kek.bytes.windows(3) {
            let hex = format!("{:02x}{:02x}{:02x}", w[0], w[1], w[2]);
            assert!(!shown.to_lowercase().contains(&hex), "{shown}");
            assert!(
                !shown.contains(&format!("{}, {}, {}", w[0], w[1], w[2])),
                "{shown}"
            );
        }
    }

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
