//! A writer that keeps its home, and so its SQLite connection, open between writes, as the
//! desktop app does: every section it acknowledged survives a power cut at a seeded moment. The
//! test binary runs itself again, on the writer's test alone, under the shim.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{
    assert_survived, events_of_last_process, home_with_report, log_of, power_cut, seeds, under_shim,
};
use crate::common::Home;

/// The desktop app keeps its home, and so its SQLite connection, open between writes, unlike
/// the CLI, which closes it (checkpointing the WAL, with syncs) before it prints anything. Only
/// such a writer shows whether a commit alone is durable: with `synchronous=NORMAL` the WAL is
/// synced at checkpoints, not at commits, so this test fails where the CLI tests pass.
#[test]
fn an_open_home_loses_no_acknowledged_section_at_a_power_cut() {
    const WRITES: usize = 6;
    let writer = |home: &Home, report: &str, kill_at: Option<u64>| {
        let me = std::env::current_exe().unwrap();
        under_shim(&me, &home.dir, &log_of(home), kill_at)
            .args([
                "--exact",
                "power_loss::open_home::an_open_home_acknowledges_each_section_after_its_commit",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("POWERLOSS_WRITER_HOME", &home.dir)
            .env("POWERLOSS_WRITER_REPORT", report)
            .env("POWERLOSS_WRITER_COUNT", WRITES.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the writer")
    };
    // One uncut run measures how many events a whole run has.
    let (home, report) = home_with_report();
    let out = writer(&home, &report, None).wait_with_output().unwrap();
    assert!(out.status.success(), "the writer failed: {out:?}");
    let events = events_of_last_process(&log_of(&home));

    for seed in seeds(&[11, 12, 13, 14]) {
        let context = format!("open home, seed {seed} (replay: POWERLOSS_SEED={seed})");
        eprintln!("{context}");
        let mut rng = StdRng::seed_from_u64(seed);
        let (home, report) = home_with_report();
        let kill_at = rng.gen_range(1..=events);
        let mut child = writer(&home, &report, Some(kill_at));
        // Acknowledgements as the writer prints them; the shim ends the process at the cut.
        let mut acked = Vec::new();
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            // Found anywhere in the line: libtest prints the test's name without a newline.
            if let Some((_, ack)) = line.split_once("acknowledged ") {
                let (entry, text) = ack.split_once(' ').unwrap();
                acked.push((entry.to_string(), text.to_string()));
            }
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() || out.status.signal() == Some(9),
            "{context}: the writer failed: {out:?}"
        );
        // Half the seeds lose everything unsynced, half a random part of it.
        let cut = if seed % 2 == 0 {
            power_cut(&log_of(&home), || true)
        } else {
            let p_lost = rng.gen_range(0.1..0.9);
            power_cut(&log_of(&home), || rng.gen_bool(p_lost))
        };
        eprintln!(
            "{context}: cut at event {kill_at} of {events}, {} acknowledged, {cut:?}",
            acked.len()
        );
        assert_survived(&home, &report, &acked, &context);
    }
}

/// The long-lived writer: one `Home` kept open, as the desktop app keeps it, printing
/// `acknowledged ENTRY TEXT` after each write returns. Run alone it writes into a fresh home
/// and checks every acknowledged section is in the report; an_open_home_loses_no_acknowledged_
/// section_at_a_power_cut re-runs this test binary on this test alone, under the shim, with
/// the home, report and count in the environment.
#[test]
fn an_open_home_acknowledges_each_section_after_its_commit() {
    use std::io::Write;
    let given = (
        std::env::var_os("POWERLOSS_WRITER_HOME"),
        std::env::var("POWERLOSS_WRITER_REPORT"),
        std::env::var("POWERLOSS_WRITER_COUNT"),
    );
    let mut fresh = None;
    let (dir, report, count) = match given {
        (Some(dir), Ok(report), Ok(count)) => (
            std::path::PathBuf::from(dir),
            report,
            count.parse::<usize>().unwrap(),
        ),
        _ => {
            let (home, report) = home_with_report();
            let dir = home.dir.clone();
            fresh = Some(home);
            (dir, report, 3)
        }
    };
    let mut home = crate::common::open_app_home(&dir);
    let id = countersign_app::entry_id(&report).unwrap();
    let mut stdout = std::io::stdout();
    let mut acked = Vec::new();
    for n in 0..count {
        let text = format!("Findings, revision {n}.");
        let entry = home.report_write(id, "findings", &text).unwrap();
        writeln!(stdout, "acknowledged {entry} {text}").unwrap();
        stdout.flush().unwrap();
        acked.push((entry.to_hex(), text));
    }
    drop(home);
    if let Some(fresh) = &fresh {
        assert_survived(fresh, &report, &acked, "no power cut");
    }
}
