//! Statements over one connection or transaction.

use countersign_ledger::{Entry, EntryId, Hash, LogFamily, LogId, PublicKey};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::log_nos::LogNos;
use crate::{Result, StoreError};

/// The store's statements, over a plain connection or inside [`crate::Store::write`].
#[derive(Debug, Clone, Copy)]
pub struct Db<'a> {
    pub(crate) conn: &'a Connection,
    /// The store's key-encryption key, when installed (see [`crate::Store::set_kek`]).
    pub(crate) kek: &'a crate::KekSlot,
    /// Inside a write, the log numbers it has looked up or given; `None` for reads.
    pub(crate) log_nos: Option<&'a LogNos>,
}

/// An entry row as stored, undecoded: verify must cope with rows that were tampered with, so
/// nothing here assumes the bytes are well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub arrival: i64,
    pub id: Vec<u8>,
    pub log: Vec<u8>,
    pub author: Vec<u8>,
    pub seq: i64,
    pub kind: String,
    pub timestamp_ms: i64,
    pub payload_hash: Vec<u8>,
    pub header: Vec<u8>,
    pub signature: Vec<u8>,
    /// `None` when no payload with the header's hash is stored (erased or never received).
    pub payload: Option<Vec<u8>>,
}

/// Equivocation evidence: the stored entry `first` and a second entry by the same author at the
/// same log position, as its signed header (which commits to its payload by hash) and
/// signature. At most one per (log, author, seq). It has no payload: none is needed to prove
/// the equivocation, and listing evidence never reads one (see [`Db::fork_payload`] for the
/// roster log's, the only evidence whose payload is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkRow {
    pub log: Vec<u8>,
    pub author: Vec<u8>,
    pub seq: i64,
    pub first: Vec<u8>,
    pub second: Vec<u8>,
    pub second_header: Vec<u8>,
    pub second_signature: Vec<u8>,
}

pub(crate) const FORK_COLUMNS: &str =
    "log, author, seq, first, second, second_header, second_signature FROM forks";

pub(crate) fn fork_row(r: &Row<'_>) -> rusqlite::Result<ForkRow> {
    Ok(ForkRow {
        log: r.get(0)?,
        author: r.get(1)?,
        seq: r.get(2)?,
        first: r.get(3)?,
        second: r.get(4)?,
        second_header: r.get(5)?,
        second_signature: r.get(6)?,
    })
}

/// The local number of the log given as `?1` (NULL, matching nothing, for a log with no
/// entry here): how statements reach the per-log indexes, which are keyed by it.
pub(crate) const LOG_NO: &str = "(SELECT log_no FROM logs WHERE log = ?1)";

pub(crate) const ENTRY_COLUMNS: &str =
    "e.arrival, e.id, e.log, e.author, e.seq, e.kind, e.timestamp_ms, \
     e.payload_hash, e.header, e.signature, p.bytes \
     FROM entries e LEFT JOIN payloads p ON p.arrival = e.arrival";

pub(crate) fn stored_entry(row: &Row<'_>) -> rusqlite::Result<StoredEntry> {
    Ok(StoredEntry {
        arrival: row.get(0)?,
        id: row.get(1)?,
        log: row.get(2)?,
        author: row.get(3)?,
        seq: row.get(4)?,
        kind: row.get(5)?,
        timestamp_ms: row.get(6)?,
        payload_hash: row.get(7)?,
        header: row.get(8)?,
        signature: row.get(9)?,
        payload: row.get(10)?,
    })
}

fn hash_col(bytes: Vec<u8>) -> Option<Hash> {
    Hash::from_slice(&bytes)
}

impl<'a> Db<'a> {
    /// Reads outside a write.
    pub(crate) fn new(conn: &'a Connection, kek: &'a crate::KekSlot) -> Self {
        Db {
            conn,
            kek,
            log_nos: None,
        }
    }

    /// Inside the write transaction on `conn` that `log_nos` lives and dies with.
    pub(crate) fn in_write(
        conn: &'a Connection,
        kek: &'a crate::KekSlot,
        log_nos: &'a LogNos,
    ) -> Self {
        Db {
            conn,
            kek,
            log_nos: Some(log_nos),
        }
    }

    pub(crate) fn conn(&self) -> &'a Connection {
        self.conn
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(StoreError::sqlite("reading metadata"))
    }

    /// The metadata keys that begin with `prefix`, in key order.
    pub fn meta_keys(&self, prefix: &str) -> Result<Vec<String>> {
        let sql = StoreError::sqlite("reading metadata");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT key FROM meta WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
            )
            .map_err(sql)?;
        let rows = stmt
            .query_map([prefix], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading metadata"));
        rows
    }

    /// Removes a metadata key (no error when it is absent).
    pub fn delete_meta(&self, key: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM meta WHERE key = ?1", params![key])
            .map(|_| ())
            .map_err(StoreError::sqlite("writing metadata"))
    }

    /// Removes a metadata key if it still holds `value` (no error when it does not).
    pub fn delete_meta_if(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM meta WHERE key = ?1 AND value = ?2",
                params![key, value],
            )
            .map(|_| ())
            .map_err(StoreError::sqlite("writing metadata"))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(StoreError::sqlite("writing metadata"))
    }

    /// Stores a verified entry and its payload. Returns `false` if the entry was already there.
    pub fn insert_entry(&self, entry: &Entry, payload: Option<&[u8]>) -> Result<bool> {
        let h = entry.header();
        let log = entry.log_id();
        // A duplicate is of a log already numbered, so no number is given for nothing.
        let log_no = self.log_no_or_new(&log)?;
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO entries \
                 (id, log, author, seq, kind, timestamp_ms, payload_hash, header, signature, \
                 log_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    entry.id().as_bytes(),
                    entry.log_id().as_bytes(),
                    h.author.as_bytes(),
                    h.seq as i64,
                    h.kind.name(),
                    h.timestamp_ms as i64,
                    h.payload_hash.as_bytes(),
                    entry.header_bytes(),
                    entry.signature().as_slice(),
                    log_no,
                ])
            })
            .map_err(StoreError::sqlite("inserting an entry"))?;
        if inserted == 0 {
            return Ok(false);
        }
        let arrival = self.conn.last_insert_rowid();
        // Entries arrive after their parents, so the new entry is a head and its parents
        // no longer are.
        for parent in &h.parents {
            self.conn
                .prepare_cached("DELETE FROM heads WHERE log_no = ?1 AND id = ?2")
                .and_then(|mut s| s.execute(params![log_no, parent.as_bytes()]))
                .map_err(StoreError::sqlite("updating heads"))?;
        }
        self.conn
            .prepare_cached("INSERT OR IGNORE INTO heads (log_no, id) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![log_no, entry.id().as_bytes()]))
            .map_err(StoreError::sqlite("updating heads"))?;
        // An erased report's payloads are never stored again (its erasures' and
        // restrictions' own, which carry no personal data, are).
        let payload = self.payload_unless_erased(entry, payload)?;
        // Keyed by the entry's arrival: appended, like the entry. Arrival numbers are never
        // given twice, so no row can be there already but one left by a hand-removed entry
        // whose number was handed out again (`sqlite_sequence` edited too): replaced.
        if let Some(bytes) = payload {
            self.conn
                .prepare_cached("INSERT OR REPLACE INTO payloads (arrival, bytes) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![arrival, bytes]))
                .map_err(StoreError::sqlite("storing a payload"))?;
        }
        Ok(true)
    }

    /// Keeps `second` (its signed header and signature) as evidence that its author also
    /// wrote `first` at the same position. A position keeps its first evidence: returns
    /// `false`, storing nothing, when it has some already. `payload` is kept only for the
    /// roster log's evidence, and only when it is the one the header commits to (a frozen
    /// admin's revocations still stand, so the roster reads it); any other is dropped.
    pub fn insert_fork(
        &self,
        first: &EntryId,
        second: &Entry,
        payload: Option<&[u8]>,
    ) -> Result<bool> {
        let h = second.header();
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO forks (log, author, seq, first, second, second_header, \
                 second_signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    second.log_id().as_bytes(),
                    h.author.as_bytes(),
                    h.seq as i64,
                    first.as_bytes(),
                    second.id().as_bytes(),
                    second.header_bytes(),
                    second.signature().as_slice(),
                ])
            })
            .map(|n| n > 0)
            .map_err(StoreError::sqlite("recording fork evidence"))?;
        let kept = payload.filter(|p| {
            h.kind.family() == LogFamily::Roster
                && p.len() as u64 == h.payload_len
                && Hash::of(p) == h.payload_hash
        });
        if let (true, Some(bytes)) = (inserted, kept) {
            self.conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO fork_payloads (log, author, seq, bytes) \
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        second.log_id().as_bytes(),
                        h.author.as_bytes(),
                        h.seq as i64,
                        bytes
                    ])
                })
                .map_err(StoreError::sqlite("storing a payload"))?;
        }
        Ok(inserted)
    }

    /// For every log where `author` has entries, their last one (highest sequence): what an
    /// admin vouches for when revoking or changing the member.
    pub fn last_entries_by(&self, author: &PublicKey) -> Result<Vec<(LogId, EntryId)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT e.log, e.id FROM entries e WHERE e.author = ?1 AND e.seq = \
                 (SELECT MAX(seq) FROM entries WHERE log_no = e.log_no AND author = ?1) \
                 ORDER BY e.log",
            )
            .map_err(StoreError::sqlite("reading a member's entries"))?;
        let rows = stmt
            .query_map(params![author.as_bytes()], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(StoreError::sqlite("reading a member's entries"))?;
        Ok(rows
            .into_iter()
            .filter_map(|(l, i)| Some((Hash::from_slice(&l)?, Hash::from_slice(&i)?)))
            .collect())
    }

    pub fn contains(&self, id: &EntryId) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM entries WHERE id = ?1")
            .and_then(|mut s| s.exists([id.as_bytes()]))
            .map_err(StoreError::sqlite("looking up an entry"))
    }

    /// The id stored at `(log, author, seq)`, if any.
    pub fn entry_at(&self, log: &LogId, author: &PublicKey, seq: u64) -> Result<Option<EntryId>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT id FROM entries WHERE log_no = {LOG_NO} AND author = ?2 AND seq = ?3"
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![log.as_bytes(), author.as_bytes(), seq as i64],
                    |r| r.get::<_, Vec<u8>>(0),
                )
                .optional()
            })
            .map(|id| id.and_then(hash_col))
            .map_err(StoreError::sqlite("looking up a log position"))
    }

    pub fn get(&self, id: &EntryId) -> Result<Option<StoredEntry>> {
        self.conn
            .prepare_cached(&format!("SELECT {ENTRY_COLUMNS} WHERE e.id = ?1"))
            .and_then(|mut s| s.query_row([id.as_bytes()], stored_entry).optional())
            .map_err(StoreError::sqlite("reading an entry"))
    }

    /// Every entry of `log`, in arrival order (which is a topological order: an entry is only
    /// stored after its parents).
    pub fn log_entries(&self, log: &LogId) -> Result<Vec<StoredEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} WHERE e.log_no = {LOG_NO} ORDER BY e.arrival"
            ))
            .map_err(StoreError::sqlite("reading a log"))?;
        let rows = stmt
            .query_map([log.as_bytes()], stored_entry)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a log"));
        rows
    }

    /// The arrival number of the newest entry (0 when there is none).
    pub fn max_arrival(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(arrival), 0) FROM entries", [], |r| {
                r.get(0)
            })
            .map_err(StoreError::sqlite("reading the newest entry"))
    }

    /// How far each author has got in `log`: (author key bytes, highest sequence).
    pub fn version_vector(&self, log: &LogId) -> Result<Vec<(Vec<u8>, u64)>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT author, MAX(seq) FROM entries WHERE log_no = {LOG_NO} GROUP BY author"
            ))
            .map_err(StoreError::sqlite("reading a version vector"))?;
        let rows = stmt
            .query_map([log.as_bytes()], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a version vector"));
        rows
    }

    /// The `access.grant` and `access.revoke` entries of `log`, in arrival order.
    pub fn access_changes(&self, log: &LogId) -> Result<Vec<StoredEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} WHERE e.log_no = {LOG_NO} \
                 AND e.kind IN ('access.grant', 'access.revoke') ORDER BY e.arrival"
            ))
            .map_err(StoreError::sqlite("reading a log's access changes"))?;
        let rows = stmt
            .query_map([log.as_bytes()], stored_entry)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a log's access changes"));
        rows
    }

    /// When the entry at (`log`, `author`, `seq`) arrived, if it is stored.
    pub fn arrival_of(&self, log: &LogId, author: &[u8], seq: u64) -> Result<Option<i64>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT arrival FROM entries WHERE log_no = {LOG_NO} AND author = ?2 AND seq = ?3"
            ))
            .and_then(|mut s| {
                s.query_row(params![log.as_bytes(), author, seq as i64], |r| r.get(0))
                    .optional()
            })
            .map_err(StoreError::sqlite("finding an entry's position"))
    }

    /// Up to `limit` entries of `log` that arrived after `arrival`, in arrival order: a log read
    /// in bounded chunks through the (log, arrival) index.
    pub fn log_entries_after(
        &self,
        log: &LogId,
        arrival: i64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} WHERE e.log_no = {LOG_NO} AND e.arrival > ?2 \
                 ORDER BY e.arrival LIMIT ?3"
            ))
            .map_err(StoreError::sqlite("reading a log"))?;
        let rows = stmt
            .query_map(params![log.as_bytes(), arrival, limit as i64], stored_entry)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a log"));
        rows
    }

    /// Up to `limit` entries that arrived after `arrival`, in arrival order: a cursor for
    /// reading the whole store in bounded chunks (`arrival` 0 starts at the beginning).
    pub fn entries_after(&self, arrival: i64, limit: usize) -> Result<Vec<StoredEntry>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} WHERE e.arrival > ?1 ORDER BY e.arrival LIMIT ?2"
            ))
            .map_err(StoreError::sqlite("reading entries"))?;
        let rows = stmt
            .query_map(params![arrival, limit as i64], stored_entry)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading entries"));
        rows
    }

    /// Ids of every log, in the order their first entry arrived.
    pub fn log_ids(&self) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn
            // Logs are numbered in the order their first entry arrived; one whose entries were
            // all removed by hand is not listed.
            .prepare(
                "SELECT l.log FROM logs l WHERE EXISTS \
                 (SELECT 1 FROM entries e WHERE e.log_no = l.log_no) ORDER BY l.log_no",
            )
            .map_err(StoreError::sqlite("listing logs"))?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("listing logs"))?;
        Ok(ids.into_iter().filter_map(hash_col).collect())
    }

    /// Ids of the `report.create` entries, oldest first.
    pub fn report_ids(&self) -> Result<Vec<EntryId>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM entries WHERE kind = 'report.create' ORDER BY arrival")
            .map_err(StoreError::sqlite("listing reports"))?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("listing reports"))?;
        Ok(ids.into_iter().filter_map(hash_col).collect())
    }

    /// The entries of `log` that no other entry names as a parent.
    pub fn heads(&self, log: &LogId) -> Result<Vec<EntryId>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT id FROM heads WHERE log_no = {LOG_NO} ORDER BY id"
            ))
            .map_err(StoreError::sqlite("reading heads"))?;
        let ids: Vec<Vec<u8>> = stmt
            .query_map([log.as_bytes()], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading heads"))?;
        Ok(ids.into_iter().filter_map(hash_col).collect())
    }

    /// Changes whenever another connection commits.
    pub fn data_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "data_version", |row| row.get(0))
            .map_err(StoreError::sqlite("reading data_version"))
    }

    pub fn count_entries(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting entries"))
    }

    /// Every piece of fork evidence, by position. Reads no payload.
    pub fn forks(&self) -> Result<Vec<ForkRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {FORK_COLUMNS} ORDER BY log, author, seq"))
            .map_err(StoreError::sqlite("reading forks"))?;
        let rows = stmt
            .query_map([], fork_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading forks"));
        rows
    }

    /// The fork evidence of one log, by position (for serving or showing that log). Reads no
    /// payload.
    pub fn forks_of(&self, log: &LogId) -> Result<Vec<ForkRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {FORK_COLUMNS} WHERE log = ?1 ORDER BY author, seq"
            ))
            .map_err(StoreError::sqlite("reading forks"))?;
        let rows = stmt
            .query_map([log.as_bytes()], fork_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading forks"));
        rows
    }

    /// How many pieces of fork evidence `log` has.
    pub fn fork_count(&self, log: &LogId) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM forks WHERE log = ?1")
            .and_then(|mut s| s.query_row([log.as_bytes()], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting forks"))
    }

    /// The payload kept with a piece of evidence: the roster log's only (see
    /// [`Db::insert_fork`]); `None` for a report log's evidence, whose payload is never kept,
    /// and for evidence whose header does not decode.
    pub fn fork_payload(&self, fork: &ForkRow) -> Result<Option<Vec<u8>>> {
        let Ok(h) = countersign_ledger::header::decode(&fork.second_header) else {
            return Ok(None);
        };
        if h.kind.family() != LogFamily::Roster {
            return Ok(None);
        }
        // Kept by position (one piece of evidence per position), and only when its hash was
        // the header's (see `insert_fork`).
        self.conn
            .prepare_cached(
                "SELECT bytes FROM fork_payloads WHERE log = ?1 AND author = ?2 AND seq = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![fork.log, fork.author, fork.seq], |r| r.get(0))
                    .optional()
            })
            .map_err(StoreError::sqlite("reading a payload"))
    }
}
