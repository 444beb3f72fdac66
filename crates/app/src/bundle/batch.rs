//! The import core every batch goes through, bundle or peer: the roster first, the data keys
//! before the entries they open, then every entry in causal order through the one acceptance
//! path, what waits tried again pass after pass.

use super::*;

impl Home {
    pub(super) fn import_entries(
        &mut self,
        entries: Vec<Received>,
        keys: bundle::BundleKeys,
        intake: Intake<'_>,
    ) -> Result<(ImportReport, Vec<(Received, Rejection)>)> {
        // Keys taken in are stored wrapped: the key-encryption key first (asked for if need be).
        if !keys.is_empty() {
            self.need_keys()?;
        }
        // The state kept across calls: a peer's catch-up is many batches into the same logs.
        self.write_with_state(|db, state| {
            let mut report = ImportReport::default();
            let mut leftovers = Vec::new();
            // Roster first: report entries are authorised by the roster they arrive with.
            let (roster, rest): (Vec<_>, Vec<_>) = entries
                .into_iter()
                .partition(|r| r.0.header().kind.family() == LogFamily::Roster);
            // The reports' keys before their entries, so their sealed payloads are opened.
            take_keys(db, state, keys, &rest, intake, &mut report)?;
            for batch in [roster, rest] {
                for log in logs_to_load(&batch) {
                    state.load_log(db, &log)?;
                }
                import_batch(db, state, batch, &mut report, intake, &mut leftovers)?;
            }
            Ok((report, leftovers))
        })
    }
}

/// The logs a batch's entries are judged against that must be loaded before it is taken in:
/// each once, and none whose genesis (a report's create) is in the batch.
///
/// A first sync takes reports in whole, create and sections in one batch; loading each
/// section's log looked up a log not stored yet, four queries at a random place in hash-keyed
/// indexes, twice per report (8 % of a 1M-report sync's taking-in CPU, `perf`). Nothing is
/// judged differently: a log whose create is in the batch is either new (nothing stored to
/// load) or stored already, and then its create, judged without its log as every create is,
/// is found stored on insert and its log loaded as stored (`reload` in [`import_noted`])
/// before any entry that builds on it in the batch is judged (causal order); an entry of
/// that log not built on the create in the batch waits for a next pass, after it.
fn logs_to_load(batch: &[Received]) -> Vec<LogId> {
    let created: countersign_ledger::IdSet = batch
        .iter()
        .filter(|r| r.0.header().kind.is_genesis())
        .map(|r| r.0.log_id())
        .collect();
    let mut seen = countersign_ledger::IdSet::default();
    batch
        .iter()
        .map(|r| r.0.log_id())
        .filter(|log| !created.contains(log) && seen.insert(*log))
        .collect()
}

/// Stores a batch in causal order whatever order it came in (see [`causal_order`]); entries
/// that still wait for something else in the batch (a roster change, a publication) are tried
/// again in a next pass. Every entry takes the one acceptance path; what it
/// says is stored is stored (refused entries too, marked so by their standing), entries dated
/// too far ahead are held, and an entry that cannot be stored at all refuses the whole batch.
fn import_batch(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    pending: Vec<Received>,
    report: &mut ImportReport,
    intake: Intake<'_>,
    leftovers: &mut Vec<(Received, Rejection)>,
) -> Result<()> {
    let result = import_noted(db, state, pending, report, intake, leftovers);
    // Whatever happened, the erasures noted for this batch end with it.
    state.ledger.end_batch();
    result
}

/// [`import_batch`]'s work, the batch's erasures noted first.
fn import_noted(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    pending: Vec<Received>,
    report: &mut ImportReport,
    intake: Intake<'_>,
    leftovers: &mut Vec<(Received, Rejection)>,
) -> Result<()> {
    let mut pending = causal_order(pending);
    // An erased report's log comes as headers only, its erasure after them: the erasure is
    // noted first (checked on its own), so that the headers it covers are taken in.
    for item in &pending {
        let (entry, payload) = &**item;
        if entry.header().kind == countersign_ledger::Kind::PayloadErase {
            state.ledger.note_erasure(entry, payload.as_deref());
        }
    }
    let now = now_ms();
    let mut held: HashMap<EntryId, u64> = HashMap::new();
    // New entries, whose standing is asked once the batch is in.
    let mut stored: Vec<(LogId, EntryId)> = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        // Why each waiting entry waits, in step with `waiting`.
        let mut waits: Vec<Rejection> = Vec::new();
        let mut last_wait = None;
        // Each entry is dropped once taken in: only those still waiting are kept.
        for item in pending {
            let (entry, payload) = &*item;
            let id = entry.id();
            // A home adopts only the network it was told to trust: a stranger's genesis
            // refuses the whole batch, so nothing of that network is stored.
            if entry.header().kind == countersign_ledger::Kind::NetworkGenesis
                && state.ledger.network().is_none()
            {
                let anchor = crate::join::anchor_in(db)?;
                countersign_report::accept::trust::admits(anchor.as_ref(), entry)?;
            }
            // Built on an entry held for later: held with it, until the later of the two.
            let after_held = entry
                .header()
                .parents
                .iter()
                .filter_map(|p| held.get(p))
                .max()
                .copied();
            // No standing asked per entry: a roster entry's is the whole roster resolved.
            let verdict = match after_held {
                Some(until_ms) => Ok(Verdict::Held { until_ms }),
                None => state.ledger.accept_unjudged(entry, payload.as_deref(), now),
            };
            match verdict {
                Ok(Verdict::New(())) => {
                    if !db.insert_entry(entry, payload.as_deref())? {
                        // Stored already: a report.create whose log was not loaded (a create
                        // is judged without loading its log), which the ledger took for a new
                        // report. Its log is loaded as stored instead of that one entry.
                        reload(db, state, &entry.log_id())?;
                        report.duplicate += 1;
                        continue;
                    }
                    if entry.header().kind == countersign_ledger::Kind::NetworkGenesis {
                        db.set_meta("network", &id.to_hex())?;
                    }
                    report.new += 1;
                    stored.push((entry.log_id(), id));
                }
                Ok(Verdict::Duplicate) => report.duplicate += 1,
                Ok(Verdict::Held { until_ms }) => {
                    let until_ms = until_ms.max(after_held.unwrap_or(0));
                    // What builds on it waits with it, kept or not.
                    held.insert(id, until_ms);
                    if !db.insert_held(entry, payload.as_deref(), until_ms)? {
                        // Full (an insider's next-year entries, say): this one is not kept,
                        // and the peer that has it offers it again on a later sync. The rest
                        // of the batch is stored as usual.
                        tracing::warn!(entry = %id, "entry dated ahead not kept: the held table is full");
                        report.held.push(Problem {
                            entry: id.to_hex(),
                            code: None,
                            problem: format!(
                                "dated ahead of this home's clock, and {} entries are already \
                                 held: not kept (it comes again with a later sync)",
                                countersign_store::MAX_HELD
                            ),
                        });
                        continue;
                    }
                    tracing::info!(entry = %id, until_ms, "entry held: dated ahead of this clock");
                    report.held.push(Problem {
                        entry: id.to_hex(),
                        code: None,
                        problem: format!(
                            "dated ahead of this home's clock; held until {until_ms} ms"
                        ),
                    });
                }
                Ok(Verdict::Fork { first }) => {
                    // The ledger froze the author and placed the entry beside the first; here it
                    // is kept as evidence (its signed header; a payload only in the roster
                    // log), which travels in bundles and syncs.
                    db.insert_fork(&first, entry, payload.as_deref())?;
                    let h = entry.header();
                    tracing::warn!(
                        author = %h.author,
                        seq = h.seq,
                        log = %entry.log_id(),
                        first = %first,
                        second = %id,
                        "equivocation: the second entry kept as evidence, the author's log frozen"
                    );
                    report.forks.push(Problem {
                        entry: id.to_hex(),
                        code: Some("frozen".into()),
                        problem: format!(
                            "fork: author {} signed both {} and {} at sequence {} of log {}",
                            h.author,
                            first,
                            id,
                            h.seq,
                            entry.log_id()
                        ),
                    });
                }
                // A header without its payload may be an erased report's whose erasure is in
                // a later batch of the same pull: it waits for it (and is dropped, not
                // quarantined, if the pull ends without it).
                Err(e)
                    if e.waits_for_dependency()
                        || (e == Rejection::PayloadMissing
                            && matches!(intake, Intake::Quarantine { .. })
                            && entry.header().kind.family() == LogFamily::Report) =>
                {
                    if matches!(intake, Intake::Quarantine { .. }) {
                        waits.push(e.clone());
                    }
                    last_wait = Some((id, e));
                    waiting.push(item);
                }
                Err(e) => match intake {
                    // A record without its payload (a relay that stripped it, or header-only
                    // fork evidence before the entry whose position it claims): nothing to
                    // hold against anyone, and nothing kept, so a later sync fetches it again.
                    Intake::Quarantine { .. } if e == Rejection::PayloadMissing => {
                        tracing::info!(entry = %id, "a record came without its payload: not kept");
                    }
                    Intake::Quarantine { peer } if !e.proves_sender_misbehaved() => {
                        crate::quarantine::keep(db, entry, payload.as_deref(), &e, false, peer)?;
                        report.quarantined.push(problem(id, &e));
                    }
                    _ => return Err(refused(id, e)),
                },
            }
        }
        if waiting.len() == before {
            if let Intake::Quarantine { .. } = intake {
                // What still waits goes back to the caller, to be taken in again with the
                // next batch: its parent or its author's admission may be in it.
                leftovers.extend(waiting.into_iter().zip(waits));
                break;
            }
            // No progress: what is left depends on entries this home does not have.
            return Err(match last_wait {
                Some((id, e)) => refused(id, e),
                None => {
                    AppError::InvalidInput("bundle entries depend on each other in a cycle".into())
                }
            });
        }
        pending = waiting;
    }
    for (log, id) in stored {
        if let Some(Standing::Refused(e)) = state.ledger.standing(&log, &id) {
            tracing::info!(entry = %id, rule = e.code(), "entry stored as refused");
            report.refused.push(Problem {
                entry: id.to_hex(),
                code: Some(e.code().to_string()),
                problem: e.to_string(),
            });
        }
    }
    Ok(())
}

pub(super) fn problem(id: EntryId, e: &Rejection) -> Problem {
    Problem {
        entry: id.to_hex(),
        code: Some(e.code().to_string()),
        problem: e.to_string(),
    }
}

/// Loads `log` again from the store, dropping what the ledger holds of it.
pub(super) fn reload(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    log: &LogId,
) -> Result<()> {
    state.ledger.unload(log);
    state.load_log(db, log)
}

pub(super) fn refused(id: EntryId, e: Rejection) -> AppError {
    AppError::EntryRefused {
        entry: id.to_hex(),
        reason: Box::new(e),
    }
}
