//! [`ReportRuleError`]: why an entry breaks a report rule, each with its stable code and its
//! message. Apart from the rules themselves because it is the crate's public error (re-exported
//! as `countersign_report::ReportRuleError`), which every caller that shows or matches a
//! refusal reads without the rules.

use countersign_ledger::roster::AuthorityError;
use countersign_ledger::{EntryId, Kind, Role};

use crate::links::LinkError;
use crate::payload::PayloadError;
use crate::template::TemplateError;

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
    /// Free text with a character a reader does not see as signed (see
    /// [`crate::payload::text`]).
    #[error("{field} holds U+{code_point:04X} at byte {offset}: an invisible formatting or control character, with which the text can show otherwise than it is signed")]
    HiddenCharacter {
        field: String,
        offset: usize,
        code_point: u32,
    },
    /// An `ai.result` names another model or version than the roster gives its key for that
    /// entry.
    #[error("the AI result says it is {claimed}, but the roster names this key {}", roster.as_deref().unwrap_or("no model"))]
    AiModelMismatch {
        claimed: String,
        roster: Option<String>,
    },
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
            HiddenCharacter { .. } => "hidden_character",
            AiModelMismatch { .. } => "ai_model_mismatch",
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
