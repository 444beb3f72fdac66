//! Split-view evidence as data that travels: two signed checkpoints by one signer about one
//! log, which a third party can check on its own — both signatures, one signer, one network,
//! one log — and then judge against the entries it holds (does the later claim descend from
//! the earlier one? That judgement reads history, so it lives in the report crate's
//! `accept::checkpoints`).
//!
//! ```text
//! len:u16 earlier[len] len:u16 later[len]
//! ```
//! `earlier` sorts before `later` by (timestamp, bytes): one encoding per pair, whichever
//! order a home found them in. Its id is the SHA-256 of [`SPLIT_VIEW_DOMAIN`] then the
//! encoding, so it can never equal an entry's id (the hash of a header).
//!
//! ```
//! use countersign_ledger::checkpoint::Checkpoint;
//! use countersign_ledger::split_view::SplitViewEvidence;
//! use countersign_ledger::{Hash, SecretKey};
//!
//! let key = SecretKey::from_seed(&[7; 32]);
//! let at = |ms, head: &[u8]| {
//!     Checkpoint::new(Hash::of(b"net"), Hash::of(b"log"), key.public(), ms, 3,
//!                     vec![Hash::of(head)]).unwrap().sign(&key)
//! };
//! let pair = SplitViewEvidence::new(at(2, b"other"), at(1, b"head")).unwrap();
//! let back = SplitViewEvidence::decode(&pair.encode()).unwrap();
//! assert_eq!(back.earlier().checkpoint().timestamp_ms, 1);
//! assert_eq!(back.id(), SplitViewEvidence::id_of(&pair.encode()));
//! ```

use crate::checkpoint::{CheckpointError, SignedCheckpoint, MAX_CHECKPOINT_LEN};
use crate::Hash;

/// Domain separation of an evidence id from an entry id.
pub const SPLIT_VIEW_DOMAIN: &[u8] = b"countersign split-view evidence v1\0";
/// The longest encoding.
pub const MAX_SPLIT_VIEW_LEN: usize = 4 + 2 * MAX_CHECKPOINT_LEN;

/// Two signed claims of one signer about one log, in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitViewEvidence {
    earlier: SignedCheckpoint,
    later: SignedCheckpoint,
}

/// Why two checkpoints are not a pair that could be evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitViewError {
    #[error("split-view evidence truncated")]
    Truncated,
    #[error("split-view evidence is {0} bytes; at most {MAX_SPLIT_VIEW_LEN}")]
    TooLong(usize),
    #[error("{0} bytes after the split-view evidence")]
    TrailingBytes(usize),
    #[error("a checkpoint of the evidence: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the two checkpoints are not by one signer about one log of one network")]
    NotAPair,
    #[error("the two checkpoints are the same claim")]
    SameClaim,
    #[error("the checkpoints are not in canonical order (earlier first)")]
    NotCanonical,
}

impl SplitViewError {
    /// A stable code for `{code, message}` errors.
    pub fn code(&self) -> &'static str {
        match self {
            SplitViewError::Truncated
            | SplitViewError::TooLong(_)
            | SplitViewError::TrailingBytes(_)
            | SplitViewError::NotCanonical => "split_view_malformed",
            SplitViewError::Checkpoint(_) => "split_view_bad_checkpoint",
            SplitViewError::NotAPair | SplitViewError::SameClaim => "split_view_not_a_pair",
        }
    }
}

fn order_key(c: &SignedCheckpoint) -> (u64, &[u8]) {
    (c.checkpoint().timestamp_ms, c.bytes())
}

impl SplitViewEvidence {
    /// Pairs two checkpoints (in either order) of one signer about one log.
    pub fn new(a: SignedCheckpoint, b: SignedCheckpoint) -> Result<Self, SplitViewError> {
        let (x, y) = (a.checkpoint(), b.checkpoint());
        if x.signer != y.signer || x.log != y.log || x.network != y.network {
            return Err(SplitViewError::NotAPair);
        }
        if a.bytes() == b.bytes() {
            return Err(SplitViewError::SameClaim);
        }
        let (earlier, later) = if order_key(&a) < order_key(&b) {
            (a, b)
        } else {
            (b, a)
        };
        Ok(SplitViewEvidence { earlier, later })
    }

    pub fn earlier(&self) -> &SignedCheckpoint {
        &self.earlier
    }

    pub fn later(&self) -> &SignedCheckpoint {
        &self.later
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.earlier.bytes().len() + self.later.bytes().len());
        for c in [&self.earlier, &self.later] {
            // A checkpoint is at most MAX_CHECKPOINT_LEN (2 226) bytes: it fits a u16.
            out.extend_from_slice(&(c.bytes().len() as u16).to_be_bytes());
            out.extend_from_slice(c.bytes());
        }
        out
    }

    /// Decodes untrusted bytes: lengths checked before anything is read, both signatures
    /// verified (`verify_strict`), one signer, log and network, canonical order.
    pub fn decode(bytes: &[u8]) -> Result<Self, SplitViewError> {
        if bytes.len() > MAX_SPLIT_VIEW_LEN {
            return Err(SplitViewError::TooLong(bytes.len()));
        }
        fn take(rest: &mut &[u8]) -> Result<SignedCheckpoint, SplitViewError> {
            let r: &[u8] = rest;
            let len = r.get(..2).ok_or(SplitViewError::Truncated)?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            if len > MAX_CHECKPOINT_LEN {
                return Err(SplitViewError::Checkpoint(CheckpointError::Truncated));
            }
            let body = r.get(2..2 + len).ok_or(SplitViewError::Truncated)?;
            *rest = &r[2 + len..];
            Ok(SignedCheckpoint::decode(body)?)
        }
        let mut rest = bytes;
        let earlier = take(&mut rest)?;
        let later = take(&mut rest)?;
        if !rest.is_empty() {
            return Err(SplitViewError::TrailingBytes(rest.len()));
        }
        if order_key(&earlier) >= order_key(&later) && earlier.bytes() != later.bytes() {
            return Err(SplitViewError::NotCanonical);
        }
        let pair = SplitViewEvidence::new(earlier, later)?;
        Ok(pair)
    }

    /// The evidence's id, as peers reconcile it.
    pub fn id(&self) -> Hash {
        Self::id_of(&self.encode())
    }

    /// The id of encoded evidence, without decoding it (what a puller checks a batch against).
    pub fn id_of(encoded: &[u8]) -> Hash {
        Hash::of(&[SPLIT_VIEW_DOMAIN, encoded].concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::Checkpoint;
    use crate::SecretKey;

    fn at(key: &SecretKey, log: &[u8], ms: u64, head: &[u8]) -> SignedCheckpoint {
        Checkpoint::new(
            Hash::of(b"n"),
            Hash::of(log),
            key.public(),
            ms,
            1,
            vec![Hash::of(head)],
        )
        .unwrap()
        .sign(key)
    }

    #[test]
    fn a_pair_has_one_encoding_and_every_flipped_bit_is_refused() {
        let key = SecretKey::from_seed(&[4; 32]);
        let (a, b) = (at(&key, b"l", 1, b"x"), at(&key, b"l", 2, b"y"));
        let one = SplitViewEvidence::new(a.clone(), b.clone()).unwrap();
        let two = SplitViewEvidence::new(b, a).unwrap();
        assert_eq!(one.encode(), two.encode());
        assert_eq!(SplitViewEvidence::decode(&one.encode()).unwrap(), one);
        let bytes = one.encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(SplitViewEvidence::decode(&bad).is_err(), "bit at byte {i}");
        }
        assert_ne!(
            one.id(),
            Hash::of(&bytes),
            "an evidence id is domain-separated"
        );
    }

    #[test]
    fn checkpoints_of_two_signers_or_two_logs_or_one_claim_are_not_a_pair() {
        let (k, m) = (
            SecretKey::from_seed(&[4; 32]),
            SecretKey::from_seed(&[5; 32]),
        );
        let a = at(&k, b"l", 1, b"x");
        assert_eq!(
            SplitViewEvidence::new(a.clone(), at(&m, b"l", 2, b"y")),
            Err(SplitViewError::NotAPair)
        );
        assert_eq!(
            SplitViewEvidence::new(a.clone(), at(&k, b"other", 2, b"y")),
            Err(SplitViewError::NotAPair)
        );
        assert_eq!(
            SplitViewEvidence::new(a.clone(), a.clone()),
            Err(SplitViewError::SameClaim)
        );
        // The later claim first is not the encoding.
        let b = at(&k, b"l", 2, b"y");
        let mut swapped = Vec::new();
        for c in [&b, &a] {
            swapped.extend_from_slice(&(c.bytes().len() as u16).to_be_bytes());
            swapped.extend_from_slice(c.bytes());
        }
        assert_eq!(
            SplitViewEvidence::decode(&swapped),
            Err(SplitViewError::NotCanonical)
        );
    }

    #[test]
    fn an_oversized_or_truncated_pair_is_refused_before_it_is_read() {
        assert_eq!(
            SplitViewEvidence::decode(&vec![0; MAX_SPLIT_VIEW_LEN + 1]),
            Err(SplitViewError::TooLong(MAX_SPLIT_VIEW_LEN + 1))
        );
        assert_eq!(
            SplitViewEvidence::decode(&[0xff, 0xff, 1]),
            Err(SplitViewError::Checkpoint(CheckpointError::Truncated))
        );
        assert_eq!(
            SplitViewEvidence::decode(&[0]),
            Err(SplitViewError::Truncated)
        );
    }

    proptest::proptest! {
        // A fixed seed: a failure replays exactly (proptest also prints the case).
        #![proptest_config(proptest::prelude::ProptestConfig {
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x5EED_0014),
            ..proptest::prelude::ProptestConfig::default()
        })]
        #[test]
        fn any_pair_has_one_encoding_whichever_order_it_was_found_in(
            (t1, t2) in (0u64..1 << 40, 0u64..1 << 40),
            (h1, h2) in (proptest::collection::vec(0u8..=255, 0..5),
                         proptest::collection::vec(0u8..=255, 0..5)),
        ) {
            let key = SecretKey::from_seed(&[6; 32]);
            let claim = |ms: u64, heads: &[u8]| {
                let heads = heads.iter().map(|b| Hash::of(&[*b])).collect();
                Checkpoint::new(Hash::of(b"n"), Hash::of(b"l"), key.public(), ms, 1, heads)
                    .unwrap()
                    .sign(&key)
            };
            let (a, b) = (claim(t1, &h1), claim(t2, &h2));
            match SplitViewEvidence::new(a.clone(), b.clone()) {
                Ok(pair) => {
                    let other = SplitViewEvidence::new(b, a).unwrap();
                    proptest::prop_assert_eq!(pair.encode(), other.encode());
                    let back = SplitViewEvidence::decode(&pair.encode()).unwrap();
                    proptest::prop_assert_eq!(&back, &pair);
                    proptest::prop_assert!(
                        back.earlier().checkpoint().timestamp_ms
                            <= back.later().checkpoint().timestamp_ms
                    );
                }
                // The same claim twice is no pair.
                Err(e) => proptest::prop_assert_eq!(e, SplitViewError::SameClaim),
            }
        }
    }
}
