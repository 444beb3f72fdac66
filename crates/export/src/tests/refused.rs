//! A refused report: it says so in every format and counts for nothing.

use dicom_dictionary_std::tags;

use countersign_report::ReportState;

use super::sr_texts;
use crate::{document, example, fhir, sr, text, Block};

#[test]
fn a_refused_report_says_so_everywhere_and_counts_for_nothing() {
    let input = example::refused();
    assert_eq!(input.view.status, ReportState::Refused);
    let doc = document(&input);
    assert!(
        doc.iter().any(|b| matches!(b, Block::Banner(t)
            if t.starts_with("REFUSED: this report counts for nothing") && t.contains("rule revoked"))),
        "{doc:?}"
    );
    let plain = text::render(&doc);
    assert!(plain.contains("Status REFUSED"), "{plain}");
    assert!(plain.contains("REFUSED (revoked)"), "{plain}");
    let bundle: serde_json::Value = serde_json::from_slice(&fhir::render(&input)).unwrap();
    let report = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["resource"]["resourceType"] == "DiagnosticReport")
        .unwrap();
    assert_eq!(report["resource"]["status"], "entered-in-error");
    let bytes = sr::render(&input).unwrap();
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    let mut texts = Vec::new();
    sr_texts(&obj, &[], &mut texts);
    assert!(
        texts.iter().any(|(t, _)| t.starts_with("REFUSED:")),
        "{texts:?}"
    );
    let flag = obj
        .element(tags::VERIFICATION_FLAG)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(flag, "UNVERIFIED");
}
