//! What a node remembers of its peers across restarts: the last reconcile with each, what it
//! stored, and a cut-off with its reason, expiry and strikes (what `sync status` shows).

use countersign_sync::PeerEvent;

use super::HomeLedger;

impl HomeLedger {
    /// [`Ledger::remember`]: kept in the peer's row, best effort.
    pub(super) fn remember_peer(&mut self, peer: &str, event: PeerEvent) {
        let db = self.home.store().db();
        let mut row = match db.peer_state(peer) {
            Ok(row) => row.unwrap_or_else(|| countersign_store::PeerStateRow {
                peer: peer.to_string(),
                ..Default::default()
            }),
            Err(_) => return,
        };
        let ms = |v: u64| v.min(i64::MAX as u64) as i64;
        match event {
            PeerEvent::Reconciled { stored, at_ms } => {
                row.last_reconcile_ms = Some(ms(at_ms));
                row.stored = row.stored.saturating_add(ms(stored));
            }
            PeerEvent::CutOff {
                reason,
                at_ms,
                until_ms,
                strikes,
            } => {
                row.cut_off_reason = Some(reason);
                row.cut_off_ms = Some(ms(at_ms));
                row.cut_off_until_ms = Some(ms(until_ms));
                row.strikes = i64::from(strikes);
            }
        }
        // Best effort: what a node remembers of a peer is never worth failing a sync for.
        // Written beside the kept validation state, which a peer's row does not touch: a raw
        // write drops that state, and every pull ends here, so each next request from any peer
        // reloaded the whole roster (a fifth of a busy node's time with fifty peers).
        let result = self
            .home
            .write_with_state(|db, _| Ok(db.put_peer_state(&row)?))
            .or_else(|_| self.home.store_mut().write(|db| db.put_peer_state(&row)));
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not keep a peer's state");
        }
    }

    /// [`Ledger::cut_offs`]: the peers cut off now, with why, until when and how often.
    pub(super) fn peers_cut_off(&mut self) -> Vec<(String, String, u64, u32)> {
        let now = crate::home::now_ms() as i64;
        self.home
            .store()
            .db()
            .peer_states()
            .unwrap_or_default()
            .into_iter()
            .filter_map(|r| {
                let until = r.cut_off_until_ms.filter(|u| *u > now)?;
                Some((
                    r.peer,
                    r.cut_off_reason.unwrap_or_default(),
                    until as u64,
                    r.strikes.clamp(0, i64::from(u32::MAX)) as u32,
                ))
            })
            .collect()
    }
}
