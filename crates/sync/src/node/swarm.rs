//! Building a node: the libp2p swarm's behaviours and transports, its connection limits, the
//! addresses it listens on and dials, and the cut-offs it carries over from the last run.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::stream::FuturesOrdered;
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{behaviour::toggle::Toggle, NetworkBehaviour};
use libp2p::{connection_limits, identify, identity, mdns, ping, PeerId, StreamProtocol};
use tokio::sync::mpsc;

use super::{
    checker, gossip, identity_key, limits, now_ms, traffic, Command, Config, CutOff, Ledger, Node,
    NodeStatus, COMMAND_QUEUE, MAX_CONNECTIONS_PER_PEER, MAX_CUT_OFF, MAX_INCOMING, MAX_PEERS,
    MAX_PENDING_INCOMING,
};
use crate::codec::SyncCodec;
use crate::protocol::PROTOCOL;

#[derive(NetworkBehaviour)]
pub(super) struct Behaviour {
    pub(super) limits: connection_limits::Behaviour,
    pub(super) sync: request_response::Behaviour<SyncCodec>,
    pub(super) identify: identify::Behaviour,
    pub(super) ping: ping::Behaviour,
    pub(super) mdns: Toggle<mdns::tokio::Behaviour>,
    pub(super) gossip: gossip::Behaviour,
}

/// Builds the swarm for `identity`, listens, dials the configured peers, and returns the node
/// with the sender its commands go to. A delegation in `config` must be to `identity`'s key
/// (every peer would cut the node off for presenting another's).
pub fn start<L: Ledger>(
    identity: identity::Keypair,
    ledger: L,
    config: Config,
) -> Result<(Node<L>, mpsc::Sender<Command>), String> {
    if let Some(d) = &config.delegation {
        if identity_key(&identity) != Some(d.node) {
            return Err("the node delegation is to another key than this node's identity".into());
        }
    }
    launch(identity, ledger, config)
}

/// [`start`] without checking the delegation against the identity: for tests that play a peer
/// presenting someone else's delegation.
pub(crate) fn launch<L: Ledger>(
    identity: identity::Keypair,
    ledger: L,
    config: Config,
) -> Result<(Node<L>, mpsc::Sender<Command>), String> {
    // TCP as `with_tcp` builds it, its bytes counted (`traffic`).
    let traffic = std::sync::Arc::<traffic::Traffic>::default();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_quic()
        .with_other_transport(|key| traffic::tcp(key, traffic.clone()))
        .map_err(|e| e.to_string())?
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
            let limits = connection_limits::ConnectionLimits::default()
                .with_max_established_per_peer(Some(MAX_CONNECTIONS_PER_PEER))
                .with_max_established_incoming(Some(MAX_INCOMING))
                .with_max_pending_incoming(Some(MAX_PENDING_INCOMING));
            Ok(Behaviour {
                limits: connection_limits::Behaviour::new(limits),
                sync,
                identify: identify::Behaviour::new(identify::Config::new(
                    "/countersign/id/1".into(),
                    key.public(),
                )),
                ping: ping::Behaviour::new(ping::Config::new()),
                mdns: Toggle::from(mdns),
                gossip: gossip::behaviour(key)?,
            })
        })
        .map_err(|e| e.to_string())?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    if config.peers.len() > MAX_PEERS {
        return Err(format!("at most {MAX_PEERS} peers can be dialled"));
    }
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
    tracing::info!(
        peer = %swarm.local_peer_id(),
        listen = config.listen.len(),
        peers = config.peers.len(),
        mdns = config.mdns,
        delegated_by = ?config.delegation.as_ref().map(|d| d.member),
        "sync node started"
    );
    let (tx, rx) = mpsc::channel(COMMAND_QUEUE);
    let mut ledger = ledger;
    // Cut-offs outlive a restart: a peer does not shed one by waiting for the node to stop.
    let now = now_ms();
    let cut_off: HashMap<PeerId, CutOff> = ledger
        .cut_offs()
        .into_iter()
        .take(MAX_CUT_OFF)
        .filter_map(|(peer, reason, until_ms, strikes)| {
            let peer: PeerId = peer.parse().ok()?;
            let left = Duration::from_millis(until_ms.saturating_sub(now));
            Some((
                peer,
                CutOff {
                    reason,
                    until: tokio::time::Instant::now() + left,
                    until_ms,
                    strikes,
                },
            ))
        })
        .collect();
    Ok((
        Node {
            swarm,
            ledger,
            commands: rx,
            pulls: HashMap::new(),
            announced: HashMap::new(),
            dialling: HashMap::new(),
            connected: HashSet::new(),
            cut_off,
            retry: HashMap::new(),
            asked: HashMap::new(),
            keys_asked: HashMap::new(),
            pull_requests: HashMap::new(),
            status: NodeStatus::default(),
            deferred: HashMap::new(),
            checking: FuturesOrdered::new(),
            checker: checker::Checker::start::<L>()?,
            pull_generation: 0,
            gossip: gossip::Gossip::new(traffic),
            delegated: HashMap::new(),
            rates: limits::RateLimits::new(config.limits, config.clock.clone()),
            config,
        },
        tx,
    ))
}
