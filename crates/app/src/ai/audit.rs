//! `ai audit export`: the AI audit package an auditor takes away, one tar archive of the signed
//! entries themselves (a bundle `bundle import` takes offline), `provenance.json` (a FHIR R4
//! Bundle of one Provenance per AI result) and `summary.pdf` (the `ai stats` figures), over the
//! same reports and proposals `ai stats` reads. Rendering is [`countersign_export::audit`]'s;
//! this gathers the views, figures, signatures and entries, and writes the archive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use countersign_export::audit::{AuditInput, AuditResult, AuditSelection};
use countersign_ledger::{EntryId, Hash};
use countersign_report::oversight::{ai_stats, date_start_ms, Filter};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};

/// The names of an audit package's members.
pub const AUDIT_PROVENANCE_NAME: &str = "provenance.json";
pub const AUDIT_SUMMARY_NAME: &str = "summary.pdf";
/// The bundle member: [`crate::AUDIT_BUNDLE_NAME`], the name `bundle import` looks for in any
/// audit archive.
pub const AUDIT_ENTRIES_NAME: &str = crate::export::AUDIT_BUNDLE_NAME;

/// What `ai audit export` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct AuditExport {
    pub file: PathBuf,
    /// AI results in the package: one Provenance each.
    pub results: u64,
    /// Reports they belong to (each whole in the entries).
    pub reports: u64,
    /// The archive's size, and of its members.
    pub bytes: u64,
    pub entries_bytes: u64,
    pub provenance_bytes: u64,
    pub pdf_bytes: u64,
}

impl Home {
    /// What the audit package of `selection` is made from: every AI result of the reports
    /// `ai stats` reads (see [`Home::ai_reports`]) that the selection admits, their figures,
    /// and the signatures of every AI entry and review.
    pub fn ai_audit_input(&self, selection: &AuditSelection) -> Result<AuditInput> {
        let since_ms = selection
            .since
            .as_deref()
            .map(|d| {
                date_start_ms(d).ok_or_else(|| {
                    AppError::InvalidInput(format!("--since {d:?} is not a YYYY-MM-DD date"))
                })
            })
            .transpose()?;
        let filter = Filter {
            model: selection.model.clone(),
            since_ms,
        };
        let db = self.store().db();
        let mut results = Vec::new();
        let mut signatures = BTreeMap::new();
        for view in self.ai_reports(selection.modality.as_deref())? {
            let chosen: Vec<_> = view.ai.iter().filter(|a| filter.admits(a)).collect();
            if chosen.is_empty() {
                continue;
            }
            let wanted: std::collections::BTreeSet<EntryId> = chosen
                .iter()
                .flat_map(|a| std::iter::once(a.entry).chain(a.review.as_ref().map(|r| r.entry)))
                .collect();
            for row in db.log_entries(&view.report)? {
                let (Some(id), Ok(sig)) = (
                    Hash::from_slice(&row.id),
                    <[u8; 64]>::try_from(row.signature.as_slice()),
                ) else {
                    continue;
                };
                if wanted.contains(&id) {
                    signatures.insert(id, sig);
                }
            }
            results.extend(chosen.into_iter().map(|ai| AuditResult {
                report: view.report,
                ai: ai.clone(),
            }));
        }
        let stats = ai_stats(results.iter().map(|r| &r.ai), &filter);
        let state = self.state()?;
        let network = state.network().map_err(|_| AppError::NoNetwork)?;
        let me = self.whoami()?;
        Ok(AuditInput {
            results,
            stats,
            selection: selection.clone(),
            network,
            network_name: state.roster().name().to_string(),
            exported_by: countersign_report::author(state.roster(), &me.key),
            exported_ms: now_ms(),
            signatures,
        })
    }

    /// Writes the audit package of `selection` to the file `path` (never the home or inside
    /// it), through a new temporary file renamed over it: one tar archive holding
    /// [`AUDIT_ENTRIES_NAME`] (the roster and every report the package speaks of, whole, as a
    /// bundle — `bundle import` takes the archive itself, and `verify` and `ai stats` in the
    /// importing home recompute the figures from the signed entries), [`AUDIT_PROVENANCE_NAME`],
    /// [`AUDIT_SUMMARY_NAME`] and a README saying how to check it offline.
    pub fn ai_audit_export(&self, selection: &AuditSelection, path: &Path) -> Result<AuditExport> {
        // The selection is checked (and read) before anything is created.
        let input = self.ai_audit_input(selection)?;
        let target = self.export_target(path)?;
        let reports: Vec<EntryId> = input
            .results
            .iter()
            .map(|r| r.report)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // With the reports' data keys: the auditor's home must read the entries to recompute
        // the figures (the README says to keep the package as reports are kept).
        let entries = self.bundle_of_reports(&reports, true)?;
        let provenance = countersign_export::audit::provenance(&input);
        let pdf = countersign_export::audit::summary_pdf(&input);
        let readme = readme(selection, &input);
        let archive = crate::export::tar_of(
            &[
                ("README.txt", readme.as_bytes()),
                (AUDIT_ENTRIES_NAME, &entries),
                (AUDIT_PROVENANCE_NAME, &provenance),
                (AUDIT_SUMMARY_NAME, &pdf),
            ],
            input.exported_ms,
        )?;
        crate::export::write_new_then_rename(&target, &archive)?;
        // Counts only: the selection can name a model, never a patient, but keep logs lean.
        tracing::info!(
            results = input.results.len(),
            reports = reports.len(),
            bytes = archive.len(),
            "AI audit package exported"
        );
        Ok(AuditExport {
            file: target,
            results: input.results.len() as u64,
            reports: reports.len() as u64,
            bytes: archive.len() as u64,
            entries_bytes: entries.len() as u64,
            provenance_bytes: provenance.len() as u64,
            pdf_bytes: pdf.len() as u64,
        })
    }
}

/// The package's README: what each member is and how to check it with nothing but the CLI.
fn readme(selection: &AuditSelection, input: &AuditInput) -> String {
    let mut filter = String::new();
    for (flag, value) in [
        ("--model", &selection.model),
        ("--since", &selection.since),
        ("--modality", &selection.modality),
    ] {
        if let Some(v) = value {
            filter.push_str(&format!(" {flag} {v}"));
        }
    }
    let network = input.network;
    format!(
        "Countersign AI audit package (EU AI Act Art. 12 record-keeping, Art. 14 human \
         oversight)\n\n\
         Selection:{selection}\n\
         AI results: {results} in {reports} reports\n\n\
         {AUDIT_SUMMARY_NAME}: the figures of `ai stats` for this selection, for people.\n\
         {AUDIT_PROVENANCE_NAME}: a FHIR R4 Bundle, one Provenance per AI result (the AI a \
         Device agent, the human reviewer the verifier, with both signatures).\n\
         {AUDIT_ENTRIES_NAME}: the department roster and every signed entry of those reports \
         (whole, so every hash link can be followed), with payloads and any fork evidence. \
         It holds the reports' clinical content: keep this file as you keep reports.\n\n\
         To check it offline, with nothing but the countersign CLI (NETWORK is the \
         department's network id, confirmed with the department by another channel: a \
         package anyone made can name its own; this one says {network}):\n\n\
         \x20   countersign --home ./audit-home init --name Auditor --role reviewer\n\
         \x20   countersign --home ./audit-home bundle import THIS-FILE --network NETWORK\n\
         \x20   countersign --home ./audit-home verify\n\
         \x20   countersign --home ./audit-home --json ai stats{filter}\n\n\
         Every signature, hash link and report rule is re-checked on import (nothing is \
         stored if anything fails), and the last command recomputes the summary's figures from \
         the signed entries.\n",
        selection = if filter.is_empty() {
            " everything"
        } else {
            &filter
        },
        results = input.results.len(),
        reports = input.reports(),
    )
}
