//! The ledger's rules, each a small pure function with a precise error. A caller that holds a
//! store composes them; nothing here reads a clock or a disk.

use crate::entry::{Entry, EntryError};
use crate::hash::{EntryId, Hash, LogId, NetworkId};
use crate::kind::{Kind, LogFamily};
use crate::roster::AuthorityError;

/// How far an entry's timestamp may lie before one of its parents' (clock skew between
/// workstations), in milliseconds.
pub const TIMESTAMP_TOLERANCE_MS: u64 = 5 * 60 * 1000;

/// Why an entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error(transparent)]
    Entry(#[from] EntryError),
    #[error("payload is {found} bytes, header says {expected}")]
    PayloadLength { expected: u64, found: u64 },
    #[error("payload hash {found} does not match header {expected}")]
    PayloadHash { expected: Hash, found: Hash },
    #[error("entry belongs to network {found}, not this network {expected}")]
    WrongNetwork {
        expected: NetworkId,
        found: NetworkId,
    },
    #[error("a genesis entry must have a zero log id")]
    GenesisWithLog,
    #[error("a genesis entry must have no parents")]
    GenesisWithParents,
    #[error("a genesis entry must have sequence 1, found {found}")]
    GenesisSeq { found: u64 },
    #[error("a network genesis must have a zero network id")]
    GenesisWithNetwork,
    #[error("a non-genesis entry must name at least one parent")]
    NoParents,
    #[error("parent {parent} is not known")]
    UnknownParent { parent: EntryId },
    #[error("parent {parent} belongs to log {parent_log}, not {log}")]
    ParentInOtherLog {
        parent: EntryId,
        parent_log: LogId,
        log: LogId,
    },
    #[error("{kind} does not belong in a {family:?} log")]
    WrongLogFamily { kind: Kind, family: LogFamily },
    #[error("sequence not incremental: expected {expected}, found {found}")]
    SeqNotIncremental { expected: u64, found: u64 },
    #[error("timestamp {found_ms} is before parent {parent}'s {parent_ms} beyond the tolerance")]
    TimestampBeforeParent {
        parent: EntryId,
        parent_ms: u64,
        found_ms: u64,
    },
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error("author {author} equivocated in this log at sequence {seq}; their log is frozen")]
    Frozen { author: String, seq: u64 },
}

/// The payload is the one the header committed to.
pub fn check_payload(entry: &Entry, payload: &[u8]) -> Result<(), RuleError> {
    let header = entry.header();
    if header.payload_len != payload.len() as u64 {
        return Err(RuleError::PayloadLength {
            expected: header.payload_len,
            found: payload.len() as u64,
        });
    }
    let found = Hash::of(payload);
    if found != header.payload_hash {
        return Err(RuleError::PayloadHash {
            expected: header.payload_hash,
            found,
        });
    }
    Ok(())
}

/// Genesis entries are shaped as genesis entries, everything else names parents, and the entry
/// belongs to `network` (domain separation: an entry cannot be replayed into another network).
pub fn check_shape(entry: &Entry, network: NetworkId) -> Result<(), RuleError> {
    let h = entry.header();
    if h.kind == Kind::NetworkGenesis {
        if !h.network.is_zero() {
            return Err(RuleError::GenesisWithNetwork);
        }
    } else if h.network != network {
        return Err(RuleError::WrongNetwork {
            expected: network,
            found: h.network,
        });
    }
    if entry.network_id() != network {
        return Err(RuleError::WrongNetwork {
            expected: network,
            found: entry.network_id(),
        });
    }
    if h.kind.is_genesis() {
        if !h.log.is_zero() {
            return Err(RuleError::GenesisWithLog);
        }
        if !h.parents.is_empty() {
            return Err(RuleError::GenesisWithParents);
        }
        if h.seq != 1 {
            return Err(RuleError::GenesisSeq { found: h.seq });
        }
    } else if h.parents.is_empty() {
        return Err(RuleError::NoParents);
    }
    Ok(())
}

/// The kind lives in the log it claims: roster kinds in the roster log (whose id is the network
/// id), report kinds in a report log.
pub fn check_log_family(entry: &Entry, network: NetworkId) -> Result<(), RuleError> {
    let kind = entry.header().kind;
    let in_roster_log = entry.log_id() == network;
    let family = if in_roster_log {
        LogFamily::Roster
    } else {
        LogFamily::Report
    };
    if kind.family() != family {
        return Err(RuleError::WrongLogFamily { kind, family });
    }
    Ok(())
}

/// Each author's entries in a log are numbered 1, 2, 3, … with no gaps and no reuse.
pub fn check_seq(expected: u64, found: u64) -> Result<(), RuleError> {
    if expected != found {
        return Err(RuleError::SeqNotIncremental { expected, found });
    }
    Ok(())
}

/// What a rule needs to know about a parent that is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentInfo {
    pub log: LogId,
    pub timestamp_ms: u64,
}

/// Every parent is known, in the same log, and not later than the entry beyond the tolerance.
pub fn check_parents(
    entry: &Entry,
    mut lookup: impl FnMut(&EntryId) -> Option<ParentInfo>,
) -> Result<(), RuleError> {
    let log = entry.log_id();
    let found_ms = entry.header().timestamp_ms;
    for parent in &entry.header().parents {
        let info = lookup(parent).ok_or(RuleError::UnknownParent { parent: *parent })?;
        if info.log != log {
            return Err(RuleError::ParentInOtherLog {
                parent: *parent,
                parent_log: info.log,
                log,
            });
        }
        if found_ms.saturating_add(TIMESTAMP_TOLERANCE_MS) < info.timestamp_ms {
            return Err(RuleError::TimestampBeforeParent {
                parent: *parent,
                parent_ms: info.timestamp_ms,
                found_ms,
            });
        }
    }
    Ok(())
}

/// Two authentic entries by one author at one position of one log: equivocation. Both are kept
/// as evidence that anyone can re-check; neither wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEvidence {
    pub first: Entry,
    pub second: Entry,
}

/// Why two entries are not evidence of a fork.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAFork {
    #[error("the two entries are the same entry")]
    SameEntry,
    #[error("the two entries differ in author, log or sequence")]
    DifferentPosition,
    #[error(transparent)]
    Entry(#[from] EntryError),
}

impl ForkEvidence {
    /// Checks both signatures and that the entries share author, log and sequence.
    pub fn new(first: Entry, second: Entry) -> Result<Self, NotAFork> {
        first.verify_signature()?;
        second.verify_signature()?;
        if first.id() == second.id() {
            return Err(NotAFork::SameEntry);
        }
        let (a, b) = (first.header(), second.header());
        if a.author != b.author || first.log_id() != second.log_id() || a.seq != b.seq {
            return Err(NotAFork::DifferentPosition);
        }
        Ok(ForkEvidence { first, second })
    }
}
