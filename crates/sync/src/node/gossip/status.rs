//! What gossip did, for `sync status` and the once-a-second traffic line: the counters the
//! other parts keep, with the mesh's size and the bytes through this node's connections read
//! when asked. Apart because it only reports.

use std::sync::atomic::Ordering;

use crate::node::{Ledger, Node};

/// What gossip did on this node, for `sync status` and the traffic line.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GossipStatus {
    /// The topic this node is subscribed to (none: not a member who reads every log, or no
    /// network yet).
    pub topic: Option<String>,
    pub mesh_peers: usize,
    /// Messages this node published.
    pub published: u64,
    /// Received messages accepted (and forwarded), rejected, ignored.
    pub accepted: u64,
    pub rejected: u64,
    pub ignored: u64,
    /// Pulls an announcement started.
    pub pulls: u64,
    /// Bytes through this node's TCP connections (see `traffic`).
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

impl<L: Ledger> Node<L> {
    /// What gossip did so far, with the bytes through this node's TCP connections.
    pub(in crate::node) fn gossip_status(&self) -> GossipStatus {
        let mut s = self.gossip.status.clone();
        s.mesh_peers = self.gossip.topic.as_ref().map_or(0, |t| {
            self.swarm.behaviour().gossip.mesh_peers(&t.hash()).count()
        });
        s.bytes_sent = self.gossip.traffic.sent.load(Ordering::Relaxed);
        s.bytes_received = self.gossip.traffic.received.load(Ordering::Relaxed);
        s
    }

    /// Once a second, at debug under the target `countersign_sync::traffic`: the totals (the
    /// 50-peer benchmark reads this line from each node).
    pub(super) fn log_traffic(&self) {
        if !tracing::enabled!(target: "countersign_sync::traffic", tracing::Level::DEBUG) {
            return;
        }
        let s = self.gossip_status();
        tracing::debug!(
            target: "countersign_sync::traffic",
            sent = s.bytes_sent,
            received = s.bytes_received,
            published = s.published,
            accepted = s.accepted,
            rejected = s.rejected,
            ignored = s.ignored,
            pulls = s.pulls,
            mesh = s.mesh_peers,
            "traffic"
        );
    }
}
