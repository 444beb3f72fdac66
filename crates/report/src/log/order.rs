//! The log's heads and its entries in a deterministic order: what is shown and exported.

use countersign_ledger::{EntryId, Kind};

use super::{LogEntry, ReportLog};

impl ReportLog {
    /// The current heads: entries no other entry names as a parent.
    pub fn heads(&self) -> Vec<EntryId> {
        self.dag.heads()
    }

    /// The heads of the report's content: the heads, with read receipts and delivery records
    /// stepped back over to the entries they follow. An exported object's SOP Instance UID is
    /// made from these, so reading the report or recording that it reached one archive does
    /// not make the same version a new instance on the next archive (or on a retry).
    pub fn version_heads(&self) -> Vec<EntryId> {
        let beside = |kind: Kind| matches!(kind, Kind::View | Kind::ReportDelivered);
        let mut found = std::collections::BTreeSet::new();
        let mut seen = std::collections::HashSet::new();
        let mut stack = self.heads();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            match self.entries.get(&id) {
                Some(e) if beside(e.kind) => stack.extend(e.parents.iter().copied()),
                Some(_) => {
                    found.insert(id);
                }
                None => {}
            }
        }
        let found: Vec<EntryId> = found.into_iter().collect();
        found
            .iter()
            .filter(|x| !found.iter().any(|y| y != *x && self.dag.in_past(x, y)))
            .copied()
            .collect()
    }

    /// Every entry in a deterministic topological order: parents first, concurrent entries by
    /// (timestamp, id). Timestamps only order what is shown side by side; no rule reads them.
    pub fn ordered(&self) -> Vec<&LogEntry> {
        self.dag
            .topological_by(|id| self.entries.get(id).map_or(0, |e| e.timestamp_ms))
            .iter()
            .filter_map(|id| self.get(id))
            .collect()
    }
}
