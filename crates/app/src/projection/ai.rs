//! The AI outcomes as a table: a row per AI proposal (`ai.result` or `ai.received`) with the
//! review that decides it, so that `ai stats` reads rows instead of projecting (and
//! re-verifying) every report that holds AI — 14 s at 100 000 proposals before this table.
//!
//! Each row is what the report rules' view of its log says of one proposal
//! ([`countersign_report::ReportLog::project`], the same view `report show` gives): model,
//! version, signer, signed time, the report's study, the review's decision, time, reviewer and
//! the words an edit changed, and each entry's status — verified, or why not (a bad signature,
//! a rule that refuses it, a fork). Rows are derived, never a source of truth: they are kept
//! in step with the report list's rows (same transaction, same logs, same rebuilds; see
//! [`super`]), homes holding the same entries hold the same rows, and `verify` recomputes them
//! and names any that differ. Names are not kept (the roster gives them when read) nor
//! modality (the study's images give it when read), since neither comes from the report's
//! entries.
//!
//! What the rows vouch for, and what they do not. A row is made from its entries' stored
//! bytes, each checked (signature, payload hash, id) when the row is made — or, when the
//! bytes are exactly those an earlier row was made from verified, not checked again — and it
//! keeps `entry_digest` of those bytes (header, signature, payload hash; the header commits
//! to the payload by that hash). `ai stats` does not verify 200 000 signatures; it recomputes
//! the digest of every AI entry's stored bytes and checks that each payload still hashes to
//! its hash (two sequential passes, over the AI entries and the payloads), and excludes and
//! lists any entry whose bytes changed since its row was made ("changed since it was
//! verified: run verify"). So a signature, payload or header altered in the store
//! after the fact is caught by `ai stats`. Someone who rewrites both an entry and its row (the
//! digest with it) is not: `verify`, which checks every signature and recomputes every row, is
//! what catches that.

use countersign_ledger::{EntryId, Hash, IdMap, IdSet, LogId, Roster};
use countersign_report::oversight::{unverified, words_changed};
use countersign_report::payload::{Decision, Payload};
use countersign_report::{EntryStatus, ReportLog};
use countersign_store::{AiOutcomeRow, AiReviewRow, Db, StoredEntry};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::error::Result;
use crate::state::{decode_row, LedgerState};

/// The version of what an AI row holds and how it is computed; rows of another version are
/// rebuilt on open.
pub const AI_PROJECTION_VERSION: &str = "1";

/// The `meta` key naming the version the AI rows hold (absent: rebuild them).
pub(crate) const AI_META_KEY: &str = "ai_outcomes";

/// Digest of an entry's stored header, signature and payload hash column: SHA-256 over the
/// three, each length-prefixed. The payload is held to the hash on its own ([`payload_sound`]):
/// the header commits to it by that hash, so digest and payload check together notice any
/// stored byte that changed, while `ai stats` reads payloads in one pass of their own.
pub(crate) fn entry_digest(header: &[u8], signature: &[u8], payload_hash: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"countersign.ai-outcome.entry.v1");
    for part in [header, signature, payload_hash] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Whether `payload` is the payload stored under `hash`: it hashes to it.
pub(crate) fn payload_sound(hash: &[u8], payload: &[u8]) -> bool {
    Hash::of(payload).as_bytes().as_slice() == hash
}

/// An AI entry's stored bytes as checked: their status and digest.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub status: EntryStatus,
    pub digest: [u8; 32],
}

/// A log's fork evidence as statuses see it: the stored entry of a fork, and the second.
#[derive(Debug, Default)]
pub(crate) struct Forks {
    first: IdSet,
    second: IdSet,
}

impl Forks {
    pub(crate) fn of(db: &Db<'_>, log: &LogId) -> Result<Forks> {
        let mut forks = Forks::default();
        for f in db.forks_of(log)? {
            forks.first.extend(Hash::from_slice(&f.first));
            forks.second.extend(Hash::from_slice(&f.second));
        }
        Ok(forks)
    }
}

/// One stored row checked on its own, as `report show` checks it: the id is its header's, the
/// signature verifies, the payload matches its hash (or was erased).
fn check(row: &StoredEntry) -> EntryStatus {
    let checked = (|| {
        let entry = decode_row(row)?;
        if row.id != entry.id().as_bytes() {
            return Err("stored id does not match the header".to_string());
        }
        entry.verify_signature().map_err(|e| e.to_string())?;
        match row.payload.as_deref() {
            Some(p) => countersign_ledger::rules::check_payload(&entry, p)
                .map(|_| EntryStatus::Verified)
                .map_err(|e| e.to_string()),
            None => Ok(EntryStatus::Erased),
        }
    })();
    checked.unwrap_or_else(|reason| EntryStatus::Invalid { reason })
}

/// The stored AI entries of `log`, checked on all cores; an entry whose bytes have the digest
/// `known` gives for it (made from them verified) is not checked again.
pub(crate) fn check_stored(
    db: &Db<'_>,
    log: &LogId,
    known: &IdMap<[u8; 32]>,
) -> Result<IdMap<Checked>> {
    let rows = db.ai_entries_of(log)?;
    Ok(rows
        .par_iter()
        .filter_map(|row| {
            let id = Hash::from_slice(&row.id)?;
            let digest = entry_digest(&row.header, &row.signature, &row.payload_hash);
            let intact = row
                .payload
                .as_deref()
                .is_some_and(|p| payload_sound(&row.payload_hash, p));
            let status = if intact && known.get(&id) == Some(&digest) {
                EntryStatus::Verified
            } else {
                check(row)
            };
            Some((id, Checked { status, digest }))
        })
        .collect())
}

/// Whether the log holds an AI proposal at all (most reports do not: no view is projected).
fn has_proposals(log: &ReportLog) -> bool {
    log.ordered().iter().any(|e| {
        matches!(
            e.payload,
            Some(Payload::AiResult(_)) | Some(Payload::AiReceived(_))
        )
    })
}

/// The rows of a judged log: one per proposal its view shows, by proposal id. `checked` gives
/// each stored AI entry's status and digest; an entry it lacks is fork evidence (kept beside
/// the log) or not stored.
pub(crate) fn rows_of(
    log: &ReportLog,
    roster: &Roster,
    checked: &IdMap<Checked>,
    forks: &Forks,
) -> Vec<AiOutcomeRow> {
    if !has_proposals(log) {
        return Vec::new();
    }
    let view = log.project(roster, |id| match checked.get(id) {
        Some(c) if c.status == EntryStatus::Verified && forks.first.contains(id) => {
            EntryStatus::Fork
        }
        Some(c) => c.status.clone(),
        None if forks.second.contains(id) => EntryStatus::Fork,
        None => EntryStatus::Invalid {
            reason: "not stored".into(),
        },
    });
    // A digest is kept only for an entry that counts: the one `ai stats` holds its bytes to.
    let digest = |id: &EntryId, why: &Option<String>| {
        why.is_none()
            .then(|| checked.get(id).map(|c| c.digest.to_vec()))
            .flatten()
    };
    let mut rows: Vec<AiOutcomeRow> = view
        .ai
        .iter()
        .map(|ai| {
            let why = unverified(&ai.status);
            AiOutcomeRow {
                entry: ai.entry,
                log: view.report,
                received: ai.received.is_some(),
                model: ai.result.model.clone(),
                version: ai.result.version.clone(),
                author: ai.author.key.as_bytes().to_vec(),
                manufacturer: ai
                    .received
                    .as_ref()
                    .map(|r| r.attestation.device.manufacturer.clone()),
                time_ms: ai.time_ms,
                study: view.study.clone(),
                digest: digest(&ai.entry, &why),
                unverified: why,
                review: ai.review.as_ref().map(|r| {
                    let why = unverified(&r.status);
                    AiReviewRow {
                        entry: r.entry,
                        decision: decision_name(r.decision).into(),
                        time_ms: r.time_ms,
                        reviewer: r.reviewer.key.as_bytes().to_vec(),
                        words_changed: match r.decision {
                            Decision::Edit => words_changed(
                                &ai.result.text,
                                r.text.as_deref().unwrap_or_default(),
                            ),
                            Decision::Accept | Decision::Reject => 0,
                        },
                        digest: digest(&r.entry, &why),
                        unverified: why,
                    }
                }),
            }
        })
        .collect();
    rows.sort_by_key(|r| r.entry);
    rows
}

pub(crate) fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Accept => "accept",
        Decision::Edit => "edit",
        Decision::Reject => "reject",
    }
}

pub(crate) fn decision_of(name: &str) -> Option<Decision> {
    [Decision::Accept, Decision::Edit, Decision::Reject]
        .into_iter()
        .find(|d| decision_name(*d) == name)
}

/// Projects `log` (loaded and judged in `state`) into its rows. With `reuse`, entries whose
/// bytes are those the log's current rows were made from verified are not verified again (a
/// write touches a log's rows without re-checking every signature in it); a rebuild verifies
/// all.
pub(crate) fn project_log(
    db: &Db<'_>,
    state: &mut LedgerState,
    log: &LogId,
    reuse: bool,
) -> Result<()> {
    let any = state.ledger.report(log).is_some_and(has_proposals);
    if !any {
        return Ok(db.put_ai_outcomes(log, &[])?);
    }
    let mut known: IdMap<[u8; 32]> = IdMap::default();
    if reuse {
        for row in db.ai_outcomes_of(log)? {
            let mut keep = |id: EntryId, digest: &Option<Vec<u8>>| {
                if let Some(d) = digest.as_deref().and_then(|d| <[u8; 32]>::try_from(d).ok()) {
                    known.insert(id, d);
                }
            };
            keep(row.entry, &row.digest);
            if let Some(r) = &row.review {
                keep(r.entry, &r.digest);
            }
        }
    }
    let checked = check_stored(db, log, &known)?;
    let forks = Forks::of(db, log)?;
    let rows = match state.ledger.report_as_judged(log) {
        Some(r) => rows_of(r, state.ledger.roster(), &checked, &forks),
        None => Vec::new(),
    };
    Ok(db.put_ai_outcomes(log, &rows)?)
}

/// Rebuilds the AI rows alone from the entries (the report list's rows are current): every
/// log that stores a proposal, one at a time, every AI entry verified.
pub(crate) fn rebuild(db: &Db<'_>) -> Result<u64> {
    let started = std::time::Instant::now();
    db.clear_ai_outcomes()?;
    let mut state = LedgerState::load(db)?;
    let mut logs = 0;
    for log in db.logs_with_ai_proposals()? {
        let loaded = state.ledger.has_log(&log);
        if let Err(e) = state.load_log(db, &log) {
            tracing::warn!(log = %log, error = %e.loggable(), "a report's AI rows were not projected: run verify");
            state.ledger.unload(&log);
            continue;
        }
        project_log(db, &mut state, &log, false)?;
        if !loaded {
            state.ledger.unload(&log);
        }
        logs += 1;
    }
    db.set_meta(AI_META_KEY, AI_PROJECTION_VERSION)?;
    tracing::info!(
        logs,
        seconds = started.elapsed().as_secs_f64(),
        "AI outcome rows rebuilt from the entries"
    );
    Ok(logs)
}

/// Whether the AI rows are this version's, kept in step (what `ai stats` reads and `verify`
/// checks).
pub(crate) fn current(db: &Db<'_>) -> Result<bool> {
    Ok(db.meta(AI_META_KEY)?.as_deref() == Some(AI_PROJECTION_VERSION))
}

#[cfg(test)]
mod tests;
