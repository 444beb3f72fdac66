//! Drafts: the unsigned text of a section being typed, kept in the home until the section is
//! signed (or typed back to the signed text) and then dropped. Bounded per section and per
//! home.

use countersign_ledger::LogId;
use rusqlite::params;

use crate::{Db, Result, StoreError};

/// The most unsigned text a section's draft keeps, in bytes (a long report is tens of KiB).
pub const MAX_DRAFT_BYTES: usize = 1 << 20;

/// The most drafts a home keeps (sections typed into and not yet signed, across reports).
pub const MAX_DRAFTS: u64 = 10_000;

impl Db<'_> {
    /// Keeps the unsigned text of a section (replacing the last one kept). At most
    /// [`MAX_DRAFT_BYTES`] of text per section and [`MAX_DRAFTS`] drafts in a home.
    pub fn save_draft(&self, report: &LogId, section: &str, text: &str, now_ms: u64) -> Result<()> {
        if text.len() > MAX_DRAFT_BYTES || section.len() > 200 {
            return Err(StoreError::TooLarge {
                what: "draft",
                limit: MAX_DRAFT_BYTES as u64,
            });
        }
        let exists: bool = self
            .conn
            .prepare_cached("SELECT 1 FROM drafts WHERE report = ?1 AND section = ?2")
            .and_then(|mut s| s.exists(params![report.as_bytes(), section]))
            .map_err(StoreError::sqlite("reading a draft"))?;
        if !exists && self.draft_count()? >= MAX_DRAFTS {
            return Err(StoreError::TooLarge {
                what: "drafts",
                limit: MAX_DRAFTS,
            });
        }
        self.conn
            .prepare_cached(
                "INSERT INTO drafts (report, section, text, saved_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (report, section) DO UPDATE SET text = ?3, saved_ms = ?4",
            )
            .and_then(|mut s| {
                s.execute(params![
                    report.as_bytes(),
                    section,
                    text,
                    now_ms.min(i64::MAX as u64) as i64
                ])
            })
            .map(|_| ())
            .map_err(StoreError::sqlite("keeping a draft"))
    }

    /// The drafts of a report: (section, text), by section.
    pub fn drafts(&self, report: &LogId) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT section, text FROM drafts WHERE report = ?1 ORDER BY section")
            .map_err(StoreError::sqlite("reading drafts"))?;
        let rows = stmt
            .query_map(params![report.as_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(StoreError::sqlite("reading drafts"))?;
        Ok(rows)
    }

    /// Drops a section's draft (signed, or typed back to the signed text).
    pub fn drop_draft(&self, report: &LogId, section: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM drafts WHERE report = ?1 AND section = ?2")
            .and_then(|mut s| s.execute(params![report.as_bytes(), section]))
            .map(|_| ())
            .map_err(StoreError::sqlite("dropping a draft"))
    }

    /// Drops a section's draft only if it holds `text`: what was just signed. A draft another
    /// handle saved since (typed on after the text that was signed) is kept.
    pub fn drop_draft_holding(&self, report: &LogId, section: &str, text: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM drafts WHERE report = ?1 AND section = ?2 AND text = ?3")
            .and_then(|mut s| s.execute(params![report.as_bytes(), section, text]))
            .map(|_| ())
            .map_err(StoreError::sqlite("dropping a draft"))
    }

    fn draft_count(&self) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT COUNT(*) FROM drafts")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting drafts"))
    }
}
