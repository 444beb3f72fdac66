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
                    r.reviewer.name,
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

fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| format!("{:.1}%", r * 100.0))
}

/// The summary as blocks: the selection, who exported it when, the figures per model and
/// version, drift, and what was left out.
pub fn summary_document(input: &AuditInput) -> Vec<Block> {
    let s = &input.selection;
    let mut doc = vec![
        Block::Title("AI oversight audit".into()),
        Block::Meta(format!(
            "Department {} (network {})",
            input.network_name, input.network
        )),
        Block::Meta(format!(
            "Exported {} by {}, key {}",
            readable(input.exported_ms),
            who(&input.exported_by),
            input.exported_by.key
        )),
        Block::Meta(format!(
            "Selection: model {}; proposals signed since {}; studies of modality {}",
            s.model.as_deref().unwrap_or("any"),
            s.since.as_deref().unwrap_or("the first entry"),
            s.modality.as_deref().unwrap_or("any")
        )),
        Block::Meta(format!(
            "{} AI results in {} reports; {} entries excluded for failing verification",
            input.results.len(),
            input.reports(),
            input.stats.excluded.len()
        )),
    ];
    if input.stats.models.is_empty() {
        doc.push(Block::Para(
            "No AI result that verifies falls in this selection.".into(),
        ));
    }
    for m in &input.stats.models {
        doc.push(Block::Heading(format!(
            "{} {}{}",
            m.model,
            m.version,
            m.vendor
                .as_ref()
                .map_or(String::new(), |v| format!(" by {v}"))
        )));
        let reviewed = m.accepted + m.edited + m.rejected;
        doc.push(Block::Para(format!(
            "{} proposals: {} accepted, {} edited, {} rejected, {} unreviewed.",
            m.proposals, m.accepted, m.edited, m.rejected, m.unreviewed
        )));
        doc.push(Block::Para(format!(
            "Acceptance {} ({} of {reviewed} reviewed, accepted or edited); rejection {}.",
            percent(m.acceptance_rate),
            m.accepted + m.edited,
            percent(m.rejection_rate)
        )));
        doc.push(Block::Para(format!(
            "Words changed by edits: median {}, p90 {}, max {} (over {} edits). Time from \
             proposal to review: median {} s, p90 {} s, max {} s.",
            m.edit_words.p50,
            m.edit_words.p90,
            m.edit_words.max,
            m.edit_words.n,
            m.review_ms.p50 / 1000,
            m.review_ms.p90 / 1000,
            m.review_ms.max / 1000
        )));
        let reviewers: Vec<String> = m
            .reviewers
            .iter()
            .map(|(who, n)| format!("{who}: {n}"))
            .collect();
        if !reviewers.is_empty() {
            doc.push(Block::Note(format!("Reviews by {}", reviewers.join("; "))));
        }
        if !m.unreviewed_results.is_empty() {
            doc.push(Block::Note("Unreviewed:".into()));
            for id in &m.unreviewed_results {
                doc.push(Block::Mono(id.to_hex()));
            }
        }
    }
    if !input.stats.drift.is_empty() {
        doc.push(Block::Heading("Drift between versions".into()));
        for d in &input.stats.drift {
            doc.push(Block::Para(format!(
                "{} {} → {}: acceptance {:.1}% → {:.1}% ({:+.1} points)",
                d.model,
                d.from,
                d.to,
                d.acceptance_from * 100.0,
                d.acceptance_to * 100.0,
                d.change * 100.0
            )));
        }
    }
    doc.push(Block::Heading(format!(
        "Excluded for failing verification: {}",
        input.stats.excluded.len()
    )));
    if input.stats.excluded.is_empty() {
        doc.push(Block::Para(
            "None: every AI result and review in the selection verifies.".into(),
        ));
    }
    for e in &input.stats.excluded {
        doc.push(Block::Para(format!("{} ({})", e.kind, e.reason)));
        doc.push(Block::Mono(e.entry.to_hex()));
    }
    doc.push(Block::Heading("How to read these figures".into()));
    doc.push(Block::Para(
        "Computed from signed entries that verify: a proposal is a model's signed ai.result or \
         an AI result received as DICOM SR and attested by a member (ai.received); a review is a \
         person's signed ai.review. Acceptance counts accepted and edited proposals among those \
         reviewed. An entry that does not verify is left out of every figure and listed above. \
         provenance.json, beside this file, holds one FHIR Provenance per AI result with the \
         signatures; the entries themselves verify offline with the countersign CLI."
            .into(),
    ));
    doc
}

/// The summary as PDF bytes.
pub fn summary_pdf(input: &AuditInput) -> Vec<u8> {
    crate::pdf::render_blocks(
        &summary_document(input),
        &format!("AI oversight audit of {}", input.network_name),
        &format!("AI audit, network {}", &input.network.to_hex()[..16]),
    )
}

#[cfg(test)]
mod tests {
    use countersign_report::oversight::{ai_stats, Filter};
    use countersign_report::payload::{AiReceived, SrCode, SrDevice, SrMeasurement};
    use countersign_report::ReceivedView;

    use super::*;

    /// The example report's AI result (SoftTissue 2.1, edited by Dr Ada), beside the same
    /// result unreviewed, one whose review does not verify, and one received as DICOM SR and
    /// rejected.
    fn input() -> AuditInput {
        let report = crate::example::input();
        let edited = report.view.ai[0].clone();
        let id = |n: u8| countersign_ledger::Hash([n; 32]);
        let mut unreviewed = edited.clone();
        unreviewed.entry = id(1);
        unreviewed.review = None;
        let mut forged_review = edited.clone();
        forged_review.entry = id(2);
        if let Some(r) = forged_review.review.as_mut() {
            r.entry = id(3);
            r.status = EntryStatus::Invalid {
                reason: "signature".into(),
            };
        }
        let attestation = AiReceived {
            sr_sha256: "ab".repeat(32),
            sop_class: "1.2.840.10008.5.1.4.1.1.88.33".into(),
            sop_instance: "2.25.42".into(),
            study: "2.25.999".into(),
            device: SrDevice {
                manufacturer: "Acme AI".into(),
                model: "LungScan".into(),
                software_versions: vec!["2.1.0".into()],
                serial: Some("AC-0042".into()),
                observer: None,
            },
            measurements: vec![SrMeasurement {
                concept: SrCode {
                    value: "81827009".into(),
                    scheme: "SCT".into(),
                    meaning: "Diameter".into(),
                },
                value: "13.2".into(),
                units: None,
                references: vec![],
            }],
            findings: vec![],
            references: vec![],
            section: "findings".into(),
            text: "Diameter: 13.2.".into(),
        };
        let mut received = edited.clone();
        received.entry = id(4);
        // Attested by the reviewer's own home: a person, not the model.
        received.author = edited.review.as_ref().unwrap().reviewer.clone();
        received.result = attestation.as_result();
        received.received = Some(ReceivedView {
            statement: attestation.statement("Dr Ada Attending"),
            source: attestation.device_words(),
            attestation,
        });
        if let Some(r) = received.review.as_mut() {
            r.entry = id(5);
            r.decision = Decision::Reject;
        }
        let ais = vec![edited, unreviewed, forged_review, received];
        let mut signatures = report.signatures.clone();
        for n in 1..=5 {
            signatures.insert(id(n), [n; 64]);
        }
        AuditInput {
            stats: ai_stats(&ais, &Filter::default()),
            results: ais
                .into_iter()
                .map(|ai| AuditResult {
                    report: report.view.report,
                    ai,
                })
                .collect(),
            selection: AuditSelection {
                model: None,
                since: Some("2025-01-01".into()),
                modality: Some("MR".into()),
            },
            network: report.network,
            network_name: report.network_name.clone(),
            exported_by: report.view.ai[0].review.as_ref().unwrap().reviewer.clone(),
            exported_ms: report.exported_ms,
            signatures,
        }
    }

    fn provenances(bundle: &Value) -> Vec<&Value> {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == "Provenance")
            .collect()
    }

    fn agent<'a>(p: &'a Value, code: &str) -> Option<&'a Value> {
        p["agent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"]["coding"][0]["code"] == code)
    }

    fn resource<'a>(bundle: &'a Value, reference: &Value) -> &'a Value {
        bundle["entry"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["fullUrl"] == reference["reference"])
            .map(|e| &e["resource"])
            .unwrap_or_else(|| panic!("{reference} is not in the bundle"))
    }

    #[test]
    fn one_provenance_per_ai_result_with_the_device_the_verifier_and_the_signatures() {
        let input = input();
        let bundle: Value = serde_json::from_slice(&provenance(&input)).unwrap();
        assert_eq!(bundle["type"], "collection");
        let provs = provenances(&bundle);
        assert_eq!(provs.len(), 4);
        let codes: Vec<&str> = provs
            .iter()
            .map(|p| p["activity"]["coding"][0]["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["edited", "unreviewed", "unreviewed", "rejected"]);

        // The model's own result: the model as a device author, Dr Ada the verifier; the
        // report, the result and the review are its targets, each entry's signature is there.
        let edited = provs[0];
        let device = agent(edited, "author").unwrap();
        assert_eq!(device["type"]["coding"][1]["code"], "DEV");
        let d = resource(&bundle, &device["who"]);
        assert_eq!(d["resourceType"], "Device");
        assert_eq!(
            (&d["deviceName"][0]["name"], &d["version"][0]["value"]),
            (&json!("SoftTissue"), &json!("2.1"))
        );
        let verifier = agent(edited, "verifier").unwrap();
        assert_eq!(
            resource(&bundle, &verifier["who"])["name"][0]["text"],
            "Dr Ada Attending"
        );
        assert_eq!(verifier["role"][0]["coding"][0]["code"], "edited");
        let targets = edited["target"].as_array().unwrap();
        assert_eq!(targets.len(), 3);
        assert_eq!(targets[0]["identifier"]["system"], "urn:countersign:report");
        let ai = &input.results[0].ai;
        assert_eq!(
            targets[1]["identifier"]["value"],
            ai.entry.to_hex().as_str()
        );
        let review = ai.review.as_ref().unwrap();
        assert_eq!(
            targets[2]["identifier"]["value"],
            review.entry.to_hex().as_str()
        );
        let sigs = edited["signature"].as_array().unwrap();
        assert_eq!(sigs.len(), 2);
        assert_eq!(sigs[0]["who"], device["who"]);
        assert_eq!(sigs[1]["who"], verifier["who"]);
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD
            .decode(sigs[1]["data"].as_str().unwrap())
            .unwrap();
        assert_eq!(data, input.signatures[&review.entry]);
        assert_eq!(edited["recorded"], date_time(ai.time_ms));
        assert!(edited["activity"]["text"]
            .as_str()
            .unwrap()
            .contains("words changed"));
        assert!(edited.get("extension").is_none());

        // Unreviewed: no verifier, one signature; a review that does not verify is none, and
        // says so.
        for p in &provs[1..3] {
            assert!(agent(p, "verifier").is_none());
            assert_eq!(p["target"].as_array().unwrap().len(), 2);
            assert_eq!(p["signature"].as_array().unwrap().len(), 1);
        }
        assert!(provs[2]["extension"][0]["valueString"]
            .as_str()
            .unwrap()
            .contains("not counted as a review"));

        // Received as DICOM SR: the SR's device, Dr Ada the enterer (never the author) who
        // signed the receipt, the SR itself the source.
        let received = provs[3];
        let device = resource(&bundle, &agent(received, "author").unwrap()["who"]);
        assert_eq!(
            (
                &device["manufacturer"],
                &device["deviceName"][0]["name"],
                &device["version"][0]["value"],
                &device["serialNumber"]
            ),
            (
                &json!("Acme AI"),
                &json!("LungScan"),
                &json!("2.1.0"),
                &json!("AC-0042")
            )
        );
        let enterer = agent(received, "enterer").unwrap();
        assert_eq!(
            resource(&bundle, &enterer["who"])["resourceType"],
            "Practitioner"
        );
        assert_eq!(received["signature"][0]["who"], enterer["who"]);
        assert_eq!(
            received["signature"][0]["type"][0]["display"],
            "Transcriptionist/Recorder Signature"
        );
        assert_eq!(
            received["entity"][0]["what"]["identifier"]["value"],
            "urn:oid:2.25.42"
        );
        assert!(agent(received, "verifier").is_some());

        // The same input gives the same bytes: identities are derived, not drawn.
        assert_eq!(provenance(&input), provenance(&input));
        // No patient data: the report is named by its id only.
        let text = String::from_utf8(provenance(&input)).unwrap();
        assert!(!text.contains("\"Patient\""));
    }

    #[test]
    fn the_summary_gives_the_figures_the_selection_and_what_was_excluded() {
        let input = input();
        let doc = summary_document(&input);
        let plain = crate::text::render(&doc);
        for expected in [
            "Selection: model any; proposals signed since 2025-01-01; studies of modality MR",
            "4 AI results in 1 reports; 1 entries excluded for failing verification",
            "SoftTissue 2.1 by Countersign Labs",
            "3 proposals: 0 accepted, 1 edited, 0 rejected, 2 unreviewed.",
            "LungScan 2.1.0 by Acme AI",
            "1 proposals: 0 accepted, 0 edited, 1 rejected, 0 unreviewed.",
            "Acceptance 0.0% (0 of 1 reviewed, accepted or edited); rejection 100.0%.",
            "Excluded for failing verification: 1",
            "ai.review (does not verify: signature)",
            "by Dr Ada Attending (attending)",
        ] {
            assert!(plain.contains(expected), "missing {expected:?} in\n{plain}");
        }
        let pdf = summary_pdf(&input);
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
