//! Importing the corpus into a home: content-addressed, indexed, duplicates skipped, unreadable
//! files reported; a report binds the SHA-256 of every instance of its study, and a changed
//! image file is caught when opened.

use std::path::PathBuf;
use std::process::Command;

use crate::common::Home;

/// A folder of every pinned corpus file plus two that are not DICOM at all.
fn corpus_with_strays(into: &std::path::Path) -> PathBuf {
    let dir = into.join("cd");
    std::fs::create_dir_all(&dir).unwrap();
    for f in countersign_testkit::manifest() {
        std::fs::copy(countersign_testkit::corpus(f.name), dir.join(f.name)).unwrap();
    }
    std::fs::write(dir.join("MANIFEST.tsv"), "file\tbytes\n").unwrap();
    std::fs::write(dir.join("README.md"), "# A CD from another hospital\n").unwrap();
    dir
}

#[test]
fn import_index_bind_and_recheck() {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let scratch = tempfile::tempdir().unwrap();
    let dir = corpus_with_strays(scratch.path());
    let summary = home.ok(&["import", dir.to_str().unwrap()]);
    let imported = summary["imported"].as_u64().unwrap();
    assert!(imported > 100, "{summary}");
    let failed = summary["failed"].as_array().unwrap();
    // Not DICOM at all: listed with a reason, the import went on.
    for name in ["MANIFEST.tsv", "README.md"] {
        let f = failed
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name} not reported"));
        assert!(
            f["reason"]
                .as_str()
                .unwrap()
                .contains("not a readable DICOM file"),
            "{f}"
        );
    }
    // Importing again stores nothing new.
    let again = home.ok(&["import", dir.to_str().unwrap()]);
    assert_eq!(again["imported"], 0);
    assert_eq!(
        again["duplicates"].as_u64().unwrap(),
        imported + summary["duplicates"].as_u64().unwrap()
    );

    let studies = home.ok(&["studies"]);
    let total: u64 = studies
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instances"].as_u64().unwrap())
        .sum();
    assert_eq!(total, imported);
    // The study CT_small.dcm belongs to.
    let ct = dir.join("CT_small.dcm");
    let info = home.ok(&["image", "info", ct.to_str().unwrap()]);
    let study = info["study_uid"].as_str().unwrap();
    let listed = studies
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["study"] == study)
        .unwrap();
    assert_eq!(listed["modality"], "CT");

    let report = home.new_report(study, "ct-chest");
    let view = home.ok(&["report", "show", &report]);
    let images: Vec<String> = view["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(images.len() as u64, listed["instances"].as_u64().unwrap());
    let out = Command::new("sha256sum").arg(&ct).output().unwrap();
    let ct_sha = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(images.contains(&ct_sha), "{images:?} lacks {ct_sha}");

    // The stored copy is named by its hash; changing it is caught on opening.
    let app = countersign_app::Home::open(&home.dir).unwrap();
    assert!(app.open_image(&ct_sha).is_ok());
    let stored = home
        .dir
        .join("images")
        .join(&ct_sha[..2])
        .join(format!("{ct_sha}.dcm"));
    let mut bytes = std::fs::read(&stored).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&stored, &bytes).unwrap();
    let err = app.open_image(&ct_sha).unwrap_err();
    assert_eq!(err.code(), "image_changed", "{err}");
}

/// The phantom's instance UIDs are hashes, so UID order is random; the viewer scrolls a series
/// in the order the index returns it, which must be instance number order.
#[test]
fn a_series_scrolls_in_instance_number_order_not_uid_order() {
    crate::common::use_cli_as_decode_worker();
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        slices: 12,
        size: 32,
        ..Default::default()
    };
    let files =
        countersign_imaging::write_phantom_series(&spec, &dir.path().join("series")).unwrap();
    let mut home = countersign_app::Home::open(&dir.path().join("home")).unwrap();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    home.import(&paths, |_| {}).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let numbers: Vec<i64> = home
        .study_images(&study)
        .unwrap()
        .iter()
        .map(|sha| home.open_image(sha).unwrap().info.instance_number.unwrap())
        .collect();
    assert_eq!(numbers, (1..=12).collect::<Vec<i64>>());
}

/// Found by a clinical-safety review (2026-12-05): a local import checked nothing of a study's
/// patient (only retrievals did), so one stray instance of patient A carrying patient B's Study
/// Instance UID joined B's study — and A's erasure then took B's whole study. Now an instance
/// whose study is held here under another patient (another Patient ID, or the same under
/// another Issuer of Patient ID) is refused `wrong_patient`, nothing of it stored; the rest of
/// the import goes on.
#[test]
fn a_stray_instance_of_another_patient_is_refused_from_a_study_held_here() {
    let dir = tempfile::tempdir().unwrap();
    let home = crate::common::founder("Dr Ada");
    let (b, files) =
        crate::common::patient_series(dir.path(), "patient b", 3, "67890", Some("HOSP-B"));
    let first = home.ok(&["import", files[0].parent().unwrap().to_str().unwrap()]);
    assert_eq!(first["imported"], 3, "{first}");

    let strays = dir.path().join("strays");
    std::fs::create_dir_all(&strays).unwrap();
    // Patient A's instance filed under B's study; B's ID under another hospital's issuer.
    for (name, from, id, issuer) in [
        ("a.dcm", &files[0], "12345", "HOSP-A"),
        ("b.dcm", &files[1], "67890", "HOSP-C"),
    ] {
        std::fs::copy(from, strays.join(name)).unwrap();
        crate::common::set_patient(&strays.join(name), id, Some(issuer));
    }
    // And one more instance of B's own: taken.
    let (_, more) =
        crate::common::patient_series(dir.path(), "patient b", 4, "67890", Some("HOSP-B"));
    std::fs::copy(&more[3], strays.join("c.dcm")).unwrap();
    let summary = home.ok(&["import", strays.to_str().unwrap()]);
    assert_eq!(summary["imported"], 1, "{summary}");
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{summary}");
    for f in failed {
        let reason = f["reason"].as_str().unwrap();
        assert!(
            reason.contains("wrong_patient") && reason.contains("another patient"),
            "{f}"
        );
        assert!(
            !reason.contains("12345") && !reason.contains("HOSP"),
            "names no ID: {f}"
        );
    }
    let listed = home.ok(&["studies"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["study"], b.as_str());
    assert_eq!(listed[0]["instances"], 4);
    assert_eq!(
        crate::common::every_file(&home.dir.join("images")).len(),
        4,
        "nothing of the strays stored"
    );
    // Nothing of patient A is held here: their erasure cannot take B's study.
    let none = home.run(&[
        "erase",
        "--patient",
        "12345",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(none.error_code(), "not_found", "{}", none.stderr);
}

/// A new study whose files mix patients within one import: its patient is its first
/// instance's, and the instance of another patient is refused.
#[test]
fn an_import_mixing_patients_within_one_new_study_refuses_the_other_patients_instance() {
    let dir = tempfile::tempdir().unwrap();
    let home = crate::common::founder("Dr Ada");
    let (study, files) =
        crate::common::patient_series(dir.path(), "mixed", 3, "111", Some("HOSP-A"));
    crate::common::set_patient(&files[1], "222", Some("HOSP-A"));
    let summary = home.ok(&["import", files[0].parent().unwrap().to_str().unwrap()]);
    assert_eq!(summary["imported"], 2, "{summary}");
    let failed = summary["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{summary}");
    assert!(failed[0]["path"]
        .as_str()
        .unwrap()
        .ends_with(files[1].file_name().unwrap().to_str().unwrap()));
    assert!(
        failed[0]["reason"]
            .as_str()
            .unwrap()
            .contains("wrong_patient"),
        "{summary}"
    );
    let listed = home.ok(&["studies"]);
    assert_eq!(listed[0]["study"], study.as_str());
    assert_eq!(listed[0]["instances"], 2);
}
