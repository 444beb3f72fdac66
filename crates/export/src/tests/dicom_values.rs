//! Values the SR writes as DICOM holds them: a signed number as the same number, two custom
//! sections as two codes, a member's name as one person name, identifiers exactly or not at all;
//! and a number as the FHIR Bundle's JSON holds it.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::{encapsulated, example, fhir, pdf, sr, ExportError};

fn read(bytes: &[u8]) -> InMemDicomObject {
    dicom_object::from_reader(&bytes[128..])
        .unwrap()
        .into_inner()
}

fn str_of(i: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    Some(i.element(tag).ok()?.to_str().ok()?.trim().to_string())
}

/// Every content item under `item`, depth first.
fn items<'a>(item: &'a InMemDicomObject, out: &mut Vec<&'a InMemDicomObject>) {
    let Some(children) = item
        .element(tags::CONTENT_SEQUENCE)
        .ok()
        .and_then(|e| e.items())
    else {
        return;
    };
    for c in children {
        out.push(c);
        items(c, out);
    }
}

fn concept(i: &InMemDicomObject) -> Option<String> {
    let code = &i.element(tags::CONCEPT_NAME_CODE_SEQUENCE).ok()?.items()?[0];
    str_of(code, tags::CODE_VALUE)
}

/// The Numeric Value of the NUM item of the cardiac section's `lvef` field.
fn lvef(obj: &InMemDicomObject) -> String {
    let mut all = Vec::new();
    items(obj, &mut all);
    let num = all
        .into_iter()
        .find(|i| concept(i).as_deref() == Some("lvef"))
        .expect("the lvef NUM");
    let measured = &num
        .element(tags::MEASURED_VALUE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    str_of(measured, tags::NUMERIC_VALUE).unwrap()
}

/// Review finding (2026-12-05): a Number field was cut to 16 characters, so `lvef` signed as
/// `000000000000000055` (55, in range) read `0000000000000000` (0) in the SR.
#[test]
fn an_sr_number_signed_with_leading_zeros_reads_back_as_the_same_number() {
    for (signed, read_back) in [
        ("000000000000000055", 55.0),
        ("0.00000000000000012", 1.2e-16),
        ("58", 58.0),
    ] {
        let input = example::input_with_lvef(signed);
        let ds = lvef(&read(&sr::render(&input).unwrap()));
        assert!(ds.len() <= 16, "{signed}: {ds}");
        assert_eq!(ds.parse::<f64>().unwrap(), read_back, "{signed}: {ds}");
    }
}

/// Review finding (2026-12-05): a Number field accepts up to 32 characters, but the SR refused a
/// number of more significant digits than a 16-character DS holds, so a final report with
/// `lvef` signed as `1.00000000000000001` could never be exported (nor reach the archive:
/// after final only addenda are allowed). It is written exactly, as a TEXT of the same concept.
#[test]
fn a_final_with_a_number_no_ds_holds_exports_it_exactly_as_text() {
    for signed in ["1.00000000000000001", "12.3456789012345678"] {
        let input = example::input_with_lvef(signed);
        // Signed off (the example's addendum makes it amended): nothing but addenda may follow.
        use countersign_report::ReportState::{Amended, Final};
        assert!(matches!(input.view.status, Final | Amended));
        let def = &input
            .view
            .sections
            .iter()
            .flat_map(|s| &s.fields)
            .find(|f| f.def.name == "lvef")
            .unwrap()
            .def;
        assert_eq!(def.check_value(signed), Ok(()), "the template accepts it");
        let obj = read(&sr::render(&input).expect("the SR of a signed final exports"));
        let mut all = Vec::new();
        items(&obj, &mut all);
        let lvef: Vec<_> = all
            .into_iter()
            .filter(|i| concept(i).as_deref() == Some("lvef"))
            .collect();
        assert_eq!(lvef.len(), 1, "one item of the field");
        assert_eq!(str_of(lvef[0], tags::VALUE_TYPE).as_deref(), Some("TEXT"));
        assert_eq!(
            str_of(lvef[0], tags::TEXT_VALUE),
            Some(format!("{signed} %")),
            "the signed digits, none rounded, and the unit"
        );
    }
}

/// The FHIR component of the `lvef` field in `bundle`.
fn fhir_lvef(bundle: &serde_json::Value) -> Option<&serde_json::Value> {
    if bundle["code"]["coding"][0]["code"] == "lvef" {
        return Some(bundle);
    }
    match bundle {
        serde_json::Value::Array(a) => a.iter().find_map(fhir_lvef),
        serde_json::Value::Object(o) => o.values().find_map(fhir_lvef),
        _ => None,
    }
}

/// Found with the SR's (2026-12-05): the FHIR Bundle wrote a Number field as a JSON number
/// through an f64, so `lvef` signed as `1.00000000000000001` read `1.0`. A value an f64 holds
/// exactly stays a Quantity; any other is the signed string with its unit.
#[test]
fn a_number_an_f64_does_not_hold_is_not_rounded_in_the_fhir_bundle() {
    for (signed, quantity, string) in [
        ("58", Some(58.0), None),
        ("0.00000000000000012", Some(1.2e-16), None),
        ("1.00000000000000001", None, Some("1.00000000000000001 %")),
        ("12.3456789012345678", None, Some("12.3456789012345678 %")),
    ] {
        let input = example::input_with_lvef(signed);
        let bundle: serde_json::Value = serde_json::from_slice(&fhir::render(&input)).unwrap();
        let c = fhir_lvef(&bundle).expect("the lvef component");
        assert_eq!(c["valueQuantity"]["value"].as_f64(), quantity, "{signed}");
        assert_eq!(c["valueString"].as_str(), string, "{signed}");
    }
}

/// Review finding (2026-12-05): a custom section's code was its name cut to 16 characters, so
/// two sections whose names share their first 16 were one code.
#[test]
fn two_long_custom_section_names_are_two_codes() {
    let mut input = example::input();
    for (section, name) in [
        ("technique", "left-ventricular-function"),
        ("cardiac", "left-ventricular-mass"),
    ] {
        let s = input
            .view
            .sections
            .iter_mut()
            .find(|s| s.name == section)
            .unwrap();
        s.name = name.into();
    }
    let obj = read(&sr::render(&input).unwrap());
    let sections: Vec<String> = obj
        .element(tags::CONTENT_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
        .iter()
        .filter(|i| str_of(i, tags::VALUE_TYPE).as_deref() == Some("CONTAINER"))
        .filter_map(concept)
        .collect();
    // technique, findings, cardiac, impression and the addendum: five containers, five codes.
    let mut distinct = sections.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!((sections.len(), distinct.len()), (5, 5), "{sections:?}");
    assert!(sections.iter().all(|c| c.len() <= 16), "{sections:?}");
    // The long names' codes are hashes with an upper-case X: never a (lower-case) short name.
    assert_eq!(
        sections.iter().filter(|c| c.starts_with('X')).count(),
        2,
        "{sections:?}"
    );
}

/// Review finding (2026-12-05): a member's name was split on whitespace only: a `\` made the
/// single-valued Verifying Observer Name two values (and `^`, `=` added name components).
#[test]
fn a_verifier_named_with_a_backslash_is_one_person_name() {
    let mut input = example::input();
    let signoff = input.view.signoff.as_mut().unwrap();
    signoff.author.name = "Dr A\\B".into();
    let obj = read(&sr::render(&input).unwrap());
    let verifier = &obj
        .element(tags::VERIFYING_OBSERVER_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    let name = verifier.element(tags::VERIFYING_OBSERVER_NAME).unwrap();
    assert_eq!(name.value().multiplicity(), 1);
    assert_eq!(name.to_str().unwrap().trim(), "B^A^^Dr");
}

/// A Patient ID DICOM cannot hold as it is (longer than LO's 64 characters, or two values) is
/// refused, not cut: a cut ID could match another patient in the archive.
#[test]
fn a_patient_id_that_does_not_fit_refuses_the_export_instead_of_being_cut() {
    let mut input = example::input();
    input.study.patient_id = Some("7".repeat(64));
    let obj = read(&sr::render(&input).unwrap());
    assert_eq!(str_of(&obj, tags::PATIENT_ID).unwrap(), "7".repeat(64));
    for id in ["7".repeat(65), "PHANTOM\\0001".into()] {
        input.study.patient_id = Some(id.clone());
        assert!(
            matches!(sr::render(&input), Err(ExportError::Unrepresentable { .. })),
            "{id}"
        );
        let pdf = pdf::render(&input);
        assert!(
            matches!(
                encapsulated::render(&input, &pdf),
                Err(ExportError::Unrepresentable { .. })
            ),
            "{id}"
        );
    }
}

/// A unit longer than a Code Value's 16 characters was cut into another code; it goes whole
/// into Long Code Value (PS3.3 8.8).
#[test]
fn a_unit_longer_than_sixteen_characters_is_a_long_code_value_not_a_cut_one() {
    let unit = "mL/min/{1.73_m2}/d";
    let mut input = example::input();
    let lvef = input
        .view
        .sections
        .iter_mut()
        .flat_map(|s| s.fields.iter_mut())
        .find(|f| f.def.name == "lvef")
        .unwrap();
    lvef.def.kind = countersign_report::template::FieldKind::Number {
        unit: Some(unit.into()),
        min: None,
        max: None,
    };
    let obj = read(&sr::render(&input).unwrap());
    let mut all = Vec::new();
    items(&obj, &mut all);
    let num = all
        .into_iter()
        .find(|i| concept(i).as_deref() == Some("lvef"))
        .unwrap();
    let measured = &num
        .element(tags::MEASURED_VALUE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    let code = &measured
        .element(tags::MEASUREMENT_UNITS_CODE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    assert_eq!(str_of(code, tags::LONG_CODE_VALUE).as_deref(), Some(unit));
    assert_eq!(str_of(code, tags::CODE_VALUE), None);
}
