//! Sealed payloads: a report's personal data encrypted under the report's data key, so that
//! destroying that one small key (an erasure) makes every copy of the ciphertext unreadable —
//! in this home, on a peer that was offline, in an old bundle or a backup (crypto-shredding).
//!
//! ```text
//! envelope   b"CSS2" ‖ nonce[24] ‖ commitment[32] ‖ XChaCha20-Poly1305(key, nonce, aad, plaintext) ‖ tag[16]
//! commitment SHA-256(b"countersign key commitment v1\0" ‖ key ‖ nonce)
//! aad        b"countersign sealed payload v1\0" ‖ kind name ‖ 0x00 ‖ log[32]
//!            (log: the report's id; for its `report.create`, whose id is not known until it
//!            is signed, [`create_binding`] of the create's author and timestamp)
//! ```
//!
//! **Why the commitment.** Poly1305 does not commit to its key: whoever holds two keys can
//! craft one ciphertext that opens under both, to two different texts. A report's creator
//! could then hand one key to some peers and the other to the rest, and two homes holding the
//! same signed entries would show different reports. The commitment, checked before anything
//! is decrypted, admits exactly one key per envelope (short of a SHA-256 collision), so the
//! signed header, which commits to the envelope, commits to the key and so to the one text.
//! The earlier format without it (`CSS1`) is refused as malformed.
//!
//! A create is bound to its own header that way so a byte copy of another report's create —
//! or anything else sealed under that report's key — does not open as a new report's: one
//! key serves one report. (A report's creator can still seal a second report under their
//! first report's key on purpose, since they hold it; the home refuses a key it holds for
//! another log, `data_key_reused`, and an erasure destroys every copy of the key's bytes.)
//!
//! The header's payload hash commits to the envelope, not the plaintext: every signature and
//! hash link verifies without the key, so `verify` still proves who wrote what kind of entry
//! when. The AAD binds an envelope to what it is: moved under another kind, or into another
//! report, it does not open.
//!
//! Which payloads are sealed is one stable rule, [`kind_is_sealed`]: every report-log kind but
//! `payload.erase` and `report.restrict`, which carry no personal data (a legal basis and a
//! scope) and must stay readable after the key is gone. The roster log is never sealed.
//!
//! Pure: the caller supplies the nonce (24 random bytes from the OS) and the key.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Key, Tag, XChaCha20Poly1305, XNonce};
use countersign_ledger::{DataKey, Hash, Kind, LogFamily, LogId, PublicKey};

/// The first bytes of every sealed payload. A clear payload is JSON and starts with `{`, so the
/// two never meet.
pub const SEAL_MAGIC: &[u8; 4] = b"CSS2";
/// What every envelope format of this scheme starts with (`CSS1` had no key commitment): such
/// a payload is judged as sealed, and one that is not [`SEAL_MAGIC`] is malformed, never read
/// as clear text.
const SEAL_FAMILY: &[u8; 3] = b"CSS";
/// Bytes of the random nonce (XChaCha20: random nonces are safe at any volume).
pub const NONCE_LEN: usize = 24;
/// Bytes of the key commitment.
pub const COMMITMENT_LEN: usize = 32;
/// Bytes of the Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// What sealing adds to a payload.
pub const SEAL_OVERHEAD: usize = SEAL_MAGIC.len() + NONCE_LEN + COMMITMENT_LEN + TAG_LEN;

const COMMITMENT_DOMAIN: &[u8] = b"countersign key commitment v1\0";

const AAD_DOMAIN: &[u8] = b"countersign sealed payload v1\0";

/// What a report's `report.create` is sealed for in place of its (not yet known) id: a hash
/// of its author's key and its timestamp, both in the header it is signed under. Two creates
/// with the same author and timestamp and the same envelope are the same entry.
pub fn create_binding(author: &PublicKey, timestamp_ms: u64) -> LogId {
    let mut bytes = Vec::with_capacity(CREATE_DOMAIN.len() + 32 + 8);
    bytes.extend_from_slice(CREATE_DOMAIN);
    bytes.extend_from_slice(author.as_bytes());
    bytes.extend_from_slice(&timestamp_ms.to_be_bytes());
    Hash::of(&bytes)
}

const CREATE_DOMAIN: &[u8] = b"countersign sealed create v1\0";

/// Whether entries of `kind` carry sealed payloads (in a report whose `report.create` is
/// sealed): every report-log kind but erasure and restriction. See the module docs.
pub fn kind_is_sealed(kind: Kind) -> bool {
    kind.family() == LogFamily::Report && !matches!(kind, Kind::PayloadErase | Kind::ReportRestrict)
}

/// Whether payload bytes are a sealed envelope (by their magic, of this format or an earlier
/// one; not whether they open).
pub fn is_sealed(payload: &[u8]) -> bool {
    payload.starts_with(SEAL_FAMILY)
}

/// Why an envelope does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed payload is malformed (no magic of this format, or shorter than its nonce, commitment and tag)")]
    Malformed,
    #[error("the sealed payload does not open with its report's key (forged, or sealed for another entry kind or report)")]
    Unauthentic,
}

/// The associated data: the entry's kind and its report (`None` for the `report.create`).
fn aad(kind: Kind, log: Option<&LogId>) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_DOMAIN.len() + 24 + 1 + 32);
    aad.extend_from_slice(AAD_DOMAIN);
    aad.extend_from_slice(kind.name().as_bytes());
    aad.push(0);
    aad.extend_from_slice(log.unwrap_or(&Hash::ZERO).as_bytes());
    aad
}

fn cipher(key: &DataKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(Key::from_slice(key.as_bytes()))
}

/// The envelope's commitment to `key` (see the module docs). The input holds the key, so it
/// is wiped after hashing.
fn commitment(key: &DataKey, nonce: &[u8]) -> [u8; COMMITMENT_LEN] {
    let mut input = zeroize::Zeroizing::new(Vec::with_capacity(
        COMMITMENT_DOMAIN.len() + key.as_bytes().len() + NONCE_LEN,
    ));
    input.extend_from_slice(COMMITMENT_DOMAIN);
    input.extend_from_slice(key.as_bytes());
    input.extend_from_slice(nonce);
    *Hash::of(&input).as_bytes()
}

/// Equality that takes the same time wherever the first difference is.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Seals `plaintext` as the payload of a `kind` entry of report `log` (`None`: the report's
/// own `report.create`). `nonce` must be fresh random bytes.
pub fn seal(
    key: &DataKey,
    nonce: &[u8; NONCE_LEN],
    kind: Kind,
    log: Option<&LogId>,
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    out.extend_from_slice(SEAL_MAGIC);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&commitment(key, nonce));
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = cipher(key)
        .encrypt_in_place_detached(
            XNonce::from_slice(nonce),
            &aad(kind, log),
            &mut out[start..],
        )
        // Only a message longer than XChaCha20's 256 GiB limit fails; payloads are 16 MiB.
        .expect("a payload is within XChaCha20-Poly1305's length limit");
    out.extend_from_slice(&tag);
    out
}

/// Opens an envelope sealed by [`seal`] with the same key, kind and log. Untrusted input:
/// lengths are checked before anything is copied, and nothing is allocated beyond the
/// envelope's own length.
pub fn open(
    key: &DataKey,
    kind: Kind,
    log: Option<&LogId>,
    envelope: &[u8],
) -> Result<Vec<u8>, SealError> {
    let rest = envelope
        .strip_prefix(SEAL_MAGIC)
        .ok_or(SealError::Malformed)?;
    if rest.len() < NONCE_LEN + COMMITMENT_LEN + TAG_LEN {
        return Err(SealError::Malformed);
    }
    let (nonce, rest) = rest.split_at(NONCE_LEN);
    let (committed, rest) = rest.split_at(COMMITMENT_LEN);
    // Another key may well open the ciphertext (see the module docs): only the committed one
    // is tried.
    if !same(committed, &commitment(key, nonce)) {
        return Err(SealError::Unauthentic);
    }
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut plaintext = ciphertext.to_vec();
    match cipher(key).decrypt_in_place_detached(
        XNonce::from_slice(nonce),
        &aad(kind, log),
        &mut plaintext,
        Tag::from_slice(tag),
    ) {
        Ok(()) => Ok(plaintext),
        Err(_) => Err(SealError::Unauthentic),
    }
}

/// Whether `key` is the key of the report whose `report.create` is `header` with payload
/// `create`: it opens it. A key offered for a report (in a bundle, a peer's batch) is taken
/// only if it does, so nobody can plant a key that the report's real one would then conflict
/// with.
pub fn opens_create(key: &DataKey, header: &countersign_ledger::Header, create: &[u8]) -> bool {
    let bound = create_binding(&header.author, header.timestamp_ms);
    open(key, Kind::ReportCreate, Some(&bound), create).is_ok()
}

/// Fuzzing entry point (`fuzz/fuzz_targets/sealed_payload.rs`): any bytes, opened as an
/// envelope with a fixed key, fail cleanly or open to the plaintext they seal — never a panic,
/// and never more allocated than the input's length.
#[doc(hidden)]
pub mod fuzz {
    use super::*;

    /// Panics if an invariant breaks.
    pub fn open_envelope(data: &[u8]) {
        let key = DataKey::from_bytes([7; 32]);
        let Some((&pick, bytes)) = data.split_first() else {
            return;
        };
        let kind = Kind::ALL[usize::from(pick) % Kind::ALL.len()];
        if let Ok(plain) = open(&key, kind, None, bytes) {
            assert_eq!(plain.len() + SEAL_OVERHEAD, bytes.len());
        }
        // What sealing makes of the same bytes opens again to them.
        let nonce = [pick; NONCE_LEN];
        let sealed = seal(&key, &nonce, kind, None, bytes);
        assert_eq!(open(&key, kind, None, &sealed).as_deref(), Ok(bytes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(b: u8) -> DataKey {
        DataKey::from_bytes([b; 32])
    }

    #[test]
    fn the_rule_seals_every_report_kind_but_erasure_and_restriction() {
        for kind in Kind::ALL {
            let expected = kind.family() == LogFamily::Report
                && *kind != Kind::PayloadErase
                && *kind != Kind::ReportRestrict;
            assert_eq!(kind_is_sealed(*kind), expected, "{kind}");
        }
        assert!(kind_is_sealed(Kind::SectionWrite));
        assert!(kind_is_sealed(Kind::ReportCreate));
        assert!(!kind_is_sealed(Kind::RosterMember));
    }

    #[test]
    fn a_short_or_unmarked_envelope_is_malformed() {
        assert_eq!(
            open(&key(1), Kind::View, None, b"{}"),
            Err(SealError::Malformed)
        );
        assert_eq!(
            open(&key(1), Kind::View, None, b"CSS1short"),
            Err(SealError::Malformed)
        );
        let mut just = SEAL_MAGIC.to_vec();
        just.extend_from_slice(&[0; NONCE_LEN + COMMITMENT_LEN + TAG_LEN]);
        assert_eq!(
            open(&key(1), Kind::View, None, &just),
            Err(SealError::Unauthentic)
        );
    }

    #[test]
    fn an_envelope_that_opens_under_its_key_but_commits_to_another_is_refused() {
        // What a creator holding two keys would send: the AEAD part valid under one key, the
        // commitment of the other. Poly1305 alone would open it.
        let nonce = [9; NONCE_LEN];
        let sealed = seal(
            &key(1),
            &nonce,
            Kind::SectionWrite,
            None,
            b"{\"text\":\"x\"}",
        );
        let mut forged = sealed.clone();
        let at = SEAL_MAGIC.len() + NONCE_LEN;
        forged[at..at + COMMITMENT_LEN].copy_from_slice(&commitment(&key(2), &nonce));
        assert_eq!(
            open(&key(1), Kind::SectionWrite, None, &forged),
            Err(SealError::Unauthentic)
        );
        assert_eq!(
            open(&key(2), Kind::SectionWrite, None, &forged),
            Err(SealError::Unauthentic)
        );
        assert!(open(&key(1), Kind::SectionWrite, None, &sealed).is_ok());
    }

    #[test]
    fn an_envelope_of_the_format_without_key_commitment_is_sealed_but_malformed() {
        // CSS1: magic, nonce, ciphertext and tag, no commitment.
        let mut old = b"CSS1".to_vec();
        old.extend_from_slice(&[3; NONCE_LEN + 40 + TAG_LEN]);
        assert!(is_sealed(&old));
        assert_eq!(
            open(&key(3), Kind::SectionWrite, None, &old),
            Err(SealError::Malformed)
        );
        assert!(!is_sealed(b"{\"section\":\"findings\"}"));
    }

    /// The envelope format, pinned: a change to the magic, the commitment, the AAD or the
    /// cipher shows here before it reaches a home that would refuse its peers' payloads.
    #[test]
    fn golden_envelope() {
        let log = Hash([0x11; 32]);
        let sealed = seal(
            &key(0x42),
            &[0x24; NONCE_LEN],
            Kind::SectionWrite,
            Some(&log),
            b"{\"section\":\"findings\",\"text\":\"No nodule.\"}",
        );
        let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN);
    }

    const GOLDEN: &str = "435353322424242424242424242424242424242424242424242424241ac380265dc0f6f3de42de4c62513f1e2a6de3995f19ba237a6c9313f315470fde7ca4000d5025c9cc0d051868e163ae5b9fe9c95e3356e94419926f513295a234ffe7bc41f73eb25ec8ebafaf255890aa80e75deb921e66c7fa";

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0016),
            ..ProptestConfig::default()
        })]

        #[test]
        fn seal_open_round_trips_and_nothing_else_opens(
            k in any::<u8>(),
            nonce in any::<[u8; NONCE_LEN]>(),
            plaintext in proptest::collection::vec(any::<u8>(), 0..300),
            log in any::<[u8; 32]>(),
            flip in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let log = Hash(log);
            let sealed = seal(&key(k), &nonce, Kind::SectionWrite, Some(&log), &plaintext);
            prop_assert!(is_sealed(&sealed));
            prop_assert_eq!(sealed.len(), plaintext.len() + SEAL_OVERHEAD);
            prop_assert_eq!(
                open(&key(k), Kind::SectionWrite, Some(&log), &sealed),
                Ok(plaintext.clone())
            );
            // Any flipped bit: refused (in the magic, malformed; anywhere else, unauthentic).
            let mut bad = sealed.clone();
            let i = flip.index(bad.len());
            bad[i] ^= 1 << bit;
            prop_assert!(open(&key(k), Kind::SectionWrite, Some(&log), &bad).is_err());
            // Another key, kind or report: it does not open.
            prop_assert_eq!(
                open(&key(k.wrapping_add(1)), Kind::SectionWrite, Some(&log), &sealed),
                Err(SealError::Unauthentic)
            );
            prop_assert_eq!(
                open(&key(k), Kind::AddendumWrite, Some(&log), &sealed),
                Err(SealError::Unauthentic)
            );
            let mut other = log;
            other.0[0] ^= 1;
            prop_assert_eq!(
                open(&key(k), Kind::SectionWrite, Some(&other), &sealed),
                Err(SealError::Unauthentic)
            );
            prop_assert_eq!(
                open(&key(k), Kind::SectionWrite, None, &sealed),
                Err(SealError::Unauthentic)
            );
            // Plain text never shows in the envelope (a 16-byte run of it, say).
            if plaintext.len() >= 16 && plaintext.iter().any(|b| *b != plaintext[0]) {
                let run = &plaintext[..16];
                prop_assert!(!sealed.windows(16).any(|w| w == run));
            }
        }
    }
}

/// The fewest bytes a sealed payload has: its magic, nonce and tag around at least one byte
/// (every clear payload is JSON, never empty; a home with the key refuses an empty one when
/// it opens it, so one without the key refusing it by length judges it the same).
pub const MIN_SEALED_LEN: usize = SEAL_OVERHEAD + 1;
/// The most bytes a sealed payload has: the clear bound of a sealed kind plus
/// [`SEAL_OVERHEAD`]. That clear bound is what still fits a record once sealed,
/// `MAX_PAYLOAD_LEN - SEAL_OVERHEAD` (no kind has a tighter byte bound: a text's cap is on the
/// text, not on its escaped JSON), so this is the record bound itself, stated here so the check
/// without the key names both ends.
pub const MAX_SEALED_LEN: usize = countersign_ledger::header::MAX_PAYLOAD_LEN as usize;

/// A sealed payload whose length no envelope has (see [`check_sealed_len`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "a sealed payload of {len} bytes not of this format: an envelope starts with CSS2 and is {MIN_SEALED_LEN} to {MAX_SEALED_LEN} bytes"
)]
pub struct SealLengthError {
    pub len: usize,
}

/// The check a home applies to a sealed payload whether or not it holds the key: this
/// format's magic ([`SEAL_MAGIC`]: an older envelope, without key commitment, is refused by a
/// home with the key and so by one without it too, or the two would hold different ledgers),
/// at least [`MIN_SEALED_LEN`] bytes (magic, nonce, commitment, tag and a clear payload) and at
/// most [`MAX_SEALED_LEN`]. A home without the key can judge nothing else of it; one with the
/// key would refuse the same envelope when opening it, so both refuse it alike.
pub fn check_sealed_len(payload: &[u8]) -> Result<(), SealLengthError> {
    if payload.starts_with(SEAL_MAGIC) && (MIN_SEALED_LEN..=MAX_SEALED_LEN).contains(&payload.len())
    {
        Ok(())
    } else {
        Err(SealLengthError { len: payload.len() })
    }
}

#[cfg(test)]
mod length_tests {
    use super::*;

    #[test]
    fn an_envelope_is_length_checked_without_its_key() {
        let key = DataKey::from_bytes([3; 32]);
        // The shortest envelope anyone seals (one byte of clear payload) passes; magic, nonce
        // and tag alone (an empty payload sealed) and anything shorter do not.
        let one = seal(&key, &[1; NONCE_LEN], Kind::SectionWrite, None, b"{");
        assert_eq!(one.len(), MIN_SEALED_LEN);
        assert_eq!(check_sealed_len(&one), Ok(()));
        let empty = seal(&key, &[1; NONCE_LEN], Kind::SectionWrite, None, b"");
        assert_eq!(
            check_sealed_len(&empty),
            Err(SealLengthError { len: SEAL_OVERHEAD })
        );
        assert!(check_sealed_len(b"CSS1").is_err());
        // An envelope of the format without key commitment, of a length this one allows:
        // refused without the key as the key would refuse it (review of issue 16).
        let mut old = one.clone();
        old[..4].copy_from_slice(b"CSS1");
        assert_eq!(
            check_sealed_len(&old),
            Err(SealLengthError { len: old.len() })
        );
        assert!(check_sealed_len(&one[..MIN_SEALED_LEN - 1]).is_err());
        // The longest a record carries passes; one byte more does not.
        let mut long = vec![0u8; MAX_SEALED_LEN];
        long[..4].copy_from_slice(SEAL_MAGIC);
        assert_eq!(check_sealed_len(&long), Ok(()));
        long.push(0);
        assert_eq!(
            check_sealed_len(&long),
            Err(SealLengthError {
                len: MAX_SEALED_LEN + 1
            })
        );
        // What the largest clear payload of a sealed kind seals to is exactly the bound.
        assert_eq!(
            MAX_SEALED_LEN - SEAL_OVERHEAD + SEAL_OVERHEAD,
            MAX_SEALED_LEN
        );
    }
}
