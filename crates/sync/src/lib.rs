//! Countersign peer sync over libp2p: the department's peers converge on the same entries.
//!
//! A peer's libp2p identity is its member key, so the roster an admin keeps is all the
//! authorisation there is: a key on the roster (not revoked) is served; any other is refused
//! and disconnected. [`node`] runs the swarm, reconciles the sets of entries range by range
//! ([`reconcile`]) and fetches what differs in bounded batches; [`protocol`] is the
//! `/countersign/sync/3` wire format, strict and bounded, and
//! [`codec`] frames it on a stream. The node never writes SQLite: the app hands it a
//! [`node::Ledger`] that verifies every entry before storing any.
//!
//! ```
//! use countersign_sync::protocol::{Request, Response};
//! use countersign_ledger::Hash;
//!
//! let ask = Request::Summary { network: Hash([7; 32]), logs: vec![Hash([1; 32])] };
//! assert_eq!(Request::decode(&ask.encode()), Ok(ask));
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
    keypair, peer_id, peer_key, start, AcceptError, Accepted, ById, Command, Config, Ledger, Node,
    NodeStatus, PeerEvent, SyncError, SyncReport, MAX_PEERS,
};
pub use protocol::{LogSummary, VersionVector};

#[cfg(test)]
mod tests;
