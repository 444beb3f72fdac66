//! A whole pull's rounds: this home's set of entry ids reconciled with the peer's (the recent
//! window, or every item when the history before it differs), and the ids found lacking
//! fetched by id. Apart because only a whole pull runs them; a pull of announced logs goes by
//! summaries and version vectors (`batches`).

use std::collections::HashSet;

use libp2p::PeerId;

use countersign_ledger::split_view::SplitViewEvidence;
use countersign_ledger::{EntryId, Hash};

use super::{SetPull, BATCHES_IN_HAND, MAX_PULL_EVIDENCE, MAX_STEPS, NEED_HIGH};
use crate::node::{block_long, Ledger, Node, SyncError};
use crate::protocol::{Request, MAX_BATCH};
use crate::reconcile::Round;

impl<L: Ledger> Node<L> {
    /// Starts (or restarts) a whole pull's reconciliation over the items keyed from epoch
    /// `from` on (0: every item), from this home's set as it is now.
    pub(super) fn start_window(&mut self, peer: PeerId, from: u64) {
        let network = self.asking_network();
        let ledger = &mut self.ledger;
        let cold = ledger.set_is_cold(None);
        let first = block_long(cold, || {
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
                self.send_for_pull(
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
    pub(super) fn on_step(&mut self, peer: PeerId, base_matches: bool, message: Vec<u8>) {
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
        let cold = ledger.set_is_cold(None);
        let step = block_long(cold, || {
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
    pub(super) fn drive(&mut self, peer: PeerId) {
        let network = self.asking_network();
        let Some(pull) = self.pulls.get_mut(&peer) else {
            return;
        };
        let in_hand = pull.in_hand;
        let Some(set) = pull.set.as_mut() else {
            return;
        };
        if !set.fetching && in_hand < BATCHES_IN_HAND && !set.need.is_empty() {
            // One batch's worth: the peer answers with at most MAX_BATCH records, and it
            // looks up every id it is sent, so naming more (up to MAX_FETCH_IDS) only made it
            // look each id up about four times before sending it (half its CPU on a 1M sync).
            let n = set.need.len().min(MAX_BATCH);
            let ids: Vec<EntryId> = set.need.drain(..n).collect();
            set.fetching = true;
            let id = self.send_for_pull(
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
                self.send_for_pull(
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
    pub(super) fn on_batch_by_id(
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
}
