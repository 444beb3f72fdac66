//! Opening a store and writing and reading its entries: a newer schema and a file that is not
//! a database refused, heads, links and payloads written idempotently, a failed write undone,
//! another connection's commits seen, and batches served by id within their bounds.

use countersign_ledger::{Hash, SecretKey};

use super::entry;
use crate::{Store, StoreError, SCHEMA_VERSION};

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

/// A write keeps the log numbers it looked up or gave (one lookup per log per batch), and
/// only for itself: a number given by a write that failed is given again to another log by
/// the next, and the first log is not taken for that one.
#[test]
fn a_log_numbered_by_a_failed_write_is_not_known_to_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let (a, b) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let (first, fp) = entry(&a, Hash::ZERO, 1, vec![], "first");
    let (section, sp) = entry(&a, first.id(), 2, vec![first.id()], "section");
    let (other, op) = entry(&b, Hash::ZERO, 1, vec![], "other");
    let failed: Result<(), StoreError> = store.write(|db| {
        db.insert_entry(&first, Some(&fp))?;
        db.insert_entry(&section, Some(&sp))?;
        assert_eq!(db.log_no(&first.id())?, db.log_no_or_new(&first.id()).ok());
        Err(StoreError::DiskFull)
    });
    assert!(failed.is_err());
    store
        .write(|db| {
            db.insert_entry(&other, Some(&op))?;
            assert_eq!(db.log_no(&first.id())?, None);
            db.insert_entry(&first, Some(&fp))?;
            db.insert_entry(&section, Some(&sp))?;
            assert_ne!(db.log_no(&first.id())?, db.log_no(&other.id())?);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let db = store.db();
    assert_eq!(db.log_entries(&other.id()).unwrap().len(), 1);
    assert_eq!(db.log_entries(&first.id()).unwrap().len(), 2);
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

/// A batch served by id: the lowest arrivals among the ids asked for, in arrival order, at
/// most `max_rows`, within the byte budget (one row always), each with its payload — and the
/// budget holds on the bytes read even for a row whose stored header declares a shorter
/// payload than the one held (a row altered on disk), so an honest server's batch never
/// passes the bound its peer refuses.
#[test]
fn a_batch_by_id_keeps_to_its_rows_and_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let key = SecretKey::from_seed(&[9; 32]);
    let (create, p0) = entry(&key, Hash::ZERO, 1, vec![], "r");
    let mut all = vec![(create.clone(), p0)];
    let mut head = create.id();
    for seq in 2..=10 {
        let (e, p) = entry(
            &key,
            create.id(),
            seq,
            vec![head],
            &"x".repeat(seq as usize * 100),
        );
        head = e.id();
        all.push((e, p));
    }
    store
        .write(|db| {
            for (e, p) in &all {
                db.insert_entry(e, Some(p))?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let size = |i: usize| all[i].0.header_bytes().len() + 64 + all[i].1.len();
    // Asked in reverse, with an id not held: served in arrival order.
    let mut ids: Vec<Hash> = all.iter().rev().map(|(e, _)| e.id()).collect();
    ids.push(Hash::of(b"not held"));
    let (rows, more) = store.db().entries_by_ids(&ids, 100, usize::MAX).unwrap();
    assert!(!more);
    let got: Vec<Vec<u8>> = rows.iter().map(|r| r.id.clone()).collect();
    let want: Vec<Vec<u8>> = all
        .iter()
        .map(|(e, _)| e.id().as_bytes().to_vec())
        .collect();
    assert_eq!(got, want);
    assert!(rows
        .iter()
        .zip(&all)
        .all(|(r, (_, p))| r.payload.as_deref() == Some(p.as_slice())));
    // At most `max_rows`: the lowest arrivals.
    let (rows, more) = store.db().entries_by_ids(&ids, 3, usize::MAX).unwrap();
    assert!(more);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2].id, all[2].0.id().as_bytes().to_vec());
    // A budget of the first four rows' bytes: four rows, then `more`.
    let budget: usize = (0..4).map(size).sum();
    let (rows, more) = store.db().entries_by_ids(&ids, 100, budget).unwrap();
    assert_eq!((rows.len(), more), (4, true));
    // A budget below one row: that one row.
    let (rows, more) = store.db().entries_by_ids(&ids, 100, 1).unwrap();
    assert_eq!((rows.len(), more), (1, true));
    // The fourth row's header altered to declare an empty payload: its held payload still
    // counts, so a budget of three rows and a half stops before it.
    let fourth = all[3].0.id();
    let mut header = all[3].0.header_bytes().to_vec();
    let at = header.len() - 8;
    header[at..].copy_from_slice(&0u64.to_be_bytes());
    store
        .db()
        .conn()
        .execute(
            "UPDATE entries SET header = ?1 WHERE id = ?2",
            rusqlite::params![header, fourth.as_bytes()],
        )
        .unwrap();
    let budget = (0..3).map(size).sum::<usize>() + size(3) / 2;
    let (rows, more) = store.db().entries_by_ids(&ids, 100, budget).unwrap();
    assert_eq!((rows.len(), more), (3, true));
    assert!(
        rows.iter()
            .map(|r| r.header.len() + 64 + r.payload.as_ref().map_or(0, Vec::len))
            .sum::<usize>()
            <= budget
    );
}

/// Found by review (2026-12-05): the report logs that granted an AI model access were found by
/// reading every entry, at each reconciliation step of the model's node (at a million
/// reports, gigabytes on the serving node's event loop). The query goes through the partial
/// index of grant entries. Fails if the index (migration 22) is dropped.
#[test]
fn grants_are_found_by_their_own_index_not_a_scan_of_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let plan: Vec<String> = store
        .db()
        .conn()
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            crate::sync_state::set::GRANTED_LOGS
        ))
        .unwrap()
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        plan.iter().any(|step| step.contains("entries_grants")),
        "{plan:?}"
    );
    assert!(store.db().logs_with_grants().unwrap().is_empty());
}
