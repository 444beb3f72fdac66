//! The report as a DICOM Comprehensive SR document (PS3.3 A.35.3): the report title container
//! with one section container per written section, each opening with its observer context —
//! the person who wrote it, those who co-signed it, and the AI model (a device observer) if
//! one drafted it — then its text, structured fields (NUM with UCUM units, or TEXT for a number
//! no 16-character DS holds; DATE, TEXT) and the images the report is about. The final sign-off
//! is the Verifying Observer; completion, verification and preliminary flags follow the report's
//! state. Critical results, addenda and follow-ups are TEXT items of their own. A report in conflict is PARTIAL and UNVERIFIED with no
//! verifier: it names each sign-off in force under its signer's observer context, and gives a
//! section the sign-offs disagree on one container per version signed off, each with its own
//! observer context.

use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

use countersign_report::template::FieldKind;
use countersign_report::{Author, ReportState, ReportView, SectionView, VersionView};

use crate::document::{
    ai_lines, ai_taken, conflict_line, conflicting, critical_line, current_version, in_force,
    refusal, withdrawn_line,
};
use crate::time::date_time;
use crate::time::readable;
use crate::{uid, ExportError, ExportInput};

pub const COMPREHENSIVE_SR: &str = "1.2.840.10008.5.1.4.1.1.88.33";
pub(crate) const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// The private coding scheme of Countersign's own concepts (template sections and fields).
const LOCAL: &str = "99CSGN";

type Code<'a> = (&'a str, &'a str, &'a str);

mod content;
mod links;
mod values;
use content::*;
pub(crate) use values::{
    cut, decimal_string, exact, identifier, patient_name, person_name, short_text,
};

pub(crate) fn put(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

pub(crate) fn put_seq(obj: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    obj.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

/// A code item. A code value longer than SH's 16 characters (a long UCUM unit) goes whole into
/// Long Code Value (UC, PS3.3 8.8) rather than cut into another code.
pub(crate) fn code_item((value, scheme, meaning): Code) -> InMemDicomObject {
    let mut c = InMemDicomObject::new_empty();
    if value.chars().count() <= 16 {
        put(&mut c, tags::CODE_VALUE, VR::SH, &short_text(value, 16));
    } else {
        put(
            &mut c,
            tags::LONG_CODE_VALUE,
            VR::UC,
            &short_text(value, usize::MAX),
        );
    }
    put(&mut c, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
    put(&mut c, tags::CODE_MEANING, VR::LO, &short_text(meaning, 64));
    c
}

/// A local code of a template's section or field name: the name when it fits SH's 16
/// characters, else a stable short form of it. Names are lowercase letters, digits and dashes
/// of up to 64 characters, so two long names may share their first 16: the short form is a
/// hash of the whole name, and starts with an upper-case `X` so that it is never the code of
/// a short name either.
pub(super) fn local_code(name: &str) -> String {
    if name.len() <= 16 {
        name.to_string()
    } else {
        let digest = uid(name);
        format!("X{}", &digest[digest.len() - 15..])
    }
}

/// `YYYYMMDD` and `HHMMSS` of epoch milliseconds (UTC).
pub(crate) fn da_tm(ms: u64) -> (String, String) {
    let dt = date_time(ms);
    (dt[..10].replace('-', ""), dt[11..19].replace(':', ""))
}

/// The report and the version it is at (the heads of its content: a read receipt or a
/// delivery record after it is not a new version): the seed of every exported object's SOP
/// Instance UID, so the same version exported again is the same instance.
pub(crate) fn version_seed(v: &ReportView) -> String {
    let heads: Vec<String> = v.version_heads.iter().map(|h| h.to_hex()).collect();
    format!("{}/{}", v.report, heads.join(","))
}

/// The Patient module and the study's identity, as the study's images give them: the same in
/// every DICOM object a report is exported as (the SR, the Encapsulated PDF) and in the
/// rejection note of a study it was wrongly filed under (the KOS), so an archive files each
/// under the patient of the images.
/// The identifiers an archive files by (Patient ID, Study Instance UID) are written exactly as
/// the images give them or the export is refused: cut or split, they could match another
/// patient's record.
pub(crate) fn put_patient_and_study(
    obj: &mut InMemDicomObject,
    study: &crate::StudyInfo,
) -> Result<(), ExportError> {
    put(
        obj,
        tags::PATIENT_NAME,
        VR::PN,
        &patient_name(study.patient_name.as_deref().unwrap_or("")),
    );
    put(
        obj,
        tags::PATIENT_ID,
        VR::LO,
        &identifier("the Patient ID", study.patient_id.as_deref().unwrap_or(""))?,
    );
    put(obj, tags::PATIENT_BIRTH_DATE, VR::DA, "");
    put(obj, tags::PATIENT_SEX, VR::CS, "");
    put(
        obj,
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        &identifier("the Study Instance UID", &study.uid)?,
    );
    // The rest of General Study: type 2, known here only by its date.
    put(
        obj,
        tags::STUDY_DATE,
        VR::DA,
        study.study_date.as_deref().unwrap_or(""),
    );
    put(obj, tags::STUDY_TIME, VR::TM, "");
    put(obj, tags::REFERRING_PHYSICIAN_NAME, VR::PN, "");
    put(obj, tags::STUDY_ID, VR::SH, "");
    put(obj, tags::ACCESSION_NUMBER, VR::SH, "");
    Ok(())
}

/// `obj` as a DICOM Part 10 file of `sop_class` (explicit VR little endian), the way every
/// DICOM object this crate writes ends.
pub(crate) fn part10(
    obj: InMemDicomObject,
    sop_class: &str,
    instance: &str,
) -> Result<Vec<u8>, ExportError> {
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(EXPLICIT_LE)
                .media_storage_sop_class_uid(sop_class)
                .media_storage_sop_instance_uid(instance),
        )
        .map_err(|e| ExportError::Dicom(e.to_string()))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| ExportError::Dicom(e.to_string()))?;
    Ok(out)
}

/// The Series Instance UID of a report's objects of one kind (`sr`, `pdf`) in the study it is
/// about now. A series belongs to one study: a report never moved keeps the seed it always had
/// (the same series as every earlier export); a moved one gets a series of its own in each
/// study it is moved to, so the study it left keeps its series to itself.
pub(crate) fn series_seed(kind: &str, v: &ReportView) -> String {
    if v.moves.is_empty() {
        format!("{kind}-series/{}", v.report)
    } else {
        format!("{kind}-series/{}/{}", v.report, v.study)
    }
}

/// The Series Instance UID of the report's SR, as [`render`] writes it for `v`.
pub fn series_uid(v: &ReportView) -> String {
    uid(&series_seed("sr", v))
}

/// The report as a DICOM Part 10 file (Comprehensive SR, explicit VR little endian).
pub fn render(input: &ExportInput) -> Result<Vec<u8>, ExportError> {
    let v = &input.view;
    let state = version_seed(v);
    let instance = uid(&format!("sr/{state}"));
    let series = series_uid(v);
    let mut obj = InMemDicomObject::new_empty();
    put(&mut obj, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put(&mut obj, tags::SOP_CLASS_UID, VR::UI, COMPREHENSIVE_SR);
    put(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, &instance);
    put(&mut obj, tags::MODALITY, VR::CS, "SR");
    put(&mut obj, tags::MANUFACTURER, VR::LO, "Countersign");
    put(
        &mut obj,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        &short_text(&format!("{} report", v.template_title), 64),
    );
    put_seq(
        &mut obj,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        vec![],
    );
    put_patient_and_study(&mut obj, &input.study)?;
    put(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, &series);
    put(&mut obj, tags::SERIES_NUMBER, VR::IS, "1");
    put(&mut obj, tags::INSTANCE_NUMBER, VR::IS, "1");

    let signed = matches!(v.status, ReportState::Final | ReportState::Amended);
    put(
        &mut obj,
        tags::COMPLETION_FLAG,
        VR::CS,
        if signed { "COMPLETE" } else { "PARTIAL" },
    );
    put(
        &mut obj,
        tags::VERIFICATION_FLAG,
        VR::CS,
        if signed { "VERIFIED" } else { "UNVERIFIED" },
    );
    put(
        &mut obj,
        tags::PRELIMINARY_FLAG,
        VR::CS,
        if signed { "FINAL" } else { "PRELIMINARY" },
    );
    let (content_date, content_time) =
        da_tm(v.signoff.as_ref().map_or(input.exported_ms, |s| s.time_ms));
    put(&mut obj, tags::CONTENT_DATE, VR::DA, &content_date);
    put(&mut obj, tags::CONTENT_TIME, VR::TM, &content_time);
    if let Some(s) = &v.signoff {
        let mut verifier = InMemDicomObject::new_empty();
        put(
            &mut verifier,
            tags::VERIFYING_OBSERVER_NAME,
            VR::PN,
            // The name they verified under (a later rename does not change who verified).
            &person_name(s.author.name_then.as_ref().unwrap_or(&s.author.name)),
        );
        put_seq(
            &mut verifier,
            tags::VERIFYING_OBSERVER_IDENTIFICATION_CODE_SEQUENCE,
            vec![],
        );
        put(
            &mut verifier,
            tags::VERIFYING_ORGANIZATION,
            VR::LO,
            &short_text(&input.network_name, 64),
        );
        let (d, t) = da_tm(s.time_ms);
        put(
            &mut verifier,
            tags::VERIFICATION_DATE_TIME,
            VR::DT,
            &format!("{d}{t}"),
        );
        put_seq(&mut obj, tags::VERIFYING_OBSERVER_SEQUENCE, vec![verifier]);
    }
    put_seq(&mut obj, tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, vec![]);
    if !input.images.is_empty() {
        put_seq(
            &mut obj,
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![evidence(input)],
        );
    }
    let mut scheme = InMemDicomObject::new_empty();
    put(&mut scheme, tags::CODING_SCHEME_DESIGNATOR, VR::SH, LOCAL);
    put(
        &mut scheme,
        tags::CODING_SCHEME_NAME,
        VR::ST,
        "Countersign template sections and fields",
    );
    put(
        &mut scheme,
        tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION,
        VR::ST,
        "Countersign",
    );
    put_seq(
        &mut obj,
        tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE,
        vec![scheme],
    );

    // The document content: the root container and its tree. First what a reader must not
    // miss: that the report does not count, or that two sign-offs disagree (and who they are).
    let mut content = Vec::new();
    match v.status {
        ReportState::Refused => content.push(text(
            "CONTAINS",
            ("refused", LOCAL, "Report refused"),
            &refusal(v),
        )),
        ReportState::Withdrawn => content.push(text(
            "CONTAINS",
            ("withdrawn", LOCAL, "Sign-off withdrawn"),
            &withdrawn_line(v),
        )),
        ReportState::Conflict => {
            let mut items = vec![text(
                "CONTAINS",
                ("conflict", LOCAL, "Conflict between sign-offs"),
                &conflict_line(v),
            )];
            for f in in_force(v) {
                let mut signoff = observer(&f.author);
                signoff.push(text(
                    "CONTAINS",
                    ("signoff", LOCAL, "Sign-off in force"),
                    &format!(
                        "Signed off by {} at {} as entry {}",
                        crate::document::named(&f.author),
                        readable(f.time_ms),
                        f.entry
                    ),
                ));
                items.push(container(
                    "CONTAINS",
                    ("signoff", LOCAL, "Sign-off in force"),
                    signoff,
                ));
            }
            content.push(container(
                "CONTAINS",
                ("conflict", LOCAL, "Conflict between sign-offs"),
                items,
            ));
        }
        _ => {}
    }
    for c in &v.critical {
        content.push(text(
            "CONTAINS",
            ("critical", LOCAL, "Critical result"),
            &critical_line(c),
        ));
    }
    for s in &v.sections {
        content.extend(section(v, s, &input.images)?);
    }
    for a in &v.addenda {
        let mut items = observer(&a.author);
        items.push(text(
            "CONTAINS",
            ("addendum", LOCAL, "Addendum"),
            a.text.as_deref().unwrap_or("(text erased)"),
        ));
        content.push(container(
            "CONTAINS",
            ("addendum", LOCAL, "Addendum"),
            items,
        ));
    }
    for f in &v.followups {
        content.push(text(
            "CONTAINS",
            ("followup", LOCAL, "Recommended follow-up"),
            &format!("{} — due {}", f.finding, f.due),
        ));
    }
    for i in &input.images {
        let mut image = item("CONTAINS", "IMAGE", None);
        put_seq(
            &mut image,
            tags::REFERENCED_SOP_SEQUENCE,
            vec![sop_reference(i)],
        );
        content.push(image);
    }
    put(&mut obj, tags::VALUE_TYPE, VR::CS, "CONTAINER");
    put_seq(
        &mut obj,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(("18748-4", "LN", "Diagnostic Imaging Report"))],
    );
    put(&mut obj, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    put_seq(&mut obj, tags::CONTENT_SEQUENCE, content);

    part10(obj, COMPREHENSIVE_SR, &instance)
}

/// An item naming one image: its SOP class and instance.
fn sop_reference(i: &crate::ImageRef) -> InMemDicomObject {
    let mut sop = InMemDicomObject::new_empty();
    put(
        &mut sop,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        &i.sop_class_uid,
    );
    put(
        &mut sop,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &i.sop_instance_uid,
    );
    sop
}

/// The Current Requested Procedure Evidence: the study, its series and instances the report
/// is about.
fn evidence(input: &ExportInput) -> InMemDicomObject {
    let mut study = InMemDicomObject::new_empty();
    put(
        &mut study,
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        &input.study.uid,
    );
    let mut series_uids: Vec<&str> = input.images.iter().map(|i| i.series_uid.as_str()).collect();
    series_uids.sort_unstable();
    series_uids.dedup();
    let series = series_uids
        .into_iter()
        .map(|s| {
            let mut item = InMemDicomObject::new_empty();
            put(&mut item, tags::SERIES_INSTANCE_UID, VR::UI, s);
            let sops = input
                .images
                .iter()
                .filter(|i| i.series_uid == s)
                .map(sop_reference)
                .collect();
            put_seq(&mut item, tags::REFERENCED_SOP_SEQUENCE, sops);
            item
        })
        .collect();
    put_seq(&mut study, tags::REFERENCED_SERIES_SEQUENCE, series);
    study
}
