//! What a home remembers of each peer: its last reconcile, the entries stored from it, and any
//! cut-off, bounded by [`MAX_PEER_STATES`] peers.

use rusqlite::{params, OptionalExtension};

use super::{PeerStateRow, MAX_PEER_STATES};
use crate::{Db, Result, StoreError};

impl Db<'_> {
    /// What this home remembers of `peer`.
    pub fn peer_state(&self, peer: &str) -> Result<Option<PeerStateRow>> {
        self.conn
            .prepare_cached(
                "SELECT peer, last_reconcile_ms, stored, cut_off_reason, cut_off_ms, \
                 cut_off_until_ms, strikes FROM peer_state WHERE peer = ?1",
            )
            .and_then(|mut s| s.query_row([peer], peer_row).optional())
            .map_err(StoreError::sqlite("reading a peer's state"))
    }

    /// Every peer remembered, by id.
    pub fn peer_states(&self) -> Result<Vec<PeerStateRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT peer, last_reconcile_ms, stored, cut_off_reason, cut_off_ms, \
                 cut_off_until_ms, strikes FROM peer_state ORDER BY peer",
            )
            .map_err(StoreError::sqlite("reading peers' state"))?;
        let rows = stmt
            .query_map([], peer_row)
            .and_then(|rows| rows.collect())
            .map_err(StoreError::sqlite("reading peers' state"));
        rows
    }

    /// Keeps `row` as what this home knows of its peer (a new peer is not kept once
    /// [`MAX_PEER_STATES`] are).
    pub fn put_peer_state(&self, row: &PeerStateRow) -> Result<()> {
        if self.peer_state(&row.peer)?.is_none() {
            let n: i64 = self
                .conn
                .query_row("SELECT COUNT(*) FROM peer_state", [], |r| r.get(0))
                .map_err(StoreError::sqlite("counting peers"))?;
            if n as u64 >= MAX_PEER_STATES {
                return Ok(());
            }
        }
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO peer_state (peer, last_reconcile_ms, stored, \
                 cut_off_reason, cut_off_ms, cut_off_until_ms, strikes) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.peer,
                    row.last_reconcile_ms,
                    row.stored,
                    row.cut_off_reason,
                    row.cut_off_ms,
                    row.cut_off_until_ms,
                    row.strikes
                ])
            })
            .map(|_| ())
            .map_err(StoreError::sqlite("keeping a peer's state"))
    }
}

fn peer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PeerStateRow> {
    Ok(PeerStateRow {
        peer: r.get(0)?,
        last_reconcile_ms: r.get(1)?,
        stored: r.get(2)?,
        cut_off_reason: r.get(3)?,
        cut_off_ms: r.get(4)?,
        cut_off_until_ms: r.get(5)?,
        strikes: r.get(6)?,
    })
}
