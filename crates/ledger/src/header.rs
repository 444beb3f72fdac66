//! The entry header, format v1, and its canonical byte encoding.
//!
//! ```text
//! version      u8        = 1
//! network      [u8; 32]  zero in a network genesis
//! log          [u8; 32]  zero in a genesis entry (report.create, network.genesis)
//! author       [u8; 32]  ed25519 public key
//! seq          u64 BE    per author and log, from 1
//! timestamp    u64 BE    milliseconds since the Unix epoch, as the author's clock saw it
//! kind_len     u8        1..=32
//! kind         ASCII     e.g. "section.write"
//! parent_count u8        0..=16
//! parents      [u8; 32] × parent_count, strictly ascending
//! payload_hash [u8; 32]  SHA-256 of the payload bytes
//! payload_len  u64 BE
//! ```
//!
//! There is exactly one encoding of every header: the decoder refuses unsorted or repeated
//! parents, unknown versions and kinds, and trailing bytes, so `encode(decode(b)) == b`.

use crate::hash::{EntryId, Hash, LogId, NetworkId};
use crate::identity::{KeyError, PublicKey};
use crate::kind::{Kind, UnknownKind};

pub const FORMAT_VERSION: u8 = 1;
pub const MAX_PARENTS: usize = 16;
pub const MAX_KIND_LEN: usize = 32;
/// The largest payload a header may announce (16 MiB); larger payloads belong in the image store.
pub const MAX_PAYLOAD_LEN: u64 = 16 * 1024 * 1024;
pub const MIN_HEADER_LEN: usize = 1 + 32 * 3 + 8 + 8 + 1 + 1 + 1 + 32 + 8;
pub const MAX_HEADER_LEN: usize = MIN_HEADER_LEN - 1 + MAX_KIND_LEN + MAX_PARENTS * 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub network: NetworkId,
    pub log: LogId,
    pub author: PublicKey,
    pub seq: u64,
    pub timestamp_ms: u64,
    pub kind: Kind,
    /// Strictly ascending; [`Header::new`] sorts them.
    pub parents: Vec<EntryId>,
    pub payload_hash: Hash,
    pub payload_len: u64,
}

/// Why bytes are not a canonical v1 header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("header truncated: needed {needed} more bytes at offset {offset}")]
    Truncated { offset: usize, needed: usize },
    #[error("header has {count} trailing bytes")]
    TrailingBytes { count: usize },
    #[error("header format version {found} is not supported (expected {FORMAT_VERSION})")]
    UnknownVersion { found: u8 },
    #[error("kind length {found} is outside 1..={MAX_KIND_LEN}")]
    KindLength { found: usize },
    #[error("kind is not ASCII")]
    KindNotAscii,
    #[error(transparent)]
    UnknownKind(#[from] UnknownKind),
    #[error("{found} parents, at most {MAX_PARENTS} allowed")]
    TooManyParents { found: usize },
    #[error("parents are not strictly ascending (position {position})")]
    ParentsNotCanonical { position: usize },
    #[error("author key: {0}")]
    Author(#[from] KeyError),
    #[error("payload length {found} exceeds the limit of {MAX_PAYLOAD_LEN} bytes")]
    PayloadTooLarge { found: u64 },
}

impl Header {
    /// A header with its parents put in canonical order (sorted, duplicates removed).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        network: NetworkId,
        log: LogId,
        author: PublicKey,
        seq: u64,
        timestamp_ms: u64,
        kind: Kind,
        mut parents: Vec<EntryId>,
        payload: &[u8],
    ) -> Self {
        parents.sort();
        parents.dedup();
        Header {
            network,
            log,
            author,
            seq,
            timestamp_ms,
            kind,
            parents,
            payload_hash: Hash::of(payload),
            payload_len: payload.len() as u64,
        }
    }

    /// The canonical bytes. Panics only if the header breaks an invariant that [`Header::new`]
    /// and [`decode`] both uphold (too many parents), which is a programming error.
    pub fn encode(&self) -> Vec<u8> {
        assert!(
            self.parents.len() <= MAX_PARENTS,
            "header built with {} parents",
            self.parents.len()
        );
        let kind = self.kind.name().as_bytes();
        let mut out = Vec::with_capacity(MIN_HEADER_LEN - 1 + kind.len() + 32 * self.parents.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(self.network.as_bytes());
        out.extend_from_slice(self.log.as_bytes());
        out.extend_from_slice(self.author.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.push(kind.len() as u8);
        out.extend_from_slice(kind);
        out.push(self.parents.len() as u8);
        for parent in &self.parents {
            out.extend_from_slice(parent.as_bytes());
        }
        out.extend_from_slice(self.payload_hash.as_bytes());
        out.extend_from_slice(&self.payload_len.to_be_bytes());
        out
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = &self.bytes[self.offset..];
        if rest.len() < n {
            return Err(DecodeError::Truncated {
                offset: self.offset,
                needed: n - rest.len(),
            });
        }
        self.offset += n;
        Ok(&rest[..n])
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }

    fn hash(&mut self) -> Result<Hash, DecodeError> {
        let mut b = [0u8; 32];
        b.copy_from_slice(self.take(32)?);
        Ok(Hash(b))
    }
}

/// Decodes canonical header bytes. Untrusted input: every length is checked before use and
/// nothing is allocated beyond the (bounded) parent list.
pub fn decode(bytes: &[u8]) -> Result<Header, DecodeError> {
    decode_with_keys(bytes, |_| None)
}

/// The author's key bytes of a header, unchecked, if the bytes are long enough to hold them
/// in this format: lets a verifier of many entries check each distinct key once up front.
pub fn author_bytes(bytes: &[u8]) -> Option<[u8; 32]> {
    if bytes.first() != Some(&FORMAT_VERSION) {
        return None;
    }
    bytes.get(1 + 32 + 32..1 + 32 + 32 + 32)?.try_into().ok()
}

/// [`decode`], taking the author's already-checked key from `known` when it has it. Checking a
/// key (decompressing the point, testing its order) costs a fifth of a signature verification;
/// a verifier that sees the same few authors over and over need not repeat it.
pub fn decode_with_keys(
    bytes: &[u8],
    known: impl Fn(&[u8; 32]) -> Option<PublicKey>,
) -> Result<Header, DecodeError> {
    let mut r = Reader { bytes, offset: 0 };
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::UnknownVersion { found: version });
    }
    let network = r.hash()?;
    let log = r.hash()?;
    let author_bytes = r.hash()?.0;
    let author = match known(&author_bytes) {
        Some(key) if key.as_bytes() == &author_bytes => key,
        _ => PublicKey::from_bytes(&author_bytes)?,
    };
    let seq = r.u64()?;
    let timestamp_ms = r.u64()?;
    let kind_len = r.u8()? as usize;
    if kind_len == 0 || kind_len > MAX_KIND_LEN {
        return Err(DecodeError::KindLength { found: kind_len });
    }
    let kind_bytes = r.take(kind_len)?;
    let kind_str = std::str::from_utf8(kind_bytes)
        .ok()
        .filter(|s| s.is_ascii())
        .ok_or(DecodeError::KindNotAscii)?;
    let kind: Kind = kind_str.parse()?;
    let parent_count = r.u8()? as usize;
    if parent_count > MAX_PARENTS {
        return Err(DecodeError::TooManyParents {
            found: parent_count,
        });
    }
    let mut parents = Vec::with_capacity(parent_count);
    for position in 0..parent_count {
        let parent = r.hash()?;
        if parents.last().is_some_and(|prev| *prev >= parent) {
            return Err(DecodeError::ParentsNotCanonical { position });
        }
        parents.push(parent);
    }
    let payload_hash = r.hash()?;
    let payload_len = r.u64()?;
    if payload_len > MAX_PAYLOAD_LEN {
        return Err(DecodeError::PayloadTooLarge { found: payload_len });
    }
    let rest = bytes.len() - r.offset;
    if rest != 0 {
        return Err(DecodeError::TrailingBytes { count: rest });
    }
    Ok(Header {
        network,
        log,
        author,
        seq,
        timestamp_ms,
        kind,
        parents,
        payload_hash,
        payload_len,
    })
}
