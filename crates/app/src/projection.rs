//! The report list as a table: a row per report (study, template, state, when it was created
//! and last changed, how many entries it holds), so that `report list`, the desktop's study
//! list and everything else that lists reports page through rows instead of projecting every
//! report on every call.
//!
//! The rows are derived, never a source of truth: each is [`countersign_report::ReportLog::summary`]
//! of its log (the report rules compute it; this module only stores it), so homes holding the
//! same entries hold the same rows. They are kept in step inside the very transaction that
//! stores entries, whatever the path (a local write, a bundle, a peer's batch, a held entry
//! released — all go through `crate::Home::write_with_state`): the logs that transaction
//! stored entries in, the logs fork evidence reached, and the logs a roster change can reach
//! ([`countersign_report::accept::Ledger::roster_impact`]) are projected again. And they are
//! rebuilt from the entries when the home is opened and `meta` does not say the table holds
//! [`PROJECTION_VERSION`] (a home from before the table, or after the projection changed), or
//! on demand (`countersign reindex`). `verify` recomputes every row from the entries it checked
//! and reports any row that differs.
//!
//! The AI outcomes ([`ai`]: a row per AI proposal, what `ai stats` reads) are kept in step by
//! the same walk: every log projected here has its AI rows projected too, and a rebuild
//! rebuilds both (the AI rows alone when only their version is behind).

use std::collections::BTreeSet;
use std::time::Instant;

use countersign_ledger::LogId;
use countersign_report::Summary;
use countersign_store::{Db, Store, SummaryRow};

use crate::error::Result;
use crate::state::LedgerState;

pub mod ai;

/// The version of what a row holds and how it is computed; a home whose table was written by
/// another version rebuilds it on open.
pub const PROJECTION_VERSION: &str = "1";

/// The `meta` key naming the version the table holds (absent: rebuild it).
pub(crate) const META_KEY: &str = "report_summaries";

/// Where a write transaction started: what it stores after this is projected again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    arrival: i64,
}

impl Mark {
    /// The arrival number entries stored since the mark are above.
    pub(crate) fn arrival(&self) -> i64 {
        self.arrival
    }
}

/// Marks the start of a write: entries stored from here on, and what the ledger notes
/// changing from here on, are projected at [`update`].
pub(crate) fn mark(db: &Db<'_>, state: &mut LedgerState) -> Result<Mark> {
    // What loading noted is what is stored already.
    state.ledger.take_changes();
    Ok(Mark {
        arrival: db.max_arrival()?,
    })
}

/// Projects again every log the write since `mark` can have changed. Returns how many rows
/// were written.
pub(crate) fn update(db: &Db<'_>, state: &mut LedgerState, mark: Mark) -> Result<u64> {
    let changes = state.ledger.take_changes();
    let mut logs: BTreeSet<LogId> = db.logs_since(mark.arrival)?.into_iter().collect();
    logs.extend(changes.evidence.iter().copied());
    let impact = state.ledger.roster_impact(&changes);
    if !impact.is_empty() {
        let started = Instant::now();
        let before = logs.len();
        logs.extend(db.logs_by_authors(&impact.authors)?);
        logs.extend(db.reports_on_templates(&impact.templates)?);
        tracing::info!(
            authors = impact.authors.len(),
            templates = impact.templates.len(),
            reports = logs.len() - before,
            ms = started.elapsed().as_millis() as u64,
            "a roster change reaches reports: their rows are projected again"
        );
    }
    let network = state.network().ok();
    let mut written = 0;
    for log in logs.iter().filter(|l| Some(**l) != network) {
        project(db, state, log, true)?;
        written += 1;
    }
    Ok(written)
}

/// Projects one log into its row (or drops the row when the log makes no report), and its AI
/// rows ([`ai::project_log`]; `reuse` as there). A log not loaded before is unloaded after, so
/// that projecting many leaves the state as it was.
pub(crate) fn project(
    db: &Db<'_>,
    state: &mut LedgerState,
    log: &LogId,
    reuse: bool,
) -> Result<()> {
    let loaded = state.ledger.has_log(log);
    if let Err(e) = state.load_log(db, log) {
        // A damaged row (verify names it) must not stop the rest of the write; the row keeps
        // what it said, and verify reports that it differs.
        tracing::warn!(log = %log, error = %e.loggable(), "a report's row was not projected: run verify");
        state.ledger.unload(log);
        return Ok(());
    }
    match state.ledger.summary(log) {
        Some(summary) => {
            db.put_summary(&row(&summary))?;
            db.put_moves(log, &summary.study, &summary.moved_from)?;
        }
        None => db.delete_summary(log)?,
    }
    ai::project_log(db, state, log, reuse)?;
    if !loaded {
        state.ledger.unload(log);
    }
    Ok(())
}

/// The row the store keeps for a summary.
pub(crate) fn row(s: &Summary) -> SummaryRow {
    SummaryRow {
        report: s.report,
        study: s.study.clone(),
        template: s.template.clone(),
        status: s.status.name().to_string(),
        created_ms: s.created_ms,
        last_ms: s.last_ms,
        entries: s.entries,
    }
}

/// Rebuilds every row from the entries, walking the logs one at a time (memory holds one
/// log, not the store). Returns how many reports it found.
pub(crate) fn rebuild(db: &Db<'_>) -> Result<u64> {
    let started = Instant::now();
    db.clear_summaries()?;
    db.clear_ai_outcomes()?;
    let mut state = LedgerState::load(db)?;
    let network = state.network().ok();
    let mut after: Option<LogId> = None;
    let mut reports = 0;
    while let Some(log) = db.next_log(after.as_ref())? {
        after = Some(log);
        if Some(log) == network {
            continue;
        }
        project(db, &mut state, &log, false)?;
        reports += 1;
    }
    db.set_meta(META_KEY, PROJECTION_VERSION)?;
    db.set_meta(ai::AI_META_KEY, ai::AI_PROJECTION_VERSION)?;
    tracing::info!(
        reports,
        seconds = started.elapsed().as_secs_f64(),
        "report list rebuilt from the entries"
    );
    Ok(reports)
}

/// Rebuilds the rows if the tables do not hold this version of the projection (checked again
/// under the write lock, so two processes opening a home rebuild them once): both when the
/// report list is behind, the AI rows alone when only they are. Returns whether the rebuild
/// waits for the data keys instead: with the store's key-encryption key closed and wrapped
/// keys in the home, judged under the lock (another process may have stored the home's first
/// key since the caller looked), every sealed report's row would lose its study and template.
pub(crate) fn ensure(store: &mut Store) -> Result<bool> {
    if current(&store.db())? && ai::current(&store.db())? {
        return Ok(false);
    }
    let closed = store.kek().is_none();
    store.write(|db| {
        if current(db)? && ai::current(db)? {
            return Ok(false);
        }
        if closed {
            // Only wrapped keys wait: rows an older build stored in clear read as they are.
            let (held, clear) = db.report_key_counts()?;
            if held > clear {
                tracing::info!(
                    "the report list or the AI rows are missing or from another version: \
                     rebuilt once the key is unlocked"
                );
                return Ok(true);
            }
        }
        tracing::info!(
            "the report list or the AI rows are missing or from another version: rebuilding"
        );
        if !current(db)? {
            rebuild(db)?;
        } else {
            ai::rebuild(db)?;
        }
        Ok(false)
    })
}

/// Whether the table holds rows this version keeps in step (what `verify` then checks).
pub(crate) fn current(db: &Db<'_>) -> Result<bool> {
    Ok(db.meta(META_KEY)?.as_deref() == Some(PROJECTION_VERSION))
}

#[cfg(test)]
mod tests;
