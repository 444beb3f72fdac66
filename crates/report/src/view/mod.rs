//! The projection: a report log read as "the report as it reads now", with provenance.

use std::collections::{BTreeMap, HashMap};

use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{EntryId, Kind, PublicKey, Role, Roster};
use serde::Serialize;

use crate::log::{LogEntry, ReportLog, Standing};
use crate::payload::{Payload, Status};

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

/// Who or what signed an entry, as the roster names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Author {
    pub key: PublicKey,
    /// The person's name as the roster has it now (for a rotated key, the name of the person's
    /// current key: one person across keys).
    pub name: String,
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<AiModelInfo>,
    /// For a person who has rotated their key: which of their keys signed ("key 2 of 2,
    /// rotated on …"). Absent for a key never rotated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<PersonKey>,
}

/// Where a key stands among the keys of one person (see [`Roster::key_place`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PersonKey {
    /// This is key `number` of the person's `keys`, oldest first.
    pub number: usize,
    pub keys: usize,
    /// The person's key now.
    pub current: PublicKey,
    /// When a rotation brought this key in: the rotation entry's timestamp (its signer's
    /// clock), to show, never to judge by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotated_ms: Option<u64>,
    /// Whether that rotation replaced a lost key (an admin alone, without the old key's
    /// consent).
    pub replaced_lost_key: bool,
    /// When this key was itself rotated away (display only, as `rotated_ms`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_ms: Option<u64>,
}

impl PersonKey {
    /// "key 2 of 2" — and ", rotated on DATE" is the caller's to add with its own calendar.
    pub fn ordinal(&self) -> String {
        format!("key {} of {}", self.number, self.keys)
    }
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

/// A split view on a report's log, as the provenance panel names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SplitViewNote {
    pub signer: Author,
    pub reason: String,
}

/// An erasure's or a restriction's note, from its entry (`None` when its payload is not the
/// one its kind says, which the rules never accept).
fn note(e: &LogEntry, who: &impl Fn(&PublicKey) -> Author) -> Option<DataProtectionNote> {
    let (basis, scope, restricted) = match &e.payload {
        Some(Payload::Erase(p)) => (p.basis.clone(), Some(p.scope), None),
        Some(Payload::Restrict(p)) => (p.basis.clone(), None, Some(p.restricted)),
        _ => return None,
    };
    Some(DataProtectionNote {
        entry: e.id,
        by: who(&e.author),
        time_ms: e.timestamp_ms,
        basis,
        scope,
        restricted,
    })
}

/// Resolves a key to its roster name and role, and for a rotated key, which of its person's
/// keys it is.
pub fn author(roster: &Roster, key: &PublicKey) -> Author {
    match roster.member(key) {
        Some(m) => {
            let place = roster.key_place(key);
            let name = place
                .as_ref()
                .and_then(|p| roster.member(&p.current))
                .map_or_else(|| m.name.clone(), |now| now.name.clone());
            Author {
                key: *key,
                name,
                role: Some(m.role),
                ai_model: m.ai_model.clone(),
                person: place.map(|p| PersonKey {
                    number: p.number,
                    keys: p.keys,
                    current: p.current,
                    rotated_ms: p.introduced.as_ref().map(|r| r.at_ms),
                    replaced_lost_key: p.introduced.as_ref().is_some_and(|r| !r.consented),
                    retired_ms: p.replaced.as_ref().map(|r| r.at_ms),
                }),
            }
        }
        None => Author {
            key: *key,
            name: "unknown author".into(),
            role: None,
            ai_model: None,
            person: None,
        },
    }
}

fn section_of(e: &LogEntry) -> Option<String> {
    match &e.payload {
        Some(Payload::Write(w)) => Some(w.section.clone()),
        Some(Payload::Cosign(c)) => Some(c.section.clone()),
        _ => None,
    }
}

impl ReportLog {
    /// Projects the log. `status` gives each entry's verification state (from whoever holds the
    /// bytes); an authentic entry the rules refuse shows as refused and counts for nothing.
    pub fn project(&self, roster: &Roster, status: impl Fn(&EntryId) -> EntryStatus) -> ReportView {
        let ordered = self.ordered();
        // One roster lookup per author, not per entry.
        let mut authors: std::collections::HashMap<
            [u8; 32],
            Author,
            std::hash::BuildHasherDefault<countersign_ledger::IdHasher>,
        > = Default::default();
        for e in &ordered {
            authors
                .entry(*e.author.as_bytes())
                .or_insert_with(|| author(roster, &e.author));
        }
        let who = |k: &PublicKey| {
            authors
                .get(k.as_bytes())
                .cloned()
                .unwrap_or_else(|| author(roster, k))
        };
        let accepted = |id: &EntryId| self.standing(id).is_some_and(Standing::is_accepted);
        // Once erased, an entry's content is gone on every home, whatever bytes one of them
        // still holds for another reason (the same payload another report also names, stored
        // once): two homes holding the same entries show the same statuses.
        let erased = self.erasure().is_some();
        let erased_kind = |id: &EntryId| {
            erased
                && self
                    .get(id)
                    .is_some_and(|e| !crate::log::is_data_protection(e.kind))
        };
        let status_of = |id: &EntryId| match (status(id), self.standing(id)) {
            (EntryStatus::Verified | EntryStatus::Erased, Some(Standing::Refused(e))) => {
                EntryStatus::Refused {
                    code: e.code().to_string(),
                    reason: e.to_string(),
                }
            }
            (EntryStatus::Verified, _) if erased_kind(id) => EntryStatus::Erased,
            (s, _) => s,
        };
        let mut sections: Vec<SectionView> = self
            .template()
            .sections
            .iter()
            .map(|d| SectionView {
                name: d.name.to_string(),
                title: d.title.to_string(),
                text: None,
                cosign_role: d.cosign_role,
                required: d.required,
                fields: d
                    .fields
                    .iter()
                    .map(|f| FieldView {
                        def: f.clone(),
                        value: None,
                        display: None,
                    })
                    .collect(),
                versions: Vec::new(),
                current: None,
                signed_off_version: None,
                conflicting_versions: Vec::new(),
                concurrent: false,
            })
            .collect();
        let index: HashMap<String, usize> = sections
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), i))
            .collect();
        let in_force = self.finals_in_force(|_| true);
        let mut signoffs: Vec<SignoffView> = Vec::new();
        let mut refused_signoffs: Vec<SignoffView> = Vec::new();
        let mut resolutions = Vec::new();
        let mut addenda = Vec::new();
        let mut measurements = Vec::new();
        let mut critical = Vec::new();
        let mut followups: Vec<FollowupView> = Vec::new();
        let mut reads = Vec::new();
        let mut ai: Vec<AiView> = Vec::new();
        let mut provenance = Vec::with_capacity(ordered.len());
        let (creator, created_ms) = self.created();
        for e in &ordered {
            provenance.push(ProvenanceItem {
                entry: e.id,
                kind: e.kind,
                author: who(&e.author),
                seq: e.seq,
                time_ms: e.timestamp_ms,
                parents: e.parents.clone(),
                section: section_of(e),
                status: status_of(&e.id),
                macros: match &e.payload {
                    Some(Payload::Write(w)) => w.macros.clone(),
                    _ => Vec::new(),
                },
            });
            if !accepted(&e.id) {
                if let Some(Payload::Status(s)) = &e.payload {
                    if s.status == Status::Final {
                        refused_signoffs.push(SignoffView {
                            entry: e.id,
                            author: who(&e.author),
                            time_ms: e.timestamp_ms,
                            status: status_of(&e.id),
                            sections: s.sections.clone(),
                            in_force: false,
                        });
                    }
                }
                continue;
            }
            match &e.payload {
                Some(Payload::Write(w)) => {
                    if let Some(&i) = index.get(&w.section) {
                        sections[i].versions.push(VersionView {
                            entry: e.id,
                            author: who(&e.author),
                            time_ms: e.timestamp_ms,
                            text: Some(w.text.clone()),
                            fields: w.fields.clone(),
                            status: status_of(&e.id),
                            cosigns: Vec::new(),
                            macros: w.macros.clone(),
                            links: w.links.clone(),
                        });
                    }
                }
                Some(Payload::Cosign(c)) => {
                    let version = index.get(&c.section).and_then(|&i| {
                        sections[i]
                            .versions
                            .iter_mut()
                            .find(|v| v.entry == c.version)
                    });
                    if let Some(v) = version {
                        v.cosigns.push(CosignView {
                            entry: e.id,
                            author: who(&e.author),
                            time_ms: e.timestamp_ms,
                            status: status_of(&e.id),
                        });
                    }
                }
                Some(Payload::Status(s)) if s.status == Status::Final => {
                    signoffs.push(SignoffView {
                        entry: e.id,
                        author: who(&e.author),
                        time_ms: e.timestamp_ms,
                        status: status_of(&e.id),
                        sections: s.sections.clone(),
                        in_force: in_force.contains(&e.id),
                    })
                }
                Some(Payload::Resolve(r)) => resolutions.push(ResolutionView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    keep: r.keep,
                    note: r.note.clone(),
                    status: status_of(&e.id),
                }),
                Some(Payload::Addendum(a)) => addenda.push(AddendumView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    text: Some(a.text.clone()),
                    status: status_of(&e.id),
                }),
                Some(Payload::Measurement(m)) => measurements.push(MeasurementView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    measurement: m.clone(),
                    status: status_of(&e.id),
                }),
                Some(Payload::Critical(c)) => critical.push(CriticalView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    critical: c.clone(),
                    status: status_of(&e.id),
                }),
                Some(Payload::Followup(f)) => followups.push(FollowupView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    finding: f.finding.clone(),
                    due: f.due.clone(),
                    closed: None,
                    status: status_of(&e.id),
                }),
                Some(Payload::AiResult(r)) => ai.push(AiView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    result: r.clone(),
                    received: None,
                    review: None,
                    status: status_of(&e.id),
                }),
                Some(Payload::AiReceived(r)) => {
                    let attester = who(&e.author);
                    ai.push(AiView {
                        entry: e.id,
                        time_ms: e.timestamp_ms,
                        result: r.as_result(),
                        received: Some(ReceivedView {
                            statement: r.statement(&attester.name),
                            source: r.device_words(),
                            attestation: (**r).clone(),
                        }),
                        author: attester,
                        review: None,
                        status: status_of(&e.id),
                    })
                }
                Some(Payload::AiReview(r)) => {
                    if let Some(a) = ai.iter_mut().find(|a| a.entry == r.result) {
                        a.review = Some(AiReviewView {
                            entry: e.id,
                            reviewer: who(&e.author),
                            time_ms: e.timestamp_ms,
                            decision: r.decision,
                            comment: r.comment.clone(),
                            text: r.text.clone(),
                            status: status_of(&e.id),
                        });
                    }
                }
                Some(Payload::View(v)) => reads.push(ReadView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    sections: v.sections.clone(),
                    status: status_of(&e.id),
                }),
                // Entries come in causal order, so the recommendation is already listed.
                Some(Payload::FollowupClose(c)) => {
                    if let Some(f) = followups.iter_mut().find(|f| f.entry == c.followup) {
                        f.closed = Some(FollowupClosedView {
                            entry: e.id,
                            author: who(&e.author),
                            time_ms: e.timestamp_ms,
                            study: c.study.clone(),
                        });
                    }
                }
                // An erased addendum still shows who wrote it when, without the text.
                None if e.kind == Kind::AddendumWrite => addenda.push(AddendumView {
                    entry: e.id,
                    author: who(&e.author),
                    time_ms: e.timestamp_ms,
                    text: None,
                    status: status_of(&e.id),
                }),
                _ => {}
            }
        }
        let force: Vec<&SignoffView> = signoffs.iter().filter(|s| s.in_force).collect();
        for s in &mut sections {
            // What the report reads as: the version the sign-off in force covers (the text a
            // final covered never changes); in a conflict, the version all sign-offs in force
            // agree on, if they do; before sign-off, the newest accepted version.
            let covered: Vec<EntryId> = {
                let mut v: Vec<EntryId> = force
                    .iter()
                    .filter_map(|f| f.sections.get(&s.name).copied())
                    .collect();
                v.sort();
                v.dedup();
                v
            };
            let chosen = if force.is_empty() {
                let latest = self.latest_versions(&s.name, |id| accepted(id));
                s.concurrent = latest.len() > 1;
                latest.first().copied()
            } else if covered.len() == 1 {
                if force.len() == 1 {
                    s.signed_off_version = Some(covered[0]);
                }
                Some(covered[0])
            } else {
                if covered.len() > 1 {
                    s.conflicting_versions = covered;
                }
                None
            };
            s.current = chosen;
            let current = chosen.and_then(|v| s.versions.iter().find(|x| x.entry == v));
            s.text = current.and_then(|v| v.text.clone());
            for f in &mut s.fields {
                f.value = current.and_then(|v| v.fields.get(&f.def.name).cloned());
                f.display = f.value.as_deref().map(|v| f.def.display(v));
            }
        }
        let signoff = match force.as_slice() {
            [one] => Some((*one).clone()),
            _ => None,
        };
        // The same function the report list's rows are computed by.
        let status = self.state(roster);
        let mut view = ReportView {
            report: self.id(),
            study: self.binding().0.to_string(),
            template: self.template().name.clone(),
            template_title: self.template().title.clone(),
            images: self.binding().1.to_vec(),
            status,
            created_by: who(&creator),
            created_ms,
            sections,
            signoff,
            signoffs,
            refused_signoffs,
            resolutions,
            addenda,
            measurements,
            critical,
            followups,
            reads,
            ai,
            heads: self.heads(),
            version_heads: self.version_heads(),
            provenance,
            split_views: Vec::new(),
            erasure: self.erasure().and_then(|e| note(e, &who)),
            unreadable: self.unreadable() && self.erasure().is_none(),
            locked: false,
            sealed: matches!(self.sealing(), crate::Sealing::Sealed { .. }),
            restriction: self.restricted().and_then(|e| note(e, &who)),
            restrictions: self
                .ordered()
                .into_iter()
                .filter(|e| e.kind == Kind::ReportRestrict)
                .filter(|e| self.standing(&e.id).is_some_and(Standing::is_accepted))
                .filter_map(|e| note(e, &who))
                .collect(),
            moves: self
                .moves()
                .into_iter()
                .filter_map(|(e, from)| match &e.payload {
                    Some(Payload::Move(m)) => Some(MoveNote {
                        entry: e.id,
                        by: who(&e.author),
                        time_ms: e.timestamp_ms,
                        from,
                        to: m.study.clone(),
                        reason: m.reason.clone(),
                    }),
                    _ => None,
                })
                .collect(),
            deliveries: Vec::new(),
            rejections: Vec::new(),
        };
        for e in self.ordered() {
            if !self.standing(&e.id).is_some_and(Standing::is_accepted) {
                continue;
            }
            if let Some(Payload::Delivered(d)) = &e.payload {
                let note = DeliveryNote {
                    entry: e.id,
                    by: who(&e.author),
                    time_ms: e.timestamp_ms,
                    archive: d.archive.clone(),
                    version: d.version,
                    study: d.study.clone(),
                    sop_instances: d.instances.iter().map(|i| i.sop_instance.clone()).collect(),
                    rejection_note: d.rejection_note.clone(),
                };
                if note.rejection_note.is_some() {
                    view.rejections.push(note);
                } else {
                    view.deliveries.push(note);
                }
            }
        }
        if view.restriction.is_some() {
            view.withhold_content();
        }
        view
    }
}
