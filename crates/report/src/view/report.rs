//! The report as it reads now ([`ReportView`]), its state, and what a restriction withholds.

use countersign_ledger::EntryId;
use serde::Serialize;

use super::{
    AddendumView, AiView, Author, CriticalView, DataProtectionNote, DeliveryNote, FollowupView,
    MeasurementView, MoveNote, ProvenanceItem, ReadView, ResolutionView, SectionView, SignoffView,
    SplitViewNote,
};

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
