//! The AI audit package (`ai audit export`): what an auditor of AI contribution takes away —
//! the EU AI Act's record-keeping (Art. 12) and human oversight (Art. 14) in two files.
//!
//! - [`provenance`]: a FHIR R4 Bundle (type `collection`) with one Provenance per AI result
//!   (a model's own `ai.result`, or an `ai.received` SR attested by a member). The AI is an
//!   agent whose `who` is a Device (vendor, model, version; for a received SR the SR's
//!   device), typed `author` in R4's provenance-participant-type plus `DEV` (device) in HL7
//!   v3 ParticipationType; a member who attested receipt of an SR is the `enterer`, never the
//!   author; the human who reviewed it is the `verifier`. The decision is the `activity`,
//!   coded in `urn:countersign:ai-oversight` (`accepted`, `edited`, `rejected`,
//!   `unreviewed`). `target` names the report (`urn:countersign:report`), the AI entry and,
//!   once reviewed, the review entry (`urn:countersign:entry`); `signature` carries the
//!   ed25519 signature of each, as the report export writes them (one way of writing FHIR:
//!   the helpers are [`crate::fhir`]'s). The Devices, Practitioners and the department's
//!   Organization are in the bundle; no patient data is.
//! - [`summary_pdf`]: the `ai stats` figures per model and version, the selection, who
//!   exported it when, and the entries left out for failing verification — laid out by the
//!   report PDF's writer from [`Block`]s.
//!
//! Pure: the caller gathers the views, the figures and the signatures; bytes come back.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Kind};
use countersign_report::oversight::{words_changed, AiStats};
use countersign_report::payload::Decision;
use countersign_report::{AiView, Author, EntryStatus};
use serde_json::{json, Value};

use crate::document::{status_word, who, Block};
use crate::fhir::{
    model_device, organization, participant, practitioner, provenance_agent, signature, uuid,
};
use crate::time::{date_time, readable};

mod summary;
pub use summary::{summary_document, summary_pdf};

/// What the auditor asked for, in their words (what the summary repeats).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSelection {
    pub model: Option<String>,
    /// `YYYY-MM-DD`, as given.
    pub since: Option<String>,
    pub modality: Option<String>,
}

/// One AI result of a selected report.
#[derive(Debug, Clone)]
pub struct AuditResult {
    pub report: EntryId,
    pub ai: AiView,
}

/// Everything the audit package is made from.
#[derive(Debug, Clone)]
pub struct AuditInput {
    /// Every AI result of the selected reports that the selection admits (the same ones the
    /// figures are computed from, plus those that fail verification, flagged).
    pub results: Vec<AuditResult>,
    /// The figures over the same results (`ai stats`).
    pub stats: AiStats,
    pub selection: AuditSelection,
    /// The department network: its genesis id and name.
    pub network: EntryId,
    pub network_name: String,
    /// The member who exported it.
    pub exported_by: Author,
    /// When (ms since the epoch).
    pub exported_ms: u64,
    /// The ed25519 signature of every AI entry and review, by entry id.
    pub signatures: BTreeMap<EntryId, [u8; 64]>,
}

impl AuditInput {
    /// The reports that hold at least one of the results.
    pub fn reports(&self) -> usize {
        self.results
            .iter()
            .map(|r| r.report)
            .collect::<std::collections::BTreeSet<_>>()
            .len()
    }
}

/// The code system of the human-oversight outcome recorded as each Provenance's `activity`.
pub const OVERSIGHT_SYSTEM: &str = "urn:countersign:ai-oversight";

/// The outcome of human oversight of one result, as a code and its display: unreviewed until
/// a review that verifies exists (as the figures count it).
fn outcome(ai: &AiView) -> (&'static str, &'static str) {
    match ai
        .review
        .as_ref()
        .filter(|r| r.status == EntryStatus::Verified)
    {
        Some(r) => match r.decision {
            Decision::Accept => ("accepted", "Accepted by a human reviewer"),
            Decision::Edit => ("edited", "Edited by a human reviewer before use"),
            Decision::Reject => ("rejected", "Rejected by a human reviewer"),
        },
        None => ("unreviewed", "Not reviewed by a human yet"),
    }
}

/// Keys of the bundle's resources: seeds for their UUIDs.
fn device_key(ai: &AiView) -> String {
    match &ai.received {
        Some(r) => {
            let d = &r.attestation.device;
            format!(
                "device/sr/{}/{}/{}/{}",
                d.manufacturer,
                d.model,
                r.attestation.version(),
                d.serial.as_deref().unwrap_or_default()
            )
        }
        None => format!("device/{}", ai.author.key),
    }
}

fn device_resource(ai: &AiView) -> Value {
    match (&ai.received, &ai.author.ai_model) {
        (Some(r), _) => {
            let d = &r.attestation.device;
            let mut device = json!({
                "resourceType": "Device",
                "manufacturer": d.manufacturer,
                "deviceName": [{ "name": d.model, "type": "model-name" }],
                "version": [{ "value": r.attestation.version() }],
                // Not a roster member: what the SR says of itself, attested on receipt.
                "note": [{ "text": format!("Named by a DICOM SR ({}), {}", r.attestation.sop_instance, r.statement) }],
            });
            if let Some(serial) = &d.serial {
                device["serialNumber"] = json!(serial);
            }
            if let Some(uid) = d.observer.as_ref().and_then(|o| o.uid.as_ref()) {
                device["identifier"] =
                    json!([{ "system": "urn:dicom:uid", "value": format!("urn:oid:{uid}") }]);
            }
            device
        }
        (None, Some(m)) => model_device(&ai.author.key, m),
        // A key the roster does not know as a model: what the signed result names.
        (None, None) => json!({
            "resourceType": "Device",
            "identifier": [crate::fhir::key_identifier(&ai.author.key)],
            "deviceName": [{ "name": ai.result.model, "type": "model-name" }],
            "version": [{ "value": ai.result.version }],
        }),
    }
}

fn entry_target(id: &EntryId, kind: Kind) -> Value {
    json!({
        "identifier": { "system": "urn:countersign:entry", "value": id.to_hex() },
        "display": kind.name(),
    })
}

/// The Provenance Bundle, pretty-printed JSON (see the module docs).
pub fn provenance(input: &AuditInput) -> Vec<u8> {
    let seed = |what: &str| uuid(&format!("audit/{}/{what}", input.network));
    let reference = |what: &str| json!({ "reference": format!("urn:uuid:{}", seed(what)) });
    let mut resources: BTreeMap<String, Value> = BTreeMap::new();
    resources.insert(
        "organization".into(),
        organization(&input.network, &input.network_name),
    );
    let org = reference("organization");
    let mut provenances = Vec::new();
    for AuditResult { report, ai } in &input.results {
        let kind = if ai.received.is_some() {
            Kind::AiReceived
        } else {
            Kind::AiResult
        };
        let device = device_key(ai);
        resources
            .entry(device.clone())
            .or_insert_with(|| device_resource(ai));
        let device_ref = reference(&device);
        let mut targets = vec![
            json!({
                "type": "DiagnosticReport",
                "identifier": { "system": "urn:countersign:report", "value": report.to_hex() },
            }),
            entry_target(&ai.entry, kind),
        ];
        // The AI authored the result's content: the model signed it, or the SR's device
        // wrote it. Typed device as well, for readers that look for one.
        let mut device_agent = provenance_agent("author", "Author", &device_ref, &org);
        device_agent["type"]["coding"]
            .as_array_mut()
            .expect("an agent's type has codings")
            .push(json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                "code": "DEV",
                "display": "device"
            }));
        let mut agents = vec![device_agent];
        let mut signatures = Vec::new();
        let signer = match &ai.received {
            // Receipt is attested by a member: the enterer, never the author.
            Some(_) => {
                let person = format!("practitioner/{}", ai.author.key);
                resources
                    .entry(person.clone())
                    .or_insert_with(|| practitioner(&ai.author));
                let (code, display) = participant(Kind::AiReceived);
                agents.push(provenance_agent(code, display, &reference(&person), &org));
                reference(&person)
            }
            None => device_ref.clone(),
        };
        if let Some(sig) = input.signatures.get(&ai.entry) {
            signatures.push(signature(kind, ai.time_ms, &signer, sig));
        }
        let (code, display) = outcome(ai);
        let mut activity_text = format!("{}: {code}", kind.name());
        let mut standing = Vec::new();
        if ai.status != EntryStatus::Verified {
            standing.push(format!(
                "{}: {}; left out of the figures",
                kind.name(),
                status_word(&ai.status, None)
            ));
        }
        match &ai.review {
            Some(r) if r.status == EntryStatus::Verified => {
                let person = format!("practitioner/{}", r.reviewer.key);
                resources
                    .entry(person.clone())
                    .or_insert_with(|| practitioner(&r.reviewer));
                let verifier = reference(&person);
                let mut agent = provenance_agent("verifier", "Verifier", &verifier, &org);
                agent["role"] = json!([{
                    "coding": [{ "system": OVERSIGHT_SYSTEM, "code": code, "display": display }]
                }]);
                agents.push(agent);
                targets.push(entry_target(&r.entry, Kind::AiReview));
                if let Some(sig) = input.signatures.get(&r.entry) {
                    signatures.push(signature(Kind::AiReview, r.time_ms, &verifier, sig));
                }
                activity_text.push_str(&format!(
                    " by {} at {}",
                    crate::document::named(&r.reviewer),
                    readable(r.time_ms)
                ));
                if r.decision == Decision::Edit {
                    let changed =
                        words_changed(&ai.result.text, r.text.as_deref().unwrap_or_default());
                    activity_text.push_str(&format!(" ({changed} words changed)"));
                }
            }
            // A review that does not verify is no oversight: the result reads as unreviewed,
            // as in the figures, and the review is named so nobody wonders where it went.
            Some(r) => standing.push(format!(
                "review {}: {}; not counted as a review",
                r.entry,
                status_word(&r.status, None)
            )),
            None => {}
        }
        let mut entities: Vec<Value> = match &ai.received {
            Some(r) => vec![json!({
                "role": "source",
                "what": {
                    "identifier": { "system": "urn:dicom:uid", "value": format!("urn:oid:{}", r.attestation.sop_instance) },
                    "display": format!("DICOM SR, SHA-256 {}", r.attestation.sr_sha256),
                }
            })],
            None => Vec::new(),
        };
        // The images the model read, by the SHA-256 the result signs (Art. 12: the input data).
        entities.extend(ai.result.inputs.iter().map(|sha| {
            json!({
                "role": "source",
                "what": { "identifier": { "system": "urn:countersign:image-sha256", "value": sha } }
            })
        }));
        let mut prov = json!({
            "resourceType": "Provenance",
            "target": targets,
            "recorded": date_time(ai.time_ms),
            "policy": ["urn:countersign:entry:v1"],
            "activity": {
                "coding": [{ "system": OVERSIGHT_SYSTEM, "code": code, "display": display }],
                "text": activity_text,
            },
            "agent": agents,
        });
        if !entities.is_empty() {
            prov["entity"] = Value::Array(entities);
        }
        if !signatures.is_empty() {
            prov["signature"] = Value::Array(signatures);
        }
        if !standing.is_empty() {
            prov["extension"] = json!([{
                "url": "urn:countersign:entry-standing",
                "valueString": standing.join("; "),
            }]);
        }
        provenances.push((format!("provenance/{}", ai.entry), prov));
    }
    let entries: Vec<Value> = resources
        .into_iter()
        .chain(provenances)
        .map(|(what, mut resource)| {
            resource["id"] = json!(seed(&what));
            json!({ "fullUrl": format!("urn:uuid:{}", seed(&what)), "resource": resource })
        })
        .collect();
    let bundle = json!({
        "resourceType": "Bundle",
        "id": seed(&format!("bundle/{}", input.exported_ms)),
        "identifier": { "system": "urn:countersign:ai-audit", "value": seed(&format!("export/{}", input.exported_ms)) },
        "type": "collection",
        "timestamp": date_time(input.exported_ms),
        "entry": entries,
    });
    let mut out = serde_json::to_vec_pretty(&bundle).expect("JSON values always serialise");
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests;
