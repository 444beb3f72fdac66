//! The messages of `/countersign/sync/5` and their strict, bounded binary encoding.
//!
//! ```text
//! frame     u32 BE length (at most MAX_MESSAGE) then that many bytes: one message
//! message   0x00 body                          (the sender runs as its member key)
//!           0x01 delegation[161] body          (the sender runs under a node delegation:
//!                                              `countersign_ledger::delegation`, 161 bytes)
//! body, a request
//!           0x01 Summary   network[32] n:u16 log[32]×n   (1 ≤ n ≤ MAX_ANNOUNCED)
//!           0x02 Fetch     network[32] log[32] n:u16 (author[32] seq:u64)×n limit:u32
//!           0x03 Announce  network[32] n:u16 log[32]×n     (n = 0: every log)
//!           0x04 Reconcile network[32] from:u64 base[32] len:u32 message
//!                          (Negentropy over the items from epoch `from`, len ≤ MAX_RECONCILE;
//!                          `base`: the sender's digest of the items before it)
//!           0x05 FetchIds  network[32] n:u16 id[32]×n     (1 ≤ n ≤ MAX_FETCH_IDS)
//!           0x06 Keys      network[32] n:u16 log[32]×n    (1 ≤ n ≤ MAX_KEY_REQUEST: the
//!                          sealed reports the sender holds without their data key)
//! body, a response
//!           0x81 Summary   n:u32 (log[32] a:u16 (author[32] seq:u64)×a h:u16 head[32]×h
//!                           forks:u32 c:u16 checkpoint[c])×n   (c = 0: no checkpoint)
//!           0x82 Entries   more:u8 len:u32 bundle (the `CSBUNDL1` framing, at most MAX_BATCH records;
//!                          `CSBUNDL2` when it carries the data keys of its reports, one per log)
//!                          [n:u16 (len:u16 evidence)×n]   (split-view evidence asked for by id,
//!                          1 ≤ n ≤ MAX_EVIDENCE, each at most MAX_SPLIT_VIEW_LEN; absent when none)
//!           0x83 Ack       stored:u64
//!           0x84 Refused   len:u16 reason (UTF-8)
//!           0x85 Reconcile base_matches:u8 len:u32 message   (no message when the bases differ)
//!           0x86 Keys      n:u16 (log[32] key[32])×n      (0 ≤ n ≤ MAX_KEY_REQUEST: the keys
//!                          asked for that the server holds and the asker may read)
//! ```
//!
//! **Delegations.** A home whose key never leaves its token runs its node under a node key made
//! in memory for that process, and attaches the member's signed delegation to that node key
//! to every request and response it sends ([`Envelope`]); a node running as its member key
//! attaches none. The receiver checks the delegation against the key the peer proved in its
//! handshake (see `crate::node`). The delegation is decoded strictly here (exactly
//! [`DELEGATION_LEN`] bytes, valid keys); its signature is checked by the node.
//!
//! Every message is bounded in bytes: a request by [`crate::codec::MAX_REQUEST`] (640 KiB), a
//! response by [`MAX_MESSAGE`] (20 MiB: one batch of at most [`MAX_BATCH_BYTES`] plus one
//! entry of the largest payload). The envelope adds at most [`MAX_ENVELOPE`] (162) bytes, within
//! both. A reconcile message is at most [`MAX_RECONCILE`], a summary
//! answers at most [`MAX_ANNOUNCED`] logs in at most [`MAX_SUMMARY_BYTES`] (the server leaves
//! out the logs past it; the next whole pull, which reconciles every entry, takes them),
//! and a fetch by id names at most [`MAX_FETCH_IDS`] ids (its answer is one batch: at most [`MAX_BATCH`] records).
//! A key request names at most [`MAX_KEY_REQUEST`] (256) logs, 8 KiB; its answer holds at most
//! as many keys, [`MAX_KEYS_BYTES`] (16 KiB and 3 bytes) — a home lacking more keys asks
//! again in its next whole pull.
//!
//! **Keys.** A report's data key travels beside its payloads (`CSBUNDL2` batches), so a home
//! that got the ciphertext without the key (a `--no-keys` bundle, or entries from a peer that
//! did not hold the key yet) would never be sent it: reconciliation finds no entry missing.
//! At the end of a whole pull such a home asks the peer for the keys it lacks ([`Request::Keys`]);
//! the peer answers with the keys it holds of the logs that member may read
//! ([`Response::Keys`]), and the asker takes each only if it opens the report's sealed
//! `report.create` it holds.
//!
//! Every count is checked against its bound before anything is allocated, every byte is
//! consumed, and a decoded message re-encodes to the same bytes.

use countersign_ledger::bundle;
use countersign_ledger::checkpoint::MAX_CHECKPOINT_LEN;
use countersign_ledger::delegation::{DelegationError, NodeDelegation, DELEGATION_LEN};
use countersign_ledger::split_view::MAX_SPLIT_VIEW_LEN;
use countersign_ledger::{DataKey, EntryId, Hash, LogId, NetworkId, PublicKey};

/// The protocol's name; a new wire format gets a new version (5: key requests; 4: the envelope and its
/// optional node delegation).
pub const PROTOCOL: &str = "/countersign/sync/5";
/// The bytes an envelope adds to a body at most: its flag and a delegation.
pub const MAX_ENVELOPE: usize = 1 + DELEGATION_LEN;
/// The largest message: one entry's largest payload (16 MiB) with room for its header.
pub const MAX_MESSAGE: usize = 20 * 1024 * 1024;
/// Logs in one summary: the logs one request names.
pub const MAX_LOGS: usize = MAX_ANNOUNCED;
/// A summary answer is cut once its logs take this many bytes (at least one log is always
/// answered; one log is at most about 300 KiB). A summary only follows an announcement:
/// logs left out arrive with the next whole pull.
pub const MAX_SUMMARY_BYTES: usize = 4 * 1024 * 1024;
/// The largest reconciliation message: the frame limit the sender keeps to
/// ([`crate::reconcile::FRAME_LIMIT`]) and room for the one range it may add past it.
pub const MAX_RECONCILE: usize = 512 * 1024;
/// Entry ids in one fetch by id (512 KiB of ids): about one reconciliation step's worth. The
/// server answers with those it holds in its own arrival order (a causal order), as many as
/// one batch takes, and says `more`; the puller asks again for the rest. So a new home takes
/// a report's entries after the entries they build on, whatever order the ids were listed in.
pub const MAX_FETCH_IDS: usize = 16_384;
/// Authors of one log in a version vector.
pub const MAX_AUTHORS: usize = 4096;
/// Heads of one log.
pub const MAX_HEADS: usize = 4096;
/// Records in one batch of entries.
pub const MAX_BATCH: usize = 4000;
/// Pieces of split-view evidence in one batch (each at most 4.4 KiB: 280 KiB in all).
pub const MAX_EVIDENCE: usize = 64;
/// A batch is cut once its entries reach this many bytes (at least one entry is always sent,
/// and one entry is at most 16 MiB of payload), so every batch fits in [`MAX_MESSAGE`].
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// What the data keys of one batch add at most: one per log of its records, each its log's id
/// and the key (see `countersign_ledger::bundle`). Beside [`MAX_BATCH_BYTES`] (or one entry of
/// the largest payload) it stays within [`MAX_MESSAGE`].
pub const MAX_BATCH_KEY_BYTES: usize = MAX_BATCH * countersign_ledger::bundle::KEY_RECORD_LEN;
const _: () = assert!(MAX_BATCH_BYTES + MAX_BATCH_KEY_BYTES + 12 < MAX_MESSAGE);

/// Logs named in one key request, and keys in its answer, at most. A home lacking more keys
/// asks for the next ones in a later whole pull.
pub const MAX_KEY_REQUEST: usize = 256;
/// The largest answer to a key request: its tag, count, and [`MAX_KEY_REQUEST`] log ids and
/// keys.
pub const MAX_KEYS_BYTES: usize = 3 + MAX_KEY_REQUEST * countersign_ledger::bundle::KEY_RECORD_LEN;

/// Logs named in one announcement.
pub const MAX_ANNOUNCED: usize = 1024;
/// Longest refusal reason, in bytes.
pub const MAX_REASON: usize = 1000;

/// How far each author has got in one log: author → highest sequence held.
pub type VersionVector = Vec<(PublicKey, u64)>;

/// One log as a peer holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSummary {
    pub log: LogId,
    pub authors: VersionVector,
    pub heads: Vec<EntryId>,
    /// Fork evidence held for this log (equivocations: two entries at one author's position).
    pub forks: u32,
    /// The sender's signed claim about these heads (`countersign_ledger::checkpoint`), carried
    /// as bytes and checked by the ledger; never empty when present.
    pub checkpoint: Option<Vec<u8>>,
}

impl LogSummary {
    /// Its bytes in a summary answer (see the module's grammar).
    pub fn encoded_len(&self) -> usize {
        32 + 2
            + 40 * self.authors.len().min(MAX_AUTHORS)
            + 2
            + 32 * self.heads.len().min(MAX_HEADS)
            + 4
            + 2
            + self.checkpoint.as_ref().map_or(0, Vec::len)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// "Which of these logs (none named: all) do you hold, and how far?"
    Summary {
        network: NetworkId,
        logs: Vec<LogId>,
    },
    /// "Send me the entries of `log` beyond `have`, at most `limit`."
    Fetch {
        network: NetworkId,
        log: LogId,
        have: VersionVector,
        limit: u32,
    },
    /// "These logs (none named: every log) have new heads here": the receiver pulls them,
    /// then answers with what it stored.
    Announce {
        network: NetworkId,
        logs: Vec<LogId>,
    },
    /// One step of set reconciliation (see [`crate::reconcile`]): the server answers with its
    /// own step.
    Reconcile {
        network: NetworkId,
        /// The epoch the window starts at (0: every item; see [`crate::reconcile`]).
        from: u64,
        /// The sender's digest of its items keyed before `from`.
        base: Hash,
        message: Vec<u8>,
    },
    /// "Send me these entries (or fork evidence) by id", answered in the server's arrival
    /// order within the batch budget; `more` when some it holds were left out for it.
    FetchIds {
        network: NetworkId,
        ids: Vec<EntryId>,
    },
    /// "Send me the data keys of these sealed reports, which I hold without their key":
    /// answered with [`Response::Keys`].
    Keys {
        network: NetworkId,
        logs: Vec<LogId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Summary {
        logs: Vec<LogSummary>,
    },
    /// A bundle of entries in arrival order (parents first); `more` when the batch was cut.
    /// A fetch by id is also answered with the split-view evidence asked for (encoded
    /// [`countersign_ledger::split_view::SplitViewEvidence`], checked by the receiver).
    Entries {
        more: bool,
        bundle: Vec<u8>,
        evidence: Vec<Vec<u8>>,
    },
    Ack {
        stored: u64,
    },
    /// The server's step of set reconciliation; `base_matches` false (and no step) when the
    /// items before the window differ, and the puller must reconcile them all.
    Reconcile {
        base_matches: bool,
        message: Vec<u8>,
    },
    /// Not served, and why (not on the roster, another network, ...).
    Refused {
        reason: String,
    },
    /// The data keys asked for that the server holds, of the logs the asker may read (none:
    /// an empty list). The key bytes are redacted in `Debug` and zeroized on drop.
    Keys {
        keys: Vec<(LogId, DataKey)>,
    },
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message truncated")]
    Truncated,
    #[error("unknown message tag {0:#04x}")]
    UnknownTag(u8),
    #[error("{what}: {count} exceeds the limit of {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{0} trailing bytes")]
    TrailingBytes(usize),
    #[error("author key is not a valid ed25519 key")]
    BadKey,
    #[error("a flag byte is {0}, neither 0 nor 1")]
    BadFlag(u8),
    #[error("the refusal reason is not UTF-8")]
    NotUtf8,
    #[error("the entries are not a bundle: {0}")]
    BadBundle(#[from] bundle::BundleError),
    #[error("the node delegation is malformed: {0}")]
    BadDelegation(DelegationError),
}

/// A cursor that never reads past its end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<usize, DecodeError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(a))
    }
    fn hash(&mut self) -> Result<Hash, DecodeError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        Ok(Hash(a))
    }
    fn key(&mut self) -> Result<PublicKey, DecodeError> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.take(32)?);
        PublicKey::from_bytes(&a).map_err(|_| DecodeError::BadKey)
    }
    /// A count, refused beyond `max` before anything is allocated for it; also refused when
    /// fewer bytes remain than `min_each` per item.
    fn count(
        &mut self,
        n: usize,
        what: &'static str,
        max: usize,
        min_each: usize,
    ) -> Result<usize, DecodeError> {
        if n > max {
            return Err(DecodeError::TooMany {
                what,
                count: n,
                max,
            });
        }
        if n.saturating_mul(min_each) > self.0.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }
    fn vector(&mut self) -> Result<VersionVector, DecodeError> {
        let n = self.u16()?;
        let n = self.count(n, "authors", MAX_AUTHORS, 40)?;
        (0..n).map(|_| Ok((self.key()?, self.u64()?))).collect()
    }
    fn hashes(
        &mut self,
        n: usize,
        what: &'static str,
        max: usize,
    ) -> Result<Vec<Hash>, DecodeError> {
        let n = self.count(n, what, max, 32)?;
        (0..n).map(|_| self.hash()).collect()
    }
    /// A u32 length, refused beyond `max`, then that many bytes.
    fn bytes_u32(&mut self, what: &'static str, max: usize) -> Result<Vec<u8>, DecodeError> {
        let n = self.u32()? as usize;
        let n = self.count(n, what, max, 1)?;
        Ok(self.take(n)?.to_vec())
    }
    fn finish(self) -> Result<(), DecodeError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

fn put_vector(out: &mut Vec<u8>, v: &VersionVector) {
    out.extend_from_slice(&(v.len().min(MAX_AUTHORS) as u16).to_be_bytes());
    for (key, seq) in v.iter().take(MAX_AUTHORS) {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(&seq.to_be_bytes());
    }
}

/// Bytes beyond `max` are cut, so whatever is encoded decodes (the sender keeps to `max`).
fn put_bytes_u32(out: &mut Vec<u8>, bytes: &[u8], max: usize) {
    let n = bytes.len().min(max);
    out.extend_from_slice(&(n as u32).to_be_bytes());
    out.extend_from_slice(&bytes[..n]);
}

fn put_hashes_u16(out: &mut Vec<u8>, hashes: &[Hash], max: usize) {
    let n = hashes.len().min(max);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for h in &hashes[..n] {
        out.extend_from_slice(h.as_bytes());
    }
}

impl Request {
    /// Its bytes on the wire ([`Request::encode`]'s length, without encoding it): what a
    /// peer's request costs its rate (`node::limits`).
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::Summary { logs, .. } | Request::Announce { logs, .. } => {
                35 + 32 * logs.len().min(MAX_ANNOUNCED)
            }
            Request::Fetch { have, .. } => 71 + 40 * have.len().min(MAX_AUTHORS),
            Request::Reconcile { message, .. } => 77 + message.len().min(MAX_RECONCILE),
            Request::FetchIds { ids, .. } => 35 + 32 * ids.len().min(MAX_FETCH_IDS),
            Request::Keys { logs, .. } => 35 + 32 * logs.len().min(MAX_KEY_REQUEST),
        }
    }

    /// The message bytes (without the frame length). Lists beyond their bounds are cut to
    /// them, so whatever is encoded decodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Request::Summary { network, logs } => {
                out.push(0x01);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, logs, MAX_ANNOUNCED);
            }
            Request::Fetch {
                network,
                log,
                have,
                limit,
            } => {
                out.push(0x02);
                out.extend_from_slice(network.as_bytes());
                out.extend_from_slice(log.as_bytes());
                put_vector(&mut out, have);
                out.extend_from_slice(&limit.to_be_bytes());
            }
            Request::Announce { network, logs } => {
                out.push(0x03);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, logs, MAX_ANNOUNCED);
            }
            Request::Reconcile {
                network,
                from,
                base,
                message,
            } => {
                out.push(0x04);
                out.extend_from_slice(network.as_bytes());
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(base.as_bytes());
                put_bytes_u32(&mut out, message, MAX_RECONCILE);
            }
            Request::FetchIds { network, ids } => {
                out.push(0x05);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, ids, MAX_FETCH_IDS);
            }
            Request::Keys { network, logs } => {
                out.push(0x06);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, logs, MAX_KEY_REQUEST);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader(bytes);
        let request = match r.u8()? {
            0x01 => {
                let network = r.hash()?;
                let n = r.u16()?;
                if n == 0 {
                    return Err(DecodeError::Empty("a summary request"));
                }
                Request::Summary {
                    network,
                    logs: r.hashes(n, "logs asked about", MAX_ANNOUNCED)?,
                }
            }
            0x02 => Request::Fetch {
                network: r.hash()?,
                log: r.hash()?,
                have: r.vector()?,
                limit: r.u32()?,
            },
            0x03 => {
                let network = r.hash()?;
                let n = r.u16()?;
                Request::Announce {
                    network,
                    logs: r.hashes(n, "announced logs", MAX_ANNOUNCED)?,
                }
            }
            0x04 => Request::Reconcile {
                network: r.hash()?,
                from: r.u64()?,
                base: r.hash()?,
                message: r.bytes_u32("reconcile message", MAX_RECONCILE)?,
            },
            0x05 => {
                let network = r.hash()?;
                let n = r.u16()?;
                if n == 0 {
                    return Err(DecodeError::Empty("a fetch by id"));
                }
                Request::FetchIds {
                    network,
                    ids: r.hashes(n, "ids to fetch", MAX_FETCH_IDS)?,
                }
            }
            0x06 => {
                let network = r.hash()?;
                let n = r.u16()?;
                if n == 0 {
                    return Err(DecodeError::Empty("a key request"));
                }
                Request::Keys {
                    network,
                    logs: r.hashes(n, "logs whose keys are asked for", MAX_KEY_REQUEST)?,
                }
            }
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(request)
    }
}

impl Response {
    /// Its bytes on the wire ([`Response::encode`]'s length, without encoding it): what an
    /// answer costs the rate of the peer it is served to (`node::limits`).
    pub fn encoded_len(&self) -> usize {
        match self {
            Response::Summary { logs } => {
                5 + logs
                    .iter()
                    .take(MAX_LOGS)
                    .map(|l| {
                        let c = l
                            .checkpoint
                            .as_ref()
                            .filter(|c| c.len() <= MAX_CHECKPOINT_LEN)
                            .map_or(0, Vec::len);
                        l.encoded_len() - l.checkpoint.as_ref().map_or(0, Vec::len) + c
                    })
                    .sum::<usize>()
            }
            Response::Entries {
                bundle, evidence, ..
            } => {
                let pieces = evidence
                    .iter()
                    .filter(|e| !e.is_empty() && e.len() <= MAX_SPLIT_VIEW_LEN)
                    .take(MAX_EVIDENCE);
                let (n, bytes) = pieces.fold((0, 0), |(n, b), e| (n + 1, b + 2 + e.len()));
                6 + bundle.len() + if n > 0 { 2 + bytes } else { 0 }
            }
            Response::Ack { .. } => 9,
            Response::Reconcile { message, .. } => 6 + message.len().min(MAX_RECONCILE),
            Response::Refused { reason } => 3 + reason.len().min(MAX_REASON),
            Response::Keys { keys } => {
                3 + countersign_ledger::bundle::KEY_RECORD_LEN * keys.len().min(MAX_KEY_REQUEST)
            }
        }
    }

    /// The message bytes (without the frame length).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Response::Summary { logs } => {
                out.push(0x81);
                let n = logs.len().min(MAX_LOGS);
                out.extend_from_slice(&(n as u32).to_be_bytes());
                for l in &logs[..n] {
                    out.extend_from_slice(l.log.as_bytes());
                    put_vector(&mut out, &l.authors);
                    put_hashes_u16(&mut out, &l.heads, MAX_HEADS);
                    out.extend_from_slice(&l.forks.to_be_bytes());
                    // One too long to decode is left out rather than sent.
                    let c = l
                        .checkpoint
                        .as_deref()
                        .filter(|c| c.len() <= MAX_CHECKPOINT_LEN)
                        .unwrap_or_default();
                    out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                    out.extend_from_slice(c);
                }
            }
            Response::Entries {
                more,
                bundle,
                evidence,
            } => {
                out.push(0x82);
                out.push(u8::from(*more));
                out.extend_from_slice(&(bundle.len() as u32).to_be_bytes());
                out.extend_from_slice(bundle);
                // Pieces too long to decode are left out rather than sent.
                let evidence: Vec<&Vec<u8>> = evidence
                    .iter()
                    .filter(|e| !e.is_empty() && e.len() <= MAX_SPLIT_VIEW_LEN)
                    .take(MAX_EVIDENCE)
                    .collect();
                if !evidence.is_empty() {
                    out.extend_from_slice(&(evidence.len() as u16).to_be_bytes());
                    for e in evidence {
                        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
                        out.extend_from_slice(e);
                    }
                }
            }
            Response::Ack { stored } => {
                out.push(0x83);
                out.extend_from_slice(&stored.to_be_bytes());
            }
            Response::Reconcile {
                base_matches,
                message,
            } => {
                out.push(0x85);
                out.push(u8::from(*base_matches));
                put_bytes_u32(&mut out, message, MAX_RECONCILE);
            }
            Response::Refused { reason } => {
                out.push(0x84);
                let mut end = reason.len().min(MAX_REASON);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                out.extend_from_slice(&(end as u16).to_be_bytes());
                out.extend_from_slice(&reason.as_bytes()[..end]);
            }
            Response::Keys { keys } => {
                out.push(0x86);
                let n = keys.len().min(MAX_KEY_REQUEST);
                out.extend_from_slice(&(n as u16).to_be_bytes());
                for (log, key) in &keys[..n] {
                    out.extend_from_slice(log.as_bytes());
                    out.extend_from_slice(key.as_bytes());
                }
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Reader(bytes);
        let response = match r.u8()? {
            0x81 => {
                let n = r.u32()? as usize;
                // Each log takes at least 42 bytes (id, two empty counts, the fork count, an
                // empty checkpoint).
                let n = r.count(n, "logs", MAX_LOGS, 42)?;
                let logs = (0..n)
                    .map(|_| {
                        let log = r.hash()?;
                        let authors = r.vector()?;
                        let h = r.u16()?;
                        let heads = r.hashes(h, "heads", MAX_HEADS)?;
                        let forks = r.u32()?;
                        let c = r.u16()?;
                        let c = r.count(c, "checkpoint bytes", MAX_CHECKPOINT_LEN, 1)?;
                        let checkpoint =
                            (c > 0).then(|| r.take(c)).transpose()?.map(<[u8]>::to_vec);
                        Ok(LogSummary {
                            log,
                            authors,
                            heads,
                            forks,
                            checkpoint,
                        })
                    })
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Response::Summary { logs }
            }
            0x82 => {
                let more = match r.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::BadFlag(other)),
                };
                let len = r.u32()? as usize;
                let bytes = r.take(len)?;
                // Framed in place to count it: a batch is only copied once, whole.
                let (keys, records) = bundle::frame_keyed(bytes)?;
                if records.len() > MAX_BATCH {
                    return Err(DecodeError::TooMany {
                        what: "records",
                        count: records.len(),
                        max: MAX_BATCH,
                    });
                }
                // At most one data key per record's log.
                if keys.len() > records.len() {
                    return Err(DecodeError::TooMany {
                        what: "data keys",
                        count: keys.len(),
                        max: records.len(),
                    });
                }
                // Evidence only when there is some: one encoding per message.
                let evidence = if r.0.is_empty() {
                    Vec::new()
                } else {
                    let n = r.u16()?;
                    if n == 0 {
                        return Err(DecodeError::Empty("split-view evidence"));
                    }
                    let n = r.count(n, "pieces of split-view evidence", MAX_EVIDENCE, 3)?;
                    (0..n)
                        .map(|_| {
                            let len = r.u16()?;
                            let len = r.count(len, "evidence bytes", MAX_SPLIT_VIEW_LEN, 1)?;
                            if len == 0 {
                                return Err(DecodeError::Empty("split-view evidence"));
                            }
                            Ok(r.take(len)?.to_vec())
                        })
                        .collect::<Result<Vec<_>, DecodeError>>()?
                };
                Response::Entries {
                    more,
                    bundle: bytes.to_vec(),
                    evidence,
                }
            }
            0x83 => Response::Ack { stored: r.u64()? },
            0x85 => Response::Reconcile {
                base_matches: match r.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::BadFlag(other)),
                },
                message: r.bytes_u32("reconcile message", MAX_RECONCILE)?,
            },
            0x84 => {
                let n = r.u16()?;
                let n = r.count(n, "reason bytes", MAX_REASON, 1)?;
                let reason = std::str::from_utf8(r.take(n)?)
                    .map_err(|_| DecodeError::NotUtf8)?
                    .to_string();
                Response::Refused { reason }
            }
            0x86 => {
                let n = r.u16()?;
                let n = r.count(
                    n,
                    "data keys",
                    MAX_KEY_REQUEST,
                    countersign_ledger::bundle::KEY_RECORD_LEN,
                )?;
                let keys = (0..n)
                    .map(|_| {
                        let log = r.hash()?;
                        let key = DataKey::from_slice(r.take(countersign_ledger::DATA_KEY_LEN)?)
                            .ok_or(DecodeError::Truncated)?;
                        Ok((log, key))
                    })
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Response::Keys { keys }
            }
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(response)
    }
}

/// A message on the wire: its body, and the node delegation its sender runs under, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<T> {
    pub delegation: Option<NodeDelegation>,
    pub body: T,
}

/// What an envelope can carry.
pub trait Body: Sized {
    fn encode_into(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl Body for Request {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.encode());
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Request::decode(bytes)
    }
}

impl Body for Response {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.encode());
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Response::decode(bytes)
    }
}

impl<T: Body> Envelope<T> {
    /// `body` as a node running as its member key sends it.
    pub fn plain(body: T) -> Envelope<T> {
        Envelope {
            delegation: None,
            body,
        }
    }

    /// The message bytes (without the frame length).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.delegation {
            None => out.push(0x00),
            Some(d) => {
                out.push(0x01);
                out.extend_from_slice(&d.encode());
            }
        }
        self.body.encode_into(&mut out);
        out
    }

    /// Strict: the flag is 0 or 1, a delegation is exactly [`DELEGATION_LEN`] bytes that decode,
    /// and the body takes every byte after it.
    pub fn decode(bytes: &[u8]) -> Result<Envelope<T>, DecodeError> {
        let mut r = Reader(bytes);
        let delegation = match r.u8()? {
            0x00 => None,
            0x01 => Some(
                NodeDelegation::decode(r.take(DELEGATION_LEN)?)
                    .map_err(DecodeError::BadDelegation)?,
            ),
            other => return Err(DecodeError::BadFlag(other)),
        };
        Ok(Envelope {
            delegation,
            body: T::decode(r.0)?,
        })
    }
}

/// The invariants the sync fuzz targets check: decoding never panics, and what decodes
/// re-encodes to the same bytes (one encoding per message).
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok(r) = Envelope::<Request>::decode(data) {
        assert_eq!(r.encode(), data, "a request has a second encoding");
        assert!(data.len() <= r.body.encode().len() + MAX_ENVELOPE);
    }
    if let Ok(r) = Envelope::<Response>::decode(data) {
        assert_eq!(r.encode(), data, "a response has a second encoding");
        assert!(data.len() <= r.body.encode().len() + MAX_ENVELOPE);
    }
}
