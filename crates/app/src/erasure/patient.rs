//! A patient's erasure: one signed erasure per report about the patient's studies held here
//! (each applied like any erasure, on every home that stores it), then, on this home, the
//! images of every study of the patient that no report stands on any more — a study no report
//! was ever about included, which no signed entry names and the erasures alone would leave
//! (found by review, 2026-12-05: the dialog said the studies' images were destroyed, and a
//! patient with studies but no report could not be erased at all).

use std::collections::BTreeSet;

use countersign_ledger::{AuthorityError, EntryId, Kind};
use countersign_report::ReportRuleError;
use countersign_store::Db;

use super::DataProtectionOutcome;
use super::{after_commit, erase_study, study_stands, unfinished_token, UNFINISHED};
use crate::error::{AppError, Result};
use crate::Home;

impl Home {
    /// Erases the patient with `patient_id` (see the module docs); `payload` is the signed
    /// erasure's. `not_found` when no study held here carries that Patient ID.
    pub(super) fn erase_patient(
        &mut self,
        patient_id: &str,
        payload: &[u8],
    ) -> Result<DataProtectionOutcome> {
        let studies = self.store().db().studies_of_patient(patient_id)?;
        if studies.is_empty() {
            // Never the ID in the message: the log line would carry it.
            return Err(AppError::NotFound {
                what: "a study of that patient imported here (the Patient ID is matched \
                       against the studies' images)"
                    .into(),
            });
        }
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
            .write(|db| erase_unreported(db, patient_id, &studies))?;
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
fn erase_unreported(db: &Db<'_>, patient_id: &str, studies: &[String]) -> Result<Vec<String>> {
    db.set_meta(UNFINISHED, &unfinished_token())?;
    let mut erased = Vec::new();
    for study in studies {
        // A report written on it meanwhile (another process) keeps it, as any erasure would.
        if study_stands(db, study, None)? {
            continue;
        }
        for sha in erase_study(db, study)? {
            db.erase_image(&sha)?;
        }
        erased.push(study.clone());
    }
    crate::pacs::forget_kept_worklists(db, |m| m.patient_id.as_deref() == Some(patient_id))?;
    Ok(erased)
}
