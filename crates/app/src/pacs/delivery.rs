//! Sending a signed-off report's SR back to an archive (`deliver`, and store-back on sign-off),
//! with a bounded record of every delivery for retry.

use super::*;

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
}

impl Home {
    /// Sends a signed-off report's DICOM SR, then its PDF as a DICOM Encapsulated PDF (for
    /// the viewers that show no SR), to an archive, into the study of its images (STOW-RS or
    /// C-STORE). Only a final (or amended) report goes; the same version sent
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
        Ok(Delivery {
            archive: config.name.clone(),
            report: report.to_string(),
            study: view.study.clone(),
            sop_instance: file.sop_instance.clone(),
            bytes: sr.len() as u64,
            pdf_sop_instance: pdf_file.sop_instance.clone(),
            pdf_bytes: pdf.len() as u64,
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

    pub(crate) fn attempt_delivery(
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
                pdf_sop_instance: Some(sent.pdf_sop_instance),
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
                    pdf_sop_instance: None,
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
