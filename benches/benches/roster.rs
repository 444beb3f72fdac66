//! Roster goal: a department's years of roster changes taken in — a new home catching up, a
//! restart, `verify` — in under a second on one core, and one more change judged (its standing
//! shown to the admin who signs it) in under 50 ms.
//!
//! The roster: 2 000 staff admitted over the years, 1 600 of them revoked (by the founder and
//! a second admin, alternately), 400 role changes — about 4 000 roster entries. The baseline is
//! the same entries put into the roster log's causal index alone (the DAG, checks and no
//! resolution): what any resolution adds to.
//!
//! Prints one `SUMMARY` line for the README.

use std::hint::black_box;
use std::time::Instant;

use countersign_benches::quantile;
use countersign_ledger::dag::Dag;
use countersign_ledger::roster::{Frontier, MemberPayload, RevokePayload};
use countersign_ledger::{Entry, Kind, Role, SecretKey};
use countersign_report::accept::{Ledger, Verdict};
use countersign_report::fixture::Department;
use criterion::{criterion_group, criterion_main, Criterion};

const STAFF: usize = 2_000;
const REVOKED: usize = 1_600;
const ROLE_CHANGES: usize = 400;

fn staff_key(i: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 10_000).to_le_bytes());
    SecretKey::from_seed(&seed)
}

/// The department's roster log, every entry signed on the heads by an admin, roster first.
fn churned_roster() -> (Department, Vec<(Entry, Vec<u8>)>) {
    let mut d = Department::new();
    let mut bob = d.member("bob");
    bob.admin = true;
    d.roster_entry("ada", Kind::RosterMember, &bob)
        .expect("bob made admin");
    let network = d.network();
    let sign = |d: &mut Department, who: &str, kind: Kind, bytes: Vec<u8>| {
        let e = d.sign(who, Some(network), kind, &bytes, None);
        let verdict = d.ledger.accept_unjudged(&e, Some(&bytes), d.clock);
        assert_eq!(verdict, Ok(Verdict::New(())));
        d.stored.push((e, bytes));
    };
    for i in 0..STAFF {
        let m = MemberPayload::new(
            staff_key(i).public(),
            &format!("Staff {i}"),
            Role::Radiologist,
            false,
        );
        let admin = if i % 2 == 0 { "ada" } else { "bob" };
        sign(
            &mut d,
            admin,
            Kind::RosterMember,
            serde_json::to_vec(&m).expect("json"),
        );
        if i < ROLE_CHANGES {
            let mut m = m;
            m.role = Role::Attending;
            sign(
                &mut d,
                admin,
                Kind::RosterMember,
                serde_json::to_vec(&m).expect("json"),
            );
        }
        if i >= STAFF - REVOKED {
            let r = RevokePayload {
                key: staff_key(i).public(),
                reason: "left".into(),
                frontier: Frontier::new(),
            };
            sign(
                &mut d,
                admin,
                Kind::RosterRevoke,
                serde_json::to_vec(&r).expect("json"),
            );
        }
    }
    let network = d.network();
    let roster = d
        .stored
        .iter()
        .filter(|(e, _)| e.log_id() == network)
        .cloned()
        .collect();
    (d, roster)
}

fn take_in(entries: &[(Entry, Vec<u8>)], now: u64) -> Ledger {
    let mut ledger = Ledger::default();
    for (e, p) in entries {
        ledger.accept_unjudged(e, Some(p), now).expect("taken");
    }
    // The standings, asked once the batch is in: one resolution.
    black_box(ledger.roster().members().count());
    ledger
}

fn millis(mut f: impl FnMut(), runs: usize) -> f64 {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    quantile(&mut samples, 0.5)
}

fn bench(c: &mut Criterion) {
    // One core, as the verify baseline: this is a single-threaded path.
    if let Some(core) = core_affinity::get_core_ids().and_then(|c| c.into_iter().next()) {
        core_affinity::set_for_current(core);
    }
    let (mut d, roster) = churned_roster();
    let now = d.clock;
    let built = take_in(&roster, now);
    let revoked = built
        .roster()
        .members()
        .filter(|m| m.revoked.is_some())
        .count();
    assert_eq!(revoked, REVOKED);
    // A name change, signed on the roster's heads (not taken into `d`).
    let one_more = {
        let mut m = d.member("rad");
        m.name = "Dr Rad Radiologist (new surname)".into();
        let bytes = serde_json::to_vec(&m).expect("json");
        let network = d.network();
        let e = d.sign("ada", Some(network), Kind::RosterMember, &bytes, None);
        (e, bytes)
    };

    let mut group = c.benchmark_group("roster");
    group.sample_size(10);
    group.bench_function("take_in_4k_entries", |b| {
        b.iter(|| black_box(take_in(&roster, now)))
    });
    group.finish();

    let take = millis(|| drop(take_in(&roster, now)), 5);
    let index = millis(
        || {
            let mut dag = Dag::new(roster[0].0.id());
            for (e, _) in &roster {
                dag.check(e).expect("fits");
                dag.insert(e).expect("fits");
            }
            black_box(dag.len());
        },
        5,
    );
    let one = millis(
        || {
            let mut ledger = built.clone();
            let (e, p) = &one_more;
            black_box(ledger.accept(e, Some(p), now).expect("taken"));
        },
        10,
    );
    let clone = millis(|| drop(black_box(built.clone())), 10);
    println!(
        "SUMMARY roster of {} entries ({STAFF} admitted, {REVOKED} revoked by two admins, \
         {ROLE_CHANGES} role changes), one core: taken in {take:.0} ms ({}; the causal index \
         alone {index:.0} ms); one more change with its standing {:.1} ms ({})",
        roster.len(),
        countersign_benches::goal("< 1 s", take < 1000.0),
        (one - clone).max(0.0),
        countersign_benches::goal("< 50 ms", one - clone < 50.0),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
