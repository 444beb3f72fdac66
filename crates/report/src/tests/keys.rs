//! Revoked and rotated keys through the acceptance path: what a stolen key signs after its
//! revocation or rotation counts for nothing, whatever date it writes and whatever order the
//! entries arrive in.

use super::*;

/// Scenario 1: a stolen attending key, revoked, signs a whole report dated before the revocation.
#[test]
fn a_revoked_key_signs_nothing_that_counts_whatever_date_it_writes() {
    let mut d = Department::new();
    let r = d.report("bob", "ct-chest");
    let honest = d
        .write_section("bob", r, "findings", "Honest, before the theft.")
        .unwrap();
    let mut frontier = Frontier::new();
    frontier.insert(r, honest);
    let revoke = RevokePayload {
        key: d.public("bob"),
        reason: "laptop stolen".into(),
        frontier,
    };
    d.roster_entry("ada", Kind::RosterRevoke, &revoke).unwrap();
    assert_eq!(
        code(d.write_section("bob", r, "impression", "After the theft.")),
        "revoked"
    );
    // The thief dates a new report a year back: no date is inside a frontier.
    d.clock -= 365 * 24 * 3600 * 1000;
    let t = crate::template::template("ct-chest").unwrap();
    let create = ReportCreate {
        study: "9.9.9".into(),
        template: "ct-chest".into(),
        template_hash: t.content_hash(),
        images: vec![],
    };
    assert_eq!(
        code(d.append("bob", None, Kind::ReportCreate, &create)),
        "revoked"
    );
    // What the key signed inside its frontier stands.
    let view = d.view(r);
    let findings = view.sections.iter().find(|s| s.name == "findings").unwrap();
    assert_eq!(findings.text.as_deref(), Some("Honest, before the theft."));
    let impression = view
        .sections
        .iter()
        .find(|s| s.name == "impression")
        .unwrap();
    assert_eq!(impression.text, None);
}

/// Key rotation through the one acceptance path: the old key signs before, the new key after;
/// the old key's entry after the rotation is refused (`rotated`), whatever date it carries;
/// the report shows one person across both keys.
#[test]
fn a_rotated_key_signs_nothing_after_and_the_person_stays_one() {
    let mut d = Department::new();
    let r = d.report("bob", "ct-chest");
    let before = d
        .write_section("bob", r, "findings", "With the old key.")
        .unwrap();
    let old = d.public("bob");
    let frontier = d.frontier_of(&old);
    assert_eq!(frontier.get(&r), Some(&before));
    let rotation = d.rotate("bob", "ada", true, frontier).unwrap();
    assert!(matches!(d.ledger.roster().status(&rotation), Some(Ok(()))));
    let rotated_at = d.clock;
    let after = d
        .write_section("bob", r, "impression", "With the new key.")
        .unwrap();
    // The stolen laptop: the old key signs after the rotation, dated a year back too.
    assert_eq!(
        code(d.write_section("bob@1", r, "technique", "Slipped in.")),
        "rotated"
    );
    d.clock -= 365 * 24 * 3600 * 1000;
    let t = crate::template::template("ct-chest").unwrap();
    let create = ReportCreate {
        study: "6.6.6".into(),
        template: "ct-chest".into(),
        template_hash: t.content_hash(),
        images: vec![],
    };
    assert_eq!(
        code(d.append("bob@1", None, Kind::ReportCreate, &create)),
        "rotated"
    );
    let view = d.view(r);
    let by = |section: &str| {
        let s = view.sections.iter().find(|s| s.name == section).unwrap();
        s.versions.last().map(|v| (v.entry, v.author.clone()))
    };
    let (id, first) = by("findings").unwrap();
    let (id2, second) = by("impression").unwrap();
    assert_eq!((id, id2), (before, after));
    assert!(by("technique").is_none_or(|(e, _)| e != before));
    // One person: the same name, key 1 of 2 then key 2 of 2, rotated on the rotation's date.
    assert_eq!(first.name, "Dr Bob Attending");
    assert_eq!(second.name, "Dr Bob Attending");
    let (p1, p2) = (first.person.unwrap(), second.person.unwrap());
    assert_eq!(
        (p1.ordinal(), p2.ordinal()),
        ("key 1 of 2".into(), "key 2 of 2".into())
    );
    assert_eq!(p2.rotated_ms, Some(rotated_at));
    assert_eq!(p1.retired_ms, Some(rotated_at));
    assert_eq!((p1.current, p2.current), (d.public("bob"), d.public("bob")));
    assert!(!p2.replaced_lost_key);
    // A member never rotated carries no key count.
    assert!(crate::author(d.ledger.roster(), &d.public("ada"))
        .person
        .is_none());
}

/// The same entries in another order: the old key's post-rotation entry stored before the
/// rotation arrived is judged again when it does, and refused as on the home that saw the
/// rotation first.
#[test]
fn a_rotation_arriving_after_the_old_keys_entry_refuses_it_the_same() {
    let mut d = Department::new();
    let r = d.report("rad", "ct-chest");
    d.write_section("rad", r, "findings", "Old key, before.")
        .unwrap();
    let frontier = d.frontier_of(&d.public("rad"));
    d.rotate("rad", "ada", false, frontier).unwrap();
    let late = d
        .write_section("rad@1", r, "impression", "Old key, after.")
        .unwrap_err();
    assert_eq!(late.code(), "rotated");
    // Another home takes the report's entries first, the roster's last.
    let network = d.network();
    let (roster, report): (Vec<_>, Vec<_>) = d
        .stored
        .iter()
        .cloned()
        .partition(|(e, _)| e.log_id() == network);
    let rotation_last = roster.len() - 1;
    let mut other = crate::accept::Ledger::default();
    for (e, p) in roster[..rotation_last]
        .iter()
        .chain(&report)
        .chain(&roster[rotation_last..])
    {
        other.accept(e, Some(p), d.clock).unwrap();
    }
    // Both hold the same entries, the refused one included (kept, counting for nothing), and
    // show the same report.
    let mine = d.view(r);
    let their_roster = other.roster().clone();
    let theirs = other
        .report(&r)
        .unwrap()
        .project(&their_roster, |_| crate::view::EntryStatus::Verified);
    assert_eq!(
        serde_json::to_string(&mine).unwrap(),
        serde_json::to_string(&theirs).unwrap()
    );
    let impression = theirs
        .sections
        .iter()
        .find(|s| s.name == "impression")
        .unwrap();
    assert_eq!(impression.text, None);
}

/// A report created by a key that turns out to be revoked outside its frontier is refused, and
/// so is everything others wrote into it: the report does not exist.
#[test]
fn the_entries_of_a_refused_report_count_for_nothing() {
    let mut d = Department::new();
    let r = d.report("bob", "ct-chest");
    let rad = d
        .write_section("rad", r, "findings", "Written in good faith.")
        .unwrap();
    // Bob's key was stolen before he created the report; the admin vouches for nothing of his.
    let revoke = RevokePayload {
        key: d.public("bob"),
        reason: "stolen before it was used".into(),
        frontier: Frontier::new(),
    };
    d.roster_entry("ada", Kind::RosterRevoke, &revoke).unwrap();
    let log = d.ledger.report(&r).unwrap();
    assert_eq!(
        log.standing(&r)
            .map(|s| matches!(s, crate::Standing::Refused(e) if e.code() == "revoked")),
        Some(true)
    );
    assert_eq!(
        log.standing(&rad)
            .map(|s| matches!(s, crate::Standing::Refused(e) if e.code() == "report_refused")),
        Some(true)
    );
    assert_eq!(d.view(r).status, ReportState::Refused);
}
