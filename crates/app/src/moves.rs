//! Correcting a report filed under the wrong patient: `report.move`.
//!
//! The report keeps its log — every entry, signature, sign-off and co-signature stays where
//! it was, so its history is intact and it is still signed off — and from the move on it is
//! about the right study (and its images). The study it was filed under lists it only as
//! moved, with nothing of its content; the report's view names every move (from, to, by whom,
//! when, why). Only an attending moves a report, and only onto a study imported here whose
//! Patient ID is the one the attending names: the same wrong-patient check retrieval makes.
//!
//! Archives this home delivered the report to are corrected right after the move is signed
//! ([`Home::correct_archives`]): the report into the right study, and an IHE IOCM rejection
//! note of its SR and PDF in the wrong one.

use countersign_ledger::{EntryId, Kind};
use countersign_report::payload::ReportMove;

use crate::error::{AppError, Result};
use crate::home::json;
use crate::Home;

impl Home {
    /// Moves `report` to study `study` of patient `patient_id`, for `reason`.
    pub fn report_move(
        &mut self,
        report: EntryId,
        patient_id: &str,
        study: &str,
        reason: &str,
    ) -> Result<EntryId> {
        let instances = self.store().db().instances(Some(study))?;
        if instances.is_empty() {
            return Err(AppError::NotFound {
                what: format!("study {study} in the image store (import or retrieve it first)"),
            });
        }
        // Never the IDs themselves in the message's log line: the caller typed them.
        if instances
            .iter()
            .any(|i| i.patient_id.as_deref() != Some(patient_id))
        {
            return Err(AppError::WrongPatient(format!(
                "study {study} is not the study of the patient named: its images carry another \
                 Patient ID; nothing was signed"
            )));
        }
        let mut images: Vec<String> = instances.iter().map(|i| hex::encode(i.sha256)).collect();
        images.sort();
        let payload = json(&ReportMove {
            study: study.to_string(),
            images,
            reason: reason.trim().to_string(),
        });
        let before = self.report_show(report)?;
        let entry = self.append_checked(report, Kind::ReportMove, &payload)?;
        tracing::info!(report = %report, entry = %entry, "report moved to another study");
        // Every archive the report was delivered to gets it again, into the right study, and
        // an IOCM rejection note of what it holds in the wrong one. A failure is recorded for
        // `deliveries --retry`, never returned: the move is signed whatever the archives do.
        self.correct_archives(report, Some(&before))?;
        Ok(entry)
    }
}
