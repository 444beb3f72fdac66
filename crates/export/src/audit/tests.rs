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
