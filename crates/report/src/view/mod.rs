//! The projection: a report log read as "the report as it reads now", with provenance.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Role};
use serde::Serialize;

mod authors;
mod project;
mod provenance;

pub use authors::{author, Author, PersonKey};
pub use provenance::{DataProtectionNote, DeliveryNote, MoveNote, ProvenanceItem, SplitViewNote};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportState {
    Draft,
    Preliminary,
    Final,
    Amended,
    /// Two sign-offs that do not descend from each other, until an attending resolves it.
    Conflict,
    /// The report's `report.create` is refused (say, signed by a revoked key).
    Refused,
    /// Signed off, but no sign-off stands: each is refused (its author's key revoked outside
    /// the frontier, a version it covers frozen by its author's fork, ...). The report reads as
    /// unsigned — and says so, rather than passing for a draft.
    Withdrawn,
    /// Its personal data was erased (a `payload.erase` stands): the headers and signatures
    /// remain, the content is gone on every peer.
    Erased,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportView {
    pub report: EntryId,
    pub study: String,
    pub template: String,
    pub template_title: String,
    pub images: Vec<String>,
    pub status: ReportState,
    pub created_by: Author,
    pub created_ms: u64,
    pub sections: Vec<SectionView>,
    /// The sign-off in force, when exactly one is.
    pub signoff: Option<SignoffView>,
    /// Every accepted sign-off, in force or superseded; two or more in force are a conflict.
    pub signoffs: Vec<SignoffView>,
    /// Final sign-offs held that a rule refuses (each with its rule in `status`): none of them
    /// counts, and a report with no other sign-off is [`ReportState::Withdrawn`] if one was
    /// made with an attending's authority for that entry.
    pub refused_signoffs: Vec<SignoffView>,
    pub resolutions: Vec<ResolutionView>,
    pub addenda: Vec<AddendumView>,
    pub measurements: Vec<MeasurementView>,
    pub critical: Vec<CriticalView>,
    pub followups: Vec<FollowupView>,
    pub reads: Vec<ReadView>,
    pub ai: Vec<AiView>,
    pub heads: Vec<EntryId>,
    /// The heads of the report's content (see [`crate::ReportLog::version_heads`]): what an
    /// exported object's identity is made from.
    #[serde(skip)]
    pub version_heads: Vec<EntryId>,
    pub provenance: Vec<ProvenanceItem>,
    /// Members this home holds split-view evidence against for this report's log: each
    /// signed two claims about the log that do not agree. The home fills it from its store
    /// (the projection of the entries leaves it empty).
    pub split_views: Vec<SplitViewNote>,
    /// Who erased the report's personal data, when, and on which basis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub erasure: Option<DataProtectionNote>,
    /// The report's payloads are sealed under a data key this home does not hold (a
    /// ciphertext-only bundle, say): its headers and signatures verify, its content is not
    /// readable here.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unreadable: bool,
    /// Why it is not readable: this home holds the report's key, wrapped under the member's
    /// key, which is locked (unlocking reads it). The home fills it in; `false` otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    /// The report was created sealed (its payloads are encrypted under its data key, shredded
    /// by erasure). `false`: created in clear — before sealing, or by a client that does not
    /// seal — so its text is stored in clear and an erasure deletes rather than shreds it.
    #[serde(default)]
    pub sealed: bool,
    /// The restriction in force (GDPR Art. 18): while there is one, the view carries no
    /// content (texts, values, findings), only who wrote what kind of entry when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restriction: Option<DataProtectionNote>,
    /// Every accepted restriction and lifting (`restricted` says which), in log order: the
    /// provenance names each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<DataProtectionNote>,
    /// Corrections of whom the report is about (filed under the wrong patient), oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moves: Vec<MoveNote>,
    /// Every accepted `report.delivered`, in log order: where the signed-off report was
    /// stored, by whom and when (content: withheld under a restriction).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<DeliveryNote>,
    /// Every accepted rejection (a `report.delivered` with a rejection note), in log order:
    /// the report's instances withdrawn from a study it was moved away from, on which archive,
    /// by whom and when (content: withheld under a restriction). Apart from `deliveries`: a
    /// rejection is not the version reaching that archive.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<DeliveryNote>,
}

impl ReportView {
    /// Drops every piece of content from the view — texts, field values, measurements,
    /// findings, AI output — keeping who signed what kind of entry when, and each status.
    /// What a restricted report shows.
    pub fn withhold_content(&mut self) {
        self.study.clear();
        self.images.clear();
        for s in &mut self.sections {
            s.text = None;
            for f in &mut s.fields {
                f.value = None;
                f.display = None;
            }
            for v in &mut s.versions {
                v.text = None;
                v.fields.clear();
            }
        }
        for a in &mut self.addenda {
            a.text = None;
        }
        self.measurements.clear();
        self.critical.clear();
        self.followups.clear();
        self.ai.clear();
        self.deliveries.clear();
        self.rejections.clear();
        for r in &mut self.resolutions {
            r.note.clear();
        }
    }
}
