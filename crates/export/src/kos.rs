//! The correction of a report filed under the wrong patient, as an archive understands it: an
//! IHE IOCM (Imaging Object Change Management) rejection note — a Key Object Selection Document
//! (PS3.3 A.59, template TID 2010) whose title is (113037, DCM, "Rejected for Patient Safety
//! Reasons"), stored in the study the report was wrongly delivered into and referencing every
//! SR and Encapsulated PDF of the report delivered there. An IOCM-aware archive hides (or
//! deletes) the referenced instances, and a viewer stops showing them under that patient.
//!
//! Why 113037 and not 113038 ("Incorrect Modality Worklist Entry"): CID 7011 defines 113038
//! for images acquired against the wrong worklist entry — the modality picked the wrong order —
//! which a report written on a workstation never is. 113037 is the meaning IOCM gives to
//! instances that must not be used because they are filed under the wrong patient, which is
//! what a moved report's earlier deliveries are.
//!
//! The note carries the Patient module of the study it corrects (the patient of the rejected
//! instances: an archive files it beside them) and nothing of the right patient: not the study
//! the report went to, not the reason typed with the move (it may name the right patient).
//! Its identities are deterministic: the same rejection written twice is the same SOP Instance
//! UID, which an archive keeps once.
//!
//! ```
//! use countersign_export::kos::{render, RejectedInstance, Rejection};
//! let study = countersign_export::StudyInfo { uid: "1.2.3".into(), ..Default::default() };
//! let rejected = [RejectedInstance {
//!     sop_class: countersign_export::sr::COMPREHENSIVE_SR.into(),
//!     sop_instance: "2.25.1".into(),
//!     series: "2.25.2".into(),
//! }];
//! let file = render(&Rejection { report: "r", study: &study, instances: &rejected, time_ms: 0 })
//!     .unwrap();
//! assert_eq!(&file[128..132], b"DICM");
//! ```

use dicom_core::VR;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::sr::{code_item, cut, da_tm, put, put_patient_and_study, put_seq};
use crate::{uid, ExportError, StudyInfo};

/// Key Object Selection Document Storage.
pub const KEY_OBJECT_SELECTION: &str = "1.2.840.10008.5.1.4.1.1.88.59";

/// The Document Title of the rejection note (CID 7011; see the module's doc for why this one).
pub const REJECTED_FOR_PATIENT_SAFETY: (&str, &str, &str) =
    ("113037", "DCM", "Rejected for Patient Safety Reasons");

/// The most instances one note rejects: one SR and one PDF per version of a report, so far
/// beyond any report's versions, and a bound on the file written.
pub const MAX_REJECTED: usize = 1024;

/// One instance delivered to an archive that the note rejects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RejectedInstance {
    pub sop_class: String,
    pub sop_instance: String,
    pub series: String,
}

/// What a rejection note is written from.
#[derive(Debug, Clone)]
pub struct Rejection<'a> {
    /// The report (its id: the seed of the note's identities).
    pub report: &'a str,
    /// The study the instances are wrongly filed under, with its patient, as its images give
    /// them.
    pub study: &'a StudyInfo,
    /// The report's instances delivered into that study.
    pub instances: &'a [RejectedInstance],
    /// When the report was moved away from the study (ms since the epoch): the note's content
    /// date and time.
    pub time_ms: u64,
}

/// The SOP Instance UID [`render`] gives the note: one per report, study and set of instances
/// rejected, so the same correction sent again is the same instance.
pub fn instance_uid(r: &Rejection) -> String {
    let mut sops: Vec<&str> = r
        .instances
        .iter()
        .map(|i| i.sop_instance.as_str())
        .collect();
    sops.sort_unstable();
    sops.dedup();
    uid(&format!(
        "kos/{}/{}/{}",
        r.report,
        r.study.uid,
        sops.join(",")
    ))
}

/// The rejection note as a DICOM Part 10 file (explicit VR little endian).
pub fn render(r: &Rejection) -> Result<Vec<u8>, ExportError> {
    let mut instances = r.instances.to_vec();
    instances.sort();
    instances.dedup();
    if instances.is_empty() {
        return Err(ExportError::Dicom(
            "a rejection note must reference at least one instance".into(),
        ));
    }
    if instances.len() > MAX_REJECTED {
        return Err(ExportError::Dicom(format!(
            "a rejection note of {} instances: at most {MAX_REJECTED}",
            instances.len()
        )));
    }
    let instance = instance_uid(r);
    let series = uid(&format!("kos-series/{}/{}", r.report, r.study.uid));
    let (date, time) = da_tm(r.time_ms);
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, KEY_OBJECT_SELECTION);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &instance);
    // Patient and General Study: those of the rejected instances.
    put_patient_and_study(&mut obj, r.study)?;
    // Key Object Document Series and General Equipment.
    put(&mut obj, tags::MODALITY, VR::CS, "KO");
    put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &series);
    put(&mut obj, tags::SERIES_NUMBER, VR::IS, "3");
    put(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        &cut(REJECTED_FOR_PATIENT_SAFETY.2, 64),
    );
    put_seq(
        &mut obj,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        vec![],
    );
    put(&mut obj, tags::MANUFACTURER, VR::LO, "Countersign");
    // Key Object Document: what is rejected, as the Current Requested Procedure Evidence.
    put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");
    put(&mut obj, tags::CONTENT_DATE, VR::DA, &date);
    put(&mut obj, tags::CONTENT_TIME, VR::TM, &time);
    put_seq(
        &mut obj,
        tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
        vec![evidence(&r.study.uid, &instances)],
    );
    // SR Document Content: TID 2010's root container titled with the rejection, a description,
    // then one COMPOSITE item per instance (an SR and a PDF are neither image nor waveform).
    put(&mut obj, tags::VALUE_TYPE, VR::CS, "CONTAINER");
    put_seq(
        &mut obj,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(REJECTED_FOR_PATIENT_SAFETY)],
    );
    put(&mut obj, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    let mut template = InMemDicomObject::new_empty();
    put(&mut template, tags::MAPPING_RESOURCE, VR::CS, "DCMR");
    put(&mut template, tags::TEMPLATE_IDENTIFIER, VR::CS, "2010");
    put_seq(&mut obj, tags::CONTENT_TEMPLATE_SEQUENCE, vec![template]);
    let mut content = Vec::with_capacity(instances.len() + 1);
    let mut description = InMemDicomObject::new_empty();
    put(
        &mut description,
        tags::RELATIONSHIP_TYPE,
        VR::CS,
        "CONTAINS",
    );
    put(&mut description, tags::VALUE_TYPE, VR::CS, "TEXT");
    put_seq(
        &mut description,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(("113012", "DCM", "Key Object Description"))],
    );
    put(
        &mut description,
        tags::TEXT_VALUE,
        VR::UT,
        "This report was filed under the wrong patient and has been moved to the right \
         one. The referenced report documents in this study must not be used.",
    );
    content.push(description);
    for i in &instances {
        let mut item = InMemDicomObject::new_empty();
        put(&mut item, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
        put(&mut item, tags::VALUE_TYPE, VR::CS, "COMPOSITE");
        put_seq(&mut item, tags::REFERENCED_SOP_SEQUENCE, vec![sop(i)]);
        content.push(item);
    }
    put_seq(&mut obj, tags::CONTENT_SEQUENCE, content);

    crate::sr::part10(obj, KEY_OBJECT_SELECTION, &instance)
}

fn sop(i: &RejectedInstance) -> InMemDicomObject {
    let mut sop = InMemDicomObject::new_empty();
    put(
        &mut sop,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        &i.sop_class,
    );
    put(
        &mut sop,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &i.sop_instance,
    );
    sop
}

/// The study, its series and the instances rejected in each (sorted: one series item each).
fn evidence(study_uid: &str, instances: &[RejectedInstance]) -> InMemDicomObject {
    let mut study = InMemDicomObject::new_empty();
    put(&mut study, tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
    let mut series_uids: Vec<&str> = instances.iter().map(|i| i.series.as_str()).collect();
    series_uids.sort_unstable();
    series_uids.dedup();
    let series = series_uids
        .into_iter()
        .map(|s| {
            let mut item = InMemDicomObject::new_empty();
            put(&mut item, tags::SERIES_INSTANCE_UID, VR::UI, s);
            let sops = instances
                .iter()
                .filter(|i| i.series == s)
                .map(sop)
                .collect();
            put_seq(&mut item, tags::REFERENCED_SOP_SEQUENCE, sops);
            item
        })
        .collect();
    put_seq(&mut study, tags::REFERENCED_SERIES_SEQUENCE, series);
    study
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(n: usize) -> Vec<RejectedInstance> {
        (0..n)
            .map(|k| RejectedInstance {
                sop_class: if k % 2 == 0 {
                    crate::sr::COMPREHENSIVE_SR.into()
                } else {
                    crate::encapsulated::ENCAPSULATED_PDF.into()
                },
                sop_instance: format!("2.25.{}", 100 + k),
                series: format!("2.25.{}", k % 2),
            })
            .collect()
    }

    fn study() -> StudyInfo {
        StudyInfo {
            uid: "1.2.826.0.1.3680043.2.1125.1".into(),
            patient_name: Some("Wrong^Patient".into()),
            patient_id: Some("P1".into()),
            study_date: Some("20260105".into()),
            ..Default::default()
        }
    }

    fn strings(obj: &InMemDicomObject, tag: dicom_core::Tag) -> String {
        obj.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    }

    #[test]
    fn the_note_is_titled_as_a_rejection_of_the_wrong_patients_instances_and_names_each() {
        let study = study();
        let instances = rejected(4);
        let r = Rejection {
            report: "report-1",
            study: &study,
            instances: &instances,
            time_ms: 1_767_600_000_000,
        };
        let file = render(&r).unwrap();
        let obj = dicom_object::from_reader(&file[128..]).unwrap();
        assert_eq!(strings(&obj, tags::SOP_CLASS_UID), KEY_OBJECT_SELECTION);
        assert_eq!(strings(&obj, tags::SOP_INSTANCE_UID), instance_uid(&r));
        assert_eq!(strings(&obj, tags::PATIENT_ID), "P1");
        assert_eq!(strings(&obj, tags::STUDY_INSTANCE_UID), study.uid);
        assert_eq!(strings(&obj, tags::MODALITY), "KO");
        let title = obj.element(tags::CONCEPT_NAME_CODE_SEQUENCE).unwrap();
        let title = &title.items().unwrap()[0];
        assert_eq!(strings(title, tags::CODE_VALUE), "113037");
        assert_eq!(strings(title, tags::CODING_SCHEME_DESIGNATOR), "DCM");
        // Every instance, in the evidence (under its series) and in the content.
        let evidence = obj
            .element(tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
            .unwrap();
        let mut in_evidence = Vec::new();
        for s in evidence.items().unwrap()[0]
            .element(tags::REFERENCED_SERIES_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
        {
            for sop in s
                .element(tags::REFERENCED_SOP_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()
            {
                in_evidence.push(strings(sop, tags::REFERENCED_SOP_INSTANCE_UID));
            }
        }
        in_evidence.sort();
        let mut expected: Vec<String> = instances.iter().map(|i| i.sop_instance.clone()).collect();
        expected.sort();
        assert_eq!(in_evidence, expected);
        let content = obj.element(tags::CONTENT_SEQUENCE).unwrap();
        let mut in_content: Vec<String> = content
            .items()
            .unwrap()
            .iter()
            .filter(|i| strings(i, tags::VALUE_TYPE) == "COMPOSITE")
            .map(|i| {
                let sop = &i
                    .element(tags::REFERENCED_SOP_SEQUENCE)
                    .unwrap()
                    .items()
                    .unwrap()[0];
                strings(sop, tags::REFERENCED_SOP_INSTANCE_UID)
            })
            .collect();
        in_content.sort();
        assert_eq!(in_content, expected);
    }

    #[test]
    fn the_same_rejection_is_the_same_instance_and_another_set_another() {
        let study = study();
        let (two, three) = (rejected(2), rejected(3));
        let mut reversed = two.clone();
        reversed.reverse();
        let of = |i: &[RejectedInstance]| {
            instance_uid(&Rejection {
                report: "r",
                study: &study,
                instances: i,
                time_ms: 0,
            })
        };
        assert_eq!(of(&two), of(&reversed));
        assert_ne!(of(&two), of(&three));
        let none = render(&Rejection {
            report: "r",
            study: &study,
            instances: &[],
            time_ms: 0,
        });
        assert!(none.is_err());
        let too_many = rejected(MAX_REJECTED + 1);
        assert!(render(&Rejection {
            report: "r",
            study: &study,
            instances: &too_many,
            time_ms: 0,
        })
        .is_err());
    }
}
