//! Signed entries: the exact header bytes, their signature and the id derived from them.

use ed25519_dalek::Signature;

use crate::hash::{EntryId, Hash, LogId};
use crate::header::{self, DecodeError, Header};
use crate::identity::{SignError, Signer};

/// Signatures cover this tag followed by the header bytes, so an entry signature can never be
/// mistaken for a signature over anything else the same key signs.
pub const SIGNATURE_DOMAIN: &[u8] = b"countersign/entry/v1\0";

/// A header together with the bytes that were signed. Stored bytes are the signed bytes:
/// nothing is re-serialised to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    header: Header,
    header_bytes: Vec<u8>,
    signature: [u8; 64],
    id: EntryId,
}

/// Why an entry is not authentic.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("header: {0}")]
    Decode(#[from] DecodeError),
    #[error("signature does not verify for author {author}")]
    BadSignature { author: String },
    #[error("signing key {key} is not the header's author {author}")]
    AuthorMismatch { key: String, author: String },
    /// The signer (a token, an agent) made no signature.
    #[error("signing failed: {0}")]
    Signing(#[from] SignError),
}

fn signed_message(header_bytes: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNATURE_DOMAIN.len() + header_bytes.len());
    message.extend_from_slice(SIGNATURE_DOMAIN);
    message.extend_from_slice(header_bytes);
    message
}

impl Entry {
    /// Encodes and signs `header` with `key`, which must be the header's author.
    pub fn sign<S: Signer + ?Sized>(header: Header, key: &S) -> Result<Entry, EntryError> {
        if key.public() != header.author {
            return Err(EntryError::AuthorMismatch {
                key: key.public().to_hex(),
                author: header.author.to_hex(),
            });
        }
        let header_bytes = header.encode();
        let signature = key.try_sign(&signed_message(&header_bytes))?;
        let id = Hash::of(&header_bytes);
        Ok(Entry {
            header,
            header_bytes,
            signature,
            id,
        })
    }

    /// Decodes and verifies stored or received bytes (`verify_strict`).
    pub fn from_parts(header_bytes: &[u8], signature: &[u8; 64]) -> Result<Entry, EntryError> {
        let entry = Entry::decode_unverified(header_bytes, signature)?;
        entry.verify_signature()?;
        Ok(entry)
    }

    /// Decodes without checking the signature: for reporting on bytes already known to be bad,
    /// or for callers that verify later on another thread.
    pub fn decode_unverified(
        header_bytes: &[u8],
        signature: &[u8; 64],
    ) -> Result<Entry, EntryError> {
        Entry::decode_unverified_with_keys(header_bytes, signature, |_| None)
    }

    /// [`Entry::decode_unverified`] with known author keys (see [`header::decode_with_keys`]).
    pub fn decode_unverified_with_keys(
        header_bytes: &[u8],
        signature: &[u8; 64],
        known: impl Fn(&[u8; 32]) -> Option<crate::PublicKey>,
    ) -> Result<Entry, EntryError> {
        let header = header::decode_with_keys(header_bytes, known)?;
        Ok(Entry {
            header,
            header_bytes: header_bytes.to_vec(),
            signature: *signature,
            id: Hash::of(header_bytes),
        })
    }

    /// [`Entry::decode_unverified_with_keys`] keeping the bytes it is given instead of a copy:
    /// for header bytes read only to become this entry (a streamed bundle's).
    pub fn decode_unverified_owned(
        header_bytes: Vec<u8>,
        signature: &[u8; 64],
        known: impl Fn(&[u8; 32]) -> Option<crate::PublicKey>,
    ) -> Result<Entry, EntryError> {
        let header = header::decode_with_keys(&header_bytes, known)?;
        let id = Hash::of(&header_bytes);
        Ok(Entry {
            header,
            header_bytes,
            signature: *signature,
            id,
        })
    }

    /// Checks the signature with `verify_strict`, which rejects small-order R and non-canonical S.
    pub fn verify_signature(&self) -> Result<(), EntryError> {
        let signature = Signature::from_bytes(&self.signature);
        self.header
            .author
            .verifying_key()
            .verify_strict(&signed_message(&self.header_bytes), &signature)
            .map_err(|_| EntryError::BadSignature {
                author: self.header.author.to_hex(),
            })
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn header_bytes(&self) -> &[u8] {
        &self.header_bytes
    }

    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    pub fn id(&self) -> EntryId {
        self.id
    }

    /// The log this entry belongs to: its own id for a genesis entry, else the header's log.
    pub fn log_id(&self) -> LogId {
        if self.header.kind.is_genesis() {
            self.id
        } else {
            self.header.log
        }
    }

    /// The network this entry belongs to: its own id for a network genesis.
    pub fn network_id(&self) -> Hash {
        if self.header.kind == crate::Kind::NetworkGenesis {
            self.id
        } else {
            self.header.network
        }
    }
}
