//! `ai audit export`: the AI audit package an auditor takes away — `provenance.json` (a FHIR
//! R4 Bundle of one Provenance per AI result) and `summary.pdf` (the `ai stats` figures) —
//! over the same reports and proposals `ai stats` reads. Rendering is
//! [`countersign_export::audit`]'s; this gathers the views, figures and signatures, and writes
//! the two files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use countersign_export::audit::{AuditInput, AuditResult, AuditSelection};
use countersign_ledger::{EntryId, Hash};
use countersign_report::oversight::{ai_stats, date_start_ms, Filter};
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};

/// The file names in an audit package's folder.
pub const AUDIT_PROVENANCE_NAME: &str = "provenance.json";
pub const AUDIT_SUMMARY_NAME: &str = "summary.pdf";

/// What `ai audit export` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct AuditExport {
    pub dir: PathBuf,
    /// AI results in the package: one Provenance each.
    pub results: u64,
    /// Reports they belong to.
    pub reports: u64,
    pub bundle_bytes: u64,
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

    /// Writes the audit package of `selection` into the folder `dir` (created if missing;
    /// never the home or inside it), each file through a new temporary file renamed over it.
    pub fn ai_audit_export(&self, selection: &AuditSelection, dir: &Path) -> Result<AuditExport> {
        // The selection is checked (and read) before anything is created.
        let input = self.ai_audit_input(selection)?;
        if !dir.exists() {
            // Refused before anything is created when the folder would be inside the home.
            self.export_target(dir)?;
            std::fs::create_dir_all(dir)
                .map_err(AppError::io(format!("creating {}", dir.display())))?;
        }
        let bundle_path = self.export_target(&dir.join(AUDIT_PROVENANCE_NAME))?;
        let pdf_path = self.export_target(&dir.join(AUDIT_SUMMARY_NAME))?;
        let bundle = countersign_export::audit::provenance(&input);
        let pdf = countersign_export::audit::summary_pdf(&input);
        crate::export::write_new_then_rename(&bundle_path, &bundle)?;
        crate::export::write_new_then_rename(&pdf_path, &pdf)?;
        // Counts only: the selection can name a model, never a patient, but keep logs lean.
        tracing::info!(
            results = input.results.len(),
            reports = input.reports(),
            "AI audit package exported"
        );
        Ok(AuditExport {
            dir: bundle_path
                .parent()
                .map_or_else(|| dir.to_path_buf(), Path::to_path_buf),
            results: input.results.len() as u64,
            reports: input.reports() as u64,
            bundle_bytes: bundle.len() as u64,
            pdf_bytes: pdf.len() as u64,
        })
    }
}
