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
struct Staging(PathBuf);

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
            let found = config
                .client()?
                .search(&search)
                .map_err(|e| config.error(e))?;
            tracing::info!(archive = %config.name, studies = found.len(), "worklist read");
            for m in found {
                rows.push(self.worklist_row(&config.name, m)?);
            }
        }
        rows.sort_by(|a, b| b.date.cmp(&a.date).then(a.study.cmp(&b.study)));
        Ok(rows)
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
        })
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

/// One of a patient's other studies, as `priors` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorStudy {
    pub study: String,
    /// Study Date, `YYYYMMDD`.
    pub date: Option<String>,
    /// Its modalities, comma-separated.
    pub modality: Option<String>,
    pub description: Option<String>,
    /// Whether this home's image store holds it (and how many instances).
    pub local: bool,
    pub local_instances: u64,
    /// The archive that listed it, if one did (the first, when several did).
    pub archive: Option<String>,
    /// This department's report on it, as in the worklist.
    pub report: String,
}

impl Home {
    /// The state of the most advanced report on `study`, or `none`.
    fn report_state(&self, study: &str) -> Result<String> {
        Ok(
            crate::reports::summaries_of_study(&self.store().db(), study)?
                .into_iter()
                .map(|r| state_name(&r.status))
                .max_by_key(|s| rank(s))
                .unwrap_or_else(|| "none".to_string()),
        )
    }

    /// The other studies of the patient of `study`, newest first (undated last): those the
    /// archive (`archive`, else every configured one) lists for the patient's ID, and those
    /// the image store holds. The patient is the one the store's instances of the study name,
    /// else the one the archive gives; a study filed under two patients is refused.
    pub fn priors(&self, study: &str, archive: Option<&str>) -> Result<Vec<PriorStudy>> {
        countersign_pacs::check_uid(study).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let archives = match archive {
            Some(name) => vec![self.archive(name)?],
            None => self.pacs_list()?,
        };
        let clients = archives
            .iter()
            .map(|a| Ok((a, a.client()?)))
            .collect::<Result<Vec<_>>>()?;
        let local_patient = self
            .store()
            .db()
            .study_head(study)?
            .and_then(|(first, _)| first.patient_id);
        let patient = match local_patient {
            Some(id) => id,
            None => {
                let mut ids = std::collections::BTreeSet::new();
                for (config, client) in &clients {
                    let query = StudyQuery {
                        study: Some(study.to_string()),
                        limit: 16,
                        ..Default::default()
                    };
                    for m in client.search(&query).map_err(|e| config.error(e))? {
                        if m.study == study {
                            ids.extend(m.patient_id);
                        }
                    }
                }
                if ids.len() > 1 {
                    return Err(AppError::WrongPatient(format!(
                        "study {study} is filed under {} different Patient IDs: whose priors \
                         to list cannot be told",
                        ids.len()
                    )));
                }
                ids.into_iter().next().ok_or_else(|| AppError::NotFound {
                    what: format!("study {study} (with a Patient ID) here or on an archive"),
                })?
            }
        };
        let mut found: std::collections::BTreeMap<String, PriorStudy> = Default::default();
        for (config, client) in &clients {
            let query = StudyQuery {
                patient_id: Some(patient.clone()),
                ..Default::default()
            };
            let matches = client.search(&query).map_err(|e| config.error(e))?;
            tracing::info!(archive = %config.name, studies = matches.len(), "priors read");
            for m in matches {
                // An archive may match loosely: only this exact Patient ID counts.
                if m.study == study || m.patient_id.as_deref() != Some(patient.as_str()) {
                    continue;
                }
                found.entry(m.study.clone()).or_insert_with(|| PriorStudy {
                    study: m.study,
                    date: m.date,
                    modality: (!m.modalities.is_empty()).then(|| m.modalities.join(",")),
                    description: m.description,
                    local: false,
                    local_instances: 0,
                    archive: Some(config.name.clone()),
                    report: String::new(),
                });
            }
        }
        let db = self.store().db();
        for local in db.studies_of_patient(&patient)? {
            if local == study {
                continue;
            }
            let Some((first, n)) = db.study_head(&local)? else {
                continue;
            };
            let row = found.entry(local.clone()).or_insert_with(|| PriorStudy {
                study: local,
                date: first.study_date.clone(),
                modality: first.modality.clone(),
                description: first.study_description.clone(),
                local: false,
                local_instances: 0,
                archive: None,
                report: String::new(),
            });
            row.local = true;
            row.local_instances = n;
        }
        let mut out: Vec<PriorStudy> = found.into_values().collect();
        for p in &mut out {
            p.report = self.report_state(&p.study)?;
        }
        out.sort_by(|a, b| match (&a.date, &b.date) {
            (Some(x), Some(y)) => y.cmp(x).then(a.study.cmp(&b.study)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.study.cmp(&b.study),
        });
        Ok(out)
    }
}

/// What `deliver` sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub archive: String,
    pub report: String,
    pub study: String,
    /// The SR's SOP Instance UID: one per version of the report (its heads), so sending the
    /// same version again names the same instance.
    pub sop_instance: String,
    pub bytes: u64,
}

impl Home {
    /// Sends a signed-off report's DICOM SR to an archive, into the study of its images
    /// (STOW-RS or C-STORE). Only a final (or amended) report goes; the same version sent
    /// again is the same SOP Instance UID, which an archive keeps once.
    pub fn deliver(&self, report: countersign_ledger::EntryId, archive: &str) -> Result<Delivery> {
        let config = self.archive(archive)?;
        let client = config.client()?;
        let view = self.report_show(report)?;
        let state = state_name(&view.status);
        if !matches!(state.as_str(), "final" | "amended") {
            return Err(AppError::InvalidInput(format!(
                "report {report} is {state}: only a signed-off report is delivered to an archive"
            )));
        }
        let sr = self.export(report, crate::ExportFormat::Sr)?;
        let file = countersign_pacs::Part10::parse(&sr).map_err(|e| config.error(e))?;
        client
            .store(&view.study, &file)
            .map_err(|e| config.error(e))?;
        tracing::info!(archive = %config.name, report = %report, bytes = sr.len(), "report delivered");
        Ok(Delivery {
            archive: config.name.clone(),
            report: report.to_string(),
            study: view.study.clone(),
            sop_instance: file.sop_instance.clone(),
            bytes: sr.len() as u64,
        })
    }
}

/// The store's meta key of the delivery list.
const DELIVERIES_META: &str = "pacs.deliveries";
/// The most deliveries remembered (failed ones are kept before delivered ones).
pub const MAX_DELIVERIES: usize = 1000;

/// What became of sending a report to an archive, as `deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub report: String,
    pub archive: String,
    /// `delivered`, or `failed` (to be tried again: `deliveries --retry`).
    pub state: String,
    /// The SR sent, when it was.
    pub sop_instance: Option<String>,
    pub attempts: u32,
    /// When it was last tried (ms since the epoch).
    pub last_ms: u64,
    /// Why the last try failed: the error's stable code and message.
    pub error_code: Option<String>,
    pub error: Option<String>,
}

impl Home {
    /// The deliveries this home remembers, most recent first.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRecord>> {
        match self.store().db().meta(DELIVERIES_META)? {
            None => Ok(Vec::new()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                AppError::InvalidInput(format!("the home's delivery list is damaged: {e}"))
            }),
        }
    }

    /// Sends a signed-off report to every archive configured with store-back, and records
    /// each outcome. A failure is recorded (and tried again by [`Home::deliveries_retry`]),
    /// never returned: the report is signed whatever the archives do.
    pub fn store_back(
        &mut self,
        report: countersign_ledger::EntryId,
    ) -> Result<Vec<DeliveryRecord>> {
        let targets: Vec<String> = self
            .pacs_list()?
            .into_iter()
            .filter(|a| a.store_back)
            .map(|a| a.name)
            .collect();
        let mut out = Vec::new();
        for archive in targets {
            out.push(self.attempt_delivery(report, &archive)?);
        }
        Ok(out)
    }

    /// Tries every failed delivery again (the report as it reads now).
    pub fn deliveries_retry(&mut self) -> Result<Vec<DeliveryRecord>> {
        let failed: Vec<(String, String)> = self
            .deliveries()?
            .into_iter()
            .filter(|d| d.state == "failed")
            .map(|d| (d.report, d.archive))
            .collect();
        let mut out = Vec::new();
        for (report, archive) in failed {
            let id = crate::viewer::entry_id(&report)?;
            out.push(self.attempt_delivery(id, &archive)?);
        }
        Ok(out)
    }

    fn attempt_delivery(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
    ) -> Result<DeliveryRecord> {
        let outcome = self.deliver(report, archive);
        let mut list = self.deliveries()?;
        let key = report.to_string();
        let previous = list
            .iter()
            .position(|d| d.report == key && d.archive == archive)
            .map(|i| list.remove(i));
        let attempts = previous.map_or(0, |p| p.attempts).saturating_add(1);
        let record = match outcome {
            Ok(sent) => DeliveryRecord {
                report: key,
                archive: archive.to_string(),
                state: "delivered".into(),
                sop_instance: Some(sent.sop_instance),
                attempts,
                last_ms: crate::home::now_ms(),
                error_code: None,
                error: None,
            },
            Err(e) => {
                tracing::warn!(archive, report = %report, error = %e.loggable(), "delivery failed");
                DeliveryRecord {
                    report: key,
                    archive: archive.to_string(),
                    state: "failed".into(),
                    sop_instance: None,
                    attempts,
                    last_ms: crate::home::now_ms(),
                    error_code: Some(e.code().to_string()),
                    error: Some(e.to_string()),
                }
            }
        };
        list.insert(0, record.clone());
        // Bounded: the oldest delivered ones go first, failed ones only past the bound.
        while list.len() > MAX_DELIVERIES {
            match list.iter().rposition(|d| d.state == "delivered") {
                Some(i) => list.remove(i),
                None => list.remove(list.len() - 1),
            };
        }
        let json = serde_json::to_string(&list)
            .map_err(|e| AppError::InvalidInput(format!("encoding the delivery list: {e}")))?;
        self.store_mut()
            .write(|db| db.set_meta(DELIVERIES_META, &json))?;
        Ok(record)
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
