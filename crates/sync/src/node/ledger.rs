//! What the node needs from the home ([`Ledger`]) and the answers it gets back: the one
//! boundary between the network and the store. The app implements it over SQLite
//! (`countersign_app::sync::ledger`); the node's tests over an in-memory ledger.

use countersign_ledger::{EntryId, LogId, NetworkId, PublicKey};

use crate::protocol::{LogSummary, VersionVector};
use crate::reconcile::ReconcileSet;

/// What the node needs from the ledger. The app implements it over its store; the node never
/// touches SQLite. Calls block the event loop's thread while they run (see `block`).
pub trait Ledger: Send + 'static {
    /// The department network this home belongs to, if any yet.
    fn network(&self) -> Option<NetworkId>;
    /// Whether `key` is a member now (on the roster, not revoked).
    fn is_member(&mut self, key: &PublicKey) -> bool;
    /// Which of `logs` member `peer` may be sent (see `countersign_report::access`), one
    /// answer per log.
    fn may_read(&mut self, peer: &PublicKey, logs: &[LogId]) -> Vec<bool>;
    /// The logs of `only` held here (every log held when `only` is empty), each with its
    /// version vector, heads, fork count and signed checkpoint.
    fn summary(&mut self, only: &[LogId]) -> Result<Vec<LogSummary>, String>;
    /// How far each author has got in `log` here.
    fn vector(&mut self, log: &LogId) -> Result<VersionVector, String>;
    /// Whether any of `ids` is an entry this home does not hold.
    fn lacks_any(&mut self, ids: &[countersign_ledger::EntryId]) -> Result<bool, String>;
    /// Entries of `log` beyond `have`, parents first, at most `limit`, as bundle bytes; and
    /// whether more remain.
    fn entries_after(
        &mut self,
        log: &LogId,
        have: &VersionVector,
        limit: usize,
    ) -> Result<(Vec<u8>, bool), String>;
    /// The set reconciliation compares: every entry and piece of fork evidence held here
    /// that `reader` may be sent (`None`: everything held, this home's own side).
    fn reconcile_set(&mut self, reader: Option<&PublicKey>) -> Result<&ReconcileSet, String>;
    /// Whether the next [`Ledger::reconcile_set`] for `reader` has much to read first (its
    /// first build, or many entries stored since: seconds at a million reports). The node then
    /// runs it apart from the runtime's other tasks (see `block_long`).
    fn set_is_cold(&mut self, reader: Option<&PublicKey>) -> bool {
        let _ = reader;
        false
    }
    /// Of the ids a peer holds and this home lacks, those worth fetching: not quarantined,
    /// not held for later, not already refused as a duplicate.
    fn wanted(&mut self, ids: Vec<EntryId>) -> Result<Vec<EntryId>, String>;
    /// The entries (and fork evidence) among `ids` that `reader` may read, in arrival order,
    /// as bundle bytes within [`crate::protocol::MAX_BATCH_BYTES`], with the split-view
    /// evidence among them (encoded, at most [`crate::protocol::MAX_EVIDENCE`]); and whether
    /// some were left out for the budget.
    fn entries_by_id(&mut self, reader: &PublicKey, ids: &[EntryId]) -> Result<ById, String>;
    /// A batch as [`Ledger::check`] leaves it: decoded, every signature verified.
    type Checked: Send + 'static;
    /// Decodes a batch a peer sent and verifies every signature. It needs no ledger state, so
    /// the node runs it on another thread while the ledger stores the batch before. `Err`
    /// is proof against the sender: a record that is malformed or does not verify.
    fn check(bundle: &[u8]) -> Result<Self::Checked, String>;
    /// Checks every ledger rule on a checked batch and stores what passes; an entry refused
    /// by a rule is quarantined with its reason (from `peer`), the rest stored.
    fn accept(&mut self, batch: Self::Checked, peer: &str) -> Result<Accepted, AcceptError>;
    /// A pull from `peer` ended (completed or not): entries the ledger kept waiting in
    /// memory for the next batch go where they are kept for good (the quarantine).
    fn pull_ended(&mut self, peer: &str);
    /// Remembers what happened with `peer` (survives restarts; `sync status` shows it).
    fn remember(&mut self, peer: &str, event: PeerEvent);
    /// Cut-offs remembered from before this node started: (peer id, reason, until ms).
    fn cut_offs(&mut self) -> Vec<(String, String, u64, u32)>;
    /// Split-view evidence `peer` relayed (asked for by id), once the pull's entries are all
    /// in: evidence that checks out is kept; evidence whose signatures or pairing do not is
    /// proof against the sender (`Misbehaved`); evidence this home cannot judge yet (it lacks
    /// the entries) is left, and comes again with the next pull.
    fn split_views(&mut self, peer: &PublicKey, evidence: Vec<Vec<u8>>) -> Result<(), AcceptError>;
    /// Holds `peer` to the signed checkpoints in the summaries it gave, once everything it
    /// claimed has been pulled. `Err` when a checkpoint does not verify or the peer did not
    /// stand by it (a split view): the node then cuts the peer off.
    fn checkpoints(&mut self, peer: &PublicKey, logs: &[LogSummary]) -> Result<(), AcceptError>;
    /// Whether anything may have been stored since [`Ledger::changed_logs`] was last called:
    /// a check of microseconds, made before the real one.
    fn may_have_changed(&mut self) -> bool;
    /// The network a home that holds none yet was told to trust (an invitation): its requests
    /// name it, so only that network's peers answer them.
    fn anchor(&self) -> Option<NetworkId> {
        None
    }
    /// Logs with entries stored since the last call (by this process or any other).
    fn changed_logs(&mut self) -> Result<Vec<LogId>, String>;
    /// Whether member `key` may read every log (a person, not an AI model). Only such members
    /// share the gossip mesh, where every message reaches everyone
    /// ([`gossip`](super::gossip)); the default, nobody, leaves a node to direct
    /// announcements.
    fn reads_every_log(&mut self, key: &PublicKey) -> bool {
        let _ = key;
        false
    }
    /// Sealed reports this home holds the `report.create` of but not the data key, at most
    /// [`crate::protocol::MAX_KEY_REQUEST`]: asked of the peer at the end of a whole pull
    /// (successive calls go on through the rest, so a home lacking more keys asks for them in
    /// later pulls). The default, none, never asks.
    fn lacking_keys(&mut self) -> Result<Vec<LogId>, String> {
        Ok(Vec::new())
    }
    /// The data keys of `logs` this home holds, of the logs member `reader` may read (the same
    /// check as what it is sent), none of a log erased here. The default holds none.
    fn keys_for(
        &mut self,
        reader: &PublicKey,
        logs: &[LogId],
    ) -> Result<Vec<(LogId, countersign_ledger::DataKey)>, String> {
        let _ = (reader, logs);
        Ok(Vec::new())
    }
    /// Takes data keys `peer` sent in answer to a key request (each only for a log asked for),
    /// through the same intake as keys in a batch; returns how many it did not refuse. `Misbehaved`
    /// when a key provably is not its report's (it does not open the `report.create` held
    /// here): the node cuts the peer off.
    fn take_keys(
        &mut self,
        peer: &str,
        keys: Vec<(LogId, countersign_ledger::DataKey)>,
    ) -> Result<u64, AcceptError> {
        let _ = (peer, keys);
        Ok(0)
    }
}

/// A fetch by id answered: entries and fork evidence as bundle bytes, split-view evidence
/// (encoded), and whether some were left out for the budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ById {
    pub bundle: Vec<u8>,
    pub evidence: Vec<Vec<u8>>,
    pub more: bool,
}

/// What the ledger made of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Entries (and fork evidence) stored that were not here.
    pub new: u64,
    /// Entries kept in quarantine: refused by a rule, or waiting for what they depend on.
    pub quarantined: u64,
}

/// Why the ledger did not take a batch.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptError {
    /// The batch proves the sender misbehaved (an entry whose bytes contradict what it
    /// signs): the node cuts it off.
    #[error("{0}")]
    Misbehaved(String),
    /// This home could not store it (busy, disk full, ...): nothing is held against the
    /// peer, and the pull is tried again later.
    #[error("{0}")]
    Local(String),
}

/// Something a node remembers about a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerEvent {
    /// A pull from it completed, storing this many entries.
    Reconciled { stored: u64, at_ms: u64 },
    /// It was cut off until `until_ms`, for the `strikes`th time.
    CutOff {
        reason: String,
        at_ms: u64,
        until_ms: u64,
        strikes: u32,
    },
}
