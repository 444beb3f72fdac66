//! Data keys over sync: what a home lacks and asks for, what it serves a member who may
//! read the report, and what it takes from a peer's answer.

use std::collections::BTreeSet;
use std::ops::Bound;

use countersign_ledger::{LogId, PublicKey};
use countersign_sync::{AcceptError, Ledger};

use super::HomeLedger;

/// Reports lacking their key a node keeps in memory at most (32 bytes each, in a B-tree: a
/// few MiB); past it each round reads the store (see [`HomeLedger::keys_lacking`]).
pub(super) const MAX_LACKING_KEPT: usize = 65_536;

/// The sealed reports this node found held without their key, and the arrival number up to
/// which stored entries were looked at for them.
#[derive(Debug, Default)]
pub(super) struct Lacking {
    logs: BTreeSet<LogId>,
    seen: i64,
    /// More than [`MAX_LACKING_KEPT`] were found: none are kept, the store is read instead.
    overflow: bool,
    /// The logs erased here when it was made (see [`HomeLedger::keys_lacking`]).
    erased: u64,
}

impl HomeLedger {
    /// The sealed reports held without their key, a request's worth at a time, going round
    /// all of them; nothing is looked up again until an entry arrives after a round that
    /// found none.
    ///
    /// Every whole pull ends by asking, so the reports lacking a key are kept in memory
    /// ([`Lacking`]) and only the entries stored since the last look are read: reading the
    /// whole report list again after each pull made every reconcile cost a pass over the
    /// store (a million-report home read a million rows to take in a thousand entries).
    /// Past [`MAX_LACKING_KEPT`] reports the list is not kept, and each round reads the
    /// store as before.
    pub(super) fn keys_lacking(&mut self) -> std::result::Result<Vec<LogId>, String> {
        let limit = countersign_sync::protocol::MAX_KEY_REQUEST;
        let db = self.home.store().db();
        let arrival = db.max_arrival().map_err(|e| e.to_string())?;
        if self.none_lacking_at == Some(arrival) {
            return Ok(Vec::new());
        }
        let lacking = &mut self.lacking;
        // An erasure can take another report's key with it (one key re-used for two): a
        // report looked at before as holding its key may lack it now. Erasures are rare; the
        // stored entries are looked at again from the first.
        let erased = db.erased_count().map_err(|e| e.to_string())?;
        if lacking.erased != erased {
            *lacking = Lacking {
                erased,
                ..Lacking::default()
            };
        }
        while !lacking.overflow && lacking.seen < arrival {
            let (found, to) = db
                .reports_lacking_keys_since(lacking.seen, 100_000)
                .map_err(|e| e.to_string())?;
            if to == lacking.seen {
                break;
            }
            lacking.seen = to;
            lacking.logs.extend(found);
            if lacking.logs.len() > MAX_LACKING_KEPT {
                tracing::info!(
                    reports = lacking.logs.len(),
                    "many reports lack their key: looked up in the store each round"
                );
                lacking.overflow = true;
                lacking.logs = BTreeSet::new();
            }
        }
        let logs = if lacking.overflow {
            self.keys_lacking_in_store(limit)?
        } else {
            self.keys_lacking_kept(limit)?
        };
        self.key_cursor = if logs.len() < limit {
            None
        } else {
            logs.last().copied()
        };
        if logs.is_empty() {
            self.none_lacking_at = Some(arrival);
        }
        Ok(logs)
    }

    /// Up to `limit` of the reports kept as lacking their key, going round from the cursor;
    /// each checked again first (a key may have come, or the report been erased, since), and
    /// dropped when it no longer lacks one. One without its row in the report list yet (the
    /// list's rebuild waits for the member's key) is kept but not asked for, as the store's
    /// own list would not name it.
    fn keys_lacking_kept(&mut self, limit: usize) -> std::result::Result<Vec<LogId>, String> {
        let db = self.home.store().db();
        let kept = &mut self.lacking.logs;
        let order: Vec<LogId> = match self.key_cursor {
            Some(c) => kept
                .range((Bound::Excluded(c), Bound::Unbounded))
                .chain(kept.range(..=c))
                .copied()
                .collect(),
            None => kept.iter().copied().collect(),
        };
        let mut logs = Vec::with_capacity(limit);
        for chunk in order.chunks(limit) {
            let still = db.still_lacking_keys(chunk).map_err(|e| e.to_string())?;
            for (log, (lacks, listed)) in chunk.iter().zip(still) {
                if !lacks {
                    kept.remove(log);
                } else if listed && logs.len() < limit {
                    logs.push(*log);
                }
            }
            if logs.len() >= limit {
                break;
            }
        }
        Ok(logs)
    }

    /// Up to `limit` reports lacking their key, read from the whole report list from the
    /// cursor on (going round to the first when short of a request).
    fn keys_lacking_in_store(&mut self, limit: usize) -> std::result::Result<Vec<LogId>, String> {
        let db = self.home.store().db();
        let mut logs = db
            .reports_lacking_keys(self.key_cursor.as_ref(), limit)
            .map_err(|e| e.to_string())?;
        // Round again from the first when the rest is short of a whole request.
        if logs.len() < limit && self.key_cursor.is_some() {
            for log in db
                .reports_lacking_keys(None, limit - logs.len())
                .map_err(|e| e.to_string())?
            {
                if !logs.contains(&log) {
                    logs.push(log);
                }
            }
        }
        Ok(logs)
    }

    /// The keys of `logs` that `reader` may have: those of reports its grants reach, held
    /// here and not erased.
    pub(super) fn keys_served(
        &mut self,
        reader: &PublicKey,
        logs: &[LogId],
    ) -> std::result::Result<Vec<(LogId, countersign_ledger::DataKey)>, String> {
        let mut logs: Vec<LogId> = logs
            .iter()
            .filter(|l| Some(**l) != self.network)
            .copied()
            .collect();
        logs.sort_unstable();
        logs.dedup();
        logs.truncate(countersign_sync::protocol::MAX_KEY_REQUEST);
        // The grant check that decides what this member is sent decides its keys too.
        let readable = self.may_read(reader, &logs);
        let db = self.home.store().db();
        let mut keys = Vec::new();
        for (log, ok) in logs.iter().zip(readable) {
            // An erased report's key is gone with it; the erased mark is checked too, so a
            // key left by anything else is never served for it.
            if !ok || db.is_erased(log).map_err(|e| e.to_string())? {
                continue;
            }
            // A row that does not open here (damaged, or wrapped under another key) costs the
            // asker that one key, not the whole answer (review of issue 16).
            match db.report_key(log) {
                Ok(Some(key)) => keys.push((*log, key)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(report = %log, error = %e, "a data key that does not open here is not served")
                }
            }
        }
        Ok(keys)
    }

    /// Keys a peer answered with, through the same intake as a bundle's; a key that does not
    /// open the create held here is the peer's provable misbehaviour.
    pub(super) fn keys_taken(
        &mut self,
        peer: &str,
        keys: Vec<(LogId, countersign_ledger::DataKey)>,
    ) -> std::result::Result<u64, AcceptError> {
        let offered = keys.len() as u64;
        let report = self.home.take_peer_keys(keys, peer).map_err(|e| {
            tracing::warn!(error = %e.loggable(), "data keys from a peer not taken");
            AcceptError::Local(e.to_string())
        })?;
        self.wrote = true;
        // Only logs this home asked for reach here, each with its sealed `report.create`
        // held (that is why it asked): a key that does not open it is not the report's key,
        // whoever sent it, and an honest peer holds only keys that opened its create (the
        // same bytes: the log's id commits to them). A conflicting or reused key proves
        // nothing against the sender (which of two keys is the creator's is not provable
        // here), so it is dropped and counted, as in a batch.
        let invalid = report
            .keys_refused
            .iter()
            .find(|p| p.code.as_deref() == Some("data_key_invalid"));
        if let Some(p) = invalid {
            return Err(AcceptError::Misbehaved(format!(
                "a data key that does not open report {}",
                p.entry
            )));
        }
        Ok(offered - report.keys_refused.len() as u64)
    }
}
