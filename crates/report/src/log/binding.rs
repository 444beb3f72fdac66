//! Which study a report is about: its `report.create`'s, or the latest accepted `report.move`'s.
//! Kept apart because the rules ask it as of an entry's causal past (`binding_in_past`,
//! `studies_in_past`) as well as for the whole log (`binding`, `moves`).

use countersign_ledger::{EntryId, Kind};

use super::{check, LogEntry, ReportLog, Standing};
use crate::payload::{Payload, ReportMove};

impl ReportLog {
    /// Of `moves` (accepted `report.move` entries, by id), the latest: the one no other has in
    /// its past, the lowest id when several are (concurrent moves are settled by id, the same
    /// on every peer).
    fn latest_of<'a, T>(&self, moves: &'a [(EntryId, T)]) -> Option<&'a T> {
        moves
            .iter()
            .filter(|(m, _)| !moves.iter().any(|(o, _)| o != m && self.dag.in_past(m, o)))
            .min_by_key(|(m, _)| *m)
            .map(|(_, t)| t)
    }

    /// The latest of the accepted `report.move` entries `within` takes (see `latest_of`).
    fn latest_move(&self, within: impl Fn(&EntryId) -> bool) -> Option<&LogEntry> {
        let moves: Vec<(EntryId, &LogEntry)> = self
            .index
            .moves
            .iter()
            .filter(|id| within(id))
            .filter_map(|id| self.get(id))
            .map(|e| (e.id, e))
            .collect();
        self.latest_of(&moves).copied()
    }

    /// The study the report is about now, and its images: the latest accepted move's, or its
    /// `report.create`'s.
    pub fn binding(&self) -> (&str, &[String]) {
        self.binding_of(self.latest_move(|_| true))
    }

    /// The study and images the report was about when it was erased: what
    /// [`ReportLog::binding`] said in the causal past of its erasure ([`ReportLog::erasure`]),
    /// read from the withheld payloads (the latest move there that was accepted with its
    /// payload, or the `report.create`'s). An erasure destroys the images of that study, never
    /// of one the report was moved away from (another patient's: found by review,
    /// 2026-12-05).
    ///
    /// In an erased log every entry is judged by its header alone, so a move the rules
    /// refused for its payload (a hidden character in its reason) stands there, and a move
    /// concurrent with the erasure stands on a home that got it before the erasure: neither
    /// may choose the study destroyed (found by review, 2026-12-05: a refused move to another
    /// patient's study destroyed that study; which study went depended on arrival order). Each
    /// move in the erasure's past is judged again with its payload, by the rules a move's
    /// payload is judged by (`check::payload_alone`); moves outside it are not read.
    ///
    /// `None` unless the report is erased and its content was held here — or a move in the
    /// erasure's past that its header lets stand has no payload held here: which study the
    /// report was about is then not known.
    pub fn erased_binding(&self) -> Option<(&str, &[String])> {
        let (create, _, _) = self.withheld_create.as_ref()?;
        let erasure = self.erasure()?.id;
        let mut moves: Vec<(EntryId, &ReportMove)> = Vec::new();
        for e in self.entries.values().filter(|e| {
            e.kind == Kind::ReportMove
                && self.dag.in_past(&e.id, &erasure)
                && self.standing(&e.id).is_some_and(Standing::is_accepted)
        }) {
            match self.withheld.get(&e.id) {
                Some(p @ Payload::Move(m)) => {
                    if check::payload_alone(p).is_ok() {
                        moves.push((e.id, m));
                    }
                }
                // Not a move's payload: refused when it was held.
                Some(_) => {}
                None => return None,
            }
        }
        Some(match self.latest_of(&moves) {
            Some(m) => (&m.study, &m.images),
            None => (&create.study, &create.images),
        })
    }

    /// The study and images an entry with these parents is about: what its causal past says
    /// (rules read only that), as [`ReportLog::binding`] does for the whole log.
    pub(crate) fn binding_in_past(&self, parents: &[EntryId]) -> (&str, &[String]) {
        self.binding_of(self.latest_move(|id| self.in_past(id, parents)))
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

    fn binding_of<'a>(&'a self, latest: Option<&'a LogEntry>) -> (&'a str, &'a [String]) {
        match latest.and_then(|m| match &m.payload {
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
