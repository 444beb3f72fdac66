//! Appending: signing an entry (as this home, or with the key given), judging it by the one
//! acceptance path a peer's entry goes through, and storing it; and storing a genesis someone
//! else signed, checked. Apart from `home.rs` because every write of the app ends here and
//! reads best on its own; the transaction it runs in is `state_cache`'s, the sealing of its
//! payload `sealing`'s.

use countersign_ledger::rules::TIMESTAMP_TOLERANCE_MS;
use countersign_ledger::{Entry, Hash, Header, Kind, LogId, Signer};
use countersign_report::Standing;

use super::state_cache::lock;
use super::{now_ms, seal_payload, Home};
use crate::error::Rejection;
use crate::error::{AppError, Result};
use crate::state::{LedgerState, Verdict};

impl Home {
    /// Signs as this home's identity (see [`Home::append`]).
    pub(crate) fn append_own(
        &mut self,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Entry> {
        let key = self.signer()?;
        self.append(&key, log, kind, payload)
    }

    /// Checks and stores an entry someone else signed (used for genesis entries).
    pub(super) fn store_checked(&mut self, entry: &Entry, payload: &[u8]) -> Result<()> {
        let Home { store, cache, .. } = self;
        *lock(cache.get_mut()) = None;
        store.write(|db| {
            let mut state = LedgerState::load(db)?;
            let mark = crate::projection::mark(db, &mut state)?;
            match state.ledger.accept(entry, Some(payload), now_ms())? {
                Verdict::New(Standing::Accepted) => {}
                Verdict::New(Standing::Refused(e)) => return Err(Rejection::Report(*e).into()),
                Verdict::Duplicate | Verdict::Fork { .. } | Verdict::Held { .. } => return Ok(()),
            }
            db.insert_entry(entry, Some(payload))?;
            if entry.header().kind == Kind::NetworkGenesis {
                db.set_meta("network", &entry.id().to_hex())?;
            }
            crate::projection::update(db, &mut state, mark)?;
            Ok(())
        })
    }

    /// Signs `payload` as the next entry of `log` (or as a new log when `log` is `None` and the
    /// kind is a genesis kind) with `key`, checks it against every rule, and stores it durably.
    /// Returns only after the commit: the id printed is an id on disk.
    pub(crate) fn append<S: Signer + ?Sized>(
        &mut self,
        key: &S,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
    ) -> Result<Entry> {
        self.append_unless(key, log, kind, payload, |_| false)?
            .ok_or_else(|| AppError::InvalidInput("an entry was found not needed".into()))
    }

    /// [`Home::append`] to a report, unless `done` says of the report as it stands under the
    /// write lock that the entry is not needed (`None`): a check made before the lock misses
    /// what another process of the home signed meanwhile, and both would sign (two
    /// `report.delivered` for one version and archive, from a `serve` node's delivery thread
    /// and `report finalize --store-back`; found by review, 2026-12-04).
    pub(crate) fn append_unless<S: Signer + ?Sized>(
        &mut self,
        key: &S,
        log: Option<LogId>,
        kind: Kind,
        payload: &[u8],
        done: impl Fn(&countersign_report::ReportLog) -> bool,
    ) -> Result<Option<Entry>> {
        let seal_new = self.seal_new_reports;
        // The state is kept across appends; a failed commit drops it (it may hold the entry).
        self.write_with_state(|db, state| {
            let network = state.network()?;
            let author = key.public();
            let now = now_ms();
            let (log_field, seq, parents, timestamp) = match log {
                None => (Hash::ZERO, 1, vec![], now),
                Some(log) => {
                    state.load_log(db, &log)?;
                    if state.report(&log).is_some_and(&done) {
                        return Ok(None);
                    }
                    let (parents, seq) =
                        state.ledger.position_for(&log, &author).ok_or_else(|| {
                            AppError::NotFound {
                                what: format!("report {log}"),
                            }
                        })?;
                    // This clock's time — never a parent's copied forward, which would let one
                    // entry dated in 2099 drag every later one there. A parent at most the
                    // tolerance ahead is within the rule; one further ahead was held back.
                    let latest = state.ledger.latest_timestamp(&log, &parents);
                    let ts = now.max(latest.saturating_sub(TIMESTAMP_TOLERANCE_MS));
                    (log, seq, parents, ts)
                }
            };
            // Sealed before signing: the header commits to the envelope, so every signature
            // verifies with or without the key.
            let creator = (&author, timestamp);
            let (sealed, new_key) = seal_payload(state, log, kind, payload, seal_new, creator)?;
            let payload: &[u8] = sealed.as_deref().unwrap_or(payload);
            let header = Header::new(
                network, log_field, author, seq, timestamp, kind, parents, payload,
            );
            let entry = Entry::sign(header, key)?;
            // A new report's key is stored with it, in the same transaction, and given to the
            // ledger before it judges the entry (which opens the payload with it).
            if let Some(data_key) = new_key {
                db.put_report_key(&entry.id(), &data_key)?;
                state.ledger.add_key(entry.id(), data_key)?;
            }
            // Info, not warn: the caller is told too. The rule's name, never its message (it
            // can quote a field value).
            let refused = |r: &Rejection| {
                tracing::info!(kind = %kind, log = %log_field, rule = %r.code(), "entry refused");
            };
            // Judged by the one acceptance path before anything is stored: what this home
            // would refuse from a peer, it does not sign for its own user either.
            match state
                .ledger
                .judge(&entry, Some(payload), now)
                .inspect_err(refused)?
            {
                Verdict::New(Standing::Accepted) => {}
                Verdict::New(Standing::Refused(e)) => {
                    let r = Rejection::Report(*e);
                    refused(&r);
                    return Err(r.into());
                }
                other => {
                    return Err(AppError::InvalidInput(format!(
                        "a freshly signed entry was not new ({other:?})"
                    )))
                }
            }
            db.insert_entry(&entry, Some(payload))?;
            state.ledger.insert(&entry, Some(payload))?;
            tracing::info!(
                entry = %entry.id(),
                log = %entry.log_id(),
                kind = %kind,
                author = %author,
                seq,
                "entry signed"
            );
            Ok(Some(entry))
        })
    }
}
