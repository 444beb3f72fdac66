//! An admin who equivocates in the roster log (two entries at one position): their roster
//! entries are frozen, yet their revocations stay in force — vouching for nothing and governing
//! over no other admin's — and every home holds the same entries.

use countersign_ledger::roster::{Frontier, MemberPayload, RevokePayload};
use countersign_ledger::Role;

use super::*;
use crate::payload::TemplatePublish;

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

// Second review (same day), after the fixes above: each test again first showed the attack.

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
