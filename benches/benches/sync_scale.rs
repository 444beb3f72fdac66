//! Sync at scale (issue 13): two homes holding `COUNTERSIGN_SCALE_REPORTS` reports (default
//! 1 000 000, three entries each, generated straight into SQLite) that differ by 1 000 new
//! entries reconcile; the same is run at 10 000 reports to show the time follows the
//! difference, not the store. Then a new home takes the whole store from the serving node
//! (a first full sync), against the rate of verifying entries from SQLite. The serving node
//! runs in a child process (this binary with `--serve DIR`) so its peak RSS is its own.
//!
//! Bytes are the sync messages both ways as framed on the stream (`codec::bytes_on_wire`),
//! before the transport's framing and encryption. CPU is per process (taking in, serving),
//! to the nanosecond; copying the WAL a reconcile wrote into the database file (a node's
//! checkpoint) is timed apart. Prints one `SUMMARY` line.
//!
//! For profiling: `COUNTERSIGN_SCALE_ONLY=N` runs the reconciles at N reports alone (no
//! verify, no full sync), `COUNTERSIGN_SCALE_RUNS` sets how many (3); `COUNTERSIGN_SCALE_TRUNCATE`
//! truncates the taking-in home's WAL before each reconcile, as this bench did before
//! 2026-12-02, instead of starting it over in place. `COUNTERSIGN_SCALE_FULL=N` runs the
//! first full sync of a home of N reports alone, beside the verify rate.
//!
//! `COUNTERSIGN_SCALE_DIR` keeps the generated homes there between runs: the two homes of each
//! size are built once and reused (they end every run equal, holding the differences added),
//! the new home of the full sync is made again each run. `--open DIR` opens the ledger in DIR
//! (applying any pending migration) and prints how long it took: the migration of an old home.

use std::path::{Path, PathBuf};
use std::time::Instant;

use countersign_ledger::Hash;

/// The allocator the CLI and the desktop app use: measured as shipped (the verify it is held
/// to runs in this process, with the same allocator). Until 2026-12-02 this bench ran on the
/// system's, whose bookkeeping was 6 % of a full sync's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "sync_scale/generate.rs"]
mod generate;
#[path = "sync_scale/nodes.rs"]
mod nodes;
use generate::*;
use nodes::*;

const DIFFERENCE: usize = 1000;
const SMALL: usize = 10_000;
/// Reconciles per size (`COUNTERSIGN_SCALE_RUNS` sets another, say more for a profile).
const RUNS: usize = 3;

fn runs() -> usize {
    std::env::var("COUNTERSIGN_SCALE_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(RUNS)
}

/// Per scale: median seconds and bytes of a 1 000-entry reconcile, the entries' own bytes,
/// and (large scale only) the full sync.
struct Scale {
    reports: usize,
    diff_secs: f64,
    /// Median CPU seconds of both processes (taking in and serving) per reconcile.
    diff_cpu: f64,
    /// Median CPU seconds of the taking-in process and of the serving one per reconcile.
    diff_cpu_in: f64,
    diff_cpu_serving: f64,
    /// Median CPU seconds of copying the WAL a reconcile wrote into the database file, after
    /// it (a node checkpoints every so many pages, inside whichever commit crosses the mark).
    checkpoint_cpu: f64,
    diff_bytes: u64,
    entry_bytes: u64,
    warm_secs: f64,
    /// Median bytes the taking-in home wrote to its WAL per reconcile.
    diff_wal: u64,
}

/// The two homes of `reports` reports (`a`, serving, and `b`, a copy), built unless kept from
/// an earlier run (`COUNTERSIGN_SCALE_DIR`). Returns `a`, `b` and the network.
fn homes(tmp: &Path, reports: usize) -> (PathBuf, PathBuf, Hash) {
    let a = tmp.join(format!("a{reports}"));
    let b = tmp.join(format!("b{reports}"));
    let built = a.join("built");
    let network = match std::fs::read_to_string(&built)
        .ok()
        .and_then(|h| Hash::from_hex(h.trim()).ok())
    {
        // Kept from an earlier run (`COUNTERSIGN_SCALE_DIR`).
        Some(network) => network,
        None => {
            let _ = std::fs::remove_dir_all(&a);
            let _ = std::fs::remove_dir_all(&b);
            let t = Instant::now();
            let network = build(&a, reports);
            eprintln!(
                "built {reports} reports in {:.0} s",
                t.elapsed().as_secs_f64()
            );
            std::fs::create_dir_all(&b).expect("b");
            std::fs::copy(a.join("ledger.sqlite3"), b.join("ledger.sqlite3")).expect("copy");
            std::fs::write(&built, network.to_hex()).expect("built");
            network
        }
    };
    (a, b, network)
}

fn run_scale(tmp: &Path, reports: usize) -> (Scale, PathBuf, Hash) {
    let (a, b, network) = homes(tmp, reports);
    // A node builds its set before it listens (`Node::warm_set`): the serving child's build
    // is in its start, the taking-in node's in the first sync. Both once, as a running
    // node's are; their sum is the "first build of both sets" printed.
    let started = Instant::now();
    let serving = Serving::start(&a);
    let serving_start = started.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let b_node = node(&rt, &b, 2);
    let (first_secs, received, _) = sync_once(&rt, &b_node, &serving.addr);
    let warm_secs = serving_start + first_secs;
    assert_eq!(received, 0, "the homes start equal");
    let mut secs = Vec::new();
    let mut cpus = Vec::new();
    let (mut cpus_in, mut cpus_serving, mut checkpoints) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = Vec::new();
    let mut wal = Vec::new();
    let b_wal = b.join("ledger.sqlite3-wal");
    let b_db = b.join("ledger.sqlite3");
    let truncate = std::env::var_os("COUNTERSIGN_SCALE_TRUNCATE").is_some();
    let mut entry_bytes = 0;
    // Run 0 is not counted: it leaves the WAL as long as a reconcile makes it, as a running
    // node's is (SQLite starts a WAL over from its beginning after a checkpoint and keeps the
    // file). Writing into a new file instead (the WAL truncated before each reconcile, as
    // this bench did until 2026-12-02, and still with `COUNTERSIGN_SCALE_TRUNCATE`) costs
    // the filesystem's block allocation on every page, more the more pages.
    for run in 0..=runs() {
        entry_bytes = add_new_reports(&a, network, DIFFERENCE, run);
        // The WAL started over (everything in it already copied into the file after the
        // last reconcile), so the frames in it afterwards are what this reconcile wrote.
        {
            let conn = rusqlite::Connection::open(&b_db).expect("b");
            let mode = if truncate { "TRUNCATE" } else { "RESTART" };
            let (busy, _, _) = wal_checkpoint(&conn, mode);
            assert_eq!(
                busy, 0,
                "the WAL of the taking-in home was not started over"
            );
        }
        let (here0, there0) = (cpu_secs_fine(std::process::id()), serving.cpu_secs_fine());
        let (s, received, b) = sync_once(&rt, &b_node, &serving.addr);
        let (here, there) = (
            cpu_secs_fine(std::process::id()) - here0,
            serving.cpu_secs_fine() - there0,
        );
        assert_eq!(received, DIFFERENCE as u64, "the difference arrived");
        // For finding which b-trees a reconcile writes (`scripts/wal-pages.py`): the
        // database and the WAL as the reconcile left them, the node still open.
        if let Some(keep) = std::env::var_os("COUNTERSIGN_SCALE_KEEP_WAL") {
            let keep = PathBuf::from(keep).join(format!("{reports}-{run}"));
            std::fs::create_dir_all(&keep).expect("keep");
            std::fs::copy(&b_db, keep.join("ledger.sqlite3")).expect("db");
            std::fs::copy(&b_wal, keep.join("ledger.sqlite3-wal")).expect("wal");
        }
        // What the reconcile wrote, copied into the database file now, apart from its
        // time: a node does it every so many pages (`wal_autocheckpoint`), inside whichever
        // commit crosses the mark. Its CPU is counted apart, per reconcile.
        let checkpoint0 = cpu_secs_fine(std::process::id());
        let (busy, frames, _) = {
            let conn = rusqlite::Connection::open(&b_db).expect("b");
            wal_checkpoint(&conn, "PASSIVE")
        };
        let checkpoint = cpu_secs_fine(std::process::id()) - checkpoint0;
        assert_eq!(busy, 0, "the WAL of the taking-in home was not copied");
        // A WAL header and, per frame, a frame header and the page.
        let wal_bytes = 32 + frames * (24 + 4096);
        eprintln!(
            "{reports} reports, run {run}{}: {s:.3} s, CPU {here:.3} s taking in + {there:.3} \
             s serving, {frames} WAL frames, checkpointing them {checkpoint:.3} s",
            if run == 0 { " (not counted)" } else { "" }
        );
        if run == 0 {
            continue;
        }
        wal.push(wal_bytes as f64);
        cpus.push(here + there);
        cpus_in.push(here);
        cpus_serving.push(there);
        checkpoints.push(checkpoint);
        secs.push(s);
        bytes.push(b as f64);
    }
    drop(b_node);
    rt.shutdown_background();
    drop(serving);
    (
        Scale {
            reports,
            diff_secs: countersign_benches::quantile(&mut secs, 0.5),
            diff_cpu: countersign_benches::quantile(&mut cpus, 0.5),
            diff_cpu_in: countersign_benches::quantile(&mut cpus_in, 0.5),
            diff_cpu_serving: countersign_benches::quantile(&mut cpus_serving, 0.5),
            checkpoint_cpu: countersign_benches::quantile(&mut checkpoints, 0.5),
            diff_bytes: countersign_benches::quantile(&mut bytes, 0.5) as u64,
            diff_wal: countersign_benches::quantile(&mut wal, 0.5) as u64,
            entry_bytes,
            warm_secs,
        },
        a,
        network,
    )
}

fn main() {
    // As the shells do (the serving node is this binary again, `--serve`).
    countersign_app::no_huge_pages();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--serve") {
        return serve(PathBuf::from(&args[i + 1]));
    }
    if let Some(i) = args.iter().position(|a| a == "--open") {
        let path = PathBuf::from(&args[i + 1]).join("ledger.sqlite3");
        let (t, cpu0) = (Instant::now(), cpu_secs(std::process::id()));
        let store = countersign_store::Store::open(&path).expect("open");
        println!(
            "opened {} in {:.1} s ({:.1} s CPU), {} entries",
            path.display(),
            t.elapsed().as_secs_f64(),
            cpu_secs(std::process::id()) - cpu0,
            store.db().count_entries().expect("count")
        );
        return;
    }
    let large: usize = std::env::var("COUNTERSIGN_SCALE_REPORTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let temp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let kept = std::env::var_os("COUNTERSIGN_SCALE_DIR").map(PathBuf::from);
    let tmp = kept.as_deref().unwrap_or(temp.path());
    // `COUNTERSIGN_SCALE_ONLY=N`: the reconciles at N reports alone, nothing else (no verify,
    // no full sync), so a profile of the whole run (`perf record`, which follows the serving
    // child) is a profile of them.
    if let Some(only) = std::env::var("COUNTERSIGN_SCALE_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let (s, _, _) = run_scale(tmp, only);
        println!(
            "reconciles at {only} reports, median of {}: {:.3} s, CPU {:.3} s taking in + {:.3} s \
             serving, checkpoint of its WAL {:.3} s, WAL {} bytes",
            runs(),
            s.diff_secs,
            s.diff_cpu_in,
            s.diff_cpu_serving,
            s.checkpoint_cpu,
            s.diff_wal
        );
        return;
    }
    // `COUNTERSIGN_SCALE_FULL=N`: the first full sync of a home of N reports alone, beside
    // the verify rate (no reconciles), for profiling the intake.
    if let Some(n) = std::env::var("COUNTERSIGN_SCALE_FULL")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let (small_dir, _, _) = homes(tmp, SMALL);
        let before = verify_rate(&small_dir);
        let (dir, _, network) = homes(tmp, n);
        let f = full_sync(tmp, &dir, network);
        let after = verify_rate(&small_dir);
        let (verify_rate, verify_cpu) = around(before, after);
        let rate = f.received as f64 / f.secs;
        println!(
            "first full sync of {} entries ({n} reports) {:.1} s = {rate:.0}/s (CPU: {:.1} s \
             taking in, {:.1} s serving = {:.0} µs/entry), verify {verify_rate:.0}/s \
             ({verify_cpu:.0} µs CPU/entry; {:.0}/s before the sync, {:.0}/s after), \
             sync/verify {:.2}; serving peak RSS {:.0} MiB; \
             the serving node listened {:.1} s after its start, its set built, before the sync",
            f.received,
            f.secs,
            f.cpu_here,
            f.cpu_there,
            (f.cpu_here + f.cpu_there) * 1e6 / f.received as f64,
            before.0,
            after.0,
            rate / verify_rate,
            f.rss,
            f.serving_start
        );
        return;
    }
    let (small, small_dir, _) = run_scale(tmp, SMALL);
    let before = verify_rate(&small_dir);
    let (big, big_dir, network) = run_scale(tmp, large);
    let full = full_sync(tmp, &big_dir, network);
    let after = verify_rate(&small_dir);
    let (verify_rate, verify_cpu) = around(before, after);
    let FullSync {
        secs: full_secs,
        received: full_received,
        bytes: full_bytes,
        cpu_here: here,
        cpu_there: there,
        rss,
        serving_start,
    } = full;
    let full_rate = full_received as f64 / full_secs;

    let ratio = big.diff_secs / small.diff_secs;
    let overhead = |s: &Scale| s.diff_bytes.saturating_sub(2 * s.entry_bytes);
    println!(
        "SUMMARY sync at scale, {DIFFERENCE} new entries ({} bytes of entries) between homes \
         of {} and {} reports (3 entries each), median of {}: {:.3} s and {} bytes on the \
         wire at {} reports, {:.3} s and {} bytes at {} ({} bytes past 2x the entries: {}); \
         time ratio {ratio:.2} ({}); CPU of both processes per reconcile {:.3} s and {:.3} s \
         (ratio {:.2}; taking in {:.3} s and {:.3} s, serving {:.3} s and {:.3} s; \
         checkpointing the WAL it wrote, apart, {:.3} s and {:.3} s) \
         (WAL written by the taking-in home {} and {} bytes); first build of both sets \
         {:.1} s and {:.1} s; first full sync of {full_received} entries {full_secs:.0} s = \
         {full_rate:.0}/s (CPU: {:.0} s taking in, {:.0} s serving = {:.0} µs/entry), \
         {} MiB on the wire, verify {verify_rate:.0}/s ({verify_cpu:.0} µs CPU/entry; {:.0}/s \
         before the full sync, {:.0}/s after), \
         sync/verify {:.2} ({}); serving node peak RSS {rss:.0} MiB ({}); \
         the serving node listened {serving_start:.1} s after its start, its set built, before \
         the full sync",
        big.entry_bytes,
        small.reports,
        big.reports,
        runs(),
        small.diff_secs,
        small.diff_bytes,
        small.reports,
        big.diff_secs,
        big.diff_bytes,
        big.reports,
        overhead(&big),
        countersign_benches::goal(
            "<= 2x entries + 64 KiB",
            big.diff_bytes <= 2 * big.entry_bytes + 65_536
        ),
        countersign_benches::goal("<= 1.5", ratio <= 1.5),
        small.diff_cpu,
        big.diff_cpu,
        big.diff_cpu / small.diff_cpu.max(1e-3),
        small.diff_cpu_in,
        big.diff_cpu_in,
        small.diff_cpu_serving,
        big.diff_cpu_serving,
        small.checkpoint_cpu,
        big.checkpoint_cpu,
        small.diff_wal,
        big.diff_wal,
        small.warm_secs,
        big.warm_secs,
        here,
        there,
        (here + there) * 1e6 / full_received as f64,
        full_bytes >> 20,
        before.0,
        after.0,
        full_rate / verify_rate,
        countersign_benches::goal(">= 0.5", full_rate / verify_rate >= 0.5),
        countersign_benches::goal("<= 256 MiB", rss <= 256.0),
    );
}

/// The verify rate a full sync is held to: the mean of one measured just before it and one
/// just after (each as [`verify_rate`] gives it), and of their CPU per entry. This machine's
/// speed drifts over minutes (verify at 49-64 µs of CPU an entry within one afternoon,
/// 2026-12-03): a verify of a second, measured minutes before a three-minute sync, moved
/// sync/verify by a fifth on its own. Both are printed.
fn around(before: (f64, f64), after: (f64, f64)) -> (f64, f64) {
    ((before.0 + after.0) / 2.0, (before.1 + after.1) / 2.0)
}

/// Entries per second verifying the store in `dir` from SQLite, and CPU µs per entry: the
/// rate a catch-up is held to (on the small store: the same entries per second, without
/// holding the large store's state). The median of three runs: one run is about a second, and
/// single runs on this 2-core machine ranged from 22 824 to 38 633 entries/s within an hour
/// (2026-12-03), which alone moved sync/verify from 0.34 to 0.55.
fn verify_rate(dir: &Path) -> (f64, f64) {
    let store = countersign_store::Store::open(&dir.join("ledger.sqlite3")).expect("s");
    let mut runs: Vec<(f64, f64)> = (0..3)
        .map(|_| {
            let t = Instant::now();
            let cpu0 = cpu_secs(std::process::id());
            let verified =
                countersign_app::verify::verify_store(&store.db(), None).expect("verify");
            let rate = verified.entries as f64 / t.elapsed().as_secs_f64();
            let cpu = (cpu_secs(std::process::id()) - cpu0) * 1e6 / verified.entries as f64;
            (rate, cpu)
        })
        .collect();
    runs.sort_by(|a, b| a.0.total_cmp(&b.0));
    runs[1]
}

/// A first full sync, into a new home, of everything the serving process holds.
struct FullSync {
    secs: f64,
    received: u64,
    bytes: u64,
    /// CPU seconds of the taking-in process (this one) and of the serving one.
    cpu_here: f64,
    cpu_there: f64,
    /// The serving process's peak RSS.
    rss: f64,
    /// Seconds from starting the serving process to its listening, its set built (as a
    /// department's running node has long done when a new member first syncs): outside
    /// `secs` since 2026-12-03 (`Node::warm_set`); before, the build ran inside the sync.
    serving_start: f64,
}

/// A first full sync of the store in `dir` into a new home, from a serving process.
fn full_sync(tmp: &Path, dir: &Path, network: Hash) -> FullSync {
    let started = Instant::now();
    let serving = Serving::start(dir);
    let serving_start = started.elapsed().as_secs_f64();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let c = tmp.join("c");
    // A new home adopts a network only from a trust anchor (what `join` gives it); without
    // one the serving node's genesis is refused and the server cut off.
    let _ = std::fs::remove_dir_all(&c);
    std::fs::create_dir_all(&c).expect("c");
    countersign_app::Home::open(&c)
        .expect("c")
        .trust(countersign_app::Anchor::Network {
            network,
            founder: None,
        })
        .expect("trust");
    let c_node = node(&rt, &c, 3);
    let (here0, there0) = (cpu_secs(std::process::id()), serving.cpu_secs());
    let (secs, received, bytes) = sync_once(&rt, &c_node, &serving.addr);
    let (cpu_here, cpu_there) = (
        cpu_secs(std::process::id()) - here0,
        serving.cpu_secs() - there0,
    );
    let held = countersign_store::Store::open(&dir.join("ledger.sqlite3"))
        .expect("a")
        .db()
        .count_entries()
        .expect("count");
    assert_eq!(received, held, "every entry arrived");
    let rss = serving.peak_rss_mib();
    drop(c_node);
    rt.shutdown_background();
    drop(serving);
    FullSync {
        secs,
        received,
        bytes,
        cpu_here,
        cpu_there,
        rss,
        serving_start,
    }
}
