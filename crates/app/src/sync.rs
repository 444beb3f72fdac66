//! Peer sync: this home as the ledger behind a `countersign-sync` node. Every batch a peer
//! sends goes through the bundle importer — every signature, hash link, ledger and report rule
//! checked before anything is stored, all or nothing — and the node only ever sees bytes.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::{Hash, LogId, NetworkId, PublicKey};
use countersign_store::StoredEntry;
use countersign_sync::{Command, Config, Ledger, LogSummary, SyncReport, VersionVector};
use serde::Serialize;
use tokio::sync::oneshot;

use countersign_report::payload::AccessChange;

use crate::bundle::Authenticated;
use crate::checkpoints::CheckpointSigner;
use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};
use crate::state::LedgerState;

pub use countersign_sync::Multiaddr;

/// A stored entry (or fork evidence) as a bundle record.
fn record(
    header: Vec<u8>,
    signature: &[u8],
    payload: Option<Vec<u8>>,
) -> std::result::Result<BundleRecord, String> {
    let signature = signature
        .try_into()
        .map_err(|_| format!("a stored signature is {} bytes, not 64", signature.len()))?;
    Ok(BundleRecord {
        header,
        signature,
        payload,
    })
}

/// A home as the sync node's ledger.
#[derive(Debug)]
pub struct HomeLedger {
    home: Home,
    network: Option<NetworkId>,
    /// The arrival number of the newest entry already announced.
    cursor: i64,
    /// Fork evidence rows already announced.
    forks_seen: usize,
    /// Signs this home's checkpoints (a home with no identity of its own gives none).
    signer: Option<CheckpointSigner>,
}

impl HomeLedger {
    /// The home at `dir` as a sync ledger (it needs no identity of its own to hold entries).
    pub fn open(dir: &Path) -> Result<HomeLedger> {
        HomeLedger::new(Home::open(dir)?)
    }

    fn new(mut home: Home) -> Result<HomeLedger> {
        let signer = home
            .secret()
            .ok()
            .map(|k| CheckpointSigner::new(countersign_ledger::SecretKey::from_seed(&k.to_seed())));
        let network = LedgerState::load(&home.store().db())?.network().ok();
        let cursor = home.store().db().max_arrival()?;
        let forks_seen = home.store().db().forks()?.len();
        Ok(HomeLedger {
            home,
            network,
            cursor,
            forks_seen,
            signer,
        })
    }

    fn vector(&self, log: &LogId) -> std::result::Result<VersionVector, String> {
        let rows = self
            .home
            .store()
            .db()
            .version_vector(log)
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, seq)| {
                let k: [u8; 32] = k.as_slice().try_into().ok()?;
                Some((PublicKey::from_bytes(&k).ok()?, seq))
            })
            .collect())
    }
}

impl Ledger for HomeLedger {
    fn network(&self) -> Option<NetworkId> {
        self.network
    }

    fn is_member(&mut self, key: &PublicKey) -> bool {
        // Asked on every request a peer makes: the home's kept state, not a reload each time.
        let Some(network) = self.network else {
            return false;
        };
        let now = now_ms();
        self.home
            .with_state(&network, |state, _| {
                Ok(state.roster.member(key).is_some_and(|m| {
                    m.check_time(now).is_ok() && m.revoked_from.is_none_or(|r| r > now)
                }))
            })
            .unwrap_or(false)
    }

    fn may_read(&mut self, peer: &PublicKey, log: &LogId) -> bool {
        let Some(network) = self.network else {
            return false;
        };
        if *log == network {
            return true;
        }
        let Ok(Some(role)) = self.home.with_state(&network, |state, _| {
            Ok(state.roster.member(peer).map(|m| m.role))
        }) else {
            return false;
        };
        if role != countersign_ledger::Role::AiModel {
            return true;
        }
        let Ok(rows) = self.home.store().db().access_changes(log) else {
            return false;
        };
        let changes = rows.iter().filter_map(|r| {
            let kind = r.kind.parse().ok()?;
            let change: AccessChange = serde_json::from_slice(r.payload.as_deref()?).ok()?;
            Some((kind, change.member))
        });
        countersign_report::access::may_read(role, peer, changes)
    }

    fn summary(&mut self) -> std::result::Result<Vec<LogSummary>, String> {
        let logs = self
            .home
            .store()
            .db()
            .log_ids()
            .map_err(|e| e.to_string())?;
        let forks = self.home.store().db().forks().map_err(|e| e.to_string())?;
        logs.into_iter()
            .map(|log| {
                let heads = self
                    .home
                    .store()
                    .db()
                    .heads(&log)
                    .map_err(|e| e.to_string())?;
                let authors = self.vector(&log)?;
                // An author's sequences run from 1 without gaps: their sum is the entry count.
                let entries = authors.iter().map(|(_, s)| *s).sum();
                let checkpoint = match (self.network, self.signer.as_mut()) {
                    (Some(network), Some(signer)) => signer.sign(network, log, entries, &heads),
                    _ => None,
                };
                Ok(LogSummary {
                    log,
                    authors,
                    heads,
                    forks: forks.iter().filter(|f| f.log == log.as_bytes()).count() as u32,
                    checkpoint,
                })
            })
            .collect()
    }

    fn vector(&mut self, log: &LogId) -> std::result::Result<VersionVector, String> {
        HomeLedger::vector(self, log)
    }

    fn lacks_any(
        &mut self,
        ids: &[countersign_ledger::EntryId],
    ) -> std::result::Result<bool, String> {
        let db = self.home.store().db();
        let evidence: Vec<Vec<u8>> = db
            .forks()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|f| f.second)
            .collect();
        for id in ids {
            let held = db.contains(id).map_err(|e| e.to_string())?
                || evidence.iter().any(|e| e.as_slice() == id.as_bytes());
            if !held {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn entries_after(
        &mut self,
        log: &LogId,
        have: &VersionVector,
        limit: usize,
    ) -> std::result::Result<(Vec<u8>, bool), String> {
        let mine = HomeLedger::vector(self, log)?;
        let db = self.home.store().db();
        let had: HashMap<[u8; 32], u64> = have.iter().map(|(k, s)| (*k.as_bytes(), *s)).collect();
        let had_of = |author: &[u8]| {
            <&[u8; 32]>::try_from(author).map_or(0, |a| had.get(a).copied().unwrap_or(0))
        };
        // The log is read once in arrival order (a topological order) from the earliest entry
        // the peer lacks, skipping what it has: reading per author and merging read every
        // author's next `limit` entries to send `limit` in all.
        let mut start: Option<i64> = None;
        for (author, top) in &mine {
            let after = had_of(author.as_bytes());
            if after < *top {
                let at = db
                    .arrival_of(log, author.as_bytes(), after + 1)
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0);
                start = Some(start.map_or(at, |s| s.min(at)));
            }
        }
        let mut rows: Vec<StoredEntry> = Vec::new();
        let mut more = false;
        if let Some(start) = start {
            let mut cursor = start - 1;
            'scan: loop {
                let chunk = db
                    .log_entries_after(log, cursor, limit + 1)
                    .map_err(|e| e.to_string())?;
                let full = chunk.len() > limit;
                for r in chunk {
                    cursor = r.arrival;
                    if u64::try_from(r.seq).unwrap_or(0) <= had_of(&r.author) {
                        continue;
                    }
                    if rows.len() == limit {
                        more = true;
                        break 'scan;
                    }
                    rows.push(r);
                }
                if !full {
                    break;
                }
            }
        }
        // Cut by bytes too, so large payloads never make a message the peer must refuse.
        let mut bytes = 0usize;
        if let Some(cut) = rows.iter().position(|r| {
            bytes += r.header.len() + 64 + r.payload.as_ref().map_or(0, Vec::len);
            bytes > countersign_sync::protocol::MAX_BATCH_BYTES
        }) {
            rows.truncate(cut.max(1));
            more = true;
        }
        // Stored rows go out as they are: the peer verifies every one, so decoding them here
        // (a key decompression each) would only cost time.
        let mut records: Vec<BundleRecord> = rows
            .into_iter()
            .map(|r| record(r.header, &r.signature, r.payload))
            .collect::<std::result::Result<_, String>>()?;
        // The last batch of a log carries its fork evidence, so equivocations reach every peer.
        if !more {
            for f in db.forks().map_err(|e| e.to_string())? {
                if f.log == log.as_bytes() && records.len() < countersign_sync::protocol::MAX_BATCH
                {
                    records.push(record(
                        f.second_header,
                        &f.second_signature,
                        f.second_payload,
                    )?);
                }
            }
        }
        Ok((bundle::encode_records(&records), more))
    }

    type Checked = Authenticated;

    fn check(bundle: &[u8]) -> std::result::Result<Authenticated, String> {
        Authenticated::from_bundle(bundle).map_err(|e| e.to_string())
    }

    fn accept(&mut self, batch: Authenticated) -> std::result::Result<u64, String> {
        let report = self
            .home
            .import_authenticated(batch)
            .map_err(|e| e.to_string())?;
        if self.network.is_none() {
            self.network = self.home.state().ok().and_then(|s| s.network().ok());
        }
        Ok(report.new)
    }

    fn checkpoints(
        &mut self,
        peer: &PublicKey,
        logs: &[LogSummary],
    ) -> std::result::Result<(), String> {
        let claims: Vec<(LogId, Vec<u8>)> = logs
            .iter()
            .filter_map(|l| Some((l.log, l.checkpoint.clone()?)))
            .collect();
        let found = self
            .home
            .hold_to_checkpoints(peer, &claims)
            .map_err(|e| e.to_string())?;
        match found.first() {
            None => Ok(()),
            Some(v) => Err(format!("split view: {}", v.reason)),
        }
    }

    fn changed_logs(&mut self) -> std::result::Result<Vec<LogId>, String> {
        let mut logs = BTreeSet::new();
        loop {
            let rows = self
                .home
                .store()
                .db()
                .entries_after(self.cursor, 1000)
                .map_err(|e| e.to_string())?;
            for r in &rows {
                if let Some(l) = Hash::from_slice(&r.log) {
                    logs.insert(l);
                }
                self.cursor = self.cursor.max(r.arrival);
            }
            if rows.len() < 1000 {
                break;
            }
        }
        // New fork evidence (kept by an import, not an arrival) is news for peers too.
        let forks = self.home.store().db().forks().map_err(|e| e.to_string())?;
        if forks.len() != self.forks_seen {
            logs.extend(forks.iter().filter_map(|f| Hash::from_slice(&f.log)));
            self.forks_seen = forks.len();
        }
        if self.network.is_none() && !logs.is_empty() {
            self.network = self.home.state().ok().and_then(|s| s.network().ok());
        }
        Ok(logs.into_iter().collect())
    }
}

/// What `serve` says once it listens: its peer id and addresses (with `/p2p/<id>`).
#[derive(Debug, Clone, Serialize)]
pub struct Listening {
    pub peer: String,
    pub listen: Vec<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(AppError::io("starting the sync runtime"))
}

fn parse_addrs(addrs: &[String]) -> Result<Vec<Multiaddr>> {
    addrs
        .iter()
        .map(|a| {
            a.parse()
                .map_err(|e| AppError::InvalidInput(format!("{a:?} is not a multiaddr: {e}")))
        })
        .collect()
}

/// Opens the home at `dir` for a sync node: its identity is the home's member key.
fn node_parts(dir: &Path) -> Result<(HomeLedger, countersign_sync::Keypair)> {
    let mut home = Home::open(dir)?;
    let seed = home.secret()?.to_seed();
    let keypair = countersign_sync::keypair(&seed);
    Ok((HomeLedger::new(home)?, keypair))
}

/// The ledger, identity and configuration of a node on the home at `dir`.
fn node_setup(
    dir: &Path,
    listen: &[String],
    peers: &[String],
    mdns: bool,
) -> Result<(HomeLedger, countersign_sync::Keypair, Config)> {
    let (ledger, keypair) = node_parts(dir)?;
    // The peers this home remembers, then those given now.
    let mut all = ledger.home.peers()?;
    all.extend(
        peers
            .iter()
            .filter(|p| !all.contains(p))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let config = Config {
        listen: parse_addrs(listen)?,
        peers: parse_addrs(&all)?,
        mdns,
        ..Config::default()
    };
    Ok((ledger, keypair, config))
}

/// Runs a sync node on the home at `dir` until the process ends. `ready` is called once every
/// `listen` address is bound.
pub fn serve(
    dir: &Path,
    listen: &[String],
    peers: &[String],
    mdns: bool,
    ready: impl FnOnce(&Listening) + Send,
) -> Result<()> {
    let (ledger, keypair, config) = node_setup(dir, listen, peers, mdns)?;
    let wanted = config.listen.len();
    let rt = runtime()?;
    rt.block_on(async move {
        let (node, commands) =
            countersign_sync::start(keypair, ledger, config).map_err(AppError::InvalidInput)?;
        let me = node.local_peer_id();
        let mut bound: Vec<String> = Vec::new();
        let mut ready = Some(ready);
        // The command sender lives as long as the node: serve runs until killed.
        let _keep = commands;
        node.run(move |addr| {
            bound.push(format!("{addr}/p2p/{me}"));
            if bound.len() >= wanted {
                if let Some(ready) = ready.take() {
                    ready(&Listening {
                        peer: me.to_string(),
                        listen: bound.clone(),
                    });
                }
            }
        })
        .await;
        Ok(())
    })
}

/// Syncs the home at `dir` once with `peer` (a multiaddr ending in `/p2p/<id>`): pulls what
/// the peer has, lets the peer pull what this home has, and reports both counts.
pub fn sync_once(dir: &Path, peer: &str, timeout: Duration) -> Result<SyncReport> {
    let (ledger, keypair) = node_parts(dir)?;
    let peer: Multiaddr = parse_addrs(&[peer.to_string()])?.remove(0);
    let rt = runtime()?;
    rt.block_on(async move {
        let (node, commands) = countersign_sync::start(keypair, ledger, Config::default())
            .map_err(AppError::InvalidInput)?;
        let running = tokio::spawn(node.run(|_| {}));
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::SyncOnce { peer, reply })
            .await
            .map_err(|_| AppError::InvalidInput("the sync node stopped".into()))?;
        let result = tokio::time::timeout(timeout, answer).await;
        drop(commands);
        running.abort();
        match result {
            Err(_) => Err(AppError::InvalidInput(format!(
                "the sync did not finish within {} s",
                timeout.as_secs()
            ))),
            Ok(Err(_)) => Err(AppError::InvalidInput("the sync node stopped".into())),
            Ok(Ok(r)) => r.map_err(|e| AppError::Sync(e.to_string())),
        }
    })
}

/// A sync node running in the background of a long-lived process (the desktop app).
#[derive(Debug)]
pub struct Service {
    runtime: tokio::runtime::Runtime,
    commands: tokio::sync::mpsc::Sender<Command>,
    listen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// What the desktop shows about sync.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    #[serde(flatten)]
    pub node: countersign_sync::NodeStatus,
    pub listen: Vec<String>,
}

impl Service {
    /// Starts a node on the home at `dir` (which must have an identity) and returns at once.
    pub fn start(dir: &Path, listen: &[String], peers: &[String], mdns: bool) -> Result<Service> {
        let (ledger, keypair, config) = node_setup(dir, listen, peers, mdns)?;
        let runtime = runtime()?;
        let _entered = runtime.enter();
        let (node, commands) =
            countersign_sync::start(keypair, ledger, config).map_err(AppError::InvalidInput)?;
        let me = node.local_peer_id();
        let listen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let bound = listen.clone();
        runtime.spawn(node.run(move |addr| {
            if let Ok(mut b) = bound.lock() {
                b.push(format!("{addr}/p2p/{me}"));
            }
        }));
        Ok(Service {
            runtime,
            commands,
            listen,
        })
    }

    /// A handle to ask the node for its status from any thread or runtime.
    pub fn handle(&self) -> ServiceHandle {
        ServiceHandle {
            commands: self.commands.clone(),
            listen: self.listen.clone(),
        }
    }

    /// Keeps the runtime the node runs on alive as long as the service.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }
}

/// Asks a running [`Service`] for its status; cheap to clone, usable from async code (the
/// desktop's commands run on their own runtime, where blocking on another would panic).
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    commands: tokio::sync::mpsc::Sender<Command>,
    listen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServiceHandle {
    /// Peers, last sync and listen addresses, as the node has them now.
    pub async fn status(&self) -> Result<ServiceStatus> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Status { reply })
            .await
            .map_err(|_| AppError::Sync("the sync node stopped".into()))?;
        let node = answer
            .await
            .map_err(|_| AppError::Sync("the sync node stopped".into()))?;
        let listen = self.listen.lock().map(|l| l.clone()).unwrap_or_default();
        Ok(ServiceStatus { node, listen })
    }
}

impl ServiceHandle {
    /// Has the running node dial `peer` now and whenever it drops.
    pub async fn add_peer(&self, peer: &str) -> Result<()> {
        let peer = parse_addrs(&[peer.to_string()])?.remove(0);
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::AddPeer { peer, reply })
            .await
            .map_err(|_| AppError::Sync("the sync node stopped".into()))?;
        answer
            .await
            .map_err(|_| AppError::Sync("the sync node stopped".into()))?
            .map_err(|e| AppError::InvalidInput(e.to_string()))
    }
}

/// Where a home keeps the peers it dials (beside those given on the command line).
const PEERS_META: &str = "sync.peers";

impl Home {
    /// The peers this home dials whenever it runs a node (`peer add`).
    pub fn peers(&self) -> Result<Vec<String>> {
        Ok(self
            .store()
            .db()
            .meta(PEERS_META)?
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect())
    }

    /// Remembers `peer` (a multiaddr ending in `/p2p/<id>`) for every node this home runs.
    pub fn peer_add(&mut self, peer: &str) -> Result<Vec<String>> {
        let addr = parse_addrs(&[peer.trim().to_string()])?.remove(0);
        if !matches!(addr.iter().last(), Some(countersign_sync::Protocol::P2p(_))) {
            return Err(AppError::InvalidInput(format!(
                "{addr} does not name a peer: append /p2p/<peer id>"
            )));
        }
        let mut peers = self.peers()?;
        let addr = addr.to_string();
        if !peers.contains(&addr) {
            if peers.len() >= countersign_sync::MAX_PEERS {
                return Err(AppError::InvalidInput(format!(
                    "this home already dials {} peers",
                    countersign_sync::MAX_PEERS
                )));
            }
            peers.push(addr);
            self.store_mut()
                .write(|db| db.set_meta(PEERS_META, &peers.join("\n")))?;
        }
        Ok(peers)
    }
}
