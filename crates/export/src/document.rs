//! The report as a reader gets it, format-neutral: blocks of text that the PDF lays out and the
//! plain-text report prints. One place decides what an exported report says.

use countersign_report::payload::Decision;
use countersign_report::{Author, EntryStatus, ReportState, ReportView, SectionView};

use crate::time::readable;
use crate::ExportInput;

/// One block of an exported document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Title(String),
    /// Small lines under the title: patient, study, status, sign-off.
    Meta(String),
    /// What a reader must not miss: a critical result.
    Banner(String),
    Heading(String),
    Para(String),
    /// Who or what wrote the block above, and who co-signed it.
    Note(String),
    /// Identifiers and signatures, in a fixed-width face.
    Mono(String),
}

/// "Dr Ada Attending (attending)" or "SoftTissue 2.1 by Countersign Labs (AI model)".
pub(crate) fn who(a: &Author) -> String {
    match (&a.ai_model, a.role) {
        (Some(m), _) => format!("{} {} by {} (AI model)", m.model, m.version, m.vendor),
        (None, Some(r)) => format!("{} ({r})", a.name),
        (None, None) => format!("{} (not on the roster)", a.name),
    }
}

pub(crate) fn state_word(s: ReportState) -> &'static str {
    match s {
        ReportState::Draft => "DRAFT",
        ReportState::Preliminary => "PRELIMINARY",
        ReportState::Final => "FINAL",
        ReportState::Amended => "FINAL, AMENDED",
    }
}

pub(crate) fn status_word(s: &EntryStatus) -> String {
    match s {
        EntryStatus::Verified => "verified".into(),
        EntryStatus::Fork => "FORK EVIDENCE".into(),
        EntryStatus::Erased => "payload erased".into(),
        EntryStatus::Invalid { reason } => format!("INVALID: {reason}"),
    }
}

/// How the AI took part in a section, in words, if it did.
pub(crate) fn ai_line(view: &ReportView, section: &str) -> Option<String> {
    let a = view
        .ai
        .iter()
        .rev()
        .find(|a| a.result.section == section && a.review.is_some())?;
    let r = a.review.as_ref()?;
    let model = format!("{} {}", a.result.model, a.result.version);
    Some(match r.decision {
        Decision::Accept => format!(
            "Drafted by AI {model}, accepted by {} at {}",
            r.reviewer.name,
            readable(r.time_ms)
        ),
        Decision::Edit => format!(
            "Edited by {} from an AI draft ({model}) at {}",
            r.reviewer.name,
            readable(r.time_ms)
        ),
        Decision::Reject => format!(
            "An AI draft ({model}) was rejected by {} at {}",
            r.reviewer.name,
            readable(r.time_ms)
        ),
    })
}

/// The attribution of a section's current version: author, co-signers, AI part.
pub(crate) fn attribution(view: &ReportView, s: &SectionView) -> Vec<String> {
    let current = s
        .signed_off_version
        .and_then(|v| s.versions.iter().find(|x| x.entry == v))
        .or(s.versions.last());
    let Some(v) = current else {
        return Vec::new();
    };
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
    lines.extend(ai_line(view, &s.name));
    lines
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
        c.author.name
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
    out.push(Block::Meta(patient));
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
    for c in &v.critical {
        out.push(Block::Banner(critical_line(c)));
    }
    for s in &v.sections {
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
        out.extend(attribution(v, s).into_iter().map(Block::Note));
    }
    for a in &v.addenda {
        out.push(Block::Heading(format!(
            "Addendum, {} at {}",
            a.author.name,
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
                m.measurement.frame + 1,
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
                f.finding, f.due, f.author.name
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
    out.push(Block::Para(format!(
        "{} signed entries, {verified} verified when exported at {}. Each entry is signed with \
         its author's ed25519 key over the entry header, which commits to the payload by SHA-256 \
         and to the entries before it by id. Verify offline: countersign bundle import on the \
         audit bundle, then countersign verify.",
        v.provenance.len(),
        readable(input.exported_ms)
    )));
    for (i, p) in v.provenance.iter().enumerate() {
        let section = p
            .section
            .as_deref()
            .map_or(String::new(), |s| format!(" [{s}]"));
        out.push(Block::Note(format!(
            "{}. {} — {}{section} by {}",
            i + 1,
            readable(p.time_ms),
            p.kind.name(),
            who(&p.author)
        )));
        out.push(Block::Mono(format!(
            "entry {} seq {} {}",
            p.entry,
            p.seq,
            status_word(&p.status)
        )));
        out.push(Block::Mono(format!("key {}", p.author.key)));
        if let Some(sig) = input.signatures.get(&p.entry) {
            out.push(Block::Mono(format!("signature {}", hex::encode(sig))));
        }
    }
}
