//! The puller's side: ask a peer for its summaries, plan which logs to fetch, fetch them in
//! pipelined batches, hand each to the ledger, and answer whoever waited for the pull.

use std::collections::{HashMap, HashSet, VecDeque};

use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::PeerId;
use tokio::sync::oneshot;

use countersign_ledger::LogId;

use super::{block, now_ms, Ledger, Node, SyncError, SyncReport};
use crate::protocol::{LogSummary, Request, Response, VersionVector, MAX_ANNOUNCED, MAX_BATCH};

/// A one-shot sync that pulled `u64` entries and now waits for the peer's ack.
pub(super) type OnceWaiting = (u64, oneshot::Sender<Result<SyncReport, SyncError>>);

/// Who waits for a pull to end.
pub(super) enum Waiter {
    /// An announcement from the peer: answered with what we stored.
    Ack(ResponseChannel<Response>),
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
}

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
        self.swarm.behaviour_mut().sync.send_request(
            &peer,
            Request::Summary {
                network,
                logs: scope,
            },
        );
    }

    pub(super) fn on_response(
        &mut self,
        peer: PeerId,
        request_id: OutboundRequestId,
        response: Response,
    ) {
        if let Some((_, once)) = self.announced.remove(&request_id) {
            if let Some((received, reply)) = once {
                let result = match response {
                    Response::Ack { stored } => Ok(SyncReport {
                        peer: peer.to_string(),
                        received,
                        sent: stored,
                    }),
                    Response::Refused { reason } => Err(SyncError::Refused {
                        peer: peer.to_string(),
                        reason,
                    }),
                    _ => Err(SyncError::Refused {
                        peer: peer.to_string(),
                        reason: "an answer that is not an ack".into(),
                    }),
                };
                let _ = reply.send(result);
            }
            return;
        }
        match response {
            Response::Summary { logs } => self.plan(peer, logs),
            Response::Entries { more, bundle } => self.on_entries(peer, more, bundle),
            Response::Refused { reason } => {
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
            Response::Ack { .. } => {}
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
        // The ledger's own logs about this batch (checked on the blocking pool) name the peer.
        let span = tracing::info_span!("batch", peer = %peer, log = %log);
        if more {
            // The vector we will have is what we sent plus this batch.
            let mut have = pull.sent_have.clone();
            advance(&mut have, &bundle);
            pull.sent_have = have.clone();
            self.request(peer, log, have);
        } else {
            pull.current = None;
            self.fetch_next(peer);
        }
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
        let ledger = &mut self.ledger;
        let span = tracing::info_span!("batch", peer = %peer);
        match checked.and_then(|batch| span.in_scope(|| block(|| ledger.accept(batch)))) {
            Ok(n) => {
                tracing::debug!(peer = %peer, stored = n, more, "batch stored");
                let Some(pull) = self.pulls.get_mut(&peer) else {
                    return;
                };
                pull.stored += n;
                // A batch that says "more" but holds nothing new (duplicates, or nothing at
                // all) would have us pull forever: a flood, not a sync.
                if more && n == 0 {
                    return self.cut_off(
                        peer,
                        "it keeps sending batches with nothing new in them".into(),
                    );
                }
                // Ends the pull if this was the last batch.
                self.fetch_next(peer);
            }
            Err(reason) => {
                self.cut_off_by_ledger(peer, "it sent a batch this home refuses", reason)
            }
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
            Err(e) => return self.fail_pull(&peer, SyncError::Ledger(e)),
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
        let roster = network.or_else(|| remote.first().map(|l| l.log));
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
                Err(e) => return self.fail_pull(&peer, SyncError::Ledger(e)),
            }
        };
        if let Some(pull) = self.pulls.get_mut(&peer) {
            pull.sent_have = have.clone();
        }
        self.request(peer, log, have);
    }

    pub(super) fn send_fetch(&mut self, peer: PeerId, log: LogId, have: VersionVector) {
        let network = self.asking_network();
        self.swarm.behaviour_mut().sync.send_request(
            &peer,
            Request::Fetch {
                network,
                log,
                have,
                limit: MAX_BATCH as u32,
            },
        );
    }

    pub(super) fn finish_pull(&mut self, peer: PeerId) {
        // Everything the peer claimed is here now: hold it to what it signed.
        let claims = self
            .pulls
            .get_mut(&peer)
            .map(|p| std::mem::take(&mut p.claims))
            .unwrap_or_default();
        if let (false, Some(key)) = (claims.is_empty(), super::peer_key(&peer)) {
            let ledger = &mut self.ledger;
            let span = tracing::info_span!("checkpoints", peer = %peer);
            if let Err(reason) = span.in_scope(|| block(|| ledger.checkpoints(&key, &claims))) {
                return self.cut_off_by_ledger(
                    peer,
                    "it did not stand by the checkpoints it signed",
                    reason,
                );
            }
        }
        let Some(pull) = self.pulls.remove(&peer) else {
            return;
        };
        self.status.last_sync_ms = Some(now_ms());
        self.status.received += pull.stored;
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

    pub(super) fn fail_pull(&mut self, peer: &PeerId, error: SyncError) {
        let Some(pull) = self.pulls.remove(peer) else {
            return;
        };
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
