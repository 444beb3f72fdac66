//! Another process on the same home commits meanwhile (a serving node storing a peer's
//! entries): `verify` judges one state, the store as of its first read, never half a commit;
//! a write that found no data key does not go on locked when the first one arrives.

use super::{founded, open_home};

/// `make test` failed once in
/// `sync_trust::a_busy_store_retries_the_pull_instead_of_cutting_the_peer_off`: `verify` on a
/// home whose node was storing a peer's entries exited 1 (a problem found), the store being
/// read statement by statement across the node's commits.
#[test]
fn verify_judges_the_store_as_of_its_first_read_while_another_process_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut writer = founded(dir.path());
    let first = writer.report_new("1.2.3", "ct-chest", &[]).unwrap();
    writer
        .report_write(first, "findings", "No nodule.")
        .unwrap();
    let reader = open_home(dir.path()).unwrap();
    let before = reader.verify(None).unwrap();
    assert!(before.ok, "{before:?}");
    let during = reader
        .store()
        .read(|db| -> crate::Result<_> {
            // The read's snapshot is taken at its first read...
            db.meta("network")?;
            // ...and the other process commits a report and a section after it.
            let second = writer.report_new("1.2.4", "ct-chest", &[]).unwrap();
            writer
                .report_write(second, "findings", "A nodule.")
                .unwrap();
            crate::verify::verify_store(db, None)
        })
        .unwrap();
    assert!(during.ok, "{during:?}");
    assert_eq!(during.entries, before.entries, "the commit was not seen");
    let after = reader.verify(None).unwrap();
    assert!(after.ok, "{after:?}");
    assert!(after.entries > before.entries, "a later verify sees it");
}

/// A write that found no data key in the home, then met the first one stored by another
/// process (a serving node pulling a sealed report) before it took the write lock: it ends
/// without writing, so that the key is opened and the reports it reaches are projected
/// readable, not locked without what only their payloads say (found by review, 2026-12-04,
/// beside the same window in `reindex`). Fails if the check under the lock is removed.
#[test]
fn a_write_that_found_no_data_key_stops_when_one_arrived_before_its_lock() {
    let dir = tempfile::tempdir().unwrap();
    drop(founded(dir.path()));
    let mut reader = open_home(dir.path()).unwrap();
    assert!(!reader.keys_open(), "no data key yet, so none is opened");
    let mut writer = open_home(dir.path()).unwrap();
    let report = writer.report_new("1.2.3.78", "ct-chest", &[]).unwrap();
    writer
        .report_write(report, "findings", "No nodule.")
        .unwrap();
    let mut ran = false;
    let attempt = reader
        .write_with_state_once(
            |_, _| {
                ran = true;
                Ok(())
            },
            true,
        )
        .unwrap();
    assert!(
        attempt.is_err(),
        "the write went on with the new key closed"
    );
    assert!(!ran);
    // The whole write opens the key and runs once.
    let mut runs = 0;
    reader
        .write_with_state(|_, _| {
            runs += 1;
            Ok(())
        })
        .unwrap();
    assert_eq!(runs, 1);
    assert!(reader.keys_open());
}
