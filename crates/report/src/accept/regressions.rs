//! Regression tests for what an insider's review of the acceptance path found (2026-11-30):
//! each was first written to show the attack working, then the rule was fixed and the test
//! turned round. Named after what broke.

use std::collections::BTreeMap;

use countersign_ledger::roster::{Frontier, MemberPayload, ReadmitPayload, RevokePayload};
use countersign_ledger::{Entry, EntryId, Header, Kind, LogId, Role, SecretKey};

use super::*;
use crate::fixture::Department;
use crate::payload::{
    AccessChange, AiResult, Payload, ReportResolve, ReportStatus, SectionWrite, Status,
    TemplatePublish,
};
use crate::view::ReportState;

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

/// `by` revokes `who` with an empty frontier, on `parents` (a past of their choosing).
fn revoke_on(d: &mut Department, by: &str, who: &str, parents: Vec<EntryId>) -> EntryId {
    let revoke = bytes(&RevokePayload {
        key: d.public(who),
        reason: String::new(),
        frontier: Frontier::new(),
    });
    let network = d.network();
    let e = d.sign(
        by,
        Some(network),
        Kind::RosterRevoke,
        &revoke,
        Some(parents),
    );
    let id = e.id();
    d.store(e, revoke).unwrap();
    id
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

/// Found: a report on a template whose publication became refused was held (refused) by homes
/// that saw it early, and rejected for good (`unknown_template`, "wait") by homes that learnt of
/// the refusal first — two honest homes holding different sets, and the late one's sync with
/// the early one failing every batch.
#[test]
fn a_report_on_a_template_whose_publication_is_refused_is_held_alike_everywhere() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let network = d.network();
    let before = d.ledger.roster_log().unwrap().dag().heads();
    let custom = custom_template();
    let publish = bytes(&TemplatePublish {
        template: custom.clone(),
    });
    let e = d.sign("bob", Some(network), Kind::TemplatePublish, &publish, None);
    d.store(e, publish).unwrap();
    let r = d.report_on("ada", &custom, "1.2.3", vec![]);
    let w = d
        .write_section("rad", r, "findings", "Honest text.")
        .unwrap();
    // Ada revokes bob without having seen his publication.
    revoke_on(&mut d, "ada", "bob", before);
    assert_eq!(
        standing_code(&mut d.ledger, &r, &r),
        "template_not_accepted"
    );
    assert_eq!(d.view(r).status, ReportState::Refused);
    // A home that gets the roster first holds the same entries, judged the same.
    let (mut b, left) = fresh_home(&roster_first(&d), &[], d.clock);
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(standing_code(&mut b, &r, &r), "template_not_accepted");
    assert_eq!(standing_code(&mut b, &r, &w), "report_refused");
    assert_eq!(status_on(&mut b, &r), ReportState::Refused);
}

/// Found: with one template published twice (one publication later refused), a report bound to
/// whichever publication its home held when the report arrived: refused on one home, a draft on
/// another, and a different answer again after a restart.
#[test]
fn a_template_published_twice_binds_alike_whatever_arrived_first() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let network = d.network();
    let before = d.ledger.roster_log().unwrap().dag().heads();
    let custom = custom_template();
    let publish = bytes(&TemplatePublish {
        template: custom.clone(),
    });
    let e = d.sign("bob", Some(network), Kind::TemplatePublish, &publish, None);
    let by_bob = e.id();
    d.store(e, publish.clone()).unwrap();
    let r = d.report_on("ada", &custom, "1.2.3", vec![]);
    revoke_on(&mut d, "ada", "bob", before);
    // The senior admin publishes the very same template herself — signed until its id is
    // above bob's, so that "the lowest id held" alone would pick bob's refused one.
    let by_ada = loop {
        let e = d.sign("ada", Some(network), Kind::TemplatePublish, &publish, None);
        if e.id() > by_bob {
            let id = e.id();
            d.store(e, publish.clone()).unwrap();
            break id;
        }
    };
    assert_eq!(standing_code(&mut d.ledger, &network, &by_bob), "revoked");
    assert_eq!(standing_code(&mut d.ledger, &network, &by_ada), "accepted");
    assert_eq!(standing_code(&mut d.ledger, &r, &r), "accepted");
    assert_eq!(d.view(r).status, ReportState::Draft);
    let (mut b, left) = fresh_home(&roster_first(&d), &[], d.clock);
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(standing_code(&mut b, &r, &r), "accepted");
    assert_eq!(status_on(&mut b, &r), ReportState::Draft);
}

/// Found: an admin's equivocation in the roster froze their revocations too (a revoked, stolen
/// key signed accepted entries again), and the members they admitted afterwards were rejected
/// for good by homes that had the fork evidence first.
#[test]
fn an_admin_roster_fork_keeps_their_revocations_and_every_home_holds_the_same_entries() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let network = d.network();
    let r = d.report("ada", "ct-chest");
    let zed = SecretKey::from_seed(&[0x5a; 32]);
    let admit = bytes(&MemberPayload::new(
        zed.public(),
        "Dr Zed",
        Role::Radiologist,
        false,
    ));
    let bob_key = key_of("bob");
    let (heads, seq) = pos(&d, &network, &bob_key);
    let admission = sign_raw(
        &mut d,
        &bob_key,
        network,
        seq,
        Kind::RosterMember,
        &admit,
        heads.clone(),
    );
    d.store(admission.clone(), admit).unwrap();
    let (h, s) = pos(&d, &r, &zed);
    let payload = bytes(&write("findings", "Zed's honest findings."));
    let zw = sign_raw(&mut d, &zed, r, s, Kind::SectionWrite, &payload, h);
    assert_eq!(
        d.store(zw.clone(), payload).unwrap(),
        Verdict::New(Standing::Accepted)
    );
    let revoke = bytes(&RevokePayload {
        key: d.public("rex"),
        reason: "stolen".into(),
        frontier: Frontier::new(),
    });
    let e = d.sign("bob", Some(network), Kind::RosterRevoke, &revoke, None);
    d.store(e, revoke).unwrap();
    // Bob's key signs a second entry at the admission's position.
    let other = bytes(&TemplatePublish {
        template: custom_template(),
    });
    let fork = sign_raw(
        &mut d,
        &bob_key,
        network,
        seq,
        Kind::TemplatePublish,
        &other,
        heads,
    );
    let v = d.ledger.accept(&fork, Some(&other), d.clock).unwrap();
    assert!(matches!(v, Verdict::Fork { .. }), "{v:?}");
    // The revocation stands: the stolen key is still refused.
    assert!(d
        .ledger
        .roster()
        .member(&d.public("rex"))
        .unwrap()
        .revoked
        .is_some());
    assert_eq!(
        d.write_section("rex", r, "impression", "thief")
            .unwrap_err()
            .code(),
        "revoked"
    );
    // Zed's admission is frozen with bob's other roster entries: his work is refused here...
    assert_eq!(standing_code(&mut d.ledger, &r, &zw.id()), "unknown_author");
    // ...and held, refused alike, by a home that had the fork evidence first.
    let (mut b, left) = fresh_home(&roster_first(&d), &[(fork.clone(), other.clone())], d.clock);
    let left: Vec<_> = left
        .into_iter()
        .filter(|(id, _)| *id != fork.id())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = b.accept(&fork, Some(&other), d.clock);
    assert_eq!(standing_code(&mut b, &r, &zw.id()), "unknown_author");
    // Another admin re-signs the admission: Zed's work stands again, everywhere.
    let again = MemberPayload::new(zed.public(), "Dr Zed", Role::Radiologist, false);
    d.roster_entry("ada", Kind::RosterMember, &again).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &zw.id()), "accepted");
}

/// Found: the member who created a report voided it, sign-off included, by signing one entry
/// claiming position 1 of the report log: it was taken as fork evidence against the
/// report.create although it breaks its own author's chain.
#[test]
fn an_entry_that_breaks_its_own_chain_is_no_fork_evidence() {
    let mut d = Department::new();
    let (r, v) = written_report(&mut d, "rad");
    let fin = final_by(&mut d, "ada", r, &v);
    assert_eq!(d.view(r).status, ReportState::Final);
    let rad = key_of("rad");
    let payload = bytes(&write("findings", "x"));
    let claim = sign_raw(&mut d, &rad, r, 1, Kind::SectionWrite, &payload, vec![r]);
    let verdict = d.ledger.accept(&claim, Some(&payload), d.clock);
    assert_eq!(verdict.unwrap_err().code(), "chain_broken");
    assert_eq!(d.view(r).status, ReportState::Final);
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "accepted");
}

/// Found: a contributor whose version a final covered forked at that version's position; the
/// final stopped counting and the report read as a quiet draft — showing text written after
/// the sign-off — with nothing to say a sign-off had been voided.
#[test]
fn a_final_voided_by_a_contributors_fork_leaves_the_report_withdrawn_not_draft() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(
            s.to_string(),
            d.write_section("ada", r, s, "Ada's text.").unwrap(),
        );
    }
    let rad = key_of("rad");
    let (heads, seq) = pos(&d, &r, &rad);
    let payload = bytes(&write("impression", "Rad's impression (signed off)."));
    let rv = sign_raw(
        &mut d,
        &rad,
        r,
        seq,
        Kind::SectionWrite,
        &payload,
        heads.clone(),
    );
    d.store(rv.clone(), payload).unwrap();
    v.insert("impression".into(), rv.id());
    let fin = final_by(&mut d, "ada", r, &v);
    assert_eq!(d.view(r).status, ReportState::Final);
    let payload2 = bytes(&write("impression", "other side"));
    let fork = sign_raw(&mut d, &rad, r, seq, Kind::SectionWrite, &payload2, heads);
    assert!(matches!(
        d.ledger.accept(&fork, Some(&payload2), d.clock).unwrap(),
        Verdict::Fork { .. }
    ));
    let view = d.view(r);
    assert_eq!(view.status, ReportState::Withdrawn);
    assert_eq!(view.refused_signoffs.len(), 1);
    assert_eq!(view.refused_signoffs[0].entry, fin);
    assert!(matches!(
        &view.refused_signoffs[0].status,
        crate::view::EntryStatus::Refused { code, .. } if code == "coverage_mismatch"
    ));
}

/// Found: a role change whose frontier missed an honest final (the admin's home had not
/// received it) refused that final for good: a readmission applied only to revoked keys.
#[test]
fn a_final_a_demotion_frontier_missed_stands_again_once_readmitted() {
    let mut d = Department::new();
    let (r, v) = written_report(&mut d, "ada");
    let fin = final_by(&mut d, "bob", r, &v);
    let network = d.network();
    let before = d.ledger.roster_log().unwrap().dag().heads();
    // Ada, whose home had not received bob's sign-off, changes bob to radiologist.
    let mut bob = d.member("bob");
    bob.role = Role::Radiologist;
    let p = bytes(&bob);
    let e = d.sign("ada", Some(network), Kind::RosterMember, &p, Some(before));
    d.store(e, p).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "not_attending");
    assert_ne!(d.view(r).status, ReportState::Final);
    let readmit = ReadmitPayload {
        key: d.public("bob"),
        log: r,
        entry: fin,
        change: None,
    };
    d.roster_entry("ada", Kind::RosterReadmit, &readmit)
        .unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "accepted");
    assert_eq!(d.view(r).status, ReportState::Final);
    // Bob's next entry is a radiologist's.
    assert_eq!(
        d.append(
            "bob",
            Some(r),
            Kind::ReportResolve,
            &ReportResolve {
                keep: fin,
                note: String::new()
            }
        )
        .unwrap_err()
        .code(),
        "role_may_not_write"
    );
}

/// Found: an entry dated far ahead was held before any other check, so a stranger's entry of
/// another network with a payload that is not the one committed to filled the held table.
#[test]
fn an_entry_dated_ahead_is_checked_before_it_is_held() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let ahead = d.clock + 75 * 365 * 24 * 3600 * 1000;
    let stranger = SecretKey::from_seed(&[0xee; 32]);
    let p = bytes(&write("findings", "from next year"));
    let sign_at = |key: &SecretKey, network, log, payload: &[u8], committed: &[u8]| {
        let h = Header::new(
            network,
            log,
            key.public(),
            1,
            ahead,
            Kind::SectionWrite,
            vec![r],
            committed,
        );
        let e = Entry::sign(h, key).unwrap();
        let _ = payload;
        e
    };
    let network = d.network();
    let code = |d: &mut Department, e: &Entry, payload: &[u8]| match d.ledger.accept(
        e,
        Some(payload),
        d.clock,
    ) {
        Err(rej) => rej.code().to_string(),
        Ok(v) => format!("{v:?}"),
    };
    let mut other = p.clone();
    other[0] ^= 1;
    let e = sign_at(&stranger, network, r, &p, &other);
    assert_eq!(code(&mut d, &e, &p), "payload_hash");
    let e = sign_at(&stranger, countersign_ledger::Hash([0x42; 32]), r, &p, &p);
    assert_eq!(code(&mut d, &e, &p), "wrong_network");
    let e = sign_at(&stranger, network, r, &p, &p);
    assert_eq!(code(&mut d, &e, &p), "unknown_author");
    // A member's entry dated ahead is held.
    let e = sign_at(&key_of("rad"), network, r, &p, &p);
    assert!(code(&mut d, &e, &p).starts_with("Held"));
}

/// Found: a junior admin could make a demoted admin an admin again with their *first* rank back,
/// above the junior admin who restored them — who could then be demoted by them.
#[test]
fn a_junior_admin_cannot_restore_a_demoted_admin_above_themselves() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let mut rad = d.member("rad");
    rad.admin = true;
    d.roster_entry("ada", Kind::RosterMember, &rad).unwrap();
    let mut bob = d.member("bob");
    bob.admin = false;
    d.roster_entry("ada", Kind::RosterMember, &bob).unwrap();
    let mut bob = d.member("bob");
    bob.admin = true;
    d.roster_entry("rad", Kind::RosterMember, &bob).unwrap();
    let seniority =
        |d: &Department, who: &str| d.ledger.roster().member(&d.public(who)).unwrap().seniority;
    assert!(seniority(&d, "bob") > seniority(&d, "rad"));
    let mut rad = d.member("rad");
    rad.admin = false;
    let res = d.roster_entry("bob", Kind::RosterMember, &rad);
    assert_eq!(res.unwrap_err().code(), "not_senior");
}

/// Found: a stolen attending key rewrote a signed-off report and left it reading `Final`: a
/// version and a final beside the real sign-off, then a resolution keeping its own final.
#[test]
fn a_stolen_attending_key_cannot_resolve_a_conflict_for_its_own_final() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(
            s.to_string(),
            d.write_section("ada", r, s, "As read by Ada.").unwrap(),
        );
    }
    let before_final = d.ledger.report(&r).unwrap().heads();
    let fin = final_by(&mut d, "ada", r, &v);
    let bob = key_of("bob");
    let p = bytes(&write("impression", "No abnormality (rewritten)."));
    let w = sign_raw(&mut d, &bob, r, 1, Kind::SectionWrite, &p, before_final);
    d.store(w.clone(), p).unwrap();
    let mut v2 = v.clone();
    v2.insert("impression".into(), w.id());
    let p = bytes(&ReportStatus {
        status: Status::Final,
        sections: v2,
    });
    let f2 = sign_raw(&mut d, &bob, r, 2, Kind::ReportStatus, &p, vec![w.id()]);
    d.store(f2.clone(), p).unwrap();
    let p = bytes(&ReportResolve {
        keep: f2.id(),
        note: String::new(),
    });
    let mut parents = vec![fin, f2.id()];
    parents.sort();
    let res = sign_raw(&mut d, &bob, r, 3, Kind::ReportResolve, &p, parents);
    let verdict = d.store(res, p).unwrap();
    assert!(
        matches!(&verdict, Verdict::New(Standing::Refused(e)) if e.code() == "self_resolve"),
        "{verdict:?}"
    );
    let (mut home, left) = fresh_home(&d.stored, &[], d.clock);
    assert!(left.is_empty());
    assert_eq!(status_on(&mut home, &r), ReportState::Conflict);
    // Another attending may keep either; here Bob's own is kept by Ada only if she chooses.
    let keep_ada = ReportResolve {
        keep: fin,
        note: "The second sign-off was not authorised.".into(),
    };
    assert_eq!(
        d.append("ada", Some(r), Kind::ReportResolve, &keep_ada)
            .unwrap_err()
            .code(),
        "self_resolve"
    );
}

/// Found (while fixing the cost of judging AI results): an AI model's access was read from a
/// sort of the whole log, where a grant and a revocation signed concurrently were ordered by
/// timestamp and id. Now the latest changes decide, and a concurrent revocation withholds.
#[test]
fn a_grant_concurrent_with_a_revocation_does_not_let_the_model_write() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let heads = d.ledger.report(&r).unwrap().heads();
    let access = bytes(&AccessChange {
        member: d.public("ai"),
    });
    let g = d.sign(
        "ada",
        Some(r),
        Kind::AccessGrant,
        &access,
        Some(heads.clone()),
    );
    d.store(g, access.clone()).unwrap();
    let x = d.sign("bob", Some(r), Kind::AccessRevoke, &access, Some(heads));
    d.store(x, access).unwrap();
    let result = AiResult {
        model: "SoftTissue".into(),
        version: "2.1".into(),
        inputs: vec![],
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        section: "findings".into(),
        text: "result".into(),
    };
    let refused = d.append("ai", Some(r), Kind::AiResult, &result);
    assert_eq!(refused.unwrap_err().code(), "not_granted");
    let ai = d.public("ai");
    assert!(!d.ledger.report(&r).unwrap().reads_granted(&ai));
    // A grant that has both in its past settles it.
    d.append(
        "ada",
        Some(r),
        Kind::AccessGrant,
        &AccessChange {
            member: d.public("ai"),
        },
    )
    .unwrap();
    d.append("ai", Some(r), Kind::AiResult, &result).unwrap();
}

// Second review (same day), after the fixes above: each test again first showed the attack.

/// Found: any refused final made a report read "withdrawn" — a resident's (who may never sign
/// off) on a draft too, so any member could mark every draft in the department withdrawn.
/// Withdrawn now needs a refused sign-off by a key the roster once made an attending.
#[test]
fn a_residents_refused_final_leaves_a_draft_a_draft() {
    let mut d = Department::new();
    let (r, v) = written_report(&mut d, "ada");
    let res = d.append(
        "rex",
        Some(r),
        Kind::ReportStatus,
        &ReportStatus {
            status: Status::Final,
            sections: v.clone(),
        },
    );
    assert_eq!(res.unwrap_err().code(), "not_attending");
    let view = d.view(r);
    assert_eq!(view.status, ReportState::Draft);
    // Still shown for what it is.
    assert_eq!(view.refused_signoffs.len(), 1);
}

/// Found: a readmission could amend any change, a promotion too, and needed no seniority: a
/// junior admin "readmitted" a senior admin's final under the promotion that made them an
/// attending, so it was judged as a radiologist's and refused. A readmission now amends only
/// a change that took authority away, and only its author or someone more senior may.
#[test]
fn a_junior_admin_cannot_void_a_senior_admins_final_through_a_readmission() {
    let mut d = Department::new();
    let mut rad = d.member("rad");
    rad.role = Role::Attending;
    rad.admin = true;
    let promotion = d.roster_entry("ada", Kind::RosterMember, &rad).unwrap();
    make_bob_admin(&mut d);
    let (r, v) = written_report(&mut d, "ada");
    let fin = final_by(&mut d, "rad", r, &v);
    let readmit = ReadmitPayload {
        key: d.public("rad"),
        log: r,
        entry: fin,
        change: Some(promotion),
    };
    let res = d.roster_entry("bob", Kind::RosterReadmit, &readmit);
    assert_eq!(res.unwrap_err().code(), "nothing_to_readmit");
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "accepted");
    assert_eq!(d.view(r).status, ReportState::Final);
    // Ada demotes rad from attending, missing the final; bob, junior to ada, may not amend
    // her change; she may.
    let mut back = d.member("rad");
    back.admin = true;
    let demotion = d.roster_entry("ada", Kind::RosterMember, &back).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "not_attending");
    let readmit = ReadmitPayload {
        change: Some(demotion),
        ..readmit
    };
    let res = d.roster_entry("bob", Kind::RosterReadmit, &readmit);
    assert_eq!(res.unwrap_err().code(), "not_senior");
    d.roster_entry("ada", Kind::RosterReadmit, &readmit)
        .unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "accepted");
}

/// Found (older than the first review): a junior admin changed the founder's role, keeping
/// her admin flag — no demotion, so no seniority was asked — and every final she had signed
/// was judged as a resident's. Any change to an admin's details is now a senior's to make.
#[test]
fn a_junior_admin_cannot_change_a_senior_admins_role() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let (r, v) = written_report(&mut d, "ada");
    let fin = final_by(&mut d, "ada", r, &v);
    let mut ada = d.member("ada");
    ada.role = Role::Resident;
    ada.admin = true;
    let res = d.roster_entry("bob", Kind::RosterMember, &ada);
    assert_eq!(res.unwrap_err().code(), "not_senior");
    assert_eq!(standing_code(&mut d.ledger, &r, &fin), "accepted");
    assert_eq!(d.view(r).status, ReportState::Final);
    // Bob may still change a member who is no admin.
    let mut rex = d.member("rex");
    rex.role = Role::Radiologist;
    d.roster_entry("bob", Kind::RosterMember, &rex).unwrap();
}

/// Found: a frozen (equivocating) admin's revocations stay in force, so that a fork cannot undo
/// one — but a revocation's frontier vouches for entries, and bob's frozen key revoked a
/// stolen key again with a frontier naming the thief's entry, first in roster order: the
/// thief's entry stood again. A frozen author's revocation now vouches for nothing, and when
/// several revoke one key the most senior's frontier governs.
#[test]
fn a_frozen_admins_revocation_vouches_for_nothing() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let network = d.network();
    let r = d.report("ada", "ct-chest");
    // Bob's key equivocates in the roster log: two entries at one position.
    let bob = key_of("bob");
    let (heads, seq) = pos(&d, &network, &bob);
    let mut cara = d.member("cara");
    let mut sides = Vec::new();
    for n in 0..2 {
        cara.name = format!("Dr Carl Cardio ({n})");
        let p = bytes(&cara);
        sides.push((
            sign_raw(
                &mut d,
                &bob,
                network,
                seq,
                Kind::RosterMember,
                &p,
                heads.clone(),
            ),
            p,
        ));
    }
    let (f1, p1) = sides.remove(0);
    d.store(f1.clone(), p1).unwrap();
    let (f2, p2) = sides.remove(0);
    assert!(matches!(
        d.ledger.accept(&f2, Some(&p2), d.clock).unwrap(),
        Verdict::Fork { .. }
    ));
    // Ada revokes rex; the thief writes with rex's key.
    let r1 = d
        .roster_entry(
            "ada",
            Kind::RosterRevoke,
            &RevokePayload {
                key: d.public("rex"),
                reason: "stolen".into(),
                frontier: Frontier::new(),
            },
        )
        .unwrap();
    let rex = key_of("rex");
    let (h, s) = pos(&d, &r, &rex);
    let p = bytes(&write("impression", "No abnormality (the thief's)."));
    let e = sign_raw(&mut d, &rex, r, s, Kind::SectionWrite, &p, h);
    d.store(e.clone(), p).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &e.id()), "revoked");
    // Bob's frozen key revokes rex too, vouching for the thief's entry, signed so that it
    // comes before ada's revocation in roster order.
    let mut i = 0;
    let (rv, payload) = loop {
        i += 1;
        let p = bytes(&RevokePayload {
            key: d.public("rex"),
            reason: format!("left ({i})"),
            frontier: Frontier::from([(r, e.id())]),
        });
        let rv = sign_raw(
            &mut d,
            &bob,
            network,
            seq + 1,
            Kind::RosterRevoke,
            &p,
            vec![f1.id()],
        );
        let mut trial = d.ledger.roster_log().unwrap().clone();
        trial.insert(&rv, &p).unwrap();
        let order = trial.dag().topological();
        let at = |id: &EntryId| order.iter().position(|x| x == id).unwrap();
        if at(&rv.id()) < at(&r1) {
            break (rv, p);
        }
    };
    d.ledger.accept(&rv, Some(&payload), d.clock).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &e.id()), "revoked");
}

/// Found: when a junior admin (or a thief with their key) revoked a member with an empty
/// frontier, the senior admin's own revocation vouching for the member's honest work changed
/// nothing — the first revocation in roster order decided — and no readmission could restore
/// the work. The most senior author's revocation now governs, and a readmission amends it.
#[test]
fn a_junior_admins_empty_revocation_does_not_overrule_a_senior_admins_frontier() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let r = d.report("ada", "ct-chest");
    let honest = d
        .write_section("rad", r, "findings", "Rad's honest findings.")
        .unwrap();
    let later = d
        .write_section("rad", r, "impression", "Rad's later impression.")
        .unwrap();
    let revoke = |d: &Department, frontier: Frontier| RevokePayload {
        key: d.public("rad"),
        reason: String::new(),
        frontier,
    };
    let by_bob = revoke(&d, Frontier::new());
    d.roster_entry("bob", Kind::RosterRevoke, &by_bob).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &honest), "revoked");
    let by_ada = revoke(&d, Frontier::from([(r, honest)]));
    d.roster_entry("ada", Kind::RosterRevoke, &by_ada).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &honest), "accepted");
    assert_eq!(standing_code(&mut d.ledger, &r, &later), "revoked");
    // Bob, junior to ada, may not amend her revocation; ada readmits the later entry.
    let readmit = ReadmitPayload {
        key: d.public("rad"),
        log: r,
        entry: later,
        change: None,
    };
    let res = d.roster_entry("bob", Kind::RosterReadmit, &readmit);
    assert_eq!(res.unwrap_err().code(), "not_senior");
    d.roster_entry("ada", Kind::RosterReadmit, &readmit)
        .unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &later), "accepted");
}

/// Makes `who` equivocate in the roster log: two roster entries at one position (the second
/// kept as evidence). From there on their roster entries are frozen.
fn equivocate_in_roster(d: &mut Department, who: &str) {
    let network = d.network();
    let key = key_of(who);
    let (heads, seq) = pos(d, &network, &key);
    let mut sides = Vec::new();
    for n in 0..2 {
        let mut m = d.member("cara");
        m.name = format!("Dr Carl Cardio ({n})");
        let p = bytes(&m);
        sides.push((
            sign_raw(d, &key, network, seq, Kind::RosterMember, &p, heads.clone()),
            p,
        ));
    }
    let (second, p2) = sides.pop().unwrap();
    let (first, p1) = sides.pop().unwrap();
    d.store(first, p1).unwrap();
    assert!(matches!(
        d.ledger.accept(&second, Some(&p2), d.clock).unwrap(),
        Verdict::Fork { .. }
    ));
}

/// The same finding, each layer alone: a frozen admin's revocation still takes authority
/// away, but its frontier vouches for nothing (even as the only revocation), and it does not
/// govern over a junior admin's revocation whose frontier does vouch.
#[test]
fn a_frozen_admins_revocation_neither_vouches_nor_governs() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let mut cara = d.member("cara");
    cara.admin = true;
    d.roster_entry("ada", Kind::RosterMember, &cara).unwrap();
    let r = d.report("ada", "ct-chest");
    let x = d
        .write_section("rex", r, "findings", "Rex's findings.")
        .unwrap();
    equivocate_in_roster(&mut d, "bob");
    let network = d.network();
    let bob = key_of("bob");
    let revoke = |d: &Department, frontier: Frontier| {
        bytes(&RevokePayload {
            key: d.public("rex"),
            reason: String::new(),
            frontier,
        })
    };
    // Bob, frozen, is the only one to revoke rex, vouching for x: x is refused.
    let (heads, seq) = pos(&d, &network, &bob);
    let p = revoke(&d, Frontier::from([(r, x)]));
    let e = sign_raw(&mut d, &bob, network, seq, Kind::RosterRevoke, &p, heads);
    assert_eq!(
        d.ledger.accept(&e, Some(&p), d.clock).unwrap(),
        Verdict::New(Standing::Accepted)
    );
    assert!(!d.ledger.roster().is_active(&d.public("rex")));
    assert_eq!(standing_code(&mut d.ledger, &r, &x), "revoked");
    // Cara, junior to bob but not frozen, revokes rex vouching for x: hers governs.
    let p = revoke(&d, Frontier::from([(r, x)]));
    let e = d.sign("cara", Some(network), Kind::RosterRevoke, &p, None);
    d.store(e, p).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &x), "accepted");
}

// Third review (same day), after the fixes above.

/// Found: a draft read "withdrawn" when any key the roster ever made an attending signed a
/// refused "final" on it — a revoked (stolen) attending key too, and an attending since moved
/// to radiologist. Withdrawn now needs a refused final made with an attending's authority for
/// that very entry.
#[test]
fn a_revoked_or_former_attendings_refused_final_leaves_a_draft_a_draft() {
    let mut d = Department::new();
    let (r, v) = written_report(&mut d, "ada");
    let final_of = |v: &BTreeMap<String, EntryId>| ReportStatus {
        status: Status::Final,
        sections: v.clone(),
    };
    // Bob's key is stolen and revoked, vouching for nothing; the thief signs "final".
    let revoke = RevokePayload {
        key: d.public("bob"),
        reason: "stolen laptop".into(),
        frontier: Frontier::new(),
    };
    d.roster_entry("ada", Kind::RosterRevoke, &revoke).unwrap();
    let res = d.append("bob", Some(r), Kind::ReportStatus, &final_of(&v));
    assert_eq!(res.unwrap_err().code(), "revoked");
    let view = d.view(r);
    assert_eq!(view.refused_signoffs.len(), 1);
    assert_eq!(view.status, ReportState::Draft);
    // Cara, an attending moved to radiologist, signs "final" after the change.
    let mut cara = d.member("cara");
    cara.role = Role::Attending;
    d.roster_entry("ada", Kind::RosterMember, &cara).unwrap();
    cara.role = Role::Radiologist;
    d.roster_entry("ada", Kind::RosterMember, &cara).unwrap();
    let res = d.append("cara", Some(r), Kind::ReportStatus, &final_of(&v));
    assert_eq!(res.unwrap_err().code(), "not_attending");
    assert_eq!(d.view(r).status, ReportState::Draft);
}

/// Found: a junior admin who once narrowed a member's role readmitted a thief's final, signed
/// with the member's stolen key after the founder revoked it, into that role change: the
/// report read `final`, signed off by a revoked key. A revoked key's entry now stands only if
/// the governing revocation covers it.
#[test]
fn a_junior_admin_cannot_make_a_revoked_keys_final_stand_through_an_earlier_role_change() {
    let mut d = Department::new();
    make_bob_admin(&mut d);
    let mut rad = d.member("rad");
    rad.role = Role::Attending;
    d.roster_entry("ada", Kind::RosterMember, &rad).unwrap();
    rad.role = Role::Radiologist;
    let narrowed = d.roster_entry("bob", Kind::RosterMember, &rad).unwrap();
    let revoke = RevokePayload {
        key: d.public("rad"),
        reason: "stolen".into(),
        frontier: Frontier::new(),
    };
    let revocation = d.roster_entry("ada", Kind::RosterRevoke, &revoke).unwrap();
    let (r, v) = written_report(&mut d, "ada");
    let bytes = bytes(&ReportStatus {
        status: Status::Final,
        sections: v.clone(),
    });
    let fin = d.sign("rad", Some(r), Kind::ReportStatus, &bytes, None);
    let fin_id = fin.id();
    d.store(fin, bytes).unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &fin_id), "revoked");
    let mut readmit = ReadmitPayload {
        key: d.public("rad"),
        log: r,
        entry: fin_id,
        change: Some(revocation),
    };
    let res = d.roster_entry("bob", Kind::RosterReadmit, &readmit);
    assert_eq!(res.unwrap_err().code(), "not_senior");
    readmit.change = Some(narrowed);
    d.roster_entry("bob", Kind::RosterReadmit, &readmit)
        .unwrap();
    assert_eq!(standing_code(&mut d.ledger, &r, &fin_id), "revoked");
    assert_eq!(d.view(r).status, ReportState::Draft);
}
