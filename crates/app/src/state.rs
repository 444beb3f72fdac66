//! The validation state of a home: an adapter between SQLite and the one pure acceptance path
//! ([`countersign_report::accept::Ledger`]). It loads stored entries into the ledger (the roster
//! log at once, report logs when first needed) and freezes the positions fork evidence names;
//! every judgement is the pure layer's.

use std::collections::HashMap;

use countersign_ledger::{Entry, LogId, NetworkId, PublicKey, Roster};
use countersign_report::accept::Ledger;
use countersign_report::ReportLog;
use countersign_store::{Db, StoredEntry};

use crate::error::{AppError, Result};

pub(crate) use countersign_report::accept::Verdict;

/// The most report logs a long-lived state keeps loaded between calls (the desktop's, a
/// serving node's): past it, the least recently used are dropped down to three quarters of it
/// and loaded again from the store when next asked for. Memory then follows the reports in
/// use, not the store (a report of a few dozen entries is some tens of KiB loaded). The
/// roster log is always kept.
pub(crate) const MAX_LOADED_LOGS: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct LedgerState {
    pub ledger: Ledger,
    /// When each loaded report log was last asked for (a tick of `clock`).
    used: HashMap<LogId, u64>,
    clock: u64,
}

/// Decodes a row the store accepted earlier. Rows are trusted here; `verify` re-checks them.
pub(crate) fn decode_row(row: &StoredEntry) -> Result<Entry, String> {
    decode_row_with_keys(row, &HashMap::new())
}

/// [`decode_row`] reusing already-checked author keys.
pub(crate) fn decode_row_with_keys(
    row: &StoredEntry,
    keys: &HashMap<[u8; 32], PublicKey>,
) -> Result<Entry, String> {
    let signature: [u8; 64] = row
        .signature
        .as_slice()
        .try_into()
        .map_err(|_| format!("signature is {} bytes, not 64", row.signature.len()))?;
    Entry::decode_unverified_with_keys(&row.header, &signature, |k| keys.get(k).copied())
        .map_err(|e| e.to_string())
}

impl LedgerState {
    pub fn network(&self) -> Result<NetworkId> {
        self.ledger.network().ok_or(AppError::NoNetwork)
    }

    pub fn roster(&self) -> &Roster {
        self.ledger.roster()
    }

    /// A loaded report log, judged against the current roster.
    pub fn report(&mut self, log: &LogId) -> Option<&ReportLog> {
        self.ledger.report(log)
    }

    /// Loads the roster log and the fork positions (trusted: they were checked when stored).
    pub fn load(db: &Db<'_>) -> Result<LedgerState> {
        let mut state = LedgerState::default();
        if let Some(hex) = db.meta("network")? {
            let network: NetworkId = hex
                .parse()
                .map_err(|_| AppError::InvalidInput("stored network id is damaged".into()))?;
            state.load_rows(db, &network)?;
        }
        for fork in db.forks()? {
            if let (Some(log), Ok(author)) = (
                countersign_ledger::Hash::from_slice(&fork.log),
                countersign_ledger::Hash::from_slice(&fork.author)
                    .ok_or(())
                    .and_then(|h| PublicKey::from_bytes(&h.0).map_err(|_| ())),
            ) {
                state.ledger.freeze(log, author, fork.seq as u64);
            }
        }
        Ok(state)
    }

    /// Loads a log's stored entries if it is not loaded yet.
    pub fn load_log(&mut self, db: &Db<'_>, log: &LogId) -> Result<()> {
        self.clock += 1;
        self.used.insert(*log, self.clock);
        if self.ledger.has_log(log) {
            return Ok(());
        }
        self.load_rows(db, log)
    }

    /// How many report logs are loaded.
    pub fn loaded_logs(&self) -> usize {
        self.ledger.report_count()
    }

    /// Keeps at most `max` report logs loaded: past it, drops the least recently asked for
    /// down to three quarters of `max` (so that a scan over many logs trims once per quarter,
    /// not once per log). Call it between uses, never within one: a batch may need more logs
    /// at once than `max`, and each use loads what it needs ([`LedgerState::load_log`]).
    pub fn trim(&mut self, max: usize) {
        if self.ledger.report_count() <= max {
            return;
        }
        // A log loaded without being asked for (a report created or imported here) is as
        // recent as it gets.
        let now = self.clock;
        let mut by_use: Vec<(u64, LogId)> = self
            .ledger
            .report_ids()
            .map(|log| (self.used.get(log).copied().unwrap_or(now), *log))
            .collect();
        let drop = by_use.len() - max * 3 / 4;
        by_use.select_nth_unstable(drop - 1);
        for (_, log) in &by_use[..drop] {
            self.ledger.unload(log);
            self.used.remove(log);
        }
        // Logs no longer loaded (unloaded, or never loaded after all) need no tick.
        let ledger = &self.ledger;
        self.used
            .retain(|log, _| ledger.report_as_judged(log).is_some());
        tracing::debug!(
            dropped = drop,
            kept = self.loaded_logs(),
            "report logs unloaded"
        );
    }

    fn load_rows(&mut self, db: &Db<'_>, log: &LogId) -> Result<()> {
        // A report's data key first: its sealed payloads are opened as its rows are loaded.
        // Locked (the key-encryption key not installed: see `Home::open_keys`), the report
        // loads as one whose key this home does not hold: its headers verify, its content is
        // not readable until the key is unlocked (which reloads the state). A key that does
        // not open (damaged, or wrapped under another member's key) leaves it unreadable too;
        // `verify` names it.
        if self.ledger.network() != Some(*log) {
            match db.report_key(log) {
                Ok(Some(key)) => {
                    self.ledger.add_key(*log, key)?;
                }
                Ok(None) | Err(countersign_store::StoreError::KeysLocked) => {}
                Err(countersign_store::StoreError::KeyUnwrap { .. }) => {
                    tracing::warn!(log = %log, "a stored data key does not open; run verify");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let keys: HashMap<[u8; 32], PublicKey> = self
            .roster()
            .members()
            .map(|m| (*m.key.as_bytes(), m.key))
            .collect();
        // Rows in arrival order, then the fork evidence of this log (the second entries of
        // forks, kept beside the log); what builds on evidence waits for it.
        let mut waiting: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
        for row in db.log_entries(log)? {
            let entry = decode_row_with_keys(&row, &keys).map_err(|reason| {
                AppError::InvalidInput(format!("stored entry is damaged ({reason}); run verify"))
            })?;
            if self.ledger.load(&entry, row.payload.as_deref()).is_err() {
                waiting.push((entry, row.payload));
            }
        }
        let mut evidence: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
        for fork in db.forks_of(log)? {
            let Ok(signature) = <[u8; 64]>::try_from(fork.second_signature.as_slice()) else {
                continue;
            };
            if let Ok(second) = Entry::decode_unverified(&fork.second_header, &signature) {
                // Only the roster log's evidence has a payload (the roster reads it).
                let payload = db.fork_payload(&fork)?;
                evidence.push((second, payload));
            }
        }
        // Evidence and waiting rows are offered again until nothing more fits: a second fork
        // can build on rows that wait for the first one's evidence.
        loop {
            let before = waiting.len() + evidence.len();
            evidence
                .retain(|(entry, payload)| !self.ledger.insert_evidence(entry, payload.as_deref()));
            waiting.retain(|(entry, payload)| self.ledger.load(entry, payload.as_deref()).is_err());
            if waiting.len() + evidence.len() == before {
                break;
            }
        }
        // A row damaged on disk (its header no longer the one its children name) is left out
        // rather than failing the whole log: the rest still shows, with the damaged rows marked
        // invalid, and `verify` names each one and why.
        for (entry, _) in &waiting {
            tracing::warn!(entry = %entry.id(), "a stored entry does not fit its log; run verify");
        }
        Ok(())
    }
}
