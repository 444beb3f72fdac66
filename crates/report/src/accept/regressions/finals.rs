//! Sign-offs: a final voided by a contributor's fork leaves the report withdrawn, a final a
//! demotion's frontier missed stands again once readmitted, a stolen attending key cannot
//! resolve a conflict for its own final, and a refused final reads as withdrawn only when made
//! with an attending's authority.

use countersign_ledger::roster::{Frontier, ReadmitPayload, RevokePayload};
use countersign_ledger::Role;

use super::*;
use crate::payload::ReportResolve;

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
