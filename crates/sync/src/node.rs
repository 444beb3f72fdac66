//! The sync node: a libp2p swarm (TCP and QUIC, noise, yamux, identify, ping, optional mDNS,
//! and `/countersign/sync/1` request-response), driven by one event loop that owns the
//! [`Ledger`] and takes [`Command`]s from a bounded channel.
//!
//! Reconciliation is a pull: ask a peer for its [`LogSummary`]s, fetch in bounded batches
//! every log where the peer's version vector is ahead (the roster first, since reports are
//! authorised by it), hand each batch to the ledger, which verifies every entry before storing
//! any. A batch the ledger refuses cuts the peer off. Pushing is an announcement: "these logs
//! have new heads" makes the receiver pull, and its answer says how much it stored.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{behaviour::toggle::Toggle, NetworkBehaviour, SwarmEvent};
use libp2p::{identify, identity, mdns, multiaddr::Protocol, noise, ping, tcp, yamux};
use libp2p::{Multiaddr, PeerId, StreamProtocol, Swarm};
use tokio::sync::{mpsc, oneshot};

use countersign_ledger::{LogId, NetworkId, PublicKey};

use crate::codec::SyncCodec;
use crate::protocol::{LogSummary, Request, Response, VersionVector, MAX_BATCH, PROTOCOL};

/// What the node needs from the ledger. The app implements it over its store; the node never
/// touches SQLite. Calls block (they are made with `block_in_place`).
pub trait Ledger: Send + 'static {
    /// The department network this home belongs to, if any yet.
    fn network(&self) -> Option<NetworkId>;
    /// Whether `key` is a member now (on the roster, not revoked).
    fn is_member(&mut self, key: &PublicKey) -> bool;
    /// Every log held, with its version vector and heads.
    fn summary(&mut self) -> Result<Vec<LogSummary>, String>;
    /// How far each author has got in `log` here.
    fn vector(&mut self, log: &LogId) -> Result<VersionVector, String>;
    /// Whether any of `ids` is an entry this home does not hold.
    fn lacks_any(&mut self, ids: &[countersign_ledger::EntryId]) -> Result<bool, String>;
    /// Entries of `log` beyond `have`, parents first, at most `limit`, as bundle bytes; and
    /// whether more remain.
    fn entries_after(
        &mut self,
        log: &LogId,
        have: &VersionVector,
        limit: usize,
    ) -> Result<(Vec<u8>, bool), String>;
    /// Verifies every entry of a bundle, then stores all or none. `Ok(new entries)`, or why
    /// the batch is refused (the node then cuts the peer off).
    fn accept(&mut self, bundle: &[u8]) -> Result<u64, String>;
    /// Logs with entries stored since the last call (by this process or any other).
    fn changed_logs(&mut self) -> Result<Vec<LogId>, String>;
}

/// How a node starts.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: Vec<Multiaddr>,
    /// Peers dialled at start and re-dialled when the connection drops.
    pub peers: Vec<Multiaddr>,
    /// Discover peers on the LAN with mDNS (off in tests).
    pub mdns: bool,
    /// How often local changes (by any process on this home) are looked for and announced.
    pub announce_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: Vec::new(),
            peers: Vec::new(),
            mdns: false,
            announce_every: Duration::from_millis(100),
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
}

/// What a running node reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeStatus {
    pub peers: Vec<String>,
    /// When a pull from a peer last completed (ms since the epoch).
    pub last_sync_ms: Option<u64>,
    /// Entries stored from peers since the node started.
    pub received: u64,
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
/// Configured peers that dropped are dialled again this often.
pub const REDIAL_EVERY: Duration = Duration::from_secs(2);

#[derive(NetworkBehaviour)]
struct Behaviour {
    sync: request_response::Behaviour<SyncCodec>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
}

/// A one-shot sync that pulled `u64` entries and now waits for the peer's ack.
type OnceWaiting = (u64, oneshot::Sender<Result<SyncReport, SyncError>>);

/// Who waits for a pull to end.
enum Waiter {
    /// An announcement from the peer: answered with what we stored.
    Ack(ResponseChannel<Response>),
    /// A one-shot sync: after the pull, we announce to the peer and wait for its ack.
    Once(oneshot::Sender<Result<SyncReport, SyncError>>),
}

#[derive(Default)]
struct Pull {
    queue: VecDeque<LogId>,
    current: Option<LogId>,
    /// The version vector the last fetch of `current` sent.
    sent_have: VersionVector,
    /// Logs to fetch from the start (see [`Node::plan`]).
    whole: HashSet<LogId>,
    stored: u64,
    waiters: Vec<Waiter>,
    /// A pull was asked for while this one ran: run another when it ends.
    again: bool,
}

/// The ed25519 key inside a peer id (Countersign peers' ids are their member keys).
pub fn peer_key(peer: &PeerId) -> Option<PublicKey> {
    let mh = peer.as_ref();
    if mh.code() != 0 {
        return None;
    }
    let key = identity::PublicKey::try_decode_protobuf(mh.digest()).ok()?;
    let bytes = key.try_into_ed25519().ok()?.to_bytes();
    PublicKey::from_bytes(&bytes).ok()
}

/// The libp2p identity of a member key.
pub fn keypair(seed: &[u8; 32]) -> identity::Keypair {
    let mut seed = *seed;
    identity::Keypair::ed25519_from_bytes(&mut seed).expect("32 bytes are an ed25519 secret")
}

/// The peer id a member key has on the network.
pub fn peer_id(key: &PublicKey) -> PeerId {
    let public = identity::ed25519::PublicKey::try_from_bytes(key.as_bytes())
        .expect("ledger keys are valid ed25519 keys");
    identity::PublicKey::from(public).to_peer_id()
}

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
    /// Peers that sent entries this home refused: never served or pulled from again.
    cut_off: HashMap<PeerId, String>,
    status: NodeStatus,
    /// Changes not yet announced to a peer because we were pulling from it.
    deferred: HashMap<PeerId, std::collections::BTreeSet<LogId>>,
    config: Config,
}

/// Builds the swarm for `identity`, listens, dials the configured peers, and returns the node
/// with the sender its commands go to.
pub fn start<L: Ledger>(
    identity: identity::Keypair,
    ledger: L,
    config: Config,
) -> Result<(Node<L>, mpsc::Sender<Command>), String> {
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| e.to_string())?
        .with_quic()
        .with_behaviour(|key| {
            let sync = request_response::Behaviour::with_codec(
                SyncCodec,
                [(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
                request_response::Config::default()
                    .with_request_timeout(Duration::from_secs(120))
                    .with_max_concurrent_streams(32),
            );
            let mdns = if config.mdns {
                Some(mdns::tokio::Behaviour::new(
                    mdns::Config::default(),
                    key.public().to_peer_id(),
                )?)
            } else {
                None
            };
            Ok(Behaviour {
                sync,
                identify: identify::Behaviour::new(identify::Config::new(
                    "/countersign/id/1".into(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping::Config::new()),
                mdns: Toggle::from(mdns),
            })
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    for addr in &config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| format!("listening on {addr}: {e}"))?;
    }
    for addr in &config.peers {
        swarm
            .dial(addr.clone())
            .map_err(|e| format!("dialling {addr}: {e}"))?;
    }
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    Ok((
        Node {
            swarm,
            ledger,
            commands: rx,
            pulls: HashMap::new(),
            announced: HashMap::new(),
            dialling: HashMap::new(),
            connected: HashSet::new(),
            cut_off: HashMap::new(),
            status: NodeStatus::default(),
            deferred: HashMap::new(),
            config,
        },
        tx,
    ))
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

/// Raises `have` to the highest sequence of each author in a bundle's entries (headers that
/// do not decode are left to the ledger to refuse).
fn advance(have: &mut VersionVector, bundle: &[u8]) {
    let Ok(records) = countersign_ledger::bundle::decode(bundle) else {
        return;
    };
    for r in records {
        let Ok(h) = countersign_ledger::header::decode(&r.header) else {
            continue;
        };
        match have.iter_mut().find(|(k, _)| *k == h.author) {
            Some((_, seq)) => *seq = (*seq).max(h.seq),
            None => have.push((h.author, h.seq)),
        }
    }
}

fn block<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

impl<L: Ledger> Node<L> {
    pub fn local_peer_id(&self) -> PeerId {
        *self.swarm.local_peer_id()
    }

    /// Runs until every command sender is dropped; `on_listen` hears each address listened on.
    pub async fn run(mut self, mut on_listen: impl FnMut(&Multiaddr)) {
        let mut tick = tokio::time::interval(self.config.announce_every);
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        redial.tick().await;
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => {
                    if let SwarmEvent::NewListenAddr { address, .. } = &event {
                        on_listen(address);
                    }
                    self.on_event(event);
                }
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                _ = tick.tick() => self.announce_changes(),
                _ = redial.tick() => self.redial(),
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Peers { reply } => {
                let _ = reply.send(self.connected.iter().map(|p| p.to_string()).collect());
            }
            Command::Status { reply } => {
                let mut status = self.status.clone();
                status.peers = self.connected.iter().map(|p| p.to_string()).collect();
                status.peers.sort();
                let _ = reply.send(status);
            }
            Command::SyncOnce { peer, reply } => {
                let Some(Protocol::P2p(id)) = peer.iter().last() else {
                    let _ = reply.send(Err(SyncError::NoPeerId(peer)));
                    return;
                };
                if self.connected.contains(&id) {
                    self.start_pull(id, Some(Waiter::Once(reply)));
                    return;
                }
                if let Err(e) = self.swarm.dial(peer) {
                    let _ = reply.send(Err(SyncError::Unreachable {
                        peer: id.to_string(),
                        reason: e.to_string(),
                    }));
                    return;
                }
                self.dialling.entry(id).or_default().push(reply);
            }
        }
    }

    /// May we exchange entries with `peer`? A home with no network yet takes the roster from
    /// the peer it chose to dial (as it would take a bundle); otherwise the peer's key must
    /// be a member's.
    fn allowed(&mut self, peer: &PeerId) -> bool {
        if self.cut_off.contains_key(peer) {
            return false;
        }
        match (self.ledger.network(), peer_key(peer)) {
            (None, _) => true,
            (Some(_), Some(key)) => {
                let ledger = &mut self.ledger;
                block(|| ledger.is_member(&key))
            }
            (Some(_), None) => false,
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                // A stranger's connection stays up only to carry the refusal of its requests
                // (it then idles out); nothing is pulled from it or served to it.
                if !self.allowed(&peer_id) {
                    for reply in self.dialling.remove(&peer_id).unwrap_or_default() {
                        let _ = reply.send(Err(SyncError::Refused {
                            peer: peer_id.to_string(),
                            reason: "it is not a member of this department's roster".into(),
                        }));
                    }
                    return;
                }
                let first = self.connected.insert(peer_id);
                let waiters: Vec<Waiter> = self
                    .dialling
                    .remove(&peer_id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(Waiter::Once)
                    .collect();
                if first || !waiters.is_empty() {
                    // Catch up with every peer on connecting; both sides do, so both converge.
                    self.start_pull(peer_id, None);
                    if let Some(p) = self.pulls.get_mut(&peer_id) {
                        p.waiters.extend(waiters);
                    }
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.connected.remove(&peer_id);
                self.fail_pull(
                    &peer_id,
                    SyncError::Unreachable {
                        peer: peer_id.to_string(),
                        reason: "the connection closed".into(),
                    },
                );
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                for reply in self.dialling.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(SyncError::Unreachable {
                        peer: peer.to_string(),
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (_, addr) in found {
                    let _ = self.swarm.dial(addr);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            _ => {}
        }
    }

    fn on_sync(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => self.on_request(peer, request, channel),
            Event::Message {
                peer,
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => self.on_response(peer, request_id, response),
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let reason = error.to_string();
                if let Some((_, Some((_, reply)))) = self.announced.remove(&request_id) {
                    let _ = reply.send(Err(SyncError::Unreachable {
                        peer: peer.to_string(),
                        reason: reason.clone(),
                    }));
                }
                self.fail_pull(
                    &peer,
                    SyncError::Unreachable {
                        peer: peer.to_string(),
                        reason,
                    },
                );
            }
            // A malformed or oversized inbound message: the codec refused it before any
            // allocation; a peer sending one is not served again.
            Event::InboundFailure { peer, error, .. } => {
                if matches!(error, request_response::InboundFailure::Io(_)) {
                    self.cut_off(peer, format!("malformed request: {error}"));
                }
            }
            _ => {}
        }
    }

    fn respond(&mut self, channel: ResponseChannel<Response>, response: Response) {
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, response);
    }

    fn on_request(&mut self, peer: PeerId, request: Request, channel: ResponseChannel<Response>) {
        let network = self.ledger.network();
        let refused = |reason: &str| Response::Refused {
            reason: reason.into(),
        };
        if network.is_none() {
            return self.respond(channel, refused("this home belongs to no network yet"));
        }
        if let Some(why) = self.cut_off.get(&peer) {
            let reason = format!("cut off: {why}");
            return self.respond(channel, refused(&reason));
        }

        if !self.allowed(&peer) {
            return self.respond(channel, refused("not a member of this department's roster"));
        }
        let asked = match &request {
            Request::Summary { network }
            | Request::Fetch { network, .. }
            | Request::Announce { network, .. } => *network,
        };
        // A peer with no network yet asks with the zero id; any other must match ours.
        if !asked.is_zero() && Some(asked) != network {
            return self.respond(channel, refused("another network"));
        }
        let ledger = &mut self.ledger;
        match request {
            Request::Summary { .. } => {
                let response = match block(|| ledger.summary()) {
                    Ok(logs) => Response::Summary { logs },
                    Err(e) => refused(&e),
                };
                self.respond(channel, response);
            }
            Request::Fetch {
                log, have, limit, ..
            } => {
                let limit = (limit as usize).clamp(1, MAX_BATCH);
                let response = match block(|| ledger.entries_after(&log, &have, limit)) {
                    Ok((bundle, more)) => Response::Entries { more, bundle },
                    Err(e) => refused(&e),
                };
                self.respond(channel, response);
            }
            Request::Announce { .. } => self.start_pull(peer, Some(Waiter::Ack(channel))),
        }
    }

    fn start_pull(&mut self, peer: PeerId, waiter: Option<Waiter>) {
        let running = self.pulls.contains_key(&peer);
        let pull = self.pulls.entry(peer).or_default();
        pull.waiters.extend(waiter);
        if running {
            pull.again = true;
            return;
        }
        let network = self
            .ledger
            .network()
            .unwrap_or(countersign_ledger::Hash::ZERO);
        self.swarm
            .behaviour_mut()
            .sync
            .send_request(&peer, Request::Summary { network });
    }

    fn on_response(&mut self, peer: PeerId, request_id: OutboundRequestId, response: Response) {
        if let Some((_, once)) = self.announced.remove(&request_id) {
            if let Some((received, reply)) = once {
                let result = match response {
                    Response::Ack { stored } => Ok(SyncReport {
                        peer: peer.to_string(),
                        received,
                        sent: stored,
                    }),
                    Response::Refused { reason } => Err(SyncError::Refused {
                        peer: peer.to_string(),
                        reason,
                    }),
                    _ => Err(SyncError::Refused {
                        peer: peer.to_string(),
                        reason: "an answer that is not an ack".into(),
                    }),
                };
                let _ = reply.send(result);
            }
            return;
        }
        match response {
            Response::Summary { logs } => self.plan(peer, logs),
            Response::Entries { more, bundle } => {
                let Some(pull) = self.pulls.get_mut(&peer) else {
                    return;
                };
                let Some(log) = pull.current else {
                    return;
                };
                if more {
                    // Ask for the next batch now, so the peer reads it while this one is
                    // verified; the vector we will have is what we sent plus this batch.
                    let mut have = pull.sent_have.clone();
                    advance(&mut have, &bundle);
                    pull.sent_have = have.clone();
                    self.send_fetch(peer, log, have);
                }
                let ledger = &mut self.ledger;
                match block(|| ledger.accept(&bundle)) {
                    Ok(n) => {
                        let Some(pull) = self.pulls.get_mut(&peer) else {
                            return;
                        };
                        pull.stored += n;
                        // A batch that says "more" but holds nothing new (duplicates, or nothing
                        // at all) would have us pull forever: a flood, not a sync.
                        if more && n == 0 {
                            return self.cut_off(
                                peer,
                                "it keeps sending batches with nothing new in them".into(),
                            );
                        }
                        if !more {
                            pull.current = None;
                            self.fetch_next(peer);
                        }
                    }
                    Err(reason) => self.cut_off(peer, reason),
                }
            }
            Response::Refused { reason } => self.fail_pull(
                &peer,
                SyncError::Refused {
                    peer: peer.to_string(),
                    reason,
                },
            ),
            Response::Ack { .. } => {}
        }
    }

    /// Queues every log where the peer is ahead of us: the roster log first. A peer is ahead
    /// where its version vector is, and also where it holds heads or fork evidence we lack
    /// with the same vector — an equivocation: two entries at one position. Those logs are
    /// fetched whole, so the conflicting entry arrives and is kept as evidence.
    fn plan(&mut self, peer: PeerId, remote: Vec<LogSummary>) {
        let ledger = &mut self.ledger;
        let local = match block(|| ledger.summary()) {
            Ok(l) => l,
            Err(e) => return self.fail_pull(&peer, SyncError::Ledger(e)),
        };
        let mine: HashMap<LogId, &LogSummary> = local.iter().map(|l| (l.log, l)).collect();
        let mut queue: VecDeque<LogId> = VecDeque::new();
        let mut whole: HashSet<LogId> = HashSet::new();
        for l in &remote {
            let Some(m) = mine.get(&l.log) else {
                queue.push_back(l.log);
                continue;
            };
            let vector_ahead = l.authors.iter().any(|(k, seq)| {
                m.authors
                    .iter()
                    .find(|(mk, _)| mk == k)
                    .map_or(0, |(_, s)| *s)
                    < *seq
            });
            if vector_ahead {
                queue.push_back(l.log);
                continue;
            }
            let unknown_heads = l.heads.iter().any(|h| !m.heads.contains(h)) && {
                let ledger = &mut self.ledger;
                block(|| ledger.lacks_any(&l.heads)).unwrap_or(false)
            };
            if unknown_heads || l.forks > m.forks {
                queue.push_back(l.log);
                whole.insert(l.log);
            }
        }
        let network = self.ledger.network();
        // The roster log (its id is the network's, or the only genesis a new home can take)
        // goes first: report entries are authorised by it.
        let roster = network.or_else(|| remote.first().map(|l| l.log));
        if let Some(r) = roster {
            if let Some(i) = queue.iter().position(|l| *l == r) {
                queue.remove(i);
                queue.push_front(r);
            }
        }
        if let Some(pull) = self.pulls.get_mut(&peer) {
            pull.queue = queue;
            pull.whole = whole;
        }
        self.fetch_next(peer);
    }

    fn fetch_next(&mut self, peer: PeerId) {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        let log = match pull.current {
            Some(l) => Some(l),
            None => {
                pull.current = pull.queue.pop_front();
                pull.current
            }
        };
        let Some(log) = log else {
            return self.finish_pull(peer);
        };
        let have = if pull.whole.remove(&log) {
            VersionVector::new()
        } else {
            let ledger = &mut self.ledger;
            match block(|| ledger.vector(&log)) {
                Ok(v) => v,
                Err(e) => return self.fail_pull(&peer, SyncError::Ledger(e)),
            }
        };
        if let Some(pull) = self.pulls.get_mut(&peer) {
            pull.sent_have = have.clone();
        }
        self.send_fetch(peer, log, have);
    }

    fn send_fetch(&mut self, peer: PeerId, log: LogId, have: VersionVector) {
        let network = self
            .ledger
            .network()
            .unwrap_or(countersign_ledger::Hash::ZERO);
        self.swarm.behaviour_mut().sync.send_request(
            &peer,
            Request::Fetch {
                network,
                log,
                have,
                limit: MAX_BATCH as u32,
            },
        );
    }

    fn finish_pull(&mut self, peer: PeerId) {
        let Some(pull) = self.pulls.remove(&peer) else {
            return;
        };
        self.status.last_sync_ms = Some(now_ms());
        self.status.received += pull.stored;
        self.flush_deferred(peer);
        for w in pull.waiters {
            match w {
                Waiter::Ack(channel) => self.respond(
                    channel,
                    Response::Ack {
                        stored: pull.stored,
                    },
                ),
                Waiter::Once(reply) => {
                    // Now the peer pulls from us: announce every log, wait for its ack.
                    let ledger = &mut self.ledger;
                    let logs: Vec<LogId> = block(|| ledger.summary())
                        .map(|s| s.into_iter().map(|l| l.log).collect())
                        .unwrap_or_default();
                    self.announce(peer, logs, Some((pull.stored, reply)));
                }
            }
        }
        if pull.again {
            self.start_pull(peer, None);
        }
    }

    fn fail_pull(&mut self, peer: &PeerId, error: SyncError) {
        let Some(pull) = self.pulls.remove(peer) else {
            return;
        };
        self.flush_deferred(*peer);
        for w in pull.waiters {
            match w {
                Waiter::Ack(channel) => self.respond(
                    channel,
                    Response::Refused {
                        reason: error.to_string(),
                    },
                ),
                Waiter::Once(reply) => {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Never pulls from or serves `peer` again (this process); whoever waits on a pull from it
    /// hears why. The connection is left to carry that answer and idle out.
    fn cut_off(&mut self, peer: PeerId, reason: String) {
        if self.cut_off.len() < MAX_CUT_OFF {
            self.cut_off
                .insert(peer, reason.chars().take(300).collect());
        }
        self.fail_pull(
            &peer,
            SyncError::CutOff {
                peer: peer.to_string(),
                reason,
            },
        );
    }

    /// Re-dials configured peers that are not connected, every few seconds.
    fn redial(&mut self) {
        for addr in self.config.peers.clone() {
            let Some(Protocol::P2p(id)) = addr.iter().last() else {
                continue;
            };
            if !self.connected.contains(&id) && !self.cut_off.contains_key(&id) {
                let _ = self.swarm.dial(addr);
            }
        }
    }

    /// Announces logs changed on this home (by any process) to every connected peer.
    fn announce_changes(&mut self) {
        let ledger = &mut self.ledger;
        let changed = match block(|| ledger.changed_logs()) {
            Ok(c) if !c.is_empty() => c,
            _ => return,
        };
        let peers: Vec<PeerId> = self.connected.iter().copied().collect();
        for peer in peers {
            // While we pull from a peer, what we store is mostly what it sent: announcing it
            // back every tick would have it compare whole summaries for nothing. Kept, and
            // announced once the pull ends.
            if self.pulls.contains_key(&peer) {
                let pending = self.deferred.entry(peer).or_default();
                if pending.len() < crate::protocol::MAX_ANNOUNCED {
                    pending.extend(changed.iter().copied());
                }
                continue;
            }
            self.announce(peer, changed.clone(), None);
        }
    }

    /// Tells `peer` these logs have new heads; a one-shot sync waits for its answer.
    fn announce(&mut self, peer: PeerId, logs: Vec<LogId>, waiting: Option<OnceWaiting>) {
        // A home that has no network yet announces under the zero id, which peers accept.
        let network = self
            .ledger
            .network()
            .unwrap_or(countersign_ledger::Hash::ZERO);
        let id = self.swarm.behaviour_mut().sync.send_request(
            &peer,
            Request::Announce {
                network,
                logs: logs
                    .into_iter()
                    .take(crate::protocol::MAX_ANNOUNCED)
                    .collect(),
            },
        );
        self.announced.insert(id, (peer, waiting));
    }

    /// Sends what was held back while pulling from `peer`.
    fn flush_deferred(&mut self, peer: PeerId) {
        if let Some(logs) = self.deferred.remove(&peer) {
            if !logs.is_empty() && self.connected.contains(&peer) {
                self.announce(peer, logs.into_iter().collect(), None);
            }
        }
    }
}
