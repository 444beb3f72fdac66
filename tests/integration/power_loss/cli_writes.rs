//! `report write` through the CLI, each write its own process under the shim: the shim sees
//! what SQLite writes and syncs (and its model holds on plain files), and every acknowledged
//! section survives a power cut, whether it comes after the writes or at a seeded moment inside
//! one, losing all or a random part of what was not synced.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Output, Stdio};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::{
    assert_survived, events_of_last_process, home_with_report, log_of, power_cut, read_log, seeds,
    under_shim, Record,
};
use crate::common::{bin, Home, Run};

/// `countersign --home HOME --json report write REPORT --section SECTION --text TEXT` under
/// the shim.
fn write_under_shim(
    home: &Home,
    kill_at: Option<u64>,
    report: &str,
    section: &str,
    text: &str,
) -> Output {
    let args = [
        "report",
        "write",
        report,
        "--section",
        section,
        "--text",
        text,
    ];
    under_shim(&bin(), &home.dir, &log_of(home), kill_at)
        .env("COUNTERSIGN_PASSPHRASE_FILE", &home.passphrase_file)
        .env("COUNTERSIGN_TEST_FAST_KDF", "1")
        .arg("--home")
        .arg(&home.dir)
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn countersign")
}

/// The entry id a `report write` printed, if it printed a whole one before it exited or died.
fn acknowledged(out: &Output) -> Option<String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value: Value = serde_json::from_str(stdout.trim()).ok()?;
    Some(value["entry"].as_str()?.to_string())
}

#[test]
fn an_acknowledged_section_survives_a_power_cut() {
    let (home, report) = home_with_report();
    let mut acked = Vec::new();
    for (section, text) in [
        ("technique", "Axial CT of the chest with contrast."),
        ("findings", "No consolidation. No effusion."),
        ("impression", "Normal chest CT."),
        ("findings", "No consolidation, effusion or pneumothorax."),
    ] {
        let run = Run::from(write_under_shim(&home, None, &report, section, text));
        let entry = run.ok()["entry"].as_str().unwrap().to_string();
        acked.push((entry, text.to_string()));
    }

    let cut = power_cut(&log_of(&home), || true);
    assert_survived(&home, &report, &acked, &format!("power cut ({cut:?})"));
    // The current text of each section is its last acknowledged version.
    let view = home.ok(&["report", "show", &report]);
    let findings = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(
        findings["text"],
        "No consolidation, effusion or pneumothorax."
    );
}

#[test]
fn acknowledged_sections_survive_power_cuts_at_seeded_moments() {
    let mut killed = 0;
    let mut lost = 0;
    let all = seeds(&[1, 2, 3, 4, 5, 6, 7, 8]);
    for &seed in &all {
        let context = format!("seed {seed} (replay: POWERLOSS_SEED={seed})");
        eprintln!("{context}");
        let mut rng = StdRng::seed_from_u64(seed);
        let (home, report) = home_with_report();
        let log = log_of(&home);
        let mut acked = Vec::new();
        let write = |n: usize, kill_at: Option<u64>| {
            let text = format!("Findings, revision {n} (seed {seed}).");
            let out = write_under_shim(&home, kill_at, &report, "findings", &text);
            (out, text)
        };
        // A seeded number of acknowledged writes, each its own process, as a script would run.
        let writes = rng.gen_range(1..=4);
        for n in 0..writes {
            let (out, text) = write(n, None);
            let run = Run::from(out);
            assert_eq!(run.code, 0, "{context}: write {n}: {}", run.stderr);
            acked.push((run.json()["entry"].as_str().unwrap().to_string(), text));
        }
        // Then the power goes at a seeded event of the next write: anywhere from before its first
        // change to just before it prints its acknowledgement (it takes about as many events as
        // the last write did).
        let kill_at = rng.gen_range(1..=events_of_last_process(&log));
        let (out, text) = write(writes, Some(kill_at));
        match (out.status.code(), out.status.signal()) {
            (Some(0), _) => {}
            (_, Some(9)) => killed += 1,
            _ => panic!(
                "{context}: the interrupted write failed otherwise: {:?} {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
        if let Some(entry) = acknowledged(&out) {
            acked.push((entry, text));
        }

        let p_lost = rng.gen_range(0.1..0.9);
        let cut = power_cut(&log, || rng.gen_bool(p_lost));
        eprintln!("{context}: {writes} acknowledged writes, then cut at event {kill_at}, {cut:?}");
        lost += cut.lost;
        assert_survived(&home, &report, &acked, &context);
    }
    // Not vacuous: the cuts landed inside writes, and some of them had unsynced changes to undo
    // (a single replayed seed may legitimately do neither).
    if all.len() > 1 {
        assert!(
            killed * 2 >= all.len(),
            "only {killed} of {} writes were cut",
            all.len()
        );
        assert!(lost > 0, "no cut found an unsynced change to undo");
    }
}

/// The shim must really see what SQLite does, or every other test here would pass vacuously.
#[test]
fn the_shim_sees_the_writes_and_syncs_of_the_ledger() {
    // Plain files first: the model itself. A synced file survives, an unsynced one is lost, an
    // unsynced overwrite (O_TRUNC), write in place (through a write-only descriptor) or append
    // leaves the old content, and a rename carries the file's synced state to its new name.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("disk");
    std::fs::create_dir(&dir).unwrap();
    let log = tmp.path().join("files.log");
    let out = under_shim(Path::new("sh"), &dir, &log, None)
        .current_dir(&dir)
        .args([
            "-c",
            "printf old > over; sync over; printf new > over; \
             printf kept > synced; sync synced; printf gone > unsynced; \
             printf 12345 > mid; sync mid; \
             printf Z | dd of=mid bs=1 seek=2 conv=notrunc status=none; printf more >> mid; \
             printf fresh > t; sync t; mv t renamed; printf stale > u; mv u moved",
        ])
        .output()
        .expect("sh");
    assert!(out.status.success(), "{out:?}");
    let read = |name: &str| String::from_utf8(std::fs::read(dir.join(name)).unwrap()).unwrap();
    assert_eq!(read("unsynced"), "gone");
    assert_eq!(read("mid"), "12Z45more");
    let cut = power_cut(&log, || true);
    assert_eq!(read("over"), "old", "{cut:?}");
    assert_eq!(read("synced"), "kept");
    assert_eq!(read("unsynced"), "");
    assert_eq!(read("mid"), "12345");
    assert_eq!(read("renamed"), "fresh");
    assert_eq!(read("moved"), "");

    // Then the ledger: one write through the CLI shows up as writes to the WAL and syncs of it.
    let (home, report) = home_with_report();
    Run::from(write_under_shim(&home, None, &report, "findings", "Clear.")).ok();
    let records = read_log(&log_of(&home));
    let ledger = home.dir.canonicalize().unwrap().join("ledger.sqlite3");
    let wal = ledger.with_extension("sqlite3-wal");
    let writes_to = |file: &Path| {
        records
            .iter()
            .filter(|r| matches!(r, Record::Write { path, .. } if path == file))
            .count()
    };
    let syncs_of = |file: &Path| {
        records
            .iter()
            .filter(|r| matches!(r, Record::Sync(path) if path == file))
            .count()
    };
    let summary = format!(
        "{} records: {} writes and {} syncs of the WAL, {} writes and {} syncs of the database",
        records.len(),
        writes_to(&wal),
        syncs_of(&wal),
        writes_to(&ledger),
        syncs_of(&ledger)
    );
    eprintln!("{summary}");
    assert!(
        records.iter().any(|r| matches!(r, Record::Process)),
        "the shim did not load: {summary}"
    );
    assert!(writes_to(&wal) > 0, "no write to the WAL seen: {summary}");
    assert!(syncs_of(&wal) > 0, "no sync of the WAL seen: {summary}");
    assert!(
        !records.iter().any(|r| matches!(r, Record::Unsupported(_))),
        "{records:?}"
    );
}
