//! Issue 19: a bundle of 100 000 entries imported through the real CLI (this package's
//! `countersign`, built by `cargo bench` in the optimised bench profile) into a fresh home, once
//! in causal order and once reversed: wall-clock time and peak RSS of the whole process, three
//! runs each, interleaved. Reverse order must cost about what forward order costs (entries are
//! put in causal order once, in one pass), and the peak stays within the 256 MiB the
//! integration test `bundle_scale` asserts.
//!
//! The entries and the measurement are the integration test's own (`tests/integration/
//! bundle_scale.rs`, included below), so the numbers are about the bundle the test imports.
//! `make bench-bundle`; prints one `SUMMARY` line for the README.

#[allow(dead_code)]
#[path = "../../../tests/integration/bundle_scale.rs"]
mod bundle_scale;
#[allow(dead_code, unused_imports)]
#[path = "../../../tests/integration/common/mod.rs"]
mod common;

use bundle_scale::{department_entries, measured, Measured, ENTRIES};

const RUNS: usize = 3;
/// Reverse order may cost this much more than causal order: "linear in any order", with room
/// for a shared machine's noise.
const MAX_RATIO: f64 = 1.25;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut entries = department_entries();
    // The network an auditor names to take the bundle into a fresh home.
    let network = entries
        .iter()
        .find(|(e, _)| e.header().kind == countersign_ledger::Kind::NetworkGenesis)
        .map(|(e, _)| e.id().to_hex())
        .expect("a genesis");
    let mut files = Vec::new();
    for order in ["forward", "reverse"] {
        if order == "reverse" {
            entries.reverse();
        }
        let bytes = countersign_ledger::bundle::encode(
            entries.iter().map(|(e, p)| (e, Some(p.as_slice()))),
        );
        let file = dir.path().join(format!("{order}.bundle"));
        std::fs::write(&file, &bytes).expect("write the bundle");
        println!(
            "{order}: {ENTRIES} entries, {:.1} MiB",
            mib(bytes.len() as u64)
        );
        files.push((order, file));
    }
    drop(entries);

    let mut runs: Vec<(&str, Measured)> = Vec::new();
    for run in 1..=RUNS {
        for (order, file) in &files {
            let home = dir.path().join(format!("home-{order}-{run}"));
            let file = file.to_str().expect("utf-8");
            let m = measured(&home, &["bundle", "import", file, "--network", &network]);
            assert_eq!(m.code, 0, "{order} import failed: {}", m.stderr);
            assert!(
                m.stdout.contains(&format!("\"new\":{ENTRIES}")),
                "{order}: {}",
                m.stdout
            );
            println!(
                "run {run} {order}: {:.2} s, peak RSS {:.1} MiB",
                m.seconds,
                mib(m.peak_rss)
            );
            std::fs::remove_dir_all(&home).expect("remove the home");
            runs.push((order, m));
        }
    }
    let seconds = |order: &str| -> Vec<f64> {
        runs.iter()
            .filter(|(o, _)| *o == order)
            .map(|(_, m)| m.seconds)
            .collect()
    };
    let forward = median(seconds("forward"));
    let reverse = median(seconds("reverse"));
    let peak = runs.iter().map(|(_, m)| m.peak_rss).max().unwrap_or(0);
    let ratio = reverse / forward;
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "SUMMARY bundle import of {ENTRIES} entries (release CLI, whole process, median of {RUNS}): \
         forward {forward:.2} s, reverse {reverse:.2} s, reverse/forward {ratio:.2} — goal \
         ≤ {MAX_RATIO}: {}; peak RSS {:.1} MiB — goal ≤ 256 MiB: {}",
        met(ratio <= MAX_RATIO),
        mib(peak),
        met(peak <= 256 << 20)
    );
}
