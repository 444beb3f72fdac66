//! Reports' data keys in the store (`report_keys`): kept wrapped under the home's
//! key-encryption key (see `countersign_ledger::Kek`), installed on the store only while the
//! member's key is unlocked, so a copy of the ledger holds ciphertext and wrapped keys, nothing
//! that opens without the member's passphrase, keychain, token or agent. Destroying a report's
//! key (an erasure) shreds every sealed copy of its payloads.

use countersign_ledger::LogId;
use rusqlite::{params, OptionalExtension};

use crate::{Db, Result, StoreError};

/// Fresh random bytes for wrapping a data key (from the OS).
fn fresh_nonce() -> [u8; countersign_ledger::WRAP_NONCE_LEN] {
    use rand_core::RngCore;
    let mut nonce = [0u8; countersign_ledger::WRAP_NONCE_LEN];
    rand_core::OsRng.fill_bytes(&mut nonce);
    nonce
}

impl Db<'_> {
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
}
