//! Seeded random roster histories — grants, demotions, role changes, revocations with
//! frontiers, readmissions naming random changes, on stale parents, with equivocations —
//! resolved by the rounds, by a one-at-a-time reference, and in random delivery orders: all
//! three must agree. The generator and the reference are shared with the regression tests.

use super::*;

/// A small seeded generator (xorshift64*), so that every history is reproducible.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub(super) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The straightforward resolution the rounds claim to equal: one removal at a time, the most
/// senior pending one (lowest rank, then earliest in roster order) first, every entry judged
/// again after each; an applied removal no longer accepted goes out of force for good.
pub(super) fn one_at_a_time(log: &RosterLog) -> (Roster, usize) {
    let order = log.dag.topological();
    let mut applied: Vec<EntryId> = Vec::new();
    let mut dropped: HashSet<EntryId> = HashSet::new();
    let mut passes = 0;
    loop {
        passes += 1;
        let Some(pass) = log.settled_pass(&order, &mut applied, &mut dropped) else {
            continue;
        };
        let next = pass
            .removals
            .iter()
            .filter(|(.., id)| !applied.contains(id) && !dropped.contains(id))
            .min()
            .copied();
        match next {
            None => return (pass.roster, passes),
            Some((.., id)) => applied.push(id),
        }
    }
}

/// Everything a roster says, in a form that compares across processes' hash orders.
pub(super) fn snapshot(log: &RosterLog, r: &Roster) -> String {
    let mut statuses: Vec<(EntryId, String)> = log
        .dag
        .topological()
        .into_iter()
        .map(|id| {
            let s = match r.status(&id) {
                Some(Ok(())) => "ok".to_string(),
                Some(Err(e)) if COARSE.with(|c| c.get()) => "refused".to_string(),
                Some(Err(e)) => e.code().to_string(),
                None => "-".to_string(),
            };
            (id, s)
        })
        .collect();
    statuses.sort();
    let mut vouched: Vec<_> = r.vouched.iter().copied().collect();
    vouched.sort();
    format!(
        "members {:?}\nhistory {:?}\nstatuses {:?}\ntemplates {:?}\nvouched {:?}\nrotations {:?}",
        r.members, r.history, statuses, r.templates, vouched, r.rotations
    )
}

/// Which field of two snapshots differs first (for a readable failure).
pub(super) fn first_difference(a: &str, b: &str) -> String {
    for (x, y) in a.lines().zip(b.lines()) {
        if x != y {
            let at = x.chars().zip(y.chars()).take_while(|(p, q)| p == q).count();
            let from = at.saturating_sub(200);
            return format!(
                "\n  left:  …{}\n  right: …{}",
                x.chars().skip(from).take(500).collect::<String>(),
                y.chars().skip(from).take(500).collect::<String>()
            );
        }
    }
    String::new()
}

thread_local! {
    /// Compare statuses only as accepted or refused (not by which rule refused).
    pub(super) static COARSE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(super) const REPORT: Hash = Hash([0xAA; 32]);

/// A random roster history of `steps` attempted entries among keys 1..=`keys`: admissions,
/// grants, demotions, role changes, revocations (with frontiers), readmissions naming random
/// changes, each on a random, often stale, set of parents, and now and then an equivocation;
/// `mix` sets the shares of the kinds (cumulative percentages).
///
/// With `rotate_one_in` > 0 about one entry in that many a key
/// rotation (consented or a lost key's replacement) of a random key to a fresh one (keys 100 and
/// up), fresh keys then being targets and, made admin by a rotation, authors like the others.
/// With 0 it draws exactly what it drew before rotations existed (the seeds of the tests
/// below keep their histories).
pub(super) fn random_history_v3(
    seed: u64,
    steps: usize,
    keys: u8,
    mix: [usize; 3],
    fork_one_in: usize,
    rotate_one_in: usize,
) -> Net {
    let mut rng = Rng::new(seed);
    let mut fresh: Vec<u8> = Vec::new();
    let mut net = Net::new();
    let mut all: Vec<EntryId> = vec![net.id()];
    // Per key: the entries that made it admin (stored, accepted or not).
    let mut grants: HashMap<u8, Vec<EntryId>> = HashMap::new();
    grants.insert(1, vec![net.id()]);
    // Per key: its last entry and the parents that entry named (for an equivocation).
    let mut last: HashMap<u8, (EntryId, Vec<EntryId>, u64)> = HashMap::new();
    last.insert(1, (net.id(), vec![], 1));
    let roles = [
        Role::Attending,
        Role::Radiologist,
        Role::Resident,
        Role::Technologist,
    ];
    for step in 0..steps {
        let admins: Vec<u8> = grants.keys().copied().collect();
        let mut admins = admins;
        admins.sort();
        let who = *rng.pick(&admins);
        let target = if rotate_one_in > 0 && !fresh.is_empty() && rng.below(3) == 0 {
            *rng.pick(&fresh)
        } else {
            1 + rng.below(keys as usize) as u8
        };
        let fork = rng.below(fork_one_in) == 0 && last.get(&who).is_some_and(|(_, _, s)| *s > 1);
        let (seq, mut parents) = if fork {
            let (_, p, s) = last[&who].clone();
            (s, p)
        } else {
            let mut p = Vec::new();
            match last.get(&who) {
                Some((id, _, _)) => p.push(*id),
                None => p.push(*rng.pick(&grants[&who])),
            }
            for _ in 0..rng.below(3) {
                // Mostly recent entries, sometimes anything (stale).
                let n = all.len();
                let i = if rng.below(3) == 0 {
                    rng.below(n)
                } else {
                    n - 1 - rng.below(n.min(4))
                };
                p.push(all[i]);
            }
            (last.get(&who).map_or(1, |(_, _, s)| s + 1), p)
        };
        parents.sort();
        parents.dedup();
        let ts = 10_000 + step as u64;
        if rotate_one_in > 0 && rng.below(rotate_one_in) == 0 {
            let new = 100 + fresh.len() as u8;
            let network = net.id();
            let consent = rng.below(2) == 0;
            let mut frontier = Frontier::new();
            if rng.below(2) == 0 {
                frontier.insert(REPORT, Hash([1 + rng.below(6) as u8; 32]));
            }
            let p = RotatePayload {
                old: key(target).public(),
                new: key(new).public(),
                consent: consent
                    .then(|| crate::rotation::consent(&network, &key(target), &key(new).public())),
                possession: consent.then(|| {
                    crate::rotation::possession(&network, &key(target).public(), &key(new))
                }),
                reason: String::new(),
                frontier,
            };
            let Ok(id) = net.sign_at(who, seq, Kind::RosterRotate, p, Some(parents.clone()), ts)
            else {
                continue;
            };
            fresh.push(new);
            all.push(id);
            last.insert(who, (id, parents, seq));
            if grants.contains_key(&target) {
                grants.entry(new).or_default().push(id);
            }
            continue;
        }
        let choice = rng.below(100);
        let result = if choice < mix[0] {
            let admin = rng.below(2) == 0;
            let mut p = MemberPayload::new(key(target).public(), "m", *rng.pick(&roles), admin);
            if rng.below(2) == 0 {
                p.frontier
                    .insert(REPORT, Hash([1 + rng.below(6) as u8; 32]));
            }
            net.sign_at(who, seq, Kind::RosterMember, p, Some(parents.clone()), ts)
        } else if choice < mix[1] {
            let mut frontier = Frontier::new();
            if rng.below(2) == 0 {
                frontier.insert(REPORT, Hash([1 + rng.below(6) as u8; 32]));
            }
            let p = RevokePayload {
                key: key(target).public(),
                reason: String::new(),
                frontier,
            };
            net.sign_at(who, seq, Kind::RosterRevoke, p, Some(parents.clone()), ts)
        } else if choice < mix[2] {
            let change = (rng.below(3) != 0).then(|| {
                let of_target: Vec<EntryId> = net
                    .signed
                    .iter()
                    .filter(|(e, p)| {
                        matches!(e.header().kind, Kind::RosterRevoke | Kind::RosterMember)
                            && serde_json::from_slice::<serde_json::Value>(p)
                                .ok()
                                .and_then(|v| v.get("key").cloned())
                                == serde_json::to_value(key(target).public()).ok()
                    })
                    .map(|(e, _)| e.id())
                    .collect();
                if !of_target.is_empty() && rng.below(4) != 0 {
                    *rng.pick(&of_target)
                } else {
                    *rng.pick(&all)
                }
            });
            let p = ReadmitPayload {
                key: key(target).public(),
                log: REPORT,
                entry: Hash([1 + rng.below(6) as u8; 32]),
                change,
            };
            net.sign_at(who, seq, Kind::RosterReadmit, p, Some(parents.clone()), ts)
        } else {
            net.sign_at(
                who,
                seq,
                Kind::TemplatePublish,
                serde_json::json!({"t": step}),
                Some(parents.clone()),
                ts,
            )
        };
        let Ok(id) = result else { continue };
        all.push(id);
        last.insert(who, (id, parents, seq));
        if let Some((_, (e, _))) = net.signed.last().map(|(e, p)| (e.id(), (e, p))) {
            if e.header().kind == Kind::RosterMember {
                let p: MemberPayload =
                    serde_json::from_slice(&net.signed.last().unwrap().1).unwrap();
                if p.admin {
                    let k = (1..=keys)
                        .chain(fresh.iter().copied())
                        .find(|n| key(*n).public() == p.key)
                        .unwrap();
                    grants.entry(k).or_default().push(id);
                }
            }
        }
    }
    net
}

/// The same entries delivered in a random order (parents always first).
pub(super) fn redeliver(net: &Net, seed: u64) -> RosterLog {
    let mut rng = Rng::new(seed);
    let (g, gp) = &net.signed[0];
    let mut log = RosterLog::new(g, gp).unwrap();
    let mut rest: Vec<&(Entry, Vec<u8>)> = net.signed[1..].iter().collect();
    while !rest.is_empty() {
        let ready: Vec<usize> = (0..rest.len())
            .filter(|i| {
                rest[*i]
                    .0
                    .header()
                    .parents
                    .iter()
                    .all(|p| log.dag().contains(p))
            })
            .collect();
        let i = *rng.pick(&ready);
        let (e, p) = rest.swap_remove(i);
        log.insert(e, p).unwrap();
    }
    log
}

/// The roster of `net` is the one resolved one removal at a time and in other delivery orders.
pub(super) fn same_everywhere(net: &Net, seed: u64, what: &str) {
    let expected = snapshot(&net.log, net.roster());
    let (reference, _) = one_at_a_time(&net.log);
    assert_eq!(snapshot(&net.log, &reference), expected, "{what}");
    for s in 0..4 {
        let other = redeliver(net, seed * 7 + s);
        assert_eq!(snapshot(&other, other.roster()), expected, "{what}");
    }
}

/// Differential check of the rounds against one removal at a time, and of delivery order.
/// Prints what differs; returns the seeds that differ.
pub(super) fn differential(
    seeds: std::ops::Range<u64>,
    steps: usize,
    keys: u8,
) -> (Vec<u64>, Vec<u64>) {
    differential_mix(seeds, steps, keys, [45, 75, 95])
}

pub(super) fn differential_mix(
    seeds: std::ops::Range<u64>,
    steps: usize,
    keys: u8,
    mix: [usize; 3],
) -> (Vec<u64>, Vec<u64>) {
    differential_v2(seeds, steps, keys, mix, 20)
}

pub(super) fn differential_v2(
    seeds: std::ops::Range<u64>,
    steps: usize,
    keys: u8,
    mix: [usize; 3],
    fork_one_in: usize,
) -> (Vec<u64>, Vec<u64>) {
    differential_v3(seeds, steps, keys, mix, fork_one_in, 0)
}

pub(super) fn differential_v3(
    seeds: std::ops::Range<u64>,
    steps: usize,
    keys: u8,
    mix: [usize; 3],
    fork_one_in: usize,
    rotate_one_in: usize,
) -> (Vec<u64>, Vec<u64>) {
    let mut vs_reference = Vec::new();
    let mut vs_delivery = Vec::new();
    for seed in seeds {
        let net = random_history_v3(seed, steps, keys, mix, fork_one_in, rotate_one_in);
        let (rounds, _) = net.log.resolve_counting();
        let (reference, _) = one_at_a_time(&net.log);
        let a = snapshot(&net.log, &rounds);
        let b = snapshot(&net.log, &reference);
        if a != b {
            eprintln!(
                "seed {seed}: rounds != one at a time{}",
                first_difference(&a, &b)
            );
            vs_reference.push(seed);
        }
        for d in 0..3 {
            let other = redeliver(&net, seed * 31 + d);
            let c = snapshot(&other, other.roster());
            if a != c {
                eprintln!(
                    "seed {seed}/{d}: delivery order changes the roster{}",
                    first_difference(&a, &c)
                );
                vs_delivery.push(seed);
                break;
            }
        }
    }
    (vs_reference, vs_delivery)
}

/// Fails naming the seeds on which the rounds differ from one at a time, or delivery order
/// changes the roster.
pub(super) fn agree((r, d): (Vec<u64>, Vec<u64>)) {
    assert!(
        r.is_empty(),
        "rounds differ from one at a time on seeds {r:?}"
    );
    assert!(
        d.is_empty(),
        "delivery order changes the roster on seeds {d:?}"
    );
}

/// Mixed histories: 300 seeds of 40 attempted entries among 7 keys.
#[test]
fn random_histories_resolve_as_one_at_a_time_in_any_delivery_order() {
    agree(differential(0..300, 40, 7));
}

/// Regression: with more grants in the mix (250 seeds of 80 entries among 12 keys), the rounds
/// resolved differently from one at a time — admin flags, roles, entries accepted or refused
/// (seeds 1024 and 1243 among them): a round applied two removals of one key.
#[test]
fn grant_heavy_random_histories_resolve_as_one_at_a_time() {
    COARSE.with(|c| c.set(true));
    agree(differential_mix(1000..1250, 80, 12, [70, 85, 92]));
}

/// Longer, fork- and readmission-heavy histories among more keys (the fourth review's probe,
/// which found seed 70700 of the last setting resolving differently from one at a time).
#[test]
fn long_fork_heavy_random_histories_resolve_as_one_at_a_time() {
    COARSE.with(|c| c.set(true));
    let mut bad = Vec::new();
    for (seeds, steps, keys, mix, fork) in [
        (50_000..50_040, 120usize, 16u8, [50usize, 72, 96], 8usize),
        (50_000..50_040, 80, 10, [40, 70, 98], 6),
        (70_690..70_710, 150, 20, [65, 80, 95], 10),
    ] {
        let (r, d) = differential_v2(seeds, steps, keys, mix, fork);
        if !r.is_empty() || !d.is_empty() {
            bad.push((steps, r, d));
        }
    }
    assert!(
        bad.is_empty(),
        "(steps, vs one at a time, vs delivery): {bad:?}"
    );
}

/// Histories with key rotations among the grants, demotions, revocations and readmissions
/// (about one entry in six a rotation, consented or a lost key's replacement, of any key,
/// rotated-in keys then acted on and acting) resolve the same in any delivery order, and as one
/// at a time does. (With the removals of a round applied together, as without rotations,
/// seed 129 resolved otherwise — a self-rotation applied beside its author's later demotion of
/// a member, whose founder's demotion then went out of force for good — and wider probes found
/// more, kept below. A roster holding a rotation is now resolved one removal at a time.)
#[test]
fn random_histories_with_rotations_resolve_as_one_at_a_time_in_any_delivery_order() {
    let mix = [65, 80, 95];
    // The histories must hold rotations that stand, not only refused ones.
    let (mut signed, mut standing) = (0, 0);
    for seed in 0..200 {
        let net = random_history_v3(seed, 60, 8, mix, 20, 6);
        signed += net
            .signed
            .iter()
            .filter(|(e, _)| e.header().kind == Kind::RosterRotate)
            .count();
        standing += net.roster().rotations.len();
    }
    assert!(
        signed >= 1000 && standing >= 150,
        "{signed} rotations stored, {standing} standing"
    );
    agree(differential_v3(0..200, 60, 8, mix, 20, 6));
    // Seeds a wider probe found resolving otherwise with rounds batched beside rotations
    // (rotation-heavy: one entry in three).
    agree(differential_v3(20_533..20_534, 80, 10, [55, 75, 95], 12, 3));
    agree(differential_v3(
        21_205..21_206,
        120,
        12,
        [70, 80, 95],
        20,
        3,
    ));
    agree(differential_v3(1_174..1_175, 120, 12, [65, 80, 95], 20, 4));
}
