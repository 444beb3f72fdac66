//! What a junior admin may not do to a senior admin or their decisions: restore a demoted admin
//! above themselves, change a senior admin's role, void their final or make a revoked key's
//! final stand through a readmission, or overrule their revocation's frontier.

use countersign_ledger::roster::{Frontier, ReadmitPayload, RevokePayload};
use countersign_ledger::Role;

use super::*;

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

// Second review (same day), after the fixes above: each test again first showed the attack.

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

// Third review (same day), after the fixes above.

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
