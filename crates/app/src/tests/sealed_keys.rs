//! A home's key sealed under a passphrase: never on disk in the clear, refused with the wrong
//! passphrase or none, migrated from a plaintext home, locked and unlocked (issue 14).

use super::every_file;
use super::{founded, test_source};
use crate::Home;

/// Fails if any file under `dir` holds `seed`, as bytes or as hex (either case).
fn assert_no_file_holds(dir: &std::path::Path, seed: &[u8; 32], when: &str) {
    let hex = hex::encode(seed);
    let files = every_file(dir);
    assert!(
        files.iter().any(|f| f.ends_with("ledger.sqlite3-wal")),
        "{when}: the WAL should be among the files scanned: {files:?}"
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == seed),
            "{when}: {} holds the seed",
            f.display()
        );
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        assert!(
            !text.contains(&hex),
            "{when}: {} holds the seed in hex",
            f.display()
        );
    }
}

fn seed_of(home: &mut Home) -> [u8; 32] {
    *home.signer().unwrap().seed().unwrap()
}

fn source_of(p: &str) -> crate::PassphraseSource {
    crate::PassphraseSource::fixed(crate::Passphrase::new(p))
}

#[test]
fn no_file_of_a_home_holds_the_seed_after_init_signing_and_a_passphrase_change() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let seed = seed_of(&mut home);
    assert_no_file_holds(dir.path(), &seed, "after init");
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    home.report_write(report, "findings", "No nodule.").unwrap();
    assert_no_file_holds(dir.path(), &seed, "after signing");
    home.change_passphrase(|| Ok(crate::Passphrase::new("a brand new passphrase")))
        .unwrap();
    assert_no_file_holds(dir.path(), &seed, "after change-passphrase");
}

#[test]
fn the_checker_of_seeds_in_files_finds_a_planted_one() {
    // The scan above can fail: a seed planted in the WAL's directory is found.
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let seed = seed_of(&mut home);
    std::fs::write(dir.path().join("planted"), hex::encode(seed)).unwrap();
    let found = std::panic::catch_unwind(|| assert_no_file_holds(dir.path(), &seed, "planted"));
    assert!(found.is_err());
}

#[test]
fn without_a_passphrase_source_signing_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    drop(home);
    let mut bare = Home::open(dir.path()).unwrap();
    let count = |h: &Home| h.store().db().count_entries().unwrap();
    let before = count(&bare);
    let err = bare.report_write(report, "findings", "x").unwrap_err();
    assert_eq!(err.code(), "passphrase_required");
    assert_eq!(count(&bare), before);
    // Reading needs no key: the sealed report shows, not readable because the home is locked
    // (issue 16); `verify` asks for the passphrase, which opens its data keys.
    let shown = bare.report_show(report).unwrap();
    assert!(shown.unreadable && shown.locked);
    assert_eq!(bare.verify(None).unwrap_err().code(), "passphrase_required");
}

#[test]
fn a_wrong_passphrase_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    let sealed = home.sealed_key_path().unwrap();
    drop(home);
    let key_bytes = std::fs::read(&sealed).unwrap();
    let mut wrong = Home::open_with(dir.path(), source_of("not the passphrase")).unwrap();
    let count = |h: &Home| h.store().db().count_entries().unwrap();
    let before = count(&wrong);
    let err = wrong.report_write(report, "findings", "x").unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    assert_eq!(count(&wrong), before);
    // Reading a sealed report with the wrong passphrase is refused, not shown locked.
    assert_eq!(
        wrong.report_show(report).unwrap_err().code(),
        "wrong_passphrase"
    );
    assert_eq!(std::fs::read(&sealed).unwrap(), key_bytes);
    // The desktop's unlock: the same refusal, and still locked.
    let err = wrong
        .unlock(&crate::Passphrase::new("still not it"))
        .unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    assert!(!wrong.is_unlocked());
}

#[test]
fn after_a_passphrase_change_the_old_one_is_refused_and_the_new_one_opens() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let key = home.whoami().unwrap().key;
    // A wrong current passphrase changes nothing, and the new one is never asked for.
    let mut wrong = Home::open_with(dir.path(), source_of("not the passphrase")).unwrap();
    let err = wrong
        .change_passphrase(|| panic!("asked for a new passphrase before the old was checked"))
        .unwrap_err();
    assert_eq!(err.code(), "wrong_passphrase");
    home.change_passphrase(|| Ok(crate::Passphrase::new("the new passphrase")))
        .unwrap();
    drop(home);
    let mut old = Home::open_with(dir.path(), test_source()).unwrap();
    assert_eq!(old.signer().unwrap_err().code(), "wrong_passphrase");
    let mut new = Home::open_with(dir.path(), source_of("the new passphrase")).unwrap();
    assert_eq!(new.signer().unwrap().public(), key);
    // Too short a new passphrase is refused; the key stays sealed under the last one.
    let err = new
        .change_passphrase(|| Ok(crate::Passphrase::new("short")))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input");
    let mut again = Home::open_with(dir.path(), source_of("the new passphrase")).unwrap();
    assert!(again.signer().is_ok());
}

/// A home as an earlier version left it: its key in plaintext at keys/<hex>.key.
fn plaintext_home(dir: &std::path::Path) -> ([u8; 32], countersign_ledger::PublicKey) {
    let mut home = founded(dir);
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    home.report_write(report, "findings", "Before the upgrade.")
        .unwrap();
    let seed = seed_of(&mut home);
    let key = home.whoami().unwrap().key;
    let sealed = home.sealed_key_path().unwrap();
    drop(home);
    std::fs::remove_file(sealed).unwrap();
    std::fs::write(dir.join("keys").join(format!("{}.key", key.to_hex())), seed).unwrap();
    (seed, key)
}

#[test]
fn a_plaintext_home_is_sealed_on_first_open_with_a_passphrase_and_the_plaintext_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let (seed, key) = plaintext_home(dir.path());
    let mut home = Home::open_with(dir.path(), source_of("chosen at migration")).unwrap();
    assert!(!home.key_unsealed().unwrap());
    assert!(!dir
        .path()
        .join("keys")
        .join(format!("{}.key", key.to_hex()))
        .exists());
    assert_no_file_holds(dir.path(), &seed, "after migration");
    let report = home.report_list().unwrap()[0].report;
    home.report_write(report, "findings", "After the upgrade.")
        .unwrap();
    assert!(home.verify(None).unwrap().ok);
    drop(home);
    let mut again = Home::open_with(dir.path(), source_of("chosen at migration")).unwrap();
    assert_eq!(again.signer().unwrap().public(), key);
}

#[test]
fn a_plaintext_home_without_a_passphrase_opens_for_reading_and_is_sealed_when_one_comes() {
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = plaintext_home(dir.path());
    let none = crate::PassphraseSource::new(|_| {
        Err(crate::AppError::PassphraseRequired("no terminal".into()))
    });
    let mut home = Home::open_with(dir.path(), none).unwrap();
    assert!(home.key_unsealed().unwrap());
    let report = home.report_list().unwrap()[0].report;
    assert!(home.report_show(report).is_ok());
    let err = home.report_write(report, "findings", "x").unwrap_err();
    assert_eq!(err.code(), "passphrase_required");
    assert!(
        home.key_unsealed().unwrap(),
        "nothing sealed without a passphrase"
    );
    // The desktop: unlocking with a passphrase seals the key under it.
    home.unlock(&crate::Passphrase::new("chosen at unlock"))
        .unwrap();
    assert!(!home.key_unsealed().unwrap());
    let mut again = Home::open_with(dir.path(), source_of("chosen at unlock")).unwrap();
    assert_eq!(again.signer().unwrap().public(), key);
}

#[test]
fn a_locked_home_refuses_to_sign_until_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    home.set_passphrase_source(Some(crate::PassphraseSource::new(|_| {
        Err(crate::AppError::Locked)
    })));
    home.lock();
    assert!(!home.is_unlocked());
    assert_eq!(
        home.report_write(report, "findings", "x")
            .unwrap_err()
            .code(),
        "locked"
    );
    home.unlock(&crate::Passphrase::new(crate::DEMO_PASSPHRASE))
        .unwrap();
    assert!(home.report_write(report, "findings", "x").is_ok());
}

/// Issue 16: the desktop's home opens locked. A sealed report shows as not readable because
/// the home is locked (not as an error); unlocking reloads the state kept across calls, so
/// the same home reads it; locking wipes the key-encryption key and the state's data keys.
#[test]
fn a_locked_home_shows_a_sealed_report_locked_and_reads_it_once_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    home.report_write(report, "findings", "Nodule, marker LOCKTEST-7.")
        .unwrap();
    drop(home);
    let mut desk = Home::open_with(dir.path(), crate::PassphraseSource::locked()).unwrap();
    let shown = desk.report_show(report).unwrap();
    assert!(shown.unreadable && shown.locked, "{shown:?}");
    assert!(!format!("{shown:?}").contains("LOCKTEST-7"));
    assert!(!desk.keys_open());
    desk.unlock(&crate::Passphrase::new(crate::DEMO_PASSPHRASE))
        .unwrap();
    assert!(desk.keys_open());
    let shown = desk.report_show(report).unwrap();
    assert!(!shown.unreadable && !shown.locked, "{shown:?}");
    assert!(format!("{shown:?}").contains("LOCKTEST-7"));
    desk.lock();
    assert!(!desk.keys_open());
    let shown = desk.report_show(report).unwrap();
    assert!(shown.unreadable && shown.locked, "{shown:?}");
    assert!(!format!("{shown:?}").contains("LOCKTEST-7"));
}

/// A data key stored by another process after a read checked for one: the read is done again
/// with the key opened from the passphrase source, not failed `locked`. `verify` run beside a
/// serving node that was pulling a sealed report failed so
/// (`sync_trust::a_busy_store_retries_the_pull_instead_of_cutting_the_peer_off`, 2026-12-04).
#[test]
fn a_data_key_stored_by_another_process_after_the_check_is_opened_not_reported_locked() {
    let dir = tempfile::tempdir().unwrap();
    drop(founded(dir.path()));
    // No report yet, so no data key: opening the reader leaves its keys closed.
    let reader = super::open_home(dir.path()).unwrap();
    assert!(reader.data_keys().is_none());
    let mut writer = Some(super::open_home(dir.path()).unwrap());
    let mut reads = 0;
    let report = reader
        .with_keys_open(true, || {
            reads += 1;
            // Between the check and the read, the other process stores a sealed report.
            if let Some(mut w) = writer.take() {
                let r = w.report_new("1.2.3", "ct-chest", &[]).unwrap();
                w.report_write(r, "findings", "No nodule.").unwrap();
            }
            crate::verify::verify_store(&reader.store().db(), None)
        })
        .unwrap();
    assert_eq!(reads, 2, "the first read met the new key closed");
    assert!(reader.data_keys().is_some());
    assert!(report.ok, "{report:?}");
    assert!(report.entries > 0);
}

/// Found by review (2026-12-05): a passphrase change renamed the newly sealed file over the
/// old one, whose bytes (the same key, sealed under the old passphrase) stayed in the
/// filesystem's free blocks for whoever knew that passphrase — the reason it is changed. The
/// replaced file is overwritten where it lies once the new one is in its place. Read here
/// through a handle opened on the old file before the change (the same inode, as a disk's
/// blocks would be). Fails if the replaced file is left as it was.
#[test]
fn a_passphrase_change_overwrites_the_replaced_sealed_file() {
    use std::io::{Read, Seek};
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let path = home.sealed_key_path().unwrap();
    let before = std::fs::read(&path).unwrap();
    let mut old = std::fs::File::open(&path).unwrap();
    home.change_passphrase(|| Ok(crate::Passphrase::new("a new passphrase")))
        .unwrap();

    let mut left = Vec::new();
    old.rewind().unwrap();
    old.read_to_end(&mut left).unwrap();
    assert_eq!(left.len(), before.len(), "overwritten, not shortened");
    assert!(
        left.iter().all(|&b| b == 0),
        "the old sealed bytes are still there"
    );
    // The new sealed file is whole and opens under the new passphrase only.
    let after = std::fs::read(&path).unwrap();
    assert_ne!(after, before);
    drop(home);
    let mut reopened = Home::open(dir.path()).unwrap();
    let wrong = reopened
        .unlock(&crate::Passphrase::new(crate::DEMO_PASSPHRASE))
        .unwrap_err();
    assert_eq!(wrong.code(), "wrong_passphrase", "{wrong}");
    reopened
        .unlock(&crate::Passphrase::new("a new passphrase"))
        .unwrap();
}

/// A sealed key file the owner also linked elsewhere (a backup by `cp -al` or `ln`) is theirs:
/// a passphrase change replaces the home's name for it and leaves the linked copy whole.
/// Fails if the replaced file is zeroed while another name still points to it.
#[test]
fn a_passphrase_change_leaves_a_hard_linked_copy_of_the_old_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let path = home.sealed_key_path().unwrap();
    let before = std::fs::read(&path).unwrap();
    let backup = dir.path().join("backup.sealed");
    std::fs::hard_link(&path, &backup).unwrap();
    home.change_passphrase(|| Ok(crate::Passphrase::new("a new passphrase")))
        .unwrap();
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        before,
        "the linked copy was zeroed"
    );
    assert_ne!(std::fs::read(&path).unwrap(), before);
}
