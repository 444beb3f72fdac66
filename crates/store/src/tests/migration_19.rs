//! Migration 19 (log numbers, payloads in arrival order): an old home migrated reads as one
//! written by this build, and a migration failing part way leaves the old schema whole.

use countersign_ledger::{Entry, Hash, SecretKey};

use super::{assert_migration_undone, entries_side, entry, roster_member_second};
use crate::{Store, StoreError};

/// Migration 19 (log numbers, payloads in arrival order) on a ledger written by the build
/// before it, with the old statements: interleaved logs, a log with two heads, the roster
/// log's fork evidence with its payload, and an entry removed from the end. Migrated, the
/// store reads exactly as one written entry by entry by this build, and arrival numbers
/// go on from the highest ever given.
#[test]
fn migrating_to_log_numbers_reads_as_a_store_written_by_this_build() {
    let dir = tempfile::tempdir().unwrap();
    let (old_path, new_path) = (
        dir.path().join("old.sqlite3"),
        dir.path().join("new.sqlite3"),
    );
    let (a, b) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    // Three reports written in turn, so each log's entries are spread through the store.
    let mut entries: Vec<(Entry, Vec<u8>)> = Vec::new();
    let creates: Vec<(Entry, Vec<u8>)> = (0..3)
        .map(|i| entry(&a, Hash::ZERO, 1, vec![], &format!("create {i}")))
        .collect();
    entries.extend(creates.iter().cloned());
    let mut heads: Vec<Hash> = creates.iter().map(|(e, _)| e.id()).collect();
    for round in 2..5u64 {
        for (i, (c, _)) in creates.iter().enumerate() {
            let (e, p) = entry(
                &a,
                c.log_id(),
                round,
                vec![heads[i]],
                &format!("{i} {round}"),
            );
            heads[i] = e.id();
            entries.push((e, p));
        }
    }
    // Report 0 gets a second head: b writes on its create, beside a's chain.
    entries.push(entry(
        &b,
        creates[0].0.log_id(),
        1,
        vec![creates[0].0.id()],
        "beside",
    ));
    // Same text twice: one payload kept for two entries.
    let (c, _) = &creates[1];
    entries.push(entry(&b, c.log_id(), 1, vec![heads[1]], "1 4"));
    let removed = entry(
        &b,
        c.log_id(),
        2,
        vec![entries.last().unwrap().0.id()],
        "gone",
    );
    let (network, roster_second, roster_payload) = roster_member_second(&a);

    // The old home, as the build before migration 19 wrote it.
    {
        let conn = rusqlite::Connection::open(&old_path).unwrap();
        for sql in &crate::schema::MIGRATIONS[..18] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 18).unwrap();
        for (e, p) in entries.iter().chain([&removed]) {
            let h = e.header();
            insert_old_entry(&conn, e);
            for parent in &h.parents {
                conn.execute(
                    "DELETE FROM heads WHERE log = ?1 AND id = ?2",
                    rusqlite::params![e.log_id().as_bytes(), parent.as_bytes()],
                )
                .unwrap();
            }
            conn.execute(
                "INSERT OR IGNORE INTO heads (log, id) VALUES (?1, ?2)",
                rusqlite::params![e.log_id().as_bytes(), e.id().as_bytes()],
            )
            .unwrap();
            conn.execute(
                "INSERT OR IGNORE INTO payloads (hash, bytes) VALUES (?1, ?2)",
                rusqlite::params![h.payload_hash.as_bytes(), p],
            )
            .unwrap();
        }
        // Rolled back by hand: the last entry, and its log's head as it was before it.
        let last = entries.last().unwrap().0.id();
        roll_back(
            &conn,
            &removed.0,
            last,
            "INSERT INTO heads (log, id) VALUES (?1, ?2)",
            DELETE_PAYLOAD_BY_HASH,
        );
        conn.execute(
            "INSERT INTO forks (log, author, seq, first, second, second_header, \
             second_signature) VALUES (?1, ?2, 4, ?3, ?4, ?5, ?6)",
            rusqlite::params![
                network.as_bytes(),
                a.public().as_bytes(),
                creates[0].0.id().as_bytes(),
                roster_second.id().as_bytes(),
                roster_second.header_bytes(),
                roster_second.signature().as_slice()
            ],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO payloads (hash, bytes) VALUES (?1, ?2)",
            rusqlite::params![
                roster_second.header().payload_hash.as_bytes(),
                roster_payload
            ],
        )
        .unwrap();
    }
    // The same, written entry by entry by this build.
    let mut new = Store::open(&new_path).unwrap();
    new.write(|db| {
        for (e, p) in entries.iter().chain([&removed]) {
            db.insert_entry(e, Some(p))?;
        }
        db.insert_fork(&creates[0].0.id(), &roster_second, Some(&roster_payload))?;
        Ok::<_, StoreError>(())
    })
    .unwrap();
    {
        let conn = new.db().conn();
        let last = entries.last().unwrap().0.id();
        roll_back(
            conn,
            &removed.0,
            last,
            "INSERT INTO heads (log_no, id) VALUES ((SELECT log_no FROM logs WHERE log = ?1), ?2)",
            DELETE_PAYLOAD_BY_ARRIVAL,
        );
    }

    let mut old = Store::open(&old_path).unwrap();
    let migrated = entries_side(&old);
    assert_eq!(migrated, entries_side(&new));
    assert_eq!(
        old.db().heads(&creates[0].0.log_id()).unwrap().len(),
        2,
        "{migrated:?}"
    );
    assert_eq!(old.db().log_ids().unwrap().len(), 3);
    // The tables are this build's (no leftover of the copies), and still judged whole.
    let tables: Vec<(String, String)> = old
        .db()
        .conn()
        .prepare(
            "SELECT name, sql FROM sqlite_master WHERE name IN \
                  ('entries', 'heads', 'payloads', 'logs') OR name LIKE '%v19%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tables.len(), 4, "{tables:?}");
    assert!(
        tables.iter().all(|(_, sql)| !sql.contains("v19")),
        "{tables:?}"
    );
    let check: String = old
        .db()
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // The removed entry's arrival number is not given again; a new log is numbered after
    // the migrated ones.
    let (e, p) = entry(&b, Hash::ZERO, 1, vec![], "after");
    old.write(|db| db.insert_entry(&e, Some(&p))).unwrap();
    new.write(|db| db.insert_entry(&e, Some(&p))).unwrap();
    let arrival = old.db().get(&e.id()).unwrap().unwrap().arrival;
    assert_eq!(arrival, entries.len() as i64 + 2);
    assert_eq!(entries_side(&old), entries_side(&new));
    assert_eq!(old.db().log_no(&e.log_id()).unwrap(), Some(4));
}

/// A migration that fails part way (here: a table it creates exists already) leaves the old
/// schema whole, as a crash would: it runs in one transaction with the version it records.
#[test]
fn a_migration_that_fails_part_way_leaves_the_old_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let a = SecretKey::from_seed(&[1; 32]);
    let (e, p) = entry(&a, Hash::ZERO, 1, vec![], "kept");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &crate::schema::MIGRATIONS[..18] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 18).unwrap();
        let h = e.header();
        insert_old_entry(&conn, &e);
        conn.execute(
            "INSERT INTO payloads (hash, bytes) VALUES (?1, ?2)",
            rusqlite::params![h.payload_hash.as_bytes(), p],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO heads (log, id) VALUES (?1, ?2)",
            rusqlite::params![e.log_id().as_bytes(), e.id().as_bytes()],
        )
        .unwrap();
        // In the way of the migration's third table, after it has made two.
        conn.execute_batch("CREATE TABLE heads_v19 (x)").unwrap();
    }
    assert!(Store::open(&path).is_err());
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_migration_undone(&conn, 18, &["logs", "entries_v19"]);
    let log: Vec<u8> = conn
        .query_row("SELECT log FROM entries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(log, e.log_id().as_bytes().to_vec());
    // Out of the way, the same file migrates.
    conn.execute_batch("DROP TABLE heads_v19").unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.db().heads(&e.log_id()).unwrap(), vec![e.id()]);
    assert_eq!(store.db().get(&e.id()).unwrap().unwrap().payload, Some(p));
}

/// `e`'s row as the builds before migration 19 wrote it (the entries table keyed by the log
/// id, no log number); an entry already there is left as it is.
fn insert_old_entry(conn: &rusqlite::Connection, e: &Entry) {
    let h = e.header();
    conn.execute(
        "INSERT OR IGNORE INTO entries (id, log, author, seq, kind, timestamp_ms, payload_hash, \
         header, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            e.id().as_bytes(),
            e.log_id().as_bytes(),
            h.author.as_bytes(),
            h.seq as i64,
            h.kind.name(),
            h.timestamp_ms as i64,
            h.payload_hash.as_bytes(),
            e.header_bytes(),
            e.signature().as_slice()
        ],
    )
    .unwrap();
}

/// Takes `removed` (its log's last entry) out by hand, its payload too (with
/// `delete_payload`, `?1` the entry id, run first), and makes `last` its log's head again with
/// `insert_head` (`?1` the log id, `?2` the head): the heads table's key differs before and
/// after migration 19, the payloads table's before and after 20.
fn roll_back(
    conn: &rusqlite::Connection,
    removed: &Entry,
    last: Hash,
    insert_head: &str,
    delete_payload: &str,
) {
    conn.execute(delete_payload, [removed.id().as_bytes()])
        .unwrap();
    conn.execute(
        "DELETE FROM entries WHERE id = ?1",
        [removed.id().as_bytes()],
    )
    .unwrap();
    conn.execute("DELETE FROM heads WHERE id = ?1", [removed.id().as_bytes()])
        .unwrap();
    conn.execute(
        insert_head,
        rusqlite::params![removed.log_id().as_bytes(), last.as_bytes()],
    )
    .unwrap();
}

/// What `roll_back` deletes a payload with, before migration 20 (by hash) and after (by the
/// entry's arrival).
const DELETE_PAYLOAD_BY_HASH: &str =
    "DELETE FROM payloads WHERE hash = (SELECT payload_hash FROM entries WHERE id = ?1)";
const DELETE_PAYLOAD_BY_ARRIVAL: &str =
    "DELETE FROM payloads WHERE arrival = (SELECT arrival FROM entries WHERE id = ?1)";
