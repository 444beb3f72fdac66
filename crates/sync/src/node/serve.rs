//! The server's side: answer reconciliation, summaries, fetches and key requests for members, refuse
//! everyone else, cut off (for a while) peers that proved they misbehave, announce local
//! changes, re-dial dropped peers and retry pulls that failed here.

use libp2p::multiaddr::Protocol;
use libp2p::request_response::ResponseChannel;
use libp2p::PeerId;

use countersign_ledger::LogId;

use super::delegated::Taken;
use super::limits::{self, Admit, RATE_LIMITED};
use super::pull::{OnceWaiting, Waiter};
use super::{
    block, block_long, now_ms, peer_id, ById, CutOff, Ledger, Node, PeerEvent, SyncError,
    CUT_OFF_FIRST, CUT_OFF_LONGEST, MAX_CUT_OFF,
};
use crate::protocol::{Envelope, Request, Response, MAX_ANNOUNCED, MAX_BATCH, MAX_SUMMARY_BYTES};
use crate::reconcile::Round;

impl<L: Ledger> Node<L> {
    /// Answers a request, in an envelope with this node's delegation if it runs under one.
    pub(super) fn respond(
        &mut self,
        channel: ResponseChannel<Envelope<Response>>,
        response: Response,
    ) {
        let envelope = Envelope {
            delegation: self.config.delegation.clone(),
            body: response,
        };
        let _ = self
            .swarm
            .behaviour_mut()
            .sync
            .send_response(channel, envelope);
    }

    /// Answers a member's request, charging the answer's bytes to its rate.
    fn answer(
        &mut self,
        rated: PeerId,
        channel: ResponseChannel<Envelope<Response>>,
        response: Response,
    ) {
        self.rates.served(rated, response.encoded_len());
        self.respond(channel, response);
    }

    pub(super) fn on_request(
        &mut self,
        peer: PeerId,
        request: Envelope<Request>,
        channel: ResponseChannel<Envelope<Response>>,
    ) {
        let Envelope {
            delegation,
            body: request,
        } = request;
        let network = self.ledger.network();
        let refused = |reason: &str| Response::Refused {
            reason: reason.into(),
        };
        if network.is_none() {
            tracing::debug!(peer = %peer, "request refused: this home belongs to no network yet");
            return self.respond(channel, refused("this home belongs to no network yet"));
        }
        // Who the peer is comes first: a cut-off, the roster check and what it may read are
        // its member's.
        match self.take_delegation(peer, delegation) {
            Taken::Fine => {}
            Taken::Proof(reason) => {
                self.cut_off(peer, reason.clone());
                return self.respond(channel, refused(&format!("cut off: {reason}")));
            }
            Taken::OtherNetwork => {
                tracing::warn!(peer = %peer, "request refused: a node delegation for another network");
                return self.respond(channel, refused("another network"));
            }
        }
        if self.is_cut_off(&peer) {
            // Debug: a cut-off peer keeps asking; its cut-off was logged once, at warn.
            tracing::debug!(peer = %peer, "request from a cut-off peer refused");
            let shown = self.shown(&peer);
            let reason = format!(
                "cut off: {}",
                self.cut_off
                    .get(&shown)
                    .or_else(|| self.cut_off.get(&peer))
                    .map_or("", |c| c.reason.as_str())
            );
            return self.respond(channel, refused(&reason));
        }

        if !self.allowed(&peer) {
            tracing::warn!(peer = %peer, "request refused: the peer is not on the roster");
            return self.respond(channel, refused("not a member of this department's roster"));
        }
        let asked = match &request {
            Request::Summary { network, .. }
            | Request::Fetch { network, .. }
            | Request::Announce { network, .. }
            | Request::Reconcile { network, .. }
            | Request::FetchIds { network, .. }
            | Request::Keys { network, .. } => *network,
        };
        // A peer with no network yet asks with the zero id; any other must match ours.
        if !asked.is_zero() && Some(asked) != network {
            tracing::warn!(peer = %peer, network = %asked, "request refused: another network");
            return self.respond(channel, refused("another network"));
        }
        // A member is sent only the logs it may read (`allowed` passed, so it has a key): its
        // own key's, or the member's that delegated to it.
        let Some(reader) = self.member_key(&peer) else {
            return self.respond(channel, refused("not a member of this department's roster"));
        };
        // A member over its rate is slowed, not served and not cut off: it is told how long
        // to wait. Its bucket is its member's, so a new node key does not refill it.
        let rated = self.shown(&peer);
        if let Admit::Wait { retry_in, first } = self.rates.admit(rated, request.encoded_len()) {
            if first {
                tracing::warn!(
                    peer = %peer,
                    code = RATE_LIMITED,
                    retry_in_ms = retry_in.as_millis() as u64,
                    "request refused: the peer is over its rate (slowed, not cut off)"
                );
            } else {
                tracing::debug!(peer = %peer, code = RATE_LIMITED, "request refused: still over its rate");
            }
            return self.respond(channel, refused(&limits::refusal(retry_in)));
        }
        let ledger = &mut self.ledger;
        match request {
            Request::Reconcile {
                from,
                base,
                message,
                ..
            } => {
                // Described to this member: only what it may read. The window only if the
                // history before it is the same on both sides.
                let cold = ledger.set_is_cold(Some(&reader));
                let answer = block_long(cold, || {
                    let set = ledger.reconcile_set(Some(&reader))?;
                    if from > 0 && set.base(from) != base {
                        return Ok((false, Vec::new()));
                    }
                    Round::answer(set, from, &message)
                        .map(|m| (true, m))
                        .map_err(|e| e.to_string())
                });
                let response = match answer {
                    Ok((base_matches, message)) => Response::Reconcile {
                        base_matches,
                        message,
                    },
                    Err(e) => {
                        tracing::info!(peer = %peer, "a reconciliation step could not be answered");
                        refused(&e)
                    }
                };
                self.answer(rated, channel, response);
            }
            Request::FetchIds { ids, .. } => {
                let response = match block(|| ledger.entries_by_id(&reader, &ids)) {
                    Ok(ById {
                        bundle,
                        evidence,
                        more,
                    }) => {
                        tracing::debug!(
                            peer = %peer,
                            asked = ids.len(),
                            bytes = bundle.len(),
                            evidence = evidence.len(),
                            more,
                            "batch by id served"
                        );
                        Response::Entries {
                            more,
                            bundle,
                            evidence,
                        }
                    }
                    Err(e) => {
                        tracing::warn!(peer = %peer, "the ledger could not give a batch by id");
                        refused(&e)
                    }
                };
                self.answer(rated, channel, response);
            }
            Request::Summary { logs, .. } => {
                let summary = block(|| {
                    let logs = ledger.summary(&logs)?;
                    let ids: Vec<LogId> = logs.iter().map(|l| l.log).collect();
                    let readable = ledger.may_read(&reader, &ids);
                    // Cut by bytes: the puller asks again for the logs left out.
                    let mut bytes = 0usize;
                    let mut answered = Vec::new();
                    for l in logs
                        .into_iter()
                        .zip(readable)
                        .filter_map(|(l, ok)| ok.then_some(l))
                    {
                        bytes += l.encoded_len();
                        if bytes > MAX_SUMMARY_BYTES && !answered.is_empty() {
                            break;
                        }
                        answered.push(l);
                    }
                    Ok::<_, String>(answered)
                });
                let response = match summary {
                    Ok(logs) => {
                        tracing::debug!(peer = %peer, logs = logs.len(), "summary served");
                        Response::Summary { logs }
                    }
                    Err(e) => {
                        tracing::warn!(peer = %peer, "the ledger could not give a summary");
                        refused(&e)
                    }
                };
                self.answer(rated, channel, response);
            }
            Request::Fetch { log, .. } if !block(|| ledger.may_read(&reader, &[log]) == [true]) => {
                tracing::info!(
                    peer = %peer,
                    log = %log,
                    "fetch refused: not readable by this member"
                );
                let reason = format!("log {log} is not readable by this member");
                self.answer(rated, channel, refused(&reason));
            }
            Request::Fetch {
                log, have, limit, ..
            } => {
                let limit = (limit as usize).clamp(1, MAX_BATCH);
                let response = match block(|| ledger.entries_after(&log, &have, limit)) {
                    Ok((bundle, more)) => {
                        tracing::debug!(
                            peer = %peer,
                            log = %log,
                            bytes = bundle.len(),
                            more,
                            "batch served"
                        );
                        Response::Entries {
                            more,
                            bundle,
                            evidence: Vec::new(),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(
                            peer = %peer,
                            log = %log,
                            "the ledger could not give a batch"
                        );
                        refused(&e)
                    }
                };
                self.answer(rated, channel, response);
            }
            // Keys only of the logs this member may read, as with what it is sent: an AI
            // model's node gets the keys of the reports it was granted and no other.
            Request::Keys { logs, .. } => {
                let response = match block(|| ledger.keys_for(&reader, &logs)) {
                    Ok(keys) => {
                        // Counts only: never a key.
                        tracing::debug!(
                            peer = %peer,
                            asked = logs.len(),
                            answered = keys.len(),
                            "data keys served"
                        );
                        Response::Keys { keys }
                    }
                    Err(e) => {
                        tracing::warn!(peer = %peer, "the ledger could not give data keys");
                        refused(&e)
                    }
                };
                self.answer(rated, channel, response);
            }
            // Only the announced logs are compared: the cost of a round follows the change,
            // not the size of the store.
            Request::Announce { logs, .. } => {
                tracing::debug!(peer = %peer, logs = logs.len(), "announcement received");
                self.start_pull(peer, Some(Waiter::Ack(channel)), logs)
            }
        }
    }

    /// [`Node::cut_off`] for a reason the node found itself (a malformed message, a flood),
    /// which is logged whole: its words are the node's, never an entry's.
    pub(super) fn cut_off(&mut self, peer: PeerId, reason: String) {
        tracing::warn!(peer = %peer, reason = %reason, "peer cut off");
        self.cut_off_quietly(peer, reason);
    }

    /// [`Node::cut_off`] for a reason the ledger gave: logged as `why` only, since a refused
    /// entry's rule message can quote a field value. The ledger logs the rule and entry id.
    pub(super) fn cut_off_by_ledger(&mut self, peer: PeerId, why: &'static str, reason: String) {
        tracing::warn!(peer = %peer, reason = %why, "peer cut off");
        self.cut_off_quietly(peer, reason);
    }

    /// Neither pulls from nor serves `peer` until the cut-off expires: [`CUT_OFF_FIRST`] the
    /// first time, twice the last one's length each time after, at most [`CUT_OFF_LONGEST`].
    /// Whoever waits on a pull from it hears why. The connection is left to carry that answer
    /// and idle out.
    fn cut_off_quietly(&mut self, peer: PeerId, reason: String) {
        let reason: String = reason.chars().take(300).collect();
        // Strangers are never served anyway: remembering them would let anyone on the LAN
        // fill the table of cut-offs with fresh peer ids and push out a member's. (A peer
        // showing a delegation that does not hold for it is such a stranger: its delegation
        // was not taken, so the member it names is not held to it.)
        let member = self.ledger.network().is_none()
            || self.member_key(&peer).is_some_and(|k| {
                let ledger = &mut self.ledger;
                block(|| ledger.is_member(&k))
            });
        if !member {
            return self.fail_pull(
                &peer,
                SyncError::CutOff {
                    peer: peer.to_string(),
                    reason,
                },
            );
        }
        if self.cut_off.len() >= MAX_CUT_OFF {
            let now = tokio::time::Instant::now();
            self.cut_off.retain(|_, c| c.until > now);
        }
        // A delegated peer is cut off as its member: a new node key (a restart of the token
        // home's node) does not shed it.
        let peer_shown = self.shown(&peer);
        let strikes = self.cut_off.get(&peer_shown).map_or(0, |c| c.strikes) + 1;
        let length = CUT_OFF_FIRST
            .saturating_mul(1u32 << (strikes - 1).min(20))
            .min(CUT_OFF_LONGEST);
        let at_ms = now_ms();
        let until_ms = at_ms + length.as_millis() as u64;
        if self.cut_off.len() < MAX_CUT_OFF || self.cut_off.contains_key(&peer_shown) {
            self.cut_off.insert(
                peer_shown,
                CutOff {
                    reason: reason.clone(),
                    until: tokio::time::Instant::now() + length,
                    until_ms,
                    strikes,
                },
            );
        }
        let ledger = &mut self.ledger;
        block(|| {
            ledger.remember(
                &peer_shown.to_string(),
                PeerEvent::CutOff {
                    reason: reason.clone(),
                    at_ms,
                    until_ms,
                    strikes,
                },
            )
        });
        self.retry.remove(&peer);
        self.fail_pull(
            &peer,
            SyncError::CutOff {
                peer: peer.to_string(),
                reason,
            },
        );
    }

    /// Whether `peer` is cut off now, itself or as the member it showed a delegation of (an
    /// expired cut-off is kept only for its strikes).
    pub(super) fn is_cut_off(&self, peer: &PeerId) -> bool {
        let now = tokio::time::Instant::now();
        let active = |p: &PeerId| self.cut_off.get(p).is_some_and(|c| c.until > now);
        active(peer)
            || self
                .delegated
                .get(peer)
                .is_some_and(|d| active(&peer_id(&d.member)))
    }

    /// Pulls every log from each connected peer not being pulled from (see
    /// [`super::RECONCILE_EVERY`]).
    pub(super) fn reconcile(&mut self) {
        let idle: Vec<PeerId> = self
            .connected
            .iter()
            .filter(|p| !self.pulls.contains_key(p) && !self.is_cut_off(p))
            .copied()
            .collect();
        for peer in idle {
            self.start_pull(peer, None, Vec::new());
        }
    }

    /// Re-dials configured peers that are not connected, and retries pulls that failed here
    /// once their time has come.
    pub(super) fn redial(&mut self) {
        for addr in self.config.peers.clone() {
            let Some(Protocol::P2p(id)) = addr.iter().last() else {
                continue;
            };
            if !self.connected.contains(&id) && !self.is_cut_off(&id) {
                let _ = self.swarm.dial(addr);
            }
        }
        let now = tokio::time::Instant::now();
        // A peer gone (not connected) whose wait is over leaves the list: its next connection
        // starts a pull as any does. Kept while its wait runs, so that reconnecting does not
        // jump a rate limit the peer asked for or a back-off of ours.
        let connected = &self.connected;
        self.retry
            .retain(|p, (at, _)| *at > now || connected.contains(p));
        let due: Vec<PeerId> = self
            .retry
            .iter()
            .filter(|(p, (at, _))| *at <= now && self.connected.contains(p))
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            if !self.pulls.contains_key(&peer) && !self.is_cut_off(&peer) {
                tracing::debug!(peer = %peer, "retrying a pull that failed here");
                self.start_pull(peer, None, Vec::new());
            }
        }
    }

    /// Announces logs changed on this home (by any process) to every connected peer.
    pub(super) fn announce_changes(&mut self) {
        // Asked many times a second: a check of microseconds first, run inline, and the
        // queries for new rows and fork evidence only when something was committed.
        if !self.ledger.may_have_changed() {
            return;
        }
        let ledger = &mut self.ledger;
        let changed = match block(|| ledger.changed_logs()) {
            Ok(c) if !c.is_empty() => c,
            _ => return,
        };
        // Members in the gossip mesh hear of it there; every other connected peer (an AI model,
        // a peer without gossip, or all when there is no mesh) is told directly.
        let reached = self.gossip_announce(&changed);
        let peers: Vec<PeerId> = self
            .connected
            .iter()
            .filter(|p| !reached.contains(p))
            .copied()
            .collect();
        tracing::debug!(
            logs = changed.len(),
            peers = peers.len(),
            "local changes to announce"
        );
        for peer in peers {
            // While we pull from a peer, what we store is mostly what it sent: announcing it
            // back every tick would have it compare whole summaries for nothing. Kept, and
            // announced once the pull ends.
            if self.is_cut_off(&peer) {
                continue;
            }
            if self.pulls.contains_key(&peer) {
                // Bounded one past what an announcement names: `announce` then names none,
                // which is every log.
                let pending = self.deferred.entry(peer).or_default();
                let room = (MAX_ANNOUNCED + 1).saturating_sub(pending.len());
                pending.extend(changed.iter().copied().take(room));
                continue;
            }
            self.announce(peer, changed.clone(), None);
        }
    }

    /// Tells `peer` these logs have new heads; a one-shot sync waits for its answer.
    pub(super) fn announce(
        &mut self,
        peer: PeerId,
        logs: Vec<LogId>,
        waiting: Option<OnceWaiting>,
    ) {
        // A member hears only of the logs it may read: an AI model's node is not told even
        // the ids of reports nobody granted it. Named logs it may not read are dropped; if none
        // is left there is nothing to say (an empty list would mean every log).
        let logs = if logs.is_empty() {
            logs
        } else {
            let Some(key) = self.member_key(&peer) else {
                return;
            };
            let ledger = &mut self.ledger;
            let may = block(|| ledger.may_read(&key, &logs));
            let readable: Vec<LogId> = logs
                .iter()
                .zip(may)
                .filter_map(|(log, ok)| ok.then_some(*log))
                .collect();
            if readable.is_empty() {
                return;
            }
            readable
        };
        // More logs than one announcement names: announce every log rather than drop some
        // (the peer compares only what is named).
        let logs = if logs.len() > MAX_ANNOUNCED {
            Vec::new()
        } else {
            logs
        };
        tracing::debug!(peer = %peer, logs = logs.len(), "announcing (0 logs: every log)");
        let network = self.asking_network();
        let id = self.send(&peer, Request::Announce { network, logs });
        self.announced.insert(id, (peer, waiting));
    }

    /// Sends what was held back while pulling from `peer`.
    pub(super) fn flush_deferred(&mut self, peer: PeerId) {
        if let Some(logs) = self.deferred.remove(&peer) {
            if !logs.is_empty() && self.connected.contains(&peer) {
                self.announce(peer, logs.into_iter().collect(), None);
            }
        }
    }
}
