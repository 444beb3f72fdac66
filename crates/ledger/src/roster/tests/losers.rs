//! A junior admin's change that lost to a senior's concurrent one (see `details.rs`) must not
//! decide how the key's report entries are judged: its role never applied, and its frontier
//! vouches for nothing. Both attacks succeeded against the first version of the
//! concurrent-details rule (the insider review of 2026-12-03), whatever the roster order.

use super::details::admins;
use super::grants::first;
use super::histories::REPORT;
use super::*;

const F: u8 = 1;
const A: u8 = 2;
const B: u8 = 3;
const T: u8 = 4;

fn change(
    net: &mut Net,
    by: u8,
    role: Role,
    name: &str,
    inside: Option<u64>,
    parents: Vec<EntryId>,
    ts: u64,
) -> EntryId {
    let mut p = MemberPayload::new(key(T).public(), name, role, false);
    if let Some(n) = inside {
        p.frontier.insert(REPORT, Hash([n as u8; 32]));
    }
    net.sign(by, Kind::RosterMember, p, Some(parents), ts)
        .unwrap()
}

/// T's report entry `seq`, with the frontier entries named by their seq.
fn role_at(net: &Net, seq: u64) -> Result<Role, AuthorityError> {
    report_authority(net.roster(), T, REPORT, seq, |v| Some(v.0[0] as u64)).map(|a| a.role)
}

/// A junior admin's losing change must not lift T's entries over a senior's concurrent
/// narrowing. F admits T as an attending. A (senior) narrows T to radiologist, vouching for
/// T's report entries up to 3 as made before; B (junior), not having seen it, renames T keeping
/// the attending role, vouching up to 5. A's change is in force; T's entry 4 is, by A's word,
/// made after A's narrowing: a radiologist's. (It was judged an attending's: B's frontier, the
/// loser's, covered it.)
#[test]
fn a_juniors_losing_change_does_not_lift_entries_over_a_seniors_narrowing() {
    let mut orders = [false, false];
    for ts in 2_000..2_040 {
        let (mut net, e_b) = admins();
        let m = change(&mut net, F, Role::Attending, "T", None, vec![e_b], 2_000);
        let ca = change(
            &mut net,
            A,
            Role::Radiologist,
            "by A",
            Some(3),
            vec![m],
            2_000,
        );
        let cb = change(&mut net, B, Role::Attending, "by B", Some(5), vec![m], ts);
        let a_first = first(&net, &ca, &cb);
        orders[a_first as usize] = true;
        let what = format!("A first: {a_first}");
        assert_eq!(
            net.roster().member(&key(T).public()).unwrap().role,
            Role::Radiologist
        );
        assert_eq!(role_at(&net, 2), Ok(Role::Attending), "{what}");
        assert_eq!(role_at(&net, 4), Ok(Role::Radiologist), "{what}");
        assert_eq!(role_at(&net, 7), Ok(Role::Radiologist), "{what}");
    }
    assert_eq!(orders, [true, true]);
}

/// A junior admin's losing change must not govern the entries a senior vouched for. F admits T
/// as a resident. A (senior) makes T a radiologist, vouching for T's entries up to 5 as made
/// before (as a resident); B (junior), not having seen it, makes T an attending with no
/// frontier. A's change is in force; T's entry 3 is, by A's word, a resident's. (It was judged
/// under B's overridden attending role: B's change sat between the admission and A's.)
#[test]
fn a_juniors_losing_change_does_not_govern_entries_a_senior_vouched_for() {
    let mut orders = [false, false];
    for ts in 2_000..3_000 {
        let (mut net, e_b) = admins();
        let m = change(&mut net, F, Role::Resident, "T", None, vec![e_b], 2_000);
        let ca = change(
            &mut net,
            A,
            Role::Radiologist,
            "by A",
            Some(5),
            vec![m],
            2_000,
        );
        let cb = change(&mut net, B, Role::Attending, "by B", None, vec![m], ts);
        let a_first = first(&net, &ca, &cb);
        orders[a_first as usize] = true;
        let what = format!("A first: {a_first}");
        assert_eq!(role_at(&net, 3), Ok(Role::Resident), "{what}");
        assert_eq!(role_at(&net, 7), Ok(Role::Radiologist), "{what}");
        // (A's id sorts low here: forty timestamps did not put B's change first.)
        if orders == [true, true] {
            break;
        }
    }
    assert_eq!(orders, [true, true]);
}
