//! A report on a custom template whose publication is refused, or which was published twice
//! (one publication later refused): every home binds and judges it alike, whatever it received
//! first.

use countersign_ledger::roster::{Frontier, RevokePayload};

use super::*;
use crate::payload::TemplatePublish;

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
