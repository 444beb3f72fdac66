//! Working from a picture archive (PACS): the archives a home knows, the reading worklist with
//! this department's report state per study, and retrieval into the image store.
//!
//! The protocols are in `countersign-pacs`; this module adapts them to the home. A retrieval
//! lands in a private staging folder inside the home first, whole; only then does each file go
//! through the very path `import` takes (parse, the sandboxed decode, the content-addressed
//! store, the index), with one more check: every instance must be of the study asked for and
//! of that study's patient. An archive that fails midway leaves nothing stored.

use std::path::{Path, PathBuf};

use countersign_pacs::{Archive, Dimse, Limits, PacsError, StudyMatch, StudyQuery};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::home::Home;
use crate::import::{Expected, ImportFailure, ImportProgress};

mod delivery;
mod priors;

pub use delivery::{
    Delivery, DeliveryRecord, SentInstance, DELIVERY, MAX_DELIVERIES, MAX_SENT, REJECTION,
};
pub use priors::PriorStudy;

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
    /// DIMSE: `AET@HOST:PORT`, and the AE title this home calls itself.
    Dimse {
        address: String,
        calling_aet: String,
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
            } => Dimse::parse(address, Some(calling_aet)).map(|mut d| {
                d.timeout = limits.timeout;
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

/// What the worklist is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorklistQuery {
    /// One archive; every configured archive when `None`.
    pub archive: Option<String>,
    pub modality: Option<String>,
    /// `YYYY-MM-DD` or `YYYYMMDD`.
    pub since: Option<String>,
    /// At most this many studies per archive (0: the archive's own limit).
    pub limit: usize,
}

/// One line of the worklist: a study on an archive, and where this department stands on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorklistRow {
    pub archive: String,
    pub study: String,
    pub patient: Option<String>,
    pub patient_id: Option<String>,
    pub date: Option<String>,
    pub modalities: Vec<String>,
    pub description: Option<String>,
    pub accession: Option<String>,
    /// Instances the archive says it holds, when it says.
    pub instances: Option<u64>,
    /// Instances of the study already in this home's image store.
    pub local_instances: u64,
    /// This department's report on it: `none`, or the state of its most advanced report
    /// (`conflict` before `final`/`amended`, before `preliminary`, before `draft`).
    pub report: String,
    /// Set when the archive did not answer (unreachable, or no answer within its timeout):
    /// the row is as the archive last answered this same search, at this time (ms since the
    /// epoch). The report state is this home's now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_answered_ms: Option<u64>,
}

/// The last answer of an archive to a worklist search, kept so that a radiologist still sees
/// the list when the archive is down (see [`Home::worklist`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastWorklist {
    modality: Option<String>,
    since: Option<String>,
    limit: usize,
    answered_ms: u64,
    matches: Vec<StudyMatch>,
}

/// The store's meta key of an archive's last worklist answer.
fn last_worklist_key(archive: &str) -> String {
    format!("pacs.worklist.{archive}")
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

    /// The studies on the archive(s), newest first, each with this department's report state.
    pub fn worklist(&self, query: &WorklistQuery) -> Result<Vec<WorklistRow>> {
        let archives = match &query.archive {
            Some(name) => vec![self.archive(name)?],
            None => {
                let all = self.pacs_list()?;
                if all.is_empty() {
                    return Err(AppError::InvalidInput(
                        "no archive is configured: add one with `pacs add`".into(),
                    ));
                }
                all
            }
        };
        let search = StudyQuery {
            modality: query.modality.clone(),
            since: query.since.as_deref().map(dicom_date).transpose()?,
            limit: query.limit,
            ..Default::default()
        };
        let mut rows = Vec::new();
        for config in &archives {
            let (found, answered_ms) = match config.client()?.search(&search) {
                Ok(found) => {
                    tracing::info!(archive = %config.name, studies = found.len(), "worklist read");
                    self.keep_worklist(&config.name, &search, &found);
                    (found, None)
                }
                // Down or silent: the last answer to the same search, said to be that.
                Err(e @ (PacsError::Unreachable(_) | PacsError::Timeout(_))) => {
                    match self.last_worklist(&config.name, &search) {
                        Some(last) => {
                            tracing::warn!(archive = %config.name, "archive did not answer: its last worklist is shown");
                            (last.matches, Some(last.answered_ms))
                        }
                        None => return Err(config.error(e)),
                    }
                }
                Err(e) => return Err(config.error(e)),
            };
            for m in found {
                let mut row = self.worklist_row(&config.name, m)?;
                row.archive_answered_ms = answered_ms;
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| b.date.cmp(&a.date).then(a.study.cmp(&b.study)));
        Ok(rows)
    }

    /// Keeps `found` as the archive's last answer to `search` (one per archive: the last
    /// search asked). Best effort: a worklist is shown whether or not it could be kept.
    fn keep_worklist(&self, archive: &str, search: &StudyQuery, found: &[StudyMatch]) {
        let last = LastWorklist {
            modality: search.modality.clone(),
            since: search.since.clone(),
            limit: search.limit,
            answered_ms: crate::home::now_ms(),
            matches: found.to_vec(),
        };
        let Ok(json) = serde_json::to_string(&last) else {
            return;
        };
        let kept = self
            .store()
            .db()
            .set_meta(&last_worklist_key(archive), &json);
        if let Err(e) = kept {
            tracing::warn!(archive, error = %e, "the worklist could not be kept for when the archive is down");
        }
    }

    /// The archive's last answer, if it was to the same search.
    fn last_worklist(&self, archive: &str, search: &StudyQuery) -> Option<LastWorklist> {
        let json = self.store().db().meta(&last_worklist_key(archive)).ok()??;
        let last: LastWorklist = serde_json::from_str(&json).ok()?;
        (last.modality == search.modality
            && last.since == search.since
            && last.limit == search.limit)
            .then_some(last)
    }

    fn worklist_row(&self, archive: &str, m: StudyMatch) -> Result<WorklistRow> {
        let db = self.store().db();
        let report = self.report_state(&m.study)?;
        let local_instances = db.study_head(&m.study)?.map_or(0, |(_, n)| n);
        Ok(WorklistRow {
            archive: archive.to_string(),
            study: m.study,
            patient: m.patient_name,
            patient_id: m.patient_id,
            date: m.date,
            modalities: m.modalities,
            description: m.description,
            accession: m.accession,
            instances: m.instances,
            local_instances,
            report,
            archive_answered_ms: None,
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
            .retrieve(study, &staging.0, &config.limits(), &mut |_| {})
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
        let fetched = client
            .retrieve(study, &staging.0, &config.limits(), &mut |n| {
                progress(ImportProgress {
                    done: n,
                    total: found.instances.unwrap_or(0) as usize,
                })
            })
            .map_err(|e| config.error(e))?;
        tracing::info!(
            archive = %config.name,
            instances = fetched.files.len(),
            bytes = fetched.bytes,
            seconds = started.elapsed().as_secs_f64(),
            "study retrieved; checking and storing"
        );
        let expect = Expected {
            study: study.to_string(),
            patient_id: found.patient_id.clone(),
        };
        let mut summary = self.import_files(&fetched.files, Some(&expect), &mut |_| {})?;
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
        })
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
