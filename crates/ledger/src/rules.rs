//! The ledger's rules, each a small pure function with a precise error. A caller that holds a
//! store composes them; nothing here reads a clock or a disk.

use crate::entry::{Entry, EntryError};
use crate::hash::{EntryId, Hash, LogId, NetworkId};
use crate::kind::{Kind, LogFamily};
use crate::roster::{AuthorityError, RosterError};

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
    #[error("sequence {found} does not follow the author's entry {expected_prev} in this entry's past (expected sequence {expected})", expected_prev = .expected - 1)]
    ChainBroken { expected: u64, found: u64 },
    #[error("a log may have at most {limit} authors")]
    TooManyAuthors { limit: usize },
    #[error("timestamp {found_ms} is before parent {parent}'s {parent_ms} beyond the tolerance")]
    TimestampBeforeParent {
        parent: EntryId,
        parent_ms: u64,
        found_ms: u64,
    },
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Roster(Box<RosterError>),
}

impl RuleError {
    /// The stable code scripts and audits match on (see the README's list).
    pub fn code(&self) -> &'static str {
        match self {
            RuleError::Entry(EntryError::Decode(_)) => "malformed_header",
            RuleError::Entry(EntryError::BadSignature { .. }) => "bad_signature",
            RuleError::Entry(EntryError::AuthorMismatch { .. }) => "author_mismatch",
            RuleError::Entry(EntryError::Signing(_)) => "signing_failed",
            RuleError::PayloadLength { .. } => "payload_length",
            RuleError::PayloadHash { .. } => "payload_hash",
            RuleError::WrongNetwork { .. } => "wrong_network",
            RuleError::GenesisWithLog => "genesis_with_log",
            RuleError::GenesisWithParents => "genesis_with_parents",
            RuleError::GenesisSeq { .. } => "genesis_seq",
            RuleError::GenesisWithNetwork => "genesis_with_network",
            RuleError::NoParents => "no_parents",
            RuleError::UnknownParent { .. } => "unknown_parent",
            RuleError::ParentInOtherLog { .. } => "parent_in_other_log",
            RuleError::WrongLogFamily { .. } => "wrong_log_family",
            RuleError::ChainBroken { .. } => "chain_broken",
            RuleError::TooManyAuthors { .. } => "too_many_authors",
            RuleError::TimestampBeforeParent { .. } => "timestamp_before_parent",
            RuleError::Authority(e) => e.code(),
            RuleError::Roster(e) => e.code(),
        }
    }
}

impl From<RosterError> for RuleError {
    fn from(e: RosterError) -> Self {
        RuleError::Roster(Box::new(e))
    }
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
    if h.kind == Kind::NetworkGenesis && !h.network.is_zero() {
        return Err(RuleError::GenesisWithNetwork);
    }
    // The header's network, or a network genesis's own id.
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

#[cfg(test)]
mod tests {
    //! One test per rule, each built so that removing the rule makes it fail.
    use super::*;
    use crate::{Header, SecretKey};

    const NET: Hash = Hash([7; 32]);

    fn key() -> SecretKey {
        SecretKey::from_seed(&[4; 32])
    }

    #[allow(clippy::too_many_arguments)]
    fn sign(
        network: Hash,
        log: Hash,
        seq: u64,
        kind: Kind,
        parents: Vec<EntryId>,
        payload: &[u8],
    ) -> Entry {
        let h = Header::new(
            network,
            log,
            key().public(),
            seq,
            1_000,
            kind,
            parents,
            payload,
        );
        Entry::sign(h, &key()).unwrap()
    }

    #[test]
    fn the_payload_must_be_the_one_the_header_committed_to() {
        let e = sign(
            NET,
            Hash([1; 32]),
            2,
            Kind::SectionWrite,
            vec![Hash([2; 32])],
            b"{\"a\":1}",
        );
        assert_eq!(check_payload(&e, b"{\"a\":1}"), Ok(()));
        assert!(matches!(
            check_payload(&e, b"{\"a\":2}"),
            Err(RuleError::PayloadHash { .. })
        ));
        assert!(matches!(
            check_payload(&e, b"{\"a\":1} "),
            Err(RuleError::PayloadLength { .. })
        ));
    }

    #[test]
    fn genesis_entries_are_shaped_as_genesis_entries() {
        let ok = sign(NET, Hash::ZERO, 1, Kind::ReportCreate, vec![], b"{}");
        assert_eq!(check_shape(&ok, NET), Ok(()));
        let with_log = sign(NET, Hash([1; 32]), 1, Kind::ReportCreate, vec![], b"{}");
        assert_eq!(check_shape(&with_log, NET), Err(RuleError::GenesisWithLog));
        let with_parents = sign(
            NET,
            Hash::ZERO,
            1,
            Kind::ReportCreate,
            vec![Hash([1; 32])],
            b"{}",
        );
        assert_eq!(
            check_shape(&with_parents, NET),
            Err(RuleError::GenesisWithParents)
        );
        let second = sign(NET, Hash::ZERO, 2, Kind::ReportCreate, vec![], b"{}");
        assert_eq!(
            check_shape(&second, NET),
            Err(RuleError::GenesisSeq { found: 2 })
        );
        let network = sign(NET, Hash::ZERO, 1, Kind::NetworkGenesis, vec![], b"{}");
        assert_eq!(
            check_shape(&network, network.id()),
            Err(RuleError::GenesisWithNetwork)
        );
        let founded = sign(
            Hash::ZERO,
            Hash::ZERO,
            1,
            Kind::NetworkGenesis,
            vec![],
            b"{}",
        );
        assert_eq!(check_shape(&founded, founded.id()), Ok(()));
    }

    #[test]
    fn other_entries_name_parents_and_belong_to_this_network() {
        let orphan = sign(NET, Hash([1; 32]), 2, Kind::SectionWrite, vec![], b"{}");
        assert_eq!(check_shape(&orphan, NET), Err(RuleError::NoParents));
        let elsewhere = sign(
            Hash([8; 32]),
            Hash([1; 32]),
            2,
            Kind::SectionWrite,
            vec![Hash([2; 32])],
            b"{}",
        );
        assert!(matches!(
            check_shape(&elsewhere, NET),
            Err(RuleError::WrongNetwork { .. })
        ));
    }

    #[test]
    fn a_kind_lives_in_its_own_log_family() {
        let roster_kind_in_report = sign(
            NET,
            Hash([1; 32]),
            2,
            Kind::RosterMember,
            vec![Hash([2; 32])],
            b"{}",
        );
        assert!(matches!(
            check_log_family(&roster_kind_in_report, NET),
            Err(RuleError::WrongLogFamily { .. })
        ));
        let report_kind_in_roster =
            sign(NET, NET, 2, Kind::SectionWrite, vec![Hash([2; 32])], b"{}");
        assert!(matches!(
            check_log_family(&report_kind_in_roster, NET),
            Err(RuleError::WrongLogFamily { .. })
        ));
        let fine = sign(NET, NET, 2, Kind::RosterRevoke, vec![Hash([2; 32])], b"{}");
        assert_eq!(check_log_family(&fine, NET), Ok(()));
    }

    #[test]
    fn every_code_is_distinct_snake_case() {
        let errors = [
            RuleError::PayloadLength {
                expected: 1,
                found: 2,
            },
            RuleError::PayloadHash {
                expected: Hash::ZERO,
                found: Hash::ZERO,
            },
            RuleError::WrongNetwork {
                expected: NET,
                found: NET,
            },
            RuleError::GenesisWithLog,
            RuleError::GenesisWithParents,
            RuleError::GenesisSeq { found: 2 },
            RuleError::GenesisWithNetwork,
            RuleError::NoParents,
            RuleError::UnknownParent { parent: NET },
            RuleError::ParentInOtherLog {
                parent: NET,
                parent_log: NET,
                log: NET,
            },
            RuleError::ChainBroken {
                expected: 2,
                found: 3,
            },
            RuleError::TooManyAuthors { limit: 1 },
            RuleError::TimestampBeforeParent {
                parent: NET,
                parent_ms: 1,
                found_ms: 0,
            },
        ];
        let codes: std::collections::HashSet<&str> = errors.iter().map(|e| e.code()).collect();
        assert_eq!(codes.len(), errors.len());
        assert!(codes
            .iter()
            .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
    }
}
