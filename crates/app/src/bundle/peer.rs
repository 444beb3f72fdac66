//! A peer's batches: stored like a bundle's, except that an entry a rule refuses is
//! quarantined, and one that waits for something not here yet is kept in memory (`Pending`)
//! for the next batch, and quarantined if it still waits when the pull ends.

use super::*;

impl Home {
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
