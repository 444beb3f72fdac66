//! Data keys sealed at rest (issue 16): a home stores each report's data key wrapped under a
//! key-encryption key its member key makes, so a copy of the home — a stolen laptop, a backup —
//! reads nothing without the member's passphrase (or token, keychain, agent). A copy opened
//! without it shows every sealed report as not readable because the home is locked, never an
//! error; `verify` and a bundle carrying keys ask for the passphrase; with it, everything reads.
//! Rows an older build stored in clear are wrapped on the next unlock; a key rotation wraps
//! every row again under the new key.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{added, bin, every_file, founder, Home, Run};

const TEXTS: [&str; 2] = [
    "Spiculated nodule of 14 mm in the left upper lobe, marker QX7-ALPHA.",
    "No pleural effusion; mediastinal node 11 mm, marker QX7-BRAVO.",
];

/// Files under `dir` holding `needle`.
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    every_file(dir)
        .into_iter()
        .filter(|f| {
            std::fs::read(f)
                .map(|b| b.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

/// The stored row of `report`'s data key, as bytes on disk.
fn key_row(home: &Home, report: &str) -> Vec<u8> {
    home.db()
        .query_row(
            "SELECT key FROM report_keys WHERE log = ?1",
            [hex::decode(report).unwrap()],
            |r| r.get(0),
        )
        .unwrap()
}

/// `countersign --home DIR ARGS` with the passphrase in `passphrase` (a file), or with none
/// from anywhere (no file, no descriptor, stdin not a terminal): the thief's view of a copied
/// home.
fn run_on(dir: &Path, passphrase: Option<&Path>, args: &[&str]) -> Run {
    let mut cmd = Command::new(bin());
    cmd.arg("--home")
        .arg(dir)
        .env_remove("COUNTERSIGN_HOME")
        .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
        .env_remove("COUNTERSIGN_AGENT_SOCK")
        .env("COUNTERSIGN_TEST_FAST_KDF", "1");
    if let Some(file) = passphrase {
        cmd.env("COUNTERSIGN_PASSPHRASE_FILE", file);
    }
    cmd.args(args).stdin(Stdio::null()).output().unwrap().into()
}

fn without_passphrase(dir: &Path, args: &[&str]) -> Run {
    run_on(dir, None, args)
}

/// A founder's home with one report per text, each text in its findings: the home and the
/// reports.
fn home_with_reports() -> (Home, Vec<String>) {
    let home = founder("Dr Ada Attending");
    let reports = TEXTS
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let report = home.new_report(&format!("1.2.840.99.{i}"), "ct-chest");
            home.write(&report, "findings", text).ok();
            report
        })
        .collect();
    (home, reports)
}

fn findings(view: &Value) -> Value {
    view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .map(|s| s["text"].clone())
        .unwrap_or(Value::Null)
}

/// Copies the files of `home` (the ledger with its WAL, `identity.json`, the sealed key file)
/// to a new folder, as a thief copies a laptop's disk.
fn copy_home(home: &Path, to: &Path) {
    for file in every_file(home) {
        let rel = file.strip_prefix(home).unwrap();
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&file, &dest).unwrap();
    }
}

#[test]
fn a_copy_of_a_home_reads_no_text_and_holds_no_data_key_without_the_passphrase() {
    let (home, reports) = home_with_reports();
    // The data keys, unwrapped here with the key-encryption key made from the home's secret
    // key: none is in any file of the home, and neither are the texts. The wrapped rows are
    // (the scan finds what is there).
    for report in &reports {
        let key = home.data_key(report);
        let left = files_holding(&home.dir, key.as_bytes());
        assert!(left.is_empty(), "the data key in clear in {left:?}");
        assert!(files_holding(&home.dir, &key.as_bytes()[..12]).is_empty());
        assert!(!files_holding(&home.dir, &key_row(&home, report)).is_empty());
    }
    for text in TEXTS {
        assert!(files_holding(&home.dir, text.as_bytes()).is_empty());
    }

    // The copy, ledger and WAL as they were while the home was in use.
    let stolen = tempfile::tempdir().unwrap();
    let copy = stolen.path().join("home");
    copy_home(&home.dir, &copy);
    assert!(copy.join("ledger.sqlite3").exists());
    for (report, text) in reports.iter().zip(TEXTS) {
        let shown = without_passphrase(&copy, &["--json", "report", "show", report]).ok();
        assert_eq!(shown["unreadable"], true, "{shown}");
        assert_eq!(shown["locked"], true, "the reason is the lock: {shown}");
        assert!(!shown.to_string().contains(text), "{shown}");
        // As a person reads it: the lock is named.
        let human = without_passphrase(&copy, &["report", "show", report]);
        assert_eq!(human.code, 0, "{}", human.stderr);
        assert!(
            human.stdout.contains("THE HOME IS LOCKED"),
            "{}",
            human.stdout
        );
        assert!(!human.stdout.contains(text));
    }
    // The list still lists (its rows were written unlocked); nothing is lost.
    let listed = without_passphrase(&copy, &["--json", "report", "list"]).ok();
    assert_eq!(listed.as_array().unwrap().len(), reports.len(), "{listed}");
    // What needs the keys asks for the passphrase rather than guessing or writing in clear.
    let verified = without_passphrase(&copy, &["--json", "verify"]);
    assert_eq!(verified.error_code(), "passphrase_required");
    let exported = without_passphrase(
        &copy,
        &[
            "--json",
            "bundle",
            "export",
            "-o",
            stolen.path().join("out.bundle").to_str().unwrap(),
        ],
    );
    assert_eq!(exported.error_code(), "passphrase_required");

    // With the passphrase, the copy reads everything (it is a backup, restored).
    let with = |args: &[&str]| run_on(&copy, Some(&home.passphrase_file), args).ok();
    for (report, text) in reports.iter().zip(TEXTS) {
        let shown = with(&["--json", "report", "show", report]);
        assert_eq!(findings(&shown), *text, "{shown}");
        assert!(shown.get("locked").is_none(), "{shown}");
    }
    assert_eq!(with(&["--json", "verify"])["ok"], true);
}

#[test]
fn keys_an_older_build_stored_in_clear_are_wrapped_on_the_next_unlock() {
    let (home, reports) = home_with_reports();
    let keys: Vec<_> = reports.iter().map(|r| home.data_key(r)).collect();
    // As a build from before wrapping left them: the key bytes in clear, marked so.
    {
        let db = home.db();
        for (report, key) in reports.iter().zip(&keys) {
            db.execute(
                "UPDATE report_keys SET key = ?2, wrapped = 0 WHERE log = ?1",
                rusqlite::params![hex::decode(report).unwrap(), key.as_bytes().as_slice()],
            )
            .unwrap();
        }
    }
    assert!(
        !files_holding(&home.dir, keys[0].as_bytes()).is_empty(),
        "the scan finds a key in clear"
    );
    // Locked, a clear row still reads (it is not protected yet, and nothing is lost).
    let shown = without_passphrase(&home.dir, &["--json", "report", "show", &reports[0]]).ok();
    assert_eq!(findings(&shown), TEXTS[0]);
    // The next unlock wraps every row and leaves no clear byte in the ledger or its WAL.
    let shown = home.ok(&["report", "show", &reports[1]]);
    assert_eq!(findings(&shown), TEXTS[1]);
    for (report, key) in reports.iter().zip(&keys) {
        let row = key_row(&home, report);
        assert_eq!(row.len(), countersign_ledger::WRAPPED_LEN);
        let left = files_holding(&home.dir, key.as_bytes());
        assert!(left.is_empty(), "still in clear in {left:?}");
        assert_eq!(home.data_key(report), *key);
    }
    let wrapped: i64 = home
        .db()
        .query_row(
            "SELECT count(*) FROM report_keys WHERE wrapped = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wrapped, reports.len() as i64);
    assert_eq!(home.ok(&["verify"])["ok"], true);
}

#[test]
fn after_a_key_rotation_every_report_still_reads_and_the_old_key_opens_no_row() {
    let (home, reports) = home_with_reports();
    let old_kek = home.kek();
    let old_key = home.key();
    let rotated = home.ok(&["key", "rotate"]);
    assert_eq!(
        rotated["pending"], false,
        "an admin's rotation applies at once"
    );
    assert_ne!(home.key(), old_key);
    for (report, text) in reports.iter().zip(TEXTS) {
        let shown = home.ok(&["report", "show", report]);
        assert_eq!(findings(&shown), *text, "{shown}");
        let log: countersign_ledger::EntryId = report.parse().unwrap();
        let row = key_row(&home, report);
        assert!(
            old_kek.unwrap(&log, &row).is_err(),
            "still under the old key"
        );
        // Under the new key's (`data_key` makes it from the home's active key).
        home.data_key(report);
    }
    // And it writes: a new report after the rotation, and a section in an old one.
    home.write(&reports[0], "impression", "Written after the rotation.")
        .ok();
    let fresh = home.new_report("1.2.840.99.9", "ct-chest");
    home.write(&fresh, "findings", "A new report, new key.")
        .ok();
    assert_eq!(
        findings(&home.ok(&["report", "show", &fresh])),
        "A new report, new key."
    );
    assert_eq!(home.ok(&["verify"])["ok"], true);
}

#[test]
fn a_bundle_carrying_keys_asks_for_the_passphrase_and_stores_nothing_without_it() {
    let (ada, reports) = home_with_reports();
    let (bea, _) = added(&ada, "Dr Bea", "radiologist");
    bea.join(&ada);
    let bundle = ada.bundle(None);
    let file = bea.dir.with_extension("in.bundle");
    std::fs::write(&file, &bundle).unwrap();
    let refused = without_passphrase(
        &bea.dir,
        &["--json", "bundle", "import", file.to_str().unwrap()],
    );
    assert_eq!(refused.error_code(), "passphrase_required");
    let held: i64 = bea
        .db()
        .query_row("SELECT count(*) FROM report_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(held, 0, "no key stored, in clear or otherwise");
    // With it: taken, wrapped under Bea's own key (not Ada's row), readable.
    let imported = bea.import(&bundle);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    for (report, text) in reports.iter().zip(TEXTS) {
        assert_ne!(key_row(&bea, report), key_row(&ada, report));
        assert_eq!(bea.data_key(report), ada.data_key(report));
        assert!(files_holding(&bea.dir, ada.data_key(report).as_bytes()).is_empty());
        assert_eq!(findings(&bea.ok(&["report", "show", report])), *text);
    }
    // Ada's wrapped row moved into Bea's ledger opens under neither key there: Bea's home
    // reads the report as not readable, and `verify` names the row.
    bea.db()
        .execute(
            "UPDATE report_keys SET key = ?2 WHERE log = ?1",
            rusqlite::params![
                hex::decode(&reports[0]).unwrap(),
                key_row(&ada, &reports[0])
            ],
        )
        .unwrap();
    let shown = bea.ok(&["report", "show", &reports[0]]);
    assert_eq!(shown["unreadable"], true, "{shown}");
    assert!(shown.get("locked").is_none(), "not a lock: {shown}");
    let run = bea.run(&["verify"]);
    assert_eq!(run.code, 1, "verify fails: {}", run.stderr);
    let verified = run.json();
    assert_eq!(verified["ok"], false, "{verified}");
    assert!(
        verified.to_string().contains("data_key_unopened"),
        "{verified}"
    );
}
