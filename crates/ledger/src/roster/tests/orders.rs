//! A grant or an admission beside a concurrent entry about the same key, in both roster orders
//! (entry ids, which an author can grind by picking a timestamp): what the roster says of the
//! key must follow from what each entry had seen, never from which of the two comes first.

use super::grants::first;
use super::histories::{one_at_a_time, redeliver, snapshot};
use super::*;

const F: u8 = 1;
const A: u8 = 2;
const T: u8 = 4;
const X: u8 = 9;
const Y: u8 = 10;
const Z: u8 = 11;

/// The roster of `net` is the one resolved one removal at a time and in other delivery orders.
fn same_everywhere(net: &Net, seed: u64, what: &str) {
    let expected = snapshot(&net.log, net.roster());
    let (reference, _) = one_at_a_time(&net.log);
    assert_eq!(snapshot(&net.log, &reference), expected, "{what}");
    for s in 0..4 {
        let other = redeliver(net, seed * 7 + s);
        assert_eq!(snapshot(&other, other.roster()), expected, "{what}");
    }
}

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
