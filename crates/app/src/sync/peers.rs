//! The peers a home remembers: dialled by every node it runs, beside those given at start.

use super::parse_addrs;
use crate::error::{AppError, Result};
use crate::home::Home;

/// Where a home keeps the peers it dials (beside those given on the command line).
const PEERS_META: &str = "sync.peers";

impl Home {
    /// The peers this home dials whenever it runs a node (`peer add`).
    pub fn peers(&self) -> Result<Vec<String>> {
        Ok(self
            .store()
            .db()
            .meta(PEERS_META)?
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect())
    }

    /// Remembers `peer` (a multiaddr ending in `/p2p/<id>`) for every node this home runs.
    pub fn peer_add(&mut self, peer: &str) -> Result<Vec<String>> {
        let addr = parse_addrs(&[peer.trim().to_string()])?.remove(0);
        if !matches!(addr.iter().last(), Some(countersign_sync::Protocol::P2p(_))) {
            return Err(AppError::InvalidInput(format!(
                "{addr} does not name a peer: append /p2p/<peer id>"
            )));
        }
        let mut peers = self.peers()?;
        let addr = addr.to_string();
        if !peers.contains(&addr) {
            if peers.len() >= countersign_sync::MAX_PEERS {
                return Err(AppError::InvalidInput(format!(
                    "this home already dials {} peers",
                    countersign_sync::MAX_PEERS
                )));
            }
            peers.push(addr);
            self.store_mut()
                .write(|db| db.set_meta(PEERS_META, &peers.join("\n")))?;
        }
        Ok(peers)
    }
}
