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

/// One peer as `sync status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerStatus {
    /// Its libp2p peer id.
    pub peer: String,
    /// Its member key, and the roster's name for it, when it is a member's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When a pull from it last completed (ms since the epoch).
    pub last_reconcile_ms: Option<i64>,
    /// Entries stored from it, in all.
    pub stored: i64,
    /// Its latest cut-off, if it ever was (for proof of misbehaviour only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_off: Option<CutOffStatus>,
}

/// A cut-off: why, since when, until when, and whether it is in force now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CutOffStatus {
    pub reason: String,
    pub since_ms: i64,
    pub until_ms: i64,
    /// Cut-offs of this peer so far: each lasts twice as long as the one before.
    pub strikes: i64,
    pub active: bool,
}

/// What `sync status` shows: every peer this home has synced with or cut off, the peers it
/// dials, and what is quarantined.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncStatus {
    pub peers: Vec<PeerStatus>,
    /// The addresses every node of this home dials (`peer add`).
    pub dials: Vec<String>,
    pub quarantined: Vec<crate::Quarantined>,
    /// Per peer, entries the quarantine did not keep because a bound was reached (its quota,
    /// its author's, or the whole quarantine's): the peer offers them again later.
    pub quarantine_refused: Vec<crate::QuarantineRefused>,
}

impl Home {
    /// What this home knows of its peers and its quarantine (kept by every node it ran).
    pub fn sync_status(&self) -> Result<SyncStatus> {
        let now = crate::home::now_ms() as i64;
        let roster = self.state().ok();
        let peers = self
            .store()
            .db()
            .peer_states()?
            .into_iter()
            .map(|row| {
                let key = row
                    .peer
                    .parse::<countersign_sync::PeerId>()
                    .ok()
                    .and_then(|p| countersign_sync::peer_key(&p));
                let name = key.as_ref().and_then(|k| {
                    roster
                        .as_ref()
                        .and_then(|s| s.roster().member(k).map(|m| m.name.clone()))
                });
                let cut_off = match (row.cut_off_reason, row.cut_off_ms, row.cut_off_until_ms) {
                    (Some(reason), Some(since_ms), Some(until_ms)) => Some(CutOffStatus {
                        reason,
                        since_ms,
                        until_ms,
                        strikes: row.strikes,
                        active: until_ms > now,
                    }),
                    _ => None,
                };
                PeerStatus {
                    peer: row.peer,
                    key: key.map(|k| k.to_string()),
                    name,
                    last_reconcile_ms: row.last_reconcile_ms,
                    stored: row.stored,
                    cut_off,
                }
            })
            .collect();
        Ok(SyncStatus {
            peers,
            dials: self.peers()?,
            quarantined: self.quarantine()?,
            quarantine_refused: self.quarantine_refused()?,
        })
    }
}

/// What the desktop's sync sidebar shows beside the running node's status: peers cut off
/// now (with why and until when) and how many entries are quarantined. Cheap enough to ask
/// twice a second: no entry is read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncAlerts {
    pub cut_off: Vec<PeerStatus>,
    pub quarantined: u64,
}

impl Home {
    pub fn sync_alerts(&self) -> Result<SyncAlerts> {
        let now = crate::home::now_ms() as i64;
        let db = self.store().db();
        let cut_off = db
            .peer_states()?
            .into_iter()
            .filter(|r| r.cut_off_until_ms.is_some_and(|u| u > now))
            .collect::<Vec<_>>();
        let status = if cut_off.is_empty() {
            Vec::new()
        } else {
            // Names from the roster only when someone is cut off.
            self.sync_status()?
                .peers
                .into_iter()
                .filter(|p| p.cut_off.as_ref().is_some_and(|c| c.active))
                .collect()
        };
        Ok(SyncAlerts {
            cut_off: status,
            quarantined: db.quarantine_count()?,
        })
    }
}

/// The desktop's sync sidebar: the running node and what the home remembers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SidebarStatus {
    #[serde(flatten)]
    pub node: super::ServiceStatus,
    #[serde(flatten)]
    pub alerts: SyncAlerts,
}
