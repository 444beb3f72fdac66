//! Judging one roster entry against the roster as of its own past: who may grant, change,
//! revoke or demote whom, and what an accepted entry does. The rounds in `resolve` call it for
//! every entry of every pass.

use std::collections::HashMap;

use super::authority::*;
use super::details::*;
use super::effect::*;
use super::resolve::{Grants, Latest};
use super::*;

impl RosterLog {
    /// Judges one roster entry in a pass; on success says what it does.
    pub(super) fn judge(
        &self,
        id: &EntryId,
        item: &Item,
        grants: &Grants,
        removed: &HashMap<PublicKey, Vec<EntryId>>,
        latest: &mut Latest,
        roster: &mut Roster,
    ) -> Result<Effect, RosterError> {
        if let Parsed::Genesis(g) = &item.parsed {
            latest.insert(
                g.founder.key,
                vec![(*id, 0, Details::of_payload(&g.founder))],
            );
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
                    ai_model: g.founder.ai_model.clone(),
                    name: Some(g.founder.name.clone()),
                },
            ));
            return Ok(Effect::Grant(item.author));
        }
        let author = &item.author;
        // A removal in force leaves out every roster entry of its target that is not in its
        // past — unless the target was made admin again after it (a demotion undone).
        // (The lowest id of those that do: the same whatever order the removals were applied
        // in, so that the rule named — revoked or rotated — is too.)
        let outside = removed.get(author).and_then(|removals| {
            removals
                .iter()
                .copied()
                .filter(|r| {
                    r != id
                        && !self.dag.in_past(id, r)
                        && !grants
                            .by_key
                            .get(author)
                            .into_iter()
                            .flatten()
                            .any(|(g, _)| self.dag.in_past(g, id) && !self.dag.in_past(g, r))
                })
                .min()
        });
        if let Some(revocation) = outside {
            return Err(self.removed_error(author, revocation).into());
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
        // `key`'s rank if it is an admin as of this entry's past: a grant there with no removal
        // there that is not before it (the latest such). Asked of every grant there, not only
        // the latest: two admins' concurrent grants of one key share its rank, and a removal
        // one of them saw does not undo the other.
        let admin_in_past = |key: &PublicKey| {
            let removed_since = |grant: &EntryId| {
                removed.get(key).is_some_and(|rs| {
                    // (Not this entry itself: a removal in force is judged as when it was made.)
                    rs.iter()
                        .any(|r| r != id && self.dag.in_past(r, id) && !self.dag.in_past(r, grant))
                })
            };
            grants
                .by_key
                .get(key)
                .into_iter()
                .flatten()
                .filter(|(g, _)| self.dag.in_past(g, id) && !removed_since(g))
                .map(|(_, rank)| *rank)
                .max()
        };
        // An applied revocation of `key` that this entry is not in the past of.
        // (Looked up by target: scanning every applied removal per entry made a roster with
        // many revocations quadratic to resolve.)
        // (A rotation ends the old key's authority as a revocation does.)
        let is_revocation = |r: &EntryId| {
            matches!(
                self.items.get(r).map(|i| &i.parsed),
                Some(Parsed::Revoke(_) | Parsed::Rotate(_))
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
                // Nor does a grant beside a demotion of the key in force that neither had seen
                // undo it: removals win over what they had not seen (as over a rotation), so the
                // grant leaves the admin flag as it was, whichever comes first in roster order.
                // (A grant made having seen the demotion does undo it.)
                let contested = p.admin
                    && removed.get(&p.key).is_some_and(|rs| {
                        rs.iter()
                            .any(|r| !self.dag.in_past(r, id) && !self.dag.in_past(id, r))
                    });
                // An admission or a change as of this entry's own past: of two admins'
                // concurrent admissions of a key, the one placed second in roster order is no
                // change, and its frontier vouches for nothing.
                let admitted = roster
                    .history
                    .get(&p.key)
                    .into_iter()
                    .flatten()
                    .any(|(c, _)| self.dag.in_past(c, id));
                let previous = roster.members.get(&p.key).cloned();
                let mut member = member_from(p, previous.as_ref().map_or(*id, |m| m.admitted));
                member.seniority = previous.as_ref().and_then(|m| m.seniority);
                // A change of a key a rotation brought in keeps the link to the person's keys.
                member.rotated_from = previous.as_ref().and_then(|m| m.rotated_from);
                member.rotated_to = previous.as_ref().and_then(|m| m.rotated_to);
                member.admin = if contested {
                    previous.as_ref().is_some_and(|m| m.admin)
                } else {
                    p.admin || keeps_admin
                };
                if !member.admin {
                    member.seniority = None;
                }
                // Of changes of one key's details that neither saw the other, the most senior
                // author's is in force (a junior admin cannot override a senior, as for
                // removals); one made having seen another replaces it. Never the later in roster
                // order, which an author steers by a timestamp. (The admin flag keeps its own
                // rules above.)
                self.in_force(latest, &p.key, *id, author_rank, Details::of_payload(p))
                    .apply(&mut member);
                let admin = member.admin;
                roster.members.insert(p.key, member);
                roster.history.entry(p.key).or_default().push((
                    *id,
                    Change {
                        entry: *id,
                        role: Some(p.role),
                        admin,
                        frontier: if admitted {
                            p.frontier.clone()
                        } else {
                            Frontier::new()
                        },
                        readmitted: Vec::new(),
                        ai_model: p.ai_model.clone(),
                        name: Some(p.name.clone()),
                    },
                ));
                if demotes {
                    return Ok(Effect::Removal { rank: author_rank });
                }
                if contested {
                    return Ok(Effect::None);
                }
                let already_admin = grants.by_key.contains_key(&p.key)
                    && previous.as_ref().is_some_and(|m| m.admin);
                if p.admin && !already_admin {
                    return Ok(Effect::Grant(p.key));
                }
                // A grant of a key already an admin (by a grant this one need not have seen)
                // still makes it an admin for the entries that have this one in their past, at
                // the rank it holds: a concurrent grant placed first in roster order must not
                // mask it.
                if let Some(rank) = previous
                    .as_ref()
                    .filter(|_| p.admin && already_admin)
                    .and_then(|m| m.seniority)
                {
                    return Ok(Effect::Regrant { key: p.key, rank });
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
            Parsed::Rotate(p) => {
                // The old key: a member admitted in this rotation's past, neither revoked nor
                // rotated already (a rotation of a removed key would admit a key in its place),
                // and no removal of it standing that this rotation had not seen — a
                // rotation brings in a key with the old one's authority, so it must not carry
                // an admin flag a concurrent demotion took away. Removals win over it.
                if let Some(revocation) = revoked_by(&p.old) {
                    return Err(RosterError::KeyRevoked {
                        key: p.old.to_hex(),
                        revocation,
                    });
                }
                // (Admitted by any accepted entry naming it in this rotation's past, not only
                // the first in roster order: a concurrent admission placed first must not mask
                // the one the rotation saw.)
                let admitted_in_past = roster
                    .history
                    .get(&p.old)
                    .is_some_and(|h| h.iter().any(|(c, _)| self.dag.in_past(c, id)));
                let Some(old) = roster
                    .members
                    .get(&p.old)
                    .filter(|_| admitted_in_past)
                    .cloned()
                else {
                    return Err(RosterError::RotationUnknownKey {
                        key: p.old.to_hex(),
                    });
                };
                let unseen = removed.get(&p.old).and_then(|rs| {
                    rs.iter()
                        .copied()
                        .filter(|r| r != id && !self.dag.in_past(r, id) && !self.dag.in_past(id, r))
                        .min()
                });
                if let Some(removal) = unseen {
                    return Err(RosterError::RotationContested {
                        key: p.old.to_hex(),
                        removal,
                    });
                }
                // The new key: one no roster entry in this rotation's past names (not another
                // member's, not a revoked one's, not a key rotated away) — asked of the past
                // whatever became of those entries, so that whether a rotation stands never
                // turns on a concurrent admission's fate.
                if self.named_before(&p.new, id) {
                    return Err(RosterError::RotationKeyKnown {
                        key: p.new.to_hex(),
                    });
                }
                // As for a removal: an admin's key is rotated by its holder, or by an admin
                // more senior (a lost key's replacement too).
                let target_admin = admin_in_past(&p.old).or(now_admin(roster, &p.old));
                if p.old != *author {
                    check_senior(&p.old, target_admin, author_rank)?;
                }
                // The new key is the same person: the old key's details, its admin flag and
                // its seniority (a founder who rotates stays the most senior).
                let admin_rank = old.seniority.filter(|_| old.admin);
                let mut member = Member {
                    key: p.new,
                    admitted: *id,
                    revoked: None,
                    readmitted: Vec::new(),
                    rotated_from: Some(p.old),
                    rotated_to: None,
                    seniority: admin_rank,
                    admin: admin_rank.is_some(),
                    ..old.clone()
                };
                // (Beside a concurrent admission of the new key, as for any change of it.)
                self.in_force(latest, &p.new, *id, author_rank, Details::of_member(&old))
                    .apply(&mut member);
                roster.history.entry(p.new).or_default().push((
                    *id,
                    Change {
                        entry: *id,
                        role: Some(old.role),
                        admin: member.admin,
                        frontier: Frontier::new(),
                        readmitted: Vec::new(),
                        ai_model: old.ai_model.clone(),
                        name: Some(old.name.clone()),
                    },
                ));
                roster.members.insert(p.new, member);
                if let Some(m) = roster.members.get_mut(&p.old) {
                    m.rotated_to = Some(p.new);
                }
                roster.rotations.insert(
                    p.old,
                    RotationLink {
                        entry: *id,
                        old: p.old,
                        new: p.new,
                        by: *author,
                        at_ms: item.timestamp_ms,
                        consented: p.consent.is_some(),
                    },
                );
                Ok(Effect::Rotate {
                    rank: author_rank,
                    admin_rank,
                })
            }
            Parsed::Publish(bytes) => {
                roster.templates.push((*id, bytes.clone()));
                Ok(Effect::None)
            }
            Parsed::PublishMacro(bytes) => {
                roster.macros.push((*id, bytes.clone()));
                Ok(Effect::None)
            }
        }
    }
}
