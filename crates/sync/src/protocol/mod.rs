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
//!
//! This file holds the messages, their bounds and their errors; `wire` the bounded reader and
//! writers every message is read and written with, `request` and `response` each direction's
//! encoding, and `envelope` the envelope around both (and the fuzz targets' invariants).

mod envelope;
mod request;
mod response;
mod wire;

use countersign_ledger::bundle;
use countersign_ledger::delegation::{DelegationError, DELEGATION_LEN};
use countersign_ledger::{DataKey, EntryId, Hash, LogId, NetworkId, PublicKey};

pub use envelope::{fuzz_check, Body, Envelope};

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
