//! Data keys over sync: what a home lacks and asks for, what it serves a member who may
//! read the report, and what it takes from a peer's answer.

use countersign_ledger::{LogId, PublicKey};
use countersign_sync::{AcceptError, Ledger};

use super::HomeLedger;

impl HomeLedger {
    /// The sealed reports held without their key, a request's worth at a time, going round
    /// all of them; nothing is looked up again until an entry arrives after a round that
    /// found none.
    pub(super) fn keys_lacking(&mut self) -> std::result::Result<Vec<LogId>, String> {
        let limit = countersign_sync::protocol::MAX_KEY_REQUEST;
        let db = self.home.store().db();
        let arrival = db.max_arrival().map_err(|e| e.to_string())?;
        if self.none_lacking_at == Some(arrival) {
            return Ok(Vec::new());
        }
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
