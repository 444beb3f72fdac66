//! The report's PDF as a DICOM Encapsulated PDF (PS3.3 A.45.1): what an archive's viewers show
//! where they cannot render an SR, stored beside the SR in the study of the report's images.
//!
//! Modules: Patient, General Study (from the images), Encapsulated Document Series (modality
//! `DOC`), General Equipment, SC Equipment (conversion type `WSD`, a workstation), Encapsulated
//! Document (the PDF, its MIME type and length, title, the LOINC concept the SR has), SOP
//! Common. Its identities are deterministic like the SR's: the same report state exported
//! twice is the same SOP Instance UID, which an archive keeps once.
//!
//! ```
//! let input = countersign_export::example_input();
//! let pdf = countersign_export::pdf::render(&input);
//! let file = countersign_export::encapsulated::render(&input, &pdf).unwrap();
//! assert_eq!(&file[128..132], b"DICM");
//! ```

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use countersign_report::ReportState;

use crate::sr::{
    code_item, cut, da_tm, put, put_patient_and_study, put_seq, series_seed, short_text,
    version_seed,
};
use crate::{uid, ExportError, ExportInput};

/// Encapsulated PDF Storage.
pub const ENCAPSULATED_PDF: &str = "1.2.840.10008.5.1.4.1.1.104.1";

/// The largest PDF encapsulated: the Encapsulated Document Length is a 32-bit count.
pub const MAX_PDF_BYTES: usize = u32::MAX as usize - 1;

/// The Series Instance UID of the report's Encapsulated PDF, as [`render`] writes it for `v`.
pub fn series_uid(v: &countersign_report::ReportView) -> String {
    uid(&series_seed("pdf", v))
}

/// `pdf` (the report's PDF, as [`crate::pdf::render`] writes it) as a DICOM Part 10 file,
/// explicit VR little endian.
pub fn render(input: &ExportInput, pdf: &[u8]) -> Result<Vec<u8>, ExportError> {
    if pdf.len() > MAX_PDF_BYTES {
        return Err(ExportError::Dicom(format!(
            "a PDF of {} bytes is larger than DICOM can encapsulate",
            pdf.len()
        )));
    }
    let v = &input.view;
    let state = version_seed(v);
    let instance = uid(&format!("pdf/{state}"));
    let series = series_uid(v);
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, ENCAPSULATED_PDF);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &instance);
    // Patient and General Study: as the report's images give them.
    put_patient_and_study(&mut obj, &input.study)?;
    // Encapsulated Document Series, General and SC Equipment.
    put(&mut obj, tags::MODALITY, VR::CS, "DOC");
    put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &series);
    put(&mut obj, tags::SERIES_NUMBER, VR::IS, "2");
    put(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        &short_text(&format!("{} report (PDF)", v.template_title), 64),
    );
    put(&mut obj, tags::MANUFACTURER, VR::LO, "Countersign");
    put(&mut obj, tags::CONVERSION_TYPE, VR::CS, "WSD");
    // Encapsulated Document.
    put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    let (date, time) = da_tm(v.signoff.as_ref().map_or(input.exported_ms, |s| s.time_ms));
    put(&mut obj, tags::CONTENT_DATE, VR::DA, &date);
    put(&mut obj, tags::CONTENT_TIME, VR::TM, &time);
    put(
        &mut obj,
        tags::ACQUISITION_DATE_TIME,
        VR::DT,
        &format!("{date}{time}"),
    );
    // The PDF shows the patient's name and the text: annotation burned in, in DICOM's words.
    put(&mut obj, tags::BURNED_IN_ANNOTATION, VR::CS, "YES");
    let signed = matches!(v.status, ReportState::Final | ReportState::Amended);
    put(
        &mut obj,
        tags::DOCUMENT_TITLE,
        VR::ST,
        &cut(
            &format!(
                "{} report{}",
                v.template_title,
                if signed { "" } else { " (not signed off)" }
            ),
            1024,
        ),
    );
    put_seq(
        &mut obj,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(("18748-4", "LN", "Diagnostic Imaging Report"))],
    );
    put(
        &mut obj,
        tags::MIME_TYPE_OF_ENCAPSULATED_DOCUMENT,
        VR::LO,
        "application/pdf",
    );
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT_LENGTH,
        VR::UL,
        PrimitiveValue::from(pdf.len() as u32),
    ));
    // OB values have even length: a PDF of odd length gets one NUL after its %%EOF, which the
    // length above leaves out (PS3.3 C.24.2.1).
    let mut document = pdf.to_vec();
    if !document.len().is_multiple_of(2) {
        document.push(0);
    }
    obj.put(DataElement::new(
        tags::ENCAPSULATED_DOCUMENT,
        VR::OB,
        PrimitiveValue::from(document),
    ));
    crate::sr::part10(obj, ENCAPSULATED_PDF, &instance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pdf_is_carried_whole_with_its_length_and_the_same_state_gives_the_same_instance() {
        let input = crate::example_input();
        let pdf = crate::pdf::render(&input);
        let file = render(&input, &pdf).unwrap();
        let obj = dicom_object::from_reader(&file[128..]).unwrap();
        let carried = obj
            .element(tags::ENCAPSULATED_DOCUMENT)
            .unwrap()
            .to_bytes()
            .unwrap();
        assert_eq!(&carried[..pdf.len()], &pdf[..]);
        assert!(carried.len() - pdf.len() <= 1 && carried.len().is_multiple_of(2));
        let length = obj
            .element(tags::ENCAPSULATED_DOCUMENT_LENGTH)
            .unwrap()
            .to_int::<u32>()
            .unwrap();
        assert_eq!(length as usize, pdf.len());
        let sop = |f: &[u8]| {
            dicom_object::from_reader(&f[128..])
                .unwrap()
                .element(tags::SOP_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap()
                .into_owned()
        };
        // Another export of the same state: the same instance, whatever the PDF's bytes.
        let again = render(&input, b"%PDF-1.4 other bytes").unwrap();
        assert_eq!(sop(&file), sop(&again));
        assert_eq!(
            obj.element(tags::STUDY_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap(),
            input.study.uid.as_str()
        );
    }
}
