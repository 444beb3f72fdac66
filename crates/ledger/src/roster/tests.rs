//! The roster rules, each tried the way an insider would: a revoked key backdating, a revoked
//! admin admitting an accomplice, a junior admin turning on the founder, and concurrent changes
//! delivered in every order.

use super::*;
use crate::{Hash, Header, SecretKey};

mod histories;
mod resolution;

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

#[test]
fn the_genesis_must_be_signed_by_an_admin_founder() {
    let g = GenesisPayload {
        name: "Dept".into(),
        founder: MemberPayload::new(key(1).public(), "F", Role::Attending, true),
        policy: None,
    };
    let sign = |by: u8, g: &GenesisPayload| {
        let payload = serde_json::to_vec(g).unwrap();
        let h = Header::new(
            Hash::ZERO,
            Hash::ZERO,
            key(by).public(),
            1,
            0,
            Kind::NetworkGenesis,
            vec![],
            &payload,
        );
        (Entry::sign(h, &key(by)).unwrap(), payload)
    };
    let (e, p) = sign(2, &g);
    assert_eq!(
        RosterLog::new(&e, &p).unwrap_err(),
        RosterError::GenesisNotByFounder
    );
    let mut not_admin = g.clone();
    not_admin.founder.admin = false;
    let (e, p) = sign(1, &not_admin);
    assert_eq!(
        RosterLog::new(&e, &p).unwrap_err(),
        RosterError::FounderNotAdmin
    );
    let (e, p) = sign(1, &g);
    assert!(RosterLog::new(&e, &p).is_ok());
}

#[test]
fn only_an_admin_in_the_entrys_past_may_write_the_roster() {
    let mut net = Net::new();
    let genesis = net.id();
    net.admit(2, 1, Role::Radiologist, false);
    let p = MemberPayload::new(key(3).public(), "accomplice", Role::Attending, true);
    let err = net
        .sign(2, Kind::RosterMember, &p, None, 5_000)
        .unwrap_err();
    assert_eq!(err.code(), "not_admin");
    // Made admin later: an entry naming only the genesis still did not see the grant.
    net.admit(2, 1, Role::Radiologist, true);
    let err = net
        .sign(2, Kind::RosterMember, &p, Some(vec![genesis]), 5_000)
        .unwrap_err();
    assert_eq!(err.code(), "not_admin");
    let ok = net.sign(2, Kind::RosterMember, &p, None, 5_000).unwrap();
    assert_eq!(net.roster().status(&ok), Some(&Ok(())));
    assert!(net.roster().member(&key(3).public()).unwrap().admin);
}

#[test]
fn a_revoked_key_is_refused_outside_its_frontier_whatever_its_timestamp() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, false);
    let report = Hash([0xAA; 32]);
    let other = Hash([0xBB; 32]);
    // The admin vouches for the member's entries up to sequence 3 of `report`.
    let vouched = Hash([3; 32]);
    let mut frontier = Frontier::new();
    frontier.insert(report, vouched);
    net.revoke(2, 1, frontier).unwrap();
    let roster = net.roster();
    let upto = |v: &EntryId| (*v == vouched).then_some(3);
    for seq in 1..=3 {
        assert_eq!(
            report_authority(roster, 2, report, seq, upto).map(|a| a.role),
            Ok(Role::Attending),
            "seq {seq} is inside the frontier"
        );
    }
    // Sequence 4 of that report, or anything in a log the frontier does not name (a report
    // the revoked key starts now and dates last year, say), is refused.
    assert_eq!(
        report_authority(roster, 2, report, 4, upto)
            .unwrap_err()
            .code(),
        "revoked"
    );
    assert_eq!(
        report_authority(roster, 2, other, 1, upto)
            .unwrap_err()
            .code(),
        "revoked"
    );
    assert!(!roster.is_active(&key(2).public()));
    assert!(roster.member(&key(2).public()).unwrap().revoked.is_some());
}

#[test]
fn a_revoked_admin_cannot_admit_an_accomplice_by_backdating() {
    let mut net = Net::new();
    let before = net.admit(2, 1, Role::Attending, true);
    net.revoke(2, 1, Frontier::new()).unwrap();
    // The revoked admin signs an admission that names only the roster as it was before the
    // revocation, and dates it at 0: still outside the revocation's past.
    let accomplice = MemberPayload::new(key(9).public(), "accomplice", Role::Attending, true);
    let backdated = net
        .sign(2, Kind::RosterMember, &accomplice, Some(vec![before]), 0)
        .unwrap();
    assert_eq!(net.refused(&backdated), Some("revoked"));
    assert!(net.roster().member(&key(9).public()).is_none());
    // The accomplice's revocation of the founder builds on that admission, so it is stored (it
    // names a grant in its past), and refused: the grant it relies on never took effect.
    let takeover = RevokePayload {
        key: key(1).public(),
        reason: "takeover".into(),
        frontier: Frontier::new(),
    };
    let attempt = net.sign(9, Kind::RosterRevoke, &takeover, None, 0).unwrap();
    assert_eq!(net.refused(&attempt), Some("not_admin"));
    assert!(net.roster().is_active(&key(1).public()));
    assert!(net.roster().member(&key(1).public()).unwrap().admin);
}

#[test]
fn a_junior_admin_cannot_revoke_a_senior_one_and_nobody_revokes_themselves() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    net.admit(3, 1, Role::Attending, true);
    let on_founder = net.revoke(1, 2, Frontier::new()).unwrap();
    assert_eq!(net.refused(&on_founder), Some("not_senior"));
    let on_senior = net.revoke(2, 3, Frontier::new()).unwrap();
    assert_eq!(net.refused(&on_senior), Some("not_senior"));
    let on_self = net.revoke(3, 3, Frontier::new()).unwrap();
    assert_eq!(net.refused(&on_self), Some("self_removal"));
    // Down the order it works.
    let on_junior = net.revoke(3, 2, Frontier::new()).unwrap();
    assert_eq!(net.roster().status(&on_junior), Some(&Ok(())));
    assert!(!net.roster().is_active(&key(3).public()));
    assert!(net.roster().is_active(&key(1).public()));
    assert!(net.roster().is_active(&key(2).public()));
    // The founder ranks first, then admins in the order they were made.
    let rank = |n| net.roster().member(&key(n).public()).unwrap().seniority;
    assert_eq!((rank(1), rank(2), rank(3)), (Some(0), Some(1), None));
}

#[test]
fn when_two_admins_revoke_each_other_concurrently_the_senior_stands_in_every_order() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    let fork_point = net.admit(3, 1, Role::Attending, true);
    // 2 revokes 3 and 3 "revokes" 2 (refused outright: junior), and 3 concurrently admits
    // someone: 2's revocation leaves 3's admission outside its frontier.
    let by_two = net
        .sign(
            2,
            Kind::RosterRevoke,
            RevokePayload {
                key: key(3).public(),
                reason: String::new(),
                frontier: Frontier::new(),
            },
            Some(vec![fork_point]),
            4_000,
        )
        .unwrap();
    let by_three = net
        .sign(
            3,
            Kind::RosterMember,
            MemberPayload::new(key(4).public(), "friend", Role::Radiologist, false),
            Some(vec![fork_point]),
            1,
        )
        .unwrap();
    let expected = |log: &RosterLog| {
        let r = log.roster();
        (
            r.status(&by_two).cloned(),
            r.status(&by_three)
                .map(|s| s.as_ref().map(|_| ()).map_err(|e| e.code())),
            r.is_active(&key(3).public()),
            r.member(&key(4).public()).is_some(),
        )
    };
    let want = expected(&net.log);
    assert_eq!(want.0, Some(Ok(())));
    assert_eq!(want.1, Some(Err("revoked")));
    assert!(!want.2 && !want.3);
    // Every delivery order of the signed entries resolves to the same roster.
    let entries = net.signed.clone();
    let orders: Vec<Vec<usize>> = vec![(0..entries.len()).collect(), {
        let mut o: Vec<usize> = (0..entries.len()).collect();
        o[1..].reverse();
        o
    }];
    for order in orders {
        let (g, gp) = &entries[order[0]];
        let mut log = RosterLog::new(g, gp).unwrap();
        let mut pending: Vec<usize> = order[1..].to_vec();
        while !pending.is_empty() {
            pending.retain(|&i| {
                let (e, p) = &entries[i];
                if e.header().parents.iter().all(|x| log.dag().contains(x)) {
                    log.insert(e, p).unwrap();
                    false
                } else {
                    true
                }
            });
        }
        assert_eq!(expected(&log), want);
    }
}

#[test]
fn a_role_change_applies_from_its_frontier_and_old_entries_keep_the_old_role() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Resident, false);
    let report = Hash([0xAA; 32]);
    let vouched = Hash([5; 32]);
    let mut promotion = MemberPayload::new(key(2).public(), "member 2", Role::Attending, false);
    promotion.frontier.insert(report, vouched);
    net.sign(1, Kind::RosterMember, promotion, None, 9_000)
        .unwrap();
    let roster = net.roster();
    let upto = |v: &EntryId| (*v == vouched).then_some(5);
    assert_eq!(
        report_authority(roster, 2, report, 5, upto).unwrap().role,
        Role::Resident
    );
    assert_eq!(
        report_authority(roster, 2, report, 6, upto).unwrap().role,
        Role::Attending
    );
    assert_eq!(
        roster.member(&key(2).public()).unwrap().role,
        Role::Attending
    );
}

#[test]
fn a_readmitted_entry_of_a_revoked_key_stands() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Radiologist, false);
    net.revoke(2, 1, Frontier::new()).unwrap();
    let report = Hash([0xAA; 32]);
    let honest = Hash([1; 32]);
    let readmit = ReadmitPayload {
        key: key(2).public(),
        log: report,
        entry: honest,
        change: None,
    };
    let id = net
        .sign(1, Kind::RosterReadmit, readmit, None, 5_000)
        .unwrap();
    assert_eq!(net.roster().status(&id), Some(&Ok(())));
    let roster = net.roster();
    let upto = |v: &EntryId| (*v == honest).then_some(1);
    assert_eq!(
        report_authority(roster, 2, report, 1, upto).unwrap().role,
        Role::Radiologist
    );
    // Visible on the roster: who was vouched for after the revocation.
    assert_eq!(
        roster.member(&key(2).public()).unwrap().readmitted,
        vec![(report, honest)]
    );
    assert!(report_authority(roster, 2, report, 2, upto).is_err());
    // Readmitting under a key that has had no change since its admission is refused.
    net.admit(3, 1, Role::Radiologist, false);
    let stray = ReadmitPayload {
        key: key(3).public(),
        log: report,
        entry: honest,
        change: None,
    };
    let id = net
        .sign(1, Kind::RosterReadmit, stray, None, 6_000)
        .unwrap();
    assert_eq!(net.refused(&id), Some("nothing_to_readmit"));
}

#[test]
fn a_revoked_key_is_never_admitted_again() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Radiologist, false);
    net.revoke(2, 1, Frontier::new()).unwrap();
    let again = net.admit(2, 1, Role::Radiologist, false);
    assert_eq!(net.refused(&again), Some("key_revoked"));
    assert!(!net.roster().is_active(&key(2).public()));
}

#[test]
fn roles_limit_kinds() {
    assert!(Role::Resident.may_write(Kind::SectionWrite));
    assert!(!Role::Resident.may_write(Kind::SectionCosign));
    assert!(Role::AiModel.may_write(Kind::AiResult));
    assert!(!Role::AiModel.may_write(Kind::AiReview));
    assert!(!Role::Attending.may_write(Kind::AiResult));
    assert!(Role::Attending.may_write(Kind::ReportResolve));
    assert!(!Role::Radiologist.may_write(Kind::ReportResolve));
    for kind in [
        Kind::RosterMember,
        Kind::RosterRevoke,
        Kind::TemplatePublish,
    ] {
        assert!(Role::ALL.iter().all(|r| !r.may_write(kind)), "{kind}");
    }
    let unknown =
        Roster::default().authority(&key(9).public(), &Hash::ZERO, &Hash::ZERO, |_| false);
    assert_eq!(unknown.unwrap_err().code(), "unknown_author");
}

#[test]
fn an_equivocating_admin_is_frozen_in_the_roster_from_the_fork() {
    let mut net = Net::new();
    let base = net.admit(2, 1, Role::Attending, true);
    let a = net
        .sign(
            2,
            Kind::RosterMember,
            MemberPayload::new(key(5).public(), "a", Role::Radiologist, false),
            Some(vec![base]),
            5_000,
        )
        .unwrap();
    // The same position again, signed differently (a copied home, a stolen key).
    net.seqs.insert(key(2).public(), 0);
    let b = net
        .sign(
            2,
            Kind::RosterMember,
            MemberPayload::new(key(6).public(), "b", Role::Radiologist, false),
            Some(vec![base]),
            5_000,
        )
        .unwrap();
    assert_eq!(net.refused(&a), Some("frozen"));
    assert_eq!(net.refused(&b), Some("frozen"));
}

/// Regression: a readmission only applied to revoked keys, so an honest entry a role change's
/// frontier missed (the admin had not received it yet) was judged under the new role for good.
#[test]
fn a_readmission_restores_an_entry_a_role_change_left_out() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Resident, false);
    let promotion = net
        .sign(
            1,
            Kind::RosterMember,
            MemberPayload::new(key(2).public(), "member 2", Role::Attending, false),
            None,
            3_000,
        )
        .unwrap();
    // Entry 1 of report AA is signed as an attending; the demotion's frontier misses it.
    let report = Hash([0xAA; 32]);
    let missed = Hash([1; 32]);
    net.sign(
        1,
        Kind::RosterMember,
        MemberPayload::new(key(2).public(), "member 2", Role::Radiologist, false),
        None,
        4_000,
    )
    .unwrap();
    let seqs_then = net.seqs.clone();
    let none = |_: &EntryId| None;
    let role = |net: &Net, seq: u64, vouched: &dyn Fn(&EntryId) -> Option<u64>| {
        report_authority(net.roster(), 2, report, seq, vouched).map(|a| a.role)
    };
    assert_eq!(role(&net, 1, &none), Ok(Role::Radiologist));
    let readmit = |change: Option<EntryId>| ReadmitPayload {
        key: key(2).public(),
        log: report,
        entry: missed,
        change,
    };
    // Naming a change that is not this key's is refused.
    let wrong = net
        .sign(1, Kind::RosterReadmit, readmit(Some(net.id())), None, 5_000)
        .unwrap();
    assert_eq!(net.refused(&wrong), Some("nothing_to_readmit"));
    // By default it amends the latest change, the demotion: entry 1 stands as an attending's.
    let id = net
        .sign(1, Kind::RosterReadmit, readmit(None), None, 5_000)
        .unwrap();
    assert_eq!(net.roster().status(&id), Some(&Ok(())));
    let upto = |v: &EntryId| (*v == missed).then_some(1);
    assert_eq!(role(&net, 1, &upto), Ok(Role::Attending));
    assert_eq!(role(&net, 2, &upto), Ok(Role::Radiologist));
    // A promotion took nothing away: there is nothing to amend in it.
    let mut earlier = Net::new();
    for (e, p) in net.signed.iter().skip(1).take(3) {
        earlier.log.insert(e, p).unwrap();
    }
    earlier.seqs = seqs_then;
    let id = earlier
        .sign(
            1,
            Kind::RosterReadmit,
            readmit(Some(promotion)),
            None,
            5_000,
        )
        .unwrap();
    assert_eq!(earlier.refused(&id), Some("nothing_to_readmit"));
    assert_eq!(role(&earlier, 1, &upto), Ok(Role::Radiologist));
}

/// Regression: a fork by an admin froze every roster entry of theirs from the fork on, their
/// revocations included, so a revoked (stolen) key signed accepted entries again.
#[test]
fn a_fork_in_the_roster_does_not_undo_a_revocation() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    net.admit(3, 1, Role::Resident, false);
    let before = net.log.dag().heads();
    let admission = net
        .sign(
            2,
            Kind::RosterMember,
            MemberPayload::new(key(5).public(), "a", Role::Radiologist, false),
            None,
            5_000,
        )
        .unwrap();
    let revocation = net.revoke(3, 2, Frontier::new()).unwrap();
    assert!(!net.roster().is_active(&key(3).public()));
    // Key 2 signs a second entry at the admission's position.
    net.seqs.insert(key(2).public(), 0);
    net.sign(
        2,
        Kind::TemplatePublish,
        serde_json::json!({"template": "x"}),
        Some(before),
        6_000,
    )
    .unwrap();
    assert_eq!(net.refused(&admission), Some("frozen"));
    assert_eq!(net.roster().status(&revocation), Some(&Ok(())));
    assert!(!net.roster().is_active(&key(3).public()));
}

/// Regression: an admin demoted by a senior one and made admin again by a junior one got back
/// their first rank, and so outranked — and could demote — the admin who restored them.
#[test]
fn an_admin_made_admin_again_ranks_from_the_new_grant() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    net.admit(3, 1, Role::Attending, true);
    let as_admin = |who: u8, admin: bool| {
        MemberPayload::new(
            key(who).public(),
            &format!("member {who}"),
            Role::Attending,
            admin,
        )
    };
    net.sign(1, Kind::RosterMember, as_admin(2, false), None, 3_000)
        .unwrap();
    net.sign(3, Kind::RosterMember, as_admin(2, true), None, 4_000)
        .unwrap();
    let rank = |net: &Net, n: u8| net.roster().member(&key(n).public()).unwrap().seniority;
    assert_eq!(
        (rank(&net, 1), rank(&net, 2), rank(&net, 3)),
        (Some(0), Some(3), Some(2))
    );
    // An admin again: they may admit members...
    net.admit(6, 2, Role::Radiologist, false);
    assert!(net.roster().is_active(&key(6).public()));
    // ...but not demote the admin who is now their senior.
    let up = net
        .sign(2, Kind::RosterMember, as_admin(3, false), None, 5_000)
        .unwrap();
    assert_eq!(net.refused(&up), Some("not_senior"));
    assert!(net.roster().member(&key(3).public()).unwrap().admin);
}

/// Regression: removals were applied one admin's at a time, so one junior admin who made k
/// admins, each revoking one key, made every home resolve the roster in k + 1 passes (each
/// re-judging every entry against every grant): a roster that took minutes to resolve.
#[test]
fn many_admins_revoking_independently_resolve_in_a_few_passes() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    let k = 60u8;
    for i in 0..k {
        net.admit(10 + i, 2, Role::Attending, true);
    }
    for i in 0..k {
        net.revoke(100 + i, 10 + i, Frontier::new()).unwrap();
    }
    // The founder revokes the junior admin and everyone they made, too.
    net.revoke(2, 1, Frontier::new()).unwrap();
    for i in 0..k {
        net.revoke(10 + i, 1, Frontier::new()).unwrap();
    }
    let (roster, passes) = net.log.resolve_counting();
    assert!(passes <= 4, "{passes} passes");
    for i in 0..k {
        // Made and used before the founder's revocations: what they revoked stays revoked.
        assert!(roster
            .member(&key(10 + i).public())
            .unwrap()
            .revoked
            .is_some());
    }
}

/// Regression: a round applying two removals of one admin at once kept the second in force
/// after the first left it removing nothing, so a junior admin could revoke a senior one.
/// The founder F revokes admin A (not having seen A make T admin, g1), then demotes T (having
/// seen g1); concurrently admin B makes T admin again (g2) and then makes J admin, junior to
/// T; J revokes T. With g1 void, the demotion demotes nobody: T is admin by g2, senior to J.
#[test]
fn a_removal_left_removing_nothing_is_not_kept_in_force() {
    let mut net = Net::new();
    let g = net.id();
    let (f, a, t, b, j) = (1, 2, 3, 4, 5);
    let e_a = net.member_at(a, f, true, vec![g], 2_000);
    let e_b = net.member_at(b, f, true, vec![e_a], 2_000);
    let g1 = net.member_at(t, a, true, vec![e_b], 2_000);
    let r1 = net.revoke_at(a, f, vec![e_b], 2_000);
    let r2 = net.member_at(t, f, false, vec![r1, g1], 2_000);
    let g2 = net.member_at(t, b, true, vec![g1], 2_000);
    let e_j = net.member_at(j, b, true, vec![g2], 2_000);
    let x = net.revoke_at(t, j, vec![e_j, r2], 2_000);
    assert_eq!(net.refused(&x), Some("not_senior"));
    assert_eq!(net.refused(&g1), Some("revoked"));
    let rank = |who: u8| net.roster().member(&key(who).public()).unwrap().seniority;
    assert!(net
        .roster()
        .member(&key(t).public())
        .unwrap()
        .revoked
        .is_none());
    assert!(rank(t) < rank(j));
}
