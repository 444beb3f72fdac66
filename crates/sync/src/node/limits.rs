//! Per-peer rate limits: what one peer may make this node do per unit of time.
//!
//! Every message is bounded in bytes, but an authorised member's peer (a buggy build, a stolen
//! key before its revocation reaches us, a script in a loop) could still ask without pause and
//! have this node spend all its time and bandwidth on it, starving every other peer. So each
//! peer has three token buckets: requests it makes, bytes of requests it sends, and bytes of
//! answers it is served. A request is answered only when its peer has a request token and is
//! not in debt on either byte bucket; its bytes and the answer's are then charged (an answer
//! may take a byte bucket into debt: its size is known only once it is made, and the debt is
//! paid off before the next one).
//!
//! A peer over its rate is slowed, never cut off: being busy is not misbehaviour. Its request
//! is refused with the stable code [`RATE_LIMITED`] and how long to wait; an honest node backs
//! off that long and retries (see `pull`). Buckets are this node's own resource policy,
//! judged by this node's monotonic clock (or a test's [`Clock::manual`]), never by anything a
//! peer says.
//!
//! The buckets are keyed by the member a peer is (a delegated node's member, so a new node key
//! does not refill them) and kept for at most [`MAX_RATED_PEERS`] peers; past that the longest
//! idle is forgotten (its bucket would have refilled by then, unless more than that many
//! members are asking at once).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use libp2p::PeerId;

/// The stable code a refusal for going over a rate starts with: `rate_limited: retry in N ms`.
pub const RATE_LIMITED: &str = "rate_limited";

/// Peers whose buckets are kept at most: the connection limits' incoming peers and the peers a
/// node dials, with room for peers that reconnect.
pub const MAX_RATED_PEERS: usize = 1024;

/// The longest wait a refusal names.
pub const LONGEST_WAIT: Duration = Duration::from_secs(86_400);

/// A sustained rate and the burst a full bucket allows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// What one peer may take of this node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Requests of any kind (each reconciliation step, fetch, summary or announcement).
    pub requests: Rate,
    /// Bytes of the requests it sends.
    pub bytes_received: Rate,
    /// Bytes of the answers it is served.
    pub bytes_served: Rate,
}

/// Requests a peer may make per second, sustained, and at once. An honest first sync of a
/// million reports makes a few requests a second (each fetch brings up to 4 000 entries), and
/// a busy department's announcements a few more; 400 at once covers a burst of announcements
/// after a partition heals.
pub const REQUESTS_PER_SECOND: f64 = 100.0;
pub const REQUESTS_BURST: f64 = 400.0;
/// Bytes of requests a peer may send per second, and at once: a request is at most 640 KiB
/// (`codec::MAX_REQUEST`), so the burst holds a dozen of the largest.
pub const BYTES_RECEIVED_PER_SECOND: f64 = 4.0 * 1024.0 * 1024.0;
pub const BYTES_RECEIVED_BURST: f64 = 8.0 * 1024.0 * 1024.0;
/// Bytes of answers a peer may be served per second, and at once: a quarter of a gigabit link
/// each, so a few peers catching up at once still leave room for the rest; an answer is at
/// most 20 MiB (`protocol::MAX_MESSAGE`), so the burst holds three of the largest. The first
/// full sync measured on the project's 2-core machine moves about 2.5 MB/s (README).
pub const BYTES_SERVED_PER_SECOND: f64 = 32.0 * 1024.0 * 1024.0;
pub const BYTES_SERVED_BURST: f64 = 64.0 * 1024.0 * 1024.0;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            requests: Rate {
                per_second: REQUESTS_PER_SECOND,
                burst: REQUESTS_BURST,
            },
            bytes_received: Rate {
                per_second: BYTES_RECEIVED_PER_SECOND,
                burst: BYTES_RECEIVED_BURST,
            },
            bytes_served: Rate {
                per_second: BYTES_SERVED_PER_SECOND,
                burst: BYTES_SERVED_BURST,
            },
        }
    }
}

/// Where the buckets read the time: the monotonic clock, or one a test moves by hand (so no
/// test waits on the wall clock to see a bucket refill).
#[derive(Debug, Clone)]
pub struct Clock {
    origin: Instant,
    manual: Option<Arc<AtomicU64>>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            origin: Instant::now(),
            manual: None,
        }
    }
}

impl Clock {
    /// A clock that stands still until [`Clock::advance`] moves it.
    pub fn manual() -> Clock {
        Clock {
            origin: Instant::now(),
            manual: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Moves a manual clock (and every clone of it) on; does nothing to the monotonic clock.
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.manual {
            m.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
        }
    }

    /// Milliseconds since the clock was made.
    pub fn now_ms(&self) -> u64 {
        match &self.manual {
            Some(m) => m.load(Ordering::SeqCst),
            None => self.origin.elapsed().as_millis() as u64,
        }
    }
}

/// One token bucket. Tokens may go below zero (a debt) when an answer costs more than is left.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

impl Bucket {
    fn full(rate: Rate, now_ms: u64) -> Bucket {
        Bucket {
            tokens: rate.burst,
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, rate: Rate, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.at_ms) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// How long until the bucket holds `need` tokens (zero when it does now).
    fn wait(&self, rate: Rate, need: f64) -> Duration {
        if self.tokens >= need {
            return Duration::ZERO;
        }
        // At most a day: a rate of nothing (configured so) still names a finite wait.
        if rate.per_second <= 0.0 {
            return LONGEST_WAIT;
        }
        Duration::from_secs_f64(((need - self.tokens) / rate.per_second).min(86_400.0))
    }
}

/// One peer's buckets, and how often it was refused.
#[derive(Debug, Clone, Copy)]
struct PeerBuckets {
    requests: Bucket,
    received: Bucket,
    served: Bucket,
    refused: u64,
    /// Refused since its last admitted request: logged once per spell.
    limited: bool,
    last_ms: u64,
}

/// What [`RateLimits::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Serve it (its request and bytes are charged).
    Yes,
    /// Refuse it with [`RATE_LIMITED`]; `first` when the peer was within its rate until now
    /// (the node logs the first refusal of a spell, not every one).
    Wait { retry_in: Duration, first: bool },
}

/// Every peer's buckets.
#[derive(Debug)]
pub struct RateLimits {
    limits: Limits,
    clock: Clock,
    peers: HashMap<PeerId, PeerBuckets>,
}

impl RateLimits {
    pub fn new(limits: Limits, clock: Clock) -> RateLimits {
        RateLimits {
            limits,
            clock,
            peers: HashMap::new(),
        }
    }

    fn buckets(&mut self, peer: PeerId, now_ms: u64) -> &mut PeerBuckets {
        if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_RATED_PEERS {
            if let Some(idle) = self
                .peers
                .iter()
                .min_by_key(|(_, b)| b.last_ms)
                .map(|(p, _)| *p)
            {
                self.peers.remove(&idle);
            }
        }
        let l = self.limits;
        let b = self.peers.entry(peer).or_insert_with(|| PeerBuckets {
            requests: Bucket::full(l.requests, now_ms),
            received: Bucket::full(l.bytes_received, now_ms),
            served: Bucket::full(l.bytes_served, now_ms),
            refused: 0,
            limited: false,
            last_ms: now_ms,
        });
        b.requests.refill(l.requests, now_ms);
        b.received.refill(l.bytes_received, now_ms);
        b.served.refill(l.bytes_served, now_ms);
        b.last_ms = now_ms;
        b
    }

    /// A request of `bytes` from `peer`: admitted (and charged) when it has a request token
    /// and owes nothing on its byte buckets; else how long until it would be.
    pub fn admit(&mut self, peer: PeerId, bytes: usize) -> Admit {
        let now = self.clock.now_ms();
        let l = self.limits;
        let b = self.buckets(peer, now);
        // Byte buckets need only be out of debt: one request or answer may cost more than a
        // whole burst's worth of a slow rate, and must still get through eventually.
        let wait = b
            .requests
            .wait(l.requests, 1.0)
            .max(b.received.wait(l.bytes_received, f64::MIN_POSITIVE))
            .max(b.served.wait(l.bytes_served, f64::MIN_POSITIVE));
        if wait > Duration::ZERO {
            b.refused += 1;
            let first = !b.limited;
            b.limited = true;
            // At least a millisecond: "retry in 0 ms" would have the peer spin.
            let retry_in = wait.max(Duration::from_millis(1));
            return Admit::Wait { retry_in, first };
        }
        b.limited = false;
        b.requests.tokens -= 1.0;
        b.received.tokens -= bytes as f64;
        Admit::Yes
    }

    /// Charges an answer of `bytes` served to `peer`.
    pub fn served(&mut self, peer: PeerId, bytes: usize) {
        let now = self.clock.now_ms();
        self.buckets(peer, now).served.tokens -= bytes as f64;
    }

    /// Peers refused for their rate since the node started, and how many times.
    pub fn refused(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .peers
            .iter()
            .filter(|(_, b)| b.refused > 0)
            .map(|(p, b)| (p.to_string(), b.refused))
            .collect();
        out.sort();
        out
    }
}

/// The refusal a peer over its rate is sent: the stable code, then how long to wait.
pub fn refusal(retry_in: Duration) -> String {
    format!(
        "{RATE_LIMITED}: retry in {} ms",
        retry_in.as_millis().max(1)
    )
}

/// How long a peer's refusal asks this node to wait, when it is one for going over a rate.
pub fn retry_in(reason: &str) -> Option<Duration> {
    let ms = reason
        .strip_prefix(RATE_LIMITED)?
        .strip_prefix(": retry in ")?
        .strip_suffix(" ms")?;
    ms.parse::<u64>().ok().map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tight(requests: Rate, received: Rate, served: Rate) -> (RateLimits, Clock) {
        let clock = Clock::manual();
        let limits = Limits {
            requests,
            bytes_received: received,
            bytes_served: served,
        };
        (RateLimits::new(limits, clock.clone()), clock)
    }

    const PLENTY: Rate = Rate {
        per_second: 1e12,
        burst: 1e12,
    };

    #[test]
    fn a_peer_gets_its_burst_then_waits_for_the_refill_by_the_clock() {
        let rate = Rate {
            per_second: 2.0,
            burst: 5.0,
        };
        let (mut limits, clock) = tight(rate, PLENTY, PLENTY);
        let peer = PeerId::random();
        let admitted = (0..20)
            .filter(|_| limits.admit(peer, 100) == Admit::Yes)
            .count();
        assert_eq!(admitted, 5);
        // Empty: the wait is one token at 2 a second, and only the first refusal is "first".
        let Admit::Wait { retry_in, first } = limits.admit(peer, 100) else {
            panic!("admitted past the burst");
        };
        assert_eq!((retry_in, first), (Duration::from_millis(500), false));
        // Another peer is not held to this one's rate.
        assert_eq!(limits.admit(PeerId::random(), 100), Admit::Yes);
        clock.advance(Duration::from_millis(499));
        assert!(matches!(limits.admit(peer, 100), Admit::Wait { .. }));
        clock.advance(Duration::from_millis(1));
        assert_eq!(limits.admit(peer, 100), Admit::Yes);
        assert!(matches!(limits.admit(peer, 100), Admit::Wait { .. }));
        // A long idle refills to the burst, no further.
        clock.advance(Duration::from_secs(3600));
        let admitted = (0..20)
            .filter(|_| limits.admit(peer, 100) == Admit::Yes)
            .count();
        assert_eq!(admitted, 5);
        assert_eq!(limits.refused(), vec![(peer.to_string(), 33)]);
    }

    #[test]
    fn an_answer_past_the_byte_budget_is_a_debt_paid_before_the_next_request() {
        let served = Rate {
            per_second: 1000.0,
            burst: 1000.0,
        };
        let (mut limits, clock) = tight(PLENTY, PLENTY, served);
        let peer = PeerId::random();
        assert_eq!(limits.admit(peer, 10), Admit::Yes);
        // A 4 000-byte answer is served whole, leaving a debt of 3 000 bytes: 3 s to pay.
        limits.served(peer, 4000);
        assert_eq!(
            limits.admit(peer, 10),
            Admit::Wait {
                retry_in: Duration::from_secs(3),
                first: true
            }
        );
        clock.advance(Duration::from_millis(2999));
        assert!(matches!(
            limits.admit(peer, 10),
            Admit::Wait { first: false, .. }
        ));
        clock.advance(Duration::from_millis(2));
        assert_eq!(limits.admit(peer, 10), Admit::Yes);
    }

    #[test]
    fn request_bytes_are_charged_to_their_own_bucket() {
        let received = Rate {
            per_second: 100.0,
            burst: 1000.0,
        };
        let (mut limits, clock) = tight(PLENTY, received, PLENTY);
        let peer = PeerId::random();
        assert_eq!(limits.admit(peer, 600), Admit::Yes);
        assert_eq!(limits.admit(peer, 600), Admit::Yes);
        // 200 bytes owed at 100 a second.
        assert_eq!(
            limits.admit(peer, 1),
            Admit::Wait {
                retry_in: Duration::from_secs(2),
                first: true
            }
        );
        clock.advance(Duration::from_millis(2001));
        assert_eq!(limits.admit(peer, 1), Admit::Yes);
    }

    #[test]
    fn the_peers_kept_are_bounded_and_the_longest_idle_goes_first() {
        let rate = Rate {
            per_second: 0.0,
            burst: 1.0,
        };
        let (mut limits, clock) = tight(rate, PLENTY, PLENTY);
        let first = PeerId::random();
        assert_eq!(limits.admit(first, 1), Admit::Yes);
        // With no refill at all, the wait is bounded rather than forever.
        assert!(matches!(
            limits.admit(first, 1),
            Admit::Wait { retry_in, .. } if retry_in == LONGEST_WAIT
        ));
        for _ in 0..MAX_RATED_PEERS {
            clock.advance(Duration::from_millis(1));
            assert_eq!(limits.admit(PeerId::random(), 1), Admit::Yes);
        }
        assert_eq!(limits.peers.len(), MAX_RATED_PEERS);
        // `first` was the longest idle: forgotten, so it starts again with a full bucket.
        assert_eq!(limits.admit(first, 1), Admit::Yes);
        assert_eq!(limits.peers.len(), MAX_RATED_PEERS);
    }

    #[test]
    fn a_refusal_names_its_code_and_wait_and_reads_back() {
        let text = refusal(Duration::from_millis(1500));
        assert_eq!(text, "rate_limited: retry in 1500 ms");
        assert_eq!(retry_in(&text), Some(Duration::from_millis(1500)));
        assert_eq!(retry_in("cut off: rate_limited: retry in 5 ms"), None);
        assert_eq!(retry_in("not a member of this department's roster"), None);
        assert_eq!(refusal(Duration::ZERO), "rate_limited: retry in 1 ms");
    }
}
