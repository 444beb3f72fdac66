//! Peers' signed checkpoints and split-view evidence. The store keeps bytes; checking them is
//! the app's (with `countersign_ledger::checkpoint`).

use countersign_ledger::LogId;
use rusqlite::{params, OptionalExtension};

use crate::{Db, Result, StoreError};

/// Pieces of split-view evidence a home keeps at most.
pub const MAX_SPLIT_VIEWS: usize = 4096;

/// Evidence that a peer did not stand by a checkpoint it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitViewRow {
    pub log: Vec<u8>,
    pub signer: Vec<u8>,
    pub reason: String,
    /// The signer's earlier checkpoint, when the later one does not descend from it.
    pub earlier: Option<Vec<u8>>,
    pub later: Vec<u8>,
    pub found_ms: i64,
}

impl Db<'_> {
    /// The newest checkpoint `signer` gave for `log`, as signed.
    pub fn checkpoint(&self, log: &LogId, signer: &[u8]) -> Result<Option<Vec<u8>>> {
        self.conn
            .prepare_cached("SELECT bytes FROM checkpoints WHERE log = ?1 AND signer = ?2")
            .and_then(|mut s| {
                s.query_row(params![log.as_bytes(), signer], |r| r.get(0))
                    .optional()
            })
            .map_err(StoreError::sqlite("reading a checkpoint"))
    }

    /// Keeps `bytes` as the newest checkpoint of `signer` for `log`.
    pub fn put_checkpoint(
        &self,
        log: &LogId,
        signer: &[u8],
        timestamp_ms: u64,
        bytes: &[u8],
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO checkpoints (log, signer, timestamp_ms, bytes) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![log.as_bytes(), signer, timestamp_ms as i64, bytes])
            })
            .map(|_| ())
            .map_err(StoreError::sqlite("keeping a checkpoint"))
    }

    /// Calls `f` with every kept checkpoint (of `only`, when given): its log, signer and
    /// signed bytes, read as a stream (a home keeps one per log and peer).
    pub fn for_each_checkpoint(
        &self,
        only: Option<&LogId>,
        mut f: impl FnMut(&[u8], &[u8], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let sql = match only {
            Some(_) => "SELECT log, signer, bytes FROM checkpoints WHERE log = ?1",
            None => "SELECT log, signer, bytes FROM checkpoints WHERE ?1 IS NULL",
        };
        let mut stmt = self
            .conn
            .prepare_cached(sql)
            .map_err(StoreError::sqlite("reading checkpoints"))?;
        let mut rows = stmt
            .query([only.map(|l| l.as_bytes().to_vec())])
            .map_err(StoreError::sqlite("reading checkpoints"))?;
        while let Some(row) = rows
            .next()
            .map_err(StoreError::sqlite("reading checkpoints"))?
        {
            let log: Vec<u8> = row
                .get(0)
                .map_err(StoreError::sqlite("reading checkpoints"))?;
            let signer: Vec<u8> = row
                .get(1)
                .map_err(StoreError::sqlite("reading checkpoints"))?;
            let bytes: Vec<u8> = row
                .get(2)
                .map_err(StoreError::sqlite("reading checkpoints"))?;
            f(&log, &signer, &bytes)?;
        }
        Ok(())
    }

    /// Keeps split-view evidence: at most one row per (log, signer) — one proves it — and at
    /// most [`MAX_SPLIT_VIEWS`] in all (a member could sign many self-incriminating pairs).
    /// Returns whether it was kept.
    pub fn insert_split_view(&self, row: &SplitViewRow) -> Result<bool> {
        let (known, total): (bool, i64) = self
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM split_views WHERE log = ?1 AND signer = ?2), \
                        (SELECT COUNT(*) FROM split_views)",
                params![row.log, row.signer],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(StoreError::sqlite("reading split-view evidence"))?;
        if known || total >= MAX_SPLIT_VIEWS as i64 {
            return Ok(false);
        }
        self.conn
            .execute(
                "INSERT INTO split_views (log, signer, reason, earlier, later, found_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    row.log,
                    row.signer,
                    row.reason,
                    row.earlier,
                    row.later,
                    row.found_ms
                ],
            )
            .map(|_| true)
            .map_err(StoreError::sqlite("recording split-view evidence"))
    }

    /// How many pieces of split-view evidence are kept (a check made before reading them).
    pub fn split_view_count(&self) -> Result<usize> {
        self.conn
            .query_row("SELECT COUNT(*) FROM split_views", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(StoreError::sqlite("reading split-view evidence"))
    }

    pub fn split_views(&self) -> Result<Vec<SplitViewRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT log, signer, reason, earlier, later, found_ms FROM split_views \
                 ORDER BY rowid",
            )
            .map_err(StoreError::sqlite("reading split-view evidence"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SplitViewRow {
                    log: r.get(0)?,
                    signer: r.get(1)?,
                    reason: r.get(2)?,
                    earlier: r.get(3)?,
                    later: r.get(4)?,
                    found_ms: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading split-view evidence"));
        rows
    }
}
