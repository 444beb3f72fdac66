//! The report list's rows against the entries: after every path that stores entries they equal
//! a rebuild from the entries (and another home's rows for the same entries); a wiped or stale
//! table is rebuilt on open; pages return every report once; verify holds one report log at a
//! time and names a row that differs.

use std::collections::BTreeMap;

use countersign_ledger::roster::{Frontier, RevokePayload};
use countersign_ledger::{bundle, Entry, EntryId, Kind, LogId};
use countersign_report::fixture::Department;
use countersign_report::payload::{Payload, ReportStatus, SectionWrite, Status};
use countersign_store::{Store, SummaryRow};

use crate::{AppError, Home};

/// Every row of the home's report list, by report.
fn rows(home: &Home) -> Vec<SummaryRow> {
    home.store()
        .db()
        .summaries_by_report(None, 100_000)
        .unwrap()
}

/// The rows a rebuild from the entries gives, read on a second connection inside a write that
/// is then rolled back: the home's own rows are left as they are.
fn rebuilt(home: &Home) -> Vec<SummaryRow> {
    let mut store = Store::open(&home.dir().join("ledger.sqlite3")).unwrap();
    // The home's data keys open here as they do in the home (issue 16).
    store.set_kek(home.store().kek());
    let mut got = None;
    let rolled_back = store.write(|db| {
        super::rebuild(db)?;
        got = Some(db.summaries_by_report(None, 100_000)?);
        Err::<(), _>(AppError::InvalidInput("rolled back".into()))
    });
    assert!(rolled_back.is_err());
    got.unwrap()
}

/// SQL run on the home's database from outside, as a hand editing the file would.
fn sql(home: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(home.join("ledger.sqlite3")).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn status(home: &Home, report: LogId) -> String {
    home.store().db().summary(&report).unwrap().unwrap().status
}

/// A department's entries handed to a home a bundle at a time: `sent` of `d.stored` went
/// already; fork evidence goes as it is made.
struct Feed {
    d: Department,
    sent: usize,
    evidence: Vec<(Entry, Vec<u8>)>,
}

impl Feed {
    fn bundle(&mut self) -> Vec<u8> {
        let records = self.d.stored[self.sent..]
            .iter()
            .chain(&self.evidence)
            .map(|(e, p)| (e, Some(p.as_slice())));
        let bytes = bundle::encode(records);
        self.sent = self.d.stored.len();
        self.evidence.clear();
        bytes
    }

    fn write(&mut self, who: &str, r: LogId, section: &str, text: &str) -> EntryId {
        self.d.write_section(who, r, section, text).unwrap()
    }

    fn finalise(&mut self, who: &str, r: LogId) -> EntryId {
        let sections: BTreeMap<String, EntryId> = self
            .d
            .view(r)
            .sections
            .iter()
            .filter_map(|s| s.current.map(|v| (s.name.clone(), v)))
            .collect();
        let s = ReportStatus {
            status: Status::Final,
            sections,
        };
        self.d.append(who, Some(r), Kind::ReportStatus, &s).unwrap()
    }
}

/// Checks the home's rows against a rebuild, and returns them.
fn checked(home: &Home, what: &str) -> Vec<SummaryRow> {
    let kept = rows(home);
    assert_eq!(kept, rebuilt(home), "after {what}");
    kept
}

#[test]
fn rows_follow_every_path_and_equal_a_rebuild_from_the_entries() {
    let mut f = Feed {
        d: Department::new(),
        sent: 0,
        evidence: Vec::new(),
    };
    let r1 = f.d.report("ada", "ct-chest");
    let r2 = f.d.report_on(
        "rad",
        countersign_report::template("ct-chest").unwrap(),
        "1.2.840.100",
        vec![],
    );
    for s in ["technique", "findings", "impression"] {
        f.write("ada", r1, s, &format!("{s} of the first."));
    }
    f.finalise("bob", r1);

    // A bundle (the path a peer's batch takes too: `import_authenticated`).
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(&dir.path().join("a")).unwrap();
    let anchor = crate::Anchor::Network {
        network: f.d.network(),
        founder: None,
    };
    home.trust(anchor).unwrap();
    home.bundle_import(&f.bundle()).unwrap();
    let first = checked(&home, "a bundle");
    assert_eq!(first.len(), 2);
    assert_eq!(status(&home, r1), "final");
    assert_eq!(status(&home, r2), "draft");

    // A peer's batch, authenticated on its own.
    f.write("rad", r2, "findings", "Nodule.");
    let batch = crate::Authenticated::from_bundle(&f.bundle()).unwrap();
    home.import_authenticated(batch).unwrap();
    checked(&home, "a peer's batch");

    // A peer's batches on sync's path, the later entry first: it waits in the pull's pending
    // pool and is stored (its row kept in step) with the batch that brings its parent.
    f.write("rad", r2, "findings", "Nodule, 4 mm.");
    f.write("rad", r2, "impression", "Follow up in 12 months.");
    let (parent, child) = (f.d.stored[f.sent].clone(), f.d.stored[f.sent + 1].clone());
    f.sent += 2;
    let one = |(e, p): &(Entry, Vec<u8>)| {
        crate::Authenticated::from_bundle(&bundle::encode([(e, Some(p.as_slice()))])).unwrap()
    };
    let mut pending = crate::Pending::default();
    home.import_from_peer(one(&child), "peer-a", &mut pending)
        .unwrap();
    assert_eq!(pending.len(), 1, "the entry waits for its parent");
    home.import_from_peer(one(&parent), "peer-a", &mut pending)
        .unwrap();
    assert!(pending.is_empty());
    checked(&home, "a peer's batches on sync's path, out of order");

    // A roster change: Bob, who signed the first report off, revoked with no frontier — his
    // sign-off no longer stands, in the transaction that stores the revocation.
    let revoke = RevokePayload {
        key: f.d.public("bob"),
        reason: "stolen laptop".into(),
        frontier: Frontier::new(),
    };
    f.d.roster_entry("ada", Kind::RosterRevoke, &revoke)
        .unwrap();
    home.bundle_import(&f.bundle()).unwrap();
    checked(&home, "a revocation");
    assert_ne!(
        status(&home, r1),
        "final",
        "the revocation did not reach the row"
    );

    // Fork evidence: Rad signs two entries at one position; the second is kept beside the
    // first and freezes Rad in the second report.
    let (heads, seq) = f.d.ledger.position_for(&r2, &f.d.public("rad")).unwrap();
    let sides: Vec<(Entry, Vec<u8>)> = (0..2)
        .map(|side| {
            let p = Payload::to_bytes(&SectionWrite {
                section: "impression".into(),
                text: format!("side {side}"),
                fields: Default::default(),
                macros: Vec::new(),
                links: Vec::new(),
            });
            let e =
                f.d.sign("rad", Some(r2), Kind::SectionWrite, &p, Some(heads.clone()));
            assert_eq!(e.header().seq, seq);
            (e, p)
        })
        .collect();
    for (e, p) in sides {
        if let countersign_report::accept::Verdict::Fork { .. } =
            f.d.store(e.clone(), p.clone()).unwrap()
        {
            f.evidence.push((e, p));
        }
    }
    assert_eq!(f.evidence.len(), 1);
    // The first side alone, then the evidence: the second import stores no entry at all.
    let evidence = std::mem::take(&mut f.evidence);
    home.bundle_import(&f.bundle()).unwrap();
    let before = status(&home, r2);
    f.evidence = evidence;
    home.bundle_import(&f.bundle()).unwrap();
    let after = checked(&home, "fork evidence");
    let row2 = after.iter().find(|r| r.report == r2).unwrap();
    assert_eq!(row2.entries, 6, "the evidence is placed in its log");
    assert_eq!(before, "draft");

    // An entry held for later, released by the next write (made due here rather than waited
    // for: no test sleeps).
    let held = f.write("ada", r2, "technique", "Low dose.");
    let (entry, payload) = f.d.stored.last().cloned().unwrap();
    assert_eq!(entry.id(), held);
    f.sent = f.d.stored.len();
    home.store_mut()
        .write(|db| db.insert_held(&entry, Some(&payload), 0))
        .unwrap();
    let last_before = home.store().db().summary(&r2).unwrap().unwrap().last_ms;
    home.bundle_import(&bundle::encode(
        std::iter::empty::<(&Entry, Option<&[u8]>)>(),
    ))
    .unwrap();
    assert_eq!(home.store().db().held_count().unwrap(), 0);
    let released = checked(&home, "a held entry released");
    let row2 = released.iter().find(|r| r.report == r2).unwrap();
    assert!(row2.last_ms > last_before && row2.entries == 7, "{row2:?}");

    // A bundle repeating a stored report's create, read by a home that has not loaded that
    // report: the report is not taken for a new one holding only its create.
    drop(home);
    let mut home = crate::tests::open_home(&dir.path().join("a")).unwrap();
    let create =
        f.d.stored
            .iter()
            .find(|(e, _)| e.id() == r1)
            .cloned()
            .unwrap();
    let imported = home
        .bundle_import(&bundle::encode([(&create.0, Some(create.1.as_slice()))]))
        .unwrap();
    assert_eq!((imported.new, imported.duplicate), (0, 1));
    checked(&home, "a stored report's create again");
    assert_eq!(home.report_show(r1).unwrap().provenance.len(), 5);

    // Another home holding the same entries holds the same rows.
    let export = home.bundle_export(None).unwrap();
    let mut other = crate::tests::open_home(&dir.path().join("b")).unwrap();
    other.trust(anchor).unwrap();
    other.bundle_import(&export).unwrap();
    assert_eq!(rows(&other), rows(&home));
    assert!(home
        .verify(None)
        .unwrap()
        .problems
        .iter()
        .all(|p| p.code.as_deref() != Some("report_row")));
}

#[test]
fn local_writes_keep_rows_and_a_wiped_or_stale_table_is_rebuilt_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    let demo = home.demo().unwrap();
    assert_eq!(status(&home, demo.report), "final");
    let kept = checked(&home, "the demo's local writes");
    home.report_addendum(demo.report, "Compared with prior: unchanged.")
        .unwrap();
    assert_eq!(status(&home, demo.report), "amended");
    let second = home.report_new("1.2.3.4", "ct-chest", &[]).unwrap();
    home.report_write(second, "findings", "No nodule.").unwrap();
    let kept_after = checked(&home, "an addendum and a new report");
    assert_ne!(kept, kept_after);
    drop(home);

    // Wiped, and its version marker gone (a home from before the table).
    sql(
        dir.path(),
        "DELETE FROM report_summaries; DELETE FROM meta WHERE key = 'report_summaries';",
    );
    let home = crate::tests::open_home(dir.path()).unwrap();
    assert_eq!(rows(&home), kept_after);
    drop(home);

    // Stale: written by another version of the projection.
    sql(
        dir.path(),
        "UPDATE report_summaries SET status = 'draft', entries = 0; \
         UPDATE meta SET value = '0' WHERE key = 'report_summaries';",
    );
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    assert_eq!(rows(&home), kept_after);

    // `reindex` rebuilds on demand too.
    home.store_mut().write(|db| db.clear_summaries()).unwrap();
    assert!(rows(&home).is_empty());
    assert_eq!(home.reindex().unwrap(), 2);
    assert_eq!(rows(&home), kept_after);
}

/// The home's first data key stored by another process after this one opened, its keys then
/// closed: `reindex` opens the key and the sealed report's row says what its payload says,
/// as the writer's does. `reindex` checked for data keys before taking the write lock, so a
/// key stored in between was met closed and the row rebuilt without what only the payload
/// says (found by review, 2026-12-04); the check now runs under the lock, and this test fails
/// without it.
#[test]
fn reindex_opens_a_data_key_another_process_stored_after_this_one_opened() {
    let dir = tempfile::tempdir().unwrap();
    drop(crate::tests::founded(dir.path()));
    let mut reader = crate::tests::open_home(dir.path()).unwrap();
    assert!(!reader.keys_open(), "no data key yet, so none is opened");
    let mut writer = crate::tests::open_home(dir.path()).unwrap();
    let report = writer.report_new("1.2.3.77", "ct-chest", &[]).unwrap();
    writer
        .report_write(report, "findings", "No nodule.")
        .unwrap();
    let want = rows(&writer);
    assert_eq!(want.len(), 1, "{want:?}");
    assert_eq!(want[0].study, "1.2.3.77");
    assert!(!reader.keys_open());
    assert_eq!(reader.reindex().unwrap(), 1);
    assert_eq!(rows(&reader), want);
    assert!(reader.keys_open());
}

/// A stale report list in a home holding wrapped data keys, met by a store whose key is
/// closed: the rebuild waits for the key (judged under the write lock, where the keys are
/// counted), and rows are not rebuilt without what only sealed payloads say. `Home::open`
/// counted the keys before `ensure` took the lock, so a home's first key stored by another
/// process in between was not waited for (found by review, 2026-12-04).
#[test]
fn a_stale_table_waits_for_the_key_when_the_home_holds_wrapped_keys() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::founded(dir.path());
    let report = home.report_new("1.2.3.79", "ct-chest", &[]).unwrap();
    home.report_write(report, "findings", "No nodule.").unwrap();
    let want = rows(&home);
    assert_eq!(want[0].study, "1.2.3.79");
    let kek = home.store().kek();
    drop(home);
    sql(
        dir.path(),
        "UPDATE meta SET value = '0' WHERE key = 'report_summaries';",
    );
    let mut store = Store::open(&dir.path().join("ledger.sqlite3")).unwrap();
    assert!(super::ensure(&mut store).unwrap(), "waits for the key");
    assert!(!super::current(&store.db()).unwrap());
    store.set_kek(kek);
    assert!(!super::ensure(&mut store).unwrap());
    assert!(super::current(&store.db()).unwrap());
    assert_eq!(store.db().summaries_by_report(None, 100_000).unwrap(), want);
}

#[test]
fn pages_return_every_report_once_newest_change_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.init(
        "Dr Ada",
        countersign_ledger::Role::Attending,
        Some("R"),
        None,
    )
    .unwrap();
    let mut reports = Vec::new();
    for i in 0..23 {
        let r = home
            .report_new(&format!("1.2.3.{}", i % 5), "ct-chest", &[])
            .unwrap();
        reports.push(r);
    }
    // Some written again later: they move to the front.
    let mut x = 0x5eedu64;
    for _ in 0..15 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = reports[(x % reports.len() as u64) as usize];
        home.report_write(r, "findings", &format!("rev {x}"))
            .unwrap();
    }
    let all = home.report_list().unwrap();
    assert_eq!(all.len(), reports.len());
    let mut order = all.clone();
    order.sort_by_key(|r| std::cmp::Reverse((r.last_change_ms, r.report)));
    assert_eq!(all, order);
    for limit in [1, 4, 22, 23, 100] {
        let mut got = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = home.report_page(after.as_deref(), limit).unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = Some(last.cursor.clone());
            got.extend(page);
        }
        assert_eq!(got, all, "pages of {limit}");
    }
    assert_eq!(
        home.report_page(None, 0).unwrap_err().code(),
        "invalid_input"
    );
    assert_eq!(
        home.report_page(Some("nonsense"), 5).unwrap_err().code(),
        "invalid_input"
    );

    // The study list pages through the imported studies, each with its reports.
    home.store_mut()
        .write(|db| {
            for s in 0..5u64 {
                for n in 0..3u64 {
                    db.insert_instance(&countersign_store::Instance {
                        sha256: countersign_ledger::Hash::of(&(s * 10 + n).to_le_bytes()).0,
                        size: 1,
                        study: format!("1.2.3.{s}"),
                        series: Some("1".into()),
                        instance: Some(format!("{n}")),
                        patient: Some(format!("P{s}")),
                        patient_id: None,
                        study_date: (s != 2).then(|| format!("2026010{s}")),
                        modality: Some("CT".into()),
                        study_description: None,
                        series_description: None,
                        sop_class: "CT".into(),
                        frames: 1,
                        imported_ms: 0,
                        instance_number: Some(n as i64),
                        slice_location: None,
                        sop_class_uid: None,
                        plane: None,
                        position: None,
                        issuer: None,
                    })?;
                }
            }
            Ok::<_, AppError>(())
        })
        .unwrap();
    let whole = home.study_rows().unwrap();
    let names: Vec<&str> = whole.iter().map(|s| s.study.study.as_str()).collect();
    // Newest date first, the undated study last.
    assert_eq!(
        names,
        ["1.2.3.4", "1.2.3.3", "1.2.3.1", "1.2.3.0", "1.2.3.2"]
    );
    assert!(whole.iter().all(|s| s.study.instances == 3));
    assert_eq!(whole.iter().map(|s| s.reports.len()).sum::<usize>(), 23);
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = home.study_page(after.as_deref(), 2).unwrap();
        paged.extend(page.studies.into_iter().map(|s| s.study.study));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(paged, names);
}

#[test]
fn verify_holds_one_report_log_at_a_time_and_names_a_row_that_differs() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.init(
        "Dr Ada",
        countersign_ledger::Role::Attending,
        Some("R"),
        None,
    )
    .unwrap();
    let reports: Vec<LogId> = (0..30)
        .map(|i| {
            let r = home
                .report_new(&format!("1.2.{i}"), "ct-chest", &[])
                .unwrap();
            home.report_write(r, "findings", "Clear.").unwrap();
            r
        })
        .collect();
    let (report, held) = crate::verify::verify(&home.store().db(), None, None).unwrap();
    assert!(report.ok, "{:?}", report.problems);
    assert_eq!(report.entries, 1 + 60);
    // Memory follows one report log, not the store.
    assert_eq!(held.logs, 1);

    // A row that says something else, a row missing, a row for no report.
    let target = reports[7];
    let gone = reports[9];
    sql(
        dir.path(),
        &format!(
            "UPDATE report_summaries SET status = 'final' WHERE report = x'{}'",
            target.to_hex()
        ),
    );
    home.store_mut()
        .write(|db| {
            db.delete_summary(&gone)?;
            let mut orphan = db.summary(&target)?.unwrap();
            orphan.report = countersign_ledger::Hash::of(b"no such report");
            db.put_summary(&orphan)?;
            Ok::<_, AppError>(())
        })
        .unwrap();
    let v = home.verify(None).unwrap();
    assert!(!v.ok);
    let named: Vec<&str> = v
        .problems
        .iter()
        .filter(|p| p.code.as_deref() == Some("report_row"))
        .map(|p| p.entry.as_str())
        .collect();
    let mut want = vec![
        target.to_hex(),
        gone.to_hex(),
        countersign_ledger::Hash::of(b"no such report").to_hex(),
    ];
    want.sort();
    let mut named_sorted: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    named_sorted.sort();
    assert_eq!(named_sorted, want, "{:?}", v.problems);
    // One report verified checks its own row only.
    let one = home.verify(Some(target)).unwrap();
    assert_eq!(one.problems.len(), 1, "{:?}", one.problems);
    assert!(home.verify(Some(reports[0])).unwrap().ok);
    home.reindex().unwrap();
    assert!(home.verify(None).unwrap().ok);
}
