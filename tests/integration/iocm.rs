//! A report delivered to an archive under the wrong patient, then moved: the archive is
//! corrected the IHE IOCM way, against real archives (Orthanc over DICOMweb, DCMTK's dcmqrscp
//! over DIMSE). The report goes into the right study, and the wrong study gets a Key Object
//! Selection Document titled (113037, DCM) "Rejected for Patient Safety Reasons" that
//! references exactly the report's SRs and PDFs delivered there — valid by dciodvfy. An
//! archive that is down during the move gets the note from `deliveries --retry`.

use std::collections::BTreeSet;
use std::path::Path;

use dicom_dictionary_std::tags;
use serde_json::Value;

use crate::common::Home;
use crate::pacs_servers::{free_port, phantom_study, Dcmqrscp, Orthanc, PATIENT};

/// The Patient ID `phantom_study` gives the instances it is asked to file under another.
const OTHER_PATIENT: &str = "SOMEONE-ELSE-0002";
const KOS: &str = "1.2.840.10008.5.1.4.1.1.88.59";

fn text(obj: &dicom_object::InMemDicomObject, tag: dicom_core::Tag) -> String {
    obj.element(tag)
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches('\0')
        .to_string()
}

/// What a rejection note says: its study, patient, title code and the SOP Instance UIDs it
/// references (in its evidence, and the same set in its content, else a panic).
struct Note {
    study: String,
    patient: String,
    title: String,
    referenced: BTreeSet<String>,
}

fn read_note(file: &Path) -> Note {
    let obj = dicom_object::open_file(file).unwrap();
    assert_eq!(text(&obj, tags::SOP_CLASS_UID), KOS);
    let title = &obj
        .element(tags::CONCEPT_NAME_CODE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()[0];
    let mut evidence = BTreeSet::new();
    for study in obj
        .element(tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
    {
        for series in study
            .element(tags::REFERENCED_SERIES_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()
        {
            for sop in series
                .element(tags::REFERENCED_SOP_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()
            {
                evidence.insert(text(sop, tags::REFERENCED_SOP_INSTANCE_UID));
            }
        }
    }
    let content: BTreeSet<String> = obj
        .element(tags::CONTENT_SEQUENCE)
        .unwrap()
        .items()
        .unwrap()
        .iter()
        .filter(|i| text(i, tags::VALUE_TYPE) == "COMPOSITE")
        .map(|i| {
            let sop = &i
                .element(tags::REFERENCED_SOP_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()[0];
            text(sop, tags::REFERENCED_SOP_INSTANCE_UID)
        })
        .collect();
    assert_eq!(
        evidence, content,
        "the evidence and the content name the same"
    );
    Note {
        study: text(&obj, tags::STUDY_INSTANCE_UID),
        patient: text(&obj, tags::PATIENT_ID),
        title: format!(
            "{}/{}",
            text(title, tags::CODE_VALUE),
            text(title, tags::CODING_SCHEME_DESIGNATOR)
        ),
        referenced: evidence,
    }
}

/// dciodvfy's errors on `file` (none expected), after checking it read the IOD claimed.
fn dciodvfy_errors(file: &Path, iod: &str) -> Vec<String> {
    let check = std::process::Command::new("dciodvfy")
        .arg(file)
        .output()
        .expect("dciodvfy (Debian dicom3tools) is installed by make test");
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    assert!(said.contains(iod), "{said}");
    said.lines()
        .filter(|l| l.starts_with("Error"))
        .map(String::from)
        .collect()
}

fn study_and_patient(file: &[u8], dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    let obj = dicom_object::open_file(&path).unwrap();
    (
        text(&obj, tags::STUDY_INSTANCE_UID),
        text(&obj, tags::PATIENT_ID),
    )
}

fn record<'a>(list: &'a Value, kind: &str, archive: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == kind && d["archive"] == archive)
        .unwrap_or_else(|| panic!("no {kind} to {archive}: {list}"))
}

#[test]
fn a_moved_report_is_rejected_in_the_wrong_study_and_delivered_into_the_right_one() {
    let dir = tempfile::tempdir().unwrap();
    // S1 of patient P1 (where the report is wrongly written), S2 of patient P2.
    let wrong = phantom_study(dir.path(), "iocm wrong", "20260105", &[]);
    let right = phantom_study(dir.path(), "iocm right", "20260106", &[1, 2, 3]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for f in wrong.files.iter().chain(&right.files) {
        orthanc.upload(f);
    }
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &wrong.study]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &right.study]);
    let report = home.new_report(&wrong.study, "ct-chest");
    home.fill_every_section(&report);
    home.ok(&["report", "finalize", &report]);

    // Two versions delivered into S1 (the sign-off, then an addendum), to both archives.
    let first = home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    home.ok(&[
        "report",
        "addendum",
        &report,
        "--text",
        "Compared with prior: unchanged.",
    ]);
    let second = home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    let mut old: BTreeSet<String> = BTreeSet::new();
    for sent in [&first, &second] {
        assert_eq!(sent["study"], wrong.study.as_str());
        old.insert(sent["sop_instance"].as_str().unwrap().to_string());
        old.insert(sent["pdf_sop_instance"].as_str().unwrap().to_string());
    }
    assert_eq!(old.len(), 4, "two versions, an SR and a PDF each: {old:?}");
    for sop in &old {
        assert_eq!(orthanc.find_instance(sop).len(), 1, "{sop}");
    }
    // The DIMSE archive is down when the move is signed (a free port): its note waits.
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let over_dimse = home.ok(&["deliver", &report, "--pacs", "dcm"]);
    assert_eq!(over_dimse["sop_instance"], second["sop_instance"]);
    home.ok(&["pacs", "remove", "dcm"]);
    let down = format!("ARCHIVE@127.0.0.1:{}", free_port());
    home.ok(&["pacs", "add", "dcm", "--dimse", &down, "--timeout", "2"]);

    let moved = home.run(&[
        "report",
        "move",
        &report,
        "--to-patient",
        OTHER_PATIENT,
        "--study",
        &right.study,
        "--reason",
        "registered under the wrong patient at the front desk",
    ]);
    assert_eq!(
        moved.code, 0,
        "the move is signed whatever the archives do: {}",
        moved.stderr
    );
    assert_eq!(
        home.ok(&["report", "show", &report])["study"],
        right.study.as_str()
    );

    // Orthanc: S2 has the new SR and PDF, under P2.
    let list = home.ok(&["deliveries"]);
    let delivered = record(&list, "delivery", "orthanc");
    assert_eq!(delivered["state"], "delivered", "{list}");
    assert_eq!(delivered["study"], right.study.as_str(), "{list}");
    for field in ["sop_instance", "pdf_sop_instance"] {
        let sop = delivered[field].as_str().unwrap();
        assert!(!old.contains(sop), "a new version: {sop}");
        let found = orthanc.find_instance(sop);
        assert_eq!(found.len(), 1, "{field} {sop}");
        let file = orthanc.instance_file(&found[0]);
        assert_eq!(
            study_and_patient(&file, dir.path(), &format!("new-{field}.dcm")),
            (right.study.clone(), OTHER_PATIENT.to_string())
        );
    }
    // S1 has the rejection note, under P1, titled 113037, naming exactly the four old ones.
    let rejection = record(&list, "rejection", "orthanc");
    assert_eq!(rejection["state"], "delivered", "{list}");
    assert_eq!(rejection["study"], wrong.study.as_str(), "{list}");
    let kos_sop = rejection["sop_instance"].as_str().unwrap();
    let found = orthanc.find_instance(kos_sop);
    assert_eq!(found.len(), 1, "{kos_sop}");
    let kos = dir.path().join("kos-orthanc.dcm");
    std::fs::write(&kos, orthanc.instance_file(&found[0])).unwrap();
    let note = read_note(&kos);
    assert_eq!(note.study, wrong.study);
    assert_eq!(note.patient, PATIENT);
    assert_eq!(note.title, "113037/DCM");
    assert_eq!(note.referenced, old);
    let errors = dciodvfy_errors(&kos, "KeyObjectSelectionDocument");
    assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    // The rejection is a signed entry of the report: by the member whose home sent it, the
    // archive, the study left, the note and exactly the instances it rejects.
    let view = home.ok(&["report", "show", &report]);
    let signed = signed_rejections(&view);
    assert_eq!(signed.len(), 1, "{view}");
    assert_eq!(
        signed[0],
        (
            "Dr Ada".to_string(),
            "orthanc".to_string(),
            wrong.study.clone(),
            kos_sop.to_string(),
            old.clone()
        )
    );

    // The DIMSE archive: both its correction records failed and are kept for retry.
    let failed_rejection = record(&list, "rejection", "dcm");
    assert_eq!(failed_rejection["state"], "failed", "{list}");
    assert_eq!(failed_rejection["error_code"], "pacs_unreachable", "{list}");
    let sent_to_dcm: BTreeSet<String> = failed_rejection["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["sop_instance"].as_str().unwrap().to_string())
        .collect();
    let last: BTreeSet<String> = [&second["sop_instance"], &second["pdf_sop_instance"]]
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        sent_to_dcm, last,
        "dcmqrscp was sent only the second version"
    );
    assert_eq!(record(&list, "delivery", "dcm")["state"], "failed");

    // It answers again: the retry stores the note (and the report into S2) there.
    home.ok(&["pacs", "remove", "dcm"]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let retried = home.ok(&["deliveries", "--retry"]);
    let again = record(&retried, "rejection", "dcm");
    assert_eq!(again["state"], "delivered", "{retried}");
    assert_eq!(again["attempts"], 2, "{retried}");
    assert_eq!(record(&retried, "delivery", "dcm")["state"], "delivered");
    let notes: Vec<Note> = dcmqrscp
        .stored_files()
        .iter()
        .filter(|f| {
            let obj = dicom_object::open_file(f).unwrap();
            text(&obj, tags::SOP_CLASS_UID) == KOS
        })
        .map(|f| {
            let errors = dciodvfy_errors(f, "KeyObjectSelectionDocument");
            assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
            read_note(f)
        })
        .collect();
    assert_eq!(notes.len(), 1, "one note on dcmqrscp");
    assert_eq!(notes[0].study, wrong.study);
    assert_eq!(notes[0].patient, PATIENT);
    assert_eq!(notes[0].title, "113037/DCM");
    assert_eq!(notes[0].referenced, last);
    // Nothing left to do: a second retry sends nothing, and the note is not sent twice.
    assert_eq!(home.ok(&["deliveries", "--retry"]), serde_json::json!([]));
    // Each archive's rejection signed once: orthanc's, then dcmqrscp's own.
    let signed = signed_rejections(&home.ok(&["report", "show", &report]));
    assert_eq!(signed.len(), 2, "{signed:?}");
    assert_eq!(
        (
            signed[1].1.as_str(),
            &signed[1].2,
            &signed[1].3,
            &signed[1].4
        ),
        (
            "dcm",
            &wrong.study,
            &again["sop_instance"].as_str().unwrap().to_string(),
            &last
        )
    );
}

/// The signed rejections a report's view lists (by, archive, study, note, instances), each
/// also in its provenance as an accepted `report.delivered`.
fn signed_rejections(view: &Value) -> Vec<(String, String, String, String, BTreeSet<String>)> {
    let listed = view["rejections"].as_array().cloned().unwrap_or_default();
    listed
        .iter()
        .map(|r| {
            let entry = r["entry"].as_str().unwrap();
            let item = view["provenance"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["entry"] == entry)
                .unwrap_or_else(|| panic!("rejection {entry} not in provenance: {view}"));
            assert_eq!(item["kind"], "report.delivered");
            assert!(
                view["deliveries"]
                    .as_array()
                    .is_none_or(|d| d.iter().all(|d| d["entry"] != entry)),
                "a rejection is not listed as a delivery"
            );
            (
                r["by"]["name"].as_str().unwrap().to_string(),
                r["archive"].as_str().unwrap().to_string(),
                r["study"].as_str().unwrap().to_string(),
                r["rejection_note"].as_str().unwrap().to_string(),
                r["sop_instances"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// A peer that delivered the report too: the move reaches it by a bundle (as by sync), and its
/// next `deliveries --retry` sends its own correction — the note in the wrong study at once,
/// and the report into the right study once that study's images are here (never an SR naming
/// no patient).
#[test]
fn a_peer_that_delivered_the_report_corrects_its_archive_when_the_move_reaches_it() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = phantom_study(dir.path(), "iocm peer wrong", "20260105", &[]);
    let right = phantom_study(dir.path(), "iocm peer right", "20260106", &[1, 2, 3]);
    let orthanc = Orthanc::start();
    for f in wrong.files.iter().chain(&right.files) {
        orthanc.upload(f);
    }
    let (ada, bob) = crate::common::two_attendings();
    for home in [&ada, &bob] {
        home.ok(&[
            "pacs",
            "add",
            "orthanc",
            "--dicomweb",
            &orthanc.dicomweb_url(),
        ]);
        home.ok(&["retrieve", "--pacs", "orthanc", "--study", &wrong.study]);
    }
    ada.ok(&["retrieve", "--pacs", "orthanc", "--study", &right.study]);
    let report = ada.new_report(&wrong.study, "ct-chest");
    ada.fill_every_section(&report);
    ada.ok(&["report", "finalize", &report]);
    // Bob holds the report (with its key) and delivers it; Ada's home delivers nothing.
    assert_eq!(bob.import(&ada.bundle(None)).code, 0);
    let sent = bob.ok(&["deliver", &report, "--pacs", "orthanc"]);
    let old: BTreeSet<String> = ["sop_instance", "pdf_sop_instance"]
        .iter()
        .map(|f| sent[f].as_str().unwrap().to_string())
        .collect();
    ada.ok(&[
        "report",
        "move",
        &report,
        "--to-patient",
        OTHER_PATIENT,
        "--study",
        &right.study,
        "--reason",
        "registered under the wrong patient",
    ]);
    assert_eq!(ada.ok(&["deliveries"]), serde_json::json!([]));
    assert_eq!(bob.import(&ada.bundle(None)).code, 0);
    assert_eq!(
        bob.ok(&["report", "show", &report])["study"],
        right.study.as_str()
    );

    let retried = bob.ok(&["deliveries", "--retry"]);
    let rejection = record(&retried, "rejection", "orthanc");
    assert_eq!(rejection["state"], "delivered", "{retried}");
    let found = orthanc.find_instance(rejection["sop_instance"].as_str().unwrap());
    assert_eq!(found.len(), 1);
    let kos = dir.path().join("kos-peer.dcm");
    std::fs::write(&kos, orthanc.instance_file(&found[0])).unwrap();
    let note = read_note(&kos);
    assert_eq!(
        (note.study.as_str(), note.patient.as_str()),
        (wrong.study.as_str(), PATIENT)
    );
    assert_eq!(note.referenced, old);
    // Ada's home syncs the report from Bob's: its provenance shows Bob's signed rejection.
    assert_eq!(ada.import(&bob.bundle(None)).code, 0);
    assert_eq!(
        signed_rejections(&ada.ok(&["report", "show", &report])),
        [(
            "Dr Bob".to_string(),
            "orthanc".to_string(),
            wrong.study.clone(),
            rejection["sop_instance"].as_str().unwrap().to_string(),
            old.clone()
        )]
    );
    // S2's images are not in Bob's home: the report waits rather than go without a patient.
    let waiting = record(&retried, "delivery", "orthanc");
    assert_eq!(waiting["state"], "failed", "{retried}");
    assert_eq!(waiting["error_code"], "not_found", "{retried}");
    bob.ok(&["retrieve", "--pacs", "orthanc", "--study", &right.study]);
    let retried = bob.ok(&["deliveries", "--retry"]);
    let delivered = record(&retried, "delivery", "orthanc");
    assert_eq!(delivered["state"], "delivered", "{retried}");
    let found = orthanc.find_instance(delivered["sop_instance"].as_str().unwrap());
    assert_eq!(found.len(), 1);
    assert_eq!(
        study_and_patient(
            &orthanc.instance_file(&found[0]),
            dir.path(),
            "peer-new-sr.dcm"
        ),
        (right.study.clone(), OTHER_PATIENT.to_string())
    );
    // The note is not sent again.
    assert_eq!(bob.ok(&["deliveries", "--retry"]), serde_json::json!([]));
}
