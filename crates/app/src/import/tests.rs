use super::*;

/// A streaming source (a retrieval's, instances in memory) that pauses right after each
/// batch starts syncing (the first file is committed alone, then every 64th fills one), and
/// otherwise hands files as fast as they are taken, so that idle waits fall while a batch
/// syncs and files keep coming while it does: each instance is indexed once, under a final
/// name whose file is there, each batch made visible after the last, nothing left staged.
/// A batch being synced and replaced by the next before it is indexed would lose its rows
/// (an idle wait taken for a quiet moment to commit in): the counts below catch it.
#[test]
fn a_streamed_import_indexes_every_file_once_while_batches_sync_behind_it() {
    let series = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "streamed import".into(),
        slices: 300,
        size: 16,
        ..Default::default()
    };
    let paths = countersign_imaging::write_phantom_series(&spec, series.path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    for pass in 0..2 {
        let mut files = paths.iter();
        let mut handed = 0usize;
        let mut pauses = 0;
        let mut source = |_: Option<Duration>| {
            if handed > 1 && handed % 64 == 1 && pauses < 2 {
                pauses += 1;
                return Next::Idle;
            }
            pauses = 0;
            handed += 1;
            match files.next() {
                Some(path) => Next::File(Incoming::in_memory(path)),
                None => Next::End,
            }
        };
        let mut seen = Vec::new();
        let summary = home
            .import_from(&mut source, paths.len(), None, &mut |_| {}, &mut |s| {
                seen.push(s.imported)
            })
            .unwrap();
        // The first pass stores them all, the second finds them all there.
        let (imported, duplicates) = if pass == 0 { (300, 0) } else { (0, 300) };
        assert_eq!(
            (summary.imported, summary.duplicates, summary.failed.len()),
            (imported, duplicates, 0),
            "pass {pass}"
        );
        if pass == 0 {
            // The first instance on its own (a viewer waits for it), then batches.
            assert_eq!(seen.first(), Some(&1), "{seen:?}");
            assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
            assert_eq!(seen.last(), Some(&300));
        }
    }
    let study = countersign_imaging::phantom_study_uid("streamed import");
    let rows = home.store().db().instances(Some(&study)).unwrap();
    assert_eq!(rows.len(), 300);
    let mut hashes: Vec<_> = rows.iter().map(|r| r.sha256).collect();
    hashes.sort();
    hashes.dedup();
    assert_eq!(hashes.len(), 300);
    for row in &rows {
        let path = image_path(dir.path(), &row.sha256);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), row.size);
    }
    let mut staged = 0;
    for prefix in std::fs::read_dir(dir.path().join("images")).unwrap() {
        for file in std::fs::read_dir(prefix.unwrap().path()).unwrap() {
            staged += usize::from(file.unwrap().path().extension() != Some("dcm".as_ref()));
        }
    }
    assert_eq!(staged, 0);
}

/// Found by review (2026-12-05): a retrieval's staged file that the import refused (not
/// DICOM, another study) or found a duplicate stayed in the staging folder until the
/// retrieval ended, so a hostile archive streaming refused or repeated parts could fill the
/// disk with them. Each is deleted as soon as it is judged; a user's own file refused the
/// same way is left where it is.
/// Fails if a refused or duplicate staged (movable) file is still there when the import asks
/// for the next one, or if a user's (not movable) file is deleted.
#[test]
fn refused_or_duplicate_staged_files_are_deleted_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    // The staging folder on the home's filesystem, as a retrieval's is.
    let staging = dir.path().join("staging-test");
    let spec = |seed: &str| countersign_imaging::PhantomSpec {
        seed: seed.into(),
        slices: 1,
        size: 16,
        ..Default::default()
    };
    let wanted = countersign_imaging::write_phantom_series(&spec("asked for"), &staging).unwrap();
    let other_dir = staging.join("other");
    let other = countersign_imaging::write_phantom_series(&spec("not asked"), &other_dir).unwrap();
    let junk = staging.join("junk.dcm");
    std::fs::write(
        &junk,
        b"not DICOM at all, just bytes from a hostile archive",
    )
    .unwrap();
    let again = staging.join("again.dcm");
    std::fs::copy(&wanted[0], &again).unwrap();
    let users = tempfile::tempdir().unwrap();
    let own = users.path().join("mine.dcm");
    std::fs::write(&own, b"a user's file, not DICOM").unwrap();
    // (path, movable, there once it is judged: `None` for the one imported, moved into the
    // store when its batch commits)
    let files = [
        (junk, true, Some(false)),
        (other[0].clone(), true, Some(false)),
        (wanted[0].clone(), true, None),
        (again, true, Some(false)),
        (own.clone(), false, Some(true)),
    ];
    let expect = Expected {
        study: countersign_imaging::phantom_study_uid("asked for"),
        patient_id: None,
        erased_mark: 0,
    };
    let mut handed = 0usize;
    let mut source = |_: Option<Duration>| {
        // Every file handed before has been judged by now (none needs the worker).
        if let Some((path, _, Some(there))) = handed.checked_sub(1).map(|i| &files[i]) {
            assert_eq!(path.exists(), *there, "{} once judged", path.display());
        }
        match files.get(handed) {
            Some((path, movable, _)) => {
                handed += 1;
                Next::File(Incoming {
                    path: path.clone(),
                    sha256: None,
                    movable: *movable,
                    data: None,
                    recycle: None,
                })
            }
            None => Next::End,
        }
    };
    let summary = home
        .import_from(&mut source, 5, Some(&expect), &mut |_| {}, &mut |_| {})
        .unwrap();
    assert_eq!(
        (summary.imported, summary.duplicates, summary.failed.len()),
        (1, 1, 3),
        "{summary:?}"
    );
    assert!(own.exists());
    let left: Vec<_> = std::fs::read_dir(&staging)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Found by review (2026-12-05): an instance the home already held was counted as a duplicate
/// before the retrieval's wrong-patient check, so an archive answering a retrieval of patient
/// A's study with instance X of patient B (or of another study), X already in the home, had X
/// reported as a duplicate of the study asked for: the wrong-patient refusal was lost.
/// Fails if an instance found in the store is counted as a duplicate without the retrieval's
/// study and patient check.
#[test]
fn an_instance_of_another_patient_already_stored_is_refused_not_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let series = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "already here".into(),
        slices: 1,
        size: 16,
        ..Default::default()
    };
    let x = countersign_imaging::write_phantom_series(&spec, series.path()).unwrap();
    let mut import = |expect: Option<&Expected>| {
        let mut files = x.iter();
        let mut source = |_: Option<Duration>| match files.next() {
            Some(path) => Next::File(Incoming::in_memory(path)),
            None => Next::End,
        };
        home.import_from(&mut source, 1, expect, &mut |_| {}, &mut |_| {})
            .unwrap()
    };
    // X imported by the user, with no retrieval to answer to.
    let first = import(None);
    assert_eq!((first.imported, first.failed.len()), (1, 0), "{first:?}");
    let study = countersign_imaging::phantom_study_uid("already here");
    // A retrieval of X's study under another patient (the archive's Patient ID for it is not
    // X's), and one of another study: each hands over X, and each refuses it.
    for (expect, words) in [
        (
            Expected {
                study: study.clone(),
                patient_id: Some("SOMEONE-ELSE".into()),
                erased_mark: 0,
            },
            "belongs to another patient",
        ),
        (
            Expected {
                study: countersign_imaging::phantom_study_uid("the study asked for"),
                patient_id: None,
                erased_mark: 0,
            },
            "belongs to another study",
        ),
    ] {
        let summary = import(Some(&expect));
        assert_eq!(
            (summary.imported, summary.duplicates, summary.failed.len()),
            (0, 0, 1),
            "{summary:?}"
        );
        assert!(summary.failed[0].reason.contains(words), "{summary:?}");
    }
    // The right study and patient still finds it a duplicate.
    let summary = import(Some(&Expected {
        study,
        patient_id: Some("PHANTOM-0001".into()),
        erased_mark: 0,
    }));
    assert_eq!(
        (summary.imported, summary.duplicates, summary.failed.len()),
        (0, 1, 0),
        "{summary:?}"
    );
}
