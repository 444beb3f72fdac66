//! One entry as it arrives: one that breaks its own author's chain is no fork evidence, one
//! dated far ahead is checked before it is held, and an AI model's write is judged under the
//! latest access changes when a grant and a revocation are concurrent.

use super::*;
use crate::payload::{AccessChange, AiResult};

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
