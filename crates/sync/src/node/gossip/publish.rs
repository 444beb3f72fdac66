//! What this node says: its changed logs' heads, published on the topic less what was
//! announced to it already, and which connected peers that reaches (the rest are told
//! directly). Apart from receiving: publishing reads only this home's own summaries.

use std::collections::HashSet;

use libp2p::PeerId;
use tokio::time::Instant;

use countersign_ledger::LogId;

use super::mesh::thresholds;
use super::{Announced, Announcement, MAX_LOOKED_UP};
use crate::node::{block, Ledger, Node};

impl<L: Ledger> Node<L> {
    /// Publishes the changed logs' heads, leaving out what was announced to us already, and
    /// returns the connected peers the publication reaches (they need no direct
    /// announcement): every subscribed neighbour whose score allows publishing to it.
    pub(in crate::node) fn gossip_announce(&mut self, changed: &[LogId]) -> HashSet<PeerId> {
        let Some(topic) = self.gossip.topic.clone() else {
            return HashSet::new();
        };
        if let Some(network) = self.ledger.network() {
            if changed.contains(&network) {
                // The roster changed: who belongs in the mesh may have too.
                self.gossip.next_rescore = Instant::now();
            }
        }
        let hash = topic.hash();
        let publish_threshold = thresholds().publish_threshold;
        let gossip = &self.swarm.behaviour().gossip;
        let subscribed: HashSet<PeerId> = gossip
            .all_peers()
            .filter(|(p, topics)| {
                topics.contains(&&hash)
                    && self.connected.contains(p)
                    && gossip.peer_score(p).is_some_and(|s| s >= publish_threshold)
            })
            .map(|(p, _)| *p)
            .collect();
        if subscribed.is_empty() {
            return subscribed;
        }
        let now = Instant::now();
        let (messages, left_out_since) = self.gossip_messages(changed);
        // A peer that subscribed only shortly before what is left out was announced may not
        // have heard it: it is told directly, with the rest.
        let reached: HashSet<PeerId> = subscribed
            .into_iter()
            .filter(|p| self.gossip.heard_what_was_left_out(p, left_out_since))
            .collect();
        for message in messages {
            let bytes = message.encode();
            match self
                .swarm
                .behaviour_mut()
                .gossip
                .publish(topic.clone(), bytes)
            {
                Ok(_) => {
                    tracing::debug!(
                        logs = message.logs.len(),
                        peers = reached.len(),
                        "gossip: announced (no logs: every log)"
                    );
                    self.gossip.status.published += 1;
                    self.gossip.hear(&message, now);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "gossip: publishing failed; peers are told directly");
                    return HashSet::new();
                }
            }
        }
        reached
    }

    /// The messages announcing `changed`: each log's heads and forks, unless all were
    /// announced lately; "every log" when too many changed to look up. With them, when the
    /// earliest of what was left out was announced.
    fn gossip_messages(&mut self, changed: &[LogId]) -> (Vec<Announcement>, Option<Instant>) {
        if changed.len() > MAX_LOOKED_UP {
            return (vec![Announcement::default()], None);
        }
        let ledger = &mut self.ledger;
        let Ok(summaries) = block(|| ledger.summary(changed)) else {
            return (vec![Announcement::default()], None);
        };
        let mut left_out_since: Option<Instant> = None;
        let mut logs: Vec<Announced> = Vec::with_capacity(summaries.len());
        for s in summaries {
            match self.gossip.heard_since(&s.log, &s.heads, s.forks) {
                Some(since) => {
                    left_out_since = Some(left_out_since.map_or(since, |e| e.min(since)));
                }
                None => logs.push(Announced::new(s.log, s.forks, s.heads)),
            }
        }
        (Announcement::split(logs), left_out_since)
    }
}
