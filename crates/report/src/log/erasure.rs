//! Erasure and restriction (GDPR Art. 17 and 18): finding the accepted erasures, setting the
//! report's content aside while one stands and putting it back when none does, whether the
//! content is restricted, and forgetting the payloads of an equivocation. Kept apart because
//! what is withheld changes what every other part of the log reads.

use countersign_ledger::{EntryId, Kind, PublicKey, Roster};

use super::{check, Frozen, LogEntry, ReportLog, Standing, TemplateSource};
use crate::payload::{Payload, ReportCreate};
use crate::template::Template;

impl ReportLog {
    /// The entry that erased the report (the lowest-id accepted `payload.erase`), if any.
    pub fn erasure(&self) -> Option<&LogEntry> {
        self.erasures.iter().min().and_then(|id| self.get(id))
    }

    /// Whether the report's content is restricted (GDPR Art. 18): an accepted restriction
    /// that no accepted lifting has in its past. Concurrent restriction and lifting leave it
    /// restricted — the cautious reading, and the same on every peer.
    pub fn restricted(&self) -> Option<&LogEntry> {
        let accepted = |e: &&LogEntry| self.standing(&e.id).is_some_and(Standing::is_accepted);
        let changes: Vec<(&LogEntry, bool)> = self
            .entries
            .values()
            .map(Box::as_ref)
            .filter(accepted)
            .filter_map(|e| match &e.payload {
                Some(Payload::Restrict(r)) => Some((e, r.restricted)),
                _ => None,
            })
            .collect();
        changes
            .iter()
            .filter(|(_, restricted)| *restricted)
            .filter(|(r, _)| {
                !changes
                    .iter()
                    .any(|(l, restricted)| !*restricted && self.dag.in_past(&r.id, &l.id))
            })
            .map(|(r, _)| *r)
            .min_by_key(|r| r.id)
    }

    /// Whether an accepted erasure is in the past of an entry with these parents.
    pub(super) fn erasure_in_past(&self, parents: &[EntryId]) -> Option<EntryId> {
        self.erasures
            .iter()
            .filter(|x| self.in_past(x, parents))
            .min()
            .copied()
    }

    /// Sets the report's content aside once it is erased: every payload but the erasures'
    /// and restrictions' own, and the study, template and images of its `report.create`.
    fn withhold_content(&mut self) {
        for e in self.entries.values_mut() {
            if !check::is_data_protection(e.kind) {
                if let Some(p) = e.payload.take() {
                    self.withheld.insert(e.id, p);
                }
            }
        }
        if self.content {
            let create = std::mem::replace(&mut self.create, ReportCreate::not_held());
            let template = std::mem::replace(&mut self.template, Template::not_held());
            let source = std::mem::replace(&mut self.source, TemplateSource::Builtin);
            self.withheld_create = Some((create, template, source));
            self.content = false;
        }
    }

    /// Puts back what [`ReportLog::withhold_content`] set aside: the erasure no longer stands.
    fn restore_content(&mut self) {
        for (id, p) in std::mem::take(&mut self.withheld) {
            if let Some(e) = self.entries.get_mut(&id) {
                e.payload = Some(p);
            }
        }
        if let Some((create, template, source)) = self.withheld_create.take() {
            self.create = create;
            self.template = template;
            self.source = source;
            self.content = true;
        }
    }

    /// Finds the accepted erasures among the held entries (each is judged by its header, its
    /// own payload and the roster only, so they can be found before the rest is judged), and
    /// forgets the content if there is one.
    pub(super) fn find_erasures(&mut self, roster: &Roster, frozen: &Frozen) {
        self.erasures = self
            .entries
            .values()
            .filter(|e| e.kind == Kind::PayloadErase)
            .filter(|e| self.data_protection_rules(e, roster, frozen).is_ok())
            .map(|e| e.id)
            .collect();
        if self.erasures.is_empty() {
            self.restore_content();
        } else {
            self.withhold_content();
        }
    }
    /// Forgets the payloads of the entries at `author`'s position `seq`, where they
    /// equivocated: fork evidence travels without its payload, so no home shows either side's
    /// content — a home holding the first side's payload would otherwise show more than one
    /// that holds the other side as the entry. Both sides are frozen; no rule reads them.
    pub fn forget_payloads_at(&mut self, author: &PublicKey, seq: u64) {
        for id in self.dag.at_position(author, seq) {
            if let Some(e) = self.entries.get_mut(&id) {
                e.payload = None;
            }
            // Not put back if an erasure that set it aside stops standing.
            self.withheld.remove(&id);
        }
    }
}
