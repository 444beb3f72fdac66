//! How a pull ends: a whole pull's ask for the data keys this home lacks (see `pull`'s module
//! docs), the judgements of what the peer relayed and signed, then whoever waited answered;
//! or the pull fails, here or by the peer's doing, and is retried later. Apart because every
//! kind of pull ends through it.

use std::collections::HashSet;

use libp2p::PeerId;

use countersign_ledger::LogId;

use super::{KeyAsk, Waiter};
use crate::node::{
    block, now_ms, AcceptError, Ledger, Node, PeerEvent, SyncError, RETRY_FIRST, RETRY_LONGEST,
};
use crate::protocol::{Request, Response, MAX_KEY_REQUEST};

impl<L: Ledger> Node<L> {
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
        let id = self.send_for_pull(
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
    pub(super) fn on_keys(
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

    pub(in crate::node) fn finish_pull(&mut self, peer: PeerId) {
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

    /// Ends the pull on a failure of this home (not the peer's), and tries it again later:
    /// after [`RETRY_FIRST`], doubling while failures go on, at most [`RETRY_LONGEST`].
    pub(in crate::node) fn fail_locally(&mut self, peer: PeerId, reason: String) {
        let tries = self.retry.get(&peer).map_or(0, |r| r.1) + 1;
        let wait = RETRY_FIRST
            .saturating_mul(1u32 << (tries - 1).min(10))
            .min(RETRY_LONGEST);
        tracing::warn!(peer = %peer, retry_in_ms = wait.as_millis() as u64, "a pull failed here; it is retried");
        self.retry
            .insert(peer, (tokio::time::Instant::now() + wait, tries));
        self.fail_pull(&peer, SyncError::Ledger(reason));
    }

    pub(in crate::node) fn fail_pull(&mut self, peer: &PeerId, error: SyncError) {
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
