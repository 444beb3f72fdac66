//! Report goals: projecting a report of 10 000 entries (text and full provenance) under 50 ms,
//! and the time of each export format for a 50-section report.
//!
//! The report's payloads are sealed under its data key, as every report the app creates is
//! (issue 16): each show opens them.
//!
//! Prints one `SUMMARY` line for the README.

use std::hint::black_box;
use std::time::Instant;

use countersign_app::{ExportFormat, Home};
use countersign_benches::{build_ledger, build_sealed_ledger, quantile};
use countersign_export::{document, fhir, pdf, sr, text};
use countersign_ledger::{Entry, Roster};
use countersign_report::accept::Ledger;
use countersign_report::{EntryStatus, ReportLog};
use criterion::{criterion_group, criterion_main, Criterion};

const ENTRIES: usize = 10_000;

/// The roster and the report's log rebuilt in memory from the store through the acceptance
/// path, as the app holds them before projecting.
fn log_of(home: &Home, report: countersign_ledger::EntryId) -> (Roster, ReportLog) {
    let db = home.store().db();
    let network: countersign_ledger::NetworkId = db
        .meta("network")
        .expect("meta")
        .expect("a network")
        .parse()
        .expect("network id");
    let mut ledger = Ledger::default();
    let key = db
        .report_key(&report)
        .expect("key")
        .expect("a sealed report");
    ledger.add_key(report, key).expect("the key");
    for log in [network, report] {
        for row in db.log_entries(&log).expect("entries") {
            let sig: [u8; 64] = row.signature.as_slice().try_into().expect("64 bytes");
            let entry = Entry::decode_unverified(&row.header, &sig).expect("stored entry");
            ledger
                .insert(&entry, row.payload.as_deref())
                .expect("a stored entry");
        }
    }
    let roster = ledger.roster().clone();
    let log = ledger.report(&report).expect("the report").clone();
    (roster, log)
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
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir on disk");
    build_sealed_ledger(dir.path(), 1, ENTRIES).expect("ledger");
    let home = Home::open(dir.path()).expect("home");
    let report = home.report_list().expect("reports")[0].report;
    let (roster, log) = log_of(&home, report);
    assert_eq!(log.len(), ENTRIES);
    let fifty = countersign_export::example_sections(50);

    let mut group = c.benchmark_group("report");
    group.sample_size(20);
    group.bench_function("project_10k_entries", |b| {
        b.iter(|| black_box(log.project(&roster, |_| EntryStatus::Verified)))
    });
    group.bench_function("report_show_10k_entries_from_sqlite", |b| {
        b.iter(|| black_box(home.report_show(report).expect("show")))
    });
    group.finish();

    let mut group = c.benchmark_group("export_50_sections");
    group.bench_function("text", |b| {
        b.iter(|| black_box(text::render(&document(&fifty))))
    });
    group.bench_function("pdf", |b| b.iter(|| black_box(pdf::render(&fifty))));
    group.bench_function("fhir", |b| b.iter(|| black_box(fhir::render(&fifty))));
    group.bench_function("sr", |b| {
        b.iter(|| black_box(sr::render(&fifty).expect("sr")))
    });
    group.finish();

    // One line for the README: medians of plain timed runs.
    let project = millis(
        || drop(black_box(log.project(&roster, |_| EntryStatus::Verified))),
        30,
    );
    let show = millis(
        || drop(black_box(home.report_show(report).expect("show"))),
        10,
    );
    // The baseline: the same report in clear (as reports were before sealing), shown and
    // first shown the same way, interleaved with the sealed one so both see the same machine.
    let clear_dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir on disk");
    build_ledger(clear_dir.path(), 1, ENTRIES).expect("ledger");
    let clear = Home::open(clear_dir.path()).expect("home");
    let clear_report = clear.report_list().expect("reports")[0].report;
    let (mut sealed_show, mut clear_show, mut sealed_first, mut clear_first) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        sealed_show.push(millis(
            || drop(black_box(home.report_show(report).expect("show"))),
            3,
        ));
        clear_show.push(millis(
            || drop(black_box(clear.report_show(clear_report).expect("show"))),
            3,
        ));
        sealed_first.push(millis(
            || {
                let fresh = Home::open(dir.path()).expect("home");
                drop(black_box(fresh.report_show(report).expect("show")));
            },
            1,
        ));
        clear_first.push(millis(
            || {
                let fresh = Home::open(clear_dir.path()).expect("home");
                drop(black_box(fresh.report_show(clear_report).expect("show")));
            },
            1,
        ));
    }
    let (ss, cs) = (
        quantile(&mut sealed_show, 0.5),
        quantile(&mut clear_show, 0.5),
    );
    let (sf, cf) = (
        quantile(&mut sealed_first, 0.5),
        quantile(&mut clear_first, 0.5),
    );
    println!(
        "SUMMARY report show of {ENTRIES} entries sealed {ss:.1} ms, clear {cs:.1} ms = {:.2}x \
         ({}); first show in a new process sealed {sf:.0} ms, clear {cf:.0} ms = {:.2}x",
        ss / cs,
        countersign_benches::goal("sealed < 50 ms", ss < 50.0),
        sf / cf,
    );
    // A freshly opened home has verified nothing yet: every signature is checked, on all cores.
    let first = millis(
        || {
            let fresh = Home::open(dir.path()).expect("home");
            drop(black_box(fresh.report_show(report).expect("show")));
        },
        3,
    );
    let formats = [
        ("text", millis(|| drop(text::render(&document(&fifty))), 50)),
        ("pdf", millis(|| drop(pdf::render(&fifty)), 50)),
        ("fhir", millis(|| drop(fhir::render(&fifty)), 50)),
        ("sr", millis(|| drop(sr::render(&fifty)), 50)),
    ];
    // The audit archive carries the report's data key, which only an unlocked member key
    // opens; the bench ledger is built straight into SQLite with no member key, so this home
    // cannot write one (`not_initialized`) and the figure is printed as not measured.
    let archive = home.export(report, ExportFormat::Bundle).is_ok().then(|| {
        millis(
            || drop(home.export(report, ExportFormat::Bundle).expect("bundle")),
            5,
        )
    });
    let archive = archive.map_or_else(
        || "not measured (no member key in the bench home)".to_string(),
        |ms| format!("{ms:.0} ms"),
    );
    println!(
        "SUMMARY report of {ENTRIES} entries: projection {project:.1} ms, report show from SQLite \
         (read, re-check, project) {show:.1} ms ({}), first show in a new process \
         (verifies all {ENTRIES} signatures) {first:.0} ms; 50-section report export: {}; audit \
         archive of the {ENTRIES}-entry report {archive}",
        countersign_benches::goal("< 50 ms", show < 50.0),
        formats
            .iter()
            .map(|(f, ms)| format!("{f} {ms:.2} ms"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
