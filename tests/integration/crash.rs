//! Kill -9 at random moments during a loop of appends: every entry whose id was printed is
//! still there, the store opens, verify is clean, and no sequence number is reused.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::common::Home;

const CYCLES: usize = 200;

#[test]
fn kill_9_during_appends_loses_no_printed_entry() {
    let (home, _) = Home::demo();
    let report = home.new_report("5.5.5", "ct-chest");
    // How long one append takes here, to spread the kills across its whole lifetime: the
    // shortest of three, since the first run of a fresh home is slower (cold caches) and a
    // window stretched by it let most kills land after the run had finished.
    let typical = (0..3)
        .map(|i| {
            let started = Instant::now();
            home.write(&report, "findings", &format!("baseline {i}"))
                .ok();
            started.elapsed()
        })
        .min()
        .unwrap();

    // Seeded, so a failing kill point can be replayed.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xC0FFEE);
    let mut printed: HashSet<String> = HashSet::new();
    let mut killed = 0;
    for cycle in 0..CYCLES {
        let mut child = home
            .command()
            .args([
                "--json",
                "report",
                "write",
                &report,
                "--section",
                "findings",
                "--text",
            ])
            .arg(format!("revision {cycle}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Fault injection, not synchronisation: the kill lands at a random point of the run.
        let delay = rng.gen_range(0..=typical.as_micros() as u64 * 3 / 2);
        std::thread::sleep(Duration::from_micros(delay));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        if out.status.signal() == Some(9) {
            killed += 1;
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(stdout.trim()) {
            printed.insert(v["entry"].as_str().unwrap().to_string());
        }
    }
    assert!(
        killed > CYCLES / 4,
        "only {killed} of {CYCLES} runs were killed before finishing"
    );

    let verify = home.ok(&["verify"]);
    assert_eq!(verify["ok"], true, "{verify}");
    let view = home.ok(&["report", "show", &report]);
    let stored: HashSet<String> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["entry"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<&String> = printed.difference(&stored).collect();
    assert!(lost.is_empty(), "printed but lost: {lost:?}");
    // No sequence reused: one author, strictly 1..=n.
    let mut seqs: Vec<u64> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["seq"].as_u64().unwrap())
        .collect();
    seqs.sort();
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    eprintln!(
        "{killed} runs killed, {} entries printed, {} stored",
        printed.len(),
        stored.len()
    );
}
