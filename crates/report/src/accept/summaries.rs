//! Report summaries kept up to date from [`Ledger::take_changes`] and
//! [`Ledger::roster_impact`] — projecting again only the logs an entry was added to, the logs
//! fork evidence froze an author in, and the logs a roster change can reach — read exactly as
//! every report projected afresh, after every entry of random department histories (roster
//! forks, revocations with and without frontiers, readmissions, role changes, a template
//! published twice), delivered in order and in shuffled orders, one at a time or in batches.

use std::collections::{BTreeMap, BTreeSet};

use countersign_ledger::{Entry, LogFamily, LogId};

use super::worlds::{random_world, Rng};
use super::*;
use crate::log::Summary;

/// What a list row shows, and every refusal in the log with its rule: finer than the row, so
/// that a log whose judgement changed but was not named cannot hide behind an unchanged row.
type Row = (Summary, Vec<(EntryId, &'static str)>);

fn row_of(l: &mut Ledger, log: &LogId) -> Option<Row> {
    let roster = l.roster().clone();
    let r = l.report(log)?;
    let refused = r
        .refused()
        .into_iter()
        .map(|(id, e)| (id, e.code()))
        .collect();
    Some((r.summary(&roster), refused))
}

/// Every loaded report's row, projected afresh.
fn all_rows(l: &mut Ledger) -> BTreeMap<LogId, Row> {
    let ids: Vec<LogId> = l.report_ids().copied().collect();
    ids.into_iter()
        .filter_map(|id| row_of(l, &id).map(|r| (id, r)))
        .collect()
}

/// The logs a change names: those `stored` entries went into, those frozen, and those the
/// roster change reaches (found as a home finds them: logs with an entry by an author named,
/// reports on a template named).
fn named_logs(l: &mut Ledger, stored: &[LogId]) -> BTreeSet<LogId> {
    let changes = l.take_changes();
    let impact = l.roster_impact(&changes);
    let mut logs: BTreeSet<LogId> = stored.iter().copied().collect();
    logs.extend(changes.evidence.iter().copied());
    if !changes.roster {
        assert!(impact.is_empty());
    }
    for id in l.report_ids() {
        let r = l.report_as_judged(id).expect("loaded");
        let by_author = r
            .dag()
            .topological()
            .iter()
            .filter_map(|e| r.get(e))
            .any(|e| impact.authors.contains(&e.author));
        if by_author || impact.templates.contains(&r.template().name) {
            logs.insert(*id);
        }
    }
    logs
}

/// Feeds `entries` in batches of `batch` (1: one at a time through `accept`), keeping rows
/// up to date from the changes after each batch and checking them against all rows afresh.
/// Returns how many rows were projected again, and how many of those for a roster change.
fn check_incremental(seed: u64, entries: &[&(Entry, Vec<u8>)], now: u64, batch: usize) -> usize {
    let mut l = Ledger::default();
    let mut kept: BTreeMap<LogId, Row> = BTreeMap::new();
    let mut pending: Vec<&(Entry, Vec<u8>)> = entries.to_vec();
    let mut reprojected = 0;
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        for chunk in pending.chunks(batch) {
            let mut stored = Vec::new();
            for x in chunk {
                let (e, p) = (&x.0, &x.1);
                let verdict = if batch == 1 {
                    l.accept(e, Some(p), now).map(|v| v.map(|_| ()))
                } else {
                    l.accept_unjudged(e, Some(p), now)
                };
                match verdict {
                    Ok(Verdict::New(())) if e.header().kind.family() == LogFamily::Report => {
                        stored.push(e.log_id())
                    }
                    Ok(_) => {}
                    Err(_) => waiting.push(*x),
                }
            }
            for log in named_logs(&mut l, &stored) {
                reprojected += 1;
                match row_of(&mut l, &log) {
                    Some(row) => kept.insert(log, row),
                    None => kept.remove(&log),
                };
            }
            let afresh = all_rows(&mut l);
            if kept != afresh {
                let stale: Vec<_> = afresh
                    .iter()
                    .filter(|(log, row)| kept.get(log) != Some(row))
                    .map(|(log, row)| (log, row, kept.get(log)))
                    .collect();
                let kinds: Vec<_> = chunk
                    .iter()
                    .map(|x| (x.0.header().kind, x.0.log_id()))
                    .collect();
                panic!("seed {seed} (batches of {batch}): after {kinds:?} rows kept differ from rows afresh for {stale:#?}");
            }
        }
        if waiting.len() == before {
            break;
        }
        pending = waiting;
    }
    reprojected
}

#[test]
fn rows_kept_from_changes_read_as_every_report_projected_afresh() {
    let mut reprojected = 0;
    let mut logs = 0;
    for seed in 1..=40u64 {
        let (all, reports, now) = random_world(seed, 40);
        logs += reports.len();
        let in_order: Vec<&(Entry, Vec<u8>)> = all.iter().collect();
        reprojected += check_incremental(seed, &in_order, now, 1);
        let mut rng = Rng(seed ^ 0x5eed);
        let mut shuffled = in_order.clone();
        for i in (2..shuffled.len()).rev() {
            let j = 1 + rng.below(i);
            shuffled.swap(i, j);
        }
        check_incremental(seed, &shuffled, now, 1 + rng.below(7));
    }
    // Not every report again after every entry: the point of keeping rows.
    assert!(reprojected > 0 && logs > 0);
}

#[test]
fn a_roster_change_names_the_authors_and_templates_it_reaches() {
    use crate::fixture::Department;
    let mut d = Department::new();
    let report = d.report("ada", "ct-chest");
    d.write_section("rex", report, "findings", "Nodule.")
        .unwrap();
    d.ledger.take_changes();
    // Nothing changed: nothing named.
    let quiet = d.ledger.take_changes();
    assert!(!quiet.roster && quiet.evidence.is_empty());
    assert!(d.ledger.roster_impact(&quiet).is_empty());
    // A role change of the resident names the resident only.
    let mut m = d.member("rex");
    m.role = countersign_ledger::Role::Radiologist;
    d.roster_entry("ada", countersign_ledger::Kind::RosterMember, &m)
        .unwrap();
    let changes = d.ledger.take_changes();
    assert!(changes.roster);
    let impact = d.ledger.roster_impact(&changes);
    assert_eq!(impact.authors, vec![d.public("rex")]);
    assert!(impact.templates.is_empty());
    // A template published names its name.
    let mut t = crate::template::template("ct-chest").unwrap().clone();
    t.name = "ct-chest-local".into();
    d.publish(&t);
    let changes = d.ledger.take_changes();
    let impact = d.ledger.roster_impact(&changes);
    assert_eq!(impact.templates, vec!["ct-chest-local".to_string()]);
    assert!(impact.authors.is_empty());
}
