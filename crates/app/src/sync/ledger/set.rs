//! The reconciliation sets a home offers its peers: the whole set of entry ids (and fork and
//! split-view evidence), taken forward as entries arrive, and the smaller set of what a member
//! that may read only some logs (an AI model) may be sent.

use countersign_ledger::{Hash, LogId, PublicKey};
use countersign_sync::reconcile::{order_key, ReconcileSet};

use super::batch::evidence_item;
use super::HomeLedger;

/// Entries stored since the set was last taken forward past which taking it forward counts as
/// long (about a second of reading at this machine's pace; see `Ledger::set_is_cold`).
pub(super) const COLD_ITEMS: i64 = 100_000;

impl HomeLedger {
    /// Takes the reconciliation set forward to what is stored now (by any process).
    pub(super) fn refresh_set(&mut self) -> std::result::Result<(), String> {
        // Nothing is held before a network is.
        let Some(network) = self.network else {
            return Ok(());
        };
        let db = self.home.store().db();
        if self.set.is_empty() && self.set_cursor == 0 {
            // The first build: room for every entry at once (see `ReconcileSet::reserve`).
            let held = db.count_entries().map_err(|e| e.to_string())?;
            self.set.reserve(usize::try_from(held).unwrap_or(0));
        }
        loop {
            let items = db
                .set_items_after(self.set_cursor, 100_000, &network)
                .map_err(|e| e.to_string())?;
            for i in &items {
                self.set
                    .insert(order_key(i.roster, i.timestamp_ms), &Hash(i.id));
                self.set_cursor = self.set_cursor.max(i.arrival);
            }
            if items.len() < 100_000 {
                break;
            }
        }
        if db.fork_total().map_err(|e| e.to_string())? != self.set_forks {
            let forks = db.forks().map_err(|e| e.to_string())?;
            for f in &forks {
                if let Some((ts, id)) = evidence_item(&f.second_header, &f.second) {
                    self.set
                        .insert(order_key(f.log == network.as_bytes(), ts), &id);
                }
            }
            self.set_forks = forks.len();
        }
        // Split-view evidence travels like fork evidence (to members who read every log: a
        // restricted reader's set leaves it out). Rows are only ever added, and few.
        self.refresh_evidence()?;
        if self.evidence.0 != self.set_evidence {
            for (log, ts, id, _) in &self.evidence.1 {
                self.set.insert(order_key(*log == network, *ts), id);
            }
            self.set_evidence = self.evidence.0;
        }
        self.set.settle();
        Ok(())
    }

    /// Reads the split-view evidence again when rows were added since it was last read
    /// (decoding checks every signature: not once per fetch).
    pub(super) fn refresh_evidence(&mut self) -> std::result::Result<(), String> {
        let db = self.home.store().db();
        let rows = db.split_view_count().map_err(|e| e.to_string())?;
        if rows != self.evidence.0 {
            let items = crate::checkpoints::evidence_items(&db).map_err(|e| e.to_string())?;
            self.evidence = (rows, items);
        }
        Ok(())
    }

    /// The set of what `model` (a member that may read only some logs) may be sent: the
    /// roster, and the reports an attending granted it.
    pub(super) fn restricted_set(&mut self, model: &PublicKey) -> std::result::Result<(), String> {
        let mut set = ReconcileSet::new();
        let Some(network) = self.network else {
            self.reader_set = set;
            return Ok(());
        };
        let db = self.home.store().db();
        let mut logs: Vec<LogId> = vec![network];
        for log in db.logs_with_grants().map_err(|e| e.to_string())? {
            if self.granted(model, &log) {
                logs.push(log);
            }
        }
        let db = self.home.store().db();
        for log in &logs {
            for i in db.log_set_items(log, &network).map_err(|e| e.to_string())? {
                set.insert(order_key(i.roster, i.timestamp_ms), &Hash(i.id));
            }
        }
        set.settle();
        self.reader_set = set;
        Ok(())
    }

    /// Whether an attending granted AI model `model` `log` and has not revoked it since, as
    /// the report's accepted entries say.
    pub(super) fn granted(&self, model: &PublicKey, log: &LogId) -> bool {
        self.home
            .with_state(log, |state, _| {
                Ok(state.report(log).is_some_and(|r| r.reads_granted(model)))
            })
            .unwrap_or(false)
    }
}
