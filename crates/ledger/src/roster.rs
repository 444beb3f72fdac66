//! The permissioned part: who belongs to the department network, in which role, and when.
//!
//! The roster is its own log (log id = network id). It starts with a `network.genesis` signed by
//! the founding admin; `roster.member` entries signed by an admin add or update a member;
//! `roster.revoke` ends a member's authority from a time. Revocation never erases history:
//! signatures made before it stay valid.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::PublicKey;
use crate::kind::Kind;

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
    /// rules that need the payload (only an attending sets a report final) live in the report
    /// crate.
    pub fn may_write(self, kind: Kind) -> bool {
        use Kind::*;
        match kind {
            NetworkGenesis | RosterMember | RosterRevoke | PayloadErase => false,
            ReportCreate => self.is_reporting_physician() || self == Role::Technologist,
            SectionWrite | ReportStatus | CriticalResult | FollowupRecommend | FollowupClose => {
                self.is_reporting_physician()
            }
            SectionCosign | AddendumWrite => {
                self.is_reporting_physician() && self != Role::Resident
            }
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

/// Payload of `roster.member`: adds a member or replaces their details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPayload {
    pub key: PublicKey,
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub admin: bool,
    /// Milliseconds since the epoch; entries signed earlier are not covered.
    pub valid_from: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<u64>,
    /// libp2p peer ids of the member's devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<AiModelInfo>,
}

/// Payload of `network.genesis`: the network's name and its founding member (an admin, who
/// is the genesis author).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisPayload {
    pub name: String,
    pub founder: MemberPayload,
}

/// Payload of `roster.revoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevokePayload {
    pub key: PublicKey,
    /// Signatures made at or after this time (ms since epoch) are no longer accepted.
    pub from: u64,
    #[serde(default)]
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
    pub revoked_from: Option<u64>,
    pub devices: Vec<String>,
    pub ai_model: Option<AiModelInfo>,
}

/// Why an author may not have signed an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorityError {
    #[error("author {author} is not on the roster")]
    UnknownAuthor { author: String },
    #[error("author {author} was not yet a member at {at} (valid from {valid_from})")]
    NotYetValid {
        author: String,
        at: u64,
        valid_from: u64,
    },
    #[error("author {author}'s membership ended at {valid_until}, before {at}")]
    Expired {
        author: String,
        at: u64,
        valid_until: u64,
    },
    #[error("author {author} was revoked from {revoked_from}; entry signed at {at}")]
    Revoked {
        author: String,
        at: u64,
        revoked_from: u64,
    },
    #[error("role {role} may not write {kind}")]
    KindNotAllowed { role: Role, kind: Kind },
    #[error("author {author} is not an admin and may not write {kind}")]
    NotAdmin { author: String, kind: Kind },
}

/// Why a roster entry's payload cannot be applied.
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
}

/// The roster state, built by applying roster entries in causal order.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    name: String,
    members: BTreeMap<PublicKey, Member>,
}

fn parse<T: serde::de::DeserializeOwned>(kind: Kind, payload: &[u8]) -> Result<T, RosterError> {
    serde_json::from_slice(payload).map_err(|e| RosterError::BadPayload {
        kind,
        reason: e.to_string(),
    })
}

impl Member {
    fn from_payload(p: MemberPayload, revoked_from: Option<u64>) -> Self {
        Member {
            key: p.key,
            name: p.name,
            role: p.role,
            admin: p.admin,
            valid_from: p.valid_from,
            valid_until: p.valid_until,
            revoked_from,
            devices: p.devices,
            ai_model: p.ai_model,
        }
    }

    /// Whether this member's authority covers a signature made at `at`.
    pub fn check_time(&self, at: u64) -> Result<(), AuthorityError> {
        let author = self.key.to_hex();
        if at < self.valid_from {
            return Err(AuthorityError::NotYetValid {
                author,
                at,
                valid_from: self.valid_from,
            });
        }
        if let Some(valid_until) = self.valid_until.filter(|u| at >= *u) {
            return Err(AuthorityError::Expired {
                author,
                at,
                valid_until,
            });
        }
        if let Some(revoked_from) = self.revoked_from.filter(|r| at >= *r) {
            return Err(AuthorityError::Revoked {
                author,
                at,
                revoked_from,
            });
        }
        Ok(())
    }
}

impl Roster {
    pub fn name(&self) -> &str {
        &self.name
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

    /// Applies one roster-log entry whose signature, shape and author authority were already
    /// checked (see [`Roster::authorize`]).
    pub fn apply(
        &mut self,
        kind: Kind,
        author: &PublicKey,
        payload: &[u8],
    ) -> Result<(), RosterError> {
        match kind {
            Kind::NetworkGenesis => {
                let genesis: GenesisPayload = parse(kind, payload)?;
                if genesis.founder.key != *author {
                    return Err(RosterError::GenesisNotByFounder);
                }
                if !genesis.founder.admin {
                    return Err(RosterError::FounderNotAdmin);
                }
                self.name = genesis.name;
                self.members
                    .insert(*author, Member::from_payload(genesis.founder, None));
            }
            Kind::RosterMember => {
                let p: MemberPayload = parse(kind, payload)?;
                // Revocation is permanent for a key: re-adding it does not restore authority.
                let revoked = self.members.get(&p.key).and_then(|m| m.revoked_from);
                self.members.insert(p.key, Member::from_payload(p, revoked));
            }
            Kind::RosterRevoke => {
                let p: RevokePayload = parse(kind, payload)?;
                if let Some(m) = self.members.get_mut(&p.key) {
                    m.revoked_from = Some(m.revoked_from.map_or(p.from, |r| r.min(p.from)));
                }
            }
            other => return Err(RosterError::NotARosterKind { kind: other }),
        }
        Ok(())
    }

    /// Whether `author` could sign an entry of `kind` at time `at`. A genesis is authorised by
    /// its own payload and is not checked here.
    pub fn authorize(
        &self,
        author: &PublicKey,
        kind: Kind,
        at: u64,
    ) -> Result<&Member, AuthorityError> {
        let member = self
            .members
            .get(author)
            .ok_or_else(|| AuthorityError::UnknownAuthor {
                author: author.to_hex(),
            })?;
        member.check_time(at)?;
        let allowed = match kind {
            Kind::RosterMember | Kind::RosterRevoke | Kind::PayloadErase | Kind::NetworkGenesis => {
                if !member.admin {
                    return Err(AuthorityError::NotAdmin {
                        author: author.to_hex(),
                        kind,
                    });
                }
                true
            }
            _ => member.role.may_write(kind),
        };
        if !allowed {
            return Err(AuthorityError::KindNotAllowed {
                role: member.role,
                kind,
            });
        }
        Ok(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::SecretKey;

    fn key(n: u8) -> PublicKey {
        SecretKey::from_seed(&[n; 32]).public()
    }

    fn member(k: PublicKey, role: Role, admin: bool, valid_from: u64) -> MemberPayload {
        MemberPayload {
            key: k,
            name: format!("member {}", role),
            role,
            admin,
            valid_from,
            valid_until: None,
            devices: vec![],
            ai_model: None,
        }
    }

    fn founded() -> Roster {
        let mut roster = Roster::default();
        let genesis = GenesisPayload {
            name: "Dept".into(),
            founder: member(key(1), Role::Attending, true, 0),
        };
        roster
            .apply(
                Kind::NetworkGenesis,
                &key(1),
                &serde_json::to_vec(&genesis).unwrap(),
            )
            .unwrap();
        roster
    }

    #[test]
    fn genesis_must_be_signed_by_an_admin_founder() {
        let genesis = GenesisPayload {
            name: "Dept".into(),
            founder: member(key(1), Role::Attending, true, 0),
        };
        let bytes = serde_json::to_vec(&genesis).unwrap();
        let mut roster = Roster::default();
        assert_eq!(
            roster.apply(Kind::NetworkGenesis, &key(2), &bytes),
            Err(RosterError::GenesisNotByFounder)
        );
        let mut not_admin = genesis.clone();
        not_admin.founder.admin = false;
        assert_eq!(
            roster.apply(
                Kind::NetworkGenesis,
                &key(1),
                &serde_json::to_vec(&not_admin).unwrap()
            ),
            Err(RosterError::FounderNotAdmin)
        );
    }

    #[test]
    fn revocation_keeps_earlier_signatures_valid() {
        let mut roster = founded();
        let resident = member(key(2), Role::Resident, false, 100);
        roster
            .apply(
                Kind::RosterMember,
                &key(1),
                &serde_json::to_vec(&resident).unwrap(),
            )
            .unwrap();
        let revoke = RevokePayload {
            key: key(2),
            from: 500,
            reason: "left".into(),
        };
        roster
            .apply(
                Kind::RosterRevoke,
                &key(1),
                &serde_json::to_vec(&revoke).unwrap(),
            )
            .unwrap();
        assert!(roster.authorize(&key(2), Kind::SectionWrite, 499).is_ok());
        assert!(matches!(
            roster.authorize(&key(2), Kind::SectionWrite, 500),
            Err(AuthorityError::Revoked {
                revoked_from: 500,
                ..
            })
        ));
        assert!(matches!(
            roster.authorize(&key(2), Kind::SectionWrite, 99),
            Err(AuthorityError::NotYetValid {
                valid_from: 100,
                ..
            })
        ));
        // Re-adding a revoked key does not restore it.
        roster
            .apply(
                Kind::RosterMember,
                &key(1),
                &serde_json::to_vec(&resident).unwrap(),
            )
            .unwrap();
        assert!(roster.authorize(&key(2), Kind::SectionWrite, 600).is_err());
    }

    #[test]
    fn roles_limit_kinds() {
        let mut roster = founded();
        roster
            .apply(
                Kind::RosterMember,
                &key(1),
                &serde_json::to_vec(&member(key(3), Role::Resident, false, 0)).unwrap(),
            )
            .unwrap();
        roster
            .apply(
                Kind::RosterMember,
                &key(1),
                &serde_json::to_vec(&member(key(4), Role::AiModel, false, 0)).unwrap(),
            )
            .unwrap();
        assert!(roster.authorize(&key(3), Kind::SectionWrite, 1).is_ok());
        assert_eq!(
            roster
                .authorize(&key(3), Kind::SectionCosign, 1)
                .unwrap_err(),
            AuthorityError::KindNotAllowed {
                role: Role::Resident,
                kind: Kind::SectionCosign
            }
        );
        assert!(roster.authorize(&key(4), Kind::AiResult, 1).is_ok());
        assert!(roster.authorize(&key(4), Kind::AiReview, 1).is_err());
        assert!(roster.authorize(&key(3), Kind::AiResult, 1).is_err());
        assert!(matches!(
            roster.authorize(&key(3), Kind::RosterMember, 1),
            Err(AuthorityError::NotAdmin { .. })
        ));
        assert!(roster.authorize(&key(1), Kind::RosterMember, 1).is_ok());
        assert!(matches!(
            roster.authorize(&key(9), Kind::View, 1),
            Err(AuthorityError::UnknownAuthor { .. })
        ));
    }
}
