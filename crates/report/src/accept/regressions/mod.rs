//! Regression tests for what an insider's review of the acceptance path found (2026-11-30):
//! each was first written to show the attack working, then the rule was fixed and the test
//! turned round. Named after what broke. This file holds the shared helpers (`bytes`, `write`,
//! `sign_raw` and `key_of` are used by `worlds.rs` and `evidence.rs` too); the tests are in
//! `templates.rs` (a template's publication refused or made twice), `intake.rs` (one entry on
//! arrival: its chain, its date, a model's access), `frozen.rs` (an admin equivocating in the
//! roster), `seniority.rs` (what a junior admin may not do) and `finals.rs` (sign-offs voided,
//! refused, readmitted or resolved); from a later review (2026-12-05), `signed_text.rs` (text
//! that shows otherwise than it is signed) and `authorship.rs` (who an entry's author was when
//! they signed it).

use std::collections::BTreeMap;

use countersign_ledger::{Entry, EntryId, Header, Kind, LogId, SecretKey};

use super::*;
use crate::fixture::Department;
use crate::payload::{Payload, ReportStatus, SectionWrite, Status};
use crate::view::ReportState;

mod authorship;
mod finals;
mod frozen;
mod intake;
mod seniority;
mod signed_text;
mod templates;

pub(super) fn bytes<T: serde::Serialize>(t: &T) -> Vec<u8> {
    Payload::to_bytes(t)
}

pub(super) fn write(section: &str, text: &str) -> SectionWrite {
    SectionWrite {
        section: section.into(),
        text: text.into(),
        fields: BTreeMap::new(),
        macros: Vec::new(),
        links: Vec::new(),
    }
}

/// Signs an entry with any key (not only the fixture's people).
#[allow(clippy::too_many_arguments)]
pub(super) fn sign_raw(
    d: &mut Department,
    key: &SecretKey,
    log: LogId,
    seq: u64,
    kind: Kind,
    payload: &[u8],
    parents: Vec<EntryId>,
) -> Entry {
    d.clock += d.step_ms;
    let h = Header::new(
        d.network(),
        log,
        key.public(),
        seq,
        d.clock,
        kind,
        parents,
        payload,
    );
    Entry::sign(h, key).unwrap()
}

/// The position (heads, next seq) of `key` in `log`.
fn pos(d: &Department, log: &LogId, key: &SecretKey) -> (Vec<EntryId>, u64) {
    d.ledger.position_for(log, &key.public()).unwrap()
}

/// A fresh home fed `entries` in the order given (retrying what waits for a dependency, as
/// `import_batch` does), then `evidence`. Returns the ledger and what it never took.
fn fresh_home(
    entries: &[(Entry, Vec<u8>)],
    evidence: &[(Entry, Vec<u8>)],
    now: u64,
) -> (Ledger, Vec<(EntryId, String)>) {
    let mut ledger = Ledger::default();
    let mut pending: Vec<&(Entry, Vec<u8>)> = entries.iter().chain(evidence.iter()).collect();
    loop {
        let before = pending.len();
        pending.retain(|(e, p)| match ledger.accept(e, Some(p), now) {
            Err(r) if r.waits_for_dependency() => true,
            Err(r) => panic!("rejected outright: {} {r}", e.id()),
            Ok(_) => false,
        });
        if pending.is_empty() || pending.len() == before {
            break;
        }
    }
    let left = pending
        .iter()
        .map(|(e, p)| {
            let code = ledger
                .accept(e, Some(p), now)
                .err()
                .map(|r| r.code().to_string())
                .unwrap_or_default();
            (e.id(), code)
        })
        .collect();
    (ledger, left)
}

/// The fixture's key for `who` (seeds as `Department` makes them), owned.
pub(super) fn key_of(who: &str) -> SecretKey {
    let i = crate::fixture::PEOPLE
        .iter()
        .position(|(n, ..)| *n == who)
        .unwrap();
    SecretKey::from_seed(&[i as u8 + 1; 32])
}

fn make_bob_admin(d: &mut Department) {
    let mut bob = d.member("bob");
    bob.admin = true;
    d.roster_entry("ada", Kind::RosterMember, &bob).unwrap();
}

fn custom_template() -> crate::Template {
    let mut custom = crate::template::template("ct-chest").unwrap().clone();
    custom.name = "ct-chest-local".into();
    custom
}

fn standing_code(l: &mut Ledger, log: &LogId, id: &EntryId) -> String {
    match l.standing(log, id) {
        Some(Standing::Accepted) => "accepted".into(),
        Some(Standing::Refused(e)) => e.code().into(),
        None => "not held".into(),
    }
}

/// The report a few tests sign off: Ada writes every section of a ct-chest report; returns the
/// report, the versions, and the heads before sign-off.
fn written_report(d: &mut Department, creator: &str) -> (LogId, BTreeMap<String, EntryId>) {
    let r = d.report(creator, "ct-chest");
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(
            s.to_string(),
            d.write_section("ada", r, s, "As read.").unwrap(),
        );
    }
    (r, v)
}

fn final_by(d: &mut Department, who: &str, r: LogId, v: &BTreeMap<String, EntryId>) -> EntryId {
    d.append(
        who,
        Some(r),
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections: v.clone(),
        },
    )
    .unwrap()
}

/// Every entry held, the roster's first (as sync sends them).
fn roster_first(d: &Department) -> Vec<(Entry, Vec<u8>)> {
    let network = d.network();
    let (roster, rest): (Vec<_>, Vec<_>) = d
        .stored
        .iter()
        .cloned()
        .partition(|(e, _)| e.log_id() == network);
    roster.into_iter().chain(rest).collect()
}

fn status_on(home: &mut Ledger, r: &LogId) -> ReportState {
    let roster = home.roster().clone();
    home.report(r)
        .unwrap()
        .project(&roster, |_| crate::view::EntryStatus::Verified)
        .status
}
