//! Countersign peer sync over libp2p: the department's peers converge on the same entries.
//!
//! A peer's libp2p identity is its member key — or, for a home whose key never leaves its
//! token, a node key made in memory per process that the member key signed a delegation to —
//! so the roster an admin keeps is all the authorisation there is: a member on the roster (not
//! revoked) is served; any other peer is refused. [`node`] runs the swarm, reconciles the sets of entries range by range
//! ([`reconcile`]) and fetches what differs in bounded batches; [`protocol`] is the
//! `/countersign/sync/5` wire format, strict and bounded, and
//! [`codec`] frames it on a stream. The node never writes SQLite: the app hands it a
//! [`node::Ledger`] that verifies every entry before storing any.
//!
//! ```
//! use countersign_sync::protocol::{Envelope, Request, Response};
//! use countersign_ledger::Hash;
//!
//! let ask = Request::Summary { network: Hash([7; 32]), logs: vec![Hash([1; 32])] };
//! assert_eq!(Request::decode(&ask.encode()), Ok(ask.clone()));
//! // On the wire, in an envelope that may carry the sender's node delegation.
//! let wire = Envelope::plain(ask);
//! assert_eq!(Envelope::<Request>::decode(&wire.encode()), Ok(wire));
//! // A claimed count beyond its bound is refused before anything is allocated for it.
//! let mut huge = vec![0x81];
//! huge.extend_from_slice(&u32::MAX.to_be_bytes());
//! assert!(Response::decode(&huge).is_err());
//! ```

pub mod codec;
pub mod node;
pub mod protocol;
pub mod reconcile;

pub use libp2p::identity::Keypair;
pub use libp2p::multiaddr::Protocol;
pub use libp2p::Multiaddr;
pub use libp2p::PeerId;
pub use node::{
    identity_key, keypair, node_identity, peer_id, peer_key, start, AcceptError, Accepted, ById,
    Command, Config, Ledger, Node, NodeStatus, PeerEvent, SyncError, SyncReport, MAX_DELEGATED,
    MAX_PEERS,
};
pub use protocol::{LogSummary, VersionVector};

#[cfg(test)]
mod node_tests;
#[cfg(test)]
mod tests;
