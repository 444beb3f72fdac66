//! The report rules: [`ReportLog::judge`] and the small checks it is made of. Each looks only at
//! the entry's causal past, and only at entries there that are themselves accepted.

use std::collections::BTreeMap;

use countersign_ledger::roster::AuthorityError;
use countersign_ledger::{EntryId, IdSet, Kind, Role, Roster};

use super::{Frozen, LogEntry, ReportLog, Standing, TemplateSource};
use crate::links::{self, LinkError};
use crate::payload::{Payload, PayloadError, Status};
use crate::template::{self, TemplateError};

/// Why an entry breaks a report rule. Every variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportRuleError {
    #[error(transparent)]
    Authority(#[from] AuthorityError),
    #[error(transparent)]
    Roster(countersign_ledger::RosterError),
    #[error(transparent)]
    Payload(#[from] PayloadError),
    #[error("the report's structure: {0}")]
    Structure(String),
    #[error(
        "no template {name:?} with content hash {hash} is built in or published to the roster"
    )]
    UnknownTemplate { name: String, hash: String },
    #[error("template {name:?} is built in; a template of that name cannot be published")]
    BuiltinTemplateName { name: String },
    #[error(
        "the report's template was published by entry {publish}, which the roster does not accept"
    )]
    TemplateNotAccepted { publish: EntryId },
    #[error("the report's template is not valid: {0}")]
    BadTemplate(#[from] TemplateError),
    #[error("the report names template {named:?} but its content hash is template {defined:?}'s")]
    TemplateMismatch { named: String, defined: String },
    #[error("the report itself (its report.create) is refused")]
    ReportRefused,
    #[error("section {section} has no field {field:?}")]
    UnknownField { section: String, field: String },
    #[error("field {field} of section {section}: {reason}")]
    FieldValue {
        section: String,
        field: String,
        reason: String,
    },
    #[error("field {field} of section {section} is required before final sign-off")]
    FieldMissing { section: String, field: String },
    #[error("section {section} was written by a resident; it needs a co-signature by a {role} before final sign-off")]
    CountersignMissing { section: String, role: Role },
    #[error("template {template} has no section {section:?}")]
    UnknownSection { section: String, template: String },
    #[error("section {section} text is empty")]
    EmptyText { section: String },
    #[error("the report was finalised by entry {final_entry}; only addenda may follow")]
    Finalised { final_entry: EntryId },
    #[error("an addendum needs a final report")]
    NotFinal,
    #[error("image {image} is not one of the images the report is about")]
    UnknownImage { image: String },
    #[error("entry {result} is not an AI result in this report's past")]
    UnknownAiResult { result: EntryId },
    #[error("AI result {result} was already reviewed by entry {review}")]
    AlreadyReviewed { result: EntryId, review: EntryId },
    #[error("AI result {result} has not been reviewed: unreviewed AI output cannot be signed off")]
    UnreviewedAi { result: EntryId },
    #[error(
        "the AI model was not granted this report (no access.grant for it in this entry's past)"
    )]
    NotGranted,
    #[error("entry {followup} is not a follow-up recommendation in this report's past")]
    UnknownFollowup { followup: EntryId },
    #[error("follow-up {followup} was already closed by entry {closed_by}")]
    FollowupClosed {
        followup: EntryId,
        closed_by: EntryId,
    },
    #[error("the report is already final (entry {final_entry})")]
    AlreadyFinal { final_entry: EntryId },
    #[error("only an attending may finalise; the author is {role}")]
    NotAttending { role: String },
    #[error("version {version} is not in the entry's causal past")]
    VersionNotInPast { version: EntryId },
    #[error("entry {version} is not a version of section {section}")]
    NotAVersionOf { version: EntryId, section: String },
    #[error("entry {version} is not a signed-off version of the report (a final sign-off, an addendum or a resolution)")]
    NotASignedVersion { version: EntryId },
    #[error("the delivery names study {delivered}, but the report is about study {report_study}")]
    DeliveredOtherStudy {
        delivered: String,
        report_study: String,
    },
    #[error("the rejection names study {study}, which the report had not been moved away from")]
    RejectedStudyNotLeft { study: String },
    #[error("an author cannot co-sign their own section version: it is not a second signature")]
    SelfCosign,
    #[error("section {section} has no text; it must be written before final sign-off")]
    SectionMissing { section: String },
    #[error(
        "final sign-off names {named} for section {section}, but its current version is {expected}"
    )]
    CoverageMismatch {
        section: String,
        named: String,
        expected: String,
    },
    #[error("section {section} needs a co-signature by a {role} before final sign-off")]
    CosignMissing { section: String, role: Role },
    #[error("there is no conflict between sign-offs in this entry's past to resolve")]
    NoConflict,
    #[error("entry {keep} is not one of the conflicting sign-offs in this entry's past")]
    NotAConflictingFinal { keep: EntryId },
    #[error("nobody keeps a sign-off they signed themselves: another attending must keep it")]
    SelfResolve { keep: EntryId },
    #[error("entry belongs to log {found}, not report {expected}")]
    OtherLog { expected: EntryId, found: EntryId },
    #[error("the report's personal data was erased by entry {erasure}; nothing more can be written to it but erasure and restriction")]
    ReportErased { erasure: EntryId },
    #[error(
        "the entry's payload is not held here, and the report is not erased: it cannot be judged"
    )]
    PayloadNotHeld,
    #[error("the {kind} payload is in clear, but this report's payloads are sealed under its data key: clear text here would survive an erasure")]
    PayloadNotSealed { kind: Kind },
    #[error("the {kind} payload is sealed where it must be in clear (an erasure or restriction, or an entry of a report created before payloads were sealed)")]
    PayloadWronglySealed { kind: Kind },
    #[error("the sealed {kind} payload does not open with its report's data key (forged, or sealed for another kind or report)")]
    SealBroken { kind: Kind },
    #[error("the sealed {kind} payload is {len} bytes: no envelope is (judged without the key)")]
    SealMalformed { kind: Kind, len: usize },
    #[error("a second, different data key was offered for report {log}: only the report's creator makes one")]
    DataKeyConflict { log: EntryId },
    #[error("the data key offered for report {log} does not open its report.create")]
    DataKeyInvalid { log: EntryId },
    #[error("the data key offered for report {log} is the key of another report this home holds")]
    DataKeyReused { log: EntryId },
    #[error("macro {name} (content hash {hash}) is neither built in nor published to the roster")]
    UnknownMacro { name: String, hash: String },
    #[error("macro {name} does not apply to section {section} of template {template}")]
    MacroNotApplicable {
        name: String,
        template: String,
        section: String,
    },
    #[error("{}", unfilled_message(title, fields))]
    FieldUnfilled {
        section: String,
        /// The section's title, as the radiologist reads it.
        title: String,
        /// The unfilled fields, in the order they appear (at least one).
        fields: Vec<String>,
    },
    #[error("the published macro is not valid: {0}")]
    BadMacro(crate::macros::MacroError),
    #[error("macro {name:?} is built in; a macro of that name cannot be published")]
    BuiltinMacroName { name: String },
    #[error("the received SR is about study {sr_study}, not the report's study {report_study}")]
    ReceivedOtherStudy {
        sr_study: String,
        report_study: String,
    },
    /// A section version's links to images (its own code per fault, see [`LinkError`]).
    #[error(transparent)]
    Link(#[from] LinkError),
}

impl ReportRuleError {
    /// The stable code scripts and audits match on (see the README's list).
    pub fn code(&self) -> &'static str {
        use ReportRuleError::*;
        match self {
            Authority(e) => e.code(),
            Roster(e) => e.code(),
            Payload(e) => e.code(),
            Structure(_) => "bad_structure",
            UnknownTemplate { .. } => "unknown_template",
            BuiltinTemplateName { .. } => "builtin_template_name",
            TemplateNotAccepted { .. } => "template_not_accepted",
            BadTemplate(_) => "bad_template",
            TemplateMismatch { .. } => "template_mismatch",
            ReportRefused => "report_refused",
            UnknownField { .. } => "unknown_field",
            FieldValue { .. } => "field_value",
            FieldMissing { .. } => "field_missing",
            CountersignMissing { .. } => "countersign_missing",
            UnknownSection { .. } => "unknown_section",
            EmptyText { .. } => "empty_text",
            Finalised { .. } => "finalised",
            NotFinal => "not_final",
            UnknownImage { .. } => "unknown_image",
            UnknownAiResult { .. } => "unknown_ai_result",
            AlreadyReviewed { .. } => "already_reviewed",
            UnreviewedAi { .. } => "unreviewed_ai",
            NotGranted => "not_granted",
            UnknownFollowup { .. } => "unknown_followup",
            FollowupClosed { .. } => "followup_closed",
            AlreadyFinal { .. } => "already_final",
            NotAttending { .. } => "not_attending",
            VersionNotInPast { .. } => "version_not_in_past",
            NotAVersionOf { .. } => "not_a_version_of",
            NotASignedVersion { .. } => "not_a_signed_version",
            DeliveredOtherStudy { .. } => "delivered_other_study",
            RejectedStudyNotLeft { .. } => "rejected_study_not_left",
            SelfCosign => "self_cosign",
            SectionMissing { .. } => "section_missing",
            CoverageMismatch { .. } => "coverage_mismatch",
            CosignMissing { .. } => "cosign_missing",
            NoConflict => "no_conflict",
            NotAConflictingFinal { .. } => "not_a_conflicting_final",
            SelfResolve { .. } => "self_resolve",
            OtherLog { .. } => "other_log",
            ReportErased { .. } => "report_erased",
            PayloadNotHeld => "payload_not_held",
            PayloadNotSealed { .. } => "payload_not_sealed",
            PayloadWronglySealed { .. } => "payload_wrongly_sealed",
            SealBroken { .. } => "seal_broken",
            SealMalformed { .. } => "seal_malformed",
            DataKeyConflict { .. } => "data_key_conflict",
            DataKeyInvalid { .. } => "data_key_invalid",
            DataKeyReused { .. } => "data_key_reused",
            ReceivedOtherStudy { .. } => "sr_wrong_study",
            Link(e) => e.code(),
            UnknownMacro { .. } => "unknown_macro",
            MacroNotApplicable { .. } => "macro_not_applicable",
            FieldUnfilled { .. } => "field_unfilled",
            BadMacro(_) => "bad_macro",
            BuiltinMacroName { .. } => "builtin_macro_name",
        }
    }
}

/// "Findings: [size] is not filled", or "Findings: [size] and [lobe] are not filled".
fn unfilled_message(title: &str, fields: &[String]) -> String {
    let named: Vec<String> = fields.iter().map(|f| format!("[{f}]")).collect();
    match named.as_slice() {
        [one] => format!("{title}: {one} is not filled"),
        [init @ .., last] => format!("{title}: {} and {last} are not filled", init.join(", ")),
        [] => format!("{title}: a field is not filled"),
    }
}

impl From<crate::macros::PublishError> for ReportRuleError {
    fn from(e: crate::macros::PublishError) -> Self {
        match e {
            crate::macros::PublishError::Payload(p) => ReportRuleError::Payload(p),
            crate::macros::PublishError::Macro(m) => ReportRuleError::BadMacro(m),
            crate::macros::PublishError::BuiltinName { name } => {
                ReportRuleError::BuiltinMacroName { name }
            }
        }
    }
}

/// Kinds that act on the patient's data rather than on the report's content.
pub(crate) fn is_data_protection(kind: Kind) -> bool {
    matches!(kind, Kind::PayloadErase | Kind::ReportRestrict)
}

impl ReportLog {
    /// The standing of `entry` given its accepted past, the roster and frozen authors.
    pub(super) fn judge(&self, entry: &LogEntry, roster: &Roster, frozen: &Frozen) -> Standing {
        match self.rules(entry, roster, frozen) {
            Ok(()) => Standing::Accepted,
            Err(e) => Standing::refused(e),
        }
    }

    /// The role the roster gives this entry's author for this very entry.
    pub(crate) fn role_of(&self, e: &LogEntry, roster: &Roster) -> Result<Role, AuthorityError> {
        roster
            .authority(&e.author, &self.id, &e.id, |vouched| {
                self.dag.in_past(&e.id, vouched)
            })
            .map(|a| a.role)
    }

    fn rules(&self, e: &LogEntry, roster: &Roster, frozen: &Frozen) -> Result<(), ReportRuleError> {
        if is_data_protection(e.kind) {
            // Erasure and restriction act on the patient's data, whatever became of the
            // report's content: a refused report holds personal data too, and a report
            // already erased may still be restricted or erased again.
            return self.data_protection_rules(e, roster, frozen);
        }
        // Nothing but erasure and restriction follows an erasure: causally, so that every
        // peer refuses the same entries whatever order they came in.
        if let Some(erasure) = self.erasure_in_past(&e.parents) {
            return Err(ReportRuleError::ReportErased { erasure });
        }
        if e.kind != Kind::ReportCreate && !self.is_accepted() {
            return Err(ReportRuleError::ReportRefused);
        }
        let role = self.author_may_write(e, roster, frozen)?;
        let Some(payload) = &e.payload else {
            // In an erased log every peer judges every entry by its header alone: the
            // payloads are gone everywhere. Anywhere else a missing payload means the rules
            // cannot run, and an entry they cannot judge does not count.
            // So does a home that holds a sealed report's ciphertext but not its key: it
            // proves who wrote what kind of entry when, not what the text said.
            return match self.erasure() {
                Some(_) => Ok(()),
                None if self.unreadable() => Ok(()),
                None => Err(ReportRuleError::PayloadNotHeld),
            };
        };
        // The entry's parents stand for its past.
        let parents = e.parents.as_slice();
        let final_in_past = self.final_in_past(parents);
        match payload {
            Payload::Create(_) => self.check_create(role, roster),
            Payload::Write(w) => {
                self.check_write(w)?;
                self.check_macros(w, roster)?;
                refuse_after_final(final_in_past)?;
                self.check_links(parents, w)
            }
            Payload::Cosign(c) => {
                self.known_section(&c.section)?;
                refuse_after_final(final_in_past)?;
                let version = self.version_in_past(parents, &c.section, &c.version)?;
                if version.author == e.author {
                    return Err(ReportRuleError::SelfCosign);
                }
                Ok(())
            }
            Payload::Status(s) => {
                if let Some(final_entry) = final_in_past {
                    return Err(ReportRuleError::AlreadyFinal { final_entry });
                }
                if s.status == Status::Final {
                    if role != Role::Attending {
                        return Err(ReportRuleError::NotAttending {
                            role: role.to_string(),
                        });
                    }
                    self.check_final_coverage(parents, &s.sections, roster)?;
                    self.check_ai_reviewed(parents)?;
                }
                self.check_filled(parents, &s.sections, roster)
            }
            Payload::Resolve(r) => self.check_resolve(parents, r.keep, &e.author),
            // A critical result or a follow-up may be recorded at any time, before or after
            // sign-off: it is a communication about the report, not a change to it.
            Payload::Critical(_) | Payload::Followup(_) => Ok(()),
            Payload::AiResult(r) => {
                self.known_section(&r.section)?;
                refuse_after_final(final_in_past)?;
                if !self.granted(&e.author, parents) {
                    return Err(ReportRuleError::NotGranted);
                }
                let images = self.binding_in_past(parents).1;
                match r
                    .inputs
                    .iter()
                    .find(|i| !images.is_empty() && !images.contains(i))
                {
                    Some(image) => Err(ReportRuleError::UnknownImage {
                        image: image.clone(),
                    }),
                    None => Ok(()),
                }
            }
            // Receipt of an SR is attested by a person, who reads every report: no grant. The
            // SR must be about this report's study.
            Payload::AiReceived(r) => {
                self.known_section(&r.section)?;
                refuse_after_final(final_in_past)?;
                let report_study = self.binding_in_past(parents).0;
                if r.study != report_study {
                    return Err(ReportRuleError::ReceivedOtherStudy {
                        sr_study: r.study.clone(),
                        report_study: report_study.to_string(),
                    });
                }
                Ok(())
            }
            Payload::AiReview(r) => {
                refuse_after_final(final_in_past)?;
                self.check_ai_review(parents, r.result)
            }
            // Reading is never refused, but what was read must be the template's sections.
            Payload::View(v) => v
                .sections
                .iter()
                .try_for_each(|s| self.known_section(s).map(|_| ())),
            Payload::FollowupClose(c) => self.check_followup_close(parents, c.followup),
            // Measurements annotate the report's own images; a signed report may get them too.
            Payload::Measurement(m) => {
                let images = self.binding_in_past(parents).1;
                if images.is_empty() || images.contains(&m.image) {
                    Ok(())
                } else {
                    Err(ReportRuleError::UnknownImage {
                        image: m.image.clone(),
                    })
                }
            }
            Payload::Addendum(_) => match final_in_past {
                Some(_) => Ok(()),
                None => Err(ReportRuleError::NotFinal),
            },
            // Who may read a report can change at any time, final or not.
            Payload::Access(_) => Ok(()),
            // Judged above, before anything that needs the report's content.
            Payload::Erase(_) | Payload::Restrict(_) => Ok(()),
            // A correction of whom the report is about: before or after sign-off (the roster
            // lets only an attending write it).
            Payload::Move(_) => Ok(()),
            // A delivery names the signed-off version it sent: one the sender had seen.
            Payload::Delivered(d) => {
                self.check_delivered(parents, &d.version)?;
                let report_study = self.binding_in_past(parents).0;
                if d.rejection_note.is_some() {
                    // A rejection withdraws the report from a study it was moved away from:
                    // one it was about earlier in the entry's past, and is not about now.
                    if d.study == report_study
                        || !self.studies_in_past(parents).contains(&&*d.study)
                    {
                        return Err(ReportRuleError::RejectedStudyNotLeft {
                            study: d.study.clone(),
                        });
                    }
                    return Ok(());
                }
                // Into the study the report is about at that point of its history.
                if d.study != report_study {
                    return Err(ReportRuleError::DeliveredOtherStudy {
                        delivered: d.study.clone(),
                        report_study: report_study.to_string(),
                    });
                }
                Ok(())
            }
            Payload::Other => refuse_after_final(final_in_past),
        }
    }

    /// The checks every entry's header passes: its author is not frozen here, and the roster
    /// lets their role write its kind. Returns the role.
    fn author_may_write(
        &self,
        e: &LogEntry,
        roster: &Roster,
        frozen: &Frozen,
    ) -> Result<Role, ReportRuleError> {
        if let Some(&seq) = frozen.get(&e.author).filter(|s| **s <= e.seq) {
            return Err(AuthorityError::Frozen {
                author: e.author.to_hex(),
                seq,
            }
            .into());
        }
        let authority = roster.authority(&e.author, &self.id, &e.id, |vouched| {
            self.dag.in_past(&e.id, vouched)
        })?;
        let role = authority.role;
        if !role.may_write(e.kind) {
            return Err(AuthorityError::KindNotAllowed { role, kind: e.kind }.into());
        }
        Ok(role)
    }

    /// `payload.erase` and `report.restrict`: an attending or a data-protection officer, with
    /// the payload held (it carries the legal basis, and is never erased) and valid.
    pub(super) fn data_protection_rules(
        &self,
        e: &LogEntry,
        roster: &Roster,
        frozen: &Frozen,
    ) -> Result<(), ReportRuleError> {
        self.author_may_write(e, roster, frozen)?;
        match &e.payload {
            Some(Payload::Erase(_) | Payload::Restrict(_)) => Ok(()),
            _ => Err(ReportRuleError::PayloadNotHeld),
        }
    }

    /// The report's creator may create reports under the network's policy, and its template
    /// is built in or published by a roster entry the roster accepts.
    fn check_create(&self, role: Role, roster: &Roster) -> Result<(), ReportRuleError> {
        let allowed = &roster.policy().report_creators;
        if !allowed.contains(&role) {
            return Err(AuthorityError::MayNotCreateReports {
                role,
                allowed: allowed
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
            .into());
        }
        match self.template_source() {
            TemplateSource::Builtin => Ok(()),
            TemplateSource::Published(publish) => match roster.status(&publish) {
                Some(Ok(())) => Ok(()),
                _ => Err(ReportRuleError::TemplateNotAccepted { publish }),
            },
        }
    }

    fn accepted_payload(&self, id: &EntryId) -> Option<&Payload> {
        self.entries.get(id).and_then(|e| e.payload.as_ref())
    }

    /// Whether an attending granted `model` this report in the past of `parents` and has not
    /// revoked it since.
    fn granted(&self, model: &countersign_ledger::PublicKey, parents: &[EntryId]) -> bool {
        self.access_granted(model, |id| self.in_past(id, parents))
    }

    /// Whether `member` may read this report now. (People on the roster read every report;
    /// this is what an AI model's node is sent.)
    pub fn reads_granted(&self, member: &countersign_ledger::PublicKey) -> bool {
        self.access_granted(member, |_| true)
    }

    /// Whether the latest of `member`'s accepted access changes that `within` admits — those
    /// no other such change has in its past — are all grants. Concurrent grant and revocation:
    /// not granted (an AI model's access is withheld until an attending settles it). Only the
    /// member's few changes are compared; no sort of the log.
    fn access_granted(
        &self,
        member: &countersign_ledger::PublicKey,
        within: impl Fn(&EntryId) -> bool,
    ) -> bool {
        let changes: Vec<EntryId> = self
            .index
            .access
            .iter()
            .filter(|id| within(id))
            .filter(|id| {
                matches!(self.accepted_payload(id), Some(Payload::Access(a)) if a.member == *member)
            })
            .copied()
            .collect();
        let mut latest = changes.iter().filter(|c| {
            !changes
                .iter()
                .any(|other| other != *c && self.dag.in_past(c, other))
        });
        let mut any = false;
        let all_grants = latest.all(|c| {
            any = true;
            self.entries
                .get(c)
                .is_some_and(|e| e.kind == Kind::AccessGrant)
        });
        any && all_grants
    }

    /// A review names an AI result in its past that no review in its past names.
    fn check_ai_review(&self, parents: &[EntryId], result: EntryId) -> Result<(), ReportRuleError> {
        let known = self.index.ai_results.contains(&result) && self.in_past(&result, parents);
        if !known {
            return Err(ReportRuleError::UnknownAiResult { result });
        }
        let earlier = self
            .index
            .ai_reviews
            .get(&result)
            .and_then(|rs| rs.iter().filter(|r| self.in_past(r, parents)).min());
        match earlier {
            Some(&review) => Err(ReportRuleError::AlreadyReviewed { result, review }),
            None => Ok(()),
        }
    }

    /// Sign-off needs every AI result in its past reviewed in its past.
    fn check_ai_reviewed(&self, parents: &[EntryId]) -> Result<(), ReportRuleError> {
        let unreviewed = self
            .index
            .ai_results
            .iter()
            .filter(|r| self.in_past(r, parents))
            .filter(|result| {
                !self
                    .index
                    .ai_reviews
                    .get(result)
                    .is_some_and(|rs| rs.iter().any(|r| self.in_past(r, parents)))
            })
            .min();
        match unreviewed {
            Some(result) => Err(ReportRuleError::UnreviewedAi { result: *result }),
            None => Ok(()),
        }
    }

    /// A close names a recommendation in its past that no close in its past names.
    fn check_followup_close(
        &self,
        parents: &[EntryId],
        followup: EntryId,
    ) -> Result<(), ReportRuleError> {
        if !(self.index.followups.contains(&followup) && self.in_past(&followup, parents)) {
            return Err(ReportRuleError::UnknownFollowup { followup });
        }
        let earlier = self
            .index
            .followup_closes
            .get(&followup)
            .and_then(|cs| cs.iter().filter(|c| self.in_past(c, parents)).min());
        match earlier {
            Some(&closed_by) => Err(ReportRuleError::FollowupClosed {
                followup,
                closed_by,
            }),
            None => Ok(()),
        }
    }

    /// A resolution names one of the sign-offs in conflict in its past, signed by someone
    /// else: the text that stands gets a second attending's signature, so one key (a stolen
    /// one) cannot both write a rival sign-off and settle the conflict in its favour.
    fn check_resolve(
        &self,
        parents: &[EntryId],
        keep: EntryId,
        resolver: &countersign_ledger::PublicKey,
    ) -> Result<(), ReportRuleError> {
        let in_force = self.finals_in_force(|id| self.in_past(id, parents));
        if in_force.len() < 2 {
            return Err(ReportRuleError::NoConflict);
        }
        if !in_force.contains(&keep) {
            return Err(ReportRuleError::NotAConflictingFinal { keep });
        }
        if self
            .entries
            .get(&keep)
            .is_some_and(|f| f.author == *resolver)
        {
            return Err(ReportRuleError::SelfResolve { keep });
        }
        Ok(())
    }

    /// The accepted finals (among those `within` admits) that no accepted resolution (among
    /// those `within` admits) superseded: one means final, more mean a conflict. A resolution
    /// supersedes every final in its past but the one it keeps; a resolution that another
    /// resolution has in its past is replaced by it.
    pub(crate) fn finals_in_force(&self, within: impl Fn(&EntryId) -> bool) -> Vec<EntryId> {
        let finals: Vec<EntryId> = self
            .index
            .finals
            .iter()
            .filter(|f| within(f))
            .copied()
            .collect();
        let resolves: Vec<EntryId> = self
            .index
            .resolves
            .iter()
            .filter(|r| within(r))
            .copied()
            .collect();
        let latest: Vec<EntryId> = resolves
            .iter()
            .filter(|r| {
                !resolves
                    .iter()
                    .any(|other| other != *r && self.dag.in_past(r, other))
            })
            .copied()
            .collect();
        let mut kept: Vec<EntryId> = Vec::new();
        let mut superseded = IdSet::default();
        for r in &latest {
            let Some(Payload::Resolve(p)) = self.accepted_payload(r) else {
                continue;
            };
            kept.push(p.keep);
            for f in finals
                .iter()
                .filter(|f| self.dag.in_past(f, r) && **f != p.keep)
            {
                superseded.insert(*f);
            }
        }
        let mut in_force: Vec<EntryId> = finals
            .into_iter()
            .filter(|f| !superseded.contains(f) || kept.contains(f))
            .collect();
        in_force.sort();
        in_force.dedup();
        in_force
    }

    fn known_section(&self, section: &str) -> Result<&template::SectionDef, ReportRuleError> {
        self.template
            .section(section)
            .ok_or_else(|| ReportRuleError::UnknownSection {
                section: section.to_string(),
                template: self.template.name.to_string(),
            })
    }

    /// A version of a section: a known section, some text or field values, and every value of
    /// a field the section has, valid for its type.
    fn check_write(&self, w: &crate::payload::SectionWrite) -> Result<(), ReportRuleError> {
        let def = self.known_section(&w.section)?;
        if w.text.trim().is_empty() && w.fields.is_empty() {
            return Err(ReportRuleError::EmptyText {
                section: w.section.clone(),
            });
        }
        for (name, value) in &w.fields {
            let field = def
                .field(name)
                .ok_or_else(|| ReportRuleError::UnknownField {
                    section: w.section.clone(),
                    field: name.clone(),
                })?;
            field
                .check_value(value)
                .map_err(|reason| ReportRuleError::FieldValue {
                    section: w.section.clone(),
                    field: name.clone(),
                    reason,
                })?;
        }
        Ok(())
    }

    /// `version` is an accepted final sign-off, addendum or resolution in the past of `parents`.
    fn check_delivered(
        &self,
        parents: &[EntryId],
        version: &EntryId,
    ) -> Result<(), ReportRuleError> {
        let accepted = self.standing(version).is_some_and(Standing::is_accepted);
        if !(accepted && self.in_past(version, parents)) {
            return Err(ReportRuleError::VersionNotInPast { version: *version });
        }
        match self.entries.get(version).and_then(|e| e.payload.as_ref()) {
            Some(Payload::Status(s)) if s.status == Status::Final => Ok(()),
            Some(Payload::Addendum(_) | Payload::Resolve(_)) => Ok(()),
            _ => Err(ReportRuleError::NotASignedVersion { version: *version }),
        }
    }

    /// The macros a write names are built in or published to the roster (name and content
    /// hash), and each applies to this section of this report's template. Judged against the
    /// roster the entries held resolve to, like a report's template: a write that reached a
    /// home before the macro's publication stands once the publication arrives.
    fn check_macros(
        &self,
        w: &crate::payload::SectionWrite,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        for r in &w.macros {
            let m =
                crate::macros::resolve(roster, r).ok_or_else(|| ReportRuleError::UnknownMacro {
                    name: r.name.clone(),
                    hash: r.hash.to_hex(),
                })?;
            if !m.applies_to(&self.template.name, &w.section) {
                return Err(ReportRuleError::MacroNotApplicable {
                    name: m.name,
                    template: self.template.name.clone(),
                    section: w.section.clone(),
                });
            }
        }
        Ok(())
    }

    /// A sign-off (final or preliminary) covers no section version whose text still holds a
    /// `[field]` of a macro that version names. It covers the versions it names, or — a
    /// preliminary naming none — the newest accepted versions in its past.
    fn check_filled(
        &self,
        parents: &[EntryId],
        named: &BTreeMap<String, EntryId>,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        let within = |id: &EntryId| self.in_past(id, parents);
        for def in &self.template.sections {
            let versions = match named.get(&def.name) {
                Some(v) => vec![*v],
                None if named.is_empty() => self.latest_versions(&def.name, within),
                None => continue,
            };
            for v in versions {
                let Some(Payload::Write(w)) = self.entries.get(&v).and_then(|e| e.payload.as_ref())
                else {
                    continue;
                };
                let refs = self.macros_in_force(&def.name, &v, w);
                let fields = crate::macros::unfilled_with(roster, &w.text, &refs);
                if !fields.is_empty() {
                    return Err(ReportRuleError::FieldUnfilled {
                        section: def.name.clone(),
                        title: def.title.clone(),
                        fields,
                    });
                }
            }
        }
        Ok(())
    }

    /// The macros section version `v` answers for: its own, and those of every earlier
    /// accepted version of the section in its past. A later version (a plain write, or one
    /// naming another macro) that leaves a macro's `[field]` in its text without naming the
    /// macro does not turn the field into literal text. Judged from the causal past alone.
    fn macros_in_force(
        &self,
        section: &str,
        v: &EntryId,
        w: &crate::payload::SectionWrite,
    ) -> Vec<crate::macros::MacroRef> {
        let mut refs = w.macros.clone();
        let earlier = self.index.versions.get(section).into_iter().flatten();
        for x in earlier.filter(|x| *x != v && self.dag.in_past(x, v)) {
            if let Some(Payload::Write(p)) = self.entries.get(x).and_then(|e| e.payload.as_ref()) {
                for r in &p.macros {
                    if !refs.contains(r) {
                        refs.push(r.clone());
                    }
                }
            }
        }
        refs
    }

    /// A version's links: well formed and all referred to by its text, each to one of the
    /// images the report is bound to in the entry's past (of its study), and a length to an
    /// accepted measurement in that past that it shows exactly.
    fn check_links(
        &self,
        parents: &[EntryId],
        w: &crate::payload::SectionWrite,
    ) -> Result<(), ReportRuleError> {
        links::check_shape(&w.section, &w.text, &w.links)?;
        if w.links.is_empty() {
            return Ok(());
        }
        let (study, images) = self.binding_in_past(parents);
        links::check_binding(&w.links, study, images)?;
        for l in &w.links {
            let Some(m) = l.measurement else { continue };
            let accepted =
                self.standing(&m).is_some_and(Standing::is_accepted) && self.in_past(&m, parents);
            let measurement = match self.accepted_payload(&m) {
                Some(Payload::Measurement(p)) if accepted => Some(p),
                _ => None,
            };
            links::check_measurement(l, measurement)?;
        }
        Ok(())
    }

    fn version_in_past(
        &self,
        parents: &[EntryId],
        section: &str,
        version: &EntryId,
    ) -> Result<&LogEntry, ReportRuleError> {
        let accepted = self.standing(version).is_some_and(Standing::is_accepted);
        if !(accepted && self.in_past(version, parents)) {
            return Err(ReportRuleError::VersionNotInPast { version: *version });
        }
        match self.entries.get(version) {
            Some(e) if matches!(&e.payload, Some(Payload::Write(w)) if w.section == section) => {
                Ok(e)
            }
            _ => Err(ReportRuleError::NotAVersionOf {
                version: *version,
                section: section.to_string(),
            }),
        }
    }

    /// The newest accepted versions of `section` among those `within` admits: those no other
    /// such version has in its past. Usually one; two or more when writers were concurrent,
    /// ordered by how much each saw (its causal depth), then by id — never by a timestamp.
    pub(crate) fn latest_versions(
        &self,
        section: &str,
        within: impl Fn(&EntryId) -> bool,
    ) -> Vec<EntryId> {
        let mut versions: Vec<(u64, EntryId)> = self
            .index
            .versions
            .get(section)
            .map(|v| {
                v.iter()
                    .filter(|id| within(id))
                    .map(|id| (self.dag.depth(id), *id))
                    .collect()
            })
            .unwrap_or_default();
        versions.sort_unstable_by(|a, b| b.cmp(a));
        let mut latest: Vec<EntryId> = Vec::new();
        for (_, v) in versions {
            if !latest.iter().any(|l| self.dag.in_past(&v, l)) {
                latest.push(v);
            }
        }
        latest
    }

    fn check_final_coverage(
        &self,
        parents: &[EntryId],
        named: &BTreeMap<String, EntryId>,
        roster: &Roster,
    ) -> Result<(), ReportRuleError> {
        for name in named.keys() {
            self.known_section(name)?;
        }
        let within = |id: &EntryId| self.in_past(id, parents);
        for def in &self.template.sections {
            let latest = self.latest_versions(&def.name, within);
            if latest.is_empty() && !named.contains_key(&def.name) {
                if def.required {
                    return Err(ReportRuleError::SectionMissing {
                        section: def.name.to_string(),
                    });
                }
                // An optional section nobody wrote is simply not in the report.
                continue;
            }
            let covered = named.get(&def.name).copied();
            let Some(version) = covered.filter(|v| latest.contains(v)) else {
                return Err(ReportRuleError::CoverageMismatch {
                    section: def.name.to_string(),
                    named: covered.map_or("nothing".into(), |v| v.to_hex()),
                    expected: latest
                        .iter()
                        .map(|v| v.to_hex())
                        .collect::<Vec<_>>()
                        .join(" or "),
                });
            };
            let Some(written) = self.entries.get(&version) else {
                continue;
            };
            let written_role = self.role_of(written, roster).ok();
            // A role's signature on the version: its own author in that role, or an accepted
            // co-signature in the past by someone else in that role.
            let signed_by = |role: Role| {
                written_role == Some(role)
                    || self.index.cosigns.get(&version).is_some_and(|cs| {
                        cs.iter().filter(|c| within(c)).any(|c| {
                            self.entries
                                .get(c)
                                .is_some_and(|c| self.role_of(c, roster).ok() == Some(role))
                        })
                    })
            };
            if let Some(role) = def.cosign_role {
                if !signed_by(role) {
                    return Err(ReportRuleError::CosignMissing {
                        section: def.name.to_string(),
                        role,
                    });
                }
            }
            if let Some(role) = self.template.resident_countersign {
                // The resident's own signature is not the attending's.
                let countersigned = self.index.cosigns.get(&version).is_some_and(|cs| {
                    cs.iter().filter(|c| within(c)).any(|c| {
                        self.entries
                            .get(c)
                            .is_some_and(|c| self.role_of(c, roster).ok() == Some(role))
                    })
                });
                if written_role == Some(Role::Resident) && !countersigned {
                    return Err(ReportRuleError::CountersignMissing {
                        section: def.name.to_string(),
                        role,
                    });
                }
            }
            if let Some(Payload::Write(w)) = written.payload.as_ref() {
                if let Some(f) = def
                    .fields
                    .iter()
                    .find(|f| f.required && !w.fields.contains_key(&f.name))
                {
                    return Err(ReportRuleError::FieldMissing {
                        section: def.name.to_string(),
                        field: f.name.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

fn refuse_after_final(final_in_past: Option<EntryId>) -> Result<(), ReportRuleError> {
    match final_in_past {
        Some(final_entry) => Err(ReportRuleError::Finalised { final_entry }),
        None => Ok(()),
    }
}
