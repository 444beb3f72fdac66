//! Erasure (GDPR Art. 17) in the store: what destroying a report's personal data removes.
//!
//! The headers stay (who wrote what kind of entry when, and the signatures, still verify);
//! the payloads go, and the log is remembered as erased so that no path stores one of them
//! again. Every delete runs with `secure_delete` on (see [`crate::configure`]), so the
//! bytes are overwritten in the pages they leave and in the pages freed; the caller then
//! checkpoints the WAL with `TRUNCATE` ([`crate::Store::truncate_wal`]) so that no older
//! version of those pages stays in the WAL file either.

use countersign_ledger::{Kind, LogId};
use rusqlite::{params, OptionalExtension};

use crate::{Db, Result, StoreError};

/// Kinds whose payloads an erasure keeps: they carry no personal data, only who erased or
/// restricted what on which basis.
pub fn keeps_payload_when_erased(kind: Kind) -> bool {
    matches!(kind, Kind::PayloadErase | Kind::ReportRestrict)
}

/// What destroying one log's personal data removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    pub payloads: u64,
    pub drafts: u64,
    pub quarantined: u64,
    /// Other logs that held the erased report's key (see [`Db::delete_report_key`]): their
    /// key is gone too.
    pub shared_keys: Vec<LogId>,
}

impl Db<'_> {
    /// Whether this home destroyed `log`'s personal data.
    pub fn is_erased(&self, log: &LogId) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM erased_logs WHERE log = ?1")
            .and_then(|mut s| s.query_row([log.as_bytes()], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(StoreError::sqlite("reading erased logs"))
    }

    /// Destroys `log`'s personal data: its payloads but the erasures' and restrictions', its
    /// drafts and its quarantined entries' payloads; and remembers the log as erased (by
    /// `erasure`). A payload another log's entry also names (the same bytes, stored once) is
    /// that log's too and stays — unless that log is erased as well. Idempotent.
    pub fn erase_log(&self, log: &LogId, erasure: &[u8], now_ms: u64) -> Result<Erased> {
        let sql = StoreError::sqlite("erasing a report");
        self.conn
            .execute(
                "INSERT OR IGNORE INTO erased_logs (log, erasure, erased_ms) VALUES (?1, ?2, ?3)",
                params![log.as_bytes(), erasure, now_ms as i64],
            )
            .map_err(sql)?;
        // One pass over the other logs' entries, not one per payload: erasure is rare, and an
        // index on payload hashes would cost every append.
        let payloads = self
            .conn
            .execute(
                "DELETE FROM payloads WHERE hash IN ( \
                   SELECT payload_hash FROM entries \
                   WHERE log = ?1 AND kind NOT IN ('payload.erase', 'report.restrict') \
                 ) AND hash NOT IN ( \
                   SELECT payload_hash FROM entries \
                   WHERE ((log != ?1 AND log NOT IN (SELECT log FROM erased_logs)) \
                          OR kind IN ('payload.erase', 'report.restrict')) \
                     AND payload_hash IN (SELECT payload_hash FROM entries WHERE log = ?1) \
                 )",
                params![log.as_bytes()],
            )
            .map_err(StoreError::sqlite("erasing a report's payloads"))?;
        // The report list's row names the study; an erased report's names none (its entries
        // no longer say one).
        self.conn
            .execute(
                "UPDATE report_summaries SET study = '', template = '' WHERE report = ?1",
                params![log.as_bytes()],
            )
            .map_err(StoreError::sqlite("erasing a report's row"))?;
        // The report's data key: every copy of its sealed payloads anywhere (an old bundle, a
        // backup, a peer offline for good) is unreadable once no home holds it — held for
        // another log too, it goes from there as well.
        let shared_keys = self.delete_report_key(log)?;
        let drafts = self
            .conn
            .execute(
                "DELETE FROM drafts WHERE report = ?1",
                params![log.as_bytes()],
            )
            .map_err(StoreError::sqlite("erasing a report's drafts"))?;
        let quarantined = self
            .conn
            .execute(
                "UPDATE quarantine SET payload = NULL WHERE log = ?1 AND payload IS NOT NULL \
                   AND kind NOT IN ('payload.erase', 'report.restrict')",
                params![log.as_bytes()],
            )
            .map_err(StoreError::sqlite(
                "erasing a report's quarantined payloads",
            ))?;
        Ok(Erased {
            payloads: payloads as u64,
            drafts: drafts as u64,
            quarantined: quarantined as u64,
            shared_keys,
        })
    }

    /// A report's data key, when this home holds it.
    pub fn report_key(&self, log: &LogId) -> Result<Option<countersign_ledger::DataKey>> {
        self.conn
            .prepare_cached("SELECT key FROM report_keys WHERE log = ?1")
            .and_then(|mut s| {
                s.query_row([log.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .map(|k| {
                k.and_then(|mut bytes| {
                    let key = countersign_ledger::DataKey::from_slice(&bytes);
                    zeroize::Zeroize::zeroize(&mut bytes);
                    key
                })
            })
            .map_err(StoreError::sqlite("reading a report's data key"))
    }

    /// Stores a report's data key; one already stored for the log is kept (the caller checked
    /// that it is the same: see `data_key_conflict`), and a key held for another log is
    /// refused by the unique index on its hash (the caller checked that too, with
    /// [`Db::report_key_holder`]: `data_key_reused`). Returns whether it was new.
    pub fn put_report_key(&self, log: &LogId, key: &countersign_ledger::DataKey) -> Result<bool> {
        let hash = countersign_ledger::Hash::of(key.as_bytes());
        self.conn
            .prepare_cached(
                "INSERT INTO report_keys (log, key, key_sha256) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (log) DO NOTHING",
            )
            .and_then(|mut s| {
                s.execute(params![
                    log.as_bytes(),
                    key.as_bytes().as_slice(),
                    hash.as_bytes()
                ])
            })
            .map(|n| n > 0)
            .map_err(StoreError::sqlite("storing a report's data key"))
    }

    /// The log this home holds `key` for, if any (by the key's hash: the key is not indexed).
    pub fn report_key_holder(&self, key: &countersign_ledger::DataKey) -> Result<Option<LogId>> {
        let hash = countersign_ledger::Hash::of(key.as_bytes());
        self.conn
            .prepare_cached("SELECT log FROM report_keys WHERE key_sha256 = ?1")
            .and_then(|mut s| {
                s.query_row([hash.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .map(|l| l.and_then(|l| LogId::from_slice(&l)))
            .map_err(StoreError::sqlite("reading report keys"))
    }

    /// Sealed reports held without their data key, the logs a home asks its peers' keys for:
    /// reports (by their row in the report list) whose `report.create` payload is held and
    /// sealed (`CSS2`, `countersign_report::payload::seal::SEAL_MAGIC`: the app's tests of
    /// the key request fail if the two part), with no key here and not erased — in id order after `after`, at most
    /// `limit`.
    pub fn reports_lacking_keys(&self, after: Option<&LogId>, limit: usize) -> Result<Vec<LogId>> {
        let after: &[u8] = after.map_or(&[], |l| l.as_bytes());
        self.conn
            .prepare_cached(
                "SELECT s.report FROM report_summaries s \
                   JOIN entries e ON e.id = s.report \
                   JOIN payloads p ON p.hash = e.payload_hash \
                 WHERE s.report > ?1 \
                   AND NOT EXISTS (SELECT 1 FROM report_keys k WHERE k.log = s.report) \
                   AND NOT EXISTS (SELECT 1 FROM erased_logs x WHERE x.log = s.report) \
                   AND substr(p.bytes, 1, 4) = X'43535332' \
                 ORDER BY s.report LIMIT ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![after, limit.min(i64::MAX as usize) as i64], |r| {
                    r.get::<_, Vec<u8>>(0)
                })?
                .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map(|rows| rows.iter().filter_map(|l| LogId::from_slice(l)).collect())
            .map_err(StoreError::sqlite(
                "listing the reports held without their key",
            ))
    }

    /// Destroys a report's data key (overwritten in place: `secure_delete` is on), and every
    /// other row holding the same key bytes — a key that served two logs would otherwise
    /// survive as the other's. Returns the other logs whose key went with it.
    pub fn delete_report_key(&self, log: &LogId) -> Result<Vec<LogId>> {
        let sql = StoreError::sqlite("destroying a report's data key");
        let others: Vec<LogId> = self
            .conn
            .prepare_cached(
                "SELECT log FROM report_keys WHERE log != ?1 \
                   AND key IN (SELECT key FROM report_keys WHERE log = ?1)",
            )
            .and_then(|mut s| {
                s.query_map([log.as_bytes()], |r| r.get::<_, Vec<u8>>(0))?
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(sql)?
            .iter()
            .filter_map(|l| LogId::from_slice(l))
            .collect();
        self.conn
            .prepare_cached(
                "DELETE FROM report_keys WHERE log = ?1 \
                   OR key IN (SELECT key FROM report_keys WHERE log = ?1)",
            )
            .and_then(|mut s| s.execute([log.as_bytes()]))
            .map_err(StoreError::sqlite("destroying a report's data key"))?;
        Ok(others)
    }

    /// Every log this home erased, with the entry that erased it.
    pub fn erased_logs(&self) -> Result<Vec<(LogId, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT log, erasure FROM erased_logs ORDER BY log")
            .map_err(StoreError::sqlite("reading erased logs"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })
            .map_err(StoreError::sqlite("reading erased logs"))?;
        let mut out = Vec::new();
        for row in rows {
            let (log, erasure) = row.map_err(StoreError::sqlite("reading erased logs"))?;
            if let Some(log) = countersign_ledger::Hash::from_slice(&log) {
                out.push((log, erasure));
            }
        }
        Ok(out)
    }

    /// Deletes an image's index row and decode verdict, and notes its SHA-256 until its file
    /// is gone ([`Db::erased_image_files`], [`Db::forget_erased_image`]).
    pub fn erase_image(&self, sha256: &[u8; 32]) -> Result<bool> {
        let sql = StoreError::sqlite("erasing an image");
        let gone = self
            .conn
            .execute("DELETE FROM instances WHERE sha256 = ?1", [&sha256[..]])
            .map_err(sql)?;
        self.conn
            .execute("DELETE FROM decode_checks WHERE sha256 = ?1", [&sha256[..]])
            .map_err(StoreError::sqlite("erasing an image"))?;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO erased_images (sha256) VALUES (?1)",
                [&sha256[..]],
            )
            .map_err(StoreError::sqlite("erasing an image"))?;
        Ok(gone > 0)
    }

    /// Images erased whose files may still be on disk.
    pub fn erased_image_files(&self) -> Result<Vec<[u8; 32]>> {
        let mut stmt = self
            .conn
            .prepare("SELECT sha256 FROM erased_images")
            .map_err(StoreError::sqlite("reading erased images"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Vec<u8>>(0))
            .map_err(StoreError::sqlite("reading erased images"))?;
        let mut out = Vec::new();
        for row in rows {
            let bytes = row.map_err(StoreError::sqlite("reading erased images"))?;
            if let Ok(sha) = <[u8; 32]>::try_from(bytes.as_slice()) {
                out.push(sha);
            }
        }
        Ok(out)
    }

    /// The file of an erased image is gone.
    pub fn forget_erased_image(&self, sha256: &[u8; 32]) -> Result<()> {
        self.conn
            .execute("DELETE FROM erased_images WHERE sha256 = ?1", [&sha256[..]])
            .map(|_| ())
            .map_err(StoreError::sqlite("forgetting an erased image"))
    }
}

impl Db<'_> {
    /// Logs with an entry of `kind` stored after `arrival`.
    pub fn logs_with_kind_since(&self, kind: &str, arrival: i64) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT log FROM entries WHERE arrival > ?1 AND kind = ?2")
            .map_err(StoreError::sqlite("finding the logs written"))?;
        let rows = stmt
            .query_map(params![arrival, kind], |r| r.get::<_, Vec<u8>>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(StoreError::sqlite("finding the logs written"))?;
        Ok(rows
            .iter()
            .filter_map(|b| countersign_ledger::Hash::from_slice(b))
            .collect())
    }

    /// How many logs this home erased.
    pub fn erased_count(&self) -> Result<u64> {
        self.conn
            .prepare_cached("SELECT count(*) FROM erased_logs")
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting erased logs"))
    }

    /// Drops a held entry's payload (its report was erased while it waited).
    pub fn drop_held_payload(&self, id: &[u8]) -> Result<()> {
        self.conn
            .execute("UPDATE held SET payload = NULL WHERE id = ?1", [id])
            .map(|_| ())
            .map_err(StoreError::sqlite("erasing a held entry's payload"))
    }
}
