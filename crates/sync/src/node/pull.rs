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

use std::collections::{HashMap, HashSet, VecDeque};

use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::PeerId;
use tokio::sync::oneshot;

use countersign_ledger::split_view::SplitViewEvidence;
use countersign_ledger::{EntryId, Hash, LogId};

use super::{
    block, limits, now_ms, AcceptError, Accepted, Ledger, Node, PeerEvent, SyncError, SyncReport,
    RETRY_FIRST, RETRY_LONGEST,
};
use crate::protocol::{
    Envelope, LogSummary, Request, Response, VersionVector, MAX_ANNOUNCED, MAX_BATCH,
    MAX_FETCH_IDS, MAX_KEY_REQUEST,
};
use crate::reconcile::{window_start, Round};

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

/// Raises `have` to the highest sequence of each author in a bundle's entries (headers that
/// do not decode are left to the ledger to refuse).
fn advance(have: &mut VersionVector, bundle: &[u8]) {
    let Ok(records) = countersign_ledger::bundle::frame(bundle) else {
        return;
    };
    for r in records {
        // Keys already in the vector are not checked again (a decompression per entry).
        let known = |k: &[u8; 32]| {
            have.iter()
                .find(|(p, _)| p.as_bytes() == k)
                .map(|(p, _)| *p)
        };
        let Ok(h) = countersign_ledger::header::decode_with_keys(r.header, known) else {
            continue;
        };
        match have.iter_mut().find(|(k, _)| *k == h.author) {
            Some((_, seq)) => *seq = (*seq).max(h.seq),
            None => have.push((h.author, h.seq)),
        }
    }
}

impl<L: Ledger> Node<L> {
    /// Pulls from `peer` what it has of `scope` (empty: every log) and this home lacks.
    pub(super) fn start_pull(&mut self, peer: PeerId, waiter: Option<Waiter>, scope: Vec<LogId>) {
        let running = self.pulls.contains_key(&peer);
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
            self.send(
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

    /// Starts (or restarts) a whole pull's reconciliation over the items keyed from epoch
    /// `from` on (0: every item), from this home's set as it is now.
    fn start_window(&mut self, peer: PeerId, from: u64) {
        let network = self.asking_network();
        let ledger = &mut self.ledger;
        let first = block(|| {
            let set = ledger.reconcile_set(None)?;
            let base = set.base(from);
            Round::start(set, from)
                .map(|m| (base, m))
                .map_err(|e| e.to_string())
        });
        match first {
            Ok((base, message)) => {
                if let Some(pull) = self.pulls.get_mut(&peer) {
                    let steps = pull.set.as_ref().map_or(0, |s| s.steps);
                    pull.set = Some(SetPull {
                        stepping: true,
                        steps: steps + 1,
                        from,
                        base,
                        ..SetPull::default()
                    });
                }
                self.send(
                    &peer,
                    Request::Reconcile {
                        network,
                        from,
                        base,
                        message,
                    },
                );
            }
            Err(e) => self.fail_locally(peer, e),
        }
    }

    /// The peer's reconciliation step: the ids it holds that this home wants join the queue,
    /// and the next step is sent (now, or once the queue has drained).
    fn on_step(&mut self, peer: PeerId, base_matches: bool, message: Vec<u8>) {
        let Some(from) = self
            .pulls
            .get(&peer)
            .and_then(|p| p.set.as_ref())
            .map(|s| s.from)
        else {
            return;
        };
        if !base_matches {
            if from == 0 {
                // Nothing is before epoch 0: an answer saying otherwise is malformed.
                return self.cut_off(peer, "a reconciliation answer about no history".into());
            }
            // The history differs: reconcile every item (a roster change, a new member's home).
            tracing::debug!(peer = %peer, "the history before the window differs: reconciling all");
            return self.start_window(peer, 0);
        }
        let ledger = &mut self.ledger;
        let step = block(|| {
            // This pull's own set as it was when the pull began: ids stored meanwhile come
            // back as wanted only if they were not stored, which `wanted` checks.
            let set = ledger.reconcile_set(None).map_err(|e| (false, e))?;
            let mut need = Vec::new();
            let next =
                Round::next(set, from, &message, &mut need).map_err(|e| (true, e.to_string()))?;
            let need = ledger.wanted(need).map_err(|e| (false, e))?;
            Ok::<_, (bool, String)>((next, need))
        });
        match step {
            Ok((next, need)) => {
                let Some(set) = self.pulls.get_mut(&peer).and_then(|p| p.set.as_mut()) else {
                    return;
                };
                set.stepping = false;
                set.next_step = next;
                set.need.extend(need);
                self.drive(peer);
            }
            // A step that does not parse is the peer's doing.
            Err((true, e)) => self.cut_off(peer, format!("malformed reconciliation step: {e}")),
            Err((false, e)) => self.fail_locally(peer, e),
        }
    }

    /// Moves a whole pull on: fetch the next ids, send the next step once few ids wait, end
    /// the pull when neither is left and every batch is stored.
    fn drive(&mut self, peer: PeerId) {
        let network = self.asking_network();
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        let in_hand = pull.in_hand;
        let Some(set) = pull.set.as_mut() else {
            return;
        };
        if !set.fetching && in_hand < BATCHES_IN_HAND && !set.need.is_empty() {
            let n = set.need.len().min(MAX_FETCH_IDS);
            let ids: Vec<EntryId> = set.need.drain(..n).collect();
            set.fetching = true;
            let id = self.send(
                &peer,
                Request::FetchIds {
                    network,
                    ids: ids.clone(),
                },
            );
            self.asked.insert(id, (peer, ids));
        }
        let Some(set) = self.pulls.get_mut(&peer).and_then(|p| p.set.as_mut()) else {
            return;
        };
        if !set.stepping && set.need.len() < NEED_HIGH && set.steps < MAX_STEPS {
            if let Some(message) = set.next_step.take() {
                set.stepping = true;
                set.steps += 1;
                let (from, base) = (set.from, set.base);
                self.send(
                    &peer,
                    Request::Reconcile {
                        network,
                        from,
                        base,
                        message,
                    },
                );
            }
        }
        let Some(pull) = self.pulls.get(&peer) else {
            return;
        };
        if let Some(set) = &pull.set {
            if !set.stepping
                && (set.next_step.is_none() || set.steps >= MAX_STEPS)
                && set.need.is_empty()
                && !set.fetching
                && pull.in_hand == 0
            {
                self.finish_pull(peer);
            }
        }
    }

    /// A batch answering a fetch by id. Ids the peer left out for its byte budget go back to
    /// the front of the queue; ids it did not send otherwise it does not hold (or this member
    /// may not read) and are dropped. Records nobody asked for are dropped unstored.
    fn on_batch_by_id(
        &mut self,
        peer: PeerId,
        asked: Vec<EntryId>,
        more: bool,
        bundle: Vec<u8>,
        evidence: Vec<Vec<u8>>,
    ) {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        let generation = pull.generation;
        let Some(set) = pull.set.as_mut() else {
            return;
        };
        set.fetching = false;
        let mut received: HashSet<EntryId> = countersign_ledger::bundle::frame(&bundle)
            .map(|records| records.iter().map(|r| Hash::of(r.header)).collect())
            .unwrap_or_default();
        received.extend(evidence.iter().map(|e| SplitViewEvidence::id_of(e)));
        // An honest server sends only what was asked for: a batch with anything else is not
        // stored (it could fill the quarantine with entries nobody wanted).
        let asked_set: HashSet<&EntryId> = asked.iter().collect();
        if received.iter().any(|id| !asked_set.contains(id)) {
            tracing::info!(peer = %peer, "a batch by id held entries not asked for: not stored");
            return self.fail_pull(
                &peer,
                SyncError::Refused {
                    peer: peer.to_string(),
                    reason: "it answered a fetch with entries not asked for".into(),
                },
            );
        }
        let progress = asked.iter().any(|id| received.contains(id));
        if more {
            for id in asked.iter().rev().filter(|id| !received.contains(id)) {
                set.need.push_front(*id);
            }
        }
        if more && !progress {
            // Nothing asked for came: asking again would loop. Not proof of anything (the
            // entries may have gone from the peer), so the pull ends and a later one retries.
            tracing::info!(peer = %peer, "a batch by id held none of the ids asked for");
            return self.fail_pull(
                &peer,
                SyncError::Refused {
                    peer: peer.to_string(),
                    reason: "it answered a fetch with none of the entries asked for".into(),
                },
            );
        }
        // Judged once the pull's entries are all in (the judgement reads the log's history).
        let room = MAX_PULL_EVIDENCE.saturating_sub(pull.evidence.len());
        pull.evidence.extend(evidence.into_iter().take(room));
        pull.in_hand += 1;
        self.check_batch(peer, generation, more, bundle);
        self.drive(peer);
    }

    /// Checks a received batch on the blocking pool; it is stored in arrival order (see
    /// `Node::run`).
    fn check_batch(&mut self, peer: PeerId, generation: u64, more: bool, bundle: Vec<u8>) {
        // The ledger's own logs about this batch (checked on the blocking pool) name the peer.
        let span = tracing::info_span!("batch", peer = %peer);
        self.checking
            .push_back(tokio::task::spawn_blocking(move || {
                let _span = span.entered();
                let checked = std::panic::catch_unwind(|| L::check(&bundle))
                    .unwrap_or_else(|_| Err("checking its batch panicked".into()));
                Received {
                    peer,
                    generation,
                    more,
                    checked,
                }
            }));
    }

    /// Ends the pull on a failure of this home (not the peer's), and tries it again later:
    /// after [`RETRY_FIRST`], doubling while failures go on, at most [`RETRY_LONGEST`].
    pub(super) fn fail_locally(&mut self, peer: PeerId, reason: String) {
        let tries = self.retry.get(&peer).map_or(0, |r| r.1) + 1;
        let wait = RETRY_FIRST
            .saturating_mul(1u32 << (tries - 1).min(10))
            .min(RETRY_LONGEST);
        tracing::warn!(peer = %peer, retry_in_ms = wait.as_millis() as u64, "a pull failed here; it is retried");
        self.retry
            .insert(peer, (tokio::time::Instant::now() + wait, tries));
        self.fail_pull(&peer, SyncError::Ledger(reason));
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

    /// A batch arrived: ask for the next one (of this log, or the next log) at once, so the
    /// peer reads it while this one is checked and stored, and check this one on the
    /// blocking pool. Batches are stored in arrival order (see `Node::run`).
    fn on_entries(&mut self, peer: PeerId, more: bool, bundle: Vec<u8>) {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        let Some(log) = pull.current else {
            return;
        };
        pull.in_hand += 1;
        let generation = pull.generation;
        tracing::debug!(peer = %peer, log = %log, bytes = bundle.len(), more, "batch received");
        if more {
            // The vector we will have is what we sent plus this batch.
            let mut have = pull.sent_have.clone();
            advance(&mut have, &bundle);
            if have == pull.sent_have {
                // "More", yet nothing past what we said we have: asking again would loop.
                // Not proof of anything; this log is left to the next pull.
                tracing::info!(peer = %peer, log = %log, "a batch held nothing past what was asked for");
                pull.current = None;
                self.fetch_next(peer);
            } else {
                pull.sent_have = have.clone();
                self.request(peer, log, have);
            }
        } else {
            pull.current = None;
            self.fetch_next(peer);
        }
        self.check_batch(peer, generation, more, bundle);
    }

    /// Stores a checked batch, then goes on with that peer's pull.
    pub(super) fn take_received(&mut self, received: Received<L::Checked>) {
        let Received {
            peer,
            generation,
            more,
            checked,
        } = received;
        // The pull may have ended meanwhile (connection closed, peer cut off): the batch is
        // dropped, and a later pull fetches it again.
        let Some(pull) = self
            .pulls
            .get_mut(&peer)
            .filter(|p| p.generation == generation)
        else {
            return;
        };
        pull.in_hand = pull.in_hand.saturating_sub(1);
        if let Some((log, have)) = pull.held_fetch.take() {
            self.send_fetch(peer, log, have);
        }
        let batch = match checked {
            Ok(batch) => batch,
            // A record that is malformed or does not verify: proof against the sender.
            Err(reason) => {
                return self.cut_off_by_ledger(
                    peer,
                    "it sent an entry that does not verify",
                    reason,
                )
            }
        };
        let span = tracing::info_span!("batch", peer = %peer);
        // Named as the member it is (a delegated node's member): the quarantine's quota for
        // a peer is its member's, so a new node key does not get a fresh one.
        let from = self.shown(&peer).to_string();
        let ledger = &mut self.ledger;
        match span.in_scope(|| block(|| ledger.accept(batch, &from))) {
            Ok(Accepted { new, quarantined }) => {
                tracing::debug!(peer = %peer, stored = new, quarantined, more, "batch stored");
                let Some(pull) = self.pulls.get_mut(&peer) else {
                    return;
                };
                pull.stored += new;
                pull.quarantined += quarantined;
                if pull.set.is_some() {
                    self.drive(peer);
                } else {
                    // Ends the pull if this was the last batch.
                    self.fetch_next(peer);
                }
            }
            Err(AcceptError::Misbehaved(reason)) => {
                self.cut_off_by_ledger(peer, "it sent an entry whose bytes contradict it", reason)
            }
            Err(AcceptError::Local(reason)) => self.fail_locally(peer, reason),
        }
    }

    /// Sends a fetch now, or holds it while [`BATCHES_IN_HAND`] batches wait to be stored.
    fn request(&mut self, peer: PeerId, log: LogId, have: VersionVector) {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        if pull.in_hand >= BATCHES_IN_HAND {
            pull.held_fetch = Some((log, have));
        } else {
            self.send_fetch(peer, log, have);
        }
    }

    /// Queues every log where the peer is ahead of us: the roster log first. A peer is ahead
    /// where its version vector is, and also where it holds heads or fork evidence we lack
    /// with the same vector — an equivocation: two entries at one position. Those logs are
    /// fetched whole, so the conflicting entry arrives and is kept as evidence.
    pub(super) fn plan(&mut self, peer: PeerId, remote: Vec<LogSummary>) {
        let scope = self
            .pulls
            .get(&peer)
            .map(|p| p.scope.clone())
            .unwrap_or_default();
        let ledger = &mut self.ledger;
        let local = match block(|| ledger.summary(&scope)) {
            Ok(l) => l,
            Err(e) => return self.fail_locally(peer, e),
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
        tracing::debug!(
            peer = %peer,
            offered = remote.len(),
            behind = queue.len(),
            whole = whole.len(),
            "pull planned"
        );
        let network = self.ledger.network();
        // The roster log (its id is the network's, or the only genesis a new home can take)
        // goes first: report entries are authorised by it.
        let roster = network
            .or_else(|| self.ledger.anchor())
            .or_else(|| remote.first().map(|l| l.log));
        if let Some(r) = roster {
            if let Some(i) = queue.iter().position(|l| *l == r) {
                queue.remove(i);
                queue.push_front(r);
            }
        }
        if let Some(pull) = self.pulls.get_mut(&peer) {
            pull.queue = queue;
            pull.whole = whole;
            pull.claims = remote
                .into_iter()
                .filter(|l| l.checkpoint.is_some())
                .collect();
        }
        self.fetch_next(peer);
    }

    /// Starts fetching the next queued log unless one is being fetched; with none left, ends
    /// the pull once every batch in hand is stored.
    pub(super) fn fetch_next(&mut self, peer: PeerId) {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        if pull.current.is_some() {
            return;
        }
        let Some(log) = pull.queue.pop_front() else {
            if pull.in_hand == 0 && pull.held_fetch.is_none() {
                self.finish_pull(peer);
            }
            return;
        };
        pull.current = Some(log);
        let have = if pull.whole.remove(&log) {
            VersionVector::new()
        } else {
            let ledger = &mut self.ledger;
            match block(|| ledger.vector(&log)) {
                Ok(v) => v,
                Err(e) => return self.fail_locally(peer, e),
            }
        };
        if let Some(pull) = self.pulls.get_mut(&peer) {
            pull.sent_have = have.clone();
        }
        self.request(peer, log, have);
    }

    pub(super) fn send_fetch(&mut self, peer: PeerId, log: LogId, have: VersionVector) {
        let network = self.asking_network();
        self.send(
            &peer,
            Request::Fetch {
                network,
                log,
                have,
                limit: MAX_BATCH as u32,
            },
        );
    }

    /// Asks the peer for the data keys this home lacks, once per whole pull, before it
    /// completes; `true` while the answer is awaited (the pull completes when it is taken).
    fn ask_keys(&mut self, peer: PeerId) -> bool {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return false;
        };
        match pull.keys {
            KeyAsk::Waiting => return true,
            KeyAsk::Done => return false,
            // Only a whole pull asks: a pull of announced logs is about new entries, and whole
            // pulls run on connecting, every `RECONCILE_EVERY` and for a one-shot sync.
            KeyAsk::NotYet if pull.set.is_none() => return false,
            KeyAsk::NotYet => pull.keys = KeyAsk::Done,
        }
        let ledger = &mut self.ledger;
        let logs = match block(|| ledger.lacking_keys()) {
            Ok(logs) => logs,
            Err(e) => {
                // The entries are in: the pull completes, and the next one asks again.
                tracing::warn!(peer = %peer, error = %e, "could not list the keys this home lacks");
                return false;
            }
        };
        if logs.is_empty() {
            return false;
        }
        let logs: Vec<LogId> = logs.into_iter().take(MAX_KEY_REQUEST).collect();
        tracing::debug!(peer = %peer, logs = logs.len(), "asking for the data keys this home lacks");
        let network = self.asking_network();
        let id = self.send(
            &peer,
            Request::Keys {
                network,
                logs: logs.clone(),
            },
        );
        self.keys_asked.insert(id, (peer, logs));
        if let Some(pull) = self.pulls.get_mut(&peer) {
            pull.keys = KeyAsk::Waiting;
        }
        true
    }

    /// The peer's answer to a key request: keys only for logs asked for (an honest server
    /// sends nothing else; an answer with any other is not taken and ends the pull, as a batch
    /// with entries not asked for does), each through the ledger's key intake; then the pull
    /// completes.
    fn on_keys(
        &mut self,
        peer: PeerId,
        asked: Vec<LogId>,
        keys: Vec<(LogId, countersign_ledger::DataKey)>,
    ) {
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        pull.keys = KeyAsk::Done;
        let asked: HashSet<LogId> = asked.into_iter().collect();
        if keys.iter().any(|(log, _)| !asked.contains(log)) {
            tracing::info!(peer = %peer, "a key answer held keys not asked for: none taken");
            return self.fail_pull(
                &peer,
                SyncError::Refused {
                    peer: peer.to_string(),
                    reason: "it answered a key request with keys not asked for".into(),
                },
            );
        }
        if !keys.is_empty() {
            let offered = keys.len();
            let from = self.shown(&peer).to_string();
            let ledger = &mut self.ledger;
            let span = tracing::info_span!("keys", peer = %peer);
            match span.in_scope(|| block(|| ledger.take_keys(&from, keys))) {
                // Counts only: never a key.
                Ok(taken) => tracing::info!(peer = %peer, offered, taken, "data keys taken"),
                Err(AcceptError::Misbehaved(reason)) => {
                    return self.cut_off_by_ledger(
                        peer,
                        "it sent a data key that does not open its report",
                        reason,
                    )
                }
                Err(AcceptError::Local(reason)) => return self.fail_locally(peer, reason),
            }
        }
        self.finish_pull(peer);
    }

    pub(super) fn finish_pull(&mut self, peer: PeerId) {
        if self.ask_keys(peer) {
            return;
        }
        // Entries still waiting go where the checkpoints below can see them first: a head the
        // peer served that waits here was served.
        let from = self.shown(&peer).to_string();
        let ledger = &mut self.ledger;
        block(|| ledger.pull_ended(&from));
        // Split-view evidence the peer relayed, now that the entries to judge it by are in;
        // then everything the peer claimed is here: hold it to what it signed.
        let (evidence, claims) = self
            .pulls
            .get_mut(&peer)
            .map(|p| {
                (
                    std::mem::take(&mut p.evidence),
                    std::mem::take(&mut p.claims),
                )
            })
            .unwrap_or_default();
        let judged = self.judge_at_end(
            peer,
            (
                "split views",
                "it relayed split-view evidence that does not check out",
            ),
            !evidence.is_empty(),
            |l, key| l.split_views(key, evidence),
        ) && self.judge_at_end(
            peer,
            (
                "checkpoints",
                "it did not stand by the checkpoints it signed",
            ),
            !claims.is_empty(),
            |l, key| l.checkpoints(key, &claims),
        );
        if !judged {
            return;
        }
        let Some(pull) = self.pulls.remove(&peer) else {
            return;
        };
        let at_ms = now_ms();
        self.status.last_sync_ms = Some(at_ms);
        self.status.received += pull.stored;
        self.retry.remove(&peer);
        let shown = self.shown(&peer).to_string();
        let ledger = &mut self.ledger;
        block(|| {
            ledger.remember(
                &shown,
                PeerEvent::Reconciled {
                    stored: pull.stored,
                    at_ms,
                },
            )
        });
        if pull.quarantined > 0 {
            tracing::info!(peer = %peer, quarantined = pull.quarantined, "entries quarantined: refused by a rule or waiting");
        }
        // Info only when something arrived: idle peers are compared every 30 s.
        if pull.stored > 0 {
            tracing::info!(peer = %peer, stored = pull.stored, "pull complete");
        } else {
            tracing::debug!(peer = %peer, "pull complete: nothing new");
        }
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
                    // Now the peer pulls every log from us; wait for its ack.
                    self.announce(peer, Vec::new(), Some((pull.stored, reply)));
                }
            }
        }
        if let Some(scope) = pull.again {
            self.start_pull(peer, None, scope);
        }
    }

    /// Runs one of the judgements a completed pull ends with (`what` it judges, and `why` the
    /// peer is cut off when it fails for proof) when there is something to judge. `false` when
    /// the pull ended on it: the peer cut off, or a local failure to retry.
    fn judge_at_end(
        &mut self,
        peer: PeerId,
        (what, why): (&'static str, &'static str),
        any: bool,
        judge: impl FnOnce(&mut L, &countersign_ledger::PublicKey) -> Result<(), AcceptError>,
    ) -> bool {
        if !any {
            return true;
        }
        // The member the peer is (its own key or the one that delegated to it): its checkpoints
        // are signed by the member key, wherever that key is held.
        let Some(key) = self.member_key(&peer) else {
            return true;
        };
        let ledger = &mut self.ledger;
        let span = tracing::info_span!("judged at the end of a pull", peer = %peer, what);
        match span.in_scope(|| block(|| judge(ledger, &key))) {
            Ok(()) => true,
            Err(AcceptError::Misbehaved(reason)) => {
                self.cut_off_by_ledger(peer, why, reason);
                false
            }
            Err(AcceptError::Local(reason)) => {
                self.fail_locally(peer, reason);
                false
            }
        }
    }

    pub(super) fn fail_pull(&mut self, peer: &PeerId, error: SyncError) {
        let Some(pull) = self.pulls.remove(peer) else {
            return;
        };
        let from = self.shown(peer).to_string();
        let ledger = &mut self.ledger;
        block(|| ledger.pull_ended(&from));
        // The error's kind only: a cut-off's or a refusal's words may quote a refused entry.
        tracing::debug!(peer = %peer, error = error.kind(), "pull ended without completing");
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
}
