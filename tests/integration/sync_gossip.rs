//! Gossip among `countersign serve` processes: eight homes of one department in a ring (each
//! node connected to two others) pass a write on to all eight through gossipsub, each node
//! pulling from the neighbour that forwarded the announcement; a stranger (a key not on the
//! roster) that connects and publishes on the department's topic makes nobody pull from it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use countersign_ledger::{EntryId, Hash, LogId, NetworkId, PublicKey};
use countersign_sync::reconcile::ReconcileSet;
use countersign_sync::{
    keypair, AcceptError, Accepted, ById, Config, Ledger, LogSummary, PeerEvent,
};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::common::Home;
use crate::sync::{member, until};

/// A `serve` process whose gossip debug lines go to a file; killed when dropped.
struct Node {
    child: Child,
    addr: String,
    peer: String,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    /// Its log so far, without colour codes.
    fn log(&self) -> String {
        let raw = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    /// Lines of its log holding every one of `words`.
    fn lines_with(&self, words: &[&str]) -> usize {
        self.log()
            .lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .count()
    }
}

fn serve(home: &Home, peers: &[&str], log: &Path) -> Node {
    let mut cmd = home.command();
    cmd.args(["--json", "serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .env_remove("COUNTERSIGN_HOME")
        .env("RUST_LOG", "warn,countersign_sync::node::gossip=debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    for p in peers {
        cmd.args(["--peer", p]);
    }
    let mut child = cmd.spawn().expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let first: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    Node {
        child,
        addr: first["listen"][0].as_str().unwrap().to_string(),
        peer: first["peer"].as_str().unwrap().to_string(),
        log: log.to_path_buf(),
    }
}

fn holds(home: &Home, entry: &str) -> bool {
    let id = Hash::from_hex(entry).unwrap();
    home.db()
        .query_row(
            "SELECT COUNT(*) FROM entries WHERE id = ?1",
            [id.as_bytes().as_slice()],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
        == 1
}

fn followup(home: &Home, report: &str, finding: &str) -> String {
    home.ok(&[
        "report",
        "followup",
        report,
        "--finding",
        finding,
        "--due",
        "2027-01-01",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What the stranger was asked for by peers: each of these is serving a pull.
#[derive(Default)]
struct Served(AtomicU64);

/// A node with a key not on the roster that claims the department's network, subscribes to
/// its topic and announces, every tick, that hundreds of logs changed ("reconcile with me").
/// It serves happily whatever it is asked, and counts it.
struct Stranger {
    network: NetworkId,
    set: ReconcileSet,
    served: Arc<Served>,
    round: u64,
}

impl Stranger {
    fn serving(&self) {
        self.served.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Ledger for Stranger {
    fn network(&self) -> Option<NetworkId> {
        Some(self.network)
    }
    fn is_member(&mut self, _: &PublicKey) -> bool {
        true
    }
    fn reads_every_log(&mut self, _: &PublicKey) -> bool {
        true
    }
    fn may_read(&mut self, _: &PublicKey, logs: &[LogId]) -> Vec<bool> {
        vec![true; logs.len()]
    }
    fn summary(&mut self, only: &[LogId]) -> Result<Vec<LogSummary>, String> {
        // Only ever asked by a peer pulling from it: it announces too many logs to summarise.
        self.serving();
        Ok(only
            .iter()
            .map(|log| LogSummary {
                log: *log,
                authors: vec![],
                heads: vec![Hash([0xee; 32])],
                forks: 0,
                checkpoint: None,
            })
            .collect())
    }
    fn vector(&mut self, _: &LogId) -> Result<countersign_sync::VersionVector, String> {
        Ok(vec![])
    }
    fn lacks_any(&mut self, _: &[EntryId]) -> Result<bool, String> {
        Ok(false)
    }
    fn entries_after(
        &mut self,
        _: &LogId,
        _: &countersign_sync::VersionVector,
        _: usize,
    ) -> Result<(Vec<u8>, bool), String> {
        self.serving();
        Ok((
            countersign_ledger::bundle::encode(std::iter::empty()),
            false,
        ))
    }
    fn reconcile_set(&mut self, reader: Option<&PublicKey>) -> Result<&ReconcileSet, String> {
        if reader.is_some() {
            self.serving();
        }
        Ok(&self.set)
    }
    fn wanted(&mut self, _: Vec<EntryId>) -> Result<Vec<EntryId>, String> {
        Ok(vec![])
    }
    fn entries_by_id(&mut self, _: &PublicKey, _: &[EntryId]) -> Result<ById, String> {
        self.serving();
        Ok(ById {
            bundle: countersign_ledger::bundle::encode(std::iter::empty()),
            ..ById::default()
        })
    }
    type Checked = ();
    fn check(_: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn accept(&mut self, _: (), _: &str) -> Result<Accepted, AcceptError> {
        Ok(Accepted::default())
    }
    fn pull_ended(&mut self, _: &str) {}
    fn remember(&mut self, _: &str, _: PeerEvent) {}
    fn cut_offs(&mut self) -> Vec<(String, String, u64, u32)> {
        vec![]
    }
    fn split_views(&mut self, _: &PublicKey, _: Vec<Vec<u8>>) -> Result<(), AcceptError> {
        Ok(())
    }
    fn checkpoints(&mut self, _: &PublicKey, _: &[LogSummary]) -> Result<(), AcceptError> {
        Ok(())
    }
    fn may_have_changed(&mut self) -> bool {
        true
    }
    fn changed_logs(&mut self) -> Result<Vec<LogId>, String> {
        // 300 logs: more than a node looks up, so it announces "every log" (which would make a
        // receiver reconcile everything with it).
        self.round += 1;
        Ok((0..300u64)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..8].copy_from_slice(&self.round.to_be_bytes());
                id[8..16].copy_from_slice(&i.to_be_bytes());
                Hash(id)
            })
            .collect())
    }
}

#[test]
fn a_write_reaches_eight_peers_in_a_ring_by_gossip_and_a_stranger_makes_no_one_pull() {
    let (admin, report) = Home::demo();
    let members: Vec<Home> = (1..8)
        .map(|i| member(&admin, &format!("Dr Ring {i}"), "radiologist"))
        .collect();
    let logs = tempfile::tempdir().unwrap();
    let log = |i: usize| logs.path().join(format!("node{i}.log"));

    // Each member joins by syncing the roster and the demo report once from the admin's node.
    let mut nodes = vec![serve(&admin, &[], &log(0))];
    for m in &members {
        m.ok(&["sync", "--peer", &nodes[0].addr, "--once"]);
    }
    let mut homes = vec![&admin];
    homes.extend(members.iter());
    // A ring: node i dials node i-1, and the last one also dials node 0.
    for (i, home) in homes.iter().enumerate().skip(1) {
        let mut peers = vec![nodes[i - 1].addr.clone()];
        if i == 7 {
            peers.push(nodes[0].addr.clone());
        }
        let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
        nodes.push(serve(home, &peers, &log(i)));
    }
    // Every node has both its neighbours subscribed to the department's topic (the mesh forms).
    for (i, n) in nodes.iter().enumerate() {
        until(
            &format!("node {i} to see its two neighbours subscribe"),
            || n.lines_with(&["gossip: peer subscribed"]) >= 2,
        );
    }

    // A write on node 4 (four hops from node 0 either way) reaches all eight.
    let entry = followup(homes[4], &report, "gossip: across the ring");
    for (i, home) in homes.iter().enumerate() {
        until(&format!("the write on node {i}"), || holds(home, &entry));
    }
    // Through gossip: every other node took node 4's own announcement (signed by node 4,
    // forwarded hop by hop by nodes that already held the entry), not a direct one.
    let writer = nodes[4].peer.clone();
    for (i, n) in nodes.iter().enumerate().filter(|(i, _)| *i != 4) {
        until(&format!("node {i} to accept node 4's announcement"), || {
            n.lines_with(&["gossip: announcement accepted", &format!("source={writer}")]) >= 1
        });
    }
    // Nodes two hops or more from the writer pulled from whoever forwarded it to them.
    assert!(
        nodes[0].lines_with(&["pulling", &format!("source={writer}")]) >= 1,
        "node 0 did not pull after node 4's announcement:\n{}",
        nodes[0].log()
    );

    // A stranger connects to nodes 0 and 4 and publishes on the topic, again and again.
    let stranger_seed = [0x5a; 32];
    let stranger_peer = keypair(&stranger_seed).public().to_peer_id().to_string();
    let network: NetworkId = admin.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let served = Arc::new(Served::default());
    let mut set = ReconcileSet::new();
    set.insert(1, &Hash([0xee; 32]));
    set.settle();
    let stranger = Stranger {
        network,
        set,
        served: served.clone(),
        round: 0,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let entered = rt.enter();
    let config = Config {
        peers: vec![
            nodes[0].addr.parse().unwrap(),
            nodes[4].addr.parse().unwrap(),
        ],
        ..Config::default()
    };
    let (node, commands) = countersign_sync::start(keypair(&stranger_seed), stranger, config)
        .expect("the stranger's node starts");
    rt.spawn(node.run(|_| {}));
    let published = || {
        let (reply, answer) = oneshot::channel();
        rt.block_on(async {
            commands
                .send(countersign_sync::Command::Status { reply })
                .await
                .unwrap();
            answer.await.unwrap().gossip.published
        })
    };
    until("the stranger to publish on the topic", || published() >= 5);
    for i in [0, 4] {
        until(&format!("node {i} to keep the stranger out"), || {
            nodes[i].lines_with(&["kept out of the mesh", &stranger_peer]) >= 1
        });
    }
    // Another write crosses the ring meanwhile (everything the stranger sent before it has
    // long been handled by then).
    let later = followup(homes[2], &report, "gossip: while a stranger talks");
    for (i, home) in homes.iter().enumerate() {
        until(&format!("the second write on node {i}"), || {
            holds(home, &later)
        });
    }
    until("the stranger to publish more", || published() >= 10);
    assert_eq!(
        served.0.load(Ordering::SeqCst),
        0,
        "a node pulled from the stranger"
    );
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(
            n.lines_with(&["announcement accepted", &format!("source={stranger_peer}")]),
            0,
            "node {i} accepted the stranger's announcement"
        );
    }
    drop(commands);
    // COUNTERSIGN_SHOW_GOSSIP=1 prints every node's gossip log (what went where, and when).
    if std::env::var_os("COUNTERSIGN_SHOW_GOSSIP").is_some() {
        for n in &nodes {
            eprintln!("=== {}\n{}", n.peer, n.log());
        }
    }
    drop(entered);
    rt.shutdown_timeout(Duration::from_secs(1));
}
