//! Bundles: export a home's roster and reports to a file; import one, verifying every entry
//! before storing any.
//!
//! Split by what each part is about; the types they share (`Problem`, `ImportReport`,
//! `Intake`) are here:
//! - `export`: the roster and reports written as bundle bytes.
//! - `authenticated`: a bundle read, every signature checked, nothing stored yet.
//! - `import`: the entry points that store a bundle (a file, bytes, an authenticated batch).
//! - `peer`: a peer's batches, stored with what is refused quarantined and what waits kept
//!   for the next batch (`Pending`).
//! - `batch`: the import core every batch goes through, bundle or peer.
//! - `keys`: the data keys a bundle or a peer's batch carries.
//! - `held`: entries dated ahead, taken in once their time has come.
//! - `archive_text`: an audit archive's `provenance.txt` held to the entries it came with.

use std::collections::HashMap;
use std::io::{Read, Seek};

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::{header, Entry, EntryId, IdMap, LogFamily, LogId, PublicKey};
use serde::Serialize;

use crate::error::{AppError, Rejection, Result};
use crate::home::now_ms;
use crate::home::Home;
use crate::state::{decode_row, LedgerState, Verdict};
use countersign_report::Standing;

mod archive_text;
mod authenticated;
mod batch;
mod export;
mod held;
mod import;
mod keys;
mod peer;

use batch::{problem, refused, reload};
use keys::take_keys;

pub use archive_text::ProvenanceText;
pub(crate) use authenticated::causal_order;
pub use authenticated::Authenticated;
use authenticated::Received;
pub(crate) use held::release_held;
pub use peer::Pending;

/// An entry the import could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub entry: String,
    /// The stable code of the rule involved, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub problem: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ImportReport {
    /// Entries stored by this import.
    pub new: u64,
    /// Entries this home already had.
    pub duplicate: u64,
    /// Equivocations found: the second entry is kept as evidence beside the first.
    pub forks: Vec<Problem>,
    /// Entries stored, but refused by a rule (with its code): they count for nothing.
    pub refused: Vec<Problem>,
    /// Entries dated beyond the allowed clock skew ahead of this home's clock: held aside, not
    /// stored, until their time comes.
    pub held: Vec<Problem>,
    /// Entries a peer sent that this home refuses by a rule, or that wait for something not
    /// here yet: kept in quarantine with the reason (sync only; a bundle is all or nothing).
    pub quarantined: Vec<Problem>,
    /// Data keys a peer sent that this home refuses (`entry` names the report, `code` why):
    /// dropped, the rest of the batch stored (sync only; a bundle is all or nothing).
    pub keys_refused: Vec<Problem>,
    /// An audit archive's `provenance.txt` held to the entries it came with (absent for a
    /// plain bundle): whether it reads as they do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance_text: Option<ProvenanceText>,
}

/// The largest bundle file `bundle_import_file` takes (streamed, never held whole).
pub const MAX_BUNDLE_BYTES: u64 = 4 << 30;

/// Records read before their signatures are checked together, on every core: large enough to
/// keep the cores busy, small enough that the records waiting are a sliver of the entries.
pub(crate) const CHUNK: usize = 4096;

/// What an import does with an entry the rules refuse.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Intake<'a> {
    /// Refuse the whole batch (a bundle: an auditor gets all of it or a reason).
    Strict,
    /// Quarantine the entry with its reason and store the rest (a peer's batch).
    Quarantine { peer: &'a str },
}
