//! Studies of chosen patients: a small phantom series whose instances carry a given Patient ID
//! and Issuer of Patient ID (0010,0021) — two hospitals' patients sharing one ID, or a stray
//! instance of another patient filed into a study.

use std::path::{Path, PathBuf};

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;

/// Writes a phantom series of `slices` 16² slices (seed `seed`: its own study UID) into
/// `dir/<seed>`, every instance of the patient (`patient_id`, `issuer`; `None`: no issuer
/// element at all). Returns the study's UID and the files.
pub fn patient_series(
    dir: &Path,
    seed: &str,
    slices: u32,
    patient_id: &str,
    issuer: Option<&str>,
) -> (String, Vec<PathBuf>) {
    let spec = countersign_imaging::PhantomSpec {
        seed: seed.to_string(),
        slices,
        size: 16,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.join(seed)).unwrap();
    for file in &files {
        set_patient(file, patient_id, issuer);
    }
    (countersign_imaging::phantom_study_uid(seed), files)
}

/// Rewrites `file` as an instance of the patient (`patient_id`, `issuer`; `None` removes the
/// issuer), everything else kept.
pub fn set_patient(file: &Path, patient_id: &str, issuer: Option<&str>) {
    let mut obj = dicom_object::open_file(file).unwrap();
    obj.put(DataElement::new(
        tags::PATIENT_ID,
        VR::LO,
        PrimitiveValue::from(patient_id),
    ));
    match issuer {
        Some(issuer) => {
            obj.put(DataElement::new(
                tags::ISSUER_OF_PATIENT_ID,
                VR::LO,
                PrimitiveValue::from(issuer),
            ));
        }
        None => {
            obj.remove_element(tags::ISSUER_OF_PATIENT_ID);
        }
    }
    obj.write_to_file(file).unwrap();
}
