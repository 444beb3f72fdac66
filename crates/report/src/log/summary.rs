//! A report in one line: the few facts a list of reports shows (its study, template, state,
//! when it was created and last changed, how many entries it holds), computed from the log
//! alone so that a home can keep them in a table and page through them instead of projecting
//! every report whenever a list is shown.
//!
//! Like every judgement here, a pure function of the entries held (and the roster): two homes
//! holding the same entries compute the same summary, whatever order the entries came in.

use countersign_ledger::{LogId, Roster};
use serde::Serialize;

use super::{ReportLog, Standing};
use crate::payload::{Payload, Status};
use crate::view::ReportState;
use countersign_ledger::{Kind, Role};

/// What a list of reports shows of one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub report: LogId,
    pub study: String,
    pub template: String,
    /// The state [`ReportLog::project`] gives the report (the same function computes both).
    pub status: ReportState,
    /// The `report.create` entry's timestamp (its author's clock).
    pub created_ms: u64,
    /// The newest timestamp among the entries the log holds, accepted or refused: when the
    /// report last changed, by its authors' clocks.
    pub last_ms: u64,
    /// Entries the log holds (accepted, refused, and fork evidence placed in it).
    pub entries: u64,
    /// The studies the report was moved away from (`report.move`), oldest first.
    pub moved_from: Vec<String>,
}

impl ReportState {
    /// The state's name as it is serialised (`draft`, `final`, …).
    pub fn name(self) -> &'static str {
        match self {
            ReportState::Draft => "draft",
            ReportState::Preliminary => "preliminary",
            ReportState::Final => "final",
            ReportState::Amended => "amended",
            ReportState::Conflict => "conflict",
            ReportState::Refused => "refused",
            ReportState::Withdrawn => "withdrawn",
            ReportState::Erased => "erased",
        }
    }

    /// The state [`ReportState::name`] names.
    pub fn from_name(name: &str) -> Option<ReportState> {
        [
            ReportState::Draft,
            ReportState::Preliminary,
            ReportState::Final,
            ReportState::Amended,
            ReportState::Conflict,
            ReportState::Refused,
            ReportState::Withdrawn,
            ReportState::Erased,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

impl ReportLog {
    /// The report's state: refused (its `report.create` is), in conflict (two sign-offs in
    /// force), amended or final (one in force, with or without an accepted addendum),
    /// withdrawn (none in force, but a refused sign-off was made with an attending's authority
    /// for that very entry), preliminary, or draft.
    pub fn state(&self, roster: &Roster) -> ReportState {
        if self.erasure().is_some() {
            return ReportState::Erased;
        }
        if !self.is_accepted() {
            return ReportState::Refused;
        }
        let mut addenda = false;
        let mut preliminary = false;
        // Whether a refused sign-off was made with an attending's authority for that very entry
        // (the roster's judgement of it: inside any revocation's frontier, under the role the
        // author then had) and refused for what happened since — a covered version voided, its
        // author's fork. Only then was the report signed off once: a resident's "final", a
        // revoked (stolen) key's outside its frontier, a former attending's after the change,
        // never was, and must not make a draft read as withdrawn.
        let mut withdrawn = false;
        for e in self.entries.values() {
            let accepted = self.standing(&e.id).is_some_and(Standing::is_accepted);
            match &e.payload {
                Some(Payload::Status(s))
                    if !accepted && s.status == Status::Final && !withdrawn =>
                {
                    withdrawn = self.role_of(e, roster).ok() == Some(Role::Attending);
                }
                _ if !accepted => {}
                Some(Payload::Status(s)) => preliminary |= s.status != Status::Final,
                // An erased addendum still counts as one.
                Some(Payload::Addendum(_)) => addenda = true,
                None if e.kind == Kind::AddendumWrite => addenda = true,
                _ => {}
            }
        }
        match (self.finals_in_force(|_| true).len(), addenda, preliminary) {
            (2.., _, _) => ReportState::Conflict,
            (1, true, _) => ReportState::Amended,
            (1, false, _) => ReportState::Final,
            (0, _, _) if withdrawn => ReportState::Withdrawn,
            (_, _, true) => ReportState::Preliminary,
            (_, _, false) => ReportState::Draft,
        }
    }

    /// The report in one line (see [`Summary`]).
    pub fn summary(&self, roster: &Roster) -> Summary {
        Summary {
            report: self.id,
            study: self.binding().0.to_string(),
            template: self.template.name.clone(),
            status: self.state(roster),
            created_ms: self.created_ms,
            last_ms: self
                .entries
                .values()
                .map(|e| e.timestamp_ms)
                .max()
                .unwrap_or(self.created_ms),
            entries: self.entries.len() as u64,
            moved_from: self.moves().into_iter().map(|(_, from)| from).collect(),
        }
    }
}
