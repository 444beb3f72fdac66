//! The store's unit tests, a file by theme; the fixtures and readers several of them share.

use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

use crate::Store;

mod entries;
mod forks;
mod images;
mod keys;
mod migration_19;
mod migration_20;
mod migration_23;
mod summaries;

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

/// Whether any payload row (an entry's, or a piece of evidence's) holds bytes hashing to
/// `hash`: neither table is keyed by the hash, so every row is hashed.
fn payload_stored(store: &Store, hash: &Hash) -> bool {
    let conn = store.db().conn();
    [
        "SELECT bytes FROM payloads",
        "SELECT bytes FROM fork_payloads",
    ]
    .iter()
    .any(|sql| {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.iter().any(|b| Hash::of(b) == *hash)
    })
}

/// What a reader sees of the entries side through the store's API, for comparing two stores:
/// every log (in first-arrival order) with its entries, heads and version vector, the whole
/// store by arrival and walked log by log by id, and the fork evidence with its payload.
fn entries_side(store: &Store) -> Vec<String> {
    let db = store.db();
    let mut out = vec![format!("logs {:?}", db.log_ids().unwrap())];
    for log in db.log_ids().unwrap() {
        out.push(format!("entries {log} {:?}", db.log_entries(&log).unwrap()));
        out.push(format!("heads {log} {:?}", db.heads(&log).unwrap()));
        out.push(format!(
            "vector {log} {:?}",
            db.version_vector(&log).unwrap()
        ));
        out.push(format!(
            "chunk {log} {:?}",
            db.log_entries_after(&log, 1, 2).unwrap()
        ));
    }
    out.push(format!("all {:?}", db.entries_after(0, 1000).unwrap()));
    let (mut log, mut arrival, mut walked) = (Vec::new(), 0, Vec::new());
    loop {
        let chunk = db.entries_by_log_after(&log, arrival, 3).unwrap();
        let Some(last) = chunk.last() else { break };
        (log, arrival) = (last.log.clone(), last.arrival);
        walked.extend(chunk.into_iter().map(|e| e.id));
    }
    out.push(format!("walked {walked:?}"));
    let mut next = Vec::new();
    while let Some(l) = db.next_log(next.last()).unwrap() {
        next.push(l);
    }
    out.push(format!("next {next:?}"));
    for f in db.forks().unwrap() {
        out.push(format!("fork {f:?} {:?}", db.fork_payload(&f).unwrap()));
    }
    out.push(format!(
        "count {} max {}",
        db.count_entries().unwrap(),
        db.max_arrival().unwrap()
    ));
    out
}

fn summary(report: Hash, study: &str, last_ms: u64) -> crate::SummaryRow {
    crate::SummaryRow {
        report,
        study: study.into(),
        template: "ct-chest".into(),
        status: "draft".into(),
        created_ms: 1,
        last_ms,
        entries: 2,
    }
}

/// A second `roster.member` by `a` at seq 4 of the roster of network `net` (a fork's other
/// side in the old homes the migration tests build): the network, the entry, its payload.
fn roster_member_second(a: &SecretKey) -> (Hash, Entry, Vec<u8>) {
    let network = Hash::of(b"net");
    let roster_payload = b"{\"admin\":true}".to_vec();
    let entry = Entry::sign(
        Header::new(
            network,
            network,
            a.public(),
            4,
            40,
            Kind::RosterMember,
            vec![network],
            &roster_payload,
        ),
        a,
    )
    .unwrap();
    (network, entry, roster_payload)
}

/// After a migration failed part way: the file is still at `version`, and none of the tables
/// the migration makes (`made`) is there.
fn assert_migration_undone(conn: &rusqlite::Connection, version: u32, made: &[&str]) {
    let at: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(at, version);
    for table in made {
        let there: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(there, 0, "half a migration was left: {table}");
    }
}

/// A read inside a read (an audit archive's bundle, read inside the read its provenance text
/// is read in) runs in the outer one: it sees the store as of the outer read's first read, not
/// what another connection committed since.
#[test]
fn a_read_within_a_read_sees_the_outer_reads_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let store = Store::open(&path).unwrap();
    let mut other = Store::open(&path).unwrap();
    let count = |db: &crate::Db<'_>| db.meta("n").map(|v| v.unwrap_or_default());
    let (outer, inner) = store
        .read(|db| -> crate::Result<_> {
            let outer = count(db)?;
            other.write(|w| w.set_meta("n", "1")).unwrap();
            let inner = store.read(|db| count(db))?;
            Ok((outer, inner))
        })
        .unwrap();
    assert_eq!((outer.as_str(), inner.as_str()), ("", ""));
    assert_eq!(store.read(|db| count(db)).unwrap(), "1");
}
