//! `verify` run while another process on the same home commits (a serving node storing a
//! peer's entries): it judges one state, the store as of its first read, never half a commit.

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
