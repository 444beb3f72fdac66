//! Signed checkpoints between peers: each summary a node gives carries its signed claim of
//! each log's heads; the puller, once it has pulled everything, holds the peer to it. A peer
//! that claimed heads it then did not serve, or whose later claim does not descend from an
//! earlier one, showed different histories to different peers — a split view. The pair of
//! signed claims is kept as evidence anyone can check, and `verify` lists it.

use std::collections::HashMap;

use countersign_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use countersign_ledger::{EntryId, Hash, LogId, NetworkId, PublicKey, SecretKey};
use countersign_report::accept::checkpoints::{self, Forks, History};
use countersign_store::{Db, SplitViewRow};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};

/// Signs this home's checkpoints, re-signing a log's only when its heads change.
#[derive(Debug)]
pub(crate) struct CheckpointSigner {
    key: SecretKey,
    /// Bounded by the number of logs held.
    signed: HashMap<LogId, (Vec<EntryId>, Vec<u8>)>,
}

impl CheckpointSigner {
    pub(crate) fn new(key: SecretKey) -> CheckpointSigner {
        CheckpointSigner {
            key,
            signed: HashMap::new(),
        }
    }

    /// The signed claim "`log` has `heads` and `entries` entries here"; `None` for a log with
    /// more heads than a checkpoint names.
    pub(crate) fn sign(
        &mut self,
        network: NetworkId,
        log: LogId,
        entries: u64,
        heads: &[EntryId],
    ) -> Option<Vec<u8>> {
        if let Some((h, bytes)) = self.signed.get(&log) {
            if h == heads {
                return Some(bytes.clone());
            }
        }
        let claim = Checkpoint::new(
            network,
            log,
            self.key.public(),
            now_ms(),
            entries,
            heads.to_vec(),
        )
        .ok()?;
        let bytes = claim.sign(&self.key).bytes().to_vec();
        self.signed.insert(log, (heads.to_vec(), bytes.clone()));
        Some(bytes)
    }
}

/// A split view found: what the peer did, as a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitView {
    pub log: String,
    pub signer: String,
    pub reason: String,
}

impl Home {
    /// Holds `peer` to the checkpoints it signed for `claims` (log, checkpoint bytes), once
    /// everything it claimed has been pulled. A checkpoint that does not verify, or is not the
    /// peer's, is refused (`Err`); one the peer did not stand by is kept as split-view evidence
    /// and returned. The others are kept as the peer's newest.
    pub fn hold_to_checkpoints(
        &mut self,
        peer: &PublicKey,
        claims: &[(LogId, Vec<u8>)],
    ) -> Result<Vec<SplitView>> {
        // The network id from the store's meta: loading the ledger state for it cost a fifth
        // of a busy node's time (one reload per pull).
        let network: countersign_ledger::NetworkId = self
            .store()
            .db()
            .meta("network")?
            .and_then(|hex| hex.parse().ok())
            .ok_or(AppError::NoNetwork)?;
        let mut checked = Vec::with_capacity(claims.len());
        for (log, bytes) in claims {
            let signed = SignedCheckpoint::decode(bytes).map_err(|e| {
                AppError::InvalidInput(format!("a checkpoint for log {log} is refused: {e}"))
            })?;
            let c = signed.checkpoint();
            if c.signer != *peer || c.network != network || c.log != *log {
                return Err(AppError::InvalidInput(format!(
                    "a checkpoint for log {log} is not the peer's own claim about that log in \
                     this network"
                )));
            }
            checked.push(signed);
        }
        self.write_with_state(|db, _| {
            let mut forks = Forks::default();
            for f in db.forks()? {
                let (Some(log), Some(second)) =
                    (Hash::from_slice(&f.log), Hash::from_slice(&f.second))
                else {
                    continue;
                };
                forks.logs.insert(log);
                if let Some(author) =
                    Hash::from_slice(&f.author).and_then(|a| PublicKey::from_bytes(&a.0).ok())
                {
                    forks.by.insert((log, author));
                }
                forks.evidence.insert(second, f.second_header);
            }
            let mut found = Vec::new();
            for signed in &checked {
                let c = signed.checkpoint();
                let earlier = db
                    .checkpoint(&c.log, peer.as_bytes())?
                    .and_then(|b| SignedCheckpoint::decode(&b).ok());
                if earlier
                    .as_ref()
                    .is_some_and(|e| e.bytes() == signed.bytes())
                {
                    // The same claim again (heads unchanged): already judged and kept.
                    continue;
                }
                let problem =
                    checkpoints::judge(&Stored(db), &forks, earlier.as_ref(), c)?.map(|f| {
                        let evidence = f
                            .with_earlier
                            .then(|| earlier.as_ref().map(|e| e.bytes().to_vec()));
                        (evidence.flatten(), f.reason)
                    });
                match problem {
                    Some((earlier, reason)) => {
                        db.insert_split_view(&SplitViewRow {
                            log: c.log.as_bytes().to_vec(),
                            signer: peer.as_bytes().to_vec(),
                            reason: reason.clone(),
                            earlier,
                            later: signed.bytes().to_vec(),
                            found_ms: now_ms() as i64,
                        })?;
                        found.push(SplitView {
                            log: c.log.to_hex(),
                            signer: peer.to_hex(),
                            reason,
                        });
                    }
                    None if earlier
                        .as_ref()
                        .is_none_or(|e| e.checkpoint().timestamp_ms <= c.timestamp_ms) =>
                    {
                        db.put_checkpoint(&c.log, peer.as_bytes(), c.timestamp_ms, signed.bytes())?
                    }
                    None => {}
                }
            }
            Ok(found)
        })
    }
}

/// The home's store as the pure checkpoint judgement reads it.
struct Stored<'a, 'b>(&'a Db<'b>);

impl History for Stored<'_, '_> {
    type Error = AppError;
    /// Held as an entry, as fork evidence, held for later (dated just ahead of this clock),
    /// or in quarantine: a head this home set aside was still served, and holding it against
    /// the peer would cut an honest peer off.
    fn holds(&self, id: &EntryId) -> Result<bool> {
        Ok(self.0.contains(id)?
            || self.0.fork_evidence(id)?.is_some()
            || self.0.is_held(id)?
            || self
                .0
                .quarantined(&[*id])?
                .first()
                .copied()
                .unwrap_or(false))
    }
    fn header(&self, id: &EntryId) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(id)?.map(|row| row.header))
    }
}
