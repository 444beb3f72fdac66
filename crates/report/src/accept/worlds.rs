//! Random department histories — roster forks placed as evidence, readmissions naming
//! changes, a template published twice, role changes, revocations by two admins — delivered
//! in every order, and reloaded as a restarting home does: every home holding the same
//! entries shows the same department. Seeded: a failure names its seed and replays.

use std::collections::BTreeMap;

use countersign_ledger::roster::{Frontier, ReadmitPayload, RevokePayload};
use countersign_ledger::{Entry, EntryId, Kind, LogId, Role};

use super::regressions::{bytes, key_of, sign_raw, write};
use super::*;
use crate::fixture::Department;
use crate::payload::{ReportStatus, Status};

fn final_payload(v: &BTreeMap<String, EntryId>) -> ReportStatus {
    ReportStatus {
        status: Status::Final,
        sections: v.clone(),
    }
}

pub(super) struct Rng(pub(super) u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WHO: [&str; 5] = ["ada", "rex", "cara", "rad", "bob"];

/// Signed entries with their payloads.
pub(super) type Signed = Vec<(Entry, Vec<u8>)>;

/// A random department history; returns every entry any verdict took (New or Fork), in the
/// order the first home took them, the report logs, and the time to judge them at.
pub(super) fn random_world(seed: u64, steps: usize) -> (Signed, Vec<LogId>, u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut d = Department::new();
    let mut all: Vec<(Entry, Vec<u8>)> = d.stored.clone();
    let network = d.network();
    let mut bob = d.member("bob");
    bob.admin = true;
    d.roster_entry("ada", Kind::RosterMember, &bob).unwrap();
    all.push(d.stored.last().unwrap().clone());
    let custom = {
        let mut t = crate::template::template("ct-chest").unwrap().clone();
        t.name = "ct-chest-local".into();
        t
    };
    let mut reports = vec![d.report("ada", "ct-chest")];
    all.push(d.stored.last().unwrap().clone());
    let mut changes: Vec<EntryId> = Vec::new();
    let take = |d: &mut Department, all: &mut Vec<(Entry, Vec<u8>)>, e: Entry, p: Vec<u8>| match d
        .ledger
        .accept(&e, Some(&p), d.clock)
    {
        Ok(Verdict::New(_)) => {
            d.stored.push((e.clone(), p.clone()));
            all.push((e, p));
        }
        Ok(Verdict::Fork { .. }) => all.push((e, p)),
        _ => {}
    };
    for _ in 0..steps {
        let r = reports[rng.below(reports.len())];
        let who = WHO[rng.below(WHO.len())];
        let admin = ["ada", "bob"][rng.below(2)];
        match rng.below(12) {
            0..=3 => {
                let s = ["technique", "findings", "impression"][rng.below(3)];
                let p = bytes(&write(s, &format!("{who} {}", d.clock)));
                // Sometimes on stale parents: concurrency.
                let parents = if rng.below(3) == 0 {
                    let dag = d.ledger.report_as_judged(&r).unwrap().dag();
                    let key = d.public(who);
                    let seq = dag.next_seq(&key);
                    let mut ps = dag.at_position(&key, seq - 1);
                    ps.truncate(1);
                    ps.push(r);
                    ps.sort();
                    ps.dedup();
                    Some(ps)
                } else {
                    None
                };
                let e = d.sign(who, Some(r), Kind::SectionWrite, &p, parents);
                take(&mut d, &mut all, e, p);
            }
            4 => {
                let log = d.ledger.report(&r).unwrap();
                let mut v = BTreeMap::new();
                for s in ["technique", "findings", "impression"] {
                    if let Some(x) = log.latest_versions(s, |_| true).first() {
                        v.insert(s.to_string(), *x);
                    }
                }
                let p = bytes(&final_payload(&v));
                let e = d.sign(
                    ["ada", "bob", who][rng.below(3)],
                    Some(r),
                    Kind::ReportStatus,
                    &p,
                    None,
                );
                take(&mut d, &mut all, e, p);
            }
            5 => {
                let target = WHO[1 + rng.below(4)];
                let log = d.ledger.report_as_judged(&r).unwrap();
                let key = d.public(target);
                let theirs: Vec<EntryId> = log
                    .dag()
                    .topological()
                    .into_iter()
                    .filter(|id| log.dag().position(id).is_some_and(|(a, _)| a == key))
                    .collect();
                let mut frontier = Frontier::new();
                if !theirs.is_empty() && rng.below(2) == 0 {
                    frontier.insert(r, theirs[rng.below(theirs.len())]);
                }
                let p = bytes(&RevokePayload {
                    key,
                    reason: String::new(),
                    frontier,
                });
                let stale = rng.below(2) == 0;
                let parents = stale.then(|| {
                    let dag = d.ledger.roster_log().unwrap().dag();
                    let (mut h, _) = (dag.heads(), 0);
                    h.truncate(1);
                    let k = d.public(admin);
                    let seq = dag.next_seq(&k);
                    h.extend(dag.at_position(&k, seq - 1).into_iter().take(1));
                    h.sort();
                    h.dedup();
                    h
                });
                let e = d.sign(admin, Some(network), Kind::RosterRevoke, &p, parents);
                changes.push(e.id());
                take(&mut d, &mut all, e, p);
            }
            6 => {
                let target = WHO[1 + rng.below(3)];
                let mut m = d.member(target);
                m.role = [Role::Attending, Role::Resident, Role::Radiologist][rng.below(3)];
                let log = d.ledger.report_as_judged(&r).unwrap();
                let key = d.public(target);
                if let Some(last) = log
                    .dag()
                    .topological()
                    .into_iter()
                    .rev()
                    .find(|id| log.dag().position(id).is_some_and(|(a, _)| a == key))
                {
                    if rng.below(2) == 0 {
                        m.frontier.insert(r, last);
                    }
                }
                let p = bytes(&m);
                let e = d.sign(admin, Some(network), Kind::RosterMember, &p, None);
                changes.push(e.id());
                take(&mut d, &mut all, e, p);
            }
            7 => {
                // A readmission of some entry, naming some change or none.
                let log = d.ledger.report_as_judged(&r).unwrap();
                let ids = log.dag().topological();
                let entry = ids[rng.below(ids.len())];
                let (author, _) = log.dag().position(&entry).unwrap();
                let change = if changes.is_empty() || rng.below(2) == 0 {
                    None
                } else {
                    Some(changes[rng.below(changes.len())])
                };
                let p = bytes(&ReadmitPayload {
                    key: author,
                    log: r,
                    entry,
                    change,
                });
                let e = d.sign(admin, Some(network), Kind::RosterReadmit, &p, None);
                take(&mut d, &mut all, e, p);
            }
            8 => {
                let p = bytes(&crate::payload::TemplatePublish {
                    template: custom.clone(),
                });
                let e = d.sign(admin, Some(network), Kind::TemplatePublish, &p, None);
                take(&mut d, &mut all, e, p);
                if rng.below(2) == 0 {
                    let create = crate::payload::ReportCreate {
                        study: format!("1.2.{}", d.clock),
                        template: custom.name.clone(),
                        template_hash: custom.content_hash(),
                        images: vec![],
                    };
                    let p = bytes(&create);
                    let e = d.sign(WHO[rng.below(5)], None, Kind::ReportCreate, &p, None);
                    let id = e.id();
                    let before = all.len();
                    take(&mut d, &mut all, e, p);
                    if all.len() > before {
                        reports.push(id);
                    }
                }
            }
            9 => {
                // A roster fork by the admin: two member changes at one position.
                let key = key_of(admin);
                let (heads, seq) = d.ledger.position_for(&network, &key.public()).unwrap();
                for n in 0..2 {
                    let mut m = d.member(WHO[1 + rng.below(3)]);
                    m.name = format!("fork {n} {}", d.clock);
                    let p = bytes(&m);
                    let e = sign_raw(
                        &mut d,
                        &key,
                        network,
                        seq,
                        Kind::RosterMember,
                        &p,
                        heads.clone(),
                    );
                    take(&mut d, &mut all, e, p);
                }
            }
            10 => {
                // A report fork by someone.
                let key = key_of(who);
                let (heads, seq) = d.ledger.position_for(&r, &key.public()).unwrap();
                for n in 0..2 {
                    let p = bytes(&write("findings", &format!("side {n} {}", d.clock)));
                    let e = sign_raw(&mut d, &key, r, seq, Kind::SectionWrite, &p, heads.clone());
                    take(&mut d, &mut all, e, p);
                }
            }
            _ => {
                // Promote someone to admin, by either admin.
                let target = WHO[1 + rng.below(3)];
                let mut m = d.member(target);
                m.admin = rng.below(2) == 0;
                let p = bytes(&m);
                let e = d.sign(admin, Some(network), Kind::RosterMember, &p, None);
                changes.push(e.id());
                take(&mut d, &mut all, e, p);
            }
        }
    }
    (all, reports, d.clock)
}

fn fingerprint(l: &mut Ledger, reports: &[LogId]) -> Vec<String> {
    let mut out: Vec<String> = l
        .refused()
        .into_iter()
        .map(|(log, id, r)| format!("{log} {id} {}", r.code()))
        .collect();
    let roster = l.roster().clone();
    for m in roster.members() {
        out.push(format!(
            "{} {} admin={} sen={:?} rev={:?}",
            m.key,
            m.role,
            m.admin,
            m.seniority,
            m.revoked.as_ref().map(|r| r.entry)
        ));
    }
    for r in reports {
        if let Some(log) = l.report(r) {
            let v = log.project(&roster, |_| crate::view::EntryStatus::Verified);
            out.push(format!("{r} {:?} {} held", v.status, log.len()));
        } else {
            out.push(format!("{r} missing"));
        }
    }
    out
}

/// How two fingerprints differ: their sizes and the first lines that do not agree.
fn differs(got: &[String], want: &[String]) -> String {
    let diff: Vec<_> = got
        .iter()
        .zip(want)
        .filter(|(a, b)| a != b)
        .take(3)
        .collect();
    format!(
        "{} vs {} lines; first diffs {diff:?}",
        got.len(),
        want.len()
    )
}

fn feed(entries: &[(Entry, Vec<u8>)], now: u64, batch: bool) -> Ledger {
    let mut l = Ledger::default();
    let mut pending: Vec<&(Entry, Vec<u8>)> = entries.iter().collect();
    loop {
        let before = pending.len();
        pending.retain(|(e, p)| {
            let res = if batch {
                l.accept_unjudged(e, Some(p), now)
                    .map(|v| v.map(|_| Standing::Accepted))
            } else {
                l.accept(e, Some(p), now)
            };
            match res {
                Err(r) if r.waits_for_dependency() => true,
                Err(Rejection::Rule(countersign_ledger::rules::RuleError::ChainBroken {
                    ..
                })) => true,
                Err(r) => panic!("rejected outright: {} {r}", e.id()),
                Ok(_) => false,
            }
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    assert!(pending.is_empty(), "{} never taken", pending.len());
    l
}

#[test]
fn any_delivery_order_of_a_random_department_shows_the_same() {
    let seeds: u64 = 60;
    let mut bad = Vec::new();
    for seed in 1..=seeds {
        let (all, reports, now) = random_world(seed, 40);
        let mut first = feed(&all, now, false);
        let want = fingerprint(&mut first, &reports);
        let mut rng = Rng(seed ^ 0xdead_beef);
        for round in 0..3 {
            let mut shuffled = all.clone();
            for i in (2..shuffled.len()).rev() {
                let j = 1 + rng.below(i);
                shuffled.swap(i, j);
            }
            let mut other = feed(&shuffled, now, round % 2 == 0);
            let got = fingerprint(&mut other, &reports);
            if got != want {
                eprintln!("seed {seed} round {round}: {}", differs(&got, &want));
                bad.push(seed);
                break;
            }
        }
    }
    assert!(bad.is_empty(), "order-dependent on seeds {bad:?}");
}

/// A home restarting — rows of each log (roster first) through `load` in arrival order, then
/// that log's fork evidence through `insert_evidence`, offered again with what waited until
/// nothing more fits, as `LedgerState::load_rows` does — shows what it showed live.
#[test]
fn a_restarted_home_shows_what_it_showed_live() {
    let seeds: u64 = 60;
    let mut bad = Vec::new();
    for seed in 1..=seeds {
        let (all, reports, now) = random_world(seed, 40);
        let mut live = Ledger::default();
        let mut rows: Vec<&(Entry, Vec<u8>)> = Vec::new();
        let mut forks: Vec<&(Entry, Vec<u8>)> = Vec::new();
        for x in &all {
            match live.accept(&x.0, Some(&x.1), now) {
                Ok(Verdict::New(_)) => rows.push(x),
                Ok(Verdict::Fork { .. }) => forks.push(x),
                other => panic!("{other:?}"),
            }
        }
        let want = fingerprint(&mut live, &reports);
        let mut home = Ledger::default();
        let network = all[0].0.id();
        let mut logs: Vec<LogId> = vec![network];
        for (e, _) in &rows {
            if !logs.contains(&e.log_id()) {
                logs.push(e.log_id());
            }
        }
        for log in logs {
            let mut waiting = Vec::new();
            for (e, p) in rows.iter().filter(|(e, _)| e.log_id() == log) {
                if home.load(e, Some(p)).is_err() {
                    waiting.push((e, p));
                }
            }
            // Evidence offered again with the rows until nothing more fits.
            let mut ev: Vec<_> = forks.iter().filter(|(e, _)| e.log_id() == log).collect();
            loop {
                let before = waiting.len() + ev.len();
                ev.retain(|(e, p)| !home.insert_evidence(e, Some(p)));
                waiting.retain(|(e, p)| home.load(e, Some(p)).is_err());
                if waiting.len() + ev.len() == before {
                    break;
                }
            }
            for (e, p) in &waiting {
                eprintln!(
                    "seed {seed}: never loads {} {:?}: {:?}",
                    e.id(),
                    e.header().kind,
                    home.load(e, Some(p)).err().map(|r| r.to_string())
                );
            }
            assert!(waiting.is_empty());
        }
        let got = fingerprint(&mut home, &reports);
        if got != want {
            eprintln!("seed {seed}: {}", differs(&got, &want));
            bad.push(seed);
        }
    }
    assert!(bad.is_empty(), "restart differs on seeds {bad:?}");
}
