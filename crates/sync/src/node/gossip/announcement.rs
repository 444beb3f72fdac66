//! What an announcement carries and its wire form: the logs it names with their heads and fork
//! counts, how they are split into messages within the bounds, the strict encoding (every
//! count checked before anything is read for it, one encoding per message) and the fuzz
//! target's invariants. Apart because it is pure, bytes in and bytes out: no node, no swarm,
//! no ledger (the bounds it checks are the parent module's, which size the rest of gossip).

use countersign_ledger::{EntryId, Hash, LogId};

use super::{MAX_ENCODED, MAX_HEADS, MAX_HEADS_PER_LOG, MAX_LOGS, VERSION};

/// One log named in an announcement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub log: LogId,
    /// Fork evidence held for the log.
    pub forks: u32,
    /// Its heads, ascending; empty when it has more than [`MAX_HEADS_PER_LOG`] (the receiver
    /// compares the log with the sender).
    pub heads: Vec<EntryId>,
}

impl Announced {
    /// `log` with `heads` in the encoding's order (none given past the per-log bound).
    pub fn new(log: LogId, forks: u32, mut heads: Vec<EntryId>) -> Announced {
        heads.sort();
        heads.dedup();
        if heads.len() > MAX_HEADS_PER_LOG {
            heads.clear();
        }
        Announced { log, forks, heads }
    }
}

/// What one gossip message says: "these logs have these heads here". No logs: "much changed
/// here, reconcile with me".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Announcement {
    /// Ascending by log id, each once.
    pub logs: Vec<Announced>,
}

/// Why bytes are not an announcement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GossipDecodeError {
    #[error("announcement truncated")]
    Truncated,
    #[error("announcement version {0} is not {VERSION}")]
    Version(u8),
    #[error("{what}: {count} exceeds the limit of {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{0} are not in ascending order")]
    Unordered(&'static str),
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
}

impl Announcement {
    /// Splits `logs` into messages within the bounds, each in the encoding's order.
    pub fn split(mut logs: Vec<Announced>) -> Vec<Announcement> {
        logs.sort_by_key(|a| a.log);
        logs.dedup_by_key(|a| a.log);
        let mut out = Vec::new();
        let mut current = Announcement::default();
        let mut heads = 0;
        for a in logs {
            if current.logs.len() == MAX_LOGS || heads + a.heads.len() > MAX_HEADS {
                out.push(std::mem::take(&mut current));
                heads = 0;
            }
            heads += a.heads.len();
            current.logs.push(a);
        }
        if !current.logs.is_empty() {
            out.push(current);
        }
        out
    }

    /// ```text
    /// version:u8 (1)  n:u16 (0 ≤ n ≤ 1024; 0: every log)
    /// n × ( log[32]  forks:u32  h:u8 (≤ 16)  head[32] × h )   logs and heads ascending,
    ///                                                          at most 1024 heads in all
    /// ```
    pub fn encode(&self) -> Vec<u8> {
        let heads: usize = self.logs.iter().map(|a| a.heads.len()).sum();
        let mut out = Vec::with_capacity(3 + self.logs.len() * 37 + heads * 32);
        out.push(VERSION);
        out.extend_from_slice(&(self.logs.len() as u16).to_be_bytes());
        for a in &self.logs {
            out.extend_from_slice(a.log.as_bytes());
            out.extend_from_slice(&a.forks.to_be_bytes());
            out.push(a.heads.len() as u8);
            for h in &a.heads {
                out.extend_from_slice(h.as_bytes());
            }
        }
        out
    }

    /// Strict: every count checked against its bound before anything is read for it, logs and
    /// heads ascending (so one encoding each), every byte consumed.
    pub fn decode(bytes: &[u8]) -> Result<Announcement, GossipDecodeError> {
        if bytes.len() > MAX_ENCODED {
            return Err(GossipDecodeError::TooMany {
                what: "bytes",
                count: bytes.len(),
                max: MAX_ENCODED,
            });
        }
        let mut reader = Reader(bytes);
        let mut take = |n: usize| reader.take(n);
        let version = take(1)?[0];
        if version != VERSION {
            return Err(GossipDecodeError::Version(version));
        }
        let n = take(2)?;
        let n = usize::from(u16::from_be_bytes([n[0], n[1]]));
        if n > MAX_LOGS {
            return Err(GossipDecodeError::TooMany {
                what: "logs",
                count: n,
                max: MAX_LOGS,
            });
        }
        let hash = |b: &[u8]| Hash(b.try_into().expect("32 bytes taken"));
        let mut logs: Vec<Announced> = Vec::with_capacity(n);
        let mut total = 0usize;
        for _ in 0..n {
            let log = hash(take(32)?);
            if logs.last().is_some_and(|l| l.log >= log) {
                return Err(GossipDecodeError::Unordered("logs"));
            }
            let f = take(4)?;
            let forks = u32::from_be_bytes([f[0], f[1], f[2], f[3]]);
            let h = usize::from(take(1)?[0]);
            if h > MAX_HEADS_PER_LOG {
                return Err(GossipDecodeError::TooMany {
                    what: "heads of a log",
                    count: h,
                    max: MAX_HEADS_PER_LOG,
                });
            }
            total += h;
            if total > MAX_HEADS {
                return Err(GossipDecodeError::TooMany {
                    what: "heads",
                    count: total,
                    max: MAX_HEADS,
                });
            }
            let mut heads: Vec<EntryId> = Vec::with_capacity(h);
            for _ in 0..h {
                let head = hash(take(32)?);
                if heads.last().is_some_and(|p| *p >= head) {
                    return Err(GossipDecodeError::Unordered("heads"));
                }
                heads.push(head);
            }
            logs.push(Announced { log, forks, heads });
        }
        if !reader.0.is_empty() {
            return Err(GossipDecodeError::TrailingBytes(reader.0.len()));
        }
        Ok(Announcement { logs })
    }
}

/// A cursor that never reads past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], GossipDecodeError> {
        if self.0.len() < n {
            return Err(GossipDecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
}

/// The fuzz target's invariants (`fuzz/fuzz_targets/gossip_decode.rs`, replayed by the
/// integration tests): decoding never panics, never reads past its bounds, and what decodes
/// has exactly one encoding.
pub fn fuzz_check(data: &[u8]) {
    if let Ok(a) = Announcement::decode(data) {
        assert!(data.len() <= MAX_ENCODED);
        assert!(a.logs.len() <= MAX_LOGS);
        assert!(a.logs.iter().map(|l| l.heads.len()).sum::<usize>() <= MAX_HEADS);
        assert_eq!(
            a.encode(),
            data,
            "a decoded announcement re-encodes to its bytes"
        );
    }
}
