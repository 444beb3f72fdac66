//! Countersign's talk with picture archives (PACS): find studies and bring their instances home,
//! over DICOMweb (QIDO-RS, WADO-RS: [`DicomWeb`]) or classic DIMSE (C-ECHO, C-FIND, C-GET:
//! [`Dimse`]); find a study's reports (its SR and Encapsulated PDF instances) and bring one
//! of them alone ([`documents`]).
//!
//! This crate does the I/O and nothing else: it does not decide what a file is worth. A retrieval
//! writes each instance the archive sends to its own file in a folder the caller gives, streamed
//! (never the whole study in memory), hashing it as it goes, and hands each file to the caller
//! the moment it is whole ([`Arrived`]), so the caller can check it (is it DICOM, is it the
//! patient and study it asked for) and store it while the rest still streams. Every message is
//! bounded: a QIDO-RS answer, and a DIMSE search's C-FIND answers together, by
//! [`qido::MAX_JSON_BYTES`], a part of a WADO-RS body by
//! [`Limits::max_instance_bytes`], a PDU by the maximum length this side negotiates, a DIMSE
//! command by [`dimse::MAX_COMMAND_BYTES`], the instances of a study by
//! [`Limits::max_instances`].
//!
//! ```no_run
//! use countersign_pacs::{Archive, Limits, StudyQuery};
//!
//! let archive = Archive::parse_dicomweb("http://127.0.0.1:8042/dicom-web").unwrap();
//! let rtt = archive.echo().unwrap();
//! println!("answered in {rtt:?}");
//! let studies = archive
//!     .search(&StudyQuery { modality: Some("CT".into()), ..Default::default() })
//!     .unwrap();
//! let dir = tempfile::tempdir().unwrap();
//! let got = archive
//!     .retrieve(&studies[0].study, dir.path(), &Limits::default(), &mut |_| {
//!         std::ops::ControlFlow::Continue(())
//!     })
//!     .unwrap();
//! println!("{} instances, {} bytes", got.files.len(), got.bytes);
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

mod dicomweb;
pub mod dimse;
pub mod documents;
pub mod multipart;
pub mod qido;

pub use dicomweb::auth::{self, Credentials};
pub use dicomweb::DicomWeb;
pub use dimse::Dimse;
pub use documents::{newest_first_order, DocumentKind, DocumentMatch, MAX_DOCUMENT_BYTES};

/// Why talking to an archive failed. The caller names the archive; these say what went wrong.
#[derive(Debug, thiserror::Error)]
pub enum PacsError {
    /// Nothing answers at the address (refused, unreachable, unknown host).
    #[error("cannot reach it: {0}")]
    Unreachable(String),
    /// It stopped answering: no reply within the time allowed.
    #[error("it did not answer in time: {0}")]
    Timeout(String),
    /// It answered and said no: an HTTP error status, an association rejected or aborted, a
    /// failure status to a query or retrieval.
    #[error("it refused: {0}")]
    Refused(String),
    /// It refused the credentials this home sent, or their absence (HTTP 401 or 403). Never
    /// says what was sent.
    #[error("it refused the credentials (wrong, missing or not allowed): {0}")]
    Unauthorized(String),
    /// It answered with something that is not what the protocol says it sends.
    #[error("its answer is malformed: {0}")]
    Malformed(String),
    /// An answer larger than this client takes.
    #[error("{what} is larger than the limit of {limit}")]
    TooLarge { what: String, limit: u64 },
    /// What was asked is not a valid query (not a UID, not a date).
    #[error("{0}")]
    InvalidInput(String),
    /// The caller stopped the retrieval (it could not take what came); nothing about the
    /// archive.
    #[error("the retrieval was stopped here")]
    Stopped,
    /// Writing what it sent here failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl PacsError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> PacsError {
        let context = context.into();
        move |source| PacsError::Io { context, source }
    }
}

pub type Result<T, E = PacsError> = std::result::Result<T, E>;

/// What a study search asks. Every field narrows; none set lists what the archive gives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StudyQuery {
    /// One study, by its Study Instance UID.
    pub study: Option<String>,
    pub patient_id: Option<String>,
    /// Studies holding a series of this modality (`ModalitiesInStudy`).
    pub modality: Option<String>,
    /// Studies dated on or after this day (`YYYYMMDD`).
    pub since: Option<String>,
    /// At most this many studies (0: [`qido::MAX_RESULTS`]).
    pub limit: usize,
}

impl StudyQuery {
    /// Checks every value before it reaches a URL or an identifier: UIDs are digits and dots,
    /// dates eight digits, the rest short text without wildcards or control characters.
    pub fn validate(&self) -> Result<()> {
        if let Some(study) = &self.study {
            check_uid(study)?;
        }
        if let Some(since) = &self.since {
            if since.len() != 8 || !since.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PacsError::InvalidInput(format!(
                    "{since:?} is not a date as YYYYMMDD"
                )));
            }
        }
        for (what, value, max) in [
            ("patient ID", &self.patient_id, 64),
            ("modality", &self.modality, 16),
        ] {
            if let Some(v) = value {
                if v.is_empty()
                    || v.len() > max
                    || v.chars()
                        .any(|c| c.is_control() || matches!(c, '*' | '?' | '\\' | '&' | '#'))
                {
                    return Err(PacsError::InvalidInput(format!(
                        "{what} must be 1 to {max} characters without wildcards or control characters"
                    )));
                }
            }
        }
        if self.limit > qido::MAX_RESULTS {
            return Err(PacsError::InvalidInput(format!(
                "a search returns at most {} studies",
                qido::MAX_RESULTS
            )));
        }
        Ok(())
    }

    pub(crate) fn max_results(&self) -> usize {
        if self.limit == 0 {
            qido::MAX_RESULTS
        } else {
            self.limit
        }
    }
}

/// A UID as DICOM allows it (PS3.5 9.1): 1 to 64 characters, digits and dots.
pub fn check_uid(uid: &str) -> Result<()> {
    if uid.is_empty()
        || uid.len() > 64
        || !uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        || uid.starts_with('.')
        || uid.ends_with('.')
        || uid.contains("..")
    {
        return Err(PacsError::InvalidInput(format!(
            "{:?} is not a DICOM UID (digits and dots, at most 64)",
            uid.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

/// One study an archive holds, as a search returns it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StudyMatch {
    pub study: String,
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    /// Issuer of Patient ID (0010,0021), when the archive says: a Patient ID is unique only
    /// per issuer (two hospitals' patients may share one). `None` in a worklist kept before it
    /// was asked for.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Study Date, `YYYYMMDD`.
    pub date: Option<String>,
    pub time: Option<String>,
    /// Modalities In Study.
    pub modalities: Vec<String>,
    pub description: Option<String>,
    pub accession: Option<String>,
    /// Number of Study Related Instances, when the archive says.
    pub instances: Option<u64>,
}

/// Bounds on one retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most instances taken from one study.
    pub max_instances: usize,
    /// The largest instance taken (bytes).
    pub max_instance_bytes: u64,
    /// The most bytes taken from one study, all its instances together: what a retrieval may
    /// put on this disk before it is refused.
    pub max_study_bytes: u64,
    /// How long to wait for the archive to say anything (connect, each answer, each read).
    pub timeout: Duration,
    /// Over DICOMweb, an instance of at most this many bytes is handed over in memory
    /// ([`Arrived::data`]) rather than written to its file; 0: every instance is written.
    pub keep_in_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A large CT or a breast tomosynthesis study holds a few thousand instances.
            max_instances: 100_000,
            // The imaging crate refuses files over 2 GiB: no larger file is worth writing.
            max_instance_bytes: 2 * 1024 * 1024 * 1024,
            // The largest studies read (tomosynthesis, long cine) are a few GiB.
            max_study_bytes: 64 * 1024 * 1024 * 1024,
            keep_in_memory: 0,
            timeout: Duration::from_secs(30),
        }
    }
}

/// What a retrieval wrote: one file per instance, in the order they came.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retrieved {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

/// One instance a retrieval has just received whole — written to its own file (and closed), or
/// kept in memory — handed to the caller before the next is read, so that it can be checked
/// and stored while the rest of the study streams in.
#[derive(Clone, PartialEq, Eq)]
pub struct Arrived {
    /// Its place in the retrieval, from 0 ([`instance_file`] of the folder and this).
    pub index: usize,
    /// Its file; not written when `data` holds it.
    pub path: PathBuf,
    /// Bytes of the instance.
    pub bytes: u64,
    /// SHA-256 of an instance written to its file, computed as it was written (never read
    /// back for it); `None` when `data` holds the instance: the caller hashes the bytes it
    /// holds, on whichever of its threads has the time (hashing is most of the CPU a
    /// retrieval costs, see `Home::retrieve`).
    pub sha256: Option<[u8; 32]>,
    /// The instance itself, when it was at most [`Limits::keep_in_memory`] bytes: the caller
    /// writes it where it belongs (once) rather than reading a staged file back.
    pub data: Option<Vec<u8>>,
}

impl std::fmt::Debug for Arrived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the bytes: they are a patient's.
        f.debug_struct("Arrived")
            .field("index", &self.index)
            .field("path", &self.path)
            .field("bytes", &self.bytes)
            .field("in_memory", &self.data.is_some())
            .finish()
    }
}

/// Buffers for the instances a retrieval keeps in memory ([`Limits::keep_in_memory`]), given
/// back by the caller once it has written them, and taken for the next instances
/// ([`Archive::with_buffers`]). Fresh memory for every instance costs the kernel zeroing new
/// pages (transparent huge pages, 2 MiB at a time): about a tenth of a 500-slice retrieval's
/// CPU when measured. At most `max_bytes` of capacity is kept; a buffer past that is freed.
#[derive(Clone, Default)]
pub struct Buffers(std::sync::Arc<std::sync::Mutex<BufferList>>);

#[derive(Default)]
struct BufferList {
    free: Vec<Vec<u8>>,
    bytes: usize,
    max_bytes: usize,
}

impl Buffers {
    pub fn new(max_bytes: usize) -> Buffers {
        Buffers(std::sync::Arc::new(std::sync::Mutex::new(BufferList {
            max_bytes,
            ..Default::default()
        })))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BufferList> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives a buffer back (emptied here), kept if there is room.
    pub fn give(&self, mut buffer: Vec<u8>) {
        buffer.clear();
        let mut list = self.lock();
        if list.bytes + buffer.capacity() <= list.max_bytes {
            list.bytes += buffer.capacity();
            list.free.push(buffer);
        }
    }

    /// An empty buffer of at least `capacity`: the one given back last (the likeliest still
    /// in the cache), else a new one.
    pub fn take(&self, capacity: usize) -> Vec<u8> {
        let kept = {
            let mut list = self.lock();
            let kept = list.free.pop();
            if let Some(b) = &kept {
                list.bytes -= b.capacity();
            }
            kept
        };
        match kept {
            Some(mut buffer) => {
                buffer.reserve(capacity);
                buffer
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// How many buffers are kept.
    pub fn kept(&self) -> usize {
        self.lock().free.len()
    }
}

impl std::fmt::Debug for Buffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = self.lock();
        f.debug_struct("Buffers")
            .field("kept", &list.free.len())
            .field("bytes", &list.bytes)
            .finish()
    }
}

/// What the caller says to each instance handed over: go on, or stop the retrieval (the caller
/// has failed and will not take more). A stopped retrieval ends with [`PacsError::Stopped`].
pub type OnFile<'a> = dyn FnMut(Arrived) -> std::ops::ControlFlow<()> + Send + 'a;

/// A writer that hashes what goes through it: the SHA-256 of a retrieved file as it is written.
pub(crate) struct Hashing<W> {
    inner: W,
    hasher: sha2::Sha256,
    written: u64,
}

impl<W: std::io::Write> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: sha2::Digest::new(),
            written: 0,
        }
    }

    /// Flushes the writer and gives the digest of everything written, and how many bytes.
    pub(crate) fn finish(self) -> std::io::Result<([u8; 32], u64)> {
        self.into_parts().map(|(sha, n, _)| (sha, n))
    }

    /// As [`Hashing::finish`], and the writer back.
    pub(crate) fn into_parts(mut self) -> std::io::Result<([u8; 32], u64, W)> {
        self.inner.flush()?;
        Ok((
            sha2::Digest::finalize(self.hasher).into(),
            self.written,
            self.inner,
        ))
    }
}

impl<W: std::io::Write> std::io::Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The name of the `n`th file (from 0) a retrieval writes in its folder.
pub fn instance_file(dir: &Path, n: usize) -> PathBuf {
    dir.join(format!("instance-{:06}.dcm", n + 1))
}

/// The largest file this client sends (a report's SR or PDF is far smaller).
pub const MAX_STORE_BYTES: usize = 64 * 1024 * 1024;

/// A Part 10 file to send, read as far as sending it needs: what it is, in which transfer
/// syntax, and where its data set starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part10<'a> {
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
    /// The whole file.
    pub file: &'a [u8],
    /// The data set after the file meta information.
    pub data_set: &'a [u8],
}

impl<'a> Part10<'a> {
    /// Reads a Part 10 file's meta information (preamble, `DICM`, group 2).
    pub fn parse(file: &'a [u8]) -> Result<Part10<'a>> {
        let bad = |why: String| PacsError::InvalidInput(format!("not a DICOM file to send: {why}"));
        if file.len() > MAX_STORE_BYTES {
            return Err(PacsError::TooLarge {
                what: "the file to send".into(),
                limit: MAX_STORE_BYTES as u64,
            });
        }
        if file.len() < 132 + 12 || &file[128..132] != b"DICM" {
            return Err(bad("no preamble and DICM".into()));
        }
        let meta = dicom_object::FileMetaTable::from_reader(&file[128..])
            .map_err(|e| bad(e.to_string()))?;
        // Group length's element (12 bytes) and the group it counts.
        let start = 132usize
            .checked_add(12)
            .and_then(|n| n.checked_add(meta.information_group_length as usize))
            .filter(|n| *n <= file.len())
            .ok_or_else(|| bad("its meta group is longer than the file".into()))?;
        let trim = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
        let part = Part10 {
            sop_class: trim(meta.media_storage_sop_class_uid()),
            sop_instance: trim(meta.media_storage_sop_instance_uid()),
            transfer_syntax: trim(meta.transfer_syntax()),
            file,
            data_set: &file[start..],
        };
        for uid in [&part.sop_class, &part.sop_instance, &part.transfer_syntax] {
            check_uid(uid)?;
        }
        Ok(part)
    }
}

/// An archive, whichever protocol it speaks.
#[derive(Debug, Clone)]
pub enum Archive {
    DicomWeb(DicomWeb),
    Dimse(Dimse),
}

impl Archive {
    /// A DICOMweb archive at `base` (the URL its `/studies` hangs under).
    pub fn parse_dicomweb(base: &str) -> Result<Archive> {
        Ok(Archive::DicomWeb(DicomWeb::new(base, Limits::default())?))
    }

    /// Checks that the archive answers (C-ECHO, or a QIDO-RS search for one study) and
    /// returns how long the round trip took.
    pub fn echo(&self) -> Result<Duration> {
        match self {
            Archive::DicomWeb(a) => a.echo(),
            Archive::Dimse(a) => a.echo(),
        }
    }

    /// The studies matching `query`.
    pub fn search(&self, query: &StudyQuery) -> Result<Vec<StudyMatch>> {
        query.validate()?;
        match self {
            Archive::DicomWeb(a) => a.search(query),
            Archive::Dimse(a) => a.search(query),
        }
    }

    /// Sends one instance of `study` to the archive (STOW-RS or C-STORE). Sending the same
    /// SOP Instance UID again stores nothing new on an archive that keeps the first.
    pub fn store(&self, study: &str, file: &Part10<'_>) -> Result<()> {
        check_uid(study)?;
        match self {
            Archive::DicomWeb(a) => a.store(study, file),
            Archive::Dimse(a) => a.store(file),
        }
    }

    /// The archive, its retrievals taking the buffers of the instances they keep in memory
    /// from `buffers` (see [`Buffers`]); over DIMSE every instance goes to its file, and this
    /// changes nothing.
    pub fn with_buffers(self, buffers: Buffers) -> Archive {
        match self {
            Archive::DicomWeb(mut a) => {
                a.buffers = Some(buffers);
                Archive::DicomWeb(a)
            }
            other => other,
        }
    }

    /// Brings every instance of `study` into `dir` (one file each, [`instance_file`]), handing
    /// each to `on_file` as soon as it is whole (for a C-MOVE, from the thread receiving it).
    pub fn retrieve(
        &self,
        study: &str,
        dir: &Path,
        limits: &Limits,
        on_file: &mut OnFile<'_>,
    ) -> Result<Retrieved> {
        check_uid(study)?;
        match self {
            Archive::DicomWeb(a) => a.retrieve(study, dir, limits, on_file),
            Archive::Dimse(a) => a.retrieve(study, dir, limits, on_file),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_checked_before_they_leave() {
        assert!(check_uid("1.2.840.10008.1.1").is_ok());
        for bad in ["", "1..2", ".1", "1.", "1.2/../x", &"1".repeat(65), "1.2 3"] {
            assert!(check_uid(bad).is_err(), "{bad:?}");
        }
        let q = |f: fn(&mut StudyQuery)| {
            let mut q = StudyQuery::default();
            f(&mut q);
            q.validate()
        };
        assert!(q(|q| q.since = Some("20260101".into())).is_ok());
        assert!(q(|q| q.since = Some("2026-01-01".into())).is_err());
        assert!(q(|q| q.modality = Some("C*".into())).is_err());
        assert!(q(|q| q.patient_id = Some("A&B".into())).is_err());
        assert!(q(|q| q.limit = qido::MAX_RESULTS + 1).is_err());
    }
}
