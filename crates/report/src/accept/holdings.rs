//! What the ledger holds, read: the network and its roster, the report logs loaded (and
//! unloading one), where a new entry would go, and the standing of the entries held.
//! Apart from `mod.rs`, which judges entries and changes what is held.

use std::collections::BTreeMap;

use countersign_ledger::roster::RosterLog;
use countersign_ledger::rules::RuleError;
use countersign_ledger::{EntryId, LogId, NetworkId, PublicKey, Roster};

use super::{empty_roster, roster_refusal, Ledger, Rejection};
use crate::log::{Frozen, ReportLog, Standing};

impl Ledger {
    pub fn network(&self) -> Option<NetworkId> {
        self.roster.as_ref().map(RosterLog::network)
    }

    /// The roster as the roster entries held resolve (empty before a genesis).
    pub fn roster(&self) -> &Roster {
        self.roster
            .as_ref()
            .map(RosterLog::roster)
            .unwrap_or_else(|| empty_roster())
    }

    pub fn roster_log(&self) -> Option<&RosterLog> {
        self.roster.as_ref()
    }

    /// Whether a log (the roster's or a report's) has been loaded.
    pub fn has_log(&self, log: &LogId) -> bool {
        self.reports.contains_key(log) || self.network() == Some(*log)
    }

    /// A loaded report log, judged against the current roster.
    pub fn report(&mut self, log: &LogId) -> Option<&ReportLog> {
        self.refresh(log);
        self.reports.get(log)
    }

    /// A loaded report log as last judged (call [`Ledger::report`] to be sure it is current).
    pub fn report_as_judged(&self, log: &LogId) -> Option<&ReportLog> {
        self.reports.get(log)
    }

    /// Every loaded report log's id.
    pub fn report_ids(&self) -> impl Iterator<Item = &LogId> {
        self.reports.keys()
    }

    /// How many report logs are loaded.
    pub fn report_count(&self) -> usize {
        self.reports.len()
    }

    /// Drops a loaded report log from memory (a cache bounding what a long-lived home keeps
    /// loaded); the caller loads it again from its store when next needed. What freezes its
    /// authors and which positions have evidence are kept, so it reads the same once loaded
    /// again. Returns whether it was loaded.
    pub fn unload(&mut self, log: &LogId) -> bool {
        self.judged_at.remove(log);
        self.parsed = None;
        // Its key goes with it: the caller's store gives it again with the log.
        self.keys.remove(log);
        let Some(report) = self.reports.remove(log) else {
            return false;
        };
        for id in report.dag().ids() {
            self.held_in.remove(id);
        }
        true
    }

    /// The entries of `log` a new entry by `author` would follow: the heads, and its sequence.
    pub fn position_for(&self, log: &LogId, author: &PublicKey) -> Option<(Vec<EntryId>, u64)> {
        let dag = if self.network() == Some(*log) {
            self.roster.as_ref()?.dag()
        } else {
            self.reports.get(log)?.dag()
        };
        Some((dag.heads(), dag.next_seq(author)))
    }

    /// The newest timestamp among `ids` in `log`.
    pub fn latest_timestamp(&self, log: &LogId, ids: &[EntryId]) -> u64 {
        if self.network() == Some(*log) {
            self.roster
                .as_ref()
                .map_or(0, |r| r.dag().latest_timestamp(ids))
        } else {
            self.reports
                .get(log)
                .map_or(0, |r| r.dag().latest_timestamp(ids))
        }
    }

    /// Whether an entry of `log` is held, and its standing.
    pub fn standing(&mut self, log: &LogId, id: &EntryId) -> Option<Standing> {
        if self.network() == Some(*log) {
            return self.roster().status(id).map(|s| match s {
                Ok(()) => Standing::Accepted,
                Err(e) => Standing::refused(roster_refusal(e)),
            });
        }
        self.refresh(log);
        self.reports.get(log)?.standing(id).cloned()
    }

    /// Every held entry a rule refuses, per log (the roster's first), with why.
    pub fn refused(&mut self) -> Vec<(LogId, EntryId, Rejection)> {
        let mut out = Vec::new();
        if let Some(r) = &self.roster {
            for id in r.dag().topological() {
                if let Some(Err(e)) = r.roster().status(&id) {
                    out.push((
                        r.network(),
                        id,
                        Rejection::Rule(RuleError::Roster(Box::new(e.clone()))),
                    ));
                }
            }
        }
        let mut logs: Vec<LogId> = self.reports.keys().copied().collect();
        logs.sort();
        for log in logs {
            self.refresh(&log);
            if let Some(r) = self.reports.get(&log) {
                for (id, e) in r.refused() {
                    out.push((log, id, Rejection::Report(e.clone())));
                }
            }
        }
        out
    }

    /// Frozen positions per log, for callers that report them.
    pub fn frozen(&self) -> BTreeMap<LogId, Frozen> {
        self.frozen.iter().map(|(k, v)| (*k, v.clone())).collect()
    }
}
