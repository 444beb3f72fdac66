//! Who is in the mesh, and the gossipsub set-up that keeps everyone else out: the topic
//! filter, the behaviour's configuration and score parameters, subscribing to this network's
//! topic, and every connected peer's application score (why exclusion is by score: the
//! parent module's notes, **Who is in the mesh**). Apart from what messages say and what is
//! done with them: this is the configuration and the roster check gossipsub is fed.

use std::collections::HashSet;
use std::time::Duration;

use libp2p::gossipsub::{self, IdentTopic, TopicHash};
use libp2p::{identity, PeerId};

use super::{MAX_TRANSMIT, OUTSIDER, QUEUE, TOPIC_PREFIX};
use crate::node::{block, Ledger, Node};

/// Only our kind of topic is taken from peers (each may hold two at most).
#[derive(Debug, Default, Clone)]
pub(in crate::node) struct AnnounceTopics;

impl gossipsub::TopicSubscriptionFilter for AnnounceTopics {
    fn can_subscribe(&mut self, topic: &TopicHash) -> bool {
        topic
            .as_str()
            .strip_prefix(TOPIC_PREFIX)
            .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
    }
}

pub(in crate::node) type Behaviour = gossipsub::Behaviour<
    gossipsub::IdentityTransform,
    gossipsub::MaxCountSubscriptionFilter<AnnounceTopics>,
>;

pub(super) fn thresholds() -> gossipsub::PeerScoreThresholds {
    gossipsub::PeerScoreThresholds::default()
}

/// Our topic's score: only invalid messages count (P4), each squared and weighted so that
/// three take a peer past the graylist; forgotten over about ten minutes. Deliveries and time
/// in the mesh do not count: announcements are rare, and a quiet member is not a bad one.
fn topic_params() -> gossipsub::TopicScoreParams {
    gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -10.0,
        invalid_message_deliveries_decay: gossipsub::score_parameter_decay(Duration::from_secs(
            600,
        )),
        ..gossipsub::TopicScoreParams::default()
    }
}

/// The gossipsub behaviour: signed messages, strict and manual validation, bounded frames and
/// queues, peers scored by membership (not by address: every member is known by its key, and
/// a department's nodes may share one).
pub(in crate::node) fn behaviour(key: &identity::Keypair) -> Result<Behaviour, String> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .max_transmit_size(MAX_TRANSMIT)
        .connection_handler_queue_len(QUEUE)
        .heartbeat_initial_delay(Duration::from_millis(500))
        .build()
        .map_err(|e| e.to_string())?;
    let filter = gossipsub::MaxCountSubscriptionFilter {
        filter: AnnounceTopics,
        max_subscribed_topics: 2,
        max_subscriptions_per_request: 4,
    };
    let mut gossip = Behaviour::new_with_subscription_filter(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        config,
        filter,
    )?;
    let params = gossipsub::PeerScoreParams {
        app_specific_weight: 1.0,
        ip_colocation_factor_weight: 0.0,
        retain_score: Duration::from_secs(300),
        ..gossipsub::PeerScoreParams::default()
    };
    gossip.with_peer_score(params, thresholds())?;
    Ok(gossip)
}

impl<L: Ledger> Node<L> {
    /// Subscribes to this network's topic once the home has a network and its member may read
    /// every log.
    pub(super) fn gossip_join(&mut self) {
        if self.gossip.topic.is_some() {
            return;
        }
        let Some(network) = self.ledger.network() else {
            return;
        };
        // A node running under a delegation stays out of the mesh: its messages are signed by
        // its node key, which only its direct peers (who saw its delegation) can tell is a
        // member's, so every peer further on would ignore them. It is told of changes directly
        // and announces its own directly; the peers that store them announce them over gossip.
        if self.config.delegation.is_some() {
            return;
        }
        let me = self.local_peer_id();
        if !self.gossip_eligible(&me) {
            return;
        }
        let topic = IdentTopic::new(format!("{TOPIC_PREFIX}{network}"));
        let gossip = &mut self.swarm.behaviour_mut().gossip;
        if let Err(e) = gossip.set_topic_params(topic.clone(), topic_params()) {
            tracing::warn!(error = e, "gossip: the topic's score could not be set");
        }
        match gossip.subscribe(&topic) {
            Ok(_) => {
                tracing::info!(topic = %topic, "gossip: subscribed");
                self.gossip.status.topic = Some(topic.to_string());
                self.gossip.topic = Some(topic);
            }
            Err(e) => tracing::warn!(error = %e, "gossip: could not subscribe"),
        }
    }

    /// Whether `peer` belongs in the mesh: a member who may read every log, not cut off.
    pub(super) fn gossip_eligible(&mut self, peer: &PeerId) -> bool {
        if self.is_cut_off(peer) {
            return false;
        }
        let Some(key) = self.member_key(peer) else {
            return false;
        };
        let ledger = &mut self.ledger;
        block(|| ledger.is_member(&key) && ledger.reads_every_log(&key))
    }

    /// Sets `peer`'s application score: 0 for an eligible member, [`OUTSIDER`] otherwise (see
    /// the module's notes). Called for every new connection, before gossipsub handles anything
    /// the peer sent.
    pub(in crate::node) fn gossip_score(&mut self, peer: &PeerId) {
        let eligible = self.gossip_eligible(peer);
        let score = if eligible { 0.0 } else { OUTSIDER };
        self.swarm
            .behaviour_mut()
            .gossip
            .set_application_score(peer, score);
        if self.gossip.scored.insert(*peer, eligible) != Some(eligible) {
            if eligible {
                tracing::debug!(peer = %peer, "gossip: a member who reads every log; may join the mesh");
            } else {
                tracing::debug!(peer = %peer, "gossip: kept out of the mesh (not a member who reads every log, or cut off)");
            }
        }
    }

    pub(super) fn gossip_rescore(&mut self) {
        let peers: HashSet<PeerId> = self
            .swarm
            .behaviour()
            .gossip
            .all_peers()
            .map(|(p, _)| *p)
            .collect();
        self.gossip.scored.retain(|p, _| peers.contains(p));
        for p in peers {
            self.gossip_score(&p);
        }
    }
}
