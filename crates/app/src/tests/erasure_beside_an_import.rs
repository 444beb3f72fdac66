//! An erasure in one process and an import or retrieval of the same images in another, on
//! one home: no indexed image is left without its file, nothing of an erased study comes
//! back through an import begun before the erasure, and no staged copy outlives it.

use crate::import::{Incoming, Next};

use super::{erase_while_read, founded, open_home};

/// A phantom series of `slices` 16² slices for `seed`, in a folder of its own (removed when
/// the returned guard drops).
fn phantom(seed: &str, slices: u32) -> (tempfile::TempDir, Vec<std::path::PathBuf>) {
    let series = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: seed.into(),
        slices,
        size: 16,
        ..Default::default()
    };
    let paths = countersign_imaging::write_phantom_series(&spec, series.path()).unwrap();
    (series, paths)
}

/// The state an erasure leaves when its process stops between its commit and deleting the
/// images' files (a crash, or another process's erasure still running `after_commit`): the
/// image's index row gone, its SHA-256 noted as erased, its file still in the store. Returns
/// the home and the phantom slices' files.
fn an_erasure_not_finished_for(
    dir: &std::path::Path,
    seed: &str,
) -> (crate::Home, Vec<std::path::PathBuf>, tempfile::TempDir) {
    let (series, paths) = phantom(seed, 2);
    let mut home = founded(dir);
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    assert_eq!(home.import(&files, |_| {}).unwrap().imported, 2);
    let study = countersign_imaging::phantom_study_uid(seed);
    let report = home.report_new(&study, "ct-chest", &[]).unwrap();
    home.erase(
        &crate::erasure::DataSubject::Report(report),
        "Art. 17(1)(a)",
    )
    .unwrap();
    let second = sha256_of(&paths[1]);
    let file = countersign_store::image_path(dir, &second);
    assert!(!file.exists(), "the erasure deleted the file");
    std::fs::write(&file, std::fs::read(&paths[1]).unwrap()).unwrap();
    home.store_mut()
        .write(|db| db.erase_image(&second))
        .unwrap();
    (home, paths, series)
}

fn sha256_of(path: &std::path::Path) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// Found by review (2026-12-04): an erasure's `after_commit` deleted every file it had noted,
/// indexed again or not. The same image imported again before it ran (found in the store,
/// so not written again) was then listed with no file: the viewer failed to open it. Fails
/// if `after_commit` stops keeping the files of indexed images.
#[test]
fn an_image_imported_again_before_its_erasure_deleted_its_file_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut home, paths, _series) =
        an_erasure_not_finished_for(dir.path(), "imported again after an erasure");
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let summary = home.import(&files, |_| {}).unwrap();
    assert_eq!((summary.imported, summary.failed.len()), (2, 0));
    // Another process opens the home, and so finishes the erasure.
    drop(open_home(dir.path()).unwrap());
    for path in &paths {
        let sha = hex::encode(sha256_of(path));
        home.open_image(&sha)
            .unwrap_or_else(|e| panic!("an imported image lost its file: {e}"));
    }
    assert!(home.store().db().erased_image_files().unwrap().is_empty());
}

/// The other order: another process finishes the erasure (deletes the file) after an import
/// found the file in the store, and before that import indexes it. The image is refused with
/// its reason, not indexed with no file, and the next import stores it. Fails if the import
/// stops looking for its files under the write lock.
#[test]
fn an_image_whose_file_an_erasure_deleted_while_it_was_staged_is_refused_not_indexed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut home, paths, _series) =
        an_erasure_not_finished_for(dir.path(), "deleted while staged");
    let second = sha256_of(&paths[1]);
    // The first slice is committed on its own; the second waits in the batch until the end,
    // so when the source is asked for a third file the second is staged and not indexed.
    let mut handed = 0;
    let mut source = |_: Option<std::time::Duration>| {
        handed += 1;
        match paths.get(handed - 1) {
            Some(path) => Next::File(Incoming::in_memory(path)),
            None => {
                drop(open_home(dir.path()).unwrap());
                Next::End
            }
        }
    };
    let summary = home
        .import_from(&mut source, 2, None, &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(summary.imported, 1, "{summary:?}");
    assert_eq!(summary.failed.len(), 1, "{summary:?}");
    assert!(
        summary.failed[0].reason.contains("erasure"),
        "{:?}",
        summary.failed[0]
    );
    assert!(home.store().db().instance(&second).unwrap().is_none());
    let again = home.import(&[paths[1].as_path()], |_| {}).unwrap();
    assert_eq!((again.imported, again.failed.len()), (1, 0));
    home.open_image(&hex::encode(second)).unwrap();
}

/// Found by review (2026-12-04): an import running while another process erased its study's
/// report (a retrieval still streaming the study, the DPO erasing meanwhile) indexed what it
/// had yet to index, bringing the erased study back, the patient's name with it, with nothing
/// said. What it had read before the erasure, or reads after it, of that study is refused;
/// an import begun after the erasure stores the images again. Fails if the import stops
/// looking for erasures made since it began.
#[test]
fn an_import_running_when_its_study_is_erased_brings_none_of_it_back() {
    let seed = "erased while streaming";
    let (_series, paths) = phantom(seed, 3);
    let dir = tempfile::tempdir().unwrap();
    let mut importer = founded(dir.path());
    assert_eq!(importer.import(&[&paths[0]], |_| {}).unwrap().imported, 1);
    let study = countersign_imaging::phantom_study_uid(seed);
    let mut dpo = open_home(dir.path()).unwrap();
    let report = dpo.report_new(&study, "ct-chest", &[]).unwrap();
    let mut handed = 0;
    let mut source = |_: Option<std::time::Duration>| {
        handed += 1;
        let path = match handed {
            1 => &paths[1],
            2 => {
                dpo.erase(
                    &crate::erasure::DataSubject::Report(report),
                    "Art. 17(1)(a)",
                )
                .unwrap();
                &paths[2]
            }
            _ => return Next::End,
        };
        Next::File(Incoming::in_memory(path))
    };
    let summary = importer
        .import_from(&mut source, 2, None, &mut |_| {}, &mut |_| {})
        .unwrap();
    let db = importer.store().db();
    assert!(
        db.instances(Some(&study)).unwrap().is_empty(),
        "{summary:?}"
    );
    let last = paths[2].display().to_string();
    assert!(
        summary
            .failed
            .iter()
            .any(|f| f.path == last && f.reason.contains("erased")),
        "{summary:?}"
    );
    for path in &paths {
        let file = countersign_store::image_path(dir.path(), &sha256_of(path));
        assert!(!file.exists(), "an erased image's file is left: {path:?}");
    }
    // Begun after the erasure, an import stores them again.
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let again = importer.import(&files, |_| {}).unwrap();
    assert_eq!((again.imported, again.failed.len()), (3, 0), "{again:?}");
}

/// Found by review (2026-12-04): an import or retrieval killed before its commit left its
/// staged files (`images/aa/….part`, `incoming/retrieve-…/`), whole DICOM files that nothing
/// ever removed, an erasure included. An erasure now removes what a gone process left (see
/// `countersign_store`'s `leftovers`), and nothing a live one is writing. Fails if the
/// erasure stops sweeping.
#[test]
fn an_erasure_removes_what_a_stopped_import_left_staged() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3.44", "ct-chest", &[]).unwrap();
    // Left by a process that is gone (no process has this id) and untouched since, and by
    // this one.
    let dead_part = dir.path().join("images/ab/abcd.4294967294-00000000-3.part");
    let dead_staging = dir
        .path()
        .join("incoming/retrieve-4294967294-0011223344556677");
    let live_part = dir.path().join(format!(
        "images/ab/abce.{}-00000000-9.part",
        std::process::id()
    ));
    std::fs::create_dir_all(&dead_staging).unwrap();
    for f in [&dead_part, &dead_staging.join("1.dcm"), &live_part] {
        std::fs::write(f, b"DICM bytes of a patient").unwrap();
    }
    let a_while_ago = std::time::SystemTime::now() - countersign_store::DEAD_AFTER * 2;
    for f in [&dead_part, &dead_staging, &live_part] {
        std::fs::File::open(f)
            .unwrap()
            .set_modified(a_while_ago)
            .unwrap();
    }
    home.erase(
        &crate::erasure::DataSubject::Report(report),
        "Art. 17(1)(a)",
    )
    .unwrap();
    assert!(!dead_part.exists(), "a dead import's staged image is left");
    assert!(!dead_staging.exists(), "a dead retrieval's staging is left");
    assert!(live_part.exists(), "a live writer's file was removed");
}

/// Found by review (2026-12-05): what finished one erasure cleared the unfinished mark
/// whatever it held by then, so a second erasure committed meanwhile (by another process),
/// whose own steps were then cut short, was never finished at an open. Fails if finishing
/// clears a mark it did not read.
#[test]
fn finishing_one_erasure_leaves_the_mark_of_one_committed_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let first = home.report_new("1.2.3.57", "ct-chest", &[]).unwrap();
    let second = home.report_new("1.2.3.58", "ct-chest", &[]).unwrap();
    let read_by_the_first = erase_while_read(dir.path(), &mut home, first);
    let set_by_the_second = erase_while_read(dir.path(), &mut home, second);
    assert_ne!(read_by_the_first, set_by_the_second);
    // The first erasure's steps end now, with nothing left undone.
    crate::erasure::finish(&mut home, Some(read_by_the_first)).unwrap();
    assert_eq!(
        home.store().db().meta(crate::erasure::UNFINISHED).unwrap(),
        Some(set_by_the_second),
        "the second erasure's mark was cleared"
    );
    drop(open_home(dir.path()).unwrap());
    assert_eq!(
        home.store().db().meta(crate::erasure::UNFINISHED).unwrap(),
        None
    );
}

/// Found by review (2026-12-05): an erasure kept what a running import had staged (rightly:
/// it may be renamed and indexed any moment), then marked itself finished; if that import
/// was killed afterwards, its files — perhaps of the erased study — were never swept, as no
/// erasure was left unfinished. The erasure stays unfinished while it keeps any, and an open
/// once the writer is gone sweeps them. Fails if the mark is cleared while files are kept.
#[test]
fn what_a_running_import_had_staged_is_swept_once_it_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3.59", "ct-chest", &[]).unwrap();
    // A running process (another import, as far as the sweep can tell).
    let mut writer = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let staged = dir
        .path()
        .join(format!("images/ab/abcd.{}-00000000-0.part", writer.id()));
    std::fs::write(&staged, b"DICM bytes of the erased study").unwrap();
    let a_while_ago = std::time::SystemTime::now() - countersign_store::DEAD_AFTER * 2;
    let age = |path: &std::path::Path| {
        std::fs::File::open(path)
            .unwrap()
            .set_modified(a_while_ago)
            .unwrap()
    };
    age(&staged);
    home.erase(
        &crate::erasure::DataSubject::Report(report),
        "Art. 17(1)(a)",
    )
    .unwrap();
    assert!(staged.exists(), "a running writer's file was removed");
    assert!(
        home.store()
            .db()
            .meta(crate::erasure::UNFINISHED)
            .unwrap()
            .is_some(),
        "the erasure is marked finished while it kept a running writer's file"
    );
    writer.kill().unwrap();
    writer.wait().unwrap();
    drop(open_home(dir.path()).unwrap());
    assert!(!staged.exists(), "a killed writer's staged file is left");
    assert_eq!(
        home.store().db().meta(crate::erasure::UNFINISHED).unwrap(),
        None
    );
}

/// Found by review (2026-12-05): an import counted an image it found in the store as stored
/// (a duplicate), and a retrieval said so, though another process erased the study before
/// the import ended. Fails if such an image is still counted as a duplicate.
#[test]
fn an_image_found_stored_then_erased_before_the_import_ends_is_not_counted_as_stored() {
    let seed = "found stored, then erased";
    let (_series, paths) = phantom(seed, 2);
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let files: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    assert_eq!(home.import(&files, |_| {}).unwrap().imported, 2);
    let study = countersign_imaging::phantom_study_uid(seed);
    let report = home.report_new(&study, "ct-chest", &[]).unwrap();
    let mut eraser = open_home(dir.path()).unwrap();
    let mut files = paths.iter().enumerate();
    // The first file is found in the store; then the other process erases the study.
    let mut source = |_: Option<std::time::Duration>| match files.next() {
        Some((i, path)) => {
            if i == 1 {
                eraser
                    .erase(
                        &crate::erasure::DataSubject::Report(report),
                        "Art. 17(1)(a)",
                    )
                    .unwrap();
            }
            Next::File(Incoming::in_memory(path))
        }
        None => Next::End,
    };
    let summary = home
        .import_from(&mut source, 2, None, &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(
        (summary.imported, summary.duplicates),
        (0, 0),
        "{summary:?}"
    );
    assert_eq!(summary.failed.len(), 2, "{summary:?}");
    assert!(
        summary.failed.iter().all(|f| f.reason.contains("erased")),
        "{summary:?}"
    );
}

/// Found by review (2026-12-04): a retrieval read the erasure mark only once its first
/// instance arrived (after the archive was searched), so an erasure committed between the
/// retrieval being asked for and then was not refused. The mark is the one read when it was
/// asked for. Fails if the import reads its own mark for a retrieval.
#[test]
fn a_retrieval_asked_for_before_an_erasure_brings_none_of_the_study_back() {
    use crate::import::Expected;
    let seed = "erased before the first instance";
    let (_series, paths) = phantom(seed, 2);
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    assert_eq!(home.import(&[&paths[0]], |_| {}).unwrap().imported, 1);
    let study = countersign_imaging::phantom_study_uid(seed);
    let report = home.report_new(&study, "ct-chest", &[]).unwrap();
    // The retrieval is asked for; the erasure commits before its first instance arrives.
    let asked = home.store().db().erasure_mark().unwrap();
    home.erase(
        &crate::erasure::DataSubject::Report(report),
        "Art. 17(1)(a)",
    )
    .unwrap();
    let expect = Expected {
        study: study.clone(),
        patient_id: None,
        erased_mark: asked,
    };
    let mut files = paths.iter();
    let mut source = |_: Option<std::time::Duration>| match files.next() {
        Some(path) => Next::File(Incoming::in_memory(path)),
        None => Next::End,
    };
    let summary = home
        .import_from(&mut source, 2, Some(&expect), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(summary.imported, 0, "{summary:?}");
    assert!(
        summary.failed.iter().all(|f| f.reason.contains("erased")),
        "{summary:?}"
    );
    assert!(home
        .store()
        .db()
        .instances(Some(&study))
        .unwrap()
        .is_empty());
}
