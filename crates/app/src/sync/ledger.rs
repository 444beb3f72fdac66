//! The home as the sync node's [`Ledger`]: the set of entry ids peers reconcile (kept in
//! memory and taken forward as entries arrive), summaries with signed checkpoints, what a
//! peer lacks, who may read what, and every received batch through the importer — every
//! signature, hash link, ledger and report rule checked before anything is stored, an entry
//! refused by a rule quarantined while the rest is stored. The node only ever sees bytes.
//!
//! Data keys: a batch carries the keys of the logs whose payloads it carries; beyond that a
//! home asks its peers for the keys of the sealed reports it holds without one
//! ([`Ledger::lacking_keys`], a few hundred at a time, going round all of them), a peer answers
//! for the logs that member may read ([`Ledger::keys_for`], the same check as what it is sent),
//! and the answer goes through the key intake of bundles and batches
//! ([`Home::take_peer_keys`]).

use std::collections::BTreeSet;
use std::path::Path;

use countersign_ledger::EntryId;
use countersign_ledger::{Hash, LogId, NetworkId, PublicKey};
use countersign_sync::reconcile::ReconcileSet;
use countersign_sync::{AcceptError, Accepted, ById, Ledger, LogSummary, PeerEvent, VersionVector};

use crate::bundle::Authenticated;
use crate::checkpoints::CheckpointSigner;
use crate::error::Result;
use crate::home::Home;
use crate::state::LedgerState;

mod batch;
mod keys;
mod peers;
pub(crate) mod rotation;
mod serve;
mod set;

/// A home as the sync node's ledger.
#[derive(Debug)]
pub struct HomeLedger {
    pub(super) home: Home,
    network: Option<NetworkId>,
    /// The arrival number of the newest entry already announced.
    cursor: i64,
    /// Fork evidence rows already announced.
    forks_seen: usize,
    /// SQLite's data version when changes were last looked for (it moves when another
    /// connection commits), and whether this one has committed since.
    seen_version: Option<i64>,
    wrote: bool,
    /// The network this home was told to trust, while it holds none.
    anchor: Option<NetworkId>,
    /// Signs this home's checkpoints (a home with no identity of its own gives none).
    signer: Option<CheckpointSigner>,
    /// Every entry and piece of fork evidence held, as peers reconcile it; taken forward from
    /// `set_cursor` (an arrival number) and `set_forks` (evidence rows) when asked for.
    set: ReconcileSet,
    set_cursor: i64,
    set_forks: usize,
    /// The split-view evidence held, decoded once (its rows' signatures checked), as of a row
    /// count: rows are only ever added, so a count that moved means there is more.
    evidence: (usize, Vec<crate::checkpoints::EvidenceItem>),
    /// The row count of the evidence already in `set`.
    set_evidence: usize,
    /// The set described to a member that may read only some logs (an AI model), for that
    /// reader as of the store's newest arrival then: built again only when either moved
    /// (every grant and revocation is an entry), not at each of the reader's steps.
    reader_set: ReconcileSet,
    reader_set_for: Option<(PublicKey, i64)>,
    /// How many times a restricted reader's set was built (its tests read it).
    reader_builds: usize,
    /// Entries of peers' batches waiting for something not here yet, per peer (see
    /// [`Home::import_from_peer`]).
    pending: crate::Pending,
    /// Where the next key request goes on from in the reports lacking a key (`None`: the
    /// first), so a home lacking more than one request names asks for all of them in turn.
    key_cursor: Option<LogId>,
    /// The newest arrival when no report lacked a key: until an entry arrives, none does (a
    /// key only goes with its report's erasure, which excludes it), and nothing is looked up.
    none_lacking_at: Option<i64>,
    /// The reports found lacking their key so far (see [`HomeLedger::keys_lacking`]).
    lacking: keys::Lacking,
    /// The store is in its intake settings for a large pull (see
    /// [`countersign_store::Store::set_intake`]), until the pull ends.
    intake: bool,
    /// Entries in a batch from which a pull is taken in with the intake settings
    /// ([`INTAKE_FROM`]; tests lower it).
    intake_from: usize,
    /// The member key the node runs as, and where it is told once the home's key is another
    /// (see [`HomeLedger::watch_rotation`]).
    runs_as: Option<rotation::RunsAs>,
}

/// Entries in one peer's batch from which the rest of the pull is taken in with the store's
/// intake settings: a batch this full (half the most a batch holds) comes from a pull of
/// many. A day's catch-up of a thousand entries stays out of them: leaving them forces a
/// checkpoint, a cost a small pull need not pay at its end.
const INTAKE_FROM: usize = countersign_sync::protocol::MAX_BATCH / 2;

impl HomeLedger {
    /// The home at `dir` as a sync ledger (it needs no identity of its own to hold entries).
    pub fn open(dir: &Path) -> Result<HomeLedger> {
        HomeLedger::new(Home::open(dir)?)
    }

    /// `home` as a sync ledger; it signs checkpoints when its key is unsealed or can be (with
    /// the home's passphrase source).
    pub fn new(mut home: Home) -> Result<HomeLedger> {
        let signer = home.signer().ok().map(CheckpointSigner::new);
        let network = LedgerState::load(&home.store().db())?.network().ok();
        let anchor = match home.anchor()? {
            Some(countersign_report::accept::trust::Anchor::Network { network, .. }) => {
                Some(network)
            }
            _ => None,
        };
        let cursor = home.store().db().max_arrival()?;
        let forks_seen = home.store().db().forks()?.len();
        Ok(HomeLedger {
            home,
            network,
            anchor,
            cursor,
            forks_seen,
            seen_version: None,
            wrote: false,
            signer,
            set: ReconcileSet::new(),
            set_cursor: 0,
            set_forks: 0,
            evidence: (0, Vec::new()),
            set_evidence: 0,
            reader_set: ReconcileSet::new(),
            reader_set_for: None,
            reader_builds: 0,
            pending: crate::Pending::default(),
            key_cursor: None,
            none_lacking_at: None,
            lacking: keys::Lacking::default(),
            intake: false,
            intake_from: INTAKE_FROM,
            runs_as: None,
        })
    }

    /// The network a node delegation from this home's member is for: the one it holds, else
    /// the one its invitation named.
    pub(super) fn delegation_network(&self) -> Option<NetworkId> {
        self.network.or(self.anchor)
    }

    fn vector(&self, log: &LogId) -> std::result::Result<VersionVector, String> {
        let rows = self
            .home
            .store()
            .db()
            .version_vector(log)
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .filter_map(|(k, seq)| {
                let k: [u8; 32] = k.as_slice().try_into().ok()?;
                Some((PublicKey::from_bytes(&k).ok()?, seq))
            })
            .collect())
    }
}

impl Ledger for HomeLedger {
    fn network(&self) -> Option<NetworkId> {
        self.network
    }

    fn is_member(&mut self, key: &PublicKey) -> bool {
        // Asked on every request a peer makes: the home's kept state, not a reload each time.
        let Some(network) = self.network else {
            return false;
        };
        self.home
            .with_state(&network, |state, _| Ok(state.roster().is_active(key)))
            .unwrap_or(false)
    }

    fn reads_every_log(&mut self, key: &PublicKey) -> bool {
        // A person on the roster reads every report; an AI model only those it was granted
        // (see `may_read`), so it stays out of the gossip mesh.
        let Some(network) = self.network else {
            return false;
        };
        self.home
            .with_state(&network, |state, _| {
                let roster = state.roster();
                Ok(roster.is_active(key)
                    && roster
                        .member(key)
                        .is_some_and(|m| m.role != countersign_ledger::Role::AiModel))
            })
            .unwrap_or(false)
    }

    fn may_read(&mut self, peer: &PublicKey, logs: &[LogId]) -> Vec<bool> {
        let Some(network) = self.network else {
            return vec![false; logs.len()];
        };
        // The member's role once for the whole list: only an AI model's reads need the logs.
        let role = self
            .home
            .with_state(&network, |state, _| {
                Ok(state.roster().member(peer).map(|m| m.role))
            })
            .ok()
            .flatten();
        logs.iter()
            .map(|log| match role {
                _ if *log == network => true,
                None => false,
                Some(countersign_ledger::Role::AiModel) => self.granted(peer, log),
                Some(_) => true,
            })
            .collect()
    }

    fn summary(&mut self, only: &[LogId]) -> std::result::Result<Vec<LogSummary>, String> {
        let db = self.home.store().db();
        let logs = if only.is_empty() {
            db.log_ids().map_err(|e| e.to_string())?
        } else {
            let mut held = Vec::with_capacity(only.len());
            for log in only {
                if db.contains(log).map_err(|e| e.to_string())? {
                    held.push(*log);
                }
            }
            held
        };
        logs.into_iter()
            .map(|log| {
                let heads = self
                    .home
                    .store()
                    .db()
                    .heads(&log)
                    .map_err(|e| e.to_string())?;
                let authors = self.vector(&log)?;
                // An author's sequences run from 1 without gaps: their sum is the entry count.
                let entries = authors.iter().map(|(_, s)| *s).sum();
                let checkpoint = match (self.network, self.signer.as_mut()) {
                    (Some(network), Some(signer)) => signer.sign(network, log, entries, &heads),
                    _ => None,
                };
                Ok(LogSummary {
                    log,
                    authors,
                    heads,
                    forks: self
                        .home
                        .store()
                        .db()
                        .fork_count(&log)
                        .map_err(|e| e.to_string())?
                        .min(u64::from(u32::MAX)) as u32,
                    checkpoint,
                })
            })
            .collect()
    }

    fn vector(&mut self, log: &LogId) -> std::result::Result<VersionVector, String> {
        HomeLedger::vector(self, log)
    }

    fn lacks_any(
        &mut self,
        ids: &[countersign_ledger::EntryId],
    ) -> std::result::Result<bool, String> {
        let db = self.home.store().db();
        for id in ids {
            let held = db.contains(id).map_err(|e| e.to_string())?
                || db.fork_evidence(id).map_err(|e| e.to_string())?.is_some();
            if !held {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn entries_after(
        &mut self,
        log: &LogId,
        have: &VersionVector,
        limit: usize,
    ) -> std::result::Result<(Vec<u8>, bool), String> {
        self.serve_after(log, have, limit)
    }

    fn reconcile_set(
        &mut self,
        reader: Option<&PublicKey>,
    ) -> std::result::Result<&ReconcileSet, String> {
        let restricted = match (reader, self.network) {
            (Some(reader), Some(network)) => self
                .home
                .with_state(&network, |state, _| {
                    Ok(state.roster().member(reader).map(|m| m.role))
                })
                .ok()
                .flatten()
                .is_none_or(|role| role == countersign_ledger::Role::AiModel),
            _ => false,
        };
        if let (true, Some(reader)) = (restricted, reader) {
            let newest = self
                .home
                .store()
                .db()
                .max_arrival()
                .map_err(|e| e.to_string())?;
            if self.reader_set_for != Some((*reader, newest)) {
                self.restricted_set(reader)?;
                self.reader_set_for = Some((*reader, newest));
                self.reader_builds += 1;
            }
            return Ok(&self.reader_set);
        }
        self.refresh_set()?;
        Ok(&self.set)
    }

    fn set_is_cold(&mut self, reader: Option<&PublicKey>) -> bool {
        // The whole set's answer for every reader: a restricted reader's own set (its
        // granted logs) is small, and a call run apart needlessly costs a thread hop only.
        // The whole set is cold before its first build and when many entries came since.
        let _ = reader;
        self.network.is_some()
            && (self.set_cursor == 0
                || self
                    .home
                    .store()
                    .db()
                    .max_arrival()
                    .map_or(true, |newest| newest - self.set_cursor > set::COLD_ITEMS))
    }

    fn wanted(&mut self, ids: Vec<EntryId>) -> std::result::Result<Vec<EntryId>, String> {
        let db = self.home.store().db();
        // Most of the time nothing is quarantined or held: nothing to look up per id.
        let quarantine = db.quarantine_count().map_err(|e| e.to_string())?;
        let held = db.held_count().map_err(|e| e.to_string())?;
        if quarantine == 0 && held == 0 {
            return Ok(ids);
        }
        let quarantined = db.quarantined(&ids).map_err(|e| e.to_string())?;
        let mut wanted = Vec::with_capacity(ids.len());
        for (id, q) in ids.into_iter().zip(quarantined) {
            if !q && !db.is_held(&id).map_err(|e| e.to_string())? {
                wanted.push(id);
            }
        }
        Ok(wanted)
    }

    fn entries_by_id(
        &mut self,
        reader: &PublicKey,
        ids: &[EntryId],
    ) -> std::result::Result<ById, String> {
        self.serve_by_id(reader, ids)
    }

    type Checked = Authenticated;

    fn check(bundle: &[u8]) -> std::result::Result<Authenticated, String> {
        // Warn: only the log records why a peer's batch was refused (the node runs this
        // inside a span naming the peer).
        Authenticated::from_bundle(bundle).map_err(|e| {
            tracing::warn!(
                bytes = bundle.len(),
                error = %e.loggable(),
                "batch refused: it does not verify"
            );
            e.to_string()
        })
    }

    fn accept(
        &mut self,
        batch: Authenticated,
        peer: &str,
    ) -> std::result::Result<Accepted, AcceptError> {
        let entries = batch.len();
        // A batch this large is one of many (a new or far-behind home): taken in with the
        // intake settings until the pull ends. Nothing is judged differently.
        if !self.intake && entries >= self.intake_from {
            match self.home.store().set_intake(true) {
                Ok(()) => self.intake = true,
                Err(e) => tracing::warn!(error = %e, "could not switch to the intake settings"),
            }
        }
        let report = self.home.import_from_peer(batch, peer, &mut self.pending).map_err(|e| {
            tracing::warn!(entries, error = %e.loggable(), "batch refused: nothing from it stored");
            match &e {
                // Only an entry whose own bytes contradict it is held against the sender.
                crate::AppError::EntryRefused { reason, .. }
                    if reason.proves_sender_misbehaved() =>
                {
                    AcceptError::Misbehaved(e.to_string())
                }
                crate::AppError::BundleEntry { .. } | crate::AppError::BadBundle(_) => {
                    AcceptError::Misbehaved(e.to_string())
                }
                // Our requests name the network we were told to trust; a peer that answers
                // with another network's genesis proves it ignored that.
                crate::AppError::Untrusted(_) => AcceptError::Misbehaved(e.to_string()),
                _ => AcceptError::Local(e.to_string()),
            }
        })?;
        tracing::debug!(
            entries,
            new = report.new,
            duplicate = report.duplicate,
            forks = report.forks.len(),
            "batch accepted"
        );
        self.wrote = true;
        if self.network.is_none() {
            self.network = self.home.state().ok().and_then(|s| s.network().ok());
        }
        Ok(Accepted {
            new: report.new,
            quarantined: report.quarantined.len() as u64,
        })
    }

    fn pull_ended(&mut self, peer: &str) {
        if self.intake {
            self.intake = false;
            if let Err(e) = self.home.store().set_intake(false) {
                tracing::warn!(error = %e, "could not leave the intake settings");
            }
        }
        // Only this peer's: others' pulls may still bring what theirs wait for.
        match self.home.quarantine_pending(&mut self.pending, peer) {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                entries = n,
                "entries still waiting when the pull ended: quarantined"
            ),
            Err(e) => tracing::warn!(error = %e.loggable(), "could not quarantine waiting entries"),
        }
    }

    fn remember(&mut self, peer: &str, event: PeerEvent) {
        self.remember_peer(peer, event)
    }

    fn cut_offs(&mut self) -> Vec<(String, String, u64, u32)> {
        self.peers_cut_off()
    }

    fn split_views(
        &mut self,
        peer: &PublicKey,
        evidence: Vec<Vec<u8>>,
    ) -> std::result::Result<(), AcceptError> {
        let kept = self
            .home
            .take_split_view_evidence(peer, &evidence)
            .map_err(|e| {
                tracing::warn!(error = %e.loggable(), "relayed split-view evidence refused");
                match e {
                    crate::AppError::InvalidInput(_) => AcceptError::Misbehaved(e.to_string()),
                    _ => AcceptError::Local(e.to_string()),
                }
            })?;
        for v in &kept {
            // Ids only (see `checkpoints`).
            tracing::warn!(log = %v.log, signer = %v.signer, "split view: evidence relayed by a peer checks out");
        }
        if !kept.is_empty() {
            self.wrote = true;
        }
        Ok(())
    }

    fn checkpoints(
        &mut self,
        peer: &PublicKey,
        logs: &[LogSummary],
    ) -> std::result::Result<(), AcceptError> {
        let claims: Vec<(LogId, Vec<u8>)> = logs
            .iter()
            .filter_map(|l| Some((l.log, l.checkpoint.clone()?)))
            .collect();
        let found = self.home.hold_to_checkpoints(peer, &claims).map_err(|e| {
            tracing::warn!(error = %e.loggable(), "checkpoints refused");
            match e {
                // A checkpoint that does not decode or is not the peer's own claim.
                crate::AppError::InvalidInput(_) => AcceptError::Misbehaved(e.to_string()),
                _ => AcceptError::Local(e.to_string()),
            }
        })?;
        match found.first() {
            None => Ok(()),
            Some(v) => {
                // Ids and times only (see `checkpoints`).
                tracing::warn!(log = %v.log, signer = %v.signer, reason = %v.reason, "split view");
                Err(AcceptError::Misbehaved(format!("split view: {}", v.reason)))
            }
        }
    }

    fn anchor(&self) -> Option<NetworkId> {
        self.anchor
    }

    fn lacking_keys(&mut self) -> std::result::Result<Vec<LogId>, String> {
        self.keys_lacking()
    }

    fn keys_for(
        &mut self,
        reader: &PublicKey,
        logs: &[LogId],
    ) -> std::result::Result<Vec<(LogId, countersign_ledger::DataKey)>, String> {
        self.keys_served(reader, logs)
    }

    fn take_keys(
        &mut self,
        peer: &str,
        keys: Vec<(LogId, countersign_ledger::DataKey)>,
    ) -> std::result::Result<u64, AcceptError> {
        self.keys_taken(peer, keys)
    }

    fn may_have_changed(&mut self) -> bool {
        // Nothing committed by any connection since the last look: nothing to read. An error
        // reading the version says "look".
        let version = self.home.store().data_version().ok();
        version.is_none() || version != self.seen_version || self.wrote
    }

    fn changed_logs(&mut self) -> std::result::Result<Vec<LogId>, String> {
        self.seen_version = self.home.store().data_version().ok();
        self.wrote = false;
        let mut logs = BTreeSet::new();
        loop {
            let rows = self
                .home
                .store()
                .db()
                .entries_after(self.cursor, 1000)
                .map_err(|e| e.to_string())?;
            for r in &rows {
                if let Some(l) = Hash::from_slice(&r.log) {
                    logs.insert(l);
                }
                self.cursor = self.cursor.max(r.arrival);
            }
            if rows.len() < 1000 {
                break;
            }
        }
        // New fork evidence (kept by an import, not an arrival) is news for peers too.
        let total = self
            .home
            .store()
            .db()
            .fork_total()
            .map_err(|e| e.to_string())?;
        if total != self.forks_seen {
            let forks = self.home.store().db().forks().map_err(|e| e.to_string())?;
            logs.extend(forks.iter().filter_map(|f| Hash::from_slice(&f.log)));
            self.forks_seen = forks.len();
        }
        if self.network.is_none() && !logs.is_empty() {
            self.network = self.home.state().ok().and_then(|s| s.network().ok());
        }
        let roster_changed = self.network.is_some_and(|n| logs.contains(&n));
        self.check_rotation(roster_changed);
        Ok(logs.into_iter().collect())
    }
}

#[cfg(test)]
mod tests;
