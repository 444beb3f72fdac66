//! The node's event loop: one `select!` over the swarm, the batches the checker has judged,
//! the commands from the shells, and the timers that announce, redial and reconcile; and the
//! commands themselves.

use libp2p::multiaddr::Protocol;
use libp2p::swarm::SwarmEvent;
use libp2p::Multiaddr;

use futures::StreamExt;

use super::pull::Waiter;
use super::{Command, Ledger, Node, SyncError, MAX_PEERS, REDIAL_EVERY};

impl<L: Ledger> Node<L> {
    /// Runs until every command sender is dropped; `on_listen` hears each address listened on.
    pub async fn run(mut self, mut on_listen: impl FnMut(&Multiaddr)) {
        self.warm_set();
        let mut tick = tokio::time::interval(self.config.announce_every);
        let mut redial = tokio::time::interval(REDIAL_EVERY);
        redial.tick().await;
        let mut reconcile = tokio::time::interval(self.config.reconcile_every);
        reconcile.tick().await;
        loop {
            // The swarm goes first: a checked batch is stored only once the swarm has nothing
            // left to do, so the request for the next batch is already on its way to the peer
            // (connections run on their own tasks) while we store, and the batch after is
            // checked on the checker's thread meanwhile.
            tokio::select! {
                biased;
                event = self.swarm.select_next_some() => {
                    if let SwarmEvent::NewListenAddr { address, .. } = &event {
                        on_listen(address);
                    }
                    self.on_event(event);
                    self.gossip_kick();
                }
                Some(received) = self.checking.next(), if !self.checking.is_empty() => {
                    // Let the connection tasks run first. The request for the next batch,
                    // queued just now, woke its connection task into this worker's LIFO
                    // slot, which no other worker may steal: without the yield it left only
                    // once the store (150-190 ms a batch) was done, so the peer sat idle.
                    // On a 1M-entry sync, one run each: 17.6k entries/s without, 20.1k with.
                    tokio::task::yield_now().await;
                    self.take_received(received);
                    self.gossip_settle();
                }
                command = self.commands.recv() => match command {
                    Some(c) => self.on_command(c),
                    None => return,
                },
                _ = tick.tick() => {
                    self.gossip_tick();
                    self.announce_changes();
                }
                _ = redial.tick() => self.redial(),
                _ = reconcile.tick() => self.reconcile(),
            }
        }
    }

    /// Builds the whole reconciliation set before the swarm is first polled, so the node
    /// listens and dials with it built. Before the first poll no connection has a task yet,
    /// so nothing can wait behind the build (the timeouts `block_long` exists for), and it
    /// runs right here: no thread hop. At a million reports it takes seconds, which the
    /// first peer's reconcile (asking or answering) paid, under `block_in_place`. A failure
    /// is only logged: the first reconcile tries again and reports it to the peer.
    fn warm_set(&mut self) {
        let started = std::time::Instant::now();
        match self.ledger.reconcile_set(None) {
            Ok(set) => tracing::info!(
                items = set.len(),
                ms = started.elapsed().as_millis() as u64,
                "reconciliation set built"
            ),
            Err(e) => tracing::warn!(error = %e, "the reconciliation set could not be built yet"),
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Peers { reply } => {
                let _ = reply.send(self.shown_peers());
            }
            Command::Status { reply } => {
                let mut status = self.status.clone();
                status.peers = self.shown_peers();
                let now = tokio::time::Instant::now();
                status.cut_off = self
                    .cut_off
                    .iter()
                    .filter(|(_, c)| c.until > now)
                    .map(|(p, c)| (p.to_string(), c.reason.clone(), c.until_ms))
                    .collect();
                status.cut_off.sort();
                status.gossip = self.gossip_status();
                status.rate_limited = self.rates.refused();
                let _ = reply.send(status);
            }
            Command::AddPeer { peer, reply } => {
                tracing::info!(address = %peer, "peer added");
                let _ = reply.send(self.add_peer(peer));
            }
            Command::SyncOnce { peer, reply } => {
                let Some(Protocol::P2p(id)) = peer.iter().last() else {
                    let _ = reply.send(Err(SyncError::NoPeerId(peer)));
                    return;
                };
                tracing::debug!(peer = %id, "one-shot sync requested");
                if self.connected.contains(&id) {
                    self.start_pull(id, Some(Waiter::Once(reply)), Vec::new());
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

    fn add_peer(&mut self, peer: Multiaddr) -> Result<(), SyncError> {
        let Some(Protocol::P2p(id)) = peer.iter().last() else {
            return Err(SyncError::NoPeerId(peer));
        };
        if !self.config.peers.contains(&peer) {
            if self.config.peers.len() >= MAX_PEERS {
                return Err(SyncError::TooManyPeers { max: MAX_PEERS });
            }
            self.config.peers.push(peer.clone());
        }
        if self.connected.contains(&id) {
            return Ok(());
        }
        self.swarm.dial(peer).map_err(|e| SyncError::Unreachable {
            peer: "the new peer".into(),
            reason: e.to_string(),
        })
    }

    fn shown_peers(&self) -> Vec<String> {
        let mut peers: Vec<String> = self
            .connected
            .iter()
            .map(|p| self.shown(p).to_string())
            .collect();
        peers.sort();
        peers.dedup();
        peers
    }
}
