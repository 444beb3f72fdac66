//! A patient's erasure: one signed erasure per report about the patient's studies held here
//! (each applied like any erasure, on every home that stores it), then, on this home, the
//! images of every study of the patient that no report stands on any more — a study no report
//! was ever about included, which no signed entry names and the erasures alone would leave
//! (found by review, 2026-12-05: the dialog said the studies' images were destroyed, and a
//! patient with studies but no report could not be erased at all).
//!
//! A patient is a Patient ID *and* its Issuer of Patient ID: across a region's hospitals two
//! people share an ID, and an erasure by the bare ID erased the other person's signed reports
//! on every peer, irreversibly (found by a clinical-safety review, 2026-12-05). [`resolve`]
//! finds the studies of one (ID, issuer), and refuses rather than guess: an ID held under more
//! than one issuer with none named, and a study whose instances disagree on who it is of.

use std::collections::{BTreeMap, BTreeSet};

use countersign_ledger::{AuthorityError, EntryId, Kind};
use countersign_report::ReportRuleError;
use countersign_store::Db;

use super::DataProtectionOutcome;
use super::{after_commit, erase_study, study_stands, unfinished_token, UNFINISHED};
use crate::error::{AppError, Result};
use crate::Home;

impl Home {
    /// Erases the patient with `patient_id` and `issuer` (see the module docs and
    /// [`crate::DataSubject::Patient`]); `payload` is the signed erasure's. `not_found` when
    /// no study held here carries that Patient ID (and issuer).
    pub(super) fn erase_patient(
        &mut self,
        patient_id: &str,
        issuer: Option<&str>,
        payload: &[u8],
    ) -> Result<DataProtectionOutcome> {
        let patient = resolve(&self.store().db(), self.dir(), patient_id, issuer)?;
        let studies = patient.studies;
        // Asked before anything is signed or destroyed, as the rules would judge each erasure:
        // a patient with no report signs nothing they could refuse.
        let role = self.whoami()?.role;
        if !role.may_write(Kind::PayloadErase) {
            let refused = AuthorityError::KindNotAllowed {
                role,
                kind: Kind::PayloadErase,
            };
            return Err(ReportRuleError::from(refused).into());
        }
        let reports = reports_about(&self.store().db(), &studies)?;
        let mut entries = Vec::new();
        for report in &reports {
            entries.push(self.append_checked(*report, Kind::PayloadErase, payload)?);
        }
        let erased = self
            .store_mut()
            .write(|db| erase_unreported(db, patient_id, &patient.issuer, &studies))?;
        // Committed: the files and the WAL's older pages go now, or at the next open.
        if let Err(e) = after_commit(self) {
            tracing::warn!(
                error = e.code(),
                "erased images' files are deleted when the home is next opened"
            );
        }
        tracing::info!(
            reports = reports.len(),
            studies = erased.len(),
            kept = studies.len() - erased.len(),
            "patient erased"
        );
        Ok(DataProtectionOutcome {
            reports,
            entries,
            studies: erased,
        })
    }
}

/// Every report about one of `studies` now, oldest id first (a report moved away from one is
/// about another patient's study).
pub(super) fn reports_about(db: &Db<'_>, studies: &[String]) -> Result<Vec<EntryId>> {
    let mut out = BTreeSet::new();
    for study in studies {
        out.extend(db.summaries_of_study(study)?.into_iter().map(|s| s.report));
    }
    Ok(out.into_iter().collect())
}

/// In one transaction: the images and index rows of each of the patient's `studies` that no
/// report stands on, the study noted erased as an erasure's are (an import of it begun before
/// refuses it), and the patient's rows in the kept worklists. Returns the studies erased.
fn erase_unreported(
    db: &Db<'_>,
    patient_id: &str,
    issuer: &Option<String>,
    studies: &[String],
) -> Result<Vec<String>> {
    db.set_meta(UNFINISHED, &unfinished_token())?;
    let mut erased = Vec::new();
    let patient = (Some(patient_id.to_string()), issuer.clone());
    for study in studies {
        // A report written on it meanwhile (another process) keeps it, as any erasure would;
        // so does an instance of another patient in it (indexed since it was resolved). Its
        // report's erasure may have destroyed it already: nothing is held of it then.
        let another = db
            .patients_of_study(study, 2)?
            .into_iter()
            .any(|held| held != patient);
        if study_stands(db, study, None)? || another {
            continue;
        }
        for sha in erase_study(db, study)? {
            db.erase_image(&sha)?;
        }
        erased.push(study.clone());
    }
    // The kept worklists (a cache of the archives' answers) lose every row that may be this
    // patient's: of the ID, but for those of another known issuer (another person's).
    crate::pacs::forget_kept_worklists(db, |m| {
        m.patient_id.as_deref() == Some(patient_id)
            && !matches!((&m.issuer, issuer), (Some(a), Some(b)) if a != b)
    })?;
    Ok(erased)
}

/// The studies held here of the patient with Patient ID `patient_id` and the issuer
/// `issuer` names (see [`crate::DataSubject::Patient`]), and that issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedPatient {
    /// By UID; never empty.
    pub studies: Vec<String>,
    /// The Issuer of Patient ID their instances carry (`None`: none recorded).
    pub issuer: Option<String>,
    /// The other issuers under which studies held here carry the same Patient ID: other
    /// people, perhaps, whose studies `studies` leaves out.
    pub others: Vec<Option<String>>,
}

/// Which studies held here are of the patient (`patient_id`, `issuer`): see
/// [`crate::DataSubject::Patient`] for what `issuer` names. Refused rather than guessed:
/// - `not_found` when no study carries the ID (under that issuer, if named);
/// - `invalid_input` when the ID is held under more than one issuer and none is named,
///   saying how many and which (an issuer is a hospital's, not the patient's: no PHI);
/// - `wrong_patient` when a study of the patient holds instances of another (another ID, or
///   the same under another issuer or none recorded): a patient's erasure never takes such a
///   study, and nothing is signed.
///
/// Never the Patient ID in a message: the log line would carry it.
pub(crate) fn resolve(
    db: &Db<'_>,
    home: &std::path::Path,
    patient_id: &str,
    issuer: Option<&str>,
) -> Result<ResolvedPatient> {
    let rows = with_issuers_read(db, home, db.patients_of_studies(patient_id)?)?;
    // Each study's patients: (Patient ID, issuer) pairs its instances carry.
    let mut studies: BTreeMap<&str, Vec<PatientRef<'_>>> = BTreeMap::new();
    let mut issuers: BTreeSet<Option<&str>> = BTreeSet::new();
    for r in &rows {
        let key = (r.patient_id.as_deref(), r.issuer.as_deref());
        studies.entry(r.study.as_str()).or_default().push(key);
        if key.0 == Some(patient_id) {
            issuers.insert(key.1);
        }
    }
    let chosen: Option<&str> = match issuer.map(str::trim) {
        Some("") => None,
        Some(named) => Some(named),
        None if issuers.len() > 1 => {
            return Err(AppError::InvalidInput(format!(
                "{} different issuers of Patient ID hold that Patient ID here ({}): they may be \
                 different people; nothing was signed or destroyed. Name one with --issuer \
                 ISSUER (--issuer '' for the studies whose images carry none)",
                issuers.len(),
                issuers
                    .iter()
                    .map(|i| issuer_words(*i))
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
        None => issuers.first().copied().flatten(),
    };
    if !issuers.contains(&chosen) {
        return Err(AppError::NotFound {
            what: match issuer {
                None => "a study of that patient imported here (the Patient ID is matched \
                         against the studies' images)"
                    .into(),
                Some(_) => format!(
                    "a study of that patient imported here with {} (the Patient ID and its \
                     issuer are matched against the studies' images)",
                    issuer_words(chosen)
                ),
            },
        });
    }
    let patient = (Some(patient_id), chosen);
    let mut out = Vec::new();
    for (study, patients) in &studies {
        if !patients.contains(&patient) {
            continue;
        }
        if patients.len() > 1 {
            return Err(AppError::WrongPatient(format!(
                "study {study} holds images of more than one patient (its instances disagree on \
                 the Patient ID or its issuer): a patient's erasure or restriction never takes \
                 it, and nothing was signed or destroyed. Act on its reports one by one \
                 (--report), or have the study's images corrected first"
            )));
        }
        out.push(study.to_string());
    }
    Ok(ResolvedPatient {
        studies: out,
        issuer: chosen.map(str::to_string),
        others: issuers
            .into_iter()
            .filter(|i| *i != chosen)
            .map(|i| i.map(str::to_string))
            .collect(),
    })
}

/// A patient as an instance carries them: Patient ID and Issuer of Patient ID.
type PatientRef<'a> = (Option<&'a str>, Option<&'a str>);

/// An issuer in a message's words.
fn issuer_words(issuer: Option<&str>) -> String {
    match issuer {
        Some(i) => format!("issuer {i:?}"),
        None => "no issuer recorded".into(),
    }
}

/// `rows` with the issuer of every instance that has none recorded read from its file: an
/// instance indexed before issuers were (migration 23) has none in the index, so two
/// hospitals' patients of one ID imported then would both read "no issuer" and be erased as
/// one (found by review, 2026-12-05). Read for one patient's studies, when an erasure, a
/// restriction or the desktop's dialog asks; a file with no issuer stays without.
fn with_issuers_read(
    db: &Db<'_>,
    home: &std::path::Path,
    rows: Vec<countersign_store::StudyPatient>,
) -> Result<Vec<countersign_store::StudyPatient>> {
    let mut out: BTreeSet<(String, Option<String>, Option<String>)> = BTreeSet::new();
    for r in rows {
        if r.issuer.is_some() {
            out.insert((r.study, r.patient_id, r.issuer));
            continue;
        }
        for (sha, id) in db.instances_without_issuer(&r.study)? {
            let path = countersign_store::image_path(home, &sha);
            let issuer = countersign_imaging::read_file(&path)
                .ok()
                .and_then(|bytes| countersign_imaging::read_header(&bytes).ok())
                .and_then(|h| h.info.patient_id_issuer);
            out.insert((r.study.clone(), id, issuer));
        }
    }
    Ok(out
        .into_iter()
        .map(
            |(study, patient_id, issuer)| countersign_store::StudyPatient {
                study,
                patient_id,
                issuer,
            },
        )
        .collect())
}
