//! Entries served by id: a peer's fetch answered in arrival order, within a row count and a
//! byte budget, reading no payload that will not be sent.

use countersign_ledger::header::MAX_PAYLOAD_LEN;
use countersign_ledger::EntryId;
use rusqlite::OptionalExtension;

use crate::{Db, Result, StoreError, StoredEntry};

/// The payload length a stored header declares (its last eight bytes, big-endian; at most
/// [`MAX_PAYLOAD_LEN`]): what a batch plans for before reading the payload.
fn declared_payload_len(header: &[u8]) -> usize {
    header
        .len()
        .checked_sub(8)
        .and_then(|at| <[u8; 8]>::try_from(&header[at..]).ok())
        .map_or(0, |b| u64::from_be_bytes(b).min(MAX_PAYLOAD_LEN) as usize)
}

impl Db<'_> {
    /// The entries among `ids` this home holds, in arrival order, at most `max_rows` and cut
    /// once their bytes reach `budget` (at least one is always given). A row's size is known
    /// from its header before its payload is read, so a batch never reads payloads it will
    /// not send (but for a row whose header was altered to declare less than it holds: the
    /// budget holds on the bytes read). Returns the entries and whether some held ones were
    /// left out.
    pub fn entries_by_ids(
        &self,
        ids: &[EntryId],
        max_rows: usize,
        budget: usize,
    ) -> Result<(Vec<StoredEntry>, bool)> {
        // One read transaction for the whole batch (when not inside one already): the sizes
        // and the rows come from the same snapshot, and the thousands of statements do not
        // each take and drop a read lock on the WAL (a sixth of a serving node's time in a
        // first full sync).
        let own = self.conn.is_autocommit();
        if own {
            self.conn
                .execute_batch("BEGIN DEFERRED")
                .map_err(StoreError::sqlite("starting a read"))?;
        }
        let out = self.entries_by_ids_in(ids, max_rows, budget);
        if own {
            // A read commits nothing; ending it only lets go of the snapshot (rolled back if
            // that fails, so the connection is never left inside it).
            if self.conn.execute_batch("COMMIT").is_err() {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
        }
        out
    }

    fn entries_by_ids_in(
        &self,
        ids: &[EntryId],
        max_rows: usize,
        budget: usize,
    ) -> Result<(Vec<StoredEntry>, bool)> {
        // First where each id arrived, from the id index alone (it holds the arrival number,
        // the rowid, so no row is read), in id order: neighbouring lookups share its pages. Our
        // own pulls name one batch's worth of ids; a peer may name up to MAX_FETCH_IDS, and
        // those past the batch are only looked up here.
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        let mut arrivals: Vec<i64> = Vec::with_capacity(ids.len());
        {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT arrival FROM entries WHERE id = ?1")
                .map_err(StoreError::sqlite("finding entries"))?;
            for id in &ids {
                if let Some(arrival) = stmt
                    .query_row([id.as_bytes()], |r| r.get::<_, i64>(0))
                    .optional()
                    .map_err(StoreError::sqlite("finding entries"))?
                {
                    arrivals.push(arrival);
                }
            }
        }
        arrivals.sort_unstable();
        arrivals.dedup();
        let held = arrivals.len();
        arrivals.truncate(max_rows.max(1));
        // Then the rows in arrival order, each once, by its rowid: its header says how long
        // its payload is (the last eight bytes), so a row that would pass the budget ends the
        // batch before its payload is read. The budget holds on the bytes read too, not only
        // on what headers declare (a row altered on disk could declare less than it holds).
        let mut row_stmt = self
            .conn
            .prepare_cached(
                "SELECT e.arrival, e.id, e.log, e.author, e.seq, e.kind, e.timestamp_ms, \
                 e.payload_hash, e.header, e.signature, NULL FROM entries e \
                 WHERE e.arrival = ?1",
            )
            .map_err(StoreError::sqlite("reading an entry"))?;
        let mut payload_stmt = self
            .conn
            .prepare_cached("SELECT bytes FROM payloads WHERE arrival = ?1")
            .map_err(StoreError::sqlite("reading a payload"))?;
        let mut rows: Vec<StoredEntry> = Vec::with_capacity(arrivals.len());
        let mut total = 0usize;
        let mut cut_short = false;
        for arrival in &arrivals {
            let Some(mut row) = row_stmt
                .query_row([arrival], crate::db::stored_entry)
                .optional()
                .map_err(StoreError::sqlite("reading an entry"))?
            else {
                continue;
            };
            let bare = row.header.len() + row.signature.len();
            let declared = bare + declared_payload_len(&row.header);
            if !rows.is_empty() && total.saturating_add(declared) > budget {
                cut_short = true;
                break;
            }
            row.payload = payload_stmt
                .query_row([row.arrival], |r| r.get(0))
                .optional()
                .map_err(StoreError::sqlite("reading a payload"))?;
            let size = bare + row.payload.as_ref().map_or(0, Vec::len);
            if !rows.is_empty() && total.saturating_add(size) > budget {
                cut_short = true;
                break;
            }
            total = total.saturating_add(size);
            rows.push(row);
        }
        let more = cut_short || arrivals.len() < held;
        Ok((rows, more))
    }
}
