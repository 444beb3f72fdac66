//! The AI's part in a section: every reviewed result with its decision, and a device observer
//! only for a draft a reviewer took.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use countersign_report::payload::Decision;

use crate::{document, example, sr, text};

/// The Observer Type codes (121006 person, 121007 device) of a container's observer context.
fn observer_types(container: &InMemDicomObject) -> Vec<String> {
    let code = |i: &InMemDicomObject, seq| -> Option<String> {
        let c = &i.element(seq).ok()?.items()?[0];
        Some(
            c.element(tags::CODE_VALUE)
                .ok()?
                .to_str()
                .ok()?
                .trim()
                .to_string(),
        )
    };
    container
        .element(tags::CONTENT_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
        .iter()
        .filter(|c| code(c, tags::CONCEPT_NAME_CODE_SEQUENCE).as_deref() == Some("121005"))
        .filter_map(|c| code(c, tags::CONCEPT_CODE_SEQUENCE))
        .collect()
}

/// Review finding (2026-12-05): a section's AI line was the last reviewed result's, so a draft
/// accepted and a later one rejected read "An AI draft was rejected" (the accepted AI text shown
/// as a person's), and the SR named the model an observer even of a rejected draft.
#[test]
fn every_ai_decision_on_a_section_is_said_and_only_a_taken_draft_is_an_observer() {
    let input = example::ai_accepted_then_rejected();
    let ai = &input.view.ai;
    assert_eq!(ai.len(), 3);
    let (accepted, later, only) = (&ai[0], &ai[1], &ai[2]);
    assert_eq!(accepted.review.as_ref().unwrap().decision, Decision::Accept);
    let plain = text::render(&document(&input));
    let findings = &plain[plain.find("Findings").unwrap()..plain.find("Impression").unwrap()];
    let short = |a: &countersign_report::AiView| a.entry.to_hex()[..16].to_string();
    for (line, result) in [
        (
            "Drafted by AI SoftTissue 2.1, accepted by Dr Ada Attending",
            accepted,
        ),
        (
            "An AI draft (SoftTissue 2.1) was rejected by Dr Ada Attending",
            later,
        ),
    ] {
        assert!(
            findings.contains(line) && findings.contains(&short(result)),
            "{line}: {findings}"
        );
    }
    let impression = &plain[plain.find("Impression").unwrap()..];
    assert!(impression.contains("was rejected"), "{impression}");
    assert!(impression.contains(&short(only)), "{impression}");
    assert!(!impression.contains("accepted by"), "{impression}");

    let bytes = sr::render(&input).unwrap();
    let obj = dicom_object::from_reader(&bytes[128..]).unwrap();
    let section = |code: &str| {
        obj.element(tags::CONTENT_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
            .iter()
            .find(|i| {
                let c = &i
                    .element(tags::CONCEPT_NAME_CODE_SEQUENCE)
                    .unwrap()
                    .items()
                    .unwrap()[0];
                c.element(tags::CODE_VALUE)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .trim()
                    == code
            })
            .unwrap()
            .clone()
    };
    // Findings: Dr Ada, and the model once (its accepted draft); impression: Dr Ada alone.
    assert_eq!(observer_types(&section("121070")), ["121006", "121007"]);
    assert_eq!(observer_types(&section("121072")), ["121006"]);
}
