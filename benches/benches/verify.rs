//! Goal: verifying a ledger read from SQLite runs close to ed25519-dalek's own `verify_strict`
//! rate on the same signatures, on one core and on all cores (≥ 0.75× raw on all cores).
//!
//! Both sides get the same cores: for the one-core figures the whole process (the ledger's
//! pipeline thread and its signature pool alike) is pinned to one CPU, so a pipelined verifier
//! cannot borrow a second core that the raw loop does not have.
//!
//! Builds a 100k-entry ledger (1000 CT chest reports of 100 entries by two authors, plus the
//! roster), then measures raw `verify_strict` over the same signatures (keys decompressed
//! beforehand, so the baseline does strictly less work) against `verify_store`, which reads
//! every row from SQLite, decodes and re-hashes the header, checks the index columns, the
//! payload hash, the signature, and replays every ledger and report rule.
//!
//! Goal (issue 16): the same ledger with every report's payloads sealed under its data key
//! (each payload opened before the rules read it) verifies at ≥ 0.9× the rate of the ledger in
//! clear, on one core and on all; both measured in this run.

use std::time::{Duration, Instant};

use countersign_app::verify::{verify_store, verify_store_on};
use countersign_benches::{build_ledger, build_sealed_ledger, quantile};
use countersign_store::Store;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;

const REPORTS: usize = 1000;
const PER_REPORT: usize = 100;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir on disk");
    let ledger = build_ledger(dir.path(), REPORTS, PER_REPORT).expect("ledger");
    let store = Store::open(&dir.path().join("ledger.sqlite3")).expect("store");
    let sealed_dir = dir.path().join("sealed");
    std::fs::create_dir_all(&sealed_dir).expect("sealed dir");
    let sealed_ledger = build_sealed_ledger(&sealed_dir, REPORTS, PER_REPORT).expect("ledger");
    assert_eq!(sealed_ledger.entries, ledger.entries);
    let sealed_store = Store::open(&sealed_dir.join("ledger.sqlite3")).expect("store");
    let n = ledger.entries;
    let keys: Vec<(Vec<u8>, Signature, VerifyingKey)> = ledger
        .signatures
        .iter()
        .map(|(m, s, k)| {
            (
                m.clone(),
                Signature::from_bytes(s),
                VerifyingKey::from_bytes(k).expect("key"),
            )
        })
        .collect();
    let raw = |(m, s, k): &(Vec<u8>, Signature, VerifyingKey)| k.verify_strict(m, s).is_ok();
    // Built before pinning, so its threads may run on every CPU.
    let all = rayon::ThreadPoolBuilder::new().build().expect("pool");
    let threads = all.current_num_threads();
    // From here the calling thread runs on one CPU, and the one-thread pool, spawned from it,
    // inherits that CPU: the one-core figures are one core for both sides.
    let cpu = core_affinity::get_core_ids()
        .and_then(|ids| ids.into_iter().next())
        .expect("a CPU to pin to");
    assert!(core_affinity::set_for_current(cpu), "pinning to one CPU");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");

    let raw_1 = || assert!(keys.iter().all(raw));
    let raw_all = || all.install(|| assert!(keys.par_iter().all(raw)));
    let ledger_1 = || assert!(verify_store_on(&store.db(), None, &one).expect("verify").ok);
    let ledger_all = || assert!(verify_store_on(&store.db(), None, &all).expect("verify").ok);
    let sealed_1 = || {
        assert!(
            verify_store_on(&sealed_store.db(), None, &one)
                .expect("verify")
                .ok
        )
    };
    let sealed_all = || {
        assert!(
            verify_store_on(&sealed_store.db(), None, &all)
                .expect("verify")
                .ok
        )
    };
    let report = verify_store(&store.db(), None).expect("verify");
    assert!(
        report.ok && report.entries == n,
        "bench ledger does not verify: {:?}",
        report.problems.first()
    );

    let mut group = c.benchmark_group("verify_100k");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("raw_verify_strict/1_core", |b| b.iter(raw_1));
    group.bench_function(format!("raw_verify_strict/{threads}_threads"), |b| {
        b.iter(raw_all)
    });
    group.bench_function("ledger_from_sqlite/1_core", |b| b.iter(ledger_1));
    group.bench_function(format!("ledger_from_sqlite/{threads}_threads"), |b| {
        b.iter(ledger_all)
    });
    group.finish();

    // One line for the README: medians of five runs each, in the same process.
    let rate = |f: &dyn Fn()| {
        let mut secs: Vec<f64> = (0..5)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect();
        n as f64 / quantile(&mut secs, 0.5)
    };
    let (r1, ra, l1, la) = (
        rate(&raw_1),
        rate(&raw_all),
        rate(&ledger_1),
        rate(&ledger_all),
    );
    println!(
        "SUMMARY verify {n} entries: raw verify_strict {r1:.0}/s (1 core), {ra:.0}/s ({threads} cores); \
         ledger from SQLite {l1:.0}/s = {:.2}x raw (1 core), {la:.0}/s = {:.2}x raw ({threads} cores; {})",
        l1 / r1,
        la / ra,
        countersign_benches::goal(">= 0.75x raw on all cores", la / ra >= 0.75)
    );
    let (s1, sa) = (rate(&sealed_1), rate(&sealed_all));
    println!(
        "SUMMARY verify {n} entries sealed: {s1:.0}/s = {:.2}x clear (1 core), {sa:.0}/s = \
         {:.2}x clear ({threads} cores; {})",
        s1 / l1,
        sa / la,
        countersign_benches::goal(">= 0.9x clear", s1 / l1 >= 0.9 && sa / la >= 0.9)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
