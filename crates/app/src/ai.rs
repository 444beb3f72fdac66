//! AI contributions: a model member's node runs the program bound to it (`ai bind`: an
//! executable speaking the contract in [`program`], a service speaking it over HTTP
//! ([`endpoint`]), or the built-in example [`SOFT_TISSUE_STATS`]) on the report's images and signs what it found (`ai.result`) only if
//! the program ran and its output held to the contract; a reporting physician accepts, edits or
//! rejects it (`ai.review`), and an accepted or edited proposal becomes the section's next
//! version.
//!
//! Where things are: binding a model to a node ([`binding`]), running it ([`run`], over the
//! [`program`] or [`endpoint`] contract), the built-in example ([`builtin`]), a model's DICOM
//! SR received by hand, from a drop folder or from the archive ([`received`], [`folder`],
//! [`archive`]), the reviewer's figures ([`stats`]) and the audit package ([`audit`]).

use std::time::Duration;

use countersign_ledger::{EntryId, Kind, Role};
use countersign_report::payload::{AiReview, Decision};

use crate::error::{AppError, Result};
use crate::home::{json, Home};

mod archive;
mod audit;
mod binding;
mod builtin;
pub mod endpoint;
mod folder;
pub mod program;
mod received;
mod run;
mod stats;

pub use archive::{ArchiveImport, ArchiveRefusal};
pub use audit::{AuditExport, AUDIT_ENTRIES_NAME, AUDIT_PROVENANCE_NAME, AUDIT_SUMMARY_NAME};
pub use binding::{ModelBinding, SOFT_TISSUE_STATS};
pub use builtin::SOFT_TISSUE_ALGORITHM;
pub use folder::{FolderFile, FolderImport, MAX_FILES_PER_PASS};
pub use received::ReceivedSr;
pub(crate) use run::sweep_work;
use run::Runner;

impl Home {
    /// Runs the model bound to this node on the report's images and signs the result with this
    /// home's key, which must be an `ai-model` member of the roster.
    pub fn ai_run(&mut self, report: EntryId) -> Result<EntryId> {
        let me = self.whoami()?;
        if me.role != Role::AiModel {
            return Err(AppError::InvalidInput(format!(
                "this home's identity is a {}, not an ai-model",
                me.role
            )));
        }
        let model = self
            .roster_list()?
            .into_iter()
            .find(|m| m.key == me.key)
            .and_then(|m| m.ai_model)
            .ok_or_else(|| {
                AppError::InvalidInput("the roster has no model details for this key".into())
            })?;
        let payload = match self.ai_binding(&model.model)? {
            Some(ModelBinding::Builtin { name }) if name == model.model => {
                self.soft_tissue_result(report, &model)?
            }
            Some(ModelBinding::Builtin { name }) => {
                return Err(AppError::AiModelUnbound(format!(
                    "the built-in {name} runs only as a model named {name}, and this key is \
                     {} on the roster: bind that model's own program (`ai bind --program PATH`)",
                    model.model
                )))
            }
            Some(ModelBinding::Program {
                path,
                args,
                timeout_secs,
                max_output_bytes,
            }) => self.model_result(
                report,
                &model,
                Runner::Program {
                    path: &path,
                    args: &args,
                },
                Duration::from_secs(timeout_secs),
                max_output_bytes,
            )?,
            Some(ModelBinding::Endpoint {
                url,
                timeout_secs,
                max_output_bytes,
            }) => self.model_result(
                report,
                &model,
                Runner::Endpoint { url: &url },
                Duration::from_secs(timeout_secs),
                max_output_bytes,
            )?,
            None => {
                return Err(AppError::AiModelUnbound(format!(
                    "this node runs no program as {} yet: bind one with `countersign ai bind \
                     --program PATH` (see the README, AI models)",
                    model.model
                )))
            }
        };
        self.append_checked(report, Kind::AiResult, &payload)
    }

    /// Reviews an AI result: accept (its text becomes the section's next version), edit (`text`
    /// does) or reject. Returns the review entry.
    pub fn report_review(
        &mut self,
        report: EntryId,
        result: EntryId,
        decision: Decision,
        text: Option<&str>,
        comment: Option<&str>,
    ) -> Result<EntryId> {
        let view = self.report_show(report)?;
        let proposal = view
            .ai
            .iter()
            .find(|a| a.entry == result)
            .map(|a| (a.result.section.clone(), a.result.text.clone()))
            .ok_or_else(|| AppError::NotFound {
                what: format!("AI result {result} in report {report}"),
            })?;
        let payload = json(&AiReview {
            result,
            decision,
            text: text.map(str::to_string),
            comment: comment.map(str::to_string),
        });
        let review = self.append_checked(report, Kind::AiReview, &payload)?;
        match decision {
            Decision::Accept => {
                self.report_write(report, &proposal.0, &proposal.1)?;
            }
            Decision::Edit => {
                self.report_write(report, &proposal.0, text.unwrap_or_default())?;
            }
            Decision::Reject => {}
        }
        Ok(review)
    }
}
