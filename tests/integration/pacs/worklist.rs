//! The worklist: the seeded studies with this department's report states, over DICOMweb and
//! DIMSE alike, and the last list shown, marked, when the archive is down.

use serde_json::Value;

use super::{attending, five_studies};
use crate::common::two_attendings;
use crate::pacs_servers::{phantom_study, Dcmqrscp, Orthanc, PATIENT};

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
