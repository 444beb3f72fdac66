use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use super::*;

const COMPREHENSIVE_3D: &str = "1.2.840.10008.5.1.4.1.1.88.34";

fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

fn code((value, scheme, meaning): (&str, &str, &str)) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    put(&mut c, tags::CODE_VALUE, VR::SH, value);
    put(&mut c, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
    put(&mut c, tags::CODE_MEANING, VR::LO, meaning);
    c
}

fn item(
    relationship: &str,
    value_type: &str,
    concept: (&str, &str, &str),
    content: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut i = InMemDicomObject::new_empty();
    put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, relationship);
    put(&mut i, tags::VALUE_TYPE, VR::CS, value_type);
    put_seq(
        &mut i,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code(concept)],
    );
    if !content.is_empty() {
        put_seq(&mut i, tags::CONTENT_SEQUENCE, content);
    }
    i
}

fn coded(
    relationship: &str,
    concept: (&str, &str, &str),
    value: (&str, &str, &str),
) -> InMemDicomObject {
    let mut i = item(relationship, "CODE", concept, vec![]);
    put_seq(&mut i, tags::CONCEPT_CODE_SEQUENCE, vec![code(value)]);
    i
}

fn texted(concept: (&str, &str, &str), value: &str) -> InMemDicomObject {
    let mut i = item("HAS OBS CONTEXT", "TEXT", concept, vec![]);
    put(&mut i, tags::TEXT_VALUE, VR::UT, value);
    i
}

fn image(uid: &str) -> InMemDicomObject {
    let mut i = InMemDicomObject::new_empty();
    put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
    put(&mut i, tags::VALUE_TYPE, VR::CS, "IMAGE");
    let mut r = InMemDicomObject::new_empty();
    put(
        &mut r,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.2",
    );
    put(&mut r, tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, uid);
    put_seq(&mut i, tags::REFERENCED_SOP_SEQUENCE, vec![r]);
    i
}

fn num(concept: (&str, &str, &str), value: &str, units: (&str, &str, &str)) -> InMemDicomObject {
    let mut i = item("CONTAINS", "NUM", concept, vec![]);
    let mut v = InMemDicomObject::new_empty();
    put(&mut v, tags::NUMERIC_VALUE, VR::DS, value);
    put_seq(
        &mut v,
        tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
        vec![code(units)],
    );
    put_seq(&mut i, tags::MEASURED_VALUE_SEQUENCE, vec![v]);
    i
}

/// A TID 1500-shaped report: a device observer, one measurement group on one image with a
/// volume and a qualitative finding.
fn tid1500(content: Vec<InMemDicomObject>) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, COMPREHENSIVE_3D);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, "2.25.1");
    put(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, "2.25.99");
    put(&mut obj, tags::MANUFACTURER, VR::LO, "Acme AI");
    put(&mut obj, tags::MANUFACTURER_MODEL_NAME, VR::LO, "LungScan");
    put(&mut obj, tags::SOFTWARE_VERSIONS, VR::LO, "2.1\\build 7");
    put(&mut obj, tags::VALUE_TYPE, VR::CS, "CONTAINER");
    put_seq(
        &mut obj,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code(("126000", "DCM", "Imaging Measurement Report"))],
    );
    put_seq(&mut obj, tags::CONTENT_SEQUENCE, content);
    obj
}

fn standard_content() -> Vec<InMemDicomObject> {
    vec![
        coded(
            "HAS CONCEPT MOD",
            ("121049", "DCM", "Language of Content Item and Descendants"),
            ("eng", "RFC5646", "English"),
        ),
        coded(
            "HAS OBS CONTEXT",
            ("121005", "DCM", "Observer Type"),
            ("121007", "DCM", "Device"),
        ),
        {
            let mut uid = item(
                "HAS OBS CONTEXT",
                "UIDREF",
                ("121012", "DCM", "Device Observer UID"),
                vec![],
            );
            put(&mut uid, tags::UID, VR::UI, "2.25.7");
            uid
        },
        texted(("121013", "DCM", "Device Observer Name"), "lungscan-node"),
        texted(("121015", "DCM", "Device Observer Model Name"), "LungScan"),
        item(
            "CONTAINS",
            "CONTAINER",
            ("126010", "DCM", "Imaging Measurements"),
            vec![item(
                "CONTAINS",
                "CONTAINER",
                ("125007", "DCM", "Measurement Group"),
                vec![
                    coded(
                        "HAS CONCEPT MOD",
                        ("363698007", "SCT", "Finding Site"),
                        ("39607008", "SCT", "Lung"),
                    ),
                    num(
                        ("118565006", "SCT", "Volume"),
                        "1234.5",
                        ("mm3", "UCUM", "cubic millimeter"),
                    ),
                    coded(
                        "CONTAINS",
                        ("121071", "DCM", "Finding"),
                        ("27925004", "SCT", "Nodule"),
                    ),
                    image("2.25.42"),
                ],
            )],
        ),
    ]
}

fn bytes(obj: InMemDicomObject) -> Vec<u8> {
    let sop_class = obj
        .get(tags::SOP_CLASS_UID)
        .map(|e| e.to_str().unwrap().to_string())
        .unwrap();
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
fn a_tid1500_report_gives_its_device_measurements_findings_and_references() {
    let sr = parse_sr(&bytes(tid1500(standard_content()))).unwrap();
    assert_eq!(sr.study, "2.25.99");
    assert_eq!(sr.sop_class, COMPREHENSIVE_3D);
    assert_eq!(sr.equipment.manufacturer.as_deref(), Some("Acme AI"));
    assert_eq!(sr.equipment.model.as_deref(), Some("LungScan"));
    assert_eq!(sr.equipment.software_versions, ["2.1", "build 7"]);
    let observer = sr.observer.unwrap();
    assert_eq!(observer.uid.as_deref(), Some("2.25.7"));
    assert_eq!(observer.name.as_deref(), Some("lungscan-node"));
    assert_eq!(observer.model.as_deref(), Some("LungScan"));
    assert_eq!(sr.measurements.len(), 1);
    let m = &sr.measurements[0];
    assert_eq!(
        (m.concept.meaning.as_str(), m.value.as_str()),
        ("Volume", "1234.5")
    );
    assert_eq!(m.units.as_ref().unwrap().value, "mm3");
    // The group's source image is the measurement's.
    assert_eq!(m.references, ["2.25.42"]);
    // Modifiers (language, finding site) are not findings; the Finding is.
    assert_eq!(sr.findings.len(), 1);
    assert_eq!(sr.findings[0].value.meaning, "Nodule");
    assert_eq!(sr.findings[0].references, ["2.25.42"]);
    assert_eq!(sr.references, ["2.25.42"]);
}

#[test]
fn an_image_is_not_an_sr() {
    let mut obj = tid1500(standard_content());
    put(
        &mut obj,
        tags::SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.2",
    );
    let e = parse_sr(&bytes(obj)).unwrap_err();
    assert_eq!(e.code(), "sr_not_sr", "{e}");
}

#[test]
fn garbage_truncation_and_broken_items_are_malformed() {
    assert_eq!(
        parse_sr(b"not dicom at all").unwrap_err().code(),
        "sr_malformed"
    );
    let whole = bytes(tid1500(standard_content()));
    let cut = parse_sr(&whole[..whole.len() * 2 / 3]).unwrap_err();
    assert_eq!(cut.code(), "sr_malformed", "{cut}");
    // A content item without its Value Type.
    let mut broken = num(("118565006", "SCT", "Volume"), "1", ("mm3", "UCUM", "mm3"));
    broken.remove_element(tags::VALUE_TYPE);
    let e = parse_sr(&bytes(tid1500(vec![broken]))).unwrap_err();
    assert_eq!(e.code(), "sr_malformed", "{e}");
    assert!(e.to_string().contains("no Value Type"), "{e}");
    // Nothing to attest.
    let e = parse_sr(&bytes(tid1500(vec![]))).unwrap_err();
    assert_eq!(e.code(), "sr_malformed", "{e}");
}

#[test]
fn content_nested_too_deep_or_too_many_items_is_too_large() {
    let mut deep = num(("1", "99X", "x"), "1", ("1", "UCUM", "no units"));
    for _ in 0..MAX_CONTENT_DEPTH {
        deep = item("CONTAINS", "CONTAINER", ("2", "99X", "group"), vec![deep]);
    }
    let e = parse_sr(&bytes(tid1500(vec![deep]))).unwrap_err();
    assert_eq!(e.code(), "sr_too_large", "{e}");
    let many: Vec<_> = (0..=MAX_CONTENT_ITEMS)
        .map(|_| coded("HAS CONCEPT MOD", ("1", "99X", "x"), ("2", "99X", "y")))
        .collect();
    let e = parse_sr(&bytes(tid1500(many))).unwrap_err();
    assert_eq!(e.code(), "sr_too_large", "{e}");
    assert!(e.to_string().contains("content items"), "{e}");
}

#[test]
fn a_file_over_the_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.dcm");
    let file = std::fs::File::create(&path).unwrap();
    // Sparse: the size is what is checked, so no byte needs writing.
    file.set_len(MAX_SR_BYTES + 1).unwrap();
    let e = read_sr_file(&path).unwrap_err();
    assert_eq!(e.code(), "sr_too_large", "{e}");
}
