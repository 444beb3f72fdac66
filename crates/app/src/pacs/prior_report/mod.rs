//! The report of a prior study, shown under its images beside the study being read: this
//! home's own report on it when there is one (with who wrote, co-signed and signed it off, as
//! the report view has it), else the report an archive keeps for it — its SR read as text, or
//! its Encapsulated PDF handed to the desktop as a file — else none.
//!
//! Only the study's report instances are asked of the archive (never its images), each
//! bounded ([`MAX_DOCUMENT_BYTES`]) and read as untrusted: an SR through the imaging crate's
//! bounded reader, a PDF taken out of its DICOM wrapper and written to a file that only the
//! desktop's own PDF viewer opens — nothing here parses a PDF. Nothing of either goes into the
//! image store or the ledger: a prior's report is read, not made this home's record (it is
//! another department's, or an earlier version of one; the ledger keeps only what its members
//! sign).

use std::io::Read;

use countersign_imaging::sr::{SrLine, SrVerifier};
use countersign_pacs::{DocumentKind, DocumentMatch, MAX_DOCUMENT_BYTES};
use countersign_report::{Author, ReportState, ReportView};

use super::*;

mod pdf;
use pdf::{prune_old_pdfs, read_encapsulated_pdf, write_private};

/// The most SRs of a prior study read to find its report among measurement SRs (each is one
/// more fetch from the archive): past it, the newest measurement SR read is shown.
pub const MAX_SRS_READ: usize = 8;

/// The folder of the home where prior reports' PDFs are written for the desktop to open (and
/// where an instance is staged while it is fetched).
pub const PRIOR_REPORTS: &str = "prior-reports";

/// A prior study's report, and where it was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorReport {
    /// The prior study asked about.
    pub study: String,
    #[serde(flatten)]
    pub found: PriorFound,
}

/// Where the report was found (`source`), and what it says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case")]
pub enum PriorFound {
    /// This home's ledger holds a report on the study: the most advanced one (boxed: it is
    /// the largest by far, with its authors' keys).
    Ledger(Box<LedgerPrior>),
    /// The newest report instance on the archives asked is an SR (a measurement SR only when
    /// there is no other report).
    ArchiveSr(ArchiveSr),
    /// The newest report instance on the archives asked is an Encapsulated PDF.
    ArchivePdf(ArchivePdf),
    /// No report here, and none on the archive(s) asked.
    None,
}

/// This home's report on the prior study, in brief, as the report view has it (nothing is
/// judged again here).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerPrior {
    pub report: countersign_ledger::EntryId,
    pub status: ReportState,
    pub template: String,
    pub template_title: String,
    pub created_by: Author,
    pub created_ms: u64,
    /// The template's sections in order, each with its text and who wrote it.
    pub sections: Vec<PriorSection>,
    /// The sign-off in force (final or preliminary), when exactly one is.
    pub signoff: Option<Signed>,
    pub addenda: Vec<PriorAddendum>,
    /// Its payloads are sealed under a key this home does not hold: who did what and when is
    /// shown, the text is not.
    pub unreadable: bool,
    /// This home holds the key, but it is locked (unlocking reads the text).
    pub locked: bool,
    /// Its processing is restricted (GDPR Art. 18): the view carries no content.
    pub restricted: bool,
    /// How many other reports this home holds on the study (the one shown is the furthest
    /// read, as the worklist's state).
    pub other_reports: usize,
}

/// A section as the report reads now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorSection {
    pub name: String,
    pub title: String,
    /// `None`: not written, not readable here, or in conflict.
    pub text: Option<String>,
    /// Who wrote the version the report reads as, and when.
    pub written: Option<Signed>,
    /// Who co-signed that version.
    pub cosigned: Vec<Signed>,
}

/// Someone's signed act: who, and when (their clock, ms since the epoch).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signed {
    pub author: Author,
    pub time_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriorAddendum {
    pub author: Author,
    pub time_ms: u64,
    pub text: Option<String>,
}

/// An SR of the prior study on an archive, read as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveSr {
    pub archive: String,
    pub series: String,
    pub instance: String,
    pub sop_class: String,
    /// The document title (its root concept).
    pub title: Option<String>,
    /// An Imaging Measurement Report (TID 1500), as measurement and AI tools write, not a
    /// reader's report: shown only when the archives hold no other report of the study.
    pub measurement: bool,
    /// Content Date (`YYYYMMDD`) and Time.
    pub date: Option<String>,
    pub time: Option<String>,
    /// `COMPLETE` / `PARTIAL`, `VERIFIED` / `UNVERIFIED`, `PRELIMINARY` / `FINAL` as it says.
    pub completion: Option<String>,
    pub verification: Option<String>,
    pub preliminary: Option<String>,
    /// Its authors (Author Observer Sequence, Person Observer Names), as readers write names.
    pub authors: Vec<String>,
    pub verifiers: Vec<SrVerifier>,
    pub manufacturer: Option<String>,
    /// Its content tree flattened, in document order: depth, value type, concept, value.
    pub lines: Vec<SrLine>,
    /// How many other report instances (SRs, PDFs) the archives asked hold for the study.
    pub others: usize,
}

/// An Encapsulated PDF of the prior study on an archive, written to a file for the desktop.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchivePdf {
    pub archive: String,
    pub series: String,
    pub instance: String,
    /// Document Title, else the concept it is filed under.
    pub title: Option<String>,
    /// Content Date (`YYYYMMDD`) and Time.
    pub date: Option<String>,
    pub time: Option<String>,
    /// The PDF, in the home's [`PRIOR_REPORTS`] folder (named after its SOP Instance UID).
    pub path: PathBuf,
    pub bytes: u64,
    pub others: usize,
}

/// A folder for one fetch, removed with what it holds when dropped.
struct Fetching(PathBuf);

impl Fetching {
    fn new(home: &Path) -> Result<Fetching> {
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let dir = home
            .join(PRIOR_REPORTS)
            .join(format!("fetch-{}", hex::encode(nonce)));
        std::fs::create_dir_all(&dir)
            .map_err(AppError::io(format!("creating {}", dir.display())))?;
        Ok(Fetching(dir))
    }
}

impl Drop for Fetching {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Home {
    /// The file of a prior's PDF report `prior_report` saved (by its SOP Instance UID, never a
    /// path from the caller): for the desktop to hand to the system's PDF viewer. `not_found`
    /// once it has been pruned (a day after) or if it was never fetched, and for anything there
    /// that is not a plain file (a link planted in the home is not followed).
    pub fn prior_report_pdf(&self, instance: &str) -> Result<std::path::PathBuf> {
        countersign_pacs::check_uid(instance).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let path = self
            .dir()
            .join(PRIOR_REPORTS)
            .join(format!("{instance}.pdf"));
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_file() => Ok(path),
            _ => Err(AppError::NotFound {
                what: format!("the saved PDF report {instance} (ask for the prior's report again)"),
            }),
        }
    }

    /// The report of `study` (a prior of the study being read): from this home's ledger when
    /// it holds one, else the newest SR or Encapsulated PDF on the archives (`archive`, else
    /// every configured one) that is a reader's report — a measurement SR only when there is
    /// no other —, else none. An archive that fails is
    /// named in the error; a hostile SR is refused with its reader's code.
    ///
    /// An archive may file one Study Instance UID under two patients: a report from it must be
    /// of `patient_id` (the prior's patient, as `priors` lists it), else of the patient this
    /// home's images of the study name; one of another patient is refused (`wrong_patient`),
    /// never shown under these images. With neither known, an archive's report is not shown.
    pub fn prior_report(
        &self,
        study: &str,
        archive: Option<&str>,
        patient_id: Option<&str>,
    ) -> Result<PriorReport> {
        countersign_pacs::check_uid(study).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        // Fetched PDFs are kept a day for the viewer to open: pruned on every ask, not only
        // when another PDF is fetched.
        prune_old_pdfs(&self.dir().join(PRIOR_REPORTS));
        let report = |found| PriorReport {
            study: study.to_string(),
            found,
        };
        if let Some(ledger) = self.ledger_prior(study)? {
            return Ok(report(PriorFound::Ledger(Box::new(ledger))));
        }
        let local = self
            .store()
            .db()
            .study_head(study)?
            .and_then(|(first, _)| first.patient_id);
        let patient = match (patient_id, local) {
            (Some(given), Some(here)) if given != here => {
                return Err(AppError::WrongPatient(format!(
                    "study {study} is filed here under another Patient ID than the one given: \
                     whose report to show cannot be told"
                )))
            }
            (Some(given), _) => Some(given.to_string()),
            (None, Some(here)) => Some(here),
            (None, None) => None,
        };
        let archives = match archive {
            Some(name) => vec![self.archive(name)?],
            None => self.archives()?,
        };
        // Not given and not here: the one Patient ID the archives file the study under.
        let patient = match patient {
            Some(p) => p,
            None => {
                let mut ids = std::collections::BTreeSet::new();
                for config in &archives {
                    let client = config.client()?;
                    ids.extend(
                        super::priors::patients_of_study(&client, study)
                            .map_err(|e| config.error(e))?,
                    );
                }
                match super::priors::one_patient(study, ids, "report")? {
                    Some(id) => id,
                    None => return Ok(report(PriorFound::None)),
                }
            }
        };
        let mut listed = Vec::new();
        for config in archives {
            let client = config.client()?;
            let documents = client.documents(study).map_err(|e| config.error(e))?;
            tracing::info!(archive = %config.name, documents = documents.len(), "prior reports listed");
            listed.push((config, client, documents));
        }
        // Every archive's report instances in one order: the newest first, whichever archive
        // holds it (an SR before a PDF of the same moment).
        let mut all: Vec<(usize, &DocumentMatch)> = listed
            .iter()
            .enumerate()
            .flat_map(|(i, (_, _, documents))| documents.iter().map(move |d| (i, d)))
            .collect();
        all.sort_by(|a, b| countersign_pacs::newest_first_order(a.1, b.1));
        let others = all.len().saturating_sub(1);
        // A measurement SR (TID 1500: what quantification and AI tools write) is not the
        // reader's report: passed over for an older report, shown only when there is none.
        let mut measurement: Option<ArchiveSr> = None;
        let mut read = 0;
        for (i, document) in all {
            let (config, client, _) = &listed[i];
            let found = match document.kind {
                DocumentKind::Sr if read == MAX_SRS_READ => break,
                DocumentKind::Sr => {
                    read += 1;
                    let sr =
                        self.archive_sr(config, client, (study, &patient), document, others)?;
                    if sr.measurement {
                        measurement.get_or_insert(sr);
                        continue;
                    }
                    PriorFound::ArchiveSr(sr)
                }
                DocumentKind::Pdf => PriorFound::ArchivePdf(self.archive_pdf(
                    config,
                    client,
                    (study, &patient),
                    document,
                    others,
                )?),
            };
            return Ok(report(found));
        }
        Ok(report(
            measurement.map_or(PriorFound::None, PriorFound::ArchiveSr),
        ))
    }

    /// The most advanced of this home's reports on `study` (as [`Home::report_state`] picks),
    /// in brief; reports moved to another patient's study are not this study's.
    fn ledger_prior(&self, study: &str) -> Result<Option<LedgerPrior>> {
        let summaries: Vec<_> = crate::reports::summaries_of_study(&self.store().db(), study)?
            .into_iter()
            .filter(|r| r.moved_to.is_none())
            .collect();
        let Some(chosen) = summaries
            .iter()
            .max_by_key(|r| rank(&state_name(&r.status)))
            .map(|r| r.report)
        else {
            return Ok(None);
        };
        let view = self.report_show(chosen)?;
        Ok(Some(ledger_brief(view, summaries.len() - 1)))
    }

    fn fetch(
        &self,
        config: &ArchiveConfig,
        client: &Archive,
        study: &str,
        document: &DocumentMatch,
    ) -> Result<Vec<u8>> {
        let fetching = Fetching::new(self.dir())?;
        let path = client
            .fetch_instance(
                study,
                &document.series,
                &document.instance,
                &fetching.0,
                MAX_DOCUMENT_BYTES,
            )
            .map_err(|e| config.error(e))?;
        let mut bytes = Vec::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(MAX_DOCUMENT_BYTES + 1).read_to_end(&mut bytes))
            .map_err(AppError::io(format!("reading {}", path.display())))?;
        if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
            return Err(config.error(PacsError::TooLarge {
                what: format!("report instance {}", document.instance),
                limit: MAX_DOCUMENT_BYTES,
            }));
        }
        Ok(bytes)
    }

    fn archive_sr(
        &self,
        config: &ArchiveConfig,
        client: &Archive,
        (study, patient): (&str, &str),
        document: &DocumentMatch,
        others: usize,
    ) -> Result<ArchiveSr> {
        let bytes = self.fetch(config, client, study, document)?;
        let doc = countersign_imaging::sr::read_sr_document(&bytes).map_err(|source| {
            AppError::ArchiveSr {
                archive: config.name.clone(),
                instance: document.instance.clone(),
                source,
            }
        })?;
        check_same(config, study, document, &doc.study, &doc.sop_instance)?;
        check_patient(config, patient, document, doc.patient_id.as_deref())?;
        Ok(ArchiveSr {
            archive: config.name.clone(),
            series: document.series.clone(),
            instance: doc.sop_instance,
            sop_class: doc.sop_class,
            title: doc.title,
            measurement: doc.measurement,
            date: doc.date,
            time: doc.time,
            completion: doc.completion,
            verification: doc.verification,
            preliminary: doc.preliminary,
            authors: doc.authors,
            verifiers: doc.verifiers,
            manufacturer: doc.manufacturer,
            lines: doc.lines,
            others,
        })
    }

    fn archive_pdf(
        &self,
        config: &ArchiveConfig,
        client: &Archive,
        (study, patient): (&str, &str),
        document: &DocumentMatch,
        others: usize,
    ) -> Result<ArchivePdf> {
        let bytes = self.fetch(config, client, study, document)?;
        let pdf = read_encapsulated_pdf(&bytes).map_err(|why| {
            config.error(PacsError::Malformed(format!(
                "its Encapsulated PDF {} is not read: {why}",
                document.instance
            )))
        })?;
        check_same(config, study, document, &pdf.study, &pdf.sop_instance)?;
        check_patient(config, patient, document, pdf.patient_id.as_deref())?;
        let folder = self.dir().join(PRIOR_REPORTS);
        prune_old_pdfs(&folder);
        // Named after the instance: the same prior asked again is the same file.
        let path = folder.join(format!("{}.pdf", pdf.sop_instance));
        let partial = folder.join(format!("{}.pdf.part", pdf.sop_instance));
        write_private(&partial, &pdf.document)
            .and_then(|_| std::fs::rename(&partial, &path))
            .map_err(AppError::io(format!("writing {}", path.display())))?;
        Ok(ArchivePdf {
            archive: config.name.clone(),
            series: document.series.clone(),
            instance: pdf.sop_instance,
            title: pdf.title,
            date: pdf.date,
            time: pdf.time,
            path,
            bytes: pdf.document.len() as u64,
            others,
        })
    }
}

/// The report view in brief: each section's text, who wrote and co-signed the version it
/// reads as, the sign-off in force, the addenda.
fn ledger_brief(view: ReportView, other_reports: usize) -> LedgerPrior {
    let sections = view
        .sections
        .into_iter()
        .map(|s| {
            let current = s
                .current
                .and_then(|id| s.versions.iter().find(|v| v.entry == id));
            PriorSection {
                written: current.map(|v| Signed {
                    author: v.author.clone(),
                    time_ms: v.time_ms,
                }),
                cosigned: current
                    .map(|v| {
                        v.cosigns
                            .iter()
                            .map(|c| Signed {
                                author: c.author.clone(),
                                time_ms: c.time_ms,
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                name: s.name,
                title: s.title,
                text: s.text,
            }
        })
        .collect();
    LedgerPrior {
        report: view.report,
        status: view.status,
        template: view.template,
        template_title: view.template_title,
        created_by: view.created_by,
        created_ms: view.created_ms,
        sections,
        signoff: view.signoff.map(|s| Signed {
            author: s.author,
            time_ms: s.time_ms,
        }),
        addenda: view
            .addenda
            .into_iter()
            .map(|a| PriorAddendum {
                author: a.author,
                time_ms: a.time_ms,
                text: a.text,
            })
            .collect(),
        unreadable: view.unreadable,
        locked: view.locked,
        restricted: view.restriction.is_some(),
        other_reports,
    }
}

/// What was fetched is the instance asked for, of the study asked for: an archive that sends
/// another study's report would show it under the wrong images.
fn check_same(
    config: &ArchiveConfig,
    study: &str,
    document: &DocumentMatch,
    got_study: &str,
    got_instance: &str,
) -> Result<()> {
    if got_study != study {
        return Err(AppError::SrWrongStudy(format!(
            "archive {}: report instance {} is of study {got_study}, not of {study}: it is not shown",
            config.name, document.instance
        )));
    }
    if got_instance != document.instance {
        return Err(config.error(PacsError::Malformed(format!(
            "asked for instance {}, it sent {got_instance}",
            document.instance
        ))));
    }
    Ok(())
}

/// A report from the archive must be filed under the prior's patient: one Study Instance UID
/// under two patients on the archive must never put the other's report under these images.
/// The message names neither Patient ID.
fn check_patient(
    config: &ArchiveConfig,
    patient: &str,
    document: &DocumentMatch,
    got: Option<&str>,
) -> Result<()> {
    if got == Some(patient) {
        return Ok(());
    }
    Err(AppError::WrongPatient(format!(
        "archive {}: report instance {} is filed under {} than the study's patient: it is not \
         shown",
        config.name,
        document.instance,
        if got.is_some() {
            "another patient"
        } else {
            "no Patient ID"
        }
    )))
}

#[cfg(test)]
mod tests;
