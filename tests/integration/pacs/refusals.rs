//! What a retrieval refuses of what an archive sends, storing the rest: an instance of another
//! patient (over both protocols), a file that is not DICOM, an instance whose pixel data is
//! shorter than its header says, and one cut inside its pixel data.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::{attending, nothing_stored, shas, stored};
use crate::pacs_servers::{archive_sending, phantom_study, Dcmqrscp, Orthanc, PATIENT};

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
