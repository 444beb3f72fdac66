//! Correcting archives after a report was moved to another study (IHE IOCM): the report
//! again into the study it is about now, and a rejection note (a Key Object Selection titled
//! 113037, "Rejected for Patient Safety Reasons") of its SRs and PDFs in each study it left.
//! Split from `delivery` (sending and recording); the records are the same list.

use countersign_export::kos::{RejectedInstance, Rejection};
use countersign_report::ReportView;

use super::*;

impl Home {
    /// Corrects every archive holding a report in a study it has since been moved away from.
    pub fn correct_moved(&mut self) -> Result<Vec<DeliveryRecord>> {
        let mut out = Vec::new();
        // Every report an archive holds instances of: a move this home did not sign (it came
        // by sync) leaves them in the study the report left; correcting finds those.
        let mut delivered: Vec<String> = self
            .deliveries()?
            .into_iter()
            .filter(|d| d.kind == DELIVERY && !d.instances.is_empty())
            .map(|d| d.report)
            .collect();
        delivered.sort();
        delivered.dedup();
        for report in delivered {
            let id = crate::viewer::entry_id(&report)?;
            match self.correct_archives(id, None) {
                Ok(records) => out.extend(records),
                // An erased or unreadable report: nothing to correct from here.
                Err(e) => {
                    tracing::warn!(report = %id, error = %e.loggable(), "archives not checked for a move")
                }
            }
        }
        Ok(out)
    }

    /// Corrects every archive this home delivered `report` to, after it was moved to another
    /// study: the report again into the study it is about now (a new version: new SOP Instance
    /// UIDs), then, in each study it had been delivered into and is no longer about, an IHE
    /// IOCM rejection note referencing every instance of it there (the wrong patient's viewers
    /// stop showing them). `before`: the report as it read before the move, when the caller
    /// has it (it places records kept before instances were). Each outcome is recorded; a
    /// failure is kept for `deliveries --retry`, never returned: the move is signed whatever
    /// the archives do.
    ///
    /// Only this home's own deliveries are corrected: another home that delivered the report
    /// sends its own correction when it runs `deliveries --retry` after the move reached it.
    pub fn correct_archives(
        &mut self,
        report: countersign_ledger::EntryId,
        before: Option<&ReportView>,
    ) -> Result<Vec<DeliveryRecord>> {
        let now = self.report_show(report)?;
        let key = report.to_string();
        let records: Vec<DeliveryRecord> = self
            .deliveries()?
            .into_iter()
            .filter(|d| d.kind == DELIVERY && d.report == key)
            .collect();
        let mut out = Vec::new();
        for record in records {
            let known = record.known_instances(before.unwrap_or(&now));
            let mut wrong: std::collections::BTreeMap<String, Vec<SentInstance>> =
                Default::default();
            for i in known.iter().filter(|i| i.study != now.study) {
                wrong.entry(i.study.clone()).or_default().push(i.clone());
            }
            if wrong.is_empty() {
                continue;
            }
            if record.instances.is_empty() {
                // Kept before instances were: what they were is known now, keep it.
                self.update_records(|list| {
                    if let Some(r) = list
                        .iter_mut()
                        .find(|d| d.is(DELIVERY, &key, &record.archive))
                    {
                        r.instances = known.clone();
                    }
                })?;
            }
            // A failed delivery goes to the right study on its retry, whatever happens here.
            if record.state == "delivered" {
                out.push(self.attempt_delivery(report, &record.archive)?);
            }
            for (study, instances) in wrong {
                out.push(self.attempt_rejection(report, &record.archive, &study, instances)?);
            }
        }
        Ok(out)
    }

    /// Sends the IOCM rejection note of `instances` (the report's, in `study`) to `archive`,
    /// and records it (a failure for `deliveries --retry`). The rejection record takes the
    /// instances over from the delivery record, so each is rejected once and never dropped.
    pub(crate) fn attempt_rejection(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
        study: &str,
        instances: Vec<SentInstance>,
    ) -> Result<DeliveryRecord> {
        let outcome = self.reject(report, archive, study, &instances);
        if let Ok(note) = &outcome {
            self.sign_rejected(report, archive, study, note, &instances);
        }
        let key = report.to_string();
        let previous_attempts = self
            .deliveries()?
            .iter()
            .find(|d| d.is(REJECTION, &key, archive) && d.study.as_deref() == Some(study))
            .map_or(0, |d| d.attempts);
        let (state, sop_instance, error_code, error) = match outcome {
            Ok(sop) => {
                tracing::info!(archive, report = %report, instances = instances.len(), "wrongly filed report rejected on the archive");
                ("delivered", Some(sop), None, None)
            }
            Err(e) => {
                tracing::warn!(archive, report = %report, error = %e.loggable(), "rejection note not sent");
                (
                    "failed",
                    None,
                    Some(e.code().to_string()),
                    Some(e.to_string()),
                )
            }
        };
        let record = DeliveryRecord {
            report: key.clone(),
            archive: archive.to_string(),
            state: state.into(),
            sop_instance,
            pdf_sop_instance: None,
            attempts: previous_attempts.saturating_add(1),
            last_ms: crate::home::now_ms(),
            error_code,
            error,
            kind: REJECTION.into(),
            study: Some(study.to_string()),
            instances: instances.clone(),
        };
        let kept = record.clone();
        self.update_records(move |list| {
            list.retain(|d| !(d.is(REJECTION, &key, archive) && d.study.as_deref() == Some(study)));
            if let Some(d) = list.iter_mut().find(|d| d.is(DELIVERY, &key, archive)) {
                d.instances.retain(|i| !instances.contains(i));
            }
            list.insert(0, kept);
        })?;
        Ok(record)
    }

    /// Signs a `report.delivered` recording the rejection note just stored on `archive` in
    /// `study` (its SOP Instance UID `note`, and the instances it rejects), so every peer's
    /// provenance shows that the report was withdrawn there, by whom and when. Once per
    /// archive, study and signed-off version, by this home's member; a home that cannot sign
    /// now keeps the note in its delivery list and says so in its log: the note stands.
    fn sign_rejected(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
        study: &str,
        note: &str,
        instances: &[SentInstance],
    ) {
        use countersign_report::payload::{
            DeliveredInstance, Payload, ReportDelivered, MAX_REJECTED_INSTANCES,
        };
        let signed = (|| -> Result<bool> {
            let view = self.report_show(report)?;
            let Some(version) = super::delivery::signed_version(&view) else {
                return Ok(false);
            };
            // Only this home's own records count (as for deliveries: archive names are each
            // home's labels).
            let me = self.signer()?.public();
            if view.rejections.iter().any(|r| {
                r.by.key == me && r.archive == archive && r.study == study && r.version == version
            }) {
                return Ok(false);
            }
            let payload = ReportDelivered {
                archive: archive.to_string(),
                version,
                study: study.to_string(),
                instances: instances
                    .iter()
                    .take(MAX_REJECTED_INSTANCES)
                    .map(|i| DeliveredInstance {
                        sop_class: i.sop_class.clone(),
                        sop_instance: i.sop_instance.clone(),
                        series: i.series.clone(),
                    })
                    .collect(),
                rejection_note: Some(note.to_string()),
            };
            self.append_checked(
                report,
                countersign_ledger::Kind::ReportDelivered,
                &Payload::to_bytes(&payload),
            )?;
            Ok(true)
        })();
        match signed {
            Ok(true) => tracing::info!(archive, report = %report, "rejection signed"),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                archive,
                report = %report,
                error = %e.loggable(),
                "the rejection note stands, but no signed record of it was written"
            ),
        }
    }

    /// Writes and sends the rejection note; its SOP Instance UID.
    fn reject(
        &self,
        report: countersign_ledger::EntryId,
        archive: &str,
        study: &str,
        instances: &[SentInstance],
    ) -> Result<String> {
        let config = self.archive(archive)?;
        let client = config.client()?;
        let view = self.report_show(report)?;
        // The note carries the wrong study's Patient module, as its images give it: an
        // archive files it by Patient ID, and one under another patient corrects nothing.
        let images = self.store().db().instances(Some(study))?;
        let Some(first) = images.first() else {
            return Err(AppError::NotFound {
                what: format!(
                    "the images of study {study} (the study the report was moved from), whose \
                     patient the rejection note must name"
                ),
            });
        };
        let info = countersign_export::StudyInfo {
            uid: study.to_string(),
            patient_name: first.patient.clone(),
            patient_id: first.patient_id.clone(),
            study_date: first.study_date.clone(),
            modality: first.modality.clone(),
            description: first.study_description.clone(),
        };
        let rejected: Vec<RejectedInstance> = instances
            .iter()
            .map(|i| RejectedInstance {
                sop_class: i.sop_class.clone(),
                sop_instance: i.sop_instance.clone(),
                series: i.series.clone(),
            })
            .collect();
        // Dated by the move away from the study (the same note on every try).
        let time_ms = view
            .moves
            .iter()
            .rev()
            .find(|m| m.from == study)
            .map_or_else(crate::home::now_ms, |m| m.time_ms);
        let kos = countersign_export::kos::render(&Rejection {
            report: &report.to_string(),
            study: &info,
            instances: &rejected,
            time_ms,
        })
        .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let file = countersign_pacs::Part10::parse(&kos).map_err(|e| config.error(e))?;
        client.store(study, &file).map_err(|e| config.error(e))?;
        Ok(file.sop_instance.clone())
    }
}
