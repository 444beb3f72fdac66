//! Fork evidence: one row per position (the first kept), no payload for a report log's
//! evidence, the roster log's kept when its header commits to it, and migration 10 bringing
//! an older ledger's evidence to that.

use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

use super::{entry, payload_stored, roster_member_second};
use crate::{Store, StoreError};

/// Three entries by one key at one position, after the first: evidence at a position is the
/// first one kept.
fn three_forks(a: &SecretKey, log: Hash, genesis: Hash, payload: &[u8]) -> Vec<Entry> {
    (0..3)
        .map(|n| {
            let h = Header::new(
                Hash::of(b"net"),
                log,
                a.public(),
                2,
                20 + n,
                Kind::SectionWrite,
                vec![genesis],
                payload,
            );
            Entry::sign(h, a).unwrap()
        })
        .collect()
}

/// Issue 13: one key stored a thousand 16 MiB "forks" at one position, loaded whole by every
/// listing. Now one row per (log, author, seq), and a report log's evidence has no payload.
#[test]
fn three_forks_at_one_position_keep_one_evidence_row_and_no_payload() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let a = SecretKey::from_seed(&[1; 32]);
    let (genesis, gp) = entry(&a, Hash::ZERO, 1, vec![], "g");
    let log = genesis.log_id();
    let (first, p1) = entry(&a, log, 2, vec![genesis.id()], "first");
    let big = vec![b'x'; 15 << 20];
    let seconds = three_forks(&a, log, genesis.id(), &big);
    let inserted: Vec<bool> = store
        .write(|db| {
            db.insert_entry(&genesis, Some(&gp))?;
            db.insert_entry(&first, Some(&p1))?;
            seconds
                .iter()
                .map(|s| db.insert_fork(&first.id(), s, Some(&big)))
                .collect::<Result<Vec<bool>, StoreError>>()
        })
        .unwrap();
    assert_eq!(inserted, vec![true, false, false]);
    let db = store.db();
    let forks = db.forks().unwrap();
    assert_eq!(forks.len(), 1);
    assert_eq!(forks[0].second, seconds[0].id().as_bytes());
    assert_eq!(forks[0].second_header, seconds[0].header_bytes());
    assert_eq!(db.forks_of(&log).unwrap(), forks);
    assert!(db.forks_of(&Hash([9; 32])).unwrap().is_empty());
    assert_eq!(db.fork_count(&log).unwrap(), 1);
    // The 15 MiB payload is nowhere: the header's hash is the evidence's commitment to it.
    let hash = seconds[0].header().payload_hash;
    assert!(!payload_stored(&store, &hash));
    assert_eq!(store.db().fork_payload(&forks[0]).unwrap(), None);
}

/// The roster log's evidence keeps its payload (a frozen admin's revocations still stand),
/// when it is the one the header commits to; listing the evidence still reads none.
#[test]
fn roster_evidence_keeps_the_payload_its_header_commits_to() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let a = SecretKey::from_seed(&[1; 32]);
    let network = Hash::of(b"net");
    let sign = |seq: u64, ts: u64, payload: &[u8]| {
        let h = Header::new(
            network,
            network,
            a.public(),
            seq,
            ts,
            Kind::RosterMember,
            vec![network],
            payload,
        );
        Entry::sign(h, &a).unwrap()
    };
    let first = sign(2, 1, b"{\"first\":1}");
    let (right, wrong) = (sign(2, 2, b"{\"second\":2}"), sign(3, 3, b"{\"third\":3}"));
    store
        .write(|db| {
            db.insert_fork(&first.id(), &right, Some(b"{\"second\":2}"))?;
            db.insert_fork(&first.id(), &wrong, Some(b"{\"not the one\":0}"))
        })
        .unwrap();
    let forks = store.db().forks().unwrap();
    assert_eq!(forks.len(), 2);
    let payloads: Vec<Option<Vec<u8>>> = forks
        .iter()
        .map(|f| store.db().fork_payload(f).unwrap())
        .collect();
    assert_eq!(payloads, vec![Some(b"{\"second\":2}".to_vec()), None]);
}

/// Migration 10 on a ledger written before it: one evidence row per position (the first kept),
/// no payload column, and the roster log's evidence payload moved to `payloads`.
#[test]
fn migrating_keeps_the_first_evidence_per_position_and_drops_payloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite3");
    let a = SecretKey::from_seed(&[1; 32]);
    let (genesis, _) = entry(&a, Hash::ZERO, 1, vec![], "g");
    let log = genesis.log_id();
    let (first, _) = entry(&a, log, 2, vec![genesis.id()], "first");
    let big = vec![b'y'; 1 << 20];
    let mut seconds = three_forks(&a, log, genesis.id(), &big);
    // Inserted highest id first: the row kept is the first to arrive, not the lowest id.
    seconds.sort_by_key(|e| std::cmp::Reverse(e.id()));
    let (network, roster_second, roster_payload) = roster_member_second(&a);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        for sql in &crate::schema::MIGRATIONS[..9] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 9).unwrap();
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('network', ?1)",
            [network.to_hex()],
        )
        .unwrap();
        // Kept by arrival (the first inserted), whatever the order of their ids.
        for (s, payload) in seconds
            .iter()
            .map(|s| (s, &big))
            .chain([(&roster_second, &roster_payload)])
        {
            conn.execute(
                "INSERT INTO forks (log, author, seq, first, second, second_header, \
                 second_signature, second_payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![
                    s.log_id().as_bytes(),
                    a.public().as_bytes(),
                    s.header().seq as i64,
                    first.id().as_bytes(),
                    s.id().as_bytes(),
                    s.header_bytes(),
                    s.signature().as_slice(),
                    payload,
                ],
            )
            .unwrap();
        }
    }
    let store = Store::open(&path).unwrap();
    let forks = store.db().forks().unwrap();
    let mut kept: Vec<Vec<u8>> = forks.iter().map(|f| f.second.clone()).collect();
    let mut expected = vec![
        seconds[0].id().as_bytes().to_vec(),
        roster_second.id().as_bytes().to_vec(),
    ];
    kept.sort();
    expected.sort();
    assert_eq!(kept, expected);
    let columns: Vec<String> = store
        .db()
        .conn()
        .prepare("SELECT name FROM pragma_table_info('forks')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !columns.iter().any(|c| c.contains("payload")),
        "{columns:?}"
    );
    assert!(!payload_stored(&store, &seconds[0].header().payload_hash));
    let roster = forks
        .iter()
        .find(|f| f.second == roster_second.id().as_bytes())
        .unwrap();
    assert_eq!(
        store.db().fork_payload(roster).unwrap(),
        Some(roster_payload)
    );
    // A position holds one piece of evidence from now on.
    let mut store = store;
    let again = store
        .write(|db| db.insert_fork(&first.id(), &seconds[1], None))
        .unwrap();
    assert!(!again);
}

/// Listing fork evidence never reads a payload, by construction: the row has no field for one.
/// (This destructuring stops compiling if one is added.)
#[test]
fn a_fork_row_has_no_payload() {
    let row = crate::ForkRow {
        log: vec![],
        author: vec![],
        seq: 1,
        first: vec![],
        second: vec![],
        second_header: vec![],
        second_signature: vec![],
    };
    let crate::ForkRow {
        log: _,
        author: _,
        seq: _,
        first: _,
        second: _,
        second_header: _,
        second_signature: _,
    } = row;
}
