//! The roster a roster log resolves to, and the authority it gives each report-log entry.

use std::collections::BTreeMap;

use super::*;

/// The roster as the roster log resolves: members, their history of changes, the status of
/// every roster entry, the policy and the published templates.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub(super) network: Option<NetworkId>,
    pub(super) name: String,
    pub(super) policy: Policy,
    pub(super) members: BTreeMap<PublicKey, Member>,
    /// Per member, their admission and every change after it, in roster order.
    pub(super) history: BTreeMap<PublicKey, Vec<(EntryId, Change)>>,
    pub(super) statuses: IdMap<Result<(), RosterError>>,
    pub(super) templates: Vec<(EntryId, Vec<u8>)>,
    /// Every (log, entry) a change or readmission vouches for.
    pub(super) vouched: std::collections::HashSet<(LogId, EntryId)>,
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
