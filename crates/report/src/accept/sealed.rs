//! Sealed payloads through the one acceptance path: a report created sealed is read with its
//! key and judged by its headers alone without it; a clear payload where a sealed one is due
//! (and the reverse) is refused with its own code, as is an envelope that does not open.

use std::collections::BTreeMap;

use countersign_ledger::{DataKey, Entry, Kind, LogId};

use super::*;
use crate::fixture::Department;
use crate::payload::seal::{self, NONCE_LEN};
use crate::payload::{ReportCreate, SectionWrite};

fn key(b: u8) -> DataKey {
    DataKey::from_bytes([b; 32])
}

fn write(section: &str, text: &str) -> Vec<u8> {
    Payload::to_bytes(&SectionWrite {
        section: section.into(),
        text: text.into(),
        fields: Default::default(),
        macros: Vec::new(),
        links: Vec::new(),
    })
}

/// Seals `plain` for `kind` in `log` (a fresh nonce from a counter: tests are seeded).
fn sealed(k: &DataKey, kind: Kind, log: Option<&LogId>, plain: &[u8]) -> Vec<u8> {
    static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    seal::seal(k, &[n; NONCE_LEN], kind, log, plain)
}

/// A report created sealed under `k` by ada, the key given to the ledger.
fn sealed_report(dept: &mut Department, k: &DataKey) -> LogId {
    let t = crate::template::template("ct-chest").unwrap();
    let create = Payload::to_bytes(&ReportCreate {
        study: "1.2.840.99".into(),
        template: "ct-chest".into(),
        template_hash: t.content_hash(),
        images: vec![],
    });
    // Bound to the header it is signed under: the fixture's clock moves one step per entry.
    let ts = dept.clock + dept.step_ms;
    let bound = seal::create_binding(&dept.public("ada"), ts);
    let bytes = sealed(k, Kind::ReportCreate, Some(&bound), &create);
    let entry = dept.sign("ada", None, Kind::ReportCreate, &bytes, None);
    assert_eq!(entry.header().timestamp_ms, ts);
    let log = entry.id();
    assert_eq!(dept.ledger.add_key(log, k.clone()), Ok(false));
    assert_eq!(
        dept.store(entry, bytes),
        Ok(Verdict::New(Standing::Accepted))
    );
    log
}

fn store(
    dept: &mut Department,
    who: &str,
    log: LogId,
    kind: Kind,
    bytes: Vec<u8>,
) -> Result<Verdict, Rejection> {
    let entry: Entry = dept.sign(who, Some(log), kind, &bytes, None);
    dept.store(entry, bytes)
}

#[test]
fn a_sealed_report_reads_with_its_key_and_by_its_headers_without() {
    let mut dept = Department::new();
    let k = key(5);
    let report = sealed_report(&mut dept, &k);
    let w = sealed(
        &k,
        Kind::SectionWrite,
        Some(&report),
        &write("findings", "MARKER 4 mm"),
    );
    assert_eq!(
        store(&mut dept, "rex", report, Kind::SectionWrite, w),
        Ok(Verdict::New(Standing::Accepted))
    );
    let view = dept.view(report);
    assert!(!view.unreadable);
    let findings = view.sections.iter().find(|s| s.name == "findings").unwrap();
    assert_eq!(findings.text.as_deref(), Some("MARKER 4 mm"));
    // A rule still reads the opened payload: an unknown section is refused.
    let bad = sealed(
        &k,
        Kind::SectionWrite,
        Some(&report),
        &write("nowhere", "x"),
    );
    let refused = store(&mut dept, "rex", report, Kind::SectionWrite, bad);
    assert!(
        matches!(&refused, Ok(Verdict::New(Standing::Refused(e))) if e.code() == "unknown_section"),
        "{refused:?}"
    );

    // Another home with the same entries and no key: every entry stands, by its header.
    let mut other = Ledger::default();
    for (entry, payload) in &dept.stored {
        other.accept(entry, Some(payload), dept.clock).unwrap();
    }
    let roster = other.roster().clone();
    let log = other.report(&report).unwrap();
    assert!(log.unreadable());
    let blind = log.project(&roster, |_| crate::EntryStatus::Verified);
    assert!(blind.unreadable);
    assert!(blind.sections.iter().all(|s| s.text.is_none()));
    let standings = |l: &mut Ledger| -> Vec<String> {
        let log = l.report(&report).unwrap();
        log.ordered()
            .iter()
            .map(|e| match log.standing(&e.id) {
                Some(Standing::Accepted) => "accepted".to_string(),
                Some(Standing::Refused(r)) => r.code().to_string(),
                None => "none".into(),
            })
            .collect()
    };
    // Judged by headers alone, the unknown section is not seen (what the key holder refuses).
    assert_eq!(standings(&mut other), ["accepted"; 3]);
    // The key arrives: the log is unloaded, and loaded again it reads as its creator's does.
    assert_eq!(other.add_key(report, k.clone()), Ok(true));
    assert!(other.report(&report).is_none(), "unloaded");
    for (entry, payload) in dept.stored.iter().filter(|(e, _)| e.log_id() == report) {
        other.load(entry, Some(payload)).unwrap();
    }
    assert_eq!(standings(&mut other), standings(&mut dept.ledger));
    assert_eq!(
        other
            .report(&report)
            .unwrap()
            .project(&roster, |_| crate::EntryStatus::Verified)
            .sections,
        dept.view(report).sections
    );
    // Only one key per report.
    assert_eq!(
        other.add_key(report, key(6)),
        Err(Rejection::Report(ReportRuleError::DataKeyConflict {
            log: report
        }))
    );
    assert_eq!(
        other.add_key(report, k),
        Ok(false),
        "the same key again is no news"
    );
}

#[test]
fn a_payload_sealed_wrongly_or_not_at_all_is_refused_with_its_code() {
    let mut dept = Department::new();
    let k = key(7);
    let report = sealed_report(&mut dept, &k);
    let code = |r: Result<Verdict, Rejection>| match r {
        Err(e) => e.code().to_string(),
        Ok(v) => format!("{v:?}"),
    };
    // Clear text where the report's payloads are sealed: no erasure would shred it.
    let clear = write("findings", "MARKER in clear");
    assert_eq!(
        code(store(&mut dept, "rex", report, Kind::SectionWrite, clear)),
        "payload_not_sealed"
    );
    // Sealed under another key, or for another kind, or another report: it does not open.
    let other_key = sealed(
        &key(8),
        Kind::SectionWrite,
        Some(&report),
        &write("findings", "x"),
    );
    assert_eq!(
        code(store(
            &mut dept,
            "rex",
            report,
            Kind::SectionWrite,
            other_key
        )),
        "seal_broken"
    );
    let other_kind = sealed(
        &k,
        Kind::AddendumWrite,
        Some(&report),
        &write("findings", "x"),
    );
    assert_eq!(
        code(store(
            &mut dept,
            "rex",
            report,
            Kind::SectionWrite,
            other_kind
        )),
        "seal_broken"
    );
    let elsewhere = countersign_ledger::Hash([9; 32]);
    let moved = sealed(
        &k,
        Kind::SectionWrite,
        Some(&elsewhere),
        &write("findings", "x"),
    );
    assert_eq!(
        code(store(&mut dept, "rex", report, Kind::SectionWrite, moved)),
        "seal_broken"
    );
    // An erasure is never sealed: it must read after the key is gone.
    let erase = Payload::to_bytes(&crate::payload::PayloadErase {
        basis: "GDPR Art. 17".into(),
        scope: crate::payload::EraseScope::Report,
    });
    let sealed_erase = sealed(&k, Kind::PayloadErase, Some(&report), &erase);
    assert_eq!(
        code(store(
            &mut dept,
            "ada",
            report,
            Kind::PayloadErase,
            sealed_erase
        )),
        "payload_wrongly_sealed"
    );
    // Nothing refused here was stored; the clear erasure is.
    assert!(matches!(
        store(&mut dept, "ada", report, Kind::PayloadErase, erase),
        Ok(Verdict::New(Standing::Accepted))
    ));

    // A report created before sealing stays clear: a sealed payload in it is refused.
    let legacy = dept.report("ada", "ct-chest");
    let envelope = sealed(
        &k,
        Kind::SectionWrite,
        Some(&legacy),
        &write("findings", "x"),
    );
    assert_eq!(
        code(store(
            &mut dept,
            "rex",
            legacy,
            Kind::SectionWrite,
            envelope
        )),
        "payload_wrongly_sealed"
    );
    assert!(dept
        .write_section("rex", legacy, "findings", "clear, as before")
        .is_ok());
}

fn erasure_bytes() -> Vec<u8> {
    Payload::to_bytes(&crate::payload::PayloadErase {
        basis: "GDPR Art. 17".into(),
        scope: crate::payload::EraseScope::Report,
    })
}

/// Found (review of issue 16, M1): an erasure noted for a batch but never placed — its parent
/// unknown, so it waits — switched the sealing rule off for its report: clear text written
/// into the sealed report in the same batch was stored on the homes that saw the erasure and
/// refused on the others. Only an accepted erasure lifts the rule now, a noted one ends with
/// its batch, and a revoked key's erasure is not noted at all.
#[test]
fn a_noted_erasure_that_is_never_placed_lets_no_clear_text_into_a_sealed_report() {
    let mut dept = Department::new();
    let k = key(11);
    let report = sealed_report(&mut dept, &k);
    let erase = erasure_bytes();
    let dangling = dept.sign(
        "bob",
        Some(report),
        Kind::PayloadErase,
        &erase,
        Some(vec![countersign_ledger::Hash([7; 32])]),
    );
    assert!(dept.ledger.note_erasure(&dangling, Some(&erase)));
    assert!(
        dept.ledger
            .accept(&dangling, Some(&erase), dept.clock)
            .is_err(),
        "its parent is unknown: it is not placed"
    );
    let clear = write("findings", "MARKER in clear");
    let res = store(&mut dept, "rex", report, Kind::SectionWrite, clear);
    assert_eq!(
        res.map_err(|e| e.code().to_string()),
        Err("payload_not_sealed".to_string())
    );
    // Once the batch is in, the noted erasure is forgotten: a header alone is not taken.
    dept.ledger.end_batch();
    let header_only = dept.sign("rex", Some(report), Kind::SectionWrite, b"x", None);
    assert_eq!(
        dept.ledger.accept(&header_only, None, dept.clock),
        Err(Rejection::PayloadMissing)
    );

    // A revoked key may not erase now: its erasure is not noted.
    dept.roster_entry(
        "ada",
        Kind::RosterRevoke,
        &countersign_ledger::roster::RevokePayload {
            key: dept.public("bob"),
            reason: String::new(),
            frontier: Default::default(),
        },
    )
    .unwrap();
    let by_revoked = dept.sign("bob", Some(report), Kind::PayloadErase, &erase, None);
    assert!(!dept.ledger.note_erasure(&by_revoked, Some(&erase)));
    // A real erasure, accepted, does end the rule: the key is gone with it.
    let ok = dept.sign("ada", Some(report), Kind::PayloadErase, &erase, None);
    assert!(matches!(
        dept.store(ok, erase),
        Ok(Verdict::New(Standing::Accepted))
    ));
}

/// Found (review of issue 16, M3): a create's envelope was bound to its kind alone, so a byte
/// copy of report R1's create, signed as a new report R2 with R1's key given as R2's, opened:
/// R1's key then lived on as R2's after R1's erasure. A create is now bound to its own author
/// and timestamp, and the copy does not open.
#[test]
fn a_byte_copy_of_another_reports_create_does_not_open_as_a_new_report() {
    let mut dept = Department::new();
    let k = key(12);
    let r1 = sealed_report(&mut dept, &k);
    let copied = dept
        .stored
        .iter()
        .find(|(e, _)| e.id() == r1)
        .map(|(_, p)| p.clone())
        .unwrap();
    let r2 = dept.sign("bob", None, Kind::ReportCreate, &copied, None);
    assert!(!seal::opens_create(&k, r2.header(), &copied));
    let (original, _) = dept.stored.iter().find(|(e, _)| e.id() == r1).unwrap();
    assert!(seal::opens_create(&k, original.header(), &copied));
    assert_eq!(dept.ledger.add_key(r2.id(), k.clone()), Ok(false));
    let res = dept.store(r2, copied);
    assert_eq!(
        res.map_err(|e| e.code().to_string()),
        Err("seal_broken".to_string())
    );
}

/// Review of issue 16, M2: nothing stopped a hostile client from creating a report in clear,
/// which honest homes then wrote into in clear. A network whose genesis sets
/// `sealed_reports` refuses a clear create (`payload_not_sealed`) on every home alike; a view
/// says whether its report was created sealed.
#[test]
fn a_network_that_requires_sealed_reports_refuses_a_clear_create() {
    let policy = countersign_ledger::roster::Policy {
        sealed_reports: true,
        ..Default::default()
    };
    let mut dept = Department::with_policy(policy);
    let t = crate::template::template("ct-chest").unwrap();
    let create = ReportCreate {
        study: "1.2.3".into(),
        template: "ct-chest".into(),
        template_hash: t.content_hash(),
        images: vec![],
    };
    let clear = dept.append("ada", None, Kind::ReportCreate, &create);
    assert_eq!(
        clear.map_err(|e| e.code().to_string()),
        Err("payload_not_sealed".to_string())
    );
    let report = sealed_report(&mut dept, &key(13));
    assert!(dept.view(report).sealed);

    // Without the policy (every network founded before it), a clear create stands, and its
    // view says so.
    let mut legacy = Department::new();
    let clear = legacy.report("ada", "ct-chest");
    assert!(!legacy.view(clear).sealed);
}

/// Issue 16, S1: a clear payload in a network that requires sealed reports was held for its
/// date, or kept waiting for a report not yet here, with its clear text, until judged. It can
/// never be taken (no report of such a network is in clear): refused at once, on both paths,
/// so no home keeps its bytes; a sealed one takes the usual paths.
#[test]
fn a_clear_payload_is_refused_at_once_where_sealed_reports_are_required_not_held_or_kept_waiting() {
    let policy = countersign_ledger::roster::Policy {
        sealed_reports: true,
        ..Default::default()
    };
    let mut dept = Department::with_policy(policy);
    let report = sealed_report(&mut dept, &key(14));
    let clear = Payload::to_bytes(&SectionWrite {
        section: "findings".into(),
        text: "clear text".into(),
        fields: BTreeMap::new(),
        macros: Vec::new(),
        links: Vec::new(),
    });
    let now = dept.clock;
    // Dated a year ahead: refused, not held.
    dept.clock += 365 * 24 * 3600 * 1000;
    let ahead = dept.sign("ada", Some(report), Kind::SectionWrite, &clear, None);
    assert_eq!(
        dept.ledger
            .accept(&ahead, Some(&clear), now)
            .map_err(|e| e.code().to_string()),
        Err("payload_not_sealed".to_string())
    );
    // The same sealed is held, as any entry from the future.
    let envelope = sealed(&key(14), Kind::SectionWrite, Some(&report), &clear);
    let ahead_sealed = dept.sign("ada", Some(report), Kind::SectionWrite, &envelope, None);
    assert!(matches!(
        dept.ledger.accept(&ahead_sealed, Some(&envelope), now),
        Ok(Verdict::Held { .. })
    ));
    // In a report not here yet: refused, not kept waiting for it.
    let elsewhere = Hash::of(b"a report not here yet");
    let h = countersign_ledger::Header::new(
        dept.network(),
        elsewhere,
        dept.public("ada"),
        1,
        now,
        Kind::SectionWrite,
        vec![elsewhere],
        &clear,
    );
    let waiting = countersign_ledger::Entry::sign(h, dept.key("ada")).unwrap();
    assert_eq!(
        dept.ledger
            .accept(&waiting, Some(&clear), now)
            .map_err(|e| e.code().to_string()),
        Err("payload_not_sealed".to_string())
    );
    // By a key the roster does not name (yet): refused, not kept waiting for its author
    // (review of issue 16: any member's node could relay a stranger's clear text into every
    // home's quarantine).
    let stranger = countersign_ledger::SecretKey::from_seed(&[0x5e; 32]);
    let h = countersign_ledger::Header::new(
        dept.network(),
        report,
        stranger.public(),
        1,
        now,
        Kind::SectionWrite,
        vec![report],
        &clear,
    );
    let unnamed = countersign_ledger::Entry::sign(h, &stranger).unwrap();
    assert_eq!(
        dept.ledger
            .accept(&unnamed, Some(&clear), now)
            .map_err(|e| e.code().to_string()),
        Err("payload_not_sealed".to_string())
    );
    // The same stranger's sealed payload is still an unknown author's, as before.
    let unnamed_sealed = {
        let h = countersign_ledger::Header::new(
            dept.network(),
            report,
            stranger.public(),
            1,
            now,
            Kind::SectionWrite,
            vec![report],
            &envelope,
        );
        countersign_ledger::Entry::sign(h, &stranger).unwrap()
    };
    assert_eq!(
        dept.ledger
            .accept(&unnamed_sealed, Some(&envelope), now)
            .map_err(|e| e.code().to_string()),
        Err("unknown_author".to_string())
    );
}
