//! Resolving the roster log: every roster entry judged against the roster as of its own past,
//! removals (revocations, demotions of admins) applied in rounds — the most senior admin's
//! first — until nothing changes, and the governing revocation of each key chosen. How one
//! entry is judged in a pass is `judge`'s.

use std::collections::{HashMap, HashSet};

use super::details::*;
use super::effect::*;
use super::*;

impl RosterLog {
    /// The seniority of the most senior admin neither revoked nor frozen: who may amend what an
    /// admin who has equivocated since decided.
    pub(super) fn most_senior_standing(&self, roster: &Roster) -> Option<u32> {
        roster
            .members
            .values()
            .filter(|m| m.admin && m.revoked.is_none() && self.frozen_from(&m.key).is_none())
            .filter_map(|m| m.seniority)
            .min()
    }

    /// Whether the roster entry `id` is at or after its author's frozen position.
    pub(super) fn frozen_at(&self, id: &EntryId) -> bool {
        self.dag
            .position(id)
            .is_some_and(|(author, seq)| self.frozen_from(&author).is_some_and(|from| seq >= from))
    }

    /// Resolves the roster: changes that remove authority are applied in rounds, each pass
    /// re-judging every entry against what has been removed. A round applies the most senior
    /// admin's removals, and with them every removal whose author no pending removal can touch
    /// (neither its target nor made admin, however indirectly, by one) — so a department's many
    /// independent revocations resolve in a few passes, not one pass per admin.
    pub(super) fn resolve(&self) -> Roster {
        self.resolve_counting().0
    }

    /// [`RosterLog::resolve`], and how many passes it took.
    pub(super) fn resolve_counting(&self) -> (Roster, usize) {
        let order = self.dag.topological();
        let mut passes = 0;
        let mut applied: Vec<EntryId> = Vec::new();
        // Removals applied and then found to remove nothing (a demotion of someone another
        // removal of the same round left no admin): out of force, and never applied again, so
        // that the rounds end.
        let mut dropped: HashSet<EntryId> = HashSet::new();
        loop {
            passes += 1;
            let Some(pass) = self.settled_pass(&order, &mut applied, &mut dropped) else {
                continue;
            };
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
            // A rotation is a removal that also grants (the new key takes over), and its
            // standing turns on its old key's admission and on removals of that key, whoever
            // made them: the argument below for applying several removals at once does not
            // hold beside one. A roster holding a rotation is resolved one removal at a time,
            // the most senior pending first — the reference order itself. (Rotations are
            // rare; a department's roster costs one pass per removal then.)
            if self.holds_rotation {
                pending.sort_unstable();
                applied.extend(pending.first().map(|(.., id)| *id));
                continue;
            }
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

    /// One pass with the removals `applied` in force. An applied removal the pass no longer
    /// accepts goes out of force for good (into `dropped`); if one did, the pass is stale and
    /// `None` asks for another.
    pub(super) fn settled_pass(
        &self,
        order: &[EntryId],
        applied: &mut Vec<EntryId>,
        dropped: &mut HashSet<EntryId>,
    ) -> Option<Pass> {
        let pass = self.pass(order, applied);
        let accepted: HashSet<EntryId> = pass.removals.iter().map(|(.., id)| *id).collect();
        let before = applied.len();
        applied.retain(|id| {
            let still = accepted.contains(id);
            if !still {
                dropped.insert(*id);
            }
            still
        });
        (applied.len() == before).then_some(pass)
    }

    /// The keys whose authority a pending removal could change: their targets, and every admin
    /// an accepted grant by one of those made (and so on).
    /// Also returns the keys made admin (transitively) by a target: those whose standing a
    /// pending removal of someone else could change.
    pub(super) fn touched(
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
    pub(super) fn pass(&self, order: &[EntryId], applied: &[EntryId]) -> Pass {
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
        let mut latest = Latest::new();
        for (position, id) in order.iter().enumerate() {
            let Some(item) = self.items.get(id) else {
                continue;
            };
            let verdict = self.judge(id, item, &grants, &removed, &mut latest, &mut roster);
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
                        Effect::Regrant { key, rank } => {
                            // (Its author's removal could now change the key's standing too.)
                            grants.by_key.entry(key).or_default().push((*id, rank));
                            granted_by.entry(item.author).or_default().push(key);
                        }
                        Effect::Removal { rank } => removals.push((rank, position, *id)),
                        Effect::Rotate { rank, admin_rank } => {
                            removals.push((rank, position, *id));
                            if let (Some(admin_rank), Parsed::Rotate(p)) =
                                (admin_rank, &item.parsed)
                            {
                                // The new key holds the old one's grant, at its rank. (Who
                                // made whom admin only batches removals, which a roster with
                                // a rotation never does: see `resolve_counting`.)
                                grants
                                    .by_key
                                    .entry(p.new)
                                    .or_default()
                                    .push((*id, admin_rank));
                            }
                        }
                        Effect::Readmit { change, rank } => readmits.push((*id, change, rank)),
                        Effect::None => {}
                    }
                }
                Err(e) => {
                    roster.statuses.insert(*id, Err(e));
                }
            }
        }
        // Of a key's concurrent changes, the one in force (the most senior author's; `judge`)
        // goes last among its changes — where `authority` reads the details of the key's entries
        // no change vouches for — with the admin flag the key has, whichever came last in roster
        // order. (A key's only latest change is last already.)
        let in_force: Vec<(PublicKey, EntryId, bool)> = latest
            .iter()
            .filter(|(_, l)| l.len() > 1)
            .map(|(k, l)| {
                let admin = roster.members.get(k).is_some_and(|m| m.admin);
                (*k, l[winner(l)].0, admin)
            })
            .collect();
        // The key's other changes made without seeing the one in force lost to it: their
        // details never applied, so they neither mark entries as made before them (in
        // `authority`) nor vouch for any. Left in, a junior's losing change covering more of the
        // key's entries than the senior's let those count under the role the senior took away.
        roster.overridden = in_force
            .iter()
            .flat_map(|(key, w, _)| {
                roster
                    .history
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter_map(move |(c, change)| {
                        (c != w && change.role.is_some() && !self.dag.in_past(c, w)).then_some(*c)
                    })
            })
            .collect();
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
            // A rotation ends the old key's authority as a revocation does: it can govern.
            if let Some((target, ..)) = ending(item) {
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
                    .entry(target)
                    .and_modify(|g| *g = (*g).min(key))
                    .or_insert(key);
            }
        }
        for (target, (.., id)) in &governing {
            let Some(item) = self.items.get(id) else {
                continue;
            };
            let Some((_, reason, frontier)) = ending(item) else {
                continue;
            };
            if let Some(m) = roster.members.get_mut(target) {
                m.revoked = Some(Revocation {
                    entry: *id,
                    by: item.author,
                    reason: reason.to_string(),
                });
                m.admin = false;
                m.seniority = None;
            }
            let mut change = change_of_revocation(*id, frontier);
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
                Some(Parsed::Revoke(_) | Parsed::Rotate(_)) => match governing.get(&r.key) {
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
            .filter(|(id, _)| !roster.overridden.contains(id))
            .flat_map(|(_, c)| {
                c.frontier
                    .iter()
                    .map(|(l, e)| (*l, *e))
                    .chain(c.readmitted.iter().copied())
            })
            .collect();
        // Changes in roster order (applied revocations were appended last), then the change in
        // force of concurrent ones moved after the others.
        for history in roster.history.values_mut() {
            history.sort_by_key(|(id, _)| rank.get(id).copied().unwrap_or(usize::MAX));
        }
        for (key, w, admin) in in_force {
            let Some(history) = roster.history.get_mut(&key) else {
                continue;
            };
            let Some(at) = history.iter().position(|(id, _)| *id == w) else {
                continue;
            };
            let mut change = history.remove(at);
            change.1.admin = admin;
            // After every other change of its details; before a revocation (which had every
            // change it let stand in its past).
            let last = history
                .iter()
                .rposition(|(_, c)| c.role.is_some())
                .map_or(0, |i| i + 1);
            history.insert(last.max(at), change);
        }
        Pass {
            roster,
            removals,
            granted_by,
        }
    }
}

pub(super) struct Pass {
    pub(super) roster: Roster,
    /// (author's rank, position in order, entry) of every accepted removal.
    pub(super) removals: Vec<(u32, usize, EntryId)>,
    /// Per admin, the keys their accepted grants made admin.
    pub(super) granted_by: HashMap<PublicKey, Vec<PublicKey>>,
}

/// Per key, the accepted changes of its details (admission, change, the rotation bringing it
/// in) that no later accepted change of it has in its past, each with its author's rank and
/// the details it sets. Of these, the most senior author's is in force.
pub(super) type Latest = HashMap<PublicKey, Vec<(EntryId, u32, Details)>>;

/// The accepted admin grants of a pass so far.
#[derive(Default)]
pub(super) struct Grants {
    /// Per key: (granting entry, seniority), in roster order.
    pub(super) by_key: HashMap<PublicKey, Vec<(EntryId, u32)>>,
    pub(super) count: u32,
}

impl Grants {
    /// The latest grant making `key` an admin in the past of `at`, and its rank.
    pub(super) fn latest_in_past(
        &self,
        dag: &Dag,
        key: &PublicKey,
        at: &EntryId,
    ) -> Option<(EntryId, u32)> {
        self.by_key
            .get(key)
            .into_iter()
            .flatten()
            .filter(|(g, _)| dag.in_past(g, at))
            .max_by_key(|(_, r)| *r)
            .copied()
    }
}
