//! Regressions of the roster rules, each named after what broke.

use super::*;

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
