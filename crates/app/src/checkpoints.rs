//! Signed checkpoints between peers: each summary a node gives carries its signed claim of
//! each log's heads; the puller, once it has pulled everything, holds the peer to it. A peer
//! that claimed heads it then did not serve, or whose later claim does not descend from an
//! earlier one, showed different histories to different peers — a split view. The pair of
//! signed claims is kept as evidence anyone can check, and `verify` lists it.

use std::collections::HashMap;

use countersign_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use countersign_ledger::split_view::SplitViewEvidence;
use countersign_ledger::{EntryId, Hash, LogId, NetworkId, PublicKey};

use crate::keys::KeyHandle;
use countersign_report::accept::checkpoints::{self, Forks, History};
use countersign_store::{Db, SplitViewRow};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};

/// Signs this home's checkpoints, re-signing a log's only when its heads change.
#[derive(Debug)]
pub(crate) struct CheckpointSigner {
    key: KeyHandle,
    /// Bounded by the number of logs held.
    signed: HashMap<LogId, (Vec<EntryId>, Vec<u8>)>,
}

impl CheckpointSigner {
    pub(crate) fn new(key: KeyHandle) -> CheckpointSigner {
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
        // A holder outside this process that fails now leaves the log without a fresh claim
        // (as one with too many heads is): the peer asks again on its next reconcile.
        let bytes = match claim.try_sign(&self.key) {
            Ok(signed) => signed.bytes().to_vec(),
            Err(e) => {
                tracing::warn!(error = %e, "checkpoint not signed");
                return None;
            }
        };
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
            let forks = fork_facts(db)?;
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

/// The fork evidence the checkpoint judgement reads.
fn fork_facts(db: &Db<'_>) -> Result<Forks> {
    let mut forks = Forks::default();
    for f in db.forks()? {
        let (Some(log), Some(second)) = (Hash::from_slice(&f.log), Hash::from_slice(&f.second))
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
    Ok(forks)
}

/// A kept pair of claims as peers exchange it: its log, the later claim's date, its id and
/// its encoding.
pub(crate) type EvidenceItem = (LogId, u64, EntryId, Vec<u8>);

/// Split-view evidence as peers exchange it: each kept pair of claims (evidence of a claim
/// not served has no second claim, and only the peer it was given to can judge it).
pub(crate) fn evidence_items(db: &Db<'_>) -> Result<Vec<EvidenceItem>> {
    let mut out = Vec::new();
    for row in db.split_views()? {
        let Some(earlier) = row.earlier.as_deref() else {
            continue;
        };
        let pair = SignedCheckpoint::decode(earlier)
            .ok()
            .zip(SignedCheckpoint::decode(&row.later).ok())
            .and_then(|(a, b)| SplitViewEvidence::new(a, b).ok());
        if let Some(pair) = pair {
            let c = pair.later().checkpoint();
            out.push((c.log, c.timestamp_ms, pair.id(), pair.encode()));
        }
    }
    Ok(out)
}

impl Home {
    /// Takes split-view evidence `from` relayed: each piece is decoded (both signatures
    /// checked), must be about this network, and is kept when this home, judging it against
    /// the entries it holds by the same rule it holds its own peers to, finds the same split
    /// view. A piece that does not decode, or is about another network, is refused (`Err`,
    /// proof against the relayer); one by a key the roster never named, or that this home
    /// cannot judge yet (it lacks the entries), is left. Returns the split views kept.
    pub fn take_split_view_evidence(
        &mut self,
        from: &PublicKey,
        evidence: &[Vec<u8>],
    ) -> Result<Vec<SplitView>> {
        let network: NetworkId = self
            .store()
            .db()
            .meta("network")?
            .and_then(|hex| hex.parse().ok())
            .ok_or(AppError::NoNetwork)?;
        let mut pairs = Vec::with_capacity(evidence.len());
        for bytes in evidence {
            let pair = SplitViewEvidence::decode(bytes).map_err(|e| {
                AppError::InvalidInput(format!(
                    "split-view evidence is refused ({}): {e}",
                    e.code()
                ))
            })?;
            if pair.later().checkpoint().network != network {
                return Err(AppError::InvalidInput(
                    "split-view evidence is about another network".into(),
                ));
            }
            pairs.push(pair);
        }
        self.write_with_state(|db, state| {
            let forks = fork_facts(db)?;
            let mut kept = Vec::new();
            for pair in &pairs {
                let c = pair.later().checkpoint();
                if state.roster().member(&c.signer).is_none() {
                    continue;
                }
                let Some(found) = checkpoints::judge_pair(&Stored(db), &forks, pair)? else {
                    continue;
                };
                let reason = format!("{} (evidence relayed by {from})", found.reason);
                let row = SplitViewRow {
                    log: c.log.as_bytes().to_vec(),
                    signer: c.signer.as_bytes().to_vec(),
                    reason: reason.clone(),
                    earlier: Some(pair.earlier().bytes().to_vec()),
                    later: pair.later().bytes().to_vec(),
                    found_ms: now_ms() as i64,
                };
                if db.insert_split_view(&row)? {
                    kept.push(SplitView {
                        log: c.log.to_hex(),
                        signer: c.signer.to_hex(),
                        reason,
                    });
                }
            }
            Ok(kept)
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
