//! What the intake does not store: an entry from the future is held until its time, and an
//! entry by a key never on the roster is not kept at all.

use super::*;

#[test]
fn an_entry_from_the_future_is_held_until_its_time_not_stored_as_valid() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let bytes = Payload::to_bytes(&SectionWrite {
        section: "findings".into(),
        text: "From 2099.".into(),
        fields: BTreeMap::new(),
        macros: Vec::new(),
        links: Vec::new(),
    });
    let now = d.clock;
    d.clock += 50 * 365 * 24 * 3600 * 1000;
    let e = d.sign("ada", Some(r), Kind::SectionWrite, &bytes, None);
    let until = e.header().timestamp_ms - TIME_SKEW_MS;
    assert_eq!(
        d.ledger.accept(&e, Some(&bytes), now),
        Ok(Verdict::Held { until_ms: until })
    );
    // Nothing stored: the report does not have it.
    assert!(!d.ledger.report(&r).unwrap().contains(&e.id()));
    // Within the skew it is taken; at its time, so is the entry from the future.
    assert_eq!(
        d.ledger.accept(&e, Some(&bytes), until),
        Ok(Verdict::New(Standing::Accepted))
    );
}

/// A key that was never on the roster signs into a report: nothing to keep (it may be a
/// member whose admission has not arrived yet, so the caller may wait for it), not a refused
/// entry stored for everyone to carry.
#[test]
fn an_entry_by_a_key_never_on_the_roster_is_not_stored() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let stranger = countersign_ledger::SecretKey::from_seed(&[0x99; 32]);
    let bytes = Payload::to_bytes(&SectionWrite {
        section: "findings".into(),
        text: "Not from here.".into(),
        fields: BTreeMap::new(),
        macros: Vec::new(),
        links: Vec::new(),
    });
    let heads = d.ledger.report_as_judged(&r).unwrap().heads();
    let h = countersign_ledger::Header::new(
        d.network(),
        r,
        stranger.public(),
        1,
        d.clock,
        Kind::SectionWrite,
        heads,
        &bytes,
    );
    let e = Entry::sign(h, &stranger).unwrap();
    let err = d.ledger.accept(&e, Some(&bytes), d.clock).unwrap_err();
    assert_eq!(err.code(), "unknown_author");
    assert!(err.waits_for_dependency());
    assert!(!d.ledger.report(&r).unwrap().contains(&e.id()));
}

/// A parent held in another loaded log is named as such (not left waiting as unknown), found
/// through the ledger's index of where each loaded entry is; once that log is unloaded the
/// parent is unknown again, as it would be to a home that never loaded it.
#[test]
fn a_parent_in_another_loaded_log_is_named_until_that_log_is_unloaded() {
    let mut d = Department::new();
    let first = d.report("ada", "ct-chest");
    let second = d.report("ada", "ct-chest");
    let section = |text: &str| {
        Payload::to_bytes(&SectionWrite {
            section: "findings".into(),
            text: text.into(),
            fields: BTreeMap::new(),
            macros: Vec::new(),
            links: Vec::new(),
        })
    };
    let bytes = section("In the first report.");
    let there = d.sign("ada", Some(first), Kind::SectionWrite, &bytes, None);
    let there_id = there.id();
    d.store(there, bytes).expect("stored");

    let bytes = section("Built on the first report.");
    let crossing = d.sign(
        "ada",
        Some(second),
        Kind::SectionWrite,
        &bytes,
        Some(vec![there_id]),
    );
    let err = d
        .ledger
        .accept(&crossing, Some(&bytes), d.clock)
        .unwrap_err();
    assert_eq!(err.code(), "parent_in_other_log");
    assert!(!err.waits_for_dependency());

    assert!(d.ledger.unload(&first));
    let err = d
        .ledger
        .accept(&crossing, Some(&bytes), d.clock)
        .unwrap_err();
    assert_eq!(err.code(), "unknown_parent");
}
