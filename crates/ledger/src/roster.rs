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
//! - `roster.rotate` moves a person from one key to another (see [`crate::rotation`]): signed
//!   by an admin, carrying the old key's consent and the new key's proof of possession (or
//!   neither, when an admin replaces a lost key alone). The old key's authority ends exactly
//!   as by `roster.revoke`, at the frontier the rotation names (refused entries get the code
//!   `rotated`), and the new key takes over the person: name, role, devices, model details,
//!   admin flag and seniority. The roster links the two ([`Roster::person_keys`],
//!   [`Roster::key_place`]: "key 2 of 2, rotated on …" — the date is the rotation entry's
//!   timestamp, shown, never judged). A rotation is refused unless its old key was admitted in
//!   its past and is neither revoked nor rotated already (`key_revoked`), no removal of it
//!   stands that it had not seen (`rotation_contested`: a concurrent demotion wins over it), its
//!   new key is named by no roster entry in its past (`rotation_key_known`), and an admin's key
//!   is rotated only by its holder or a more senior admin (`not_senior`). Signatures that do
//!   not verify for this network and these keys keep it from being stored
//!   (`rotation_signature`).
//! - `template.publish` makes a report template available to the department's reports.
//! - `macro.publish` makes an AutoText macro (text with `[field]` placeholders for template
//!   sections) available to the department's reports; the report crate reads it.
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
//! (A roster holding a rotation is resolved one removal at a time; see `resolve`.)
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

/// The most roster entries a network keeps: the roster is resolved whole after a change.
pub const MAX_ROSTER_ENTRIES: usize = 100_000;

/// A parsed roster payload.
#[derive(Debug, Clone)]
enum Parsed {
    Genesis(GenesisPayload),
    Member(MemberPayload),
    Revoke(RevokePayload),
    Readmit(ReadmitPayload),
    Rotate(RotatePayload),
    Publish(Vec<u8>),
    /// A `macro.publish` payload, read by the report crate.
    PublishMacro(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Item {
    author: PublicKey,
    kind: Kind,
    /// The entry's timestamp: shown (when a key was rotated), never used to judge.
    timestamp_ms: u64,
    parsed: Parsed,
}

fn parse<T: serde::de::DeserializeOwned>(kind: Kind, payload: &[u8]) -> Result<T, RosterError> {
    crate::json::from_slice_unique(payload)
        .map_err(|reason| RosterError::BadPayload { kind, reason })
}

fn parse_item(network: &NetworkId, kind: Kind, payload: &[u8]) -> Result<Parsed, RosterError> {
    Ok(match kind {
        Kind::NetworkGenesis => Parsed::Genesis(parse(kind, payload)?),
        Kind::RosterMember => Parsed::Member(parse(kind, payload)?),
        Kind::RosterRevoke => Parsed::Revoke(parse(kind, payload)?),
        Kind::RosterReadmit => {
            let r: ReadmitPayload = parse(kind, payload)?;
            Parsed::Readmit(r)
        }
        Kind::RosterRotate => {
            let r: RotatePayload = parse(kind, payload)?;
            // The signatures are the payload's own bytes: checked before it is stored, the
            // same on every home (the network id is in what they sign).
            r.check(network).map_err(RosterError::RotationSignature)?;
            Parsed::Rotate(r)
        }
        Kind::TemplatePublish => {
            // The report crate reads the template; here it only has to be JSON.
            let _: serde_json::Value = parse(kind, payload)?;
            Parsed::Publish(payload.to_vec())
        }
        Kind::MacroPublish => {
            // Likewise the macro: the report crate reads and checks it.
            let _: serde_json::Value = parse(kind, payload)?;
            Parsed::PublishMacro(payload.to_vec())
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
    /// Per key, every roster entry held whose payload names it (as a member, or the key a
    /// revocation, readmission or rotation is about): what a rotation asks of its past.
    subjects: HashMap<PublicKey, Vec<EntryId>>,
    /// Whether any `roster.rotate` is held (the roster is then resolved one removal at a time).
    holds_rotation: bool,
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
            subjects: HashMap::new(),
            holds_rotation: false,
            resolved: OnceLock::new(),
        };
        log.add_item(
            network,
            Item {
                author: genesis.header().author,
                kind,
                timestamp_ms: genesis.header().timestamp_ms,
                parsed: Parsed::Genesis(g),
            },
        );
        Ok(log)
    }

    fn add_item(&mut self, id: EntryId, item: Item) {
        let named = match &item.parsed {
            Parsed::Genesis(g) => Some((g.founder.key, true)),
            Parsed::Member(p) => Some((p.key, p.admin)),
            // The new key is an admin if the old one was made one in the rotation's past.
            Parsed::Rotate(r) => Some((
                r.new,
                self.admin_grants
                    .get(&r.old)
                    .is_some_and(|gs| gs.iter().any(|g| self.dag.in_past(g, &id))),
            )),
            _ => None,
        };
        let subjects: Vec<PublicKey> = match &item.parsed {
            Parsed::Genesis(g) => vec![g.founder.key],
            Parsed::Member(p) => vec![p.key],
            Parsed::Revoke(p) => vec![p.key],
            Parsed::Readmit(p) => vec![p.key],
            Parsed::Rotate(p) => vec![p.old, p.new],
            Parsed::Publish(_) | Parsed::PublishMacro(_) => vec![],
        };
        for key in subjects {
            self.subjects.entry(key).or_default().push(id);
        }
        self.holds_rotation |= matches!(item.parsed, Parsed::Rotate(_));
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

    /// Whether a roster entry in the past of `at` (not `at` itself) names `key`, accepted or
    /// not: a causal fact, whatever the roster resolves to.
    fn named_before(&self, key: &PublicKey, at: &EntryId) -> bool {
        self.subjects
            .get(key)
            .is_some_and(|es| es.iter().any(|e| e != at && self.dag.in_past(e, at)))
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
        parse_item(&self.network, h.kind, payload).map_err(|e| RuleError::Roster(Box::new(e)))?;
        if self.items.len() >= MAX_ROSTER_ENTRIES {
            return Err(RuleError::Roster(Box::new(RosterError::TooLarge {
                found: self.items.len(),
                limit: MAX_ROSTER_ENTRIES,
            })));
        }
        self.check_admin(entry)
    }

    /// What [`RosterLog::check`] asks of the header alone: the entry fits the log and its
    /// author was an admin in its past. Enough for a second entry at an occupied position to
    /// be evidence of a fork, whose payload is not needed to prove it.
    pub fn check_header(&self, entry: &Entry) -> Result<(), RuleError> {
        self.dag.check(entry)?;
        self.check_admin(entry)
    }

    fn check_admin(&self, entry: &Entry) -> Result<(), RuleError> {
        let h = entry.header();
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
        let parsed = parse_item(&self.network, h.kind, payload)
            .map_err(|e| RuleError::Roster(Box::new(e)))?;
        self.dag.insert(entry)?;
        self.add_item(
            entry.id(),
            Item {
                author: h.author,
                kind: h.kind,
                timestamp_ms: h.timestamp_ms,
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

mod authority;
mod details;
mod effect;
mod judge;
mod model;
mod resolve;
mod resolved;

pub use model::*;
pub use resolved::Roster;

#[cfg(test)]
mod tests;
