//! Erasure (GDPR Art. 17) in the store: what destroying a report's personal data removes.
//!
//! The headers stay (who wrote what kind of entry when, and the signatures, still verify);
//! the payloads go, and the log is remembered as erased so that no path stores one of them
//! again. Every delete runs with `secure_delete` on (see [`crate::configure`]), so the
//! bytes are overwritten in the pages they leave and in the pages freed; the caller then
//! checkpoints the WAL with `TRUNCATE` ([`crate::Store::truncate_wal`]) so that no older
//! version of those pages stays in the WAL file either.
//!
//! The data keys (`report_keys`) are stored wrapped under the home's key-encryption key (see
//! `countersign_ledger::Kek`), installed on the store only while the member's key is
//! unlocked: a copy of the ledger holds ciphertext and wrapped keys, nothing that opens
//! without the member's passphrase, keychain, token or agent.

use countersign_ledger::{Entry, Kind, LogId};
use rusqlite::{params, OptionalExtension};

use crate::db::LOG_NO;
use crate::{Db, Result, StoreError};

/// Fresh random bytes for wrapping a data key (from the OS).
fn fresh_nonce() -> [u8; countersign_ledger::WRAP_NONCE_LEN] {
    use rand_core::RngCore;
    let mut nonce = [0u8; countersign_ledger::WRAP_NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut nonce);
    nonce
}

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
    /// `payload`, unless `entry` is of an erased log and not an erasure or a restriction
    /// (which carry no personal data): every table that keeps a payload goes through this, so
    /// no path stores an erased report's content again (a peer's entry held for its date, or
    /// waiting in the quarantine, once did; found by review, 2026-12-05).
    pub fn payload_unless_erased<'p>(
        &self,
        entry: &Entry,
        payload: Option<&'p [u8]>,
    ) -> Result<Option<&'p [u8]>> {
        Ok(match payload {
            Some(_)
                if !keeps_payload_when_erased(entry.header().kind)
                    && self.is_erased(&entry.log_id())? =>
            {
                None
            }
            other => other,
        })
    }

    /// The erasure entry that erased `log`, if it was.
    pub fn erasure_of(&self, log: &LogId) -> Result<Option<countersign_ledger::EntryId>> {
        self.conn
            .prepare_cached("SELECT erasure FROM erased_logs WHERE log = ?1")
            .and_then(|mut s| {
                s.query_row([log.as_bytes()], |r| r.get::<_, Vec<u8>>(0))
                    .optional()
            })
            .map(|r| r.and_then(|b| countersign_ledger::Hash::from_slice(&b)))
            .map_err(StoreError::sqlite("reading erased logs"))
    }

    pub fn is_erased(&self, log: &LogId) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM erased_logs WHERE log = ?1")
            .and_then(|mut s| s.query_row([log.as_bytes()], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(StoreError::sqlite("reading erased logs"))
    }

    /// Destroys `log`'s personal data: its payloads but the erasures' and restrictions', its
    /// drafts and its quarantined entries' payloads; and remembers the log as erased (by
    /// `erasure`). Each entry keeps its own payload (by its arrival), so another log's entry
    /// with the same bytes keeps its copy. Idempotent.
    pub fn erase_log(&self, log: &LogId, erasure: &[u8], now_ms: u64) -> Result<Erased> {
        let sql = StoreError::sqlite("erasing a report");
        self.conn
            .execute(
                "INSERT OR IGNORE INTO erased_logs (log, erasure, erased_ms) VALUES (?1, ?2, ?3)",
                params![log.as_bytes(), erasure, now_ms as i64],
            )
            .map_err(sql)?;
        // The log's own entries through the (log number, arrival) index, their payloads by
        // the same arrival numbers.
        let payloads = self
            .conn
            .execute(
                &format!(
                    "DELETE FROM payloads WHERE arrival IN ( \
                       SELECT arrival FROM entries \
                       WHERE log_no = {LOG_NO} AND kind NOT IN ('payload.erase', 'report.restrict') \
                     )"
                ),
                params![log.as_bytes()],
            )
            .map_err(StoreError::sqlite("erasing a report's payloads"))?;
        // Fork evidence keeps only roster payloads; a report log's would go with its report.
        self.conn
            .execute(
                "DELETE FROM fork_payloads WHERE log = ?1",
                params![log.as_bytes()],
            )
            .map_err(StoreError::sqlite("erasing a report's payloads"))?;
        // The report list's row names the study; an erased report's names none (its entries
        // no longer say one).
        self.conn
            .execute(
                &format!(
                    "UPDATE report_summaries SET study = '', template = '' \
                     WHERE log_no = {LOG_NO} AND report = ?1"
                ),
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

    /// A report's data key, when this home holds it: unwrapped with the installed
    /// key-encryption key (`KeysLocked` without one; `KeyUnwrap` when it does not open — a row
    /// wrapped under another member key, moved from another report, or damaged). A row still
    /// in clear (stored by an older build, not wrapped yet) is read as it is.
    pub fn report_key(&self, log: &LogId) -> Result<Option<countersign_ledger::DataKey>> {
        let row = self
            .conn
            .prepare_cached("SELECT key, wrapped FROM report_keys WHERE log = ?1")
            .and_then(|mut s| {
                s.query_row([log.as_bytes()], |r| {
                    Ok((
                        zeroize::Zeroizing::new(r.get::<_, Vec<u8>>(0)?),
                        r.get::<_, i64>(1)?,
                    ))
                })
                .optional()
            })
            .map_err(StoreError::sqlite("reading a report's data key"))?;
        let Some((bytes, wrapped)) = row else {
            return Ok(None);
        };
        if wrapped == 0 {
            return Ok(countersign_ledger::DataKey::from_slice(&bytes));
        }
        let kek = self.kek.get().ok_or(StoreError::KeysLocked)?;
        kek.unwrap(log, &bytes)
            .map(Some)
            .map_err(|reason| StoreError::KeyUnwrap {
                log: log.to_hex(),
                reason,
            })
    }

    /// Whether this home holds a key row for `log` (opened or not: no key-encryption key is
    /// needed to know).
    pub fn holds_report_key(&self, log: &LogId) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM report_keys WHERE log = ?1")
            .and_then(|mut s| s.query_row([log.as_bytes()], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(StoreError::sqlite("reading report keys"))
    }

    /// Whether this home holds any data key (in clear or wrapped).
    pub fn holds_report_keys(&self) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM report_keys LIMIT 1")
            .and_then(|mut s| s.query_row([], |_| Ok(())).optional())
            .map(|r| r.is_some())
            .map_err(StoreError::sqlite("reading report keys"))
    }

    /// How many data keys this home holds, and how many of them are still in clear.
    pub fn report_key_counts(&self) -> Result<(u64, u64)> {
        self.conn
            .prepare_cached("SELECT count(*), coalesce(sum(wrapped = 0), 0) FROM report_keys")
            .and_then(|mut s| {
                s.query_row([], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
                })
            })
            .map_err(StoreError::sqlite("counting report keys"))
    }

    /// Stores a report's data key, wrapped under the installed key-encryption key
    /// (`KeysLocked` without one: a key is never stored in clear). One already stored for the
    /// log is kept (the caller checked that it is the same: see `data_key_conflict`), and a
    /// key held for another log is refused by the unique index on its hash (the caller
    /// checked that too, with [`Db::report_key_holder`]: `data_key_reused`). Returns whether it
    /// was new.
    pub fn put_report_key(&self, log: &LogId, key: &countersign_ledger::DataKey) -> Result<bool> {
        let kek = self.kek.get().ok_or(StoreError::KeysLocked)?;
        self.claim_kek(&kek)?;
        let hash = countersign_ledger::Hash::of(key.as_bytes());
        let wrapped = kek.wrap(log, key, &fresh_nonce());
        self.conn
            .prepare_cached(
                "INSERT INTO report_keys (log, key, key_sha256, wrapped) VALUES (?1, ?2, ?3, 1) \
                 ON CONFLICT (log) DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![log.as_bytes(), wrapped, hash.as_bytes()]))
            .map(|n| n > 0)
            .map_err(StoreError::sqlite("storing a report's data key"))
    }

    /// Wraps every data key still stored in clear (by a build from before keys were wrapped)
    /// under the installed key-encryption key, filling in its hash where it has none. Returns
    /// how many were wrapped. Call it in a write transaction, then truncate the WAL
    /// ([`crate::Store::truncate_wal`]): the clear bytes are overwritten in place
    /// (`secure_delete`), and the WAL's older page versions go with the checkpoint.
    pub fn wrap_clear_report_keys(&self) -> Result<u64> {
        let kek = self.kek.get().ok_or(StoreError::KeysLocked)?;
        self.claim_kek(&kek)?;
        self.wrap_clear_under(&kek)
    }

    /// [`Db::wrap_clear_report_keys`] under `kek`, not held to the recorded member key.
    fn wrap_clear_under(&self, kek: &countersign_ledger::Kek) -> Result<u64> {
        let sql = StoreError::sqlite("wrapping the data keys stored in clear");
        // (log, key bytes, key hash)
        type Row = (Vec<u8>, zeroize::Zeroizing<Vec<u8>>, Option<Vec<u8>>);
        let rows: Vec<Row> = self
            .conn
            .prepare("SELECT log, key, key_sha256 FROM report_keys WHERE wrapped = 0")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((r.get(0)?, zeroize::Zeroizing::new(r.get(1)?), r.get(2)?))
                })?
                .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(sql)?;
        let mut wrapped = 0;
        for (log, bytes, hash) in rows {
            let (Some(log), Some(key)) = (
                LogId::from_slice(&log),
                countersign_ledger::DataKey::from_slice(&bytes),
            ) else {
                // Not a key at all: it opens nothing, and is not kept in clear either.
                self.conn
                    .execute("DELETE FROM report_keys WHERE log = ?1", [&log])
                    .map_err(StoreError::sqlite("dropping a damaged data key"))?;
                continue;
            };
            // The hash, for a row from before hashes (migration 16) — unless another row holds
            // it already (the same key stored for two logs by then): it stays unset there.
            let hash = match hash {
                Some(h) => Some(h),
                None => {
                    let h = countersign_ledger::Hash::of(key.as_bytes());
                    match self.report_key_holder(&key)? {
                        Some(_) => None,
                        None => Some(h.as_bytes().to_vec()),
                    }
                }
            };
            self.conn
                .execute(
                    "UPDATE report_keys SET key = ?2, key_sha256 = ?3, wrapped = 1 WHERE log = ?1",
                    params![log.as_bytes(), kek.wrap(&log, &key, &fresh_nonce()), hash],
                )
                .map_err(StoreError::sqlite("wrapping a data key stored in clear"))?;
            wrapped += 1;
        }
        Ok(wrapped)
    }

    /// Wraps every data key again under `new` (the member's key rotated: the key-encryption
    /// key changes with it), each unwrapped with the installed one; a row that opens under
    /// `new` already is left. Call it in the write
    /// transaction that records the rotation, then install `new` once it commits. Returns how
    /// many rows were re-wrapped.
    pub fn rewrap_report_keys(&self, new: &countersign_ledger::Kek) -> Result<u64> {
        let kek = self.kek.get().ok_or(StoreError::KeysLocked)?;
        // Recorded under the installed key, or under `new` already (a rotation that stopped
        // before switching runs again); any other key's is another process's doing.
        let recorded = self.kek_member()?;
        if recorded.is_some_and(|m| m != kek.member().to_hex() && m != new.member().to_hex()) {
            return Err(StoreError::KeysRotated);
        }
        self.wrap_clear_under(&kek)?;
        let logs: Vec<Vec<u8>> = self
            .conn
            .prepare("SELECT log FROM report_keys WHERE wrapped = 1")
            .and_then(|mut s| {
                s.query_map([], |r| r.get(0))?
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(StoreError::sqlite("reading report keys"))?;
        let mut n = 0;
        for log in logs.iter().filter_map(|l| LogId::from_slice(l)) {
            // Wrapped under `new` already (a rotation that stopped before switching runs
            // again): left as it is.
            let bytes: Vec<u8> = self
                .conn
                .prepare_cached("SELECT key FROM report_keys WHERE log = ?1")
                .and_then(|mut s| s.query_row([log.as_bytes()], |r| r.get(0)))
                .map_err(StoreError::sqlite("reading a report's data key"))?;
            if new.unwrap(&log, &bytes).is_ok() {
                continue;
            }
            let Some(key) = self.report_key(&log)? else {
                continue;
            };
            self.conn
                .execute(
                    "UPDATE report_keys SET key = ?2 WHERE log = ?1",
                    params![log.as_bytes(), new.wrap(&log, &key, &fresh_nonce())],
                )
                .map_err(StoreError::sqlite("re-wrapping a data key"))?;
            n += 1;
        }
        self.set_kek_member(new.member())?;
        Ok(n)
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
                "SELECT s.report FROM logs l CROSS JOIN report_summaries s \
                     ON s.log_no = l.log_no AND s.report = l.log \
                   JOIN entries e ON e.id = s.report \
                   JOIN payloads p ON p.arrival = e.arrival \
                 WHERE l.log > ?1 \
                   AND NOT EXISTS (SELECT 1 FROM report_keys k WHERE k.log = s.report) \
                   AND NOT EXISTS (SELECT 1 FROM erased_logs x WHERE x.log = s.report) \
                   AND substr(p.bytes, 1, 4) = X'43535332' \
                 ORDER BY l.log LIMIT ?2",
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
    /// other row holding the same key — a key that served two logs would otherwise survive as
    /// the other's. Rows are matched by the key's hash, which needs no key-encryption key (a
    /// wrapped key's bytes differ from row to row): the stored hash, or the hash of a row
    /// still in clear; a wrapped row without a hash (a key stored for two logs before hashes
    /// existed) is unwrapped to compare when the key-encryption key is installed. Returns the
    /// other logs whose key went with it.
    pub fn delete_report_key(&self, log: &LogId) -> Result<Vec<LogId>> {
        type Row = (Vec<u8>, zeroize::Zeroizing<Vec<u8>>, Option<Vec<u8>>, i64);
        let rows: Vec<Row> = self
            .conn
            .prepare_cached("SELECT log, key, key_sha256, wrapped FROM report_keys")
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        zeroize::Zeroizing::new(r.get(1)?),
                        r.get(2)?,
                        r.get(3)?,
                    ))
                })?
                .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(StoreError::sqlite("destroying a report's data key"))?;
        let kek = self.kek.get();
        let hash_of = |(log, key, hash, wrapped): &Row| -> Option<Vec<u8>> {
            if let Some(h) = hash {
                return Some(h.clone());
            }
            let clear = if *wrapped == 0 {
                countersign_ledger::DataKey::from_slice(key)
            } else {
                kek.as_ref()?.unwrap(&LogId::from_slice(log)?, key).ok()
            };
            clear.map(|k| {
                countersign_ledger::Hash::of(k.as_bytes())
                    .as_bytes()
                    .to_vec()
            })
        };
        let target = rows
            .iter()
            .find(|r| r.0 == log.as_bytes())
            .and_then(hash_of);
        let mut others = Vec::new();
        let mut gone: Vec<&[u8]> = vec![log.as_bytes()];
        if let Some(target) = target {
            for row in &rows {
                if row.0 != log.as_bytes() && hash_of(row).as_ref() == Some(&target) {
                    gone.push(&row.0);
                    others.extend(LogId::from_slice(&row.0));
                }
            }
        }
        for victim in gone {
            self.conn
                .prepare_cached("DELETE FROM report_keys WHERE log = ?1")
                .and_then(|mut s| s.execute([victim]))
                .map_err(StoreError::sqlite("destroying a report's data key"))?;
        }
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

    /// Deletes an image's index row and decode verdict, and notes its SHA-256 with the next
    /// erasure mark ([`Db::erasure_mark`]) until its file is gone
    /// ([`Db::erased_image_files`], [`Db::forget_erased_image`]).
    pub fn erase_image(&self, sha256: &[u8; 32]) -> Result<bool> {
        let sql = StoreError::sqlite("erasing an image");
        let gone = self
            .conn
            .execute("DELETE FROM instances WHERE sha256 = ?1", [&sha256[..]])
            .map_err(sql)?;
        self.conn
            .execute("DELETE FROM decode_checks WHERE sha256 = ?1", [&sha256[..]])
            .map_err(StoreError::sqlite("erasing an image"))?;
        // Erased again (imported again since), it takes the new mark: an import running
        // now must refuse it too.
        let mark = self.erasure_mark()? + 1;
        self.conn
            .execute(
                "INSERT INTO erased_images (sha256, erased_at, file_gone) VALUES (?1, ?2, 0) \
                 ON CONFLICT (sha256) DO UPDATE SET erased_at = ?2, file_gone = 0",
                params![&sha256[..], mark],
            )
            .map_err(StoreError::sqlite("erasing an image"))?;
        Ok(gone > 0)
    }

    /// Notes that an erasure deleted the images of `study`, with the next erasure mark: an
    /// import begun before it refuses the study's images ([`Db::erased_since`]).
    pub fn erase_study(&self, study: &str) -> Result<()> {
        let mark = self.erasure_mark()? + 1;
        self.conn
            .execute(
                "INSERT INTO erased_studies (study, erased_at) VALUES (?1, ?2) \
                 ON CONFLICT (study) DO UPDATE SET erased_at = ?2",
                params![study, mark],
            )
            .map(|_| ())
            .map_err(StoreError::sqlite("erasing a study's images"))
    }

    /// The newest erasure mark: what an import reads when it begins, to refuse an image
    /// erased while it runs ([`Db::erased_since`]). 0 when nothing was ever erased.
    pub fn erasure_mark(&self) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT MAX((SELECT COALESCE(MAX(erased_at), 0) FROM erased_images), \
                            (SELECT COALESCE(MAX(erased_at), 0) FROM erased_studies))",
                [],
                |r| r.get(0),
            )
            .map_err(StoreError::sqlite("reading the erasure mark"))
    }

    /// Whether the image `sha256`, of `study`, or its study's images, were erased after
    /// `mark` was read.
    pub fn erased_since(&self, sha256: &[u8; 32], study: &str, mark: i64) -> Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM erased_images WHERE sha256 = ?1 AND erased_at > ?3) \
                     OR EXISTS (SELECT 1 FROM erased_studies WHERE study = ?2 AND erased_at > ?3)",
            )
            .and_then(|mut s| s.query_row(params![&sha256[..], study, mark], |r| r.get(0)))
            .map_err(StoreError::sqlite("reading erased images"))
    }

    /// Images erased whose files may still be on disk.
    pub fn erased_image_files(&self) -> Result<Vec<[u8; 32]>> {
        let mut stmt = self
            .conn
            .prepare("SELECT sha256 FROM erased_images WHERE file_gone = 0")
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

    /// The file of an erased image is gone (the image stays remembered with its mark).
    pub fn forget_erased_image(&self, sha256: &[u8; 32]) -> Result<()> {
        self.conn
            .execute(
                "UPDATE erased_images SET file_gone = 1 WHERE sha256 = ?1",
                [&sha256[..]],
            )
            .map(|_| ())
            .map_err(StoreError::sqlite("forgetting an erased image"))
    }
}

/// The rows stored after an arrival number, through the rowid (see
/// [`Db::logs_with_kind_since`]).
pub(crate) const LOGS_WITH_KIND_SINCE: &str =
    "SELECT log FROM entries WHERE arrival > ?1 AND kind = ?2";

impl Db<'_> {
    /// Logs with an entry of `kind` stored after `arrival`, each once, in log order. Every
    /// write asks it (for erasures), so it reads only the rows stored after `arrival`: with
    /// `DISTINCT` in SQL, SQLite walked the whole (log, arrival) index instead, once per
    /// write, a cost that grew with the store (a tenth of a first full sync's time at 600 000
    /// entries, and the whole store read again for each 1 000-entry reconcile).
    pub fn logs_with_kind_since(&self, kind: &str, arrival: i64) -> Result<Vec<LogId>> {
        let mut stmt = self
            .conn
            .prepare_cached(LOGS_WITH_KIND_SINCE)
            .map_err(StoreError::sqlite("finding the logs written"))?;
        let rows = stmt
            .query_map(params![arrival, kind], |r| r.get::<_, Vec<u8>>(0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(StoreError::sqlite("finding the logs written"))?;
        let mut logs: Vec<LogId> = rows
            .iter()
            .filter_map(|b| countersign_ledger::Hash::from_slice(b))
            .collect();
        logs.sort_unstable();
        logs.dedup();
        Ok(logs)
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
