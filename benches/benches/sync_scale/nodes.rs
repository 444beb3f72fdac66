//! The nodes of the bench and what is measured of them: the serving node in a child process
//! (its CPU, to the nanosecond, and its peak RSS), the taking-in node in this one, a one-shot
//! sync, and the WAL checkpoint timed apart from it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use countersign_app::sync::HomeLedger;
use countersign_sync::{keypair, Command as NodeCommand, Config};
use tokio::sync::{mpsc, oneshot};

/// The serving node, in this binary started as a child: `--serve DIR` prints its address
/// and runs until its stdin closes.
pub(crate) struct Serving {
    child: Child,
    pub(crate) addr: String,
}

impl Serving {
    pub(crate) fn start(dir: &Path) -> Serving {
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
    pub(crate) fn cpu_secs(&self) -> f64 {
        cpu_secs(self.child.id())
    }

    /// CPU seconds the serving process's running threads have used, to the nanosecond.
    pub(crate) fn cpu_secs_fine(&self) -> f64 {
        cpu_secs_fine(self.child.id())
    }

    pub(crate) fn peak_rss_mib(&self) -> f64 {
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
pub(crate) fn wal_checkpoint(conn: &rusqlite::Connection, mode: &str) -> (i64, i64, i64) {
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
pub(crate) fn cpu_secs(pid: u32) -> f64 {
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
pub(crate) fn cpu_secs_fine(pid: u32) -> f64 {
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

pub(crate) fn serve(dir: PathBuf) {
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
pub(crate) fn quiet() -> Config {
    Config {
        announce_every: std::time::Duration::from_secs(24 * 3600),
        reconcile_every: std::time::Duration::from_secs(24 * 3600),
        ..Config::default()
    }
}

/// A node on `dir` with key `seed`, in this process, and the sender of its commands.
pub(crate) fn node(
    rt: &tokio::runtime::Runtime,
    dir: &Path,
    seed: u8,
) -> mpsc::Sender<NodeCommand> {
    let _entered = rt.enter();
    let ledger = HomeLedger::open(dir).expect("home");
    let (node, sender) =
        countersign_sync::start(keypair(&[seed; 32]), ledger, quiet()).expect("node");
    rt.spawn(node.run(|_| {}));
    sender
}

/// One sync with `addr`: seconds, entries received, and sync bytes both ways.
pub(crate) fn sync_once(
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
