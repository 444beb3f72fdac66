//! Placing entries: adding to the ledger's logs what a verdict says to add — a new entry
//! ([`Ledger::insert`], [`Ledger::load`], and every [`Ledger::accept`] through `take`), or the
//! second entry of a fork as evidence ([`Ledger::insert_evidence`]).
//!
//! Apart from the judging in `mod.rs` because judging decides a verdict and placing carries it
//! out: this is where entries go into the roster and report logs, so what storing an entry
//! changes reads in one place.

use countersign_ledger::roster::RosterLog;
use countersign_ledger::rules::RuleError;
use countersign_ledger::{Entry, Kind, LogFamily};

use super::{publication, Classified, Ledger, Rejection, Verdict};
use crate::log::{Frozen, ReportLog, Standing};

impl Ledger {
    /// Adds an entry that [`Ledger::judge`] found [`Verdict::New`], or a stored entry being
    /// loaded. Returns its standing.
    pub fn insert(&mut self, entry: &Entry, payload: Option<&[u8]>) -> Result<Standing, Rejection> {
        match self.place(entry, payload)? {
            Some(standing) => Ok(standing),
            None => Ok(self.roster_standing(&entry.id())),
        }
    }

    /// [`Ledger::insert`] without asking the standing: for loading a store, where a roster
    /// entry's standing would be the whole roster resolved again, once per entry.
    pub fn load(&mut self, entry: &Entry, payload: Option<&[u8]>) -> Result<(), Rejection> {
        self.place(entry, payload).map(|_| ())
    }

    /// Adds an entry; a report entry's standing comes with it, a roster entry's is the
    /// roster's next resolution (`None`).
    fn place(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
    ) -> Result<Option<Standing>, Rejection> {
        let placed = self.place_in_log(entry, payload);
        let log = entry.log_id();
        if self
            .reports
            .get(&log)
            .is_some_and(|r| r.contains(&entry.id()))
        {
            self.held_in.insert(entry.id(), log);
        }
        placed
    }

    fn place_in_log(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
    ) -> Result<Option<Standing>, Rejection> {
        let h = entry.header();
        let log = entry.log_id();
        match h.kind.family() {
            LogFamily::Roster => {
                let payload = payload.ok_or(Rejection::PayloadMissing)?;
                if h.kind == Kind::NetworkGenesis {
                    if self.roster.is_none() {
                        self.roster = Some(
                            RosterLog::new(entry, payload)
                                .map_err(|e| Rejection::Rule(RuleError::Roster(Box::new(e))))?,
                        );
                        self.generation += 1;
                    }
                    return Ok(Some(Standing::Accepted));
                }
                if self.roster.is_none() {
                    return Err(Rejection::NoNetwork);
                }
                self.note_roster_change();
                let roster = self.roster.as_mut().ok_or(Rejection::NoNetwork)?;
                roster.insert(entry, payload)?;
                if h.kind == Kind::TemplatePublish {
                    if let Ok(template) = publication(payload) {
                        self.published
                            .entry(template.content_hash())
                            .or_default()
                            .push((entry.id(), template));
                    }
                }
                self.generation += 1;
                Ok(None)
            }
            LogFamily::Report => {
                let judged = self.parsed.take().filter(|(id, _)| *id == entry.id());
                let parsed = match (judged, payload) {
                    (Some((_, parsed)), _) => Some(parsed),
                    (None, Some(p)) => self.open_report_payload(entry, p)?,
                    (None, None) => None,
                };
                if h.kind == Kind::ReportCreate {
                    if let Some(r) = self.reports.get(&log) {
                        return Ok(r.standing(&log).cloned());
                    }
                    let content = self.create_content(parsed)?;
                    let sealing = self.sealing_of(&log, payload);
                    let report = ReportLog::new(entry, content, self.roster(), sealing)?;
                    let standing = report.standing(&log).cloned().unwrap_or(Standing::Accepted);
                    self.reports.insert(log, report);
                    self.judged_at.insert(log, self.generation);
                    return Ok(Some(standing));
                }
                self.refresh(&log);
                let empty = Frozen::new();
                let frozen = self.frozen.get(&log).unwrap_or(&empty);
                let roster = match &self.roster {
                    Some(r) => r.roster(),
                    None => return Err(Rejection::NoNetwork),
                };
                let report = self
                    .reports
                    .get_mut(&log)
                    .ok_or(Rejection::UnknownLog { log })?;
                let standing = report.insert(entry, parsed, roster, frozen)?;
                // An entry an admin vouched for may let the entries before it stand again.
                let vouched = roster.vouches(&log, &entry.id());
                if vouched {
                    self.judged_at.remove(&log);
                    self.refresh(&log);
                    return Ok(Some(
                        self.reports
                            .get(&log)
                            .and_then(|r| r.standing(&entry.id()).cloned())
                            .unwrap_or(standing),
                    ));
                }
                Ok(Some(standing))
            }
        }
    }

    /// Adds what a verdict says to add: a new entry, or the second entry of a fork — frozen
    /// with its author's position, and kept beside the first in the log's index, so that both
    /// sides are shown (as forks) and what others built on either side can be judged, the same
    /// on every peer whichever side arrived first.
    pub(super) fn take(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        verdict: Classified,
    ) -> Result<Classified, Rejection> {
        match verdict {
            Verdict::New(_) => Ok(Verdict::New(self.place(entry, payload)?)),
            Verdict::Fork { .. } => {
                self.insert_evidence(entry, payload);
                Ok(verdict)
            }
            other => Ok(other),
        }
    }

    /// Freezes the author of a fork's second entry from its position and adds the entry to
    /// its log's index when its own parents are held (else it is evidence only). For fork
    /// evidence the caller keeps or loads beside the log. Returns whether the entry was placed
    /// in its log: a loader offers evidence not placed again once more rows are in, since a
    /// fork can build on entries that themselves wait for an earlier fork's evidence.
    ///
    /// A report log's evidence is placed without its payload, whether or not one came, and
    /// the first side's payload is forgotten too: both are frozen, so no rule reads them, and
    /// a home that received the other side as the entry (evidence travels without payloads)
    /// shows exactly what this one does. The roster log's evidence is placed with its payload
    /// when there is one: a frozen admin's revocations still stand, on both sides of their
    /// fork.
    pub fn insert_evidence(&mut self, entry: &Entry, payload: Option<&[u8]>) -> bool {
        let h = entry.header();
        self.freeze(entry.log_id(), h.author, h.seq);
        let log = entry.log_id();
        let payload = payload.filter(|_| h.kind.family() == LogFamily::Roster);
        if let Some(report) = self.reports.get_mut(&log) {
            report.forget_payloads_at(&h.author, h.seq);
            self.judged_at.remove(&log);
        }
        if self.network() != Some(log) {
            self.changes.evidence.insert(log);
        }
        let fits = if self.network() == Some(log) {
            self.roster
                .as_ref()
                .is_some_and(|r| r.dag().check(entry).is_ok())
        } else {
            self.reports
                .get(&log)
                .is_some_and(|r| r.dag().check(entry).is_ok())
        };
        if !fits {
            return false;
        }
        // A payload that does not parse leaves it evidence only; nothing else can fail.
        let placed = self.place(entry, payload).is_ok();
        self.judged_at.remove(&log);
        placed
    }
}
