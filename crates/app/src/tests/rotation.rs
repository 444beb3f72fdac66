//! Key rotation seen from the member's home: a rotation that reached it while its key was
//! locked is adopted at the next unlock.

use countersign_ledger::Role;

use super::{founded, open_home};
use crate::{Home, Passphrase, DEMO_PASSPHRASE};

/// Found by review (2026-12-04): a home that took in its own rotation while its key was locked
/// (a bundle imported, or a peer's batch stored, by a process that could not ask for the
/// passphrase) stayed on the old key — the data keys move only with the key open, and the log
/// said it would be adopted "once the key is unlocked", but only the CLI's next command did
/// so: the desktop, unlocking, went on signing with a key the department no longer takes
/// entries from. Fails if `unlock` stops adopting.
#[test]
fn a_rotation_taken_in_while_the_key_was_locked_is_adopted_at_the_next_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let mut ada = founded(&dir.path().join("ada"));
    let network = ada.whoami().unwrap().network.unwrap();
    let bob_dir = dir.path().join("bob");
    std::fs::create_dir_all(&bob_dir).unwrap();
    let mut bob = open_home(&bob_dir).unwrap();
    let old = bob.init("Dr Bob", Role::Attending, None, None).unwrap().key;
    ada.roster_add(old, "Dr Bob", Role::Attending, false, None)
        .unwrap();
    bob.trust(crate::Anchor::Network {
        network,
        founder: None,
    })
    .unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    // A sealed report: its data key is wrapped under the old key's.
    let report = bob.report_new("1.2.3.9", "ct-chest", &[]).unwrap();
    bob.report_write(report, "findings", "Before the rotation.")
        .unwrap();
    // The admin holds the report, so her rotation names its old key's frontier in it.
    ada.bundle_import(&bob.bundle_export_with(None, true).unwrap())
        .unwrap();
    let asked = bob.key_rotate().unwrap();
    assert!(asked.pending);
    drop(bob);
    ada.roster_rotate(&asked.request).unwrap();
    // Taken in by a handle that cannot ask for the passphrase: the rotation stands, but the
    // home stays on the old key.
    let mut locked = Home::open(&bob_dir).unwrap();
    locked
        .bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert_eq!(
        locked.whoami().unwrap().key,
        old,
        "not adopted while locked"
    );
    let who = locked.unlock(&Passphrase::new(DEMO_PASSPHRASE)).unwrap();
    assert_eq!(who.key, asked.new, "adopted at unlock");
    // Signing with the new key, the report's data key moved with it.
    locked
        .report_write(report, "impression", "After the rotation.")
        .unwrap();
    let fresh = open_home(&bob_dir).unwrap();
    assert_eq!(fresh.whoami().unwrap().key, asked.new);
}
