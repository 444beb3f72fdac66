//! What the roster is made of: roles, the payloads of roster entries, members, their changes
//! and revocations, and the errors a roster entry is refused with.

use super::*;

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
    /// A data-protection officer: erases and restricts patients' data (GDPR Art. 17, 18), and
    /// writes nothing clinical.
    DataProtection,
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
        Role::DataProtection,
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
            Role::DataProtection => "data-protection",
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
            NetworkGenesis | RosterMember | RosterRevoke | RosterReadmit | RosterRotate
            | TemplatePublish | MacroPublish => false,
            // Erasure and restriction act on a patient's data, not on the report's content:
            // an attending, or the department's data-protection officer.
            PayloadErase | ReportRestrict => matches!(self, Role::Attending | Role::DataProtection),
            // Moving a report filed under the wrong patient is a clinical correction.
            ReportMove => self == Role::Attending,
            // A record that a signed-off version reached an archive, signed by the member whose
            // home (or `serve` node) sent it: any person, never a model.
            ReportDelivered => self.is_human(),
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
            // Receipt of an AI result delivered as DICOM SR, attested by the person (or the
            // person's gateway node) that received it: never by a model, which would be
            // claiming authorship of another vendor's output.
            AiReceived => self.is_human(),
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

/// Which roles may create reports in the network, and whether every new report must be
/// sealed: roster rules, fixed by the genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub report_creators: Vec<Role>,
    /// Every `report.create` must be sealed (`payload_not_sealed` otherwise): a hostile client
    /// cannot create a report in clear that honest homes would then write into in clear.
    /// Fixed by the genesis, so every home judges a create the same; off (and not written)
    /// for networks founded before it, whose genesis bytes stay as they were.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed_reports: bool,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            report_creators: Role::ALL
                .iter()
                .copied()
                .filter(|r| r.may_write(Kind::ReportCreate))
                .collect(),
            sealed_reports: false,
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

/// Payload of `roster.rotate`: `new` replaces `old` for the person `old` belongs to. The old
/// key's authority ends as a revocation's does (its frontier); the new key takes over the
/// person's details, admin flag and seniority. See [`crate::rotation`] for the signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotatePayload {
    pub old: PublicKey,
    pub new: PublicKey,
    /// The old key's consent ([`crate::rotation::consent`]); `None` when an admin replaces a
    /// lost key alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<crate::rotation::RotationSignature>,
    /// The new key's proof of possession ([`crate::rotation::possession`]); required with a
    /// consent, optional when a lost key is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub possession: Option<crate::rotation::RotationSignature>,
    #[serde(default)]
    pub reason: String,
    /// The old key's entries that stay valid, per report log (see [`Frontier`]).
    #[serde(default)]
    pub frontier: Frontier,
}

impl RotatePayload {
    /// What a rotation's bytes must hold whatever the roster says (checked before it is
    /// stored): two different keys, and every signature it carries verified (`verify_strict`)
    /// for this network and these keys; a consent comes with a possession proof.
    pub fn check(&self, network: &NetworkId) -> Result<(), crate::rotation::RotationError> {
        if self.consent.is_some() && self.possession.is_none() {
            return Err(crate::rotation::RotationError::BadPossession);
        }
        crate::rotation::check(
            network,
            &self.old,
            &self.new,
            self.consent.as_ref(),
            self.possession.as_ref(),
        )
    }
}

/// A rotation that stands: `new` replaced `old`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RotationLink {
    /// The `roster.rotate` entry.
    pub entry: EntryId,
    pub old: PublicKey,
    pub new: PublicKey,
    /// The admin who signed it.
    pub by: PublicKey,
    /// The rotation entry's timestamp (its author's clock): shown, never used to judge.
    pub at_ms: u64,
    /// Whether the old key consented; `false` when an admin replaced a lost key alone.
    pub consented: bool,
}

/// Where a key stands among the keys of one person: key `number` of `keys`, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyPlace {
    pub number: usize,
    pub keys: usize,
    /// The person's key now (the last of the chain).
    pub current: PublicKey,
    /// The rotation that brought this key in (none for the person's first key).
    pub introduced: Option<RotationLink>,
    /// The rotation that replaced this key (none for the current one).
    pub replaced: Option<RotationLink>,
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
    /// The key this one replaced, if a rotation brought it in: the same person.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_from: Option<PublicKey>,
    /// The key that replaced this one, if it was rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_to: Option<PublicKey>,
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
    /// An AI model key's vendor, model and version from this change on (`None` for a person
    /// and for a revocation): what the entries this change applies to were signed as, so that
    /// a result is held to the model the roster named then, not to a later upgrade.
    pub ai_model: Option<AiModelInfo>,
    /// The member's name from this change on (`None` for a revocation): the name the entries
    /// this change applies to were signed under, which a later rename does not rewrite.
    pub name: Option<String>,
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
    #[error("author {author}'s key was rotated to {new_key} by entry {rotation}, and this entry is outside the frontier it vouches for")]
    Rotated {
        author: String,
        new_key: String,
        rotation: EntryId,
    },
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
            AuthorityError::Rotated { .. } => "rotated",
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
    #[error("the rotation's signatures do not hold: {0}")]
    RotationSignature(crate::rotation::RotationError),
    #[error("key {key} is not a member in this rotation's past: only a member's key is rotated")]
    RotationUnknownKey { key: String },
    #[error(
        "key {key} is already on the roster: a rotation brings in a key the roster never named"
    )]
    RotationKeyKnown { key: String },
    #[error("key {key} was removed by entry {removal}, which this rotation had not seen: the rotation does not take effect")]
    RotationContested { key: String, removal: EntryId },
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
            RosterError::RotationSignature(_) => "rotation_signature",
            RosterError::RotationUnknownKey { .. } => "rotation_unknown_key",
            RosterError::RotationKeyKnown { .. } => "rotation_key_known",
            RosterError::RotationContested { .. } => "rotation_contested",
        }
    }
}
