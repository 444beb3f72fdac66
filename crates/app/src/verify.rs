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

use countersign_ledger::{Entry, EntryId, LogId, NetworkId, PublicKey};
use countersign_store::{Db, StoredEntry};
use rayon::prelude::*;
use serde::Serialize;

use crate::bundle::Problem;
use crate::error::{AppError, Result};
use crate::home::Home;
use crate::state::{decode_row_with_keys, LedgerState};

mod problems;
mod replay;
use replay::{ai_row_problem, Evidence, Replay, RowCursor};

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
        replay.orphan_rows(orphans);
        // Rows not at their report's log number (keyed by it since migration 20), which the
        // walk in report order does not meet: one pass over the rows, page by page.
        let mut after = Some(0);
        while let Some(from) = after {
            let (strays, next) = db.summary_strays(from, 4096)?;
            replay.orphan_rows(strays);
            after = next;
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
    let forks = problems::fork_problems(db, only, forks, &mut problems);
    let split_views = problems::split_view_problems(db, only, &mut problems)?;
    let rolled_back = problems::rollback_problems(db, only, &mut problems)?;
    if only.is_none() {
        problems.extend(problems::inviter_problem(db, &state)?);
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

impl Home {
    /// Verifies every entry in this home (or one report and the roster). A home holding data
    /// keys needs them open (`passphrase_required` / `locked` otherwise): the rules run on the
    /// sealed payloads and the report list's rows are held to what they say, which a locked
    /// home could not check — it would report every sealed report's row as differing.
    pub fn verify(&self, report: Option<EntryId>) -> Result<VerifyReport> {
        // One read transaction: a node storing a peer's entries beside it must not show it
        // half a commit (`Store::read`).
        self.with_keys_open(true, || self.store().read(|db| verify_store(db, report)))
    }
}
