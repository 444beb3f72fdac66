//! The puller's side. A whole pull reconciles the sets of entry ids with the peer and fetches
//! the ids this home lacks by id; a pull of announced logs asks for their summaries, plans
//! which logs to fetch, and fetches them by version vector. Either way batches are pipelined,
//! each handed to the ledger, and whoever waited for the pull is answered.
//!
//! A whole pull ends by asking the peer for the data keys of the sealed reports this home holds
//! without their key ([`Request::Keys`]): reconciliation compares entries, not keys, so a
//! home that got a report's ciphertext without its key would otherwise never be sent it. The
//! answer goes through the ledger's key intake before the pull completes, so a one-shot sync
//! reads the report in full when it returns.
//!
//! Here: the pull's state, how it starts and how answers are routed. A whole pull's
//! reconciliation rounds and fetches by id are in `whole`; a pull of announced logs and every
//! batch received, checked and stored in `batches`; the key ask, the judgements and the
//! answers a pull ends with (or its failure) in `end`.

mod batches;
mod end;
#[cfg(test)]
mod tests;
mod whole;

use std::collections::{HashSet, VecDeque};

use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::PeerId;
use tokio::sync::oneshot;

use countersign_ledger::{EntryId, Hash, LogId};

use super::{limits, now_ms, Ledger, Node, SyncError, SyncReport, RETRY_FIRST, RETRY_LONGEST};
use crate::protocol::{
    Envelope, LogSummary, Request, Response, VersionVector, MAX_ANNOUNCED, MAX_FETCH_IDS,
};
use crate::reconcile::window_start;

/// Ids a whole pull holds to fetch at most before it asks for the next reconciliation step:
/// a first sync of millions of entries never holds millions of ids.
pub(super) const NEED_HIGH: usize = 4 * MAX_FETCH_IDS;

/// A one-shot sync that pulled `u64` entries and now waits for the peer's ack.
pub(super) type OnceWaiting = (u64, oneshot::Sender<Result<SyncReport, SyncError>>);

/// Who waits for a pull to end.
pub(super) enum Waiter {
    /// An announcement from the peer: answered with what we stored.
    Ack(ResponseChannel<Envelope<Response>>),
    /// A one-shot sync: after the pull, we announce to the peer and wait for its ack.
    Once(oneshot::Sender<Result<SyncReport, SyncError>>),
}

/// Batches of one pull received and not yet stored, at most: one being stored, one being
/// checked, one waiting. Bounds memory when the network outpaces the disk.
pub(super) const BATCHES_IN_HAND: usize = 3;

/// A batch of entries received and checked, not yet stored.
pub(super) struct Received<C> {
    peer: PeerId,
    generation: u64,
    more: bool,
    checked: Result<C, String>,
}

/// A whole pull's reconciliation with the peer, and the ids it found to fetch.
#[derive(Default)]
pub(super) struct SetPull {
    /// The next reconciliation step to send, held while many ids wait to be fetched.
    next_step: Option<Vec<u8>>,
    /// A reconciliation step is with the peer.
    stepping: bool,
    /// Ids the peer holds and this home wants, in the set's order (oldest first).
    need: VecDeque<EntryId>,
    /// A fetch by id is with the peer.
    fetching: bool,
    /// Steps taken: a peer that never lets the reconciliation end is not followed forever.
    steps: u32,
    /// The window reconciled: items keyed from this epoch on (0: all), and this home's
    /// digest of the items before it, which the server compares with its own.
    from: u64,
    base: Hash,
}

/// Reconciliation steps in one pull, at most: a first sync of millions of entries takes a few
/// hundred (each lists up to 15 000 ids); past this the pull ends and a later one goes on.
pub(super) const MAX_STEPS: u32 = 20_000;

/// Who may wait on one pull at most (announcements from the peer, one-shot syncs).
pub(super) const MAX_WAITERS: usize = 16;

#[derive(Default)]
pub(super) struct Pull {
    pub(super) queue: VecDeque<LogId>,
    current: Option<LogId>,
    /// The version vector the last fetch of `current` sent.
    sent_have: VersionVector,
    /// Batches received and not yet stored (being checked, or waiting to be stored).
    in_hand: usize,
    /// The next fetch, held back while [`BATCHES_IN_HAND`] batches are in hand.
    held_fetch: Option<(LogId, VersionVector)>,
    /// The peer's summaries that carried a checkpoint: checked when the pull completes.
    claims: Vec<LogSummary>,
    /// Tells this pull's batches from those of an earlier pull of the same peer that ended
    /// while they were being checked.
    generation: u64,
    /// Logs to fetch from the start (see [`Node::plan`]).
    whole: HashSet<LogId>,
    stored: u64,
    pub(super) waiters: Vec<Waiter>,
    /// The logs this pull compares (empty: every log).
    scope: Vec<LogId>,
    /// A pull was asked for while this one ran: run another when it ends, over these logs
    /// (empty: every log).
    again: Option<Vec<LogId>>,
    /// A whole pull's state (`None` for a pull of announced logs).
    set: Option<SetPull>,
    quarantined: u64,
    /// Split-view evidence received (at most [`MAX_PULL_EVIDENCE`] pieces), judged when the
    /// pull completes.
    evidence: Vec<Vec<u8>>,
    /// Where this pull is with asking the peer for the keys this home lacks (a whole pull
    /// asks once, before it completes).
    keys: KeyAsk,
}

/// A whole pull's key request (see the module docs).
#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum KeyAsk {
    #[default]
    NotYet,
    /// Sent; the pull completes once the answer is taken.
    Waiting,
    /// Answered, or nothing to ask.
    Done,
}

/// Pieces of split-view evidence one pull keeps for judging (4.4 KiB each at most: 4.4 MiB).
/// More are left to the next pull.
const MAX_PULL_EVIDENCE: usize = 1024;

impl<L: Ledger> Node<L> {
    /// Sends a request of the pull running with `peer`, remembering which pull sent it: its
    /// answer, or its failure, is that pull's alone. Without it an answer was taken by
    /// whichever pull ran when it came: a pull that ended (a local error, retried) and was
    /// started again took its predecessor's late reconciliation step as its own, and an
    /// honest peer was cut off for "a reconciliation answer about no history"; a late step
    /// cleared the flag of one still out; and an announcement timing out ended the pull
    /// (found by review, 2026-12-05).
    pub(super) fn send_for_pull(&mut self, peer: &PeerId, request: Request) -> OutboundRequestId {
        let generation = self.pulls.get(peer).map_or(0, |p| p.generation);
        let id = self.send(peer, request);
        self.pull_requests.insert(id, generation);
        id
    }

    /// Whether the answer to (or failure of) `request_id` belongs to the pull now running
    /// with `peer`; forgets the request either way. An answer to a pull that has ended is
    /// dropped, with what it was asking for.
    pub(super) fn is_current_pulls(
        &mut self,
        peer: &PeerId,
        request_id: OutboundRequestId,
    ) -> bool {
        let Some(generation) = self.pull_requests.remove(&request_id) else {
            return false;
        };
        if self.pulls.get(peer).map(|p| p.generation) == Some(generation) {
            return true;
        }
        self.asked.remove(&request_id);
        self.keys_asked.remove(&request_id);
        tracing::debug!(peer = %peer, "an answer to a pull that has ended: dropped");
        false
    }

    /// Pulls from `peer` what it has of `scope` (empty: every log) and this home lacks.
    pub(super) fn start_pull(&mut self, peer: PeerId, waiter: Option<Waiter>, scope: Vec<LogId>) {
        let running = self.pulls.contains_key(&peer);
        if !running && self.pulling_from_member_of(&peer) {
            return self.defer_pull(peer, waiter);
        }
        self.pull_generation += 1;
        let generation = self.pull_generation;
        let pull = self.pulls.entry(peer).or_insert_with(|| Pull {
            generation,
            ..Pull::default()
        });
        // Bounded: a peer announcing again and again while a pull runs is answered at once.
        if pull.waiters.len() >= MAX_WAITERS {
            if let Some(Waiter::Ack(channel)) = waiter {
                self.respond(
                    channel,
                    Response::Refused {
                        reason: "a pull from you is already running; try again".into(),
                    },
                );
            }
            return;
        }
        pull.waiters.extend(waiter);
        if running {
            // Coalesced: the union of what was asked for, or everything once it grows large.
            pull.again = Some(match pull.again.take() {
                None => scope,
                Some(all) if all.is_empty() || scope.is_empty() => Vec::new(),
                Some(mut logs) => {
                    logs.extend(
                        scope
                            .into_iter()
                            .filter(|l| !logs.contains(l))
                            .collect::<Vec<_>>(),
                    );
                    if logs.len() > MAX_ANNOUNCED {
                        Vec::new()
                    } else {
                        logs
                    }
                }
            });
            return;
        }
        pull.scope = scope.clone();
        tracing::debug!(peer = %peer, logs = scope.len(), "pull started (0 logs: every log)");
        let network = self.asking_network();
        if !scope.is_empty() {
            self.send_for_pull(
                &peer,
                Request::Summary {
                    network,
                    logs: scope,
                },
            );
            return;
        }
        // A whole pull: reconcile the recent window of the sets, the history before it by
        // one digest (see `crate::reconcile`).
        self.start_window(peer, window_start(now_ms()));
    }

    /// Whether a pull runs with another peer of the member `peer` is (its own key's node, or
    /// a node it delegated to). One at a time per member: a pull may hold
    /// [`BATCHES_IN_HAND`] batches of up to [`crate::protocol::MAX_MESSAGE`] bytes, and one
    /// member delegating to hundreds of node keys, each connecting and answering with the
    /// largest batches, had a pull each, and this home held tens of GiB for it (found by
    /// review, 2026-12-05). The member's other nodes are pulled from once this pull ends.
    fn pulling_from_member_of(&self, peer: &PeerId) -> bool {
        let member = self.shown(peer);
        self.pulls
            .keys()
            .any(|other| other != peer && self.shown(other) == member)
    }

    /// Puts a pull off until the member's running one ends: tried again at the next retry
    /// round ([`RETRY_FIRST`] from now), whoever waits for it told to come back then.
    fn defer_pull(&mut self, peer: PeerId, waiter: Option<Waiter>) {
        tracing::debug!(peer = %peer, "another node of the same member is being pulled from: this pull waits");
        let tries = self.retry.get(&peer).map_or(0, |r| r.1);
        self.retry
            .insert(peer, (tokio::time::Instant::now() + RETRY_FIRST, tries));
        if let Some(waiter) = waiter {
            self.tell_deferred(peer, waiter);
        }
    }

    /// Tells whoever waits for a pull that was put off to come back after [`RETRY_FIRST`].
    pub(super) fn tell_deferred(&mut self, peer: PeerId, waiter: Waiter) {
        match waiter {
            // Slowed, not refused: the peer asks again after the wait.
            Waiter::Ack(channel) => self.respond(
                channel,
                Response::Refused {
                    reason: limits::refusal(RETRY_FIRST),
                },
            ),
            Waiter::Once(reply) => {
                let _ = reply.send(Err(SyncError::RateLimited {
                    peer: peer.to_string(),
                    retry_in_ms: RETRY_FIRST.as_millis() as u64,
                }));
            }
        }
    }

    /// The peer refused a request of this pull. A refusal for going over our rate with it
    /// (`rate_limited`, see [`super::limits`]) only asks us to slow down: the pull ends and is
    /// tried again once the wait the peer named has passed (at least [`RETRY_FIRST`], at most
    /// [`RETRY_LONGEST`]), and nothing is held against either side. Any other refusal ends
    /// the pull.
    fn on_refused(&mut self, peer: PeerId, reason: String) {
        if let Some(wait) = limits::retry_in(&reason) {
            let wait = wait.clamp(RETRY_FIRST, RETRY_LONGEST);
            tracing::info!(
                peer = %peer,
                code = limits::RATE_LIMITED,
                retry_in_ms = wait.as_millis() as u64,
                "the peer asked us to slow down: the pull is tried again later"
            );
            let tries = self.retry.get(&peer).map_or(0, |r| r.1) + 1;
            self.retry
                .insert(peer, (tokio::time::Instant::now() + wait, tries));
            return self.fail_pull(
                &peer,
                SyncError::RateLimited {
                    peer: peer.to_string(),
                    retry_in_ms: wait.as_millis() as u64,
                },
            );
        }
        // The peer's reason is not logged: it may quote an entry of ours that it refused
        // (a rule's message can hold a field value). Whoever waits on the pull gets it.
        tracing::info!(peer = %peer, "the peer refused a request");
        self.fail_pull(
            &peer,
            SyncError::Refused {
                peer: peer.to_string(),
                reason,
            },
        )
    }

    pub(super) fn on_response(
        &mut self,
        peer: PeerId,
        request_id: OutboundRequestId,
        response: Envelope<Response>,
    ) {
        let Envelope {
            delegation,
            body: response,
        } = response;
        if !self.take_response_delegation(peer, request_id, delegation) {
            return;
        }
        if let Some((_, once)) = self.announced.remove(&request_id) {
            // An introduction to a peer not (yet) known as a member: its answer is all a
            // one-shot sync waiting for it will hear, unless the peer was admitted meanwhile.
            if !self.connected.contains(&peer) {
                let reason = match &response {
                    Response::Refused { reason } => reason.clone(),
                    _ => "it is not a member of this department's roster".into(),
                };
                self.refuse_dialling(peer, reason);
            }
            if let Some((received, reply)) = once {
                let result = match response {
                    Response::Ack { stored } => Ok(SyncReport {
                        peer: peer.to_string(),
                        received,
                        sent: stored,
                    }),
                    // Over our rate with the peer: it slows us, it did not refuse us.
                    Response::Refused { reason } => match limits::retry_in(&reason) {
                        Some(wait) => Err(SyncError::RateLimited {
                            peer: peer.to_string(),
                            retry_in_ms: wait.min(RETRY_LONGEST).as_millis() as u64,
                        }),
                        None => Err(SyncError::Refused {
                            peer: peer.to_string(),
                            reason,
                        }),
                    },
                    _ => Err(SyncError::Refused {
                        peer: peer.to_string(),
                        reason: "an answer that is not an ack".into(),
                    }),
                };
                let _ = reply.send(result);
            }
            return;
        }
        // Every other answer is to a pull's request: taken only by the pull that sent it.
        if !self.is_current_pulls(&peer, request_id) {
            return;
        }
        if let Some((_, logs)) = self.keys_asked.remove(&request_id) {
            return match response {
                Response::Keys { keys } => self.on_keys(peer, logs, keys),
                // The entries are in; a peer that will not give keys now must not cost the pull
                // its checks of what the peer signed (split views, checkpoints), which run as
                // it finishes (review of issue 16). The next whole pull asks again.
                Response::Refused { reason } => {
                    tracing::info!(peer = %peer, reason = %reason, "the peer answered no keys: the pull finishes without them");
                    if let Some(pull) = self.pulls.get_mut(&peer) {
                        pull.keys = KeyAsk::Done;
                    }
                    self.finish_pull(peer)
                }
                _ => self.fail_pull(
                    &peer,
                    SyncError::Refused {
                        peer: peer.to_string(),
                        reason: "an answer to a key request that is not keys".into(),
                    },
                ),
            };
        }
        if let Some((_, asked)) = self.asked.remove(&request_id) {
            return match response {
                Response::Entries {
                    more,
                    bundle,
                    evidence,
                } => self.on_batch_by_id(peer, asked, more, bundle, evidence),
                Response::Refused { reason } => self.on_refused(peer, reason),
                _ => self.fail_pull(
                    &peer,
                    SyncError::Refused {
                        peer: peer.to_string(),
                        reason: "an answer to a fetch that is not a batch".into(),
                    },
                ),
            };
        }
        match response {
            Response::Summary { logs } => self.plan(peer, logs),
            Response::Reconcile {
                base_matches,
                message,
            } => self.on_step(peer, base_matches, message),
            // A fetch by log is answered without split-view evidence (none was asked for).
            Response::Entries { more, bundle, .. } => self.on_entries(peer, more, bundle),
            Response::Refused { reason } => self.on_refused(peer, reason),
            // An ack answers an announcement and keys a key request, never a pull's other
            // requests: a pull left waiting for an answer that will not come ends here.
            Response::Ack { .. } | Response::Keys { .. } => self.fail_pull(
                &peer,
                SyncError::Refused {
                    peer: peer.to_string(),
                    reason: "an ack or keys where a summary, step or batch was due".into(),
                },
            ),
        }
    }
}
