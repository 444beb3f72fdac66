//! The bundle: a self-contained file of entries and payloads that homes exchange before sync
//! exists and that an auditor receives.
//!
//! ```text
//! magic        b"CSBUNDL1" (no keys), or b"CSBUNDL2" followed by the data keys:
//!   key_count  u32 BE   at most MAX_BUNDLE_KEYS
//!   key × key_count:    log[32] key[32]  (a report log's data key, see `DataKey`)
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
//! Decoding only frames records; the importer decodes and verifies each header. Bundles in
//! memory are framed in place ([`frame`]) or copied out ([`decode`]); a bundle in a file is
//! streamed a record at a time ([`Reader`], over any `Read` its caller opened: this crate still
//! opens nothing). All three are the same framer.
//!
//! Data keys come before the records, so that a streaming importer holds a report's key before
//! it meets the report's sealed payloads. A bundle with no keys is written as `CSBUNDL1`, byte
//! for byte what this format was before keys existed: a ciphertext-only bundle (`bundle export
//! --no-keys`) is one an erasure shreds without anyone touching it.

use crate::data_key::{DataKey, DATA_KEY_LEN};
use crate::entry::Entry;
use crate::hash::{Hash, LogId};
use crate::header::{MAX_HEADER_LEN, MAX_PAYLOAD_LEN};

pub const BUNDLE_MAGIC: &[u8; 8] = b"CSBUNDL1";
/// The magic of a bundle that carries data keys before its records.
pub const BUNDLE_MAGIC_KEYED: &[u8; 8] = b"CSBUNDL2";
pub const MAX_BUNDLE_ENTRIES: u32 = 2_000_000;
/// At most one key per report log, and a log has at least one entry.
pub const MAX_BUNDLE_KEYS: u32 = MAX_BUNDLE_ENTRIES;
/// Bytes one data key takes in a bundle: its log's id and the key.
pub const KEY_RECORD_LEN: usize = 32 + DATA_KEY_LEN;

/// The data keys a bundle carries: (report log, its key).
pub type BundleKeys = Vec<(LogId, DataKey)>;

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
    #[error("bundle claims {count} data keys, at most {MAX_BUNDLE_KEYS} allowed")]
    TooManyKeys { count: u32 },
    #[error("bundle truncated in its data keys")]
    KeysTruncated,
    #[error("bundle is marked as carrying data keys but carries none (one encoding per bundle)")]
    NoKeys,
}

/// Encodes entries with their payloads (`None` for an erased payload).
pub fn encode<'a>(records: impl IntoIterator<Item = (&'a Entry, Option<&'a [u8]>)>) -> Vec<u8> {
    encode_keyed(&[], records)
}

/// [`encode`] with data keys before the records (none: a `CSBUNDL1` bundle).
pub fn encode_keyed<'a>(
    keys: &[(LogId, DataKey)],
    records: impl IntoIterator<Item = (&'a Entry, Option<&'a [u8]>)>,
) -> Vec<u8> {
    let mut out = preamble(keys);
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    let mut count: u32 = 0;
    for (entry, payload) in records {
        count += 1;
        push_record(&mut out, entry.header_bytes(), entry.signature(), payload);
    }
    out[at..at + 4].copy_from_slice(&count.to_be_bytes());
    out
}

/// Frames records that were decoded earlier; `encode_records(&decode(b)?) == b`.
pub fn encode_records(records: &[BundleRecord]) -> Vec<u8> {
    encode_records_keyed(&[], records)
}

/// [`encode_records`] with data keys before the records.
pub fn encode_records_keyed(keys: &[(LogId, DataKey)], records: &[BundleRecord]) -> Vec<u8> {
    let mut out = preamble(keys);
    out.extend_from_slice(&(records.len() as u32).to_be_bytes());
    for r in records {
        push_record(&mut out, &r.header, &r.signature, r.payload.as_deref());
    }
    out
}

/// The magic, and the keys when there are any.
fn preamble(keys: &[(LogId, DataKey)]) -> Vec<u8> {
    if keys.is_empty() {
        return BUNDLE_MAGIC.to_vec();
    }
    let mut out = BUNDLE_MAGIC_KEYED.to_vec();
    out.extend_from_slice(&(keys.len() as u32).to_be_bytes());
    for (log, key) in keys {
        out.extend_from_slice(log.as_bytes());
        out.extend_from_slice(key.as_bytes());
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

/// [`decode`] with the data keys the bundle carries.
pub fn decode_keyed(bytes: &[u8]) -> Result<(BundleKeys, Vec<BundleRecord>), BundleError> {
    let (keys, records) = frame_keyed(bytes)?;
    Ok((
        keys,
        records.iter().map(RecordRef::to_owned_record).collect(),
    ))
}

/// [`decode`] without copying: the records as slices of `bytes` (for counting a batch or
/// reading its headers, where owned copies would only cost memory).
pub fn frame(bytes: &[u8]) -> Result<Vec<RecordRef<'_>>, BundleError> {
    frame_keyed(bytes).map(|(_, records)| records)
}

/// [`frame`] with the data keys the bundle carries.
pub fn frame_keyed(bytes: &[u8]) -> Result<(BundleKeys, Vec<RecordRef<'_>>), BundleError> {
    let mut framer = Framer::new(Slice(bytes));
    let mut records = Vec::new();
    while let Some(record) = framer.next_record() {
        match record {
            Ok((header, signature, payload)) => records.push(RecordRef {
                header,
                signature,
                payload,
            }),
            Err(Failed::Bundle(e)) => return Err(e),
            Err(Failed::Source(_, never)) => match never {},
        }
    }
    Ok((std::mem::take(&mut framer.keys), records))
}

/// Why a bundle could not be read from a stream: the bytes are not a bundle, or reading them
/// failed (a disk error, an archive member cut short by its container).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("reading the bundle failed at record {record}: {source}")]
    Io { record: u32, source: std::io::Error },
}

/// Reads a bundle's records one at a time from a stream, so a bundle never has to be in memory
/// whole. It frames exactly as [`decode`] does (the same framer) and fails with the same
/// [`BundleError`] at the same record; after the first error it yields nothing more.
///
/// Memory follows the bytes that actually arrive, never what the sender claims: the record
/// count is not used to reserve anything (and is not offered as a size hint, which `collect`
/// would reserve), and a header or payload buffer grows as its bytes are read. Each read is
/// small, so an unbuffered source (a `File`) belongs in a `BufReader`.
///
/// ```
/// use countersign_ledger::bundle::{self, BundleError, ReadError};
///
/// let records: Vec<_> = bundle::Reader::new(&b"CSBUNDL1\0\0\0\x05"[..]).collect();
/// assert!(matches!(
///     records.as_slice(),
///     [Err(ReadError::Bundle(BundleError::Truncated { record: 0 }))]
/// ));
/// ```
#[derive(Debug)]
pub struct Reader<R> {
    framer: Framer<Stream<R>>,
}

impl<R: std::io::Read> Reader<R> {
    pub fn new(source: R) -> Self {
        Reader {
            framer: Framer::new(Stream(source)),
        }
    }

    /// The data keys the bundle carries (read with its preamble, before any record): taken
    /// out, so a second call returns none. An error here is the error the first record would
    /// have been, and the reader then yields nothing.
    pub fn keys(&mut self) -> Result<BundleKeys, ReadError> {
        if self.framer.count.is_none() && !self.framer.done {
            match self.framer.preamble() {
                Ok(count) => self.framer.count = Some(count),
                Err(e) => {
                    self.framer.done = true;
                    return Err(match e {
                        Failed::Bundle(e) => ReadError::Bundle(e),
                        Failed::Source(record, source) => ReadError::Io { record, source },
                    });
                }
            }
        }
        Ok(std::mem::take(&mut self.framer.keys))
    }
}

impl<R: std::io::Read> Iterator for Reader<R> {
    type Item = Result<BundleRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        let record = self.framer.next_record()?;
        Some(match record {
            Ok((header, signature, payload)) => Ok(BundleRecord {
                header,
                signature,
                payload,
            }),
            Err(Failed::Bundle(e)) => Err(ReadError::Bundle(e)),
            Err(Failed::Source(record, source)) => Err(ReadError::Io { record, source }),
        })
    }
}

impl<R: std::io::Read> std::iter::FusedIterator for Reader<R> {}

/// Where the framer takes its bytes from: a slice, whose records borrow from it, or a stream,
/// whose records own their bytes. One framer reads both, so [`frame`], [`decode`] and
/// [`Reader`] cannot disagree on what a bundle is.
trait Source {
    /// A header or a payload, as this source hands it out.
    type Bytes;
    type Signature;
    /// Why reading failed: never, for a slice.
    type Error;
    /// The next `N` bytes, or `None` when the input ends first.
    fn array<const N: usize>(&mut self) -> Result<Option<[u8; N]>, Self::Error>;
    fn signature(&mut self) -> Result<Option<Self::Signature>, Self::Error>;
    /// The next `len` bytes, or `None` when the input ends first. `len` was checked against its
    /// limit, but not against what the input holds.
    fn bytes(&mut self, len: usize) -> Result<Option<Self::Bytes>, Self::Error>;
    /// How many bytes are left, read and counted without keeping them.
    fn rest(&mut self) -> Result<usize, Self::Error>;
}

/// Bundle bytes already in memory.
#[derive(Debug)]
struct Slice<'a>(&'a [u8]);

impl<'a> Source for Slice<'a> {
    type Bytes = &'a [u8];
    type Signature = &'a [u8; 64];
    type Error = std::convert::Infallible;

    fn array<const N: usize>(&mut self) -> Result<Option<[u8; N]>, Self::Error> {
        Ok(self.chunk::<N>().copied())
    }

    fn signature(&mut self) -> Result<Option<&'a [u8; 64]>, Self::Error> {
        Ok(self.chunk::<64>())
    }

    fn bytes(&mut self, len: usize) -> Result<Option<&'a [u8]>, Self::Error> {
        Ok(self.0.split_at_checked(len).map(|(taken, rest)| {
            self.0 = rest;
            taken
        }))
    }

    fn rest(&mut self) -> Result<usize, Self::Error> {
        Ok(self.0.len())
    }
}

impl<'a> Slice<'a> {
    fn chunk<const N: usize>(&mut self) -> Option<&'a [u8; N]> {
        let (taken, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(taken)
    }
}

/// Bundle bytes arriving from a reader.
#[derive(Debug)]
struct Stream<R>(R);

/// A header or payload buffer first reserves at most this much; a longer one grows as its bytes
/// arrive, so a short input claiming a 16 MiB payload costs what it holds, not 16 MiB.
const FIRST_RESERVE: usize = 64 << 10;

impl<R: std::io::Read> Source for Stream<R> {
    type Bytes = Vec<u8>;
    type Signature = [u8; 64];
    type Error = std::io::Error;

    fn array<const N: usize>(&mut self) -> std::io::Result<Option<[u8; N]>> {
        let mut out = [0; N];
        match self.0.read_exact(&mut out) {
            Ok(()) => Ok(Some(out)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn signature(&mut self) -> std::io::Result<Option<[u8; 64]>> {
        self.array()
    }

    fn bytes(&mut self, len: usize) -> std::io::Result<Option<Vec<u8>>> {
        use std::io::Read;
        let mut out = Vec::with_capacity(len.min(FIRST_RESERVE));
        (&mut self.0).take(len as u64).read_to_end(&mut out)?;
        if out.len() < len {
            return Ok(None);
        }
        // `read_to_end` doubles a buffer it grows: a payload longer than the first reservation
        // would keep up to twice its length for as long as its entry lives.
        out.shrink_to_fit();
        Ok(Some(out))
    }

    fn rest(&mut self) -> std::io::Result<usize> {
        let count = std::io::copy(&mut self.0, &mut std::io::sink())?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }
}

/// Why the framer stopped: the bytes are not a bundle, or the source failed at a record.
enum Failed<E> {
    Bundle(BundleError),
    Source(u32, E),
}

/// A framed record's parts, as the source hands them out.
type Parts<S> = (
    <S as Source>::Bytes,
    <S as Source>::Signature,
    Option<<S as Source>::Bytes>,
);

/// The one bundle framer (see the module docs for the format), a record at a time.
#[derive(Debug)]
struct Framer<S> {
    source: S,
    /// Records the bundle claims, once its preamble is read.
    count: Option<u32>,
    /// The next record's index.
    next: u32,
    /// The last record, the trailing-bytes check, or an error was handed out.
    done: bool,
    /// The data keys read with the preamble.
    keys: BundleKeys,
}

impl<S: Source> Framer<S> {
    fn new(source: S) -> Self {
        Framer {
            source,
            count: None,
            next: 0,
            done: false,
            keys: Vec::new(),
        }
    }

    fn next_record(&mut self) -> Option<Result<Parts<S>, Failed<S::Error>>> {
        if self.done {
            return None;
        }
        let step = self.step();
        // After the last record, or the first error, there is nothing more to read.
        self.done = !matches!(step, Ok(Some(_)));
        step.transpose()
    }

    /// The next record, or `None` after the last one when nothing trails it.
    fn step(&mut self) -> Result<Option<Parts<S>>, Failed<S::Error>> {
        let count = match self.count {
            Some(count) => count,
            None => {
                let count = self.preamble()?;
                self.count = Some(count);
                count
            }
        };
        if self.next == count {
            let trailing = self.source.rest().map_err(|e| Failed::Source(count, e))?;
            if trailing > 0 {
                return Err(Failed::Bundle(BundleError::TrailingBytes {
                    count: trailing,
                }));
            }
            return Ok(None);
        }
        let record = self.record()?;
        self.next += 1;
        Ok(Some(record))
    }

    fn preamble(&mut self) -> Result<u32, Failed<S::Error>> {
        let magic = self.source.array::<8>().map_err(|e| Failed::Source(0, e))?;
        match magic.as_ref() {
            Some(m) if m == BUNDLE_MAGIC => {}
            Some(m) if m == BUNDLE_MAGIC_KEYED => self.read_keys()?,
            _ => return Err(Failed::Bundle(BundleError::BadMagic)),
        }
        let count = self.u32_or_truncated()?;
        if count > MAX_BUNDLE_ENTRIES {
            return Err(Failed::Bundle(BundleError::TooManyRecords { count }));
        }
        Ok(count)
    }

    /// The data keys: each read as it arrives (never reserved from the count claimed).
    fn read_keys(&mut self) -> Result<(), Failed<S::Error>> {
        let keys = |r: Result<Option<[u8; 4]>, S::Error>| match r {
            Ok(Some(b)) => Ok(u32::from_be_bytes(b)),
            Ok(None) => Err(Failed::Bundle(BundleError::KeysTruncated)),
            Err(e) => Err(Failed::Source(0, e)),
        };
        let count = keys(self.source.array::<4>())?;
        if count > MAX_BUNDLE_KEYS {
            return Err(Failed::Bundle(BundleError::TooManyKeys { count }));
        }
        if count == 0 {
            return Err(Failed::Bundle(BundleError::NoKeys));
        }
        for _ in 0..count {
            let pair = match self.source.array::<KEY_RECORD_LEN>() {
                Ok(Some(pair)) => pair,
                Ok(None) => return Err(Failed::Bundle(BundleError::KeysTruncated)),
                Err(e) => return Err(Failed::Source(0, e)),
            };
            let (log, key) = pair.split_at(32);
            let mut log_bytes = [0u8; 32];
            log_bytes.copy_from_slice(log);
            if let Some(key) = DataKey::from_slice(key) {
                self.keys.push((Hash(log_bytes), key));
            }
            // The copy on the stack holds the key too.
            let mut pair = pair;
            zeroize::Zeroize::zeroize(&mut pair);
        }
        Ok(())
    }

    fn record(&mut self) -> Result<Parts<S>, Failed<S::Error>> {
        let record = self.next;
        let header_len = u16::from_be_bytes(self.present(|s| s.array())?) as usize;
        if header_len > MAX_HEADER_LEN {
            return Err(Failed::Bundle(BundleError::HeaderTooLong {
                record,
                len: header_len,
            }));
        }
        let header = self.present(|s| s.bytes(header_len))?;
        let signature = self.present(|s| s.signature())?;
        let payload = match self.present(|s| s.array::<1>())? {
            [0] => None,
            [1] => {
                let len = self.u32_or_truncated()?;
                if u64::from(len) > MAX_PAYLOAD_LEN {
                    return Err(Failed::Bundle(BundleError::PayloadTooLong {
                        record,
                        len: len.into(),
                    }));
                }
                Some(self.present(|s| s.bytes(len as usize))?)
            }
            [flag] => return Err(Failed::Bundle(BundleError::BadPayloadFlag { record, flag })),
        };
        Ok((header, signature, payload))
    }

    fn u32_or_truncated(&mut self) -> Result<u32, Failed<S::Error>> {
        self.present(|s| s.array()).map(u32::from_be_bytes)
    }

    /// What `read` took from the source; the input ending first is the bundle truncated in the
    /// current record.
    fn present<T>(
        &mut self,
        read: impl FnOnce(&mut S) -> Result<Option<T>, S::Error>,
    ) -> Result<T, Failed<S::Error>> {
        let record = self.next;
        read(&mut self.source)
            .map_err(|e| Failed::Source(record, e))?
            .ok_or(Failed::Bundle(BundleError::Truncated { record }))
    }
}

#[cfg(test)]
mod tests;
