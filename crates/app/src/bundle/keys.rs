//! Data keys arriving in a bundle or from a peer: taken only if they open their report's
//! sealed `report.create`, never twice, never for an erased report.

use super::*;

impl Home {
    /// Takes data keys a peer sent on their own (the answer to a sync key request): each
    /// through the one key intake of bundles and batches (`take_keys`), a refused key
    /// dropped and counted in `keys_refused` with its code, in one write.
    pub fn take_peer_keys(&mut self, keys: bundle::BundleKeys, peer: &str) -> Result<ImportReport> {
        self.write_with_state(|db, state| {
            let mut report = ImportReport::default();
            take_keys(
                db,
                state,
                keys,
                &[],
                Intake::Quarantine { peer },
                &mut report,
            )?;
            Ok(report)
        })
    }
}

/// Takes the data keys a bundle or a peer's batch carries, before the entries they open.
///
/// - A key for a report this home erased is dropped: its erasure destroyed it here.
/// - A key is taken only if it opens its report's sealed `report.create` (in the batch or
///   stored): nobody can plant a key that the report's real one would then conflict with
///   (`data_key_invalid`). One for a report whose create is not here or is not sealed opens
///   nothing and is not kept.
/// - A second, different key for a report that has one is refused (`data_key_conflict`):
///   only the report's creator makes one; so is a key this home holds for another report
///   (`data_key_reused`).
///
/// A refusal refuses a bundle whole, and nothing of it is stored (an auditor gets all of it
/// or a reason). From a peer, keys are judged one by one: a refused key is dropped — counted
/// in the report with its code, never logged — and the rest of the batch goes on, so one bad
/// key neither loses what waits from other peers nor is taken for the sender's own bytes.
pub(super) fn take_keys(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    keys: bundle::BundleKeys,
    batch: &[Received],
    intake: Intake<'_>,
    report: &mut ImportReport,
) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let creates: IdMap<&Received> = batch
        .iter()
        .filter(|r| r.0.header().kind == countersign_ledger::Kind::ReportCreate)
        .map(|r| (r.0.id(), r))
        .collect();
    for (log, key) in keys {
        match (take_key(db, state, log, key, &creates), intake) {
            (Err(AppError::EntryRefused { reason, .. }), Intake::Quarantine { .. }) => {
                tracing::info!(log = %log, code = reason.code(), "a data key refused: dropped");
                report.keys_refused.push(problem(log, &reason));
            }
            (result, _) => result?,
        }
    }
    Ok(())
}

/// One key of [`take_keys`]: taken, dropped as no news, or refused with its code.
fn take_key(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    log: LogId,
    key: countersign_ledger::DataKey,
    creates: &IdMap<&Received>,
) -> Result<()> {
    use countersign_report::payload::seal;
    use countersign_report::ReportRuleError;
    if db.is_erased(&log)? {
        return Ok(());
    }
    // Every batch of a log carries its key: the one held already is no news.
    let held = db.report_key(&log)?;
    if held.as_ref() == Some(&key) {
        return Ok(());
    }
    let create = match creates.get(&log) {
        Some(r) => {
            r.1.clone()
                .filter(|p| countersign_ledger::rules::check_payload(&r.0, p).is_ok())
                .map(|p| (r.0.header().clone(), p))
        }
        None => match db.get(&log)? {
            Some(row) => {
                let header = crate::state::decode_row(&row)
                    .ok()
                    .map(|e| e.header().clone());
                header.zip(row.payload)
            }
            None => None,
        },
    };
    let Some((header, create)) = create.filter(|(_, p)| seal::is_sealed(p)) else {
        return Ok(());
    };
    let refuse = |e: ReportRuleError| refused(log, Rejection::Report(e));
    if !seal::opens_create(&key, &header, &create) {
        return Err(refuse(ReportRuleError::DataKeyInvalid { log }));
    }
    if held.is_some() {
        return Err(refuse(ReportRuleError::DataKeyConflict { log }));
    }
    // One key serves one report: a key held for another log would outlive the erasure of
    // either as the other's key.
    if db
        .report_key_holder(&key)?
        .is_some_and(|other| other != log)
    {
        return Err(refuse(ReportRuleError::DataKeyReused { log }));
    }
    // A log loaded without its key is unloaded here, and loaded again readable.
    state
        .ledger
        .add_key(log, key.clone())
        .map_err(|e| refused(log, e))?;
    db.put_report_key(&log, &key)?;
    // A report already stored reads differently now: its row in the report list too, with
    // the study and template that were not readable (a row keeps those once written).
    if db.contains(&log)? {
        db.delete_summary(&log)?;
        // Everything re-read: its AI rows were made without its payloads.
        crate::projection::project(db, state, &log, false)?;
    }
    Ok(())
}
