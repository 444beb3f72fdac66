//! The example report in each format: the text document, the PDF, the FHIR bundle and the
//! DICOM SR.

use dicom_dictionary_std::tags;

use crate::{document, example, fhir, pdf, sr, text, Block};

#[test]
fn the_document_says_who_wrote_what_and_leads_with_the_critical_result() {
    let input = example::input();
    let doc = document(&input);
    let banner = doc
        .iter()
        .position(|b| matches!(b, Block::Banner(_)))
        .unwrap();
    let first_heading = doc
        .iter()
        .position(|b| matches!(b, Block::Heading(_)))
        .unwrap();
    assert!(
        banner < first_heading,
        "the critical result comes before the sections"
    );
    let plain = text::render(&doc);
    for expected in [
        "CRITICAL RESULT: Incidental 9 mm lung nodule — communicated to Dr Hale (referrer) by phone",
        "read back",
        "Written by Dr Rhea Resident (resident)",
        "Co-signed by Dr Ada Attending (attending)",
        "Co-signed by Dr Carl Cardio (cardiologist)",
        "Edited by Dr Ada Attending from an AI draft (SoftTissue 2.1)",
        "LV ejection fraction: 58 %",
        "Status FINAL, AMENDED",
        "Signed off by Dr Ada Attending (attending)",
        "Repeat MR in 12 months — due 2027-11-25 (open",
        "Compared with the outside CT: unchanged.",
        "ai.result by SoftTissue 2.1 by Countersign Labs (AI model)",
    ] {
        assert!(plain.contains(expected), "missing {expected:?} in\n{plain}");
    }
    // Every entry's signature is in the appendix.
    for sig in input.signatures.values() {
        assert!(plain.contains(&hex::encode(sig)));
    }
    // Prose is wrapped at 100 columns; only identifiers and signatures run longer.
    assert!(
        plain
            .lines()
            .filter(|l| !l.starts_with("    "))
            .all(|l| l.chars().count() <= 100),
        "{plain}"
    );
}

#[test]
fn the_pdf_is_a_pdf_with_every_page_referenced() {
    let bytes = pdf::render(&example::sections(50));
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(bytes.trim_ascii_end().ends_with(b"%%EOF"));
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page\n").count() + text.matches("/Type /Page ").count();
    assert!(text.contains("/BaseFont /Helvetica"));
    assert!(pages >= 3, "{pages} pages for 50 sections");
}

#[test]
fn the_fhir_bundle_links_every_provenance_to_a_resource_in_it() {
    let input = example::input();
    let bundle: serde_json::Value = serde_json::from_slice(&fhir::render(&input)).unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let urls: Vec<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    let of = |t: &'static str| {
        entries
            .iter()
            .filter(move |e| e["resource"]["resourceType"] == t)
    };
    assert_eq!(of("DiagnosticReport").count(), 1);
    assert_eq!(of("Provenance").count(), input.view.provenance.len());
    assert_eq!(of("Device").count(), 1);
    assert_eq!(of("Practitioner").count(), 3);
    for p in of("Provenance") {
        let r = &p["resource"];
        for reference in [
            &r["target"][0]["reference"],
            &r["agent"][0]["who"]["reference"],
            &r["agent"][0]["onBehalfOf"]["reference"],
        ] {
            assert!(
                urls.contains(&reference.as_str().unwrap()),
                "{reference} not in the bundle"
            );
        }
        assert_eq!(
            r["signature"][0]["data"].as_str().unwrap().len(),
            88,
            "64 bytes in base64"
        );
    }
    let ai = of("Provenance")
        .find(|p| p["resource"]["activity"]["text"] == "ai.result")
        .unwrap();
    let device = ai["resource"]["agent"][0]["who"]["reference"]
        .as_str()
        .unwrap();
    let device = entries.iter().find(|e| e["fullUrl"] == device).unwrap();
    assert_eq!(device["resource"]["resourceType"], "Device");
    assert_eq!(device["resource"]["version"][0]["value"], "2.1");
    let report = &of("DiagnosticReport").next().unwrap()["resource"];
    assert_eq!(report["status"], "appended");
    let critical = of("Observation")
        .find(|o| o["resource"]["interpretation"][0]["coding"][0]["code"] == "AA")
        .unwrap();
    assert_eq!(
        critical["resource"]["valueString"],
        "Incidental 9 mm lung nodule"
    );
    // The same report state exports the same identities.
    assert_eq!(fhir::render(&input), fhir::render(&input));
}

#[test]
fn the_sr_reads_back_with_its_flags_and_verifier() {
    let input = example::input();
    let bytes = sr::render(&input).unwrap();
    assert_eq!(&bytes[128..132], b"DICM");
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    let get = |tag| {
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(get(tags::SOP_CLASS_UID), sr::COMPREHENSIVE_SR);
    assert_eq!(get(tags::COMPLETION_FLAG), "COMPLETE");
    assert_eq!(get(tags::VERIFICATION_FLAG), "VERIFIED");
    let verifier = obj.element(tags::VERIFYING_OBSERVER_SEQUENCE).unwrap();
    let item = &verifier.items().unwrap()[0];
    assert_eq!(
        item.element(tags::VERIFYING_OBSERVER_NAME)
            .unwrap()
            .to_str()
            .unwrap(),
        "Attending^Ada^^Dr"
    );
    assert_eq!(get(tags::STUDY_INSTANCE_UID), "2.25.999");
}
