use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_object::FileMetaTableBuilder;

use super::*;

const COMPREHENSIVE: &str = "1.2.840.10008.5.1.4.1.1.88.33";

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    put(&mut c, tags::CODE_VALUE, VR::SH, value);
    put(&mut c, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
    put(&mut c, tags::CODE_MEANING, VR::LO, meaning);
    c
}

fn item(value_type: &str, meaning: &str, content: Vec<InMemDicomObject>) -> InMemDicomObject {
    let mut i = InMemDicomObject::new_empty();
    put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
    put(&mut i, tags::VALUE_TYPE, VR::CS, value_type);
    put_seq(
        &mut i,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code("x", "99T", meaning)],
    );
    if !content.is_empty() {
        put_seq(&mut i, tags::CONTENT_SEQUENCE, content);
    }
    i
}

fn texted(meaning: &str, value: &str) -> InMemDicomObject {
    let mut i = item("TEXT", meaning, vec![]);
    put(&mut i, tags::TEXT_VALUE, VR::UT, value);
    i
}

fn person(name: &str) -> InMemDicomObject {
    let mut i = InMemDicomObject::new_empty();
    put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, "HAS OBS CONTEXT");
    put(&mut i, tags::VALUE_TYPE, VR::CS, "PNAME");
    put_seq(
        &mut i,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code("121008", "DCM", "Person Observer Name")],
    );
    put(&mut i, tags::PERSON_NAME, VR::PN, name);
    i
}

fn document(sop_class: &str, content: Vec<InMemDicomObject>) -> Vec<u8> {
    titled(
        sop_class,
        ("18748-4", "LN", "Diagnostic imaging report"),
        content,
    )
}

fn titled(
    sop_class: &str,
    (value, scheme, meaning): (&str, &str, &str),
    content: Vec<InMemDicomObject>,
) -> Vec<u8> {
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, sop_class);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.1");
    put(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, "2.25.99");
    put(&mut obj, tags::COMPLETION_FLAG, VR::CS, "COMPLETE");
    put(&mut obj, tags::VERIFICATION_FLAG, VR::CS, "VERIFIED");
    put(&mut obj, tags::CONTENT_DATE, VR::DA, "20250622");
    let mut verifier = InMemDicomObject::new_empty();
    put(
        &mut verifier,
        tags::VERIFYING_OBSERVER_NAME,
        VR::PN,
        "Attending^Ada^^Dr",
    );
    put(&mut verifier, tags::VERIFYING_ORGANIZATION, VR::LO, "Dept");
    put(
        &mut verifier,
        tags::VERIFICATION_DATE_TIME,
        VR::DT,
        "20250622101500",
    );
    put_seq(&mut obj, tags::VERIFYING_OBSERVER_SEQUENCE, vec![verifier]);
    put(&mut obj, tags::VALUE_TYPE, VR::CS, "CONTAINER");
    put_seq(
        &mut obj,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code(value, scheme, meaning)],
    );
    put_seq(&mut obj, tags::CONTENT_SEQUENCE, content);
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid(sop_class)
                .media_storage_sop_instance_uid("2.25.1"),
        )
        .unwrap();
    let mut out = Vec::new();
    file.write_all(&mut out).unwrap();
    out
}

#[test]
fn a_text_report_reads_as_lines_in_document_order_with_its_people_and_flags() {
    let long = "word ".repeat(1000);
    let mut num = item("NUM", "Diameter", vec![]);
    let mut measured = InMemDicomObject::new_empty();
    put(&mut measured, tags::NUMERIC_VALUE, VR::DS, "12");
    put_seq(
        &mut measured,
        tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
        vec![code("mm", "UCUM", "millimeter")],
    );
    put_seq(&mut num, tags::MEASURED_VALUE_SEQUENCE, vec![measured]);
    let bytes = document(
        COMPREHENSIVE,
        vec![
            item(
                "CONTAINER",
                "Findings",
                vec![person("Resident^Rob"), texted("Findings", "A nodule."), num],
            ),
            item(
                "CONTAINER",
                "Impression",
                vec![texted("Impression", long.trim_end())],
            ),
        ],
    );
    let doc = read_sr_document(&bytes).unwrap();
    assert_eq!(doc.study, "2.25.99");
    assert_eq!(doc.title.as_deref(), Some("Diagnostic imaging report"));
    assert!(!doc.measurement);
    assert_eq!(
        (doc.completion.as_deref(), doc.verification.as_deref()),
        (Some("COMPLETE"), Some("VERIFIED"))
    );
    assert_eq!(doc.date.as_deref(), Some("20250622"));
    assert_eq!(doc.authors, ["Rob Resident"]);
    assert_eq!(doc.verifiers[0].name, "Dr Ada Attending");
    assert_eq!(doc.verifiers[0].datetime.as_deref(), Some("20250622101500"));
    let lines: Vec<(usize, &str, &str)> = doc
        .lines
        .iter()
        .map(|l| (l.depth, l.concept.as_deref().unwrap(), l.value.as_str()))
        .collect();
    // A paragraph longer than the 1024 characters of other strings is read whole.
    assert_eq!(
        lines,
        [
            (1, "Findings", ""),
            (2, "Person Observer Name", "Rob Resident"),
            (2, "Findings", "A nodule."),
            (2, "Diameter", "12 mm"),
            (1, "Impression", ""),
            (2, "Impression", long.trim_end()),
        ]
    );
}

/// A TID 1500 document (what measurement and AI tools write) says so: a prior's report passes
/// over it for a reader's report.
#[test]
fn an_imaging_measurement_report_is_told_apart_from_a_readers_report() {
    let title = ("126000", "DCM", "Imaging Measurement Report");
    let doc = read_sr_document(&titled(COMPREHENSIVE, title, vec![texted("T", "x")])).unwrap();
    assert!(doc.measurement);
    assert_eq!(doc.title.as_deref(), Some("Imaging Measurement Report"));
    // The code decides, not the words: another scheme's 126000 is not it.
    let other = ("126000", "99LOCAL", "Imaging Measurement Report");
    let doc = read_sr_document(&titled(COMPREHENSIVE, other, vec![texted("T", "x")])).unwrap();
    assert!(!doc.measurement);
}

#[test]
fn hostile_or_foreign_documents_are_refused_with_their_code() {
    // Nested one level deeper than the walk goes (and well within the pre-scan's 32).
    let mut deep = texted("Leaf", "deep");
    for _ in 0..MAX_CONTENT_DEPTH {
        deep = item("CONTAINER", "Level", vec![deep]);
    }
    let err = read_sr_document(&document(COMPREHENSIVE, vec![deep])).unwrap_err();
    assert_eq!(err.code(), "sr_too_large", "{err}");
    assert!(err.to_string().contains("nest deeper"), "{err}");
    // Exactly as deep as allowed reads.
    let mut ok = texted("Leaf", "deep");
    for _ in 0..MAX_CONTENT_DEPTH - 1 {
        ok = item("CONTAINER", "Level", vec![ok]);
    }
    assert_eq!(
        read_sr_document(&document(COMPREHENSIVE, vec![ok]))
            .unwrap()
            .lines
            .len(),
        MAX_CONTENT_DEPTH
    );
    let many = (0..=MAX_CONTENT_ITEMS).map(|_| texted("T", "x")).collect();
    let err = read_sr_document(&document(COMPREHENSIVE, many)).unwrap_err();
    assert_eq!(err.code(), "sr_too_large", "{err}");
    assert!(err.to_string().contains("content items"), "{err}");
    let too_long = "x".repeat(MAX_TEXT_CHARS + 1);
    let err = read_sr_document(&document(COMPREHENSIVE, vec![texted("T", &too_long)])).unwrap_err();
    assert_eq!(err.code(), "sr_too_large", "{err}");
    // A CT image is not a report.
    let err = read_sr_document(&document("1.2.840.10008.5.1.4.1.1.2", vec![])).unwrap_err();
    assert_eq!(err.code(), "sr_not_sr", "{err}");
    let err = read_sr_document(b"not dicom at all").unwrap_err();
    assert_eq!(err.code(), "sr_malformed", "{err}");
}

#[test]
fn person_names_read_as_written() {
    assert_eq!(display_name("Attending^Ada^^Dr"), "Dr Ada Attending");
    assert_eq!(display_name("Smith^John^Q^^Jr=ideo"), "John Q Smith Jr");
    assert_eq!(display_name("Solo"), "Solo");
    assert_eq!(display_name(""), "");
}
