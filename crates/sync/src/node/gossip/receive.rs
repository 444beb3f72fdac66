//! What becomes of a received message: judged (member, direct or relayed, decoding, rate),
//! and when it names what this home lacks, a pull and a wait until that is held before it is
//! accepted and so forwarded; waiting announcements are kicked, settled, fallen back on or
//! dropped here too. Apart from publishing and from mesh admission: this is the path a
//! peer's message takes, and the only part that answers gossipsub's validation.

use std::collections::HashMap;

use libp2p::gossipsub::{self, MessageAcceptance, MessageId};
use libp2p::PeerId;
use tokio::time::Instant;

use countersign_ledger::LogId;

// Only for a doc link (`judge`'s).
#[cfg(doc)]
use super::RATE_PER_SECOND;
use super::{Announcement, Pending, MAX_FALLBACK, MAX_LOGS, MAX_PENDING, PENDING_FOR};
use crate::node::{block, Ledger, Node};

/// What a received message is worth, before the ledger is asked what it lacks.
#[derive(Debug, PartialEq, Eq)]
pub(in crate::node) enum Verdict {
    /// From a member, well formed: see what it names.
    Consider(Announcement),
    /// Proof against the peer that sent it: not forwarded, and its score drops.
    Reject(&'static str),
    /// Not forwarded, held against no one.
    Ignore(&'static str),
}

/// `member`: the source is a member who may read every log (checked after gossipsub verified
/// its signature); `direct`: the source sent it to us itself; `within_rate`: the source is
/// within [`RATE_PER_SECOND`].
pub(in crate::node) fn judge(
    member: bool,
    direct: bool,
    within_rate: bool,
    data: &[u8],
) -> Verdict {
    if !member {
        return if direct {
            Verdict::Reject("its source is not a member who reads every log")
        } else {
            Verdict::Ignore("its source is not a member here (the relay's roster may be behind)")
        };
    }
    match Announcement::decode(data) {
        Err(_) => Verdict::Reject("it does not decode"),
        Ok(_) if !within_rate => Verdict::Ignore("its source is over its rate"),
        Ok(a) => Verdict::Consider(a),
    }
}

impl<L: Ledger> Node<L> {
    pub(in crate::node) fn on_gossip(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => self.on_announcement(propagation_source, message_id, message),
            gossipsub::Event::Subscribed { peer_id, topic } => {
                tracing::debug!(peer = %peer_id, topic = %topic, "gossip: peer subscribed");
                self.gossip.join(peer_id, topic, Instant::now());
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                self.gossip.leave_topic(peer_id, topic);
            }
            gossipsub::Event::SlowPeer { peer_id, .. } => {
                tracing::debug!(peer = %peer_id, "gossip: a peer does not keep up");
            }
            _ => {}
        }
    }

    fn verdict(&mut self, id: &MessageId, via: &PeerId, acceptance: MessageAcceptance) {
        match acceptance {
            MessageAcceptance::Accept => self.gossip.status.accepted += 1,
            MessageAcceptance::Reject => self.gossip.status.rejected += 1,
            MessageAcceptance::Ignore => self.gossip.status.ignored += 1,
        }
        self.swarm
            .behaviour_mut()
            .gossip
            .report_message_validation_result(id, via, acceptance);
    }

    fn on_announcement(&mut self, via: PeerId, id: MessageId, message: gossipsub::Message) {
        let ours = self.gossip.topic.as_ref().map(|t| t.hash());
        let source = match message.source {
            Some(s) if Some(&message.topic) == ours.as_ref() => s,
            // Strict validation guarantees a source; a topic not ours was not subscribed to.
            _ => return self.verdict(&id, &via, MessageAcceptance::Ignore),
        };
        let direct = source == via;
        let member = self.gossip_eligible(&source);
        let now = Instant::now();
        let within_rate = member && self.gossip.within_rate(source, now);
        let announcement = match judge(member, direct, within_rate, &message.data) {
            Verdict::Consider(a) => a,
            Verdict::Reject(why) => {
                tracing::info!(source = %source, via = %via, reason = why, "gossip: announcement rejected");
                return self.verdict(&id, &via, MessageAcceptance::Reject);
            }
            Verdict::Ignore(why) => {
                tracing::debug!(source = %source, via = %via, reason = why, "gossip: announcement ignored");
                return self.verdict(&id, &via, MessageAcceptance::Ignore);
            }
        };
        if !direct && !self.gossip_eligible(&via) {
            tracing::debug!(source = %source, via = %via, "gossip: announcement ignored: relayed by a peer outside the mesh");
            return self.verdict(&id, &via, MessageAcceptance::Ignore);
        }
        // Pull from the source if it is connected (it holds what it announced), else from the
        // peer it came through (which held it before forwarding).
        let puller = if !direct && self.connected.contains(&source) && !self.is_cut_off(&source) {
            source
        } else {
            via
        };
        if announcement.logs.is_empty() {
            // Much changed at the source: reconcile every log with it, and pass the word on
            // (every receiver reconciles with whom it heard it from).
            tracing::debug!(source = %source, via = %via, "gossip: announcement accepted (every log)");
            self.verdict(&id, &via, MessageAcceptance::Accept);
            self.gossip.status.pulls += 1;
            return self.start_pull(puller, None, Vec::new());
        }
        let lacking = match self.gossip_lacking(&announcement) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "gossip: could not tell what an announcement names is here");
                return self.verdict(&id, &via, MessageAcceptance::Ignore);
            }
        };
        if lacking.is_empty() {
            tracing::debug!(source = %source, via = %via, "gossip: announcement accepted (all here)");
            self.gossip.hear(&announcement, now);
            return self.verdict(&id, &via, MessageAcceptance::Accept);
        }
        tracing::debug!(source = %source, via = %via, puller = %puller, logs = lacking.len(), "gossip: announcement names what is not here: pulling");
        if self.gossip.pending.len() >= MAX_PENDING {
            self.gossip.status.pulls += 1;
            self.start_pull(puller, None, lacking);
            return self.verdict(&id, &via, MessageAcceptance::Ignore);
        }
        // While a pull from the puller runs, it may well bring what this names (it was stored
        // there before being forwarded): the pull waits for it to end, and starts only if
        // something is still missing then, rather than queueing one more pull at once.
        let busy = self.pulls.contains_key(&puller);
        if !busy {
            self.gossip.status.pulls += 1;
            self.start_pull(puller, None, lacking);
        }
        self.gossip.pending.push_back(Pending {
            id,
            via,
            source,
            puller,
            announcement,
            until: now + PENDING_FOR,
            pulled: !busy,
            fell_back: false,
        });
    }

    /// Starts the pulls announcements wait for once their puller is free (cheap: no ledger
    /// call; run after every swarm event, since a pull can end on any answer).
    pub(in crate::node) fn gossip_kick(&mut self) {
        if self.gossip.pending.iter().all(|p| p.pulled) {
            return;
        }
        let pulls = &self.pulls;
        let wanted = take_pulls(&mut self.gossip.pending, |p| pulls.contains_key(p));
        for (puller, logs) in wanted {
            tracing::debug!(puller = %puller, logs = logs.len(), "gossip: pulling what announcements named once the last pull ended");
            self.gossip.status.pulls += 1;
            self.start_pull(puller, None, logs);
        }
    }

    /// The logs of `a` this home lacks something of: a head not held (or none given), or
    /// fewer pieces of fork evidence.
    fn gossip_lacking(&mut self, a: &Announcement) -> Result<Vec<LogId>, String> {
        let ledger = &mut self.ledger;
        block(|| {
            let mut lacking = Vec::new();
            let mut forked = Vec::new();
            for l in &a.logs {
                if l.heads.is_empty() || ledger.lacks_any(&l.heads)? {
                    lacking.push(l.log);
                } else if l.forks > 0 {
                    forked.push(l);
                }
            }
            if !forked.is_empty() {
                let ids: Vec<LogId> = forked.iter().map(|l| l.log).collect();
                let mine = ledger.summary(&ids)?;
                for l in forked {
                    let held = mine.iter().find(|s| s.log == l.log).map_or(0, |s| s.forks);
                    if held < l.forks {
                        lacking.push(l.log);
                    }
                }
            }
            Ok(lacking)
        })
    }

    /// Accepts (and so forwards) the waiting announcements whose heads are all here now;
    /// asks the other members for those the peer they came through did not deliver; drops
    /// those past their time unforwarded. Called every tick and after every stored batch.
    pub(in crate::node) fn gossip_settle(&mut self) {
        if self.gossip.pending.is_empty() {
            return;
        }
        let now = Instant::now();
        for mut p in std::mem::take(&mut self.gossip.pending) {
            let pulling = self.pulls.contains_key(&p.puller);
            // Logs announced without heads are here once the pull for them has ended.
            let known = Announcement {
                logs: p
                    .announcement
                    .logs
                    .iter()
                    .filter(|l| !l.heads.is_empty())
                    .cloned()
                    .collect(),
            };
            let compare = known.logs.len() < p.announcement.logs.len();
            let lacking = self.gossip_lacking(&known);
            let held =
                matches!(&lacking, Ok(l) if l.is_empty()) && !(compare && (pulling || !p.pulled));
            if held {
                tracing::debug!(source = %p.source, via = %p.via, "gossip: announcement accepted (pulled)");
                self.gossip.hear(&p.announcement, now);
                self.verdict(&p.id, &p.via, MessageAcceptance::Accept);
                continue;
            }
            if now >= p.until {
                tracing::debug!(source = %p.source, via = %p.via, "gossip: announcement dropped: what it names did not arrive in time");
                self.verdict(&p.id, &p.via, MessageAcceptance::Ignore);
                continue;
            }
            if !pulling && p.pulled && !p.fell_back {
                p.fell_back = true;
                let logs: Vec<LogId> = p.announcement.logs.iter().map(|l| l.log).collect();
                let others: Vec<PeerId> = self
                    .connected
                    .iter()
                    .filter(|o| **o != p.puller && !self.is_cut_off(o))
                    .take(MAX_FALLBACK)
                    .copied()
                    .collect();
                tracing::debug!(source = %p.source, peers = others.len(), "gossip: the pull did not bring what was announced; asking other members");
                for o in others {
                    self.start_pull(o, None, logs.clone());
                }
            }
            self.gossip.pending.push_back(p);
        }
        self.gossip_kick();
    }
}

/// The logs to pull from each puller for the announcements waiting and not yet pulled, the
/// peers `busy` (a pull from them running) left for a later kick. An announcement is marked
/// pulled only with all its logs in its puller's pull, which holds at most [`MAX_LOGS`]; one
/// that does not fit waits for the next kick, once that pull ends. (Marked pulled with some of
/// its logs cut off, as it was until 2026-12-03, those logs waited for the fallback to other
/// members or the next whole reconcile.)
pub(in crate::node) fn take_pulls(
    pending: &mut std::collections::VecDeque<Pending>,
    busy: impl Fn(&PeerId) -> bool,
) -> HashMap<PeerId, Vec<LogId>> {
    let mut wanted: HashMap<PeerId, Vec<LogId>> = HashMap::new();
    for p in pending.iter_mut() {
        if p.pulled || busy(&p.puller) {
            continue;
        }
        let logs = wanted.entry(p.puller).or_default();
        let mut new: Vec<LogId> = Vec::new();
        for l in &p.announcement.logs {
            if !logs.contains(&l.log) && !new.contains(&l.log) {
                new.push(l.log);
            }
        }
        // (One announcement names at most `MAX_LOGS`: it always fits a pull of its own.)
        if !logs.is_empty() && logs.len() + new.len() > MAX_LOGS {
            continue;
        }
        p.pulled = true;
        logs.extend(new);
    }
    wanted
}
