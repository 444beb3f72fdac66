//! The validation state kept across calls (roster, network, the logs in use): loaded once and
//! reused by reads and writes while no other connection has committed (SQLite's
//! `data_version`), dropped when a write fails, when this handle writes outside `append`, or
//! when what it can read changes (the data keys); and the cache of entries whose stored bytes
//! were verified. Apart from `home.rs` so that what keeps the state and what drops it read
//! together.

use std::sync::PoisonError;

use countersign_ledger::LogId;
use countersign_store::Store;

use super::{Cache, Home, Verified};
use crate::error::{AppError, Result};
use crate::state::{LedgerState, MAX_LOADED_LOGS};

impl Home {
    /// A fresh read-only view of the validation state (roster and network).
    pub(crate) fn state(&self) -> Result<LedgerState> {
        LedgerState::load(&self.store.db())
    }

    /// Runs `f` in one write transaction with the validation state kept across calls
    /// (reloaded when another connection has committed). If `f` fails, the transaction rolls
    /// back and the state, which may hold what was rolled back, is dropped.
    pub(crate) fn write_with_state<T>(
        &mut self,
        f: impl FnOnce(&countersign_store::Db<'_>, &mut LedgerState) -> Result<T>,
    ) -> Result<T> {
        // What the write stores is projected with the reports it reaches readable, when the
        // passphrase source can open them. Closed because the home held no data key when
        // asked (one read decides both): another process (a serving node) may store the first
        // one before the write lock is taken, and the reports this write reaches would then
        // be projected locked, their rows without what only their payloads say. That is
        // judged under the lock; the key is opened outside it.
        let mut no_key_yet = !self.keys_open() && !self.store.db().holds_report_keys()?;
        if !no_key_yet {
            self.open_keys(false)?;
        }
        let mut f = f;
        // Twice at most: the second attempt does not look for a key.
        loop {
            let attempt = self.write_with_state_once(f, no_key_yet);
            match self.unless_rotated(attempt)? {
                Ok(out) => return Ok(out),
                Err(back) => {
                    f = back;
                    self.open_keys(false)?;
                    no_key_yet = false;
                }
            }
        }
    }

    /// One attempt of [`Home::write_with_state`]: `Err(f)`, nothing written, when
    /// `no_key_yet` and the home holds a data key now.
    pub(crate) fn write_with_state_once<T, F>(
        &mut self,
        f: F,
        no_key_yet: bool,
    ) -> Result<Result<T, F>>
    where
        F: FnOnce(&countersign_store::Db<'_>, &mut LedgerState) -> Result<T>,
    {
        self.finish_projection()?;
        let Home {
            store, cache, keys, ..
        } = self;
        let kek = store.kek();
        let cache = lock(cache.get_mut());
        let result = store.write(|db| {
            if no_key_yet && db.holds_report_keys()? {
                return Ok(Err(f));
            }
            // Keys opened before another process adopted a key rotation would project this
            // write's reports as unopened, and wrap new keys under the deleted key's.
            crate::rotation::hold_kek(db, kek.as_deref(), keys)?;
            let version = db_data_version(db)?;
            if cache.as_ref().is_none_or(|c| c.data_version != version) {
                *cache = Some(Cache {
                    data_version: version,
                    state: LedgerState::load(db)?,
                });
            }
            let state = &mut cache.as_mut().ok_or(AppError::NoNetwork)?.state;
            state.trim(MAX_LOADED_LOGS);
            // Whatever this write stores — here, by a held entry released, by a bundle or a
            // peer's batch — its reports' rows in the report list are kept in step before it
            // commits.
            let mark = crate::projection::mark(db, state)?;
            // Entries held for later come in with the first write after their time.
            crate::bundle::release_held(db, state)?;
            let out = f(db, state)?;
            // Whatever brought an erasure, what it erases goes in this same transaction.
            let erased = crate::erasure::apply(db, state, mark.arrival())?;
            crate::projection::update(db, state, mark)?;
            Ok(Ok((out, erased > 0)))
        });
        match result {
            Ok(Err(f)) => Ok(Err(f)),
            Ok(Ok((out, erased))) => {
                // The erasure is committed: deleting its images' files, if that fails now, is
                // finished when the home is next opened, and the write stands.
                if erased {
                    if let Err(e) = crate::erasure::after_commit(self) {
                        tracing::warn!(
                            error = e.code(),
                            "erased images' files are deleted when the home is next opened"
                        );
                    }
                }
                Ok(Ok(out))
            }
            Err(e) => {
                *cache = None;
                Err(e)
            }
        }
    }

    /// The rebuild of the report list's rows that waited for the data keys, once they are open.
    pub(crate) fn finish_projection(&mut self) -> Result<()> {
        if self.projection_pending && self.store.kek().is_some() {
            self.projection_pending = crate::projection::ensure(&mut self.store)?;
            self.forget_state();
        }
        Ok(())
    }

    /// Drops the validation state kept across calls (it holds data keys, or was loaded
    /// without them): the next use loads it again.
    pub(crate) fn forget_state(&self) {
        *self.cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn store_mut(&mut self) -> &mut Store {
        *lock(self.cache.get_mut()) = None;
        &mut self.store
    }

    /// Runs `f` on the validation state with `log` loaded, reusing the state kept across calls
    /// while no other connection has committed.
    pub(crate) fn with_state<T>(
        &self,
        log: &LogId,
        f: impl FnOnce(&mut LedgerState, &countersign_store::Db<'_>) -> Result<T>,
    ) -> Result<T> {
        self.open_keys(false)?;
        let db = self.store.db();
        let mut guard = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let version = db_data_version(&db)?;
        if guard.as_ref().is_none_or(|c| c.data_version != version) {
            *guard = Some(Cache {
                data_version: version,
                state: LedgerState::load(&db)?,
            });
        }
        let state = &mut guard.as_mut().ok_or(AppError::NoNetwork)?.state;
        state.trim(MAX_LOADED_LOGS);
        if let Err(e) = state.load_log(&db, log) {
            // A half-loaded log must not be served next time.
            *guard = None;
            return Err(e);
        }
        f(state, &db)
    }

    pub(crate) fn verified(&self) -> std::sync::MutexGuard<'_, Verified> {
        self.verified.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) fn lock<T>(r: std::sync::LockResult<T>) -> T {
    r.unwrap_or_else(PoisonError::into_inner)
}

fn db_data_version(db: &countersign_store::Db<'_>) -> Result<i64> {
    Ok(db.data_version()?)
}
