//! The words an exported document says of a report's parts: who (an author, as they signed),
//! states, refusals and conflicts, AI drafts, critical results and figure captions — shared by
//! the document, the SR and the FHIR and audit exports. Split from `document` (the blocks in
//! their order) so that each reads in one sitting.

use countersign_ledger::EntryId;
use countersign_report::payload::Decision;
use countersign_report::{
    Author, EntryStatus, ReportState, ReportView, SectionView, SignoffView, VersionView,
};

use crate::time::readable;
/// "[fig 1] 12.3 mm — length on image 3f2a…, frame 1": what a reader reads of a link.
pub(crate) fn figure_caption(l: &countersign_report::links::ImageLink) -> String {
    let label = if l.label.is_empty() || l.label == l.kind.word() {
        String::new()
    } else {
        format!("{} — ", l.label)
    };
    format!(
        "{} {label}{} on image {}…, frame {}",
        l.marker(),
        l.kind.word(),
        &l.image[..l.image.len().min(12)],
        u64::from(l.frame) + 1
    )
}

/// "Dr Ada Attending (attending)" or "SoftTissue 2.1 by Countersign Labs (AI model)"; a person
/// renamed since they signed, "Dr Ada Jones (attending; signed as Dr Ada Smith)", and any other
/// name the roster gave the key, "…; formerly Dr A Smith".
pub(crate) fn who(a: &Author) -> String {
    let mut then = a
        .name_then
        .as_ref()
        .map_or(String::new(), |n| format!("; signed as {n}"));
    if !a.formerly.is_empty() {
        then.push_str(&format!("; formerly {}", a.formerly.join(", ")));
    }
    let shown = match (&a.ai_model, a.role) {
        (Some(m), _) => format!("{} {} by {} (AI model{then})", m.model, m.version, m.vendor),
        (None, Some(r)) => format!("{} ({r}{then})", a.name),
        (None, None) => format!("{} (not on the roster)", a.name),
    };
    // Whatever the roster entry says: one line (see `crate::text::one_line`).
    crate::text::one_line(&shown).into_owned()
}

/// An author's name where a sentence names them ("accepted by …"): the name now, with the name
/// they signed under and any other the roster gave the key, as [`who`] says them; one line.
pub(crate) fn named(a: &Author) -> String {
    let mut out = a.name.clone();
    if let Some(then) = &a.name_then {
        out.push_str(&format!(" (signed as {then})"));
    }
    if !a.formerly.is_empty() {
        out.push_str(&format!(" (formerly {})", a.formerly.join(", ")));
    }
    crate::text::one_line(&out).into_owned()
}

pub(crate) fn state_word(s: ReportState) -> &'static str {
    match s {
        ReportState::Draft => "DRAFT",
        ReportState::Preliminary => "PRELIMINARY",
        ReportState::Final => "FINAL",
        ReportState::Amended => "FINAL, AMENDED",
        ReportState::Conflict => "CONFLICT: TWO SIGN-OFFS DISAGREE",
        ReportState::Refused => "REFUSED",
        ReportState::Withdrawn => "SIGN-OFF WITHDRAWN: NO SIGN-OFF STANDS",
        ReportState::Erased => "ERASED: THE PERSONAL DATA IS DESTROYED",
    }
}

/// "erased on DATE by NAME (role) — basis": what every export says of an erased entry.
pub(crate) fn erased_words(n: &countersign_report::DataProtectionNote) -> String {
    format!(
        "erased on {} by {} ({})",
        crate::time::date(n.time_ms),
        who(&n.by),
        crate::text::one_line(&n.basis)
    )
}

/// An entry's status in words; an erased entry's names its erasure when the report has one.
pub(crate) fn status_word(
    s: &EntryStatus,
    erasure: Option<&countersign_report::DataProtectionNote>,
) -> String {
    match s {
        EntryStatus::Verified => "verified".into(),
        EntryStatus::Fork => "FORK EVIDENCE".into(),
        EntryStatus::Erased => match erasure {
            Some(n) => format!("signature verified, payload {}", erased_words(n)),
            None => "payload erased".into(),
        },
        EntryStatus::Invalid { reason } => format!("INVALID: {reason}"),
        EntryStatus::Refused { code, .. } => format!("REFUSED ({code})"),
    }
}

/// How the AI took part in a section, in words: one line for every reviewed AI result of the
/// section, oldest first, each with its decision — so a result accepted and a later one
/// rejected are both said (not only the last, which would show accepted AI text as a
/// person's). A result is not tied to the version it fed (the payloads do not say which), so
/// each line names the result's entry.
pub(crate) fn ai_lines(view: &ReportView, section: &str) -> Vec<String> {
    view.ai
        .iter()
        .filter(|a| a.result.section == section)
        .filter_map(|a| {
            let r = a.review.as_ref()?;
            // A result received as DICOM SR names its device and who attested receipt, never
            // as if the device had signed.
            let model = match &a.received {
                Some(r) => format!(
                    "{}, received as DICOM SR and attested by {}",
                    r.attestation.device_words(),
                    named(&a.author)
                ),
                None => format!("{} {}", a.result.model, a.result.version),
            };
            let line = match r.decision {
                Decision::Accept => format!(
                    "Drafted by AI {model}, accepted by {} at {}",
                    named(&r.reviewer),
                    readable(r.time_ms)
                ),
                Decision::Edit => format!(
                    "Edited by {} from an AI draft ({model}) at {}",
                    named(&r.reviewer),
                    readable(r.time_ms)
                ),
                Decision::Reject => format!(
                    "An AI draft ({model}) was rejected by {} at {}",
                    named(&r.reviewer),
                    readable(r.time_ms)
                ),
            };
            Some(format!("{line} (AI result {})", short(&a.entry)))
        })
        .collect()
}

/// The AI results of a section whose text a reviewer took (accepted, or edited from): the
/// devices that drafted part of it. A rejected result drafted nothing of the report.
pub(crate) fn ai_taken<'a>(
    view: &'a ReportView,
    section: &'a str,
) -> impl Iterator<Item = &'a countersign_report::AiView> {
    view.ai.iter().filter(move |a| {
        a.result.section == section
            && a.review
                .as_ref()
                .is_some_and(|r| matches!(r.decision, Decision::Accept | Decision::Edit))
    })
}

/// The version a section reads as, if one does (none before it is written, or in a conflict
/// where the sign-offs in force cover different versions).
pub(crate) fn current_version(s: &SectionView) -> Option<&VersionView> {
    s.current
        .and_then(|c| s.versions.iter().find(|v| v.entry == c))
}

/// The sign-offs in force, in the log's order: one when the report is final, two or more in a
/// conflict.
pub(crate) fn in_force(view: &ReportView) -> Vec<&SignoffView> {
    view.signoffs.iter().filter(|s| s.in_force).collect()
}

/// In a conflict, each version of `s` that a sign-off in force covers, with the sign-offs
/// that cover it, in the order they were signed off; empty when the sign-offs agree on the
/// section.
pub(crate) fn conflicting<'a>(
    view: &'a ReportView,
    s: &'a SectionView,
) -> Vec<(&'a VersionView, Vec<&'a SignoffView>)> {
    let mut out: Vec<(&VersionView, Vec<&SignoffView>)> = s
        .conflicting_versions
        .iter()
        .filter_map(|id| {
            let version = s.versions.iter().find(|v| v.entry == *id)?;
            let by: Vec<&SignoffView> = in_force(view)
                .into_iter()
                .filter(|f| f.sections.get(&s.name) == Some(id))
                .collect();
            Some((version, by))
        })
        .collect();
    out.sort_by_key(|(v, by)| (by.iter().map(|f| f.time_ms).min(), v.entry));
    out
}

/// "Dr Ada Attending (attending) at 2025-11-24 16:05 UTC and Dr Bob …": who signed off.
pub(crate) fn signed_off_by(by: &[&SignoffView]) -> String {
    by.iter()
        .map(|f| format!("{} at {}", who(&f.author), readable(f.time_ms)))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// An entry id short enough for prose; the appendix has every id in full.
pub(crate) fn short(id: &EntryId) -> String {
    id.to_hex()[..16].to_string()
}

/// Why a report in the `refused` state does not count: its `report.create`'s refusal.
pub(crate) fn refusal(view: &ReportView) -> String {
    let create = view.provenance.iter().find(|p| p.entry == view.report);
    match create.map(|p| &p.status) {
        Some(EntryStatus::Refused { code, reason }) => format!(
            "REFUSED: this report counts for nothing; its creation was refused by rule {code}: \
             {reason}"
        ),
        _ => "REFUSED: this report counts for nothing; its creation was refused by a rule".into(),
    }
}

/// A withdrawn sign-off in one sentence, for the top of every export: each sign-off held and
/// the rule that refuses it.
pub(crate) fn withdrawn_line(view: &ReportView) -> String {
    let why: Vec<String> = view
        .refused_signoffs
        .iter()
        .map(|s| match &s.status {
            EntryStatus::Refused { code, .. } => {
                format!(
                    "{}'s (entry {}) by rule {code}",
                    named(&s.author),
                    short(&s.entry)
                )
            }
            _ => format!("{}'s (entry {})", named(&s.author), short(&s.entry)),
        })
        .collect();
    format!(
        "SIGN-OFF WITHDRAWN: this report was signed off, but no sign-off stands — {} refused. \
         What follows has no sign-off in force.",
        why.join("; ")
    )
}

/// The conflict in one sentence, for the top of every export.
pub(crate) fn conflict_line(view: &ReportView) -> String {
    let force = in_force(view);
    let sections: Vec<&str> = view
        .sections
        .iter()
        .filter(|s| !s.conflicting_versions.is_empty())
        .map(|s| s.title.as_str())
        .collect();
    format!(
        "CONFLICT: TWO SIGN-OFFS DISAGREE — {} sign-offs are in force and none descends from \
         another; {}. No one version is the report's until an attending resolves the conflict: \
         every version signed off is given below with who signed it off.",
        force.len(),
        if sections.is_empty() {
            "they cover the same version of every section".to_string()
        } else {
            format!("they differ on {}", sections.join(", "))
        }
    )
}

/// The attribution of one version: author, co-signers.
pub(crate) fn version_lines(s: &SectionView, v: &VersionView) -> Vec<String> {
    let mut lines = vec![format!(
        "Written by {} at {} (version {} of {})",
        who(&v.author),
        readable(v.time_ms),
        s.versions
            .iter()
            .position(|x| x.entry == v.entry)
            .map_or(0, |i| i + 1),
        s.versions.len()
    )];
    for c in &v.cosigns {
        lines.push(format!(
            "Co-signed by {} at {}",
            who(&c.author),
            readable(c.time_ms)
        ));
    }
    lines
}

/// The attribution of a section's current version: author, co-signers, AI part.
pub(crate) fn attribution(view: &ReportView, s: &SectionView) -> Vec<String> {
    let Some(v) = current_version(s) else {
        return Vec::new();
    };
    let mut lines = version_lines(s, v);
    lines.extend(ai_lines(view, &s.name));
    if s.concurrent {
        lines.push(
            "Other versions of this section were written at the same time; see the provenance"
                .into(),
        );
    }
    lines
}

/// A version's structured fields as "Label: value unit".
pub(crate) fn version_fields(s: &SectionView, v: &VersionView) -> Vec<String> {
    s.fields
        .iter()
        .filter_map(|f| {
            let value = v.fields.get(&f.def.name)?;
            Some(format!("{}: {}", f.def.label, f.def.display(value)))
        })
        .collect()
}

/// The critical result as one sentence.
pub(crate) fn critical_line(c: &countersign_report::CriticalView) -> String {
    format!(
        "CRITICAL RESULT: {} — communicated to {} by {} at {}{}; recorded by {}",
        c.critical.finding,
        c.critical.to,
        match c.critical.via {
            countersign_report::payload::Channel::Phone => "phone",
            countersign_report::payload::Channel::InPerson => "in person",
            countersign_report::payload::Channel::Message => "message",
        },
        readable(c.critical.communicated_ms),
        if c.critical.read_back {
            ", read back"
        } else {
            ""
        },
        named(&c.author)
    )
}
