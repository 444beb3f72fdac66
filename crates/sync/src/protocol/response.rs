//! Responses to their bytes and back, and what each costs on the wire.

use countersign_ledger::bundle;
use countersign_ledger::checkpoint::MAX_CHECKPOINT_LEN;
use countersign_ledger::split_view::MAX_SPLIT_VIEW_LEN;
use countersign_ledger::DataKey;

use super::wire::{put_bytes_u32, put_hashes_u16, put_vector, Reader};
use super::{
    DecodeError, LogSummary, Response, MAX_BATCH, MAX_EVIDENCE, MAX_HEADS, MAX_KEY_REQUEST,
    MAX_LOGS, MAX_REASON, MAX_RECONCILE,
};

impl Response {
    /// Its bytes on the wire ([`Response::encode`]'s length, without encoding it): what an
    /// answer costs the rate of the peer it is served to (`node::limits`).
    pub fn encoded_len(&self) -> usize {
        match self {
            Response::Summary { logs } => {
                5 + logs
                    .iter()
                    .take(MAX_LOGS)
                    .map(|l| {
                        let c = l
                            .checkpoint
                            .as_ref()
                            .filter(|c| c.len() <= MAX_CHECKPOINT_LEN)
                            .map_or(0, Vec::len);
                        l.encoded_len() - l.checkpoint.as_ref().map_or(0, Vec::len) + c
                    })
                    .sum::<usize>()
            }
            Response::Entries {
                bundle, evidence, ..
            } => {
                let pieces = evidence
                    .iter()
                    .filter(|e| !e.is_empty() && e.len() <= MAX_SPLIT_VIEW_LEN)
                    .take(MAX_EVIDENCE);
                let (n, bytes) = pieces.fold((0, 0), |(n, b), e| (n + 1, b + 2 + e.len()));
                6 + bundle.len() + if n > 0 { 2 + bytes } else { 0 }
            }
            Response::Ack { .. } => 9,
            Response::Reconcile { message, .. } => 6 + message.len().min(MAX_RECONCILE),
            Response::Refused { reason } => 3 + reason.len().min(MAX_REASON),
            Response::Keys { keys } => {
                3 + countersign_ledger::bundle::KEY_RECORD_LEN * keys.len().min(MAX_KEY_REQUEST)
            }
        }
    }

    /// The message bytes (without the frame length).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Response::Summary { logs } => {
                out.push(0x81);
                let n = logs.len().min(MAX_LOGS);
                out.extend_from_slice(&(n as u32).to_be_bytes());
                for l in &logs[..n] {
                    out.extend_from_slice(l.log.as_bytes());
                    put_vector(&mut out, &l.authors);
                    put_hashes_u16(&mut out, &l.heads, MAX_HEADS);
                    out.extend_from_slice(&l.forks.to_be_bytes());
                    // One too long to decode is left out rather than sent.
                    let c = l
                        .checkpoint
                        .as_deref()
                        .filter(|c| c.len() <= MAX_CHECKPOINT_LEN)
                        .unwrap_or_default();
                    out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                    out.extend_from_slice(c);
                }
            }
            Response::Entries {
                more,
                bundle,
                evidence,
            } => {
                out.push(0x82);
                out.push(u8::from(*more));
                out.extend_from_slice(&(bundle.len() as u32).to_be_bytes());
                out.extend_from_slice(bundle);
                // Pieces too long to decode are left out rather than sent.
                let evidence: Vec<&Vec<u8>> = evidence
                    .iter()
                    .filter(|e| !e.is_empty() && e.len() <= MAX_SPLIT_VIEW_LEN)
                    .take(MAX_EVIDENCE)
                    .collect();
                if !evidence.is_empty() {
                    out.extend_from_slice(&(evidence.len() as u16).to_be_bytes());
                    for e in evidence {
                        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
                        out.extend_from_slice(e);
                    }
                }
            }
            Response::Ack { stored } => {
                out.push(0x83);
                out.extend_from_slice(&stored.to_be_bytes());
            }
            Response::Reconcile {
                base_matches,
                message,
            } => {
                out.push(0x85);
                out.push(u8::from(*base_matches));
                put_bytes_u32(&mut out, message, MAX_RECONCILE);
            }
            Response::Refused { reason } => {
                out.push(0x84);
                let mut end = reason.len().min(MAX_REASON);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                out.extend_from_slice(&(end as u16).to_be_bytes());
                out.extend_from_slice(&reason.as_bytes()[..end]);
            }
            Response::Keys { keys } => {
                out.push(0x86);
                let n = keys.len().min(MAX_KEY_REQUEST);
                out.extend_from_slice(&(n as u16).to_be_bytes());
                for (log, key) in &keys[..n] {
                    out.extend_from_slice(log.as_bytes());
                    out.extend_from_slice(key.as_bytes());
                }
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Reader(bytes);
        let response = match r.u8()? {
            0x81 => {
                let n = r.u32()? as usize;
                // Each log takes at least 42 bytes (id, two empty counts, the fork count, an
                // empty checkpoint).
                let n = r.count(n, "logs", MAX_LOGS, 42)?;
                let logs = (0..n)
                    .map(|_| {
                        let log = r.hash()?;
                        let authors = r.vector()?;
                        let h = r.u16()?;
                        let heads = r.hashes(h, "heads", MAX_HEADS)?;
                        let forks = r.u32()?;
                        let c = r.u16()?;
                        let c = r.count(c, "checkpoint bytes", MAX_CHECKPOINT_LEN, 1)?;
                        let checkpoint =
                            (c > 0).then(|| r.take(c)).transpose()?.map(<[u8]>::to_vec);
                        Ok(LogSummary {
                            log,
                            authors,
                            heads,
                            forks,
                            checkpoint,
                        })
                    })
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Response::Summary { logs }
            }
            0x82 => {
                let more = match r.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::BadFlag(other)),
                };
                let len = r.u32()? as usize;
                let bytes = r.take(len)?;
                // Framed in place to count it: a batch is only copied once, whole.
                let (keys, records) = bundle::frame_keyed(bytes)?;
                if records.len() > MAX_BATCH {
                    return Err(DecodeError::TooMany {
                        what: "records",
                        count: records.len(),
                        max: MAX_BATCH,
                    });
                }
                // At most one data key per record's log.
                if keys.len() > records.len() {
                    return Err(DecodeError::TooMany {
                        what: "data keys",
                        count: keys.len(),
                        max: records.len(),
                    });
                }
                // Evidence only when there is some: one encoding per message.
                let evidence = if r.0.is_empty() {
                    Vec::new()
                } else {
                    let n = r.u16()?;
                    if n == 0 {
                        return Err(DecodeError::Empty("split-view evidence"));
                    }
                    let n = r.count(n, "pieces of split-view evidence", MAX_EVIDENCE, 3)?;
                    (0..n)
                        .map(|_| {
                            let len = r.u16()?;
                            let len = r.count(len, "evidence bytes", MAX_SPLIT_VIEW_LEN, 1)?;
                            if len == 0 {
                                return Err(DecodeError::Empty("split-view evidence"));
                            }
                            Ok(r.take(len)?.to_vec())
                        })
                        .collect::<Result<Vec<_>, DecodeError>>()?
                };
                Response::Entries {
                    more,
                    bundle: bytes.to_vec(),
                    evidence,
                }
            }
            0x83 => Response::Ack { stored: r.u64()? },
            0x85 => Response::Reconcile {
                base_matches: match r.u8()? {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::BadFlag(other)),
                },
                message: r.bytes_u32("reconcile message", MAX_RECONCILE)?,
            },
            0x84 => {
                let n = r.u16()?;
                let n = r.count(n, "reason bytes", MAX_REASON, 1)?;
                let reason = std::str::from_utf8(r.take(n)?)
                    .map_err(|_| DecodeError::NotUtf8)?
                    .to_string();
                Response::Refused { reason }
            }
            0x86 => {
                let n = r.u16()?;
                let n = r.count(
                    n,
                    "data keys",
                    MAX_KEY_REQUEST,
                    countersign_ledger::bundle::KEY_RECORD_LEN,
                )?;
                let keys = (0..n)
                    .map(|_| {
                        let log = r.hash()?;
                        let key = DataKey::from_slice(r.take(countersign_ledger::DATA_KEY_LEN)?)
                            .ok_or(DecodeError::Truncated)?;
                        Ok((log, key))
                    })
                    .collect::<Result<Vec<_>, DecodeError>>()?;
                Response::Keys { keys }
            }
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(response)
    }
}
