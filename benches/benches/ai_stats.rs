//! `ai stats` over a department's AI record (issue 17): `COUNTERSIGN_AI_RESULTS` AI results
//! (default 100 000), four per report, every one reviewed (accepted, edited, rejected in turn),
//! across two versions of one model, generated straight into SQLite
//! (`countersign_benches::build_ai_department`). Measured through the app's use case
//! (`Home::ai_stats`, what `countersign ai stats --json` runs): the first call on a freshly
//! opened home and the median of three more. Opening the home builds the derived tables (the
//! report list and the AI outcome rows, every AI entry's signature verified once), as it does
//! for a home from before them; that is timed apart. The counts are checked against what was
//! generated, so a fast wrong answer fails. Goal < 1 s. Prints one `SUMMARY` line, with the
//! process's CPU time (user + system, every thread) beside the first call's wall time: on a
//! machine shared with other builds the wall time measures the queue as much as the work,
//! and the CPU time bounds what the call costs on a quiet one (its data is in the OS cache).

use std::time::Instant;

use countersign_app::Home;
use countersign_benches::{build_ai_department, goal, quantile};
use countersign_report::oversight::Filter;

const PER_REPORT: usize = 4;

fn main() {
    let results: usize = std::env::var("COUNTERSIGN_AI_RESULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let started = Instant::now();
    let built = build_ai_department(dir.path(), results / PER_REPORT, PER_REPORT)
        .expect("the department is built");
    let generated = started.elapsed().as_secs_f64();
    let opening = Instant::now();
    let home = Home::open(dir.path()).expect("the home opens");
    let opened = opening.elapsed().as_secs_f64();
    eprintln!(
        "built {} entries ({} AI results) in {generated:.1} s; the report list and AI rows \
         built on open in {opened:.1} s",
        built.entries, built.results,
    );
    drop(home);
    // What a CLI process does: open a home whose tables are current, ask once.
    let home = Home::open(dir.path()).expect("the home opens again");
    let run = || {
        let t = Instant::now();
        let stats = home.ai_stats(&Filter::default(), None).expect("ai stats");
        (t.elapsed().as_secs_f64(), stats)
    };
    let cpu_before = cpu_seconds();
    let (first, stats) = run();
    let first_cpu = cpu_seconds()
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    let counted: u64 = stats.models.iter().map(|m| m.proposals).sum();
    let decided: [u64; 3] = stats.models.iter().fold([0; 3], |a, m| {
        [a[0] + m.accepted, a[1] + m.edited, a[2] + m.rejected]
    });
    assert_eq!(counted, built.results, "every AI result is counted");
    assert_eq!(
        decided, built.decisions,
        "every review is counted as it was made"
    );
    assert!(stats.excluded.is_empty(), "{:?}", &stats.excluded[..1]);
    assert_eq!(stats.models.len(), 2, "two versions");
    let mut warm: Vec<f64> = (0..3).map(|_| run().0).collect();
    let median = quantile(&mut warm, 0.5);
    println!(
        "SUMMARY ai_stats: {} AI results and reviews in {} reports, 2 model versions: first call {:.2} s (CPU {}), warm median {:.2} s (tables built on open once: {:.1} s; load average {}) — {}",
        built.results,
        results / PER_REPORT,
        first,
        first_cpu.map_or("unknown".into(), |c| format!("{c:.2} s")),
        median,
        opened,
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "unknown".into()),
        goal("< 1 s", first < 1.0)
    );
}

/// This process's CPU time so far (user + system, all threads), from `/proc/self/stat` in clock
/// ticks of 1/100 s (Linux; `None` elsewhere).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, so split after its `)`): utime
    // and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}
