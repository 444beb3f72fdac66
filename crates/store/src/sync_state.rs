//! What sync keeps beside the entries: the reconciliation set read in bounded chunks, entries
//! served by id within a byte budget, the quarantine (entries a peer sent that this home
//! refuses by rule, or that wait for something), and each peer's last reconcile and cut-off.
//! The store keeps rows; deciding what goes in them is the app's.

use countersign_ledger::header::MAX_PAYLOAD_LEN;
use countersign_ledger::{Entry, EntryId, LogId};
use rusqlite::{params, OptionalExtension};

use crate::db::LOG_NO;
use crate::{Db, ForkRow, Result, StoreError, StoredEntry};

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

fn set_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<Option<SetItem>> {
    let id: Vec<u8> = r.get(2)?;
    let ts: i64 = r.get(1)?;
    let roster: bool = r.get(3)?;
    Ok(<[u8; 32]>::try_from(id.as_slice()).ok().map(|id| SetItem {
        arrival: r.get(0).unwrap_or(0),
        timestamp_ms: ts.max(0) as u64,
        roster,
        id,
    }))
}

/// The creates stored after an arrival number, each with whether it is a sealed report held
/// without its key (see [`Db::reports_lacking_keys_since`]): read through the rowid.
pub(crate) const REPORTS_LACKING_KEYS_SINCE: &str = "SELECT e.arrival, e.id, \
     e.kind = 'report.create' \
     AND NOT EXISTS (SELECT 1 FROM report_keys k WHERE k.log = e.id) \
     AND NOT EXISTS (SELECT 1 FROM erased_logs x WHERE x.log = e.id) \
     AND (SELECT substr(p.bytes, 1, 4) FROM payloads p WHERE p.arrival = e.arrival) \
         = X'43535332' \
     FROM entries e WHERE e.arrival > ?1 ORDER BY e.arrival LIMIT ?2";

/// Whether a report still lacks its key, and whether it has its row in the report list (see
/// [`Db::still_lacking_keys`]).
pub(crate) const STILL_LACKING_KEY: &str =
    "SELECT NOT EXISTS (SELECT 1 FROM report_keys k WHERE k.log = ?1) \
     AND NOT EXISTS (SELECT 1 FROM erased_logs x WHERE x.log = ?1), \
     EXISTS (SELECT 1 FROM report_summaries s \
             WHERE s.log_no = (SELECT log_no FROM logs WHERE log = ?1) AND s.report = ?1)";

/// The payload length a stored header declares (its last eight bytes, big-endian; at most
/// [`MAX_PAYLOAD_LEN`]): what a batch plans for before reading the payload.
fn declared_payload_len(header: &[u8]) -> usize {
    header
        .len()
        .checked_sub(8)
        .and_then(|at| <[u8; 8]>::try_from(&header[at..]).ok())
        .map_or(0, |b| u64::from_be_bytes(b).min(MAX_PAYLOAD_LEN) as usize)
}

impl Db<'_> {
    /// Up to `limit` set items of entries that arrived after `arrival`, in arrival order;
    /// `network` is the roster log's id.
    pub fn set_items_after(
        &self,
        arrival: i64,
        limit: usize,
        network: &LogId,
    ) -> Result<Vec<SetItem>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT arrival, timestamp_ms, id, (kind = 'network.genesis' OR log = ?3) \
                 FROM entries WHERE arrival > ?1 ORDER BY arrival LIMIT ?2",
            )
            .map_err(StoreError::sqlite("reading the reconciliation set"))?;
        let rows: Vec<Option<SetItem>> = stmt
            .query_map(params![arrival, limit as i64, network.as_bytes()], set_item)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading the reconciliation set"))?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// The sealed reports among the entries stored after `arrival` that this home holds
    /// without their data key — by the test of [`Db::reports_lacking_keys`], but for the
    /// row in the report list, which [`Db::still_lacking_keys`] says (a rebuild of the list
    /// waiting for the member's key may not have written it yet) — looking at
    /// `limit` entries at most, through the rowid: a home that asks after every pull reads
    /// what arrived since, not the whole report list again. Returns them and the arrival
    /// looked up to (`arrival` when nothing is stored after it).
    pub fn reports_lacking_keys_since(
        &self,
        arrival: i64,
        limit: usize,
    ) -> Result<(Vec<LogId>, i64)> {
        let mut stmt = self
            .conn
            .prepare_cached(REPORTS_LACKING_KEYS_SINCE)
            .map_err(StoreError::sqlite(
                "listing the reports held without their key",
            ))?;
        let rows: Vec<(i64, Vec<u8>, bool)> = stmt
            .query_map(params![arrival, limit.min(i64::MAX as usize) as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, Option<bool>>(2)?.unwrap_or(false),
                ))
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite(
                "listing the reports held without their key",
            ))?;
        let to = rows.last().map_or(arrival, |r| r.0);
        let logs = rows
            .iter()
            .filter(|r| r.2)
            .filter_map(|r| LogId::from_slice(&r.1))
            .collect();
        Ok((logs, to))
    }

    /// For each of `logs` (sealed reports found lacking their key earlier), whether it still
    /// does (no key came meanwhile, and it was not erased), and whether it has its row in the
    /// report list (the reports [`Db::reports_lacking_keys`] names).
    pub fn still_lacking_keys(&self, logs: &[LogId]) -> Result<Vec<(bool, bool)>> {
        let mut stmt = self
            .conn
            .prepare_cached(STILL_LACKING_KEY)
            .map_err(StoreError::sqlite(
                "listing the reports held without their key",
            ))?;
        logs.iter()
            .map(|l| {
                stmt.query_row([l.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(StoreError::sqlite(
                        "listing the reports held without their key",
                    ))
            })
            .collect()
    }

    /// The set items of one log's entries (the roster log's include the network genesis);
    /// `network` is the roster log's id.
    pub fn log_set_items(&self, log: &LogId, network: &LogId) -> Result<Vec<SetItem>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT arrival, timestamp_ms, id, (kind = 'network.genesis' OR log = ?2) \
                     FROM entries \
                     WHERE log_no = {LOG_NO} OR (id = ?1 AND kind = 'network.genesis')"
            ))
            .map_err(StoreError::sqlite("reading a log's set"))?;
        let rows: Vec<Option<SetItem>> = stmt
            .query_map(params![log.as_bytes(), network.as_bytes()], set_item)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a log's set"))?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// Up to `limit` entries of `log` that arrived after `arrival`, in arrival order, as
    /// (arrival, id, author, seq): no header or payload is read.
    #[allow(clippy::type_complexity)]
    pub fn log_positions_after(
        &self,
        log: &LogId,
        arrival: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Vec<u8>, Vec<u8>, i64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT arrival, id, author, seq FROM entries \
                 WHERE log_no = {LOG_NO} AND arrival > ?2 ORDER BY arrival LIMIT ?3"
            ))
            .map_err(StoreError::sqlite("reading a log"))?;
        let rows = stmt
            .query_map(params![log.as_bytes(), arrival, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a log"));
        rows
    }

    /// The logs an `access.grant` entry was written in (the few an AI model may be granted).
    pub fn logs_with_grants(&self) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT log FROM entries WHERE kind = 'access.grant'")
            .map_err(StoreError::sqlite("finding grants"))?;
        let rows: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("finding grants"))?;
        Ok(rows
            .into_iter()
            .filter_map(|b| LogId::from_slice(&b))
            .collect())
    }

    /// The report logs an AI contributed to: those that granted a model access (a model writes
    /// nowhere else) and those that received an AI result as DICOM SR.
    pub fn logs_with_ai(&self) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT log FROM entries WHERE kind IN ('access.grant', 'ai.received')",
            )
            .map_err(StoreError::sqlite("finding AI contributions"))?;
        let rows: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("finding AI contributions"))?;
        Ok(rows
            .into_iter()
            .filter_map(|b| LogId::from_slice(&b))
            .collect())
    }

    /// The entries among `ids` this home holds, in arrival order, at most `max_rows` and cut
    /// once their bytes reach `budget` (at least one is always given). A row's size is known
    /// from its header before its payload is read, so a batch never reads payloads it will
    /// not send (but for a row whose header was altered to declare less than it holds: the
    /// budget holds on the bytes read). Returns the entries and whether some held ones were
    /// left out.
    pub fn entries_by_ids(
        &self,
        ids: &[EntryId],
        max_rows: usize,
        budget: usize,
    ) -> Result<(Vec<StoredEntry>, bool)> {
        // One read transaction for the whole batch (when not inside one already): the sizes
        // and the rows come from the same snapshot, and the thousands of statements do not
        // each take and drop a read lock on the WAL (a sixth of a serving node's time in a
        // first full sync).
        let own = self.conn.is_autocommit();
        if own {
            self.conn
                .execute_batch("BEGIN DEFERRED")
                .map_err(StoreError::sqlite("starting a read"))?;
        }
        let out = self.entries_by_ids_in(ids, max_rows, budget);
        if own {
            // A read commits nothing; ending it only lets go of the snapshot (rolled back if
            // that fails, so the connection is never left inside it).
            if self.conn.execute_batch("COMMIT").is_err() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
        out
    }

    fn entries_by_ids_in(
        &self,
        ids: &[EntryId],
        max_rows: usize,
        budget: usize,
    ) -> Result<(Vec<StoredEntry>, bool)> {
        // First where each id arrived, from the id index alone (it holds the arrival number,
        // the rowid, so no row is read), in id order: neighbouring lookups share its pages. Our
        // own pulls name one batch's worth of ids; a peer may name up to MAX_FETCH_IDS, and
        // those past the batch are only looked up here.
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let mut arrivals: Vec<i64> = Vec::with_capacity(ids.len());
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT arrival FROM entries WHERE id = ?1")
                .map_err(StoreError::sqlite("finding entries"))?;
            for id in &ids {
                if let Some(arrival) = stmt
                    .query_row([id.as_bytes()], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(StoreError::sqlite("finding entries"))?
                {
                    arrivals.push(arrival);
                }
            }
        }
        arrivals.sort_unstable();
        arrivals.dedup();
        let held = arrivals.len();
        arrivals.truncate(max_rows.max(1));
        // Then the rows in arrival order, each once, by its rowid: its header says how long
        // its payload is (the last eight bytes), so a row that would pass the budget ends the
        // batch before its payload is read. The budget holds on the bytes read too, not only
        // on what headers declare (a row altered on disk could declare less than it holds).
        let mut row_stmt = self
            .conn
            .prepare_cached(
                "SELECT e.arrival, e.id, e.log, e.author, e.seq, e.kind, e.timestamp_ms, \
                 e.payload_hash, e.header, e.signature, NULL FROM entries e \
                 WHERE e.arrival = ?1",
            )
            .map_err(StoreError::sqlite("reading an entry"))?;
        let mut payload_stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM payloads WHERE arrival = ?1")
            .map_err(StoreError::sqlite("reading a payload"))?;
        let mut rows: Vec<StoredEntry> = Vec::with_capacity(arrivals.len());
        let mut total = 0usize;
        let mut cut_short = false;
        for arrival in &arrivals {
            let Some(mut row) = row_stmt
                .query_row([arrival], crate::db::stored_entry)
                .optional()
                .map_err(StoreError::sqlite("reading an entry"))?
            else {
                continue;
            };
            let bare = row.header.len() + row.signature.len();
            let declared = bare + declared_payload_len(&row.header);
            if !rows.is_empty() && total.saturating_add(declared) > budget {
                cut_short = true;
                break;
            }
            row.payload = payload_stmt
                .query_row([row.arrival], |r| r.get(0))
                .optional()
                .map_err(StoreError::sqlite("reading a payload"))?;
            let size = bare + row.payload.as_ref().map_or(0, Vec::len);
            if !rows.is_empty() && total.saturating_add(size) > budget {
                cut_short = true;
                break;
            }
            total = total.saturating_add(size);
            rows.push(row);
        }
        let more = cut_short || arrivals.len() < held;
        Ok((rows, more))
    }

    /// Pieces of fork evidence held (a count, for noticing new ones without reading them).
    pub fn fork_total(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT COUNT(*) FROM forks", [], |r| r.get::<_, i64>(0))
            .map(|n| n as usize)
            .map_err(StoreError::sqlite("counting forks"))
    }

    /// Whether `id` is held for later (dated ahead of this home's clock).
    pub fn is_held(&self, id: &EntryId) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM held WHERE id = ?1")
            .and_then(|mut s| s.exists([id.as_bytes()]))
            .map_err(StoreError::sqlite("reading held entries"))
    }

    /// The fork evidence whose second entry is `id`, with the payload kept for it (the
    /// roster log's only: see [`Db::fork_payload`]).
    pub fn fork_evidence(&self, id: &EntryId) -> Result<Option<(ForkRow, Option<Vec<u8>>)>> {
        let row = self
            .conn
            .prepare_cached(&format!(
                "SELECT {} WHERE second = ?1 LIMIT 1",
                crate::db::FORK_COLUMNS
            ))
            .and_then(|mut s| s.query_row([id.as_bytes()], crate::db::fork_row).optional())
            .map_err(StoreError::sqlite("reading fork evidence"))?;
        match row {
            Some(f) => {
                let payload = self.fork_payload(&f)?;
                Ok(Some((f, payload)))
            }
            None => Ok(None),
        }
    }

    /// Keeps `entry` in quarantine with why it was refused, within the bounds: the whole
    /// ([`MAX_QUARANTINE`] entries, [`MAX_QUARANTINE_PAYLOAD_BYTES`]), the peer it came from
    /// ([`MAX_QUARANTINE_PER_PEER`], [`MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER`]) and its author
    /// ([`MAX_QUARANTINE_PER_AUTHOR`]); says which bound refused it, keeping nothing. An entry
    /// already kept is judged again in place (no bound: it takes no more room), and keeps the
    /// peer it came from when none is given. An entry refused by a rule keeps no payload.
    #[allow(clippy::too_many_arguments)]
    pub fn quarantine(
        &self,
        entry: &Entry,
        payload: Option<&[u8]>,
        code: &str,
        reason: &str,
        waiting: bool,
        peer: Option<&str>,
        now_ms: u64,
    ) -> Result<Kept> {
        let payload = if waiting { payload } else { None };
        let h = entry.header();
        // One pass over the table (at most MAX_QUARANTINE rows) for every count. A row with
        // no peer (an entry judged again here) counts for nobody's quota.
        let (all, from_peer, by_author, here): (i64, i64, i64, bool) = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*), coalesce(sum(peer = ?1), 0), coalesce(sum(author = ?2), 0), \
                 EXISTS (SELECT 1 FROM quarantine WHERE id = ?3) FROM quarantine",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![peer, h.author.as_bytes(), entry.id().as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .map_err(StoreError::sqlite("counting the quarantine"))?;
        if !here {
            if all as u64 >= MAX_QUARANTINE {
                return Ok(Kept::Full);
            }
            if peer.is_some() && from_peer as u64 >= MAX_QUARANTINE_PER_PEER {
                return Ok(Kept::PeerQuota);
            }
            if by_author as u64 >= MAX_QUARANTINE_PER_AUTHOR {
                return Ok(Kept::AuthorQuota);
            }
        }
        if let Some(p) = payload {
            let (held, held_from_peer): (i64, i64) = self
                .conn
                .query_row(
                    "SELECT coalesce(sum(length(payload)), 0), \
                     coalesce(sum(CASE WHEN peer = ?1 THEN length(payload) END), 0) \
                     FROM quarantine WHERE id != ?2",
                    params![peer, entry.id().as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(StoreError::sqlite("sizing the quarantine"))?;
            let p = p.len() as u64;
            if held as u64 + p > MAX_QUARANTINE_PAYLOAD_BYTES {
                return Ok(Kept::PayloadFull);
            }
            if peer.is_some() && held_from_peer as u64 + p > MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER {
                return Ok(Kept::PeerQuota);
            }
        }
        // The peer it came from stays with a row judged again (its quota counts it).
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO quarantine (id, log, author, seq, kind, code, reason, \
                 waiting, header, signature, payload, peer, received_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                 coalesce(?12, (SELECT peer FROM quarantine WHERE id = ?1)), ?13)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    entry.id().as_bytes(),
                    entry.log_id().as_bytes(),
                    h.author.as_bytes(),
                    h.seq.min(i64::MAX as u64) as i64,
                    h.kind.name(),
                    code,
                    reason,
                    waiting,
                    entry.header_bytes(),
                    entry.signature().as_slice(),
                    payload,
                    peer,
                    now_ms.min(i64::MAX as u64) as i64,
                ])
            })
            .map(|_| Kept::Yes)
            .map_err(StoreError::sqlite("quarantining an entry"))
    }

    pub fn quarantine_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM quarantine", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting the quarantine"))
    }

    /// Which of `ids` are in quarantine.
    pub fn quarantined(&self, ids: &[EntryId]) -> Result<Vec<bool>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM quarantine WHERE id = ?1")
            .map_err(StoreError::sqlite("reading the quarantine"))?;
        ids.iter()
            .map(|id| {
                stmt.exists([id.as_bytes()])
                    .map_err(StoreError::sqlite("reading the quarantine"))
            })
            .collect()
    }

    /// Quarantined entries, waiting ones only when `waiting`, oldest first, at most `limit`;
    /// with payloads only when `payloads` (listing them for people never reads payloads).
    pub fn quarantine_rows(
        &self,
        waiting: bool,
        payloads: bool,
        limit: usize,
    ) -> Result<Vec<QuarantineRow>> {
        let sql = format!(
            "SELECT id, log, author, seq, kind, code, reason, waiting, header, signature, {}, \
             peer, received_ms FROM quarantine {} ORDER BY received_ms, id LIMIT ?1",
            if payloads { "payload" } else { "NULL" },
            if waiting { "WHERE waiting = 1" } else { "" }
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(StoreError::sqlite("reading the quarantine"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(QuarantineRow {
                    id: r.get(0)?,
                    log: r.get(1)?,
                    author: r.get(2)?,
                    seq: r.get(3)?,
                    kind: r.get(4)?,
                    code: r.get(5)?,
                    reason: r.get(6)?,
                    waiting: r.get(7)?,
                    header: r.get(8)?,
                    signature: r.get(9)?,
                    payload: r.get(10)?,
                    peer: r.get(11)?,
                    received_ms: r.get(12)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading the quarantine"));
        rows
    }

    pub fn unquarantine(&self, id: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM quarantine WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map(|_| ())
            .map_err(StoreError::sqlite("releasing a quarantined entry"))
    }

    /// What this home remembers of `peer`.
    pub fn peer_state(&self, peer: &str) -> Result<Option<PeerStateRow>> {
        self.conn
            .prepare_cached(
                "SELECT peer, last_reconcile_ms, stored, cut_off_reason, cut_off_ms, \
                 cut_off_until_ms, strikes FROM peer_state WHERE peer = ?1",
            )
            .and_then(|mut s| s.query_row([peer], peer_row).optional())
            .map_err(StoreError::sqlite("reading a peer's state"))
    }

    /// Every peer remembered, by id.
    pub fn peer_states(&self) -> Result<Vec<PeerStateRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT peer, last_reconcile_ms, stored, cut_off_reason, cut_off_ms, \
                 cut_off_until_ms, strikes FROM peer_state ORDER BY peer",
            )
            .map_err(StoreError::sqlite("reading peers' state"))?;
        let rows = stmt
            .query_map([], peer_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading peers' state"));
        rows
    }

    /// Keeps `row` as what this home knows of its peer (a new peer is not kept once
    /// [`MAX_PEER_STATES`] are).
    pub fn put_peer_state(&self, row: &PeerStateRow) -> Result<()> {
        if self.peer_state(&row.peer)?.is_none() {
            let n: i64 = self
                .conn
                .query_row("SELECT COUNT(*) FROM peer_state", [], |r| r.get(0))
                .map_err(StoreError::sqlite("counting peers"))?;
            if n as u64 >= MAX_PEER_STATES {
                return Ok(());
            }
        }
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO peer_state (peer, last_reconcile_ms, stored, \
                 cut_off_reason, cut_off_ms, cut_off_until_ms, strikes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.peer,
                    row.last_reconcile_ms,
                    row.stored,
                    row.cut_off_reason,
                    row.cut_off_ms,
                    row.cut_off_until_ms,
                    row.strikes
                ])
            })
            .map(|_| ())
            .map_err(StoreError::sqlite("keeping a peer's state"))
    }
}

fn peer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeerStateRow> {
    Ok(PeerStateRow {
        peer: r.get(0)?,
        last_reconcile_ms: r.get(1)?,
        stored: r.get(2)?,
        cut_off_reason: r.get(3)?,
        cut_off_ms: r.get(4)?,
        cut_off_until_ms: r.get(5)?,
        strikes: r.get(6)?,
    })
}
