//! The roster rules, each tried the way an insider would: a revoked key backdating, a revoked
//! admin admitting an accomplice, a junior admin turning on the founder, and concurrent changes
//! delivered in every order. This file holds the shared test network ([`Net`]); the rules are
//! tried in `rules.rs`, earlier regressions in `regressions.rs`, the review's attacks on the
//! rounds in `rounds.rs` and on who may amend what in `amends.rs`, random histories in
//! `histories.rs`, two admins' grants or admissions of one key in `grants.rs`, a grant beside a
//! demotion and an admission beside an admission, in both roster orders, in `orders.rs`;
//! concurrent changes of a key's details in `details.rs`, and what the ones that lost must not
//! decide in `losers.rs`; an insider's attacks on those rules in `attacks.rs`.

use super::*;
use crate::{Hash, Header, SecretKey};

mod amends;
mod attacks;
mod details;
mod grants;
mod histories;
mod losers;
mod orders;
mod regressions;
mod rotation;
mod rounds;
mod rules;

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

/// A roster log under construction, signing as any of the test keys.
struct Net {
    log: RosterLog,
    genesis: Entry,
    seqs: HashMap<PublicKey, u64>,
    /// Every entry signed, with its payload, in signing order.
    signed: Vec<(Entry, Vec<u8>)>,
}

impl Net {
    /// Founded by key 1, an attending admin.
    fn new() -> Net {
        let payload = serde_json::to_vec(&GenesisPayload {
            name: "Dept".into(),
            founder: MemberPayload::new(key(1).public(), "Founder", Role::Attending, true),
            policy: None,
        })
        .unwrap();
        let h = Header::new(
            Hash::ZERO,
            Hash::ZERO,
            key(1).public(),
            1,
            1_000,
            Kind::NetworkGenesis,
            vec![],
            &payload,
        );
        let genesis = Entry::sign(h, &key(1)).unwrap();
        let log = RosterLog::new(&genesis, &payload).unwrap();
        let mut seqs = HashMap::new();
        seqs.insert(key(1).public(), 1);
        Net {
            log,
            signed: vec![(genesis.clone(), payload)],
            genesis,
            seqs,
        }
    }

    fn id(&self) -> EntryId {
        self.genesis.id()
    }

    /// Signs an entry by key `who` on `parents` (the current heads when `None`), with any
    /// timestamp, and inserts it after checking it.
    fn sign(
        &mut self,
        who: u8,
        kind: Kind,
        payload: impl Serialize,
        parents: Option<Vec<EntryId>>,
        timestamp_ms: u64,
    ) -> Result<EntryId, RuleError> {
        let author = key(who).public();
        let seq = self.seqs.get(&author).copied().unwrap_or(0) + 1;
        self.sign_at(who, seq, kind, payload, parents, timestamp_ms)
    }

    /// As [`Net::sign`] at an explicit sequence: an equivocation when it is taken.
    fn sign_at(
        &mut self,
        who: u8,
        seq: u64,
        kind: Kind,
        payload: impl Serialize,
        parents: Option<Vec<EntryId>>,
        timestamp_ms: u64,
    ) -> Result<EntryId, RuleError> {
        let payload = serde_json::to_vec(&payload).unwrap();
        let mut parents = parents.unwrap_or_else(|| self.log.dag().heads());
        parents.sort();
        parents.dedup();
        let author = key(who).public();
        let h = Header::new(
            self.id(),
            self.id(),
            author,
            seq,
            timestamp_ms,
            kind,
            parents,
            &payload,
        );
        let entry = Entry::sign(h, &key(who)).unwrap();
        self.log.check(&entry, &payload)?;
        self.log.insert(&entry, &payload)?;
        let s = self.seqs.entry(author).or_insert(0);
        *s = (*s).max(seq);
        self.signed.push((entry.clone(), payload));
        Ok(entry.id())
    }

    fn admit(&mut self, who: u8, by: u8, role: Role, admin: bool) -> EntryId {
        let p = MemberPayload::new(key(who).public(), &format!("member {who}"), role, admin);
        self.sign(by, Kind::RosterMember, p, None, 2_000).unwrap()
    }

    fn revoke(&mut self, who: u8, by: u8, frontier: Frontier) -> Result<EntryId, RuleError> {
        let p = RevokePayload {
            key: key(who).public(),
            reason: "left".into(),
            frontier,
        };
        self.sign(by, Kind::RosterRevoke, p, None, 3_000)
    }

    fn roster(&self) -> &Roster {
        self.log.roster()
    }

    /// A `roster.member` of `who` by `by`, on `parents` (the heads when `None`).
    fn member(
        &mut self,
        who: u8,
        by: u8,
        role: Role,
        admin: bool,
        parents: Option<Vec<EntryId>>,
    ) -> EntryId {
        let p = MemberPayload::new(key(who).public(), &format!("member {who}"), role, admin);
        self.sign(by, Kind::RosterMember, p, parents, 2_000)
            .unwrap()
    }

    /// An attending `who`, admin or not, by `by` on `parents`, at `ts` (concurrent entries are
    /// ordered by id, so the timestamp picks an order).
    fn member_at(
        &mut self,
        who: u8,
        by: u8,
        admin: bool,
        parents: Vec<EntryId>,
        ts: u64,
    ) -> EntryId {
        let p = MemberPayload::new(
            key(who).public(),
            &format!("m{who}"),
            Role::Attending,
            admin,
        );
        self.sign(by, Kind::RosterMember, p, Some(parents), ts)
            .unwrap()
    }

    /// A revocation of `who` by `by` on `parents`.
    fn revoke_on(
        &mut self,
        who: u8,
        by: u8,
        frontier: Frontier,
        parents: Option<Vec<EntryId>>,
    ) -> EntryId {
        let p = RevokePayload {
            key: key(who).public(),
            reason: "left".into(),
            frontier,
        };
        self.sign(by, Kind::RosterRevoke, p, parents, 3_000)
            .unwrap()
    }

    /// A revocation of `who` by `by` with an empty frontier, on `parents`, at `ts`.
    fn revoke_at(&mut self, who: u8, by: u8, parents: Vec<EntryId>, ts: u64) -> EntryId {
        let p = RevokePayload {
            key: key(who).public(),
            reason: String::new(),
            frontier: Frontier::new(),
        };
        self.sign(by, Kind::RosterRevoke, p, Some(parents), ts)
            .unwrap()
    }

    fn readmit(
        &mut self,
        who: u8,
        by: u8,
        log: LogId,
        entry: EntryId,
        change: Option<EntryId>,
    ) -> EntryId {
        let p = ReadmitPayload {
            key: key(who).public(),
            log,
            entry,
            change,
        };
        self.sign(by, Kind::RosterReadmit, p, None, 4_000).unwrap()
    }

    fn rank(&self, who: u8) -> Option<u32> {
        self.roster()
            .member(&key(who).public())
            .and_then(|m| m.seniority)
    }

    fn refused(&self, id: &EntryId) -> Option<&'static str> {
        match self.roster().status(id) {
            Some(Err(e)) => Some(e.code()),
            _ => None,
        }
    }
}

/// An entry of a report log, by position, for [`Roster::authority`].
fn report_authority(
    roster: &Roster,
    who: u8,
    log: LogId,
    seq: u64,
    vouched_seq: impl Fn(&EntryId) -> Option<u64>,
) -> Result<Authority, AuthorityError> {
    let entry = Hash([seq as u8; 32]);
    roster.authority(&key(who).public(), &log, &entry, |v| {
        vouched_seq(v).is_some_and(|s| seq <= s)
    })
}
