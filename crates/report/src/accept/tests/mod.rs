//! Random histories of writes, co-signs, sign-offs, roster changes, revocations and forks,
//! signed by a department of six with any timestamps. This file holds the generator ([`op`]) and
//! the player ([`play`]) with the helpers they sign with; the properties checked on the
//! histories are in `properties.rs`, the intake's handling of an entry from the future or by a
//! stranger in `intake.rs`.

use std::collections::BTreeMap;

use countersign_ledger::roster::{Frontier, MemberPayload, RevokePayload};
use countersign_ledger::{Entry, EntryId, Kind, LogId, Role};
use proptest::prelude::*;

use super::*;
use crate::fixture::{Department, PEOPLE};
use crate::payload::{SectionCosign, SectionWrite, Status};
use crate::view::ReportState;

mod intake;
mod properties;

const SECTIONS: [&str; 3] = ["technique", "findings", "impression"];

/// One step of a history. Indexes pick among what exists when the step runs.
#[derive(Debug, Clone)]
enum Op {
    Write {
        who: usize,
        section: usize,
        also: prop::sample::Index,
        skew: i64,
    },
    Cosign {
        who: usize,
        version: prop::sample::Index,
    },
    Final {
        who: usize,
        also: prop::sample::Index,
    },
    Revoke {
        who: usize,
        keep: prop::sample::Index,
    },
    Promote {
        who: usize,
    },
    Fork {
        who: usize,
        section: usize,
    },
    /// Both attendings sign off on the same past, one after writing a version of `section`
    /// that the other did not see: two finals that do not descend from each other.
    Race {
        section: usize,
    },
    /// The founder rotates `who`'s key, vouching for some prefix of their entries; with
    /// `stolen`, the old key then signs one more version (a thief's copy of the laptop).
    Rotate {
        who: usize,
        keep: prop::sample::Index,
        consent: bool,
        stolen: bool,
    },
    Erase(EraseOp),
}

/// An erasure of the report (GDPR Art. 17) by `who`, on what they saw (`also`): attendings
/// may; others are refused.
#[derive(Debug, Clone)]
struct EraseOp {
    who: usize,
    also: prop::sample::Index,
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..PEOPLE.len();
    let skew = prop_oneof![
        Just(0i64),
        -400_000_000_000i64..400_000_000_000i64,
        -200_000i64..200_000i64
    ];
    prop_oneof![
        6 => (who.clone(), 0usize..3, any::<prop::sample::Index>(), skew)
            .prop_map(|(who, section, also, skew)| Op::Write { who, section, also, skew }),
        2 => (who.clone(), any::<prop::sample::Index>()).prop_map(|(who, version)| Op::Cosign { who, version }),
        // Mostly by the two attendings (ada and bob), so that sign-offs meet.
        3 => (prop_oneof![4 => Just(0usize), 4 => Just(4usize), 1 => who.clone()], any::<prop::sample::Index>())
            .prop_map(|(who, also)| Op::Final { who, also }),
        1 => (1usize..PEOPLE.len(), any::<prop::sample::Index>()).prop_map(|(who, keep)| Op::Revoke { who, keep }),
        1 => (1usize..PEOPLE.len()).prop_map(|who| Op::Promote { who }),
        1 => (who.clone(), 0usize..3).prop_map(|(who, section)| Op::Fork { who, section }),
        1 => (0usize..3).prop_map(|section| Op::Race { section }),
        1 => (0usize..PEOPLE.len(), any::<prop::sample::Index>(), any::<bool>(), any::<bool>())
            .prop_map(|(who, keep, consent, stolen)| Op::Rotate { who, keep, consent, stolen }),
        1 => (prop_oneof![3 => Just(0usize), 3 => Just(4usize), 1 => who.clone()], any::<prop::sample::Index>())
            .prop_map(|(who, also)| Op::Erase(EraseOp { who, also })),
    ]
}

/// A history played out: the department, its one report, and the fork evidence found.
struct Played {
    dept: Department,
    report: LogId,
    /// Second entries of forks, delivered after everything else.
    evidence: Vec<(Entry, Vec<u8>)>,
    /// (index into `stored` after which it was taken, the report as it read then).
    finals_seen: Vec<(usize, crate::ReportView)>,
}

fn name(i: usize) -> &'static str {
    PEOPLE[i].0
}

fn play(ops: &[Op]) -> Played {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let mut evidence = Vec::new();
    let mut finals_seen = Vec::new();
    for op in ops {
        match op {
            Op::Write {
                who,
                section,
                also,
                skew,
            } => {
                let parents = chain_and(&d, r, *who, also);
                let bytes = Payload::to_bytes(&SectionWrite {
                    section: SECTIONS[*section].into(),
                    text: format!("{} by {} at {}", SECTIONS[*section], name(*who), d.clock),
                    fields: BTreeMap::new(),
                    macros: Vec::new(),
                    links: Vec::new(),
                });
                let saved = d.clock;
                d.clock = (d.clock as i64 + skew).max(1) as u64;
                let e = d.sign(
                    name(*who),
                    Some(r),
                    Kind::SectionWrite,
                    &bytes,
                    Some(parents),
                );
                d.clock = saved.max(d.clock);
                let _ = d.store(e, bytes);
            }
            Op::Cosign { who, version } => {
                let view = d.view(r);
                let versions: Vec<(String, EntryId)> = view
                    .sections
                    .iter()
                    .flat_map(|s| s.versions.iter().map(move |v| (s.name.clone(), v.entry)))
                    .collect();
                if versions.is_empty() {
                    continue;
                }
                let (section, v) = versions[version.index(versions.len())].clone();
                let _ = d.append(
                    name(*who),
                    Some(r),
                    Kind::SectionCosign,
                    &SectionCosign {
                        section,
                        version: v,
                    },
                );
            }
            Op::Final { who, also } => {
                let parents = chain_and(&d, r, *who, also);
                sign_off(&mut d, r, *who, parents);
                let view = d.view(r);
                if matches!(view.status, ReportState::Final | ReportState::Amended) {
                    finals_seen.push((d.stored.len(), view));
                }
            }
            Op::Revoke { who, keep } => {
                // The admin vouches for some prefix of the member's entries in the report.
                let key = d.public(name(*who));
                let frontier = prefix_of(&d, r, &key, keep);
                let revoke = RevokePayload {
                    key,
                    reason: String::new(),
                    frontier,
                };
                let _ = d.roster_entry("ada", Kind::RosterRevoke, &revoke);
            }
            Op::Rotate {
                who,
                keep,
                consent,
                stolen,
            } => {
                let old = d.public(name(*who));
                let frontier = prefix_of(&d, r, &old, keep);
                if d.rotate(name(*who), "ada", *consent, frontier).is_err() {
                    continue;
                }
                let retired = d.name_of(&old).filter(|n| n.contains('@'));
                if let (true, Some(retired)) = (*stolen, retired) {
                    let bytes = Payload::to_bytes(&SectionWrite {
                        section: "impression".into(),
                        text: format!("stolen key at {}", d.clock),
                        fields: BTreeMap::new(),
                        macros: Vec::new(),
                        links: Vec::new(),
                    });
                    let e = d.sign(&retired, Some(r), Kind::SectionWrite, &bytes, None);
                    let _ = d.store(e, bytes);
                }
            }
            Op::Erase(EraseOp { who, also }) => {
                let parents = chain_and(&d, r, *who, also);
                let bytes = Payload::to_bytes(&crate::payload::PayloadErase {
                    basis: "GDPR Art. 17".into(),
                    scope: crate::payload::EraseScope::Report,
                });
                let e = d.sign(
                    name(*who),
                    Some(r),
                    Kind::PayloadErase,
                    &bytes,
                    Some(parents),
                );
                let _ = d.store(e, bytes);
            }
            Op::Promote { who } => {
                let mut m: MemberPayload = d.member(name(*who));
                if m.role == Role::AiModel {
                    continue;
                }
                m.role = Role::Attending;
                let _ = d.roster_entry("ada", Kind::RosterMember, &m);
            }
            Op::Race { section } => {
                let heads = d.ledger.report_as_judged(&r).unwrap().heads();
                let bytes = Payload::to_bytes(&SectionWrite {
                    section: SECTIONS[*section].into(),
                    text: format!("raced {} at {}", SECTIONS[*section], d.clock),
                    fields: BTreeMap::new(),
                    macros: Vec::new(),
                    links: Vec::new(),
                });
                let mut bob_parents = heads.clone();
                let e = d.sign(
                    "bob",
                    Some(r),
                    Kind::SectionWrite,
                    &bytes,
                    Some(with_chain(&d, r, 4, heads.clone())),
                );
                if let Ok(Verdict::New(Standing::Accepted)) = d.store(e.clone(), bytes) {
                    bob_parents.push(e.id());
                }
                for (who, parents) in [(0usize, heads), (4usize, bob_parents)] {
                    let parents = with_chain(&d, r, who, parents);
                    sign_off(&mut d, r, who, parents);
                }
            }
            Op::Fork { who, section } => {
                let author = d.public(name(*who));
                let (heads, _) = d.ledger.position_for(&r, &author).unwrap();
                let mk = |text: &str| {
                    Payload::to_bytes(&SectionWrite {
                        section: SECTIONS[*section].into(),
                        text: text.into(),
                        fields: BTreeMap::new(),
                        macros: Vec::new(),
                        links: Vec::new(),
                    })
                };
                let (a, b) = (mk("one side"), mk("the other side"));
                let ea = d.sign(
                    name(*who),
                    Some(r),
                    Kind::SectionWrite,
                    &a,
                    Some(heads.clone()),
                );
                d.clock += 1;
                let eb = d.sign(name(*who), Some(r), Kind::SectionWrite, &b, Some(heads));
                if let Ok(Verdict::New(_)) = d.store(ea, a) {
                    if let Ok(Verdict::Fork { .. }) = d.ledger.judge(&eb, Some(&b), d.clock) {
                        let h = eb.header();
                        d.ledger.freeze(eb.log_id(), h.author, h.seq);
                        evidence.push((eb, b));
                    }
                }
            }
        }
    }
    Played {
        dept: d,
        report: r,
        evidence,
        finals_seen,
    }
}

/// A frontier vouching for some prefix of `key`'s entries in report `r` (perhaps none).
fn prefix_of(
    d: &Department,
    r: LogId,
    key: &countersign_ledger::PublicKey,
    keep: &prop::sample::Index,
) -> Frontier {
    let log = d.ledger.report_as_judged(&r).unwrap();
    let theirs: Vec<EntryId> = log
        .dag()
        .topological()
        .into_iter()
        .filter(|id| log.dag().position(id).is_some_and(|(a, _)| a == *key))
        .collect();
    let mut frontier = Frontier::new();
    if !theirs.is_empty() {
        let i = keep.index(theirs.len() + 1);
        if i < theirs.len() {
            frontier.insert(r, theirs[i]);
        }
    }
    frontier
}

/// `who` signs off on `parents`, covering the newest versions as seen from there.
fn sign_off(d: &mut Department, r: LogId, who: usize, parents: Vec<EntryId>) {
    let log = d.ledger.report(&r).unwrap();
    let mut sections = BTreeMap::new();
    for s in SECTIONS {
        if let Some(v) = log
            .latest_versions(s, |id| log.dag().in_past_of_all(id, &parents))
            .first()
        {
            sections.insert(s.to_string(), *v);
        }
    }
    let bytes = Payload::to_bytes(&crate::payload::ReportStatus {
        status: Status::Final,
        sections,
    });
    let e = d.sign(
        name(who),
        Some(r),
        Kind::ReportStatus,
        &bytes,
        Some(parents),
    );
    let _ = d.store(e, bytes);
}

/// Parents for `who`'s next entry: their own previous entry in the log (their chain), and any
/// other entry — so that histories branch and writers are concurrent.
fn chain_and(d: &Department, r: LogId, who: usize, also: &prop::sample::Index) -> Vec<EntryId> {
    let dag = d.ledger.report_as_judged(&r).unwrap().dag();
    let ids = dag.topological();
    let author = d.public(name(who));
    let seq = dag.next_seq(&author);
    let mut parents: Vec<EntryId> = dag.at_position(&author, seq - 1);
    parents.truncate(1);
    parents.push(ids[also.index(ids.len())]);
    dedup(parents)
}

/// `parents` plus `who`'s own previous entry in the log (their chain).
fn with_chain(d: &Department, r: LogId, who: usize, mut parents: Vec<EntryId>) -> Vec<EntryId> {
    let dag = d.ledger.report_as_judged(&r).unwrap().dag();
    let author = d.public(name(who));
    let seq = dag.next_seq(&author);
    parents.extend(dag.at_position(&author, seq - 1).into_iter().take(1));
    dedup(parents)
}

fn dedup(mut v: Vec<EntryId>) -> Vec<EntryId> {
    v.sort();
    v.dedup();
    v
}
