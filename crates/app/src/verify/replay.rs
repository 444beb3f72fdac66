//! The rule replay of `verify`, one log at a time: rows already checked on their own are
//! replayed through the ledger and report rules in arrival order (the roster first, kept
//! throughout; each report log dropped once judged), what could not be placed is placed once
//! its log is in, and the report list's and AI outcome rows are held to what each log gives.

use std::collections::HashMap;

use countersign_ledger::{Entry, Hash, LogId};
use countersign_store::{Db, StoredEntry, SummaryRow};

use super::{row_id, Checked};
use crate::bundle::Problem;
use crate::error::Result;
use crate::state::{LedgerState, Verdict};

/// Which part of the report a problem belongs to: the order problems are listed in is the
/// order the rule replay used to find them in when it held the whole store (every row in
/// arrival order, roster first; then what could not be placed; then refusals, roster first),
/// so streaming the store log by log changes no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Section {
    /// A row that does not check out, or that the rules cannot take, when replayed.
    Replayed,
    /// A row that could not be placed once everything it could wait for was in.
    Unplaced,
}

/// Fork evidence by log: each second entry, decoded, with its payload.
pub(super) type Evidence = HashMap<Vec<u8>, Vec<(Entry, Option<Vec<u8>>)>>;

/// A problem with where it sorts: (section, roster before reports, arrival).
pub(super) type Placed = ((Section, bool, i64), Problem);

/// The rule replay, one log at a time: the roster (kept throughout, as every report is judged
/// by it), then each report log, whose state is dropped once it is judged. Memory holds the
/// roster, one report log, the chunk in flight and the problems found — not the store.
pub(super) struct Replay<'a> {
    pub(super) db: &'a Db<'a>,
    pub(super) state: LedgerState,
    pub(super) only: Option<LogId>,
    pub(super) entries: u64,
    /// Problems found by replaying rows and placing what waited.
    pub(super) placed: Vec<Placed>,
    /// Refusals in report logs, log by log (they follow the roster's).
    pub(super) refusals: Vec<Problem>,
    /// Rows of the current log whose parents were not in yet (they build on fork evidence,
    /// placed once the log's rows are in).
    pub(super) pending: Vec<(StoredEntry, Entry)>,
    /// The roster's rows still waiting once the roster was in.
    pub(super) roster_pending: Vec<(StoredEntry, Entry)>,
    /// The report log being replayed.
    pub(super) current: Option<LogId>,
    /// Fork evidence by log, decoded (second entry and its payload).
    pub(super) evidence: Evidence,
    /// The report list's rows, checked against each log as it is judged (when they claim to be
    /// current), read in report order beside the logs.
    pub(super) rows: Option<RowCursor>,
    /// Problems with those rows (and with the AI outcome rows).
    pub(super) row_problems: Vec<Problem>,
    /// Whether the AI outcome rows claim to be current (then each log's are checked).
    pub(super) ai_rows: bool,
    /// The current log's AI entries as their rows were checked: status and digest.
    pub(super) ai_checked: countersign_ledger::IdMap<crate::projection::ai::Checked>,
    /// The most report logs held at once (stays 1: what keeps memory flat).
    pub(super) peak_logs: usize,
}

/// The report list's rows read page by page in report order, merged with the logs.
pub(super) struct RowCursor {
    pub(super) page: std::collections::VecDeque<SummaryRow>,
    pub(super) after: Option<LogId>,
    pub(super) done: bool,
}

const ROW_PAGE: usize = 1024;

impl RowCursor {
    /// The stored row for `log` if there is one; rows before it (reports with no log) are
    /// passed to `orphan`.
    pub(super) fn take(
        &mut self,
        db: &Db<'_>,
        log: Option<&LogId>,
        mut orphan: impl FnMut(SummaryRow),
    ) -> Result<Option<SummaryRow>> {
        loop {
            if self.page.is_empty() && !self.done {
                let page = db.summaries_by_report(self.after.as_ref(), ROW_PAGE)?;
                self.done = page.len() < ROW_PAGE;
                self.after = page.last().map(|r| r.report).or(self.after);
                self.page.extend(page);
            }
            match self.page.front() {
                Some(r) if log.is_none_or(|l| r.report < *l) => {
                    if let Some(r) = self.page.pop_front() {
                        orphan(r);
                    }
                }
                Some(r) if log == Some(&r.report) => return Ok(self.page.pop_front()),
                _ => return Ok(None),
            }
        }
    }
}

pub(super) fn ai_row_problem(report: &LogId, problem: String) -> Problem {
    Problem {
        entry: report.to_hex(),
        code: Some("ai_row".into()),
        problem,
    }
}

fn row_problem(report: &LogId, problem: String) -> Problem {
    Problem {
        entry: report.to_hex(),
        code: Some("report_row".into()),
        problem,
    }
}

fn describe(r: &SummaryRow) -> String {
    format!(
        "{} on study {} ({}), created {} ms, last change {} ms, {} entries",
        r.status, r.study, r.template, r.created_ms, r.last_ms, r.entries
    )
}

impl Replay<'_> {
    /// Rows of the report list with no stored entries behind them: each a problem.
    pub(super) fn orphan_rows(&mut self, orphans: Vec<SummaryRow>) {
        for r in orphans {
            self.row_problems.push(row_problem(
                &r.report,
                format!(
                    "the report list shows a report whose entries are not stored: {}; \
                     `countersign reindex` rebuilds the list",
                    describe(&r)
                ),
            ));
        }
    }

    /// Replays the ledger and report rules over checked rows, in (log, arrival) order; the
    /// roster's rows come first, on their own.
    pub(super) fn replay(&mut self, (rows, checked): Checked, roster: bool) -> Result<()> {
        for (row, result) in rows.into_iter().zip(checked) {
            if !roster {
                let log = Hash::from_slice(&row.log);
                if log != self.current {
                    self.finish_log()?;
                    self.current = log;
                    // Its data key, when held: its sealed payloads are opened and every rule
                    // runs on them. Without it the log is judged by its headers alone.
                    if let Some(log) = log {
                        match self.db.report_key(&log) {
                            Ok(Some(key)) => {
                                self.state.ledger.add_key(log, key)?;
                            }
                            Ok(None) => {}
                            // Judged by its headers; the key that does not open is a problem.
                            Err(e @ countersign_store::StoreError::KeyUnwrap { .. }) => {
                                self.row_problems.push(Problem {
                                    entry: log.to_hex(),
                                    code: Some("data_key_unopened".into()),
                                    problem: e.to_string(),
                                });
                            }
                            Err(e) => return Err(e.into()),
                        }
                    }
                }
            }
            self.entries += 1;
            if !roster && self.ai_rows {
                self.note_ai_row(&row, &result);
            }
            // check_row matched the payload to its header already.
            let outcome = match result {
                Err(e) => Err((None, e)),
                Ok(entry) => match self
                    .state
                    .ledger
                    .accept_stored(&entry, row.payload.as_deref())
                {
                    // Its standing is judged once its log is in (`refused` below).
                    Ok(Verdict::New(_)) => Ok(()),
                    Err(rejection) if rejection.waits_for_dependency() => {
                        if roster {
                            self.roster_pending.push((row, entry));
                        } else {
                            self.pending.push((row, entry));
                        }
                        continue;
                    }
                    Ok(other) => Err((None, format!("stored twice ({other:?})"))),
                    Err(rejection) => {
                        // The rule's code only: its message can quote a field value.
                        tracing::debug!(
                            entry = %entry.id(),
                            rule = %rejection.code(),
                            "verify: a stored entry cannot be taken"
                        );
                        Err((Some(rejection.code().to_string()), rejection.to_string()))
                    }
                },
            };
            if let Err((code, problem)) = outcome {
                self.placed.push((
                    (Section::Replayed, !roster, row.arrival),
                    Problem {
                        entry: row_id(&row),
                        code,
                        problem,
                    },
                ));
            }
        }
        Ok(())
    }

    /// Places `log`'s fork evidence (frozen, placed in its log) and then what builds on it —
    /// offered again with the rows still pending until nothing more fits, since a second fork
    /// can build on rows that wait for the first one's evidence.
    pub(super) fn settle(&mut self, log: &LogId, roster: bool) {
        let mut evidence = self
            .evidence
            .remove(log.as_bytes().as_slice())
            .unwrap_or_default();
        let ledger = &mut self.state.ledger;
        let pending = if roster {
            &mut self.roster_pending
        } else {
            &mut self.pending
        };
        loop {
            let before = pending.len() + evidence.len();
            evidence
                .retain(|(second, payload)| !ledger.insert_evidence(second, payload.as_deref()));
            pending.retain(|(row, entry)| {
                ledger.accept_stored(entry, row.payload.as_deref()).is_err()
            });
            if pending.len() + evidence.len() == before {
                break;
            }
        }
    }

    /// What a row that could not be placed is told. An unknown parent stored in another log is
    /// a parent in the wrong log (found in the store: other logs are no longer held). When
    /// verifying one report, other logs are not read, so it stays unknown.
    pub(super) fn unplaced(
        &mut self,
        row: &StoredEntry,
        entry: &Entry,
        roster: bool,
    ) -> Result<()> {
        let (code, problem, section) = match self
            .state
            .ledger
            .accept_stored(entry, row.payload.as_deref())
        {
            Err(countersign_report::accept::Rejection::Rule(
                countersign_ledger::rules::RuleError::UnknownParent { parent },
            )) if self.only.is_none() => {
                let elsewhere = self
                    .db
                    .get(&parent)?
                    .and_then(|p| Some((Hash::from_slice(&p.log)?, p.arrival)))
                    .filter(|(l, _)| *l != entry.log_id());
                let rejection = match elsewhere {
                    Some((parent_log, _)) => countersign_report::accept::Rejection::Rule(
                        countersign_ledger::rules::RuleError::ParentInOtherLog {
                            parent,
                            parent_log,
                            log: entry.log_id(),
                        },
                    ),
                    None => countersign_report::accept::Rejection::Rule(
                        countersign_ledger::rules::RuleError::UnknownParent { parent },
                    ),
                };
                // A report entry whose parent (in another report log) arrived before it
                // was refused as it was replayed; otherwise once all else was in.
                let section = match elsewhere {
                    Some((_, at)) if !roster && at < row.arrival => Section::Replayed,
                    _ => Section::Unplaced,
                };
                (
                    Some(rejection.code().to_string()),
                    rejection.to_string(),
                    section,
                )
            }
            Err(r) => (Some(r.code().to_string()), r.to_string(), Section::Unplaced),
            Ok(v) => (
                None,
                format!("could not be placed ({v:?})"),
                Section::Unplaced,
            ),
        };
        self.placed.push((
            (section, !roster, row.arrival),
            Problem {
                entry: row_id(row),
                code,
                problem,
            },
        ));
        Ok(())
    }

    /// Judges the current report log whole: places its evidence and what waits, lists what
    /// still cannot be placed and what the rules refuse, checks its row in the report list,
    /// and drops it.
    pub(super) fn finish_log(&mut self) -> Result<()> {
        let Some(log) = self.current.take() else {
            return Ok(());
        };
        self.settle(&log, false);
        for (row, entry) in std::mem::take(&mut self.pending) {
            self.unplaced(&row, &entry, false)?;
        }
        self.peak_logs = self.peak_logs.max(self.state.ledger.report_ids().count());
        // Every entry of the log is in; now each one's standing, judged against the roster as
        // it resolves and the log's forks. An entry a rule refuses counts for nothing, and
        // verify says so with the rule's code.
        if let Some(r) = self.state.ledger.report(&log) {
            for (id, e) in r.refused() {
                self.refusals.push(Problem {
                    entry: id.to_hex(),
                    code: Some(e.code().to_string()),
                    problem: format!("refused by rule {}: {e}", e.code()),
                });
            }
        }
        let expected = self
            .state
            .ledger
            .summary(&log)
            .map(|s| crate::projection::row(&s));
        self.check_row(&log, expected)?;
        self.check_ai_rows(&log)?;
        self.state.ledger.unload(&log);
        Ok(())
    }

    /// Keeps an AI entry's status and digest as its row was checked, for its log's AI rows.
    fn note_ai_row(&mut self, row: &StoredEntry, result: &std::result::Result<Entry, String>) {
        use countersign_report::EntryStatus;
        let ai = [
            countersign_ledger::Kind::AiResult,
            countersign_ledger::Kind::AiReceived,
            countersign_ledger::Kind::AiReview,
        ];
        let (true, Some(id)) = (
            ai.iter().any(|k| k.name() == row.kind),
            Hash::from_slice(&row.id),
        ) else {
            return;
        };
        let status = match (result, &row.payload) {
            (Ok(_), Some(_)) => EntryStatus::Verified,
            (Ok(_), None) => EntryStatus::Erased,
            (Err(reason), _) => EntryStatus::Invalid {
                reason: reason.clone(),
            },
        };
        let digest =
            crate::projection::ai::entry_digest(&row.header, &row.signature, &row.payload_hash);
        self.ai_checked
            .insert(id, crate::projection::ai::Checked { status, digest });
    }

    /// Holds `log`'s AI outcome rows to what its entries, as verified here, give.
    fn check_ai_rows(&mut self, log: &LogId) -> Result<()> {
        let checked = std::mem::take(&mut self.ai_checked);
        if !self.ai_rows {
            return Ok(());
        }
        let forks = crate::projection::ai::Forks::of(self.db, log)?;
        let expected = match self.state.ledger.report(log) {
            Some(_) => self
                .state
                .ledger
                .report_as_judged(log)
                .map(|r| {
                    crate::projection::ai::rows_of(r, self.state.ledger.roster(), &checked, &forks)
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let stored = self.db.ai_outcomes_of(log)?;
        if stored != expected {
            let differs = stored
                .iter()
                .zip(&expected)
                .find(|(a, b)| a != b)
                .map(|(a, _)| a.entry)
                .or_else(|| stored.get(expected.len()).map(|r| r.entry))
                .or_else(|| expected.get(stored.len()).map(|r| r.entry));
            self.row_problems.push(ai_row_problem(
                log,
                format!(
                    "the AI outcome rows do not match the report's entries: they hold {} \
                     proposal(s), the entries give {}{}; `countersign reindex` rebuilds them",
                    stored.len(),
                    expected.len(),
                    differs.map_or(String::new(), |e| format!(", first differing at {e}"))
                ),
            ));
        }
        Ok(())
    }

    /// Holds the report list's row for `log` to what its entries give.
    fn check_row(&mut self, log: &LogId, expected: Option<SummaryRow>) -> Result<()> {
        let Some(rows) = self.rows.as_mut() else {
            return Ok(());
        };
        let mut orphans = Vec::new();
        let stored = match self.only {
            Some(_) => self.db.summary(log)?,
            None => rows.take(self.db, Some(log), |r| orphans.push(r))?,
        };
        self.orphan_rows(orphans);
        if stored != expected {
            let say = |r: &Option<SummaryRow>| r.as_ref().map_or("no row".to_string(), describe);
            self.row_problems.push(row_problem(
                log,
                format!(
                    "the report list's row does not match the report's entries: it says {}, \
                     the entries give {}; `countersign reindex` rebuilds the list",
                    say(&stored),
                    say(&expected)
                ),
            ));
        }
        Ok(())
    }
}
