//! Who may change, revoke or demote whom: seniority over an admin, as of an entry's past or the
//! roster so far, and why a removed key's entry is refused.

use super::*;

impl RosterLog {
    /// Why `author`'s entry is refused by the removal `r` of their key in force: a
    /// revocation, or a rotation to a new key.
    pub(super) fn removed_error(&self, author: &PublicKey, r: EntryId) -> AuthorityError {
        match self.items.get(&r).map(|i| &i.parsed) {
            Some(Parsed::Rotate(p)) => AuthorityError::Rotated {
                author: author.to_hex(),
                new_key: p.new.to_hex(),
                rotation: r,
            },
            _ => AuthorityError::Revoked {
                author: author.to_hex(),
                revocation: r,
            },
        }
    }
}

/// `key`'s seniority if the roster as resolved so far (in roster order) has it as an admin.
pub(super) fn now_admin(roster: &Roster, key: &PublicKey) -> Option<u32> {
    roster
        .members
        .get(key)
        .filter(|m| m.admin)
        .and_then(|m| m.seniority)
}

/// Whether `author` (of rank `author_rank`) may revoke or demote `target`.
pub(super) fn check_removal(
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
pub(super) fn check_senior(
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
pub(super) fn takes_away(before: &Change, after: &Change) -> bool {
    let (Some(from), Some(to)) = (before.role, after.role) else {
        return after.role.is_none();
    };
    (before.admin && !after.admin)
        || (from == Role::Attending && to != Role::Attending)
        || Kind::ALL
            .iter()
            .any(|k| from.may_write(*k) && !to.may_write(*k))
}
