//! The audit package's summary.pdf: the `ai stats` figures per model and version, the selection,
//! who exported it when, and the entries left out for failing verification, as [`Block`]s the
//! report PDF's writer lays out.

use super::*;

fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| format!("{:.1}%", r * 100.0))
}

/// The summary as blocks: the selection, who exported it when, the figures per model and
/// version, drift, and what was left out.
pub fn summary_document(input: &AuditInput) -> Vec<Block> {
    let s = &input.selection;
    let mut doc = vec![
        Block::Title("AI oversight audit".into()),
        Block::Meta(format!(
            "Department {} (network {})",
            input.network_name, input.network
        )),
        Block::Meta(format!(
            "Exported {} by {}, key {}",
            readable(input.exported_ms),
            who(&input.exported_by),
            input.exported_by.key
        )),
        Block::Meta(format!(
            "Selection: model {}; proposals signed since {}; studies of modality {}",
            s.model.as_deref().unwrap_or("any"),
            s.since.as_deref().unwrap_or("the first entry"),
            s.modality.as_deref().unwrap_or("any")
        )),
        Block::Meta(format!(
            "{} AI results in {} reports; {} entries excluded for failing verification",
            input.results.len(),
            input.reports(),
            input.stats.excluded.len()
        )),
    ];
    if input.stats.models.is_empty() {
        doc.push(Block::Para(
            "No AI result that verifies falls in this selection.".into(),
        ));
    }
    for m in &input.stats.models {
        doc.push(Block::Heading(format!(
            "{} {}{}",
            m.model,
            m.version,
            m.vendor
                .as_ref()
                .map_or(String::new(), |v| format!(" by {v}"))
        )));
        let reviewed = m.accepted + m.edited + m.rejected;
        doc.push(Block::Para(format!(
            "{} proposals: {} accepted, {} edited, {} rejected, {} unreviewed.",
            m.proposals, m.accepted, m.edited, m.rejected, m.unreviewed
        )));
        doc.push(Block::Para(format!(
            "Acceptance {} ({} of {reviewed} reviewed, accepted or edited); rejection {}.",
            percent(m.acceptance_rate),
            m.accepted + m.edited,
            percent(m.rejection_rate)
        )));
        doc.push(Block::Para(format!(
            "Words changed by edits: median {}, p90 {}, max {} (over {} edits). Time from \
             proposal to review: median {} s, p90 {} s, max {} s.",
            m.edit_words.p50,
            m.edit_words.p90,
            m.edit_words.max,
            m.edit_words.n,
            m.review_ms.p50 / 1000,
            m.review_ms.p90 / 1000,
            m.review_ms.max / 1000
        )));
        let reviewers: Vec<String> = m
            .reviewers
            .iter()
            .map(|(who, n)| format!("{who}: {n}"))
            .collect();
        if !reviewers.is_empty() {
            doc.push(Block::Note(format!("Reviews by {}", reviewers.join("; "))));
        }
        if !m.unreviewed_results.is_empty() {
            doc.push(Block::Note("Unreviewed:".into()));
            for id in &m.unreviewed_results {
                doc.push(Block::Mono(id.to_hex()));
            }
        }
    }
    if !input.stats.drift.is_empty() {
        doc.push(Block::Heading("Drift between versions".into()));
        for d in &input.stats.drift {
            doc.push(Block::Para(format!(
                "{} {} → {}: acceptance {:.1}% → {:.1}% ({:+.1} points)",
                d.model,
                d.from,
                d.to,
                d.acceptance_from * 100.0,
                d.acceptance_to * 100.0,
                d.change * 100.0
            )));
        }
    }
    doc.push(Block::Heading(format!(
        "Excluded for failing verification: {}",
        input.stats.excluded.len()
    )));
    if input.stats.excluded.is_empty() {
        doc.push(Block::Para(
            "None: every AI result and review in the selection verifies.".into(),
        ));
    }
    for e in &input.stats.excluded {
        doc.push(Block::Para(format!("{} ({})", e.kind, e.reason)));
        doc.push(Block::Mono(e.entry.to_hex()));
    }
    doc.push(Block::Heading("How to read these figures".into()));
    doc.push(Block::Para(
        "Computed from signed entries that verify: a proposal is a model's signed ai.result or \
         an AI result received as DICOM SR and attested by a member (ai.received); a review is a \
         person's signed ai.review. Acceptance counts accepted and edited proposals among those \
         reviewed. An entry that does not verify is left out of every figure and listed above. \
         provenance.json, beside this file, holds one FHIR Provenance per AI result with the \
         signatures; the entries themselves verify offline with the countersign CLI."
            .into(),
    ));
    doc
}

/// The summary as PDF bytes.
pub fn summary_pdf(input: &AuditInput) -> Vec<u8> {
    crate::pdf::render_blocks(
        &summary_document(input),
        &format!("AI oversight audit of {}", input.network_name),
        &format!("AI audit, network {}", &input.network.to_hex()[..16]),
    )
}
