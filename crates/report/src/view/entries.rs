//! The views of a report's entries: how each stands, sections and their versions, co-signatures,
//! sign-offs, resolutions, addenda, measurements, critical results, follow-ups, AI results and
//! read receipts.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Role};
use serde::Serialize;

use super::Author;

/// How an entry stands when re-checked. Supplied by whoever holds the bytes (the store).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum EntryStatus {
    /// Signature, payload hash and links all check out.
    Verified,
    /// The author equivocated at this position; both entries are kept as evidence.
    Fork,
    /// The payload was erased; the header still verifies.
    Erased,
    /// Authentic, but a rule refuses it: it does not count in the report. `code` is the rule's
    /// stable code.
    Refused { code: String, reason: String },
    /// Something does not check out; `reason` says what.
    Invalid { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CosignView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub status: EntryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub text: Option<String>,
    /// Structured field values of this version.
    pub fields: BTreeMap<String, String>,
    pub status: EntryStatus,
    pub cosigns: Vec<CosignView>,
    /// The AutoText macros the version says its text was built from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<crate::macros::MacroRef>,
    /// The version's links to images, each referred to from `text` by its `[fig N]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::links::ImageLink>,
}

/// A structured field of a section with its value in the version the report reads as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldView {
    #[serde(flatten)]
    pub def: crate::template::FieldDef,
    pub value: Option<String>,
    /// The value as a reader sees it (a number with its unit).
    pub display: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SectionView {
    pub name: String,
    pub title: String,
    /// The current text, if the section was written.
    pub text: Option<String>,
    /// The role whose co-signature the template requires.
    pub cosign_role: Option<Role>,
    /// The section must be written before final sign-off.
    pub required: bool,
    pub fields: Vec<FieldView>,
    /// Oldest first; the last is the current version.
    pub versions: Vec<VersionView>,
    /// The version the report reads as (`text`'s version), if one does.
    pub current: Option<EntryId>,
    /// The version the final sign-off covers, if any.
    pub signed_off_version: Option<EntryId>,
    /// In a conflict, the different versions the sign-offs in conflict cover (then `text` is
    /// empty: no one version is the report's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicting_versions: Vec<EntryId>,
    /// Before sign-off: more than one newest version, written concurrently; `text` is the one
    /// that saw the most (then the highest id), and every one is in `versions`.
    pub concurrent: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddendumView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub text: Option<String>,
    pub status: EntryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignoffView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub status: EntryStatus,
    /// The version each section's sign-off covers.
    pub sections: BTreeMap<String, EntryId>,
    /// Whether this sign-off is in force: false once an attending's resolution kept another.
    pub in_force: bool,
}

/// An attending's resolution of a conflict between sign-offs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolutionView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub keep: EntryId,
    pub note: String,
    pub status: EntryStatus,
}

/// A signed measurement on one of the report's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MeasurementView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    #[serde(flatten)]
    pub measurement: crate::payload::MeasurementAdd,
    pub status: EntryStatus,
}

/// A critical result and how it was communicated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriticalView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    #[serde(flatten)]
    pub critical: crate::payload::CriticalResult,
    pub status: EntryStatus,
}

/// A recommended follow-up, open until a `followup.close` names the study that answered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowupView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub finding: String,
    pub due: String,
    pub closed: Option<FollowupClosedView>,
    pub status: EntryStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowupClosedView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub study: String,
}

/// An AI model's proposal and the human decision on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AiView {
    pub entry: EntryId,
    /// The model's roster entry (its vendor, model and version are in `author.ai_model`); for
    /// a result received as DICOM SR, the member who attested its receipt.
    pub author: Author,
    pub time_ms: u64,
    /// The proposal. For a received SR: the device's model and version, the SR's measurements
    /// and findings as outputs (see [`crate::payload::AiReceived::as_result`]).
    #[serde(flatten)]
    pub result: crate::payload::AiResult,
    /// Set when the result arrived as DICOM SR (`ai.received`): what arrived, and from what.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<ReceivedView>,
    pub review: Option<AiReviewView>,
    pub status: EntryStatus,
}

/// An AI result received as DICOM SR: the attestation, and its provenance in words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceivedView {
    /// "received as DICOM SR from `<device>` `<version>`, attested by `<member>`".
    pub statement: String,
    /// The device in words: "`<manufacturer>` `<model>` `<version>`".
    pub source: String,
    #[serde(flatten)]
    pub attestation: crate::payload::AiReceived,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AiReviewView {
    pub entry: EntryId,
    pub reviewer: Author,
    pub time_ms: u64,
    pub decision: crate::payload::Decision,
    pub comment: Option<String>,
    /// An edit's text (what the reviewer signed instead of the proposal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub status: EntryStatus,
}

/// A read receipt: who had which sections on screen, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadView {
    pub entry: EntryId,
    pub author: Author,
    pub time_ms: u64,
    pub sections: Vec<String>,
    pub status: EntryStatus,
}
