//! The report as a reader gets it, format-neutral: blocks of text that the PDF lays out and the
//! plain-text report prints. One place decides what an exported report says.

use countersign_ledger::Kind;
use countersign_report::{EntryStatus, ReportState};

use crate::time::readable;
use crate::ExportInput;

mod words;
pub(crate) use words::*;

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
