use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

use crate::{Store, StoreError, SCHEMA_VERSION};

fn entry(key: &SecretKey, log: Hash, seq: u64, parents: Vec<Hash>, text: &str) -> (Entry, Vec<u8>) {
    let payload = format!(r#"{{"section":"findings","text":"{text}"}}"#).into_bytes();
    let kind = if log.is_zero() {
        Kind::ReportCreate
    } else {
        Kind::SectionWrite
    };
    let h = Header::new(
        Hash::of(b"net"),
        log,
        key.public(),
        seq,
        seq * 10,
        kind,
        parents,
        &payload,
    );
    (Entry::sign(h, key).unwrap(), payload)
}

#[test]
fn refuses_a_database_from_a_newer_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    drop(Store::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    match Store::open(&path) {
        Err(StoreError::NewerSchema {
            found, supported, ..
        }) => {
            assert_eq!((found, supported), (SCHEMA_VERSION + 1, SCHEMA_VERSION));
        }
        other => panic!("expected NewerSchema, got {other:?}"),
    }
}

#[test]
fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.sqlite3");
    std::fs::write(&path, vec![0x42; 8192]).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase(_)), "{err:?}");
}

#[test]
fn heads_links_payloads_and_idempotence() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let a = SecretKey::from_seed(&[1; 32]);
    let (genesis, gp) = entry(&a, Hash::ZERO, 1, vec![], "g");
    let log = genesis.log_id();
    let (e2, p2) = entry(&a, log, 2, vec![genesis.id()], "two");
    let (e3, p3) = entry(&a, log, 3, vec![genesis.id()], "three");
    store
        .write(|db| {
            assert!(db.insert_entry(&genesis, Some(&gp))?);
            assert!(db.insert_entry(&e2, Some(&p2))?);
            assert!(db.insert_entry(&e3, Some(&p3))?);
            assert!(!db.insert_entry(&e3, Some(&p3))?);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let db = store.db();
    let mut expected = vec![e2.id(), e3.id()];
    expected.sort();
    assert_eq!(db.heads(&log).unwrap(), expected);
    assert_eq!(db.count_entries().unwrap(), 3);
    let rows = db.log_entries(&log).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].header, e2.header_bytes());
    assert_eq!(rows[1].payload.as_deref(), Some(p2.as_slice()));
    assert_eq!(db.entry_at(&log, &a.public(), 3).unwrap(), Some(e3.id()));
    assert_eq!(db.report_ids().unwrap(), vec![genesis.id()]);
}

#[test]
fn a_failed_write_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let a = SecretKey::from_seed(&[1; 32]);
    let (genesis, gp) = entry(&a, Hash::ZERO, 1, vec![], "g");
    let result: Result<(), StoreError> = store.write(|db| {
        db.insert_entry(&genesis, Some(&gp))?;
        Err(StoreError::DiskFull)
    });
    assert!(result.is_err());
    assert_eq!(store.db().count_entries().unwrap(), 0);
}

#[test]
fn data_version_moves_when_another_connection_commits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let store = Store::open(&path).unwrap();
    let before = store.data_version().unwrap();
    let mut other = Store::open(&path).unwrap();
    other.write(|db| db.set_meta("k", "v")).unwrap();
    assert_ne!(store.data_version().unwrap(), before);
    assert_eq!(store.db().meta("k").unwrap().as_deref(), Some("v"));
}
