//! Judging roster entries: whether a roster-log entry (the genesis, a member change, a
//! published template or macro) is storable, and what standing the roster's resolution gives
//! it. Apart from `mod.rs`, which judges report entries and joins the two.

use countersign_ledger::roster::RosterLog;
use countersign_ledger::rules::RuleError;
use countersign_ledger::{Entry, EntryId, Kind, RosterError};

use super::{publication, Classified, Ledger, Rejection, Verdict};
use crate::log::{ReportRuleError, Standing};

impl Ledger {
    pub(super) fn judge_roster(
        &self,
        entry: &Entry,
        payload: Option<&[u8]>,
        predict: bool,
    ) -> Result<Classified, Rejection> {
        let h = entry.header();
        if h.kind == Kind::NetworkGenesis {
            let payload = payload.ok_or(Rejection::PayloadMissing)?;
            RosterLog::new(entry, payload)
                .map_err(|e| Rejection::Rule(RuleError::Roster(Box::new(e))))?;
            return Ok(Verdict::New(Some(Standing::Accepted)));
        }
        let roster = self.roster.as_ref().ok_or(Rejection::NoNetwork)?;
        if roster.dag().contains(&entry.id()) {
            return Ok(Verdict::Duplicate);
        }
        // A fork is seen from the header: storable (it fits the log and its author was an
        // admin in its past), then a second entry at an occupied position.
        if let Some(first) = roster
            .dag()
            .other_at_position(&h.author, h.seq, &entry.id())
        {
            self.refine_unknown_parent(roster.check_header(entry), entry)?;
            return Ok(self.fork_or_duplicate(entry, first));
        }
        let payload = payload.ok_or(Rejection::PayloadMissing)?;
        self.refine_unknown_parent(roster.check(entry, payload), entry)?;
        if h.kind == Kind::TemplatePublish {
            publication(payload)?;
        }
        // A macro that is not valid, or takes a built-in's name, is not stored at all: every
        // peer refuses the same bytes, so every peer holds the same macros.
        if h.kind == Kind::MacroPublish {
            crate::macros::publication(payload).map_err(ReportRuleError::from)?;
        }
        if !predict {
            return Ok(Verdict::New(None));
        }
        // Whether it takes effect is the roster's resolution; predict it on a copy.
        let mut trial = roster.clone();
        trial.insert(entry, payload)?;
        Ok(Verdict::New(Some(
            match trial.roster().status(&entry.id()) {
                Some(Err(e)) => Standing::refused(roster_refusal(e)),
                _ => Standing::Accepted,
            },
        )))
    }

    pub(super) fn roster_standing(&self, id: &EntryId) -> Standing {
        match self.roster().status(id) {
            Some(Err(e)) => Standing::refused(roster_refusal(e)),
            _ => Standing::Accepted,
        }
    }
}

/// A roster entry's refusal, as a report-rule error so that both kinds of log answer alike.
pub(super) fn roster_refusal(e: &RosterError) -> ReportRuleError {
    match e {
        RosterError::Authority(a) => ReportRuleError::Authority(a.clone()),
        other => ReportRuleError::Roster(other.clone()),
    }
}
