//! Key rotation: a person moves from one key to another and stays one person.
//!
//! An entry has one signature, so "signed by both the old key and an admin" is two things: the
//! `roster.rotate` entry is signed by an admin (as every roster entry is), and its payload
//! ([`crate::roster::RotatePayload`]) carries the old key's **consent**, a signature by the old
//! key over
//!
//! ```text
//! ROTATION_CONSENT_DOMAIN ‖ network[32] ‖ old key[32] ‖ new key[32]
//! ```
//!
//! and the new key's **proof of possession**, a signature by the new key over the same bytes
//! under [`ROTATION_POSSESSION_DOMAIN`]. Both are checked with `verify_strict`. The network id
//! is in the signed bytes, so a consent given in one department cannot be replayed into
//! another; the two domains differ from each other and from every other signature's, so
//! neither can be taken for the other, for an entry, a checkpoint or an invitation.
//!
//! A **lost key** has no consent to give: an admin alone replaces it (the payload then has no
//! `consent`; a possession proof is optional). Who may rotate whom, and what the rotation does
//! to the old key's authority, is the roster's to judge (see [`crate::roster`]).
//!
//! The person whose key rotates asks an admin with a **rotation request**, passed out of band
//! like an invitation, so the text is short:
//!
//! ```text
//! version:u8 (1) network[32] old[32] new[32] consent[64] possession[64]      (225 bytes)
//! ```
//!
//! As text: [`ROTATION_PREFIX`] then the bytes in unpadded base64url. Parsing checks both
//! signatures; what it returns is a request someone holding both keys made for that network.
//!
//! ```
//! use countersign_ledger::rotation::RotationRequest;
//! use countersign_ledger::{Hash, SecretKey};
//!
//! let old = SecretKey::from_seed(&[1; 32]);
//! let new = SecretKey::from_seed(&[2; 32]);
//! let network = Hash::of(b"genesis");
//! let text = RotationRequest::sign(network, &old, &new).to_text();
//! let request = RotationRequest::parse(&text).unwrap();
//! assert_eq!((request.old, request.new), (old.public(), new.public()));
//! ```

use std::fmt;

use base64::Engine;
use ed25519_dalek::Signature;

use crate::{NetworkId, PublicKey, SecretKey, SignError, Signer};

/// Domain of the old key's consent to a rotation.
pub const ROTATION_CONSENT_DOMAIN: &[u8] = b"countersign/rotate/v1\0";
/// Domain of the new key's proof of possession.
pub const ROTATION_POSSESSION_DOMAIN: &[u8] = b"countersign/rotate-possession/v1\0";
/// How a rotation request's text starts.
pub const ROTATION_PREFIX: &str = "countersign-rotate:";
pub const ROTATION_VERSION: u8 = 1;
/// A request's length in bytes.
pub const REQUEST_LEN: usize = 1 + 32 * 3 + 64 * 2;
/// The longest request text taken (a valid one is 319 characters): checked before decoding.
pub const MAX_REQUEST_TEXT: usize = 512;

/// An ed25519 signature as a roster payload carries it (hex in JSON).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RotationSignature(pub [u8; 64]);

impl fmt::Debug for RotationSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RotationSignature({}…)", &hex::encode(&self.0[..6]))
    }
}

impl serde::Serialize for RotationSignature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> serde::Deserialize<'de> for RotationSignature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        // Length first: nothing is decoded from a string that cannot be 64 bytes.
        if s.len() != 128 {
            return Err(serde::de::Error::custom(format!(
                "a signature is 128 hex digits, not {}",
                s.len()
            )));
        }
        let mut out = [0u8; 64];
        hex::decode_to_slice(&s, &mut out).map_err(serde::de::Error::custom)?;
        Ok(RotationSignature(out))
    }
}

/// Why a rotation's signatures or a request's text do not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RotationError {
    #[error("a rotation request starts with {ROTATION_PREFIX}")]
    NoPrefix,
    #[error("the rotation request is {0} characters; at most {MAX_REQUEST_TEXT}")]
    TooLong(usize),
    #[error("the rotation request is not base64url")]
    NotBase64,
    #[error("the rotation request is {found} bytes, not {REQUEST_LEN}")]
    WrongLength { found: usize },
    #[error("rotation request format version {0} is not supported")]
    UnknownVersion(u8),
    #[error("a key in the rotation request is not a valid ed25519 key")]
    BadKey,
    #[error("a rotation replaces a key by another one, not by itself")]
    SameKey,
    #[error(
        "the old key's consent to the rotation does not verify for this network and these keys"
    )]
    BadConsent,
    #[error("the new key's proof of possession does not verify for this network and these keys")]
    BadPossession,
}

impl RotationError {
    /// A stable code for `{code, message}` errors: a request whose signatures fail was
    /// changed or forged; anything else is not a request at all.
    pub fn code(&self) -> &'static str {
        match self {
            RotationError::BadConsent | RotationError::BadPossession => "rotation_forged",
            _ => "rotation_malformed",
        }
    }
}

/// The bytes a rotation signature covers under `domain`.
pub fn signed_message(
    domain: &[u8],
    network: &NetworkId,
    old: &PublicKey,
    new: &PublicKey,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(domain.len() + 96);
    m.extend_from_slice(domain);
    m.extend_from_slice(network.as_bytes());
    m.extend_from_slice(old.as_bytes());
    m.extend_from_slice(new.as_bytes());
    m
}

/// The old key's consent to being replaced by `new` in `network`.
pub fn consent(network: &NetworkId, old: &SecretKey, new: &PublicKey) -> RotationSignature {
    let m = signed_message(ROTATION_CONSENT_DOMAIN, network, &old.public(), new);
    RotationSignature(old.sign(&m))
}

/// The new key's proof that its holder takes over from `old` in `network`.
pub fn possession(network: &NetworkId, old: &PublicKey, new: &SecretKey) -> RotationSignature {
    let m = signed_message(ROTATION_POSSESSION_DOMAIN, network, old, &new.public());
    RotationSignature(new.sign(&m))
}

fn verify(key: &PublicKey, message: &[u8], signature: &RotationSignature) -> bool {
    key.verifying_key()
        .verify_strict(message, &Signature::from_bytes(&signature.0))
        .is_ok()
}

/// Checks the signatures a rotation carries (`verify_strict`): the consent by `old` if given,
/// the possession proof by `new` if given; and that the keys differ.
pub fn check(
    network: &NetworkId,
    old: &PublicKey,
    new: &PublicKey,
    consent: Option<&RotationSignature>,
    possession: Option<&RotationSignature>,
) -> Result<(), RotationError> {
    if old == new {
        return Err(RotationError::SameKey);
    }
    if let Some(sig) = consent {
        let m = signed_message(ROTATION_CONSENT_DOMAIN, network, old, new);
        if !verify(old, &m, sig) {
            return Err(RotationError::BadConsent);
        }
    }
    if let Some(sig) = possession {
        let m = signed_message(ROTATION_POSSESSION_DOMAIN, network, old, new);
        if !verify(new, &m, sig) {
            return Err(RotationError::BadPossession);
        }
    }
    Ok(())
}

/// A person's request to an admin: replace `old` by `new` in `network`, with both keys'
/// signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRequest {
    pub network: NetworkId,
    pub old: PublicKey,
    pub new: PublicKey,
    pub consent: RotationSignature,
    pub possession: RotationSignature,
}

impl RotationRequest {
    /// Signs a request with both keys.
    pub fn sign(network: NetworkId, old: &SecretKey, new: &SecretKey) -> RotationRequest {
        RotationRequest {
            network,
            old: old.public(),
            new: new.public(),
            consent: consent(&network, old, &new.public()),
            possession: possession(&network, &old.public(), new),
        }
    }

    /// Signs a request with both keys wherever they are held (a token, the keychain): each
    /// signature is checked (`verify_strict`) before the request is returned, so a holder that
    /// signs wrongly gives an error, never a request an admin's home would refuse.
    pub fn try_sign<O, N>(
        network: NetworkId,
        old: &O,
        new: &N,
    ) -> Result<RotationRequest, SignError>
    where
        O: Signer + ?Sized,
        N: Signer + ?Sized,
    {
        let (old_key, new_key) = (old.public(), new.public());
        let consent = RotationSignature(old.try_sign(&signed_message(
            ROTATION_CONSENT_DOMAIN,
            &network,
            &old_key,
            &new_key,
        ))?);
        let possession = RotationSignature(new.try_sign(&signed_message(
            ROTATION_POSSESSION_DOMAIN,
            &network,
            &old_key,
            &new_key,
        ))?);
        check(
            &network,
            &old_key,
            &new_key,
            Some(&consent),
            Some(&possession),
        )
        .map_err(|e| SignError::Failed(format!("the rotation's signatures do not verify: {e}")))?;
        Ok(RotationRequest {
            network,
            old: old_key,
            new: new_key,
            consent,
            possession,
        })
    }

    /// The request's bytes (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(REQUEST_LEN);
        out.push(ROTATION_VERSION);
        out.extend_from_slice(self.network.as_bytes());
        out.extend_from_slice(self.old.as_bytes());
        out.extend_from_slice(self.new.as_bytes());
        out.extend_from_slice(&self.consent.0);
        out.extend_from_slice(&self.possession.0);
        out
    }

    /// The request as text to pass on.
    pub fn to_text(&self) -> String {
        format!(
            "{ROTATION_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.encode())
        )
    }

    /// Parses untrusted text and checks both signatures.
    pub fn parse(text: &str) -> Result<RotationRequest, RotationError> {
        let text = text.trim();
        if text.len() > MAX_REQUEST_TEXT {
            return Err(RotationError::TooLong(text.len()));
        }
        let b64 = text
            .strip_prefix(ROTATION_PREFIX)
            .ok_or(RotationError::NoPrefix)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| RotationError::NotBase64)?;
        RotationRequest::decode(&bytes)
    }

    /// Decodes untrusted bytes (exactly [`REQUEST_LEN`]) and checks both signatures.
    pub fn decode(bytes: &[u8]) -> Result<RotationRequest, RotationError> {
        if bytes.len() != REQUEST_LEN {
            return Err(RotationError::WrongLength { found: bytes.len() });
        }
        if bytes[0] != ROTATION_VERSION {
            return Err(RotationError::UnknownVersion(bytes[0]));
        }
        let array32 = |at: usize| -> [u8; 32] {
            let mut a = [0u8; 32];
            a.copy_from_slice(&bytes[at..at + 32]);
            a
        };
        let array64 = |at: usize| -> [u8; 64] {
            let mut a = [0u8; 64];
            a.copy_from_slice(&bytes[at..at + 64]);
            a
        };
        let key =
            |at: usize| PublicKey::from_bytes(&array32(at)).map_err(|_| RotationError::BadKey);
        let request = RotationRequest {
            network: crate::Hash(array32(1)),
            old: key(33)?,
            new: key(65)?,
            consent: RotationSignature(array64(97)),
            possession: RotationSignature(array64(161)),
        };
        check(
            &request.network,
            &request.old,
            &request.new,
            Some(&request.consent),
            Some(&request.possession),
        )?;
        Ok(request)
    }
}

/// The invariant the rotation fuzz target checks: parsing never panics, and what parses
/// re-encodes to the bytes it came from and carries signatures that verify.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok(r) = RotationRequest::decode(data) {
        assert_eq!(r.encode(), data, "a decoded request is not canonical");
        assert!(check(
            &r.network,
            &r.old,
            &r.new,
            Some(&r.consent),
            Some(&r.possession)
        )
        .is_ok());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(r) = RotationRequest::parse(text) {
            assert_eq!(RotationRequest::parse(&r.to_text()), Ok(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_signers::{keys, Impostor};
    use crate::Hash;

    #[test]
    fn try_sign_gives_the_same_request_and_refuses_a_holder_that_signs_with_another_key() {
        let (old, new, network) = keys();
        assert_eq!(
            RotationRequest::try_sign(network, &old, &new).unwrap(),
            RotationRequest::sign(network, &old, &new)
        );
        let wrong_old = Impostor(old.public(), SecretKey::from_seed(&[9; 32]));
        let wrong_new = Impostor(new.public(), SecretKey::from_seed(&[9; 32]));
        assert!(RotationRequest::try_sign(network, &wrong_old, &new).is_err());
        assert!(RotationRequest::try_sign(network, &old, &wrong_new).is_err());
    }

    /// The bytes each signature covers and a whole request, fixed: a change to either breaks
    /// every request and rotation entry already signed.
    #[test]
    fn golden_vector() {
        let (old, new, network) = keys();
        let m = signed_message(
            ROTATION_CONSENT_DOMAIN,
            &network,
            &old.public(),
            &new.public(),
        );
        assert_eq!(
            &m[..ROTATION_CONSENT_DOMAIN.len()],
            b"countersign/rotate/v1\0"
        );
        assert_eq!(
            hex::encode(&m[ROTATION_CONSENT_DOMAIN.len()..]),
            concat!(
                // SHA-256("network")
                "3009be769fb8f956e8413ee9f3e0836e34968bc40457d0a10c549d2edcf00cc1",
                // the public keys of seeds [1; 32] and [2; 32]
                "8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c",
                "8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394",
            )
        );
        let request = RotationRequest::sign(network, &old, &new);
        let text = request.to_text();
        assert_eq!(text.len(), 319);
        assert_eq!(text, GOLDEN_REQUEST);
        assert_eq!(RotationRequest::parse(GOLDEN_REQUEST), Ok(request));
    }

    /// Written by an independent implementation (Python's `cryptography` Ed25519 and
    /// `base64`) from the layout in the module docs, not by this code.
    const GOLDEN_REQUEST: &str = concat!(
        "countersign-rotate:ATAJvnafuPlW6EE-6fPgg240lovEBFfQoQxUnS7c8AzBiojj3XQJ8ZX9UtstPLpdcspnCb8d",
        "lBIb83SIAbQPb1yBOXcOqH0XX1ajVGbDTH7My42KkbTuN6Jd9g9bj8mzlH1lLxY4tFCp3W3rz8rLyDAAPFjaD1o9",
        "9kPssxhfd0FxnbBAebnO9gwVwaPPZ_O0rliUDVrldpjLqutRU5lDVAi-q54dhY87T1OyQUUfgR4vurk2uNnM4nsc",
        "73UHfkF9JwQ51BO2eqTgAYEBEdDczuCmWHC35f0cSSTo_Upiy3AK",
    );

    #[test]
    fn every_flipped_bit_is_refused() {
        let (old, new, network) = keys();
        let bytes = RotationRequest::sign(network, &old, &new).encode();
        assert!(RotationRequest::decode(&bytes).is_ok());
        for at in 0..bytes.len() {
            for bit in [0, 7] {
                let mut bad = bytes.clone();
                bad[at] ^= 1 << bit;
                assert!(
                    RotationRequest::decode(&bad).is_err(),
                    "bit {bit} of byte {at}"
                );
            }
        }
    }

    #[test]
    fn a_consent_is_for_one_network_and_one_pair_of_keys() {
        let (old, new, network) = keys();
        let other = Hash::of(b"another department");
        let third = SecretKey::from_seed(&[3; 32]).public();
        let c = consent(&network, &old, &new.public());
        let p = possession(&network, &old.public(), &new);
        let ok = |n: &NetworkId, o: &PublicKey, k: &PublicKey| check(n, o, k, Some(&c), Some(&p));
        assert_eq!(ok(&network, &old.public(), &new.public()), Ok(()));
        // Replayed into another network.
        assert_eq!(
            ok(&other, &old.public(), &new.public()),
            Err(RotationError::BadConsent)
        );
        // Moved onto another new key (one the holder of the old key never named).
        assert_eq!(
            check(&network, &old.public(), &third, Some(&c), None),
            Err(RotationError::BadConsent)
        );
        // The consent offered as the possession proof, or the reverse: other domains.
        let c_as_p = RotationSignature(c.0);
        assert_eq!(
            check(&network, &old.public(), &new.public(), None, Some(&c_as_p)),
            Err(RotationError::BadPossession)
        );
        let swapped = consent(&network, &new, &old.public());
        assert_eq!(
            check(&network, &old.public(), &new.public(), Some(&swapped), None),
            Err(RotationError::BadConsent)
        );
        assert_eq!(
            check(&network, &old.public(), &old.public(), None, None),
            Err(RotationError::SameKey)
        );
    }

    #[test]
    fn malformed_text_is_refused_with_a_reason() {
        let (old, new, network) = keys();
        let text = RotationRequest::sign(network, &old, &new).to_text();
        assert_eq!(
            RotationRequest::parse(&text[ROTATION_PREFIX.len()..]),
            Err(RotationError::NoPrefix)
        );
        assert_eq!(
            RotationRequest::parse(&format!("{text}!")),
            Err(RotationError::NotBase64)
        );
        assert_eq!(
            RotationRequest::parse(&"x".repeat(MAX_REQUEST_TEXT + 1)),
            Err(RotationError::TooLong(MAX_REQUEST_TEXT + 1))
        );
        assert!(matches!(
            RotationRequest::parse(&text[..text.len() - 4]),
            Err(RotationError::WrongLength { .. })
        ));
        let mut bytes = RotationRequest::sign(network, &old, &new).encode();
        bytes[0] = 2;
        assert_eq!(
            RotationRequest::decode(&bytes),
            Err(RotationError::UnknownVersion(2))
        );
        // A small-order point as the new key.
        let mut bytes = RotationRequest::sign(network, &old, &new).encode();
        bytes[65..97].copy_from_slice(&[0; 32]);
        bytes[65] = 1;
        assert_eq!(RotationRequest::decode(&bytes), Err(RotationError::BadKey));
        assert_eq!(RotationError::BadConsent.code(), "rotation_forged");
        assert_eq!(RotationError::NotBase64.code(), "rotation_malformed");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 128,
                rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0014),
                ..ProptestConfig::default()
            })]

            /// Any two keys and any network: one encoding, read back to the same request.
            #[test]
            fn every_request_has_one_encoding_that_reads_back(
                old in any::<[u8; 32]>(),
                new in any::<[u8; 32]>(),
                network in any::<[u8; 32]>(),
            ) {
                prop_assume!(old != new);
                let r = RotationRequest::sign(
                    Hash(network),
                    &SecretKey::from_seed(&old),
                    &SecretKey::from_seed(&new),
                );
                let text = r.to_text();
                prop_assert_eq!(text.len(), 319);
                prop_assert_eq!(RotationRequest::parse(&text), Ok(r.clone()));
                prop_assert_eq!(RotationRequest::decode(&r.encode()), Ok(r));
            }

            /// Arbitrary bytes and text: refused or read, never a panic.
            #[test]
            fn arbitrary_input_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
                fuzz_check(&bytes);
            }
        }
    }

    #[test]
    fn signatures_read_back_from_json_and_refuse_wrong_lengths() {
        let (old, new, network) = keys();
        let c = consent(&network, &old, &new.public());
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(json.len(), 130);
        assert_eq!(serde_json::from_str::<RotationSignature>(&json).unwrap(), c);
        assert!(serde_json::from_str::<RotationSignature>("\"abcd\"").is_err());
        let not_hex = format!("\"{}\"", "zz".repeat(64));
        assert!(serde_json::from_str::<RotationSignature>(&not_hex).is_err());
        assert!(!format!("{c:?}").contains(&hex::encode(c.0)));
    }
}
