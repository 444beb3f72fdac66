//! The figures of [`super::ai_stats`] tried: counts, spreads, drift and what is left out.

use super::*;

#[test]
fn words_changed_counts_insertions_and_deletions() {
    assert_eq!(words_changed("a b c", "a b c"), 0);
    assert_eq!(words_changed("a b c", "a c"), 1);
    assert_eq!(words_changed("a b c", "a x c"), 2);
    assert_eq!(words_changed("", "one two"), 2);
}

#[test]
fn a_date_is_its_midnight_utc() {
    assert_eq!(date_start_ms("1970-01-01"), Some(0));
    assert_eq!(date_start_ms("2026-12-01"), Some(1_796_083_200_000));
    assert_eq!(date_start_ms("2024-02-29"), Some(1_709_164_800_000));
    assert_eq!(date_start_ms("2023-02-29"), None);
    assert_eq!(date_start_ms("yesterday"), None);
}

#[test]
fn spread_is_nearest_rank() {
    let s = Spread::of((1..=10).collect());
    assert_eq!((s.n, s.p50, s.p90, s.max), (10, 5, 9, 10));
    assert_eq!(Spread::of(vec![]), Spread::default());
}

/// A department of 200 AI proposals across two versions with known outcomes: exact counts,
/// rates and the drift between the versions; a proposal or review that does not verify is
/// left out and listed.
#[test]
fn two_hundred_proposals_across_two_versions_give_exact_figures() {
    use crate::fixture::Department;
    use crate::payload::{AccessChange, AiResult, AiReview};
    use countersign_ledger::Kind;

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let grant = AccessChange {
        member: d.public("ai"),
    };
    d.append("ada", Some(r), Kind::AccessGrant, &grant).unwrap();
    // (version, accepted, edited, rejected, unreviewed)
    let plan = [("1", 60, 20, 10, 10), ("2", 80, 10, 5, 5)];
    for (version, accepted, edited, rejected, unreviewed) in plan {
        // Each version signs as itself: the roster names the model's upgrade.
        d.change_member(
            "ai",
            countersign_ledger::Role::AiModel,
            Some(("soft-tissue-stats", version)),
        )
        .unwrap();
        let outcomes = std::iter::repeat_n(Some(Decision::Accept), accepted)
            .chain(std::iter::repeat_n(Some(Decision::Edit), edited))
            .chain(std::iter::repeat_n(Some(Decision::Reject), rejected))
            .chain(std::iter::repeat_n(None, unreviewed));
        for (i, outcome) in outcomes.enumerate() {
            let result = AiResult {
                model: "soft-tissue-stats".into(),
                version: version.into(),
                inputs: vec![],
                parameters: BTreeMap::new(),
                outputs: BTreeMap::new(),
                section: "findings".into(),
                text: format!("Mean {i} HU over the region."),
            };
            let id = d.append("ai", Some(r), Kind::AiResult, &result).unwrap();
            if let Some(decision) = outcome {
                let review = AiReview {
                    result: id,
                    decision,
                    text: (decision == Decision::Edit)
                        .then(|| format!("Mean {i} HU over the soft tissue region.")),
                    comment: None,
                };
                d.append("ada", Some(r), Kind::AiReview, &review).unwrap();
            }
        }
    }
    let view = d.view(r);
    assert_eq!(view.ai.len(), 200);
    let stats = ai_stats(&view.ai, &Filter::default());
    let figures: Vec<_> = stats
        .models
        .iter()
        .map(|m| {
            (
                m.version.as_str(),
                m.proposals,
                m.accepted,
                m.edited,
                m.rejected,
                m.unreviewed,
            )
        })
        .collect();
    assert_eq!(
        figures,
        [("1", 100, 60, 20, 10, 10), ("2", 100, 80, 10, 5, 5)]
    );
    let v1 = &stats.models[0];
    assert_eq!(v1.acceptance_rate, Some(80.0 / 90.0));
    assert_eq!(v1.rejection_rate, Some(10.0 / 90.0));
    // "over the region" → "over the soft tissue region": two words in.
    assert_eq!(
        (v1.edit_words.n, v1.edit_words.p50, v1.edit_words.max),
        (20, 2, 2)
    );
    assert_eq!(v1.review_ms.n, 90);
    assert_eq!(v1.reviewers.values().sum::<u64>(), 90);
    assert_eq!(v1.unreviewed_results.len(), 10);
    assert_eq!(stats.drift.len(), 1);
    let drift = &stats.drift[0];
    assert_eq!((drift.from.as_str(), drift.to.as_str()), ("1", "2"));
    assert!((drift.change - (90.0 / 95.0 - 80.0 / 90.0)).abs() < 1e-12);
    assert!(stats.excluded.is_empty());

    // One proposal and one review that do not verify: out of every figure, and listed.
    let mut tampered = view.ai.clone();
    tampered[0].status = EntryStatus::Invalid {
        reason: "payload hash mismatch".into(),
    };
    if let Some(review) = tampered[1].review.as_mut() {
        review.status = EntryStatus::Invalid {
            reason: "signature".into(),
        };
    }
    let stats = ai_stats(&tampered, &Filter::default());
    let v1 = &stats.models[0];
    assert_eq!((v1.proposals, v1.accepted, v1.unreviewed), (99, 58, 11));
    let kinds: Vec<_> = stats.excluded.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["ai.result", "ai.review"]);
    // Filters: one model, from a time on.
    let none = ai_stats(
        &view.ai,
        &Filter {
            model: Some("another".into()),
            since_ms: None,
        },
    );
    assert!(none.models.is_empty());
    let later = ai_stats(
        &view.ai,
        &Filter {
            model: None,
            since_ms: Some(view.ai[150].time_ms),
        },
    );
    assert_eq!(later.models.iter().map(|m| m.proposals).sum::<u64>(), 50);
}

#[test]
fn a_month_is_the_utc_month_of_the_signed_time() {
    let day = |d: &str| date_start_ms(d).unwrap();
    assert_eq!(month_of(0), "1970-01");
    assert_eq!(month_of(day("2024-02-29")), "2024-02");
    assert_eq!(month_of(day("2026-12-01") - 1), "2026-11");
    assert_eq!(month_of(day("2026-12-01")), "2026-12");
    assert_eq!(month_of(day("2000-03-01")), "2000-03");
    assert_eq!(month_of(day("2100-01-01") - 1), "2099-12");
}

/// A department whose proposals span three months and two versions, with known outcomes:
/// the per-month counts and rates, the proposals behind each count, and the report each
/// proposal (and an excluded review) belongs to are exact.
#[test]
fn months_and_the_proposals_behind_each_count_are_exact() {
    use crate::fixture::Department;
    use crate::payload::{AccessChange, AiResult, AiReview};
    use countersign_ledger::Kind;
    use std::collections::BTreeSet;

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    let grant = AccessChange {
        member: d.public("ai"),
    };
    d.append("ada", Some(r), Kind::AccessGrant, &grant).unwrap();
    // (month, version, accepted, edited, rejected, unreviewed)
    let plan = [
        ("2026-01-15", "1", 3, 2, 1, 1),
        ("2026-02-03", "1", 1, 0, 3, 2),
        ("2026-03-30", "2", 4, 1, 0, 0),
    ];
    // What each proposal was given, by version and outcome.
    let mut given: BTreeMap<(&str, &str), BTreeSet<EntryId>> = BTreeMap::new();
    for (day, version, accepted, edited, rejected, unreviewed) in plan {
        d.clock = date_start_ms(day).unwrap();
        d.change_member(
            "ai",
            countersign_ledger::Role::AiModel,
            Some(("soft-tissue-stats", version)),
        )
        .unwrap();
        let outcomes = std::iter::repeat_n(Some(Decision::Accept), accepted)
            .chain(std::iter::repeat_n(Some(Decision::Edit), edited))
            .chain(std::iter::repeat_n(Some(Decision::Reject), rejected))
            .chain(std::iter::repeat_n(None, unreviewed));
        for (i, outcome) in outcomes.enumerate() {
            let result = AiResult {
                model: "soft-tissue-stats".into(),
                version: version.into(),
                inputs: vec![],
                parameters: BTreeMap::new(),
                outputs: BTreeMap::new(),
                section: "findings".into(),
                text: format!("Mean {i} HU over the region."),
            };
            let id = d.append("ai", Some(r), Kind::AiResult, &result).unwrap();
            let label = match outcome {
                Some(Decision::Accept) => "accepted",
                Some(Decision::Edit) => "edited",
                Some(Decision::Reject) => "rejected",
                None => "unreviewed",
            };
            given.entry((version, label)).or_default().insert(id);
            if let Some(decision) = outcome {
                let review = AiReview {
                    result: id,
                    decision,
                    text: (decision == Decision::Edit).then(|| format!("Mean {i} HU.")),
                    comment: None,
                };
                d.append("ada", Some(r), Kind::AiReview, &review).unwrap();
            }
        }
    }
    let view = d.view(r);
    let outcomes = || view.ai.iter().map(|ai| Outcome::of(ai, Some(r)));
    let stats = ai_stats_of(outcomes(), &Filter::default());
    assert_eq!(stats.models.len(), 2);
    // (month, proposals, accepted, edited, rejected, unreviewed, acceptance rate)
    type Month = (String, u64, u64, u64, u64, u64, Option<f64>);
    let months = |m: &ModelStats| -> Vec<Month> {
        m.months
            .iter()
            .map(|c| {
                (
                    c.month.clone(),
                    c.proposals,
                    c.accepted,
                    c.edited,
                    c.rejected,
                    c.unreviewed,
                    c.acceptance_rate,
                )
            })
            .collect()
    };
    assert_eq!(
        months(&stats.models[0]),
        [
            ("2026-01".to_string(), 7, 3, 2, 1, 1, Some(5.0 / 6.0)),
            ("2026-02".to_string(), 6, 1, 0, 3, 2, Some(1.0 / 4.0)),
        ]
    );
    assert_eq!(
        months(&stats.models[1]),
        [("2026-03".to_string(), 5, 4, 1, 0, 0, Some(1.0))]
    );
    for m in &stats.models {
        let set = |ids: &[EntryId]| ids.iter().copied().collect::<BTreeSet<_>>();
        // A version with no proposal of an outcome has none behind its count.
        let of = |label| {
            given
                .get(&(m.version.as_str(), label))
                .cloned()
                .unwrap_or_default()
        };
        assert_eq!(set(&m.accepted_results), of("accepted"), "{}", m.version);
        assert_eq!(set(&m.edited_results), of("edited"), "{}", m.version);
        assert_eq!(set(&m.rejected_results), of("rejected"), "{}", m.version);
        assert_eq!(
            set(&m.unreviewed_results),
            of("unreviewed"),
            "{}",
            m.version
        );
        assert_eq!(
            (
                m.accepted_results.len() as u64,
                m.edited_results.len() as u64,
                m.rejected_results.len() as u64
            ),
            (m.accepted, m.edited, m.rejected)
        );
    }
    // Every proposal clicks through to its report.
    assert_eq!(stats.reports.len(), 18);
    assert!(stats.reports.values().all(|log| *log == r));
    assert!(stats.excluded.is_empty());

    // A review that does not verify: out of its month's counts, listed, and its report
    // named; the month reads it as unreviewed.
    let mut tampered: Vec<Outcome> = outcomes().collect();
    let review = {
        let o = tampered
            .iter_mut()
            .find(|o| given[&("1", "accepted")].contains(&o.entry))
            .unwrap();
        let review = o.review.as_mut().unwrap();
        review.unverified = Some("does not verify: signature".into());
        review.entry
    };
    let stats = ai_stats_of(tampered, &Filter::default());
    assert_eq!(stats.excluded.len(), 1);
    assert_eq!(stats.excluded[0].entry, review);
    assert_eq!(stats.reports.get(&review), Some(&r));
    let jan = &stats.models[0].months[0];
    assert_eq!(
        (jan.accepted, jan.unreviewed, jan.acceptance_rate),
        (2, 2, Some(4.0 / 5.0))
    );
    // The JSON the desktop reads: these names, the reports keyed by entry.
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["models"][0]["months"][0]["month"], "2026-01");
    assert_eq!(json["reports"][review.to_hex()], r.to_hex());
    assert!(json["models"][0]["edited_results"].is_array());
}

/// A reviewer renamed since some of their reviews is one reviewer, under one label naming
/// every name the key had (found by review, 2026-12-05: `ai stats` said the new name had
/// reviewed them all).
#[test]
fn a_renamed_reviewer_is_one_label_naming_the_former_names() {
    let key = countersign_ledger::SecretKey::from_seed(&[7; 32]).public();
    let author = |name_then: Option<&str>, formerly: &[&str]| crate::view::Author {
        key,
        name: "Dr B".into(),
        role: None,
        ai_model: None,
        person: None,
        name_then: name_then.map(Into::into),
        formerly: formerly.iter().map(|n| n.to_string()).collect(),
    };
    let before = reviewer_label(&author(Some("Dr A"), &["Dr C"]));
    assert_eq!(before, format!("Dr B ({key}), formerly Dr A, Dr C"));
    assert_eq!(reviewer_label(&author(Some("Dr C"), &["Dr A"])), before);
    assert_eq!(reviewer_label(&author(None, &["Dr C", "Dr A"])), before);
    assert_eq!(reviewer_label(&author(None, &[])), format!("Dr B ({key})"));
}
