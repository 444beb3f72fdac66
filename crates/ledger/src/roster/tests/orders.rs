//! A grant or an admission beside a concurrent entry about the same key, in both roster orders
//! (entry ids, which an author can grind by picking a timestamp): what the roster says of the
//! key must follow from what each entry had seen, never from which of the two comes first.

use super::grants::first;
use super::histories::{same_everywhere, REPORT};
use super::*;

const F: u8 = 1;
const A: u8 = 2;
const B: u8 = 3;
const T: u8 = 4;
const X: u8 = 9;
const Y: u8 = 10;
const Z: u8 = 11;

/// The founder F makes A and then T admins (G0), then demotes T (D) on a past without G1; A,
/// on a past without D, makes T an admin again (G1). T, having seen G1 only, admits X, then,
/// having seen D too, admits Y. When `regrant`, A, having seen D, makes T an admin once more
/// (G2), and T admits Z after it. Returns the net and (D, G1, X, Y, Z if made).
fn grant_beside_demotion(ts: u64, regrant: bool) -> (Net, [EntryId; 4], Option<EntryId>) {
    let mut net = Net::new();
    let g = net.id();
    let e_a = net.member(A, F, Role::Attending, true, Some(vec![g]));
    let g0 = net.member(T, F, Role::Attending, true, Some(vec![e_a]));
    let d = net.member_at(T, F, false, vec![g0], 2_000);
    let g1 = net.member_at(T, A, true, vec![g0], ts);
    let x = net.member_at(X, T, false, vec![g1], 2_500);
    let y = net.member_at(Y, T, false, vec![x, d], 2_600);
    let z = regrant.then(|| {
        let g2 = net.member_at(T, A, true, vec![d, g1], 2_700);
        net.member_at(Z, T, false, vec![g2, y], 2_800)
    });
    (net, [d, g1, x, y], z)
}

/// Asserts what an auditor expects of [`grant_beside_demotion`] with D and G1 in both roster
/// orders: the demotion wins over the grant it had not seen, so T is no admin and T's roster
/// entries the demotion had not seen are left out — until a grant made having seen it.
fn check_grant_beside_demotion(regrant: bool) {
    let mut orders = [false, false];
    for ts in 2_000..2_040 {
        let (net, [d, g1, x, y], z) = grant_beside_demotion(ts, regrant);
        let d_first = first(&net, &d, &g1);
        orders[d_first as usize] = true;
        let what = format!("regrant: {regrant}, D first: {d_first}");
        let roster = net.roster();
        assert_eq!(roster.status(&d), Some(&Ok(())), "{what}");
        // G1 stands as an entry; it only does not undo D.
        assert_eq!(roster.status(&g1), Some(&Ok(())), "{what}");
        for (id, k) in [(x, X), (y, Y)] {
            assert!(
                matches!(
                    roster.status(&id),
                    Some(Err(RosterError::Authority(AuthorityError::Revoked { revocation, .. })))
                        if *revocation == d
                ),
                "{what}: {:?}",
                roster.status(&id)
            );
            assert!(roster.member(&key(k).public()).is_none(), "{what}");
        }
        let t = roster.member(&key(T).public()).unwrap();
        assert!(roster.is_active(&key(T).public()), "{what}");
        match z {
            None => assert!(!t.admin && t.seniority.is_none(), "{what}"),
            Some(z) => {
                assert!(t.admin && t.seniority.is_some(), "{what}");
                assert_eq!(roster.status(&z), Some(&Ok(())), "{what}");
            }
        }
        same_everywhere(&net, ts, &what);
    }
    assert_eq!(orders, [true, true], "both roster orders of D and G1 tried");
}

/// Regression: a grant of an admin beside a senior's demotion of them that neither had seen
/// made the key an admin again when the roster order put the demotion first (as a fresh grant,
/// after the demotion had cleared the flag), and left it demoted when it put the grant first:
/// the demoted admin's standing was the grant's author's to pick by a timestamp. Now removals
/// win over a grant they had not seen, as over a rotation: it leaves the flag as it was.
#[test]
fn a_grant_does_not_undo_a_concurrent_demotion_placed_first() {
    check_grant_beside_demotion(false);
}

/// A grant made having seen the demotion does undo it, in both orders of the earlier pair.
#[test]
fn a_grant_after_a_demotion_undoes_it_whatever_the_concurrent_grant() {
    check_grant_beside_demotion(true);
}

/// Regression: whether a `roster.member` admitted its key or changed it was asked of the roster
/// as resolved so far in roster order, not of the entry's past. Of two admins' concurrent
/// admissions of T, A's (M1) and B's (M2, carrying a frontier — which only a change of an
/// admitted member's details has a use for), M2 placed second was taken as a change, and its
/// frontier kept T's entries inside it under M1's details past a later change of role; placed
/// first, it was an admission and its frontier was dropped. So whether T's entry 3 of a report
/// was an attending's or a radiologist's turned on a timestamp. Now M2 is an admission in both
/// orders (no admission of T was in its past), and its frontier vouches for nothing.
#[test]
fn an_admission_is_no_change_when_a_concurrent_admission_comes_first() {
    let mut orders = [false, false];
    let inside = Hash([5; 32]);
    for ts in 2_000..2_040 {
        let mut net = Net::new();
        let g = net.id();
        let e_a = net.member(A, F, Role::Attending, true, Some(vec![g]));
        let e_b = net.member(B, F, Role::Attending, true, Some(vec![e_a]));
        let m1 = net.member_at(T, A, false, vec![e_b], 2_000);
        let mut p = MemberPayload::new(key(T).public(), "m4", Role::Attending, false);
        p.frontier.insert(REPORT, inside);
        let m2 = net
            .sign(B, Kind::RosterMember, p, Some(vec![e_b]), ts)
            .unwrap();
        // The founder, having seen both, makes T a radiologist (no frontier).
        let c = net.member(T, F, Role::Radiologist, false, Some(vec![m1, m2]));
        let m1_first = first(&net, &m1, &m2);
        orders[m1_first as usize] = true;
        let what = format!("M1 first: {m1_first}");
        let roster = net.roster();
        for id in [m1, m2, c] {
            assert_eq!(roster.status(&id), Some(&Ok(())), "{what}");
        }
        let upto5 = |v: &EntryId| (*v == inside).then_some(5);
        let entry3 = report_authority(roster, T, REPORT, 3, upto5).map(|a| a.role);
        assert_eq!(entry3, Ok(Role::Radiologist), "{what}");
        assert!(!roster.vouches(&REPORT, &inside), "{what}");
        assert!(roster
            .history(&key(T).public())
            .iter()
            .all(|c| c.frontier.is_empty()));
        same_everywhere(&net, ts, &what);
    }
    assert_eq!(
        orders,
        [true, true],
        "both roster orders of M1 and M2 tried"
    );
}
