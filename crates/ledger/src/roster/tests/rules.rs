//! Each roster rule tried the way an insider would break it.

use super::*;

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
    // Receipt of an SR is attested by a person; a model never signs another's output.
    assert!(Role::Radiologist.may_write(Kind::AiReceived));
    assert!(Role::Technologist.may_write(Kind::AiReceived));
    assert!(!Role::AiModel.may_write(Kind::AiReceived));
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
