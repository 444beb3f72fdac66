//! The sync node: a libp2p swarm (TCP and QUIC, noise, yamux, identify, ping, optional mDNS,
//! and `/countersign/sync/5` request-response), driven by one event loop that owns the
//! [`Ledger`] and takes [`Command`]s from a bounded channel.
//!
//! Reconciliation is a pull. A whole pull (on connecting, every [`RECONCILE_EVERY`], and for a
//! one-shot sync) reconciles the two homes' sets of entry ids range by range
//! ([`crate::reconcile`]) and fetches the ids this home lacks in bounded batches, so its cost
//! follows what differs. A pull of announced logs asks for those logs' [`LogSummary`](crate::protocol::LogSummary)s and
//! fetches where the peer's version vector is ahead. Each batch goes to the ledger, which
//! verifies every signature before storing anything and quarantines, with its reason, an
//! entry it refuses by rule while the rest flows. Pushing is an announcement: "these logs
//! have new heads" makes the receiver pull, and its answer says how much it stored.
//!
//! A peer is cut off only for what it provably did: a batch whose entry fails its signature or
//! format checks, or a split view (both signed claims). A cut-off expires, each next one
//! lasting twice as long ([`CUT_OFF_FIRST`] up to [`CUT_OFF_LONGEST`]). A local failure
//! (the store busy, the disk full) ends the pull and retries it later; a batch holding nothing
//! new ends it too (another peer may be serving the same log).
//!
//! **Who a peer is.** A peer's libp2p identity is its member key, or — for a home whose key
//! never leaves its token — a node key made in memory for one process, which the member key
//! delegated to (`countersign_ledger::delegation`). Such a node attaches its delegation to every
//! message; this node checks it against the key the peer proved in its handshake and remembers
//! it while the peer is connected ([`MAX_DELEGATED`] at most). `Node::member_key` is the one
//! answer to "which member is this peer": everything else (the roster check, what it may read,
//! cut-offs, checkpoints, split-view evidence) is keyed by that member key. A delegation that
//! does not hold for the peer presenting it is proof against that peer (cut off); one naming a
//! key not on the roster makes the peer a stranger, refused as any stranger is.
//!
//! **Where things are.** This file holds the node's types, limits and state. `swarm` builds the
//! node and starts it; `run` is its event loop and the commands it takes; `peer_ids` turns
//! keys into peer ids and back; `ledger` is what the node asks of the home (the [`Ledger`]
//! trait) and the answers; `delegated` checks delegations and admits the peers they name;
//! `events` dispatches swarm events; `pull` is the puller's side of reconciliation (batches
//! checked by the `checker`'s thread while the one before is stored, signed checkpoints held
//! to); `serve` the server's side (what each member may read) and the announcements; `gossip`
//! carries announcements over gossipsub among members who may read every log; `traffic`
//! counts the bytes.

mod checker;
mod delegated;
mod events;
pub mod gossip;
mod ledger;
pub mod limits;
mod peer_ids;
mod pull;
mod run;
mod serve;
mod swarm;
mod traffic;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::stream::FuturesOrdered;
use libp2p::request_response::OutboundRequestId;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::{mpsc, oneshot};

use countersign_ledger::delegation::NodeDelegation;
use countersign_ledger::{EntryId, LogId, NetworkId, PublicKey};

use crate::protocol::{Envelope, Request};
use pull::{OnceWaiting, Pull, Received};

pub use ledger::{AcceptError, Accepted, ById, Ledger, PeerEvent};
pub use peer_ids::{identity_key, keypair, node_identity, peer_id, peer_key};
#[cfg(test)]
pub(crate) use swarm::launch;
pub use swarm::start;
use swarm::{Behaviour, BehaviourEvent};

/// How a node starts.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start and re-dialled when the connection drops.
    pub peers: Vec<Multiaddr>,
    /// Discover peers on the LAN with mDNS (off in tests).
    pub mdns: bool,
    /// How often local changes (by any process on this home) are looked for and announced.
    /// It sets the floor of how soon a peer sees a signature; each look is a SQLite read
    /// transaction (file locks, a stat) and a wake-up of the node: an idle release `serve`
    /// used 0.9% of a core at 25 ms, none measurable at 1 s.
    pub announce_every: Duration,
    /// How often every log is compared with each idle connected peer ([`RECONCILE_EVERY`]).
    pub reconcile_every: Duration,
    /// The member's delegation to this node's identity, for a home whose key cannot be the
    /// node's identity (a token): attached to every request and response. `None`: the node's
    /// identity is the member key.
    pub delegation: Option<NodeDelegation>,
    /// What each peer may make this node do per unit of time ([`limits`]).
    pub limits: limits::Limits,
    /// The clock the rate limits read (a test's manual one, so no test waits on the wall
    /// clock).
    pub clock: limits::Clock,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            peers: Vec::new(),
            mdns: false,
            announce_every: Duration::from_millis(50),
            reconcile_every: RECONCILE_EVERY,
            delegation: None,
            limits: limits::Limits::default(),
            clock: limits::Clock::default(),
        }
    }
}

/// What one sync with a peer did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub peer: String,
    /// Entries this home stored from the peer.
    pub received: u64,
    /// Entries the peer said it stored from this home.
    pub sent: u64,
}

/// Why a sync did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("{0} does not name a peer: append /p2p/<peer id>")]
    NoPeerId(Multiaddr),
    #[error("could not reach {peer}: {reason}")]
    Unreachable { peer: String, reason: String },
    #[error("peer {peer} refused: {reason}")]
    Refused { peer: String, reason: String },
    #[error("peer {peer} sent entries this home refuses ({reason}); it is cut off")]
    CutOff { peer: String, reason: String },
    #[error("the ledger failed: {0}")]
    Ledger(String),
    #[error("the node stopped")]
    Stopped,
    #[error("this node already dials {max} peers")]
    TooManyPeers { max: usize },
    /// The peer is busy with us: it asked us to slow down (not a cut-off). A node retries on
    /// its own after the wait; a one-shot sync may ask again then.
    #[error("peer {peer} asked to slow down (rate_limited): retry in {retry_in_ms} ms")]
    RateLimited { peer: String, retry_in_ms: u64 },
}

impl SyncError {
    /// What kind of failure this is, for logs: a cut-off's or a refusal's words may quote an
    /// entry that was refused, and a rule's message can hold a field value.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::NoPeerId(_) => "no_peer_id",
            SyncError::Unreachable { .. } => "unreachable",
            SyncError::Refused { .. } => "refused",
            SyncError::CutOff { .. } => "cut_off",
            SyncError::Ledger(_) => "ledger",
            SyncError::Stopped => "stopped",
            SyncError::TooManyPeers { .. } => "too_many_peers",
            SyncError::RateLimited { .. } => limits::RATE_LIMITED,
        }
    }
}

/// A request to the running node.
#[derive(Debug)]
pub enum Command {
    /// Dial `peer`, pull everything it has, have it pull from us, and report.
    SyncOnce {
        peer: Multiaddr,
        reply: oneshot::Sender<Result<SyncReport, SyncError>>,
    },
    /// The peers connected now.
    Peers { reply: oneshot::Sender<Vec<String>> },
    /// Connected peers, and when a pull last completed.
    Status { reply: oneshot::Sender<NodeStatus> },
    /// Dial `peer` now and whenever it drops, like the peers configured at start.
    AddPeer {
        peer: Multiaddr,
        reply: oneshot::Sender<Result<(), SyncError>>,
    },
}

/// What a running node reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    pub peers: Vec<String>,
    /// Peers cut off now: (peer id, reason, until ms since the epoch).
    pub cut_off: Vec<(String, String, u64)>,
    /// When a pull from a peer last completed (ms since the epoch).
    pub last_sync_ms: Option<u64>,
    /// Entries stored from peers since the node started.
    pub received: u64,
    pub gossip: gossip::GossipStatus,
    /// Peers whose requests were refused for going over their rate since the node started
    /// (slowed, never cut off): (peer id, requests refused).
    pub rate_limited: Vec<(String, u64)>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Commands waiting at most this many at a time.
pub const COMMAND_QUEUE: usize = 64;
/// Peers remembered as cut off, at most.
pub const MAX_CUT_OFF: usize = 10_000;
/// A first cut-off lasts this long; each next one of the same peer twice as long as the last.
pub const CUT_OFF_FIRST: Duration = Duration::from_secs(60);
/// The longest a cut-off lasts.
pub const CUT_OFF_LONGEST: Duration = Duration::from_secs(24 * 3600);
/// A pull that ended on a local failure is tried again after this, doubling up to
/// [`RETRY_LONGEST`] while failures go on.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);
pub const RETRY_LONGEST: Duration = Duration::from_secs(60);
/// Peers a node dials and re-dials, at most.
pub const MAX_PEERS: usize = 64;
/// Every log is compared with every connected peer this often. Announcements make a peer
/// compare only the logs they name; this catches whatever an announcement that was lost (a
/// timeout, a failed pull) would have.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);
/// Configured peers that dropped are dialled again this often.
pub const REDIAL_EVERY: Duration = Duration::from_secs(2);
/// Verified delegations remembered at most, one per connected peer (forgotten when it
/// disconnects): the connection limits allow [`MAX_INCOMING`] incoming peers and a node dials
/// at most [`MAX_PEERS`], so this is never reached by honest peers; past it a delegated peer is
/// served as a stranger until others disconnect.
pub const MAX_DELEGATED: usize = MAX_INCOMING as usize + MAX_PEERS;

/// Connections at most: per peer, incoming in all, and incoming still handshaking. A
/// department is tens of nodes; beyond these, connections are refused before any request
/// (each connection may hold a few batches in hand).
pub const MAX_CONNECTIONS_PER_PEER: u32 = 2;
pub const MAX_INCOMING: u32 = 256;
pub const MAX_PENDING_INCOMING: u32 = 32;

/// A running node's event loop.
pub struct Node<L: Ledger> {
    swarm: Swarm<Behaviour>,
    ledger: L,
    commands: mpsc::Receiver<Command>,
    pulls: HashMap<PeerId, Pull>,
    /// Announcements we sent: to whom, and the one-shot sync waiting for the answer.
    announced: HashMap<OutboundRequestId, (PeerId, Option<OnceWaiting>)>,
    /// One-shot syncs waiting for their connection.
    dialling: HashMap<PeerId, Vec<oneshot::Sender<Result<SyncReport, SyncError>>>>,
    connected: HashSet<PeerId>,
    /// Peers cut off for proof of misbehaviour: not served or pulled from until it expires.
    cut_off: HashMap<PeerId, CutOff>,
    /// Pulls that ended on a local failure, and when to try each again.
    retry: HashMap<PeerId, (tokio::time::Instant, u32)>,
    /// Fetches by id in flight: the ids each asked for.
    asked: HashMap<OutboundRequestId, (PeerId, Vec<EntryId>)>,
    /// Key requests in flight: the logs each asked for (see [`pull`]).
    keys_asked: HashMap<OutboundRequestId, (PeerId, Vec<LogId>)>,
    /// Every request a pull sent and not yet answered (or failed): the generation of the pull
    /// that sent it. An answer is taken only by that pull (see [`Node::send_for_pull`]).
    pull_requests: HashMap<OutboundRequestId, u64>,
    status: NodeStatus,
    /// Changes not yet announced to a peer because we were pulling from it.
    deferred: HashMap<PeerId, std::collections::BTreeSet<LogId>>,
    /// Batches received and being checked by `checker`, in arrival order; at most
    /// [`pull::BATCHES_IN_HAND`] per pull.
    checking: FuturesOrdered<futures::future::BoxFuture<'static, Received<L::Checked>>>,
    checker: checker::Checker<L::Checked>,
    /// Numbers pulls, so a batch is stored only by the pull that fetched it.
    pull_generation: u64,
    config: Config,
    gossip: gossip::Gossip,
    /// Delegations verified for connected peers (at most [`MAX_DELEGATED`]), by the peer id
    /// that presented them.
    delegated: HashMap<PeerId, NodeDelegation>,
    /// Every peer's token buckets (requests, bytes received, bytes served).
    rates: limits::RateLimits,
}

/// A peer cut off for proof of misbehaviour.
#[derive(Debug, Clone)]
struct CutOff {
    reason: String,
    until: tokio::time::Instant,
    until_ms: u64,
    /// Cut-offs of this peer so far (this one included).
    strikes: u32,
}

impl<L: Ledger> std::fmt::Debug for Node<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("peer", self.swarm.local_peer_id())
            .field("connected", &self.connected.len())
            .field("pulling", &self.pulls.len())
            .finish_non_exhaustive()
    }
}

/// Runs a ledger call on the event loop's own thread. Not `block_in_place`: that hands the
/// worker's other tasks to a new thread on every call, so the event loop hopped between
/// threads and the ledger's allocations spread over many threads' heaps, each keeping what
/// was freed in it until that thread allocated again — a node serving a first sync of
/// 1 000 000 reports peaked at 296–310 MiB on mimalloc with it, 245 MiB without (quiet runs
/// measured 124 and 100 µs of CPU per entry; README, *Sync at scale*). The runtime's other
/// workers take the tasks that wait meanwhile; a ledger call never awaits, so nothing it
/// needs can wait behind it.
fn block<T>(f: impl FnOnce() -> T) -> T {
    f()
}

/// Runs a ledger call that may take seconds (building the reconciliation set at a million
/// reports) under `block_in_place` when `long`, else as [`block`]. A task woken or spawned by
/// the event loop just before (a connection's, negotiating a peer's new stream) sits in this
/// worker's LIFO slot, which the other worker cannot take: it waited for the whole call, and a
/// peer's stream not negotiated within libp2p's 10 s failed its request ("Timeout while
/// waiting for a response": the 1M-report `benches/sync_scale.rs` failed its first reconcile
/// so, 2026-12-03). `block_in_place` hands those tasks on first. Only the long calls: on
/// every call it spread the node's allocations over threads (see [`block`]). The first build
/// now runs before the swarm is polled (`Node::warm_set`); a long one is left for a node whose
/// home took many entries from another process while it ran.
fn block_long<T>(long: bool, f: impl FnOnce() -> T) -> T {
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if long && multi_thread {
        tokio::task::block_in_place(f)
    } else {
        f()
    }
}
impl<L: Ledger> Node<L> {
    pub fn local_peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// The network this node's requests name: its own, else the one it was told to trust
    /// (a peer of any other network refuses them, so nothing of it arrives).
    fn asking_network(&self) -> NetworkId {
        self.ledger
            .network()
            .or_else(|| self.ledger.anchor())
            .unwrap_or(countersign_ledger::Hash::ZERO)
    }

    /// Sends `request` to `peer` in an envelope with this node's delegation, if it runs under
    /// one.
    pub(super) fn send(&mut self, peer: &PeerId, request: Request) -> OutboundRequestId {
        let envelope = Envelope {
            delegation: self.config.delegation.clone(),
            body: request,
        };
        self.swarm.behaviour_mut().sync.send_request(peer, envelope)
    }

    /// The member `peer` is: the key in its peer id when that key is a member's; else the
    /// member whose delegation this node verified for exactly that peer id; else the key in its
    /// peer id (a stranger, or a peer of a home with no roster yet: the roster check decides).
    pub(super) fn member_key(&mut self, peer: &PeerId) -> Option<PublicKey> {
        let own = peer_key(peer);
        let Some(delegated) = self.delegated.get(peer).map(|d| d.member) else {
            return own;
        };
        if let Some(k) = own {
            let ledger = &mut self.ledger;
            if block(|| ledger.is_member(&k)) {
                return Some(k);
            }
        }
        Some(delegated)
    }

    /// The peer id a peer is shown and remembered under: its member's for a delegated peer (so
    /// `sync status` names the member, and a cut-off outlives the node key), else its own.
    pub(super) fn shown(&self, peer: &PeerId) -> PeerId {
        self.delegated
            .get(peer)
            .map_or(*peer, |d| peer_id(&d.member))
    }

    /// May we exchange entries with `peer`? A home with no network yet takes the roster from
    /// the peer it chose to dial (as it would take a bundle); otherwise the peer must be a
    /// member's (its key, or a delegation it showed).
    fn allowed(&mut self, peer: &PeerId) -> bool {
        if self.is_cut_off(peer) {
            return false;
        }
        match (self.ledger.network(), self.member_key(peer)) {
            (None, _) => true,
            (Some(_), Some(key)) => {
                let ledger = &mut self.ledger;
                block(|| ledger.is_member(&key))
            }
            (Some(_), None) => false,
        }
    }
}
