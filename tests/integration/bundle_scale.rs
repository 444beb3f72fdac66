//! Issue 19: a bundle of 100 000 entries, in reverse causal order, imports whole through the
//! real CLI into a fresh home, within 256 MiB of peak memory for the whole process.
//!
//! The bundle is streamed from the file and put in causal order once, so neither its size nor
//! its order should cost more than the decoded entries themselves. The same entries, forward
//! and reversed, are timed by `crates/cli/benches/bundle_import.rs` (`make bench-bundle`), which
//! includes this file for its generator and its measurement.

use std::path::Path;
use std::process::Command;

use countersign_ledger::{Entry, EntryId, Hash, Kind, SecretKey};
use countersign_report::payload::SectionWrite;
use rand::{Rng, SeedableRng};

use crate::common::{bin, craft, crafted_roster, ct_chest_create};

/// Entries in the bundle, roster included.
pub const ENTRIES: usize = 100_000;
/// Reports the entries are spread over: long chains, so that reverse order is the worst case
/// for anything that retries what waits.
const REPORTS: usize = 10;
/// The peak resident memory the import may reach.
const MAX_RSS_BYTES: u64 = 256 << 20;

/// A department of an attending (the founder) and a radiologist, and `ENTRIES` entries in
/// causal order: the roster, then `REPORTS` reports of alternating section writes. Every key,
/// text and timestamp comes from a seed, so the bundle is the same bytes on every run.
pub fn department_entries() -> Vec<(Entry, Vec<u8>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED_0019);
    let attending = SecretKey::from_seed(&[0x19; 32]);
    let radiologist = SecretKey::from_seed(&[0x91; 32]);
    // 2023-11-14: in the past on any clock that runs these tests, so nothing is held.
    let t0 = 1_700_000_000_000u64;
    let (network, mut entries) =
        crafted_roster(&attending, &radiologist, "Radiology at scale", "Dr Rad", t0);
    let zero = Hash::ZERO.to_hex();
    let per_report = (ENTRIES - entries.len()) / REPORTS;
    let sections = ["technique", "findings", "impression"];
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let keys = [&attending, &radiologist];
    // Each author's sequence is per log: every report starts its authors' chains afresh.
    for r in 0..REPORTS {
        let writes = if r + 1 == REPORTS {
            ENTRIES - entries.len() - 1
        } else {
            per_report - 1
        };
        let create_payload = ct_chest_create(&format!("1.2.826.0.19.{r}"));
        let create = craft(
            &attending,
            &network,
            &zero,
            1,
            t0 + 1,
            Kind::ReportCreate,
            vec![],
            &create_payload,
        );
        let log = create.id().to_hex();
        let mut head: EntryId = create.id();
        let mut seqs = [1u64, 0];
        entries.push((create, create_payload));
        for i in 0..writes {
            let who = rng.gen_range(0..2);
            seqs[who] += 1;
            let count = rng.gen_range(3..40);
            let text = (0..count)
                .map(|_| words[rng.gen_range(0..words.len())])
                .collect::<Vec<_>>()
                .join(" ");
            let payload = json(&SectionWrite {
                section: sections[rng.gen_range(0..sections.len())].into(),
                text,
                fields: Default::default(),
                macros: Vec::new(),
                links: Vec::new(),
            });
            let e = craft(
                keys[who],
                &network,
                &log,
                seqs[who],
                t0 + 2 + i as u64,
                Kind::SectionWrite,
                vec![head],
                &payload,
            );
            head = e.id();
            entries.push((e, payload));
        }
    }
    assert_eq!(entries.len(), ENTRIES);
    entries
}

/// What the section texts are made of: report-like words, so payloads have a report's size.
const WORDS: &str = "no focal consolidation pleural effusion nodule mm right left upper lower \
    lobe stable since prior unremarkable mediastinum lymph nodes not enlarged contrast enhanced \
    axial images";

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialisable")
}

/// What one CLI run under `wait4` gave: its exit code, output, wall-clock time and peak
/// resident set.
pub struct Measured {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub seconds: f64,
    pub peak_rss: u64,
}

/// Runs `countersign --home HOME --json ARGS` and measures that one process: its wall-clock
/// time and its peak resident memory (`ru_maxrss` from `wait4`). The workspace forbids `unsafe`, and neither `nix` nor
/// `rustix` exposes `wait4` with its `rusage`, so Python's `os.wait4` (python3 is a `make deps`
/// requirement) spawns and reaps it; `getrusage(RUSAGE_CHILDREN)` in this process would mix in
/// every other test's children.
pub fn measured(home: &Path, args: &[&str]) -> Measured {
    const WAIT4: &str = "import os, sys, time\n\
        out, argv = sys.argv[1], sys.argv[2:]\n\
        start = time.monotonic()\n\
        pid = os.posix_spawn(argv[0], argv, os.environ)\n\
        _, status, usage = os.wait4(pid, 0)\n\
        seconds = time.monotonic() - start\n\
        code = os.waitstatus_to_exitcode(status)\n\
        open(out, 'w').write(f'{code} {seconds} {usage.ru_maxrss}')\n";
    let scratch = tempfile::tempdir().expect("tempdir");
    let rusage = scratch.path().join("rusage");
    let output = Command::new("python3")
        .arg("-c")
        .arg(WAIT4)
        .arg(&rusage)
        .arg(bin())
        .arg("--home")
        .arg(home)
        .arg("--json")
        .args(args)
        .env_remove("COUNTERSIGN_HOME")
        .output()
        .expect("python3 (a make deps requirement) runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let measured = std::fs::read_to_string(&rusage)
        .unwrap_or_else(|e| panic!("no rusage from python3 ({e}): {stderr}"));
    let fields: Vec<&str> = measured.split(' ').collect();
    let [code, seconds, max_rss_kib] = fields[..] else {
        panic!("python3 wrote {measured:?}, not an exit code, a time and ru_maxrss");
    };
    Measured {
        code: code.parse().expect("an exit code"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr,
        seconds: seconds.parse().expect("seconds"),
        // Linux reports ru_maxrss in KiB.
        peak_rss: max_rss_kib.parse::<u64>().expect("ru_maxrss") * 1024,
    }
}

#[test]
fn a_hundred_thousand_entries_in_reverse_order_import_whole_within_256_mib() {
    let mut entries = department_entries();
    entries.reverse();
    let network = entries
        .iter()
        .find(|(e, _)| e.header().kind == countersign_ledger::Kind::NetworkGenesis)
        .map(|(e, _)| e.id().to_hex())
        .expect("a genesis");
    let bytes =
        countersign_ledger::bundle::encode(entries.iter().map(|(e, p)| (e, Some(p.as_slice()))));
    drop(entries);
    let scratch = tempfile::tempdir().expect("tempdir");
    let file = scratch.path().join("reverse.bundle");
    std::fs::write(&file, &bytes).expect("write the bundle");
    drop(bytes);

    let home = crate::common::Home::new();
    let file = file.to_str().unwrap();
    let run = measured(
        &home.dir,
        &["bundle", "import", file, "--network", &network],
    );
    assert_eq!(run.code, 0, "import failed: {}", run.stderr);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(report["new"], ENTRIES as u64, "{report}");
    assert_eq!(report["refused"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["forks"].as_array().map(Vec::len), Some(0));
    eprintln!(
        "bundle_scale: {ENTRIES} entries in reverse order imported in {:.2} s, peak RSS {:.1} MiB",
        run.seconds,
        run.peak_rss as f64 / (1 << 20) as f64
    );
    assert!(
        run.peak_rss <= MAX_RSS_BYTES,
        "peak RSS {} bytes exceeds {MAX_RSS_BYTES}",
        run.peak_rss
    );
    let verified = home.ok(&["verify"]);
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["entries"], ENTRIES as u64);
}
