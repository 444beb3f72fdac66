//! What a reviewer of AI contribution needs in bulk: per model and version, how many proposals,
//! how many accepted, edited, rejected or still unreviewed, how much reviewers changed, how long
//! review took and by whom — and how acceptance moved between versions of one model (drift).
//!
//! Computed from report views only (the rules already judged every entry), and only from
//! entries that verify: a proposal or a review whose status is anything but verified is left
//! out of every figure and listed in [`AiStats::excluded`] with its reason, never counted
//! silently.
//!
//! ```
//! use countersign_report::oversight::{ai_stats, Filter};
//!
//! let stats = ai_stats(std::iter::empty(), &Filter::default());
//! assert!(stats.models.is_empty() && stats.excluded.is_empty());
//! ```

use std::collections::BTreeMap;

use countersign_ledger::EntryId;
use serde::Serialize;

use crate::payload::Decision;
use crate::view::{AiView, EntryStatus};

/// Midnight UTC of a `YYYY-MM-DD` date, in ms since the epoch (`None` for anything else).
pub fn date_start_ms(date: &str) -> Option<u64> {
    if !crate::payload::valid_date(date) {
        return None;
    }
    let y: i64 = date[0..4].parse().ok()?;
    let m: i64 = date[5..7].parse().ok()?;
    let d: i64 = date[8..10].parse().ok()?;
    // Days from the civil date (proleptic Gregorian), as in Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400_000).ok()
}

/// Which proposals count.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this model (by name).
    pub model: Option<String>,
    /// Only proposals signed at or after this time (ms since the epoch, as signed).
    pub since_ms: Option<u64>,
}

impl Filter {
    /// Whether the proposal `ai` is one the filter selects (by its signed model and time; its
    /// standing is judged apart). The audit package selects with it too, so that the package
    /// and the figures always speak of the same proposals.
    pub fn admits(&self, ai: &AiView) -> bool {
        self.model.as_ref().is_none_or(|m| *m == ai.result.model)
            && self.since_ms.is_none_or(|t| ai.time_ms >= t)
    }
}

/// Percentiles of a distribution (nearest rank), and its largest value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Spread {
    pub n: u64,
    pub p50: u64,
    pub p90: u64,
    pub max: u64,
}

impl Spread {
    fn of(mut values: Vec<u64>) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_unstable();
        let rank = |p: u64| values[((values.len() as u64 * p).div_ceil(100) as usize).max(1) - 1];
        Spread {
            n: values.len() as u64,
            p50: rank(50),
            p90: rank(90),
            max: *values.last().unwrap_or(&0),
        }
    }
}

/// One model version's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    pub model: String,
    pub version: String,
    pub vendor: Option<String>,
    pub proposals: u64,
    pub accepted: u64,
    pub edited: u64,
    pub rejected: u64,
    pub unreviewed: u64,
    /// (accepted + edited) / reviewed; `None` before any review.
    pub acceptance_rate: Option<f64>,
    pub rejection_rate: Option<f64>,
    /// Words changed by edits (word-level edit distance between proposal and signed text).
    pub edit_words: Spread,
    /// Milliseconds from proposal to review, as the two entries are dated.
    pub review_ms: Spread,
    /// Reviews per reviewer (by name as the roster gives it, with the key).
    pub reviewers: BTreeMap<String, u64>,
    /// Every counted proposal: what the figures click through to.
    pub results: Vec<EntryId>,
    /// Proposals still unreviewed.
    pub unreviewed_results: Vec<EntryId>,
}

/// A change in acceptance between two consecutive versions of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub model: String,
    pub from: String,
    pub to: String,
    pub acceptance_from: f64,
    pub acceptance_to: f64,
    /// `acceptance_to - acceptance_from`.
    pub change: f64,
}

/// An entry left out of the figures, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Excluded {
    pub entry: EntryId,
    pub kind: &'static str,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct AiStats {
    pub models: Vec<ModelStats>,
    pub drift: Vec<Drift>,
    pub excluded: Vec<Excluded>,
}

fn unverified(status: &EntryStatus) -> Option<String> {
    match status {
        EntryStatus::Verified => None,
        EntryStatus::Fork => Some("fork".into()),
        EntryStatus::Erased => Some("payload erased".into()),
        EntryStatus::Refused { code, .. } => Some(format!("refused by rule {code}")),
        EntryStatus::Invalid { reason } => Some(format!("does not verify: {reason}")),
    }
}

/// Words are compared up to this many per text: a longer text's distance is a lower bound.
const MAX_WORDS: usize = 2000;

/// Word-level edit distance (insertions and deletions: `n + m - 2·LCS`).
pub fn words_changed(before: &str, after: &str) -> u64 {
    let a: Vec<&str> = before.split_whitespace().take(MAX_WORDS).collect();
    let b: Vec<&str> = after.split_whitespace().take(MAX_WORDS).collect();
    let mut row = vec![0usize; b.len() + 1];
    for x in &a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    (a.len() + b.len() - 2 * row[b.len()]) as u64
}

/// The figures for every AI proposal in `results` (see the module docs).
pub fn ai_stats<'a>(results: impl IntoIterator<Item = &'a AiView>, filter: &Filter) -> AiStats {
    #[derive(Default)]
    struct Acc {
        vendor: Option<String>,
        accepted: u64,
        edited: u64,
        rejected: u64,
        edits: Vec<u64>,
        waits: Vec<u64>,
        reviewers: BTreeMap<String, u64>,
        results: Vec<EntryId>,
        unreviewed: Vec<EntryId>,
    }
    let mut by_version: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut excluded = Vec::new();
    for ai in results {
        if !filter.admits(ai) {
            continue;
        }
        if let Some(reason) = unverified(&ai.status) {
            excluded.push(Excluded {
                entry: ai.entry,
                kind: if ai.received.is_some() {
                    "ai.received"
                } else {
                    "ai.result"
                },
                reason,
            });
            continue;
        }
        let review = match &ai.review {
            Some(r) => match unverified(&r.status) {
                // The proposal counts; its review does not (it is listed), so it reads as
                // unreviewed until a review that verifies exists.
                Some(reason) => {
                    excluded.push(Excluded {
                        entry: r.entry,
                        kind: "ai.review",
                        reason,
                    });
                    None
                }
                None => Some(r),
            },
            None => None,
        };
        let acc = by_version
            .entry((ai.result.model.clone(), ai.result.version.clone()))
            .or_default();
        // A received SR's device is not a roster member: its manufacturer is the SR's word.
        acc.vendor = match &ai.received {
            Some(r) => Some(r.attestation.device.manufacturer.clone()),
            None => ai.author.ai_model.as_ref().map(|m| m.vendor.clone()),
        };
        acc.results.push(ai.entry);
        let Some(review) = review else {
            acc.unreviewed.push(ai.entry);
            continue;
        };
        match review.decision {
            Decision::Accept => acc.accepted += 1,
            Decision::Edit => {
                acc.edited += 1;
                acc.edits.push(words_changed(
                    &ai.result.text,
                    review.text.as_deref().unwrap_or_default(),
                ));
            }
            Decision::Reject => acc.rejected += 1,
        }
        acc.waits.push(review.time_ms.saturating_sub(ai.time_ms));
        *acc.reviewers
            .entry(format!(
                "{} ({})",
                review.reviewer.name, review.reviewer.key
            ))
            .or_default() += 1;
    }
    let models: Vec<ModelStats> = by_version
        .into_iter()
        .map(|((model, version), acc)| {
            let reviewed = acc.accepted + acc.edited + acc.rejected;
            let rate = |n: u64| (reviewed > 0).then(|| n as f64 / reviewed as f64);
            ModelStats {
                model,
                version,
                vendor: acc.vendor,
                proposals: acc.results.len() as u64,
                accepted: acc.accepted,
                edited: acc.edited,
                rejected: acc.rejected,
                unreviewed: acc.unreviewed.len() as u64,
                acceptance_rate: rate(acc.accepted + acc.edited),
                rejection_rate: rate(acc.rejected),
                edit_words: Spread::of(acc.edits),
                review_ms: Spread::of(acc.waits),
                reviewers: acc.reviewers,
                results: acc.results,
                unreviewed_results: acc.unreviewed,
            }
        })
        .collect();
    // Versions in the order they first proposed anything would need dates an author controls;
    // the order of their names is what the roster gives, so versions are compared in it.
    let drift = models
        .windows(2)
        .filter(|w| w[0].model == w[1].model)
        .filter_map(|w| {
            let (from, to) = (w[0].acceptance_rate?, w[1].acceptance_rate?);
            Some(Drift {
                model: w[0].model.clone(),
                from: w[0].version.clone(),
                to: w[1].version.clone(),
                acceptance_from: from,
                acceptance_to: to,
                change: to - from,
            })
        })
        .collect();
    AiStats {
        models,
        drift,
        excluded,
    }
}

#[cfg(test)]
mod tests {
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
}
