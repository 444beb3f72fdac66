//! An insider's attacks on the rules that stopped following the roster order (a grant of a key
//! already an admin counts, a grant beside a concurrent demotion, the senior admin's concurrent
//! change of a key's details in force, a rotation's old key admitted by any admission in its
//! past): an admin about to be demoted, a junior admin wanting to outrank a senior, a revoked
//! admin backdating. Each scenario is run in both roster orders of its concurrent entries
//! (entry ids, which an author steers by a timestamp) where it has any, and resolved again one
//! removal at a time and in other delivery orders.

use super::details::admins;
use super::grants::first;
use super::histories::same_everywhere;
use super::*;

const F: u8 = 1;
const A: u8 = 2;
const B: u8 = 3;
const T: u8 = 4;
const X: u8 = 9;
const K: u8 = 12;

/// Runs `scenario(ts)` for timestamps that put its two concurrent entries in both roster
/// orders, with what the run is about for messages.
fn both_orders(scenario: impl Fn(u64) -> (Net, EntryId, EntryId), check: impl Fn(&Net, &str)) {
    let mut orders = [false, false];
    for ts in 2_000..2_040 {
        let (net, x, y) = scenario(ts);
        let x_first = first(&net, &x, &y);
        orders[x_first as usize] = true;
        let what = format!("first in roster order: {x_first}");
        check(&net, &what);
        same_everywhere(&net, ts, &what);
    }
    assert_eq!(orders, [true, true], "both roster orders tried");
}

fn is_admin(net: &Net, who: u8) -> bool {
    net.roster()
        .member(&key(who).public())
        .is_some_and(|m| m.admin && m.seniority.is_some())
}

/// A `roster.member` of `who` by `by` as `role` under `name`, on `parents`, at `ts`.
fn set(
    net: &mut Net,
    (who, by): (u8, u8),
    (role, name): (Role, &str),
    admin: bool,
    parents: Vec<EntryId>,
    ts: u64,
) -> EntryId {
    let p = MemberPayload::new(key(who).public(), name, role, admin);
    net.sign(by, Kind::RosterMember, p, Some(parents), ts)
        .unwrap()
}

/// A regranter removed does not take the key with them: A makes T an admin (G1); B, having
/// seen G1, makes T an admin again (G2, a regrant recorded under B in `granted_by`); the
/// founder then revokes or demotes B without having seen G2, which is refused. T stays an
/// admin by A's grant, at G1's rank, and T's admission of X, made after both, stands.
#[test]
fn removing_a_regranter_does_not_strip_the_key_another_admin_made_admin() {
    for revoke in [false, true] {
        let (mut net, e_b) = admins();
        let g1 = net.member_at(T, A, true, vec![e_b], 2_000);
        let rank = net.rank(T);
        let g2 = net.member_at(T, B, true, vec![g1], 2_100);
        if revoke {
            net.revoke_on(B, F, Frontier::new(), Some(vec![g1]));
        } else {
            net.member(B, F, Role::Attending, false, Some(vec![g1]));
        }
        let x = net.member_at(X, T, false, vec![g2], 2_500);
        let what = format!("revoke: {revoke}");
        assert_eq!(net.refused(&g2), Some("revoked"), "{what}");
        assert!(is_admin(&net, T), "{what}");
        assert_eq!(net.rank(T), rank, "{what}");
        assert_eq!(net.roster().status(&x), Some(&Ok(())), "{what}");
        same_everywhere(&net, 11, &what);
    }
}

/// A junior admin cannot regrant a senior one (nor the founder) to record a grant at the
/// senior's rank under their own name: refused as not senior, and the ranks stay as they were.
#[test]
fn a_junior_cannot_regrant_a_senior_admin_or_the_founder() {
    let (mut net, e_b) = admins();
    let ranks = (net.rank(F), net.rank(A), net.rank(B));
    let of_a = net.member_at(A, B, true, vec![e_b], 2_100);
    let p = MemberPayload::new(key(F).public(), "Founder", Role::Attending, true);
    let of_f = net
        .sign(A, Kind::RosterMember, p, Some(vec![of_a]), 2_200)
        .unwrap();
    assert_eq!(net.refused(&of_a), Some("not_senior"));
    assert_eq!(net.refused(&of_f), Some("not_senior"));
    assert_eq!((net.rank(F), net.rank(A), net.rank(B)), ranks);
    same_everywhere(&net, 12, "regrants of seniors");
}

/// A regrant does not carry a key over a revocation: the founder makes T an admin and revokes
/// T; A, not having seen the revocation, makes T an admin again. The regrant is refused (the
/// key is revoked), T is no admin, and T's admission of X made on the regrant is refused — in
/// both roster orders of the revocation and the regrant.
#[test]
fn a_regrant_beside_a_revocation_does_not_keep_the_key() {
    both_orders(
        |ts| {
            let (mut net, e_b) = admins();
            let g0 = net.member_at(T, F, true, vec![e_b], 2_000);
            let r = net.revoke_at(T, F, vec![g0], 2_000);
            let g1 = net.member_at(T, A, true, vec![g0], ts);
            net.member_at(X, T, false, vec![g1], 2_500);
            (net, r, g1)
        },
        |net, what| {
            assert!(!net.roster().is_active(&key(T).public()), "{what}");
            assert!(!is_admin(net, T), "{what}");
            assert!(net.roster().member(&key(X).public()).is_none(), "{what}");
        },
    );
}

/// An admin demoted and made admin again ranks from the new grant, and a stale regrant at the
/// old rank does not keep them senior: F makes A, T and then B admins (T above B); F demotes T
/// (D1) and makes T an admin again (G1, now below B). A, on a past with neither (T still at
/// its old rank there), regrants T. B, having seen everything, demotes T: allowed, in both
/// roster orders of A's regrant and G1 — the regrant beside D1 grants nothing.
#[test]
fn a_stale_regrant_at_an_old_rank_does_not_keep_a_readmitted_admin_senior() {
    both_orders(
        |ts| {
            let mut net = Net::new();
            let g = net.id();
            let e_a = net.member(A, F, Role::Attending, true, Some(vec![g]));
            let g0 = net.member_at(T, F, true, vec![e_a], 2_000);
            let e_b = net.member(B, F, Role::Attending, true, Some(vec![g0]));
            let d1 = net.member_at(T, F, false, vec![e_b], 2_000);
            let g1 = net.member_at(T, F, true, vec![d1], 2_000);
            let stale = net.member_at(T, A, true, vec![g0], ts);
            let heads = net.log.dag().heads();
            let d2 = net.member_at(T, B, false, heads, 2_900);
            assert_eq!(net.roster().status(&d2), Some(&Ok(())));
            (net, stale, g1)
        },
        |net, what| assert!(!is_admin(net, T), "{what}"),
    );
}

/// A junior admin's stale demotion cannot block a senior's re-grant: F makes A, T and then B
/// admins (T above B), demotes T (D1) and makes T an admin again (G1). B, on a past holding only
/// T's first grant (where T outranks B), demotes T (D2): refused as not senior, so it is no
/// demotion for G1 to be contested by, and T stays an admin — in both roster orders of D2
/// and G1.
#[test]
fn a_juniors_stale_demotion_does_not_contest_a_seniors_regrant() {
    both_orders(
        |ts| {
            let mut net = Net::new();
            let g = net.id();
            let e_a = net.member(A, F, Role::Attending, true, Some(vec![g]));
            let g0 = net.member_at(T, F, true, vec![e_a], 2_000);
            let e_b = net.member(B, F, Role::Attending, true, Some(vec![g0]));
            let d1 = net.member_at(T, F, false, vec![e_b], 2_000);
            let g1 = net.member_at(T, F, true, vec![d1], 2_000);
            let d2 = net.member_at(T, B, false, vec![e_b], ts);
            assert_eq!(net.refused(&d2), Some("not_senior"));
            net.member_at(X, T, false, vec![g1], 2_500);
            (net, d2, g1)
        },
        |net, what| {
            let roster = net.roster();
            assert!(is_admin(net, T), "{what}");
            assert!(roster.member(&key(X).public()).is_some(), "{what}");
            let all_stand = roster
                .history(&key(T).public())
                .iter()
                .filter_map(|c| roster.status(&c.entry))
                .all(|s| s.is_ok());
            assert!(all_stand, "{what}");
        },
    );
}

/// A junior admin cannot change a senior admin's or the founder's details, even beside the
/// target's own concurrent change (which would make it one of several "latest" changes):
/// B's change of A and A's change of the founder are refused, and the targets keep their own.
#[test]
fn a_junior_cannot_change_a_seniors_or_the_founders_details() {
    both_orders(
        |ts| {
            let (mut net, e_b) = admins();
            let own = set(
                &mut net,
                (A, A),
                (Role::Attending, "A's own"),
                true,
                vec![e_b],
                2_000,
            );
            let by_b = set(
                &mut net,
                (A, B),
                (Role::Resident, "by B"),
                true,
                vec![e_b],
                ts,
            );
            let f_own = set(
                &mut net,
                (F, F),
                (Role::Attending, "F's own"),
                true,
                vec![e_b],
                2_000,
            );
            let by_a = set(
                &mut net,
                (F, A),
                (Role::Resident, "by A"),
                true,
                vec![own],
                ts,
            );
            assert_eq!(net.refused(&by_b), Some("not_senior"));
            assert_eq!(net.refused(&by_a), Some("not_senior"));
            let _ = (own, f_own);
            (net, own, by_b)
        },
        |net, what| {
            let roster = net.roster();
            let a = roster.member(&key(A).public()).unwrap();
            let f = roster.member(&key(F).public()).unwrap();
            assert_eq!(
                (a.name.as_str(), a.role),
                ("A's own", Role::Attending),
                "{what}"
            );
            assert_eq!(
                (f.name.as_str(), f.role),
                ("F's own", Role::Attending),
                "{what}"
            );
            assert_eq!((net.rank(F), net.rank(A)), (Some(0), Some(1)), "{what}");
        },
    );
}

/// A revoked admin cannot win a dispute over a key's details by backdating: F revokes A; A
/// then signs a change of T on an old past (concurrent with B's change), hoping A's old rank
/// wins over B. It is refused (outside the revocation), and B's change is in force.
#[test]
fn a_revoked_admins_backdated_change_does_not_outrank_a_juniors() {
    both_orders(
        |ts| {
            let (mut net, e_b) = admins();
            let m = set(
                &mut net,
                (T, F),
                (Role::Attending, "T"),
                false,
                vec![e_b],
                2_000,
            );
            let r = net.revoke_on(A, F, Frontier::new(), Some(vec![m]));
            let by_b = set(
                &mut net,
                (T, B),
                (Role::Radiologist, "by B"),
                false,
                vec![m],
                2_000,
            );
            let by_a = set(
                &mut net,
                (T, A),
                (Role::Resident, "by A"),
                false,
                vec![m],
                ts,
            );
            assert_eq!(net.refused(&by_a), Some("revoked"));
            let _ = r;
            (net, by_a, by_b)
        },
        |net, what| {
            let t = net.roster().member(&key(T).public()).unwrap();
            assert_eq!(
                (t.name.as_str(), t.role),
                ("by B", Role::Radiologist),
                "{what}"
            );
            let entry = report_authority(net.roster(), T, super::histories::REPORT, 3, |_| None);
            assert_eq!(entry.map(|a| a.role), Ok(Role::Radiologist), "{what}");
        },
    );
}

/// A rotation cannot lean on a refused admission: A admits T (M1) and is revoked without the
/// revocation having seen M1; B admits T concurrently (M2). The founder rotates T's key to K on
/// a past holding M1 only: no accepted admission of T is in its past, so it is refused as of an
/// unknown key — in both roster orders of M1 and M2 — and K is no member.
#[test]
fn a_rotation_cannot_lean_on_a_refused_admission() {
    both_orders(
        |ts| {
            let (mut net, e_b) = admins();
            let m1 = net.member_at(T, A, false, vec![e_b], 2_000);
            let m2 = net.member_at(T, B, false, vec![e_b], ts);
            let r = net.revoke_on(A, F, Frontier::new(), Some(vec![e_b]));
            let network = net.id();
            let p = RotatePayload {
                old: key(T).public(),
                new: key(K).public(),
                consent: Some(crate::rotation::consent(
                    &network,
                    &key(T),
                    &key(K).public(),
                )),
                possession: Some(crate::rotation::possession(
                    &network,
                    &key(T).public(),
                    &key(K),
                )),
                reason: "lost".into(),
                frontier: Frontier::new(),
            };
            let rot = net
                .sign(F, Kind::RosterRotate, p, Some(vec![m1, r]), 5_000)
                .unwrap();
            assert_eq!(net.refused(&m1), Some("revoked"));
            assert_eq!(net.refused(&rot), Some("rotation_unknown_key"));
            (net, m1, m2)
        },
        |net, what| {
            assert!(net.roster().is_active(&key(T).public()), "{what}");
            assert!(net.roster().member(&key(K).public()).is_none(), "{what}");
        },
    );
}
