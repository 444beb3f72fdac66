//! Who signed an entry: a key resolved to its roster name, role and place among its person's keys.

use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{PublicKey, Role, Roster};
use serde::Serialize;

/// Who or what signed an entry, as the roster names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    pub key: PublicKey,
    /// The person's name as the roster has it now (for a rotated key, the name of the person's
    /// current key: one person across keys).
    pub name: String,
    /// In a report's view, the role the roster gave the key for that very entry (the one the
    /// rules judged it by: a resident's draft reads "resident" after a promotion); from
    /// [`author`], the role the roster gives it now.
    pub role: Option<Role>,
    /// An AI key's vendor, model and version, as of the entry in a report's view (as `role`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<AiModelInfo>,
    /// For a person who has rotated their key: which of their keys signed ("key 2 of 2,
    /// rotated on …"). Absent for a key never rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonKey>,
    /// In a report's view, the name the roster gave the key when it signed that very entry,
    /// where it is not `name`: a rename (honest, or an admin's to make past entries read as
    /// another person's) never rewrites who signed (found by review, 2026-12-05).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_then: Option<String>,
    /// Every other name the roster has given this key (not `name`, not `name_then`), oldest
    /// first: a rename whose frontier does not reach an entry (an admin's crafted without one)
    /// still cannot hide that the key was named otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub formerly: Vec<String>,
}

/// Where a key stands among the keys of one person (see [`Roster::key_place`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonKey {
    /// This is key `number` of the person's `keys`, oldest first.
    pub number: usize,
    pub keys: usize,
    /// The person's key now.
    pub current: PublicKey,
    /// When a rotation brought this key in: the rotation entry's timestamp (its signer's
    /// clock), to show, never to judge by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_ms: Option<u64>,
    /// Whether that rotation replaced a lost key (an admin alone, without the old key's
    /// consent).
    pub replaced_lost_key: bool,
    /// When this key was itself rotated away (display only, as `rotated_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_ms: Option<u64>,
}

impl PersonKey {
    /// "key 2 of 2" — and ", rotated on DATE" is the caller's to add with its own calendar.
    pub fn ordinal(&self) -> String {
        format!("key {} of {}", self.number, self.keys)
    }
}

/// Resolves a key to its roster name and role, and for a rotated key, which of its person's
/// keys it is.
pub fn author(roster: &Roster, key: &PublicKey) -> Author {
    match roster.member(key) {
        Some(m) => {
            let place = roster.key_place(key);
            let name = place
                .as_ref()
                .and_then(|p| roster.member(&p.current))
                .map_or_else(|| m.name.clone(), |now| now.name.clone());
            Author {
                key: *key,
                role: Some(m.role),
                ai_model: m.ai_model.clone(),
                person: place.map(|p| PersonKey {
                    number: p.number,
                    keys: p.keys,
                    current: p.current,
                    rotated_ms: p.introduced.as_ref().map(|r| r.at_ms),
                    replaced_lost_key: p.introduced.as_ref().is_some_and(|r| !r.consented),
                    retired_ms: p.replaced.as_ref().map(|r| r.at_ms),
                }),
                name_then: None,
                formerly: other_names(roster, key, &name),
                name,
            }
        }
        None => Author {
            key: *key,
            name: "unknown author".into(),
            role: None,
            ai_model: None,
            person: None,
            name_then: None,
            formerly: Vec::new(),
        },
    }
}

/// The names the roster has given `key` other than `now`, oldest first, each once (never one
/// of a change a concurrent one overrode, which never held: found by review, 2026-12-05).
fn other_names(roster: &Roster, key: &PublicKey, now: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in roster.names_given(key) {
        if name != now && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}
