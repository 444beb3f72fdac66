//! `verify`: re-check every stored entry from its bytes — id, signature, payload, the index
//! columns — then replay the ledger and report rules over the whole store, re-check fork
//! evidence, and hold the report list's rows and the AI outcome rows to what the entries give
//! (an AI row made from an entry's bytes and then rewritten with them is what only this
//! catches, not `ai stats`; see [`crate::projection::ai`]). Streams the store log
//! by log: the roster is held throughout (every report is judged by it), each report log only
//! while it is judged, so memory does not grow with the store. Signatures are checked in
//! parallel on all cores (or on the threads of whatever rayon pool the caller installs).

use std::collections::HashMap;
use std::time::Instant;

use countersign_ledger::{Entry, EntryId, ForkEvidence, Hash, LogId, NetworkId, PublicKey};
use countersign_store::{Db, StoredEntry, SummaryRow};
use rayon::prelude::*;
use serde::Serialize;

use crate::bundle::Problem;
use crate::error::{AppError, Result};
use crate::home::Home;
use crate::state::{decode_row, decode_row_with_keys, LedgerState, Verdict};

/// Rows verified in parallel at a time: bounds memory while keeping every core busy.
const CHUNK: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries: u64,
    pub forks: u64,
    /// Peers found showing different histories (see `checkpoints`).
    pub split_views: u64,
    /// Entries a peer sent that this home refused by a rule or that wait for something it
    /// lacks, kept aside (not in the ledger, so not a problem of the store): id, rule, and
    /// whether it waits. `sync status` gives the reasons.
    pub quarantined: Vec<QuarantineBrief>,
    /// Heads a peer signed that this home held, and that are no longer here: entries deleted
    /// from the store, or a rollback. Each is a problem quoting the peer's signed claim; the
    /// next sync with a peer that has them fetches them back.
    pub rolled_back: u64,
    /// Entries stored but refused by a rule (each is a problem, with its rule's code).
    pub refused: u64,
    /// Entries held aside, dated beyond the clock skew ahead of this home's clock.
    pub held: u64,
    pub problems: Vec<Problem>,
    pub seconds: f64,
}

/// A quarantined entry as `verify` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineBrief {
    pub entry: String,
    pub code: String,
    pub waiting: bool,
}

fn row_id(row: &StoredEntry) -> String {
    hex_or_raw(&row.id)
}

fn hex_or_raw(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Checks one row on its own: everything that needs no other entry.
fn check_row(row: &StoredEntry, keys: &HashMap<[u8; 32], PublicKey>) -> Result<Entry, String> {
    let entry = decode_row_with_keys(row, keys)?;
    if row.id != entry.id().as_bytes() {
        return Err(format!(
            "stored id does not match the header (header hashes to {})",
            entry.id()
        ));
    }
    entry.verify_signature().map_err(|e| e.to_string())?;
    let h = entry.header();
    let columns_match = row.log == entry.log_id().as_bytes()
        && row.author == h.author.as_bytes()
        && row.seq as u64 == h.seq
        && row.kind == h.kind.name()
        && row.timestamp_ms as u64 == h.timestamp_ms
        && row.payload_hash == h.payload_hash.as_bytes();
    if !columns_match {
        return Err("index columns do not match the signed header".into());
    }
    // A missing payload is judged by the rules: an erased report's entries hold none (its
    // erasure says so, and is checked); anywhere else it is `payload_missing`.
    if let Some(p) = &row.payload {
        countersign_ledger::rules::check_payload(&entry, p).map_err(|e| e.to_string())?
    }
    Ok(entry)
}

/// A chunk whose rows were checked on their own and now wait for the rule replay.
type Checked = (Vec<StoredEntry>, Vec<Result<Entry, String>>);

/// Checks every row on its own, in parallel on `pool` (or the global pool).
fn check_rows(
    rows: &[StoredEntry],
    keys: &HashMap<[u8; 32], PublicKey>,
    pool: Option<&rayon::ThreadPool>,
) -> Vec<Result<Entry, String>> {
    let work = || rows.par_iter().map(|r| check_row(r, keys)).collect();
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Which part of the report a problem belongs to: the order problems are listed in is the
/// order the rule replay used to find them in when it held the whole store (every row in
/// arrival order, roster first; then what could not be placed; then refusals, roster first),
/// so streaming the store log by log changes no output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    /// A row that does not check out, or that the rules cannot take, when replayed.
    Replayed,
    /// A row that could not be placed once everything it could wait for was in.
    Unplaced,
}

/// Fork evidence by log: each second entry, decoded, with its payload.
type Evidence = HashMap<Vec<u8>, Vec<(Entry, Option<Vec<u8>>)>>;

/// A problem with where it sorts: (section, roster before reports, arrival).
type Placed = ((Section, bool, i64), Problem);

/// The rule replay, one log at a time: the roster (kept throughout, as every report is judged
/// by it), then each report log, whose state is dropped once it is judged. Memory holds the
/// roster, one report log, the chunk in flight and the problems found — not the store.
struct Replay<'a> {
    db: &'a Db<'a>,
    state: LedgerState,
    only: Option<LogId>,
    entries: u64,
    /// Problems found by replaying rows and placing what waited.
    placed: Vec<Placed>,
    /// Refusals in report logs, log by log (they follow the roster's).
    refusals: Vec<Problem>,
    /// Rows of the current log whose parents were not in yet (they build on fork evidence,
    /// placed once the log's rows are in).
    pending: Vec<(StoredEntry, Entry)>,
    /// The roster's rows still waiting once the roster was in.
    roster_pending: Vec<(StoredEntry, Entry)>,
    /// The report log being replayed.
    current: Option<LogId>,
    /// Fork evidence by log, decoded (second entry and its payload).
    evidence: Evidence,
    /// The report list's rows, checked against each log as it is judged (when they claim to be
    /// current), read in report order beside the logs.
    rows: Option<RowCursor>,
    /// Problems with those rows (and with the AI outcome rows).
    row_problems: Vec<Problem>,
    /// Whether the AI outcome rows claim to be current (then each log's are checked).
    ai_rows: bool,
    /// The current log's AI entries as their rows were checked: status and digest.
    ai_checked: countersign_ledger::IdMap<crate::projection::ai::Checked>,
    /// The most report logs held at once (stays 1: what keeps memory flat).
    peak_logs: usize,
}

/// The report list's rows read page by page in report order, merged with the logs.
struct RowCursor {
    page: std::collections::VecDeque<SummaryRow>,
    after: Option<LogId>,
    done: bool,
}

const ROW_PAGE: usize = 1024;

impl RowCursor {
    /// The stored row for `log` if there is one; rows before it (reports with no log) are
    /// passed to `orphan`.
    fn take(
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

fn ai_row_problem(report: &LogId, problem: String) -> Problem {
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
    /// Replays the ledger and report rules over checked rows, in (log, arrival) order; the
    /// roster's rows come first, on their own.
    fn replay(&mut self, (rows, checked): Checked, roster: bool) -> Result<()> {
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
    fn settle(&mut self, log: &LogId, roster: bool) {
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
    fn unplaced(&mut self, row: &StoredEntry, entry: &Entry, roster: bool) -> Result<()> {
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
    fn finish_log(&mut self) -> Result<()> {
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

/// Reads the next chunk after `after` in (log, arrival) order (or one report's rows in arrival
/// order): whether more may follow, and the rows in scope (the roster is replayed first,
/// separately).
fn read_chunk(
    db: &Db<'_>,
    after: &mut (Vec<u8>, i64),
    network: Option<NetworkId>,
    only: Option<LogId>,
) -> Result<(bool, Vec<StoredEntry>)> {
    let rows = match only {
        Some(log) => db.log_entries_after(&log, after.1, CHUNK)?,
        None => db.entries_by_log_after(&after.0, after.1, CHUNK)?,
    };
    let more = rows.len() == CHUNK;
    if let Some(last) = rows.last() {
        *after = (last.log.clone(), last.arrival);
    }
    let roster = |row: &StoredEntry| network.is_some_and(|n| row.log == n.as_bytes());
    Ok((more, rows.into_iter().filter(|r| !roster(r)).collect()))
}

/// Verifies a whole store, or one report (plus the roster it depends on), on all cores.
pub fn verify_store(db: &Db<'_>, only: Option<LogId>) -> Result<VerifyReport> {
    verify(db, only, None).map(|(report, _)| report)
}

/// [`verify_store`] with signatures checked on the threads of `pool`.
pub fn verify_store_on(
    db: &Db<'_>,
    only: Option<LogId>,
    pool: &rayon::ThreadPool,
) -> Result<VerifyReport> {
    verify(db, only, Some(pool)).map(|(report, _)| report)
}

/// What a verify run held at most: the bound its memory follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    /// Report logs held at once.
    pub logs: usize,
}

pub(crate) fn verify(
    db: &Db<'_>,
    only: Option<LogId>,
    pool: Option<&rayon::ThreadPool>,
) -> Result<(VerifyReport, Held)> {
    let started = Instant::now();
    let network: Option<NetworkId> = db.meta("network")?.and_then(|h| h.parse().ok());
    // Fork evidence, decoded, by log (kept beside the logs; placed as each log is judged).
    let forks = db.forks()?;
    let mut evidence: Evidence = HashMap::new();
    for fork in &forks {
        let signature: Option<[u8; 64]> = fork.second_signature.as_slice().try_into().ok();
        if let Some(Ok(second)) =
            signature.map(|sig| Entry::decode_unverified(&fork.second_header, &sig))
        {
            evidence
                .entry(fork.log.clone())
                .or_default()
                .push((second, db.fork_payload(fork)?));
        }
    }
    let rows = crate::projection::current(db)?.then(|| RowCursor {
        page: Default::default(),
        after: None,
        done: false,
    });
    let mut replay = Replay {
        db,
        state: LedgerState::default(),
        only,
        entries: 0,
        placed: Vec::new(),
        refusals: Vec::new(),
        pending: Vec::new(),
        roster_pending: Vec::new(),
        current: None,
        evidence,
        rows,
        row_problems: Vec::new(),
        ai_rows: crate::projection::ai::current(db)?,
        ai_checked: Default::default(),
        peak_logs: 0,
    };
    // Author keys already checked (the roster's members), so rows need not re-check them.
    let mut keys = HashMap::new();
    // The roster first, with its fork evidence: report entries are judged by the roster as it
    // stands now, so that entries signed after a revocation are flagged wherever they arrived
    // from.
    if let Some(n) = network {
        let rows = db.log_entries(&n)?;
        let checked = check_rows(&rows, &keys, pool);
        replay.replay((rows, checked), true)?;
        replay.settle(&n, true);
        keys = replay
            .state
            .roster()
            .members()
            .map(|m| (*m.key.as_bytes(), m.key))
            .collect();
    }
    // Erased reports' logs hold headers only: their erasures are noted first (each checked on
    // its own: signed, by a key that may erase), so that their headers are judged as the
    // erasure says. A log listed as erased without a valid erasure is not noted: its missing
    // payloads are reported.
    for (log, _) in db.erased_logs()? {
        for row in db.log_entries(&log)? {
            if row.kind == countersign_ledger::Kind::PayloadErase.name() {
                if let Ok(entry) = crate::state::decode_row(&row) {
                    replay
                        .state
                        .ledger
                        .note_erasure(&entry, row.payload.as_deref());
                }
            }
        }
    }
    // A pipeline over bounded chunks, log by log: while the pool checks one chunk's
    // signatures, this thread replays the rules of the chunk before and reads the chunk after.
    let mut after = (Vec::new(), 0);
    let (mut more, mut next) = read_chunk(db, &mut after, network, only)?;
    let mut waiting: Option<Checked> = None;
    while more || !next.is_empty() || waiting.is_some() {
        let rows = std::mem::take(&mut next);
        let previous = waiting.take();
        let keys = &keys;
        let (checked, replayed, read) = std::thread::scope(|scope| {
            let checking = scope.spawn(move || {
                let checked = check_rows(&rows, keys, pool);
                (rows, checked)
            });
            let replayed = previous.map_or(Ok(()), |chunk| replay.replay(chunk, false));
            let read = more.then(|| read_chunk(db, &mut after, network, only));
            (checking.join(), replayed, read)
        });
        replayed?;
        let checked = checked
            .map_err(|_| AppError::InvalidInput("signature checking failed unexpectedly".into()))?;
        if !checked.0.is_empty() {
            waiting = Some(checked);
        }
        (more, next) = read.transpose()?.unwrap_or((false, Vec::new()));
    }
    replay.finish_log()?;
    // The erasures noted above were for this replay alone.
    replay.state.ledger.end_batch();
    // Rows of the report list beyond the last log.
    if only.is_none() && replay.rows.is_some() {
        replay.current = None;
        let mut orphans = Vec::new();
        if let Some(rows) = replay.rows.as_mut() {
            rows.take(db, None, |r| orphans.push(r))?;
        }
        for r in orphans {
            replay.row_problems.push(row_problem(
                &r.report,
                format!(
                    "the report list shows a report whose entries are not stored: {}; \
                     `countersign reindex` rebuilds the list",
                    describe(&r)
                ),
            ));
        }
    }
    // AI rows of logs with no entry stored.
    if only.is_none() && replay.ai_rows {
        for log in db.ai_outcome_orphans()? {
            replay.row_problems.push(ai_row_problem(
                &log,
                "AI outcome rows name a report whose entries are not stored; \
                 `countersign reindex` rebuilds them"
                    .into(),
            ));
        }
    }
    // The roster's rows that never fit, now that every log was read.
    if let Some(n) = network {
        replay.settle(&n, true);
    }
    for (row, entry) in std::mem::take(&mut replay.roster_pending) {
        replay.unplaced(&row, &entry, true)?;
    }
    let held_at_most = Held {
        logs: replay.peak_logs,
    };
    let Replay {
        mut state,
        entries,
        mut placed,
        refusals,
        row_problems,
        ..
    } = replay;
    placed.sort_by_key(|(at, _)| *at);
    let mut problems: Vec<Problem> = placed.into_iter().map(|(_, p)| p).collect();
    // The roster's refusals (every report log was judged and dropped as it was read), then
    // the report logs', log by log.
    let mut refused = 0;
    for (_, id, rejection) in state.ledger.refused() {
        if only.is_some() {
            // One report verified: the roster's own refusals are not its.
            continue;
        }
        refused += 1;
        problems.push(Problem {
            entry: id.to_hex(),
            code: Some(rejection.code().to_string()),
            problem: format!("refused by rule {}: {rejection}", rejection.code()),
        });
    }
    refused += refusals.len() as u64;
    problems.extend(refusals);
    let mut fork_count = 0;
    for fork in forks {
        let in_scope = only.is_none_or(|l| fork.log == l.as_bytes());
        if !in_scope {
            continue;
        }
        fork_count += 1;
        let first = Hash::from_slice(&fork.first).and_then(|id| db.get(&id).ok().flatten());
        let evidence = first
            .ok_or_else(|| "first entry of the fork is missing".to_string())
            .and_then(|row| {
                let sig: [u8; 64] = fork
                    .second_signature
                    .as_slice()
                    .try_into()
                    .map_err(|_| "bad signature length".to_string())?;
                let second = Entry::decode_unverified(&fork.second_header, &sig)
                    .map_err(|e| e.to_string())?;
                let first = decode_row(&row)?;
                ForkEvidence::new(first, second).map_err(|e| e.to_string())
            });
        let problem = match evidence {
            // The pair in id order: which side a home happened to store first must not show.
            Ok(ev) => format!(
                "fork: author {} signed two different entries ({} and {}) at sequence {} of log {}",
                ev.first.header().author,
                ev.first.id().min(ev.second.id()),
                ev.first.id().max(ev.second.id()),
                ev.first.header().seq,
                ev.first.log_id()
            ),
            Err(reason) => format!("fork evidence does not check out: {reason}"),
        };
        let pair = [hex_or_raw(&fork.first), hex_or_raw(&fork.second)];
        problems.push(Problem {
            entry: pair.iter().max().cloned().unwrap_or_default(),
            code: Some("fork".into()),
            problem,
        });
    }
    let forks = fork_count;
    let split_views = split_view_problems(db, only, &mut problems)?;
    let rolled_back = rollback_problems(db, only, &mut problems)?;
    if only.is_none() {
        problems.extend(inviter_problem(db, &state)?);
    }
    let quarantined = db
        .quarantine_rows(false, false, countersign_store::MAX_QUARANTINE as usize)?
        .into_iter()
        .filter(|q| only.is_none_or(|l| q.log == l.as_bytes()))
        .map(|q| QuarantineBrief {
            entry: hex_or_raw(&q.id),
            code: q.code,
            waiting: q.waiting,
        })
        .collect();
    // The report list last: derived rows, rebuilt by `reindex`.
    problems.extend(row_problems);
    let held = db.held_count()?;
    let seconds = started.elapsed().as_secs_f64();
    // Problems by entry id only: a problem's words can quote a refused field value. Debug:
    // the caller lists them all; the count is in the line below.
    for p in &problems {
        tracing::debug!(entry = %p.entry, "verify found a problem");
    }
    tracing::info!(
        entries,
        forks,
        split_views,
        problems = problems.len(),
        seconds,
        "verify finished"
    );
    Ok((
        VerifyReport {
            ok: problems.is_empty(),
            entries,
            forks,
            split_views,
            quarantined,
            rolled_back,
            refused,
            held,
            problems,
            seconds,
        },
        held_at_most,
    ))
}

/// Holds the store to the checkpoints peers signed: a hash chain cannot see a missing tail,
/// but a head a peer vouched for (and this home held when it kept the claim) that is no
/// longer here is a deletion or a rollback. Claims that do not verify are skipped: only a
/// peer's signed word is evidence.
fn rollback_problems(db: &Db<'_>, only: Option<LogId>, problems: &mut Vec<Problem>) -> Result<u64> {
    use countersign_ledger::checkpoint::SignedCheckpoint;
    let mut count = 0;
    db.for_each_checkpoint(only.as_ref(), |log, signer, bytes| {
        let Ok(signed) = SignedCheckpoint::decode(bytes) else {
            return Ok(());
        };
        let c = signed.checkpoint();
        if c.log.as_bytes() != log || c.signer.as_bytes() != signer {
            return Ok(());
        }
        for head in &c.heads {
            let here = db.contains(head)?
                || db.fork_evidence(head)?.is_some()
                || db.quarantined(&[*head])?.first().copied().unwrap_or(false);
            if !here {
                count += 1;
                problems.push(Problem {
                    entry: head.to_hex(),
                    code: Some("rolled_back".into()),
                    problem: format!(
                        "{} signed at {} ms that log {} had head {head}; it is not in this home \
                         (deleted, or the store was rolled back); its signed checkpoint is kept \
                         as evidence: {}",
                        c.signer,
                        c.timestamp_ms,
                        c.log,
                        hex::encode(bytes)
                    ),
                });
            }
        }
        Ok(())
    })?;
    Ok(count)
}

/// Lists split-view evidence as problems, each signed checkpoint checked again (the evidence
/// is only as good as its signatures).
/// The invitation this home joined by, held to the roster that has arrived since: its signer
/// must be one of the network's admins ([`countersign_report::accept::trust::check_inviter`]).
/// Nothing to say before the roster is here, or for a home that founded its network.
fn inviter_problem(db: &Db<'_>, state: &LedgerState) -> Result<Option<Problem>> {
    let Some(hex) = db.meta(crate::join::INVITED_BY)? else {
        return Ok(None);
    };
    let Ok(network) = state.network() else {
        return Ok(None);
    };
    let inviter: PublicKey = hex.parse().map_err(|_| {
        AppError::InvalidInput("the key of the invitation's signer is damaged".into())
    })?;
    Ok(
        countersign_report::accept::trust::check_inviter(state.roster(), &inviter)
            .err()
            .map(|e| Problem {
                entry: network.to_hex(),
                code: Some(e.code().to_string()),
                problem: e.to_string(),
            }),
    )
}

fn split_view_problems(
    db: &Db<'_>,
    only: Option<LogId>,
    problems: &mut Vec<Problem>,
) -> Result<u64> {
    use countersign_ledger::checkpoint::SignedCheckpoint;
    let mut count = 0;
    for v in db.split_views()? {
        if only.is_some_and(|l| v.log != l.as_bytes()) {
            continue;
        }
        count += 1;
        let signed = [Some(&v.later), v.earlier.as_ref()]
            .into_iter()
            .flatten()
            .map(|b| SignedCheckpoint::decode(b))
            .collect::<std::result::Result<Vec<_>, _>>();
        let problem = match signed {
            Ok(_) => format!("split view by {}: {}", hex_or_raw(&v.signer), v.reason),
            Err(e) => format!("split-view evidence does not check out: {e}"),
        };
        problems.push(Problem {
            entry: hex_or_raw(&v.log),
            code: Some("split_view".into()),
            problem,
        });
    }
    Ok(count)
}

impl Home {
    /// Verifies every entry in this home (or one report and the roster). A home holding data
    /// keys needs them open (`passphrase_required` / `locked` otherwise): the rules run on the
    /// sealed payloads and the report list's rows are held to what they say, which a locked
    /// home could not check — it would report every sealed report's row as differing.
    pub fn verify(&self, report: Option<EntryId>) -> Result<VerifyReport> {
        self.open_keys(true)?;
        verify_store(&self.store().db(), report)
    }
}
