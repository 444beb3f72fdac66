//! The sealed reports this home holds without their data key, read from what arrived since a
//! point (so a home asking after every pull does not read the whole report list again).

use countersign_ledger::LogId;
use rusqlite::params;

use crate::{Db, Result, StoreError};

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

impl Db<'_> {
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
}
