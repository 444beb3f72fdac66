//! What an erasure destroys of the images: those of the study the report is about now, and
//! for a patient every study of theirs held here; never another patient's.

use countersign_ledger::{Entry, EntryId, Header, Kind, Role, SecretKey};
use countersign_report::payload::ReportMove;

use crate::tests::open_home;
use crate::{DataSubject, Home};

/// The SHA-256 of each image of `study` this home indexes.
fn indexed(home: &Home, study: &str) -> Vec<[u8; 32]> {
    let db = home.store().db();
    db.instances(Some(study))
        .unwrap()
        .iter()
        .map(|i| i.sha256)
        .collect()
}

/// How many of `images` still have their file in the home.
fn files(home: &Home, images: &[[u8; 32]]) -> usize {
    images
        .iter()
        .filter(|sha| countersign_store::image_path(home.dir(), sha).exists())
        .count()
}

/// A demo home (its report on the phantom study of PHANTOM-0001) that also holds CT_small, a
/// study of another patient (1CT1), with no report. Returns the phantom study, the CT study
/// and the report.
/// Asserts that `study` has neither index rows nor files of `images` left here.
#[track_caller]
fn assert_erased(home: &Home, study: &str, images: &[[u8; 32]]) {
    assert!(indexed(home, study).is_empty(), "{study} is still indexed");
    assert_eq!(files(home, images), 0, "{study}'s files stay");
}

/// Asserts that `study` still has all its index rows (`images`) and their files.
#[track_caller]
fn assert_kept(home: &Home, study: &str, images: &[[u8; 32]]) {
    assert_eq!(indexed(home, study), images, "{study}'s rows went");
    assert_eq!(files(home, images), images.len(), "{study}'s files went");
}

fn two_patients(home: &mut Home) -> (String, String, EntryId) {
    let demo = home.demo().unwrap();
    let ct = countersign_testkit::corpus("CT_small.dcm");
    home.import(&[ct.as_path()], |_| {}).unwrap();
    let ct_study = home.move_targets(demo.report).unwrap()[0].study.clone();
    (demo.study, ct_study, demo.report)
}

/// Found by review (2026-12-05): the images an erasure destroyed were its `report.create`'s
/// study's, whatever `report.move` had said since. A report written on one patient's study and
/// moved to another's took the first patient's images with it when the second asked for the
/// erasure, and left the second's (files and index rows, with their name and ID). Fails if an
/// erasure reads the study the report was created on instead of the one it is about now.
#[test]
fn erasing_a_moved_report_destroys_the_study_it_is_about_not_the_one_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (left, moved_to, report) = two_patients(&mut home);
    home.report_move(report, "1CT1", &moved_to, "wrong patient")
        .unwrap();
    let (left_images, moved_images) = (indexed(&home, &left), indexed(&home, &moved_to));
    assert!(!left_images.is_empty() && !moved_images.is_empty());
    assert_eq!(files(&home, &left_images), left_images.len());

    home.erase(&DataSubject::Report(report), "GDPR Art. 17(1)(a)")
        .unwrap();
    // The erased patient's study goes; the other patient's, which the report left, stays.
    assert_erased(&home, &moved_to, &moved_images);
    assert_kept(&home, &left, &left_images);
    assert_eq!(home.study_patient_id(&left).unwrap(), "PHANTOM-0001");
}

/// `who`'s `kind` entry in `report`, on the report's heads, its payload sealed as a member's
/// home seals it, taken in from a bundle: stored whatever the rules make of it (a refused
/// entry is stored as refused), as a peer's would be.
fn from_peer(home: &mut Home, who: &SecretKey, report: EntryId, kind: Kind, plain: &[u8]) {
    let (entry, payload) = home
        .with_state(&report, |state, _| {
            let (heads, seq) = state.ledger.position_for(&report, &who.public()).unwrap();
            let ts = crate::home::now_ms();
            let (sealed, _) = crate::home::seal_payload(
                state,
                Some(report),
                kind,
                plain,
                true,
                (&who.public(), ts),
            )?;
            let payload = sealed.unwrap_or_else(|| plain.to_vec());
            let h = Header::new(
                state.network()?,
                report,
                who.public(),
                seq,
                ts,
                kind,
                heads,
                &payload,
            );
            Ok((Entry::sign(h, who).unwrap(), payload))
        })
        .unwrap();
    let bundle = countersign_ledger::bundle::encode([(&entry, Some(&payload[..]))]);
    home.bundle_import(&bundle).unwrap();
}

/// An attending of the department besides this home's user.
fn another_attending(home: &mut Home) -> SecretKey {
    let bob = SecretKey::from_seed(&[7; 32]);
    home.roster_add(bob.public(), "Dr Bob", Role::Attending, false, None)
        .unwrap();
    bob
}

/// A move of `report` to `study`, naming `images` by their SHA-256.
fn move_to(study: &str, images: &[[u8; 32]], reason: &str) -> Vec<u8> {
    crate::home::json(&ReportMove {
        study: study.into(),
        images: images.iter().map(hex::encode).collect(),
        reason: reason.into(),
    })
}

/// Found by review (2026-12-05): an erased log judges every entry by its header alone, so a
/// move every home had refused for its payload stood again there and chose the study the
/// erasure destroyed. An attending's move of the report to another patient's study, refused
/// for a hidden character in its reason, had that patient's images destroyed when the report
/// was lawfully erased, and the erased patient's kept. Fails if an erasure reads a move the
/// rules refused with its payload.
#[test]
fn erasing_a_report_destroys_no_study_a_move_refused_for_a_hidden_character_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (own, victim, report) = two_patients(&mut home);
    let bob = another_attending(&mut home);
    let (own_images, victim_images) = (indexed(&home, &own), indexed(&home, &victim));
    let hidden = move_to(&victim, &victim_images, "wrong\u{200b} patient");
    from_peer(&mut home, &bob, report, Kind::ReportMove, &hidden);
    let view = home.report_show(report).unwrap();
    assert_eq!(view.study, own, "the move is refused");

    home.erase(&DataSubject::Report(report), "GDPR Art. 17(1)(a)")
        .unwrap();
    assert_erased(&home, &own, &own_images);
    assert_kept(&home, &victim, &victim_images);
}

/// Found by review (2026-12-05): an erasure destroyed every image its binding named, and
/// nothing checks what a `report.create` or `report.move` names against the study: a report
/// naming another patient's image had it destroyed with the erased report's study. Fails if
/// an erasure destroys a named image that is another study's here.
#[test]
fn an_erasure_keeps_an_image_of_another_study_its_create_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (phantom, ct, _) = two_patients(&mut home);
    let (phantom_images, ct_images) = (indexed(&home, &phantom), indexed(&home, &ct));
    // A report on the CT study whose create names one of the phantom study's images too.
    let borrowed = countersign_store::image_path(home.dir(), &phantom_images[0]);
    let ct_file = countersign_store::image_path(home.dir(), &ct_images[0]);
    let on_ct = home
        .report_new(&ct, "ct-chest", &[ct_file.as_path(), borrowed.as_path()])
        .unwrap();
    home.erase(&DataSubject::Report(on_ct), "GDPR Art. 17(1)(a)")
        .unwrap();
    assert_erased(&home, &ct, &ct_images);
    assert_kept(&home, &phantom, &phantom_images);
}

/// The same by a move: an attending's move of the report within its own study, naming an
/// image of another patient's study besides.
#[test]
fn an_erasure_keeps_an_image_of_another_study_a_move_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (phantom, ct, report) = two_patients(&mut home);
    let (phantom_images, ct_images) = (indexed(&home, &phantom), indexed(&home, &ct));
    let bob = another_attending(&mut home);
    let mut named = phantom_images.clone();
    named.push(ct_images[0]);
    let within = move_to(&phantom, &named, "images named again");
    from_peer(&mut home, &bob, report, Kind::ReportMove, &within);
    assert_eq!(
        home.report_show(report).unwrap().moves.len(),
        1,
        "the move stands"
    );
    home.erase(&DataSubject::Report(report), "GDPR Art. 17(1)(a)")
        .unwrap();
    assert_erased(&home, &phantom, &phantom_images);
    assert_kept(&home, &ct, &ct_images);
}

/// The same by the patient's erasure: the patient the report was moved to is erased; the one it
/// was moved away from keeps their study.
#[test]
fn erasing_the_patient_a_report_was_moved_to_keeps_the_patient_it_left() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (left, moved_to, report) = two_patients(&mut home);
    home.report_move(report, "1CT1", &moved_to, "wrong patient")
        .unwrap();
    let left_images = indexed(&home, &left);
    let done = home
        .erase(&DataSubject::patient("1CT1"), "GDPR Art. 17(1)(b)")
        .unwrap();
    assert_eq!(done.reports, vec![report]);
    assert_eq!(done.studies, vec![moved_to.clone()]);
    assert!(indexed(&home, &moved_to).is_empty());
    assert_kept(&home, &left, &left_images);
}

/// Found by review (2026-12-05): a patient's erasure erased their reports, and with each the
/// study it was about, but left every study of theirs no report was about (the desktop's dialog
/// said the studies' images were destroyed); a patient with studies and no report at all could
/// not be erased (`not_found`). Fails if a study of the patient without a report keeps its
/// files or index rows, or if such an erasure is refused.
#[test]
fn erasing_a_patient_destroys_their_studies_no_report_is_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (reported, other_patient, report) = two_patients(&mut home);
    // A second study of PHANTOM-0001, never reported on.
    let series = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "an unreported study".into(),
        slices: 2,
        size: 16,
        ..Default::default()
    };
    let paths = countersign_imaging::write_phantom_series(&spec, series.path()).unwrap();
    let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    home.import(&paths, |_| {}).unwrap();
    let unreported = countersign_imaging::phantom_study_uid("an unreported study");
    let unreported_images = indexed(&home, &unreported);
    assert_eq!(unreported_images.len(), 2);
    let scope = home.patient_scope("PHANTOM-0001", None).unwrap();
    assert_eq!(scope.studies.len(), 2);
    let other_images = indexed(&home, &other_patient);
    let mark = home.store().db().erasure_mark().unwrap();
    let seen = home.erasure_generation().unwrap();

    let done = home
        .erase(&DataSubject::patient("PHANTOM-0001"), "GDPR Art. 17(1)(b)")
        .unwrap();
    assert_eq!(done.reports, vec![report]);
    let mut both = vec![reported.clone(), unreported.clone()];
    both.sort();
    assert_eq!(done.studies, both);
    for study in [&reported, &unreported] {
        assert!(indexed(&home, study).is_empty(), "{study} still indexed");
    }
    assert_eq!(
        files(&home, &unreported_images),
        0,
        "the unreported study's files stay"
    );
    // Noted erased like an erasure's study: an import begun before refuses its images.
    assert!(home
        .store()
        .db()
        .erased_since(&unreported_images[0], &unreported, mark)
        .unwrap());
    assert!(home.erasure_generation().unwrap() > seen);
    assert_eq!(
        home.patient_scope("PHANTOM-0001", None).unwrap_err().code(),
        "not_found"
    );
    // The other patient is untouched.
    assert_eq!(indexed(&home, &other_patient), other_images);
    assert_eq!(files(&home, &other_images), other_images.len());

    // A patient with a study and no report at all is erasable.
    let done = home
        .erase(&DataSubject::patient("1CT1"), "GDPR Art. 17(1)(b)")
        .unwrap();
    assert!(done.reports.is_empty() && done.entries.is_empty());
    assert_eq!(done.studies, vec![other_patient.clone()]);
    assert!(indexed(&home, &other_patient).is_empty());
    assert_eq!(files(&home, &other_images), 0);
    // Nobody here now: nothing to erase.
    let none = home.erase(&DataSubject::patient("1CT1"), "again");
    assert_eq!(none.unwrap_err().code(), "not_found");
}

/// A member who may not erase destroys nothing, even of a patient no report is about (nothing
/// is signed that the rules could refuse).
#[test]
fn a_member_who_may_not_erase_destroys_no_unreported_study() {
    use countersign_ledger::Role;
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    home.init("Dr Res", Role::Resident, Some("Radiology"), None)
        .unwrap();
    let ct = countersign_testkit::corpus("CT_small.dcm");
    home.import(&[ct.as_path()], |_| {}).unwrap();
    let study = home.store().db().studies_of_patient("1CT1").unwrap()[0].clone();
    let images = indexed(&home, &study);
    let refused = home
        .erase(&DataSubject::patient("1CT1"), "asked")
        .unwrap_err();
    assert_eq!(refused.code(), "not_allowed");
    assert!(
        refused.to_string().contains("role_may_not_write"),
        "{refused}"
    );
    assert_eq!(indexed(&home, &study), images);
    assert_eq!(files(&home, &images), images.len());
}

/// Whether any file of the home holds `needle`.
fn on_disk(home: &Home, needle: &str) -> bool {
    crate::tests::every_file(home.dir()).into_iter().any(|f| {
        let bytes = std::fs::read(&f).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

/// Keeps, as the archive `archive`'s last worklist answer, a row per `(study, patient ID,
/// name)`.
fn keep_worklist(home: &mut Home, archive: &str, rows: &[(&str, &str, &str)]) {
    let matches: Vec<countersign_pacs::StudyMatch> = rows
        .iter()
        .map(|(study, id, name)| countersign_pacs::StudyMatch {
            study: study.to_string(),
            patient_id: Some(id.to_string()),
            patient_name: Some(name.to_string()),
            accession: Some(format!("ACC-{name}")),
            ..Default::default()
        })
        .collect();
    let last = serde_json::json!({
        "modality": null, "since": null, "limit": 0, "answered_ms": 1, "matches": matches,
    });
    home.store_mut()
        .write(|db| db.set_meta(&format!("pacs.worklist.{archive}"), &last.to_string()))
        .unwrap();
}

/// Found by review (2026-12-05): the worklist kept for when an archive is down (each study's
/// patient name, ID and accession) was left as it was by an erasure, and went on naming the
/// erased patient. Fails if an erasure leaves a row of a study it erased, or of the patient
/// it erased, in a kept worklist.
#[test]
fn an_erasure_drops_the_erased_patient_from_the_kept_worklists() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = open_home(dir.path()).unwrap();
    let (phantom, ct, report) = two_patients(&mut home);
    const ERASED: &str = "Erased^Marker-5d1f";
    const ONLY_ON_THE_ARCHIVE: &str = "Erased^Marker-9a0c";
    const OTHER: &str = "Kept^Marker-3b7e";
    keep_worklist(
        &mut home,
        "a",
        &[(&phantom, "PHANTOM-0001", ERASED), (&ct, "1CT1", OTHER)],
    );
    keep_worklist(
        &mut home,
        "b",
        &[
            ("1.2.3.4.5", "1CT1", ONLY_ON_THE_ARCHIVE),
            (&phantom, "PHANTOM-0001", ERASED),
        ],
    );
    for marker in [ERASED, ONLY_ON_THE_ARCHIVE, OTHER] {
        assert!(on_disk(&home, marker), "the scan finds {marker}");
    }
    // One report: its study's rows go, in every archive's list.
    home.erase(&DataSubject::Report(report), "GDPR Art. 17(1)(a)")
        .unwrap();
    assert!(!on_disk(&home, ERASED), "the erased study is still listed");
    assert!(on_disk(&home, OTHER) && on_disk(&home, ONLY_ON_THE_ARCHIVE));
    // A patient: every row of theirs, of a study held here or not.
    home.erase(&DataSubject::patient("1CT1"), "GDPR Art. 17(1)(b)")
        .unwrap();
    assert!(!on_disk(&home, OTHER), "the erased study is still listed");
    assert!(
        !on_disk(&home, ONLY_ON_THE_ARCHIVE),
        "the erased patient is still listed"
    );
    let db = home.store().db();
    for archive in ["a", "b"] {
        let kept = db.meta(&format!("pacs.worklist.{archive}")).unwrap();
        let kept: serde_json::Value = serde_json::from_str(&kept.unwrap()).unwrap();
        assert_eq!(kept["matches"], serde_json::json!([]), "{archive}");
    }
}

/// A patient's erasure by (Patient ID, issuer) drops from the kept worklists every row that may
/// be theirs — of the ID with their issuer or with none known — and keeps the rows of the same
/// ID under another known issuer: another hospital's patient (found by a clinical-safety
/// review, 2026-12-05).
#[test]
fn a_patient_erasure_keeps_the_worklist_rows_of_the_same_id_under_another_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::founded(dir.path());
    let a = crate::tests::study_of(&mut home, "issuer a", Some("HOSP-A"));
    const THEIRS: &str = "Erased^Marker-71aa";
    const UNKNOWN: &str = "Erased^Marker-71ab";
    const ANOTHER: &str = "Kept^Marker-71ac";
    let row = |study: &str, issuer: Option<&str>, name: &str| countersign_pacs::StudyMatch {
        study: study.into(),
        patient_id: Some("12345".into()),
        issuer: issuer.map(str::to_string),
        patient_name: Some(name.into()),
        ..Default::default()
    };
    let matches = vec![
        row("1.2.3.4.1", Some("HOSP-A"), THEIRS),
        row("1.2.3.4.2", None, UNKNOWN),
        row("1.2.3.4.3", Some("HOSP-B"), ANOTHER),
    ];
    let last = serde_json::json!({
        "modality": null, "since": null, "limit": 0, "answered_ms": 1, "matches": matches,
    });
    home.store_mut()
        .write(|db| db.set_meta("pacs.worklist.a", &last.to_string()))
        .unwrap();
    let done = home
        .erase(
            &DataSubject::Patient {
                id: "12345".into(),
                issuer: Some("HOSP-A".into()),
            },
            "GDPR Art. 17(1)(b)",
        )
        .unwrap();
    assert_eq!(done.studies, vec![a]);
    assert!(!on_disk(&home, THEIRS) && !on_disk(&home, UNKNOWN));
    assert!(
        on_disk(&home, ANOTHER),
        "another hospital's patient's row went"
    );
}
