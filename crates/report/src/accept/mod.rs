//! The one acceptance path: every entry a home meets — signed here, imported from a bundle,
//! pulled from a peer, re-read by `verify` — is judged by [`Ledger::accept`] the same way, and
//! the answer is one of:
//!
//! - [`Verdict::New`] with the entry's [`Standing`]: store it. It is *accepted* (it counts), or
//!   *refused* by a rule with a stable code (kept, so the entries built on it and every later
//!   re-judgement see the same set on every peer, and shown as refused).
//! - [`Verdict::Duplicate`]: already held.
//! - [`Verdict::Fork`]: another entry holds this author's position: keep it as fork evidence;
//!   the author's entries in that log are frozen from that position on every peer.
//! - [`Verdict::Held`]: dated more than [`TIME_SKEW_MS`] ahead of this home's clock: kept aside,
//!   not stored as valid, until that time arrives.
//! - `Err(`[`Rejection`]`)`: not storable at all (it does not verify, belongs elsewhere, names
//!   parents not held, breaks its author's chain, or no roster entry ever named its author).
//!
//! The checks that need no clock come first; only an entry that passes them can be held. And
//! only an entry that fits its log (parents held, its author's chain unbroken) is evidence of
//! a fork.
//!
//! Standing is a pure function of the set of entries held: the report rules read only the
//! entry's causal past, and the roster resolves the same way whatever order its entries came in
//! (see [`countersign_ledger::roster`]). So any two homes holding the same entries show the same
//! reports, rosters and `verify` results. Pure: the caller supplies the clock (`now_ms`) and does
//! all I/O; this is p2panda-core's validation style — small functions, precise errors.
//!
//! ```
//! use countersign_ledger::roster::{GenesisPayload, MemberPayload};
//! use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};
//! use countersign_report::accept::{Ledger, Verdict};
//! use countersign_report::log::Standing;
//!
//! let admin = SecretKey::from_seed(&[1; 32]);
//! let genesis = serde_json::to_vec(&GenesisPayload {
//!     name: "Radiology".into(),
//!     founder: MemberPayload::new(admin.public(), "Dr Ada", Role::Attending, true),
//!     policy: None,
//! }).unwrap();
//! let h = Header::new(Hash::ZERO, Hash::ZERO, admin.public(), 1, 1_000, Kind::NetworkGenesis,
//!                     vec![], &genesis);
//! let entry = Entry::sign(h, &admin).unwrap();
//! let mut ledger = Ledger::default();
//! let verdict = ledger.accept(&entry, Some(&genesis), 1_000).unwrap();
//! assert_eq!(verdict, Verdict::New(Standing::Accepted));
//! assert_eq!(ledger.network(), Some(entry.id()));
//! // From the future: held back, not stored as valid.
//! let h = Header::new(entry.id(), entry.id(), admin.public(), 2, 9_000_000, Kind::RosterMember,
//!                     vec![entry.id()], b"{}");
//! let late = Entry::sign(h, &admin).unwrap();
//! assert!(matches!(ledger.accept(&late, Some(b"{}"), 1_000), Ok(Verdict::Held { .. })));
//! ```

use std::collections::HashMap;

use countersign_ledger::roster::RosterLog;
use countersign_ledger::rules::{self, RuleError};
use countersign_ledger::{
    DataKey, Entry, EntryId, Hash, IdMap, Kind, LogFamily, LogId, PublicKey, Roster,
};

use crate::log::{Frozen, ReportLog, ReportRuleError, Sealing, Standing, TemplateSource};
use crate::payload::{seal, Payload};
use crate::template::Template;

mod changes;
pub mod checkpoints;
mod codes;
mod data_keys;
mod erasing;
mod holdings;
mod place;
mod report;
mod roster;
mod templates;
pub mod trust;

pub use changes::{Changes, RosterImpact};
pub use codes::{Rejection, REJECTION_CODES};
use roster::roster_refusal;
use templates::publication;

/// How far ahead of this home's clock an entry may be dated before it is held back, in
/// milliseconds: workstation clocks drift, but an entry from next year is not accepted today.
pub const TIME_SKEW_MS: u64 = 5 * 60 * 1000;

/// What to do with an entry. `S` is what a new entry's verdict says of its standing:
/// [`Standing`] from [`Ledger::accept`] and [`Ledger::judge`], `()` from the batch paths
/// ([`Ledger::accept_unjudged`], [`Ledger::accept_stored`]), which ask standings afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<S = Standing> {
    /// Store it; it stands as said.
    New(S),
    /// Already held: storing it again changes nothing.
    Duplicate,
    /// Same author, log and position as the held `first`, but a different entry.
    Fork { first: EntryId },
    /// Dated beyond [`TIME_SKEW_MS`] ahead of the receiver's clock: judge it again from
    /// `until_ms` (its timestamp minus the skew).
    Held { until_ms: u64 },
}

impl<S> Verdict<S> {
    /// The same verdict, with a new entry's standing mapped.
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> Verdict<T> {
        match self {
            Verdict::New(s) => Verdict::New(f(s)),
            Verdict::Duplicate => Verdict::Duplicate,
            Verdict::Fork { first } => Verdict::Fork { first },
            Verdict::Held { until_ms } => Verdict::Held { until_ms },
        }
    }
}

/// A verdict whose standing was computed only if someone asked for it.
type Classified = Verdict<Option<Standing>>;

/// The validation state of a home: the roster log, the report logs loaded so far, and the
/// positions frozen by fork evidence. See the module docs.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    roster: Option<RosterLog>,
    reports: IdMap<ReportLog>,
    /// The loaded report log that holds each of its entries: an unknown parent is looked for
    /// in the other logs ([`RuleError::ParentInOtherLog`]) without asking each loaded log in
    /// turn, which was a seventh of storing a first sync (entries that wait for their parents
    /// are judged again with every batch).
    held_in: IdMap<LogId>,
    /// Per log, authors frozen from a position by fork evidence.
    frozen: IdMap<Frozen>,
    /// Per log, the positions (author, sequence) that already have their one piece of fork
    /// evidence: a further entry at one of them proves nothing new and is a duplicate.
    evidence: IdMap<std::collections::BTreeSet<(PublicKey, u64)>>,
    /// Every template publication held (accepted or not), by content hash: a report binds to
    /// its template by hash, and to the publication the roster accepts, whichever arrived first.
    published: HashMap<Hash, Vec<(EntryId, Template)>>,
    /// Bumped whenever the roster changes; each report log remembers the one it was judged at.
    generation: u64,
    judged_at: IdMap<u64>,
    /// The payload the last judgement parsed, kept for the insert that follows it: parsing
    /// twice per entry was a tenth of `verify`'s rule replay.
    parsed: Option<(EntryId, Payload)>,
    /// What changed since the keeper last asked ([`Ledger::take_changes`]).
    changes: Changes,
    /// Logs whose erasure has come with entries not yet placed (see [`Ledger::note_erasure`]):
    /// their entries may come as headers only.
    erasing: IdMap<EntryId>,
    /// The data keys this home holds, of the report logs loaded (see [`Ledger::add_key`]):
    /// sealed payloads are opened with them before any rule reads them.
    keys: IdMap<DataKey>,
}

impl Ledger {
    /// Freezes `author`'s entries in `log` from `seq` on: they equivocated there. The position
    /// now has its piece of evidence: a further entry there is a [`Verdict::Duplicate`].
    pub fn freeze(&mut self, log: LogId, author: PublicKey, seq: u64) {
        self.evidence.entry(log).or_default().insert((author, seq));
        // A freeze that changes nothing (the author is already frozen from there or earlier:
        // the same evidence offered again) judges nothing again.
        if self.network() == Some(log) {
            self.note_roster_change();
            if self.roster.as_mut().is_some_and(|r| r.freeze(author, seq)) {
                self.generation += 1;
            }
            return;
        }
        let at = self
            .frozen
            .entry(log)
            .or_default()
            .entry(author)
            .or_insert(u64::MAX);
        if *at <= seq {
            return;
        }
        *at = seq;
        self.changes.evidence.insert(log);
        // Judged again on next use.
        self.judged_at.remove(&log);
    }

    /// Judges a report log again if the roster or its frozen authors changed since — with
    /// its template's source found again, since which publication the roster accepts can
    /// change too.
    fn refresh(&mut self, log: &LogId) {
        if self.judged_at.get(log) == Some(&self.generation) {
            return;
        }
        let Some(report) = self.reports.get(log) else {
            return;
        };
        let source = match report.template_source() {
            _ if !report.has_content() => TemplateSource::Builtin,
            TemplateSource::Builtin => TemplateSource::Builtin,
            TemplateSource::Published(first) => self
                .publication(&report.create().template_hash)
                .map_or(TemplateSource::Published(first), |(_, id)| {
                    TemplateSource::Published(id)
                }),
        };
        let roster = self
            .roster
            .as_ref()
            .map(RosterLog::roster)
            .unwrap_or_else(|| empty_roster());
        let empty = Frozen::new();
        let frozen = self.frozen.get(log).unwrap_or(&empty);
        if let Some(report) = self.reports.get_mut(log) {
            report.set_template_source(source);
            report.rejudge(roster, frozen);
            self.judged_at.insert(*log, self.generation);
        }
    }

    /// Judges an entry without changing anything. `payload` is `None` only for a stored
    /// entry whose payload was erased.
    pub fn judge(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<Verdict, Rejection> {
        Ok(self
            .classify(entry, payload, Some(now_ms), true)?
            .map(|s| s.unwrap_or(Standing::Accepted)))
    }

    /// Everything [`Ledger::judge`] says, with the standing of a new entry computed only when
    /// `predict` (when the caller will insert it next, inserting computes it anyway). `now_ms`
    /// `None` is for stored entries, judged when they arrived: no clock applies to them again,
    /// and the caller already matched the payload to its header.
    fn classify(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        now_ms: Option<u64>,
        predict: bool,
    ) -> Result<Classified, Rejection> {
        let h = entry.header();
        // The payload is checked when it came; whether it must come is decided below: a
        // second entry at an occupied position proves equivocation by its signed header
        // alone, so fork evidence needs none.
        if let (Some(payload), Some(_)) = (payload, now_ms) {
            rules::check_payload(entry, payload)?;
        }
        // The network: this home's, or the one a network genesis founds.
        let network = match (h.kind, self.network()) {
            (Kind::NetworkGenesis, Some(n)) if n == entry.id() => return Ok(Verdict::Duplicate),
            (Kind::NetworkGenesis, Some(n)) => {
                return Err(RuleError::WrongNetwork {
                    expected: n,
                    found: entry.id(),
                }
                .into())
            }
            (Kind::NetworkGenesis, None) => entry.id(),
            (_, Some(n)) => n,
            (_, None) => return Err(Rejection::NoNetwork),
        };
        rules::check_shape(entry, network)?;
        rules::check_log_family(entry, network)?;
        // Never named on the roster at all (not merely revoked): nothing to keep, or hold.
        let named = h.kind == Kind::NetworkGenesis
            || self.roster.as_ref().is_some_and(|r| r.names(&h.author));
        // A network that requires sealed reports can never take a clear payload of a kind
        // that is sealed, whatever its report (a clear create is refused there, so no report
        // of the network is in clear): refused now, not held for its date, kept waiting for
        // its report or kept waiting for an author the roster does not name yet — each of
        // which would keep its clear text in this home's files (a refusal keeps the header
        // only). An entry of a report here, due now, by a named author is judged as usual (an
        // erased report's own code).
        let deferred = !named
            || now_ms.is_some_and(|n| h.timestamp_ms > n.saturating_add(TIME_SKEW_MS))
            || !self.reports.contains_key(&entry.log_id());
        if let (Some(bytes), true) = (payload, deferred) {
            if h.kind.family() == LogFamily::Report
                && seal::kind_is_sealed(h.kind)
                && !seal::is_sealed(bytes)
                && self.roster().policy().sealed_reports
            {
                return Err(ReportRuleError::PayloadNotSealed { kind: h.kind }.into());
            }
        }
        if !named {
            return Err(countersign_ledger::AuthorityError::UnknownAuthor {
                author: h.author.to_hex(),
            }
            .into());
        }
        // Only now the clock: what is held aside is at least the department's, signed by a
        // key the roster names, so a stranger cannot fill the held table.
        if let Some(now_ms) = now_ms {
            if h.timestamp_ms > now_ms.saturating_add(TIME_SKEW_MS) {
                // Nothing is held without its payload: it could never be taken in.
                payload.ok_or(Rejection::PayloadMissing)?;
                return Ok(Verdict::Held {
                    until_ms: h.timestamp_ms - TIME_SKEW_MS,
                });
            }
        }
        match h.kind.family() {
            LogFamily::Roster => self.judge_roster(entry, payload, predict),
            LogFamily::Report => self.judge_report(entry, payload, predict),
        }
    }

    /// A storable entry at a position another entry holds: the position's one piece of fork
    /// evidence, or — when it has one already — a duplicate that proves nothing new (one key
    /// signing a thousand entries at one position is kept once, not a thousand times).
    fn fork_or_duplicate(&self, entry: &Entry, first: EntryId) -> Classified {
        let h = entry.header();
        let known = self
            .evidence
            .get(&entry.log_id())
            .is_some_and(|at| at.contains(&(h.author, h.seq)));
        if known {
            Verdict::Duplicate
        } else {
            Verdict::Fork { first }
        }
    }

    /// An unknown parent that is held in another log is a parent in the wrong log.
    fn refine_unknown_parent(
        &self,
        result: Result<(), RuleError>,
        entry: &Entry,
    ) -> Result<(), Rejection> {
        match result {
            Err(RuleError::UnknownParent { parent }) => {
                let elsewhere = self.held_in.get(&parent).copied().or_else(|| {
                    self.roster
                        .as_ref()
                        .filter(|r| r.dag().contains(&parent))
                        .map(|r| r.network())
                });
                Err(match elsewhere {
                    Some(parent_log) => RuleError::ParentInOtherLog {
                        parent,
                        parent_log,
                        log: entry.log_id(),
                    },
                    None => RuleError::UnknownParent { parent },
                }
                .into())
            }
            other => other.map_err(Rejection::from),
        }
    }

    /// Judges an entry and, when it is new, adds it: what every path that stores entries one
    /// at a time does, storing exactly when this returns [`Verdict::New`].
    pub fn accept(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<Verdict, Rejection> {
        let verdict = self.classify(entry, payload, Some(now_ms), false)?;
        let taken = self.take(entry, payload, verdict)?;
        Ok(taken.map(|s| s.unwrap_or_else(|| self.roster_standing(&entry.id()))))
    }

    /// [`Ledger::accept`] for a batch (a bundle, a peer's sync batch): the same verdict and
    /// the same entries added, but no standing computed — ask [`Ledger::standing`] once the
    /// batch is in. A roster entry's standing is the whole roster resolved; asking it once per
    /// entry made taking in a roster quadratic.
    pub fn accept_unjudged(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        now_ms: u64,
    ) -> Result<Verdict<()>, Rejection> {
        let verdict = self.classify(entry, payload, Some(now_ms), false)?;
        Ok(self.take(entry, payload, verdict)?.map(|_| ()))
    }

    /// [`Ledger::accept_unjudged`] for an entry read back from a home's own store by `verify`:
    /// judged by the same rules, except that no clock applies (it was judged against one when
    /// it arrived) and the caller has already matched its payload to its header.
    pub fn accept_stored(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
    ) -> Result<Verdict<()>, Rejection> {
        let verdict = self.classify(entry, payload, None, false)?;
        Ok(self.take(entry, payload, verdict)?.map(|_| ()))
    }
}

fn empty_roster() -> &'static Roster {
    static EMPTY: std::sync::OnceLock<Roster> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Roster::default)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod regressions;

#[cfg(test)]
mod worlds;

#[cfg(test)]
mod evidence;

#[cfg(test)]
mod summaries;

#[cfg(test)]
mod erasure;

#[cfg(test)]
mod sealed;

#[cfg(test)]
mod delivered;
