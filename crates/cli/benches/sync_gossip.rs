//! Issue 13: fifty peers, each a `countersign serve` process (this package's release CLI) on
//! loopback with its own home, members of one department (the admin's home adds 49 keys to the
//! roster; each member syncs once from it), connected in a sparse graph: each node dials three
//! others chosen by a seeded RNG among those started before it. Three homes then write 20
//! follow-ups each at once, through the CLI, as fast as it returns. For every write: the time
//! from the writing command's return (the entry durable on its home) until all 50 homes hold it,
//! read from their SQLite files (read-only, every ~10 ms). Goal: p99 < 2 s.
//!
//! Bytes: every node counts what it writes to its TCP sockets (sync requests and batches,
//! gossip, identify, ping, noise and yamux framing; not TCP/IP headers) and logs the total each
//! second (`countersign_sync::traffic`, debug). Per write: the sum over the 50 nodes from the
//! line before the first write to the first line after the last write arrived everywhere,
//! divided by the writes; that window also holds a second or two of idle traffic (pings, gossip
//! heartbeats, the 30 s reconciliation), printed beside it.
//!
//! `make bench-gossip` (also run by `make bench`); prints one `SUMMARY` line for the README.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::Value;

const PEERS: usize = 50;
const WRITERS: [usize; 3] = [0, 17, 34];
const WRITES: usize = 20;
const DIALS: usize = 3;
const GOAL_P99: Duration = Duration::from_secs(2);
/// A write not everywhere after this is counted as missing.
const GIVE_UP: Duration = Duration::from_secs(60);

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_countersign")
}

/// The passphrase file every home here is sealed under: the demo passphrase (home 0 is a demo
/// home), in the folder that holds the homes.
fn passphrase_file(home: &Path) -> PathBuf {
    let file = home
        .parent()
        .expect("homes live in a folder")
        .join("passphrase");
    if !file.exists() {
        std::fs::write(&file, countersign_app::DEMO_PASSPHRASE).expect("passphrase file");
    }
    file
}

fn cli(home: &Path, args: &[&str]) -> Value {
    let out = Command::new(bin())
        .arg("--home")
        .arg(home)
        .arg("--json")
        .args(args)
        .env_remove("COUNTERSIGN_HOME")
        .env("COUNTERSIGN_PASSPHRASE_FILE", passphrase_file(home))
        .output()
        .expect("run countersign");
    assert!(
        out.status.success(),
        "countersign {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A serving node, killed when dropped.
struct Node {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(home: &Path, peers: &[String], log: PathBuf) -> Node {
        let mut cmd = Command::new(bin());
        cmd.arg("--home")
            .arg(home)
            .args(["--json", "serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
            .env_remove("COUNTERSIGN_HOME")
            .env("COUNTERSIGN_PASSPHRASE_FILE", passphrase_file(home))
            .env("RUST_LOG", log_filter())
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"));
        for p in peers {
            cmd.args(["--peer", p]);
        }
        let mut child = cmd.spawn().expect("spawn serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("serve's first line");
        let first: Value = serde_json::from_str(&line).expect("serve --json says where it listens");
        Node {
            child,
            addr: first["listen"][0].as_str().expect("an address").to_string(),
            log,
        }
    }

    /// CPU time the process has used so far, in seconds (user + system, from /proc).
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which is in parentheses): utime and stime are the
        // 12th and 13th, in clock ticks (100 a second on Linux).
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let fields: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        (ticks(11) + ticks(12)) / 100.0
    }

    /// Its traffic lines so far: (bytes sent, mesh peers).
    fn traffic(&self) -> Vec<(u64, u64)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let field = |line: &str, name: &str| -> Option<u64> {
            let at = line.find(&format!(" {name}="))? + name.len() + 2;
            line[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        };
        text.lines()
            .filter(|l| l.contains("countersign_sync::traffic"))
            .filter_map(|l| Some((field(l, "sent")?, field(l, "mesh")?)))
            .collect()
    }
}

/// The nodes' log filter: their traffic lines, and whatever `COUNTERSIGN_BENCH_LOG` adds (for
/// example `countersign_sync::node::gossip=debug` to see every hop; the homes and logs are then
/// kept and their directory printed).
fn log_filter() -> String {
    match std::env::var("COUNTERSIGN_BENCH_LOG") {
        Ok(extra) if !extra.is_empty() => format!("error,countersign_sync::traffic=debug,{extra}"),
        _ => "error,countersign_sync::traffic=debug".into(),
    }
}

fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i.min(samples.len() - 1)]
}

fn goal(text: &str, met: bool) -> String {
    format!("goal {text}: {}", if met { "met" } else { "NOT met" })
}

/// Watches every home's SQLite file (read-only) for new entries.
struct Watch {
    dbs: Vec<rusqlite::Connection>,
    cursors: Vec<i64>,
}

impl Watch {
    fn new(homes: &[PathBuf]) -> Watch {
        let dbs = homes
            .iter()
            .map(|h| {
                rusqlite::Connection::open_with_flags(
                    h.join("ledger.sqlite3"),
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
                )
                .expect("open a home read-only")
            })
            .collect::<Vec<_>>();
        let cursors = dbs
            .iter()
            .map(|db| {
                db.query_row("SELECT COALESCE(MAX(arrival), 0) FROM entries", [], |r| {
                    r.get(0)
                })
                .expect("read arrivals")
            })
            .collect();
        Watch { dbs, cursors }
    }

    /// Ids stored on each home since the last look.
    fn news(&mut self) -> Vec<Vec<Vec<u8>>> {
        self.dbs
            .iter()
            .zip(self.cursors.iter_mut())
            .map(|(db, cursor)| {
                let mut stmt = db
                    .prepare_cached("SELECT arrival, id FROM entries WHERE arrival > ?1")
                    .expect("prepare");
                let rows: Vec<(i64, Vec<u8>)> = stmt
                    .query_map([*cursor], |r| Ok((r.get(0)?, r.get(1)?)))
                    .expect("query")
                    .map(|r| r.expect("row"))
                    .collect();
                if let Some(max) = rows.iter().map(|r| r.0).max() {
                    *cursor = max;
                }
                rows.into_iter().map(|r| r.1).collect()
            })
            .collect()
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn main() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path();
    let homes: Vec<PathBuf> = (0..PEERS).map(|i| dir.join(format!("home{i}"))).collect();
    let setup = Instant::now();
    let demo = cli(&homes[0], &["demo"]);
    let report = demo["report"]
        .as_str()
        .expect("the demo's report")
        .to_string();
    for (i, home) in homes.iter().enumerate().skip(1) {
        let name = format!("Peer {i}");
        let key = cli(home, &["init", "--name", &name, "--role", "radiologist"])["key"]
            .as_str()
            .expect("a key")
            .to_string();
        cli(
            &homes[0],
            &[
                "roster",
                "add",
                "--key",
                &key,
                "--name",
                &name,
                "--role",
                "radiologist",
            ],
        );
        // Joined by invitation, as every new member is.
        let invited = cli(&homes[0], &["roster", "invite", "--key", &key]);
        let invitation = invited["invitation"].as_str().expect("an invitation");
        cli(home, &["join", invitation]);
    }
    let mut nodes = vec![Node::start(&homes[0], &[], dir.join("node0.log"))];
    for home in &homes[1..] {
        cli(home, &["sync", "--peer", &nodes[0].addr, "--once"]);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EED_0013);
    let mut links = 0;
    for (i, home) in homes.iter().enumerate().skip(1) {
        let mut earlier: Vec<usize> = (0..i).collect();
        earlier.shuffle(&mut rng);
        let peers: Vec<String> = earlier
            .iter()
            .take(DIALS)
            .map(|j| nodes[*j].addr.clone())
            .collect();
        links += peers.len();
        nodes.push(Node::start(home, &peers, dir.join(format!("node{i}.log"))));
    }
    println!(
        "{PEERS} homes and nodes up in {:.1} s ({links} connections dialled)",
        setup.elapsed().as_secs_f64()
    );

    // A first write, to see every node joined and the mesh formed; then a quiet second for the
    // idle traffic.
    let mut watch = Watch::new(&homes);
    let warm = cli(
        &homes[WRITERS[1]],
        &[
            "report",
            "followup",
            &report,
            "--finding",
            "warm-up",
            "--due",
            "2027-01-01",
        ],
    )["entry"]
        .as_str()
        .map(hex_bytes)
        .expect("an entry");
    let mut have = [false; PEERS];
    let warm_start = Instant::now();
    while have.iter().any(|h| !h) {
        for (i, news) in watch.news().into_iter().enumerate() {
            have[i] |= news.contains(&warm);
        }
        assert!(
            warm_start.elapsed() < GIVE_UP,
            "the warm-up write reached only {} of {PEERS} homes",
            have.iter().filter(|h| **h).count()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "warm-up write on all {PEERS} in {} ms",
        warm_start.elapsed().as_millis()
    );
    let lines =
        |nodes: &[Node]| -> Vec<Vec<(u64, u64)>> { nodes.iter().map(Node::traffic).collect() };
    // Each node's next traffic line after `counts` lines: the first logged after now.
    let next_lines = |counts: &[usize]| -> Vec<(u64, u64)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let all = lines(&nodes);
            if all.iter().zip(counts).all(|(l, c)| l.len() > *c) {
                return all.iter().zip(counts).map(|(l, c)| l[*c]).collect();
            }
            assert!(
                Instant::now() < deadline,
                "a node stopped logging its traffic"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let counts: Vec<usize> = lines(&nodes).iter().map(Vec::len).collect();
    let idle_from = next_lines(&counts);
    let idle_started = Instant::now();
    let idle_cpu_before: f64 = nodes.iter().map(Node::cpu_seconds).sum();
    std::thread::sleep(Duration::from_secs(2));
    let idle_cpu = nodes.iter().map(Node::cpu_seconds).sum::<f64>() - idle_cpu_before;
    let counts: Vec<usize> = lines(&nodes).iter().map(Vec::len).collect();
    let idle_to = next_lines(&counts);
    let idle_seconds = idle_started.elapsed().as_secs_f64();
    let idle: u64 = idle_to.iter().zip(&idle_from).map(|(b, a)| b.0 - a.0).sum();
    let idle_rate = idle as f64 / idle_seconds;
    let mesh: Vec<u64> = idle_to.iter().map(|l| l.1).collect();
    println!(
        "idle: {:.0} bytes/s sent and {:.0}% of a core used by all {PEERS} nodes; mesh peers per node {}..{}",
        idle_rate,
        idle_cpu / idle_started.elapsed().as_secs_f64() * 100.0,
        mesh.iter().min().unwrap_or(&0),
        mesh.iter().max().unwrap_or(&0)
    );

    // The measured writes: three homes at once, each as fast as the CLI returns.
    let before: Vec<u64> = lines(&nodes)
        .iter()
        .map(|l| l.last().map_or(0, |x| x.0))
        .collect();
    let cpu_before: f64 = nodes.iter().map(Node::cpu_seconds).sum();
    let (tx, rx) = std::sync::mpsc::channel::<(Vec<u8>, Instant)>();
    let started = Instant::now();
    let writers: Vec<_> = WRITERS
        .iter()
        .map(|w| {
            let home = homes[*w].clone();
            let report = report.clone();
            let tx = tx.clone();
            std::thread::spawn(move || {
                for n in 0..WRITES {
                    let finding = format!("gossip bench {w}/{n}");
                    let entry = cli(
                        &home,
                        &[
                            "report",
                            "followup",
                            &report,
                            "--finding",
                            &finding,
                            "--due",
                            "2027-01-01",
                        ],
                    )["entry"]
                        .as_str()
                        .map(hex_bytes)
                        .expect("an entry");
                    let _ = tx.send((entry, Instant::now()));
                }
            })
        })
        .collect();
    drop(tx);
    let total = WRITERS.len() * WRITES;
    // write id → (written at, homes holding it, when the last one did)
    let mut written: HashMap<Vec<u8>, (Instant, Vec<bool>, Option<Instant>)> = HashMap::new();
    // Ids seen on a home before the writer's thread reported them.
    let mut early: Vec<(usize, Vec<u8>, Instant)> = Vec::new();
    let mut done = 0;
    let deadline_after_last = GIVE_UP;
    let mut last_written = started;
    while done < total {
        while let Ok((id, at)) = rx.try_recv() {
            last_written = last_written.max(at);
            written.insert(id, (at, vec![false; PEERS], None));
        }
        let now = Instant::now();
        for (i, news) in watch.news().into_iter().enumerate() {
            for id in news {
                early.push((i, id, now));
            }
        }
        early.retain(|(i, id, seen)| match written.get_mut(id) {
            Some((at, homes, last)) => {
                if !homes[*i] {
                    homes[*i] = true;
                    let seen = (*seen).max(*at);
                    if homes.iter().all(|h| *h) {
                        *last = Some(seen);
                    }
                }
                false
            }
            // Not one of ours yet (the writer's thread has not reported it), or the warm-up.
            None => seen.elapsed() < Duration::from_secs(5),
        });
        done = written.values().filter(|w| w.2.is_some()).count();
        if written.len() == total && last_written.elapsed() > deadline_after_last {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for w in writers {
        w.join().expect("a writer");
    }
    let elapsed = started.elapsed();
    let cpu = nodes.iter().map(Node::cpu_seconds).sum::<f64>() - cpu_before;
    let counts: Vec<usize> = lines(&nodes).iter().map(Vec::len).collect();
    let after = next_lines(&counts);
    let sent: u64 = after.iter().zip(&before).map(|(a, b)| a.0 - b).sum();

    let mut latencies: Vec<f64> = written
        .values()
        .filter_map(|(at, _, last)| last.map(|l| l.duration_since(*at).as_secs_f64() * 1000.0))
        .collect();
    let missing = total - latencies.len();
    let p50 = quantile(&mut latencies, 0.50);
    let p99 = quantile(&mut latencies, 0.99);
    let max = latencies.iter().copied().fold(0.0, f64::max);
    let per_write = sent as f64 / total as f64;
    println!(
        "{total} writes in {:.1} s; every write on all {PEERS} homes: p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms{}",
        elapsed.as_secs_f64(),
        if missing > 0 {
            format!(", {missing} writes NOT everywhere after {} s", GIVE_UP.as_secs())
        } else {
            String::new()
        }
    );
    println!(
        "the {PEERS} serve processes used {cpu:.1} CPU-seconds meanwhile ({:.0}% of the machine's 2 cores)",
        cpu / elapsed.as_secs_f64() / 2.0 * 100.0
    );
    println!(
        "bytes sent over TCP by all {PEERS} nodes: {sent} in all, {:.1} KiB per write ({:.0} bytes per write per node); idle {:.1} KiB/s",
        per_write / 1024.0,
        per_write / PEERS as f64,
        idle_rate / 1024.0
    );
    println!(
        "SUMMARY {PEERS} peers (separate serve processes on loopback, each dialling {DIALS} others; {} homes writing {WRITES} follow-ups each at once): every write on all {PEERS} homes p50 {p50:.0} ms, p99 {p99:.0} ms (max {max:.0} ms) — {}; {:.1} KiB sent per write by all {PEERS} nodes (TCP, framing included; idle traffic {:.1} KiB/s in the window)",
        WRITERS.len(),
        goal(
            "p99 < 2 s",
            missing == 0 && p99 < GOAL_P99.as_secs_f64() * 1000.0
        ),
        per_write / 1024.0,
        idle_rate / 1024.0
    );
    drop(nodes);
    if std::env::var_os("COUNTERSIGN_BENCH_LOG").is_some() {
        println!("homes and logs kept in {}", work.keep().display());
    }
}
