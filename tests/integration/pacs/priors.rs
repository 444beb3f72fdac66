//! Priors: the patient's other studies, newest first, from the archives and the store, and
//! never another patient's study or report shown as a prior's.

use serde_json::Value;

use super::{add_both, another_departments_report, attending, five_studies};
use crate::common::Home;
use crate::pacs_servers::{phantom_study, Dcmqrscp, Orthanc, PATIENT};

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
    add_both(&home, &orthanc, &dcmqrscp);
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

/// Found by a clinical-safety review (2026-12-05): priors were asked of the archives and the
/// store by the bare Patient ID, so another hospital's patient with the same ID (another
/// Issuer of Patient ID) had their studies listed as priors and their reports shown. Now a
/// study whose issuer is known and differs from the current study's is left out, from an
/// archive (the issuer asked for in the search) and from the store alike; one whose issuer is
/// unknown is still listed, and each row says its issuer.
#[test]
fn a_study_of_the_same_patient_id_under_another_issuer_is_never_a_prior() {
    let dir = tempfile::tempdir().unwrap();
    let seeded = |seed: &str, date: &str, issuer: Option<&str>| {
        let s = phantom_study(dir.path(), seed, date, &[]);
        for f in &s.files {
            crate::common::set_patient(f, PATIENT, issuer);
        }
        s
    };
    let current = seeded("issuer current", "20260105", Some("HOSP-A"));
    let prior = seeded("issuer prior", "20240517", Some("HOSP-A"));
    let unknown = seeded("issuer unknown", "20230412", None);
    let other = seeded("issuer other", "20250622", Some("HOSP-B"));
    let other_here = seeded("issuer other here", "20220301", Some("HOSP-B"));
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in [&current, &prior, &unknown, &other] {
        for f in &s.files {
            orthanc.upload(f);
        }
        dcmqrscp.store(&s.files);
    }
    let home = attending();
    add_both(&home, &orthanc, &dcmqrscp);
    home.ok(&[
        "import",
        other_here.files[0].parent().unwrap().to_str().unwrap(),
    ]);

    let priors = |archive: &str| {
        let listed = home.ok(&["priors", "--study", &current.study, "--pacs", archive]);
        let rows: Vec<(String, Value)> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["study"].as_str().unwrap().to_string(),
                    p["issuer"].clone(),
                )
            })
            .collect();
        rows
    };
    let expected = vec![
        (prior.study.clone(), Value::from("HOSP-A")),
        (unknown.study.clone(), Value::Null),
    ];
    // Not held here: the current study's issuer is the archive's.
    for archive in ["orthanc", "dcm"] {
        assert_eq!(
            priors(archive),
            expected,
            "{archive}, the current study not held here"
        );
    }
    // Held here: its images' issuer.
    home.ok(&[
        "import",
        current.files[0].parent().unwrap().to_str().unwrap(),
    ]);
    for archive in ["orthanc", "dcm"] {
        assert_eq!(
            priors(archive),
            expected,
            "{archive}, the current study held here"
        );
    }
    // The store alone: the other hospital's patient's study held here is not a prior either.
    let lone = Home::new();
    lone.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    for s in [&current, &prior, &other_here] {
        lone.ok(&["import", s.files[0].parent().unwrap().to_str().unwrap()]);
    }
    let listed = lone.ok(&["priors", "--study", &current.study]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["study"], prior.study.as_str());
    assert_eq!(listed[0]["issuer"], "HOSP-A");
}
