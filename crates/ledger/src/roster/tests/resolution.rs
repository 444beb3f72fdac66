//! The round-based roster resolution against an insider (the third to fifth reviews,
//! 2026-11-30): each attack a review found, first written to show it working, turned round.
//! The random histories the rounds are checked on are in `histories.rs`.

use super::histories::{one_at_a_time, snapshot, Rng, REPORT};
use super::*;

/// A senior admin 2, a junior admin 3 and an attending 4, all admitted by the founder in turn;
/// and the report log the tests' frontiers name.
fn two_admins_and_a_member() -> (Net, LogId) {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    net.admit(3, 1, Role::Attending, true);
    net.admit(4, 1, Role::Attending, false);
    (net, Hash([0xAA; 32]))
}

/// The authority for `who`'s entry at `seq` of report log `log`, where the entry with id
/// `Hash([s; 32])` is at sequence `s` (entries of one author in one log form a chain).
fn authority_at(
    roster: &Roster,
    who: u8,
    log: LogId,
    seq: u64,
) -> Result<Authority, AuthorityError> {
    let entry = Hash([seq as u8; 32]);
    roster.authority(&key(who).public(), &log, &entry, |v| {
        v.0.iter().all(|b| *b == v.0[0]) && seq <= v.0[0] as u64
    })
}

/// Regression: a junior admin J brought a revoked (stolen) key's entry back through J's own,
/// earlier role change of the key: `authority` stopped at the first change covering the entry,
/// so a readmission into the role change lifted it over the senior admin's revocation. Now a
/// revoked key's entry stands only if the governing revocation covers it.
#[test]
fn a_readmission_into_an_earlier_change_does_not_lift_an_entry_over_a_revocation() {
    let mut net = Net::new();
    let (a, j, k) = (2, 3, 4);
    net.admit(a, 1, Role::Attending, true);
    net.admit(j, 1, Role::Attending, true);
    net.admit(k, 1, Role::Attending, false);
    let change = net.member(k, j, Role::Radiologist, false, None);
    let report = Hash([0xAA; 32]);
    let revocation = net.revoke_on(k, a, Frontier::from([(report, Hash([1; 32]))]), None);
    let direct = net.readmit(k, j, report, Hash([5; 32]), Some(revocation));
    assert_eq!(net.refused(&direct), Some("not_senior"));
    net.readmit(k, j, report, Hash([5; 32]), Some(change));
    assert_eq!(
        authority_at(net.roster(), k, report, 5).unwrap_err().code(),
        "revoked"
    );
    // What the revocation vouched for stands — as an attending's, since J (the change's own
    // author) vouched that it came before J's change.
    assert_eq!(
        authority_at(net.roster(), k, report, 1).map(|a| a.role),
        Ok(Role::Attending)
    );
}

/// Regression: a round applied a senior's and a junior's demotion of one key together; the
/// next pass left both removing nothing, both went out of force for good, and the demoted
/// admin went on admitting members. Now a round applies one removal of a key.
///
/// F demotes A (not having seen A make T admin, G1); B, having seen G1, demotes T (D1); F
/// makes T admin again (G2); S, having seen D1 and G2, demotes T (D2); T then admits X.
#[test]
fn two_demotions_of_one_key_are_not_applied_in_one_round() {
    let mut net = Net::new();
    let g = net.id();
    let (f, a, s, b, t) = (1u8, 2u8, 3u8, 4u8, 5u8);
    let e_a = net.member(a, f, Role::Attending, true, Some(vec![g]));
    let e_s = net.member(s, f, Role::Attending, true, Some(vec![e_a]));
    let e_b = net.member(b, f, Role::Attending, true, Some(vec![e_s]));
    let g1 = net.member(t, a, Role::Attending, true, Some(vec![e_b]));
    let da = net.member(a, f, Role::Attending, false, Some(vec![e_b]));
    let d1 = net.member(t, b, Role::Attending, false, Some(vec![g1]));
    let g2 = net.member(t, f, Role::Attending, true, Some(vec![da, g1]));
    let d2 = net.member(t, s, Role::Attending, false, Some(vec![d1, g2]));
    let x = net.member(9, t, Role::Radiologist, false, Some(vec![d2]));
    let (reference, _) = one_at_a_time(&net.log);
    assert_eq!(
        snapshot(&net.log, net.roster()),
        snapshot(&net.log, &reference)
    );
    assert_eq!(net.roster().status(&d2), Some(&Ok(())));
    assert_eq!(net.refused(&x), Some("revoked"));
    assert!(!net.roster().member(&key(t).public()).unwrap().admin);
}

/// A removal applied in a round and found, once the round's other removals are in force, to
/// remove nothing goes out of force for good. Left in force, it would count as having taken
/// authority its target never had, and so hide a later grant from a later removal.
///
/// The founder F revokes admin A (R) without having seen A make T an admin (G1), which R
/// therefore refuses; on seeing G1, F also demotes T (D1). One round applies R and D1 (both
/// F's, of different keys); then G1 is refused, T was never an admin, and D1 removes nothing.
/// Meanwhile admin B, having seen G1 but not D1, makes T an admin (G2), and T admits X as an
/// admin before hearing of any demotion; F, having seen D1 and G2, demotes T again (D2). D2 is
/// the removal in force: T is a member and no admin, X's grant is refused by D2. Were D1 kept,
/// D2 would find T "demoted since G2" and leave T an admin the founder demoted twice.
///
/// (Random history seed 9, shrunk, holds R, G1 and D1; there a kept D1 only changed why a
/// refused entry was refused. `a_removal_left_removing_nothing_is_not_kept_in_force` starts
/// alike but ends in a revocation of T, which is judged against the roster so far too and so
/// does not tell a kept D1 apart; a demotion is judged against its own past, and does.)
#[test]
fn a_demotion_that_removes_nothing_once_a_revocation_is_in_force_goes_out_of_force() {
    let mut net = Net::new();
    let g = net.id();
    let (f, a, b, t, x) = (1u8, 2u8, 3u8, 4u8, 9u8);
    let e_a = net.member(a, f, Role::Attending, true, Some(vec![g]));
    let e_b = net.member(b, f, Role::Attending, true, Some(vec![e_a]));
    let g1 = net.member(t, a, Role::Attending, true, Some(vec![e_b]));
    let r = net.revoke_on(a, f, Frontier::new(), Some(vec![e_b]));
    let d1 = net.member(t, f, Role::Attending, false, Some(vec![r, g1]));
    let g2 = net.member(t, b, Role::Attending, true, Some(vec![g1]));
    let g_x = net.member(x, t, Role::Attending, true, Some(vec![g2]));
    let d2 = net.member(t, f, Role::Attending, false, Some(vec![d1, g2]));
    let roster = net.roster();
    // A is revoked by R, which leaves out A's grant of T.
    let m_a = roster.member(&key(a).public()).unwrap();
    assert_eq!(m_a.revoked.as_ref().map(|v| v.entry), Some(r));
    assert_eq!(net.refused(&g1), Some("revoked"));
    // T is an active member, no admin: D2, not D1, is the removal in force, and it refuses the
    // grant T made before hearing of it.
    let m_t = roster.member(&key(t).public()).unwrap();
    assert!(roster.is_active(&key(t).public()));
    assert!(!m_t.admin && m_t.seniority.is_none());
    // (D1 is accepted as an entry; it only no longer removes anything.)
    assert_eq!(roster.status(&d1), Some(&Ok(())));
    assert_eq!(roster.status(&g2), Some(&Ok(())));
    assert_eq!(roster.status(&d2), Some(&Ok(())));
    assert!(matches!(
        roster.status(&g_x),
        Some(Err(RosterError::Authority(AuthorityError::Revoked { revocation, .. })))
            if *revocation == d2
    ));
    assert!(!roster.member(&key(x).public()).is_some_and(|m| m.admin));
    // B and the founder keep their authority.
    assert!(roster.member(&key(b).public()).unwrap().admin);
    assert_eq!(net.rank(f), Some(0));
    let (reference, _) = one_at_a_time(&net.log);
    assert_eq!(snapshot(&net.log, roster), snapshot(&net.log, &reference));
}

/// Regression: seniority was asked only of a target who was an admin in the change's own past,
/// so a junior admin J writing on a past without senior S's grant changed S's role and cleared
/// S's admin flag and seniority, then overruled S's revocation and revoked S. A change to an
/// admin is now judged against the roster as resolved so far too.
#[test]
fn a_junior_admin_on_a_stale_past_cannot_change_or_strip_a_senior_admin() {
    let (mut net, e_j) = senior_granted_unseen_by_junior();
    let (s, j) = (3, 4);
    let change = net.member(s, j, Role::Technologist, true, Some(vec![e_j]));
    assert_eq!(net.refused(&change), Some("not_senior"));
    let strip = net.member(s, j, Role::Technologist, false, Some(vec![change]));
    assert_eq!(net.refused(&strip), Some("not_senior"));
    let s_now = net.roster().member(&key(s).public()).unwrap();
    assert!(s_now.admin && s_now.role == Role::Attending);
    assert!(net.rank(s) < net.rank(j));
}

/// Admin 2 makes S (3) an admin while the founder makes J (4) one beside it, neither seeing
/// the other's grant; retried with other timestamps until S ranks above J (the ranks of
/// concurrent grants follow their ids). Returns the net and J's grant, a past without S's.
fn senior_granted_unseen_by_junior() -> (Net, EntryId) {
    for ts in 2_000..2_200u64 {
        let mut net = Net::new();
        let g = net.id();
        let (f, a, s, j) = (1u8, 2u8, 3u8, 4u8);
        let e_a = net.member(a, f, Role::Attending, true, Some(vec![g]));
        let payload = MemberPayload::new(key(s).public(), "S", Role::Attending, true);
        net.sign(a, Kind::RosterMember, payload, Some(vec![e_a]), ts)
            .unwrap();
        let e_j = net.member(j, f, Role::Attending, true, Some(vec![e_a]));
        if net.rank(s) < net.rank(j) {
            return (net, e_j);
        }
    }
    panic!("no timestamp put S's grant first");
}

/// Regression: once a revocation's author was demoted, any admin could amend it (the author
/// was no admin "in the past" of the readmission). Seniority is now judged against the rank
/// the author had when the revocation was made.
#[test]
fn a_demoted_seniors_revocation_stays_theirs_to_amend() {
    let (mut net, report) = two_admins_and_a_member();
    let (a, j, k) = (2, 3, 4);
    let revocation = net.revoke_on(k, a, Frontier::from([(report, Hash([1; 32]))]), None);
    net.member(a, 1, Role::Attending, false, None);
    let late = net.readmit(k, j, report, Hash([5; 32]), Some(revocation));
    assert_eq!(net.refused(&late), Some("not_senior"));
    assert_eq!(
        authority_at(net.roster(), k, report, 5).unwrap_err().code(),
        "revoked"
    );
}

/// Regression: a frozen founder's revocation governed (the founder is the most senior) while
/// vouching for nothing, and nobody could amend it: a member's honest work was lost for good.
/// A frozen author's revocation now ranks last, so another admin's frontier governs.
#[test]
fn a_frozen_founders_revocation_does_not_govern() {
    let mut net = Net::new();
    let (f, j, k) = (1, 3, 4);
    net.admit(j, f, Role::Attending, true);
    net.admit(k, f, Role::Attending, false);
    // The founder signs one position twice (a restored backup).
    let heads = net.log.dag().heads();
    let seq = net.seqs[&key(f).public()] + 1;
    for t in 1..=2 {
        net.sign_at(
            f,
            seq,
            Kind::TemplatePublish,
            serde_json::json!({ "t": t }),
            Some(heads.clone()),
            5_000,
        )
        .unwrap();
    }
    let report = Hash([0xAA; 32]);
    let frontier = Frontier::from([(report, Hash([3; 32]))]);
    let by_f = net.revoke_on(k, f, frontier.clone(), None);
    let by_j = net.revoke_on(k, j, frontier, None);
    assert_eq!(net.roster().status(&by_f), Some(&Ok(())));
    let governing = net
        .roster()
        .member(&key(k).public())
        .unwrap()
        .revoked
        .clone();
    assert_eq!(governing.unwrap().entry, by_j);
    assert_eq!(
        authority_at(net.roster(), k, report, 2).map(|a| a.role),
        Ok(Role::Attending)
    );
    assert!(authority_at(net.roster(), k, report, 4).is_err());
}

/// Regression: a freeze that changed nothing (the same evidence offered again, as a restart
/// and `verify` do while rows wait) threw the resolved roster away each time.
#[test]
fn a_freeze_that_changes_nothing_keeps_the_resolved_roster() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    assert!(net.log.freeze(key(2).public(), 3));
    let _ = net.log.roster();
    assert!(!net.log.freeze(key(2).public(), 3));
    assert!(!net.log.freeze(key(2).public(), 7));
    assert!(net.log.resolved.get().is_some());
    assert!(net.log.freeze(key(2).public(), 2));
    assert!(net.log.resolved.get().is_none());
}

/// Regression: a junior admin J, writing its own revocation of a key beside the senior's (not
/// merging it), readmitted a thief's entry naming its own revocation; the readmission then
/// joined the governing (senior) revocation it had never been judged against. A readmission
/// into a revocation must now be senior to the governing revocation's author.
#[test]
fn a_junior_admin_cannot_amend_the_governing_revocation_from_a_past_without_it() {
    let (mut net, report) = two_admins_and_a_member();
    let (s, j, k) = (2, 3, 4);
    let e_k = net.log.dag().heads()[0];
    let by_s = net.revoke_on(
        k,
        s,
        Frontier::from([(report, Hash([1; 32]))]),
        Some(vec![e_k]),
    );
    let by_j = net.revoke_on(k, j, Frontier::new(), Some(vec![e_k]));
    let p = ReadmitPayload {
        key: key(k).public(),
        log: report,
        entry: Hash([5; 32]),
        change: Some(by_j),
    };
    let readmit = net
        .sign(j, Kind::RosterReadmit, p, Some(vec![by_j]), 4_000)
        .unwrap();
    let revoked = net
        .roster()
        .member(&key(k).public())
        .unwrap()
        .revoked
        .clone();
    assert_eq!(revoked.unwrap().entry, by_s);
    assert_eq!(net.refused(&readmit), Some("not_senior"));
    assert_eq!(
        authority_at(net.roster(), k, report, 5).unwrap_err().code(),
        "revoked"
    );
}

/// Regression: a change to an admin was judged against the roster as resolved so far, but a
/// revocation only against its own past: a junior admin on a stale past revoked a senior one.
#[test]
fn a_junior_admin_on_a_stale_past_cannot_revoke_a_senior_admin() {
    let (mut net, e_j) = senior_granted_unseen_by_junior();
    let (s, j) = (3, 4);
    let p = RevokePayload {
        key: key(s).public(),
        reason: "junior".into(),
        frontier: Frontier::new(),
    };
    let rev = net
        .sign(j, Kind::RosterRevoke, p, Some(vec![e_j]), 3_000)
        .unwrap();
    assert_eq!(net.refused(&rev), Some("not_senior"));
    let s_now = net.roster().member(&key(s).public()).unwrap();
    assert!(s_now.revoked.is_none() && s_now.admin);
}

/// Regression: once a senior admin was demoted, their role change of a key was anyone's to
/// amend. Seniority is judged at the author's rank when they made the change.
#[test]
fn a_demoted_seniors_role_change_stays_theirs_to_amend() {
    let (mut net, report) = two_admins_and_a_member();
    let (s, j, k) = (2, 3, 4);
    let mut p = MemberPayload::new(key(k).public(), "K", Role::Technologist, false);
    p.frontier.insert(report, Hash([1; 32]));
    let change = net.sign(s, Kind::RosterMember, p, None, 2_500).unwrap();
    net.member(s, 1, Role::Attending, false, None);
    let late = net.readmit(k, j, report, Hash([5; 32]), Some(change));
    assert_eq!(net.refused(&late), Some("not_senior"));
    assert_eq!(
        authority_at(net.roster(), k, report, 5).map(|a| a.role),
        Ok(Role::Technologist)
    );
}

/// Regression: a revocation ranked last as soon as its author was revoked, so offboarding a
/// senior admin by revocation made every revocation they had made anyone's to amend. What they
/// did before their own revocation keeps their rank.
#[test]
fn offboarding_a_senior_admin_keeps_their_revocations_theirs() {
    let (mut net, report) = two_admins_and_a_member();
    let (s, j, k) = (2, 3, 4);
    let by_s = net.revoke_on(k, s, Frontier::from([(report, Hash([1; 32]))]), None);
    net.revoke(s, 1, Frontier::new()).unwrap();
    let late = net.readmit(k, j, report, Hash([5; 32]), Some(by_s));
    assert_eq!(net.refused(&late), Some("not_senior"));
    assert!(authority_at(net.roster(), k, report, 5).is_err());
    // A junior's wider revocation does not govern over it either.
    net.revoke_on(k, j, Frontier::from([(report, Hash([5; 32]))]), None);
    assert!(authority_at(net.roster(), k, report, 5).is_err());
    // The founder, senior to S, may amend it.
    let by_founder = net.readmit(k, 1, report, Hash([5; 32]), Some(by_s));
    assert_eq!(net.roster().status(&by_founder), Some(&Ok(())));
    assert!(authority_at(net.roster(), k, report, 5).is_ok());
}

/// Regression: a founder who revoked a key and equivocated later kept the governing revocation
/// at rank 0 while their own readmissions were frozen: honest work outside its frontier could
/// never be restored. A governing revocation whose author has equivocated since is any admin's
/// to amend.
#[test]
fn a_founder_frozen_after_revoking_leaves_honest_work_restorable() {
    let mut net = Net::new();
    let (f, j, k) = (1, 3, 4);
    net.admit(j, f, Role::Attending, true);
    net.admit(k, f, Role::Attending, false);
    let report = Hash([0xAA; 32]);
    let by_f = net.revoke_on(k, f, Frontier::from([(report, Hash([1; 32]))]), None);
    let heads = net.log.dag().heads();
    let seq = net.seqs[&key(f).public()] + 1;
    for t in 1..=2 {
        net.sign_at(
            f,
            seq,
            Kind::TemplatePublish,
            serde_json::json!({ "t": t }),
            Some(heads.clone()),
            5_000,
        )
        .unwrap();
    }
    let governing = net
        .roster()
        .member(&key(k).public())
        .unwrap()
        .revoked
        .clone();
    assert_eq!(governing.unwrap().entry, by_f);
    let by_j = net.readmit(k, j, report, Hash([3; 32]), Some(by_f));
    assert_eq!(net.roster().status(&by_j), Some(&Ok(())));
    assert!(authority_at(net.roster(), k, report, 3).is_ok());
    assert!(authority_at(net.roster(), k, report, 4).is_err());
}

/// Regression: a junior admin's revocation of an admin made a senior's concurrent demotion of
/// the same admin `key_revoked`, and with it what the demotion left out (a grant the demoted
/// admin made unseen) stood again. A demotion is a removal and stays in force.
#[test]
fn a_juniors_revocation_does_not_overrule_a_seniors_demotion() {
    let mut net = Net::new();
    let g = net.id();
    let (f, a, j, x) = (1u8, 2u8, 3u8, 9u8);
    let e_j = net.member(j, f, Role::Attending, true, Some(vec![g]));
    let e_a = net.member(a, f, Role::Attending, true, Some(vec![e_j]));
    let g_x = net.member(x, a, Role::Attending, true, Some(vec![e_a]));
    let demote = net.member(a, f, Role::Attending, false, Some(vec![e_a]));
    let p = RevokePayload {
        key: key(a).public(),
        reason: String::new(),
        frontier: Frontier::new(),
    };
    let rev = net
        .sign(j, Kind::RosterRevoke, p, Some(vec![e_j, g_x]), 3_000)
        .unwrap();
    assert_eq!(net.roster().status(&rev), Some(&Ok(())));
    assert_eq!(net.roster().status(&demote), Some(&Ok(())));
    assert_eq!(net.refused(&g_x), Some("revoked"));
    assert!(!net
        .roster()
        .member(&key(x).public())
        .is_some_and(|m| m.admin));
}

// Fifth review (same day).

/// Signs two entries of `who` at one position on `parents`: an equivocation.
fn fork(net: &mut Net, who: u8, parents: Vec<EntryId>) {
    let seq = net.seqs[&key(who).public()] + 1;
    for t in 1..=2 {
        net.sign_at(
            who,
            seq,
            Kind::TemplatePublish,
            serde_json::json!({ "fork": t }),
            Some(parents.clone()),
            5_000,
        )
        .unwrap();
    }
}

/// Regression: a senior admin's stolen key, once revoked, forked on a stale past — and every
/// revocation it had made honestly became any admin's to amend, so a junior restored what the
/// senior had cut off. Only the most senior admin still standing may amend an equivocating
/// author's decisions.
#[test]
fn a_revoked_seniors_fork_does_not_hand_its_revocations_to_juniors() {
    let mut net = Net::new();
    let (f, s, j, k) = (1u8, 2u8, 3u8, 4u8);
    net.admit(s, f, Role::Attending, true);
    net.admit(j, f, Role::Attending, true);
    net.admit(k, f, Role::Attending, false);
    let by_s = net.revoke_on(k, s, Frontier::from([(REPORT, Hash([1; 32]))]), None);
    net.revoke(s, f, Frontier::new()).unwrap();
    fork(&mut net, s, vec![by_s]);
    let late = net.readmit(k, j, REPORT, Hash([5; 32]), Some(by_s));
    assert_eq!(net.refused(&late), Some("not_senior"));
    assert!(authority_at(net.roster(), k, REPORT, 5).is_err());
    // The founder, the most senior admin standing, may.
    let by_f = net.readmit(k, f, REPORT, Hash([5; 32]), Some(by_s));
    assert_eq!(net.roster().status(&by_f), Some(&Ok(())));
    assert!(authority_at(net.roster(), k, REPORT, 5).is_ok());
}

/// Regression: a demotion let in beside a revocation carried a new role: a junior admin turned
/// a revoked resident admin into an attending for every entry inside the revocation's frontier.
/// Beside a revocation a demotion only takes away.
#[test]
fn a_demotion_beside_a_revocation_does_not_widen_the_revoked_keys_role() {
    for ts in 3_500..3_700u64 {
        let mut net = Net::new();
        let (f, s, j, t) = (1u8, 2u8, 3u8, 4u8);
        net.admit(s, f, Role::Attending, true);
        net.admit(j, f, Role::Attending, true);
        net.admit(t, f, Role::Resident, true);
        let stale = net.log.dag().heads();
        let rev = net.revoke_on(t, s, Frontier::from([(REPORT, Hash([5; 32]))]), None);
        let p = MemberPayload::new(key(t).public(), "T", Role::Attending, false);
        let change = net.sign(j, Kind::RosterMember, p, Some(stale), ts).unwrap();
        let order = net.log.dag().topological();
        let pos = |e: &EntryId| order.iter().position(|x| x == e);
        if pos(&change) > pos(&rev) {
            continue;
        }
        assert_eq!(
            authority_at(net.roster(), t, REPORT, 3).map(|a| a.role),
            Ok(Role::Resident)
        );
        return;
    }
    panic!("no timestamp sorted the demotion first");
}

/// Regression: a senior's change clearing an admin flag, on a past without the grant that set
/// it, was no removal yet cleared the flag in the roster: the roster said "no admin" while the
/// key went on granting admins. A change that did not see the grant does not undo it.
#[test]
fn a_stale_change_does_not_clear_an_admin_flag_it_did_not_see() {
    for ts in 2_500..2_700u64 {
        let mut net = Net::new();
        let (f, s, t, x) = (1u8, 2u8, 4u8, 9u8);
        net.admit(s, f, Role::Attending, true);
        net.admit(t, f, Role::Attending, false);
        let stale = net.log.dag().heads();
        let g_t = net.member(t, f, Role::Attending, true, None);
        let p = MemberPayload::new(key(t).public(), "T", Role::Technologist, false);
        let strip = net.sign(s, Kind::RosterMember, p, Some(stale), ts).unwrap();
        let order = net.log.dag().topological();
        let pos = |e: &EntryId| order.iter().position(|x| x == e);
        if pos(&strip) < pos(&g_t) {
            continue;
        }
        let gx = net.member(x, t, Role::Attending, true, None);
        let tm = net.roster().member(&key(t).public()).unwrap().clone();
        // What the roster says and what it enforces agree: T is an admin.
        assert!(tm.admin && tm.seniority.is_some());
        assert_eq!(net.roster().status(&gx), Some(&Ok(())));
        return;
    }
    panic!("no timestamp sorted S's change after T's grant");
}

/// Regression: a junior admin lifted an entry over a senior's later narrowing of a key by
/// readmitting it into the junior's own earlier change (a revoked key's too). A readmission
/// into a role change must be senior to the authors of every later change that took
/// authority away.
#[test]
fn a_readmission_into_a_juniors_change_does_not_lift_an_entry_over_a_seniors_change() {
    let mut net = Net::new();
    let (f, s, j, t) = (1u8, 2u8, 3u8, 4u8);
    net.admit(s, f, Role::Attending, true);
    net.admit(j, f, Role::Attending, true);
    net.admit(t, f, Role::Attending, false);
    let mut p = MemberPayload::new(key(t).public(), "T", Role::Radiologist, false);
    p.frontier.insert(REPORT, Hash([1; 32]));
    let by_j = net.sign(j, Kind::RosterMember, p, None, 2_500).unwrap();
    let mut p = MemberPayload::new(key(t).public(), "T", Role::Technologist, false);
    p.frontier.insert(REPORT, Hash([1; 32]));
    net.sign(s, Kind::RosterMember, p, None, 2_600).unwrap();
    let lift = net.readmit(t, j, REPORT, Hash([5; 32]), Some(by_j));
    assert_eq!(net.refused(&lift), Some("not_senior"));
    assert_eq!(
        authority_at(net.roster(), t, REPORT, 5).map(|a| a.role),
        Ok(Role::Technologist)
    );
}

/// Regression: a round batched a junior's revocation of T beside the most senior removal while
/// another pending removal (a demotion of T by an admin that removal was about to revoke) named
/// T too; once in force the junior's revocation refused T's admission and so kept itself valid,
/// where one at a time refused the junior's revocation. The rounds must equal one at a time.
#[test]
fn a_juniors_removal_is_not_batched_beside_another_removal_of_its_target() {
    let (f, r, d, y, z, g, t, j) = (1u8, 2u8, 3u8, 4u8, 5u8, 6u8, 7u8, 8u8);
    let mut rng = Rng::new(38);
    let mut ts = move || 5_000 + rng.below(1_000) as u64;
    let mut net = Net::new();
    let genesis = net.id();
    let a1 = net.member(r, f, Role::Attending, true, Some(vec![genesis]));
    let a2 = net.member(d, f, Role::Attending, true, Some(vec![a1]));
    let a3 = net.member_at(y, d, true, vec![a2], ts());
    let a4 = net.member_at(z, f, true, vec![a2], ts());
    let a5 = net.member_at(y, z, true, vec![a4], ts());
    let a6 = net.member_at(g, f, true, vec![a5], ts());
    let a7 = net.member_at(t, g, true, vec![a6], ts());
    let a8 = net.member_at(j, f, true, vec![a6], ts());
    // D demotes T; R revokes D on a past without it; Y demotes T on a past without D's grant.
    net.member_at(t, d, false, vec![a3, a7], ts());
    net.revoke_at(d, r, vec![a2], ts());
    net.member_at(t, y, false, vec![a7], ts());
    // J, junior to T, revokes T on a past before T's admission.
    let j_t = net.revoke_at(t, j, vec![a8], ts());
    let (reference, _) = one_at_a_time(&net.log);
    assert_eq!(
        snapshot(&net.log, net.roster()),
        snapshot(&net.log, &reference)
    );
    // (With the later fixes of this round, J's pre-emptive revocation of T, concurrent with T's
    // admission, stands in both: a revoked key is never admitted.)
    assert_eq!(net.roster().status(&j_t), reference.status(&j_t));
}

/// A revocation governs at its author's rank when they made it: once the senior S who revoked
/// a key is demoted, a junior's own revocation beside it (never merging S's) does not take over,
/// and the junior's readmission into it does not bring a thief's entry back.
#[test]
fn a_demoted_seniors_revocation_still_governs_over_a_juniors_beside_it() {
    let (mut net, report) = two_admins_and_a_member();
    let (s, j, k) = (2, 3, 4);
    let e_k = net.log.dag().heads()[0];
    let by_s = net.revoke_on(
        k,
        s,
        Frontier::from([(report, Hash([1; 32]))]),
        Some(vec![e_k]),
    );
    let by_j = net.revoke_on(k, j, Frontier::new(), Some(vec![e_k]));
    net.member(s, 1, Role::Attending, false, None);
    let p = ReadmitPayload {
        key: key(k).public(),
        log: report,
        entry: Hash([5; 32]),
        change: Some(by_j),
    };
    net.sign(j, Kind::RosterReadmit, p, Some(vec![by_j]), 4_000)
        .unwrap();
    let revoked = net
        .roster()
        .member(&key(k).public())
        .unwrap()
        .revoked
        .clone();
    assert_eq!(revoked.unwrap().entry, by_s);
    assert!(authority_at(net.roster(), k, report, 5).is_err());
}

/// An equivocating senior's decisions are the most senior standing admin's to amend, not a
/// junior's: neither S's role change of a key (amended directly) nor S's revocation of it
/// (reached through the junior's own revocation beside it, never merging S's).
#[test]
fn an_equivocating_seniors_decisions_are_not_a_juniors_to_amend() {
    let (mut net, report) = two_admins_and_a_member();
    let (s, j, k) = (2, 3, 4);
    let e_k = net.log.dag().heads()[0];
    let mut p = MemberPayload::new(key(k).public(), "K", Role::Technologist, false);
    p.frontier.insert(report, Hash([1; 32]));
    let narrowed = net.sign(s, Kind::RosterMember, p, None, 2_500).unwrap();
    let heads = net.log.dag().heads();
    fork(&mut net, s, heads);
    let lift = net.readmit(k, j, report, Hash([5; 32]), Some(narrowed));
    assert_eq!(net.refused(&lift), Some("not_senior"));
    assert_eq!(
        authority_at(net.roster(), k, report, 5).map(|a| a.role),
        Ok(Role::Technologist)
    );

    let (mut net, report) = two_admins_and_a_member();
    let by_s = net.revoke_on(
        k,
        s,
        Frontier::from([(report, Hash([1; 32]))]),
        Some(vec![e_k]),
    );
    fork(&mut net, s, vec![by_s]);
    let by_j = net.revoke_on(k, j, Frontier::new(), Some(vec![e_k]));
    let p = ReadmitPayload {
        key: key(k).public(),
        log: report,
        entry: Hash([5; 32]),
        change: Some(by_j),
    };
    let readmit = net
        .sign(j, Kind::RosterReadmit, p, Some(vec![by_j]), 4_000)
        .unwrap();
    assert_eq!(net.refused(&readmit), Some("not_senior"));
    assert!(authority_at(net.roster(), k, report, 5).is_err());
}
