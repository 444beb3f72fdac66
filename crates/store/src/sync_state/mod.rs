//! What sync keeps beside the entries: the reconciliation set read in bounded chunks, entries
//! served by id within a byte budget, the quarantine (entries a peer sent that this home
//! refuses by rule, or that wait for something), and each peer's last reconcile and cut-off.
//! The store keeps rows; deciding what goes in them is the app's.
//!
//! Split by what each part is about: the public row types and bounds live here, and each
//! submodule holds the `Db` methods (and their SQL) for one concern:
//! - `set`: the reconciliation set and a log's positions, read in bounded chunks, and the
//!   logs an AI contributed to;
//! - `lacking_keys`: the sealed reports held without their data key, read since an arrival;
//! - `serve`: entries served by id within a byte budget;
//! - `forks`: fork evidence, and whether an id is held for later;
//! - `quarantine`: keeping, listing and releasing quarantined entries within the bounds;
//! - `peers`: what a home remembers of each peer.

mod forks;
mod lacking_keys;
mod peers;
mod quarantine;
mod serve;
pub(crate) mod set;

// The query-plan tests in `summaries` read these at their old path.
#[cfg(test)]
pub(crate) use lacking_keys::{REPORTS_LACKING_KEYS_SINCE, STILL_LACKING_KEY};

/// Quarantined entries a home keeps, at most: beyond it a refused entry is not kept (the peer
/// that has it offers it again on a later reconcile, and it is refused again).
pub const MAX_QUARANTINE: u64 = 10_000;
/// Payload bytes the quarantine keeps, at most (only entries that wait for something keep
/// their payload: they may be accepted once it arrives).
pub const MAX_QUARANTINE_PAYLOAD_BYTES: u64 = 64 << 20;
/// Quarantined entries that came from one peer, at most (a quarter of the whole), so one
/// member's node — even an authorised one — cannot fill the quarantine and crowd out what
/// other peers sent (a revoked member's entries, say, kept as evidence of why they count for
/// nothing here). Past it an entry from that peer is not kept: the peer offers it again on a
/// later reconcile.
pub const MAX_QUARANTINE_PER_PEER: u64 = 2_500;
/// Quarantined entries by one author (one key), at most, whichever peers relayed them: a
/// stolen or revoked key signing without end fills a tenth of the quarantine and no more.
pub const MAX_QUARANTINE_PER_AUTHOR: u64 = 1_000;
/// Payload bytes the waiting entries from one peer keep, at most (a quarter of the whole).
pub const MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER: u64 = MAX_QUARANTINE_PAYLOAD_BYTES / 4;
/// Peers remembered, at most.
pub const MAX_PEER_STATES: u64 = 10_000;

/// Whether the quarantine kept an entry, and if not, which bound refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    Yes,
    /// [`MAX_QUARANTINE`] entries are kept already.
    Full,
    /// The waiting payloads would pass [`MAX_QUARANTINE_PAYLOAD_BYTES`].
    PayloadFull,
    /// The peer it came from has [`MAX_QUARANTINE_PER_PEER`] entries kept already, or its
    /// waiting payloads would pass [`MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER`].
    PeerQuota,
    /// Its author has [`MAX_QUARANTINE_PER_AUTHOR`] entries kept already.
    AuthorQuota,
}

impl Kept {
    /// A stable code for logs and `sync status` (`None`: it was kept).
    pub fn code(self) -> Option<&'static str> {
        match self {
            Kept::Yes => None,
            Kept::Full => Some("quarantine_full"),
            Kept::PayloadFull => Some("quarantine_payload_full"),
            Kept::PeerQuota => Some("peer_quota"),
            Kept::AuthorQuota => Some("author_quota"),
        }
    }
}

/// One item of the set peers reconcile: an entry's arrival here, its header's timestamp,
/// whether it belongs to the roster log (the network genesis, or an entry of the log whose id
/// is the network's), and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetItem {
    pub arrival: i64,
    pub timestamp_ms: u64,
    pub roster: bool,
    pub id: [u8; 32],
}

/// An entry kept in quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineRow {
    pub id: Vec<u8>,
    pub log: Vec<u8>,
    pub author: Vec<u8>,
    pub seq: i64,
    pub kind: String,
    /// The stable rejection code.
    pub code: String,
    pub reason: String,
    /// Whether it waits for something it depends on (and is tried again when entries arrive),
    /// rather than being refused by a rule.
    pub waiting: bool,
    pub header: Vec<u8>,
    pub signature: Vec<u8>,
    pub payload: Option<Vec<u8>>,
    /// The peer it came from, if it came over sync.
    pub peer: Option<String>,
    pub received_ms: i64,
}

/// What a home remembers of one peer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerStateRow {
    pub peer: String,
    pub last_reconcile_ms: Option<i64>,
    /// Entries stored from it, in all.
    pub stored: i64,
    pub cut_off_reason: Option<String>,
    pub cut_off_ms: Option<i64>,
    pub cut_off_until_ms: Option<i64>,
    /// Cut-offs so far: each doubles the next one's length.
    pub strikes: i64,
}
