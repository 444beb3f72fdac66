//! Batches: a pull of announced logs planned from the peer's summaries and fetched log by log
//! by version vector, and every received batch (of either kind of pull) checked on the
//! checker's thread and stored in arrival order. Apart from the whole pull's rounds (`whole`) and
//! from how a pull ends (`end`): this is the part the network and the disk pace.

use std::collections::{HashMap, HashSet, VecDeque};

use libp2p::PeerId;

use countersign_ledger::LogId;

use super::{Received, BATCHES_IN_HAND};
use crate::node::{block, AcceptError, Accepted, Ledger, Node};
use crate::protocol::{LogSummary, Request, VersionVector, MAX_BATCH};

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
    /// Queues every log where the peer is ahead of us: the roster log first. A peer is ahead
    /// where its version vector is, and also where it holds heads or fork evidence we lack
    /// with the same vector — an equivocation: two entries at one position. Those logs are
    /// fetched whole, so the conflicting entry arrives and is kept as evidence.
    pub(in crate::node) fn plan(&mut self, peer: PeerId, remote: Vec<LogSummary>) {
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
    pub(in crate::node) fn fetch_next(&mut self, peer: PeerId) {
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

    pub(in crate::node) fn send_fetch(&mut self, peer: PeerId, log: LogId, have: VersionVector) {
        let network = self.asking_network();
        self.send_for_pull(
            &peer,
            Request::Fetch {
                network,
                log,
                have,
                limit: MAX_BATCH as u32,
            },
        );
    }

    /// A batch arrived: ask for the next one (of this log, or the next log) at once, so the
    /// peer reads it while this one is checked and stored, and queue this one for the
    /// checker. Batches are stored in arrival order (see `Node::run`).
    pub(super) fn on_entries(&mut self, peer: PeerId, more: bool, bundle: Vec<u8>) {
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

    /// Queues a received batch to be checked by the node's checker; it is stored in arrival
    /// order (see `Node::run`).
    pub(super) fn check_batch(
        &mut self,
        peer: PeerId,
        generation: u64,
        more: bool,
        bundle: Vec<u8>,
    ) {
        // The ledger's own logs about this batch (checked on the checker's thread) name the peer.
        let span = tracing::info_span!("batch", peer = %peer);
        let answer = self.checker.check(bundle, span);
        self.checking.push_back(Box::pin(async move {
            let checked = answer
                .await
                .unwrap_or_else(|_| Err("the thread that checks batches has stopped".into()));
            Received {
                peer,
                generation,
                more,
                checked,
            }
        }));
    }

    /// Stores a checked batch, then goes on with that peer's pull.
    pub(in crate::node) fn take_received(&mut self, received: Received<L::Checked>) {
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
}
