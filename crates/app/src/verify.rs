//! `verify`: re-check every stored entry from its bytes — id, signature, payload, the index
//! columns — then replay the ledger and report rules over the whole store, and re-check fork
//! evidence. Streams the store; signatures are checked in parallel on all cores (or on the
//! threads of whatever rayon pool the caller installs).

use std::collections::HashMap;
use std::time::Instant;

use countersign_ledger::{Entry, EntryId, ForkEvidence, Hash, LogId, NetworkId, PublicKey};
use countersign_store::{Db, StoredEntry};
use rayon::prelude::*;
use serde::Serialize;

use crate::bundle::Problem;
use crate::error::{AppError, Result};
use crate::home::Home;
use crate::state::{decode_row, decode_row_with_keys, LedgerState, Verdict};

/// Rows verified in parallel at a time: bounds memory while keeping every core busy.
const CHUNK: usize = 4096;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub entries: u64,
    pub forks: u64,
    /// Peers found showing different histories (see `checkpoints`).
    pub split_views: u64,
    /// Entries a peer sent that this home refused by a rule or that wait for something it
    /// lacks, kept aside (not in the ledger, so not a problem of the store): id, rule, and
    /// whether it waits. `sync status` gives the reasons.
    pub quarantined: Vec<QuarantineBrief>,
    /// Heads a peer signed that this home held, and that are no longer here: entries deleted
    /// from the store, or a rollback. Each is a problem quoting the peer's signed claim; the
    /// next sync with a peer that has them fetches them back.
    pub rolled_back: u64,
    /// Entries stored but refused by a rule (each is a problem, with its rule's code).
    pub refused: u64,
    /// Entries held aside, dated beyond the clock skew ahead of this home's clock.
    pub held: u64,
    pub problems: Vec<Problem>,
    pub seconds: f64,
}

/// A quarantined entry as `verify` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineBrief {
    pub entry: String,
    pub code: String,
    pub waiting: bool,
}

fn row_id(row: &StoredEntry) -> String {
    hex_or_raw(&row.id)
}

fn hex_or_raw(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Checks one row on its own: everything that needs no other entry.
fn check_row(row: &StoredEntry, keys: &HashMap<[u8; 32], PublicKey>) -> Result<Entry, String> {
    let entry = decode_row_with_keys(row, keys)?;
    if row.id != entry.id().as_bytes() {
        return Err(format!(
            "stored id does not match the header (header hashes to {})",
            entry.id()
        ));
    }
    entry.verify_signature().map_err(|e| e.to_string())?;
    let h = entry.header();
    let columns_match = row.log == entry.log_id().as_bytes()
        && row.author == h.author.as_bytes()
        && row.seq as u64 == h.seq
        && row.kind == h.kind.name()
        && row.timestamp_ms as u64 == h.timestamp_ms
        && row.payload_hash == h.payload_hash.as_bytes();
    if !columns_match {
        return Err("index columns do not match the signed header".into());
    }
    match &row.payload {
        Some(p) => {
            countersign_ledger::rules::check_payload(&entry, p).map_err(|e| e.to_string())?
        }
        None => return Err("payload is missing".into()),
    }
    Ok(entry)
}

/// A chunk whose rows were checked on their own and now wait for the rule replay.
type Checked = (Vec<StoredEntry>, Vec<Result<Entry, String>>);

/// Checks every row on its own, in parallel on `pool` (or the global pool).
fn check_rows(
    rows: &[StoredEntry],
    keys: &HashMap<[u8; 32], PublicKey>,
    pool: Option<&rayon::ThreadPool>,
) -> Vec<Result<Entry, String>> {
    let work = || rows.par_iter().map(|r| check_row(r, keys)).collect();
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// The rule replay: the ledger state built from every entry accepted so far.
struct Replay {
    state: LedgerState,
    entries: u64,
    problems: Vec<Problem>,
    /// Rows whose parents were not in yet (they build on fork evidence, placed at the end).
    pending: Vec<(StoredEntry, Entry)>,
}

impl Replay {
    /// Replays the ledger and report rules over checked rows, in arrival order.
    fn replay(&mut self, (rows, checked): Checked) {
        for (row, result) in rows.iter().zip(checked) {
            self.entries += 1;
            // check_row matched the payload to its header already.
            let outcome = result.map_err(|e| (None, e)).and_then(|entry| {
                match self
                    .state
                    .ledger
                    .accept_stored(&entry, row.payload.as_deref())
                {
                    // Its standing is judged once the whole store is in (`refused` below).
                    Ok(Verdict::New(_)) => Ok(()),
                    Err(rejection) if rejection.waits_for_dependency() => {
                        self.pending.push((row.clone(), entry));
                        Ok(())
                    }
                    Ok(other) => Err((None, format!("stored twice ({other:?})"))),
                    Err(rejection) => {
                        // The rule's code only: its message can quote a field value.
                        tracing::debug!(
                            entry = %entry.id(),
                            rule = %rejection.code(),
                            "verify: a stored entry cannot be taken"
                        );
                        Err((Some(rejection.code().to_string()), rejection.to_string()))
                    }
                }
            });
            if let Err((code, problem)) = outcome {
                self.problems.push(Problem {
                    entry: row_id(row),
                    code,
                    problem,
                });
            }
        }
    }
}

/// Reads the next chunk after `after`: whether more may follow, and the rows in scope (the
/// roster is replayed first, separately; `only` limits to one report).
fn read_chunk(
    db: &Db<'_>,
    after: &mut i64,
    network: Option<NetworkId>,
    only: Option<LogId>,
) -> Result<(bool, Vec<StoredEntry>)> {
    let rows = db.entries_after(*after, CHUNK)?;
    let more = rows.len() == CHUNK;
    if let Some(last) = rows.last() {
        *after = last.arrival;
    }
    let wanted = |row: &StoredEntry| {
        let roster = network.is_some_and(|n| row.log == n.as_bytes());
        !roster && only.is_none_or(|l| row.log == l.as_bytes())
    };
    Ok((more, rows.into_iter().filter(wanted).collect()))
}

/// Verifies a whole store, or one report (plus the roster it depends on), on all cores.
pub fn verify_store(db: &Db<'_>, only: Option<LogId>) -> Result<VerifyReport> {
    verify(db, only, None)
}

/// [`verify_store`] with signatures checked on the threads of `pool`.
pub fn verify_store_on(
    db: &Db<'_>,
    only: Option<LogId>,
    pool: &rayon::ThreadPool,
) -> Result<VerifyReport> {
    verify(db, only, Some(pool))
}

fn verify(
    db: &Db<'_>,
    only: Option<LogId>,
    pool: Option<&rayon::ThreadPool>,
) -> Result<VerifyReport> {
    let started = Instant::now();
    let network: Option<NetworkId> = db.meta("network")?.and_then(|h| h.parse().ok());
    let mut replay = Replay {
        state: LedgerState::default(),
        entries: 0,
        problems: Vec::new(),
        pending: Vec::new(),
    };
    // Author keys already checked (the roster's members), so rows need not re-check them.
    let mut keys = HashMap::new();
    // The roster first: report entries are judged by the roster as it stands now, so that
    // entries signed after a revocation are flagged wherever they arrived from.
    if let Some(n) = network {
        let rows = db.log_entries(&n)?;
        let checked = check_rows(&rows, &keys, pool);
        replay.replay((rows, checked));
        keys = replay
            .state
            .roster()
            .members()
            .map(|m| (*m.key.as_bytes(), m.key))
            .collect();
    }
    // A pipeline over bounded chunks: while the pool checks one chunk's signatures, this
    // thread replays the rules of the chunk before and reads the chunk after.
    let mut after = 0;
    let (mut more, mut next) = read_chunk(db, &mut after, network, only)?;
    let mut waiting: Option<Checked> = None;
    while more || !next.is_empty() || waiting.is_some() {
        let rows = std::mem::take(&mut next);
        let previous = waiting.take();
        let keys = &keys;
        let (checked, read) = std::thread::scope(|scope| {
            let checking = scope.spawn(move || {
                let checked = check_rows(&rows, keys, pool);
                (rows, checked)
            });
            if let Some(chunk) = previous {
                replay.replay(chunk);
            }
            let read = more.then(|| read_chunk(db, &mut after, network, only));
            (checking.join(), read)
        });
        let checked = checked
            .map_err(|_| AppError::InvalidInput("signature checking failed unexpectedly".into()))?;
        if !checked.0.is_empty() {
            waiting = Some(checked);
        }
        (more, next) = read.transpose()?.unwrap_or((false, Vec::new()));
    }
    let Replay {
        mut state,
        entries,
        mut problems,
        mut pending,
    } = replay;
    // Fork evidence beside the logs (frozen, placed in its log), then what builds on it —
    // offered again with the rows still pending until nothing more fits, since a second fork
    // can build on rows that wait for the first one's evidence.
    let mut evidence = Vec::new();
    for fork in db.forks()? {
        let signature: Option<[u8; 64]> = fork.second_signature.as_slice().try_into().ok();
        if let Some(Ok(second)) =
            signature.map(|sig| Entry::decode_unverified(&fork.second_header, &sig))
        {
            evidence.push((second, db.fork_payload(&fork)?));
        }
    }
    loop {
        let before = pending.len() + evidence.len();
        evidence
            .retain(|(second, payload)| !state.ledger.insert_evidence(second, payload.as_deref()));
        pending.retain(|(row, entry)| {
            state
                .ledger
                .accept_stored(entry, row.payload.as_deref())
                .is_err()
        });
        if pending.len() + evidence.len() == before {
            break;
        }
    }
    for (row, entry) in &pending {
        let (code, problem) = match state.ledger.accept_stored(entry, row.payload.as_deref()) {
            Err(r) => (Some(r.code().to_string()), r.to_string()),
            Ok(v) => (None, format!("could not be placed ({v:?})")),
        };
        problems.push(Problem {
            entry: row_id(row),
            code,
            problem,
        });
    }
    // Every stored entry is in; now each one's standing, judged against the whole store
    // (the roster as it resolves, every fork frozen). An entry a rule refuses counts for
    // nothing, and verify says so with the rule's code.
    let mut refused = 0;
    for (log, id, rejection) in state.ledger.refused() {
        if only.is_some_and(|l| l != log) {
            continue;
        }
        refused += 1;
        problems.push(Problem {
            entry: id.to_hex(),
            code: Some(rejection.code().to_string()),
            problem: format!("refused by rule {}: {rejection}", rejection.code()),
        });
    }
    let mut forks = 0;
    for fork in db.forks()? {
        let in_scope = only.is_none_or(|l| fork.log == l.as_bytes());
        if !in_scope {
            continue;
        }
        forks += 1;
        let first = Hash::from_slice(&fork.first).and_then(|id| db.get(&id).ok().flatten());
        let evidence = first
            .ok_or_else(|| "first entry of the fork is missing".to_string())
            .and_then(|row| {
                let sig: [u8; 64] = fork
                    .second_signature
                    .as_slice()
                    .try_into()
                    .map_err(|_| "bad signature length".to_string())?;
                let second = Entry::decode_unverified(&fork.second_header, &sig)
                    .map_err(|e| e.to_string())?;
                let first = decode_row(&row)?;
                ForkEvidence::new(first, second).map_err(|e| e.to_string())
            });
        let problem = match evidence {
            // The pair in id order: which side a home happened to store first must not show.
            Ok(ev) => format!(
                "fork: author {} signed two different entries ({} and {}) at sequence {} of log {}",
                ev.first.header().author,
                ev.first.id().min(ev.second.id()),
                ev.first.id().max(ev.second.id()),
                ev.first.header().seq,
                ev.first.log_id()
            ),
            Err(reason) => format!("fork evidence does not check out: {reason}"),
        };
        let pair = [hex_or_raw(&fork.first), hex_or_raw(&fork.second)];
        problems.push(Problem {
            entry: pair.iter().max().cloned().unwrap_or_default(),
            code: Some("fork".into()),
            problem,
        });
    }
    let split_views = split_view_problems(db, only, &mut problems)?;
    let rolled_back = rollback_problems(db, only, &mut problems)?;
    let quarantined = db
        .quarantine_rows(false, false, countersign_store::MAX_QUARANTINE as usize)?
        .into_iter()
        .filter(|q| only.is_none_or(|l| q.log == l.as_bytes()))
        .map(|q| QuarantineBrief {
            entry: hex_or_raw(&q.id),
            code: q.code,
            waiting: q.waiting,
        })
        .collect();
    let held = db.held_count()?;
    let seconds = started.elapsed().as_secs_f64();
    // Problems by entry id only: a problem's words can quote a refused field value. Debug:
    // the caller lists them all; the count is in the line below.
    for p in &problems {
        tracing::debug!(entry = %p.entry, "verify found a problem");
    }
    tracing::info!(
        entries,
        forks,
        split_views,
        problems = problems.len(),
        seconds,
        "verify finished"
    );
    Ok(VerifyReport {
        ok: problems.is_empty(),
        entries,
        forks,
        split_views,
        quarantined,
        rolled_back,
        refused,
        held,
        problems,
        seconds,
    })
}

/// Lists split-view evidence as problems, each signed checkpoint checked again (the evidence
/// is only as good as its signatures).
/// Holds the store to the checkpoints peers signed: a hash chain cannot see a missing tail,
/// but a head a peer vouched for (and this home held when it kept the claim) that is no
/// longer here is a deletion or a rollback. Claims that do not verify are skipped: only a
/// peer's signed word is evidence.
fn rollback_problems(db: &Db<'_>, only: Option<LogId>, problems: &mut Vec<Problem>) -> Result<u64> {
    use countersign_ledger::checkpoint::SignedCheckpoint;
    let mut count = 0;
    db.for_each_checkpoint(only.as_ref(), |log, signer, bytes| {
        let Ok(signed) = SignedCheckpoint::decode(bytes) else {
            return Ok(());
        };
        let c = signed.checkpoint();
        if c.log.as_bytes() != log || c.signer.as_bytes() != signer {
            return Ok(());
        }
        for head in &c.heads {
            let here = db.contains(head)?
                || db.fork_evidence(head)?.is_some()
                || db.quarantined(&[*head])?.first().copied().unwrap_or(false);
            if !here {
                count += 1;
                problems.push(Problem {
                    entry: head.to_hex(),
                    code: Some("rolled_back".into()),
                    problem: format!(
                        "{} signed at {} ms that log {} had head {head}; it is not in this home \
                         (deleted, or the store was rolled back); its signed checkpoint is kept \
                         as evidence: {}",
                        c.signer,
                        c.timestamp_ms,
                        c.log,
                        hex::encode(bytes)
                    ),
                });
            }
        }
        Ok(())
    })?;
    Ok(count)
}

fn split_view_problems(
    db: &Db<'_>,
    only: Option<LogId>,
    problems: &mut Vec<Problem>,
) -> Result<u64> {
    use countersign_ledger::checkpoint::SignedCheckpoint;
    let mut count = 0;
    for v in db.split_views()? {
        if only.is_some_and(|l| v.log != l.as_bytes()) {
            continue;
        }
        count += 1;
        let signed = [Some(&v.later), v.earlier.as_ref()]
            .into_iter()
            .flatten()
            .map(|b| SignedCheckpoint::decode(b))
            .collect::<std::result::Result<Vec<_>, _>>();
        let problem = match signed {
            Ok(_) => format!("split view by {}: {}", hex_or_raw(&v.signer), v.reason),
            Err(e) => format!("split-view evidence does not check out: {e}"),
        };
        problems.push(Problem {
            entry: hex_or_raw(&v.log),
            code: Some("split_view".into()),
            problem,
        });
    }
    Ok(count)
}

impl Home {
    /// Verifies every entry in this home (or one report and the roster).
    pub fn verify(&self, report: Option<EntryId>) -> Result<VerifyReport> {
        verify_store(&self.store().db(), report)
    }
}
