//! What an accepted roster entry does to the resolution, and what a removal of a key ends.

use super::*;

/// What an accepted roster entry does to the resolution.
pub(super) enum Effect {
    None,
    Grant(PublicKey),
    /// An admin grant of a key already an admin: its grant too, at the rank the key holds.
    Regrant {
        key: PublicKey,
        rank: u32,
    },
    /// A readmission, amending this change of its key, by an author of this rank.
    Readmit {
        change: EntryId,
        rank: u32,
    },
    /// A revocation or an admin's demotion, by an author of this rank.
    Removal {
        rank: u32,
    },
    /// A rotation by an author of this rank: a removal of its old key, and its new key
    /// admitted in its place (an admin of `admin_rank` if the old one was).
    Rotate {
        rank: u32,
        admin_rank: Option<u32>,
    },
}

pub(super) fn change_of_revocation(entry: EntryId, frontier: &Frontier) -> Change {
    Change {
        entry,
        role: None,
        admin: false,
        frontier: frontier.clone(),
        readmitted: Vec::new(),
        ai_model: None,
        name: None,
    }
}

pub(super) fn removal_target(item: &Item) -> Option<PublicKey> {
    match &item.parsed {
        Parsed::Revoke(p) => Some(p.key),
        Parsed::Rotate(p) => Some(p.old),
        Parsed::Member(p) if !p.admin => Some(p.key),
        _ => None,
    }
}

/// A revocation's or a rotation's target, reason and frontier: what ends a key's authority.
pub(super) fn ending(item: &Item) -> Option<(PublicKey, &str, &Frontier)> {
    match &item.parsed {
        Parsed::Revoke(p) => Some((p.key, p.reason.as_str(), &p.frontier)),
        Parsed::Rotate(p) => Some((p.old, p.reason.as_str(), &p.frontier)),
        _ => None,
    }
}
