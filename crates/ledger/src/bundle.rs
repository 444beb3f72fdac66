//! The bundle: a self-contained file of entries and payloads that homes exchange before sync
//! exists and that an auditor receives.
//!
//! ```text
//! magic        b"CSBUNDL1"
//! count        u32 BE   number of records, at most MAX_BUNDLE_ENTRIES
//! record × count:
//!   header_len u16 BE   at most MAX_HEADER_LEN
//!   header     bytes
//!   signature  [u8; 64]
//!   has_payload u8      0 (erased or withheld) or 1
//!   payload_len u32 BE  only when has_payload = 1; at most MAX_PAYLOAD_LEN
//!   payload    bytes
//! ```
//!
//! Decoding only frames records; the importer decodes and verifies each header.

use crate::entry::Entry;
use crate::header::{MAX_HEADER_LEN, MAX_PAYLOAD_LEN};

pub const BUNDLE_MAGIC: &[u8; 8] = b"CSBUNDL1";
pub const MAX_BUNDLE_ENTRIES: u32 = 2_000_000;

/// One framed record of a bundle, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRecord {
    pub header: Vec<u8>,
    pub signature: [u8; 64],
    pub payload: Option<Vec<u8>>,
}

/// Why bytes are not a bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a Countersign bundle (bad magic)")]
    BadMagic,
    #[error("bundle truncated in record {record}")]
    Truncated { record: u32 },
    #[error("bundle claims {count} records, at most {MAX_BUNDLE_ENTRIES} allowed")]
    TooManyRecords { count: u32 },
    #[error("record {record}: header of {len} bytes exceeds {MAX_HEADER_LEN}")]
    HeaderTooLong { record: u32, len: usize },
    #[error("record {record}: payload of {len} bytes exceeds {MAX_PAYLOAD_LEN}")]
    PayloadTooLong { record: u32, len: u64 },
    #[error("record {record}: payload flag {flag} is neither 0 nor 1")]
    BadPayloadFlag { record: u32, flag: u8 },
    #[error("bundle has {count} trailing bytes")]
    TrailingBytes { count: usize },
}

/// Encodes entries with their payloads (`None` for an erased payload).
pub fn encode<'a>(records: impl IntoIterator<Item = (&'a Entry, Option<&'a [u8]>)>) -> Vec<u8> {
    let mut out = BUNDLE_MAGIC.to_vec();
    out.extend_from_slice(&[0; 4]);
    let mut count: u32 = 0;
    for (entry, payload) in records {
        count += 1;
        push_record(&mut out, entry.header_bytes(), entry.signature(), payload);
    }
    out[8..12].copy_from_slice(&count.to_be_bytes());
    out
}

/// Frames records that were decoded earlier; `encode_records(&decode(b)?) == b`.
pub fn encode_records(records: &[BundleRecord]) -> Vec<u8> {
    let mut out = BUNDLE_MAGIC.to_vec();
    out.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for r in records {
        push_record(&mut out, &r.header, &r.signature, r.payload.as_deref());
    }
    out
}

fn push_record(out: &mut Vec<u8>, header: &[u8], signature: &[u8; 64], payload: Option<&[u8]>) {
    out.extend_from_slice(&(header.len() as u16).to_be_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(signature);
    match payload {
        Some(p) => {
            out.push(1);
            out.extend_from_slice(&(p.len() as u32).to_be_bytes());
            out.extend_from_slice(p);
        }
        None => out.push(0),
    }
}

/// A record framed in place: borrowed slices of the bundle bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    pub header: &'a [u8],
    pub signature: &'a [u8; 64],
    pub payload: Option<&'a [u8]>,
}

impl RecordRef<'_> {
    pub fn to_owned_record(&self) -> BundleRecord {
        BundleRecord {
            header: self.header.to_vec(),
            signature: *self.signature,
            payload: self.payload.map(<[u8]>::to_vec),
        }
    }
}

/// Frames untrusted bundle bytes into records. Every length is checked against both its limit
/// and the bytes actually present before anything is allocated.
pub fn decode(bytes: &[u8]) -> Result<Vec<BundleRecord>, BundleError> {
    Ok(frame(bytes)?
        .iter()
        .map(RecordRef::to_owned_record)
        .collect())
}

/// [`decode`] without copying: the records as slices of `bytes` (for counting a batch or
/// reading its headers, where owned copies would only cost memory).
pub fn frame(bytes: &[u8]) -> Result<Vec<RecordRef<'_>>, BundleError> {
    let rest = bytes
        .strip_prefix(BUNDLE_MAGIC)
        .ok_or(BundleError::BadMagic)?;
    let (count, mut rest) = split_u32(rest).ok_or(BundleError::Truncated { record: 0 })?;
    if count > MAX_BUNDLE_ENTRIES {
        return Err(BundleError::TooManyRecords { count });
    }
    // The smallest record is a 2-byte length, a 64-byte signature and a flag byte; never
    // reserve more than the input could hold.
    let mut records = Vec::with_capacity((count as usize).min(rest.len() / 67));
    for record in 0..count {
        let truncated = BundleError::Truncated { record };
        let (len_bytes, r) = split(rest, 2).ok_or(truncated.clone())?;
        let header_len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
        if header_len > MAX_HEADER_LEN {
            return Err(BundleError::HeaderTooLong {
                record,
                len: header_len,
            });
        }
        let (header, r) = split(r, header_len).ok_or(truncated.clone())?;
        let (sig, r) = split(r, 64).ok_or(truncated.clone())?;
        let (flag, r) = split(r, 1).ok_or(truncated.clone())?;
        let (payload, r) = match flag[0] {
            0 => (None, r),
            1 => {
                let (len, r) = split_u32(r).ok_or(truncated.clone())?;
                if u64::from(len) > MAX_PAYLOAD_LEN {
                    return Err(BundleError::PayloadTooLong {
                        record,
                        len: len.into(),
                    });
                }
                let (p, r) = split(r, len as usize).ok_or(truncated)?;
                (Some(p), r)
            }
            flag => return Err(BundleError::BadPayloadFlag { record, flag }),
        };
        records.push(RecordRef {
            header,
            signature: sig.try_into().expect("split took 64 bytes"),
            payload,
        });
        rest = r;
    }
    if !rest.is_empty() {
        return Err(BundleError::TrailingBytes { count: rest.len() });
    }
    Ok(records)
}

fn split(bytes: &[u8], n: usize) -> Option<(&[u8], &[u8])> {
    (bytes.len() >= n).then(|| bytes.split_at(n))
}

fn split_u32(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let (b, rest) = split(bytes, 4)?;
    Some((u32::from_be_bytes([b[0], b[1], b[2], b[3]]), rest))
}
