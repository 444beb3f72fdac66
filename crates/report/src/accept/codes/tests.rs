//! Every rejection has a listed code, and which ones prove the sender misbehaved.

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
        RuleError::Entry(EntryError::Signing(countersign_ledger::SignError::Failed(
            s(),
        ))),
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
        HiddenCharacter {
            field: s(),
            offset: 0,
            code_point: 0x202e,
        },
        AiModelMismatch {
            claimed: s(),
            roster: None,
        },
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
    let listed: std::collections::HashSet<&str> = REJECTION_CODES.iter().map(|(c, _)| *c).collect();
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
