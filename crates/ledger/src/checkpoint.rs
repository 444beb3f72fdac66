//! Signed checkpoints: "in network N, log L holds these heads here, as of T", signed by the
//! member whose node says it.
//!
//! Hash links make a log tamper-evident but not split-view-evident: a peer could show one
//! history to some peers and another to others, or withhold entries. A checkpoint is a signed
//! claim that can be held against its signer — by the peer it was given to, or by anyone who
//! later sees the pair — when it claims heads the signer then does not serve, or when a later
//! checkpoint of the same signer does not descend from an earlier one.
//!
//! ```text
//! version:u8 (1) network[32] log[32] signer[32] timestamp_ms:u64 entries:u64
//! n:u8 head[32]×n (strictly ascending, n ≤ MAX_CHECKPOINT_HEADS) signature[64]
//! ```
//! The signature covers [`CHECKPOINT_DOMAIN`] then every byte before the signature.
//!
//! ```
//! use countersign_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
//! use countersign_ledger::{Hash, SecretKey};
//!
//! let key = SecretKey::from_seed(&[7; 32]);
//! let claim = Checkpoint::new(Hash::of(b"net"), Hash::of(b"log"), key.public(),
//!                             1_700_000_000_000, 3, vec![Hash::of(b"head")]).unwrap();
//! let signed = claim.sign(&key);
//! let received = SignedCheckpoint::decode(signed.bytes()).unwrap();
//! assert_eq!(received.checkpoint().entries, 3);
//! ```

use ed25519_dalek::Signature;

use crate::{EntryId, Hash, LogId, NetworkId, PublicKey, SecretKey, SignError, Signer};

/// Domain separation: a checkpoint signature can never be taken for an entry's, or the reverse.
pub const CHECKPOINT_DOMAIN: &[u8] = b"countersign checkpoint v1\0";
pub const CHECKPOINT_VERSION: u8 = 1;
/// Heads one checkpoint names at most; a log with more concurrent branches is not checkpointed.
pub const MAX_CHECKPOINT_HEADS: usize = 64;
/// The longest encoding: the fixed fields, every head, the signature.
pub const MAX_CHECKPOINT_LEN: usize = FIXED_LEN + 1 + 32 * MAX_CHECKPOINT_HEADS + 64;
const FIXED_LEN: usize = 1 + 32 * 3 + 8 + 8;

/// What a checkpoint claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub network: NetworkId,
    pub log: LogId,
    pub signer: PublicKey,
    pub timestamp_ms: u64,
    /// Entries of the log the signer held.
    pub entries: u64,
    /// The log's heads as the signer held them, ascending.
    pub heads: Vec<EntryId>,
}

/// A checkpoint with its signature, as sent and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    bytes: Vec<u8>,
}

/// Why bytes are not a checkpoint, or a checkpoint cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint truncated")]
    Truncated,
    #[error("checkpoint format version {found} is not supported (expected {CHECKPOINT_VERSION})")]
    UnknownVersion { found: u8 },
    #[error("a checkpoint names {count} heads; at most {max}")]
    TooManyHeads { count: usize, max: usize },
    #[error("checkpoint heads are not strictly ascending")]
    HeadsNotSorted,
    #[error("the checkpoint's signer is not a valid ed25519 key")]
    BadKey,
    #[error("the checkpoint's signature by {signer} does not verify")]
    BadSignature { signer: String },
    #[error("{0} bytes after the checkpoint")]
    TrailingBytes(usize),
}

impl Checkpoint {
    /// A claim about `heads` (sorted and deduplicated here).
    pub fn new(
        network: NetworkId,
        log: LogId,
        signer: PublicKey,
        timestamp_ms: u64,
        entries: u64,
        mut heads: Vec<EntryId>,
    ) -> Result<Checkpoint, CheckpointError> {
        heads.sort();
        heads.dedup();
        if heads.len() > MAX_CHECKPOINT_HEADS {
            return Err(CheckpointError::TooManyHeads {
                count: heads.len(),
                max: MAX_CHECKPOINT_HEADS,
            });
        }
        Ok(Checkpoint {
            network,
            log,
            signer,
            timestamp_ms,
            entries,
            heads,
        })
    }

    fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FIXED_LEN + 1 + 32 * self.heads.len() + 64);
        out.push(CHECKPOINT_VERSION);
        out.extend_from_slice(self.network.as_bytes());
        out.extend_from_slice(self.log.as_bytes());
        out.extend_from_slice(self.signer.as_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.entries.to_be_bytes());
        // `new` bounds the heads at 64, which fits a byte.
        out.push(self.heads.len() as u8);
        for h in &self.heads {
            out.extend_from_slice(h.as_bytes());
        }
        out
    }

    /// Signs the claim with `key`, which should be the signer's.
    pub fn sign(self, key: &SecretKey) -> SignedCheckpoint {
        let bytes = self.body();
        let signature = key.sign(&signed(&bytes));
        self.with_signature(bytes, signature)
    }

    /// [`Checkpoint::sign`] with a signer that may fail (a token, an agent).
    pub fn try_sign<S: Signer + ?Sized>(self, key: &S) -> Result<SignedCheckpoint, SignError> {
        let bytes = self.body();
        let signature = key.try_sign(&signed(&bytes))?;
        Ok(self.with_signature(bytes, signature))
    }

    fn with_signature(self, mut bytes: Vec<u8>, signature: [u8; 64]) -> SignedCheckpoint {
        bytes.extend_from_slice(&signature);
        SignedCheckpoint {
            checkpoint: self,
            bytes,
        }
    }
}

fn signed(body: &[u8]) -> Vec<u8> {
    [CHECKPOINT_DOMAIN, body].concat()
}

impl SignedCheckpoint {
    /// Decodes untrusted bytes and checks the signature (`verify_strict`). Lengths are checked
    /// before anything is allocated; one encoding per checkpoint.
    pub fn decode(bytes: &[u8]) -> Result<SignedCheckpoint, CheckpointError> {
        let take = |at: usize, n: usize| bytes.get(at..at + n).ok_or(CheckpointError::Truncated);
        let version = take(0, 1)?[0];
        if version != CHECKPOINT_VERSION {
            return Err(CheckpointError::UnknownVersion { found: version });
        }
        let hash = |at: usize| -> Result<Hash, CheckpointError> {
            Hash::from_slice(take(at, 32)?).ok_or(CheckpointError::Truncated)
        };
        let u64_at = |at: usize| -> Result<u64, CheckpointError> {
            let mut a = [0u8; 8];
            a.copy_from_slice(take(at, 8)?);
            Ok(u64::from_be_bytes(a))
        };
        let network = hash(1)?;
        let log = hash(33)?;
        let signer_bytes: [u8; 32] = hash(65)?.0;
        let timestamp_ms = u64_at(97)?;
        let entries = u64_at(105)?;
        let n = usize::from(take(FIXED_LEN, 1)?[0]);
        if n > MAX_CHECKPOINT_HEADS {
            return Err(CheckpointError::TooManyHeads {
                count: n,
                max: MAX_CHECKPOINT_HEADS,
            });
        }
        let body_len = FIXED_LEN + 1 + 32 * n;
        let total = body_len + 64;
        if bytes.len() < total {
            return Err(CheckpointError::Truncated);
        }
        if bytes.len() > total {
            return Err(CheckpointError::TrailingBytes(bytes.len() - total));
        }
        let heads = (0..n)
            .map(|i| hash(FIXED_LEN + 1 + 32 * i))
            .collect::<Result<Vec<_>, _>>()?;
        if heads.windows(2).any(|w| w[0] >= w[1]) {
            return Err(CheckpointError::HeadsNotSorted);
        }
        let signer = PublicKey::from_bytes(&signer_bytes).map_err(|_| CheckpointError::BadKey)?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[body_len..]);
        signer
            .verifying_key()
            .verify_strict(
                &signed(&bytes[..body_len]),
                &Signature::from_bytes(&signature),
            )
            .map_err(|_| CheckpointError::BadSignature {
                signer: signer.to_hex(),
            })?;
        Ok(SignedCheckpoint {
            checkpoint: Checkpoint {
                network,
                log,
                signer,
                timestamp_ms,
                entries,
                heads,
            },
            bytes: bytes.to_vec(),
        })
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The signed bytes, as sent and kept.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(key: &SecretKey, heads: Vec<EntryId>) -> Checkpoint {
        Checkpoint::new(Hash::of(b"n"), Hash::of(b"l"), key.public(), 5, 2, heads).unwrap()
    }

    #[test]
    fn a_checkpoint_round_trips_and_every_flipped_bit_is_refused() {
        let key = SecretKey::from_seed(&[3; 32]);
        let signed = claim(&key, vec![Hash::of(b"b"), Hash::of(b"a")]).sign(&key);
        let back = SignedCheckpoint::decode(signed.bytes()).unwrap();
        assert_eq!(back, signed);
        assert!(back.checkpoint().heads.windows(2).all(|w| w[0] < w[1]));
        for i in 0..signed.bytes().len() {
            let mut bad = signed.bytes().to_vec();
            bad[i] ^= 1;
            assert!(SignedCheckpoint::decode(&bad).is_err(), "bit at byte {i}");
        }
        let mut long = signed.bytes().to_vec();
        long.push(0);
        assert_eq!(
            SignedCheckpoint::decode(&long),
            Err(CheckpointError::TrailingBytes(1))
        );
        assert_eq!(
            SignedCheckpoint::decode(&signed.bytes()[..signed.bytes().len() - 1]),
            Err(CheckpointError::Truncated)
        );
    }

    #[test]
    fn a_checkpoint_signature_is_not_an_entry_signature() {
        let key = SecretKey::from_seed(&[3; 32]);
        let signed = claim(&key, vec![]).sign(&key);
        let body = &signed.bytes()[..signed.bytes().len() - 64];
        let sig: [u8; 64] = signed.bytes()[body.len()..].try_into().unwrap();
        // The same bytes signed without the domain do not verify as a checkpoint.
        let plain = key.sign(body);
        assert_ne!(plain, sig);
        let forged = [body, &plain].concat();
        assert!(matches!(
            SignedCheckpoint::decode(&forged),
            Err(CheckpointError::BadSignature { .. })
        ));
    }

    #[test]
    fn too_many_heads_are_refused_before_reading_them() {
        let key = SecretKey::from_seed(&[3; 32]);
        let heads: Vec<EntryId> = (0..65u8).map(|i| Hash::of(&[i])).collect();
        assert!(matches!(
            Checkpoint::new(Hash::ZERO, Hash::ZERO, key.public(), 0, 0, heads),
            Err(CheckpointError::TooManyHeads { count: 65, .. })
        ));
        let mut bytes = claim(&key, vec![]).sign(&key).bytes().to_vec();
        bytes[FIXED_LEN] = 200;
        assert!(matches!(
            SignedCheckpoint::decode(&bytes),
            Err(CheckpointError::TooManyHeads { count: 200, .. })
        ));
    }
}
