//! Erasures that come with the entries they erase: noted before those entries are placed,
//! so an erased report's headers are taken without their payloads, and forgotten with the batch.

use super::*;

impl Ledger {
    /// Whether entries of `log` may come without their payloads: the log is erased, or its
    /// erasure has come (see [`Ledger::note_erasure`]).
    pub(super) fn headers_only(&self, log: &LogId) -> bool {
        self.erasing.contains_key(log)
            || self.reports.get(log).is_some_and(|r| r.erasure().is_some())
    }

    /// Notes an erasure that came with the entries it erases, before they can be placed: the
    /// peer that sends an erased report's log sends its entries as headers only (it holds no
    /// more), and the erasure, the one entry that says why, comes last, after its parents.
    /// The erasure is checked on its own first — signed (the caller decoded it, which
    /// verifies its signature), its payload the one its header commits to and a valid
    /// erasure, by a key the roster lets erase — so a stranger cannot make a home take a
    /// report's entries without their content. Whether it finally stands is judged when it is
    /// placed, like any entry. Returns whether it was noted.
    pub fn note_erasure(&mut self, entry: &Entry, payload: Option<&[u8]>) -> bool {
        let h = entry.header();
        let (Some(payload), Some(network)) = (payload, self.network()) else {
            return false;
        };
        let valid = h.kind == Kind::PayloadErase
            && rules::check_payload(entry, payload).is_ok()
            && rules::check_shape(entry, network).is_ok()
            && matches!(Payload::parse(h.kind, payload), Ok(Payload::Erase(_)))
            && self.may_have_erased(entry);
        if valid {
            self.erasing.insert(entry.log_id(), entry.id());
        }
        valid
    }

    /// Whether `erase`'s author may have signed it, judged before it is placed. A key that
    /// may sign now is judged as any entry is; a key revoked or rotated since is taken only
    /// when its ending vouches for some of its entries in this log (the erasure may be among
    /// them: its past is not placed yet, and the rules judge it again when it is). A stolen
    /// key revoked with nothing vouched for in the log is not taken at its word.
    pub(super) fn may_have_erased(&self, erase: &Entry) -> bool {
        let (h, log, id) = (erase.header(), erase.log_id(), erase.id());
        let roster = self.roster();
        let now = roster
            .authority(&h.author, &log, &id, |e| *e == id)
            .is_ok_and(|a| a.role.may_write(Kind::PayloadErase));
        if now || roster.is_active(&h.author) {
            return now;
        }
        let history = roster.history(&h.author);
        let vouched = history
            .iter()
            .rev()
            .find(|c| c.role.is_none())
            .is_some_and(|end| end.frontier.contains_key(&log));
        vouched
            && history
                .iter()
                .any(|c| c.role.is_some_and(|r| r.may_write(Kind::PayloadErase)))
    }

    /// Forgets the erasures noted for a batch ([`Ledger::note_erasure`]) once the batch is
    /// in: one that was never placed (its parent unknown, or refused) must not let the
    /// headers of a later batch in without their payloads.
    pub fn end_batch(&mut self) {
        self.erasing.clear();
    }
}
