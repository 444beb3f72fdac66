//! What changed in a [`Ledger`] since its keeper last asked: so that a home can keep rows
//! derived from its reports (the report list) in step with the entries, projecting again only
//! the reports a change can reach rather than every one.
//!
//! A report's standing reads the roster in three ways only: each of its authors' history of
//! changes ([`Roster::authority`], which also says what a change vouches for), whether the
//! publication its template is bound to stands, and the network's policy (fixed by the
//! genesis). So when the roster changes, the reports it can reach are those with an entry by
//! a key whose history changed and those on a template whose publications changed;
//! [`Ledger::roster_impact`] names both. New report entries are the keeper's to notice (it
//! stored them); fork evidence in a report log is noted here ([`Changes::frozen`]), since it
//! changes the standing of entries already stored.

use std::collections::BTreeSet;

use countersign_ledger::roster::RosterLog;
use countersign_ledger::{LogId, PublicKey};

use super::{empty_roster, publication, Ledger};
use crate::log::Summary;

/// What changed since the last [`Ledger::take_changes`].
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Report logs fork evidence was offered to (its author frozen, and the entry placed in
    /// the log when it fits).
    pub evidence: BTreeSet<LogId>,
    /// Whether the roster changed (an entry, or a fork in the roster log).
    pub roster: bool,
    /// The roster log as it was before its first change since last asked (`None` before a
    /// genesis).
    before: Option<RosterLog>,
}

/// The report logs a roster change can reach, by what identifies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RosterImpact {
    /// Keys whose history of changes is not what it was, and that could have entries stored
    /// before the change (some roster entry named them already): every report with an entry by
    /// one of them can read differently.
    pub authors: Vec<PublicKey>,
    /// Names of templates a publication of which was added or changed standing: every report
    /// on a template of that name can bind or stand differently.
    pub templates: Vec<String>,
}

impl RosterImpact {
    pub fn is_empty(&self) -> bool {
        self.authors.is_empty() && self.templates.is_empty()
    }
}

impl Ledger {
    /// Notes that the roster is about to change, keeping the roster as it stands if this is
    /// its first change since last asked.
    pub(super) fn note_roster_change(&mut self) {
        if !self.changes.roster {
            self.changes.roster = true;
            self.changes.before = self.roster.clone();
        }
    }

    /// What changed since this was last called (or since the ledger was made), and starts
    /// noting afresh. Loading a store counts as changes too: take them after loading to start
    /// from what is stored.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// A loaded report log in one line (see [`Summary`]), judged against the current roster.
    pub fn summary(&mut self, log: &LogId) -> Option<Summary> {
        self.refresh(log);
        let roster = self
            .roster
            .as_ref()
            .map(RosterLog::roster)
            .unwrap_or_else(|| empty_roster());
        self.reports.get(log).map(|r| r.summary(roster))
    }

    /// The report logs the roster's changes in `changes` can reach (see the module docs).
    /// Empty when the roster did not change.
    pub fn roster_impact(&self, changes: &Changes) -> RosterImpact {
        let (Some(before), Some(after)) = (&changes.before, &self.roster) else {
            return RosterImpact::default();
        };
        if !changes.roster {
            return RosterImpact::default();
        }
        let (was, now) = (before.roster(), after.roster());
        let keys: BTreeSet<&PublicKey> = was.history_keys().chain(now.history_keys()).collect();
        let authors = keys
            .into_iter()
            .filter(|k| before.names(k) && was.history(k) != now.history(k))
            .copied()
            .collect();
        let stands = |r: &countersign_ledger::Roster, id| matches!(r.status(id), Some(Ok(())));
        let mut templates: BTreeSet<String> = BTreeSet::new();
        for (id, payload) in after.publications() {
            let new = !before.dag().contains(id);
            if new || stands(was, id) != stands(now, id) {
                if let Ok(t) = publication(payload) {
                    templates.insert(t.name);
                }
            }
        }
        RosterImpact {
            authors,
            templates: templates.into_iter().collect(),
        }
    }
}
