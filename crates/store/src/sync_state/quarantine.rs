//! The quarantine: entries a peer sent that this home refuses by rule, or that wait for
//! something, kept within bounds on the whole, per peer and per author.

use countersign_ledger::{Entry, EntryId};
use rusqlite::params;

use super::{
    Kept, QuarantineRow, MAX_QUARANTINE, MAX_QUARANTINE_PAYLOAD_BYTES,
    MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER, MAX_QUARANTINE_PER_AUTHOR, MAX_QUARANTINE_PER_PEER,
};
use crate::{Db, Result, StoreError};

impl Db<'_> {
    /// Keeps `entry` in quarantine with why it was refused, within the bounds: the whole
    /// ([`MAX_QUARANTINE`] entries, [`MAX_QUARANTINE_PAYLOAD_BYTES`]), the peer it came from
    /// ([`MAX_QUARANTINE_PER_PEER`], [`MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER`]) and its author
    /// ([`MAX_QUARANTINE_PER_AUTHOR`]); says which bound refused it, keeping nothing. An entry
    /// already kept is judged again in place (no bound: it takes no more room), and keeps the
    /// peer it came from when none is given. An entry refused by a rule keeps no payload.
    #[allow(clippy::too_many_arguments)]
    pub fn quarantine(
        &self,
        entry: &Entry,
        payload: Option<&[u8]>,
        code: &str,
        reason: &str,
        waiting: bool,
        peer: Option<&str>,
        now_ms: u64,
    ) -> Result<Kept> {
        let payload = if waiting {
            self.payload_unless_erased(entry, payload)?
        } else {
            None
        };
        let h = entry.header();
        // One pass over the table (at most MAX_QUARANTINE rows) for every count. A row with
        // no peer (an entry judged again here) counts for nobody's quota.
        let (all, from_peer, by_author, here): (i64, i64, i64, bool) = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*), coalesce(sum(peer = ?1), 0), coalesce(sum(author = ?2), 0), \
                 EXISTS (SELECT 1 FROM quarantine WHERE id = ?3) FROM quarantine",
            )
            .and_then(|mut st| {
                st.query_row(
                    params![peer, h.author.as_bytes(), entry.id().as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
            })
            .map_err(StoreError::sqlite("counting the quarantine"))?;
        if !here {
            if all as u64 >= MAX_QUARANTINE {
                return Ok(Kept::Full);
            }
            if peer.is_some() && from_peer as u64 >= MAX_QUARANTINE_PER_PEER {
                return Ok(Kept::PeerQuota);
            }
            if by_author as u64 >= MAX_QUARANTINE_PER_AUTHOR {
                return Ok(Kept::AuthorQuota);
            }
        }
        if let Some(p) = payload {
            let (held, held_from_peer): (i64, i64) = self
                .conn
                .query_row(
                    "SELECT coalesce(sum(length(payload)), 0), \
                     coalesce(sum(CASE WHEN peer = ?1 THEN length(payload) END), 0) \
                     FROM quarantine WHERE id != ?2",
                    params![peer, entry.id().as_bytes()],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(StoreError::sqlite("sizing the quarantine"))?;
            let p = p.len() as u64;
            if held as u64 + p > MAX_QUARANTINE_PAYLOAD_BYTES {
                return Ok(Kept::PayloadFull);
            }
            if peer.is_some() && held_from_peer as u64 + p > MAX_QUARANTINE_PAYLOAD_BYTES_PER_PEER {
                return Ok(Kept::PeerQuota);
            }
        }
        // The peer it came from stays with a row judged again (its quota counts it).
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO quarantine (id, log, author, seq, kind, code, reason, \
                 waiting, header, signature, payload, peer, received_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                 coalesce(?12, (SELECT peer FROM quarantine WHERE id = ?1)), ?13)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    entry.id().as_bytes(),
                    entry.log_id().as_bytes(),
                    h.author.as_bytes(),
                    h.seq.min(i64::MAX as u64) as i64,
                    h.kind.name(),
                    code,
                    reason,
                    waiting,
                    entry.header_bytes(),
                    entry.signature().as_slice(),
                    payload,
                    peer,
                    now_ms.min(i64::MAX as u64) as i64,
                ])
            })
            .map(|_| Kept::Yes)
            .map_err(StoreError::sqlite("quarantining an entry"))
    }

    pub fn quarantine_count(&self) -> Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM quarantine", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(StoreError::sqlite("counting the quarantine"))
    }

    /// Which of `ids` are in quarantine.
    pub fn quarantined(&self, ids: &[EntryId]) -> Result<Vec<bool>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM quarantine WHERE id = ?1")
            .map_err(StoreError::sqlite("reading the quarantine"))?;
        ids.iter()
            .map(|id| {
                stmt.exists([id.as_bytes()])
                    .map_err(StoreError::sqlite("reading the quarantine"))
            })
            .collect()
    }

    /// Quarantined entries, waiting ones only when `waiting`, oldest first, at most `limit`;
    /// with payloads only when `payloads` (listing them for people never reads payloads).
    pub fn quarantine_rows(
        &self,
        waiting: bool,
        payloads: bool,
        limit: usize,
    ) -> Result<Vec<QuarantineRow>> {
        let sql = format!(
            "SELECT id, log, author, seq, kind, code, reason, waiting, header, signature, {}, \
             peer, received_ms FROM quarantine {} ORDER BY received_ms, id LIMIT ?1",
            if payloads { "payload" } else { "NULL" },
            if waiting { "WHERE waiting = 1" } else { "" }
        );
        let mut stmt = self
            .conn
            .prepare_cached(&sql)
            .map_err(StoreError::sqlite("reading the quarantine"))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(QuarantineRow {
                    id: r.get(0)?,
                    log: r.get(1)?,
                    author: r.get(2)?,
                    seq: r.get(3)?,
                    kind: r.get(4)?,
                    code: r.get(5)?,
                    reason: r.get(6)?,
                    waiting: r.get(7)?,
                    header: r.get(8)?,
                    signature: r.get(9)?,
                    payload: r.get(10)?,
                    peer: r.get(11)?,
                    received_ms: r.get(12)?,
                })
            })
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading the quarantine"));
        rows
    }

    pub fn unquarantine(&self, id: &[u8]) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM quarantine WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .map(|_| ())
            .map_err(StoreError::sqlite("releasing a quarantined entry"))
    }
}
