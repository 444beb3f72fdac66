use std::collections::BTreeSet;

use countersign_ledger::Role;

use crate::{AppError, Home, ERROR_CODES};

/// A home whose passphrase source gives the demo passphrase (so demo homes open too), its new
/// keys sealed with the cheapest parameters (a debug build's test setting).
pub(crate) fn open_home(dir: &std::path::Path) -> crate::Result<Home> {
    crate::keys::use_fast_kdf_for_tests();
    Home::open_with(dir, test_source())
}

pub(crate) fn test_source() -> crate::PassphraseSource {
    crate::PassphraseSource::fixed(crate::Passphrase::new(crate::DEMO_PASSPHRASE))
}

/// Every file under `dir`, recursively (the ledger's WAL and shared memory included): what a
/// test reads to show a secret is in none of a home's files.
pub(crate) fn every_file(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(every_file(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub(crate) fn founded(dir: &std::path::Path) -> Home {
    let mut home = crate::tests::open_home(dir).unwrap();
    home.init("Dr Ada", Role::Attending, Some("Radiology"), None)
        .unwrap();
    home
}

/// Imports a 2-slice phantom study (seed `seed`) whose instances carry Patient ID 12345
/// and `issuer` (none: no issuer element); its UID.
pub(crate) fn study_of(home: &mut crate::Home, seed: &str, issuer: Option<&str>) -> String {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: seed.into(),
        slices: 2,
        size: 16,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, dir.path()).unwrap();
    for f in &files {
        let mut obj = dicom_object::open_file(f).unwrap();
        let put = |obj: &mut dicom_object::DefaultDicomObject, tag, v: &str| {
            obj.put(DataElement::new(tag, VR::LO, PrimitiveValue::from(v)));
        };
        put(&mut obj, tags::PATIENT_ID, "12345");
        if let Some(issuer) = issuer {
            // Padded as a file may pad it: trimmed at import, as the Patient ID is.
            put(&mut obj, tags::ISSUER_OF_PATIENT_ID, &format!(" {issuer} "));
        }
        obj.write_to_file(f).unwrap();
    }
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    let summary = home.import(&paths, |_| {}).unwrap();
    assert_eq!(summary.imported, 2, "{summary:?}");
    countersign_imaging::phantom_study_uid(seed)
}

#[test]
fn two_writers_on_one_home_never_reuse_a_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    drop(home);
    // Two connections to the same home, as the CLI and the desktop app would be: each keeps a
    // cached state that the other's commits must invalidate.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let mut home = crate::tests::open_home(&path).unwrap();
                (0..40)
                    .map(|i| {
                        home.report_write(report, "findings", &format!("writer {w} rev {i}"))
                            .unwrap()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let written: Vec<_> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    let home = crate::tests::open_home(dir.path()).unwrap();
    let view = home.report_show(report).unwrap();
    let seqs: BTreeSet<u64> = view.provenance.iter().map(|p| p.seq).collect();
    assert_eq!(seqs.len(), 81, "a sequence number was reused");
    assert_eq!(seqs.last(), Some(&81));
    assert!(written
        .iter()
        .all(|id| view.provenance.iter().any(|p| p.entry == *id)));
    // One writer's head is always the other's parent: the log stays a single chain.
    assert_eq!(view.heads.len(), 1);
    assert!(home.verify(None).unwrap().ok);
}

#[test]
fn errors_carry_codes_from_the_fixed_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let not_init = home.whoami().unwrap_err();
    assert_eq!(not_init.code(), "not_initialized");
    home.init("Dr R", Role::Resident, None, None).unwrap();
    let no_network = home.report_new("1.2", "ct-chest", &[]).unwrap_err();
    assert_eq!(no_network.code(), "no_network");
    let again = home.init("Dr R", Role::Resident, None, None).unwrap_err();
    assert_eq!(again.code(), "already_initialized");

    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2", "ct-chest", &[]).unwrap();
    let empty = home.report_cosign(report, "findings").unwrap_err();
    assert_eq!(empty.code(), "invalid_input");
    home.report_write(report, "findings", "Text.").unwrap();
    let own = home.report_cosign(report, "findings").unwrap_err();
    assert_eq!(own.code(), "not_allowed");
    assert!(
        own.to_string().contains("cannot co-sign their own"),
        "{own}"
    );
    let wire = own.to_wire();
    assert_eq!(wire.code, "not_allowed");
    assert_eq!(serde_json::to_value(&wire).unwrap()["code"], "not_allowed");
    for e in [not_init, no_network, again, empty, own] {
        assert!(
            ERROR_CODES.contains(&e.code()),
            "{} not in the list",
            e.code()
        );
    }
    let missing = home
        .report_show(countersign_ledger::Hash::of(b"nothing"))
        .unwrap_err();
    assert!(matches!(missing, AppError::NotFound { .. }));
}

#[test]
fn secret_keys_are_stored_sealed_and_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let home = founded(dir.path());
    let key = home.whoami().unwrap().key;
    let path = dir
        .path()
        .join("keys")
        .join(format!("{}.sealed", key.to_hex()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(std::fs::read(&path).unwrap().len(), crate::keys::SEALED_LEN);
    assert!(!dir
        .path()
        .join("keys")
        .join(format!("{}.key", key.to_hex()))
        .exists());
}

#[test]
fn a_length_is_measured_from_the_files_pixel_spacing_and_signed() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let demo = home.demo().unwrap();
    let view = home.report_show(demo.report).unwrap();
    let image = view.images[0].clone();
    // The demo phantom: 128² over 240 mm, so 1.875 mm per pixel; a 3-4-5 triangle is 9.375 mm.
    let (entry, m) = home
        .measure_length(demo.report, &image, 0, [10.0, 10.0], [13.0, 14.0])
        .unwrap();
    assert_eq!(m.length, 9375);
    assert_eq!(m.unit, countersign_report::payload::LengthUnit::Um);
    let view = home.report_show(demo.report).unwrap();
    assert_eq!(view.measurements.len(), 1);
    assert_eq!(view.measurements[0].entry, entry);
    assert!(view.provenance.iter().any(|p| p.entry == entry));
    assert!(home.verify(Some(demo.report)).unwrap().ok);

    // Off the image: refused before anything is signed.
    let err = home
        .measure_length(demo.report, &image, 0, [-5.0, 0.0], [3.0, 4.0])
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    // An image the report is not about: refused by the report rules, as a peer would.
    let mut other = m.clone();
    other.image = "ab".repeat(32);
    let err = home.measurement_add(demo.report, &other).unwrap_err();
    assert_eq!(err.code(), "not_allowed");
    assert!(err.to_string().contains("not one of the images"), "{err}");
}

#[test]
fn read_receipts_are_signed_once_per_batch_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let demo = home.demo().unwrap();
    let sections = vec!["findings".to_string(), "impression".to_string()];
    // The report is final; reading it is still recorded.
    let first = home.report_viewed(demo.report, &sections).unwrap();
    assert!(first.is_some());
    // Opening it again at once adds nothing: receipts are batched.
    assert_eq!(
        home.report_viewed(demo.report, &sections[..1]).unwrap(),
        None
    );
    let view = home.report_show(demo.report).unwrap();
    assert_eq!(view.reads.len(), 1);
    assert_eq!(view.reads[0].author.name, "Dr Ada Attending");
    assert_eq!(view.reads[0].sections, sections);
    assert!(view.provenance.iter().any(|p| Some(p.entry) == first));
    // What was read must be the template's sections.
    let err = home
        .report_viewed(demo.report, &["nonsense".to_string()])
        .unwrap_err();
    assert_eq!(err.code(), "not_allowed");
    assert!(home.verify(Some(demo.report)).unwrap().ok);
}

#[test]
fn a_report_goes_draft_preliminary_final_amended() {
    use countersign_report::ReportState;
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    let state = |h: &Home| h.report_show(report).unwrap().status;
    assert_eq!(state(&home), ReportState::Draft);
    for (section, text) in [
        ("technique", "CT."),
        ("findings", "Clear."),
        ("impression", "Normal."),
    ] {
        home.report_write(report, section, text).unwrap();
    }
    home.report_preliminary(report).unwrap();
    assert_eq!(state(&home), ReportState::Preliminary);
    home.report_finalize(report).unwrap();
    assert_eq!(state(&home), ReportState::Final);
    // Nothing but addenda after final, and no second "preliminary".
    assert_eq!(
        home.report_preliminary(report).unwrap_err().code(),
        "not_allowed"
    );
    home.report_addendum(report, "Compared with prior: unchanged.")
        .unwrap();
    assert_eq!(state(&home), ReportState::Amended);
    assert!(home.verify(Some(report)).unwrap().ok);
}

#[test]
fn the_demo_shows_an_ai_draft_edited_by_a_radiologist_and_an_open_follow_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let demo = home.demo().unwrap();
    let view = home.report_show(demo.report).unwrap();
    assert_eq!(view.status, countersign_report::ReportState::Final);
    let ai = &view.ai[0];
    assert_eq!(
        ai.author.ai_model.as_ref().unwrap().vendor,
        "Countersign Labs"
    );
    let review = ai.review.as_ref().expect("reviewed before sign-off");
    assert_eq!(review.decision, countersign_report::payload::Decision::Edit);
    assert_eq!(review.reviewer.name, "Dr Ada Attending");
    let findings = view.sections.iter().find(|s| s.name == "findings").unwrap();
    assert!(findings.text.as_deref().unwrap().contains(&ai.result.text));
    assert_eq!(home.followups().unwrap().len(), 1);
    assert!(home.verify(None).unwrap().ok);
}

#[test]
fn a_long_lived_home_re_verifies_rows_changed_on_disk_and_sees_other_writers() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    let entry = home.report_write(report, "findings", "No nodule.").unwrap();
    let status = |home: &Home| {
        let view = home.report_show(report).unwrap();
        let p = view.provenance.iter().find(|p| p.entry == entry).unwrap();
        p.status.clone()
    };
    assert_eq!(status(&home), countersign_report::EntryStatus::Verified);
    // Another process flips one bit of the stored signature; this home has verified that row
    // already and must not trust its memory of it.
    rusqlite::Connection::open(dir.path().join("ledger.sqlite3"))
        .unwrap()
        .execute(
            "UPDATE entries SET signature = CAST(zeroblob(64) AS BLOB) WHERE id = ?1",
            [entry.as_bytes().as_slice()],
        )
        .unwrap();
    assert!(matches!(
        status(&home),
        countersign_report::EntryStatus::Invalid { .. }
    ));
    // And a section another connection signs shows up in the same long-lived home.
    let mut other = crate::tests::open_home(dir.path()).unwrap();
    let newer = other.report_write(report, "impression", "Normal.").unwrap();
    let view = home.report_show(report).unwrap();
    assert!(view.provenance.iter().any(|p| p.entry == newer));
}

/// Regression: a home reopening a log offered its fork evidence once, before the rows it
/// builds on were loaded. A second fork, built on entries that followed a first one, was
/// never placed, and every entry built on it was missing after a restart (and from `verify`):
/// the home held less than it did, and than its peers.
#[test]
fn a_restart_keeps_entries_built_on_a_second_fork() {
    use countersign_ledger::{bundle, Kind};
    use countersign_report::accept::Verdict;
    use countersign_report::fixture::Department;
    use countersign_report::payload::{Payload, SectionWrite};

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let mut evidence = Vec::new();
    let mut last = None;
    for round in 0..2 {
        // Rad's key signs two entries at one position (a cloned laptop).
        let sides: Vec<_> = (0..2)
            .map(|side| {
                let p = Payload::to_bytes(&SectionWrite {
                    section: "findings".into(),
                    text: format!("round {round}, side {side}"),
                    fields: Default::default(),
                    macros: Vec::new(),
                    links: Vec::new(),
                });
                (d.sign("rad", Some(r), Kind::SectionWrite, &p, None), p)
            })
            .collect();
        for (e, p) in sides {
            if let Verdict::Fork { .. } = d.store(e.clone(), p.clone()).unwrap() {
                evidence.push((e, p));
            }
        }
        let text = format!("Ada's impression after round {round}.");
        last = Some(d.write_section("ada", r, "impression", &text).unwrap());
    }
    assert_eq!(evidence.len(), 2);
    let last = last.unwrap();
    let records = d
        .stored
        .iter()
        .chain(&evidence)
        .map(|(e, p)| (e, Some(p.as_slice())));
    let bytes = bundle::encode(records);

    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.trust(trusting(&d)).unwrap();
    home.bundle_import(&bytes).unwrap();
    let held = |home: &Home| {
        let view = home.report_show(r).unwrap();
        view.provenance.iter().any(|p| p.entry == last)
    };
    assert!(held(&home));
    drop(home);
    let home = crate::tests::open_home(dir.path()).unwrap();
    assert!(
        held(&home),
        "the entry after the second fork is gone after a restart"
    );
    let verify = home.verify(None).unwrap();
    // Rad's two forks and his entries after them, and nothing else: every row placed.
    assert!(
        verify
            .problems
            .iter()
            .all(|p| matches!(p.code.as_deref(), Some("fork" | "frozen"))),
        "{:?}",
        verify.problems
    );
}

/// Unsigned text is kept in the home, not in the webview: it survives a reopen, is dropped when
/// its section is signed, and is bounded in size.
#[test]
fn drafts_are_kept_in_the_home_until_signed() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    home.draft_save(report, "findings", "Half a thought")
        .unwrap();
    home.draft_save(report, "findings", "Half a thought, finished.")
        .unwrap();
    home.draft_save(report, "impression", "Normal.").unwrap();
    drop(home);
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let drafts = home.drafts(report).unwrap();
    assert_eq!(
        drafts.get("findings").map(String::as_str),
        Some("Half a thought, finished.")
    );
    assert_eq!(drafts.len(), 2);
    home.report_write(report, "findings", "Half a thought, finished.")
        .unwrap();
    let drafts = home.drafts(report).unwrap();
    assert!(!drafts.contains_key("findings"), "{drafts:?}");
    assert!(drafts.contains_key("impression"));
    let huge = "x".repeat(countersign_store::MAX_DRAFT_BYTES + 1);
    let err = home.draft_save(report, "impression", &huge).unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    assert_eq!(home.drafts(report).unwrap()["impression"], "Normal.");
    // Typed on (in another handle) after the text that is being signed: the newer draft is
    // unsigned work, kept; signing dropped whatever the draft held.
    let mut desk = crate::tests::open_home(dir.path()).unwrap();
    desk.draft_save(report, "impression", "Normal. No effusion.")
        .unwrap();
    home.report_write(report, "impression", "Normal.").unwrap();
    assert_eq!(
        home.drafts(report).unwrap()["impression"],
        "Normal. No effusion."
    );
}

/// The anchor a fresh home is given to take the fixture department's bundles (as an auditor's
/// `--network` or an invitation would).
fn trusting(d: &countersign_report::fixture::Department) -> crate::Anchor {
    crate::Anchor::Network {
        network: d.network(),
        founder: None,
    }
}

#[test]
fn an_export_never_replaces_a_file_of_the_home_nor_follows_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let home_dir = dir.path().join("home");
    let mut home = Home::open(&home_dir).unwrap();
    let report = home.demo().unwrap().report;
    let key_files: Vec<_> = std::fs::read_dir(home_dir.join("keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let before: Vec<Vec<u8>> = key_files
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    // Over the home's own key, through the home's path or a symlink to it: refused.
    let link = dir.path().join("looks-elsewhere");
    std::os::unix::fs::symlink(&home_dir, &link).unwrap();
    for target in [
        key_files[0].clone(),
        link.join("keys").join(key_files[0].file_name().unwrap()),
        link.join("report.pdf"),
    ] {
        let err = home
            .export_to(report, crate::ExportFormat::Pdf, &target)
            .unwrap_err();
        assert_eq!(err.code(), "path_refused", "{}: {err}", target.display());
    }
    let after: Vec<Vec<u8>> = key_files
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert_eq!(before, after);
    // Elsewhere it is written, and a file already there is replaced whole.
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let pdf = out.join("report.pdf");
    std::fs::write(&pdf, b"old").unwrap();
    let n = home
        .export_to(report, crate::ExportFormat::Pdf, &pdf)
        .unwrap();
    let bytes = std::fs::read(&pdf).unwrap();
    assert_eq!((n, bytes.starts_with(b"%PDF-")), (bytes.len() as u64, true));
    let leftovers = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file is left behind");
}

/// Erases `report` while another connection reads (its snapshot keeps the WAL, so the
/// erasure stays marked unfinished); the mark's value.
fn erase_while_read(
    dir: &std::path::Path,
    home: &mut crate::Home,
    report: countersign_ledger::EntryId,
) -> String {
    let reader = open_home(dir).unwrap();
    reader
        .store()
        .read(|db| -> crate::Result<()> {
            db.meta("network")?;
            home.erase(
                &crate::erasure::DataSubject::Report(report),
                "Art. 17(1)(a)",
            )
            .unwrap();
            Ok(())
        })
        .unwrap();
    home.store()
        .db()
        .meta(crate::erasure::UNFINISHED)
        .unwrap()
        .expect("the erasure is not marked unfinished")
}

/// What the app offers its user, judged by the rules a peer would apply.
mod actions;
/// `verify` beside another process's commits judges one state.
mod beside_a_writer;
/// What a long-lived home keeps stays bounded: fork evidence, verified rows, loaded reports.
mod bounded;
/// Bundles and audit archives read as streams, bounded before allocating.
mod bundles;
/// An erasure beside an import or retrieval of the same images on one home.
mod erasure_beside_an_import;
/// Where the key is kept (sealed file or OS keychain) and what opening it needs (issue 14).
mod key_stores;
/// A rotation reaching the member's home while its key is locked.
pub(crate) mod rotation;
/// The home's key sealed under a passphrase, locked and unlocked (issue 14).
mod sealed_keys;
/// Report payloads sealed under their report's data key (issue 16).
mod sealed_payloads;
/// What a peer is served: batches cut by bytes, each author's entries in arrival order.
mod serving;
