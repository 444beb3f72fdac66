//! Signed text must read as its bytes say (review of 2026-12-05): a bidi override or another
//! invisible formatting or control character let a viewer show "right" or "12.5" where the
//! signed bytes said otherwise, and the attending signed what they saw.

use super::*;
use crate::payload::{
    AccessChange, AddendumWrite, AiResult, AiReview, Channel, CriticalResult, Decision,
    FollowupRecommend,
};

fn code<T>(r: Result<T, Rejection>) -> String {
    r.map_or_else(|e| e.code().to_string(), |_| "accepted".into())
}

/// Found: "nodule in the \u{202E}thgir\u{202C} upper lobe" and "\u{202E}5.21\u{202C} mm" were
/// accepted in a resident's section, a critical result, a follow-up, an AI result and a review,
/// and in an addendum after sign-off. Each is refused now (`hidden_character`); the same text
/// without the override, and ordinary clinical text, is accepted.
#[test]
fn a_bidi_override_in_signed_text_is_refused_in_every_kind() {
    let mut d = Department::new();
    let spoofed = "Nodule in the \u{202E}thgir\u{202C} upper lobe, \u{202E}5.21\u{202C} mm.";
    let honest = "Nodule in the left upper lobe, 12.5 mm ± 1; Ödem ≤ 3 mm, 结节 👍.\nNo effusion.";
    let r = d.report("ada", "ct-chest");
    assert_eq!(
        code(d.write_section("rex", r, "findings", spoofed)),
        "hidden_character"
    );
    let mut with_field = write("findings", "Nodule.");
    with_field
        .fields
        .insert("size".into(), "\u{2067}21\u{2069}".into());
    let refused = d.append("rex", Some(r), Kind::SectionWrite, &with_field);
    assert_eq!(code(refused), "hidden_character");
    let critical = |finding: &str| CriticalResult {
        finding: finding.into(),
        to: "Dr Who, ED".into(),
        via: Channel::Phone,
        communicated_ms: 1,
        read_back: true,
    };
    let followup = |finding: &str| FollowupRecommend {
        finding: finding.into(),
        due: "2027-06-01".into(),
    };
    let result = |text: &str| AiResult {
        model: crate::fixture::ai_model().model,
        version: crate::fixture::ai_model().version,
        inputs: vec![],
        parameters: BTreeMap::new(),
        outputs: BTreeMap::new(),
        section: "findings".into(),
        text: text.into(),
    };
    d.append(
        "ada",
        Some(r),
        Kind::AccessGrant,
        &AccessChange {
            member: d.public("ai"),
        },
    )
    .unwrap();
    let mut proposal = None;
    for (who, kind, spoofed, honest) in [
        (
            "rad",
            Kind::CriticalResult,
            bytes(&critical(spoofed)),
            bytes(&critical(honest)),
        ),
        (
            "rad",
            Kind::FollowupRecommend,
            bytes(&followup(spoofed)),
            bytes(&followup(honest)),
        ),
        (
            "ai",
            Kind::AiResult,
            bytes(&result(spoofed)),
            bytes(&result(honest)),
        ),
    ] {
        let as_json = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        assert_eq!(
            code(d.append(who, Some(r), kind, &as_json(&spoofed))),
            "hidden_character",
            "{kind}"
        );
        let id = d.append(who, Some(r), kind, &as_json(&honest));
        assert_eq!(code(id.clone()), "accepted", "{kind}");
        proposal = id.ok();
    }
    let review = |comment: &str| AiReview {
        result: proposal.unwrap(),
        decision: Decision::Reject,
        text: None,
        comment: Some(comment.into()),
    };
    assert_eq!(
        code(d.append("ada", Some(r), Kind::AiReview, &review(spoofed))),
        "hidden_character"
    );
    assert_eq!(
        code(d.append("ada", Some(r), Kind::AiReview, &review(honest))),
        "accepted"
    );
    // The attending signs what the report reads: the honest version, never the spoofed one.
    let mut v = BTreeMap::new();
    for s in ["technique", "findings", "impression"] {
        v.insert(s.to_string(), d.write_section("ada", r, s, honest).unwrap());
    }
    final_by(&mut d, "ada", r, &v);
    let addendum = |text: &str| AddendumWrite { text: text.into() };
    assert_eq!(
        code(d.append("ada", Some(r), Kind::AddendumWrite, &addendum(spoofed))),
        "hidden_character"
    );
    assert_eq!(
        code(d.append("ada", Some(r), Kind::AddendumWrite, &addendum(honest))),
        "accepted"
    );
    let view = d.view(r);
    let findings = view.sections.iter().find(|s| s.name == "findings").unwrap();
    assert_eq!(findings.text.as_deref(), Some(honest));
    assert!(findings
        .versions
        .iter()
        .all(|v| v.text.as_deref() == Some(honest)));
    let refused = view
        .provenance
        .iter()
        .filter(|p| {
            matches!(&p.status, crate::view::EntryStatus::Refused { code, .. }
                if code == "hidden_character")
        })
        .count();
    assert_eq!(refused, 7);
}

/// The safe path for stores written before the rule: a spoofed section an older build accepted
/// is storable still — a home re-reading its store (`verify`, a reload) takes it, shows it
/// refused like any entry a rule refuses, and the entries after it stand. Had the payload
/// failed to parse instead, it would not be storable, and every entry with it in its past
/// would never be placed.
#[test]
fn a_spoofed_entry_an_older_build_stored_still_loads_refused_and_what_follows_stands() {
    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    // Stored as a peer's entry is (refused, kept); an older build stored it accepted.
    let spoofed = d.write_section("rex", r, "findings", "Nodule \u{202E}thgir\u{202C}.");
    assert_eq!(code(spoofed), "hidden_character");
    let (spoof_entry, _) = d.stored.last().unwrap().clone();
    // Rex's next write has the spoofed one in its past (their own chain).
    let after = d
        .write_section("rex", r, "impression", "Nodule, right upper lobe.")
        .unwrap();
    let mut home = Ledger::default();
    for (entry, payload) in &d.stored {
        assert_eq!(
            home.accept_stored(entry, Some(payload)),
            Ok(Verdict::New(())),
            "{}",
            entry.id()
        );
    }
    assert_eq!(
        standing_code(&mut home, &r, &spoof_entry.id()),
        "hidden_character"
    );
    assert_eq!(standing_code(&mut home, &r, &after), "accepted");
}
