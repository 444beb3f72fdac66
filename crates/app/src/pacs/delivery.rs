//! Sending a signed-off report's SR back to an archive (`deliver`, and store-back on sign-off),
//! with a bounded record of every delivery for retry — and of every instance each archive was
//! sent, in which study, so a report moved to another patient's study is corrected there by an
//! IHE IOCM rejection note (see [`Home::correct_archives`]).

use countersign_report::ReportView;

use super::*;

/// A record's kind: the report's SR and PDF sent into its study.
pub const DELIVERY: &str = "delivery";
/// A record's kind: the IOCM rejection note sent into a study the report was wrongly filed in.
pub const REJECTION: &str = "rejection";
/// The state of a delivery asked for and not yet tried: written before the first send, so a
/// report signed off is never only a message in memory (an app that quits, a key that locks,
/// a send that crashes leave it queued, and the next delivery pass sends it).
pub const QUEUED: &str = "queued";
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
        // One reading of the report for everything sent and recorded: the SR, the PDF and the
        // version and study the delivery names. Read once each, a section or a move taken in
        // by sync during the SR's upload went into the PDF but not the SR, and the record
        // named the version before it (found by review, 2026-12-04).
        let input = self.export_input(report)?;
        let view = input.view.clone();
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
        let sr = self.render_export(report, input.clone(), crate::ExportFormat::Sr)?;
        let file = countersign_pacs::Part10::parse(&sr).map_err(|e| config.error(e))?;
        client
            .store(&view.study, &file)
            .map_err(|e| config.error(e))?;
        let pdf = self.render_export(report, input, crate::ExportFormat::PdfDicom)?;
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

impl DeliveryRecord {
    pub(super) fn is(&self, kind: &str, report: &str, archive: &str) -> bool {
        self.kind == kind && self.report == report && self.archive == archive
    }

    /// The instances a delivery record knows were sent. A record from before they were kept
    /// names only the last SR and PDF: they are taken to be in the study `view` is about, with
    /// the series of that view — right while the report was never moved (`view` is then
    /// how it read when they were sent), unknowable after, and then nothing is claimed.
    pub(super) fn known_instances(&self, view: &ReportView) -> Vec<SentInstance> {
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
        let targets = self.queue_store_back(report)?;
        let mut out = Vec::new();
        for archive in targets {
            out.push(self.attempt_delivery(report, &archive)?);
        }
        Ok(out)
    }

    /// Queues `report` for every archive configured with store-back (a [`QUEUED`] record each,
    /// due at once, keeping what an earlier record knew the archive holds) and returns their
    /// names. [`Home::store_back`] then sends at once; the desktop leaves the sending to its
    /// delivery thread (see [`crate::pacs::deliver_until_stopped`]), which the record survives.
    pub fn queue_store_back(&mut self, report: countersign_ledger::EntryId) -> Result<Vec<String>> {
        let targets: Vec<String> = self
            .pacs_list()?
            .into_iter()
            .filter(|a| a.store_back)
            .map(|a| a.name)
            .collect();
        if targets.is_empty() {
            return Ok(targets);
        }
        let key = report.to_string();
        let now = crate::home::now_ms();
        let queued = targets.clone();
        self.update_records(move |list| {
            for archive in &queued {
                let previous = list
                    .iter()
                    .position(|d| d.is(DELIVERY, &key, archive))
                    .map(|i| list.remove(i));
                let record = match previous {
                    Some(p) => DeliveryRecord {
                        state: QUEUED.into(),
                        last_ms: now,
                        error_code: None,
                        error: None,
                        ..p
                    },
                    None => DeliveryRecord {
                        report: key.clone(),
                        archive: archive.clone(),
                        state: QUEUED.into(),
                        sop_instance: None,
                        pdf_sop_instance: None,
                        attempts: 0,
                        last_ms: now,
                        error_code: None,
                        error: None,
                        kind: DELIVERY.into(),
                        study: None,
                        instances: Vec::new(),
                    },
                };
                list.insert(0, record);
            }
        })?;
        Ok(targets)
    }

    /// Reads, changes and writes back the delivery list, bounded: the oldest delivered
    /// records go first, failed ones only past the bound.
    ///
    /// Read and written in one write transaction: a `serve` node retrying by itself and a
    /// `deliveries --retry` from the shell may record outcomes at the same moment, and neither
    /// may lose the other's.
    pub(super) fn update_records(
        &mut self,
        change: impl FnOnce(&mut Vec<DeliveryRecord>),
    ) -> Result<()> {
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
        // A record from before instances were kept is read against the report as it reads
        // now (`known_instances`); read here, as the list is changed under the write lock.
        let legacy = self
            .deliveries()?
            .into_iter()
            .find(|d| d.is(DELIVERY, &key, archive))
            .is_some_and(|p| {
                p.instances.is_empty() && (p.sop_instance.is_some() || p.pdf_sop_instance.is_some())
            });
        let view = if legacy {
            Some(self.report_show(report)?)
        } else {
            None
        };
        let now = crate::home::now_ms();
        let record = match outcome {
            Ok(sent) => DeliveryRecord {
                report: key.clone(),
                archive: archive.to_string(),
                state: "delivered".into(),
                sop_instance: Some(sent.sop_instance),
                pdf_sop_instance: Some(sent.pdf_sop_instance),
                attempts: 0,
                last_ms: now,
                error_code: None,
                error: None,
                kind: DELIVERY.into(),
                study: Some(sent.study),
                instances: sent.sent,
            },
            Err(e) => {
                tracing::warn!(archive, report = %report, error = %e.loggable(), "delivery failed");
                DeliveryRecord {
                    report: key.clone(),
                    archive: archive.to_string(),
                    state: "failed".into(),
                    sop_instance: None,
                    pdf_sop_instance: None,
                    attempts: 0,
                    last_ms: now,
                    error_code: Some(e.code().to_string()),
                    error: Some(e.to_string()),
                    kind: DELIVERY.into(),
                    study: None,
                    instances: Vec::new(),
                }
            }
        };
        // Merged with the record as it stands under the write lock, not as read before the
        // send: another process of the home (a `serve` node's delivery thread beside
        // `report finalize --store-back`) may have recorded what it sent meanwhile, and its
        // instances must stay known, or a later move would leave them in the wrong study
        // (found by review, 2026-12-04).
        let mut merged = None;
        self.update_records(|list| {
            let previous = list
                .iter()
                .position(|d| d.is(DELIVERY, &key, archive))
                .map(|i| list.remove(i));
            let attempts = previous
                .as_ref()
                .map_or(0, |p| p.attempts)
                .saturating_add(1);
            // What the archive holds of the report: what it held, and what was sent now.
            let mut instances = match (&previous, &view) {
                (Some(p), Some(view)) => p.known_instances(view),
                (Some(p), None) => p.instances.clone(),
                (None, _) => Vec::new(),
            };
            for i in &record.instances {
                if !instances.contains(i) {
                    instances.push(i.clone());
                }
            }
            // Bounded: the oldest versions first (a report of more than a hundred versions).
            let excess = instances.len().saturating_sub(MAX_SENT);
            instances.drain(..excess);
            let study = match &record.study {
                Some(s) => Some(s.clone()),
                None => previous.as_ref().and_then(|p| p.study.clone()),
            };
            let kept = DeliveryRecord {
                attempts,
                instances,
                study,
                ..record.clone()
            };
            list.insert(0, kept.clone());
            merged = Some(kept);
        })?;
        let record = merged.unwrap_or(record);
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
                rejection_note: None,
            };
            let bytes = countersign_report::payload::Payload::to_bytes(&payload);
            let kind = countersign_ledger::Kind::ReportDelivered;
            countersign_report::payload::Payload::parse(kind, &bytes)
                .map_err(|e| AppError::InvalidInput(e.to_string()))?;
            // Judged under the write lock, where a delivery another process of this home
            // signed meanwhile is seen. Only this home's own records count: archive names are
            // each home's labels, and another member's record (or a forged one) must not stand
            // in for this one.
            let key = self.signer()?;
            let me = key.public();
            let signed = self.append_unless(&key, Some(report), kind, &bytes, |log| {
                log.delivered_by(&me, archive, &version)
            })?;
            Ok(signed.is_some())
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
pub(super) fn signed_version(view: &ReportView) -> Option<countersign_ledger::EntryId> {
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
impl SentInstance {
    /// A Comprehensive SR of study 1.2.3, as a delivery sends one.
    pub(crate) fn comprehensive_sr() -> SentInstance {
        SentInstance {
            study: "1.2.3".into(),
            series: "2.25.9".into(),
            sop_class: "1.2.840.10008.5.1.4.1.1.88.33".into(),
            sop_instance: "2.25.1".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by review (2026-12-04), fixed with the record merged under the write lock: an
    /// outcome recorded as the copy read before the send dropped what another process of the
    /// home (a `serve` node's delivery thread) recorded meanwhile — the instances the archive
    /// holds, which a later move of the report must find. Fails if the outcome stops being
    /// merged with the record as it stands.
    #[test]
    fn a_delivery_outcome_keeps_what_another_process_recorded_while_it_was_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let report = countersign_ledger::EntryId::from_slice(&[7; 32]).unwrap();
        let sent = SentInstance::comprehensive_sr();
        let mut other = crate::tests::open_home(dir.path()).unwrap();
        other
            .update_records(|list| {
                list.push(DeliveryRecord {
                    report: report.to_string(),
                    archive: "pacs".into(),
                    state: "delivered".into(),
                    sop_instance: Some("2.25.1".into()),
                    pdf_sop_instance: None,
                    attempts: 1,
                    last_ms: 1_000,
                    error_code: None,
                    error: None,
                    kind: DELIVERY.into(),
                    study: Some("1.2.3".into()),
                    instances: vec![sent.clone()],
                })
            })
            .unwrap();
        let outcome = Err(AppError::InvalidInput("the archive is down".into()));
        let record = home.record_delivery(report, "pacs", outcome).unwrap();
        assert_eq!(record.state, "failed");
        assert_eq!(record.attempts, 2);
        assert_eq!(record.instances, vec![sent]);
        assert_eq!(record.study.as_deref(), Some("1.2.3"));
        assert_eq!(home.deliveries().unwrap(), vec![record]);
    }
}
