//! Fork evidence as sync counts and serves it, and whether an id is held for later: what an id
//! a peer names may be besides a stored entry.

use countersign_ledger::EntryId;
use rusqlite::OptionalExtension;

use crate::{Db, ForkRow, Result, StoreError};

impl Db<'_> {
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
}
