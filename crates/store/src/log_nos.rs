//! Log numbers: the local number of each log (the `logs` table), by which the per-log indexes
//! are keyed, and the map a write transaction keeps of those it has looked up or given.

use countersign_ledger::LogId;
use rusqlite::OptionalExtension;

use crate::db::Db;
use crate::{Result, StoreError};

/// The log numbers one write transaction has looked up or given (see [`Db::log_no`]), so
/// that a batch's entries of one log (a report's create and sections, then its row in the
/// report list) look its number up once: each lookup is a descent of the `logs` index, keyed
/// by hash, at a random place (on a first sync of 1M reports, 3-4 % of the taking-in CPU,
/// `perf`). Made by [`crate::Store::write`] for one transaction and dropped with it, so a
/// number given by a write that is rolled back is never used again; numbers stored are never
/// changed nor removed (no statement deletes from `logs`), so one read stays true. Bounded:
/// emptied when it holds [`MAX_LOG_NOS`].
#[derive(Debug, Default)]
pub(crate) struct LogNos(std::cell::RefCell<countersign_ledger::IdMap<i64>>);

/// Log numbers one write keeps at most (about 0.6 MiB): a batch reaches a few thousand logs.
const MAX_LOG_NOS: usize = 16_384;

impl LogNos {
    fn get(&self, log: &LogId) -> Option<i64> {
        self.0.borrow().get(log).copied()
    }

    fn put(&self, log: LogId, no: i64) {
        let mut map = self.0.borrow_mut();
        if map.len() >= MAX_LOG_NOS {
            map.clear();
        }
        map.insert(log, no);
    }
}

impl Db<'_> {
    /// The local number of `log` (see the `logs` table), if an entry of it is stored.
    pub(crate) fn log_no(&self, log: &LogId) -> Result<Option<i64>> {
        if let Some(no) = self.log_nos.and_then(|k| k.get(log)) {
            return Ok(Some(no));
        }
        let found = self
            .conn
            .prepare_cached("SELECT log_no FROM logs WHERE log = ?1")
            .and_then(|mut s| s.query_row([log.as_bytes()], |r| r.get(0)).optional())
            .map_err(StoreError::sqlite("looking up a log"))?;
        // Only a number found: a log not numbered yet may be numbered later in this write.
        if let (Some(no), Some(kept)) = (found, self.log_nos) {
            kept.put(*log, no);
        }
        Ok(found)
    }

    /// The local number of `log`, given to it now if it has none: the next after every log
    /// seen before, so a home taking logs one after another appends to the per-log indexes.
    pub(crate) fn log_no_or_new(&self, log: &LogId) -> Result<i64> {
        if let Some(no) = self.log_no(log)? {
            return Ok(no);
        }
        let no = self
            .conn
            .prepare_cached("INSERT INTO logs (log) VALUES (?1)")
            .and_then(|mut s| s.insert([log.as_bytes()]))
            .map_err(StoreError::sqlite("numbering a log"))?;
        if let Some(kept) = self.log_nos {
            kept.put(*log, no);
        }
        Ok(no)
    }
}
