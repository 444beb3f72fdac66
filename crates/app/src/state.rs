//! The validation state of a home: the roster and the logs loaded so far, and the composition of
//! the ledger and report rules that every entry passes before it is stored.

use std::collections::{BTreeSet, HashMap};

use countersign_ledger::rules::{self, ParentInfo, RuleError};
use countersign_ledger::{Entry, EntryId, Kind, LogFamily, LogId, NetworkId, PublicKey, Roster};
use countersign_report::{LogEntry, Payload, ReportLog};
use countersign_store::{Db, StoredEntry};

use crate::error::{AppError, Rejection, Result};

/// What a valid entry is to this home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    New,
    /// Already stored: inserting again changes nothing.
    Duplicate,
    /// Same author, log and sequence as the stored `first`, but a different entry.
    Fork {
        first: EntryId,
    },
}

#[derive(Debug, Default)]
pub(crate) struct LogState {
    pub report: Option<ReportLog>,
    info: HashMap<EntryId, ParentInfo>,
    last_seq: HashMap<PublicKey, u64>,
    by_position: HashMap<(PublicKey, u64), EntryId>,
    heads: BTreeSet<EntryId>,
}

impl LogState {
    pub fn heads(&self) -> Vec<EntryId> {
        self.heads.iter().copied().collect()
    }

    pub fn next_seq(&self, author: &PublicKey) -> u64 {
        self.last_seq.get(author).copied().unwrap_or(0) + 1
    }

    pub fn latest_timestamp(&self, ids: &[EntryId]) -> u64 {
        ids.iter()
            .filter_map(|id| self.info.get(id))
            .map(|i| i.timestamp_ms)
            .max()
            .unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct LedgerState {
    pub network: Option<NetworkId>,
    pub roster: Roster,
    logs: HashMap<LogId, LogState>,
    /// Per (log, author): the lowest sequence at which they equivocated.
    frozen: HashMap<(LogId, PublicKey), u64>,
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
    pub fn log(&self, log: &LogId) -> Option<&LogState> {
        self.logs.get(log)
    }

    pub fn network(&self) -> Result<NetworkId> {
        self.network.ok_or(AppError::NoNetwork)
    }

    /// Loads the roster log and fork positions (trusted: they were checked when stored).
    pub fn load(db: &Db<'_>) -> Result<LedgerState> {
        let mut state = LedgerState::default();
        if let Some(hex) = db.meta("network")? {
            let network = hex
                .parse()
                .map_err(|_| AppError::InvalidInput("stored network id is damaged".into()))?;
            state.network = Some(network);
            state.load_log(db, &network)?;
        }
        for fork in db.forks()? {
            if let (Some(log), Ok(author)) = (
                countersign_ledger::Hash::from_slice(&fork.log),
                countersign_ledger::Hash::from_slice(&fork.author)
                    .ok_or(())
                    .and_then(|h| PublicKey::from_bytes(&h.0).map_err(|_| ())),
            ) {
                state.freeze(log, author, fork.seq as u64);
            }
        }
        Ok(state)
    }

    /// Loads a log's stored entries if it is not loaded yet.
    pub fn load_log(&mut self, db: &Db<'_>, log: &LogId) -> Result<()> {
        if self.logs.contains_key(log) {
            return Ok(());
        }
        let keys: HashMap<[u8; 32], PublicKey> = self
            .roster
            .members()
            .map(|m| (*m.key.as_bytes(), m.key))
            .collect();
        for row in db.log_entries(log)? {
            let entry = decode_row_with_keys(&row, &keys).map_err(|reason| {
                AppError::InvalidInput(format!("stored entry is damaged ({reason}); run verify"))
            })?;
            self.apply(&entry, row.payload.as_deref())?;
        }
        Ok(())
    }

    pub fn freeze(&mut self, log: LogId, author: PublicKey, seq: u64) {
        let at = self.frozen.entry((log, author)).or_insert(seq);
        *at = (*at).min(seq);
    }

    /// Every rule an entry must pass before it is stored. Pure with respect to the state.
    pub fn check(&self, entry: &Entry, payload: Option<&[u8]>) -> Result<Verdict, Rejection> {
        self.check_parsed(entry, payload, true)
            .map(|(verdict, _)| verdict)
    }

    /// Checks and, when new, applies an entry whose payload the caller has already matched
    /// against its header; the payload is parsed once for both steps.
    pub fn accept_matched(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
    ) -> Result<Verdict, AppError> {
        let (verdict, parsed) = self.check_parsed(entry, payload, false)?;
        if verdict == Verdict::New {
            self.apply_parsed(entry, payload, parsed)?;
        }
        Ok(verdict)
    }

    /// [`LedgerState::check`], also returning the parsed report payload.
    fn check_parsed(
        &self,
        entry: &Entry,
        payload: Option<&[u8]>,
        match_payload: bool,
    ) -> Result<(Verdict, Option<Payload>), Rejection> {
        let h = entry.header();
        let network = if h.kind == Kind::NetworkGenesis {
            match self.network {
                Some(n) if n == entry.id() => return Ok((Verdict::Duplicate, None)),
                Some(n) => {
                    return Err(RuleError::WrongNetwork {
                        expected: n,
                        found: entry.id(),
                    }
                    .into())
                }
                None => entry.id(),
            }
        } else {
            self.network.ok_or(Rejection::NoNetwork)?
        };
        rules::check_shape(entry, network)?;
        rules::check_log_family(entry, network)?;
        let payload = payload.ok_or(Rejection::PayloadMissing)?;
        if match_payload {
            rules::check_payload(entry, payload)?;
        }

        let log_id = entry.log_id();
        let log = self.logs.get(&log_id);
        if h.kind.is_genesis() {
            if log.is_some() {
                return Ok((Verdict::Duplicate, None));
            }
        } else {
            let log = log.ok_or(Rejection::UnknownLog { log: log_id })?;
            if log.info.contains_key(&entry.id()) {
                return Ok((Verdict::Duplicate, None));
            }
            if let Some(first) = log.by_position.get(&(h.author, h.seq)) {
                return Ok((Verdict::Fork { first: *first }, None));
            }
            if let Some(seq) = self
                .frozen
                .get(&(log_id, h.author))
                .filter(|s| **s <= h.seq)
            {
                return Err(RuleError::Frozen {
                    author: h.author.to_hex(),
                    seq: *seq,
                }
                .into());
            }
            rules::check_seq(log.next_seq(&h.author), h.seq)?;
            // Look in every loaded log, so a parent from another log is named as such.
            rules::check_parents(entry, |p| {
                log.info
                    .get(p)
                    .or_else(|| self.logs.values().find_map(|l| l.info.get(p)))
                    .copied()
            })?;
        }

        match h.kind.family() {
            LogFamily::Roster => {
                if h.kind != Kind::NetworkGenesis {
                    self.roster
                        .authorize(&h.author, h.kind, h.timestamp_ms)
                        .map_err(RuleError::from)?;
                }
                // Apply to a copy to find payload errors without changing the state.
                self.roster.clone().apply(h.kind, &h.author, payload)?;
            }
            LogFamily::Report => {
                self.roster
                    .authorize(&h.author, h.kind, h.timestamp_ms)
                    .map_err(RuleError::from)?;
                if h.kind == Kind::ReportCreate {
                    ReportLog::new(entry, payload)?;
                } else {
                    let parsed = Payload::parse(h.kind, payload)
                        .map_err(countersign_report::ReportRuleError::from)?;
                    if let Some(report) = log.and_then(|l| l.report.as_ref()) {
                        report.check(entry, &parsed, &self.roster)?;
                    }
                    return Ok((Verdict::New, Some(parsed)));
                }
            }
        }
        Ok((Verdict::New, None))
    }

    /// Adds an entry that passed [`LedgerState::check`] (or was loaded from the store).
    pub fn apply(&mut self, entry: &Entry, payload: Option<&[u8]>) -> Result<()> {
        self.apply_parsed(entry, payload, None)
    }

    fn apply_parsed(
        &mut self,
        entry: &Entry,
        payload: Option<&[u8]>,
        parsed: Option<Payload>,
    ) -> Result<()> {
        let h = entry.header();
        let log_id = entry.log_id();
        if h.kind == Kind::NetworkGenesis {
            self.network = Some(entry.id());
        }
        if h.kind.family() == LogFamily::Roster {
            if let Some(p) = payload {
                self.roster
                    .apply(h.kind, &h.author, p)
                    .map_err(Rejection::from)?;
            }
        }
        let log = self.logs.entry(log_id).or_default();
        if h.kind == Kind::ReportCreate {
            if let Some(p) = payload {
                log.report = Some(ReportLog::new(entry, p)?);
            }
        } else if let Some(report) = log.report.as_mut() {
            let parsed = parsed.or_else(|| payload.and_then(|p| Payload::parse(h.kind, p).ok()));
            report.insert(LogEntry::new(entry, parsed));
        }
        log.info.insert(
            entry.id(),
            ParentInfo {
                log: log_id,
                timestamp_ms: h.timestamp_ms,
            },
        );
        let last = log.last_seq.entry(h.author).or_insert(0);
        *last = (*last).max(h.seq);
        log.by_position.insert((h.author, h.seq), entry.id());
        for p in &h.parents {
            log.heads.remove(p);
        }
        log.heads.insert(entry.id());
        Ok(())
    }
}
