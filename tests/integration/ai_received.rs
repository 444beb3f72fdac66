//! AI results that arrive as DICOM SR (`ai import`), with SRs written by highdicom — a library
//! nobody here wrote — for the report's own study: the receiving home attests receipt (never
//! authorship), the result is reviewed like any AI result before sign-off, `ai stats` counts it
//! under the device's model and version, and the provenance says where it came from. Malformed,
//! non-SR, other-study, repeated and oversized files are refused with their codes, nothing
//! stored.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use crate::common::{python, str_of, tests_dir, Home};

fn received(home: &Home) -> i64 {
    home.db()
        .query_row(
            "SELECT COUNT(*) FROM entries WHERE kind = 'ai.received'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// highdicom's SRs about the study of `image`, in `out` (see write_sr.py for what each holds).
fn write_srs(image: &Path, out: &Path) {
    let run = Command::new(python())
        .arg(tests_dir().join("integration/write_sr.py"))
        .arg(image)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "write_sr.py: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `ai import` of `sr` into `report` is refused with `code`, and stores nothing.
fn refused(home: &Home, report: &str, sr: &Path, code: &str) {
    let before = home.count();
    let run = home.run(&["ai", "import", sr.to_str().unwrap(), "--report", report]);
    assert_eq!(run.error_code(), code, "{}: {}", sr.display(), run.stderr);
    assert_eq!(home.count(), before, "{} stored something", sr.display());
}

#[test]
fn highdicom_srs_are_attested_reviewed_counted_and_bad_ones_refused_with_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 3, 32);
    let report = ada.new_report(&study, "ct-chest");
    let image: PathBuf = crate::common::every_file(&series)[0].clone();
    let srs = dir.path().join("srs");
    write_srs(&image, &srs);
    // The same device's SR about another study (the corpus's CT_small.dcm).
    let other = dir.path().join("other-study");
    write_srs(&countersign_testkit::corpus("CT_small.dcm"), &other);

    // Refused, each with its code, nothing stored.
    refused(
        &ada,
        &report,
        &srs.join("no-value-type.dcm"),
        "sr_malformed",
    );
    refused(&ada, &report, &srs.join("truncated.dcm"), "sr_malformed");
    refused(&ada, &report, &image, "sr_not_sr");
    refused(
        &ada,
        &report,
        &other.join("measurements.dcm"),
        "sr_wrong_study",
    );
    // 200 MB: a real SR's bytes, then zeros to 200 MB (sparse: the size is refused before a
    // byte is read, so none need writing).
    let big = dir.path().join("big.dcm");
    std::fs::copy(srs.join("measurements.dcm"), &big).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    refused(&ada, &report, &big, "sr_too_large");
    let missing = ada.run(&[
        "ai",
        "import",
        srs.join("measurements.dcm").to_str().unwrap(),
        "--report",
        &"0".repeat(64),
    ]);
    assert_eq!(missing.error_code(), "not_found");
    assert_eq!(received(&ada), 0);

    // Measurements: attested by Ada's home, the device the SR's.
    let measured_sr = srs.join("measurements.dcm");
    let measured = ada.ok(&[
        "ai",
        "import",
        measured_sr.to_str().unwrap(),
        "--report",
        &report,
    ]);
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&measured_sr).unwrap()));
    assert_eq!(measured["sr_sha256"], sha.as_str());
    assert_eq!(
        (
            measured["model"].as_str(),
            measured["version"].as_str(),
            measured["manufacturer"].as_str(),
            measured["measurements"].as_u64(),
            measured["findings"].as_u64()
        ),
        (
            Some("LungScan"),
            Some("2.1.0"),
            Some("Acme AI"),
            Some(2),
            Some(1)
        ),
        "{measured}"
    );
    assert_eq!(
        measured["statement"],
        "received as DICOM SR from Acme AI LungScan 2.1.0, attested by Dr Ada"
    );
    let measured_entry = str_of(&measured["entry"]);
    // Delivered twice, it is one result.
    refused(&ada, &report, &measured_sr, "sr_already_received");

    // A qualitative finding.
    let finding = ada.ok(&[
        "ai",
        "import",
        srs.join("finding.dcm").to_str().unwrap(),
        "--report",
        &report,
    ]);
    assert_eq!(
        (
            finding["measurements"].as_u64(),
            finding["findings"].as_u64()
        ),
        (Some(0), Some(1)),
        "{finding}"
    );
    let finding_entry = str_of(&finding["entry"]);
    assert_eq!(received(&ada), 2);

    // What the report shows: the statement, the device and its observer context, the
    // measurements with the SOP instance they were made on.
    let view = ada.ok(&["report", "show", &report]);
    let ai = view["ai"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entry"] == measured_entry.as_str())
        .unwrap();
    let got = &ai["received"];
    assert_eq!(
        got["statement"],
        "received as DICOM SR from Acme AI LungScan 2.1.0, attested by Dr Ada"
    );
    assert_eq!(ai["author"]["name"], "Dr Ada");
    assert_eq!(got["device"]["observer"]["name"], "lungscan-gateway");
    assert_eq!(got["device"]["serial"], "AC-0042");
    let volume = got["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["concept"]["meaning"] == "Volume")
        .unwrap();
    assert_eq!(volume["value"], "1234.5");
    assert_eq!(volume["units"]["value"], "mm3");
    let instance = dicom_object::open_file(&image)
        .unwrap()
        .element(dicom_dictionary_std::tags::SOP_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches('\0')
        .to_string();
    assert_eq!(volume["references"], serde_json::json!([instance]));
    assert_eq!(got["findings"][0]["value"]["meaning"], "Nodule");
    assert!(ai["review"].is_null());
    let provenance = view["provenance"].as_array().unwrap();
    assert!(provenance
        .iter()
        .any(|p| p["kind"] == "ai.received" && p["entry"] == measured_entry.as_str()));

    // Unreviewed, the received results block sign-off like a model's own.
    for (section, text) in [
        ("technique", "Non-contrast CT."),
        ("findings", "See below."),
        ("impression", "Nodule."),
    ] {
        ada.write(&report, section, text);
    }
    let blocked = ada.run(&["report", "finalize", &report]);
    assert_eq!(blocked.error_code(), "not_allowed");
    assert!(
        blocked.stderr.contains("unreviewed_ai"),
        "{}",
        blocked.stderr
    );
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &measured_entry,
        "--accept",
    ]);
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &finding_entry,
        "--reject",
        "--comment",
        "Not a nodule: vessel.",
    ]);
    let view = ada.ok(&["report", "show", &report]);
    let findings = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert!(
        findings["text"].as_str().unwrap().starts_with(
            "AI result received as DICOM SR from Acme AI LungScan 2.1.0. Volume: 1234.5 mm3."
        ),
        "{findings}"
    );
    ada.ok(&["report", "finalize", &report]);

    // The reviewer's figures: under the device's model and version.
    let stats = ada.ok(&["ai", "stats"]);
    let models = stats["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{stats}");
    let m = &models[0];
    assert_eq!(
        (
            m["model"].as_str(),
            m["version"].as_str(),
            m["vendor"].as_str(),
            m["proposals"].as_u64(),
            m["accepted"].as_u64(),
            m["rejected"].as_u64(),
            m["unreviewed"].as_u64()
        ),
        (
            Some("LungScan"),
            Some("2.1.0"),
            Some("Acme AI"),
            Some(2),
            Some(1),
            Some(1),
            Some(0)
        ),
        "{stats}"
    );
    assert_eq!(m["acceptance_rate"], 0.5);
    assert_eq!(
        ada.ok(&["ai", "stats", "--model", "LungScan"])["models"][0]["proposals"],
        2
    );
    assert_eq!(ada.ok(&["verify"])["ok"], true);
}

/// A drop folder (`ai import --folder`): each highdicom SR is received into the one report on
/// its study, without a report named; the malformed, the non-SR, the other study's and a
/// symbolic link are refused each on its own and set aside with why; a file still being
/// written waits; a second pass finds nothing new, and an SR delivered again is a duplicate.
#[test]
fn a_drop_folder_receives_each_sr_on_its_own_and_sets_aside_what_it_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 3, 32);
    let report = ada.new_report(&study, "ct-chest");
    let image: PathBuf = crate::common::every_file(&series)[0].clone();
    let srs = dir.path().join("srs");
    write_srs(&image, &srs);
    let other = dir.path().join("other-study");
    write_srs(&countersign_testkit::corpus("CT_small.dcm"), &other);

    let drop = dir.path().join("drop");
    std::fs::create_dir(&drop).unwrap();
    for name in ["measurements.dcm", "finding.dcm", "truncated.dcm"] {
        std::fs::copy(srs.join(name), drop.join(name)).unwrap();
    }
    std::fs::copy(other.join("measurements.dcm"), drop.join("other.dcm")).unwrap();
    std::fs::copy(&image, drop.join("image.dcm")).unwrap();
    std::fs::copy(srs.join("finding.dcm"), drop.join("arriving.dcm.part")).unwrap();
    std::os::unix::fs::symlink(srs.join("finding.dcm"), drop.join("link.dcm")).unwrap();

    let pass = ada.ok(&["ai", "import", "--folder", drop.to_str().unwrap()]);
    assert_eq!(
        (
            pass["received"].as_u64(),
            pass["duplicates"].as_u64(),
            pass["refused"].as_u64(),
            pass["waiting"].as_u64()
        ),
        (Some(2), Some(0), Some(4), Some(1)),
        "{pass}"
    );
    let outcome = |file: &str| -> (String, String) {
        let f = pass["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["file"] == file)
            .unwrap_or_else(|| panic!("{file} not in {pass}"));
        (
            str_of(&f["outcome"]),
            f["code"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(outcome("measurements.dcm").0, "received");
    assert_eq!(outcome("finding.dcm").0, "received");
    for (file, code) in [
        ("truncated.dcm", "sr_malformed"),
        ("other.dcm", "not_found"),
        ("image.dcm", "sr_not_sr"),
        ("link.dcm", "invalid_input"),
    ] {
        assert_eq!(outcome(file), ("refused".into(), code.into()), "{file}");
        let why =
            std::fs::read_to_string(drop.join("refused").join(format!("{file}.why.txt"))).unwrap();
        assert!(why.starts_with(&format!("{code}: ")), "{file}: {why}");
    }
    assert_eq!(received(&ada), 2);
    // Both received into the study's report, as the device's model.
    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["ai"].as_array().unwrap().len(), 2, "{view}");
    // Only the file still being written is left in the folder.
    let left: Vec<String> = std::fs::read_dir(&drop)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["arriving.dcm.part"]);
    assert!(drop.join("received/measurements.dcm").is_file());

    // The sender renames it when done; the next pass takes it: the same SR as finding.dcm,
    // received before, so a duplicate — set aside, not counted twice.
    std::fs::rename(drop.join("arriving.dcm.part"), drop.join("arriving.dcm")).unwrap();
    let again = ada.ok(&["ai", "import", "--folder", drop.to_str().unwrap()]);
    assert_eq!(
        (again["received"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(1)),
        "{again}"
    );
    assert_eq!(received(&ada), 2);
    assert!(drop.join("received/arriving.dcm").is_file());
    let empty = ada.ok(&["ai", "import", "--folder", drop.to_str().unwrap()]);
    assert_eq!(empty["files"], serde_json::json!([]));

    // With two reports on the study, an SR must name its report.
    ada.new_report(&study, "ct-chest");
    let run = ada.run(&[
        "ai",
        "import",
        srs.join("measurements.dcm").to_str().unwrap(),
    ]);
    assert_eq!(run.error_code(), "invalid_input", "{}", run.stderr);
    assert!(
        run.stderr.contains("2 reports are on study"),
        "{}",
        run.stderr
    );
}

/// AI results an AI product stored into the archive (a real Orthanc on loopback, over
/// DICOMweb): `ai import --pacs --study` retrieves the study, receives the highdicom SR (a
/// device observed) into the one report on the study, passes over the images and the
/// department's own report SR stored back (a person observed), and takes nothing twice.
#[test]
fn ai_results_in_the_archive_are_received_and_the_departments_own_report_sr_left_alone() {
    use crate::pacs_servers::{phantom_study, Orthanc};
    let dir = tempfile::tempdir().unwrap();
    let seeded = phantom_study(dir.path(), "ai results in the archive", "20260110", &[]);
    let ada = crate::common::founder("Dr Ada");
    ada.ok(&[
        "import",
        seeded.files[0].parent().unwrap().to_str().unwrap(),
    ]);
    let report = ada.new_report(&seeded.study, "ct-chest");
    ada.write(&report, "findings", "No focal lesion.").ok();
    let srs = dir.path().join("srs");
    write_srs(&seeded.files[0], &srs);
    let own = dir.path().join("report.sr");
    ada.ok(&[
        "export",
        &report,
        "--format",
        "sr",
        "-o",
        own.to_str().unwrap(),
    ]);

    let orthanc = Orthanc::start();
    for f in seeded
        .files
        .iter()
        .chain([&srs.join("measurements.dcm"), &own])
    {
        orthanc.upload(f);
    }
    ada.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    let args = [
        "ai",
        "import",
        "--pacs",
        "orthanc",
        "--study",
        &seeded.study,
    ];
    let pass = ada.ok(&args);
    let images = seeded.files.len() as u64;
    assert_eq!(pass["instances"].as_u64(), Some(images + 2), "{pass}");
    assert_eq!(pass["received"].as_array().unwrap().len(), 1, "{pass}");
    assert_eq!(pass["passed_over"].as_u64(), Some(images + 1), "{pass}");
    assert_eq!(pass["refused"], serde_json::json!([]), "{pass}");
    let got = &pass["received"][0];
    assert_eq!(got["model"], "LungScan", "{got}");
    let sha = hex::encode(sha2::Sha256::digest(
        std::fs::read(srs.join("measurements.dcm")).unwrap(),
    ));
    assert_eq!(got["sr_sha256"], sha.as_str());
    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["ai"][0]["entry"], got["entry"], "{view}");
    assert_eq!(received(&ada), 1);
    // Asked again: the same SR is received before, and nothing is signed twice.
    let again = ada.ok(&args);
    assert_eq!(again["duplicates"].as_u64(), Some(1), "{again}");
    assert_eq!(again["received"], serde_json::json!([]));
    assert_eq!(received(&ada), 1);
    // The staging folder is gone: nothing of the study is kept but what was signed.
    let incoming = ada.dir.join("incoming");
    assert!(
        !incoming.exists() || std::fs::read_dir(&incoming).unwrap().count() == 0,
        "staging left behind"
    );
}

/// Found by review (2026-12-05): `ai import --pacs --study S` received every device SR the
/// archive returned for S into the report on the SR's own study, whatever study that was, and
/// never looked at its patient: an archive answering for S with an SR of another study this
/// home holds a report on had it signed into that report (another patient's, an entry that
/// cannot be taken back). An SR is now received only if it is of the study asked for and of
/// the patient the archive files that study under. Fails if either check is left out.
#[test]
fn an_archives_sr_of_another_study_or_another_patient_is_refused_and_nothing_signed() {
    use crate::pacs_servers::{archive_sending, phantom_study};
    let dir = tempfile::tempdir().unwrap();
    // Study S, asked for; its second image carries another Patient ID (the archive lists S
    // as the phantom patient's).
    let asked = phantom_study(dir.path(), "ai sr asked", "20260111", &[2]);
    // Study T, another this home holds a report on.
    let other = phantom_study(dir.path(), "ai sr other", "20260112", &[]);
    let ada = crate::common::founder("Dr Ada");
    let first = dir.path().join("asked-first");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::copy(&asked.files[0], first.join("1.dcm")).unwrap();
    ada.ok(&["import", first.to_str().unwrap()]);
    ada.ok(&["import", other.files[0].parent().unwrap().to_str().unwrap()]);
    ada.new_report(&asked.study, "ct-chest");
    ada.new_report(&other.study, "ct-chest");
    let sr = |image: &Path, name: &str| {
        let out = dir.path().join(name);
        write_srs(image, &out);
        std::fs::read(out.join("measurements.dcm")).unwrap()
    };
    let of_another_study = sr(&other.files[0], "srs-other");
    let of_another_patient = sr(&asked.files[1], "srs-patient");
    let server = archive_sending(&asked.study, &[&of_another_study, &of_another_patient]);
    ada.ok(&["pacs", "add", "odd", "--dicomweb", &server.url()]);

    let pass = ada.ok(&["ai", "import", "--pacs", "odd", "--study", &asked.study]);
    assert_eq!(pass["received"], serde_json::json!([]), "{pass}");
    let codes: Vec<&str> = pass["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["sr_wrong_study", "wrong_patient"], "{pass}");
    assert_eq!(received(&ada), 0, "an SR was signed into a report");
}

/// Found by review (2026-12-05): an SR was held to its report's study only, never to its
/// patient: an SR of the right study naming another Patient ID than the study's images here
/// (a device or an archive that mixed patients up) was attested into this patient's report.
/// Refused `wrong_patient`, nothing signed. Fails if the patient check is left out.
#[test]
fn an_sr_naming_another_patient_than_the_studys_images_is_refused() {
    use crate::pacs_servers::phantom_study;
    let dir = tempfile::tempdir().unwrap();
    // The study's second image carries another Patient ID; only the first is imported.
    let seeded = phantom_study(dir.path(), "ai sr patient", "20260113", &[2]);
    let ada = crate::common::founder("Dr Ada");
    let first = dir.path().join("first");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::copy(&seeded.files[0], first.join("1.dcm")).unwrap();
    ada.ok(&["import", first.to_str().unwrap()]);
    let report = ada.new_report(&seeded.study, "ct-chest");
    let srs = dir.path().join("srs");
    write_srs(&seeded.files[1], &srs);
    let sr = srs.join("measurements.dcm");
    let run = ada.run(&["ai", "import", sr.to_str().unwrap(), "--report", &report]);
    assert_eq!(run.error_code(), "wrong_patient", "{}", run.stderr);
    assert_eq!(received(&ada), 0);
    // The SR of the study's own patient is received.
    let own = dir.path().join("own");
    write_srs(&seeded.files[0], &own);
    ada.ok(&[
        "ai",
        "import",
        own.join("measurements.dcm").to_str().unwrap(),
        "--report",
        &report,
    ]);
    assert_eq!(received(&ada), 1);
}
