//! Peer sync: this home behind a `countersign-sync` node. Every batch a peer sends goes
//! through the bundle importer — every signature, hash link, ledger and report rule checked
//! before anything is stored, all or nothing — and the node only ever sees bytes.
//!
//! `ledger` is the home as the node's ledger; this module runs nodes (`serve`, one-shot
//! syncs, the desktop's background service); `peers` is what a home remembers of its peers.

mod ledger;
mod peers;

use std::time::Duration;

use countersign_sync::{Command, Config, SyncReport};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::error::{AppError, Result};
use crate::home::Home;

pub use countersign_sync::Multiaddr;
pub use ledger::rotation::KeyMoved;
pub use ledger::HomeLedger;
pub use peers::{CutOffStatus, PeerStatus, SidebarStatus, SyncAlerts, SyncStatus};

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

/// What a node on a home runs with: the home as its ledger, its libp2p identity, the
/// delegation that identity runs under, if any, and where the ledger says the home's key is
/// no longer the one the node runs as ([`HomeLedger::watch_rotation`]).
type NodeParts = (
    HomeLedger,
    countersign_sync::Keypair,
    Option<countersign_ledger::delegation::NodeDelegation>,
    Rotated,
);

/// Told once the key a node runs as is no longer the home's.
type Rotated = tokio::sync::watch::Receiver<Option<KeyMoved>>;

/// Resolves once the key the node runs as is no longer the home's; never while it is.
async fn rotated(mut rotated: Rotated) -> KeyMoved {
    loop {
        if let Some(new) = *rotated.borrow_and_update() {
            return new;
        }
        if rotated.changed().await.is_err() {
            // The node, and the ledger with it, is gone: nothing more will be said.
            std::future::pending::<()>().await;
        }
    }
}

/// The home as a sync node's ledger, and the node's identity. With the member key in memory
/// (unsealed now if it is not yet), the identity is the member key. A key that never leaves its
/// holder (a token, an agent) cannot be a libp2p identity, which libp2p holds in memory: the
/// node then runs under a node key made in memory for this process only, and the member key —
/// signing on its token — delegates to it for this home's network (see
/// `countersign_ledger::delegation`); peers serve that node as the member.
fn node_parts(mut home: Home) -> Result<NodeParts> {
    // Never by proximity: a home that has not joined neither listens nor dials.
    if !home.joined()? {
        return Err(countersign_report::accept::trust::TrustError::NotJoined.into());
    }
    let signer = home.signer()?;
    if let Some(seed) = signer.seed() {
        let keypair = countersign_sync::keypair(&seed);
        let mut ledger = HomeLedger::new(home)?;
        let rotated = ledger.watch_rotation(signer.public());
        return Ok((ledger, keypair, None, rotated));
    }
    let mut ledger = HomeLedger::new(home)?;
    let rotated = ledger.watch_rotation(signer.public());
    // The network its peers check the delegation against: the one it holds, else the one its
    // invitation named (a home joined by invitation takes the roster with its first sync).
    let network = ledger.delegation_network().ok_or_else(|| {
        AppError::InvalidInput(
            "this home's key never leaves its holder, so its node runs under a delegation \
             for one network; it knows no network id yet: join with an invitation first"
                .into(),
        )
    })?;
    let (identity, node) = countersign_sync::node_identity();
    let delegation =
        countersign_ledger::delegation::NodeDelegation::try_sign(network, &signer, node)?;
    tracing::info!(member = %delegation.member, "this node runs under a delegation from the member key (held outside this process)");
    Ok((ledger, identity, Some(delegation), rotated))
}

/// The ledger, identity and configuration of a node on the home at `dir`.
fn node_setup(
    home: Home,
    listen: &[String],
    peers: &[String],
    mdns: bool,
) -> Result<(HomeLedger, countersign_sync::Keypair, Config, Rotated)> {
    let (ledger, keypair, delegation, rotated) = node_parts(home)?;
    // A node started as a key that is no longer the home's is one its peers no longer
    // serve: said now, not after a start. The profile names another (another process
    // adopted a rotation since this handle's key was opened), or the roster moved it (rotated
    // to a key this home could not adopt, or replaced by an admin).
    if let Some(key) = ledger.runs_as_key() {
        let moved = match ledger.home.keys().profile()? {
            Some(p) if p.key != key => Some(KeyMoved {
                new: p.key,
                switched: true,
            }),
            _ => ledger
                .home
                .state()?
                .roster()
                .rotation_of(&key)
                .map(|r| KeyMoved {
                    new: r.new,
                    switched: false,
                }),
        };
        if let Some(moved) = moved {
            return Err(moved.into());
        }
    }
    // The peers this home remembers, then those given now, each once however it was written.
    let mut all = parse_addrs(&ledger.home.peers()?)?;
    for p in parse_addrs(peers)? {
        if !all.contains(&p) {
            all.push(p);
        }
    }
    let config = Config {
        listen: parse_addrs(listen)?,
        peers: all,
        mdns,
        delegation,
        ..Config::default()
    };
    Ok((ledger, keypair, config, rotated))
}

/// Runs a sync node on `home` until the process ends, or until the home's key is rotated
/// (`key_rotated`: the node's identity is the old key, see [`HomeLedger::watch_rotation`]).
/// `ready` is called once every `listen` address is bound. Beside it, failed deliveries to archives are tried again by themselves,
/// backing off from `first_backoff` (see [`crate::pacs::retry_deliveries_forever`]).
pub fn serve(
    mut home: Home,
    listen: &[String],
    peers: &[String],
    mdns: bool,
    first_backoff: Duration,
    ready: impl FnOnce(&Listening) + Send,
) -> Result<()> {
    // Its own handle on the home (with the same unlocked key, to read sealed reports), on a
    // thread of its own: an archive that is slow to answer never holds up the node.
    let deliveries = home.open_again()?;
    std::thread::Builder::new()
        .name("delivery-retry".into())
        .spawn(move || crate::pacs::retry_deliveries_forever(deliveries, first_backoff))
        .map_err(AppError::io("starting the delivery retries"))?;
    let (ledger, keypair, config, key_rotated) = node_setup(home, listen, peers, mdns)?;
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
        let running = node.run(move |addr| {
            bound.push(format!("{addr}/p2p/{me}"));
            if bound.len() >= wanted {
                if let Some(ready) = ready.take() {
                    ready(&Listening {
                        peer: me.to_string(),
                        listen: bound.clone(),
                    });
                }
            }
        });
        tokio::select! {
            () = running => Ok(()),
            moved = rotated(key_rotated) => Err(moved.into()),
        }
    })
}

/// Syncs `home` once with `peer` (a multiaddr ending in `/p2p/<id>`): pulls what the peer has,
/// lets the peer pull what this home has, and reports both counts.
///
/// A home that asked for a key rotation (`key rotate`) still signs with its old key until the
/// rotation reaches it; but once an admin applied it, the department's peers no longer serve
/// the old key. So if the peer refuses this home as a stranger, the sync is tried once more as
/// the new key; either way, a rotation that arrived is adopted when the sync ends.
pub fn sync_once(home: Home, peer: &str, timeout: Duration) -> Result<SyncReport> {
    let dir = home.dir().to_path_buf();
    // The adoption at the end opens the new key with the same passphrase source: a home
    // opened without one could not open a sealed key, and left the switch to the next
    // command (found by review, 2026-12-05).
    let source = home.passphrase.clone();
    let mut home = home;
    let next = match home.pending_signer()? {
        Some(new) => {
            let mut next = home.open_again()?;
            next.signer = Some(new);
            Some(next)
        }
        None => None,
    };
    let result = match (sync_once_as(home, peer, timeout)?, next) {
        (Err(e), Some(next)) if e.kind() == "refused" => {
            tracing::info!("refused as the old key: syncing as the rotated key");
            sync_once_as(next, peer, timeout)?
        }
        (r, _) => r,
    };
    let report = result.map_err(|e| {
        // The kind only: a cut-off's or refusal's words may quote a refused entry.
        tracing::info!(error = e.kind(), "sync failed");
        AppError::Sync(e.to_string())
    })?;
    tracing::info!(
        received = report.received,
        sent = report.sent,
        "sync finished"
    );
    // The sync is done either way: a rotation that cannot be adopted now is said, and
    // adopted at the next command or unlock.
    let reopened = match source {
        Some(source) => Home::open_with(&dir, source),
        None => Home::open(&dir),
    };
    if let Err(e) = reopened.and_then(|mut h| h.adopt_rotation()) {
        tracing::warn!(
            error = e.code(),
            "a rotation of this home's key could not be adopted"
        );
    }
    Ok(report)
}

/// One sync with `peer` as the key `home` signs with: the node's answer, or why there was none.
fn sync_once_as(
    home: Home,
    peer: &str,
    timeout: Duration,
) -> Result<std::result::Result<SyncReport, countersign_sync::SyncError>> {
    let (ledger, keypair, delegation, _rotated) = node_parts(home)?;
    let peer: Multiaddr = parse_addrs(&[peer.to_string()])?.remove(0);
    tracing::info!(peer = %peer, "sync once");
    let rt = runtime()?;
    rt.block_on(async move {
        let config = Config {
            delegation,
            ..Config::default()
        };
        let (node, commands) =
            countersign_sync::start(keypair, ledger, config).map_err(AppError::InvalidInput)?;
        let running = tokio::spawn(node.run(|_| {}));
        let result = tokio::time::timeout(timeout, ask_until_served(&commands, peer)).await;
        drop(commands);
        running.abort();
        match result {
            Err(_) => Err(AppError::InvalidInput(format!(
                "the sync did not finish within {} s",
                timeout.as_secs()
            ))),
            Ok(r) => r,
        }
    })
}

/// Asks the node for one sync with `peer`; while the peer says we are over our rate with it
/// (`rate_limited`: busy, not a refusal), waits as long as it asked and asks again — at most
/// [`RATE_LIMITED_TRIES`] times, and within the caller's timeout.
async fn ask_until_served(
    commands: &tokio::sync::mpsc::Sender<Command>,
    peer: Multiaddr,
) -> Result<std::result::Result<SyncReport, countersign_sync::SyncError>> {
    let mut tries = 0;
    loop {
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::SyncOnce {
                peer: peer.clone(),
                reply,
            })
            .await
            .map_err(|_| AppError::InvalidInput("the sync node stopped".into()))?;
        let result = answer
            .await
            .map_err(|_| AppError::InvalidInput("the sync node stopped".into()))?;
        tries += 1;
        match result {
            Err(countersign_sync::SyncError::RateLimited { retry_in_ms, .. })
                if tries < RATE_LIMITED_TRIES =>
            {
                tracing::info!(
                    retry_in_ms,
                    "the peer asked us to slow down (rate_limited): asking again after the wait"
                );
                // Backing off as long as the peer asked: its bucket for us refills meanwhile.
                tokio::time::sleep(Duration::from_millis(retry_in_ms)).await;
            }
            other => return Ok(other),
        }
    }
}

/// One-shot syncs asked again at most this many times in all while the peer says we are over
/// our rate with it (each after the wait it names).
const RATE_LIMITED_TRIES: u32 = 8;

/// A sync node running in the background of a long-lived process (the desktop app).
#[derive(Debug)]
pub struct Service {
    runtime: tokio::runtime::Runtime,
    commands: tokio::sync::mpsc::Sender<Command>,
    listen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Wakes the delivery thread (a report queued) and stops it with the service.
    deliveries: std::sync::Arc<crate::pacs::DeliveryWake>,
    /// See [`Service::key_rotated`].
    key_rotated: Rotated,
}

/// What the desktop shows about sync.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceStatus {
    #[serde(flatten)]
    pub node: countersign_sync::NodeStatus,
    pub listen: Vec<String>,
}

impl Service {
    /// Starts a node on `home` (which must have an identity, unsealed or with a passphrase
    /// source) and returns at once. Beside it, on a handle and a thread of their own, reports
    /// queued for store-back are sent ([`ServiceHandle::wake_deliveries`]) and failed
    /// deliveries retried with back-off (see [`crate::pacs::deliver_until_stopped`]), until the
    /// service stops.
    pub fn start(home: Home, listen: &[String], peers: &[String], mdns: bool) -> Result<Service> {
        Service::start_with_backoff(home, listen, peers, mdns, crate::pacs::FIRST_BACKOFF)
    }

    /// [`Service::start`] with the first back-off of failed deliveries given (tests).
    pub fn start_with_backoff(
        mut home: Home,
        listen: &[String],
        peers: &[String],
        mdns: bool,
        first_backoff: Duration,
    ) -> Result<Service> {
        let delivering = home.open_again()?;
        // The node first: a start refused (not joined, a key the roster moved) leaves no
        // delivery thread behind holding a handle on the home and its key (found by review,
        // 2026-12-04: the desktop asks for the node twice a second, and each refused start
        // left one more).
        let (ledger, keypair, config, key_rotated) = node_setup(home, listen, peers, mdns)?;
        let runtime = runtime()?;
        let deliveries = std::sync::Arc::new(crate::pacs::DeliveryWake::default());
        let wake = deliveries.clone();
        std::thread::Builder::new()
            .name("delivery".into())
            .spawn(move || crate::pacs::deliver_until_stopped(delivering, first_backoff, &wake))
            .map_err(AppError::io("starting the deliveries"))?;
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
            deliveries,
            key_rotated,
        })
    }

    /// The home's new key, once the key this node runs as is no longer the home's (see
    /// [`HomeLedger::watch_rotation`]): the node is to be stopped, and started again once
    /// the new key is unlocked.
    pub fn key_rotated(&self) -> Option<KeyMoved> {
        *self.key_rotated.borrow()
    }

    /// A handle to ask the node for its status from any thread or runtime.
    pub fn handle(&self) -> ServiceHandle {
        ServiceHandle {
            commands: self.commands.clone(),
            listen: self.listen.clone(),
            deliveries: self.deliveries.clone(),
        }
    }

    /// Keeps the runtime the node runs on alive as long as the service.
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Stops the node: its tasks are dropped, and with them its handle on the home and the
    /// key it holds (wiped once no other holder is left). Not from inside an async runtime.
    pub fn stop(self) {
        // The delivery thread starts no further send, and ends (with its handle on the home and
        // the key in it) once a send under way has its answer; not waited for here.
        self.deliveries.stop();
        self.runtime
            .shutdown_timeout(std::time::Duration::from_secs(5));
    }
}

/// Asks a running [`Service`] for its status; cheap to clone, usable from async code (the
/// desktop's commands run on their own runtime, where blocking on another would panic).
#[derive(Debug, Clone)]
pub struct ServiceHandle {
    commands: tokio::sync::mpsc::Sender<Command>,
    listen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    deliveries: std::sync::Arc<crate::pacs::DeliveryWake>,
}

impl ServiceHandle {
    /// Tells the service's delivery thread to look now: a report was queued for store-back
    /// ([`Home::queue_store_back`]). A slow archive holds up nothing here.
    pub fn wake_deliveries(&self) {
        self.deliveries.wake();
    }

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
