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
        // Only this peer's own waiting entries: judged with its batch, so a refusal among
        // them is held against the peer that sent them, never against another.
        let mut entries: Vec<Received> = pending.take(peer).into_iter().map(|(r, _)| r).collect();
        entries.extend(batch.entries);
        let (mut report, leftovers) =
            self.import_entries(entries, batch.keys, Intake::Quarantine { peer })?;
        pending.keep(peer, leftovers);
        // Bounded across every peer: past it, the oldest of the peer holding the most are
        // kept in the quarantine table instead (under that peer's name).
        while let Some((holder, spill)) = pending.spill() {
            if holder == peer {
                self.quarantine_waiting(spill, peer, &mut report)?;
            } else {
                self.quarantine_waiting(spill, &holder, &mut ImportReport::default())?;
            }
        }
        if report.new > 0 {
            let released = self.write_with_state(crate::quarantine::release_waiting)?;
            report.new += released;
        }
        Ok(report)
    }

    /// Keeps what still waits in `pending` from `peer` in the quarantine (its pull ended), and
    /// takes in at once what another peer's batches brought meanwhile (waiting entries are
    /// judged only with their own peer's batches, so one whose parent or admission came from
    /// another peer would otherwise wait in the quarantine until the next new entry).
    pub fn quarantine_pending(&mut self, pending: &mut Pending, peer: &str) -> Result<u64> {
        let entries = pending.take(peer);
        let n = entries.len() as u64;
        let mut report = ImportReport::default();
        self.quarantine_waiting(entries, peer, &mut report)?;
        if n > 0 {
            self.write_with_state(crate::quarantine::release_waiting)?;
        }
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

/// Entries of peers' batches that wait for something not here yet, taken in again with the
/// next batch (see [`Home::import_from_peer`]): kept per peer, and bounded across all of them.
///
/// Per peer, because what waits is judged again with a batch, and a refusal in that batch
/// is held against its sender: one pool for every peer let a stranger's entries, waiting in
/// a joining home for a network it did not hold yet, be judged in the founder's batch that
/// brought the network, fail as another network's, and get the founder cut off (found by
/// review, 2026-12-05); and what still waited at the end of any pull was quarantined under
/// that pull's peer.
#[derive(Debug)]
pub struct Pending {
    peers: HashMap<String, Waiting>,
    /// Across every peer.
    bytes: usize,
    entries: usize,
    /// The bounds across every peer ([`MAX_PENDING`], [`MAX_PENDING_BYTES`]; tests lower them).
    max_entries: usize,
    max_bytes: usize,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            peers: HashMap::new(),
            bytes: 0,
            entries: 0,
            max_entries: MAX_PENDING,
            max_bytes: MAX_PENDING_BYTES,
        }
    }
}

/// One peer's waiting entries, oldest first, and their bytes.
#[derive(Debug, Default)]
struct Waiting {
    entries: Vec<(Received, Rejection)>,
    bytes: usize,
}

impl Pending {
    /// Waiting entries, across every peer.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Takes `peer`'s waiting entries out, oldest first.
    fn take(&mut self, peer: &str) -> Vec<(Received, Rejection)> {
        let Some(waiting) = self.peers.remove(peer) else {
            return Vec::new();
        };
        self.bytes -= waiting.bytes;
        self.entries -= waiting.entries.len();
        waiting.entries
    }

    /// Keeps `entries` as `peer`'s, after any it holds.
    fn keep(&mut self, peer: &str, entries: Vec<(Received, Rejection)>) {
        if entries.is_empty() {
            return;
        }
        let waiting = self.peers.entry(peer.to_string()).or_default();
        for item in entries {
            let bytes = received_bytes(&item.0);
            waiting.bytes += bytes;
            self.bytes += bytes;
            self.entries += 1;
            waiting.entries.push(item);
        }
    }

    /// Past the bounds: the older half of the entries of the peer holding the most bytes,
    /// with that peer, taken out (to be quarantined). `None` within the bounds.
    fn spill(&mut self) -> Option<(String, Vec<(Received, Rejection)>)> {
        if self.bytes <= self.max_bytes && self.entries <= self.max_entries {
            return None;
        }
        let holder = self
            .peers
            .iter()
            .max_by_key(|(_, w)| (w.bytes, w.entries.len()))
            .map(|(peer, _)| peer.clone())?;
        let mut waiting = self.peers.remove(&holder)?;
        // At least one, so that every call makes progress.
        let n = waiting.entries.len().div_ceil(2).max(1);
        let spilled: Vec<_> = waiting.entries.drain(..n).collect();
        let bytes: usize = spilled.iter().map(|(r, _)| received_bytes(r)).sum();
        waiting.bytes -= bytes;
        self.bytes -= bytes;
        self.entries -= spilled.len();
        if !waiting.entries.is_empty() {
            self.peers.insert(holder.clone(), waiting);
        }
        Some((holder, spilled))
    }
}

/// Entries pulls keep waiting in memory, at most, and their bytes, across every peer: about
/// one reconciliation round's worth (past them the oldest of the peer holding the most go to
/// the quarantine table).
const MAX_PENDING: usize = 32_768;
const MAX_PENDING_BYTES: usize = 64 << 20;

fn received_bytes(r: &Received) -> usize {
    r.0.header_bytes().len() + 64 + r.1.as_ref().map_or(0, Vec::len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the bound across every peer, the peer holding the most gives up its older half
    /// first, each spill under its own name; a peer holding little keeps what it holds. Fails
    /// if the spill takes from another peer than the one holding the most.
    #[test]
    fn past_the_bound_the_peer_holding_the_most_spills_its_oldest() {
        let mut d = countersign_report::fixture::Department::new();
        d.report("rad", "ct-chest");
        let item = |i: usize| {
            let (e, p) = &d.stored[i];
            (
                Box::new((e.clone(), Some(p.clone()))) as Received,
                Rejection::NoNetwork,
            )
        };
        let mut pending = Pending {
            max_entries: 3,
            ..Pending::default()
        };
        pending.keep("flood", (0..3).map(item).collect());
        assert!(pending.spill().is_none(), "within the bound");
        pending.keep("honest", vec![item(3)]);
        let (holder, spilled) = pending.spill().expect("past the bound");
        assert_eq!(holder, "flood");
        let ids = |v: &[(Received, Rejection)]| v.iter().map(|(r, _)| r.0.id()).collect::<Vec<_>>();
        assert_eq!(ids(&spilled), vec![d.stored[0].0.id(), d.stored[1].0.id()]);
        assert!(pending.spill().is_none());
        assert_eq!(pending.len(), 2);
        assert_eq!(ids(&pending.take("honest")), vec![d.stored[3].0.id()]);
        assert_eq!(ids(&pending.take("flood")), vec![d.stored[2].0.id()]);
        assert!(pending.is_empty());
        assert_eq!(pending.bytes, 0);
    }
}
