//! Swarm events: connections opened and closed (a connection from a member starts a pull),
//! mDNS discoveries, and the sync protocol's requests, responses and failures.

use libp2p::request_response;
use libp2p::swarm::SwarmEvent;

use super::{BehaviourEvent, Ledger, Node, SyncError};
use crate::protocol::{Envelope, Request, Response};
use libp2p::mdns;

impl<L: Ledger> Node<L> {
    pub(super) fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                num_established,
                ..
            } => {
                // Before gossipsub handles anything the peer sends: a stranger never gets in.
                self.gossip_score(&peer_id);
                if self.allowed(&peer_id) {
                    return self.admit(peer_id);
                }
                if self.is_cut_off(&peer_id) {
                    tracing::warn!(peer = %peer_id, "connection from a cut-off peer: not served");
                    return self.refuse_dialling(peer_id, "it is cut off".into());
                }
                // A stranger's connection stays up only to carry the refusal of its requests
                // (it then idles out); nothing is pulled from it or served to it. A member's
                // node running under a delegation is admitted once its first message shows it.
                tracing::debug!(
                    peer = %peer_id,
                    "connection from a peer not known as a member by its key: not served unless it shows a delegation"
                );
                self.introduce(peer_id, num_established.get() == 1);
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                if self.connected.remove(&peer_id) {
                    tracing::info!(peer = %peer_id, "peer disconnected");
                }
                self.gossip.left(&peer_id);
                self.refuse_dialling(
                    peer_id,
                    "the connection closed before the peer showed it is a member".into(),
                );
                // While its delegation is still known: what waits from the pull is kept as
                // its member's.
                self.fail_pull(
                    &peer_id,
                    SyncError::Unreachable {
                        peer: peer_id.to_string(),
                        reason: "the connection closed".into(),
                    },
                );
                // A delegation holds for one connected peer: shown again on reconnecting.
                self.delegated.remove(&peer_id);
            }
            SwarmEvent::OutgoingConnectionError {
                peer_id: Some(peer),
                error,
                ..
            } => {
                // Debug: configured peers that are down are re-dialled every few seconds.
                tracing::debug!(peer = %peer, error = %error, "dial failed");
                for reply in self.dialling.remove(&peer).unwrap_or_default() {
                    let _ = reply.send(Err(SyncError::Unreachable {
                        peer: peer.to_string(),
                        reason: error.to_string(),
                    }));
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(address = %address, "listening");
            }
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                tracing::debug!(addresses = found.len(), "mDNS discovered peers");
                for (_, addr) in found {
                    let _ = self.swarm.dial(addr);
                }
            }
            SwarmEvent::Behaviour(BehaviourEvent::Sync(e)) => self.on_sync(e),
            SwarmEvent::Behaviour(BehaviourEvent::Gossip(e)) => self.on_gossip(e),
            _ => {}
        }
    }

    pub(super) fn on_sync(
        &mut self,
        event: request_response::Event<Envelope<Request>, Envelope<Response>>,
    ) {
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
                tracing::debug!(peer = %peer, error = %reason, "request to a peer failed");
                // Only a request of the pull now running ends it: an announcement that timed
                // out, or a request of a pull that has ended, is no reason to end this one.
                let the_pulls = self.is_current_pulls(&peer, request_id);
                self.asked.remove(&request_id);
                self.keys_asked.remove(&request_id);
                if let Some((_, Some((_, reply)))) = self.announced.remove(&request_id) {
                    let _ = reply.send(Err(SyncError::Unreachable {
                        peer: peer.to_string(),
                        reason: reason.clone(),
                    }));
                }
                // An introduction that failed (a peer that does not speak this protocol
                // version, say): a one-shot sync waiting for the peer to be admitted hears why.
                if !self.connected.contains(&peer) {
                    for reply in self.dialling.remove(&peer).unwrap_or_default() {
                        let _ = reply.send(Err(SyncError::Unreachable {
                            peer: peer.to_string(),
                            reason: reason.clone(),
                        }));
                    }
                }
                // A response our codec refused (oversized, malformed) is the peer's doing, not
                // the network's: refused before any buffer was sized for it, and cut off.
                if let request_response::OutboundFailure::Io(e) = &error {
                    if e.kind() == std::io::ErrorKind::InvalidData {
                        return self.cut_off(peer, format!("malformed response: {e}"));
                    }
                }
                if the_pulls {
                    self.fail_pull(
                        &peer,
                        SyncError::Unreachable {
                            peer: peer.to_string(),
                            reason,
                        },
                    );
                }
            }
            // A malformed or oversized inbound message: the codec refused it before any
            // allocation; a peer sending one is not served again.
            // (Only a message that does not decode: a connection that drops mid-request is
            // the network's doing.)
            Event::InboundFailure {
                peer,
                error: request_response::InboundFailure::Io(e),
                ..
            } if e.kind() == std::io::ErrorKind::InvalidData => {
                self.cut_off(peer, format!("malformed request: {e}"));
            }
            _ => {}
        }
    }
}
