//! Signed checkpoints between peers: each summary a node gives carries its signed claim of
//! each log's heads; the puller, once it has pulled everything, holds the peer to it. A peer
//! that claimed heads it then did not serve, or whose later claim does not descend from an
//! earlier one, showed different histories to different peers — a split view. The pair of
//! signed claims is kept as evidence anyone can check, and `verify` lists it.

use std::collections::{HashMap, HashSet, VecDeque};

use countersign_ledger::checkpoint::{Checkpoint, SignedCheckpoint};
use countersign_ledger::{header, EntryId, LogId, NetworkId, PublicKey, SecretKey};
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
        let network = self.state()?.network()?;
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
            let forks = db.forks()?;
            let forked: HashSet<&[u8]> = forks.iter().map(|f| f.log.as_slice()).collect();
            // Who equivocated where: their views of that log diverge by definition, and the
            // fork evidence already proves it.
            let forked_by: HashSet<(&[u8], &[u8])> = forks
                .iter()
                .map(|f| (f.log.as_slice(), f.author.as_slice()))
                .collect();
            // Fork evidence: the second entries, by id, with their headers.
            let evidence: HashMap<&[u8], &[u8]> = forks
                .iter()
                .map(|f| (f.second.as_slice(), f.second_header.as_slice()))
                .collect();
            let mut found = Vec::new();
            for signed in &checked {
                let c = signed.checkpoint();
                if forked_by.contains(&(c.log.as_bytes().as_slice(), peer.as_bytes().as_slice())) {
                    continue;
                }
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
                let problem = judge(db, &forked, &evidence, earlier.as_ref(), c)?;
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

/// What is wrong with the signer's checkpoint `c`, given its `earlier` one, in words, with the
/// earlier checkpoint's bytes when they are part of the evidence: a head it claimed and did not
/// serve, or a head of its earlier claim not in the history of this one.
fn judge(
    db: &Db<'_>,
    forked: &HashSet<&[u8]>,
    evidence: &HashMap<&[u8], &[u8]>,
    earlier: Option<&SignedCheckpoint>,
    c: &Checkpoint,
) -> Result<Option<(Option<Vec<u8>>, String)>> {
    if let Some(head) = withheld(db, c, forked, evidence)? {
        let reason = format!(
            "it signed that log {} has head {head}, then did not serve it",
            c.log
        );
        return Ok(Some((None, reason)));
    }
    let Some(e) = earlier else {
        return Ok(None);
    };
    let before = e.checkpoint();
    Ok(strays(db, evidence, before, c)?.map(|head| {
        let reason = format!(
            "its checkpoint of log {} at {} ms does not descend from its checkpoint at {} ms: \
             head {head} is not in its history",
            c.log, c.timestamp_ms, before.timestamp_ms
        );
        (Some(e.bytes().to_vec()), reason)
    }))
}

/// A head the checkpoint claims that this home does not hold after pulling from its signer.
/// Logs with fork evidence are left to the fork: entries built on the other side of it are
/// set aside here by design.
fn withheld(
    db: &Db<'_>,
    c: &Checkpoint,
    forked: &HashSet<&[u8]>,
    evidence: &HashMap<&[u8], &[u8]>,
) -> Result<Option<EntryId>> {
    if forked.contains(c.log.as_bytes().as_slice()) {
        return Ok(None);
    }
    for head in &c.heads {
        if !db.contains(head)? && !evidence.contains_key(head.as_bytes().as_slice()) {
            return Ok(Some(*head));
        }
    }
    Ok(None)
}

/// A head of `earlier` that is neither a head of `later` nor in its history: the signer's
/// view went back or sideways. Walks parents (through fork evidence too) from `later`'s heads
/// until every earlier head is found, so a log that only grew costs the entries added since.
/// An entry held neither way can only lie beyond a fork (set aside by design: `withheld`
/// vouches for every other head), and there the history cannot be judged.
fn strays(
    db: &Db<'_>,
    evidence: &HashMap<&[u8], &[u8]>,
    earlier: &Checkpoint,
    later: &Checkpoint,
) -> Result<Option<EntryId>> {
    let mut missing: HashSet<EntryId> = earlier.heads.iter().copied().collect();
    let mut queue: VecDeque<EntryId> = later.heads.iter().copied().collect();
    let mut seen: HashSet<EntryId> = queue.iter().copied().collect();
    let mut keys: HashMap<[u8; 32], PublicKey> = HashMap::new();
    while let Some(id) = queue.pop_front() {
        missing.remove(&id);
        if missing.is_empty() {
            return Ok(None);
        }
        let stored = db.get(&id)?.map(|row| row.header);
        let Some(header_bytes) =
            stored.or_else(|| evidence.get(id.as_bytes().as_slice()).map(|h| h.to_vec()))
        else {
            return Ok(None);
        };
        if let Some(a) = header::author_bytes(&header_bytes) {
            if let (std::collections::hash_map::Entry::Vacant(v), Ok(k)) =
                (keys.entry(a), PublicKey::from_bytes(&a))
            {
                v.insert(k);
            }
        }
        let parents = header::decode_with_keys(&header_bytes, |k| keys.get(k).copied())
            .map(|h| h.parents)
            .map_err(|e| AppError::InvalidInput(format!("stored entry {id} is damaged: {e}")))?;
        for p in parents {
            if seen.insert(p) {
                queue.push_back(p);
            }
        }
    }
    Ok(missing.into_iter().min())
}
