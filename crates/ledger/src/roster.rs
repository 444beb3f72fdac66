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

    /// The seniority of the most senior admin neither revoked nor frozen: who may amend what an
    /// admin who has equivocated since decided.
    fn most_senior_standing(&self, roster: &Roster) -> Option<u32> {
        roster
            .members
            .values()
            .filter(|m| m.admin && m.revoked.is_none() && self.frozen_from(&m.key).is_none())
            .filter_map(|m| m.seniority)
            .min()
    }

    /// Whether the roster entry `id` is at or after its author's frozen position.
    fn frozen_at(&self, id: &EntryId) -> bool {
        self.dag
            .position(id)
            .is_some_and(|(author, seq)| self.frozen_from(&author).is_some_and(|from| seq >= from))
    }

    /// Resolves the roster: changes that remove authority are applied in rounds, each pass
    /// re-judging every entry against what has been removed. A round applies the most senior
    /// admin's removals, and with them every removal whose author no pending removal can touch
    /// (neither its target nor made admin, however indirectly, by one) — so a department's many
    /// independent revocations resolve in a few passes, not one pass per admin.
    fn resolve(&self) -> Roster {
        self.resolve_counting().0
    }

    /// [`RosterLog::resolve`], and how many passes it took.
    fn resolve_counting(&self) -> (Roster, usize) {
        let order = self.dag.topological();
        let mut passes = 0;
        let mut applied: Vec<EntryId> = Vec::new();
        // Removals applied and then found to remove nothing (a demotion of someone another
        // removal of the same round left no admin): out of force, and never applied again, so
        // that the rounds end.
        let mut dropped: HashSet<EntryId> = HashSet::new();
        loop {
            let pass = self.pass(&order, &applied);
            passes += 1;
            let accepted: HashSet<EntryId> = pass.removals.iter().map(|(.., id)| *id).collect();
            let before = applied.len();
            applied.retain(|id| {
                let still = accepted.contains(id);
                if !still {
                    dropped.insert(*id);
                }
                still
            });
            if applied.len() != before {
                continue;
            }
            let in_force: HashSet<EntryId> = applied.iter().copied().collect();
            let mut pending: Vec<(u32, usize, EntryId)> = pass
                .removals
                .iter()
                .filter(|(.., id)| !in_force.contains(id) && !dropped.contains(id))
                .copied()
                .collect();
            let Some(senior) = pending.iter().map(|(rank, ..)| *rank).min() else {
                return (pass.roster, passes);
            };
            // Applying the most senior admin's removals can only refuse entries of admins
            // junior to them (who cannot remove themselves), so no removal applied earlier is
            // undone, and none of theirs is; a removal whose author is untouched by every
            // pending removal stands whatever order they are applied in.
            // (Nor whose target another pending removal could make or unmake an admin.)
            // (Nor whose target another pending removal names: whichever is applied first can
            // decide whether the other stands.)
            let (touched, below) = self.touched(&pending, &pass.granted_by);
            let mut named: HashMap<PublicKey, usize> = HashMap::new();
            for (.., id) in &pending {
                if let Some(t) = self.items.get(id).and_then(removal_target) {
                    *named.entry(t).or_default() += 1;
                }
            }
            pending.retain(|(rank, _, id)| {
                *rank == senior
                    || self.items.get(id).is_some_and(|i| {
                        !touched.contains(&i.author)
                            && removal_target(i)
                                .is_none_or(|t| !below.contains(&t) && named.get(&t) == Some(&1))
                    })
            });
            pending.sort_unstable();
            // One removal of a key per round, the most senior author's: a second may remove
            // nothing once the first is in force, or remove it differently.
            let mut targets: HashSet<PublicKey> = HashSet::new();
            pending.retain(|(.., id)| {
                self.items
                    .get(id)
                    .and_then(removal_target)
                    .is_none_or(|t| targets.insert(t))
            });
            applied.extend(pending.into_iter().map(|(.., id)| id));
        }
    }

    /// The keys whose authority a pending removal could change: their targets, and every admin
    /// an accepted grant by one of those made (and so on).
    /// Also returns the keys made admin (transitively) by a target: those whose standing a
    /// pending removal of someone else could change.
    fn touched(
        &self,
        pending: &[(u32, usize, EntryId)],
        granted_by: &HashMap<PublicKey, Vec<PublicKey>>,
    ) -> (HashSet<PublicKey>, HashSet<PublicKey>) {
        let targets: Vec<PublicKey> = pending
            .iter()
            .filter_map(|(.., id)| self.items.get(id).and_then(removal_target))
            .collect();
        let mut below: HashSet<PublicKey> = HashSet::new();
        let mut stack: Vec<PublicKey> = targets
            .iter()
            .flat_map(|t| granted_by.get(t).into_iter().flatten().copied())
            .collect();
        while let Some(key) = stack.pop() {
            if below.insert(key) {
                stack.extend(granted_by.get(&key).into_iter().flatten().copied());
            }
        }
        let touched = targets.into_iter().chain(below.iter().copied()).collect();
        (touched, below)
    }

    /// One judgement of every roster entry in `order`, with the removals in `applied` in force.
    fn pass(&self, order: &[EntryId], applied: &[EntryId]) -> Pass {
        // Who each applied removal removes, and the roster entries of theirs it leaves outside.
        let mut removed: HashMap<PublicKey, Vec<EntryId>> = HashMap::new();
        for id in applied {
            if let Some(target) = self.items.get(id).and_then(removal_target) {
                removed.entry(target).or_default().push(*id);
            }
        }

        let mut roster = Roster {
            network: Some(self.network),
            ..Roster::default()
        };
        // Accepted admin grants per key: (granting entry, seniority).
        let mut grants = Grants::default();
        // Who made whom admin, by accepted grants (what a removal of the first may reach).
        let mut granted_by: HashMap<PublicKey, Vec<PublicKey>> = HashMap::new();
        let mut removals: Vec<(u32, usize, EntryId)> = Vec::new();
        // Accepted readmissions: (readmission, the change it amends, its author's rank).
        let mut readmits: Vec<(EntryId, EntryId, u32)> = Vec::new();
        for (position, id) in order.iter().enumerate() {
            let Some(item) = self.items.get(id) else {
                continue;
            };
            let verdict = self.judge(id, item, &grants, &removed, &mut roster);
            match verdict {
                Ok(effect) => {
                    roster.statuses.insert(*id, Ok(()));
                    match effect {
                        Effect::Grant(key) => {
                            // Seniority is that of the latest grant: an admin demoted and made
                            // admin again ranks from then, not from their first grant.
                            let rank = grants.count;
                            grants.count += 1;
                            grants.by_key.entry(key).or_default().push((*id, rank));
                            granted_by.entry(item.author).or_default().push(key);
                            if let Some(m) = roster.members.get_mut(&key) {
                                m.seniority = Some(rank);
                            }
                        }
                        Effect::Removal { rank } => removals.push((rank, position, *id)),
                        Effect::Readmit { change, rank } => readmits.push((*id, change, rank)),
                        Effect::None => {}
                    }
                }
                Err(e) => {
                    roster.statuses.insert(*id, Err(e));
                }
            }
        }
        // Revocations applied: the member loses their authority. (A demotion already took the
        // admin flag, and with it the seniority, in order.) When several revoke one key, the
        // most senior author's governs — its frontier says which entries stand — so that a
        // junior admin's (or a thief's) revocation cannot overrule a senior's judgement of
        // what the key signed before it was lost.
        let rank: IdMap<usize> = order.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        // Each removal's author's rank when they made it: a demotion since does not make their
        // revocation anyone's to amend.
        let made_at: HashMap<EntryId, u32> = removals.iter().map(|(r, _, id)| (*id, *r)).collect();
        let mut governing: HashMap<PublicKey, (u32, usize, EntryId)> = HashMap::new();
        for id in applied {
            let Some(item) = self.items.get(id) else {
                continue;
            };
            if let Parsed::Revoke(p) = &item.parsed {
                // An author who equivocated before this entry ranks last: their word on what
                // stands is not taken first. (One revoked since keeps their rank for what they
                // did before: offboarding a senior admin must not hand their revocations to
                // juniors; what they did after is refused anyway.)
                let by = made_at
                    .get(id)
                    .copied()
                    .filter(|_| !self.frozen_at(id))
                    .unwrap_or(u32::MAX);
                let key = (by, rank.get(id).copied().unwrap_or(usize::MAX), *id);
                governing
                    .entry(p.key)
                    .and_modify(|g| *g = (*g).min(key))
                    .or_insert(key);
            }
        }
        for (target, (.., id)) in &governing {
            let Some(Item {
                author,
                parsed: Parsed::Revoke(p),
                ..
            }) = self.items.get(id)
            else {
                continue;
            };
            if let Some(m) = roster.members.get_mut(target) {
                m.revoked = Some(Revocation {
                    entry: *id,
                    by: *author,
                    reason: p.reason.clone(),
                });
                m.admin = false;
                m.seniority = None;
            }
            let mut change = change_of_revocation(*id, p);
            // An equivocating admin's revocation still takes authority away, but vouches for
            // nothing: the frozen key's word is not taken on what stands.
            if self.frozen_at(id) {
                change.frontier = Frontier::new();
            }
            roster
                .history
                .entry(*target)
                .or_default()
                .push((*id, change));
        }
        // Readmissions join the frontier of the change they amend; one amending a revocation
        // joins the governing revocation's — and must be its author's, or a more senior
        // admin's, whether or not the readmission had seen it (a frozen or revoked author's
        // governing revocation, ranked last, any admin may amend).
        // (Asked of the roster as the pass leaves it.)
        let standing = self.most_senior_standing(&roster);
        for (id, change, by_rank) in readmits {
            let Some(Item {
                author,
                parsed: Parsed::Readmit(r),
                ..
            }) = self.items.get(&id)
            else {
                continue;
            };
            let change = match self.items.get(&change).map(|i| &i.parsed) {
                Some(Parsed::Revoke(_)) => match governing.get(&r.key) {
                    Some(&(g_rank, _, g)) => {
                        let g_author = self.items.get(&g).map(|i| i.author);
                        // A governing author who has equivocated since cannot amend it (their
                        // roster entries are frozen): any admin may, or honest work is lost.
                        let frozen_since = g_author.is_some_and(|a| self.frozen_from(&a).is_some());
                        let allowed = g_author == Some(*author)
                            || if frozen_since {
                                standing.is_none_or(|r| by_rank <= r)
                            } else {
                                by_rank < g_rank
                            };
                        if !allowed {
                            roster.statuses.insert(
                                id,
                                Err(RosterError::NotSenior {
                                    target: g_author.map(|a| a.to_hex()).unwrap_or_default(),
                                }),
                            );
                            continue;
                        }
                        g
                    }
                    None => change,
                },
                _ => change,
            };
            if let Some(history) = roster.history.get_mut(&r.key) {
                for (_, c) in history.iter_mut().filter(|(cid, _)| *cid == change) {
                    c.readmitted.push((r.log, r.entry));
                }
            }
            if let Some(m) = roster.members.get_mut(&r.key) {
                m.readmitted.push((r.log, r.entry));
            }
        }
        roster.vouched = roster
            .history
            .values()
            .flatten()
            .flat_map(|(_, c)| {
                c.frontier
                    .iter()
                    .map(|(l, e)| (*l, *e))
                    .chain(c.readmitted.iter().copied())
            })
            .collect();
        // Changes in roster order (applied revocations were appended last).
        for history in roster.history.values_mut() {
            history.sort_by_key(|(id, _)| rank.get(id).copied().unwrap_or(usize::MAX));
        }
        Pass {
            roster,
            removals,
            granted_by,
        }
    }

    /// Judges one roster entry in a pass; on success says what it does.
    fn judge(
        &self,
        id: &EntryId,
        item: &Item,
        grants: &Grants,
        removed: &HashMap<PublicKey, Vec<EntryId>>,
        roster: &mut Roster,
    ) -> Result<Effect, RosterError> {
        if let Parsed::Genesis(g) = &item.parsed {
            roster.name = g.name.clone();
            roster.policy = g.policy.clone().unwrap_or_default();
            roster
                .members
                .insert(item.author, member_from(&g.founder, *id));
            roster.history.entry(item.author).or_default().push((
                *id,
                Change {
                    entry: *id,
                    role: Some(g.founder.role),
                    admin: true,
                    frontier: Frontier::new(),
                    readmitted: Vec::new(),
                },
            ));
            return Ok(Effect::Grant(item.author));
        }
        let author = &item.author;
        // A removal in force leaves out every roster entry of its target that is not in its
        // past — unless the target was made admin again after it (a demotion undone).
        let outside = removed.get(author).and_then(|removals| {
            removals.iter().copied().find(|r| {
                r != id
                    && !self.dag.in_past(id, r)
                    && !grants
                        .by_key
                        .get(author)
                        .into_iter()
                        .flatten()
                        .any(|(g, _)| self.dag.in_past(g, id) && !self.dag.in_past(g, r))
            })
        });
        if let Some(revocation) = outside {
            return Err(AuthorityError::Revoked {
                author: author.to_hex(),
                revocation,
            }
            .into());
        }
        // A revocation only takes authority away: a fork must not undo one (what it vouches
        // for is not taken from a frozen author; see `pass`).
        if !matches!(item.parsed, Parsed::Revoke(_)) {
            if let Some(seq) = self.frozen_from(author).filter(|_| self.frozen_at(id)) {
                return Err(AuthorityError::Frozen {
                    author: author.to_hex(),
                    seq,
                }
                .into());
            }
        }
        // The latest accepted grant making `key` an admin in this entry's past, and its rank.
        let grant_in_past = |key: &PublicKey| grants.latest_in_past(&self.dag, key, id);
        let Some((_, author_rank)) = grant_in_past(author) else {
            return Err(AuthorityError::NotAdmin {
                author: author.to_hex(),
                kind: item.kind,
            }
            .into());
        };
        // `key`'s rank if it is an admin as of this entry's past: its latest grant there, and
        // no removal there that is not before that grant.
        let admin_in_past = |key: &PublicKey| {
            let (grant, rank) = grant_in_past(key)?;
            let removed_since = removed.get(key).is_some_and(|rs| {
                // (Not this entry itself: a removal in force is judged as when it was made.)
                rs.iter()
                    .any(|r| r != id && self.dag.in_past(r, id) && !self.dag.in_past(r, &grant))
            });
            (!removed_since).then_some(rank)
        };
        // An applied revocation of `key` that this entry is not in the past of.
        // (Looked up by target: scanning every applied removal per entry made a roster with
        // many revocations quadratic to resolve.)
        let is_revocation = |r: &EntryId| {
            matches!(
                self.items.get(r).map(|i| &i.parsed),
                Some(Parsed::Revoke(_))
            )
        };
        let revoked_by = |key: &PublicKey| {
            removed.get(key).and_then(|rs| {
                rs.iter()
                    .copied()
                    .find(|r| !self.dag.in_past(id, r) && is_revocation(r))
            })
        };
        match &item.parsed {
            Parsed::Genesis(_) => unreachable!("handled above"),
            Parsed::Member(p) => {
                let target_admin = admin_in_past(&p.key);
                let demotes = target_admin.is_some() && !p.admin;
                // A revoked key is never admitted or changed again — but a demotion still takes
                // authority away (a senior's demotion must not give way to a junior's
                // concurrent revocation of the same admin).
                if let Some(revocation) = revoked_by(&p.key).filter(|_| !demotes) {
                    return Err(RosterError::KeyRevoked {
                        key: p.key.to_hex(),
                        revocation,
                    });
                }
                // Any change to an admin's details (a role they sign under, their admin flag)
                // is a senior's to make, as a demotion is; an admin may change their own.
                // Asked of the roster as resolved so far too, not only of the change's past:
                // a junior admin writing on a past without the target's grant must not strip
                // or change a senior admin.
                let now_admin = now_admin(roster, &p.key);
                if demotes {
                    check_removal(author, author_rank, &p.key, target_admin.or(now_admin))?;
                } else if p.key != *author {
                    check_senior(&p.key, target_admin.or(now_admin), author_rank)?;
                }
                if demotes && revoked_by(&p.key).is_some() {
                    // Beside a revocation a demotion only takes away: the admin flag and what it
                    // leaves out — never a new role or frontier for the revoked key's entries.
                    if let Some(m) = roster.members.get_mut(&p.key) {
                        m.admin = false;
                        m.seniority = None;
                    }
                    return Ok(Effect::Removal { rank: author_rank });
                }
                // A change that did not see the grant making the key an admin (on a stale past)
                // does not undo it: the roster keeps saying what its rules enforce.
                let keeps_admin = !p.admin && target_admin.is_none() && now_admin.is_some();
                let admitted = roster.members.contains_key(&p.key);
                let previous = roster.members.get(&p.key).cloned();
                let mut member = member_from(p, previous.as_ref().map_or(*id, |m| m.admitted));
                member.seniority = previous.as_ref().and_then(|m| m.seniority);
                member.admin = p.admin || keeps_admin;
                if !member.admin {
                    member.seniority = None;
                }
                roster.members.insert(p.key, member);
                roster.history.entry(p.key).or_default().push((
                    *id,
                    Change {
                        entry: *id,
                        role: Some(p.role),
                        admin: p.admin || keeps_admin,
                        frontier: if admitted {
                            p.frontier.clone()
                        } else {
                            Frontier::new()
                        },
                        readmitted: Vec::new(),
                    },
                ));
                if demotes {
                    return Ok(Effect::Removal { rank: author_rank });
                }
                let already_admin = grants.by_key.contains_key(&p.key)
                    && previous.as_ref().is_some_and(|m| m.admin);
                if p.admin && !already_admin {
                    return Ok(Effect::Grant(p.key));
                }
                Ok(Effect::None)
            }
            Parsed::Revoke(p) => {
                // As for a change: seniority over the target as an admin in this entry's past,
                // or in the roster as resolved so far (a junior admin on a stale past).
                let target_admin = admin_in_past(&p.key).or(now_admin(roster, &p.key));
                check_removal(author, author_rank, &p.key, target_admin)?;
                Ok(Effect::Removal { rank: author_rank })
            }
            Parsed::Readmit(r) => {
                if r.log == self.network {
                    return Err(RosterError::ReadmitRosterEntry);
                }
                // The changes after the key's admission that this readmission has seen and that
                // took authority away: role changes that narrowed what the key may sign or
                // took its admin flag, then the revocations in force. Each with its author.
                let mut changes: Vec<(EntryId, PublicKey)> = Vec::new();
                if let Some(h) = roster.history.get(&r.key) {
                    for pair in h.windows(2) {
                        let ((_, before), (c, after)) = (&pair[0], &pair[1]);
                        if self.dag.in_past(c, id) && takes_away(before, after) {
                            if let Some(i) = self.items.get(c) {
                                changes.push((*c, i.author));
                            }
                        }
                    }
                }
                let revocations: Vec<(EntryId, PublicKey)> = removed
                    .get(&r.key)
                    .into_iter()
                    .flatten()
                    .filter(|a| self.dag.in_past(a, id) && is_revocation(a))
                    .filter_map(|a| self.items.get(a).map(|i| (*a, i.author)))
                    .collect();
                let change = match r.change {
                    Some(named) => changes
                        .iter()
                        .chain(&revocations)
                        .find(|(c, _)| *c == named)
                        .copied(),
                    None => revocations.first().or(changes.last()).copied(),
                };
                let Some((change, _)) = change else {
                    return Err(RosterError::NothingToReadmit {
                        key: r.key.to_hex(),
                    });
                };
                // Only the change's author or an admin more senior may amend it; a
                // readmission after a revocation amends them all, so it needs that of each.
                // (A role change amended, with every later one that took authority away: an entry
                // lifted over the first must not be lifted over a senior's later narrowing.)
                let amended: Vec<&(EntryId, PublicKey)> = if is_revocation(&change) {
                    revocations.iter().collect()
                } else {
                    changes.iter().skip_while(|(c, _)| *c != change).collect()
                };
                // Against the change's author's rank when they made it (a demotion since does not
                // make their change anyone's to amend) — unless they have equivocated since:
                // their own amendments are frozen, and honest work must stay restorable.
                for (c, by) in amended {
                    if by == author {
                        continue;
                    }
                    if self.frozen_from(by).is_some() {
                        // Its author has equivocated since: the most senior admin still
                        // standing may amend it (a frozen founder's too).
                        if self
                            .most_senior_standing(roster)
                            .is_some_and(|r| author_rank > r)
                        {
                            return Err(RosterError::NotSenior {
                                target: by.to_hex(),
                            });
                        }
                        continue;
                    }
                    let made_at = grants.latest_in_past(&self.dag, by, c).map(|(_, r)| r);
                    check_senior(by, made_at, author_rank)?;
                }
                Ok(Effect::Readmit {
                    change,
                    rank: author_rank,
                })
            }
            Parsed::Publish(bytes) => {
                roster.templates.push((*id, bytes.clone()));
                Ok(Effect::None)
            }
        }
    }
}

/// `key`'s seniority if the roster as resolved so far (in roster order) has it as an admin.
fn now_admin(roster: &Roster, key: &PublicKey) -> Option<u32> {
    roster
        .members
        .get(key)
        .filter(|m| m.admin)
        .and_then(|m| m.seniority)
}

/// Whether `author` (of rank `author_rank`) may revoke or demote `target`.
fn check_removal(
    author: &PublicKey,
    author_rank: u32,
    target: &PublicKey,
    target_admin_rank: Option<u32>,
) -> Result<(), RosterError> {
    if author == target {
        return Err(RosterError::SelfRemoval);
    }
    check_senior(target, target_admin_rank, author_rank)
}

/// Whether `author` (of rank `author_rank`) is more senior than `target`, if `target` is an
/// admin (of rank `target_admin_rank`).
fn check_senior(
    target: &PublicKey,
    target_admin_rank: Option<u32>,
    author_rank: u32,
) -> Result<(), RosterError> {
    match target_admin_rank {
        Some(rank) if rank <= author_rank => Err(RosterError::NotSenior {
            target: target.to_hex(),
        }),
        _ => Ok(()),
    }
}

/// Whether a change of a member's details took authority away: their admin flag, or a kind
/// (or sign-off, which needs an attending) they could sign before.
fn takes_away(before: &Change, after: &Change) -> bool {
    let (Some(from), Some(to)) = (before.role, after.role) else {
        return after.role.is_none();
    };
    (before.admin && !after.admin)
        || (from == Role::Attending && to != Role::Attending)
        || Kind::ALL
            .iter()
            .any(|k| from.may_write(*k) && !to.may_write(*k))
}

fn change_of_revocation(entry: EntryId, p: &RevokePayload) -> Change {
    Change {
        entry,
        role: None,
        admin: false,
        frontier: p.frontier.clone(),
        readmitted: Vec::new(),
    }
}

fn removal_target(item: &Item) -> Option<PublicKey> {
    match &item.parsed {
        Parsed::Revoke(p) => Some(p.key),
        Parsed::Member(p) if !p.admin => Some(p.key),
        _ => None,
    }
}

fn member_from(p: &MemberPayload, admitted: EntryId) -> Member {
    Member {
        key: p.key,
        name: p.name.clone(),
        role: p.role,
        admin: p.admin,
        valid_from: p.valid_from,
        valid_until: p.valid_until,
        devices: p.devices.clone(),
        ai_model: p.ai_model.clone(),
        admitted,
        seniority: None,
        revoked: None,
        readmitted: Vec::new(),
    }
}

/// What an accepted roster entry does to the resolution.
enum Effect {
    None,
    Grant(PublicKey),
    /// A readmission, amending this change of its key, by an author of this rank.
    Readmit {
        change: EntryId,
        rank: u32,
    },
    /// A revocation or an admin's demotion, by an author of this rank.
    Removal {
        rank: u32,
    },
}

struct Pass {
    roster: Roster,
    /// (author's rank, position in order, entry) of every accepted removal.
    removals: Vec<(u32, usize, EntryId)>,
    /// Per admin, the keys their accepted grants made admin.
    granted_by: HashMap<PublicKey, Vec<PublicKey>>,
}

/// The accepted admin grants of a pass so far.
#[derive(Default)]
struct Grants {
    /// Per key: (granting entry, seniority), in roster order.
    by_key: HashMap<PublicKey, Vec<(EntryId, u32)>>,
    count: u32,
}

impl Grants {
    /// The latest grant making `key` an admin in the past of `at`, and its rank.
    fn latest_in_past(&self, dag: &Dag, key: &PublicKey, at: &EntryId) -> Option<(EntryId, u32)> {
        self.by_key
            .get(key)
            .into_iter()
            .flatten()
            .filter(|(g, _)| dag.in_past(g, at))
            .max_by_key(|(_, r)| *r)
            .copied()
    }
}

/// The roster as the roster log resolves: members, their history of changes, the status of
/// every roster entry, the policy and the published templates.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    network: Option<NetworkId>,
    name: String,
    policy: Policy,
    members: BTreeMap<PublicKey, Member>,
    /// Per member, their admission and every change after it, in roster order.
    history: BTreeMap<PublicKey, Vec<(EntryId, Change)>>,
    statuses: IdMap<Result<(), RosterError>>,
    templates: Vec<(EntryId, Vec<u8>)>,
    /// Every (log, entry) a change or readmission vouches for.
    vouched: std::collections::HashSet<(LogId, EntryId)>,
}

impl Roster {
    pub fn network(&self) -> Option<NetworkId> {
        self.network
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn member(&self, key: &PublicKey) -> Option<&Member> {
        self.members.get(key)
    }

    pub fn members(&self) -> impl Iterator<Item = &Member> {
        self.members.values()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Admitted and not revoked: may connect, be sent reports, and sign from now on.
    pub fn is_active(&self, key: &PublicKey) -> bool {
        self.members.get(key).is_some_and(|m| m.revoked.is_none())
    }

    /// Whether a roster entry took effect, and if not, why.
    pub fn status(&self, id: &EntryId) -> Option<&Result<(), RosterError>> {
        self.statuses.get(id)
    }

    /// Accepted `template.publish` payloads, in roster order.
    pub fn templates(&self) -> impl Iterator<Item = (&EntryId, &[u8])> {
        self.templates.iter().map(|(id, p)| (id, p.as_slice()))
    }

    /// Whether some change or readmission names `entry` of `log` as vouched for: when it
    /// arrives, the entries before it may stand again, so the log is judged again.
    pub fn vouches(&self, log: &LogId, entry: &EntryId) -> bool {
        // Asked for every entry a home takes in: a set lookup, built when the roster resolves.
        self.vouched.contains(&(*log, *entry))
    }

    /// The changes to `key`'s authority, admission first, in roster order.
    pub fn history(&self, key: &PublicKey) -> Vec<&Change> {
        self.history
            .get(key)
            .map(|h| h.iter().map(|(_, c)| c).collect())
            .unwrap_or_default()
    }

    /// The authority that applies to `author`'s entry in report log `log`, or why there is
    /// none. `inside(vouched)` says whether the entry is the vouched entry or in its past.
    /// The first change whose frontier covers the entry marks it as made before that change;
    /// an entry no change covers was made under the member's current details.
    pub fn authority(
        &self,
        author: &PublicKey,
        log: &LogId,
        entry: &EntryId,
        inside: impl Fn(&EntryId) -> bool,
    ) -> Result<Authority, AuthorityError> {
        let Some(history) = self.history.get(author).filter(|h| !h.is_empty()) else {
            return Err(AuthorityError::UnknownAuthor {
                author: author.to_hex(),
            });
        };
        let covers = |c: &Change| {
            c.frontier.get(log).is_some_and(&inside)
                || c.readmitted
                    .iter()
                    .any(|(l, e)| l == log && (e == entry || inside(e)))
        };
        // A revoked key's entry stands only if the governing revocation covers it (its frontier,
        // or a readmission into it): an earlier change covering it — a role change a junior
        // admin readmitted into — cannot bring back what the revocation left out.
        if let Some((_, revocation)) = history.iter().rev().find(|(_, c)| c.role.is_none()) {
            if !covers(revocation) {
                return Err(AuthorityError::Revoked {
                    author: author.to_hex(),
                    revocation: revocation.entry,
                });
            }
        }
        let mut before = &history[0].1;
        for (_, change) in &history[1..] {
            if covers(change) {
                break;
            }
            before = change;
        }
        match before.role {
            Some(role) => Ok(Authority {
                role,
                admin: before.admin,
            }),
            None => {
                let revocation = self
                    .members
                    .get(author)
                    .and_then(|m| m.revoked.as_ref())
                    .map(|r| r.entry)
                    .unwrap_or_default();
                Err(AuthorityError::Revoked {
                    author: author.to_hex(),
                    revocation,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
