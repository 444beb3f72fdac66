//! Announcements over gossipsub, so a write on one peer reaches a department of fifty without
//! fifty connections: one topic per network, `countersign/announce/<network hex>`.
//!
//! **Who is in the mesh.** Only members who may read every log: people on the roster, not
//! revoked, not cut off. An AI model's node reads only the reports it was granted, and every
//! subscriber receives every message, so it is kept out and told of changes directly (as are
//! peers that do not speak gossipsub); a node that is not such a member does not subscribe.
//! gossipsub has no hook to refuse a subscription or a GRAFT by peer, so exclusion is by score:
//! every connected peer gets an application score, 0 for an eligible member and
//! [`OUTSIDER`] for anyone else, far below the graylist threshold. gossipsub then never puts
//! the peer in a mesh (a GRAFT is answered with a PRUNE), never publishes, forwards or gossips
//! (IHAVE) to it, ignores its IWANTs, and drops every RPC it sends once its subscriptions are
//! noted. What a connected stranger still learns is the topic name (our subscription is sent to
//! every new connection before the score is set): the network id, which is not PHI. Scores are
//! set on every connection and looked at again every second and whenever the roster changes.
//!
//! **What a message holds** ([`Announcement`]): log ids, and for each the ids of its heads (at
//! most [`MAX_HEADS_PER_LOG`]) and its count of fork evidence; never a payload, a name or a
//! study. At most [`MAX_LOGS`] logs and [`MAX_HEADS`] heads: [`MAX_ENCODED`] bytes, and
//! gossipsub's `max_transmit_size` is that plus its own framing. Heads let a receiver see
//! that it already holds what is announced without asking anyone.
//!
//! **Validation** is manual, after gossipsub's strict mode has checked the signature of the
//! source: a message from a source that is not an eligible member is rejected when that source
//! sent it to us itself (it lowers the sender's score: P4, invalid deliveries) and ignored when
//! a member relayed it (the relay's roster may be behind ours); a message that does not decode
//! is rejected; past [`RATE_PER_SECOND`] messages a second from one source, ignored. A message
//! naming heads this home lacks makes it pull those logs (`start_pull` with the logs as scope)
//! from the source if connected, else from the peer it came through, and it is accepted, and
//! so forwarded, only once they are held: whoever forwards an announcement holds what it
//! names, so the next hop can pull from it. One message per write crosses the department.
//! A node announces what it stored from peers too, unless the heads it now holds were all
//! announced to it already (everyone on the topic then heard those), so entries that arrive
//! another way (a whole pull, an AI model's direct announcement) are still announced; a peer
//! that may have missed such heads (it subscribed only just before they were heard, or after:
//! it restarted, and may not be grafted yet) is told of them directly.
//!
//! **Fallback.** Direct request/response stays for pulls, for one-shot syncs (and their acks),
//! and as the announcement to every connected peer gossip does not reach: own messages are
//! flood-published to every subscribed neighbour with a good score, so the rest are told
//! directly, as before. If the peer an announcement came through does not deliver, the logs are
//! pulled from the other connected members; an announcement lost altogether is caught by the
//! whole reconciliation every 30 s.
//!
//! **Where.** Here: the bounds and the node's gossip state (announcements waiting for what
//! they name, heads heard lately, each source's rate), and the tick that drives the rest.
//! What a message holds and its encoding are in `announcement`; the gossipsub set-up and who
//! is admitted to the mesh in `mesh`; publishing this node's changes in `publish`; a received
//! message's judgement, pull, wait and forwarding in `receive`; the counters for `sync
//! status` in `status`; the unit tests in `tests`.

mod announcement;
mod mesh;
mod publish;
mod receive;
mod status;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use libp2p::gossipsub::{IdentTopic, MessageId, TopicHash};
use libp2p::PeerId;
use tokio::time::Instant;

use countersign_ledger::{EntryId, LogId};

use super::traffic::Traffic;
use super::{Ledger, Node};

pub use announcement::{fuzz_check, Announced, Announcement, GossipDecodeError};
pub(super) use mesh::{behaviour, Behaviour};
pub use status::GossipStatus;

/// The encoding's version, its first byte.
pub const VERSION: u8 = 1;
/// Topics are this followed by the network id in hex.
pub const TOPIC_PREFIX: &str = "countersign/announce/";
/// Logs one message names at most (a direct announcement's bound).
pub const MAX_LOGS: usize = crate::protocol::MAX_ANNOUNCED;
/// Heads given for one log at most; a log with more is announced without them ("compare").
pub const MAX_HEADS_PER_LOG: usize = 16;
/// Heads in one message at most.
pub const MAX_HEADS: usize = 1024;
/// The longest message: version, count, and per log its id, fork count and head count, and
/// every head (70 659 bytes).
pub const MAX_ENCODED: usize = 3 + MAX_LOGS * (32 + 4 + 1) + MAX_HEADS * 32;
/// gossipsub's bound on a frame: a message and its framing (source, sequence number, topic,
/// signature: under 300 bytes).
pub const MAX_TRANSMIT: usize = MAX_ENCODED + 1024;
/// Messages queued per connection at most (gossipsub's default is 5000).
pub const QUEUE: usize = 128;
/// Received announcements waiting for what they name to arrive, at most; past it a message
/// is not forwarded (its pull still runs).
pub const MAX_PENDING: usize = 256;
/// How long an announcement waits for what it names before it is dropped unforwarded (under
/// the 5 s gossipsub keeps it).
pub const PENDING_FOR: Duration = Duration::from_secs(4);
/// Messages one source may have taken a second, on average, and in a burst.
pub const RATE_PER_SECOND: f64 = 50.0;
pub const BURST: f64 = 100.0;
/// Sources whose rate is tracked at most (the longest idle is forgotten first).
pub const MAX_SOURCES: usize = 4096;
/// The application score of a peer kept out of the mesh: below every threshold.
pub const OUTSIDER: f64 = -1000.0;
/// Logs whose announced heads are remembered (to know what others already heard), for how
/// long, and heads per log.
const MAX_HEARD_LOGS: usize = 4096;
const HEARD_FOR: Duration = Duration::from_secs(60);
const MAX_HEARD_HEADS: usize = 64;
/// Changed logs beyond which a node announces "every log" instead of reading their heads.
const MAX_LOOKED_UP: usize = 256;
/// Other members asked when the peer an announcement came through did not deliver.
const MAX_FALLBACK: usize = 8;
const RESCORE_EVERY: Duration = Duration::from_secs(1);
/// How long a peer must have been subscribed to count as having heard what this node heard
/// (see `Gossip::heard_what_was_left_out`): three of gossipsub's one-second heartbeats, past
/// the one after its admission (scored every second) that grafts it.
const SETTLED: Duration = Duration::from_secs(3);

/// A received announcement waiting for what it names.
struct Pending {
    id: MessageId,
    via: PeerId,
    source: PeerId,
    puller: PeerId,
    announcement: Announcement,
    until: Instant,
    /// A pull from `puller` was started for it (else it waits for the running one to end).
    pulled: bool,
    /// The other members were asked once the pull from `puller` ended without it.
    fell_back: bool,
}

/// Heads announced for a log lately.
struct Heard {
    heads: HashSet<EntryId>,
    forks: u32,
    /// When the earliest of `heads` was heard: a peer that subscribed shortly before it, or
    /// after, may have missed some of them.
    since: Instant,
    /// When the latest was (the record is forgotten `HEARD_FOR` after).
    at: Instant,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The node's gossip state.
pub(super) struct Gossip {
    topic: Option<IdentTopic>,
    pending: VecDeque<Pending>,
    heard: HashMap<LogId, Heard>,
    /// When each connected peer subscribed to each announcement topic (bounded by the
    /// connections and the subscription filter's two topics a peer). Kept from before this
    /// node joins its topic too.
    joined: HashMap<(PeerId, TopicHash), Instant>,
    buckets: HashMap<PeerId, Bucket>,
    /// Whether each peer was found eligible when last scored (to log changes only).
    scored: HashMap<PeerId, bool>,
    next_rescore: Instant,
    status: GossipStatus,
    pub(super) traffic: Arc<Traffic>,
}

impl Gossip {
    pub(super) fn new(traffic: Arc<Traffic>) -> Gossip {
        Gossip {
            topic: None,
            pending: VecDeque::new(),
            heard: HashMap::new(),
            joined: HashMap::new(),
            buckets: HashMap::new(),
            scored: HashMap::new(),
            next_rescore: Instant::now(),
            status: GossipStatus::default(),
            traffic,
        }
    }

    /// Remembers what `a` announced (everyone on the topic heard it).
    fn hear(&mut self, a: &Announcement, now: Instant) {
        for l in &a.logs {
            if l.heads.is_empty() {
                continue;
            }
            if !self.heard.contains_key(&l.log) && self.heard.len() >= MAX_HEARD_LOGS {
                continue;
            }
            let h = self.heard.entry(l.log).or_insert_with(|| Heard {
                heads: HashSet::new(),
                forks: 0,
                since: now,
                at: now,
            });
            if h.heads.len() + l.heads.len() > MAX_HEARD_HEADS {
                h.heads.clear();
                h.since = now;
            }
            h.heads.extend(l.heads.iter().copied());
            h.forks = h.forks.max(l.forks);
            h.at = now;
        }
    }

    /// When the earliest of `heads` was announced, if every one of them (and this many
    /// forks) was announced lately.
    fn heard_since(&self, log: &LogId, heads: &[EntryId], forks: u32) -> Option<Instant> {
        self.heard
            .get(log)
            .filter(|h| {
                !heads.is_empty() && heads.iter().all(|x| h.heads.contains(x)) && forks <= h.forks
            })
            .map(|h| h.since)
    }

    /// `peer` subscribed to `topic`.
    fn join(&mut self, peer: PeerId, topic: TopicHash, now: Instant) {
        self.joined.insert((peer, topic), now);
    }

    /// `peer` left `topic`.
    fn leave_topic(&mut self, peer: PeerId, topic: TopicHash) {
        self.joined.remove(&(peer, topic));
    }

    /// `peer` disconnected.
    pub(super) fn left(&mut self, peer: &PeerId) {
        self.joined.retain(|(p, _), _| p != peer);
    }

    /// Whether `peer` heard what this node leaves out of its announcement as announced
    /// already (heard from `left_out_since` on), as far as this node can tell: only if it had
    /// been subscribed for [`SETTLED`] by then, past the heartbeats that graft a new
    /// subscriber (once admitted) into a mesh with room, so that it was sent the message, or
    /// (outside this node's full mesh) gossipsub told it through the other members' meshes
    /// and its `IHAVE`s, as before any of this.
    ///
    /// A peer that subscribed later (a restarted home whose first pull ended before this node
    /// stored the entries), or just before and not yet grafted, would hear of them from
    /// nobody until the next whole reconcile, 30 s on: it is told directly. One grafted at
    /// once is told too, needlessly but cheaply: a compare, in its first seconds only.
    fn heard_what_was_left_out(&self, peer: &PeerId, left_out_since: Option<Instant>) -> bool {
        let Some(since) = left_out_since else {
            return true;
        };
        let Some(topic) = &self.topic else {
            return false;
        };
        self.joined
            .get(&(*peer, topic.hash()))
            .is_some_and(|j| *j + SETTLED <= since)
    }

    /// Takes one message from `source`'s allowance.
    fn within_rate(&mut self, source: PeerId, now: Instant) -> bool {
        if !self.buckets.contains_key(&source) && self.buckets.len() >= MAX_SOURCES {
            if let Some(idle) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(p, _)| *p)
            {
                self.buckets.remove(&idle);
            }
        }
        let b = self.buckets.entry(source).or_insert(Bucket {
            tokens: BURST,
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() * RATE_PER_SECOND;
        b.tokens = (b.tokens + refill).min(BURST);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl<L: Ledger> Node<L> {
    /// Every announcement tick: join the topic once this home may, score peers every second
    /// (and after a roster change), and settle announcements whose deadline passed.
    pub(super) fn gossip_tick(&mut self) {
        let now = Instant::now();
        if now >= self.gossip.next_rescore {
            self.gossip.next_rescore = now + RESCORE_EVERY;
            self.gossip_join();
            self.gossip_rescore();
            self.gossip
                .heard
                .retain(|_, h| now.duration_since(h.at) < HEARD_FOR);
            self.log_traffic();
        }
        self.gossip_settle();
    }
}
