//! Entries held until their time comes: dated beyond the clock skew, kept apart from the
//! ledger and released (or refused) once the clock reaches them. Bounded by [`MAX_HELD`], so
//! a peer cannot fill the disk with next year's entries.

use countersign_ledger::Entry;
use rusqlite::params;

use crate::{Db, Result, StoreError};

/// An entry held until its time comes.
#[derive(Debug, Clone)]
pub struct HeldRow {
    pub id: Vec<u8>,
    pub due_ms: u64,
    pub header: Vec<u8>,
    pub signature: Vec<u8>,
    pub payload: Option<Vec<u8>>,
}

/// The most entries a home holds for later (dated beyond the clock skew).
pub const MAX_HELD: u64 = 10_000;

impl Db<'_> {
    /// Holds an entry dated in the future until `due_ms`. Refuses (returns `false`) once
    /// [`MAX_HELD`] entries are held: a peer cannot fill the disk with next year's entries.
    pub fn insert_held(&self, entry: &Entry, payload: Option<&[u8]>, due_ms: u64) -> Result<bool> {
        if self.held_count()? >= MAX_HELD {
            return Ok(false);
        }
        let payload = self.payload_unless_erased(entry, payload)?;
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO held (id, due_ms, header, signature, payload) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    entry.id().as_bytes(),
                    due_ms.min(i64::MAX as u64) as i64,
                    entry.header_bytes(),
                    entry.signature().as_slice(),
                    payload,
                ])
            })
            .map(|_| true)
            .map_err(StoreError::sqlite("holding an entry"))
    }

    /// Held entries whose time has come (due at or before `now_ms`), oldest due first, at most
    /// `limit` of them.
    pub fn held_due(&self, now_ms: u64, limit: usize) -> Result<Vec<HeldRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, due_ms, header, signature, payload FROM held \
                 WHERE due_ms <= ?1 ORDER BY due_ms, id LIMIT ?2",
            )
            .map_err(StoreError::sqlite("reading held entries"))?;
        let rows = stmt
            .query_map(
                params![now_ms.min(i64::MAX as u64) as i64, limit as i64],
                |r| {
                    Ok(HeldRow {
                        id: r.get(0)?,
                        due_ms: r.get::<_, i64>(1)? as u64,
                        header: r.get(2)?,
                        signature: r.get(3)?,
                        payload: r.get(4)?,
                    })
                },
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(StoreError::sqlite("reading held entries"))?;
        Ok(rows)
    }

    /// Removes a held entry (released, or refused when its time came).
    pub fn remove_held(&self, id: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM held WHERE id = ?1")
            .and_then(|mut s| s.execute(params![id]))
            .map(|_| ())
            .map_err(StoreError::sqlite("releasing a held entry"))
    }

    pub fn held_count(&self) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM held")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting held entries"))
    }
}
