//! Image files at a power cut: a retrieval from an archive and an import of a folder, cut at a
//! seeded moment under the shim, never leave an index row naming an image the disk lost; an
//! import run again into the cut home leaves every row's file whole too.

use std::path::Path;
use std::process::{Output, Stdio};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{events_of_last_process, log_of, power_cut, read_log, seeds, under_shim};
use crate::common::{bin, Home};

/// Issue 15's retrieval stores each instance as it arrives: the staged file is synced, renamed
/// into the store, its folder synced, and only then indexed. A power cut at a seeded moment of
/// `retrieve` (under the shim; its decode workers are started under it too, and may be the ones
/// the seeded kill lands in) never leaves an index row naming an image file the disk lost:
/// every row's file is there, whole, with the SHA-256 it is stored under. With the staged
/// file's sync removed, the cut leaves indexed files empty and this fails.
#[test]
fn a_retrieval_cut_by_the_power_indexes_no_image_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "power loss retrieve".into(),
        slices: 12,
        size: 64,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.path().join("ct")).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let orthanc = crate::pacs_servers::Orthanc::start();
    for f in &files {
        orthanc.upload(f);
    }
    let (mut indexed, mut lost) = (0usize, 0usize);
    let all = seeds(&[11, 12, 13, 14, 15, 16]);
    for &seed in &all {
        let context = format!("seed {seed} (replay: POWERLOSS_SEED={seed})");
        let mut rng = StdRng::seed_from_u64(seed);
        let archive_home = || {
            let home = Home::new();
            home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
            home.ok(&[
                "pacs",
                "add",
                "orthanc",
                "--dicomweb",
                &orthanc.dicomweb_url(),
            ]);
            home
        };
        // Anywhere in a retrieval: up to as many events as a whole one takes (its workers'
        // included), measured on a home of its own.
        let measure = archive_home();
        let whole = retrieve_under_shim(&measure, &study, None);
        assert!(
            whole.status.success(),
            "{context}: {}",
            String::from_utf8_lossy(&whole.stderr)
        );
        let events = read_log(&log_of(&measure)).len() as u64;
        let home = archive_home();
        let kill_at = rng.gen_range(1..=events);
        let out = retrieve_under_shim(&home, &study, Some(kill_at));
        let p_lost = rng.gen_range(0.5..1.0);
        let cut = power_cut(&log_of(&home), || rng.gen_bool(p_lost));
        lost += cut.lost;
        eprintln!(
            "{context}: cut at event {kill_at} of {events} ({:?}), {cut:?}",
            out.status
        );
        // Every indexed image is on the disk, whole.
        indexed += every_indexed_image_is_whole(&home, &context);
    }
    // Not vacuous: some cuts came after instances were indexed, some had unsynced changes.
    if all.len() > 1 {
        assert!(indexed > 0, "no cut came after an instance was indexed");
        assert!(lost > 0, "no cut found an unsynced change to undo");
    }
}

/// `countersign --home HOME --json retrieve --pacs orthanc --study STUDY` under the shim.
fn retrieve_under_shim(home: &Home, study: &str, kill_at: Option<u64>) -> Output {
    under_shim(&bin(), &home.dir, &log_of(home), kill_at)
        .env("COUNTERSIGN_PASSPHRASE_FILE", &home.passphrase_file)
        .arg("--home")
        .arg(&home.dir)
        .arg("--json")
        .args(["retrieve", "--pacs", "orthanc", "--study", study])
        .stdin(Stdio::null())
        .output()
        .expect("spawn countersign")
}

/// An import makes a batch of files durable together (two `syncfs`, see the store's
/// `commit_staged`: the data, then the names) before the batch's index rows are committed. A
/// power cut at a seeded moment of an `import` of 70 slices (a first batch of one, synced file
/// by file, then batches of 64 and 5) never leaves an index row naming a file the disk lost;
/// and importing the same files again into the cut home — which trusts a name it finds taken:
/// same name, same bytes — leaves every row's file whole too. With the sync before the index
/// commit removed, a cut leaves indexed files empty and this fails.
#[test]
fn an_import_cut_by_the_power_indexes_no_image_it_lost() {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "power loss import".into(),
        slices: 70,
        size: 32,
        ..Default::default()
    };
    let folder = dir.path().join("ct");
    countersign_imaging::write_phantom_series(&spec, &folder).unwrap();
    let (mut indexed, mut lost) = (0usize, 0usize);
    let all = seeds(&[21, 22, 23, 24, 25, 26]);
    for &seed in &all {
        let context = format!("seed {seed} (replay: POWERLOSS_SEED={seed})");
        let mut rng = StdRng::seed_from_u64(seed);
        // A home made without the shim: the cut is of the import alone.
        let new_home = || {
            let home = Home::new();
            home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
            home
        };
        let measure = new_home();
        let whole = import_under_shim(&measure, &folder, None);
        assert!(
            whole.status.success(),
            "{context}: {}",
            String::from_utf8_lossy(&whole.stderr)
        );
        let events = events_of_last_process(&log_of(&measure));
        let home = new_home();
        let kill_at = rng.gen_range(1..=events);
        let out = import_under_shim(&home, &folder, Some(kill_at));
        let p_lost = rng.gen_range(0.5..1.0);
        let cut = power_cut(&log_of(&home), || rng.gen_bool(p_lost));
        lost += cut.lost;
        eprintln!(
            "{context}: cut at event {kill_at} of {events} ({:?}), {cut:?}",
            out.status
        );
        let cut_rows = every_indexed_image_is_whole(&home, &context);
        indexed += cut_rows;
        // Imported again after the cut (no shim): every file, every row whole.
        let again = home.run(&["import", folder.to_str().unwrap()]);
        assert_eq!(again.code, 0, "{context}: {}", again.stderr);
        let rows = every_indexed_image_is_whole(&home, &context);
        assert_eq!(rows, 70, "{context}");
    }
    // Not vacuous: some cuts came after instances were indexed, some had unsynced changes.
    if all.len() > 1 {
        assert!(indexed > 0, "no cut came after an instance was indexed");
        assert!(lost > 0, "no cut found an unsynced change to undo");
    }
}

/// Every image the home's index names is on the disk with the SHA-256 it is stored under;
/// how many rows there are.
fn every_indexed_image_is_whole(home: &Home, context: &str) -> usize {
    let db = home.db();
    let mut rows = db.prepare("SELECT sha256 FROM instances").unwrap();
    let shas: Vec<Vec<u8>> = rows
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for sha in &shas {
        let hex = hex::encode(sha);
        let path = home
            .dir
            .join("images")
            .join(&hex[..2])
            .join(format!("{hex}.dcm"));
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{context}: indexed {hex} is not on the disk: {e}"));
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            hex,
            "{context}: indexed {hex} lost bytes at the cut"
        );
    }
    shas.len()
}

/// `countersign --home HOME --json import FOLDER` under the shim.
fn import_under_shim(home: &Home, folder: &Path, kill_at: Option<u64>) -> Output {
    under_shim(&bin(), &home.dir, &log_of(home), kill_at)
        .env("COUNTERSIGN_PASSPHRASE_FILE", &home.passphrase_file)
        .arg("--home")
        .arg(&home.dir)
        .arg("--json")
        .args(["import"])
        .arg(folder)
        .stdin(Stdio::null())
        .output()
        .expect("spawn countersign")
}
