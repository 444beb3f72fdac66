//! The PDF taken out of its wrapper, and a report of another study or instance refused.

use super::*;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

fn wrapped(class: &str, mime: &str, document: &[u8]) -> Vec<u8> {
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, v: &str| obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    put(tags::SOP_CLASS_UID, VR::UI, class);
    put(tags::SOP_INSTANCE_UID, VR::UI, "2.25.5");
    put(tags::STUDY_INSTANCE_UID, VR::UI, "2.25.9");
    put(tags::DOCUMENT_TITLE, VR::ST, "CT report");
    put(tags::CONTENT_DATE, VR::DA, "20240517");
    put(tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT, VR::LO, mime);
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT_LENGTH,
        VR::UL,
        PrimitiveValue::from(document.len() as u32),
    ));
    let mut padded = document.to_vec();
    if padded.len() % 2 == 1 {
        padded.push(0);
    }
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT,
        VR::OB,
        PrimitiveValue::from(padded),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid(class)
                .media_storage_sop_instance_uid("2.25.5"),
        )
        .unwrap();
    let mut out = Vec::new();
    file.write_all(&mut out).unwrap();
    out
}

#[test]
fn the_pdf_is_taken_out_of_its_wrapper_and_nothing_else_is() {
    let pdf = b"%PDF-1.4 odd!";
    let got = read_encapsulated_pdf(&wrapped(
        countersign_pacs::documents::ENCAPSULATED_PDF,
        "application/pdf",
        pdf,
    ))
    .unwrap();
    // The padding byte is not part of the PDF.
    assert_eq!(got.document, pdf);
    assert_eq!(
        (
            got.study.as_str(),
            got.title.as_deref(),
            got.date.as_deref()
        ),
        ("2.25.9", Some("CT report"), Some("20240517"))
    );
    let not_pdf = wrapped(
        countersign_pacs::documents::ENCAPSULATED_PDF,
        "application/pdf",
        b"<html>",
    );
    assert!(read_encapsulated_pdf(&not_pdf)
        .unwrap_err()
        .contains("%PDF-"));
    let cda = wrapped(
        countersign_pacs::documents::ENCAPSULATED_PDF,
        "text/xml",
        b"%PDF-",
    );
    assert!(read_encapsulated_pdf(&cda)
        .unwrap_err()
        .contains("text/xml"));
    let image = wrapped("1.2.840.10008.5.1.4.1.1.2", "application/pdf", b"%PDF-");
    assert!(read_encapsulated_pdf(&image)
        .unwrap_err()
        .contains("not Encapsulated PDF"));
}

#[test]
fn another_studys_or_instances_report_is_not_shown() {
    let config = ArchiveConfig {
        name: "orthanc".into(),
        endpoint: ArchiveEndpoint::Dicomweb {
            url: "http://127.0.0.1:1/dicom-web".into(),
        },
        timeout_s: DEFAULT_TIMEOUT_S,
        store_back: false,
        auth: None,
        secret: None,
    };
    let asked = DocumentMatch {
        kind: DocumentKind::Sr,
        series: "2.25.2".into(),
        instance: "2.25.3".into(),
        sop_class: None,
        date: None,
        time: None,
    };
    assert!(check_same(&config, "2.25.1", &asked, "2.25.1", "2.25.3").is_ok());
    let err = check_same(&config, "2.25.1", &asked, "2.25.9", "2.25.3").unwrap_err();
    assert_eq!(err.code(), "sr_wrong_study");
    assert!(err.to_string().contains("archive orthanc"), "{err}");
    let err = check_same(&config, "2.25.1", &asked, "2.25.1", "2.25.4").unwrap_err();
    assert_eq!(err.code(), "pacs_malformed");
}
