//! Working from a picture archive (PACS): the archives a home knows, the reading worklist with
//! this department's report state per study, and retrieval into the image store.
//!
//! The protocols are in `countersign-pacs`; this module adapts them to the home. A retrieval
//! reads the archive on a thread of its own, writing each instance to a private staging folder
//! inside the home (hashed as it is written); each file, as soon as it is whole, goes through
//! a bounded queue to this thread and through the very path `import` takes (parse, the
//! sandboxed decode, the content-addressed store — by a rename of the staged file —, the
//! index), with one more check: every instance must be of the study asked for and of that
//! study's patient. The first instance stored is committed at once (the desktop opens the
//! study on it), the rest a batch at a time, so the study is read while it streams. An archive
//! that fails midway leaves what was stored whole and indexed, never a part of an instance,
//! and the error says how many were.

use std::path::{Path, PathBuf};

use countersign_pacs::{Archive, Dimse, Limits, PacsError, StudyMatch, StudyQuery};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::home::Home;
use crate::import::{Expected, ImportFailure, ImportProgress, Incoming, Next};

mod delivery;
pub mod demo;
mod priors;
mod rejection;
mod retry;
mod worklist;

pub use delivery::{
    Delivery, DeliveryRecord, SentInstance, DELIVERY, MAX_DELIVERIES, MAX_SENT, QUEUED, REJECTION,
};
pub use demo::{demo_archive_available, DemoArchive, DemoArchiveSummary, DEMO_ARCHIVE};
pub use priors::PriorStudy;
pub use retry::{
    backoff, deliver_until_stopped, retry_deliveries_forever, DeliveryWake, FIRST_BACKOFF,
    MAX_BACKOFF,
};
pub use worklist::{WorklistQuery, WorklistRow};

/// Where a home keeps its archives (the store's meta table, as a JSON array).
const ARCHIVES_META: &str = "pacs.archives";
/// The most archives a home keeps.
pub const MAX_ARCHIVES: usize = 64;
/// The staging folder of retrievals, inside the home.
const INCOMING: &str = "incoming";
/// The AE title a home calls itself on a DIMSE association when none is configured.
pub const DEFAULT_CALLING_AET: &str = countersign_pacs::dimse::DEFAULT_CALLING_AET;

/// How an archive is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "lowercase")]
pub enum ArchiveEndpoint {
    /// DICOMweb: the base URL under which `/studies` is.
    Dicomweb { url: String },
    /// DIMSE: `AET@HOST:PORT`, and the AE title this home calls itself; with `move_port`,
    /// retrieved by C-MOVE to that title, received on that port of this machine, rather
    /// than by C-GET.
    Dimse {
        address: String,
        calling_aet: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        move_port: Option<u16>,
    },
}

/// An archive as configured in the home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveConfig {
    pub name: String,
    #[serde(flatten)]
    pub endpoint: ArchiveEndpoint,
    /// How long to wait for the archive to say anything (connect, each answer, each read).
    #[serde(default = "default_timeout")]
    pub timeout_s: u64,
    /// Whether a report's SR is sent here when it is signed off (and on each addendum).
    #[serde(default)]
    pub store_back: bool,
}

/// How an archive is used, beside where it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// Seconds to wait for each answer (default [`DEFAULT_TIMEOUT_S`]).
    pub timeout_s: Option<u64>,
    /// Send signed-off reports here ([`Home::store_back`]).
    pub store_back: bool,
}

/// The wait for an archive when none is configured.
pub const DEFAULT_TIMEOUT_S: u64 = 30;
/// The longest wait that may be configured.
pub const MAX_TIMEOUT_S: u64 = 600;

fn default_timeout() -> u64 {
    DEFAULT_TIMEOUT_S
}

impl ArchiveConfig {
    fn limits(&self) -> Limits {
        Limits {
            timeout: std::time::Duration::from_secs(self.timeout_s.clamp(1, MAX_TIMEOUT_S)),
            ..Limits::default()
        }
    }

    fn client(&self) -> Result<Archive> {
        let limits = self.limits();
        let archive = match &self.endpoint {
            ArchiveEndpoint::Dicomweb { url } => {
                countersign_pacs::DicomWeb::new(url, limits).map(Archive::DicomWeb)
            }
            ArchiveEndpoint::Dimse {
                address,
                calling_aet,
                move_port,
            } => Dimse::parse(address, Some(calling_aet)).map(|mut d| {
                d.timeout = limits.timeout;
                d.move_port = *move_port;
                Archive::Dimse(d)
            }),
        };
        archive.map_err(|e| self.error(e))
    }

    fn error(&self, source: PacsError) -> AppError {
        AppError::Pacs {
            archive: self.name.clone(),
            source,
        }
    }
}

/// What `pacs test` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveTest {
    pub archive: String,
    pub protocol: &'static str,
    /// The round trip of a C-ECHO (DIMSE) or of a one-study QIDO-RS search (DICOMweb).
    pub rtt_ms: f64,
}

/// What `retrieve` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retrieval {
    pub archive: String,
    pub study: String,
    /// Instances now in the store from this retrieval (new and already held).
    pub instances: u64,
    /// Bytes the archive sent.
    pub bytes: u64,
    /// Instances already in the store before.
    pub duplicates: u64,
    /// Instances refused, each with its reason (not DICOM, failing the imaging checks,
    /// another patient or study); the rest of the study is stored.
    pub refused: Vec<ImportFailure>,
    /// Stored, but with pixels the decoder refused (the viewer says why).
    pub undecodable: Vec<ImportFailure>,
    /// Milliseconds from asking the archive to the first instance stored and visible: when the
    /// desktop opens the study. `None` when nothing new was stored (the study was here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_stored_ms: Option<u64>,
}

/// Progress of a retrieval, for a progress bar (the desktop's `retrieve-progress`). Instances
/// are stored as they arrive: `first-image` is told once, as soon as the first is stored and
/// visible to the home's other handles (the desktop opens the study then), `retrieving` the
/// rest of the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetrieveProgress {
    pub phase: &'static str,
    /// Instances received so far.
    pub instances: u64,
    /// Bytes received so far.
    pub bytes: u64,
    /// Instances the archive says the study has, when it says.
    pub total: Option<u64>,
    /// Instances of the study stored so far (new, or already held), visible to every handle.
    pub stored: u64,
}

/// Reads a date as `YYYYMMDD` from `YYYY-MM-DD` or `YYYYMMDD`.
fn dicom_date(date: &str) -> Result<String> {
    let digits: String = date.trim().chars().filter(|c| *c != '-').collect();
    let ok = digits.len() == 8
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (date.trim().len() == 8 || date.trim().len() == 10);
    if !ok {
        return Err(AppError::InvalidInput(format!(
            "{date:?} is not a date (YYYY-MM-DD)"
        )));
    }
    Ok(digits)
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(AppError::InvalidInput(format!(
            "{:?} is not an archive name (1 to 64 letters, digits, '-', '_' or '.')",
            name.chars().take(80).collect::<String>()
        )));
    }
    Ok(())
}

/// The rank of a report state for the worklist: the higher, the further the study is read.
fn rank(state: &str) -> u8 {
    match state {
        "conflict" => 6,
        "amended" => 5,
        "final" => 4,
        "preliminary" => 3,
        "withdrawn" => 2,
        "draft" => 1,
        _ => 0,
    }
}

/// A staging folder for one retrieval, removed with whatever it holds when dropped.
pub(crate) struct Staging(PathBuf);

impl Staging {
    fn new(home: &Path) -> Result<Staging> {
        let parent = home.join(INCOMING);
        std::fs::create_dir_all(&parent)
            .map_err(AppError::io(format!("creating {}", parent.display())))?;
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let dir = parent.join(format!("retrieve-{}", hex::encode(nonce)));
        std::fs::create_dir(&dir).map_err(AppError::io(format!("creating {}", dir.display())))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Home {
    /// The archives this home knows, in the order they were added.
    pub fn pacs_list(&self) -> Result<Vec<ArchiveConfig>> {
        match self.store().db().meta(ARCHIVES_META)? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                AppError::InvalidInput(format!("the home's archive list is damaged: {e}"))
            }),
        }
    }

    /// Adds an archive (checked, not contacted: `pacs test` does that), waiting `timeout_s`
    /// seconds at most for each of its answers (default [`DEFAULT_TIMEOUT_S`]).
    pub fn pacs_add(
        &mut self,
        name: &str,
        endpoint: ArchiveEndpoint,
        options: ArchiveOptions,
    ) -> Result<ArchiveConfig> {
        check_name(name)?;
        if let ArchiveEndpoint::Dimse {
            move_port: Some(0), ..
        } = endpoint
        {
            return Err(AppError::InvalidInput("a C-MOVE port is 1 to 65535".into()));
        }
        let timeout_s = options.timeout_s.unwrap_or(DEFAULT_TIMEOUT_S);
        if !(1..=MAX_TIMEOUT_S).contains(&timeout_s) {
            return Err(AppError::InvalidInput(format!(
                "a timeout is 1 to {MAX_TIMEOUT_S} seconds"
            )));
        }
        let config = ArchiveConfig {
            name: name.to_string(),
            endpoint,
            timeout_s,
            store_back: options.store_back,
        };
        // Normalised as the client reads it, so the list shows what will be dialled.
        let config = match config.client()? {
            Archive::DicomWeb(web) => ArchiveConfig {
                endpoint: ArchiveEndpoint::Dicomweb {
                    url: web.base().to_string(),
                },
                ..config
            },
            Archive::Dimse(dimse) => ArchiveConfig {
                endpoint: ArchiveEndpoint::Dimse {
                    address: dimse.address(),
                    calling_aet: dimse.calling_aet.clone(),
                    move_port: dimse.move_port,
                },
                ..config
            },
        };
        let mut archives = self.pacs_list()?;
        if archives.iter().any(|a| a.name == name) {
            return Err(AppError::InvalidInput(format!(
                "an archive named {name} is already configured (pacs remove {name} first)"
            )));
        }
        if archives.len() >= MAX_ARCHIVES {
            return Err(AppError::InvalidInput(format!(
                "this home already has {MAX_ARCHIVES} archives"
            )));
        }
        archives.push(config.clone());
        self.save_archives(&archives)?;
        tracing::info!(archive = name, "archive added");
        Ok(config)
    }

    /// Forgets an archive.
    pub fn pacs_remove(&mut self, name: &str) -> Result<()> {
        let mut archives = self.pacs_list()?;
        let before = archives.len();
        archives.retain(|a| a.name != name);
        if archives.len() == before {
            return Err(not_configured(name));
        }
        self.save_archives(&archives)
    }

    fn save_archives(&mut self, archives: &[ArchiveConfig]) -> Result<()> {
        let json = serde_json::to_string(archives)
            .map_err(|e| AppError::InvalidInput(format!("encoding the archive list: {e}")))?;
        self.store_mut()
            .write(|db| db.set_meta(ARCHIVES_META, &json))?;
        Ok(())
    }

    fn archive(&self, name: &str) -> Result<ArchiveConfig> {
        self.pacs_list()?
            .into_iter()
            .find(|a| a.name == name)
            .ok_or_else(|| not_configured(name))
    }

    /// Checks that an archive answers, with the round trip.
    pub fn pacs_test(&self, name: &str) -> Result<ArchiveTest> {
        let config = self.archive(name)?;
        let rtt = config.client()?.echo().map_err(|e| config.error(e))?;
        Ok(ArchiveTest {
            archive: config.name.clone(),
            protocol: match config.endpoint {
                ArchiveEndpoint::Dicomweb { .. } => "dicomweb",
                ArchiveEndpoint::Dimse { .. } => "dimse",
            },
            rtt_ms: rtt.as_secs_f64() * 1000.0,
        })
    }

    /// Retrieves every instance of `study` from `archive` into a staging folder under the home
    /// (removed when the returned [`Staging`] drops), for a caller that reads the files itself
    /// rather than storing them as images (AI results delivered as SR).
    pub(crate) fn retrieve_staged(
        &self,
        archive: &str,
        study: &str,
    ) -> Result<(Staging, Vec<PathBuf>)> {
        let config = self.archive(archive)?;
        let client = config.client()?;
        countersign_pacs::check_uid(study).map_err(|e| config.error(e))?;
        let staging = Staging::new(self.dir())?;
        let fetched = client
            .retrieve(study, &staging.0, &config.limits(), &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .map_err(|e| config.error(e))?;
        Ok((staging, fetched.files))
    }

    /// Retrieves a study from an archive into the image store (see the module's doc); with
    /// `patient_id`, the study of that patient (see below), refusing any other's instance.
    pub fn retrieve(
        &mut self,
        archive: &str,
        study: &str,
        patient_id: Option<&str>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<Retrieval> {
        self.retrieve_with_progress(archive, study, patient_id, &mut |p| {
            if p.phase != "done" {
                progress(ImportProgress {
                    done: p.instances as usize,
                    total: p.total.unwrap_or(0) as usize,
                })
            }
        })
    }

    /// [`Home::retrieve`], its progress in instances and bytes, retrieving then storing.
    pub fn retrieve_with_progress(
        &mut self,
        archive: &str,
        study: &str,
        patient_id: Option<&str>,
        progress: &mut dyn FnMut(RetrieveProgress),
    ) -> Result<Retrieval> {
        let config = self.archive(archive)?;
        let client = config.client()?;
        countersign_pacs::check_uid(study).map_err(|e| config.error(e))?;
        // What the archive says of the study: that it holds it, and whose it is.
        let matches: Vec<StudyMatch> = client
            .search(&StudyQuery {
                study: Some(study.to_string()),
                limit: 16,
                ..Default::default()
            })
            .map_err(|e| config.error(e))?
            .into_iter()
            .filter(|m| m.study == study)
            .collect();
        // The patient the study is asked for: the one given (the worklist row chosen), else
        // the archive's only one. An archive can file one Study Instance UID under two
        // patients (Orthanc and dcmqrscp list such a study once per Patient ID): then whose
        // it is must be said, and only that patient's instances are taken.
        let patients: std::collections::BTreeSet<Option<&str>> =
            matches.iter().map(|m| m.patient_id.as_deref()).collect();
        let found = match patient_id {
            Some(id) => matches
                .iter()
                .find(|m| m.patient_id.as_deref() == Some(id))
                .ok_or_else(|| AppError::NotFound {
                    what: format!("study {study} of that Patient ID on archive {archive}"),
                })?,
            None if patients.len() > 1 => {
                tracing::warn!(archive = %config.name, patients = patients.len(), "study under several patients");
                return Err(AppError::WrongPatient(format!(
                    "archive {archive} holds study {study} under {} different Patient IDs; \
                     nothing was retrieved: say whose study to take (--patient-id, as the \
                     worklist shows it) and have the archive's administrator correct it",
                    patients.len()
                )));
            }
            None => matches.first().ok_or_else(|| AppError::NotFound {
                what: format!("study {study} on archive {archive}"),
            })?,
        }
        .clone();
        let staging = Staging::new(self.dir())?;
        let started = std::time::Instant::now();
        let total = found.instances;
        let expect = Expected {
            study: study.to_string(),
            patient_id: found.patient_id.clone(),
        };
        let limits = config.limits();
        let queue = Queue::default();
        let progress = std::cell::RefCell::new(progress);
        let told_first = std::cell::Cell::new(false);
        let first_stored = std::cell::Cell::new(None);
        // Progress as instances arrive and are stored; `first-image` once, when the first is
        // visible to the home's other handles (the viewer may open the study).
        let tell = |stored: u64| {
            let (instances, bytes) = queue.received();
            let phase = if stored > 0 && !told_first.replace(true) {
                first_stored.set(Some(started.elapsed().as_millis() as u64));
                "first-image"
            } else {
                "retrieving"
            };
            (progress.borrow_mut())(RetrieveProgress {
                phase,
                instances,
                bytes,
                total,
                stored,
            })
        };
        let stored_now = std::cell::Cell::new(0u64);
        // The archive is read on a thread of its own, each instance handed over whole as it
        // arrives; this thread checks and stores them meanwhile (see the module's doc).
        let (fetched, summary) = std::thread::scope(|scope| {
            let reading = std::thread::Builder::new()
                .name("retrieve".into())
                .spawn_scoped(scope, || {
                    let _end = EndOnDrop(&queue);
                    client.retrieve(study, &staging.0, &limits, &mut |a| queue.push(a))
                });
            let reading = reading.map_err(AppError::io("starting the retrieval"))?;
            let summary = self.import_from(
                &mut |wait| queue.pop(wait),
                total.unwrap_or(0) as usize,
                Some(&expect),
                &mut |_| tell(stored_now.get()),
                &mut |s| {
                    stored_now.set(s.imported + s.duplicates);
                    tell(stored_now.get())
                },
            );
            if summary.is_err() {
                // Stored nothing more: the reading thread stops at its next instance.
                queue.stop();
            }
            let fetched = reading
                .join()
                .unwrap_or_else(|_| {
                    Err(PacsError::Io {
                        context: "retrieving".into(),
                        source: std::io::Error::other("the retrieving thread failed"),
                    })
                })
                .map_err(|e| config.error(after_storing(e, stored_now.get())));
            Ok::<_, AppError>((fetched, summary))
        })?;
        // The home's own failure first (it stopped the retrieval); then the archive's.
        let mut summary = summary?;
        let fetched = fetched?;
        tracing::info!(
            archive = %config.name,
            instances = fetched.files.len(),
            bytes = fetched.bytes,
            stored = summary.imported,
            seconds = started.elapsed().as_secs_f64(),
            "study retrieved and stored"
        );
        // Failures name the instance's place in the retrieval, not the staging path.
        let short = |f: &mut ImportFailure| {
            if let Some(name) = Path::new(&f.path).file_name() {
                f.path = name.to_string_lossy().into_owned();
            }
        };
        summary.failed.iter_mut().for_each(short);
        summary.undecodable.iter_mut().for_each(short);
        Ok(Retrieval {
            archive: config.name,
            study: study.to_string(),
            instances: summary.imported + summary.duplicates,
            bytes: fetched.bytes,
            duplicates: summary.duplicates,
            refused: summary.failed,
            undecodable: summary.undecodable,
            first_stored_ms: first_stored.get(),
        })
    }
}

/// The most instances received and not yet taken by the store, and their bytes (on disk, in
/// the staging folder): an archive faster than the store waits rather than filling the disk.
const QUEUE_FILES: usize = 256;
const QUEUE_BYTES: u64 = 256 << 20;

/// Instances handed over by the retrieving thread, waiting for the storing one.
#[derive(Default)]
struct Queue {
    state: std::sync::Mutex<QueueState>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct QueueState {
    files: std::collections::VecDeque<countersign_pacs::Arrived>,
    /// Bytes of `files`.
    bytes: u64,
    /// Every instance received so far, and their bytes.
    received: u64,
    received_bytes: u64,
    /// The retrieval is over (whole or failed): nothing more will come.
    ended: bool,
    /// The store failed: the retrieval is to stop.
    stopped: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// From the retrieving thread: waits for room (always for one file), then hands it over;
    /// `Break` once the storing side has stopped.
    fn push(&self, file: countersign_pacs::Arrived) -> std::ops::ControlFlow<()> {
        let mut s = self.lock();
        while !s.stopped
            && !s.files.is_empty()
            && (s.files.len() >= QUEUE_FILES || s.bytes + file.bytes > QUEUE_BYTES)
        {
            s = self.changed.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        if s.stopped {
            return std::ops::ControlFlow::Break(());
        }
        s.bytes += file.bytes;
        s.received += 1;
        s.received_bytes += file.bytes;
        s.files.push_back(file);
        self.changed.notify_all();
        std::ops::ControlFlow::Continue(())
    }

    /// From the storing thread: the next file, waiting at most `wait` (`None`: until there is
    /// one or the retrieval is over).
    fn pop(&self, wait: Option<std::time::Duration>) -> Next {
        let deadline = wait.map(|w| std::time::Instant::now() + w);
        let mut s = self.lock();
        loop {
            if let Some(file) = s.files.pop_front() {
                s.bytes -= file.bytes;
                self.changed.notify_all();
                return Next::File(Incoming {
                    path: file.path,
                    sha256: Some(file.sha256),
                    movable: true,
                });
            }
            if s.ended {
                return Next::End;
            }
            s = match deadline {
                None => self.changed.wait(s).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = std::time::Instant::now();
                    if now >= deadline {
                        return Next::Idle;
                    }
                    self.changed
                        .wait_timeout(s, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    fn received(&self) -> (u64, u64) {
        let s = self.lock();
        (s.received, s.received_bytes)
    }

    fn end(&self) {
        self.lock().ended = true;
        self.changed.notify_all();
    }

    fn stop(&self) {
        self.lock().stopped = true;
        self.changed.notify_all();
    }
}

/// Ends the queue when the retrieving thread ends, however it ends (a panic included): the
/// storing side never waits for a file that cannot come.
struct EndOnDrop<'a>(&'a Queue);

impl Drop for EndOnDrop<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// An archive's failure after some instances were stored: they stay (each whole, indexed),
/// and the error says so.
fn after_storing(e: PacsError, stored: u64) -> PacsError {
    if stored == 0 {
        return e;
    }
    let note = format!(
        "{stored} instance(s) of the study were stored before that, each whole; retrieving \
         again takes the rest"
    );
    match e {
        PacsError::Unreachable(m) => PacsError::Unreachable(format!("{m}; {note}")),
        PacsError::Timeout(m) => PacsError::Timeout(format!("{m}; {note}")),
        PacsError::Refused(m) => PacsError::Refused(format!("{m}; {note}")),
        PacsError::Malformed(m) => PacsError::Malformed(format!("{m}; {note}")),
        PacsError::InvalidInput(m) => PacsError::InvalidInput(format!("{m}; {note}")),
        PacsError::TooLarge { what, limit } => PacsError::TooLarge {
            what: format!("{what} ({note})"),
            limit,
        },
        PacsError::Io { context, source } => PacsError::Io {
            context: format!("{context} ({note})"),
            source,
        },
        PacsError::Stopped => PacsError::Stopped,
    }
}

fn state_name(state: &countersign_report::ReportState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "draft".into())
}

fn not_configured(name: &str) -> AppError {
    AppError::NotFound {
        what: format!("archive {name} (see `pacs list`)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_names_and_ranks() {
        assert_eq!(dicom_date("2026-01-31").unwrap(), "20260131");
        assert_eq!(dicom_date("20260131").unwrap(), "20260131");
        for bad in ["2026-1-31", "yesterday", "2026013", "2026--01-31"] {
            assert!(dicom_date(bad).is_err(), "{bad}");
        }
        assert!(check_name("orthanc-1").is_ok());
        assert!(check_name("a b").is_err() && check_name("").is_err());
        assert!(rank("conflict") > rank("final") && rank("final") > rank("preliminary"));
        assert!(rank("preliminary") > rank("draft") && rank("draft") > rank("none"));
    }
}
