//! Sending a signed-off report's SR back to an archive (`deliver`, and store-back on sign-off),
//! with a bounded record of every delivery for retry — and of every instance each archive was
//! sent, in which study, so a report moved to another patient's study is corrected there by an
//! IHE IOCM rejection note (see [`Home::correct_archives`]).

use std::time::Duration;

use countersign_export::kos::{RejectedInstance, Rejection};
use countersign_report::ReportView;

use super::*;

/// A record's kind: the report's SR and PDF sent into its study.
pub const DELIVERY: &str = "delivery";
/// A record's kind: the IOCM rejection note sent into a study the report was wrongly filed in.
pub const REJECTION: &str = "rejection";
/// The most instances one delivery record remembers (two per version of the report).
pub const MAX_SENT: usize = 256;

/// One instance of a report sent to an archive, and where the archive files it. UIDs only:
/// nothing of the patient.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SentInstance {
    pub study: String,
    pub series: String,
    pub sop_class: String,
    pub sop_instance: String,
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
    /// The Encapsulated PDF's, sent after the SR (the same rule for its UID).
    pub pdf_sop_instance: String,
    pub pdf_bytes: u64,
    /// Both, with their study, series and class: what the delivery record keeps.
    #[serde(skip)]
    pub sent: Vec<SentInstance>,
    /// The signed-off version exported (what the `report.delivered` names): read with the
    /// report before it was exported, so a sync landing meanwhile does not change it.
    #[serde(skip)]
    pub version: Option<countersign_ledger::EntryId>,
}

impl Home {
    /// Sends a signed-off report's DICOM SR, then its PDF as a DICOM Encapsulated PDF (for
    /// the viewers that show no SR), to an archive, into the study of its images (STOW-RS or
    /// C-STORE). Only a final (or amended) report goes; the same version sent
    /// again is the same SOP Instance UID, which an archive keeps once. What was sent is
    /// recorded (as `deliveries` lists it), so a later move of the report corrects this
    /// archive too; a refusal or failure here is the caller's to see, not kept for retry.
    pub fn deliver(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
    ) -> Result<Delivery> {
        let sent = self.send_report(report, archive)?;
        self.record_delivery(report, archive, Ok(sent.clone()))?;
        Ok(sent)
    }

    fn send_report(&self, report: countersign_ledger::EntryId, archive: &str) -> Result<Delivery> {
        let config = self.archive(archive)?;
        let client = config.client()?;
        let view = self.report_show(report)?;
        // Before its state: an unreadable report's state is judged from headers alone.
        if view.unreadable {
            return Err(AppError::ReportUnreadable {
                report: report.to_string(),
            });
        }
        // The SR and PDF carry the Patient module of the study's images: without them here
        // they would name no patient, and an archive would file them under none.
        if self.store().db().instances(Some(&view.study))?.is_empty() {
            return Err(AppError::NotFound {
                what: format!(
                    "the images of study {} in the image store (retrieve it first: a report \
                     goes to the archive under the patient its images name)",
                    view.study
                ),
            });
        }
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
        let pdf = self.export(report, crate::ExportFormat::PdfDicom)?;
        let pdf_file = countersign_pacs::Part10::parse(&pdf).map_err(|e| config.error(e))?;
        client
            .store(&view.study, &pdf_file)
            .map_err(|e| config.error(e))?;
        tracing::info!(
            archive = %config.name,
            report = %report,
            bytes = sr.len() + pdf.len(),
            "report delivered"
        );
        let sent = vec![
            SentInstance {
                study: view.study.clone(),
                series: countersign_export::sr::series_uid(&view),
                sop_class: file.sop_class.clone(),
                sop_instance: file.sop_instance.clone(),
            },
            SentInstance {
                study: view.study.clone(),
                series: countersign_export::encapsulated::series_uid(&view),
                sop_class: pdf_file.sop_class.clone(),
                sop_instance: pdf_file.sop_instance.clone(),
            },
        ];
        Ok(Delivery {
            archive: config.name.clone(),
            report: report.to_string(),
            study: view.study.clone(),
            sop_instance: file.sop_instance.clone(),
            bytes: sr.len() as u64,
            pdf_sop_instance: pdf_file.sop_instance.clone(),
            pdf_bytes: pdf.len() as u64,
            sent,
            version: signed_version(&view),
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
    /// The Encapsulated PDF sent, when it was (absent in records from before it was sent).
    #[serde(default)]
    pub pdf_sop_instance: Option<String>,
    pub attempts: u32,
    /// When it was last tried (ms since the epoch).
    pub last_ms: u64,
    /// Why the last try failed: the error's stable code and message.
    pub error_code: Option<String>,
    pub error: Option<String>,
    /// [`DELIVERY`] (the SR and PDF; `sop_instance` is the SR's), or [`REJECTION`] (the IOCM
    /// note; `sop_instance` is the note's). Records from before rejections were sent are
    /// deliveries.
    #[serde(default = "delivery_kind")]
    pub kind: String,
    /// The study delivered into, or (a rejection) the study corrected.
    #[serde(default)]
    pub study: Option<String>,
    /// A delivery: every instance of the report the archive was sent and that no rejection
    /// has taken over yet (each version's SR and PDF, with its study). A rejection: the
    /// instances it rejects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<SentInstance>,
}

fn delivery_kind() -> String {
    DELIVERY.to_string()
}

/// How long a failed delivery waits before it is tried again by itself, after its first
/// failure; each further failure doubles the wait, up to [`MAX_BACKOFF`]. An archive down for
/// maintenance is asked about forty times in a day, not thousands.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between two tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// The wait after `attempts` failed tries: `first` × 2^(attempts − 1), at most [`MAX_BACKOFF`]
/// (and never less than `first`, which may be shorter than the default in tests).
pub fn backoff(attempts: u32, first: Duration) -> Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    first
        .saturating_mul(1u32 << doublings)
        .min(MAX_BACKOFF.max(first))
}

impl DeliveryRecord {
    /// When a failed record is next tried by itself (ms since the epoch): its last try plus
    /// the [`backoff`] its attempts have earned. `None` for one delivered.
    pub fn due_ms(&self, first: Duration) -> Option<u64> {
        (self.state == "failed").then(|| {
            let wait = u64::try_from(backoff(self.attempts, first).as_millis()).unwrap_or(u64::MAX);
            self.last_ms.saturating_add(wait)
        })
    }

    fn is(&self, kind: &str, report: &str, archive: &str) -> bool {
        self.kind == kind && self.report == report && self.archive == archive
    }

    /// The instances a delivery record knows were sent. A record from before they were kept
    /// names only the last SR and PDF: they are taken to be in the study `view` is about, with
    /// the series of that view — right while the report was never moved (`view` is then
    /// how it read when they were sent), unknowable after, and then nothing is claimed.
    fn known_instances(&self, view: &ReportView) -> Vec<SentInstance> {
        if !self.instances.is_empty() || !view.moves.is_empty() {
            return self.instances.clone();
        }
        let mut known = Vec::new();
        if let Some(sop) = &self.sop_instance {
            known.push(SentInstance {
                study: view.study.clone(),
                series: countersign_export::sr::series_uid(view),
                sop_class: countersign_export::sr::COMPREHENSIVE_SR.into(),
                sop_instance: sop.clone(),
            });
        }
        if let Some(sop) = &self.pdf_sop_instance {
            known.push(SentInstance {
                study: view.study.clone(),
                series: countersign_export::encapsulated::series_uid(view),
                sop_class: countersign_export::encapsulated::ENCAPSULATED_PDF.into(),
                sop_instance: sop.clone(),
            });
        }
        known
    }
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

    /// Tries every failed delivery and rejection again (the report as it reads now), then
    /// corrects every archive holding a report in a study it has since been moved away from
    /// (a move that came by sync from another home: see [`Home::correct_archives`]).
    pub fn deliveries_retry(&mut self) -> Result<Vec<DeliveryRecord>> {
        let mut out = self.retry_failed(|_| true)?;
        out.extend(self.correct_moved()?);
        Ok(out)
    }

    /// Tries again, by itself, every failed delivery and rejection whose back-off has run out
    /// at `now_ms` ([`DeliveryRecord::due_ms`], from a first wait of `first`): what a `serve`
    /// node does between syncs, so that an archive that was down gets the report when it is
    /// back without anyone asking. Returns what was tried.
    pub fn retry_due_deliveries(
        &mut self,
        now_ms: u64,
        first: Duration,
    ) -> Result<Vec<DeliveryRecord>> {
        self.retry_failed(|d| d.due_ms(first).is_some_and(|due| due <= now_ms))
    }

    /// When the next failed delivery or rejection is due (ms since the epoch), if any is.
    pub fn next_delivery_due(&self, first: Duration) -> Result<Option<u64>> {
        Ok(self
            .deliveries()?
            .iter()
            .filter_map(|d| d.due_ms(first))
            .min())
    }

    fn retry_failed(
        &mut self,
        due: impl Fn(&DeliveryRecord) -> bool,
    ) -> Result<Vec<DeliveryRecord>> {
        let failed: Vec<DeliveryRecord> = self
            .deliveries()?
            .into_iter()
            .filter(|d| d.state == "failed" && due(d))
            .collect();
        let mut out = Vec::new();
        for d in failed {
            let tried = crate::viewer::entry_id(&d.report).and_then(|id| {
                if d.kind == REJECTION {
                    let study = d.study.clone().unwrap_or_default();
                    self.attempt_rejection(id, &d.archive, &study, d.instances.clone())
                } else {
                    self.attempt_delivery(id, &d.archive)
                }
            });
            match tried {
                Ok(record) => out.push(record),
                // One record that cannot even be tried (its report unreadable here now, the
                // store busy) is marked tried and backs off like a failed send: it neither
                // stops the others nor stays due, which would make the node's loop spin.
                Err(e) => {
                    tracing::warn!(archive = %d.archive, kind = %d.kind, error = %e.loggable(), "a delivery could not be tried");
                    out.push(self.note_not_tried(d, &e)?);
                }
            }
        }
        Ok(out)
    }

    /// Records that `d` was due but could not be tried, with why.
    fn note_not_tried(&mut self, d: DeliveryRecord, e: &AppError) -> Result<DeliveryRecord> {
        let record = DeliveryRecord {
            attempts: d.attempts.saturating_add(1),
            last_ms: crate::home::now_ms(),
            error_code: Some(e.code().to_string()),
            error: Some(e.to_string()),
            ..d
        };
        let kept = record.clone();
        self.update_records(move |list| {
            if let Some(r) = list
                .iter_mut()
                .find(|r| r.is(&kept.kind, &kept.report, &kept.archive) && r.state == "failed")
            {
                *r = kept;
            }
        })?;
        Ok(record)
    }

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

    /// Reads, changes and writes back the delivery list, bounded: the oldest delivered
    /// records go first, failed ones only past the bound.
    ///
    /// Read and written in one write transaction: a `serve` node retrying by itself and a
    /// `deliveries --retry` from the shell may record outcomes at the same moment, and neither
    /// may lose the other's.
    fn update_records(&mut self, change: impl FnOnce(&mut Vec<DeliveryRecord>)) -> Result<()> {
        self.store_mut().write(|db| -> Result<()> {
            let mut list: Vec<DeliveryRecord> = match db.meta(DELIVERIES_META)? {
                None => Vec::new(),
                Some(json) => serde_json::from_str(&json).map_err(|e| {
                    AppError::InvalidInput(format!("the home's delivery list is damaged: {e}"))
                })?,
            };
            change(&mut list);
            while list.len() > MAX_DELIVERIES {
                match list.iter().rposition(|d| d.state == "delivered") {
                    Some(i) => list.remove(i),
                    None => list.remove(list.len() - 1),
                };
            }
            let json = serde_json::to_string(&list)
                .map_err(|e| AppError::InvalidInput(format!("encoding the delivery list: {e}")))?;
            db.set_meta(DELIVERIES_META, &json)?;
            Ok(())
        })
    }

    pub(crate) fn attempt_delivery(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
    ) -> Result<DeliveryRecord> {
        let outcome = self.send_report(report, archive);
        self.record_delivery(report, archive, outcome)
    }

    /// Records what became of sending `report` to `archive`, keeping every instance the
    /// archive was sent before.
    fn record_delivery(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
        outcome: Result<Delivery>,
    ) -> Result<DeliveryRecord> {
        let key = report.to_string();
        let just_sent = outcome.as_ref().map(|d| (d.sent.clone(), d.version)).ok();
        let previous = self
            .deliveries()?
            .into_iter()
            .find(|d| d.is(DELIVERY, &key, archive));
        let attempts = previous
            .as_ref()
            .map_or(0, |p| p.attempts)
            .saturating_add(1);
        // What the archive holds of the report: what it held, and what was sent now.
        let mut instances = match &previous {
            Some(p) => p.known_instances(&self.report_show(report)?),
            None => Vec::new(),
        };
        let record = match outcome {
            Ok(sent) => {
                for i in sent.sent {
                    if !instances.contains(&i) {
                        instances.push(i);
                    }
                }
                DeliveryRecord {
                    report: key.clone(),
                    archive: archive.to_string(),
                    state: "delivered".into(),
                    sop_instance: Some(sent.sop_instance),
                    pdf_sop_instance: Some(sent.pdf_sop_instance),
                    attempts,
                    last_ms: crate::home::now_ms(),
                    error_code: None,
                    error: None,
                    kind: DELIVERY.into(),
                    study: Some(sent.study),
                    instances: Vec::new(),
                }
            }
            Err(e) => {
                tracing::warn!(archive, report = %report, error = %e.loggable(), "delivery failed");
                DeliveryRecord {
                    report: key.clone(),
                    archive: archive.to_string(),
                    state: "failed".into(),
                    sop_instance: None,
                    pdf_sop_instance: None,
                    attempts,
                    last_ms: crate::home::now_ms(),
                    error_code: Some(e.code().to_string()),
                    error: Some(e.to_string()),
                    kind: DELIVERY.into(),
                    study: previous.as_ref().and_then(|p| p.study.clone()),
                    instances: Vec::new(),
                }
            }
        };
        // Bounded: the oldest versions first (a report of more than a hundred versions).
        let excess = instances.len().saturating_sub(MAX_SENT);
        instances.drain(..excess);
        let record = DeliveryRecord {
            instances,
            ..record
        };
        let kept = record.clone();
        self.update_records(move |list| {
            list.retain(|d| !d.is(DELIVERY, &key, archive));
            list.insert(0, kept);
        })?;
        if let Some((sent, Some(version))) = just_sent.filter(|(s, _)| !s.is_empty()) {
            self.sign_delivered(report, archive, version, &sent);
        }
        Ok(record)
    }

    /// Signs a `report.delivered` for what was just stored on `archive`: the version sent, the
    /// study and the SR's and PDF's UIDs, so every peer's provenance shows where the report
    /// went, who sent it and when. Once per version and archive (sending the same version
    /// again adds nothing on the archive, nor here). A home that cannot sign now (no key
    /// given) keeps the delivery in its list and says so in its log; the delivery stands.
    fn sign_delivered(
        &mut self,
        report: countersign_ledger::EntryId,
        archive: &str,
        version: countersign_ledger::EntryId,
        sent: &[SentInstance],
    ) {
        let signed = (|| -> Result<bool> {
            let view = self.report_show(report)?;
            // Only this home's own records count: archive names are each home's labels, and
            // another member's record (or a forged one) must not stand in for this one.
            let me = self.signer()?.public();
            if view
                .deliveries
                .iter()
                .any(|d| d.by.key == me && d.archive == archive && d.version == version)
            {
                return Ok(false);
            }
            let payload = countersign_report::payload::ReportDelivered {
                archive: archive.to_string(),
                version,
                study: sent[0].study.clone(),
                instances: sent
                    .iter()
                    .take(countersign_report::payload::MAX_DELIVERED_INSTANCES)
                    .map(|i| countersign_report::payload::DeliveredInstance {
                        sop_class: i.sop_class.clone(),
                        sop_instance: i.sop_instance.clone(),
                        series: i.series.clone(),
                    })
                    .collect(),
            };
            let bytes = countersign_report::payload::Payload::to_bytes(&payload);
            self.append_checked(report, countersign_ledger::Kind::ReportDelivered, &bytes)?;
            Ok(true)
        })();
        match signed {
            Ok(true) => tracing::info!(archive, report = %report, "report.delivered signed"),
            Ok(false) => {}
            Err(e) => tracing::warn!(
                archive,
                report = %report,
                error = %e.loggable(),
                "the delivery stands, but no report.delivered was signed"
            ),
        }
    }
}

/// The signed-off version a report reads as now: its newest accepted final sign-off, addendum
/// or resolution (the provenance is in causal order).
fn signed_version(view: &ReportView) -> Option<countersign_ledger::EntryId> {
    use countersign_ledger::Kind;
    view.provenance
        .iter()
        .rev()
        .filter(|p| matches!(p.status, countersign_report::EntryStatus::Verified))
        .find(|p| match p.kind {
            Kind::AddendumWrite | Kind::ReportResolve => true,
            Kind::ReportStatus => view.signoffs.iter().any(|s| s.entry == p.entry),
            _ => false,
        })
        .map(|p| p.entry)
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    fn failed(attempts: u32, last_ms: u64) -> DeliveryRecord {
        DeliveryRecord {
            report: "r".into(),
            archive: "a".into(),
            state: "failed".into(),
            sop_instance: None,
            pdf_sop_instance: None,
            attempts,
            last_ms,
            error_code: Some("pacs_unreachable".into()),
            error: None,
            kind: DELIVERY.into(),
            study: None,
            instances: Vec::new(),
        }
    }

    #[test]
    fn the_wait_doubles_with_each_failure_up_to_an_hour() {
        let waits: Vec<u64> = (1..=9)
            .map(|n| backoff(n, FIRST_BACKOFF).as_secs())
            .collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        // No overflow however many times it failed, and never under the first wait.
        assert_eq!(backoff(u32::MAX, FIRST_BACKOFF), MAX_BACKOFF);
        assert_eq!(backoff(0, FIRST_BACKOFF), FIRST_BACKOFF);
        let long = Duration::from_secs(7200);
        assert_eq!(backoff(3, long), long);
    }

    #[test]
    fn a_failed_record_is_due_after_its_backoff_and_a_delivered_one_never() {
        let first = Duration::from_millis(300);
        assert_eq!(failed(1, 1_000).due_ms(first), Some(1_300));
        assert_eq!(failed(3, 1_000).due_ms(first), Some(2_200));
        assert_eq!(failed(2, u64::MAX).due_ms(first), Some(u64::MAX));
        let delivered = DeliveryRecord {
            state: "delivered".into(),
            ..failed(1, 1_000)
        };
        assert_eq!(delivered.due_ms(first), None);
    }
}
