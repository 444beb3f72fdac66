//! What a reviewer of AI contribution needs in bulk: per model and version, how many proposals,
//! how many accepted, edited, rejected or still unreviewed, how much reviewers changed, how long
//! review took and by whom — and how acceptance moved between versions of one model (drift).
//!
//! Computed from [`Outcome`]s — one per proposal, with its review — and only from entries that
//! verify: a proposal or a review whose status is anything but verified is left out of every
//! figure and listed in [`AiStats::excluded`] with its reason, never counted silently. An
//! outcome is read off a report view ([`Outcome::of`]: the rules already judged every entry)
//! or, in the app, off the derived table of AI outcomes that holds the same facts per proposal
//! (so that `ai stats` over 100 000 proposals need not project every report). Every figure
//! clicks through: the proposals behind each count are listed, and [`AiStats::reports`] names
//! the report each proposal (and each excluded review) belongs to.
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
        self.admits_signed(&ai.result.model, ai.time_ms)
    }

    /// [`Filter::admits`] for a proposal of `model` signed at `time_ms`.
    pub fn admits_signed(&self, model: &str, time_ms: u64) -> bool {
        self.model.as_ref().is_none_or(|m| m == model) && self.since_ms.is_none_or(|t| time_ms >= t)
    }
}

/// `YYYY-MM` of a time in ms since the epoch, in UTC: the month a proposal counts in.
pub fn month_of(ms: u64) -> String {
    let (y, m) = year_month(ms);
    format!("{y:04}-{m:02}")
}

/// Year and month (1–12) of a time in ms since the epoch, in UTC.
fn year_month(ms: u64) -> (i64, i64) {
    // Civil date from days since the epoch (proleptic Gregorian), Howard Hinnant's algorithm.
    let z = (ms / 86_400_000) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m)
}

/// One AI proposal and the review that decides it, as the figures need them: what
/// [`ai_stats_of`] counts. Nothing here is judged by the figures: whether each entry stands
/// was settled by whoever made the outcome (the rules, over verified bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The proposal (`ai.result` or `ai.received`).
    pub entry: EntryId,
    /// The report (log) it belongs to, when known.
    pub report: Option<EntryId>,
    /// Whether it arrived as DICOM SR (`ai.received`) rather than signed by the model.
    pub received: bool,
    pub model: String,
    pub version: String,
    pub vendor: Option<String>,
    /// When the proposal was signed (ms since the epoch, as signed).
    pub time_ms: u64,
    /// Why the proposal does not count (see [`unverified`]); `None` when it verified and the
    /// rules accept it.
    pub unverified: Option<String>,
    pub review: Option<ReviewOutcome>,
}

/// A review of one proposal.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewOutcome {
    pub entry: EntryId,
    pub decision: Decision,
    pub time_ms: u64,
    /// "name (key)", the name as the roster gives it.
    pub reviewer: String,
    /// For an edit, the words changed between proposal and signed text ([`words_changed`]).
    pub words_changed: u64,
    /// Why the review does not count; `None` when it verified and the rules accept it.
    pub unverified: Option<String>,
}

/// "name (key)": how a reviewer is counted — with ", formerly …" where the roster gave the key
/// other names, so that a rename never makes one person's reviews read as another's (found by
/// review, 2026-12-05). The other names are sorted: the label is the same for every entry of
/// the key, whichever name each was signed under.
pub fn reviewer_label(author: &crate::view::Author) -> String {
    let mut others: Vec<&str> = author
        .name_then
        .iter()
        .chain(&author.formerly)
        .map(String::as_str)
        .collect();
    others.sort_unstable();
    others.dedup();
    if others.is_empty() {
        format!("{} ({})", author.name, author.key)
    } else {
        format!(
            "{} ({}), formerly {}",
            author.name,
            author.key,
            others.join(", ")
        )
    }
}

impl Outcome {
    /// The outcome of the proposal `ai` as a report view shows it (in `report`, if known).
    pub fn of(ai: &AiView, report: Option<EntryId>) -> Outcome {
        Outcome {
            entry: ai.entry,
            report,
            received: ai.received.is_some(),
            model: ai.result.model.clone(),
            version: ai.result.version.clone(),
            // A received SR's device is not a roster member: its manufacturer is the SR's word.
            vendor: match &ai.received {
                Some(r) => Some(r.attestation.device.manufacturer.clone()),
                None => ai.author.ai_model.as_ref().map(|m| m.vendor.clone()),
            },
            time_ms: ai.time_ms,
            unverified: unverified(&ai.status),
            review: ai.review.as_ref().map(|r| ReviewOutcome {
                entry: r.entry,
                decision: r.decision,
                time_ms: r.time_ms,
                reviewer: reviewer_label(&r.reviewer),
                words_changed: match r.decision {
                    Decision::Edit => {
                        words_changed(&ai.result.text, r.text.as_deref().unwrap_or_default())
                    }
                    Decision::Accept | Decision::Reject => 0,
                },
                unverified: unverified(&r.status),
            }),
        }
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
    /// The proposals behind `accepted`, `edited` and `rejected`.
    pub accepted_results: Vec<EntryId>,
    pub edited_results: Vec<EntryId>,
    pub rejected_results: Vec<EntryId>,
    /// Proposals still unreviewed.
    pub unreviewed_results: Vec<EntryId>,
    /// The same counts per month of the proposal's signed time (UTC), oldest first: the rate
    /// over time.
    pub months: Vec<MonthCount>,
}

/// One month of one model version's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthCount {
    /// `YYYY-MM`, UTC, of the proposals' signed time.
    pub month: String,
    pub proposals: u64,
    pub accepted: u64,
    pub edited: u64,
    pub rejected: u64,
    pub unreviewed: u64,
    /// (accepted + edited) / reviewed; `None` in a month with no review.
    pub acceptance_rate: Option<f64>,
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
    /// For every proposal counted or excluded and every excluded review, the report (log) it
    /// belongs to, where the outcome named one: what a figure clicks through to.
    pub reports: BTreeMap<EntryId, EntryId>,
}

/// Why an entry of this status does not count (`None`: it verified and the rules accept it).
pub fn unverified(status: &EntryStatus) -> Option<String> {
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

/// The figures for every AI proposal in `results` (see the module docs). A view does not say
/// which report it is in, so [`AiStats::reports`] stays empty: [`ai_stats_of`] over
/// [`Outcome::of`] with the report fills it.
pub fn ai_stats<'a>(results: impl IntoIterator<Item = &'a AiView>, filter: &Filter) -> AiStats {
    ai_stats_of(results.into_iter().map(|ai| Outcome::of(ai, None)), filter)
}

/// Counts of one model version, or of one month of it.
#[derive(Default)]
struct Tally {
    accepted: u64,
    edited: u64,
    rejected: u64,
    unreviewed: u64,
}

impl Tally {
    fn proposals(&self) -> u64 {
        self.accepted + self.edited + self.rejected + self.unreviewed
    }

    /// (accepted + edited) / reviewed, and rejected / reviewed.
    fn rates(&self) -> (Option<f64>, Option<f64>) {
        let reviewed = self.accepted + self.edited + self.rejected;
        let rate = |n: u64| (reviewed > 0).then(|| n as f64 / reviewed as f64);
        (rate(self.accepted + self.edited), rate(self.rejected))
    }
}

/// The figures for every proposal in `outcomes` that `filter` admits (see the module docs).
pub fn ai_stats_of(outcomes: impl IntoIterator<Item = Outcome>, filter: &Filter) -> AiStats {
    #[derive(Default)]
    struct Acc {
        vendor: Option<String>,
        tally: Tally,
        edits: Vec<u64>,
        waits: Vec<u64>,
        reviewers: BTreeMap<String, u64>,
        results: Vec<EntryId>,
        accepted: Vec<EntryId>,
        edited: Vec<EntryId>,
        rejected: Vec<EntryId>,
        unreviewed: Vec<EntryId>,
        // By (year, month): a string per proposal cost a tenth of the figures' time.
        months: BTreeMap<(i64, i64), Tally>,
    }
    let mut by_version: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut excluded = Vec::new();
    let mut reports = BTreeMap::new();
    for o in outcomes {
        if !filter.admits_signed(&o.model, o.time_ms) {
            continue;
        }
        if let Some(report) = o.report {
            reports.insert(o.entry, report);
        }
        if let Some(reason) = o.unverified {
            excluded.push(Excluded {
                entry: o.entry,
                kind: if o.received {
                    "ai.received"
                } else {
                    "ai.result"
                },
                reason,
            });
            continue;
        }
        let review = match o.review {
            Some(r) => match r.unverified {
                // The proposal counts; its review does not (it is listed), so it reads as
                // unreviewed until a review that verifies exists.
                Some(reason) => {
                    if let Some(report) = o.report {
                        reports.insert(r.entry, report);
                    }
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
        let acc = by_version.entry((o.model, o.version)).or_default();
        acc.vendor = o.vendor;
        acc.results.push(o.entry);
        let month = acc.months.entry(year_month(o.time_ms)).or_default();
        let Some(review) = review else {
            acc.tally.unreviewed += 1;
            month.unreviewed += 1;
            acc.unreviewed.push(o.entry);
            continue;
        };
        match review.decision {
            Decision::Accept => {
                acc.tally.accepted += 1;
                month.accepted += 1;
                acc.accepted.push(o.entry);
            }
            Decision::Edit => {
                acc.tally.edited += 1;
                month.edited += 1;
                acc.edited.push(o.entry);
                acc.edits.push(review.words_changed);
            }
            Decision::Reject => {
                acc.tally.rejected += 1;
                month.rejected += 1;
                acc.rejected.push(o.entry);
            }
        }
        acc.waits.push(review.time_ms.saturating_sub(o.time_ms));
        *acc.reviewers.entry(review.reviewer).or_default() += 1;
    }
    let models: Vec<ModelStats> = by_version
        .into_iter()
        .map(|((model, version), acc)| {
            let (acceptance_rate, rejection_rate) = acc.tally.rates();
            ModelStats {
                model,
                version,
                vendor: acc.vendor,
                proposals: acc.tally.proposals(),
                accepted: acc.tally.accepted,
                edited: acc.tally.edited,
                rejected: acc.tally.rejected,
                unreviewed: acc.tally.unreviewed,
                acceptance_rate,
                rejection_rate,
                edit_words: Spread::of(acc.edits),
                review_ms: Spread::of(acc.waits),
                reviewers: acc.reviewers,
                results: acc.results,
                accepted_results: acc.accepted,
                edited_results: acc.edited,
                rejected_results: acc.rejected,
                unreviewed_results: acc.unreviewed,
                months: acc
                    .months
                    .into_iter()
                    .map(|((y, m), t)| MonthCount {
                        proposals: t.proposals(),
                        acceptance_rate: t.rates().0,
                        month: format!("{y:04}-{m:02}"),
                        accepted: t.accepted,
                        edited: t.edited,
                        rejected: t.rejected,
                        unreviewed: t.unreviewed,
                    })
                    .collect(),
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
        reports,
    }
}

#[cfg(test)]
mod tests;
