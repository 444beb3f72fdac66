//! Entries dated too far ahead, held aside, taken in once their time has come.

use super::*;

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
