//! Key rotation seen from the member's home: a rotation that reached it while its key was
//! locked is adopted at the next unlock, and one half adopted before a crash is finished.

use countersign_ledger::Role;

use super::{founded, open_home};
use crate::{Home, Passphrase, DEMO_PASSPHRASE};

/// Bob, a member of Ada's department with a sealed report the admin holds too, asked for a
/// rotation and Ada applied it; Bob's home has not taken the rotation in yet. Returns Ada's
/// home, Bob's folder, his old key, the rotation asked and the report.
pub(crate) fn a_rotation_applied_elsewhere(
    dir: &std::path::Path,
) -> (
    Home,
    std::path::PathBuf,
    countersign_ledger::PublicKey,
    crate::KeyRotation,
    countersign_ledger::EntryId,
) {
    let (ada, bob_dir, old, asked, report) = rotation_applied(dir, true);
    (ada, bob_dir, old, asked, report.unwrap())
}

/// Ada's department (her home in `dir/ada`) and Bob, an attending she admitted, whose home in
/// `dir/bob` holds her roster. Returns Ada's home, Bob's folder and Bob's home.
pub(crate) fn a_member(dir: &std::path::Path) -> (Home, std::path::PathBuf, Home) {
    let mut ada = founded(&dir.join("ada"));
    let network = ada.whoami().unwrap().network.unwrap();
    let bob_dir = dir.join("bob");
    std::fs::create_dir_all(&bob_dir).unwrap();
    let mut bob = open_home(&bob_dir).unwrap();
    let key = bob.init("Dr Bob", Role::Attending, None, None).unwrap().key;
    ada.roster_add(key, "Dr Bob", Role::Attending, false, None)
        .unwrap();
    bob.trust(crate::Anchor::Network {
        network,
        founder: None,
    })
    .unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    (ada, bob_dir, bob)
}

/// [`a_rotation_applied_elsewhere`], with a report or (Bob holding no data key) without.
pub(crate) fn rotation_applied(
    dir: &std::path::Path,
    with_report: bool,
) -> (
    Home,
    std::path::PathBuf,
    countersign_ledger::PublicKey,
    crate::KeyRotation,
    Option<countersign_ledger::EntryId>,
) {
    let (mut ada, bob_dir, mut bob) = a_member(dir);
    let old = bob.whoami().unwrap().key;
    let mut report = None;
    if with_report {
        // A sealed report: its data key is wrapped under the old key's.
        let id = bob.report_new("1.2.3.9", "ct-chest", &[]).unwrap();
        bob.report_write(id, "findings", "Before the rotation.")
            .unwrap();
        // The admin holds the report, so her rotation names its old key's frontier in it.
        ada.bundle_import(&bob.bundle_export_with(None, true).unwrap())
            .unwrap();
        report = Some(id);
    }
    let asked = bob.key_rotate().unwrap();
    assert!(asked.pending);
    drop(bob);
    ada.roster_rotate(&asked.request).unwrap();
    (ada, bob_dir, old, asked, report)
}

/// Found by review (2026-12-04): a home that took in its own rotation while its key was locked
/// (a bundle imported, or a peer's batch stored, by a process that could not ask for the
/// passphrase) stayed on the old key — the data keys move only with the key open, and the log
/// said it would be adopted "once the key is unlocked", but only the CLI's next command did
/// so: the desktop, unlocking, went on signing with a key the department no longer takes
/// entries from. Fails if `unlock` stops adopting.
#[test]
fn a_rotation_taken_in_while_the_key_was_locked_is_adopted_at_the_next_unlock() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, report) = a_rotation_applied_elsewhere(dir.path());
    // Taken in by a handle that cannot ask for the passphrase: the rotation stands, but the
    // home stays on the old key.
    let mut locked = taken_in_locked(&ada, &bob_dir);
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

/// A process that switched the profile to the new key and stopped before it deleted the old
/// key and its request (a crash): the next adoption finishes it — the old key, which could
/// only void the member's honest entries as a fork from now on, is deleted, and the request
/// forgotten — and changes nothing else. Fails if that branch stops deleting the old key.
#[test]
fn a_rotation_half_adopted_before_a_crash_is_finished_and_the_old_key_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, report) = a_rotation_applied_elsewhere(dir.path());
    let mut bob = open_home(&bob_dir).unwrap();
    let old_file = bob.keys().sealed_path(&old);
    let sealed_old = std::fs::read(&old_file).unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert_eq!(bob.whoami().unwrap().key, asked.new);
    assert!(!old_file.exists());
    // The crash: the profile and the data keys on the new key, the old key and the request
    // still there.
    std::fs::write(&old_file, &sealed_old).unwrap();
    bob.store_mut()
        .write(|db| db.set_meta("rotation.pending", &asked.request))
        .unwrap();
    drop(bob);
    let mut bob = open_home(&bob_dir).unwrap();
    let request = |bob: &Home| bob.store().db().meta("rotation.pending").unwrap();
    assert!(request(&bob).is_some());
    assert_eq!(bob.adopt_rotation().unwrap(), None, "switched already");
    assert!(!old_file.exists(), "the old key was left in the store");
    assert_eq!(request(&bob), None, "the request was left");
    assert_eq!(bob.whoami().unwrap().key, asked.new);
    bob.report_write(report, "impression", "After the crash.")
        .unwrap();
}

/// Found by review (2026-12-04): a passphrase changed while a rotation waited for an admin
/// resealed the current key only, so the new key, still under the old passphrase, never
/// opened with the one the home unlocks with, and the rotation could never be adopted (every
/// CLI command failed `wrong_passphrase`). Fails if the change stops resealing the pending key.
#[test]
fn a_passphrase_changed_while_a_rotation_was_pending_reseals_the_new_key_too() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, report) = a_rotation_applied_elsewhere(dir.path());
    let changed = Passphrase::new("Bob's new passphrase, long enough");
    let mut bob = open_home(&bob_dir).unwrap();
    bob.change_passphrase(|| Ok(changed.clone())).unwrap();
    drop(bob);
    let mut locked = taken_in_locked(&ada, &bob_dir);
    assert_eq!(locked.whoami().unwrap().key, old);
    let who = locked.unlock(&changed).unwrap();
    assert_eq!(who.key, asked.new, "adopted with the changed passphrase");
    locked
        .report_write(report, "impression", "After the rotation.")
        .unwrap();
}

/// Found by review (2026-12-04): a home holding no data key switched to the new key without
/// opening it, deleting the old one, so a new key that did not open (a sealed file lost, a
/// token's pair gone) stranded the home. Now nothing changes until the new key opens. Fails if
/// the no-key path switches before opening.
#[test]
fn a_rotation_whose_new_key_does_not_open_leaves_the_home_on_its_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, _) = rotation_applied(dir.path(), false);
    let mut bob = open_home(&bob_dir).unwrap();
    std::fs::remove_file(bob.keys().sealed_path(&asked.new)).unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert!(bob.adopt_rotation().is_err(), "the new key is missing");
    assert_eq!(bob.whoami().unwrap().key, old, "still on the old key");
    assert!(bob.keys().sealed_path(&old).exists(), "the old key kept");
    assert!(bob.store().db().meta("rotation.pending").unwrap().is_some());
}

/// Found by review (2026-12-04): a passphrase change that resealed the rotation's new key and
/// then failed on the current one (a full disk) could never be tried again: the new key no
/// longer opened with the current passphrase. A second try finds it under the new one.
#[test]
fn a_passphrase_change_that_stopped_halfway_can_be_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, _, asked, _) = a_rotation_applied_elsewhere(dir.path());
    let changed = Passphrase::new("Bob's new passphrase, long enough");
    let bob = open_home(&bob_dir).unwrap();
    // The first try resealed the new key, then stopped.
    let new_key = bob
        .keys()
        .load(&asked.new, &Passphrase::new(DEMO_PASSPHRASE))
        .unwrap();
    bob.keys().save(&new_key, &changed).unwrap();
    let mut bob = bob;
    bob.change_passphrase(|| Ok(changed.clone())).unwrap();
    drop(bob);
    let mut locked = taken_in_locked(&ada, &bob_dir);
    assert_eq!(locked.unlock(&changed).unwrap().key, asked.new);
}

/// Found by review (2026-12-04): a passphrase change asked for its new passphrase while
/// another program adopted the rotation and deleted the old key; saving the old key under the
/// new passphrase then brought it back (a key that can only void the member's honest entries
/// as a fork). The change now finds the key changed and changes nothing. Fails if it stops
/// looking again after asking.
#[test]
fn a_passphrase_change_racing_an_adoption_does_not_bring_the_old_key_back() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, _) = a_rotation_applied_elsewhere(dir.path());
    // Bob's home holds the rotation, not adopted yet (taken in with no passphrase at hand).
    drop(taken_in_locked(&ada, &bob_dir));
    let mut bob = open_home(&bob_dir).unwrap();
    let old_file = bob.keys().sealed_path(&old);
    let err = bob
        .change_passphrase(|| {
            // While the user types: a node (or a command) adopts the rotation.
            let mut other = open_home(&bob_dir).unwrap();
            assert_eq!(other.adopt_rotation().unwrap(), Some(asked.new));
            Ok(Passphrase::new("Bob's new passphrase, long enough"))
        })
        .unwrap_err();
    assert!(err.to_string().contains("nothing was changed"), "{err}");
    assert!(!old_file.exists(), "the old key was brought back");
    let fresh = open_home(&bob_dir).unwrap();
    assert_eq!(fresh.whoami().unwrap().key, asked.new);
}

/// Found by review (2026-12-05): the change looked at the key again after asking, but nothing
/// held another program off between that look and its two saves (each an Argon2id seal): an
/// adoption there deleted the old key, and the save wrote it back under the new passphrase for
/// good. Now the adoption waits for the change, then finds the new key under the new
/// passphrase. Fails if the change stops holding the key lock.
#[test]
fn an_adoption_between_a_passphrase_changes_look_and_its_saves_waits_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, report) = a_rotation_applied_elsewhere(dir.path());
    drop(taken_in_locked(&ada, &bob_dir));
    let changed = Passphrase::new("Bob's new passphrase, long enough");
    let mut bob = open_home(&bob_dir).unwrap();
    let old_file = bob.keys().sealed_path(&old);
    let adopter = std::rc::Rc::new(std::cell::RefCell::new(None));
    let (slot, other) = (adopter.clone(), bob_dir.clone());
    crate::keys::lock::on("passphrase.resealing", move || {
        // Between the look and the saves: a node (or a command) adopts the rotation.
        *slot.borrow_mut() = Some(run_elsewhere(&other, |home| home.adopt_rotation()));
    });
    bob.change_passphrase(|| Ok(changed.clone())).unwrap();
    let adopted = adopter.borrow_mut().take().unwrap().join().unwrap();
    let now = open_home(&bob_dir).unwrap().whoami().unwrap().key;
    assert!(
        now == old || !old_file.exists(),
        "the old key is back beside the new one"
    );
    assert_eq!(
        adopted.map_err(|e| e.code()),
        Err("wrong_passphrase"),
        "the adoption ran inside the change instead of after it"
    );
    assert_eq!(now, old);
    // Adopted with the new passphrase: the old key goes, and stays gone.
    let mut later = Home::open_with(&bob_dir, crate::PassphraseSource::fixed(changed)).unwrap();
    assert_eq!(later.adopt_rotation().unwrap(), Some(asked.new));
    assert!(!old_file.exists(), "the old key is back");
    later
        .report_write(report, "impression", "After the rotation.")
        .unwrap();
}

/// Found by review (2026-12-05): an adoption read the pending request once, then opened
/// whatever request was pending later and deleted it blindly. Adopting R1 (old to N1) while
/// another handle finished adopting R1 and `key rotate` asked for R2 (N1 to N2), it deleted R2,
/// or wrapped the data keys under N2 and switched the profile to N1 (every sealed report
/// unreadable). Now those wait for the adoption, under the key lock. Fails if the adoption
/// stops holding the lock and stops adopting only the request it read.
#[test]
fn a_rotation_asked_for_while_the_last_one_is_adopted_is_kept_and_adopted_next() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ada, bob_dir, _, asked, report) = a_rotation_applied_elsewhere(dir.path());
    drop(taken_in_locked(&ada, &bob_dir));
    let mut bob = open_home(&bob_dir).unwrap();
    let others = std::rc::Rc::new(std::cell::RefCell::new(None));
    let (slot, other) = (others.clone(), bob_dir.clone());
    crate::keys::lock::on("adoption.opening", move || {
        // Bob's adoption has read R1: another handle adopts R1, then asks for R2.
        *slot.borrow_mut() = Some(run_elsewhere(&other, |home| {
            home.adopt_rotation()?;
            home.key_rotate()
        }));
    });
    assert_eq!(bob.adopt_rotation().unwrap(), Some(asked.new));
    let next = others.borrow_mut().take().unwrap().join().unwrap().unwrap();
    assert_eq!((next.old, next.pending), (asked.new, true));
    drop(bob);
    let mut bob = open_home(&bob_dir).unwrap();
    assert_eq!(bob.whoami().unwrap().key, asked.new);
    assert_eq!(
        bob.store().db().meta("rotation.pending").unwrap(),
        Some(next.request.clone()),
        "the next rotation's request was deleted"
    );
    bob.report_write(report, "impression", "Between the rotations.")
        .unwrap();
    // The admin applies R2 and Bob's home adopts it: the data keys follow.
    ada.bundle_import(&bob.bundle_export_with(None, false).unwrap())
        .unwrap();
    ada.roster_rotate(&next.request).unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert_eq!(bob.whoami().unwrap().key, next.new);
    bob.report_write(report, "impression", "After both rotations.")
        .unwrap();
}

/// The checks behind the key lock, for a program on the home that does not take it (a build
/// from before it): an adoption adopts the request it read, whatever is pending by the time
/// it opens the new key, and forgets only that request. Fails if the adoption opens the key
/// of the request pending then, or deletes the pending request whatever it holds.
#[test]
fn an_adoption_opens_the_key_of_the_request_it_read_and_forgets_only_that_one() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, _, asked, report) = a_rotation_applied_elsewhere(dir.path());
    drop(taken_in_locked(&ada, &bob_dir));
    let mut bob = open_home(&bob_dir).unwrap();
    let network = bob.whoami().unwrap().network.unwrap();
    let n1 = bob
        .keys()
        .load(&asked.new, &Passphrase::new(DEMO_PASSPHRASE))
        .unwrap();
    let n2 = countersign_ledger::SecretKey::generate(&mut rand_core::OsRng);
    let next = countersign_ledger::rotation::RotationRequest::sign(network, &n1, &n2).to_text();
    let (other, written) = (bob_dir.clone(), next.clone());
    crate::keys::lock::on("adoption.opening", move || {
        // R2 written over R1 without the lock (its new key not in the store).
        Home::open(&other)
            .unwrap()
            .store_mut()
            .write(|db| db.set_meta("rotation.pending", &written))
            .unwrap();
    });
    assert_eq!(bob.adopt_rotation().unwrap(), Some(asked.new));
    let mut bob = open_home(&bob_dir).unwrap();
    assert_eq!(bob.whoami().unwrap().key, asked.new);
    assert_eq!(
        bob.store().db().meta("rotation.pending").unwrap(),
        Some(next)
    );
    bob.report_write(report, "impression", "After the rotation.")
        .unwrap();
}

/// Found by review (2026-12-05): `key move` while a rotation waited for an admin moved the
/// current key only; the new key stayed in the old store, where adopting the rotation no
/// longer looked (`key_missing` at every try, for good). Refused now, and nothing moved: the
/// rotation is adopted as it would have been. Fails if `key move` stops refusing.
#[test]
fn a_key_move_while_its_rotation_waits_is_refused_and_the_rotation_stays_adoptable() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, report) = a_rotation_applied_elsewhere(dir.path());
    let mut bob = open_home(&bob_dir).unwrap();
    let refused = bob
        .key_move(crate::keys::KeyStoreKind::Keychain, || unreachable!())
        .unwrap_err();
    assert_eq!(refused.code(), "rotation_pending", "{refused}");
    assert!(
        refused.to_string().contains(&asked.new.to_hex()),
        "{refused}"
    );
    assert_eq!(
        bob.whoami().unwrap().key_store,
        crate::keys::KeyStoreKind::Sealed
    );
    assert!(bob.keys().sealed_path(&old).exists());
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert_eq!(bob.whoami().unwrap().key, asked.new);
    bob.report_write(report, "impression", "After the rotation.")
        .unwrap();
}

/// Runs `op` on another handle of the home in `dir`, in a thread, as another program would;
/// returns once it is done or waits for the key lock (no sleeps: the lock says when it waits).
fn run_elsewhere<T: Send + 'static>(
    dir: &std::path::Path,
    op: impl FnOnce(&mut Home) -> crate::Result<T> + Send + 'static,
) -> std::thread::JoinHandle<crate::Result<T>> {
    let (said, heard) = std::sync::mpsc::channel();
    let dir = dir.to_path_buf();
    let thread = std::thread::spawn(move || {
        let waiting = said.clone();
        crate::keys::lock::on("key_lock.waiting", move || {
            let _ = waiting.send(());
        });
        let out = open_home(&dir).and_then(|mut home| op(&mut home));
        let _ = said.send(());
        out
    });
    heard.recv().unwrap();
    thread
}

/// Bob's home taking in everything Ada holds (the rotation among it) through a handle that
/// cannot ask for the passphrase: the rotation stands there, not adopted (its new key does
/// not open without the passphrase).
pub(crate) fn taken_in_locked(ada: &Home, bob_dir: &std::path::Path) -> Home {
    let mut locked = Home::open(bob_dir).unwrap();
    locked
        .bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    locked
}

/// Found by review (2026-12-05): an adoption that found, once it held the key lock, a
/// rotation to open with a passphrase it had not asked for before the lock (the state changed
/// by another program while it waited) asked for it then, every other key operation on the
/// home waiting while the user typed. Holding the lock, adoption asks for nothing: it leaves
/// the rotation to the next command or unlock. Fails if it asks.
#[test]
fn an_adoption_holding_the_key_lock_asks_for_no_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, _, _) = a_rotation_applied_elsewhere(dir.path());
    let mut bob = taken_in_locked(&ada, &bob_dir);
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let said = asked.clone();
    bob.passphrase = Some(crate::PassphraseSource::new(move |_| {
        said.store(true, std::sync::atomic::Ordering::SeqCst);
        Err(crate::AppError::PassphraseRequired(
            "asked with the key lock held".into(),
        ))
    }));
    let _held = bob.keys().lock_keys().unwrap();
    assert_eq!(bob.adopt_holding_lock(None).unwrap(), None);
    assert!(
        !asked.load(std::sync::atomic::Ordering::SeqCst),
        "a passphrase was asked for with the key lock held"
    );
    assert_eq!(bob.keys().profile().unwrap().unwrap().key, old);
}
