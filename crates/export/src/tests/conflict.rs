//! A conflict (two sign-offs in force that disagree) in every format, and the same report once
//! the conflict is resolved.

use dicom_dictionary_std::tags;

use countersign_report::ReportState;

use super::sr_texts;
use crate::{document, example, fhir, pdf, sr, text, Block};

#[test]
fn a_conflict_exports_every_sign_off_in_force_and_every_version_they_cover() {
    let t = example::CONFLICT_TEXTS;
    let input = example::conflict(false);
    assert_eq!(input.view.status, ReportState::Conflict);

    // Text (and PDF, from the same blocks): the conflict first, every version with who signed
    // it off, the agreed section once, the refused write only in the appendix, labelled.
    let doc = document(&input);
    let banner = doc
        .iter()
        .position(
            |b| matches!(b, Block::Banner(t) if t.starts_with("CONFLICT: TWO SIGN-OFFS DISAGREE")),
        )
        .expect("a conflict banner");
    let first_heading = doc
        .iter()
        .position(|b| matches!(b, Block::Heading(_)))
        .unwrap();
    assert!(banner < first_heading);
    let plain = text::render(&doc);
    let flat = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Status CONFLICT: TWO SIGN-OFFS DISAGREE",
        "Sign-off in force, in conflict: Dr Ada Attending (attending)",
        "Sign-off in force, in conflict: Dr Bob Attending (attending)",
        "they differ on Findings, Impression",
        "Impression — CONFLICT: 2 versions signed off",
        "Findings — CONFLICT: 2 versions signed off",
        "As signed off by Dr Ada Attending (attending)",
        "As signed off by Dr Bob Attending (attending)",
        t.first_impression,
        t.second_impression,
        t.first_findings,
        t.second_findings,
        "Largest nodule: 6 mm",
        "Largest nodule: 4 mm",
        "Written by Dr Bob Attending (attending)",
        "report.status by Dr Bob Attending (attending) — in force, IN CONFLICT",
        "REFUSED (finalised)",
        "impression] by Dr Bob Attending (attending) — REFUSED by rule finalised:",
        "1 authentic but REFUSED by a rule",
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in\n{plain}");
    }
    assert_eq!(
        flat.matches("Low-dose CT, no contrast.").count(),
        1,
        "{plain}"
    );
    assert!(
        !plain.contains(t.refused),
        "a refused write is not content:\n{plain}"
    );
    assert!(
        plain
            .lines()
            .filter(|l| !l.starts_with("    "))
            .all(|l| l.chars().count() <= 100),
        "{plain}"
    );
    // pdf-writer writes a line with non-ASCII characters (the banner's dash) as a hex string.
    let pdf = String::from_utf8_lossy(&pdf::render(&input)).into_owned();
    for expected in [
        "CONFLICT: TWO SIGN-OFFS DISAGREE",
        "No significant abnormality.",
    ] {
        assert!(
            pdf.contains(expected) || pdf.contains(&hex::encode_upper(expected)),
            "the PDF lacks {expected:?}"
        );
    }

    // FHIR: status unknown; both sign-offs attest, each its own versions; both texts in the
    // conclusion, the presented form and an Observation each.
    let bytes = fhir::render(&input);
    let json = String::from_utf8(bytes.clone()).unwrap();
    assert!(!json.contains(t.refused), "a refused write is not content");
    let bundle: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let entries = bundle["entry"].as_array().unwrap();
    let urls: Vec<&str> = entries
        .iter()
        .map(|e| e["fullUrl"].as_str().unwrap())
        .collect();
    let of = |kind: &'static str| {
        entries
            .iter()
            .map(|e| &e["resource"])
            .filter(move |r| r["resourceType"] == kind)
    };
    let report = of("DiagnosticReport").next().unwrap();
    assert_eq!(report["status"], "unknown");
    assert!(
        report.get("resultsInterpreter").is_none(),
        "no one interpreter"
    );
    let conclusion = report["conclusion"].as_str().unwrap();
    for expected in [
        "CONFLICT: TWO SIGN-OFFS DISAGREE",
        t.first_impression,
        t.second_impression,
        "Impression as signed off by Dr Ada Attending",
        "Impression as signed off by Dr Bob Attending",
    ] {
        assert!(
            conclusion.contains(expected),
            "conclusion lacks {expected:?}"
        );
    }
    use base64::Engine;
    let presented = base64::engine::general_purpose::STANDARD
        .decode(report["presentedForm"][0]["data"].as_str().unwrap())
        .unwrap();
    let presented = String::from_utf8(presented).unwrap();
    assert_eq!(presented, plain);
    let values: Vec<&str> = of("Observation")
        .filter_map(|o| o["valueString"].as_str())
        .collect();
    for text in [
        t.first_impression,
        t.second_impression,
        t.first_findings,
        t.second_findings,
    ] {
        assert_eq!(values.iter().filter(|v| **v == text).count(), 1, "{text}");
    }
    let signoffs: Vec<&serde_json::Value> = of("Provenance")
        .filter(|p| p["activity"]["text"] == "report.status")
        .collect();
    assert_eq!(signoffs.len(), 2);
    for p in &signoffs {
        assert_eq!(p["agent"][0]["type"]["coding"][0]["code"], "attester");
        assert!(p["extension"][0]["valueString"]
            .as_str()
            .unwrap()
            .contains("in conflict"));
        // The report and the two versions this sign-off covers that the other does not.
        let targets = p["target"].as_array().unwrap();
        assert_eq!(targets.len(), 3, "{p}");
        for target in targets {
            assert!(urls.contains(&target["reference"].as_str().unwrap()));
        }
    }
    let refused: Vec<&serde_json::Value> = of("Provenance")
        .filter(|p| {
            p["extension"][0]["valueString"]
                .as_str()
                .is_some_and(|s| s.starts_with("REFUSED (finalised)"))
        })
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(
        refused[0]["target"][0]["reference"],
        entries
            .iter()
            .find(|e| e["resource"]["resourceType"] == "DiagnosticReport")
            .unwrap()["fullUrl"],
        "a refused entry counts toward no section"
    );

    // DICOM SR: partial and unverified, no verifier; each version a TEXT of its own under its
    // author's observer context.
    let bytes = sr::render(&input).unwrap();
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    let get = |tag| {
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(get(tags::COMPLETION_FLAG), "PARTIAL");
    assert_eq!(get(tags::VERIFICATION_FLAG), "UNVERIFIED");
    assert!(obj.element(tags::VERIFYING_OBSERVER_SEQUENCE).is_err());
    let mut texts = Vec::new();
    sr_texts(&obj, &[], &mut texts);
    let observed = |text: &str| -> Vec<Vec<String>> {
        texts
            .iter()
            .filter(|(t, _)| t == text)
            .map(|(_, o)| o.clone())
            .collect()
    };
    assert_eq!(
        observed(t.first_impression),
        [vec!["Attending^Ada^^Dr".to_string()]]
    );
    assert_eq!(
        observed(t.second_impression),
        [vec!["Attending^Bob^^Dr".to_string()]]
    );
    assert_eq!(
        observed(t.second_findings),
        [vec!["Attending^Bob^^Dr".to_string()]]
    );
    assert!(texts
        .iter()
        .any(|(t, _)| t.starts_with("CONFLICT: TWO SIGN-OFFS DISAGREE")));
    let signed_off: Vec<&Vec<String>> = texts
        .iter()
        .filter(|(t, _)| t.starts_with("Signed off by"))
        .map(|(_, o)| o)
        .collect();
    assert_eq!(
        signed_off.len(),
        2,
        "each sign-off in force under its signer"
    );
    assert!(!texts
        .iter()
        .any(|(t, _)| t.contains(example::CONFLICT_TEXTS.refused)));
}

#[test]
fn a_resolved_conflict_reads_as_the_sign_off_kept_and_shows_the_other_superseded() {
    let t = example::CONFLICT_TEXTS;
    let input = example::conflict(true);
    assert_eq!(input.view.status, ReportState::Final);
    let plain = text::render(&document(&input));
    let flat = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "Status FINAL",
        "Signed off by Dr Ada Attending (attending)",
        "Superseded sign-off: Dr Bob Attending (attending)",
        "Conflict resolved by Dr Bob Attending (attending)",
        "kept the sign-off by Dr Ada Attending",
        "I signed off without seeing the final report.",
        "report.status by Dr Bob Attending (attending) — SUPERSEDED",
        "report.resolve by Dr Bob Attending (attending) — resolves a conflict",
        t.first_impression,
        t.first_findings,
    ] {
        assert!(flat.contains(expected), "missing {expected:?} in\n{plain}");
    }
    for absent in [t.second_impression, t.second_findings, "CONFLICT:"] {
        assert!(!plain.contains(absent), "{absent:?} in\n{plain}");
    }
    let bundle: serde_json::Value = serde_json::from_slice(&fhir::render(&input)).unwrap();
    let superseded = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["extension"][0]["valueString"] == "sign-off superseded")
        .count();
    assert_eq!(superseded, 1);
    let bytes = sr::render(&input).unwrap();
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    let flag = obj
        .element(tags::VERIFICATION_FLAG)
        .unwrap()
        .to_str()
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(flag, "VERIFIED");
}
