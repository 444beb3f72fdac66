//! Rows derived from the entries: one per AI proposal (`ai_outcomes`), with the review that
//! decides it, so that `ai stats` reads a table instead of projecting every report that holds
//! AI. Like the report list's rows, the store only keeps what it is given: the app computes
//! each row from the report rules' view of its log and keeps the rows in step in the
//! transaction that stores entries (see `countersign_app`'s projection).
//!
//! A row also keeps a digest of the stored bytes of its proposal and review as they were when
//! the row was made from them, verified. [`Db::scan_ai_entries`] and [`Db::scan_payloads`] read
//! the bytes stored now in two sequential passes (no lookup per row: at 200 000 entries one
//! random lookup each cost seconds), handing each to the caller's function as it is read, so
//! no entry's bytes are held: how `ai stats` notices an entry changed in place without
//! verifying 200 000 signatures.

use countersign_ledger::{Hash, LogId};
use rusqlite::{params, Row};

use crate::db::{stored_entry, ENTRY_COLUMNS, LOG_NO};
use crate::{Db, Result, StoreError, StoredEntry};

/// One AI proposal and its review, as derived from the entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiOutcomeRow {
    /// The proposal entry.
    pub entry: Hash,
    /// Its report log.
    pub log: LogId,
    /// `ai.received` (a DICOM SR attested on receipt) rather than `ai.result`.
    pub received: bool,
    pub model: String,
    pub version: String,
    /// The key that signed the proposal (the model, or the member who attested receipt).
    pub author: Vec<u8>,
    /// For a received SR: the device's manufacturer, as the SR says.
    pub manufacturer: Option<String>,
    pub time_ms: u64,
    /// The report's study (what the modality filter is asked of, from the images).
    pub study: String,
    /// Why the proposal does not count; `None` when it verified and the rules accept it.
    pub unverified: Option<String>,
    /// Digest of the proposal's stored bytes when the row was made (`None` if not stored).
    pub digest: Option<Vec<u8>>,
    pub review: Option<AiReviewRow>,
}

/// The review that decides a proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiReviewRow {
    pub entry: Hash,
    /// `accept`, `edit` or `reject`.
    pub decision: String,
    pub time_ms: u64,
    pub reviewer: Vec<u8>,
    /// Words changed by an edit (0 otherwise).
    pub words_changed: u64,
    pub unverified: Option<String>,
    pub digest: Option<Vec<u8>>,
}

/// Which rows [`Db::ai_outcomes`] reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct AiOutcomeSelection<'a> {
    pub model: Option<&'a str>,
    /// Proposals signed at or after this time.
    pub since_ms: Option<u64>,
    /// Proposals on studies of which this home holds an image of this modality.
    pub modality: Option<&'a str>,
}

const COLUMNS: &str = "o.entry, o.log, o.received, o.model, o.version, o.author, \
     o.manufacturer, o.time_ms, o.study, o.unverified, o.digest, o.review, o.decision, \
     o.review_ms, o.reviewer, o.words_changed, o.review_unverified, o.review_digest";

/// AI kinds, as the `kind` column names them.
const AI_KINDS: &str = "('ai.result', 'ai.received', 'ai.review')";

fn clamp(ms: u64) -> i64 {
    ms.min(i64::MAX as u64) as i64
}

fn hash(bytes: &[u8]) -> Hash {
    Hash::from_slice(bytes).unwrap_or(Hash::ZERO)
}

fn outcome_row(row: &Row<'_>) -> rusqlite::Result<AiOutcomeRow> {
    let review: Option<Vec<u8>> = row.get(11)?;
    Ok(AiOutcomeRow {
        entry: hash(&row.get::<_, Vec<u8>>(0)?),
        log: hash(&row.get::<_, Vec<u8>>(1)?),
        received: row.get::<_, i64>(2)? != 0,
        model: row.get(3)?,
        version: row.get(4)?,
        author: row.get(5)?,
        manufacturer: row.get(6)?,
        time_ms: row.get::<_, i64>(7)?.max(0) as u64,
        study: row.get(8)?,
        unverified: row.get(9)?,
        digest: row.get(10)?,
        review: match review {
            Some(entry) => Some(AiReviewRow {
                entry: hash(&entry),
                decision: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                time_ms: row.get::<_, Option<i64>>(13)?.unwrap_or(0).max(0) as u64,
                reviewer: row.get::<_, Option<Vec<u8>>>(14)?.unwrap_or_default(),
                words_changed: row.get::<_, Option<i64>>(15)?.unwrap_or(0).max(0) as u64,
                unverified: row.get(16)?,
                digest: row.get(17)?,
            }),
            None => None,
        },
    })
}

impl Db<'_> {
    /// Replaces the rows of `log` with `rows` (none: the log holds no AI proposal now).
    pub fn put_ai_outcomes(&self, log: &LogId, rows: &[AiOutcomeRow]) -> Result<()> {
        let sql = || StoreError::sqlite("keeping a report's AI rows");
        self.conn()
            .prepare_cached("DELETE FROM ai_outcomes WHERE log = ?1")
            .and_then(|mut s| s.execute([log.as_bytes()]))
            .map_err(sql())?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut insert = self
            .conn()
            .prepare_cached(&format!(
                "INSERT OR REPLACE INTO ai_outcomes ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, \
                 ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
                COLUMNS.replace("o.", "")
            ))
            .map_err(sql())?;
        for r in rows {
            let v = r.review.as_ref();
            insert
                .execute(params![
                    r.entry.as_bytes(),
                    r.log.as_bytes(),
                    r.received as i64,
                    r.model,
                    r.version,
                    r.author,
                    r.manufacturer,
                    clamp(r.time_ms),
                    r.study,
                    r.unverified,
                    r.digest,
                    v.map(|v| v.entry.as_bytes().to_vec()),
                    v.map(|v| v.decision.as_str()),
                    v.map(|v| clamp(v.time_ms)),
                    v.map(|v| v.reviewer.as_slice()),
                    v.map(|v| clamp(v.words_changed)),
                    v.and_then(|v| v.unverified.as_deref()),
                    v.and_then(|v| v.digest.as_deref()),
                ])
                .map_err(sql())?;
        }
        Ok(())
    }

    /// Drops every row (before they are rebuilt).
    pub fn clear_ai_outcomes(&self) -> Result<()> {
        self.conn()
            .execute_batch("DELETE FROM ai_outcomes")
            .map_err(StoreError::sqlite("dropping the AI rows"))
    }

    /// The rows of `log`, by proposal id.
    pub fn ai_outcomes_of(&self, log: &LogId) -> Result<Vec<AiOutcomeRow>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM ai_outcomes o WHERE o.log = ?1 ORDER BY o.entry"
            ))
            .map_err(StoreError::sqlite("reading a report's AI rows"))?;
        let rows = stmt
            .query_map([log.as_bytes()], outcome_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a report's AI rows"));
        rows
    }

    /// The rows `selection` admits (in no particular order).
    pub fn ai_outcomes(&self, selection: &AiOutcomeSelection<'_>) -> Result<Vec<AiOutcomeRow>> {
        let sql = || StoreError::sqlite("reading the AI rows");
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM ai_outcomes o \
                 WHERE (?1 IS NULL OR o.model = ?1) AND o.time_ms >= ?2 AND (?3 IS NULL OR \
                 EXISTS (SELECT 1 FROM instances i WHERE i.study = o.study AND i.modality = ?3))"
            ))
            .map_err(sql())?;
        let rows = stmt
            .query_map(
                params![
                    selection.model,
                    clamp(selection.since_ms.unwrap_or(0)),
                    selection.modality
                ],
                outcome_row,
            )
            .and_then(|rows| rows.collect())
            .map_err(sql());
        rows
    }

    /// Hands `f` every stored AI entry (proposals and reviews) as `(id, header, signature,
    /// payload_hash)`, in one pass over the entries in arrival order. The bytes are lent, not
    /// copied.
    pub fn scan_ai_entries(&self, mut f: impl FnMut(&[u8], &[u8], &[u8], &[u8])) -> Result<()> {
        let sql = || StoreError::sqlite("reading the AI entries");
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT id, header, signature, payload_hash FROM entries WHERE kind IN {AI_KINDS}"
            ))
            .map_err(sql())?;
        let mut rows = stmt.query([]).map_err(sql())?;
        while let Some(row) = rows.next().map_err(sql())? {
            let blob = |i| row.get_ref(i).map(|v| v.as_bytes().unwrap_or_default());
            f(
                blob(0).map_err(sql())?,
                blob(1).map_err(sql())?,
                blob(2).map_err(sql())?,
                blob(3).map_err(sql())?,
            );
        }
        Ok(())
    }

    /// Hands `f` every stored payload as `(hash, bytes)`, with the hash its entry's header
    /// names, in one pass in arrival order (cheaper than a lookup per entry once most
    /// payloads are wanted). Two entries with the same bytes give them twice.
    pub fn scan_payloads(&self, mut f: impl FnMut(&[u8], &[u8])) -> Result<()> {
        let sql = || StoreError::sqlite("reading the payloads");
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT e.payload_hash, p.bytes FROM payloads p \
                 JOIN entries e ON e.arrival = p.arrival",
            )
            .map_err(sql())?;
        let mut rows = stmt.query([]).map_err(sql())?;
        while let Some(row) = rows.next().map_err(sql())? {
            let blob = |i| row.get_ref(i).map(|v| v.as_bytes().unwrap_or_default());
            f(blob(0).map_err(sql())?, blob(1).map_err(sql())?);
        }
        Ok(())
    }

    /// The stored AI entries of `log` (proposals and reviews), in arrival order.
    pub fn ai_entries_of(&self, log: &LogId) -> Result<Vec<StoredEntry>> {
        let mut stmt = self
            .conn()
            .prepare_cached(&format!(
                "SELECT {ENTRY_COLUMNS} WHERE e.log_no = {LOG_NO} AND e.kind IN {AI_KINDS} \
                 ORDER BY e.arrival"
            ))
            .map_err(StoreError::sqlite("reading a report's AI entries"))?;
        let rows = stmt
            .query_map([log.as_bytes()], stored_entry)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading a report's AI entries"));
        rows
    }

    /// Every log that stores an AI proposal (a scan: asked when the rows are rebuilt).
    pub fn logs_with_ai_proposals(&self) -> Result<Vec<LogId>> {
        self.logs_where(
            "SELECT DISTINCT log FROM entries WHERE kind IN ('ai.result', 'ai.received') \
             ORDER BY log",
        )
    }

    /// Logs that have rows but no stored entry at all (what `verify` names as rows of nothing).
    pub fn ai_outcome_orphans(&self) -> Result<Vec<LogId>> {
        self.logs_where(
            "SELECT DISTINCT log FROM ai_outcomes o WHERE NOT EXISTS \
             (SELECT 1 FROM logs l JOIN entries e ON e.log_no = l.log_no WHERE l.log = o.log) \
             ORDER BY log",
        )
    }

    fn logs_where(&self, sql: &str) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn()
            .prepare_cached(sql)
            .map_err(StoreError::sqlite("finding AI rows"))?;
        let rows: Vec<Vec<u8>> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("finding AI rows"))?;
        Ok(rows.iter().filter_map(|b| Hash::from_slice(b)).collect())
    }
}
