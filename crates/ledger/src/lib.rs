//! The Countersign ledger: signed, hash-linked entries and the rules they obey.
//!
//! Every contribution to a report is an [`Entry`]: a canonical [`Header`] (network, log, author,
//! per-author sequence, parents, timestamp, kind, payload hash and length) signed with the
//! author's ed25519 key. An entry's id is the SHA-256 of its header bytes; the signature covers a
//! domain tag plus those same bytes and is checked with `verify_strict`. Payloads travel beside
//! the header so they can be erased while the chain still verifies.
//!
//! This crate is pure: no I/O, no clock, no async. The [`rules`] are small functions with precise
//! errors, each with a stable code; [`dag`] indexes one log's causal structure (every author's
//! entries form a chain); the [`roster`] says who may sign what, judged from causal facts only.
//!
//! ```
//! use countersign_ledger::{Entry, Hash, Header, Kind, SecretKey};
//!
//! let key = SecretKey::from_seed(&[42; 32]);
//! let network = Hash::of(b"example network");
//! let payload = br#"{"study":"1.2.3","template":"ct-chest","images":[]}"#;
//! let header = Header::new(network, Hash::ZERO, key.public(), 1, 1_700_000_000_000,
//!                          Kind::ReportCreate, vec![], payload);
//! let entry = Entry::sign(header, &key).unwrap();
//!
//! // Anyone holding the bytes can check them.
//! let received = Entry::from_parts(entry.header_bytes(), entry.signature()).unwrap();
//! assert_eq!(received.id(), Hash::of(entry.header_bytes()));
//! countersign_ledger::rules::check_payload(&received, payload).unwrap();
//! // A genesis entry's id is the id of the log it starts.
//! assert_eq!(received.log_id(), received.id());
//! ```

pub mod bundle;
pub mod checkpoint;
pub mod dag;
mod data_key;
pub mod delegation;
mod entry;
#[doc(hidden)]
pub mod fuzz_checks;
mod hash;
pub mod header;
mod identity;
pub mod invitation;
pub mod json;
mod kind;
pub mod roster;
pub mod rotation;
pub mod rules;
pub mod split_view;

pub use data_key::{
    kek_message, DataKey, Kek, WrapError, DATA_KEY_LEN, KEK_MESSAGE_DOMAIN, WRAPPED_LEN,
    WRAP_NONCE_LEN,
};
pub use entry::{Entry, EntryError, SIGNATURE_DOMAIN};
pub use hash::{EntryId, Hash, HexError, IdHasher, IdMap, IdSet, LogId, NetworkId};
pub use header::{DecodeError, Header};
pub use identity::{KeyError, PublicKey, SecretKey, SignError, Signer};
pub use kind::{Kind, LogFamily, UnknownKind};
pub use roster::{Authority, AuthorityError, Member, Role, Roster, RosterError, RosterLog};
pub use rules::{ForkEvidence, RuleError};

#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod test_signers;
