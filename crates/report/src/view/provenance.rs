//! Provenance: the report's timeline, line by line, and its notes on moves, deliveries,
//! erasures, restrictions and split views.

use countersign_ledger::{EntryId, Kind};
use serde::Serialize;

use super::{Author, EntryStatus};
use crate::log::LogEntry;
use crate::payload::Payload;

/// One line of the whole-report provenance timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProvenanceItem {
    pub entry: EntryId,
    pub kind: Kind,
    pub author: Author,
    pub seq: u64,
    pub time_ms: u64,
    pub parents: Vec<EntryId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    pub status: EntryStatus,
    /// For a section version: the AutoText macros its text was built from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<crate::macros::MacroRef>,
}

/// A `report.delivered`: a signed-off version stored on an archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryNote {
    pub entry: EntryId,
    pub by: Author,
    pub time_ms: u64,
    pub archive: String,
    /// The signed-off version sent (a final sign-off, an addendum or a resolution).
    pub version: EntryId,
    pub study: String,
    pub sop_instances: Vec<String>,
    /// For a rejection: the SOP Instance UID of the IOCM rejection note stored in `study`,
    /// which rejects `sop_instances`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_note: Option<String>,
}

/// A `report.move`: the report was moved from one study (and its patient) to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoveNote {
    pub entry: EntryId,
    pub by: Author,
    pub time_ms: u64,
    pub from: String,
    pub to: String,
    pub reason: String,
}

/// An erasure or a restriction as views and exports name it: "erased on DATE by NAME (basis)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DataProtectionNote {
    pub entry: EntryId,
    pub by: Author,
    pub time_ms: u64,
    pub basis: String,
    /// For an erasure: whether the patient's every report, or this one, was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::payload::EraseScope>,
    /// For a restriction: whether it restricts (true) or lifts a restriction (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restricted: Option<bool>,
}

/// A split view on a report's log, as the provenance panel names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitViewNote {
    pub signer: Author,
    pub reason: String,
}

/// An erasure's or a restriction's note, from its entry (`None` when its payload is not the
/// one its kind says, which the rules never accept).
pub(super) fn note(e: &LogEntry, who: &impl Fn(&LogEntry) -> Author) -> Option<DataProtectionNote> {
    let (basis, scope, restricted) = match &e.payload {
        Some(Payload::Erase(p)) => (p.basis.clone(), Some(p.scope), None),
        Some(Payload::Restrict(p)) => (p.basis.clone(), None, Some(p.restricted)),
        _ => return None,
    };
    Some(DataProtectionNote {
        entry: e.id,
        by: who(e),
        time_ms: e.timestamp_ms,
        basis,
        scope,
        restricted,
    })
}
