//! Serving a peer: a log's entries after what it has (read once in arrival order, positions
//! first, rows within the batch's byte budget, the last batch with the log's fork evidence),
//! and entries by id (only of logs the reader may read; fork and split-view evidence among
//! them) — each a bundle with the data keys of the payloads it carries.

use std::collections::HashMap;

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::{EntryId, Hash, LogId, PublicKey};
use countersign_store::StoredEntry;
use countersign_sync::{ById, Ledger, VersionVector};

use super::batch::{batch_keys, fits, record};
use super::HomeLedger;

impl HomeLedger {
    /// [`Ledger::entries_after`].
    pub(super) fn serve_after(
        &mut self,
        log: &LogId,
        have: &VersionVector,
        limit: usize,
    ) -> std::result::Result<(Vec<u8>, bool), String> {
        let mine = HomeLedger::vector(self, log)?;
        let db = self.home.store().db();
        let had: HashMap<[u8; 32], u64> = have.iter().map(|(k, s)| (*k.as_bytes(), *s)).collect();
        let had_of = |author: &[u8]| {
            <&[u8; 32]>::try_from(author).map_or(0, |a| had.get(a).copied().unwrap_or(0))
        };
        // The log is read once in arrival order (a topological order) from the earliest entry
        // the peer lacks, skipping what it has: reading per author and merging read every
        // author's next `limit` entries to send `limit` in all.
        let mut start: Option<i64> = None;
        for (author, top) in &mine {
            let after = had_of(author.as_bytes());
            if after < *top {
                let at = db
                    .arrival_of(log, author.as_bytes(), after + 1)
                    .map_err(|e| e.to_string())?
                    .unwrap_or(0);
                start = Some(start.map_or(at, |s| s.min(at)));
            }
        }
        // Positions first (no header or payload read), then the rows within the batch's byte
        // budget: a batch never reads payloads it will not send.
        let mut ids: Vec<EntryId> = Vec::new();
        let mut more = false;
        if let Some(start) = start {
            let mut cursor = start - 1;
            'scan: loop {
                let chunk = db
                    .log_positions_after(log, cursor, limit + 1)
                    .map_err(|e| e.to_string())?;
                let full = chunk.len() > limit;
                for (arrival, id, author, seq) in chunk {
                    cursor = arrival;
                    if u64::try_from(seq).unwrap_or(0) <= had_of(&author) {
                        continue;
                    }
                    if ids.len() == limit {
                        more = true;
                        break 'scan;
                    }
                    ids.extend(Hash::from_slice(&id));
                }
                if !full {
                    break;
                }
            }
        }
        let (rows, cut) = if ids.is_empty() {
            (Vec::new(), false)
        } else {
            db.entries_by_ids(
                &ids,
                countersign_sync::protocol::MAX_BATCH,
                countersign_sync::protocol::MAX_BATCH_BYTES,
            )
            .map_err(|e| e.to_string())?
        };
        more |= cut;
        // Stored rows go out as they are: the peer verifies every one, so decoding them here
        // (a key decompression each) would only cost time.
        let mut records: Vec<BundleRecord> = rows
            .into_iter()
            .map(|r: StoredEntry| record(r.header, &r.signature, r.payload))
            .collect::<std::result::Result<_, String>>()?;
        // The last batch of a log carries its fork evidence, so equivocations reach every peer.
        // (Evidence past the batch's bounds is left to whole pulls, which fetch it by id.)
        if !more {
            for f in db.forks_of(log).map_err(|e| e.to_string())? {
                let r = record(
                    f.second_header.clone(),
                    &f.second_signature,
                    db.fork_payload(&f).map_err(|e| e.to_string())?,
                )?;
                if fits(&records, &r) {
                    records.push(r);
                }
            }
        }
        let keys = batch_keys(&db, self.network, &records)?;
        Ok((bundle::encode_records_keyed(&keys, &records), more))
    }

    /// [`Ledger::entries_by_id`].
    pub(super) fn serve_by_id(
        &mut self,
        reader: &PublicKey,
        ids: &[EntryId],
    ) -> std::result::Result<ById, String> {
        let db = self.home.store().db();
        let (rows, mut more) = db
            .entries_by_ids(
                ids,
                countersign_sync::protocol::MAX_BATCH,
                countersign_sync::protocol::MAX_BATCH_BYTES,
            )
            .map_err(|e| e.to_string())?;
        let mut logs: Vec<LogId> = rows
            .iter()
            .filter_map(|r| Hash::from_slice(&r.log))
            .collect();
        logs.sort_unstable();
        logs.dedup();
        let readable: std::collections::HashSet<LogId> = logs
            .iter()
            .zip(self.may_read(reader, &logs))
            .filter_map(|(l, ok)| ok.then_some(*l))
            .collect();
        let served: std::collections::HashSet<Vec<u8>> =
            rows.iter().map(|r| r.id.clone()).collect();
        let mut records: Vec<BundleRecord> = Vec::with_capacity(rows.len());
        for r in rows {
            if Hash::from_slice(&r.log).is_some_and(|l| readable.contains(&l)) {
                records.push(record(r.header, &r.signature, r.payload)?);
            }
        }
        // Ids not among the entries may be fork evidence (header and signature prove it).
        if !more {
            let mut evidence = Vec::new();
            let db = self.home.store().db();
            for id in ids
                .iter()
                .filter(|id| !served.contains(id.as_bytes().as_slice()))
            {
                if let Some(found) = db.fork_evidence(id).map_err(|e| e.to_string())? {
                    evidence.push(found);
                }
            }
            for (fork, payload) in evidence {
                let Some(log) = Hash::from_slice(&fork.log) else {
                    continue;
                };
                if readable.contains(&log) || self.may_read(reader, &[log]) == [true] {
                    let r = record(fork.second_header, &fork.second_signature, payload)?;
                    // Within the batch's bounds; the puller asks again for the rest.
                    if !fits(&records, &r) {
                        more = true;
                        break;
                    }
                    records.push(r);
                }
            }
        }
        // Every record here is of a log the reader may read (checked above).
        let keys = batch_keys(&self.home.store().db(), self.network, &records)?;
        let bundle = bundle::encode_records_keyed(&keys, &records);
        // Ids that are neither may be split-view evidence (sent to members who read every
        // log), within the same byte budget.
        let mut evidence = Vec::new();
        let maybe_evidence = !more && records.len() < ids.len();
        self.refresh_evidence()?;
        if maybe_evidence && !self.evidence.1.is_empty() && self.reads_every_log(reader) {
            let asked: std::collections::HashSet<&EntryId> = ids.iter().collect();
            let mut bytes = bundle.len();
            for (_, _, id, encoded) in &self.evidence.1 {
                if !asked.contains(id) {
                    continue;
                }
                if evidence.len() >= countersign_sync::protocol::MAX_EVIDENCE
                    || bytes + encoded.len() > countersign_sync::protocol::MAX_BATCH_BYTES
                {
                    more = true;
                    break;
                }
                bytes += encoded.len();
                evidence.push(encoded.clone());
            }
        }
        Ok(ById {
            bundle,
            evidence,
            more,
        })
    }
}
