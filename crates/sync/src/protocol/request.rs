//! Requests to their bytes and back.

use super::wire::{put_bytes_u32, put_hashes_u16, put_vector, Reader};
use super::{
    DecodeError, Request, MAX_ANNOUNCED, MAX_AUTHORS, MAX_FETCH_IDS, MAX_KEY_REQUEST, MAX_RECONCILE,
};

impl Request {
    /// Its bytes on the wire ([`Request::encode`]'s length, without encoding it): what a
    /// peer's request costs its rate (`node::limits`).
    pub fn encoded_len(&self) -> usize {
        match self {
            Request::Summary { logs, .. } | Request::Announce { logs, .. } => {
                35 + 32 * logs.len().min(MAX_ANNOUNCED)
            }
            Request::Fetch { have, .. } => 71 + 40 * have.len().min(MAX_AUTHORS),
            Request::Reconcile { message, .. } => 77 + message.len().min(MAX_RECONCILE),
            Request::FetchIds { ids, .. } => 35 + 32 * ids.len().min(MAX_FETCH_IDS),
            Request::Keys { logs, .. } => 35 + 32 * logs.len().min(MAX_KEY_REQUEST),
        }
    }

    /// The message bytes (without the frame length). Lists beyond their bounds are cut to
    /// them, so whatever is encoded decodes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Request::Summary { network, logs } => {
                out.push(0x01);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, logs, MAX_ANNOUNCED);
            }
            Request::Fetch {
                network,
                log,
                have,
                limit,
            } => {
                out.push(0x02);
                out.extend_from_slice(network.as_bytes());
                out.extend_from_slice(log.as_bytes());
                put_vector(&mut out, have);
                out.extend_from_slice(&limit.to_be_bytes());
            }
            Request::Announce { network, logs } => {
                out.push(0x03);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, logs, MAX_ANNOUNCED);
            }
            Request::Reconcile {
                network,
                from,
                base,
                message,
            } => {
                out.push(0x04);
                out.extend_from_slice(network.as_bytes());
                out.extend_from_slice(&from.to_be_bytes());
                out.extend_from_slice(base.as_bytes());
                put_bytes_u32(&mut out, message, MAX_RECONCILE);
            }
            Request::FetchIds { network, ids } => {
                out.push(0x05);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, ids, MAX_FETCH_IDS);
            }
            Request::Keys { network, logs } => {
                out.push(0x06);
                out.extend_from_slice(network.as_bytes());
                put_hashes_u16(&mut out, logs, MAX_KEY_REQUEST);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader(bytes);
        let request = match r.u8()? {
            0x01 => {
                let network = r.hash()?;
                let n = r.u16()?;
                if n == 0 {
                    return Err(DecodeError::Empty("a summary request"));
                }
                Request::Summary {
                    network,
                    logs: r.hashes(n, "logs asked about", MAX_ANNOUNCED)?,
                }
            }
            0x02 => Request::Fetch {
                network: r.hash()?,
                log: r.hash()?,
                have: r.vector()?,
                limit: r.u32()?,
            },
            0x03 => {
                let network = r.hash()?;
                let n = r.u16()?;
                Request::Announce {
                    network,
                    logs: r.hashes(n, "announced logs", MAX_ANNOUNCED)?,
                }
            }
            0x04 => Request::Reconcile {
                network: r.hash()?,
                from: r.u64()?,
                base: r.hash()?,
                message: r.bytes_u32("reconcile message", MAX_RECONCILE)?,
            },
            0x05 => {
                let network = r.hash()?;
                let n = r.u16()?;
                if n == 0 {
                    return Err(DecodeError::Empty("a fetch by id"));
                }
                Request::FetchIds {
                    network,
                    ids: r.hashes(n, "ids to fetch", MAX_FETCH_IDS)?,
                }
            }
            0x06 => {
                let network = r.hash()?;
                let n = r.u16()?;
                if n == 0 {
                    return Err(DecodeError::Empty("a key request"));
                }
                Request::Keys {
                    network,
                    logs: r.hashes(n, "logs whose keys are asked for", MAX_KEY_REQUEST)?,
                }
            }
            tag => return Err(DecodeError::UnknownTag(tag)),
        };
        r.finish()?;
        Ok(request)
    }
}
