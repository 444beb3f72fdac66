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
//! 2026-12-02, instead of starting it over in place.
//!
//! `COUNTERSIGN_SCALE_DIR` keeps the generated homes there between runs: the two homes of each
//! size are built once and reused (they end every run equal, holding the differences added),
//! the new home of the full sync is made again each run. `--open DIR` opens the ledger in DIR
//! (applying any pending migration) and prints how long it took: the migration of an old home.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use countersign_app::sync::HomeLedger;
use countersign_ledger::roster::{GenesisPayload, MemberPayload};
use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};
use countersign_report::payload::{ReportCreate, SectionWrite};
use countersign_sync::{keypair, Command as NodeCommand, Config};
use rayon::prelude::*;
use tokio::sync::{mpsc, oneshot};

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

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialisable")
}

fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

/// The roster (genesis by key 1, members 2 and 3) and `reports` reports of three entries
/// each (a create and two section writes), signed on every core, then stored in one
/// transaction per 100 000 entries. Returns the network id.
fn build(dir: &Path, reports: usize) -> Hash {
    std::fs::create_dir_all(dir).expect("dir");
    let t0 = 1_764_000_000_000u64;
    let member = |k: &SecretKey, name: &str, role, admin| MemberPayload {
        valid_from: t0,
        ..MemberPayload::new(k.public(), name, role, admin)
    };
    let g = json(&GenesisPayload {
        name: "Scale".into(),
        founder: member(&key(1), "Dr A", Role::Attending, true),
        policy: None,
    });
    let sign = |h: Header, k: &SecretKey| Entry::sign(h, k).expect("signs");
    let genesis = sign(
        Header::new(
            Hash::ZERO,
            Hash::ZERO,
            key(1).public(),
            1,
            t0,
            Kind::NetworkGenesis,
            vec![],
            &g,
        ),
        &key(1),
    );
    let network = genesis.id();
    let mut roster = vec![(genesis, g)];
    let mut head = network;
    for (seq, (seed, name)) in [(2u8, "Dr R"), (3u8, "Dr N")].into_iter().enumerate() {
        let m = json(&member(&key(seed), name, Role::Radiologist, false));
        let e = sign(
            Header::new(
                network,
                network,
                key(1).public(),
                seq as u64 + 2,
                t0,
                Kind::RosterMember,
                vec![head],
                &m,
            ),
            &key(1),
        );
        head = e.id();
        roster.push((e, m));
    }
    let template = countersign_report::template("ct-chest")
        .expect("built in")
        .content_hash();
    let per_report = |r: usize| -> Vec<(Entry, Vec<u8>)> {
        let (a, b) = (key(1), key(2));
        let ts = t0 + 1000 + r as u64 * 10;
        let c = json(&ReportCreate {
            study: format!("1.2.826.0.1.3680043.10.1313.{r}"),
            template: "ct-chest".into(),
            template_hash: template,
            images: vec![],
        });
        let create = sign(
            Header::new(
                network,
                Hash::ZERO,
                a.public(),
                1,
                ts,
                Kind::ReportCreate,
                vec![],
                &c,
            ),
            &a,
        );
        let log = create.id();
        let mut out = vec![(create, c)];
        let mut head = log;
        for (i, (k, seq)) in [(&b, 1u64), (&a, 2u64)].into_iter().enumerate() {
            let p = json(&SectionWrite {
                section: ["findings", "impression"][i].into(),
                text: format!("Text {i} of report {r}."),
                fields: Default::default(),
                macros: Vec::new(),
                links: Vec::new(),
            });
            let e = sign(
                Header::new(
                    network,
                    log,
                    k.public(),
                    seq,
                    ts + 1 + i as u64,
                    Kind::SectionWrite,
                    vec![head],
                    &p,
                ),
                k,
            );
            head = e.id();
            out.push((e, p));
        }
        out
    };
    let mut store = countersign_store::Store::open(&dir.join("ledger.sqlite3")).expect("store");
    store
        .write(|db| {
            db.set_meta("network", &network.to_hex())?;
            for (e, p) in &roster {
                db.insert_entry(e, Some(p))?;
            }
            Ok::<_, countersign_store::StoreError>(())
        })
        .expect("roster");
    for chunk in (0..reports).collect::<Vec<_>>().chunks(33_333) {
        let entries: Vec<(Entry, Vec<u8>)> =
            chunk.par_iter().flat_map_iter(|r| per_report(*r)).collect();
        store
            .write(|db| {
                for (e, p) in &entries {
                    db.insert_entry(e, Some(p))?;
                }
                Ok::<_, countersign_store::StoreError>(())
            })
            .expect("reports");
    }
    network
}

/// `n` new reports (one entry each), dated now: the difference between the homes. Returns
/// their bytes (header, signature, payload).
fn add_new_reports(dir: &Path, network: Hash, n: usize, run: usize) -> u64 {
    let template = countersign_report::template("ct-chest")
        .expect("built in")
        .content_hash();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let entries: Vec<(Entry, Vec<u8>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let c = json(&ReportCreate {
                study: format!("1.2.826.0.1.3680043.10.1313.new.{run}.{i}"),
                template: "ct-chest".into(),
                template_hash: template,
                images: vec![],
            });
            let e = Entry::sign(
                Header::new(
                    network,
                    Hash::ZERO,
                    key(1).public(),
                    1,
                    now - 60_000 + i as u64,
                    Kind::ReportCreate,
                    vec![],
                    &c,
                ),
                &key(1),
            )
            .expect("signs");
            (e, c)
        })
        .collect();
    let bytes = entries
        .iter()
        .map(|(e, p)| (e.header_bytes().len() + 64 + p.len()) as u64)
        .sum();
    let mut store = countersign_store::Store::open(&dir.join("ledger.sqlite3")).expect("store");
    store
        .write(|db| {
            for (e, p) in &entries {
                db.insert_entry(e, Some(p))?;
            }
            Ok::<_, countersign_store::StoreError>(())
        })
        .expect("difference");
    bytes
}

/// The serving node, in this binary started as a child: `--serve DIR` prints its address
/// and runs until its stdin closes.
struct Serving {
    child: Child,
    addr: String,
}

impl Serving {
    fn start(dir: &Path) -> Serving {
        let mut child = Command::new(std::env::current_exe().expect("exe"))
            .arg("--serve")
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("address");
        Serving {
            child,
            addr: line.trim().to_string(),
        }
    }

    /// CPU seconds the serving process has used so far (its ended threads' too).
    fn cpu_secs(&self) -> f64 {
        cpu_secs(self.child.id())
    }

    /// CPU seconds the serving process's running threads have used, to the nanosecond.
    fn cpu_secs_fine(&self) -> f64 {
        cpu_secs_fine(self.child.id())
    }

    fn peak_rss_mib(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .expect("VmHWM")
            / 1024.0
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `PRAGMA wal_checkpoint(MODE)` on `conn`: whether it could not finish (busy), the frames
/// in the WAL, and the frames copied into the database file.
fn wal_checkpoint(conn: &rusqlite::Connection, mode: &str) -> (i64, i64, i64) {
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })
    .expect("checkpoint")
}

/// CPU seconds (user and system) process `pid` has used so far, its ended threads' too: on
/// a machine shared with other work, what the sync cost beside how long it took. In clock
/// ticks (10 ms): for the full sync; a reconcile is timed by [`cpu_secs_fine`].
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // Fields after the command name (which is in parentheses and may hold spaces): utime and
    // stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

/// CPU seconds the running threads of process `pid` have used so far, to the nanosecond
/// (`/proc/PID/task/*/schedstat`): a reconcile takes about 0.1 s of CPU, and a clock tick
/// either way in [`cpu_secs`] was a tenth of it. A thread that ends between two readings
/// would take its time out of the second; the threads here outlive a reconcile (the
/// runtimes' workers, rayon's, and the blocking pool's, which idle ten seconds first).
fn cpu_secs_fine(pid: u32) -> f64 {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    let mut ns = 0u64;
    for task in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += s
                .split(' ')
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    ns as f64 / 1e9
}

fn serve(dir: PathBuf) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = rt.enter();
    let ledger = HomeLedger::open(&dir).expect("home");
    let config = Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("addr")],
        ..quiet()
    };
    let (node, keep) = countersign_sync::start(keypair(&[1; 32]), ledger, config).expect("node");
    let me = node.local_peer_id();
    rt.spawn(node.run(move |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{addr}/p2p/{me}");
        let _ = out.flush();
    }));
    // Until the parent closes stdin.
    let mut sink = String::new();
    let _ = std::io::stdin().read_line(&mut sink);
    drop(keep);
    rt.shutdown_background();
}

/// Nodes that neither announce their changes nor reconcile on their own for the length of
/// the benchmark: the one-shot syncs measured are the only syncs (an announcement of the new
/// entries would otherwise race the sync being timed and carry them first).
fn quiet() -> Config {
    Config {
        announce_every: std::time::Duration::from_secs(24 * 3600),
        reconcile_every: std::time::Duration::from_secs(24 * 3600),
        ..Config::default()
    }
}

/// A node on `dir` with key `seed`, in this process, and the sender of its commands.
fn node(rt: &tokio::runtime::Runtime, dir: &Path, seed: u8) -> mpsc::Sender<NodeCommand> {
    let _entered = rt.enter();
    let ledger = HomeLedger::open(dir).expect("home");
    let (node, sender) =
        countersign_sync::start(keypair(&[seed; 32]), ledger, quiet()).expect("node");
    rt.spawn(node.run(|_| {}));
    sender
}

/// One sync with `addr`: seconds, entries received, and sync bytes both ways.
fn sync_once(
    rt: &tokio::runtime::Runtime,
    sender: &mpsc::Sender<NodeCommand>,
    addr: &str,
) -> (f64, u64, u64) {
    let (r0, w0) = countersign_sync::codec::bytes_on_wire();
    let t = Instant::now();
    let report = rt.block_on(async {
        let (reply, answer) = oneshot::channel();
        sender
            .send(NodeCommand::SyncOnce {
                peer: addr.parse().expect("addr"),
                reply,
            })
            .await
            .expect("send");
        answer.await.expect("answer").expect("sync")
    });
    let secs = t.elapsed().as_secs_f64();
    let (r1, w1) = countersign_sync::codec::bytes_on_wire();
    (secs, report.received, (r1 - r0) + (w1 - w0))
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

fn run_scale(tmp: &Path, reports: usize) -> (Scale, PathBuf, Hash) {
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
    let serving = Serving::start(&a);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let b_node = node(&rt, &b, 2);
    // Both sets are built once, as a running node's are.
    let (warm_secs, received, _) = sync_once(&rt, &b_node, &serving.addr);
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
    let (small, small_dir, _) = run_scale(tmp, SMALL);
    // Verifying from SQLite, the rate a catch-up is held to (on the small store: the same
    // entries per second, without holding the large store's state).
    let store = countersign_store::Store::open(&small_dir.join("ledger.sqlite3")).expect("s");
    let t = Instant::now();
    let cpu0 = cpu_secs(std::process::id());
    let verified = countersign_app::verify::verify_store(&store.db(), None).expect("verify");
    let verify_rate = verified.entries as f64 / t.elapsed().as_secs_f64();
    let verify_cpu = (cpu_secs(std::process::id()) - cpu0) * 1e6 / verified.entries as f64;
    drop(store);
    let (big, big_dir, network) = run_scale(tmp, large);

    // A first full sync of the large store into a new home, from the serving process.
    let serving = Serving::start(&big_dir);
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
    let (full_secs, full_received, full_bytes) = sync_once(&rt, &c_node, &serving.addr);
    let (here, there) = (
        cpu_secs(std::process::id()) - here0,
        serving.cpu_secs() - there0,
    );
    let held = countersign_store::Store::open(&big_dir.join("ledger.sqlite3"))
        .expect("a")
        .db()
        .count_entries()
        .expect("count");
    assert_eq!(full_received, held, "every entry arrived");
    let full_rate = full_received as f64 / full_secs;
    let rss = serving.peak_rss_mib();
    drop(c_node);
    rt.shutdown_background();
    drop(serving);

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
         {} MiB on the wire, verify {verify_rate:.0}/s ({verify_cpu:.0} µs CPU/entry), \
         sync/verify {:.2} ({}); serving node peak RSS {rss:.0} MiB ({})",
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
        full_rate / verify_rate,
        countersign_benches::goal(">= 0.5", full_rate / verify_rate >= 0.5),
        countersign_benches::goal("<= 256 MiB", rss <= 256.0),
    );
}
