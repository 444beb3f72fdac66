//! The permissioned part: who belongs to the department network, in which role — decided from
//! causal facts only, never from a clock an author controls or the order entries arrived in.
//!
//! The roster is its own log (log id = network id). It starts with a `network.genesis` signed by
//! the founding admin. Every other roster entry is signed by an admin and judged against the
//! roster *as of its own causal past* (its parents): the author must have been made an admin by
//! an entry in that past.
//!
//! - `roster.member` admits a key, or changes an admitted member's details. A change names the
//!   member's **frontier**: for each report log, the last entry of theirs the admin vouches for.
//!   The member's entries inside the frontier keep the details they had; anything else is judged
//!   by the new ones. In the roster log the frontier is the change's own causal past.
//! - `roster.revoke` ends a key's authority the same way: entries inside its frontier stay
//!   valid, and **every other entry by that key — in any log, a new one included, whatever its
//!   timestamp — is refused**. Backdating a header changes nothing: the frontier is a set of
//!   entries, not a time.
//! - `roster.readmit` vouches for one more entry a change left out (an honest entry written
//!   before a revocation or a role change that reached the admin only after it): it joins that
//!   change's frontier. It amends the change it names, or else the key's latest change in its
//!   past.
//! - `template.publish` makes a report template available to the department's reports.
//!
//! Who may revoke whom: an admin may revoke or change any member who is not an admin as of the
//! change's past, and an admin only if the revoker is **more senior** (made admin earlier in the
//! roster's causal order; the founder is the most senior). Nobody revokes or demotes themselves.
//! So two admins can never remove each other — when removals conflict, the senior admin's
//! stands — and the network never loses its last admin: the founder's key can be revoked by
//! nobody. It is the department's root of trust, to be kept on a token.
//!
//! An admin who equivocates in the roster log (two entries at one position) is frozen there
//! from that position on: those roster entries of theirs stop taking effect — except
//! revocations, which only ever take authority away, so that a fork cannot undo one — and
//! another admin re-signs whatever should stand.
//!
//! Every rule here is a pure function of the set of roster entries held: [`RosterLog::roster`]
//! resolves it in a topological order fixed by causality and entry ids, so two peers holding the
//! same entries compute the same roster whatever order they received them in. It is resolved
//! when first asked for after a change, so taking in many roster entries costs one resolution.
//!
//! ```
//! use countersign_ledger::roster::{GenesisPayload, MemberPayload, RosterLog};
//! use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};
//!
//! let admin = SecretKey::from_seed(&[1; 32]);
//! let genesis_payload = serde_json::to_vec(&GenesisPayload {
//!     name: "Radiology".into(),
//!     founder: MemberPayload::new(admin.public(), "Dr Ada", Role::Attending, true),
//!     policy: None,
//! }).unwrap();
//! let h = Header::new(Hash::ZERO, Hash::ZERO, admin.public(), 1, 0, Kind::NetworkGenesis,
//!                     vec![], &genesis_payload);
//! let genesis = Entry::sign(h, &admin).unwrap();
//! let log = RosterLog::new(&genesis, &genesis_payload).unwrap();
//! let roster = log.roster();
//! assert!(roster.member(&admin.public()).unwrap().admin);
//! assert!(roster.is_active(&admin.public()));
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::dag::Dag;
use crate::entry::Entry;
use crate::hash::{EntryId, IdMap, LogId, NetworkId};
use crate::identity::PublicKey;
use crate::kind::Kind;
use crate::rules::RuleError;

/// What a member does in the department; decides which kinds they may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Attending,
    Radiologist,
    Resident,
    Cardiologist,
    NuclearMedicine,
    Technologist,
    Reviewer,
    AiModel,
}

impl Role {
    pub const ALL: &'static [Role] = &[
        Role::Attending,
        Role::Radiologist,
        Role::Resident,
        Role::Cardiologist,
        Role::NuclearMedicine,
        Role::Technologist,
        Role::Reviewer,
        Role::AiModel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::Attending => "attending",
            Role::Radiologist => "radiologist",
            Role::Resident => "resident",
            Role::Cardiologist => "cardiologist",
            Role::NuclearMedicine => "nuclear-medicine",
            Role::Technologist => "technologist",
            Role::Reviewer => "reviewer",
            Role::AiModel => "ai-model",
        }
    }

    pub fn is_human(self) -> bool {
        self != Role::AiModel
    }

    /// Physicians who may author and sign report text.
    fn is_reporting_physician(self) -> bool {
        matches!(
            self,
            Role::Attending
                | Role::Radiologist
                | Role::Resident
                | Role::Cardiologist
                | Role::NuclearMedicine
        )
    }

    /// The kinds this role may write in a report log. Roster kinds need the admin flag instead;
    /// who may create a report is the network's [`Policy`]; rules that need the payload (only an
    /// attending sets a report final) live in the report crate.
    pub fn may_write(self, kind: Kind) -> bool {
        use Kind::*;
        match kind {
            NetworkGenesis | RosterMember | RosterRevoke | RosterReadmit | TemplatePublish
            | PayloadErase => false,
            ReportCreate => self.is_reporting_physician() || self == Role::Technologist,
            SectionWrite | ReportStatus | CriticalResult | FollowupRecommend | FollowupClose => {
                self.is_reporting_physician()
            }
            SectionCosign | AddendumWrite => {
                self.is_reporting_physician() && self != Role::Resident
            }
            ReportResolve => self == Role::Attending,
            AiResult => self == Role::AiModel,
            AiReview => self.is_reporting_physician() || self == Role::Reviewer,
            MeasurementAdd => self.is_reporting_physician() || self == Role::Technologist,
            View => self.is_human(),
            AccessGrant | AccessRevoke => self == Role::Attending,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .iter()
            .copied()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.name()).collect();
                format!("unknown role {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// Vendor, model and version of an AI algorithm that signs with its own key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiModelInfo {
    pub vendor: String,
    pub model: String,
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regulatory_id: Option<String>,
}

/// For each report log, the last entry of a member the signing admin vouches for. Entries of
/// the member in that log up to and including it are inside; everything else is outside.
pub type Frontier = BTreeMap<LogId, EntryId>;

/// Payload of `roster.member`: admits a key, or changes an admitted member's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPayload {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub admin: bool,
    /// When the admin added the member (their clock): shown, never used to judge an entry.
    #[serde(default)]
    pub valid_from: u64,
    /// A planned end (their clock): shown, never used to judge an entry. Membership ends by
    /// revocation, which names a causal frontier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<u64>,
    /// libp2p peer ids of the member's devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<AiModelInfo>,
    /// For a change to an admitted member: their entries the old details still apply to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub frontier: Frontier,
}

impl MemberPayload {
    /// A new member with no devices, no model details and no frontier.
    pub fn new(key: PublicKey, name: &str, role: Role, admin: bool) -> MemberPayload {
        MemberPayload {
            key,
            name: name.to_string(),
            role,
            admin,
            valid_from: 0,
            valid_until: None,
            devices: Vec::new(),
            ai_model: None,
            frontier: Frontier::new(),
        }
    }
}

/// Which roles may create reports in the network: a roster rule, fixed by the genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub report_creators: Vec<Role>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            report_creators: Role::ALL
                .iter()
                .copied()
                .filter(|r| r.may_write(Kind::ReportCreate))
                .collect(),
        }
    }
}

/// Payload of `network.genesis`: the network's name, its founding member (an admin, who is the
/// genesis author) and its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisPayload {
    pub name: String,
    pub founder: MemberPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
}

/// Payload of `roster.revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokePayload {
    pub key: PublicKey,
    #[serde(default)]
    pub reason: String,
    /// The revoked key's entries that stay valid, per report log (see [`Frontier`]).
    #[serde(default)]
    pub frontier: Frontier,
}

/// Payload of `roster.readmit`: one more entry of a key that stays valid under the details it
/// had before a change (with the key's chain before it in that log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadmitPayload {
    pub key: PublicKey,
    pub log: LogId,
    pub entry: EntryId,
    /// The change (role change or revocation) whose frontier the entry joins; `None` for the
    /// key's latest change in the readmission's past.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<EntryId>,
}

/// A revocation in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// The `roster.revoke` entry.
    pub entry: EntryId,
    pub by: PublicKey,
    pub reason: String,
}

/// A member as the roster currently describes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    pub admin: bool,
    pub valid_from: u64,
    pub valid_until: Option<u64>,
    pub devices: Vec<String>,
    pub ai_model: Option<AiModelInfo>,
    /// The entry that admitted the key.
    pub admitted: EntryId,
    /// Admins only: 0 for the founder, then in the order they were made admin.
    pub seniority: Option<u32>,
    pub revoked: Option<Revocation>,
    /// Entries an admin vouched for after a change left them out (`roster.readmit` entries),
    /// each as (report log, entry).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readmitted: Vec<(LogId, EntryId)>,
}

/// One change to a member's authority, in roster order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub entry: EntryId,
    /// The role from this change on; `None` for a revocation.
    pub role: Option<Role>,
    pub admin: bool,
    /// The member's report-log entries the details before this change still apply to.
    pub frontier: Frontier,
    /// Entries readmitted after a revocation (log, entry).
    pub readmitted: Vec<(LogId, EntryId)>,
}

/// The role and admin flag that apply to one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Authority {
    pub role: Role,
    pub admin: bool,
}

/// Why an author may not have signed an entry. Every variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    #[error("author {author} is not on the roster")]
    UnknownAuthor { author: String },
    #[error("author {author} was revoked by entry {revocation}, and this entry is outside the frontier it vouches for")]
    Revoked { author: String, revocation: EntryId },
    #[error("role {role} may not write {kind}")]
    KindNotAllowed { role: Role, kind: Kind },
    #[error("author {author} is not an admin in this entry's past and may not write {kind}")]
    NotAdmin { author: String, kind: Kind },
    #[error("role {role} may not create reports in this network (its policy allows {allowed})")]
    MayNotCreateReports { role: Role, allowed: String },
    #[error("author {author} equivocated in this log at sequence {seq}; their later entries here are frozen")]
    Frozen { author: String, seq: u64 },
}

impl AuthorityError {
    /// The stable code scripts and audits match on.
    pub fn code(&self) -> &'static str {
        match self {
            AuthorityError::UnknownAuthor { .. } => "unknown_author",
            AuthorityError::Revoked { .. } => "revoked",
            AuthorityError::KindNotAllowed { .. } => "role_may_not_write",
            AuthorityError::NotAdmin { .. } => "not_admin",
            AuthorityError::MayNotCreateReports { .. } => "may_not_create_reports",
            AuthorityError::Frozen { .. } => "frozen",
        }
    }
}

/// Why a roster entry does not take effect. Every variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("{kind} payload is not valid: {reason}")]
    BadPayload { kind: Kind, reason: String },
    #[error("the network genesis must be signed by its founder")]
    GenesisNotByFounder,
    #[error("the founder of a network must be an admin")]
    FounderNotAdmin,
    #[error("{kind} does not belong in the roster log")]
    NotARosterKind { kind: Kind },
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(
        "admin {target} may only be revoked, demoted, changed or amended by a more senior admin"
    )]
    NotSenior { target: String },
    #[error("an admin cannot revoke or demote themselves; another admin must")]
    SelfRemoval,
    #[error("key {key} was revoked by entry {revocation}; a revoked key is never admitted again")]
    KeyRevoked { key: String, revocation: EntryId },
    #[error("key {key} has no such change in this entry's past: a readmission vouches for an entry a role change or revocation left out")]
    NothingToReadmit { key: String },
    #[error("roster entries are re-signed, not readmitted")]
    ReadmitRosterEntry,
    #[error("the roster log has {found} entries; at most {limit} are kept")]
    TooLarge { found: usize, limit: usize },
}

impl RosterError {
    /// The stable code scripts and audits match on.
    pub fn code(&self) -> &'static str {
        match self {
            RosterError::BadPayload { .. } => "bad_payload",
            RosterError::GenesisNotByFounder => "genesis_not_by_founder",
            RosterError::FounderNotAdmin => "founder_not_admin",
            RosterError::NotARosterKind { .. } => "not_a_roster_kind",
            RosterError::Authority(e) => e.code(),
            RosterError::NotSenior { .. } => "not_senior",
            RosterError::SelfRemoval => "self_removal",
            RosterError::KeyRevoked { .. } => "key_revoked",
            RosterError::NothingToReadmit { .. } => "nothing_to_readmit",
            RosterError::ReadmitRosterEntry => "readmit_roster_entry",
            RosterError::TooLarge { .. } => "roster_too_large",
        }
    }
}

/// The most roster entries a network keeps: the roster is resolved whole after a change.
pub const MAX_ROSTER_ENTRIES: usize = 100_000;

/// A parsed roster payload.
#[derive(Debug, Clone)]
enum Parsed {
    Genesis(GenesisPayload),
    Member(MemberPayload),
    Revoke(RevokePayload),
    Readmit(ReadmitPayload),
    Publish(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Item {
    author: PublicKey,
    kind: Kind,
    parsed: Parsed,
}

fn parse<T: serde::de::DeserializeOwned>(kind: Kind, payload: &[u8]) -> Result<T, RosterError> {
    crate::json::from_slice_unique(payload)
        .map_err(|reason| RosterError::BadPayload { kind, reason })
}

fn parse_item(kind: Kind, payload: &[u8]) -> Result<Parsed, RosterError> {
    Ok(match kind {
        Kind::NetworkGenesis => Parsed::Genesis(parse(kind, payload)?),
        Kind::RosterMember => Parsed::Member(parse(kind, payload)?),
        Kind::RosterRevoke => Parsed::Revoke(parse(kind, payload)?),
        Kind::RosterReadmit => {
            let r: ReadmitPayload = parse(kind, payload)?;
            Parsed::Readmit(r)
        }
        Kind::TemplatePublish => {
            // The report crate reads the template; here it only has to be JSON.
            let _: serde_json::Value = parse(kind, payload)?;
            Parsed::Publish(payload.to_vec())
        }
        other => return Err(RosterError::NotARosterKind { kind: other }),
    })
}

/// The roster log: its entries and the roster they resolve to.
#[derive(Debug, Clone)]
pub struct RosterLog {
    network: NetworkId,
    dag: Dag,
    /// Positions from which admins are frozen by an equivocation found outside this index.
    frozen: BTreeMap<PublicKey, u64>,
    items: IdMap<Item>,
    /// Per key, the entries that make it an admin (accepted or not): what storing asks.
    admin_grants: HashMap<PublicKey, Vec<EntryId>>,
    /// Every key any roster entry held names as a member, whatever became of the entry.
    named: HashSet<PublicKey>,
    /// Resolved on first use after a change.
    resolved: OnceLock<Roster>,
}

impl RosterLog {
    /// Starts the roster from the network genesis (already shaped and signed as a genesis).
    pub fn new(genesis: &Entry, payload: &[u8]) -> Result<RosterLog, RosterError> {
        let kind = genesis.header().kind;
        if kind != Kind::NetworkGenesis {
            return Err(RosterError::NotARosterKind { kind });
        }
        let g: GenesisPayload = parse(kind, payload)?;
        if g.founder.key != genesis.header().author {
            return Err(RosterError::GenesisNotByFounder);
        }
        if !g.founder.admin {
            return Err(RosterError::FounderNotAdmin);
        }
        let network = genesis.id();
        let mut dag = Dag::new(network);
        dag.insert(genesis).map_err(|e| RosterError::BadPayload {
            kind,
            reason: e.to_string(),
        })?;
        let mut log = RosterLog {
            network,
            dag,
            frozen: BTreeMap::new(),
            items: IdMap::default(),
            admin_grants: HashMap::new(),
            named: HashSet::new(),
            resolved: OnceLock::new(),
        };
        log.add_item(
            network,
            Item {
                author: genesis.header().author,
                kind,
                parsed: Parsed::Genesis(g),
            },
        );
        Ok(log)
    }

    fn add_item(&mut self, id: EntryId, item: Item) {
        let named = match &item.parsed {
            Parsed::Genesis(g) => Some((g.founder.key, true)),
            Parsed::Member(p) => Some((p.key, p.admin)),
            _ => None,
        };
        if let Some((key, admin)) = named {
            self.named.insert(key);
            if admin {
                self.admin_grants.entry(key).or_default().push(id);
            }
        }
        self.items.insert(id, item);
        self.resolved = OnceLock::new();
    }

    pub fn network(&self) -> NetworkId {
        self.network
    }

    pub fn dag(&self) -> &Dag {
        &self.dag
    }

    /// The roster the entries held resolve to.
    pub fn roster(&self) -> &Roster {
        self.resolved.get_or_init(|| self.resolve())
    }

    /// Whether any roster entry held names `key` as a member — accepted or not, now or once.
    /// Entries by such a key are kept (and judged) rather than rejected: whether its admission
    /// stands can change as roster entries arrive, and every home must hold the same set.
    pub fn names(&self, key: &PublicKey) -> bool {
        self.named.contains(key)
    }

    /// Every `template.publish` payload held, accepted or not, in no particular order.
    pub fn publications(&self) -> impl Iterator<Item = (&EntryId, &[u8])> {
        self.items
            .iter()
            .filter_map(|(id, item)| match &item.parsed {
                Parsed::Publish(bytes) => Some((id, bytes.as_slice())),
                _ => None,
            })
    }

    /// What a roster entry must pass before it is stored: the log's structure, a payload of its
    /// kind, and an author made admin by an entry in its past (a causal fact that never
    /// changes). Whether it then takes effect is for [`RosterLog::roster`] to say, against
    /// every roster entry held.
    pub fn check(&self, entry: &Entry, payload: &[u8]) -> Result<(), RuleError> {
        let h = entry.header();
        self.dag.check(entry)?;
        parse_item(h.kind, payload).map_err(|e| RuleError::Roster(Box::new(e)))?;
        if self.items.len() >= MAX_ROSTER_ENTRIES {
            return Err(RuleError::Roster(Box::new(RosterError::TooLarge {
                found: self.items.len(),
                limit: MAX_ROSTER_ENTRIES,
            })));
        }
        let granted = self
            .admin_grants
            .get(&h.author)
            .is_some_and(|gs| gs.iter().any(|g| self.dag.in_past_of_all(g, &h.parents)));
        if !granted {
            return Err(AuthorityError::NotAdmin {
                author: h.author.to_hex(),
                kind: h.kind,
            }
            .into());
        }
        Ok(())
    }

    /// Adds an entry that passed [`RosterLog::check`] (or was stored after passing it); the
    /// roster is resolved again when next asked for.
    pub fn insert(&mut self, entry: &Entry, payload: &[u8]) -> Result<(), RuleError> {
        let h = entry.header();
        let parsed = parse_item(h.kind, payload).map_err(|e| RuleError::Roster(Box::new(e)))?;
        self.dag.insert(entry)?;
        self.add_item(
            entry.id(),
            Item {
                author: h.author,
                kind: h.kind,
                parsed,
            },
        );
        Ok(())
    }

    /// Freezes `author`'s roster entries from position `seq` on (they equivocated there; the
    /// second entry is kept as evidence beside the log).
    pub fn freeze(&mut self, author: PublicKey, seq: u64) -> bool {
        let at = self.frozen.entry(author).or_insert(u64::MAX);
        if *at <= seq {
            // Already frozen from there or earlier: nothing changes, nothing to resolve again.
            return false;
        }
        *at = seq;
        self.resolved = OnceLock::new();
        true
    }

    /// The position from which `author` is frozen: their first equivocation in the roster log,
    /// or one found outside it.
    fn frozen_from(&self, author: &PublicKey) -> Option<u64> {
        [
            self.dag.first_fork(author),
            self.frozen.get(author).copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

mod judge;
mod resolve;
mod resolved;

pub use resolved::Roster;

#[cfg(test)]
mod tests;
