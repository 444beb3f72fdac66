//! The table of rejection codes: every code with what it means, as the README lists them.

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
        "hidden_character",
        "free text (a section, field, addendum, AI text or comment, critical result, follow-up, note) holds a bidi, invisible formatting or control character (a line feed, carriage return or tab is allowed where text has lines)",
    ),
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
        "ai_model_mismatch",
        "an AI result names another model or version than the roster gives its key for that entry",
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
