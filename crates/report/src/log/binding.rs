//! Which study a report is about: its `report.create`'s, or the latest accepted `report.move`'s.
//! Kept apart because the rules ask it as of an entry's causal past (`binding_in_past`,
//! `studies_in_past`) as well as for the whole log (`binding`, `moves`).

use countersign_ledger::EntryId;

use super::{LogEntry, ReportLog, Standing};
use crate::payload::Payload;

impl ReportLog {
    /// The accepted `report.move` entries (among those `within` takes) no other such move has
    /// in its past, lowest id first: the one the report is now about is the first (concurrent moves are settled by
    /// id, the same on every peer).
    fn latest_moves(&self, within: impl Fn(&EntryId) -> bool) -> Vec<&LogEntry> {
        let moves: Vec<&LogEntry> = self
            .index
            .moves
            .iter()
            .filter(|id| within(id))
            .filter_map(|id| self.get(id))
            .collect();
        let mut latest: Vec<&LogEntry> = moves
            .iter()
            .filter(|m| {
                !moves
                    .iter()
                    .any(|o| o.id != m.id && self.dag.in_past(&m.id, &o.id))
            })
            .copied()
            .collect();
        latest.sort_by_key(|m| m.id);
        latest
    }

    /// The study the report is about now, and its images: the latest accepted move's, or its
    /// `report.create`'s.
    pub fn binding(&self) -> (&str, &[String]) {
        self.binding_of(self.latest_moves(|_| true))
    }

    /// The study and images the report was about when an erasure set its content aside: what
    /// [`ReportLog::binding`] said before, read from the withheld payloads (the latest accepted
    /// move's, or the `report.create`'s). An erasure destroys the images of that study, never
    /// of one the report was moved away from (another patient's: found by review, 2026-12-05).
    /// `None` unless the report is erased and its content was held here.
    pub fn erased_binding(&self) -> Option<(&str, &[String])> {
        let (create, _, _) = self.withheld_create.as_ref()?;
        // In an erased log each entry is judged by its header: a move stands as it did (its
        // payload has no rule of its own), and one after the erasure is refused.
        let moves: Vec<(&EntryId, &crate::payload::ReportMove)> = self
            .entries
            .values()
            .filter(|e| e.kind == countersign_ledger::Kind::ReportMove)
            .filter(|e| self.standing(&e.id).is_some_and(Standing::is_accepted))
            .filter_map(|e| match self.withheld.get(&e.id) {
                Some(Payload::Move(p)) => Some((&e.id, p)),
                _ => None,
            })
            .collect();
        let latest = moves
            .iter()
            .filter(|(m, _)| !moves.iter().any(|(o, _)| o != m && self.dag.in_past(m, o)))
            .min_by_key(|(m, _)| **m);
        Some(match latest {
            Some((_, p)) => (&p.study, &p.images),
            None => (&create.study, &create.images),
        })
    }

    /// The study and images an entry with these parents is about: what its causal past says
    /// (rules read only that), as [`ReportLog::binding`] does for the whole log.
    pub(crate) fn binding_in_past(&self, parents: &[EntryId]) -> (&str, &[String]) {
        self.binding_of(self.latest_moves(|id| self.in_past(id, parents)))
    }

    /// Every study the report was about in the past of an entry with these parents: its
    /// `report.create`'s and each accepted move's there.
    pub(crate) fn studies_in_past(&self, parents: &[EntryId]) -> Vec<&str> {
        let mut studies = vec![self.create.study.as_str()];
        for id in self
            .index
            .moves
            .iter()
            .filter(|id| self.in_past(id, parents))
        {
            if let Some(Payload::Move(m)) = self.get(id).and_then(|e| e.payload.as_ref()) {
                studies.push(&m.study);
            }
        }
        studies
    }

    fn binding_of<'a>(&'a self, latest: Vec<&'a LogEntry>) -> (&'a str, &'a [String]) {
        match latest.first().and_then(|m| match &m.payload {
            Some(Payload::Move(p)) => Some(p),
            _ => None,
        }) {
            Some(p) => (&p.study, &p.images),
            None => (&self.create.study, &self.create.images),
        }
    }

    /// Every accepted move, in causal order (parents first), each with the study it moved
    /// the report from.
    pub fn moves(&self) -> Vec<(&LogEntry, String)> {
        // Asked for every report's row on every write: a report never moved sorts nothing.
        if self.index.moves.is_empty() {
            return Vec::new();
        }
        let mut from = self.create.study.clone();
        let mut out = Vec::new();
        for e in self.ordered() {
            if let Some(Payload::Move(m)) = &e.payload {
                if self.standing(&e.id).is_some_and(Standing::is_accepted) {
                    out.push((e, std::mem::replace(&mut from, m.study.clone())));
                }
            }
        }
        out
    }
}
