//! The reconciliation set and a log's positions, read in bounded chunks for sync, and the logs
//! an AI model was granted or contributed to.

use countersign_ledger::LogId;
use rusqlite::params;

use super::SetItem;
use crate::db::LOG_NO;
use crate::{Db, Result, StoreError};

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
            .prepare_cached(GRANTED_LOGS)
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
}

/// The report logs that granted an AI model access: through the partial index of grant
/// entries (migration 22), never a scan of every entry.
pub(crate) const GRANTED_LOGS: &str =
    "SELECT DISTINCT log FROM entries WHERE kind = 'access.grant'";
