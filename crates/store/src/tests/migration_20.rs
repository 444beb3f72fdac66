//! Migration 20 (payloads keyed by their entry's arrival, the report list by log number): an
//! old home migrated reads as one written by this build, and the migration failing part way
//! leaves schema 19 whole.

use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

use super::{assert_migration_undone, entries_side, entry, roster_member_second, summary};
use crate::{Store, StoreError};

/// What a reader sees of the report list's rows through the store's API: walked in report
/// order, each looked up, paged by change, by study, moved away, and the strays.
fn summaries_side(store: &Store, reports: &[Hash]) -> Vec<String> {
    let db = store.db();
    let mut out = vec![format!(
        "by report {:?}",
        db.summaries_by_report(None, 1000).unwrap()
    )];
    for r in reports {
        out.push(format!("{r} {:?}", db.summary(r).unwrap()));
    }
    out.push(format!(
        "by change {:?}",
        db.summaries_by_change(None, 1000).unwrap()
    ));
    for study in ["1.2.1", "1.2.2", ""] {
        out.push(format!(
            "study {study} {:?} moved {:?}",
            db.summaries_of_study(study).unwrap(),
            db.moved_from_study(study).unwrap()
        ));
    }
    out.push(format!(
        "count {} strays {:?}",
        db.count_summaries().unwrap(),
        db.summary_strays(0, 1000).unwrap()
    ));
    out
}

/// `e`'s rows as the builds before migration 20 wrote them (schema 19: the per-log indexes
/// keyed by a log number, payloads kept once per hash in a table with a hash index): its
/// log numbered, the entry, its log's heads, and its payload unless `payload` is `None`.
fn insert_v19_entry(conn: &rusqlite::Connection, e: &Entry, payload: Option<&[u8]>) {
    let h = e.header();
    let log = e.log_id();
    conn.execute(
        "INSERT OR IGNORE INTO logs (log) VALUES (?1)",
        [log.as_bytes()],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO entries (id, log, author, seq, kind, timestamp_ms, payload_hash, \
         header, signature, log_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
         (SELECT log_no FROM logs WHERE log = ?2))",
        rusqlite::params![
            e.id().as_bytes(),
            log.as_bytes(),
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
    for parent in &h.parents {
        conn.execute(
            "DELETE FROM heads WHERE log_no = (SELECT log_no FROM logs WHERE log = ?1) \
             AND id = ?2",
            rusqlite::params![log.as_bytes(), parent.as_bytes()],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT OR IGNORE INTO heads (log_no, id) \
         VALUES ((SELECT log_no FROM logs WHERE log = ?1), ?2)",
        rusqlite::params![log.as_bytes(), e.id().as_bytes()],
    )
    .unwrap();
    if let Some(p) = payload {
        conn.execute(
            "INSERT OR IGNORE INTO payloads (hash, bytes) VALUES (?1, ?2)",
            rusqlite::params![h.payload_hash.as_bytes(), p],
        )
        .unwrap();
    }
}

/// `second`'s fork evidence row as every build since migration 11 writes it (no payload).
fn insert_fork_row(conn: &rusqlite::Connection, first: &Entry, second: &Entry) {
    conn.execute(
        "INSERT INTO forks (log, author, seq, first, second, second_header, second_signature) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            second.log_id().as_bytes(),
            second.header().author.as_bytes(),
            second.header().seq as i64,
            first.id().as_bytes(),
            second.id().as_bytes(),
            second.header_bytes(),
            second.signature().as_slice()
        ],
    )
    .unwrap();
}

/// Migration 20 (payloads keyed by their entry's arrival, no hash index) on a ledger written
/// by the build before it: two reports whose creates carry the same bytes (one payload row
/// for both before), one of them then erased (the shared row stayed), an entry stored without
/// its payload, the roster log's fork evidence with its payload, and a report log's evidence
/// whose payload's hash a stored entry's payload has. Migrated, the store reads exactly as one
/// written entry by entry by this build (the erased report's create reads no payload, as this
/// build stores none for it), the report's evidence got no payload, the payloads table has no
/// index, and it goes on taking entries.
#[test]
fn migrating_to_payloads_by_arrival_reads_as_a_store_written_by_this_build() {
    let dir = tempfile::tempdir().unwrap();
    let (old_path, new_path) = (
        dir.path().join("old.sqlite3"),
        dir.path().join("new.sqlite3"),
    );
    let (a, b) = (
        SecretKey::from_seed(&[1; 32]),
        SecretKey::from_seed(&[2; 32]),
    );
    let (r1, p1) = entry(&a, Hash::ZERO, 1, vec![], "same");
    let (r2, p2) = entry(&b, Hash::ZERO, 1, vec![], "same");
    assert_eq!(p1, p2);
    let (r1_2, p1_2) = entry(&a, r1.log_id(), 2, vec![r1.id()], "erased too");
    let (r2_2, p2_2) = entry(&b, r2.log_id(), 2, vec![r2.id()], "kept");
    let (r2_3, _) = entry(&b, r2.log_id(), 3, vec![r2_2.id()], "never received");
    // The same position as `r2_2`, the same bytes, another time: a fork of a report log.
    let report_fork = Entry::sign(
        Header::new(
            Hash::of(b"net"),
            r2.log_id(),
            b.public(),
            2,
            21,
            Kind::SectionWrite,
            vec![r2.id()],
            &p2_2,
        ),
        &b,
    )
    .unwrap();
    let (_, roster_second, roster_payload) = roster_member_second(&a);
    let nothing = Hash([0x77; 32]);
    let (roster_first, roster_first_payload) = (
        Entry::sign(
            Header::new(
                roster_second.header().network,
                roster_second.log_id(),
                a.public(),
                4,
                39,
                Kind::RosterMember,
                vec![roster_second.header().network],
                b"{\"admin\":false}",
            ),
            &a,
        )
        .unwrap(),
        b"{\"admin\":false}".to_vec(),
    );
    let stored: Vec<(&Entry, Option<&[u8]>)> = vec![
        (&r1, Some(&p1)),
        (&r2, Some(&p2)),
        (&r1_2, Some(&p1_2)),
        (&r2_2, Some(&p2_2)),
        (&r2_3, None),
        (&roster_first, Some(&roster_first_payload)),
    ];

    // The old home, as the build before migration 20 wrote it.
    {
        let conn = rusqlite::Connection::open(&old_path).unwrap();
        for sql in &crate::schema::MIGRATIONS[..19] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 19).unwrap();
        for (e, p) in &stored {
            insert_v19_entry(&conn, e, *p);
        }
        insert_fork_row(&conn, &r2_2, &report_fork);
        insert_fork_row(&conn, &roster_first, &roster_second);
        conn.execute(
            "INSERT INTO payloads (hash, bytes) VALUES (?1, ?2)",
            rusqlite::params![
                roster_second.header().payload_hash.as_bytes(),
                roster_payload
            ],
        )
        .unwrap();
        // The old erasure of r1: its own payloads went, the one it shared with r2 stayed.
        conn.execute(
            "DELETE FROM payloads WHERE hash = ?1",
            [r1_2.header().payload_hash.as_bytes()],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO erased_logs (log, erasure, erased_ms) VALUES (?1, X'01', 1)",
            [r1.log_id().as_bytes()],
        )
        .unwrap();
        // The report list's rows, keyed by report id: r1's as its erasure left it, r2's
        // moved from another study, and a row of nothing (no entries behind it).
        for (r, study, last) in [
            (r1.log_id(), "", 5),
            (r2.log_id(), "1.2.2", 7),
            (nothing, "1.2.1", 6),
        ] {
            let mut r = summary(r, study, last);
            if study.is_empty() {
                // As the erasure left it: no study, no template.
                r.template.clear();
            }
            conn.execute(
                "INSERT INTO report_summaries (report, study, template, status, created_ms, \
                 last_ms, entries) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                rusqlite::params![
                    r.report.as_bytes(),
                    r.study,
                    r.template,
                    r.status,
                    r.created_ms as i64,
                    r.last_ms as i64,
                    r.entries as i64
                ],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO report_moves (report, from_study) VALUES (?1, '1.2.1')",
            [r2.log_id().as_bytes()],
        )
        .unwrap();
    }
    // The same, written entry by entry by this build.
    let mut new = Store::open(&new_path).unwrap();
    new.write(|db| {
        for (e, p) in &stored {
            db.insert_entry(e, *p)?;
        }
        db.insert_fork(&r2_2.id(), &report_fork, Some(&p2_2))?;
        db.insert_fork(&roster_first.id(), &roster_second, Some(&roster_payload))?;
        db.put_summary(&summary(r1.log_id(), "1.2.1", 5))?;
        db.put_summary(&summary(r2.log_id(), "1.2.1", 7))?;
        db.put_moves(&r2.log_id(), "1.2.2", &["1.2.1".into()])?;
        db.put_summary(&summary(nothing, "1.2.1", 6))?;
        db.erase_log(&r1.log_id(), &[1], 1)?;
        Ok::<_, StoreError>(())
    })
    .unwrap();

    let mut old = Store::open(&old_path).unwrap();
    let migrated = entries_side(&old);
    assert_eq!(migrated, entries_side(&new));
    let reports = [r1.log_id(), r2.log_id(), nothing, r2_2.id()];
    let rows = summaries_side(&old, &reports);
    assert_eq!(rows, summaries_side(&new, &reports));
    assert_eq!(old.db().count_summaries().unwrap(), 3, "{rows:?}");
    assert_eq!(old.db().summaries_by_report(None, 10).unwrap().len(), 3);
    let db = old.db();
    assert_eq!(db.get(&r1.id()).unwrap().unwrap().payload, None);
    assert_eq!(db.get(&r2.id()).unwrap().unwrap().payload, Some(p2.clone()));
    assert_eq!(db.get(&r2_3.id()).unwrap().unwrap().payload, None);
    let forks = db.forks().unwrap();
    assert_eq!(forks.len(), 2);
    let kept: Vec<Option<Vec<u8>>> = forks.iter().map(|f| db.fork_payload(f).unwrap()).collect();
    assert!(kept.contains(&Some(roster_payload.clone())), "{kept:?}");
    let count = |sql: &str| -> i64 { db.conn().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM fork_payloads"), 1);
    // A row per entry with a payload here: r2's create, r2's write, the roster entry.
    assert_eq!(count("SELECT COUNT(*) FROM payloads"), 3);
    // What this migration is for: no index on the payloads (their rowid is the arrival).
    assert_eq!(
        count("SELECT COUNT(*) FROM sqlite_master WHERE tbl_name = 'payloads' AND type = 'index'"),
        0
    );
    assert_eq!(
        count("SELECT COUNT(*) FROM sqlite_master WHERE sql LIKE '%v20%' OR name LIKE '%v20%'"),
        0
    );
    let check: String = db
        .conn()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // Goes on taking entries, each with its payload.
    let (e, p) = entry(&b, r2.log_id(), 4, vec![r2_3.id()], "after");
    old.write(|db| db.insert_entry(&e, Some(&p))).unwrap();
    new.write(|db| db.insert_entry(&e, Some(&p))).unwrap();
    assert_eq!(old.db().get(&e.id()).unwrap().unwrap().payload, Some(p));
    assert_eq!(entries_side(&old), entries_side(&new));
    // The rows are keyed by their log's number, with no index on the report id.
    let keyed: String = old
        .db()
        .conn()
        .query_row(
            "SELECT name FROM pragma_table_info('report_summaries') WHERE pk = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(keyed, "log_no");
    let on_report: i64 = old
        .db()
        .conn()
        .query_row(
            "SELECT COUNT(*) FROM pragma_index_list('report_summaries') il \
             JOIN pragma_index_info(il.name) ii WHERE ii.seqno = 0 AND ii.name = 'report'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(on_report, 0);
}

/// Migration 20 failing part way (a table it makes exists already, after it has made and
/// filled the new payloads table) leaves schema 19 whole, its payloads keyed by hash.
#[test]
fn migration_20_failing_part_way_leaves_schema_19() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let a = SecretKey::from_seed(&[1; 32]);
    let (e, p) = entry(&a, Hash::ZERO, 1, vec![], "kept");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &crate::schema::MIGRATIONS[..19] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 19).unwrap();
        insert_v19_entry(&conn, &e, Some(&p));
        conn.execute_batch("CREATE TABLE fork_payloads (x)")
            .unwrap();
    }
    assert!(Store::open(&path).is_err());
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_migration_undone(&conn, 19, &["payloads_v20"]);
    let bytes: Vec<u8> = conn
        .query_row(
            "SELECT bytes FROM payloads WHERE hash = ?1",
            [e.header().payload_hash.as_bytes()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(bytes, p);
    conn.execute_batch("DROP TABLE fork_payloads").unwrap();
    drop(conn);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.db().get(&e.id()).unwrap().unwrap().payload, Some(p));
}
