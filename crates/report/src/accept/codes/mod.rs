//! Why an entry is refused, with the stable code of every rule. The codes are the contract with
//! scripts, audits and the UI: the CLI prints them in `--json` errors, the desktop shows them,
//! `verify` lists them. [`REJECTION_CODES`] is the documented list (the README's table is
//! checked against it by a test).

use countersign_ledger::rules::RuleError;
use countersign_ledger::{AuthorityError, EntryError, LogId, RosterError};

use crate::log::ReportRuleError;

mod table;

pub use table::REJECTION_CODES;

/// Why an entry is refused — not storable, or (for a local write) not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Report(#[from] ReportRuleError),
    #[error("the payload is missing")]
    PayloadMissing,
    #[error("log {log} is not known here (its first entry has not arrived)")]
    UnknownLog { log: LogId },
    #[error("this home does not belong to a network yet; import the department's roster first")]
    NoNetwork,
}

impl Rejection {
    /// The stable code of the rule that refused the entry.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Rule(e) => e.code(),
            Rejection::Report(e) => e.code(),
            Rejection::PayloadMissing => "payload_missing",
            Rejection::UnknownLog { .. } => "unknown_log",
            Rejection::NoNetwork => "no_network",
        }
    }

    /// Whether the entry may be accepted once something it depends on arrives (its parents,
    /// its log, the network, its author's admission, its template's publication): a reason to
    /// wait, not to refuse.
    pub fn waits_for_dependency(&self) -> bool {
        matches!(
            self,
            Rejection::NoNetwork
                | Rejection::UnknownLog { .. }
                | Rejection::Rule(RuleError::UnknownParent { .. })
                | Rejection::Rule(RuleError::Authority(AuthorityError::UnknownAuthor { .. }))
                | Rejection::Report(ReportRuleError::UnknownTemplate { .. })
        )
    }
}

impl Rejection {
    /// Whether the entry's own bytes contradict it (a malformed header, a signature or
    /// payload that does not match, another network's entry): no honest peer stores such an
    /// entry, so one that sends it is cut off. Every other refusal depends on what the
    /// receiver knows (a revocation, an admission, a publication) and a peer that saw less
    /// could have stored the entry honestly: that entry is quarantined and the rest flows.
    pub fn proves_sender_misbehaved(&self) -> bool {
        matches!(
            self,
            Rejection::Rule(
                RuleError::Entry(_)
                    | RuleError::PayloadLength { .. }
                    | RuleError::PayloadHash { .. }
                    | RuleError::WrongNetwork { .. }
            )
        )
    }
}

impl From<AuthorityError> for Rejection {
    fn from(e: AuthorityError) -> Self {
        Rejection::Rule(RuleError::Authority(e))
    }
}

impl From<RosterError> for Rejection {
    fn from(e: RosterError) -> Self {
        Rejection::Rule(RuleError::Roster(Box::new(e)))
    }
}

impl From<EntryError> for Rejection {
    fn from(e: EntryError) -> Self {
        Rejection::Rule(RuleError::Entry(e))
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod readme;
