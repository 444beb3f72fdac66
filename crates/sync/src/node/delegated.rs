//! Peers running under a node delegation (a token home's node): the delegation each message
//! carries is checked against the key the peer proved in its handshake, remembered while the
//! peer is connected, and the peer admitted as its member; peers not known as members by their
//! key are introduced to, so that one running under a delegation can show it.

use libp2p::request_response::OutboundRequestId;
use libp2p::PeerId;

use countersign_ledger::delegation::NodeDelegation;

use super::pull::Waiter;
use super::{block, peer_key, Ledger, Node, SyncError, MAX_DELEGATED};
use crate::protocol::Request;

/// What a message's delegation made of its sender.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Taken {
    /// None was shown, or it holds (and the peer is its member if the roster says so), or it
    /// names a key not on the roster (the peer is then a stranger, refused as any is).
    Fine,
    /// It does not hold for this peer: proof of misbehaviour, and why (with the stable code).
    Proof(String),
    /// It is for another network than this home's: refused, not held against the peer.
    OtherNetwork,
}

impl<L: Ledger> Node<L> {
    /// Checks the delegation `peer` showed with a message: its node key must be the key in the
    /// peer id, its signature verify (`verify_strict`), its network be this home's (or, for a
    /// home with none yet, the one it was told to trust); then, if the roster has its member,
    /// it is remembered for the peer and the peer admitted.
    pub(super) fn take_delegation(
        &mut self,
        peer: PeerId,
        delegation: Option<NodeDelegation>,
    ) -> Taken {
        let Some(d) = delegation else {
            return Taken::Fine;
        };
        // Every message carries it: checked once per peer and delegation.
        if self.delegated.get(&peer) == Some(&d) {
            return Taken::Fine;
        }
        let Some(network) = self.ledger.network().or_else(|| self.ledger.anchor()) else {
            return Taken::OtherNetwork;
        };
        match d.verify(&network, peer_key(&peer).as_ref()) {
            Ok(()) => {}
            Err(e) if e.proves_misbehaviour() => {
                return Taken::Proof(format!(
                    "a node delegation that does not hold ({}): {e}",
                    e.code()
                ))
            }
            Err(_) => return Taken::OtherNetwork,
        }
        let member = d.member;
        let ledger = &mut self.ledger;
        if !block(|| ledger.is_member(&member)) {
            // Refused as a stranger by the roster check that follows; nothing is remembered.
            tracing::debug!(peer = %peer, member = %member, "a node delegation by a key not on the roster");
            return Taken::Fine;
        }
        if !self.delegated.contains_key(&peer) && self.delegated.len() >= MAX_DELEGATED {
            tracing::warn!(peer = %peer, max = MAX_DELEGATED, "a node delegation not remembered: too many delegated peers");
            return Taken::Fine;
        }
        tracing::info!(peer = %peer, member = %member, "a node delegation verified: the peer is served as its member");
        self.delegated.insert(peer, d);
        if !self.connected.contains(&peer) && self.swarm.is_connected(&peer) && self.allowed(&peer)
        {
            self.admit(peer);
        }
        Taken::Fine
    }

    /// [`Node::take_delegation`] for a response: `false` when the response is not to be
    /// looked at further (the peer was cut off, or the delegation is another network's), after
    /// answering whoever waited on the request.
    pub(super) fn take_response_delegation(
        &mut self,
        peer: PeerId,
        request_id: OutboundRequestId,
        delegation: Option<NodeDelegation>,
    ) -> bool {
        let error = match self.take_delegation(peer, delegation) {
            Taken::Fine => return true,
            Taken::Proof(reason) => {
                let error = SyncError::CutOff {
                    peer: peer.to_string(),
                    reason: reason.clone(),
                };
                self.drop_request(request_id, &error);
                self.cut_off(peer, reason);
                error
            }
            Taken::OtherNetwork => {
                tracing::warn!(peer = %peer, "answer ignored: a node delegation for another network");
                let error = SyncError::Refused {
                    peer: peer.to_string(),
                    reason: "it runs under a node delegation for another network".into(),
                };
                self.drop_request(request_id, &error);
                self.fail_pull(&peer, error.clone());
                error
            }
        };
        if !self.connected.contains(&peer) {
            self.refuse_dialling(peer, error.to_string());
        }
        false
    }

    /// Forgets request `request_id`, telling a one-shot sync waiting on it `error`.
    fn drop_request(&mut self, request_id: OutboundRequestId, error: &SyncError) {
        self.pull_requests.remove(&request_id);
        self.asked.remove(&request_id);
        self.keys_asked.remove(&request_id);
        if let Some((_, Some((_, reply)))) = self.announced.remove(&request_id) {
            let _ = reply.send(Err(error.clone()));
        }
    }

    /// Serves and pulls from `peer` from now on: on connecting for a member's key, or once a
    /// delegated peer's delegation was verified. Both sides pull on connecting, so both
    /// converge.
    pub(super) fn admit(&mut self, peer: PeerId) {
        // A member who reads every log may join the gossip mesh now.
        self.gossip_score(&peer);
        let first = self.connected.insert(peer);
        if first {
            match self.delegated.get(&peer) {
                Some(d) => {
                    tracing::info!(peer = %peer, member = %d.member, "peer connected (a node delegated by a member)")
                }
                None => tracing::info!(peer = %peer, "peer connected"),
            }
        }
        let waiters: Vec<Waiter> = self
            .dialling
            .remove(&peer)
            .unwrap_or_default()
            .into_iter()
            .map(Waiter::Once)
            .collect();
        if first || !waiters.is_empty() {
            self.start_pull(peer, None, Vec::new());
            match self.pulls.get_mut(&peer) {
                Some(p) => p.waiters.extend(waiters),
                // Put off (another node of its member is being pulled from): the one-shot
                // syncs are told to come back, not dropped (found by review, 2026-12-05).
                None => {
                    for w in waiters {
                        self.tell_deferred(peer, w);
                    }
                }
            }
        }
    }

    /// Answers the one-shot syncs waiting for `peer` to be admitted: it was not.
    pub(super) fn refuse_dialling(&mut self, peer: PeerId, reason: String) {
        for reply in self.dialling.remove(&peer).unwrap_or_default() {
            let _ = reply.send(Err(SyncError::Refused {
                peer: peer.to_string(),
                reason: reason.clone(),
            }));
        }
    }

    /// A connection from a peer not known as a member by its key: it may be a member's node
    /// running under a delegation, which it shows with its first message. A node that runs
    /// under one itself (so the peer may not know it either), or that has a one-shot sync
    /// waiting for this peer, speaks first: "every log has news here" with its own delegation
    /// if any. A member's node answers by pulling (its requests carry its delegation, and it is
    /// admitted on the first), anyone else by refusing — which is what the waiting sync hears.
    pub(super) fn introduce(&mut self, peer: PeerId, first_connection: bool) {
        let waiting = self.dialling.contains_key(&peer);
        let delegated = self.config.delegation.is_some();
        if !(waiting || first_connection && delegated) {
            return;
        }
        tracing::debug!(peer = %peer, "a peer not known by its key: introducing this node");
        let network = self.asking_network();
        let id = self.send(
            &peer,
            Request::Announce {
                network,
                logs: Vec::new(),
            },
        );
        self.announced.insert(id, (peer, None));
    }
}
