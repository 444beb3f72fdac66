//! Fork evidence is a signed header: a second entry at an occupied (log, author, seq) proves
//! equivocation without its payload, and each position keeps one piece of evidence. Issue 13:
//! one key could store a thousand 16 MiB "forks" at one position on every peer.

use countersign_ledger::{Entry, Kind, LogId, SecretKey};

use super::regressions::{bytes, key_of, sign_raw, write};
use super::*;
use crate::fixture::Department;

/// A report in which `rad` wrote the findings, and the (heads, seq) of rad's next entry.
fn report_with_rad() -> (Department, LogId, Vec<EntryId>, u64) {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    d.write_section("rad", r, "findings", "Clear lungs.")
        .unwrap();
    let (heads, seq) = d.ledger.position_for(&r, &d.public("rad")).unwrap();
    (d, r, heads, seq)
}

/// Rad's key signs `text` at the same position (a cloned laptop).
fn rad_at(d: &mut Department, r: LogId, heads: &[EntryId], seq: u64, text: &str) -> Entry {
    let p = bytes(&write("impression", text));
    sign_raw(
        d,
        &key_of("rad"),
        r,
        seq,
        Kind::SectionWrite,
        &p,
        heads.to_vec(),
    )
}

#[test]
fn a_fork_is_evidence_from_its_signed_header_without_its_payload() {
    let (mut d, r, heads, seq) = report_with_rad();
    let first = rad_at(&mut d, r, &heads, seq, "Normal.");
    let p = bytes(&write("impression", "Normal."));
    assert!(matches!(d.store(first.clone(), p), Ok(Verdict::New(_))));
    let second = rad_at(&mut d, r, &heads, seq, "Abnormal.");
    // Judged and taken with no payload at all: the fork is seen from the header.
    assert_eq!(
        d.ledger.judge(&second, None, d.clock),
        Ok(Verdict::Fork { first: first.id() })
    );
    assert_eq!(
        d.ledger.accept(&second, None, d.clock),
        Ok(Verdict::Fork { first: first.id() })
    );
    // The author is frozen from there, as with a payload.
    let frozen = d.write_section("rad", r, "technique", "More.").unwrap_err();
    assert_eq!(frozen.code(), "frozen");
    // An entry that is no fork still needs its payload.
    let (heads, seq) = d.ledger.position_for(&r, &d.public("ada")).unwrap();
    let p = bytes(&write("technique", "Helical."));
    let ada = sign_raw(
        &mut d,
        &key_of("ada"),
        r,
        seq,
        Kind::SectionWrite,
        &p,
        heads,
    );
    assert_eq!(
        d.ledger.accept(&ada, None, d.clock).unwrap_err().code(),
        "payload_missing"
    );
}

/// The fork's payload is never parsed: one too large to be a section, or not JSON at all,
/// proves the equivocation just the same.
#[test]
fn a_fork_whose_payload_does_not_parse_is_still_evidence() {
    for payload in [
        bytes(&write("impression", &"x".repeat(15 << 20))),
        b"not json".to_vec(),
    ] {
        let (mut d, r, heads, seq) = report_with_rad();
        let first = rad_at(&mut d, r, &heads, seq, "Normal.");
        let p = bytes(&write("impression", "Normal."));
        d.store(first.clone(), p).unwrap();
        let second = sign_raw(
            &mut d,
            &key_of("rad"),
            r,
            seq,
            Kind::SectionWrite,
            &payload,
            heads.clone(),
        );
        assert_eq!(
            d.ledger.accept(&second, Some(&payload), d.clock),
            Ok(Verdict::Fork { first: first.id() })
        );
        // Placed without its payload: what a home that got only the header holds too.
        let log = d.ledger.report(&r).unwrap();
        assert!(log.contains(&second.id()));
        assert!(log.get(&second.id()).unwrap().payload.is_none());
    }
}

#[test]
fn a_third_entry_at_a_forked_position_is_a_duplicate_not_more_evidence() {
    let (mut d, r, heads, seq) = report_with_rad();
    let sides: Vec<(Entry, Vec<u8>)> = (0..3)
        .map(|n| {
            let text = format!("side {n}");
            let e = rad_at(&mut d, r, &heads, seq, &text);
            (e, bytes(&write("impression", &text)))
        })
        .collect();
    let verdicts: Vec<Verdict> = sides
        .iter()
        .map(|(e, p)| d.ledger.accept(e, Some(p), d.clock).unwrap())
        .collect();
    assert!(matches!(verdicts[0], Verdict::New(_)), "{verdicts:?}");
    assert_eq!(
        verdicts[1],
        Verdict::Fork {
            first: sides[0].0.id()
        }
    );
    assert_eq!(verdicts[2], Verdict::Duplicate);
    // Only the first evidence is placed; the third proves nothing the second did not.
    let log = d.ledger.report(&r).unwrap();
    assert!(log.contains(&sides[1].0.id()));
    assert!(!log.contains(&sides[2].0.id()));
    // The evidence again, with or without its payload: a duplicate.
    assert_eq!(
        d.ledger.accept(&sides[1].0, None, d.clock),
        Ok(Verdict::Duplicate)
    );
    // A home that loaded the position's evidence (as a restart does) answers the same.
    let mut home = Ledger::default();
    for (e, p) in d.stored.iter().chain(&sides[..1]) {
        home.load(e, Some(p)).unwrap();
    }
    home.insert_evidence(&sides[1].0, None);
    assert_eq!(
        home.accept(&sides[2].0, None, d.clock),
        Ok(Verdict::Duplicate)
    );
}

/// In the roster log too: an admin's second entry at a position is evidence by its header.
#[test]
fn a_roster_fork_is_evidence_without_its_payload() {
    let mut d = Department::new();
    let network = d.network();
    let ada: SecretKey = key_of("ada");
    let (heads, seq) = d.ledger.position_for(&network, &ada.public()).unwrap();
    let mut sides = Vec::new();
    for n in 0..2 {
        let mut m = d.member("cara");
        m.name = format!("Dr Carl Cardio ({n})");
        let p = bytes(&m);
        let e = sign_raw(
            &mut d,
            &ada,
            network,
            seq,
            Kind::RosterMember,
            &p,
            heads.clone(),
        );
        sides.push((e, p));
    }
    d.store(sides[0].0.clone(), sides[0].1.clone()).unwrap();
    assert_eq!(
        d.ledger.accept(&sides[1].0, None, d.clock),
        Ok(Verdict::Fork {
            first: sides[0].0.id()
        })
    );
    let again = d.ledger.accept(&sides[1].0, Some(&sides[1].1), d.clock);
    assert_eq!(again, Ok(Verdict::Duplicate));
}

/// Found when evidence lost its payload: a home showed the content of the side it held as the
/// entry and not the other's, so two homes holding opposite sides showed different reports.
/// Neither side's content is shown now, wherever it came from.
#[test]
fn homes_holding_opposite_sides_of_a_fork_show_the_same_report() {
    let (mut d, r, heads, seq) = report_with_rad();
    let sides: Vec<(Entry, Vec<u8>)> = ["One side.", "The other side."]
        .into_iter()
        .map(|text| {
            let e = rad_at(&mut d, r, &heads, seq, text);
            (e, bytes(&write("impression", text)))
        })
        .collect();
    let now = d.clock;
    let shown = |first: &(Entry, Vec<u8>), second: &(Entry, Vec<u8>)| {
        let mut home = Ledger::default();
        for (e, p) in &d.stored {
            home.accept(e, Some(p), now).unwrap();
        }
        assert!(matches!(
            home.accept(&first.0, Some(&first.1), now),
            Ok(Verdict::New(_))
        ));
        assert!(matches!(
            home.accept(&second.0, Some(&second.1), now),
            Ok(Verdict::Fork { .. })
        ));
        let roster = home.roster().clone();
        let view = home
            .report(&r)
            .unwrap()
            .project(&roster, |_| crate::view::EntryStatus::Verified);
        serde_json::to_string(&view).unwrap()
    };
    assert_eq!(shown(&sides[0], &sides[1]), shown(&sides[1], &sides[0]));
}
