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

    /// Exports the roster and one report (or every report), with fork evidence, as bundle bytes.
    pub fn bundle_export(&self, report: Option<EntryId>) -> Result<Vec<u8>> {
        let db = self.store().db();
        let state = self.state()?;
        let network = state.network()?;
        let mut logs = vec![network];
        match report {
            Some(r) => {
                if db.get(&r)?.is_none() {
                    return Err(AppError::NotFound {
                        what: format!("report {r}"),
                    });
                }
                logs.push(r);
            }
            None => logs.extend(db.log_ids()?.into_iter().filter(|l| *l != network)),
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
        tracing::info!(
            logs = logs.len(),
            entries = entries.len(),
            "bundle exported"
        );
        Ok(bundle::encode(
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
        self.import_entries(batch.entries, Intake::Strict)
            .map(|(report, _)| report)
    }

    /// Stores a batch a peer sent: like [`Home::import_authenticated`], except that an entry
    /// refused by a rule, or still waiting for what it depends on once the batch is in, is
    /// quarantined with its reason and the rest of the batch is stored. Only an entry whose
    /// own bytes contradict it refuses the batch (see
    /// [`countersign_report::Rejection::proves_sender_misbehaved`]). Waiting entries are tried
    /// again after every batch.
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
        let (mut report, leftovers) = self.import_entries(entries, Intake::Quarantine { peer })?;
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
                crate::quarantine::keep(db, entry, payload.as_deref(), why, true, peer)?;
                report.quarantined.push(problem(entry.id(), why));
            }
            Ok(())
        })
    }

    fn import_entries(
        &mut self,
        entries: Vec<Received>,
        intake: Intake<'_>,
    ) -> Result<(ImportReport, Vec<(Received, Rejection)>)> {
        // The state kept across calls: a peer's catch-up is many batches into the same logs.
        self.write_with_state(|db, state| {
            let mut report = ImportReport::default();
            let mut leftovers = Vec::new();
            // Roster first: report entries are authorised by the roster they arrive with.
            let (roster, rest): (Vec<_>, Vec<_>) = entries
                .into_iter()
                .partition(|r| r.0.header().kind.family() == LogFamily::Roster);
            for batch in [roster, rest] {
                for r in &batch {
                    if !r.0.header().kind.is_genesis() {
                        state.load_log(db, &r.0.log_id())?;
                    }
                }
                import_batch(db, state, batch, &mut report, intake, &mut leftovers)?;
            }
            Ok((report, leftovers))
        })
    }
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

/// An authenticated entry and its payload as the bundle carried it. Boxed, so that each is
/// freed whole once stored: the import would otherwise keep every entry's half a kilobyte in
/// the batch until the batch ends, beside the state it has grown meanwhile.
type Received = Box<(Entry, Option<Vec<u8>>)>;

/// A bundle's entries, every one decoded and its signature checked; nothing stored yet. Needs
/// no home, so it can be made on any thread.
#[derive(Debug)]
pub struct Authenticated {
    entries: Vec<Received>,
}

impl Authenticated {
    /// Frames untrusted bundle bytes and checks every signature (`verify_strict`).
    pub fn from_bundle(bytes: &[u8]) -> Result<Authenticated> {
        Authenticated::read(bytes)
    }

    /// Reads an untrusted bundle from a stream and checks every signature (`verify_strict`).
    /// Records are read a chunk at a time and each chunk is checked on every core, so neither
    /// the bundle's bytes nor its records are ever held whole: only the entries they become.
    /// The first problem met reading front to back refuses the bundle.
    pub fn read(source: impl Read) -> Result<Authenticated> {
        use rayon::prelude::*;
        let mut records = bundle::Reader::new(source);
        // A batch has few authors: each key is checked (decompressed) once, not per entry.
        let mut keys: HashMap<[u8; 32], PublicKey> = HashMap::new();
        let mut chunk: Vec<BundleRecord> = Vec::with_capacity(CHUNK);
        let mut checked: Vec<Result<(Entry, Option<Vec<u8>>)>> = Vec::with_capacity(CHUNK);
        let mut entries: Vec<Received> = Vec::new();
        loop {
            for record in records.by_ref().take(CHUNK) {
                chunk.push(record.map_err(|e| match e {
                    bundle::ReadError::Bundle(e) => AppError::BadBundle(e),
                    bundle::ReadError::Io { record, source } => AppError::Io {
                        context: format!("reading bundle record {record}"),
                        source,
                    },
                })?);
            }
            if chunk.is_empty() {
                break;
            }
            for author in chunk.iter().filter_map(|r| header::author_bytes(&r.header)) {
                if let std::collections::hash_map::Entry::Vacant(slot) = keys.entry(author) {
                    if let Ok(key) = PublicKey::from_bytes(&author) {
                        slot.insert(key);
                    }
                }
            }
            let first = entries.len();
            // Signatures are independent: checked on every core.
            chunk
                .par_drain(..)
                .enumerate()
                .map(|(i, r)| authenticate(first + i, r, &keys))
                .collect_into_vec(&mut checked);
            // Boxed here, not on the worker that checked it: the box is freed on this thread
            // when its entry is stored, and memory an idle worker's allocator owns is not
            // reclaimed while it idles (the import's peak grew by that much).
            for entry in checked.drain(..) {
                entries.push(Box::new(entry?));
            }
        }
        Ok(Authenticated { entries })
    }

    /// How many entries the bundle carried.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Decodes one record into an entry, keeping its bytes, and checks its signature.
fn authenticate(
    index: usize,
    record: BundleRecord,
    keys: &HashMap<[u8; 32], PublicKey>,
) -> Result<(Entry, Option<Vec<u8>>)> {
    let BundleRecord {
        header,
        signature,
        payload,
    } = record;
    Entry::decode_unverified_owned(header, &signature, |k| keys.get(k).copied())
        .and_then(|e| e.verify_signature().map(|()| (e, payload)))
        .map_err(|e| AppError::BundleEntry {
            index,
            reason: e.to_string(),
        })
}

/// The batch with every entry after its parents that the batch carries (ties in arrival
/// order): Kahn's algorithm, linear in the batch. Retrying what waits pass after pass was
/// quadratic for a batch that came in reverse causal order (500 entries: 665 ms against 7 ms).
pub(crate) fn causal_order<T>(batch: Vec<T>) -> Vec<T>
where
    T: std::ops::Deref<Target = (Entry, Option<Vec<u8>>)>,
{
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let at: IdMap<usize> = batch
        .iter()
        .enumerate()
        .map(|(i, r)| (r.0.id(), i))
        .collect();
    let mut waiting_on = vec![0usize; batch.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); batch.len()];
    for (i, r) in batch.iter().enumerate() {
        let mut parents: Vec<usize> =
            r.0.header()
                .parents
                .iter()
                .filter_map(|p| at.get(p).copied())
                .filter(|&p| p != i)
                .collect();
        parents.sort_unstable();
        parents.dedup();
        waiting_on[i] = parents.len();
        for p in parents {
            children[p].push(i);
        }
    }
    // The index of ids is done with: freed before the order is built.
    drop(at);
    let mut ready: BinaryHeap<Reverse<usize>> = (0..batch.len())
        .filter(|&i| waiting_on[i] == 0)
        .map(Reverse)
        .collect();
    let mut order = Vec::with_capacity(batch.len());
    let mut placed = vec![false; batch.len()];
    while let Some(Reverse(i)) = ready.pop() {
        placed[i] = true;
        order.push(i);
        for &c in &children[i] {
            waiting_on[c] -= 1;
            if waiting_on[c] == 0 {
                ready.push(Reverse(c));
            }
        }
    }
    // A cycle (two entries naming each other: their ids cannot both hold) is left to the
    // passes below to report.
    order.extend((0..batch.len()).filter(|&i| !placed[i]));
    // Every index is in `order` once, so every slot is taken exactly once.
    let mut slots: Vec<Option<T>> = batch.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
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
    let mut pending = causal_order(pending);
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
                Err(e) if e.waits_for_dependency() => {
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

/// Takes in held entries whose time has come, through the same path as any import. Held
/// entries that depend on each other are taken in causal order; one still waiting for a parent
/// stays held; one the rules refuse outright is dropped (and logged).
pub(crate) fn release_held(db: &countersign_store::Db<'_>, state: &mut LedgerState) -> Result<u64> {
    let now = now_ms();
    let rows = db.held_due(now, 4096)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut pending: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
    for row in rows {
        let signature: Option<[u8; 64]> = row.signature.as_slice().try_into().ok();
        match signature.map(|sig| Entry::from_parts(&row.header, &sig)) {
            Some(Ok(entry)) => pending.push((entry, row.payload)),
            _ => db.remove_held(&row.id)?,
        }
    }
    let mut released = 0;
    loop {
        let before = pending.len();
        let mut waiting = Vec::new();
        for (entry, payload) in pending {
            let id = entry.id();
            if !entry.header().kind.is_genesis() {
                state.load_log(db, &entry.log_id())?;
            }
            // A genesis held for its date passes the trust gate again when released (the
            // anchor may have changed since), and sets the home's network as on import.
            let genesis = entry.header().kind == countersign_ledger::Kind::NetworkGenesis
                && state.ledger.network().is_none();
            if genesis {
                let anchor = crate::join::anchor_in(db)?;
                if let Err(e) = countersign_report::accept::trust::admits(anchor.as_ref(), &entry) {
                    tracing::info!(entry = %id, code = e.code(), "a held network genesis is not adopted");
                    db.remove_held(id.as_bytes())?;
                    continue;
                }
            }
            match state
                .ledger
                .accept_unjudged(&entry, payload.as_deref(), now)
            {
                Ok(Verdict::New(())) => {
                    if genesis {
                        db.set_meta("network", &id.to_hex())?;
                    }
                    if db.insert_entry(&entry, payload.as_deref())? {
                        released += 1;
                    } else {
                        reload(db, state, &entry.log_id())?;
                    }
                    db.remove_held(id.as_bytes())?;
                }
                Ok(Verdict::Fork { first }) => {
                    db.insert_fork(&first, &entry, payload.as_deref())?;
                    db.remove_held(id.as_bytes())?;
                }
                Ok(Verdict::Duplicate) => db.remove_held(id.as_bytes())?,
                Ok(Verdict::Held { .. }) => {}
                Err(e) if e.waits_for_dependency() => waiting.push((entry, payload)),
                Err(e) => {
                    tracing::info!(entry = %id, rule = e.code(), "a held entry is refused now its time has come");
                    db.remove_held(id.as_bytes())?;
                }
            }
        }
        if waiting.is_empty() || waiting.len() == before {
            break;
        }
        pending = waiting;
    }
    if released > 0 {
        tracing::info!(released, "held entries released");
    }
    Ok(released)
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
