//! The round-based roster resolution against an insider (the third to fifth reviews,
//! 2026-11-30), who may amend what: readmissions into a revocation or a role change, at the
//! rank its author had when making it, and a frozen or equivocating author's decisions. Each
//! attack a review found, first written to show it working, turned round. The rounds
//! themselves are tried in `rounds.rs`.

use super::histories::REPORT;
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
