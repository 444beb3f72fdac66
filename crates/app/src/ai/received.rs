//! `ai import`: an AI result that arrived as a DICOM SR, attested by this home's member. The SR
//! is decoded by [`countersign_imaging::sr`] (bounded, untrusted); the entry it becomes is
//! judged by the report rules like any other (`ai.received`: a person attests, the study is the
//! report's). Nothing is stored unless every check passes.

use std::path::Path;

use countersign_imaging::sr::{self, StructuredReport};
use countersign_ledger::{EntryId, Kind};
use countersign_report::payload::{
    AiReceived, SrCode, SrDevice, SrFinding, SrMeasurement, SrObserver,
};
use serde::Serialize;
use sha2::Digest;

use crate::error::{AppError, Result};
use crate::home::{json, Home};

/// What `ai import` signed.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedSr {
    pub entry: EntryId,
    pub sr_sha256: String,
    pub model: String,
    pub version: String,
    pub manufacturer: String,
    pub measurements: usize,
    pub findings: usize,
    /// "received as DICOM SR from `<device>` `<version>`, attested by `<member>`".
    pub statement: String,
}

/// What receiving one SR came to, as a pass over many (a drop folder, a study on the
/// archive) counts it.
pub(crate) enum Receipt {
    Received(ReceivedSr),
    /// Received before (`sr_already_received`): one result, however often it is delivered.
    Duplicate(AppError),
    /// The SR's own fault: refused, and the pass goes on.
    Refused(AppError),
}

impl Receipt {
    /// Sorts the outcome of receiving one SR. Local trouble (the disk, the database) is not
    /// the SR's fault and is returned: the pass stops, and the SR is left for the next.
    pub(crate) fn of(outcome: Result<ReceivedSr>) -> Result<Receipt> {
        match outcome {
            Ok(received) => Ok(Receipt::Received(received)),
            Err(e @ AppError::SrAlreadyReceived(_)) => Ok(Receipt::Duplicate(e)),
            Err(e @ (AppError::Io { .. } | AppError::Store(_))) => Err(e),
            Err(e) => Ok(Receipt::Refused(e)),
        }
    }
}

impl Home {
    /// Reads the SR at `path` and signs, with this home's key, that it was received: its
    /// SHA-256, the device, its measurements and findings, proposed for `section` (default
    /// `findings`). Refused with `sr_too_large`, `sr_not_sr`, `sr_malformed`,
    /// `sr_wrong_study` or `sr_already_received`, nothing stored.
    ///
    /// With no `report`, the SR's study chooses it: the one report this home holds on that
    /// study (`not_found` when there is none, `invalid_input` naming them when there are
    /// several).
    pub fn ai_import(
        &mut self,
        report: Option<EntryId>,
        path: &Path,
        section: Option<&str>,
    ) -> Result<ReceivedSr> {
        let (sr_sha256, parsed) = read_sr(path)?;
        self.ai_receive(report, sr_sha256, parsed, section)
    }

    /// The one report this home holds on `study`, for an SR that arrived without one named.
    fn report_on_study(&self, study: &str) -> Result<EntryId> {
        let reports = self.store().db().summaries_of_study(study)?;
        match reports.as_slice() {
            [one] => Ok(one.report),
            [] => Err(AppError::NotFound {
                what: format!("a report on study {study} (the SR's) in this home"),
            }),
            many => Err(AppError::InvalidInput(format!(
                "{} reports are on study {study}: name the one this SR is for with --report ({})",
                many.len(),
                many.iter()
                    .map(|r| r.report.to_hex())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Signs the receipt of the decoded SR `parsed` (whose file hashes to `sr_sha256`) into
    /// `report` (`None`: the one on the SR's study), after the checks [`Home::ai_import`]
    /// names. Every way an SR arrives (a file, a drop folder, the archive) comes here.
    pub(crate) fn ai_receive(
        &mut self,
        report: Option<EntryId>,
        sr_sha256: String,
        parsed: StructuredReport,
        section: Option<&str>,
    ) -> Result<ReceivedSr> {
        let report = match report {
            Some(r) => r,
            None => self.report_on_study(&parsed.study)?,
        };
        let view = self.report_show(report)?;
        if parsed.study != view.study {
            return Err(AppError::SrWrongStudy(format!(
                "the SR is about study {}, and report {report} is about study {}: nothing stored",
                parsed.study, view.study
            )));
        }
        // Wrong-patient safety beside the study's: an SR naming another Patient ID than the
        // study's images held here (an archive or a device that mixed studies up) is not
        // attested into this patient's report. Nothing to hold it to when no image is here.
        if let Some(sr_patient) = parsed.patient_id.as_deref().map(str::trim) {
            let held: std::collections::BTreeSet<String> = self
                .store()
                .db()
                .instances(Some(&view.study))?
                .into_iter()
                .filter_map(|i| i.patient_id.map(|p| p.trim().to_string()))
                .collect();
            if !held.is_empty() && !held.contains(sr_patient) {
                return Err(AppError::WrongPatient(format!(
                    "the SR names another Patient ID than the images of study {} held here: \
                     nothing stored",
                    view.study
                )));
            }
        }
        // The same file delivered twice is one result: counting it twice would skew the
        // model's record.
        if let Some(earlier) = view.ai.iter().find(|a| {
            a.received
                .as_ref()
                .is_some_and(|r| r.attestation.sr_sha256 == sr_sha256)
        }) {
            return Err(AppError::SrAlreadyReceived(format!(
                "this SR (SHA-256 {sr_sha256}) was already received into report {report} as \
                 entry {}: nothing stored",
                earlier.entry
            )));
        }
        let mut payload = attestation(parsed, sr_sha256, section.unwrap_or("findings"))?;
        payload.text = AiReceived::proposal(
            &payload.device_words(),
            &payload.measurements,
            &payload.findings,
        );
        let entry = self.append_checked(report, Kind::AiReceived, &json(&payload))?;
        let me = self.whoami()?;
        tracing::info!(report = %report, entry = %entry, "AI result received as DICOM SR");
        Ok(ReceivedSr {
            entry,
            statement: payload.statement(&me.name),
            version: payload.version(),
            model: payload.device.model,
            manufacturer: payload.device.manufacturer,
            measurements: payload.measurements.len(),
            findings: payload.findings.len(),
            sr_sha256: payload.sr_sha256,
        })
    }
}

/// The SR file at `path`, read within its bound and decoded, with its SHA-256.
pub(crate) fn read_sr(path: &Path) -> Result<(String, StructuredReport)> {
    let bytes = sr::read_sr_file(path).map_err(AppError::Sr)?;
    let sr_sha256 = hex::encode(sha2::Sha256::digest(&bytes));
    let parsed = sr::parse_sr(&bytes).map_err(AppError::Sr)?;
    Ok((sr_sha256, parsed))
}

fn code(c: sr::Code) -> SrCode {
    SrCode {
        value: c.value,
        scheme: c.scheme,
        meaning: c.meaning,
    }
}

/// The `ai.received` payload of a decoded SR (its text left for the caller to write). The
/// device is the equipment module's, completed from the device observer context where the
/// module is silent; an SR that names no model at all is not attributable and is refused.
fn attestation(sr: StructuredReport, sr_sha256: String, section: &str) -> Result<AiReceived> {
    let observer = sr.observer.map(|o| SrObserver {
        uid: o.uid,
        name: o.name,
        manufacturer: o.manufacturer,
        model: o.model,
        serial: o.serial,
    });
    let from_observer =
        |f: fn(&SrObserver) -> Option<&String>| observer.as_ref().and_then(f).cloned();
    let model = sr
        .equipment
        .model
        .or_else(|| from_observer(|o| o.model.as_ref()))
        .or_else(|| from_observer(|o| o.name.as_ref()))
        .ok_or_else(|| {
            AppError::Sr(sr::SrError::Malformed(
                "it names no device: neither Manufacturer's Model Name (0008,1090) nor a \
                 device observer's model or name"
                    .into(),
            ))
        })?;
    let manufacturer = sr
        .equipment
        .manufacturer
        .or_else(|| from_observer(|o| o.manufacturer.as_ref()))
        .unwrap_or_default();
    Ok(AiReceived {
        sr_sha256,
        sop_class: sr.sop_class,
        sop_instance: sr.sop_instance,
        study: sr.study,
        device: SrDevice {
            manufacturer,
            model,
            software_versions: sr.equipment.software_versions,
            serial: sr.equipment.serial,
            observer,
        },
        measurements: sr
            .measurements
            .into_iter()
            .map(|m| SrMeasurement {
                concept: code(m.concept),
                value: m.value,
                units: m.units.map(code),
                references: m.references,
            })
            .collect(),
        findings: sr
            .findings
            .into_iter()
            .map(|f| SrFinding {
                concept: code(f.concept),
                value: code(f.value),
                references: f.references,
            })
            .collect(),
        references: sr.references,
        section: section.to_string(),
        text: String::new(),
    })
}
