//! Adding entries and judging them: `check` and `insert` judge one entry against its past,
//! `rejudge` judges the whole log again, and each accepted entry goes into the index and the
//! "descends from a final" facts the rules read. The rules themselves are in `check`.

use countersign_ledger::{Entry, EntryId, Kind, Roster};

use super::{check, Frozen, Index, LogEntry, ReportLog, ReportRuleError, Standing};
use crate::payload::{Payload, Status};

impl ReportLog {
    /// The standing `entry` would have if it were added now — the same judgement
    /// [`ReportLog::insert`] makes. The entry's structure (parents held, its author's chain)
    /// is checked by the caller through [`ReportLog::dag`].
    pub fn check(
        &self,
        entry: &Entry,
        payload: Option<&Payload>,
        roster: &Roster,
        frozen: &Frozen,
    ) -> Standing {
        self.judge(&LogEntry::new(entry, payload.cloned()), roster, frozen)
    }

    /// Adds an entry whose structure was checked, judging it against its past. Inserting an
    /// entry already held changes nothing. Returns its standing.
    pub fn insert(
        &mut self,
        entry: &Entry,
        payload: Option<Payload>,
        roster: &Roster,
        frozen: &Frozen,
    ) -> Result<Standing, ReportRuleError> {
        let id = entry.id();
        if let Some(s) = self.standing.get(&id) {
            return Ok(s.clone());
        }
        if entry.log_id() != self.id {
            return Err(ReportRuleError::OtherLog {
                expected: self.id,
                found: entry.log_id(),
            });
        }
        // Once erased, a payload that comes is set aside: every peer judges the log by its
        // headers alone.
        let payload = match payload {
            Some(p)
                if !self.erasures.is_empty() && !check::is_data_protection(entry.header().kind) =>
            {
                self.withheld.insert(id, p);
                None
            }
            other => other,
        };
        let log_entry = LogEntry::new(entry, payload);
        // Into the index first: the roster's frontiers ask whether this entry is in the past of
        // an entry an admin vouched for, exactly as a later re-judgement will.
        self.dag
            .insert(entry)
            .map_err(|e| ReportRuleError::Structure(e.to_string()))?;
        if log_entry.kind == Kind::PayloadErase
            && self
                .data_protection_rules(&log_entry, roster, frozen)
                .is_ok()
        {
            // An erasure changes how every entry held is judged: by its header alone.
            self.entries.insert(id, Box::new(log_entry));
            self.rejudge(roster, frozen);
            return Ok(self
                .standing
                .get(&id)
                .cloned()
                .unwrap_or(Standing::Accepted));
        }
        let standing = self.judge(&log_entry, roster, frozen);
        if standing.is_accepted() {
            self.index_entry(&log_entry);
        }
        self.note_final_before(&log_entry, standing.is_accepted());
        self.entries.insert(id, Box::new(log_entry));
        self.standing.insert(id, standing.clone());
        Ok(standing)
    }

    /// Judges every entry again, in topological order: after the roster changed (a revocation,
    /// a role change, a readmission) or a fork was found.
    pub fn rejudge(&mut self, roster: &Roster, frozen: &Frozen) {
        self.index = Index::default();
        self.standing.clear();
        self.final_before.clear();
        self.find_erasures(roster, frozen);
        for id in self.dag.topological() {
            let Some(entry) = self.entries.get(&id).cloned() else {
                continue;
            };
            let standing = self.judge(&entry, roster, frozen);
            if standing.is_accepted() {
                self.index_entry(&entry);
            }
            self.note_final_before(&entry, standing.is_accepted());
            self.standing.insert(id, standing);
        }
    }

    /// Records whether `e` descends from an accepted final (see `final_before`): the lowest of
    /// its parents' finals, and itself when it is one. Its parents were judged before it.
    fn note_final_before(&mut self, e: &LogEntry, accepted: bool) {
        let own = match &e.payload {
            Some(Payload::Status(s)) if accepted && s.status == Status::Final => Some(e.id),
            _ => None,
        };
        if let Some(f) = self.final_in_past(&e.parents).into_iter().chain(own).min() {
            self.final_before.insert(e.id, f);
        }
    }

    /// An accepted final sign-off in the past of an entry with these parents (the lowest id
    /// when there are several: what a refusal names must not depend on arrival order). Reads
    /// the parents' facts: as many lookups as parents, whatever the log's size.
    pub(crate) fn final_in_past(&self, parents: &[EntryId]) -> Option<EntryId> {
        parents
            .iter()
            .filter_map(|p| self.final_before.get(p))
            .min()
            .copied()
    }

    /// [`ReportLog::final_in_past`] the way it was computed before the fact was kept: every
    /// accepted final, each asked whether it is in the parents' past. The property tests hold
    /// the fact to it.
    #[cfg(test)]
    pub(crate) fn final_in_past_by_walk(&self, parents: &[EntryId]) -> Option<EntryId> {
        self.index
            .finals
            .iter()
            .filter(|f| self.in_past(f, parents))
            .min()
            .copied()
    }

    fn index_entry(&mut self, e: &LogEntry) {
        let index = &mut self.index;
        match &e.payload {
            Some(Payload::Status(s)) if s.status == Status::Final => index.finals.push(e.id),
            Some(Payload::Resolve(_)) => index.resolves.push(e.id),
            Some(Payload::Write(w)) => index
                .versions
                .entry(w.section.clone())
                .or_default()
                .push(e.id),
            Some(Payload::Cosign(c)) => index.cosigns.entry(c.version).or_default().push(e.id),
            // A received SR is an AI proposal like a model's own result: reviewed once, and
            // unreviewed it blocks sign-off.
            Some(Payload::AiResult(_) | Payload::AiReceived(_)) => index.ai_results.push(e.id),
            Some(Payload::AiReview(r)) => index.ai_reviews.entry(r.result).or_default().push(e.id),
            Some(Payload::Followup(_)) => index.followups.push(e.id),
            Some(Payload::FollowupClose(c)) => index
                .followup_closes
                .entry(c.followup)
                .or_default()
                .push(e.id),
            Some(Payload::Access(_)) => index.access.push(e.id),
            Some(Payload::Move(_)) => index.moves.push(e.id),
            _ => {}
        }
    }

    /// Whether accepted entry `x` is in the past of an entry with these parents.
    pub(super) fn in_past(&self, x: &EntryId, parents: &[EntryId]) -> bool {
        self.dag.in_past_of_all(x, parents)
    }
}
