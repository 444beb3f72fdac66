//! Every read scales (issue 13): a home of `COUNTERSIGN_SCALE_REPORTS` reports (default
//! 1 000 000, three entries each, each on its own imported study), generated straight into
//! SQLite on every core (`countersign_benches::build_ledger_at_scale`); the report list is then
//! rebuilt from the entries as a home opened after the upgrade does. Measured:
//!
//! - `report list --limit 100` — through the app use case (`Home::report_page`, warm, median
//!   of 50) and through the release CLI binary as a user runs it (whole process: start, open the
//!   home, read the page, print JSON; median of 5). Goal < 100 ms, judged on the CLI when it is
//!   there, else on the use case.
//! - the desktop's study list, first page (`Home::study_page`, what the `studies` command
//!   returns: 100 studies with their reports) — the first call on a freshly opened home, and
//!   warm (median of 50). Goal < 200 ms, judged on the first call.
//! - `verify` of the whole store in a child process — the release CLI (`countersign verify`)
//!   when it is there, else this binary re-run as `--verify-child DIR` (the same use case) —
//!   with its peak RSS from GNU time (`/usr/bin/time -f %M`), else VmHWM read while it runs.
//!   Goal RSS ≤ 256 MiB.
//!
//! The CLI is `$COUNTERSIGN_BIN`, else `$CARGO_TARGET_DIR/release/countersign`
//! (`make bench-scale-reads` builds it first). `COUNTERSIGN_SCALE_DIR` keeps the built home
//! there and reuses it on the next run (a run at a million reports spends most of its time
//! building). Prints one `SUMMARY` line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use countersign_app::{Home, STUDY_PAGE};
use countersign_benches::{build_ledger_at_scale, goal, quantile};

const PER_REPORT: usize = 3;

fn reports() -> usize {
    std::env::var("COUNTERSIGN_SCALE_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn ms(mut f: impl FnMut(), runs: usize) -> (f64, f64) {
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    let p99 = quantile(&mut samples, 0.99);
    (quantile(&mut samples, 0.5), p99)
}

/// The release CLI, if there is one.
fn cli() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("COUNTERSIGN_BIN") {
        return Some(PathBuf::from(bin));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    Some(target.join("release/countersign")).filter(|p| p.exists())
}

/// Runs `cmd` to the end; returns its wall time (s), its peak RSS (MiB), and its stdout.
fn measured(cmd: Command) -> (f64, f64, String) {
    let time = Path::new("/usr/bin/time");
    let rss_file = tempfile::NamedTempFile::new().expect("temp file");
    let gnu_time = time.exists();
    let mut run = if gnu_time {
        let mut t = Command::new(time);
        t.arg("-f").arg("%M").arg("-o").arg(rss_file.path());
        t.arg(cmd.get_program()).args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            if let Some(v) = v {
                t.env(k, v);
            }
        }
        t
    } else {
        cmd
    };
    let started = Instant::now();
    let child = run
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("child starts");
    let pid = child.id();
    // Without GNU time, the kernel's high-water mark is read while the child lives.
    let hwm = (!gnu_time).then(|| {
        std::thread::spawn(move || {
            let mut peak = 0u64;
            let status = format!("/proc/{pid}/status");
            while let Ok(s) = std::fs::read_to_string(&status) {
                if let Some(kb) = s
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                {
                    peak = peak.max(kb);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            peak
        })
    });
    let out = child.wait_with_output().expect("child runs");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{:?} failed: {}",
        run,
        String::from_utf8_lossy(&out.stdout)
    );
    let kb: u64 = match hwm {
        Some(h) => h.join().expect("watcher"),
        None => std::fs::read_to_string(rss_file.path())
            .expect("GNU time's output")
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .expect("a peak RSS in kB"),
    };
    (
        seconds,
        kb as f64 / 1024.0,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The home at `dir`, built unless it is there already with the reports asked for.
fn home(dir: &Path, reports: usize) -> f64 {
    let marker = dir.join("scale-reports");
    if std::fs::read_to_string(&marker)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        == Some(reports)
    {
        eprintln!("reusing the home of {reports} reports in {}", dir.display());
        return 0.0;
    }
    // A home kept from an earlier run is rebuilt only when it holds another number of
    // reports; to measure the report list's rebuild again, delete its `report_summaries`
    // key from `meta`.
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("home dir");
    let t = Instant::now();
    let entries = build_ledger_at_scale(dir, reports, PER_REPORT, true).expect("ledger");
    let built = t.elapsed().as_secs_f64();
    eprintln!("built {entries} entries ({reports} reports) in {built:.0} s");
    std::fs::write(&marker, reports.to_string()).expect("marker");
    built
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--verify-child") {
        let home = Home::open(Path::new(&args[2])).expect("home");
        let report = home.verify(None).expect("verify");
        println!("{}", serde_json::to_string(&report).expect("json"));
        return;
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let reports = reports();
    let kept = std::env::var_os("COUNTERSIGN_SCALE_DIR").map(PathBuf::from);
    let temp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir on disk");
    let dir = kept.unwrap_or_else(|| temp.path().join("home"));
    let built = home(&dir, reports);

    // Opening the home rebuilds the report list from the entries (once: a home built straight
    // into SQLite has none, like a home from before the table).
    let t = Instant::now();
    drop(Home::open(&dir).expect("home"));
    let rebuilt = t.elapsed().as_secs_f64();
    eprintln!("report list rebuilt from the entries in {rebuilt:.1} s");

    // The study list's first page, on a freshly opened home (the desktop's first screen).
    let home = Home::open(&dir).expect("home");
    let t = Instant::now();
    let first = home.study_page(None, STUDY_PAGE).expect("studies");
    let studies_first = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(first.studies.len(), STUDY_PAGE.min(reports));
    assert!(first.studies.iter().all(|s| s.reports.len() == 1));
    let (studies_warm, _) = ms(
        || {
            assert!(!home
                .study_page(None, STUDY_PAGE)
                .expect("studies")
                .studies
                .is_empty())
        },
        50,
    );

    // `report list --limit 100` through the use case, first page and a page further on.
    let (list_warm, list_p99) = ms(
        || {
            assert_eq!(
                home.report_page(None, 100).expect("list").len(),
                100.min(reports)
            )
        },
        50,
    );
    let mut after: Option<String> = None;
    for _ in 0..100 {
        let page = home.report_page(after.as_deref(), 100).expect("list");
        after = page.last().map(|r| r.cursor.clone());
    }
    let (list_later, _) = ms(
        || drop(home.report_page(after.as_deref(), 100).expect("list")),
        50,
    );
    drop(home);

    let bin = cli();
    let list_cli = bin.as_ref().map(|bin| {
        let mut runs: Vec<f64> = (0..5)
            .map(|_| {
                let mut cmd = Command::new(bin);
                cmd.arg("--home")
                    .arg(&dir)
                    .args(["--json", "report", "list", "--limit", "100"]);
                let (s, _, out) = measured(cmd);
                let lines: serde_json::Value = serde_json::from_str(&out).expect("json");
                assert_eq!(lines.as_array().map(Vec::len), Some(100.min(reports)));
                s * 1e3
            })
            .collect();
        quantile(&mut runs, 0.5)
    });

    // verify, in a child process, with its peak RSS.
    let (verify_cmd, via) = match &bin {
        Some(bin) => {
            let mut cmd = Command::new(bin);
            cmd.arg("--home").arg(&dir).args(["--json", "verify"]);
            (cmd, "the release CLI")
        }
        None => {
            let mut cmd = Command::new(std::env::current_exe().expect("this binary"));
            cmd.arg("--verify-child").arg(&dir);
            (
                cmd,
                "this bench re-run as the use case (no release CLI found)",
            )
        }
    };
    let (verify_s, verify_rss, out) = measured(verify_cmd);
    let verified: serde_json::Value = serde_json::from_str(&out).expect("verify json");
    assert_eq!(verified["ok"], true, "verify found problems: {out:.2000}");
    let entries = verified["entries"].as_u64().unwrap_or(0);
    let expected = (reports * PER_REPORT + 2) as u64;
    assert_eq!(entries, expected);

    let (list_goal_ms, list_judged) = match list_cli {
        Some(ms) => (ms, "CLI process"),
        None => (list_warm, "use case"),
    };
    let cli_text = list_cli.map_or("no release CLI".to_string(), |ms| format!("{ms:.1} ms"));
    let home_text = if built > 0.0 {
        format!("built in {built:.0} s")
    } else {
        "the home an earlier run built".to_string()
    };
    let home_text =
        format!("{home_text}; report list rebuilt from the entries on open in {rebuilt:.1} s");
    println!(
        "SUMMARY scale_reads: {reports} reports ({expected} entries; {home_text}); \
         report list --limit 100: \
         use case {list_warm:.2} ms (p99 {list_p99:.2}, page 101 {list_later:.2} ms), CLI \
         process {cli_text} — {}; study list first page {studies_first:.1} ms first call, \
         {studies_warm:.2} ms warm — {}; verify {verify_s:.1} s = {:.0} entries/s via {via}, \
         peak RSS {verify_rss:.0} MiB — {}",
        goal(&format!("< 100 ms ({list_judged})"), list_goal_ms < 100.0),
        goal("< 200 ms", studies_first < 200.0),
        entries as f64 / verify_s,
        goal("<= 256 MiB", verify_rss <= 256.0),
    );
}
