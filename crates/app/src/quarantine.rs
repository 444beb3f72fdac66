//! Quarantine: entries a peer sent that this home refuses by a rule (a member it knows is
//! revoked, say) or that wait for something not here yet (a parent, an admission). They are
//! kept aside with their reason instead of refusing the peer's whole batch, so the rest of the
//! log keeps flowing and nobody honest is cut off; `verify` and `sync status` list them.
//! Waiting entries are tried again after every batch that stores something.

use countersign_ledger::Entry;
use countersign_store::Db;
use serde::Serialize;

use crate::bundle::causal_order;
use crate::error::{Rejection, Result};
use crate::home::{now_ms, Home};
use crate::state::{LedgerState, Verdict};

/// Quarantined entries a home keeps, at most.
pub use countersign_store::MAX_QUARANTINE;

/// Waiting entries tried again after a batch, at most.
const RETRY_AT_ONCE: usize = 4096;

/// A quarantined entry as `verify` and `sync status` show it (no payload, no text: ids,
/// the rule and its reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    pub entry: String,
    pub log: String,
    pub author: String,
    pub seq: i64,
    pub kind: String,
    pub code: String,
    pub reason: String,
    /// It waits for something it depends on, and is tried again as entries arrive.
    pub waiting: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    pub received_ms: i64,
}

/// Keeps `entry` in quarantine. A full quarantine keeps nothing more (logged): the peer offers
/// the entry again on a later reconcile.
pub(crate) fn keep(
    db: &Db<'_>,
    entry: &Entry,
    payload: Option<&[u8]>,
    why: &Rejection,
    waiting: bool,
    peer: &str,
) -> Result<()> {
    // Ids and the rule's code only: a rule's message can quote a field value.
    tracing::info!(entry = %entry.id(), rule = why.code(), waiting, "entry quarantined");
    let kept = db.quarantine(
        entry,
        payload,
        why.code(),
        &why.to_string(),
        waiting,
        Some(peer),
        now_ms(),
    )?;
    if !kept {
        tracing::warn!(entry = %entry.id(), "quarantine full: entry not kept");
    }
    Ok(())
}

/// Tries the waiting entries again, in causal order; those accepted now leave quarantine,
/// those a rule refuses now stay as refused. Returns how many were stored.
pub(crate) fn release_waiting(db: &Db<'_>, state: &mut LedgerState) -> Result<u64> {
    let rows = db.quarantine_rows(true, true, RETRY_AT_ONCE)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut pending: Vec<Box<(Entry, Option<Vec<u8>>)>> = Vec::new();
    for row in rows {
        let signature: Option<[u8; 64]> = row.signature.as_slice().try_into().ok();
        match signature.map(|sig| Entry::from_parts(&row.header, &sig)) {
            Some(Ok(entry)) => pending.push(Box::new((entry, row.payload))),
            _ => db.unquarantine(&row.id)?,
        }
    }
    let now = now_ms();
    let mut released = 0;
    let mut pending = causal_order(pending);
    loop {
        let before = pending.len();
        let mut waiting = Vec::new();
        for item in pending {
            let (entry, payload) = &*item;
            let id = entry.id();
            if !entry.header().kind.is_genesis() {
                state.load_log(db, &entry.log_id())?;
            }
            match state.ledger.accept_unjudged(entry, payload.as_deref(), now) {
                Ok(Verdict::New(())) => {
                    db.insert_entry(entry, payload.as_deref())?;
                    if entry.header().kind == countersign_ledger::Kind::NetworkGenesis {
                        db.set_meta("network", &id.to_hex())?;
                    }
                    db.unquarantine(id.as_bytes())?;
                    released += 1;
                }
                Ok(Verdict::Fork { first }) => {
                    db.insert_fork(&first, entry, payload.as_deref())?;
                    db.unquarantine(id.as_bytes())?;
                }
                Ok(Verdict::Duplicate) => db.unquarantine(id.as_bytes())?,
                // Dated ahead after all: the held table takes it from here.
                Ok(Verdict::Held { until_ms }) => {
                    if db.insert_held(entry, payload.as_deref(), until_ms)? {
                        db.unquarantine(id.as_bytes())?;
                    }
                }
                Err(e) if e.waits_for_dependency() => waiting.push(item),
                Err(e) => {
                    db.quarantine(entry, None, e.code(), &e.to_string(), false, None, now)?;
                }
            }
        }
        if waiting.is_empty() || waiting.len() == before {
            break;
        }
        pending = waiting;
    }
    if released > 0 {
        tracing::info!(
            released,
            "quarantined entries accepted now that what they waited for is here"
        );
    }
    Ok(released)
}

impl Home {
    /// Every quarantined entry (at most the quarantine's bound), oldest first.
    pub fn quarantine(&self) -> Result<Vec<Quarantined>> {
        let rows = self.store().db().quarantine_rows(
            false,
            false,
            countersign_store::MAX_QUARANTINE as usize,
        )?;
        Ok(rows
            .into_iter()
            .map(|r| Quarantined {
                entry: hex(&r.id),
                log: hex(&r.log),
                author: hex(&r.author),
                seq: r.seq,
                kind: r.kind,
                code: r.code,
                reason: r.reason,
                waiting: r.waiting,
                peer: r.peer,
                received_ms: r.received_ms,
            })
            .collect())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
