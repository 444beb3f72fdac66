//! Bundles: export a home's roster and reports to a file; import one, verifying every entry
//! before storing any.

use std::collections::HashMap;
use std::io::{Read, Seek};

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::{header, Entry, EntryId, IdMap, LogFamily, LogId, PublicKey};
use serde::Serialize;

use crate::error::{AppError, Rejection, Result};
use crate::home::now_ms;
use crate::home::Home;
use crate::state::{decode_row, LedgerState, Verdict};
use countersign_report::Standing;

mod authenticated;
mod held;
mod keys;

use keys::take_keys;

pub(crate) use authenticated::causal_order;
pub use authenticated::Authenticated;
use authenticated::Received;
pub(crate) use held::release_held;

/// An entry the import could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub entry: String,
    /// The stable code of the rule involved, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub problem: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ImportReport {
    /// Entries stored by this import.
    pub new: u64,
    /// Entries this home already had.
    pub duplicate: u64,
    /// Equivocations found: the second entry is kept as evidence beside the first.
    pub forks: Vec<Problem>,
    /// Entries stored, but refused by a rule (with its code): they count for nothing.
    pub refused: Vec<Problem>,
    /// Entries dated beyond the allowed clock skew ahead of this home's clock: held aside, not
    /// stored, until their time comes.
    pub held: Vec<Problem>,
    /// Entries a peer sent that this home refuses by a rule, or that wait for something not
    /// here yet: kept in quarantine with the reason (sync only; a bundle is all or nothing).
    pub quarantined: Vec<Problem>,
    /// Data keys a peer sent that this home refuses (`entry` names the report, `code` why):
    /// dropped, the rest of the batch stored (sync only; a bundle is all or nothing).
    pub keys_refused: Vec<Problem>,
}

/// The largest bundle file `bundle_import_file` takes (streamed, never held whole).
pub const MAX_BUNDLE_BYTES: u64 = 4 << 30;

/// Records read before their signatures are checked together, on every core: large enough to
/// keep the cores busy, small enough that the records waiting are a sliver of the entries.
pub(crate) const CHUNK: usize = 4096;

impl Home {
    /// Imports a bundle file (or an audit archive holding one), refusing files larger than
    /// [`MAX_BUNDLE_BYTES`] before reading them. The file is streamed: what is held in memory
    /// is the entries it decodes to, not its bytes.
    pub fn bundle_import_file(&mut self, path: &std::path::Path) -> Result<ImportReport> {
        let context = || format!("reading {}", path.display());
        let mut file = std::fs::File::open(path).map_err(AppError::io(context()))?;
        let size = file.metadata().map_err(AppError::io(context()))?.len();
        if size > MAX_BUNDLE_BYTES {
            return Err(AppError::InvalidInput(format!(
                "{} is {size} bytes; bundles are limited to {MAX_BUNDLE_BYTES}",
                path.display()
            )));
        }
        // An audit archive (`export --format bundle`) carries the bundle inside; its first
        // 512 bytes say so.
        let mut head = Vec::with_capacity(512);
        (&mut file)
            .take(512)
            .read_to_end(&mut head)
            .map_err(AppError::io(context()))?;
        file.rewind().map_err(AppError::io(context()))?;
        tracing::debug!(bytes = size, "bundle import started");
        // Never more than the size checked above: a device (which says 0) or a file still
        // growing would otherwise be read without end.
        let input = std::io::BufReader::new(file.take(size));
        let batch = if crate::export::is_audit_archive(&head) {
            crate::export::read_bundle_in_archive(input, size, |member| Authenticated::read(member))
        } else {
            Authenticated::read(input)
        };
        self.import_logged(batch)
    }

    /// Exports the roster and one report (or every report), with fork evidence and the
    /// reports' data keys, as bundle bytes.
    pub fn bundle_export(&self, report: Option<EntryId>) -> Result<Vec<u8>> {
        self.bundle_export_with(report, true)
    }

    /// [`Home::bundle_export`]; without `keys`, a ciphertext-only bundle: it verifies offline
    /// (every signature and hash link) but its sealed payloads cannot be read, and an erasure
    /// shreds it without anyone touching it (the key it needs is destroyed everywhere).
    pub fn bundle_export_with(&self, report: Option<EntryId>, keys: bool) -> Result<Vec<u8>> {
        let db = self.store().db();
        let network = self.state()?.network()?;
        let reports = match report {
            Some(r) => vec![r],
            None => db
                .log_ids()?
                .into_iter()
                .filter(|l| *l != network)
                .collect(),
        };
        self.bundle_of_reports(&reports, keys)
    }

    /// The roster and the named reports (each whole, with fork evidence, and with their data
    /// keys when `keys`) as bundle bytes: what `bundle_export` and the AI audit package write.
    pub(crate) fn bundle_of_reports(&self, reports: &[EntryId], keys: bool) -> Result<Vec<u8>> {
        self.open_keys(keys)?;
        let db = self.store().db();
        let network = self.state()?.network()?;
        let mut logs = vec![network];
        for r in reports {
            if *r == network {
                continue;
            }
            if db.get(r)?.is_none() {
                return Err(AppError::NotFound {
                    what: format!("report {r}"),
                });
            }
            logs.push(*r);
        }
        let mut entries: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
        for log in &logs {
            for row in db.log_entries(log)? {
                let entry = decode_row(&row).map_err(|reason| {
                    AppError::InvalidInput(format!(
                        "stored entry is damaged ({reason}); run verify"
                    ))
                })?;
                entries.push((entry, row.payload));
            }
        }
        // Evidence goes as its signed header, with no payload (none is needed to prove the
        // fork) — but for the roster log's, whose payload the roster reads.
        for log in &logs {
            for fork in db.forks_of(log)? {
                let sig: Option<[u8; 64]> = fork.second_signature.as_slice().try_into().ok();
                if let Some(Ok(entry)) =
                    sig.map(|sig| Entry::decode_unverified(&fork.second_header, &sig))
                {
                    let payload = db.fork_payload(&fork)?;
                    entries.push((entry, payload));
                }
            }
        }
        // The keys of the reports exported, beside their payloads (never in a log).
        let mut data_keys = Vec::new();
        if keys {
            for log in logs.iter().filter(|l| **l != network) {
                if let Some(key) = db.report_key(log)? {
                    data_keys.push((*log, key));
                }
            }
        }
        tracing::info!(
            logs = logs.len(),
            entries = entries.len(),
            keys = data_keys.len(),
            "bundle exported"
        );
        Ok(bundle::encode_keyed(
            &data_keys,
            entries.iter().map(|(e, p)| (e, p.as_deref())),
        ))
    }

    /// Imports bundle bytes. Every signature is checked before anything is stored, then every
    /// entry passes the ledger and report rules inside one transaction: if any entry is refused,
    /// nothing is stored. Forks are kept as evidence, not refused.
    pub fn bundle_import(&mut self, bytes: &[u8]) -> Result<ImportReport> {
        tracing::debug!(bytes = bytes.len(), "bundle import started");
        self.import_logged(Authenticated::from_bundle(bytes))
    }

    /// Stores an authenticated batch (or passes on why there is none), logging the outcome.
    fn import_logged(&mut self, batch: Result<Authenticated>) -> Result<ImportReport> {
        let result = batch.and_then(|batch| self.import_authenticated(batch));
        // A rotation this home asked for may have come with it: switch to the new key.
        if result.is_ok() {
            self.adopt_rotation()?;
        }
        match &result {
            Ok(r) => tracing::info!(
                new = r.new,
                duplicate = r.duplicate,
                forks = r.forks.len(),
                "bundle imported"
            ),
            // Info, not warn: the caller is told too (the CLI's one error line).
            Err(e) => tracing::info!(error = %e.loggable(), "bundle refused: nothing stored"),
        }
        result
    }

    /// The second half of [`Home::bundle_import`]: stores entries whose signatures were
    /// checked (perhaps on another thread, while this home stored the batch before).
    pub fn import_authenticated(&mut self, batch: Authenticated) -> Result<ImportReport> {
        self.import_entries(batch.entries, batch.keys, Intake::Strict)
            .map(|(report, _)| report)
    }

    /// Stores a batch a peer sent: like [`Home::import_authenticated`], except that an entry
    /// refused by a rule, or still waiting for what it depends on once the batch is in, is
    /// quarantined with its reason and the rest of the batch is stored. Only an entry whose
    /// own bytes contradict it refuses the batch (see
    /// [`countersign_report::accept::Rejection::proves_sender_misbehaved`]). Waiting entries are
    /// tried again after every batch.
    ///
    /// Entries that still wait once the batch is in go to `pending` (in memory) and are
    /// taken in again with the next batch: a pull fetches ids in no causal order, so a
    /// report's entries may come a batch before the roster entry that admits their author.
    /// [`Home::quarantine_pending`] keeps what still waits when the pull ends.
    pub fn import_from_peer(
        &mut self,
        batch: Authenticated,
        peer: &str,
        pending: &mut Pending,
    ) -> Result<ImportReport> {
        let mut entries: Vec<Received> = pending.entries.drain(..).map(|(r, _)| r).collect();
        pending.bytes = 0;
        entries.extend(batch.entries);
        let (mut report, leftovers) =
            self.import_entries(entries, batch.keys, Intake::Quarantine { peer })?;
        for (item, why) in leftovers {
            pending.bytes += received_bytes(&item);
            pending.entries.push((item, why));
        }
        // Bounded: past it, the oldest are kept in the quarantine table instead.
        if pending.bytes > MAX_PENDING_BYTES || pending.entries.len() > MAX_PENDING {
            let keep_from = pending.entries.len().saturating_sub(MAX_PENDING / 2);
            let spill: Vec<_> = pending.entries.drain(..keep_from).collect();
            pending.bytes = pending.entries.iter().map(|(r, _)| received_bytes(r)).sum();
            self.quarantine_waiting(spill, peer, &mut report)?;
        }
        if report.new > 0 {
            let released = self.write_with_state(crate::quarantine::release_waiting)?;
            report.new += released;
        }
        Ok(report)
    }

    /// Keeps what still waits in `pending` in the quarantine (a pull ended).
    pub fn quarantine_pending(&mut self, pending: &mut Pending, peer: &str) -> Result<u64> {
        let entries: Vec<_> = pending.entries.drain(..).collect();
        pending.bytes = 0;
        let n = entries.len() as u64;
        let mut report = ImportReport::default();
        self.quarantine_waiting(entries, peer, &mut report)?;
        Ok(n)
    }

    fn quarantine_waiting(
        &mut self,
        entries: Vec<(Received, Rejection)>,
        peer: &str,
        report: &mut ImportReport,
    ) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write_with_state(|db, _| {
            for (item, why) in &entries {
                let (entry, payload) = &**item;
                // A home that holds no network keeps nothing of a network it has not adopted
                // (a stranger's entries sent without their genesis): dropped, not kept.
                if matches!(why, Rejection::NoNetwork) {
                    continue;
                }
                // A record without its payload whose erasure never came (a relay that
                // stripped it): nothing to hold against anyone, and nothing kept, so a later
                // sync fetches it again.
                if matches!(why, Rejection::PayloadMissing) {
                    tracing::info!(entry = %entry.id(), "a record came without its payload: not kept");
                    continue;
                }
                crate::quarantine::keep(db, entry, payload.as_deref(), why, true, peer)?;
                report.quarantined.push(problem(entry.id(), why));
            }
            Ok(())
        })
    }

    fn import_entries(
        &mut self,
        entries: Vec<Received>,
        keys: bundle::BundleKeys,
        intake: Intake<'_>,
    ) -> Result<(ImportReport, Vec<(Received, Rejection)>)> {
        // Keys taken in are stored wrapped: the key-encryption key first (asked for if need be).
        if !keys.is_empty() {
            self.need_keys()?;
        }
        // The state kept across calls: a peer's catch-up is many batches into the same logs.
        self.write_with_state(|db, state| {
            let mut report = ImportReport::default();
            let mut leftovers = Vec::new();
            // Roster first: report entries are authorised by the roster they arrive with.
            let (roster, rest): (Vec<_>, Vec<_>) = entries
                .into_iter()
                .partition(|r| r.0.header().kind.family() == LogFamily::Roster);
            // The reports' keys before their entries, so their sealed payloads are opened.
            take_keys(db, state, keys, &rest, intake, &mut report)?;
            for batch in [roster, rest] {
                for log in logs_to_load(&batch) {
                    state.load_log(db, &log)?;
                }
                import_batch(db, state, batch, &mut report, intake, &mut leftovers)?;
            }
            Ok((report, leftovers))
        })
    }
}

/// The logs a batch's entries are judged against that must be loaded before it is taken in:
/// each once, and none whose genesis (a report's create) is in the batch.
///
/// A first sync takes reports in whole, create and sections in one batch; loading each
/// section's log looked up a log not stored yet, four queries at a random place in hash-keyed
/// indexes, twice per report (8 % of a 1M-report sync's taking-in CPU, `perf`). Nothing is
/// judged differently: a log whose create is in the batch is either new (nothing stored to
/// load) or stored already, and then its create, judged without its log as every create is,
/// is found stored on insert and its log loaded as stored (`reload` in [`import_noted`])
/// before any entry that builds on it in the batch is judged (causal order); an entry of
/// that log not built on the create in the batch waits for a next pass, after it.
fn logs_to_load(batch: &[Received]) -> Vec<LogId> {
    let created: countersign_ledger::IdSet = batch
        .iter()
        .filter(|r| r.0.header().kind.is_genesis())
        .map(|r| r.0.log_id())
        .collect();
    let mut seen = countersign_ledger::IdSet::default();
    batch
        .iter()
        .map(|r| r.0.log_id())
        .filter(|log| !created.contains(log) && seen.insert(*log))
        .collect()
}

/// Entries of a peer's batches that wait for something not here yet, taken in again with
/// the next batch (see [`Home::import_from_peer`]).
#[derive(Debug, Default)]
pub struct Pending {
    entries: Vec<(Received, Rejection)>,
    bytes: usize,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Entries a pull keeps waiting in memory, at most, and their bytes: about one
/// reconciliation round's worth (past them the oldest go to the quarantine table).
const MAX_PENDING: usize = 32_768;
const MAX_PENDING_BYTES: usize = 64 << 20;

fn received_bytes(r: &Received) -> usize {
    r.0.header_bytes().len() + 64 + r.1.as_ref().map_or(0, Vec::len)
}

/// What an import does with an entry the rules refuse.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Intake<'a> {
    /// Refuse the whole batch (a bundle: an auditor gets all of it or a reason).
    Strict,
    /// Quarantine the entry with its reason and store the rest (a peer's batch).
    Quarantine { peer: &'a str },
}

/// Stores a batch in causal order whatever order it came in (see [`causal_order`]); entries
/// that still wait for something else in the batch (a roster change, a publication) are tried
/// again in a next pass. Every entry takes the one acceptance path; what it
/// says is stored is stored (refused entries too, marked so by their standing), entries dated
/// too far ahead are held, and an entry that cannot be stored at all refuses the whole batch.
fn import_batch(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    pending: Vec<Received>,
    report: &mut ImportReport,
    intake: Intake<'_>,
    leftovers: &mut Vec<(Received, Rejection)>,
) -> Result<()> {
    let result = import_noted(db, state, pending, report, intake, leftovers);
    // Whatever happened, the erasures noted for this batch end with it.
    state.ledger.end_batch();
    result
}

/// [`import_batch`]'s work, the batch's erasures noted first.
fn import_noted(
    db: &countersign_store::Db<'_>,
    state: &mut LedgerState,
    pending: Vec<Received>,
    report: &mut ImportReport,
    intake: Intake<'_>,
    leftovers: &mut Vec<(Received, Rejection)>,
) -> Result<()> {
    let mut pending = causal_order(pending);
    // An erased report's log comes as headers only, its erasure after them: the erasure is
    // noted first (checked on its own), so that the headers it covers are taken in.
    for item in &pending {
        let (entry, payload) = &**item;
        if entry.header().kind == countersign_ledger::Kind::PayloadErase {
            state.ledger.note_erasure(entry, payload.as_deref());
        }
    }
    let now = now_ms();
    let mut held: HashMap<EntryId, u64> = HashMap::new();
    // New entries, whose standing is asked once the batch is in.
    let mut stored: Vec<(LogId, EntryId)> = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut waiting = Vec::new();
        // Why each waiting entry waits, in step with `waiting`.
        let mut waits: Vec<Rejection> = Vec::new();
        let mut last_wait = None;
        // Each entry is dropped once taken in: only those still waiting are kept.
        for item in pending {
            let (entry, payload) = &*item;
            let id = entry.id();
            // A home adopts only the network it was told to trust: a stranger's genesis
            // refuses the whole batch, so nothing of that network is stored.
            if entry.header().kind == countersign_ledger::Kind::NetworkGenesis
                && state.ledger.network().is_none()
            {
                let anchor = crate::join::anchor_in(db)?;
                countersign_report::accept::trust::admits(anchor.as_ref(), entry)?;
            }
            // Built on an entry held for later: held with it, until the later of the two.
            let after_held = entry
                .header()
                .parents
                .iter()
                .filter_map(|p| held.get(p))
                .max()
                .copied();
            // No standing asked per entry: a roster entry's is the whole roster resolved.
            let verdict = match after_held {
                Some(until_ms) => Ok(Verdict::Held { until_ms }),
                None => state.ledger.accept_unjudged(entry, payload.as_deref(), now),
            };
            match verdict {
                Ok(Verdict::New(())) => {
                    if !db.insert_entry(entry, payload.as_deref())? {
                        // Stored already: a report.create whose log was not loaded (a create
                        // is judged without loading its log), which the ledger took for a new
                        // report. Its log is loaded as stored instead of that one entry.
                        reload(db, state, &entry.log_id())?;
                        report.duplicate += 1;
                        continue;
                    }
                    if entry.header().kind == countersign_ledger::Kind::NetworkGenesis {
                        db.set_meta("network", &id.to_hex())?;
                    }
                    report.new += 1;
                    stored.push((entry.log_id(), id));
                }
                Ok(Verdict::Duplicate) => report.duplicate += 1,
                Ok(Verdict::Held { until_ms }) => {
                    let until_ms = until_ms.max(after_held.unwrap_or(0));
                    // What builds on it waits with it, kept or not.
                    held.insert(id, until_ms);
                    if !db.insert_held(entry, payload.as_deref(), until_ms)? {
                        // Full (an insider's next-year entries, say): this one is not kept,
                        // and the peer that has it offers it again on a later sync. The rest
                        // of the batch is stored as usual.
                        tracing::warn!(entry = %id, "entry dated ahead not kept: the held table is full");
                        report.held.push(Problem {
                            entry: id.to_hex(),
                            code: None,
                            problem: format!(
                                "dated ahead of this home's clock, and {} entries are already \
                                 held: not kept (it comes again with a later sync)",
                                countersign_store::MAX_HELD
                            ),
                        });
                        continue;
                    }
                    tracing::info!(entry = %id, until_ms, "entry held: dated ahead of this clock");
                    report.held.push(Problem {
                        entry: id.to_hex(),
                        code: None,
                        problem: format!(
                            "dated ahead of this home's clock; held until {until_ms} ms"
                        ),
                    });
                }
                Ok(Verdict::Fork { first }) => {
                    // The ledger froze the author and placed the entry beside the first; here it
                    // is kept as evidence (its signed header; a payload only in the roster
                    // log), which travels in bundles and syncs.
                    db.insert_fork(&first, entry, payload.as_deref())?;
                    let h = entry.header();
                    tracing::warn!(
                        author = %h.author,
                        seq = h.seq,
                        log = %entry.log_id(),
                        first = %first,
                        second = %id,
                        "equivocation: the second entry kept as evidence, the author's log frozen"
                    );
                    report.forks.push(Problem {
                        entry: id.to_hex(),
                        code: Some("frozen".into()),
                        problem: format!(
                            "fork: author {} signed both {} and {} at sequence {} of log {}",
                            h.author,
                            first,
                            id,
                            h.seq,
                            entry.log_id()
                        ),
                    });
                }
                // A header without its payload may be an erased report's whose erasure is in
                // a later batch of the same pull: it waits for it (and is dropped, not
                // quarantined, if the pull ends without it).
                Err(e)
                    if e.waits_for_dependency()
                        || (e == Rejection::PayloadMissing
                            && matches!(intake, Intake::Quarantine { .. })
                            && entry.header().kind.family() == LogFamily::Report) =>
                {
                    if matches!(intake, Intake::Quarantine { .. }) {
                        waits.push(e.clone());
                    }
                    last_wait = Some((id, e));
                    waiting.push(item);
                }
                Err(e) => match intake {
                    // A record without its payload (a relay that stripped it, or header-only
                    // fork evidence before the entry whose position it claims): nothing to
                    // hold against anyone, and nothing kept, so a later sync fetches it again.
                    Intake::Quarantine { .. } if e == Rejection::PayloadMissing => {
                        tracing::info!(entry = %id, "a record came without its payload: not kept");
                    }
                    Intake::Quarantine { peer } if !e.proves_sender_misbehaved() => {
                        crate::quarantine::keep(db, entry, payload.as_deref(), &e, false, peer)?;
                        report.quarantined.push(problem(id, &e));
                    }
                    _ => return Err(refused(id, e)),
                },
            }
        }
        if waiting.len() == before {
            if let Intake::Quarantine { .. } = intake {
                // What still waits goes back to the caller, to be taken in again with the
                // next batch: its parent or its author's admission may be in it.
                leftovers.extend(waiting.into_iter().zip(waits));
                break;
            }
            // No progress: what is left depends on entries this home does not have.
            return Err(match last_wait {
                Some((id, e)) => refused(id, e),
                None => {
                    AppError::InvalidInput("bundle entries depend on each other in a cycle".into())
                }
            });
        }
        pending = waiting;
    }
    for (log, id) in stored {
        if let Some(Standing::Refused(e)) = state.ledger.standing(&log, &id) {
            tracing::info!(entry = %id, rule = e.code(), "entry stored as refused");
            report.refused.push(Problem {
                entry: id.to_hex(),
                code: Some(e.code().to_string()),
                problem: e.to_string(),
            });
        }
    }
    Ok(())
}

fn problem(id: EntryId, e: &Rejection) -> Problem {
    Problem {
        entry: id.to_hex(),
        code: Some(e.code().to_string()),
        problem: e.to_string(),
    }
}

/// Loads `log` again from the store, dropping what the ledger holds of it.
fn reload(db: &countersign_store::Db<'_>, state: &mut LedgerState, log: &LogId) -> Result<()> {
    state.ledger.unload(log);
    state.load_log(db, log)
}

fn refused(id: EntryId, e: Rejection) -> AppError {
    AppError::EntryRefused {
        entry: id.to_hex(),
        reason: Box::new(e),
    }
}
