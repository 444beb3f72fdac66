//! Key rotation, tried by whoever could break it: the old key's holder after the rotation (a
//! stolen laptop), a member who is not an admin, a consent replayed from another department, a
//! rotation onto a key already on the roster, a junior admin rotating a senior, and two admins
//! rotating one key at once.

use super::histories::{redeliver, snapshot};
use super::*;
use crate::rotation;

const REPORT: LogId = Hash([0xAA; 32]);

impl Net {
    /// A `roster.rotate` of `old` to `new` by `by` on `parents` (the heads when `None`): with
    /// the old key's consent and the new key's proof when `consent`, as a lost key's
    /// replacement (neither) otherwise.
    fn rotation(&self, old: u8, new: u8, consent: bool, frontier: Frontier) -> RotatePayload {
        let network = self.id();
        RotatePayload {
            old: key(old).public(),
            new: key(new).public(),
            consent: consent.then(|| rotation::consent(&network, &key(old), &key(new).public())),
            possession: consent
                .then(|| rotation::possession(&network, &key(old).public(), &key(new))),
            reason: "new laptop".into(),
            frontier,
        }
    }

    fn rotate(
        &mut self,
        old: u8,
        new: u8,
        by: u8,
        consent: bool,
        parents: Option<Vec<EntryId>>,
    ) -> Result<EntryId, RuleError> {
        let mut frontier = Frontier::new();
        frontier.insert(REPORT, Hash([3; 32]));
        let p = self.rotation(old, new, consent, frontier);
        self.sign(by, Kind::RosterRotate, p, parents, 5_000)
    }
}

/// The authority for `who`'s entry at `seq` of [`REPORT`], where the rotation's frontier names
/// the entry at sequence 3 (`Hash([3; 32])`).
fn at(net: &Net, who: u8, seq: u64) -> Result<Authority, AuthorityError> {
    report_authority(net.roster(), who, REPORT, seq, |v| {
        (*v == Hash([3; 32])).then_some(3)
    })
}

#[test]
fn a_rotation_links_two_keys_of_one_person() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Radiologist, false);
    let id = net.rotate(2, 3, 1, true, None).unwrap();
    assert_eq!(net.roster().status(&id), Some(&Ok(())));
    let roster = net.roster();
    let (old, new) = (key(2).public(), key(3).public());
    let m = roster.member(&new).unwrap();
    assert_eq!(
        (m.name.as_str(), m.role, m.admin),
        ("member 2", Role::Radiologist, false)
    );
    assert_eq!(m.rotated_from, Some(old));
    assert_eq!(roster.member(&old).unwrap().rotated_to, Some(new));
    assert!(roster.is_active(&new) && !roster.is_active(&old));
    assert_eq!(roster.person_keys(&old), vec![old, new]);
    assert_eq!(roster.person_keys(&new), vec![old, new]);
    let place = roster.key_place(&new).unwrap();
    assert_eq!((place.number, place.keys, place.current), (2, 2, new));
    let link = place.introduced.unwrap();
    assert_eq!((link.entry, link.at_ms, link.consented), (id, 5_000, true));
    assert_eq!(roster.key_place(&old).unwrap().number, 1);
    assert!(roster.key_place(&key(1).public()).is_none());
    // The old key's entries inside the frontier stand; the rest are refused, as rotated.
    assert_eq!(at(&net, 2, 3).map(|a| a.role), Ok(Role::Radiologist));
    assert_eq!(at(&net, 2, 4).unwrap_err().code(), "rotated");
    let other = report_authority(net.roster(), 2, Hash([0xBB; 32]), 1, |_| None);
    assert_eq!(other.unwrap_err().code(), "rotated");
    // The new key signs anything, anywhere, as the person.
    assert_eq!(at(&net, 3, 1).map(|a| a.role), Ok(Role::Radiologist));
    // A third key later: key 3 of 3, one person.
    net.rotate(3, 4, 1, true, None).unwrap();
    let place = net.roster().key_place(&key(3).public()).unwrap();
    assert_eq!((place.number, place.keys), (2, 3));
    assert_eq!(net.roster().person_keys(&old).len(), 3);
    // A change of the rotated-in key's details keeps the link.
    let rename = MemberPayload::new(key(4).public(), "Dr Renamed", Role::Radiologist, false);
    net.sign(1, Kind::RosterMember, rename, None, 6_000)
        .unwrap();
    assert_eq!(net.roster().person_keys(&key(4).public()).len(), 3);
}

/// A stolen laptop: the old key signs after the rotation — roster entries backdated onto a past
/// without the rotation, and a second rotation to a key the thief holds. Nothing counts.
#[test]
fn the_old_key_signs_nothing_after_the_rotation() {
    let mut net = Net::new();
    let grant = net.admit(2, 1, Role::Attending, true);
    let id = net.rotate(2, 3, 1, true, None).unwrap();
    assert_eq!(net.roster().status(&id), Some(&Ok(())));
    // The new key is the admin now, at the old key's rank.
    assert_eq!(net.rank(3), Some(1));
    assert_eq!(net.rank(2), None);
    // The thief rotates the old key again, to a key of their own, with its "consent", on the
    // past before the rotation; then admits an accomplice as admin on that stale past.
    let stale = net.rotate(2, 8, 2, true, Some(vec![grant])).unwrap();
    assert_eq!(net.refused(&stale), Some("rotated"));
    let accomplice = MemberPayload::new(key(9).public(), "accomplice", Role::Attending, true);
    let backdated = net
        .sign(2, Kind::RosterMember, &accomplice, Some(vec![stale]), 0)
        .unwrap();
    assert_eq!(net.refused(&backdated), Some("rotated"));
    // On the current roster, the same.
    let again = net.rotate(2, 7, 2, true, None).unwrap();
    assert_eq!(net.refused(&again), Some("rotated"));
    for k in [7, 8, 9] {
        assert!(net.roster().member(&key(k).public()).is_none(), "key {k}");
    }
    // An admin cannot rotate the old key a second time either.
    let second = net.rotate(2, 6, 1, false, None).unwrap();
    assert_eq!(net.refused(&second), Some("key_revoked"));
    // Nor give the old key back its details.
    let back = MemberPayload::new(key(2).public(), "member 2", Role::Attending, true);
    let back = net.sign(1, Kind::RosterMember, back, None, 7_000).unwrap();
    assert_eq!(net.refused(&back), Some("key_revoked"));
    assert_eq!(at(&net, 2, 4).unwrap_err().code(), "rotated");
}

#[test]
fn only_an_admin_rotates_a_key() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, false);
    // A member who is not an admin rotates their own key: not stored.
    let err = net.rotate(2, 3, 2, true, None).unwrap_err();
    assert_eq!(err.code(), "not_admin");
    // An admin's rotation of a key the roster never admitted stands for nothing.
    let stranger = net.rotate(5, 6, 1, true, None).unwrap();
    assert_eq!(net.refused(&stranger), Some("rotation_unknown_key"));
    assert!(net.roster().member(&key(6).public()).is_none());
}

#[test]
fn a_consent_from_another_department_or_for_another_key_is_refused() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, false);
    let elsewhere = Hash::of(b"another department");
    let mut p = net.rotation(2, 3, true, Frontier::new());
    p.consent = Some(rotation::consent(&elsewhere, &key(2), &key(3).public()));
    let err = net
        .sign(1, Kind::RosterRotate, &p, None, 5_000)
        .unwrap_err();
    assert_eq!(err.code(), "rotation_signature");
    // The old key's consent moved onto another new key.
    let mut p = net.rotation(2, 3, true, Frontier::new());
    p.new = key(4).public();
    let err = net
        .sign(1, Kind::RosterRotate, &p, None, 5_000)
        .unwrap_err();
    assert_eq!(err.code(), "rotation_signature");
    // A consent without the new key's proof of possession.
    let mut p = net.rotation(2, 3, true, Frontier::new());
    p.possession = None;
    let err = net
        .sign(1, Kind::RosterRotate, &p, None, 5_000)
        .unwrap_err();
    assert_eq!(err.code(), "rotation_signature");
    // A key rotated onto itself.
    let p = net.rotation(2, 2, false, Frontier::new());
    let err = net
        .sign(1, Kind::RosterRotate, &p, None, 5_000)
        .unwrap_err();
    assert_eq!(err.code(), "rotation_signature");
    assert!(net.roster().is_active(&key(2).public()));
}

#[test]
fn a_rotation_onto_a_key_the_roster_named_is_refused() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, false);
    net.admit(3, 1, Role::Radiologist, false);
    net.admit(4, 1, Role::Resident, false);
    net.revoke(4, 1, Frontier::new()).unwrap();
    // Onto another member's key: their entries would become this person's.
    let onto_member = net.rotate(2, 3, 1, true, None).unwrap();
    assert_eq!(net.refused(&onto_member), Some("rotation_key_known"));
    // Onto a revoked key: it would be admitted again.
    let onto_revoked = net.rotate(2, 4, 1, true, None).unwrap();
    assert_eq!(net.refused(&onto_revoked), Some("rotation_key_known"));
    assert_eq!(
        net.roster().member(&key(3).public()).unwrap().name,
        "member 3"
    );
    assert!(!net.roster().is_active(&key(4).public()));
    assert!(net.roster().is_active(&key(2).public()));
    // A key rotated away is not rotated onto either.
    net.rotate(2, 5, 1, true, None).unwrap();
    let back = net.rotate(5, 2, 1, true, None).unwrap();
    assert_eq!(net.refused(&back), Some("rotation_key_known"));
}

/// Rotation follows the seniority rule of revocation: a junior admin cannot rotate (or replace)
/// a senior admin's key, consent or not; the holder and any more senior admin can.
#[test]
fn a_junior_admin_cannot_rotate_a_senior_admin() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    net.admit(3, 1, Role::Attending, true);
    for (new, consent) in [(5, false), (10, true)] {
        let junior = net.rotate(2, new, 3, consent, None).unwrap();
        assert_eq!(
            net.refused(&junior),
            Some("not_senior"),
            "consent {consent}"
        );
    }
    // Nor the founder's, whose key only its holder rotates.
    let founder = net.rotate(1, 6, 2, true, None).unwrap();
    assert_eq!(net.refused(&founder), Some("not_senior"));
    // The holder rotates their own; the new key keeps the rank, so the junior still cannot
    // touch it.
    let own = net.rotate(2, 7, 2, true, None).unwrap();
    assert_eq!(net.roster().status(&own), Some(&Ok(())));
    assert_eq!(net.rank(7), Some(1));
    let revoke = net.revoke(7, 3, Frontier::new()).unwrap();
    assert_eq!(net.refused(&revoke), Some("not_senior"));
    // A more senior admin replaces a junior's lost key.
    let lost = net.rotate(3, 8, 7, false, None).unwrap();
    assert_eq!(net.roster().status(&lost), Some(&Ok(())));
    assert_eq!(net.rank(8), Some(2));
    // The founder rotates their own key and stays the most senior.
    let founder = net.rotate(1, 9, 1, true, None).unwrap();
    assert_eq!(net.roster().status(&founder), Some(&Ok(())));
    assert_eq!(net.rank(9), Some(0));
    let by_new_founder = net.revoke(8, 9, Frontier::new()).unwrap();
    assert_eq!(net.roster().status(&by_new_founder), Some(&Ok(())));
}

#[test]
fn a_lost_key_is_replaced_by_an_admin_alone() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Cardiologist, false);
    let id = net.rotate(2, 3, 1, false, None).unwrap();
    assert_eq!(net.roster().status(&id), Some(&Ok(())));
    let place = net.roster().key_place(&key(3).public()).unwrap();
    assert!(!place.introduced.unwrap().consented);
    assert_eq!(at(&net, 2, 3).map(|a| a.role), Ok(Role::Cardiologist));
    assert_eq!(at(&net, 2, 4).unwrap_err().code(), "rotated");
    // An honest entry the admin had not seen is vouched for afterwards, as after a revocation.
    let readmit = ReadmitPayload {
        key: key(2).public(),
        log: REPORT,
        entry: Hash([5; 32]),
        change: None,
    };
    let r = net
        .sign(1, Kind::RosterReadmit, readmit, None, 6_000)
        .unwrap();
    assert_eq!(net.roster().status(&r), Some(&Ok(())));
    let upto5 = |v: &EntryId| (*v == Hash([5; 32])).then_some(5);
    let role = report_authority(net.roster(), 2, REPORT, 5, upto5).map(|a| a.role);
    assert_eq!(role, Ok(Role::Cardiologist));
}

/// A rotation of a revoked key would admit a key in its place; a senior's demotion the rotation
/// had not seen must not be escaped by moving to a new key.
#[test]
fn removals_win_over_a_rotation_that_had_not_seen_them() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, false);
    net.revoke(2, 1, Frontier::new()).unwrap();
    let revoked = net.rotate(2, 3, 1, true, None).unwrap();
    assert_eq!(net.refused(&revoked), Some("key_revoked"));

    // Admin 4 rotates their own key while the founder, concurrently, demotes them: the
    // demotion leaves out 4's roster entries it had not seen, this one too.
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    let grant = net.admit(4, 1, Role::Attending, true);
    let demotion = MemberPayload::new(key(4).public(), "member 4", Role::Attending, false);
    net.sign(1, Kind::RosterMember, demotion, Some(vec![grant]), 6_000)
        .unwrap();
    let own = net.rotate(4, 5, 4, true, Some(vec![grant])).unwrap();
    assert_eq!(net.refused(&own), Some("revoked"));
    // Admin 2, senior to 4, rotates 4's key (at 4's request) beside the same demotion.
    let by_senior = net.rotate(4, 6, 2, true, Some(vec![grant])).unwrap();
    assert_eq!(net.refused(&by_senior), Some("rotation_contested"));
    for k in [5, 6] {
        assert!(net.roster().member(&key(k).public()).is_none(), "key {k}");
    }
    assert!(!net.roster().member(&key(4).public()).unwrap().admin);
    // In every delivery order.
    let expected = snapshot(&net.log, net.roster());
    for seed in 0..8 {
        let other = redeliver(&net, seed);
        assert_eq!(snapshot(&other, other.roster()), expected, "order {seed}");
    }
}

/// Two admins rotate one key at once, to different keys: one rotation stands, the same one in
/// every order, and the other new key is not admitted.
#[test]
fn concurrent_rotations_of_one_key_resolve_the_same_in_every_order() {
    let mut net = Net::new();
    net.admit(2, 1, Role::Attending, true);
    let base = net.admit(3, 1, Role::Radiologist, false);
    let a = net.rotate(3, 5, 1, true, Some(vec![base])).unwrap();
    let b = net.rotate(3, 6, 2, true, Some(vec![base])).unwrap();
    // The founder's, the more senior, stands.
    assert_eq!(net.roster().status(&a), Some(&Ok(())));
    assert_eq!(net.refused(&b), Some("key_revoked"));
    assert!(net.roster().is_active(&key(5).public()));
    assert!(net.roster().member(&key(6).public()).is_none());
    let expected = snapshot(&net.log, net.roster());
    for seed in 0..8 {
        let other = redeliver(&net, seed);
        assert_eq!(snapshot(&other, other.roster()), expected, "order {seed}");
    }
}
