//! The report list's rows: paging, walks by index, and the reads that follow what is new.

use std::collections::BTreeSet;

use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};

use super::*;
use crate::{Instance, Store};

/// A seeded xorshift: every test replays.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn row(i: u64, last_ms: u64, study: &str) -> SummaryRow {
    SummaryRow {
        report: Hash::of(&i.to_le_bytes()),
        study: study.into(),
        template: "ct-chest".into(),
        status: "draft".into(),
        created_ms: i,
        last_ms,
        entries: 1,
    }
}

/// The plan SQLite makes for `sql`, one line per step.
fn plan(store: &Store, sql: &str) -> String {
    let conn = store.db().conn();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let count = stmt.parameter_count();
    let args: Vec<rusqlite::types::Value> = (0..count)
        .map(|_| rusqlite::types::Value::Integer(1))
        .collect();
    let rows: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    rows.join("\n")
}

#[test]
fn pages_by_change_return_every_report_once_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let mut rng = Rng(0x5eed_0001);
    // Few distinct times, so that many rows tie on their last change.
    let rows: Vec<SummaryRow> = (0..500)
        .map(|i| row(i, 1_000 + rng.below(40), "1.2.3"))
        .collect();
    store
        .write(|db| rows.iter().try_for_each(|r| db.put_summary(r)))
        .unwrap();
    let mut want = rows.clone();
    want.sort_by_key(|r| std::cmp::Reverse((r.last_ms, r.report)));
    for limit in [1, 7, 100, 499, 500, 501] {
        let mut got = Vec::new();
        let mut after = None;
        loop {
            let page = store.db().summaries_by_change(after, limit).unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = Some(ChangeCursor {
                last_ms: last.last_ms,
                report: last.report,
            });
            got.extend(page);
        }
        assert_eq!(got, want, "pages of {limit}");
    }
    // A row replaced moves; the table keeps one row per report.
    let mut changed = rows[3].clone();
    changed.last_ms = 5_000;
    changed.status = "final".into();
    store.write(|db| db.put_summary(&changed)).unwrap();
    assert_eq!(store.db().count_summaries().unwrap(), 500);
    assert_eq!(
        store.db().summaries_by_change(None, 1).unwrap(),
        vec![changed.clone()]
    );
    assert_eq!(store.db().summary(&changed.report).unwrap(), Some(changed));
}

#[test]
fn pages_and_walks_go_through_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let by_change = plan(
        &store,
        &format!(
            "SELECT {SUMMARY_COLUMNS} FROM report_summaries WHERE (last_ms, report) < (?, ?) \
             ORDER BY last_ms DESC, report DESC LIMIT ?"
        ),
    );
    assert!(
        by_change.contains("report_summaries_by_change"),
        "{by_change}"
    );
    let by_study = plan(
        &store,
        &format!(
            "SELECT {SUMMARY_COLUMNS} FROM report_summaries WHERE study = ?1 \
             ORDER BY created_ms, report"
        ),
    );
    assert!(by_study.contains("report_summaries_by_study"), "{by_study}");
    let by_log = plan(&store, &entries_by_log_after_sql());
    assert!(by_log.contains("entries_by_log"), "{by_log}");
    assert!(by_log.contains("SEARCH l USING"), "{by_log}");
    let studies = plan(
        &store,
        "SELECT study_date, study FROM instances WHERE study_date <= ?1 \
         AND (study_date < ?1 OR study > ?2) GROUP BY study_date, study \
         ORDER BY study_date DESC, study LIMIT ?3",
    );
    assert!(studies.contains("instances_by_date"), "{studies}");
    let by_report = plan(&store, SUMMARIES_BY_REPORT);
    assert!(by_report.starts_with("SEARCH l USING"), "{by_report}");
    assert!(by_report.contains("INTEGER PRIMARY KEY"), "{by_report}");
    let one = plan(&store, &summary_of_report_sql());
    assert!(one.contains("INTEGER PRIMARY KEY"), "{one}");
    assert!(!one.contains("SCAN"), "{one}");
    let next = plan(&store, NEXT_LOG);
    assert!(next.contains("SEARCH l USING COVERING INDEX"), "{next}");
    // What every write asks: the entries it stored, by their arrival key alone.
    let since = plan(&store, "SELECT log FROM entries WHERE arrival > ?1");
    assert!(since.contains("INTEGER PRIMARY KEY"), "{since}");
    assert!(!since.contains("SCAN"), "{since}");
    for p in [&by_change, &by_study, &by_log, &studies, &next, &by_report] {
        assert!(
            !p.contains("TEMP B-TREE"),
            "sorts instead of walking an index: {p}"
        );
        assert!(
            !p.contains("SCAN e\n") && !p.starts_with("SCAN report_summaries"),
            "{p}"
        );
    }
}

/// What every write and every whole pull ask of the entries reads only the rows stored
/// since a given arrival, through the rowid: never a walk of an index over the whole
/// store (`SELECT DISTINCT log ... WHERE arrival > ? AND kind = ?` was planned as a walk
/// of the whole (log, arrival) index, once per write).
#[test]
fn per_write_and_per_pull_reads_follow_what_is_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    for sql in [
        crate::erasure::LOGS_WITH_KIND_SINCE,
        crate::sync_state::REPORTS_LACKING_KEYS_SINCE,
        crate::sync_state::STILL_LACKING_KEY,
    ] {
        let p = plan(&store, sql);
        let scans = p
            .lines()
            .filter(|l| l.contains("SCAN") && !l.contains("CONSTANT ROW"));
        assert_eq!(scans.count(), 0, "a scan in {sql}:\n{p}");
        assert!(!p.contains("TEMP B-TREE"), "a sort in {sql}:\n{p}");
    }
    for sql in [
        crate::erasure::LOGS_WITH_KIND_SINCE,
        crate::sync_state::REPORTS_LACKING_KEYS_SINCE,
    ] {
        let p = plan(&store, sql);
        assert!(
            p.starts_with("SEARCH e USING INTEGER PRIMARY KEY")
                || p.starts_with("SEARCH entries USING INTEGER PRIMARY KEY"),
            "{sql}:\n{p}"
        );
    }
}

#[test]
fn study_pages_list_each_study_once_newest_first_undated_last() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let mut rng = Rng(0x5eed_0002);
    let mut studies: BTreeSet<(Option<String>, String)> = BTreeSet::new();
    let mut n = 0u64;
    store
        .write(|db| {
            for s in 0..60u64 {
                let date = (rng.below(5) > 0).then(|| format!("2026010{}", rng.below(4)));
                let study = format!("1.2.{}", rng.below(1000) * 100 + s);
                studies.insert((date.clone(), study.clone()));
                for _ in 0..1 + rng.below(4) {
                    n += 1;
                    db.insert_instance(&Instance {
                        sha256: Hash::of(&n.to_le_bytes()).0,
                        size: 1,
                        study: study.clone(),
                        series: Some("1".into()),
                        instance: Some(format!("{n}")),
                        patient: None,
                        patient_id: None,
                        study_date: date.clone(),
                        modality: None,
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
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let mut want: Vec<(Option<String>, String)> = studies.into_iter().collect();
    want.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for limit in [1, 3, 59, 60, 61] {
        let mut got = Vec::new();
        let mut after: Option<StudyCursor> = None;
        loop {
            let page = store.db().study_dates_after(after.as_ref(), limit).unwrap();
            assert!(page.len() <= limit);
            let Some((date, study)) = page.last().cloned() else {
                break;
            };
            after = Some(StudyCursor { date, study });
            got.extend(page);
        }
        assert_eq!(got, want, "pages of {limit}");
    }
}

#[test]
fn the_store_is_walked_log_by_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let key = SecretKey::from_seed(&[7; 32]);
    let net = Hash::of(b"net");
    let mut logs = Vec::new();
    let mut all = Vec::new();
    // Three logs written interleaved: arrival order is not log order.
    for l in 0..3u64 {
        let p = format!("{{\"study\":\"{l}\"}}").into_bytes();
        let h = Header::new(
            net,
            Hash::ZERO,
            key.public(),
            1,
            l,
            Kind::ReportCreate,
            vec![],
            &p,
        );
        let e = Entry::sign(h, &key).unwrap();
        logs.push((e.id(), e.id()));
        all.push((e, p));
    }
    for seq in 2..5u64 {
        for (log, head) in logs.iter_mut() {
            let p = format!("{{\"n\":{seq}}}").into_bytes();
            let h = Header::new(
                net,
                *log,
                key.public(),
                seq,
                seq,
                Kind::SectionWrite,
                vec![*head],
                &p,
            );
            let e = Entry::sign(h, &key).unwrap();
            *head = e.id();
            all.push((e, p));
        }
    }
    store
        .write(|db| {
            all.iter()
                .try_for_each(|(e, p)| db.insert_entry(e, Some(p)).map(|_| ()))
        })
        .unwrap();
    let db = store.db();
    let mut walked = Vec::new();
    let (mut log, mut arrival) = (Vec::new(), 0);
    loop {
        let chunk = db.entries_by_log_after(&log, arrival, 5).unwrap();
        let Some(last) = chunk.last() else { break };
        (log, arrival) = (last.log.clone(), last.arrival);
        walked.extend(chunk.into_iter().map(|r| (r.log, r.arrival)));
    }
    let mut want = walked.clone();
    want.sort();
    assert_eq!(walked, want);
    assert_eq!(walked.len(), all.len());
    let mut ids: Vec<LogId> = logs.iter().map(|(l, _)| *l).collect();
    ids.sort();
    let mut next = Vec::new();
    let mut at = None;
    while let Some(l) = db.next_log(at.as_ref()).unwrap() {
        next.push(l);
        at = Some(l);
    }
    assert_eq!(next, ids);
    assert_eq!(db.logs_since(9).unwrap().len(), 3);
    assert_eq!(
        db.logs_since(all.len() as i64).unwrap(),
        Vec::<LogId>::new()
    );
    assert_eq!(db.logs_by_authors(&[key.public()]).unwrap(), ids);
    assert_eq!(db.log_of(&all[4].0.id()).unwrap(), Some(all[4].0.log_id()));
}
