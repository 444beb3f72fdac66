//! The roster a roster log resolves to, and the authority it gives each report-log entry.

use std::collections::BTreeMap;

use super::*;

/// The roster as the roster log resolves: members, their history of changes, the status of
/// every roster entry, the policy and the published templates and macros.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub(super) network: Option<NetworkId>,
    pub(super) name: String,
    pub(super) policy: Policy,
    pub(super) members: BTreeMap<PublicKey, Member>,
    /// Per member, their admission and every change after it, in roster order — except that of
    /// concurrent changes the one in force (the most senior author's) comes last.
    pub(super) history: BTreeMap<PublicKey, Vec<(EntryId, Change)>>,
    pub(super) statuses: IdMap<Result<(), RosterError>>,
    pub(super) templates: Vec<(EntryId, Vec<u8>)>,
    pub(super) macros: Vec<(EntryId, Vec<u8>)>,
    /// Every (log, entry) a change or readmission vouches for.
    pub(super) vouched: std::collections::HashSet<(LogId, EntryId)>,
    /// The rotations that stand, by the key they replaced.
    pub(super) rotations: BTreeMap<PublicKey, RotationLink>,
    /// Changes of a key's details that lost to a concurrent change in force (the most senior
    /// author's): kept in `history`, never applied — no role, no frontier of theirs counts.
    pub(super) overridden: std::collections::HashSet<EntryId>,
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

    /// Accepted `macro.publish` payloads, in roster order.
    pub fn macros(&self) -> impl Iterator<Item = (&EntryId, &[u8])> {
        self.macros.iter().map(|(id, p)| (id, p.as_slice()))
    }

    /// Whether some change or readmission names `entry` of `log` as vouched for: when it
    /// arrives, the entries before it may stand again, so the log is judged again.
    pub fn vouches(&self, log: &LogId, entry: &EntryId) -> bool {
        // Asked for every entry a home takes in: a set lookup, built when the roster resolves.
        self.vouched.contains(&(*log, *entry))
    }

    /// The changes to `key`'s authority, admission first, in roster order (of concurrent
    /// changes of its details, the one in force last).
    pub fn history(&self, key: &PublicKey) -> Vec<&Change> {
        self.history
            .get(key)
            .map(|h| h.iter().map(|(_, c)| c).collect())
            .unwrap_or_default()
    }

    /// The names the roster has given `key`, in roster order: of its changes that applied
    /// (never one a concurrent change overrode: its details never held).
    pub fn names_given(&self, key: &PublicKey) -> Vec<&str> {
        self.history
            .get(key)
            .map(|h| {
                h.iter()
                    .filter(|change| !self.overridden.contains(&change.0))
                    .filter_map(|(_, c)| c.name.as_deref())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every key with a history of changes (admitted, changed or revoked by an entry that
    /// stands).
    pub fn history_keys(&self) -> impl Iterator<Item = &PublicKey> {
        self.history.keys()
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
        self.governing(author, log, entry, inside)
            .map(|(role, c)| Authority {
                role,
                admin: c.admin,
            })
    }

    /// The change whose details apply to `author`'s entry in report log `log` — the one
    /// [`Roster::authority`] reads the role from (always one with a role) — or why none does.
    /// Its `ai_model` is the model an AI key's entry was signed as.
    pub fn change_applying(
        &self,
        author: &PublicKey,
        log: &LogId,
        entry: &EntryId,
        inside: impl Fn(&EntryId) -> bool,
    ) -> Result<&Change, AuthorityError> {
        self.governing(author, log, entry, inside).map(|(_, c)| c)
    }

    /// The change that governs the entry, with the role it gives.
    fn governing(
        &self,
        author: &PublicKey,
        log: &LogId,
        entry: &EntryId,
        inside: impl Fn(&EntryId) -> bool,
    ) -> Result<(Role, &Change), AuthorityError> {
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
                return Err(self.ended(author, revocation.entry));
            }
        }
        // (Of concurrent changes only the one in force: the others' roles never applied, and
        // their frontiers vouch for nothing.)
        let mut changes = history
            .iter()
            .filter(|(id, _)| !self.overridden.contains(id))
            .map(|(_, c)| c);
        let Some(mut before) = changes.next() else {
            return Err(AuthorityError::UnknownAuthor {
                author: author.to_hex(),
            });
        };
        for change in changes {
            if covers(change) {
                break;
            }
            before = change;
        }
        match before.role {
            Some(role) => Ok((role, before)),
            None => {
                let revocation = self
                    .members
                    .get(author)
                    .and_then(|m| m.revoked.as_ref())
                    .map(|r| r.entry)
                    .unwrap_or_default();
                Err(self.ended(author, revocation))
            }
        }
    }

    /// The refusal of an entry by `author` outside what the change `entry` that ended their
    /// key's authority vouches for: `rotated` if it was a rotation, else `revoked`.
    fn ended(&self, author: &PublicKey, entry: EntryId) -> AuthorityError {
        match self.rotations.get(author).filter(|r| r.entry == entry) {
            Some(r) => AuthorityError::Rotated {
                author: author.to_hex(),
                new_key: r.new.to_hex(),
                rotation: entry,
            },
            None => AuthorityError::Revoked {
                author: author.to_hex(),
                revocation: entry,
            },
        }
    }

    /// The rotation that replaced `old`, if one stands.
    pub fn rotation_of(&self, old: &PublicKey) -> Option<&RotationLink> {
        self.rotations.get(old)
    }

    /// The rotation that brought `new` in, if one stands.
    pub fn rotation_into(&self, new: &PublicKey) -> Option<&RotationLink> {
        let old = self.members.get(new)?.rotated_from?;
        self.rotations.get(&old).filter(|r| r.new == *new)
    }

    /// Every key of the person `key` belongs to, oldest first: the keys rotations link to it
    /// (just `key` if it was never rotated, nothing if the roster never admitted it).
    pub fn person_keys(&self, key: &PublicKey) -> Vec<PublicKey> {
        if !self.members.contains_key(key) {
            return Vec::new();
        }
        // Each rotation brings in a key the roster never named, so the links form a chain;
        // the walk is bounded by the rotations held all the same.
        let mut first = *key;
        let mut steps = 0;
        while let Some(r) = self.rotation_into(&first) {
            first = r.old;
            steps += 1;
            if steps > self.rotations.len() {
                break;
            }
        }
        let mut keys = vec![first];
        while let Some(r) = self.rotations.get(keys.last().unwrap_or(&first)) {
            if keys.contains(&r.new) || keys.len() > self.rotations.len() {
                break;
            }
            keys.push(r.new);
        }
        keys
    }

    /// Where `key` stands among its person's keys, if it has more than one: "key 2 of 2,
    /// rotated on …". `None` for a key never rotated nor brought in by a rotation.
    pub fn key_place(&self, key: &PublicKey) -> Option<KeyPlace> {
        let keys = self.person_keys(key);
        if keys.len() < 2 {
            return None;
        }
        let number = keys.iter().position(|k| k == key)? + 1;
        Some(KeyPlace {
            number,
            keys: keys.len(),
            current: *keys.last()?,
            introduced: self.rotation_into(key).cloned(),
            replaced: self.rotation_of(key).cloned(),
        })
    }
}
