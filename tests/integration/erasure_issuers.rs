//! Two people with the same Patient ID (found by a clinical-safety review, 2026-12-05): a
//! Patient ID is unique only per Issuer of Patient ID (0010,0021), and a region's hospitals
//! each number their own patients. `erase --patient` and `restrict --patient` erased every
//! study holding the bare ID — another hospital's patient's signed reports on every peer,
//! irreversibly. Now the issuer is recorded at import, an ID held under more than one issuer
//! is refused until one is named (`--issuer`), and a study whose instances disagree on who it
//! is of is never taken by a patient's erasure.

use crate::common::{founder, patient_series, Home};

/// Imports a study of (12345, `issuer`) with `slices` slices and a report on it; its UID and
/// the report.
fn study_with_report(
    home: &Home,
    dir: &std::path::Path,
    seed: &str,
    issuer: Option<&str>,
) -> (String, String) {
    let (study, files) = patient_series(dir, seed, 2, "12345", issuer);
    home.ok(&["import", files[0].parent().unwrap().to_str().unwrap()]);
    let report = home.new_report(&study, "ct-chest");
    (study, report)
}

fn status(home: &Home, report: &str) -> String {
    home.ok(&["report", "show", report])["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn indexed(home: &Home, study: &str) -> i64 {
    home.db()
        .query_row(
            "SELECT COUNT(*) FROM instances WHERE study = ?1",
            [study],
            |r| r.get(0),
        )
        .unwrap()
}

/// Hospital A's 12345 and hospital B's 12345 both held here (B's retrieved as a prior, say):
/// erasing "12345" is refused, names how many issuers hold it, and signs and destroys nothing;
/// named, only that issuer's studies and reports go. An issuer not recorded (an image without
/// one, or imported before issuers were recorded) is one of its own, named with `--issuer ''`.
#[test]
fn erasing_a_patient_id_held_by_two_hospitals_erases_only_the_issuer_named() {
    let dir = tempfile::tempdir().unwrap();
    let ada = founder("Dr Ada");
    let (a, report_a) = study_with_report(&ada, dir.path(), "hospital a", Some("HOSP-A"));
    let (b, report_b) = study_with_report(&ada, dir.path(), "hospital b", Some("HOSP-B"));

    for args in [
        &[
            "erase",
            "--patient",
            "12345",
            "--basis",
            "GDPR Art. 17(1)(b)",
        ][..],
        &[
            "restrict",
            "--patient",
            "12345",
            "--basis",
            "GDPR Art. 18(1)(a)",
        ][..],
    ] {
        let refused = ada.run(args);
        assert_eq!(refused.error_code(), "invalid_input", "{}", refused.stderr);
        assert!(
            refused.stderr.contains("2 different issuers") && refused.stderr.contains("--issuer"),
            "{}",
            refused.stderr
        );
        assert!(
            !refused.stderr.contains("12345"),
            "names no Patient ID: {}",
            refused.stderr
        );
    }
    for report in [&report_a, &report_b] {
        assert_eq!(status(&ada, report), "draft", "nothing signed");
    }
    assert_eq!(
        (indexed(&ada, &a), indexed(&ada, &b)),
        (2, 2),
        "nothing destroyed"
    );

    let erased = ada.ok(&[
        "erase",
        "--patient",
        "12345",
        "--issuer",
        "HOSP-B",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(erased["reports"], serde_json::json!([report_b]), "{erased}");
    assert_eq!(erased["studies"], serde_json::json!([b]), "{erased}");
    assert_eq!(status(&ada, &report_b), "erased");
    assert_eq!(
        status(&ada, &report_a),
        "draft",
        "hospital A's patient untouched"
    );
    assert_eq!((indexed(&ada, &a), indexed(&ada, &b)), (2, 0));

    // A third study of 12345 with no issuer recorded: unknown is not taken for HOSP-A.
    let (c, report_c) = study_with_report(&ada, dir.path(), "no issuer", None);
    let refused = ada.run(&["erase", "--patient", "12345", "--basis", "x"]);
    assert_eq!(refused.error_code(), "invalid_input", "{}", refused.stderr);
    let restricted = ada.ok(&[
        "restrict",
        "--patient",
        "12345",
        "--issuer",
        "",
        "--basis",
        "y",
    ]);
    assert_eq!(
        restricted["reports"],
        serde_json::json!([report_c]),
        "{restricted}"
    );
    let erased = ada.ok(&[
        "erase",
        "--patient",
        "12345",
        "--issuer",
        "",
        "--basis",
        "z",
    ]);
    assert_eq!(erased["studies"], serde_json::json!([c]), "{erased}");
    assert_eq!(status(&ada, &report_a), "draft");
    // One issuer left: no need to name it.
    let erased = ada.ok(&[
        "erase",
        "--patient",
        "12345",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(erased["studies"], serde_json::json!([a]), "{erased}");
    assert_eq!(ada.ok(&["verify"])["ok"], true);
}

/// A study whose instances disagree on the patient (a stray instance of the same ID under
/// another issuer, as an old home may hold from before imports checked it) is never taken by
/// a patient's erasure: refused `wrong_patient`, nothing signed or destroyed.
#[test]
fn a_patient_erasure_never_takes_a_study_whose_instances_disagree_on_the_patient() {
    let dir = tempfile::tempdir().unwrap();
    let ada = founder("Dr Ada");
    let (a, report) = study_with_report(&ada, dir.path(), "mixed", Some("HOSP-A"));
    ada.db()
        .execute(
            "UPDATE instances SET issuer = 'HOSP-B' WHERE sha256 = \
             (SELECT MIN(sha256) FROM instances WHERE study = ?1)",
            [&a],
        )
        .unwrap();
    let refused = ada.run(&[
        "erase",
        "--patient",
        "12345",
        "--issuer",
        "HOSP-A",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(refused.error_code(), "wrong_patient", "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&a),
        "names the study: {}",
        refused.stderr
    );
    assert_eq!(status(&ada, &report), "draft");
    assert_eq!(indexed(&ada, &a), 2);
}

/// A home that held both hospitals' 12345 before issuers were recorded (migration 23 leaves
/// them unrecorded): their issuers are read from the images' files when a patient's erasure
/// asks, so the erasure is still refused until one is named, and takes only that one (found by
/// review, 2026-12-05: both read "no issuer" and were erased as one person).
#[test]
fn issuers_not_recorded_by_an_older_home_are_read_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let ada = founder("Dr Ada");
    let (a, report_a) = study_with_report(&ada, dir.path(), "old a", Some("HOSP-A"));
    let (b, report_b) = study_with_report(&ada, dir.path(), "old b", Some("HOSP-B"));
    ada.db()
        .execute("UPDATE instances SET issuer = NULL", [])
        .unwrap();
    let refused = ada.run(&[
        "erase",
        "--patient",
        "12345",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(refused.error_code(), "invalid_input", "{}", refused.stderr);
    assert!(
        refused.stderr.contains("2 different issuers"),
        "{}",
        refused.stderr
    );
    let erased = ada.ok(&[
        "erase",
        "--patient",
        "12345",
        "--issuer",
        "HOSP-B",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(erased["reports"], serde_json::json!([report_b]), "{erased}");
    assert_eq!((indexed(&ada, &a), indexed(&ada, &b)), (2, 0));
    assert_eq!(status(&ada, &report_a), "draft");

    // And a new series of a study held from then, its images carrying the issuer, joins it:
    // an issuer not recorded is no other patient (found by the same review: refused, its
    // files deleted).
    let later = dir.path().join("later");
    let (same, files) = patient_series(&later, "old a", 3, "12345", Some("HOSP-A"));
    assert_eq!(same, a);
    let imported = ada.ok(&["import", files[0].parent().unwrap().to_str().unwrap()]);
    assert_eq!(imported["failed"], serde_json::json!([]), "{imported}");
    assert_eq!(indexed(&ada, &a), 2 + 3, "{imported}");
}
