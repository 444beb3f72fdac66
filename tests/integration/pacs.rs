//! Working from a PACS, against real archives started by the tests (`pacs_servers`): Orthanc
//! over DICOMweb and DCMTK's dcmqrscp over DIMSE. The worklist with this department's report
//! states, byte-identical retrieval over both protocols, wrong-patient safety, and archives
//! that are down, refuse, or answer garbage.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{two_attendings, Home};
use crate::pacs_servers::{
    free_port, phantom_study, Dcmqrscp, Garbage, Orthanc, Seeded, Silent, PATIENT,
};

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn shas(files: &[std::path::PathBuf]) -> BTreeSet<String> {
    files.iter().map(|f| sha256_hex(f)).collect()
}

/// The SHA-256 of every image a new report on `study` binds: what the home's store holds of
/// the study, by content.
fn stored(home: &Home, study: &str) -> BTreeSet<String> {
    let report = home.new_report(study, "ct-chest");
    home.ok(&["report", "show", &report])["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn attending() -> Home {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    home
}

/// Nothing of any study in the home's store, and nothing left in its staging folder.
fn nothing_stored(home: &Home) {
    assert_eq!(home.ok(&["studies"]), serde_json::json!([]));
    let incoming = home.dir.join("incoming");
    if incoming.exists() {
        assert_eq!(
            crate::common::every_file(&incoming),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

/// Five studies of one patient across five years (priors exist), the newest last.
fn five_studies(dir: &Path) -> Vec<Seeded> {
    ["20220301", "20230412", "20240517", "20250622", "20260105"]
        .iter()
        .enumerate()
        .map(|(i, date)| phantom_study(dir, &format!("pacs worklist {i}"), date, &[]))
        .collect()
}

fn by_study(rows: &Value) -> std::collections::BTreeMap<String, Value> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| (r["study"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

#[test]
fn the_worklist_lists_the_seeded_studies_with_this_departments_report_states() {
    let dir = tempfile::tempdir().unwrap();
    let studies = five_studies(dir.path());
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in &studies {
        for f in &s.files {
            orthanc.upload(f);
        }
        dcmqrscp.store(&s.files);
    }

    // Reports in every state: none on the oldest, then draft, preliminary, final, and a
    // conflict (two attendings signing off apart) on the newest.
    let (ada, bob) = two_attendings();
    let draft = ada.new_report(&studies[1].study, "ct-chest");
    ada.write(&draft, "findings", "Draft only.").ok();
    let prelim = ada.new_report(&studies[2].study, "ct-chest");
    ada.write(&prelim, "findings", "Awaiting sign-off.").ok();
    ada.ok(&["report", "preliminary", &prelim]);
    let conflict = ada.new_report(&studies[4].study, "ct-chest");
    let fin = ada.new_report(&studies[3].study, "ct-chest");
    for report in [&fin, &conflict] {
        ada.fill_every_section(report);
    }
    ada.ok(&["report", "finalize", &fin]);
    assert_eq!(bob.import(&ada.bundle(None)).code, 0);
    ada.ok(&["report", "finalize", &conflict]);
    bob.write(&conflict, "impression", "Subtle hypodensity.")
        .ok();
    bob.ok(&["report", "finalize", &conflict]);
    assert_eq!(ada.import(&bob.bundle(Some(&conflict))).code, 0);

    ada.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    ada.ok(&[
        "pacs",
        "add",
        "dcm",
        "--dimse",
        &dcmqrscp.address(),
        "--calling-aet",
        "READER1",
    ]);
    let list = ada.ok(&["pacs", "list"]);
    assert_eq!(list[0]["name"], "orthanc");
    assert_eq!(list[0]["protocol"], "dicomweb");
    assert_eq!(list[1]["protocol"], "dimse");
    assert_eq!(list[1]["calling_aet"], "READER1");
    for name in ["orthanc", "dcm"] {
        let test = ada.ok(&["pacs", "test", name]);
        assert!(test["rtt_ms"].as_f64().unwrap() > 0.0, "{test}");
    }

    let expected = ["none", "draft", "preliminary", "final", "conflict"];
    for archive in ["orthanc", "dcm"] {
        let rows = ada.ok(&["worklist", "--pacs", archive]);
        let got = by_study(&rows);
        assert_eq!(got.len(), 5, "{archive}: {rows}");
        for (s, state) in studies.iter().zip(expected) {
            let row = &got[&s.study];
            assert_eq!(row["report"], state, "{archive}: {row}");
            assert_eq!(row["date"], s.date.as_str());
            assert_eq!(row["patient_id"], PATIENT);
            assert_eq!(row["archive"], archive);
            assert_eq!(row["accession"], format!("ACC{}", s.date).as_str());
        }
        // Newest first.
        let dates: Vec<&str> = rows
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["date"].as_str().unwrap())
            .collect();
        assert_eq!(
            dates,
            ["20260105", "20250622", "20240517", "20230412", "20220301"]
        );

        let since = ada.ok(&["worklist", "--pacs", archive, "--since", "2024-05-17"]);
        assert_eq!(since.as_array().unwrap().len(), 3, "{archive}: {since}");
    }
    // Orthanc answers ModalitiesInStudy and the instance count (dcmqrscp's index has neither).
    let ct = ada.ok(&["worklist", "--pacs", "orthanc", "--modality", "CT"]);
    assert_eq!(ct.as_array().unwrap().len(), 5);
    assert_eq!(ct[0]["modalities"], serde_json::json!(["CT"]));
    assert_eq!(ct[0]["instances"], 3);
    let mr = ada.ok(&["worklist", "--pacs", "orthanc", "--modality", "MR"]);
    assert_eq!(mr, serde_json::json!([]));
    // dcmqrscp leaves Modalities In Study out: each study's series are asked for instead, so
    // the filter works there too and the rows say what the studies hold.
    let ct = ada.ok(&["worklist", "--pacs", "dcm", "--modality", "CT"]);
    assert_eq!(ct.as_array().unwrap().len(), 5, "{ct}");
    assert_eq!(ct[0]["modalities"], serde_json::json!(["CT"]));
    let mr = ada.ok(&["worklist", "--pacs", "dcm", "--modality", "MR"]);
    assert_eq!(mr, serde_json::json!([]));
    // Both archives at once, without --pacs.
    assert_eq!(ada.ok(&["worklist"]).as_array().unwrap().len(), 10);
}

#[test]
fn retrieval_over_dicomweb_and_over_dimse_stores_byte_identical_instances() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs retrieve", "20260105", &[]);
    let seeded = shas(&study.files);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    dcmqrscp.store(&study.files);
    let bytes: u64 = study
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();

    let (web, dimse) = (orthanc.dicomweb_url(), dcmqrscp.address());
    for (name, flag, value) in [("orthanc", "--dicomweb", &web), ("dcm", "--dimse", &dimse)] {
        let home = attending();
        home.ok(&["pacs", "add", name, flag, value]);
        let got = home.ok(&["retrieve", "--pacs", name, "--study", &study.study]);
        assert_eq!(got["study"], study.study.as_str(), "{name}: {got}");
        assert_eq!(got["instances"], 3, "{name}: {got}");
        assert_eq!(got["bytes"], bytes, "{name}: {got}");
        assert_eq!(got["refused"], serde_json::json!([]), "{name}: {got}");
        assert_eq!(
            stored(&home, &study.study),
            seeded,
            "{name}: not byte-identical"
        );
        // The staging folder is gone; a second retrieval stores nothing new.
        assert_eq!(
            crate::common::every_file(&home.dir.join("incoming")),
            Vec::<std::path::PathBuf>::new()
        );
        let again = home.ok(&["retrieve", "--pacs", name, "--study", &study.study]);
        assert_eq!(
            (again["instances"].as_u64(), again["duplicates"].as_u64()),
            (Some(3), Some(3))
        );
        // The worklist now says the study is here.
        let rows = home.ok(&["worklist", "--pacs", name]);
        assert_eq!(rows[0]["local_instances"], 3, "{name}: {rows}");
    }
}

/// For an archive that offers only C-MOVE: the study comes to this home's own listening port
/// and is stored exactly as a C-GET stores it; an archive that does not know this home's title
/// as a move destination is a clear refusal.
#[test]
fn retrieval_by_c_move_to_the_homes_own_port_stores_what_c_get_stores() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs move", "20260107", &[]);
    let seeded = shas(&study.files);
    let port = crate::pacs_servers::free_port();
    let dcmqrscp = Dcmqrscp::start_knowing(&[("COUNTERSIGN", port)]);
    dcmqrscp.store(&study.files);

    let by_get = attending();
    by_get.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    by_get.ok(&["retrieve", "--pacs", "dcm", "--study", &study.study]);
    let served = |what: &str| dcmqrscp.log().matches(what).count();
    assert_eq!(
        (served("Received Get SCP"), served("Received Move SCP")),
        (1, 0)
    );

    let by_move = attending();
    let added = by_move.ok(&[
        "pacs",
        "add",
        "dcm",
        "--dimse",
        &dcmqrscp.address(),
        "--move-port",
        &port.to_string(),
    ]);
    assert_eq!(added["move_port"], port);
    let got = by_move.ok(&["retrieve", "--pacs", "dcm", "--study", &study.study]);
    assert_eq!(
        (served("Received Get SCP"), served("Received Move SCP")),
        (1, 1),
        "by C-MOVE, not C-GET: {}",
        dcmqrscp.log()
    );
    assert_eq!(got["instances"], 3, "{got}");
    assert_eq!(got["refused"], serde_json::json!([]), "{got}");
    assert_eq!(stored(&by_move, &study.study), seeded, "not byte-identical");
    assert_eq!(
        stored(&by_move, &study.study),
        stored(&by_get, &study.study)
    );

    // A title the archive does not know as a destination: refused, saying what to configure.
    let unknown = attending();
    unknown.ok(&[
        "pacs",
        "add",
        "dcm",
        "--dimse",
        &dcmqrscp.address(),
        "--calling-aet",
        "STRANGER",
        "--move-port",
        &crate::pacs_servers::free_port().to_string(),
    ]);
    let (code, message) = refused(
        &unknown,
        &["retrieve", "--pacs", "dcm", "--study", &study.study],
        "dcm",
    );
    assert_eq!(code, "pacs_refused", "{message}");
    assert!(message.contains("move destination"), "{message}");
    assert!(stored(&unknown, &study.study).is_empty());
}

#[test]
fn an_instance_of_another_patient_is_refused_and_nothing_of_it_stored_over_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    // Instance 3 of the study carries another patient's ID.
    let study = phantom_study(dir.path(), "pacs wrong patient", "20260105", &[3]);
    let good = shas(&study.files[..2]);
    let dcmqrscp = Dcmqrscp::start();
    dcmqrscp.store(&study.files);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    // Both archives file the odd instance under a second patient and list the study once
    // per patient: whose it is must be said, or nothing is retrieved.
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    for archive in ["orthanc", "dcm"] {
        let rows = home.ok(&["worklist", "--pacs", archive]);
        assert_eq!(rows.as_array().unwrap().len(), 2, "{archive}: {rows}");
        let run = home.run(&["retrieve", "--pacs", archive, "--study", &study.study]);
        assert_eq!(run.error_code(), "wrong_patient", "{}", run.stderr);
        assert!(
            run.stderr.contains("2 different Patient IDs"),
            "{}",
            run.stderr
        );
        nothing_stored(&home);
    }
    // Asked for the study's patient (the worklist row chosen), dcmqrscp sends all three
    // instances; the one of another patient is refused alone, nothing of it stored.
    let home = attending();
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let got = home.ok(&[
        "retrieve",
        "--pacs",
        "dcm",
        "--study",
        &study.study,
        "--patient-id",
        PATIENT,
    ]);
    assert_eq!(got["instances"], 2, "{got}");
    let refused = got["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{got}");
    let reason = refused[0]["reason"].as_str().unwrap();
    assert!(reason.contains("another patient"), "{reason}");
    // The reason names what differs, never the other patient's ID.
    assert!(!reason.contains("SOMEONE-ELSE"), "{reason}");
    assert_eq!(stored(&home, &study.study), good);
    // Orthanc's DICOMweb plugin will not send a study it files under two patients at all
    // (WADO-RS answers 404): refused by the archive, nothing stored.
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    let run = home.run(&[
        "retrieve",
        "--pacs",
        "orthanc",
        "--study",
        &study.study,
        "--patient-id",
        PATIENT,
    ]);
    assert_eq!(run.error_code(), "pacs_refused", "{}", run.stderr);
    nothing_stored(&home);
}

/// A DICOMweb "archive" that lists a study and then sends three parts: a real instance, an
/// instance of the study carrying another Patient ID, and a file that is not DICOM at all.
#[test]
fn over_dicomweb_a_file_not_dicom_or_of_another_patient_is_refused_and_the_rest_stored() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs not dicom", "20260105", &[2]);
    let first = std::fs::read(&study.files[0]).unwrap();
    let second = std::fs::read(&study.files[1]).unwrap();
    let server = archive_sending(&study.study, &[&first, &second, b"this is not DICOM"]);
    let home = attending();
    home.ok(&["pacs", "add", "odd", "--dicomweb", &server.url()]);
    let got = home.ok(&["retrieve", "--pacs", "odd", "--study", &study.study]);
    assert_eq!(got["instances"], 1, "{got}");
    let refused = got["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 2, "{got}");
    assert_eq!(refused[0]["path"], "instance-000002.dcm");
    let reason = refused[0]["reason"].as_str().unwrap();
    assert!(reason.contains("another patient"), "{got}");
    assert_eq!(refused[1]["path"], "instance-000003.dcm");
    assert!(
        refused[1]["reason"].as_str().unwrap().contains("DICOM"),
        "{got}"
    );
    assert_eq!(stored(&home, &study.study), shas(&study.files[..1]));
}

/// Uncompressed greyscale instances are judged without the decode worker (arithmetic on the
/// header): one whose pixel data is shorter than its header says is still stored as
/// undecodable with the worker's own words, recorded so that the viewer says them rather than
/// decode it, and the sound one beside it is stored as decodable.
#[test]
fn over_dicomweb_a_native_instance_with_short_pixel_data_gets_the_workers_reason() {
    crate::common::use_cli_as_decode_worker();
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs short pixels", "20260106", &[]);
    let sound = std::fs::read(&study.files[0]).unwrap();
    let short =
        countersign_testkit::hostile::with_one_row_more(&std::fs::read(&study.files[1]).unwrap());
    let worker = match countersign_app::sandbox::DecodeSandbox::new()
        .check(&short)
        .unwrap()
    {
        countersign_app::sandbox::Verdict::Harmless {
            frames: 0,
            error: Some(message),
        } => message,
        other => panic!("the worker: {other:?}"),
    };
    assert!(worker.contains("frame 1: "), "{worker}");
    let server = archive_sending(&study.study, &[&sound, &short]);
    let home = attending();
    home.ok(&["pacs", "add", "odd", "--dicomweb", &server.url()]);
    let got = home.ok(&["retrieve", "--pacs", "odd", "--study", &study.study]);
    assert_eq!(got["instances"], 2, "{got}");
    assert_eq!(got["refused"], serde_json::json!([]), "{got}");
    assert_eq!(
        got["undecodable"],
        serde_json::json!([{"path": "instance-000002.dcm", "reason": worker}]),
        "{got}"
    );
    // The viewer gives the recorded words for the short one, and decodes the sound one.
    let app = countersign_app::Home::open(&home.dir).unwrap();
    let err = app
        .image_for_decoding(&hex::encode(Sha256::digest(&short)))
        .unwrap_err();
    assert!(err.to_string().contains(&worker), "{err}");
    assert!(app
        .image_for_decoding(&hex::encode(Sha256::digest(&sound)))
        .is_ok());
}

/// A DICOMweb "archive" (a [`Garbage`] server) that lists `study` as [`PATIENT`]'s and sends
/// `parts` as its instances.
fn archive_sending(study: &str, parts: &[&[u8]]) -> Garbage {
    let search = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n\
         [{{\"0020000D\": {{\"vr\": \"UI\", \"Value\": [\"{study}\"]}}, \
         \"00100020\": {{\"vr\": \"LO\", \"Value\": [\"{PATIENT}\"]}}}}]"
    )
    .into_bytes();
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(b"--XyZ\r\nContent-Type: application/dicom\r\n\r\n");
        body.extend_from_slice(part);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"--XyZ--\r\n");
    let mut retrieve = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type=\"application/dicom\"; \
         boundary=XyZ\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    retrieve.extend_from_slice(&body);
    Garbage::start(search, retrieve)
}

/// A retrieval reads an instance's header alone, its pixel data left unparsed (its length
/// taken from the element's header once the whole file's pre-scan has found the bytes
/// there); it must judge every instance as an import of the same file does. One cut short
/// inside its pixel data (the element claims more than the file holds) is refused with the
/// import's own reason; one with an element after its pixel data (trailing padding) is
/// stored byte for byte, as the sound one beside them. With the pre-scan left out of the
/// header-only read, the cut one is stored (its pixels taken for present) and this fails.
#[test]
fn over_dicomweb_an_instance_cut_inside_its_pixel_data_is_refused_as_an_import_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs cut pixels", "20260107", &[]);
    let sound = std::fs::read(&study.files[0]).unwrap();
    let mut padded = std::fs::read(&study.files[1]).unwrap();
    // (FFFC,FFFC) Data Set Trailing Padding, OB, 8 bytes, after the pixel data.
    padded.extend_from_slice(&[0xFC, 0xFF, 0xFC, 0xFF, b'O', b'B', 0, 0, 8, 0, 0, 0]);
    padded.extend_from_slice(&[0; 8]);
    let whole = std::fs::read(&study.files[2]).unwrap();
    let cut = whole[..whole.len() - 100].to_vec();
    // What an import of the cut file says.
    let file = dir.path().join("cut.dcm");
    std::fs::write(&file, &cut).unwrap();
    let importer = attending();
    let imported = importer.ok(&["import", file.to_str().unwrap()]);
    let failed = imported["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{imported}");
    let reason = failed[0]["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("claims"), "{reason}");

    let server = archive_sending(&study.study, &[&sound, &cut, &padded]);
    let home = attending();
    home.ok(&["pacs", "add", "odd", "--dicomweb", &server.url()]);
    let got = home.ok(&["retrieve", "--pacs", "odd", "--study", &study.study]);
    assert_eq!(got["instances"], 2, "{got}");
    assert_eq!(
        got["refused"],
        serde_json::json!([{"path": "instance-000002.dcm", "reason": reason}]),
        "{got}"
    );
    assert_eq!(got["undecodable"], serde_json::json!([]), "{got}");
    let expected: BTreeSet<String> = [&sound, &padded]
        .iter()
        .map(|b| hex::encode(Sha256::digest(b)))
        .collect();
    assert_eq!(stored(&home, &study.study), expected);
    for bytes in [&sound, &padded] {
        let sha = hex::encode(Sha256::digest(bytes));
        let path = home
            .dir
            .join("images")
            .join(&sha[..2])
            .join(format!("{sha}.dcm"));
        assert_eq!(&std::fs::read(path).unwrap(), bytes);
    }
}

/// The error's code and message of a refused command; the message must name the archive.
fn refused(home: &Home, args: &[&str], archive: &str) -> (String, String) {
    let run = home.run(args);
    let code = run.error_code();
    let line: Value = serde_json::from_str(run.stderr.trim().lines().last().unwrap()).unwrap();
    let message = line["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("archive {archive}")),
        "{args:?}: {message}"
    );
    (code, message)
}

#[test]
fn an_archive_down_refusing_or_answering_garbage_gets_a_clear_error_and_stores_nothing() {
    let home = attending();
    let study = "2.25.123456789";

    // Down: nothing listens on these ports.
    home.ok(&[
        "pacs",
        "add",
        "down-web",
        "--dicomweb",
        &format!("http://127.0.0.1:{}/dicom-web", free_port()),
    ]);
    home.ok(&[
        "pacs",
        "add",
        "down-dimse",
        "--dimse",
        &format!("ARCHIVE@127.0.0.1:{}", free_port()),
    ]);
    for name in ["down-web", "down-dimse"] {
        for args in [
            vec!["pacs", "test", name],
            vec!["worklist", "--pacs", name],
            vec!["retrieve", "--pacs", name, "--study", study],
        ] {
            let (code, message) = refused(&home, &args, name);
            assert_eq!(code, "pacs_unreachable", "{args:?}: {message}");
        }
    }

    // Refusing the association: dcmqrscp knows no AE title WRONG.
    let dcmqrscp = Dcmqrscp::start();
    let wrong = format!("WRONG@127.0.0.1:{}", dcmqrscp.port);
    home.ok(&["pacs", "add", "wrong-aet", "--dimse", &wrong]);
    for args in [
        vec!["pacs", "test", "wrong-aet"],
        vec!["worklist", "--pacs", "wrong-aet"],
        vec!["retrieve", "--pacs", "wrong-aet", "--study", study],
    ] {
        let (code, message) = refused(&home, &args, "wrong-aet");
        assert_eq!(code, "pacs_refused", "{args:?}: {message}");
        assert!(message.contains("rejected the association"), "{message}");
    }

    // Malformed JSON (an HTML error page with a 200), then a study listed whose retrieval is
    // not multipart at all, then one whose multipart body stops halfway.
    let html = b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n<html>Service Unavailable</html>".to_vec();
    let listed = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n\
         [{{\"0020000D\": {{\"vr\": \"UI\", \"Value\": [\"{study}\"]}}}}]"
    )
    .into_bytes();
    let not_multipart =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello".to_vec();
    let cut_short = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=B\r\nConnection: close\r\n\r\n--B\r\nContent-Type: application/dicom\r\n\r\nDICM and then noth".to_vec();
    let servers = [
        ("garbage-json", Garbage::start(html.clone(), html)),
        (
            "not-multipart",
            Garbage::start(listed.clone(), not_multipart),
        ),
        ("cut-short", Garbage::start(listed, cut_short)),
    ];
    for (name, server) in &servers {
        home.ok(&["pacs", "add", name, "--dicomweb", &server.url()]);
    }
    let (code, message) = refused(
        &home,
        &["worklist", "--pacs", "garbage-json"],
        "garbage-json",
    );
    assert_eq!(code, "pacs_malformed", "{message}");
    assert!(message.contains("not JSON"), "{message}");
    for name in ["garbage-json", "not-multipart", "cut-short"] {
        let (code, message) = refused(&home, &["retrieve", "--pacs", name, "--study", study], name);
        assert_eq!(code, "pacs_malformed", "{name}: {message}");
    }
    nothing_stored(&home);

    // An archive that is not configured, and a UID that is not one.
    assert_eq!(
        home.run(&["worklist", "--pacs", "nowhere"]).error_code(),
        "not_found"
    );
    assert_eq!(
        home.run(&["retrieve", "--pacs", "garbage-json", "--study", "1.2/../3"])
            .error_code(),
        "invalid_input"
    );
}

#[test]
fn priors_are_the_patients_other_studies_newest_first_from_the_archives_and_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let studies = five_studies(dir.path());
    // Another patient's study on the archives, and a study of the patient held only here.
    let stranger = phantom_study(dir.path(), "pacs priors stranger", "20251201", &[1, 2, 3]);
    let here_only = phantom_study(dir.path(), "pacs priors local", "20210707", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in studies.iter().chain([&stranger]) {
        for f in &s.files {
            orthanc.upload(f);
        }
        dcmqrscp.store(&s.files);
    }
    let home = attending();
    home.ok(&[
        "import",
        here_only.files[0].parent().unwrap().to_str().unwrap(),
    ]);
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    // The study being read is not local yet: its patient comes from the archive. One prior
    // is retrieved and has a draft.
    home.ok(&[
        "retrieve",
        "--pacs",
        "orthanc",
        "--study",
        &studies[2].study,
    ]);
    let draft = home.new_report(&studies[2].study, "ct-chest");
    home.write(&draft, "findings", "Prior read.").ok();

    let current = &studies[4].study;
    for archive in ["orthanc", "dcm"] {
        let priors = home.ok(&["priors", "--study", current, "--pacs", archive]);
        let listed: Vec<&str> = priors
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["study"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = [
            &studies[3],
            &studies[2],
            &studies[1],
            &studies[0],
            &here_only,
        ]
        .iter()
        .map(|s| s.study.as_str())
        .collect();
        assert_eq!(listed, expected, "{archive}: {priors}");
        assert_eq!(priors[0]["date"], "20250622");
        assert_eq!(priors[0]["local"], false);
        assert_eq!(priors[0]["archive"], archive);
        assert_eq!(priors[0]["report"], "none");
        assert_eq!(
            (priors[1]["local"].as_bool(), priors[1]["report"].as_str()),
            (Some(true), Some("draft"))
        );
        assert_eq!(priors[1]["local_instances"], 3);
        assert_eq!(
            (priors[4]["local"].as_bool(), priors[4]["archive"].as_str()),
            (Some(true), None)
        );
        assert_eq!(priors[4]["modality"], "CT");
    }
    // Every archive at once lists each study once; with no archive, the store alone answers
    // (its copy of the current study names the patient).
    assert_eq!(
        home.ok(&["priors", "--study", current])
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // A study the archive files under this patient that this home holds under another (one
    // side mis-keyed): not listed, so the other patient's images never open beside these.
    let elsewhere = tempfile::tempdir().unwrap();
    let misfiled_here = phantom_study(dir.path(), "pacs priors misfiled", "20230101", &[1, 2, 3]);
    let misfiled_there = phantom_study(elsewhere.path(), "pacs priors misfiled", "20230101", &[]);
    assert_eq!(misfiled_here.study, misfiled_there.study);
    for f in &misfiled_there.files {
        orthanc.upload(f);
    }
    let listed = |home: &Home| -> Vec<String> {
        home.ok(&["priors", "--study", current, "--pacs", "orthanc"])
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["study"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(
        listed(&home).contains(&misfiled_there.study),
        "listed while not held here"
    );
    home.ok(&[
        "import",
        misfiled_here.files[0].parent().unwrap().to_str().unwrap(),
    ]);
    assert!(
        !listed(&home).contains(&misfiled_there.study),
        "held here under another patient: not listed"
    );

    let lone = attending();
    lone.ok(&[
        "import",
        here_only.files[0].parent().unwrap().to_str().unwrap(),
    ]);
    assert_eq!(
        lone.ok(&["priors", "--study", &here_only.study]),
        serde_json::json!([])
    );
    assert_eq!(
        lone.run(&["priors", "--study", current]).error_code(),
        "not_found"
    );
}

/// A signed-off report's SR and its PDF (as Encapsulated PDF) go back to the archive, into the
/// study of its images, once per version: checked on Orthanc through its own REST API (and by
/// dciodvfy, and Orthanc's /pdf read by pdftotext), and on dcmqrscp by retrieving the study
/// again.
#[test]
fn a_final_reports_sr_is_delivered_into_its_study_once_over_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs deliver", "20260105", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    dcmqrscp.store(&study.files);
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    // A draft does not go.
    let early = home.run(&["deliver", &report, "--pacs", "orthanc"]);
    assert_eq!(early.error_code(), "invalid_input", "{}", early.stderr);
    home.ok(&["report", "finalize", &report]);

    let sent = home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    assert_eq!(sent["study"], study.study.as_str(), "{sent}");
    let sop = sent["sop_instance"].as_str().unwrap().to_string();
    let found = orthanc.find_instance(&sop);
    assert_eq!(found.len(), 1, "{found:?}");
    let file = orthanc.instance_file(&found[0]);
    let stored = dir.path().join("delivered-sr.dcm");
    std::fs::write(&stored, &file).unwrap();
    let sr = dicom_object::open_file(&stored).unwrap();
    let text = |tag| {
        sr.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    use dicom_dictionary_std::tags;
    assert_eq!(text(tags::STUDY_INSTANCE_UID), study.study);
    assert_eq!(text(tags::SOP_CLASS_UID), "1.2.840.10008.5.1.4.1.1.88.33");
    assert_eq!(text(tags::PATIENT_ID), PATIENT);
    let check = std::process::Command::new("dciodvfy")
        .arg(&stored)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Beside it, the PDF as an Encapsulated PDF (for viewers that show no SR): dciodvfy finds
    // no error in what Orthanc stored, and Orthanc's own /pdf gives back the report's text.
    let pdf_sop = sent["pdf_sop_instance"].as_str().unwrap().to_string();
    let found_pdf = orthanc.find_instance(&pdf_sop);
    assert_eq!(found_pdf.len(), 1, "{found_pdf:?}");
    let stored_pdf = dir.path().join("delivered-pdf.dcm");
    std::fs::write(&stored_pdf, orthanc.instance_file(&found_pdf[0])).unwrap();
    let check = std::process::Command::new("dciodvfy")
        .arg(&stored_pdf)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("EncapsulatedPDF"), "{said}");
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let pdf = dir.path().join("from-orthanc.pdf");
    std::fs::write(&pdf, orthanc.instance_pdf(&found_pdf[0])).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("No acute abnormality."),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // The same version again: the same instances, still one each on the archive.
    let again = home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    assert_eq!(again["sop_instance"], sop.as_str());
    assert_eq!(again["pdf_sop_instance"], pdf_sop.as_str());
    assert_eq!(orthanc.find_instance(&sop).len(), 1);
    assert_eq!(orthanc.find_instance(&pdf_sop).len(), 1);

    // Over C-STORE to dcmqrscp: the study comes back with the SR and the PDF as a fourth and
    // fifth instance.
    let sent = home.ok(&["deliver", &report, "--pacs", "dcm"]);
    assert_eq!(sent["sop_instance"], sop.as_str());
    assert_eq!(sent["pdf_sop_instance"], pdf_sop.as_str());
    let other = attending();
    other.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let got = other.ok(&["retrieve", "--pacs", "dcm", "--study", &study.study]);
    assert_eq!(got["instances"], 5, "{got}");
    assert_eq!(got["refused"], serde_json::json!([]), "{got}");
}

/// Archives that stop answering: one that accepts a connection and never speaks (DICOMweb
/// and DIMSE alike), and one that stops sending halfway through a study. Each is given up on
/// after its configured timeout (1 s here) with `pacs_timeout`, naming it; nothing is stored.
#[test]
fn an_archive_that_stops_answering_times_out_by_name_and_stores_nothing() {
    let home = attending();
    let study = "2.25.987654321";
    let silent = Silent::start();
    let web = format!("http://127.0.0.1:{}/dicom-web", silent.port);
    let dimse = format!("ARCHIVE@127.0.0.1:{}", silent.port);
    home.ok(&[
        "pacs",
        "add",
        "mute-web",
        "--dicomweb",
        &web,
        "--timeout",
        "1",
    ]);
    home.ok(&[
        "pacs",
        "add",
        "mute-dimse",
        "--dimse",
        &dimse,
        "--timeout",
        "1",
    ]);
    for name in ["mute-web", "mute-dimse"] {
        for args in [
            vec!["pacs", "test", name],
            vec!["worklist", "--pacs", name],
            vec!["retrieve", "--pacs", name, "--study", study],
        ] {
            let started = std::time::Instant::now();
            let (code, message) = refused(&home, &args, name);
            assert_eq!(code, "pacs_timeout", "{args:?}: {message}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{args:?}"
            );
        }
    }

    let listed = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n\
         [{{\"0020000D\": {{\"vr\": \"UI\", \"Value\": [\"{study}\"]}}}}]"
    )
    .into_bytes();
    let mut halfway =
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=B\r\n\r\n".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let seeded = phantom_study(dir.path(), "pacs stall", "20260105", &[]);
    // One whole instance, then half of the next, then nothing.
    for (i, file) in seeded.files.iter().take(2).enumerate() {
        let bytes = std::fs::read(file).unwrap();
        halfway.extend_from_slice(b"--B\r\nContent-Type: application/dicom\r\n\r\n");
        if i == 0 {
            halfway.extend_from_slice(&bytes);
            halfway.extend_from_slice(b"\r\n");
        } else {
            halfway.extend_from_slice(&bytes[..bytes.len() / 2]);
        }
    }
    let stalling = Garbage::stalling(listed, halfway);
    home.ok(&[
        "pacs",
        "add",
        "stall",
        "--dicomweb",
        &stalling.url(),
        "--timeout",
        "1",
    ]);
    let (code, message) = refused(
        &home,
        &["retrieve", "--pacs", "stall", "--study", study],
        "stall",
    );
    assert_eq!(code, "pacs_timeout", "{message}");
    nothing_stored(&home);
    assert_eq!(
        home.run(&["pacs", "add", "slow", "--dicomweb", &web, "--timeout", "0"])
            .error_code(),
        "invalid_input"
    );
}

/// A loopback proxy in front of a real archive that forwards every answer up to `hold` bytes
/// per connection, then holds the rest back until the test opens its gate: an archive that has
/// not yet sent the last instances of a study. The gate is waited on with a deadline (a
/// fail-safe, not the synchronisation: the test opens it from the retrieval's progress) and
/// says whether that deadline is what opened it.
struct Gated {
    port: u16,
    gate: std::sync::Arc<(std::sync::Mutex<Gate>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Gate {
    open: bool,
    /// The deadline passed with the gate still closed.
    timed_out: bool,
    /// Bytes sent on to the client, every connection together.
    forwarded: u64,
}

impl Gated {
    fn start(upstream: u16, hold: u64, deadline: std::time::Duration) -> Gated {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = std::sync::Arc::new((
            std::sync::Mutex::new(Gate::default()),
            std::sync::Condvar::new(),
        ));
        let shared = gate.clone();
        std::thread::spawn(move || {
            // A test makes a handful of connections.
            for client in listener.incoming().take(16) {
                let Ok(mut client) = client else { continue };
                let mut server = std::net::TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                let (mut to_server, mut from_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(std::net::Shutdown::Write);
                });
                let gate = shared.clone();
                std::thread::spawn(move || {
                    let mut sent = 0u64;
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        // Up to `hold` bytes at once; past it, only with the gate open.
                        if sent + n as u64 > hold {
                            let (lock, opened) = &*gate;
                            let mut g = lock.lock().unwrap();
                            let until = std::time::Instant::now() + deadline;
                            while !g.open {
                                let now = std::time::Instant::now();
                                if now >= until {
                                    g.timed_out = true;
                                    g.open = true;
                                    break;
                                }
                                g = opened.wait_timeout(g, until - now).unwrap().0;
                            }
                        }
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n as u64;
                        gate.0.lock().unwrap().forwarded += n as u64;
                    }
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Gated { port, gate }
    }

    fn open(&self) {
        self.gate.0.lock().unwrap().open = true;
        self.gate.1.notify_all();
    }

    fn forwarded(&self) -> u64 {
        self.gate.0.lock().unwrap().forwarded
    }

    fn timed_out(&self) -> bool {
        self.gate.0.lock().unwrap().timed_out
    }
}

/// Issue 15: the first image before the rest. Orthanc sends a 24-instance study through a
/// proxy that holds back everything past the first few instances until the retrieval's
/// progress says the first is stored: by then another handle on the home (as the desktop's
/// viewer has) lists it, and the archive has not sent the last. Then the rest streams in and
/// the whole study is stored. A retrieval that stored nothing before the archive had sent
/// everything would never see its first instance while the proxy holds the rest (the proxy's
/// deadline would open the gate, and the test fail).
#[test]
fn the_first_instance_is_stored_and_seen_before_the_archive_sends_the_last() {
    crate::common::use_cli_as_decode_worker();
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "pacs first image".into(),
        slices: 24,
        size: 128,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.path().join("ct")).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let each = std::fs::metadata(&files[0]).unwrap().len();
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let orthanc = Orthanc::start();
    for f in &files {
        orthanc.upload(f);
    }
    // The search's answer and about three instances pass; the other 21 wait at the gate.
    let proxy = Gated::start(
        orthanc.http_port,
        16 * 1024 + 3 * each,
        std::time::Duration::from_secs(60),
    );
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "gated",
        "--dicomweb",
        &format!("http://127.0.0.1:{}/dicom-web", proxy.port),
    ]);
    let mut app = home.app();
    let reader = home.app();
    let mut first: Option<(u64, u64, usize)> = None;
    let mut phases = Vec::new();
    let got = app
        .retrieve_with_progress("gated", &study, None, &mut |p| {
            phases.push(p.phase);
            if p.phase == "first-image" {
                assert!(first.is_none(), "first-image told twice");
                // What the viewer's handle lists now, and how much the archive has sent.
                let seen = reader.study_images(&study).unwrap().len();
                first = Some((p.stored, proxy.forwarded(), seen));
                proxy.open();
            }
        })
        .unwrap();
    let (stored, forwarded, seen) = first.expect("a first-image progress");
    assert!(
        !proxy.timed_out(),
        "the first instance was not stored while the rest was held back"
    );
    assert!(stored >= 1 && seen >= 1, "stored {stored}, seen {seen}");
    assert!(
        forwarded < total_bytes / 2,
        "the archive had sent {forwarded} of {total_bytes} bytes at the first image"
    );
    assert_eq!(got.instances, 24, "{got:?}");
    assert_eq!(got.refused, vec![]);
    assert_eq!(reader.study_images(&study).unwrap().len(), 24);
    assert_eq!(
        stored_shas(&reader, &study),
        shas(&files),
        "not byte-identical"
    );
    assert_eq!(phases.iter().filter(|p| **p == "first-image").count(), 1);
}

/// The SHA-256 of every stored file of `study`, read back from the store (a reader's handle).
fn stored_shas(home: &countersign_app::Home, study: &str) -> BTreeSet<String> {
    home.study_images(study)
        .unwrap()
        .iter()
        .map(|sha| {
            let image = home.open_image(sha).unwrap();
            drop(image);
            sha.clone()
        })
        .collect()
}

/// What a retrieval may hold in memory, whatever the study's size: well under the 263 MB of
/// the study below, so a client that buffered the study whole (or one part of it per
/// instance, kept) would not pass.
const MAX_RETRIEVE_RSS: u64 = 128 << 20;

/// A 500-instance 512×512 CT study (263 MB) retrieved over WADO-RS through the real CLI:
/// every instance stored, and the process's peak resident memory (`wait4`) bounded.
#[test]
fn a_500_instance_study_is_retrieved_whole_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "pacs 500".into(),
        slices: 500,
        size: 512,
        slice_thickness_mm: 0.5,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.path().join("ct")).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(bytes > 250_000_000, "{bytes}");
    let orthanc = Orthanc::start();
    for f in &files {
        orthanc.upload(f);
    }
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    let run = crate::bundle_scale::measured(
        &home.dir,
        &["retrieve", "--pacs", "orthanc", "--study", &study],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(got["instances"], 500, "{got}");
    assert_eq!(got["bytes"], bytes, "{got}");
    eprintln!(
        "pacs: 500 instances ({:.0} MiB) retrieved in {:.1} s, peak RSS {:.1} MiB",
        bytes as f64 / (1 << 20) as f64,
        run.seconds,
        run.peak_rss as f64 / (1 << 20) as f64
    );
    assert!(
        run.peak_rss <= MAX_RETRIEVE_RSS,
        "peak RSS {} bytes exceeds {MAX_RETRIEVE_RSS}",
        run.peak_rss
    );
}

/// Store-back: signing off (and each addendum) sends the SR to every archive configured for
/// it; an archive that is down never stops the signature, is listed as failed, and is
/// delivered to by `deliveries --retry` once it answers.
#[test]
fn signing_off_stores_the_sr_back_and_a_failed_delivery_is_kept_for_retry() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs store back", "20260105", &[]);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let home = attending();
    let url = orthanc.dicomweb_url();
    let down = format!("http://127.0.0.1:{}/dicom-web", free_port());
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url, "--store-back"]);
    home.ok(&["pacs", "add", "later", "--dicomweb", &down, "--store-back"]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    // A draft is not sent anywhere.
    assert_eq!(home.ok(&["deliveries"]), serde_json::json!([]));

    let signed = home.run(&["report", "finalize", &report]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    assert!(
        signed.stderr.contains("not delivered to archive later"),
        "{}",
        signed.stderr
    );
    let list = home.ok(&["deliveries"]);
    let of = |list: &Value, archive: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["archive"] == archive)
            .unwrap_or_else(|| panic!("{archive}: {list}"))
            .clone()
    };
    let sent = of(&list, "orthanc");
    assert_eq!(sent["state"], "delivered", "{list}");
    let first = sent["sop_instance"].as_str().unwrap().to_string();
    assert_eq!(orthanc.find_instance(&first).len(), 1);
    let failed = of(&list, "later");
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error_code"], "pacs_unreachable");

    // An addendum is a new version: a new SR instance goes to the archive.
    home.ok(&[
        "report",
        "addendum",
        &report,
        "--text",
        "Compared with prior: unchanged.",
    ]);
    let sent = of(&home.ok(&["deliveries"]), "orthanc");
    let second = sent["sop_instance"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(sent["attempts"], 2);
    assert_eq!(orthanc.find_instance(&second).len(), 1);

    // The other archive answers now: the retry delivers the report as it reads now.
    home.ok(&["pacs", "remove", "later"]);
    home.ok(&["pacs", "add", "later", "--dicomweb", &url, "--store-back"]);
    let retried = home.ok(&["deliveries", "--retry"]);
    assert_eq!(retried.as_array().unwrap().len(), 1, "{retried}");
    assert_eq!(retried[0]["state"], "delivered", "{retried}");
    assert_eq!(retried[0]["sop_instance"], second.as_str());
    assert_eq!(retried[0]["attempts"], 3);
    assert_eq!(home.ok(&["deliveries", "--retry"]), serde_json::json!([]));

    // Each delivery is a signed entry of the report: the archive, the version sent, the UIDs,
    // by whom — once per version and archive, the failed attempt not among them.
    let view = home.ok(&["report", "show", &report]);
    let notes: Vec<(String, String)> = view["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{view}"))
        .iter()
        .map(|n| {
            (
                n["archive"].as_str().unwrap().to_string(),
                n["sop_instances"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("orthanc".to_string(), first.clone()),
            ("orthanc".to_string(), second.clone()),
            ("later".to_string(), second.clone()),
        ]
    );
    assert_eq!(view["deliveries"][0]["by"]["name"], "Dr Ada");
    let kinds: Vec<&str> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["kind"].as_str())
        .filter(|k| *k == "report.delivered")
        .collect();
    assert_eq!(kinds.len(), 3);
}

/// A `serve` node tries a failed delivery again by itself, backing off, and delivers once the
/// archive answers: nobody runs `deliveries --retry`.
#[test]
fn a_serving_node_delivers_by_itself_once_the_archive_answers() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs retry by itself", "20260106", &[]);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let home = attending();
    let url = orthanc.dicomweb_url();
    let down = format!("http://127.0.0.1:{}/dicom-web", free_port());
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    home.ok(&["pacs", "add", "later", "--dicomweb", &down, "--store-back"]);
    home.ok(&["report", "finalize", &report]);
    let record = |home: &Home| home.ok(&["deliveries"])[0].clone();
    assert_eq!(record(&home)["state"], "failed");

    // A node with a short first back-off: while the archive is down it keeps trying, each
    // try recorded, the report never lost.
    let mut cmd = home.command();
    cmd.args([
        "--json",
        "serve",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--delivery-backoff-ms",
        "200",
    ])
    .env_remove("COUNTERSIGN_HOME")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    let mut node = cmd.spawn().unwrap();
    crate::sync::until("two more tries while the archive is down", || {
        record(&home)["attempts"].as_u64().unwrap() >= 3
    });
    let r = record(&home);
    assert_eq!(r["state"], "failed", "{r}");
    assert_eq!(r["error_code"], "pacs_unreachable", "{r}");

    // The archive answers (at the address the home has for it now): delivered by itself.
    home.ok(&["pacs", "remove", "later"]);
    home.ok(&["pacs", "add", "later", "--dicomweb", &url, "--store-back"]);
    crate::sync::until("the delivery by itself", || {
        record(&home)["state"] == "delivered"
    });
    let _ = node.kill();
    let _ = node.wait();
    let r = record(&home);
    let sop = r["sop_instance"].as_str().unwrap();
    assert_eq!(orthanc.find_instance(sop).len(), 1, "{r}");
    assert_eq!(home.ok(&["deliveries", "--retry"]), serde_json::json!([]));
}

/// An archive that goes down keeps its worklist readable: the rows are as it last answered the
/// same search, marked with when, and the report states are this home's now; a search it never
/// answered is `pacs_unreachable` as before.
#[test]
fn the_last_worklist_is_shown_marked_when_the_archive_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs down", "20260107", &[]);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
        "--timeout",
        "2",
    ]);
    let live = home.ok(&["worklist", "--pacs", "orthanc"]);
    assert_eq!(live.as_array().unwrap().len(), 1, "{live}");
    assert!(live[0].get("archive_answered_ms").is_none(), "{live}");
    assert_eq!(live[0]["report"], "none");
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.write(&report, "findings", "Read while the archive was down.")
        .ok();

    drop(orthanc);
    let kept = home.ok(&["worklist", "--pacs", "orthanc"]);
    let rows = kept.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{kept}");
    assert_eq!(rows[0]["study"], study.study.as_str());
    assert_eq!(rows[0]["report"], "draft", "the state is this home's now");
    assert!(
        rows[0]["archive_answered_ms"].as_u64().unwrap() > 0,
        "{kept}"
    );
    let said = home.text(&["worklist", "--pacs", "orthanc"]);
    assert!(said.contains("archive orthanc did not answer"), "{said}");
    // Another search was never answered: nothing to show but the error.
    let other = home.run(&["worklist", "--pacs", "orthanc", "--modality", "MR"]);
    assert_eq!(other.error_code(), "pacs_unreachable", "{}", other.stderr);
}

/// Another department's home: it retrieves `study`, signs off a head CT report on it as
/// "Dr Bea", and writes its SR and its Encapsulated PDF (`export`) into `dir`.
fn another_departments_report(orthanc_url: &str, study: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let other = Home::new();
    other.ok(&["init", "--name", "Dr Bea", "--role", "attending", "--admin"]);
    other.ok(&["pacs", "add", "orthanc", "--dicomweb", orthanc_url]);
    other.ok(&["retrieve", "--pacs", "orthanc", "--study", study]);
    let report = other.new_report(study, "ct-chest");
    other.fill_every_section(&report);
    other.ok(&["report", "finalize", &report]);
    let sr = dir.join(format!("{study}.sr.dcm"));
    let pdf = dir.join(format!("{study}.pdf.dcm"));
    for (format, file) in [("sr", &sr), ("pdf-dicom", &pdf)] {
        other.ok(&[
            "export",
            &report,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
    }
    (sr, pdf)
}

/// The headings (CONTAINER) and TEXT lines of an `archive-sr` answer, in order, as (concept,
/// value), without the SR's provenance notes.
fn text_lines(prior: &Value) -> Vec<(String, String)> {
    prior["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            (l["value_type"] == "TEXT" || l["value_type"] == "CONTAINER")
                && l["concept"] != "Provenance"
        })
        .map(|l| {
            (
                l["concept"].as_str().unwrap().to_string(),
                l["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A prior's report (issue 15): this home's own from its ledger, with who wrote and signed
/// it; else the SR another department stored on the archive, as its text in document order
/// (preferred to the PDF beside it); else an Encapsulated PDF, written to a file in the home
/// that pdftotext reads; else none — over DICOMweb (Orthanc) and DIMSE (dcmqrscp) alike, and
/// nothing of what was read kept in the image store or the ledger.
#[test]
fn a_prior_report_comes_from_the_ledger_else_an_sr_else_a_pdf_on_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let ours = phantom_study(dir.path(), "prior report ours", "20230412", &[]);
    let with_sr = phantom_study(dir.path(), "prior report sr", "20240517", &[]);
    let with_pdf = phantom_study(dir.path(), "prior report pdf", "20250622", &[]);
    let bare = phantom_study(dir.path(), "prior report none", "20220301", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in [&ours, &with_sr, &with_pdf, &bare] {
        for f in &s.files {
            orthanc.upload(f);
        }
        dcmqrscp.store(&s.files);
    }
    let url = orthanc.dicomweb_url();
    let (sr, sr_pdf) = another_departments_report(&url, &with_sr.study, dir.path());
    let (_, pdf) = another_departments_report(&url, &with_pdf.study, dir.path());
    // The SR study has its SR and its PDF on the archives, the PDF study its PDF only.
    for f in [&sr, &sr_pdf, &pdf] {
        orthanc.upload(f);
    }
    dcmqrscp.store(&[sr.clone(), sr_pdf.clone(), pdf.clone()]);

    let home = attending();
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &ours.study]);
    let report = home.new_report(&ours.study, "ct-chest");
    home.fill_every_section(&report);
    home.ok(&["report", "finalize", &report]);
    // Its SR is on the archive too: the ledger's own report still comes first.
    home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    let reports_before = home.ok(&["report", "list"]);

    let prior = home.ok(&["prior-report", "--study", &ours.study]);
    assert_eq!(prior["source"], "ledger", "{prior}");
    assert_eq!(prior["study"], ours.study.as_str());
    assert_eq!(prior["report"], report.as_str());
    assert_eq!(prior["status"], "final");
    assert_eq!(prior["signoff"]["author"]["name"], "Dr Ada", "{prior}");
    let sections = prior["sections"].as_array().unwrap();
    let impression = sections.iter().find(|s| s["name"] == "impression").unwrap();
    assert_eq!(impression["text"], "No acute abnormality.");
    assert_eq!(impression["written"]["author"]["name"], "Dr Ada");
    assert!(impression["written"]["time_ms"].as_u64().unwrap() > 0);
    assert_eq!(prior["unreadable"], false);

    for archive in ["orthanc", "dcm"] {
        let prior = home.ok(&["prior-report", "--study", &with_sr.study, "--pacs", archive]);
        assert_eq!(prior["source"], "archive-sr", "{archive}: {prior}");
        assert_eq!(prior["archive"], archive);
        let expected = [
            ("Technique", ""),
            ("Technique", "CT of the head."),
            ("Findings", ""),
            ("Finding", "Normal."),
            ("Impressions", ""),
            ("Impression", "No acute abnormality."),
        ]
        .map(|(c, v)| (c.to_string(), v.to_string()));
        assert_eq!(text_lines(&prior), expected, "{archive}: {prior}");
        assert_eq!(prior["completion"], "COMPLETE");
        assert_eq!(prior["verification"], "VERIFIED");
        assert_eq!(prior["verifiers"][0]["name"], "Dr Bea", "{prior}");
        assert!(
            prior["authors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "Dr Bea"),
            "{prior}"
        );
        // The PDF beside it is counted, not shown.
        assert_eq!(prior["others"], 1, "{prior}");

        let prior = home.ok(&[
            "prior-report",
            "--study",
            &with_pdf.study,
            "--pacs",
            archive,
        ]);
        assert_eq!(prior["source"], "archive-pdf", "{archive}: {prior}");
        let path = PathBuf::from(prior["path"].as_str().unwrap());
        assert!(path.starts_with(&home.dir), "{}", path.display());
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        // A report names its patient: the file is its owner's alone.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert_eq!(prior["bytes"], bytes.len() as u64);
        let text = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("No acute abnormality."),
            "{}",
            String::from_utf8_lossy(&text.stdout)
        );

        let prior = home.ok(&["prior-report", "--study", &bare.study, "--pacs", archive]);
        assert_eq!(prior["source"], "none", "{archive}: {prior}");
    }
    // Read, not kept: the image store holds only the study retrieved, the ledger only this
    // home's report, and no fetch folder is left behind.
    let studies = home.ok(&["studies"]);
    let held: Vec<&str> = studies
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["study"].as_str().unwrap())
        .collect();
    assert_eq!(held, [ours.study.as_str()], "{studies}");
    assert_eq!(home.ok(&["report", "list"]), reports_before);
    let left: Vec<PathBuf> = crate::common::every_file(&home.dir.join("prior-reports"))
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "pdf"))
        .collect();
    assert_eq!(left, Vec::<PathBuf>::new());
    // The fetched PDFs name the patient: erasing the patient here drops them with the rest.
    assert!(!crate::common::every_file(&home.dir.join("prior-reports")).is_empty());
    home.ok(&[
        "erase",
        "--patient",
        PATIENT,
        "--basis",
        "GDPR Art. 17(1)(a)",
    ]);
    assert!(!home.dir.join("prior-reports").exists());
}

/// An SR whose content nests `depth` containers deep with `items` TEXT items at the bottom,
/// its root content item of Value Type `root` (a document's is CONTAINER), in `study` of the
/// phantom patient, written as a Part 10 file.
fn hostile_sr(dir: &Path, study: &str, depth: usize, items: usize, root: &str) -> PathBuf {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    fn put(obj: &mut InMemDicomObject, tag: dicom_core::Tag, vr: VR, v: &str) {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    fn item(value_type: &str, content: Vec<InMemDicomObject>) -> InMemDicomObject {
        let mut i = InMemDicomObject::new_empty();
        put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
        put(&mut i, tags::VALUE_TYPE, VR::CS, value_type);
        let mut code = InMemDicomObject::new_empty();
        put(&mut code, tags::CODE_VALUE, VR::SH, "121071");
        put(&mut code, tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM");
        put(&mut code, tags::CODE_MEANING, VR::LO, "Finding");
        i.put(DataElement::new(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));
        if value_type == "TEXT" {
            put(&mut i, tags::TEXT_VALUE, VR::UT, "x");
        }
        if !content.is_empty() {
            i.put(DataElement::new(
                tags::CONTENT_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(content),
            ));
        }
        i
    }
    let mut content: Vec<InMemDicomObject> = (0..items).map(|_| item("TEXT", vec![])).collect();
    for _ in 0..depth {
        content = vec![item("CONTAINER", content)];
    }
    let instance = format!("2.25.{}{}{}", depth, items, study.len());
    let mut obj = InMemDicomObject::new_empty();
    for (tag, vr, v) in [
        (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.88.33"),
        (tags::SOP_INSTANCE_UID, VR::UI, instance.as_str()),
        (tags::STUDY_INSTANCE_UID, VR::UI, study),
        (tags::SERIES_INSTANCE_UID, VR::UI, &format!("{instance}.1")),
        (tags::MODALITY, VR::CS, "SR"),
        (tags::PATIENT_ID, VR::LO, PATIENT),
        (tags::VALUE_TYPE, VR::CS, root),
        (tags::CONTENT_DATE, VR::DA, "20240101"),
    ] {
        put(&mut obj, tag, vr, v);
    }
    obj.put(DataElement::new(
        tags::CONTENT_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(content),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.88.33")
                .media_storage_sop_instance_uid(&instance),
        )
        .unwrap();
    let path = dir.join(format!("hostile-{depth}-{items}-{root}.dcm"));
    file.write_to_file(&path).unwrap();
    path
}

/// A TID 1500 Imaging Measurement Report, as a measurement or AI tool stores it: one TEXT item
/// under the title (DCM 126000), of `study` of the phantom patient, dated `date`.
fn measurement_sr(dir: &Path, study: &str, date: &str) -> PathBuf {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    fn put(obj: &mut InMemDicomObject, tag: dicom_core::Tag, vr: VR, v: &str) {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    fn concept(obj: &mut InMemDicomObject, (value, scheme, meaning): (&str, &str, &str)) {
        let mut code = InMemDicomObject::new_empty();
        put(&mut code, tags::CODE_VALUE, VR::SH, value);
        put(&mut code, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
        put(&mut code, tags::CODE_MEANING, VR::LO, meaning);
        obj.put(DataElement::new(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));
    }
    let mut finding = InMemDicomObject::new_empty();
    put(&mut finding, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
    put(&mut finding, tags::VALUE_TYPE, VR::CS, "TEXT");
    concept(&mut finding, ("121071", "DCM", "Finding"));
    put(
        &mut finding,
        tags::TEXT_VALUE,
        VR::UT,
        "Nodule candidate 4 mm.",
    );
    let instance = format!("2.25.126000{}{}", date, study.len());
    let mut obj = InMemDicomObject::new_empty();
    for (tag, vr, v) in [
        (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.88.34"),
        (tags::SOP_INSTANCE_UID, VR::UI, instance.as_str()),
        (tags::STUDY_INSTANCE_UID, VR::UI, study),
        (tags::SERIES_INSTANCE_UID, VR::UI, &format!("{instance}.1")),
        (tags::MODALITY, VR::CS, "SR"),
        (tags::PATIENT_ID, VR::LO, PATIENT),
        (tags::MANUFACTURER, VR::LO, "Acme AI"),
        (tags::VALUE_TYPE, VR::CS, "CONTAINER"),
        (tags::CONTENT_DATE, VR::DA, date),
        (tags::CONTENT_TIME, VR::TM, "120000"),
    ] {
        put(&mut obj, tag, vr, v);
    }
    concept(&mut obj, ("126000", "DCM", "Imaging Measurement Report"));
    obj.put(DataElement::new(
        tags::CONTENT_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(vec![finding]),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.88.34")
                .media_storage_sop_instance_uid(&instance),
        )
        .unwrap();
    let path = dir.join(format!("measurement-{instance}.dcm"));
    file.write_to_file(&path).unwrap();
    path
}

/// A prior's report is a reader's: of the report instances on every archive, the newest that is
/// a report, wherever it is — never a newer measurement SR (TID 1500, as an AI tool stores one
/// beside the images), which is shown only for a study with nothing else, and said to be one.
#[test]
fn a_prior_report_is_the_newest_readers_report_on_any_archive_never_a_newer_measurement_sr() {
    let dir = tempfile::tempdir().unwrap();
    let read = phantom_study(dir.path(), "prior report read", "20240517", &[]);
    let measured = phantom_study(dir.path(), "prior report measured", "20240518", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in [&read, &measured] {
        for f in &s.files {
            orthanc.upload(f);
        }
    }
    let url = orthanc.dicomweb_url();
    let (sr, _) = another_departments_report(&url, &read.study, dir.path());
    // The reader's SR only on the second archive; a newer measurement SR on the first.
    dcmqrscp.store(std::slice::from_ref(&sr));
    orthanc.upload(&measurement_sr(dir.path(), &read.study, "20991231"));
    orthanc.upload(&measurement_sr(dir.path(), &measured.study, "20240601"));

    let home = attending();
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let prior = home.ok(&["prior-report", "--study", &read.study]);
    assert_eq!(prior["source"], "archive-sr", "{prior}");
    assert_eq!(prior["archive"], "dcm", "{prior}");
    assert_eq!(prior["measurement"], false, "{prior}");
    assert!(
        text_lines(&prior).contains(&("Impression".into(), "No acute abnormality.".into())),
        "{prior}"
    );
    // The measurement SR is counted among the others, not shown.
    assert_eq!(prior["others"], 1, "{prior}");

    let prior = home.ok(&["prior-report", "--study", &measured.study]);
    assert_eq!(prior["source"], "archive-sr", "{prior}");
    assert_eq!(prior["archive"], "orthanc", "{prior}");
    assert_eq!(prior["measurement"], true, "{prior}");
    assert_eq!(prior["title"], "Imaging Measurement Report", "{prior}");
    assert_eq!(prior["others"], 0, "{prior}");
}

/// A hostile SR on the archive (nested deeper than the reader walks, more items than it takes,
/// or no document at all) is refused with the SR reader's code and the archive named, never a
/// panic; an
/// archive that is down is named with `pacs_unreachable` — while a prior this home reported
/// on needs no archive at all.
#[test]
fn a_prior_report_hostile_sr_or_archive_down_gets_a_clear_error_naming_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let deep = phantom_study(dir.path(), "prior report deep", "20240101", &[]);
    let wide = phantom_study(dir.path(), "prior report wide", "20240102", &[]);
    let rootless = phantom_study(dir.path(), "prior report rootless", "20240103", &[]);
    let orthanc = Orthanc::start();
    orthanc.upload(&hostile_sr(
        dir.path(),
        &deep.study,
        countersign_app::imaging::sr::MAX_CONTENT_DEPTH + 1,
        1,
        "CONTAINER",
    ));
    orthanc.upload(&hostile_sr(
        dir.path(),
        &wide.study,
        1,
        countersign_app::imaging::sr::MAX_CONTENT_ITEMS + 1,
        "CONTAINER",
    ));
    // An SR's class, not an SR document: its root is not a container.
    orthanc.upload(&hostile_sr(dir.path(), &rootless.study, 1, 1, "TEXT"));
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    for (study, code, words) in [
        (&deep.study, "sr_too_large", "nest deeper"),
        (&wide.study, "sr_too_large", "content items"),
        (&rootless.study, "sr_malformed", "not a CONTAINER"),
    ] {
        let run = home.run(&["prior-report", "--study", study, "--pacs", "orthanc"]);
        assert_eq!(run.error_code(), code, "{}", run.stderr);
        assert!(run.stderr.contains("archive orthanc"), "{}", run.stderr);
        assert!(run.stderr.contains(words), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }

    // Down: nothing listens there.
    let port = free_port();
    home.ok(&[
        "pacs",
        "add",
        "down",
        "--dicomweb",
        &format!("http://127.0.0.1:{port}/dicom-web"),
    ]);
    let run = home.run(&["prior-report", "--study", &deep.study, "--pacs", "down"]);
    assert_eq!(run.error_code(), "pacs_unreachable", "{}", run.stderr);
    assert!(run.stderr.contains("archive down"), "{}", run.stderr);
    // A study this home reported on is answered from the ledger, archive down or not.
    home.ok(&["import", deep.files[0].parent().unwrap().to_str().unwrap()]);
    let report = home.new_report(&deep.study, "ct-chest");
    home.write(&report, "findings", "Read here.").ok();
    let prior = home.ok(&["prior-report", "--study", &deep.study, "--pacs", "down"]);
    assert_eq!(prior["source"], "ledger", "{prior}");
    assert_eq!(prior["status"], "draft");
}

/// The archive files one Study Instance UID under two patients (a mis-keyed study): the other
/// patient's SR must never be shown as this prior's report. With the prior's Patient ID given
/// (as the desktop gives it), an SR filed under another is refused `wrong_patient`; with none
/// given and the study not here, whose report it is cannot be told, and nothing is shown.
#[test]
fn a_prior_report_filed_under_another_patient_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "prior report mixed", "20240517", &[]);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let url = orthanc.dicomweb_url();
    let (sr, _) = another_departments_report(&url, &study.study, dir.path());
    // The same SR, refiled under another patient; the one filed under this patient withheld.
    let status = std::process::Command::new("dcmodify")
        .args([
            "-nb",
            "-m",
            "(0010,0020)=SOMEONE-ELSE",
            "-m",
            "(0010,0010)=Else^Someone",
        ])
        .arg(&sr)
        .status()
        .expect("dcmodify (DCMTK) is installed by make test");
    assert!(status.success());
    orthanc.upload(&sr);

    let home = attending();
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    let given = home.run(&[
        "prior-report",
        "--study",
        &study.study,
        "--patient-id",
        PATIENT,
    ]);
    assert_eq!(given.error_code(), "wrong_patient", "{}", given.stderr);
    assert!(given.stderr.contains("another patient"), "{}", given.stderr);
    assert!(
        !given.stderr.contains("SOMEONE-ELSE"),
        "names no Patient ID: {}",
        given.stderr
    );
    let unknown = home.run(&["prior-report", "--study", &study.study]);
    assert_eq!(unknown.error_code(), "wrong_patient", "{}", unknown.stderr);
    // Here under this patient: the archive's other-patient SR is refused the same way.
    home.ok(&["import", study.files[0].parent().unwrap().to_str().unwrap()]);
    let here = home.run(&["prior-report", "--study", &study.study]);
    assert_eq!(here.error_code(), "wrong_patient", "{}", here.stderr);
}

/// An archive asking for credentials (Orthanc with `AuthenticationEnabled` and one registered
/// user): with the right password the worklist, retrieval and store-back work; a wrong one and
/// none are `pacs_unauthorized` naming the archive, never echoing the password; the worklist
/// keeps its last list marked as refused; and no file of the home — the database, its WAL,
/// logs, anything — holds the password's bytes, nor the header made from them.
#[test]
fn an_archive_asking_for_credentials_gets_them_sealed_and_refuses_wrong_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs credentials", "20260108", &[]);
    let password = format!("pw-{}-of-alice", std::process::id());
    let orthanc = Orthanc::start_with_users(&[("alice", &password)]);
    for f in &study.files {
        orthanc.upload(f);
    }
    let url = orthanc.dicomweb_url();
    let right = dir.path().join("right.txt");
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&right, format!("{password}\n")).unwrap();
    std::fs::write(&wrong, "not-alices-password\n").unwrap();
    let home = attending();
    let add = |name: &str, file: Option<&Path>| {
        let mut args = vec!["pacs", "add", name, "--dicomweb", &url, "--store-back"];
        if let Some(file) = file {
            args.extend(["--user", "alice", "--password-file", file.to_str().unwrap()]);
        }
        home.ok(&args)
    };

    // The right password: listed with the user, never the password; everything works.
    let added = add("orthanc", Some(&right));
    assert_eq!(
        added["auth"],
        serde_json::json!({"kind": "basic", "user": "alice"})
    );
    let listed = home.ok(&["pacs", "list"]);
    assert_eq!(listed[0]["auth"]["user"], "alice", "{listed}");
    assert!(!listed.to_string().contains(&password), "{listed}");
    home.ok(&["pacs", "test", "orthanc"]);
    let live = home.ok(&["worklist", "--pacs", "orthanc"]);
    assert_eq!(live.as_array().unwrap().len(), 1, "{live}");
    assert_eq!(live[0]["study"], study.study.as_str());
    let got = home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    assert_eq!(got["instances"], study.files.len(), "{got}");
    assert_eq!(
        stored(&home, &study.study),
        shas(&study.files),
        "byte-identical behind the credentials"
    );
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    let signed = home.run(&["report", "finalize", &report]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let sent = home.ok(&["deliveries"]);
    assert_eq!(sent[0]["state"], "delivered", "{sent}");
    let sop = sent[0]["sop_instance"].as_str().unwrap();
    assert_eq!(
        orthanc.find_instance(sop).len(),
        1,
        "stored back by STOW-RS"
    );

    // A wrong password, and none: refused by name, the credential not echoed.
    add("wrong", Some(&wrong));
    add("none", None);
    for name in ["wrong", "none"] {
        for args in [
            vec!["pacs", "test", name],
            vec!["worklist", "--pacs", name],
            vec!["retrieve", "--pacs", name, "--study", &study.study],
        ] {
            let (code, message) = refused(&home, &args, name);
            assert_eq!(code, "pacs_unauthorized", "{args:?}: {message}");
            assert!(!message.contains("not-alices") && !message.contains(&password));
        }
    }

    // The password changed on the archive's side: the last list, marked refused.
    home.ok(&["pacs", "remove", "orthanc"]);
    add("orthanc", Some(&wrong));
    let kept = home.ok(&["worklist", "--pacs", "orthanc"]);
    assert_eq!(kept[0]["study"], study.study.as_str(), "{kept}");
    assert_eq!(kept[0]["archive_error"], "pacs_unauthorized", "{kept}");
    assert!(
        kept[0]["archive_answered_ms"].as_u64().unwrap() > 0,
        "{kept}"
    );
    let said = home.text(&["worklist", "--pacs", "orthanc"]);
    assert!(said.contains("refused this home's credentials"), "{said}");
    // Back to the right one, so that the home holds it sealed while its files are read.
    home.ok(&["pacs", "remove", "orthanc"]);
    add("orthanc", Some(&right));
    home.ok(&["pacs", "test", "orthanc"]);

    // Not in clear anywhere in the home: the password, as bytes, hex or base64 (at any of
    // the three alignments a longer blob could hold it at), nor Basic's encoding of it.
    let encodings = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut all = vec![
            password.clone().into_bytes(),
            hex::encode(&password).into_bytes(),
            b64.encode(format!("alice:{password}")).into_bytes(),
        ];
        for k in 0..3 {
            let mut bytes = vec![0u8; k];
            bytes.extend_from_slice(password.as_bytes());
            let text = b64.encode(&bytes);
            // Without the first and last groups, which the neighbours' bytes change.
            all.push(text.as_bytes()[4..text.len() - 4].to_vec());
        }
        all
    };
    let files = crate::common::every_file(&home.dir);
    // The CLI's process has closed the database: its WAL is checkpointed into it and gone
    // (the app's own test reads the WAL of a home held open).
    assert!(
        files.iter().any(|f| f.ends_with("ledger.sqlite3")),
        "the database is among the files read: {files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in &encodings {
            assert!(
                memchr_find(&bytes, needle).is_none(),
                "{} holds the credential",
                file.display()
            );
        }
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An admin rotating their key keeps the archive's credentials: they are re-wrapped under the
/// new key with the report keys, so the archive is dialled with them after (here it is down:
/// `pacs_unreachable`, not `pacs_credentials_unreadable`).
#[test]
fn a_key_rotation_keeps_the_archives_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pw.txt");
    std::fs::write(&password, "pw-before-rotation\n").unwrap();
    let home = attending();
    let url = format!("http://127.0.0.1:{}/dicom-web", free_port());
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &url,
        "--user",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
    ]);
    let before = home.run(&["pacs", "test", "orthanc"]);
    assert_eq!(before.error_code(), "pacs_unreachable", "{}", before.stderr);
    let rotated = home.ok(&["key", "rotate"]);
    assert_eq!(rotated["pending"], false, "{rotated}");
    let after = home.run(&["pacs", "test", "orthanc"]);
    assert_eq!(after.error_code(), "pacs_unreachable", "{}", after.stderr);
}
