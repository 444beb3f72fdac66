//! What goes into a batch a peer is sent: records within the message bounds, and the data
//! keys of the reports whose payloads they carry.

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::{EntryId, Hash, LogId, NetworkId, PublicKey};

/// The set item of a piece of fork evidence: its header's timestamp and its id.
pub(super) fn evidence_item(header: &[u8], id: &[u8]) -> Option<(u64, EntryId)> {
    let id = Hash::from_slice(id)?;
    let h = countersign_ledger::header::decode_with_keys(header, |k| PublicKey::from_bytes(k).ok())
        .ok()?;
    Some((h.timestamp_ms, id))
}

/// A record's bytes in a batch (header, signature, payload).
fn record_bytes(r: &BundleRecord) -> usize {
    r.header.len() + 64 + r.payload.as_ref().map_or(0, Vec::len)
}

/// Whether `r` may join `records` within a batch's bounds: at most
/// [`countersign_sync::protocol::MAX_BATCH`] records and
/// [`countersign_sync::protocol::MAX_BATCH_BYTES`] (a first record always may: one entry is at
/// most 16 MiB, so one record always fits a message). Evidence counts like any record: a
/// roster fork with a 16 MiB payload must not push an honest server's batch past the frame
/// its peer accepts (which would get the honest server cut off).
pub(super) fn fits(records: &[BundleRecord], r: &BundleRecord) -> bool {
    if records.is_empty() {
        return true;
    }
    let bytes: usize = records.iter().map(record_bytes).sum();
    records.len() < countersign_sync::protocol::MAX_BATCH
        && bytes + record_bytes(r) <= countersign_sync::protocol::MAX_BATCH_BYTES
}

/// The data keys of the report logs whose payloads `records` carry: they travel beside the
/// payloads, only where the payloads go (the caller sends only logs the peer may read), at
/// most one per log ([`countersign_sync::protocol::MAX_BATCH_KEY_BYTES`] in all).
pub(super) fn batch_keys(
    db: &countersign_store::Db<'_>,
    network: Option<NetworkId>,
    records: &[BundleRecord],
) -> std::result::Result<bundle::BundleKeys, String> {
    // The log field of a header (after its version and network), read in place: decoding
    // would check every author's key again. A genesis names none: its own id is its log.
    let mut logs: Vec<LogId> = records
        .iter()
        .filter(|r| r.payload.is_some())
        .filter_map(|r| {
            let log = Hash::from_slice(r.header.get(1 + 32..1 + 32 + 32)?)?;
            Some(if log == Hash::ZERO {
                Hash::of(&r.header)
            } else {
                log
            })
        })
        .collect();
    logs.retain(|l| Some(*l) != network);
    logs.sort_unstable();
    logs.dedup();
    let mut keys = Vec::new();
    for log in logs {
        if let Some(key) = db.report_key(&log).map_err(|e| e.to_string())? {
            keys.push((log, key));
        }
    }
    Ok(keys)
}

/// A stored entry (or fork evidence) as a bundle record.
pub(super) fn record(
    header: Vec<u8>,
    signature: &[u8],
    payload: Option<Vec<u8>>,
) -> std::result::Result<BundleRecord, String> {
    let signature = signature
        .try_into()
        .map_err(|_| format!("a stored signature is {} bytes, not 64", signature.len()))?;
    Ok(BundleRecord {
        header,
        signature,
        payload,
    })
}
