//! Report data keys at rest and their erasure: stored only wrapped under the member's
//! key-encryption key, older clear rows wrapped on unlock and every row re-wrapped on
//! rotation, and an erasure leaving no copy of the key nor a payload only erased logs shared.

use countersign_ledger::{Hash, SecretKey};

use super::{entry, payload_stored};
use crate::{Store, StoreError};

/// Whether any file of the store's directory (the database, its WAL) holds `needle`.
fn on_disk(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|f| {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle)
    })
}

/// Found (review of issue 16, M3): a member who held report R1's key could ship it as the key
/// of a report R2 of their own whose create copied R1's bytes. Erasing R1 deleted only R1's
/// key row, so the key lived on as R2's, and the payload row R1 shared with R2 was kept even
/// once both were erased. Now one key serves one log (a unique index on its hash), an erasure
/// deletes every row holding the key's bytes, and each entry's payload is its own (migration
/// 20): R1's goes with R1, R2's copy stays until R2 is erased.
#[test]
fn an_erasure_leaves_no_copy_of_the_key_and_no_payload_shared_only_with_erased_logs() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let (a, b) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    // Two creates with the same payload bytes: a payload row each.
    let (r1, p1) = entry(&a, Hash::ZERO, 1, vec![], "same");
    let (r2, p2) = entry(&b, Hash::ZERO, 1, vec![], "same");
    let (r3, p3) = entry(&b, Hash::ZERO, 2, vec![], "other");
    assert_eq!(p1, p2);
    let key = countersign_ledger::DataKey::from_bytes([0x5c; 32]);
    let other_key = countersign_ledger::DataKey::from_bytes([0x3a; 32]);
    store.set_kek(Some(kek(7)));
    store
        .write(|db| {
            db.insert_entry(&r1, Some(&p1))?;
            db.insert_entry(&r2, Some(&p2))?;
            db.insert_entry(&r3, Some(&p3))?;
            assert!(db.put_report_key(&r1.id(), &key)?);
            assert!(db.put_report_key(&r3.id(), &other_key)?);
            // The same key for a second log is refused by the index; the caller asks first.
            assert!(db.put_report_key(&r2.id(), &key).is_err());
            assert_eq!(db.report_key_holder(&key)?, Some(r1.id()));
            // A row written before the index (its hash NULL) holding the same key bytes.
            db.conn
                .execute(
                    "INSERT INTO report_keys (log, key) VALUES (?1, ?2)",
                    rusqlite::params![r2.id().as_bytes(), key.as_bytes().as_slice()],
                )
                .unwrap();
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert!(
        on_disk(dir.path(), key.as_bytes()),
        "the scan can find the key"
    );
    let wrapped_r1 = raw_key_row(&store, &r1.id());
    assert!(
        on_disk(dir.path(), &wrapped_r1),
        "the scan can find the wrapped row"
    );
    let erased = store
        .write(|db| db.erase_log(&r1.id(), &[1; 32], 1))
        .unwrap();
    assert_eq!(erased.shared_keys, vec![r2.id()]);
    // As the app does after an erasure commits: no older page version stays in the WAL.
    assert!(store.truncate_wal().unwrap());
    let db = store.db();
    assert_eq!(db.report_key(&r2.id()).unwrap(), None);
    assert!(
        db.report_key(&r3.id()).unwrap().is_some(),
        "another key stays"
    );
    assert!(
        !on_disk(dir.path(), key.as_bytes()),
        "no byte of the key is left"
    );
    assert!(
        !on_disk(dir.path(), &wrapped_r1),
        "no byte of the wrapped row is left"
    );
    // R1's payload went with it; R2's copy of the same bytes stays, until R2 is erased too.
    assert_eq!(db.get(&r1.id()).unwrap().unwrap().payload, None);
    assert_eq!(db.get(&r2.id()).unwrap().unwrap().payload, Some(p2.clone()));
    assert_eq!(erased.payloads, 1);
    store
        .write(|db| db.erase_log(&r2.id(), &[2; 32], 2))
        .unwrap();
    assert_eq!(store.db().get(&r2.id()).unwrap().unwrap().payload, None);
    assert!(!payload_stored(&store, &r1.header().payload_hash));
}

/// A key-encryption key as a home derives it, from the member key of seed `[seed; 32]`.
fn kek(seed: u8) -> std::sync::Arc<countersign_ledger::Kek> {
    use countersign_ledger::Signer;
    let member = SecretKey::from_seed(&[seed; 32]);
    let message = countersign_ledger::kek_message(&member.public());
    let signature = member.try_sign(&message).unwrap();
    std::sync::Arc::new(
        countersign_ledger::Kek::from_signature(&member.public(), &signature).unwrap(),
    )
}

/// The bytes stored in `log`'s key row, as they are on disk.
fn raw_key_row(store: &Store, log: &Hash) -> Vec<u8> {
    store
        .db()
        .conn
        .query_row(
            "SELECT key FROM report_keys WHERE log = ?1",
            [log.as_bytes()],
            |r| r.get(0),
        )
        .unwrap()
}

/// Issue 16, keys at rest: a data key is stored only wrapped under the installed
/// key-encryption key, reads back only under it, and never lands on disk in clear.
#[test]
fn data_keys_are_stored_wrapped_and_read_only_under_the_members_kek() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let key = countersign_ledger::DataKey::from_bytes(std::array::from_fn(|i| 0x90 + i as u8));
    let (r1, r2) = (Hash::of(b"r1"), Hash::of(b"r2"));
    // Locked: refused, never stored in clear.
    let locked = store.write(|db| db.put_report_key(&r1, &key));
    assert!(matches!(locked, Err(StoreError::KeysLocked)), "{locked:?}");
    store.set_kek(Some(kek(1)));
    assert!(store.write(|db| db.put_report_key(&r1, &key)).unwrap());
    assert_eq!(store.db().report_key(&r1).unwrap(), Some(key.clone()));
    assert_eq!(store.db().report_key_counts().unwrap(), (1, 0));
    assert!(store.truncate_wal().unwrap());
    assert!(
        !on_disk(dir.path(), key.as_bytes()),
        "the key is on disk in clear"
    );
    assert!(!on_disk(dir.path(), &key.as_bytes()[..8]));
    let wrapped = raw_key_row(&store, &r1);
    assert_eq!(wrapped.len(), countersign_ledger::WRAPPED_LEN);
    assert!(
        on_disk(dir.path(), &wrapped),
        "the scan can find what is stored"
    );
    // Locked again: the row is there, it does not open.
    store.set_kek(None);
    assert!(matches!(
        store.db().report_key(&r1),
        Err(StoreError::KeysLocked)
    ));
    assert!(store.db().holds_report_key(&r1).unwrap());
    assert!(!store.db().holds_report_key(&r2).unwrap());
    // Another member's key-encryption key: a loud error, not a wrong key.
    store.set_kek(Some(kek(2)));
    assert!(matches!(
        store.db().report_key(&r1),
        Err(StoreError::KeyUnwrap { .. })
    ));
    // The row moved to another report's log: it does not open there.
    store.set_kek(Some(kek(1)));
    store
        .db()
        .conn
        .execute(
            "INSERT INTO report_keys (log, key, key_sha256, wrapped) VALUES (?1, ?2, NULL, 1)",
            rusqlite::params![r2.as_bytes(), wrapped],
        )
        .unwrap();
    assert!(matches!(
        store.db().report_key(&r2),
        Err(StoreError::KeyUnwrap { .. })
    ));
    // Erasure needs no key-encryption key.
    store.set_kek(None);
    store.write(|db| db.delete_report_key(&r1)).unwrap();
    assert!(!store.db().holds_report_key(&r1).unwrap());
}

/// Rows an older build stored in clear read as they are until the key is unlocked, then are
/// wrapped in place (and gone from the files once the WAL is truncated); a rotation re-wraps
/// every row under the new key-encryption key.
#[test]
fn clear_rows_are_wrapped_on_unlock_and_rows_rewrapped_on_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let old = countersign_ledger::DataKey::from_bytes(std::array::from_fn(|i| 0x20 + i as u8));
    let (r1, r2) = (Hash::of(b"old"), Hash::of(b"new"));
    // As a build before migration 17 wrote it.
    store
        .db()
        .conn
        .execute(
            "INSERT INTO report_keys (log, key) VALUES (?1, ?2)",
            rusqlite::params![r1.as_bytes(), old.as_bytes().as_slice()],
        )
        .unwrap();
    assert_eq!(store.db().report_key_counts().unwrap(), (1, 1));
    assert_eq!(store.db().report_key(&r1).unwrap(), Some(old.clone()));
    assert!(on_disk(dir.path(), old.as_bytes()), "the scan can find it");
    store.set_kek(Some(kek(3)));
    assert_eq!(store.write(|db| db.wrap_clear_report_keys()).unwrap(), 1);
    assert!(store.truncate_wal().unwrap());
    assert!(
        !on_disk(dir.path(), old.as_bytes()),
        "still in clear after wrapping"
    );
    assert_eq!(store.db().report_key_counts().unwrap(), (1, 0));
    assert_eq!(store.db().report_key(&r1).unwrap(), Some(old.clone()));
    // Its hash was filled in: the holder is found without unwrapping.
    assert_eq!(store.db().report_key_holder(&old).unwrap(), Some(r1));
    let new = countersign_ledger::DataKey::from_bytes([0x77; 32]);
    assert!(store.write(|db| db.put_report_key(&r2, &new)).unwrap());
    // Rotation: every row under the new key-encryption key, none under the old.
    assert_eq!(store.write(|db| db.rewrap_report_keys(&kek(4))).unwrap(), 2);
    assert!(matches!(
        store.db().report_key(&r1),
        Err(StoreError::KeyUnwrap { .. })
    ));
    store.set_kek(Some(kek(4)));
    assert_eq!(store.db().report_key(&r1).unwrap(), Some(old));
    assert_eq!(store.db().report_key(&r2).unwrap(), Some(new));
}

/// A process still holding the key-encryption key from before another process re-wrapped the
/// keys for a rotation: it wraps no key under it (that key is deleted with the rotation), and
/// the rotation run again after a crash before its switch is not refused.
#[test]
fn a_key_encryption_key_from_before_a_rotation_wraps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let mut store = Store::open(&path).unwrap();
    let (r1, r2) = (Hash::of(b"first"), Hash::of(b"later"));
    let key = countersign_ledger::DataKey::from_bytes([0x31; 32]);
    store.set_kek(Some(kek(3)));
    assert!(store.write(|db| db.put_report_key(&r1, &key)).unwrap());
    // Another process on the home rotates: every row under kek(4), recorded in the same write.
    let mut other = Store::open(&path).unwrap();
    other.set_kek(Some(kek(3)));
    assert_eq!(other.write(|db| db.rewrap_report_keys(&kek(4))).unwrap(), 1);
    // Run again (a crash before the switch): allowed, nothing left to move.
    assert_eq!(other.write(|db| db.rewrap_report_keys(&kek(4))).unwrap(), 0);

    let later = countersign_ledger::DataKey::from_bytes([0x32; 32]);
    assert!(matches!(
        store.write(|db| db.put_report_key(&r2, &later)),
        Err(StoreError::KeysRotated)
    ));
    assert_eq!(
        store.db().kek_member().unwrap(),
        Some(kek(4).member().to_hex())
    );
    assert_eq!(store.db().report_key_counts().unwrap(), (1, 0));
    store.set_kek(Some(kek(4)));
    assert!(store.write(|db| db.put_report_key(&r2, &later)).unwrap());
    assert_eq!(store.db().report_key(&r2).unwrap(), Some(later));
}
