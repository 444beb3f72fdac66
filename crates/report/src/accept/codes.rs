//! Why an entry is refused, with the stable code of every rule. The codes are the contract with
//! scripts, audits and the UI: the CLI prints them in `--json` errors, the desktop shows them,
//! `verify` lists them. [`REJECTION_CODES`] is the documented list (the README's table is
//! checked against it by a test).

use countersign_ledger::rules::RuleError;
use countersign_ledger::{AuthorityError, EntryError, LogId, RosterError};

use crate::log::ReportRuleError;

/// Why an entry is refused — not storable, or (for a local write) not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Rule(#[from] RuleError),
    #[error(transparent)]
    Report(#[from] ReportRuleError),
    #[error("the payload is missing")]
    PayloadMissing,
    #[error("log {log} is not known here (its first entry has not arrived)")]
    UnknownLog { log: LogId },
    #[error("this home does not belong to a network yet; import the department's roster first")]
    NoNetwork,
}

impl Rejection {
    /// The stable code of the rule that refused the entry.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Rule(e) => e.code(),
            Rejection::Report(e) => e.code(),
            Rejection::PayloadMissing => "payload_missing",
            Rejection::UnknownLog { .. } => "unknown_log",
            Rejection::NoNetwork => "no_network",
        }
    }

    /// Whether the entry may be accepted once something it depends on arrives (its parents,
    /// its log, the network, its author's admission, its template's publication): a reason to
    /// wait, not to refuse.
    pub fn waits_for_dependency(&self) -> bool {
        matches!(
            self,
            Rejection::NoNetwork
                | Rejection::UnknownLog { .. }
                | Rejection::Rule(RuleError::UnknownParent { .. })
                | Rejection::Rule(RuleError::Authority(AuthorityError::UnknownAuthor { .. }))
                | Rejection::Report(ReportRuleError::UnknownTemplate { .. })
        )
    }
}

impl Rejection {
    /// Whether the entry's own bytes contradict it (a malformed header, a signature or
    /// payload that does not match, another network's entry): no honest peer stores such an
    /// entry, so one that sends it is cut off. Every other refusal depends on what the
    /// receiver knows (a revocation, an admission, a publication) and a peer that saw less
    /// could have stored the entry honestly: that entry is quarantined and the rest flows.
    pub fn proves_sender_misbehaved(&self) -> bool {
        matches!(
            self,
            Rejection::Rule(
                RuleError::Entry(_)
                    | RuleError::PayloadLength { .. }
                    | RuleError::PayloadHash { .. }
                    | RuleError::WrongNetwork { .. }
            )
        )
    }
}

impl From<AuthorityError> for Rejection {
    fn from(e: AuthorityError) -> Self {
        Rejection::Rule(RuleError::Authority(e))
    }
}

impl From<RosterError> for Rejection {
    fn from(e: RosterError) -> Self {
        Rejection::Rule(RuleError::Roster(Box::new(e)))
    }
}

impl From<EntryError> for Rejection {
    fn from(e: EntryError) -> Self {
        Rejection::Rule(RuleError::Entry(e))
    }
}

/// Every rejection code, with what it means. Grouped as the README lists them.
pub const REJECTION_CODES: &[(&str, &str)] = &[
    // Authenticity and shape: never stored.
    (
        "malformed_header",
        "the header bytes are not a canonical v1 header",
    ),
    (
        "bad_signature",
        "the signature does not verify (verify_strict) for the header's author",
    ),
    (
        "author_mismatch",
        "signed by a key that is not the header's author",
    ),
    (
        "signing_failed",
        "the signer (a token, an agent) made no signature (never a received entry's code)",
    ),
    (
        "payload_length",
        "the payload's length is not the one the header commits to",
    ),
    (
        "payload_hash",
        "the payload's SHA-256 is not the one the header commits to",
    ),
    ("payload_missing", "the payload did not come with the entry"),
    ("bad_payload", "the payload does not parse as its kind says"),
    (
        "text_too_long",
        "a section's or an addendum's text is longer than 64 KiB (65 536 bytes)",
    ),
    (
        "wrong_network",
        "the entry belongs to another department network",
    ),
    ("no_network", "this home has not joined a network yet"),
    ("genesis_with_log", "a genesis entry names a log"),
    ("genesis_with_parents", "a genesis entry names parents"),
    ("genesis_seq", "a genesis entry's sequence is not 1"),
    ("genesis_with_network", "a network genesis names a network"),
    ("no_parents", "a non-genesis entry names no parents"),
    (
        "wrong_log_family",
        "a roster kind in a report log, or a report kind in the roster log",
    ),
    ("unknown_log", "the log's first entry has not arrived"),
    ("unknown_parent", "a parent has not arrived"),
    ("parent_in_other_log", "a parent belongs to another log"),
    (
        "chain_broken",
        "the author's previous entry in this log is not in the entry's past",
    ),
    (
        "too_many_authors",
        "the log already has the most authors a log may have",
    ),
    (
        "timestamp_before_parent",
        "dated before a parent by more than 5 minutes",
    ),
    ("bad_structure", "the report log cannot take the entry"),
    ("unknown_author", "the author was never on the roster"),
    (
        "unknown_template",
        "no built-in or published template has the content hash named",
    ),
    (
        "template_mismatch",
        "the template named is not the one the content hash names",
    ),
    (
        "builtin_template_name",
        "a template may not be published under a built-in name",
    ),
    ("bad_template", "the template is not valid"),
    (
        "builtin_macro_name",
        "an AutoText macro may not be published under a built-in name",
    ),
    ("bad_macro", "the published AutoText macro is not valid"),
    (
        "roster_too_large",
        "the roster log holds the most entries it may",
    ),
    // Authority: stored, refused (they do not count).
    (
        "revoked",
        "the author was revoked and the entry is outside the frontier the revocation vouches for",
    ),
    (
        "frozen",
        "the author equivocated in this log at or before this position",
    ),
    (
        "rotated",
        "the author's key was rotated to a new key and the entry is outside the frontier the rotation vouches for",
    ),
    (
        "role_may_not_write",
        "the author's role (for this entry) may not write this kind",
    ),
    (
        "not_admin",
        "the author is not an admin in this entry's past",
    ),
    (
        "may_not_create_reports",
        "the network's policy does not let this role create reports",
    ),
    (
        "not_senior",
        "an admin may be revoked, demoted, changed or have a change amended only by a more senior admin",
    ),
    (
        "self_removal",
        "an admin cannot revoke or demote themselves",
    ),
    (
        "key_revoked",
        "a revoked (or rotated) key is never admitted, changed or rotated again",
    ),
    (
        "rotation_signature",
        "a rotation's consent by the old key or proof of possession by the new key does not verify (verify_strict) for this network and these keys, or its keys are the same",
    ),
    (
        "rotation_unknown_key",
        "the key rotated was not admitted in the rotation's past",
    ),
    (
        "rotation_key_known",
        "a roster entry in the rotation's past already names its new key",
    ),
    (
        "rotation_contested",
        "a removal of the old key that the rotation had not seen stands",
    ),
    (
        "nothing_to_readmit",
        "a readmission amends a revocation, or a role change that took authority away, of the key in its past",
    ),
    (
        "readmit_roster_entry",
        "roster entries are signed again, not readmitted",
    ),
    (
        "genesis_not_by_founder",
        "the network genesis is not signed by its founder",
    ),
    ("founder_not_admin", "the network's founder is not an admin"),
    (
        "not_a_roster_kind",
        "the kind does not belong in the roster log",
    ),
    (
        "template_not_accepted",
        "the report's published template does not take effect",
    ),
    (
        "report_refused",
        "the report itself (its report.create) is refused",
    ),
    // Report rules: stored, refused.
    ("unknown_section", "the template has no such section"),
    ("unknown_field", "the section has no such field"),
    ("field_value", "a field's value is not valid for its type"),
    ("field_missing", "a required field is empty at sign-off"),
    (
        "field_unfilled",
        "a section covered by the sign-off still holds a [field] of a macro it was built from",
    ),
    (
        "unknown_macro",
        "a section version names a macro neither built in nor published to the roster",
    ),
    (
        "macro_not_applicable",
        "a section version names a macro that does not apply to that section",
    ),
    ("empty_text", "a section version with no text and no fields"),
    (
        "section_missing",
        "a required section is not written at sign-off",
    ),
    (
        "coverage_mismatch",
        "the sign-off does not name each section's current version",
    ),
    (
        "cosign_missing",
        "a section lacks the signature of the role its template names",
    ),
    (
        "countersign_missing",
        "a resident's section lacks an attending's countersignature",
    ),
    (
        "self_cosign",
        "an author co-signed their own version: not a second signature",
    ),
    (
        "version_not_in_past",
        "the co-signed (or delivered) version is not an accepted entry in the past",
    ),
    (
        "not_a_version_of",
        "the co-signed entry is not a version of that section",
    ),
    (
        "not_a_signed_version",
        "a delivery names an entry that is not a final sign-off, addendum or resolution",
    ),
    (
        "delivered_other_study",
        "a delivery names a study the report is not about",
    ),
    (
        "rejected_study_not_left",
        "a rejection names a study the report was never moved away from",
    ),
    ("not_attending", "only an attending may finalise"),
    ("already_final", "a sign-off is already in the entry's past"),
    (
        "finalised",
        "only addenda (and communications about the report) follow sign-off",
    ),
    ("not_final", "an addendum needs a final report"),
    (
        "no_conflict",
        "a resolution needs two sign-offs in conflict in its past",
    ),
    (
        "not_a_conflicting_final",
        "a resolution must keep one of the sign-offs in conflict",
    ),
    (
        "self_resolve",
        "a resolution must not keep a sign-off its own author signed",
    ),
    ("unknown_image", "an image the report is not about"),
    (
        "not_granted",
        "an AI model writes only to a report it was granted",
    ),
    (
        "unknown_ai_result",
        "the review names no AI result in its past",
    ),
    (
        "already_reviewed",
        "the AI result was already reviewed in the entry's past",
    ),
    ("unreviewed_ai", "unreviewed AI output cannot be signed off"),
    (
        "unknown_followup",
        "the close names no follow-up recommendation in its past",
    ),
    ("followup_closed", "the follow-up was already closed"),
    ("other_log", "the entry belongs to another report"),
    (
        "report_erased",
        "the report was erased: only erasure and restriction may follow it",
    ),
    (
        "payload_not_held",
        "the entry's payload is not held and its report is not erased: it cannot be judged",
    ),
    (
        "sr_wrong_study",
        "an AI result received as DICOM SR is about another study than the report's",
    ),
    // Sealed payloads (see `payload::seal`).
    (
        "payload_not_sealed",
        "a clear payload in a report whose payloads are sealed under its data key",
    ),
    (
        "payload_wrongly_sealed",
        "a sealed payload where one in clear is required (erasure, restriction, or a report created before sealing)",
    ),
    (
        "seal_broken",
        "a sealed payload that does not open with its report's data key",
    ),
    (
        "seal_malformed",
        "a sealed payload shorter than its magic, nonce, tag and one byte, or longer than a record holds (checked with or without the key)",
    ),
    (
        "data_key_conflict",
        "a second, different data key offered for a report that has one",
    ),
    (
        "data_key_invalid",
        "a data key offered for a report that does not open its report.create",
    ),
    (
        "data_key_reused",
        "a data key offered for a report that is the key of another report this home holds",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use countersign_ledger::{Hash, Kind, Role};

    /// Only what an entry's own bytes contradict cuts a peer off: a revocation the sender had
    /// not heard of yet, or a parent it has not sent yet, never does.
    #[test]
    fn only_self_contradicting_entries_prove_the_sender_misbehaved() {
        let h = Hash::ZERO;
        let proof: Vec<Rejection> = vec![
            RuleError::PayloadHash {
                expected: h,
                found: Hash([1; 32]),
            }
            .into(),
            RuleError::PayloadLength {
                expected: 1,
                found: 2,
            }
            .into(),
            RuleError::WrongNetwork {
                expected: h,
                found: Hash([1; 32]),
            }
            .into(),
        ];
        for r in proof {
            assert!(r.proves_sender_misbehaved(), "{r}");
        }
        let judged: Vec<Rejection> = vec![
            AuthorityError::Revoked {
                author: "k".into(),
                revocation: h,
            }
            .into(),
            AuthorityError::UnknownAuthor { author: "k".into() }.into(),
            RuleError::UnknownParent { parent: h }.into(),
            RuleError::ChainBroken {
                expected: 2,
                found: 3,
            }
            .into(),
            Rejection::PayloadMissing,
        ];
        for r in judged {
            assert!(!r.proves_sender_misbehaved(), "{r}");
        }
    }

    /// One of every variant there is, so that a new one without a listed code fails here.
    fn every_rejection() -> Vec<Rejection> {
        let h = Hash::ZERO;
        let s = String::new;
        let mut all: Vec<Rejection> = vec![
            Rejection::PayloadMissing,
            Rejection::UnknownLog { log: h },
            Rejection::NoNetwork,
        ];
        let rules = [
            RuleError::Entry(EntryError::Decode(
                countersign_ledger::DecodeError::KindNotAscii,
            )),
            RuleError::Entry(EntryError::BadSignature { author: s() }),
            RuleError::Entry(EntryError::AuthorMismatch {
                key: s(),
                author: s(),
            }),
            RuleError::Entry(EntryError::Signing(countersign_ledger::SignError(s()))),
            RuleError::PayloadLength {
                expected: 0,
                found: 1,
            },
            RuleError::PayloadHash {
                expected: h,
                found: h,
            },
            RuleError::WrongNetwork {
                expected: h,
                found: h,
            },
            RuleError::GenesisWithLog,
            RuleError::GenesisWithParents,
            RuleError::GenesisSeq { found: 2 },
            RuleError::GenesisWithNetwork,
            RuleError::NoParents,
            RuleError::UnknownParent { parent: h },
            RuleError::ParentInOtherLog {
                parent: h,
                parent_log: h,
                log: h,
            },
            RuleError::WrongLogFamily {
                kind: Kind::View,
                family: countersign_ledger::LogFamily::Roster,
            },
            RuleError::ChainBroken {
                expected: 1,
                found: 2,
            },
            RuleError::TooManyAuthors { limit: 1 },
            RuleError::TimestampBeforeParent {
                parent: h,
                parent_ms: 1,
                found_ms: 0,
            },
        ];
        all.extend(rules.into_iter().map(Rejection::Rule));
        let authority = [
            AuthorityError::UnknownAuthor { author: s() },
            AuthorityError::Revoked {
                author: s(),
                revocation: h,
            },
            AuthorityError::KindNotAllowed {
                role: Role::Resident,
                kind: Kind::View,
            },
            AuthorityError::NotAdmin {
                author: s(),
                kind: Kind::View,
            },
            AuthorityError::MayNotCreateReports {
                role: Role::Reviewer,
                allowed: s(),
            },
            AuthorityError::Frozen {
                author: s(),
                seq: 1,
            },
            AuthorityError::Rotated {
                author: s(),
                new_key: s(),
                rotation: h,
            },
        ];
        all.extend(authority.into_iter().map(Rejection::from));
        let roster = [
            RosterError::BadPayload {
                kind: Kind::View,
                reason: s(),
            },
            RosterError::GenesisNotByFounder,
            RosterError::FounderNotAdmin,
            RosterError::NotARosterKind { kind: Kind::View },
            RosterError::NotSenior { target: s() },
            RosterError::SelfRemoval,
            RosterError::KeyRevoked {
                key: s(),
                revocation: h,
            },
            RosterError::NothingToReadmit { key: s() },
            RosterError::ReadmitRosterEntry,
            RosterError::TooLarge { found: 2, limit: 1 },
            RosterError::RotationSignature(countersign_ledger::rotation::RotationError::SameKey),
            RosterError::RotationUnknownKey { key: s() },
            RosterError::RotationKeyKnown { key: s() },
            RosterError::RotationContested {
                key: s(),
                removal: h,
            },
        ];
        all.extend(roster.into_iter().map(Rejection::from));
        use ReportRuleError::*;
        let report = [
            Structure(s()),
            UnknownTemplate {
                name: s(),
                hash: s(),
            },
            BuiltinTemplateName { name: s() },
            TemplateNotAccepted { publish: h },
            BadTemplate(crate::template::TemplateError::Invalid {
                line: None,
                message: s(),
            }),
            TemplateMismatch {
                named: s(),
                defined: s(),
            },
            ReportRefused,
            ReportErased { erasure: h },
            PayloadNotHeld,
            PayloadNotSealed {
                kind: Kind::SectionWrite,
            },
            PayloadWronglySealed {
                kind: Kind::PayloadErase,
            },
            SealBroken {
                kind: Kind::SectionWrite,
            },
            SealMalformed {
                kind: Kind::SectionWrite,
                len: 44,
            },
            DataKeyConflict { log: h },
            DataKeyInvalid { log: h },
            DataKeyReused { log: h },
            UnknownField {
                section: s(),
                field: s(),
            },
            FieldValue {
                section: s(),
                field: s(),
                reason: s(),
            },
            FieldMissing {
                section: s(),
                field: s(),
            },
            CountersignMissing {
                section: s(),
                role: Role::Attending,
            },
            UnknownSection {
                section: s(),
                template: s(),
            },
            EmptyText { section: s() },
            Finalised { final_entry: h },
            NotFinal,
            UnknownImage { image: s() },
            UnknownAiResult { result: h },
            AlreadyReviewed {
                result: h,
                review: h,
            },
            UnreviewedAi { result: h },
            NotGranted,
            UnknownFollowup { followup: h },
            FollowupClosed {
                followup: h,
                closed_by: h,
            },
            AlreadyFinal { final_entry: h },
            NotAttending { role: s() },
            VersionNotInPast { version: h },
            NotAVersionOf {
                version: h,
                section: s(),
            },
            NotASignedVersion { version: h },
            DeliveredOtherStudy {
                delivered: s(),
                report_study: s(),
            },
            RejectedStudyNotLeft { study: s() },
            SelfCosign,
            SectionMissing { section: s() },
            CoverageMismatch {
                section: s(),
                named: s(),
                expected: s(),
            },
            CosignMissing {
                section: s(),
                role: Role::Cardiologist,
            },
            NoConflict,
            NotAConflictingFinal { keep: h },
            SelfResolve { keep: h },
            OtherLog {
                expected: h,
                found: h,
            },
            ReceivedOtherStudy {
                sr_study: s(),
                report_study: s(),
            },
            UnknownMacro {
                name: s(),
                hash: s(),
            },
            MacroNotApplicable {
                name: s(),
                template: s(),
                section: s(),
            },
            FieldUnfilled {
                section: s(),
                title: s(),
                fields: vec![s()],
            },
            BadMacro(crate::macros::MacroError::Name {
                line: None,
                name: s(),
            }),
            BuiltinMacroName { name: s() },
            Payload(crate::payload::PayloadError {
                kind: Kind::View,
                reason: s(),
                fault: crate::payload::PayloadFault::Invalid,
            }),
            Payload(crate::payload::PayloadError {
                kind: Kind::SectionWrite,
                reason: s(),
                fault: crate::payload::PayloadFault::TextTooLong,
            }),
        ];
        all.extend(report.into_iter().map(Rejection::Report));
        all
    }

    #[test]
    fn every_rejection_has_a_listed_code_and_the_list_has_no_stray_or_repeat() {
        let listed: std::collections::HashSet<&str> =
            REJECTION_CODES.iter().map(|(c, _)| *c).collect();
        assert_eq!(
            listed.len(),
            REJECTION_CODES.len(),
            "a code is listed twice"
        );
        let used: std::collections::HashSet<&str> =
            every_rejection().iter().map(Rejection::code).collect();
        for code in &used {
            assert!(listed.contains(code), "{code} is not in REJECTION_CODES");
        }
        for code in &listed {
            assert!(
                used.contains(code),
                "{code} is listed but no rejection has it"
            );
        }
    }
}

#[cfg(test)]
mod readme {
    /// The README lists every code, so a reader's list is the code's list.
    #[test]
    fn the_readme_lists_every_rejection_code() {
        let readme = include_str!("../../../../README.md");
        for (code, _) in super::REJECTION_CODES {
            assert!(
                readme.contains(&format!("| `{code}` |")),
                "README.md does not list rejection code {code}"
            );
        }
    }
}
