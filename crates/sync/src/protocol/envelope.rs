//! The envelope around every message (the sender's node delegation, if any), and the
//! invariants the fuzz targets hold every decoder to.

use countersign_ledger::delegation::{NodeDelegation, DELEGATION_LEN};

use super::wire::Reader;
use super::{DecodeError, Request, Response, MAX_ENVELOPE};

/// A message on the wire: its body, and the node delegation its sender runs under, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<T> {
    pub delegation: Option<NodeDelegation>,
    pub body: T,
}

/// What an envelope can carry.
pub trait Body: Sized {
    fn encode_into(&self, out: &mut Vec<u8>);
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError>;
}

impl Body for Request {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.encode());
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Request::decode(bytes)
    }
}

impl Body for Response {
    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.encode());
    }
    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        Response::decode(bytes)
    }
}

impl<T: Body> Envelope<T> {
    /// `body` as a node running as its member key sends it.
    pub fn plain(body: T) -> Envelope<T> {
        Envelope {
            delegation: None,
            body,
        }
    }

    /// The message bytes (without the frame length).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.delegation {
            None => out.push(0x00),
            Some(d) => {
                out.push(0x01);
                out.extend_from_slice(&d.encode());
            }
        }
        self.body.encode_into(&mut out);
        out
    }

    /// Strict: the flag is 0 or 1, a delegation is exactly [`DELEGATION_LEN`] bytes that decode,
    /// and the body takes every byte after it.
    pub fn decode(bytes: &[u8]) -> Result<Envelope<T>, DecodeError> {
        let mut r = Reader(bytes);
        let delegation = match r.u8()? {
            0x00 => None,
            0x01 => Some(
                NodeDelegation::decode(r.take(DELEGATION_LEN)?)
                    .map_err(DecodeError::BadDelegation)?,
            ),
            other => return Err(DecodeError::BadFlag(other)),
        };
        Ok(Envelope {
            delegation,
            body: T::decode(r.0)?,
        })
    }
}

/// The invariants the sync fuzz targets check: decoding never panics, and what decodes
/// re-encodes to the same bytes (one encoding per message).
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok(r) = Envelope::<Request>::decode(data) {
        assert_eq!(r.encode(), data, "a request has a second encoding");
        assert!(data.len() <= r.body.encode().len() + MAX_ENVELOPE);
    }
    if let Ok(r) = Envelope::<Response>::decode(data) {
        assert_eq!(r.encode(), data, "a response has a second encoding");
        assert!(data.len() <= r.body.encode().len() + MAX_ENVELOPE);
    }
}
