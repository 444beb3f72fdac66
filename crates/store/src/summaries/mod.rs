//! Rows derived from the entries: one per report (`report_summaries`), for lists that page
//! rather than project every report; and the statements that keep them in step (which logs
//! an append touched, which logs an author wrote in) or read the entries log by log.
//!
//! The store only keeps what it is given: what a row says is computed by the report rules
//! (`countersign_report::ReportLog::summary`) in the app, which rebuilds the table from the
//! entries whenever it is missing or from another version of the projection.

use countersign_ledger::{Hash, LogId, PublicKey};
use rusqlite::{params, params_from_iter, OptionalExtension, Row};

use crate::db::{stored_entry, LOG_NO};
use crate::{Db, Result, StoreError, StoredEntry};

/// One report as lists show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub report: LogId,
    pub study: String,
    pub template: String,
    /// The report state's name (`draft`, `final`, …).
    pub status: String,
    pub created_ms: u64,
    pub last_ms: u64,
    pub entries: u64,
}

/// Where a page of reports (newest change first) starts: after this row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCursor {
    pub last_ms: u64,
    pub report: LogId,
}

/// Where a page of studies (newest date first, undated last, then by UID) starts: after this
/// study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StudyCursor {
    pub date: Option<String>,
    pub study: String,
}

/// The next log by id after `?1` that holds an entry.
const NEXT_LOG: &str = "SELECT l.log FROM logs l WHERE l.log > ?1 AND EXISTS \
     (SELECT 1 FROM entries e WHERE e.log_no = l.log_no) ORDER BY l.log LIMIT 1";

/// Entries after (`?1` log, `?2` arrival) in (log id, arrival) order, at most `?3`.
fn entries_by_log_after_sql() -> String {
    // The columns of `ENTRY_COLUMNS`, with the logs first: CROSS JOIN keeps SQLite from
    // scanning the entries and sorting them (its plan without statistics).
    "SELECT e.arrival, e.id, e.log, e.author, e.seq, e.kind, e.timestamp_ms, \
     e.payload_hash, e.header, e.signature, p.bytes \
     FROM logs l CROSS JOIN entries e ON e.log_no = l.log_no \
     LEFT JOIN payloads p ON p.arrival = e.arrival \
     WHERE l.log >= ?1 AND (l.log > ?1 OR e.arrival > ?2) \
     ORDER BY l.log, e.arrival LIMIT ?3"
        .to_string()
}

const SUMMARY_COLUMNS: &str = "report, study, template, status, created_ms, last_ms, entries";

/// The columns of [`SUMMARY_COLUMNS`] of the rows `s`.
const S_COLUMNS: &str =
    "s.report, s.study, s.template, s.status, s.created_ms, s.last_ms, s.entries";

/// A report's row, found through its log's number (`?1` the report id). The row must name
/// the report too: a row at that number naming another is a stray (see
/// [`Db::summary_strays`]).
fn summary_of_report_sql() -> String {
    format!(
        "SELECT {SUMMARY_COLUMNS} FROM report_summaries WHERE log_no = {LOG_NO} AND report = ?1"
    )
}

/// Rows in report order after `?1`, at most `?2`: the logs walked by id through their own
/// index, each one's row by its number (CROSS JOIN keeps SQLite from scanning the rows and
/// sorting them).
const SUMMARIES_BY_REPORT: &str = "SELECT s.report, s.study, s.template, s.status, \
     s.created_ms, s.last_ms, s.entries \
     FROM logs l CROSS JOIN report_summaries s ON s.log_no = l.log_no \
     WHERE l.log > ?1 AND s.report = l.log ORDER BY l.log LIMIT ?2";

fn clamp(ms: u64) -> i64 {
    ms.min(i64::MAX as u64) as i64
}

fn summary_row(row: &Row<'_>) -> rusqlite::Result<SummaryRow> {
    let report: Vec<u8> = row.get(0)?;
    Ok(SummaryRow {
        report: Hash::from_slice(&report).unwrap_or(Hash::ZERO),
        study: row.get(1)?,
        template: row.get(2)?,
        status: row.get(3)?,
        created_ms: row.get::<_, i64>(4)?.max(0) as u64,
        last_ms: row.get::<_, i64>(5)?.max(0) as u64,
        entries: row.get::<_, i64>(6)?.max(0) as u64,
    })
}

fn hashes(rows: Vec<Vec<u8>>) -> Vec<LogId> {
    rows.into_iter()
        .filter_map(|b| Hash::from_slice(&b))
        .collect()
}

impl Db<'_> {
    /// Stores (or replaces) a report's row, keyed by its log's number (given now if the log
    /// has none: a new report's row is appended). A report's study, template and creation never
    /// change (its `report.create` says them), so a row already there has only its state, last
    /// change and count updated: the study index is not touched on every append.
    pub fn put_summary(&self, r: &SummaryRow) -> Result<()> {
        let log_no = self.log_no_or_new(&r.report)?;
        self.conn()
            .prepare_cached(&format!(
                "INSERT INTO report_summaries (log_no, {SUMMARY_COLUMNS}) \
                 VALUES (?8, ?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (log_no) DO UPDATE SET status = excluded.status, \
                 last_ms = excluded.last_ms, entries = excluded.entries"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    r.report.as_bytes(),
                    r.study,
                    r.template,
                    r.status,
                    clamp(r.created_ms),
                    clamp(r.last_ms),
                    clamp(r.entries),
                    log_no,
                ])
            })
            .map(|_| ())
            .map_err(StoreError::sqlite("keeping a report's row"))
    }

    /// Keeps the studies `report` was moved away from (see the `report_moves` table) and its
    /// row's study, the one it is about now; no rows for a report never moved. Asked for every
    /// report projected: one lookup when it was never moved.
    pub fn put_moves(&self, report: &LogId, study: &str, moved_from: &[String]) -> Result<()> {
        let sql = StoreError::sqlite("keeping a report's moves");
        let had: bool = self
            .conn()
            .prepare_cached("SELECT 1 FROM report_moves WHERE report = ?1 LIMIT 1")
            .and_then(|mut s| s.exists([report.as_bytes()]))
            .map_err(sql)?;
        if !had && moved_from.is_empty() {
            return Ok(());
        }
        let sql = || StoreError::sqlite("keeping a report's moves");
        self.conn()
            .execute(
                "DELETE FROM report_moves WHERE report = ?1",
                [report.as_bytes()],
            )
            .map_err(sql())?;
        for from in moved_from {
            self.conn()
                .execute(
                    "INSERT OR IGNORE INTO report_moves (report, from_study) VALUES (?1, ?2)",
                    params![report.as_bytes(), from],
                )
                .map_err(sql())?;
        }
        self.conn()
            .execute(
                &format!(
                    "UPDATE report_summaries SET study = ?2 \
                     WHERE log_no = {LOG_NO} AND report = ?1 AND study != ?2"
                ),
                params![report.as_bytes(), study],
            )
            .map_err(sql())?;
        Ok(())
    }

    /// The rows of the reports moved away from `study`, by report id.
    pub fn moved_from_study(&self, study: &str) -> Result<Vec<SummaryRow>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {S_COLUMNS} FROM report_moves m JOIN logs l ON l.log = m.report \
                 JOIN report_summaries s ON s.log_no = l.log_no AND s.report = m.report \
                 WHERE m.from_study = ?1 ORDER BY s.report"
            ))
            .map_err(StoreError::sqlite("listing reports moved away"))?;
        let rows = stmt
            .query_map([study], summary_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("listing reports moved away"));
        rows
    }

    /// Drops a report's row (its log no longer makes a report).
    pub fn delete_summary(&self, report: &LogId) -> Result<()> {
        self.conn()
            .prepare_cached(&format!(
                "DELETE FROM report_summaries WHERE log_no = {LOG_NO} AND report = ?1"
            ))
            .and_then(|mut s| s.execute([report.as_bytes()]))
            .map(|_| ())
            .map_err(StoreError::sqlite("dropping a report's row"))
    }

    /// Drops every report's row (before they are rebuilt).
    pub fn clear_summaries(&self) -> Result<()> {
        self.conn()
            .execute_batch("DELETE FROM report_summaries; DELETE FROM report_moves;")
            .map_err(StoreError::sqlite("dropping the report rows"))
    }

    pub fn summary(&self, report: &LogId) -> Result<Option<SummaryRow>> {
        self.conn()
            .prepare_cached(&summary_of_report_sql())
            .and_then(|mut s| s.query_row([report.as_bytes()], summary_row).optional())
            .map_err(StoreError::sqlite("reading a report's row"))
    }

    pub fn count_summaries(&self) -> Result<u64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM report_summaries", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(StoreError::sqlite("counting the report rows"))
    }

    /// Up to `limit` reports, the most recently changed first (ties by report id, highest
    /// first), starting after `after`: through the (last change, report) index, so a page
    /// costs its own rows whatever the store holds.
    pub fn summaries_by_change(
        &self,
        after: Option<ChangeCursor>,
        limit: usize,
    ) -> Result<Vec<SummaryRow>> {
        let sql = |filter: &str| {
            format!(
                "SELECT {SUMMARY_COLUMNS} FROM report_summaries {filter} \
                 ORDER BY last_ms DESC, report DESC LIMIT ?"
            )
        };
        let rows = match after {
            Some(c) => self
                .conn()
                .prepare_cached(&sql("WHERE (last_ms, report) < (?, ?)"))
                .and_then(|mut s| {
                    s.query_map(
                        params![clamp(c.last_ms), c.report.as_bytes(), limit as i64],
                        summary_row,
                    )
                    .and_then(|rows| rows.collect())
                }),
            None => self.conn().prepare_cached(&sql("")).and_then(|mut s| {
                s.query_map(params![limit as i64], summary_row)
                    .and_then(|rows| rows.collect())
            }),
        }
        .map_err(StoreError::sqlite("listing reports"));
        rows
    }

    /// Up to `limit` reports in report-id order, after `after`: the whole table read in
    /// bounded pages, in the order `verify` walks the logs. Only rows at their report's log
    /// number: the others are [`Db::summary_strays`].
    pub fn summaries_by_report(
        &self,
        after: Option<&LogId>,
        limit: usize,
    ) -> Result<Vec<SummaryRow>> {
        let after: &[u8] = after.map_or(&[], |a| a.as_bytes());
        let mut stmt = self
            .conn()
            .prepare_cached(SUMMARIES_BY_REPORT)
            .map_err(StoreError::sqlite("reading the report rows"))?;
        let rows = stmt
            .query_map(params![after, limit as i64], summary_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading the report rows"));
        rows
    }

    /// Rows that are not at their report's log number (the number names no log, or another
    /// one): no build writes one, but a row written into the file by hand is, and
    /// [`Db::summaries_by_report`] does not meet it. Reads the rows with a number after
    /// `after`, at most `limit` of them, in number order; returns the strays among them and
    /// the number to go on after (`None` once every row was read). A pass over the whole
    /// table, in bounded pages: what `verify` reads once.
    pub fn summary_strays(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<SummaryRow>, Option<i64>)> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {S_COLUMNS}, s.log_no, l.log IS s.report \
                 FROM report_summaries s LEFT JOIN logs l ON l.log_no = s.log_no \
                 WHERE s.log_no > ?1 ORDER BY s.log_no LIMIT ?2"
            ))
            .map_err(StoreError::sqlite("reading the report rows"))?;
        let rows: Vec<(SummaryRow, i64, bool)> = stmt
            .query_map(params![after, limit as i64], |r| {
                Ok((summary_row(r)?, r.get(7)?, r.get(8)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading the report rows"))?;
        let next = (rows.len() >= limit.max(1))
            .then(|| rows.last().map(|(_, n, _)| *n))
            .flatten();
        let strays = rows
            .into_iter()
            .filter(|(_, _, at_home)| !at_home)
            .map(|(r, _, _)| r)
            .collect();
        Ok((strays, next))
    }

    /// The reports on `study`, oldest created first.
    pub fn summaries_of_study(&self, study: &str) -> Result<Vec<SummaryRow>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM report_summaries WHERE study = ?1 \
                 ORDER BY created_ms, report"
            ))
            .map_err(StoreError::sqlite("listing a study's reports"))?;
        let rows = stmt
            .query_map([study], summary_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("listing a study's reports"));
        rows
    }

    /// The reports on templates named `names` (a scan of the rows: asked only when a
    /// template's publications change).
    pub fn reports_on_templates(&self, names: &[String]) -> Result<Vec<LogId>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        // At most a few hundred names a statement, under SQLite's limit on parameters.
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut stmt = self
                .conn()
                .prepare(&format!(
                    "SELECT report FROM report_summaries WHERE template IN ({marks})"
                ))
                .map_err(StoreError::sqlite("finding reports by template"))?;
            let rows: Vec<Vec<u8>> = stmt
                .query_map(params_from_iter(chunk), |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(StoreError::sqlite("finding reports by template"))?;
            out.extend(hashes(rows));
        }
        Ok(out)
    }

    /// The logs of entries that arrived after `arrival`, each once, by id (through the arrival
    /// key: what one write transaction stored, when `arrival` is where it started). Not
    /// `DISTINCT` in SQL: SQLite would scan the whole (log, arrival) index for it.
    pub fn logs_since(&self, arrival: i64) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn()
            .prepare_cached("SELECT log FROM entries WHERE arrival > ?1")
            .map_err(StoreError::sqlite("finding the logs written"))?;
        let rows: Vec<Vec<u8>> = stmt
            .query_map([arrival], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("finding the logs written"))?;
        let mut logs = hashes(rows);
        logs.sort();
        logs.dedup();
        Ok(logs)
    }

    /// Every log with an entry by one of `authors`. A scan of the (log number, author, seq)
    /// index: asked only when a roster change reaches members who may have written.
    pub fn logs_by_authors(&self, authors: &[PublicKey]) -> Result<Vec<LogId>> {
        if authors.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for chunk in authors.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut stmt = self
                .conn()
                .prepare(&format!(
                    "SELECT log FROM logs WHERE log_no IN \
                     (SELECT log_no FROM entries WHERE author IN ({marks}))"
                ))
                .map_err(StoreError::sqlite("finding a member's reports"))?;
            let rows: Vec<Vec<u8>> = stmt
                .query_map(params_from_iter(chunk.iter().map(|k| k.as_bytes())), |r| {
                    r.get(0)
                })
                .and_then(|rows| rows.collect())
                .map_err(StoreError::sqlite("finding a member's reports"))?;
            out.extend(hashes(rows));
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The next log (by id) after `after` that holds an entry, through the logs' id index:
    /// the store's logs walked one at a time without listing them all.
    pub fn next_log(&self, after: Option<&LogId>) -> Result<Option<LogId>> {
        let after: &[u8] = after.map_or(&[], |a| a.as_bytes());
        self.conn()
            .prepare_cached(NEXT_LOG)
            .and_then(|mut s| s.query_row([after], |r| r.get::<_, Vec<u8>>(0)).optional())
            .map(|log| log.and_then(|b| Hash::from_slice(&b)))
            .map_err(StoreError::sqlite("walking the logs"))
    }

    /// Up to `limit` entries after (`log`, `arrival`) in (log, arrival) order: the whole store
    /// read log by log in bounded chunks (each log's entries in arrival order, which is a
    /// topological order). Starts at the beginning with an empty `log`. The logs are walked
    /// by id through their own index, each log's entries through the (log number, arrival)
    /// one; the bound is split so that the first is a range on the logs' index.
    pub fn entries_by_log_after(
        &self,
        log: &[u8],
        arrival: i64,
        limit: usize,
    ) -> Result<Vec<StoredEntry>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&entries_by_log_after_sql())
            .map_err(StoreError::sqlite("reading entries"))?;
        let rows = stmt
            .query_map(params![log, arrival, limit as i64], stored_entry)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading entries"));
        rows
    }

    /// The log the entry `id` is stored in, if it is stored.
    pub fn log_of(&self, id: &Hash) -> Result<Option<LogId>> {
        self.conn()
            .prepare_cached("SELECT log FROM entries WHERE id = ?1")
            .and_then(|mut s| {
                s.query_row([id.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .map(|log| log.and_then(|b| Hash::from_slice(&b)))
            .map_err(StoreError::sqlite("looking up an entry's log"))
    }
}

#[cfg(test)]
mod tests;
