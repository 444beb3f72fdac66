//! The report as a reader gets it, format-neutral: blocks of text that the PDF lays out and the
//! plain-text report prints. One place decides what an exported report says.

use countersign_ledger::{EntryId, Kind};
use countersign_report::payload::Decision;
use countersign_report::{
    Author, EntryStatus, ReportState, ReportView, SectionView, SignoffView, VersionView,
};

use crate::time::readable;
use crate::ExportInput;

/// One block of an exported document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Title(String),
    /// Small lines under the title: patient, study, status, sign-off.
    Meta(String),
    /// A small line as `Meta`, never wrapped in plain text: the patient's, which no one signed
    /// (the exporter's image store), so that an audit archive's import reads it back as one
    /// line and a sentence cannot be wrapped onto a line of its own beside it (found by
    /// review, 2026-12-05).
    Line(String),
    /// What a reader must not miss: a critical result.
    Banner(String),
    Heading(String),
    Para(String),
    /// Who or what wrote the block above, and who co-signed it.
    Note(String),
    /// Identifiers and signatures, in a fixed-width face.
    Mono(String),
    /// A finding's link to a frame: its caption, and the link (the PDF draws the frame's
    /// thumbnail with the annotation under the caption; plain text prints the caption).
    Figure {
        caption: String,
        link: countersign_report::links::ImageLink,
    },
}

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
fn version_lines(s: &SectionView, v: &VersionView) -> Vec<String> {
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

/// The whole exported document: the report, then its provenance appendix.
pub fn document(input: &ExportInput) -> Vec<Block> {
    let v = &input.view;
    let mut out = vec![Block::Title(format!("{} report", v.template_title))];
    // DICOM writes names Family^Given^Middle; a reader wants them spaced.
    let name = input.study.patient_name.as_ref().map(|n| {
        n.split('^')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    });
    let patient = match (&name, &input.study.patient_id) {
        (Some(n), Some(id)) => format!("Patient {n} (ID {id})"),
        (Some(n), None) => format!("Patient {n}"),
        (None, Some(id)) => format!("Patient ID {id}"),
        (None, None) => "Patient not recorded".into(),
    };
    out.push(Block::Line(patient));
    out.push(Block::Meta(format!(
        "Study {}{}",
        input.study.uid,
        input
            .study
            .study_date
            .as_ref()
            .map_or(String::new(), |d| format!(", {d}"))
    )));
    out.push(Block::Meta(format!(
        "Status {} · {} · report {}",
        state_word(v.status),
        input.network_name,
        v.report
    )));
    if let Some(s) = &v.signoff {
        out.push(Block::Meta(format!(
            "Signed off by {} at {}",
            who(&s.author),
            readable(s.time_ms)
        )));
    }
    if v.status == ReportState::Conflict {
        for s in in_force(v) {
            out.push(Block::Meta(format!(
                "Sign-off in force, in conflict: {} at {} (entry {})",
                who(&s.author),
                readable(s.time_ms),
                short(&s.entry)
            )));
        }
    }
    // A superseded sign-off stays in the record, never in force again.
    for s in v.signoffs.iter().filter(|s| !s.in_force) {
        out.push(Block::Meta(format!(
            "Superseded sign-off: {} at {} (entry {})",
            who(&s.author),
            readable(s.time_ms),
            short(&s.entry)
        )));
    }
    for r in &v.resolutions {
        let kept = v.signoffs.iter().find(|s| s.entry == r.keep);
        out.push(Block::Meta(format!(
            "Conflict resolved by {} at {}: kept the sign-off by {} (entry {}){}",
            who(&r.author),
            readable(r.time_ms),
            kept.map_or_else(|| "an unknown author".into(), |k| named(&k.author)),
            short(&r.keep),
            if r.note.trim().is_empty() {
                String::new()
            } else {
                format!(" — “{}”", r.note.trim())
            }
        )));
    }
    // What must not be missed comes first: that the report does not count, or that no one
    // version of it is the report's.
    match v.status {
        ReportState::Refused => out.push(Block::Banner(refusal(v))),
        ReportState::Conflict => out.push(Block::Banner(conflict_line(v))),
        ReportState::Withdrawn => out.push(Block::Banner(withdrawn_line(v))),
        _ => {}
    }
    if v.unreadable {
        out.push(Block::Banner(
            "NOT READABLE HERE: this home holds the report's signed entries but not its key. \
             Its content is absent from this document, not empty: who wrote what kind of entry \
             when, and every signature, still verify (see the provenance)."
                .into(),
        ));
    }
    if let Some(n) = &v.erasure {
        out.push(Block::Banner(format!(
            "ERASED: this report's personal data was {}. Every section, addendum and finding is              destroyed on every peer; who wrote what kind of entry when, and every signature,              still verify (see the provenance).",
            erased_words(n)
        )));
    }
    if let Some(n) = &v.restriction {
        out.push(Block::Banner(format!(
            "RESTRICTED on {} by {} ({}): the content is withheld until the restriction is lifted.",
            crate::time::date(n.time_ms),
            who(&n.by),
            crate::text::one_line(&n.basis)
        )));
    }
    for c in &v.critical {
        out.push(Block::Banner(critical_line(c)));
    }
    for s in &v.sections {
        let versions = conflicting(v, s);
        if !versions.is_empty() {
            out.push(Block::Heading(format!(
                "{} — CONFLICT: {} versions signed off",
                s.title,
                versions.len()
            )));
            for (version, by) in versions {
                out.push(Block::Para(format!(
                    "As signed off by {}:",
                    signed_off_by(&by)
                )));
                out.extend(version_fields(s, version).into_iter().map(Block::Para));
                match version.text.as_deref().filter(|t| !t.trim().is_empty()) {
                    Some(t) => out.push(Block::Para(t.to_string())),
                    None if version.text.is_none() => out.push(Block::Para("(text erased)".into())),
                    None => {}
                }
                out.extend(version_lines(s, version).into_iter().map(Block::Note));
            }
            continue;
        }
        if s.text.is_none() && s.fields.iter().all(|f| f.value.is_none()) {
            continue;
        }
        out.push(Block::Heading(s.title.clone()));
        for f in &s.fields {
            if let Some(d) = &f.display {
                out.push(Block::Para(format!("{}: {d}", f.def.label)));
            }
        }
        if let Some(t) = s.text.as_deref().filter(|t| !t.trim().is_empty()) {
            out.push(Block::Para(t.to_string()));
        }
        if let Some(version) = current_version(s) {
            out.extend(version.links.iter().map(|l| Block::Figure {
                caption: figure_caption(l),
                link: l.clone(),
            }));
        }
        out.extend(attribution(v, s).into_iter().map(Block::Note));
    }
    for a in &v.addenda {
        out.push(Block::Heading(format!(
            "Addendum, {} at {}",
            named(&a.author),
            readable(a.time_ms)
        )));
        out.push(Block::Para(
            a.text.clone().unwrap_or_else(|| "(text erased)".into()),
        ));
    }
    if !v.measurements.is_empty() {
        out.push(Block::Heading("Measurements".into()));
        for m in &v.measurements {
            let length = match m.measurement.unit {
                countersign_report::payload::LengthUnit::Um => {
                    format!("{:.1} mm", m.measurement.length as f64 / 1000.0)
                }
                countersign_report::payload::LengthUnit::Mpx => format!(
                    "{:.1} px (uncalibrated)",
                    m.measurement.length as f64 / 1000.0
                ),
            };
            out.push(Block::Para(format!(
                "{length} on image {}, frame {}, by {}",
                &m.measurement.image[..12],
                u64::from(m.measurement.frame) + 1,
                who(&m.author)
            )));
        }
    }
    if !v.followups.is_empty() {
        out.push(Block::Heading("Follow-up".into()));
        for f in &v.followups {
            let state = match &f.closed {
                Some(c) => format!("closed by study {}", c.study),
                None => "open".into(),
            };
            out.push(Block::Para(format!(
                "{} — due {} ({state}; recommended by {})",
                f.finding,
                f.due,
                named(&f.author)
            )));
        }
    }
    appendix(input, &mut out);
    out
}

fn appendix(input: &ExportInput, out: &mut Vec<Block>) {
    let v = &input.view;
    out.push(Block::Heading("Provenance".into()));
    let verified = v
        .provenance
        .iter()
        .filter(|p| p.status == EntryStatus::Verified)
        .count();
    let refused = v
        .provenance
        .iter()
        .filter(|p| matches!(p.status, EntryStatus::Refused { .. }))
        .count();
    out.push(Block::Para(format!(
        "{} signed entries, {verified} verified when exported at {}{}. Each entry is signed with \
         its author's ed25519 key over the entry header, which commits to the payload by SHA-256 \
         and to the entries before it by id. Verify offline: countersign bundle import on the \
         audit bundle, then countersign verify.",
        v.provenance.len(),
        readable(input.exported_ms),
        if refused > 0 {
            format!("; {refused} authentic but REFUSED by a rule (not counted in the report above)")
        } else {
            String::new()
        }
    )));
    for (i, p) in v.provenance.iter().enumerate() {
        let section = p
            .section
            .as_deref()
            .map_or(String::new(), |s| format!(" [{s}]"));
        // A sign-off says whether it is the one in force.
        let standing = match v.signoffs.iter().find(|s| s.entry == p.entry) {
            Some(s) if !s.in_force => " — SUPERSEDED",
            Some(_) if v.status == ReportState::Conflict => " — in force, IN CONFLICT",
            _ if p.kind == Kind::ReportResolve => " — resolves a conflict",
            _ => "",
        };
        let refused = match &p.status {
            EntryStatus::Refused { code, reason } => {
                format!(" — REFUSED by rule {code}: {reason}; not part of the report")
            }
            _ => String::new(),
        };
        out.push(Block::Note(format!(
            "{}. {} — {}{section} by {}{standing}{refused}",
            i + 1,
            readable(p.time_ms),
            p.kind.name(),
            who(&p.author)
        )));
        out.push(Block::Mono(format!(
            "entry {} seq {} {}",
            p.entry,
            p.seq,
            status_word(&p.status, v.erasure.as_ref())
        )));
        out.push(Block::Mono(format!("key {}", p.author.key)));
        if let Some(sig) = input.signatures.get(&p.entry) {
            out.push(Block::Mono(format!("signature {}", hex::encode(sig))));
        }
    }
}
