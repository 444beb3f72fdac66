//! The AI commands: running and binding this node's model, receiving a vendor's results (a
//! file, a drop folder or an archive), the reviewer's figures and the audit package.

use countersign_app::{entry_id, AppError, Home};

use crate::args::{AiAuditCommand, AiCommand};
use crate::human;
use crate::output::{entry_out, Output};
use crate::term::line;

pub(crate) fn ai(home: &mut Home, cmd: AiCommand) -> Result<Output, AppError> {
    Ok(match cmd {
        AiCommand::Run { report } => {
            entry_out(home.ai_run(entry_id(&report)?)?, "AI result signed")
        }
        AiCommand::Import {
            sr,
            folder,
            pacs,
            study,
            report,
            section,
        } => {
            let report = report.as_deref().map(entry_id).transpose()?;
            if let (Some(archive), Some(study)) = (pacs, study) {
                let pass =
                    home.ai_import_from_archive(&archive, &study, report, section.as_deref())?;
                let mut text = format!(
                    "{} instances of study {} on {}: {} AI results received, {} received \
                     before, {} refused, {} not AI results",
                    pass.instances,
                    line(&pass.study),
                    line(&pass.archive),
                    pass.received.len(),
                    pass.duplicates,
                    pass.refused.len(),
                    pass.passed_over
                );
                for r in &pass.received {
                    text.push_str(&format!("\n  {}: entry {}", line(&r.statement), r.entry));
                }
                for r in &pass.refused {
                    text.push_str(&format!("\n  refused ({}): {}", r.code, line(&r.message)));
                }
                return Ok(Output::new(&pass, text));
            }
            if let Some(folder) = folder {
                let pass = home.ai_import_folder(&folder, report, section.as_deref())?;
                let mut text = format!(
                    "{} received, {} received before, {} refused, {} left for a later pass",
                    pass.received, pass.duplicates, pass.refused, pass.waiting
                );
                for f in &pass.files {
                    text.push_str(&format!(
                        "\n  {}: {}{}",
                        line(&f.file),
                        f.outcome,
                        f.message
                            .as_ref()
                            .map(|m| format!(" ({})", line(m)))
                            .unwrap_or_default()
                    ));
                }
                return Ok(Output::new(&pass, text));
            }
            let sr = sr.ok_or_else(|| {
                AppError::InvalidInput("ai import needs an SR file or --folder DIR".into())
            })?;
            let received = home.ai_import(report, &sr, section.as_deref())?;
            let text = format!(
                "{} ({} measurements, {} findings): entry {}",
                line(&received.statement),
                received.measurements,
                received.findings,
                received.entry
            );
            Output::new(&received, text)
        }
        AiCommand::Stats {
            model,
            since,
            modality,
        } => {
            let since_ms = since
                .map(|d| {
                    countersign_app::report::oversight::date_start_ms(&d).ok_or_else(|| {
                        AppError::InvalidInput(format!("--since {d:?} is not a YYYY-MM-DD date"))
                    })
                })
                .transpose()?;
            let filter = countersign_app::report::oversight::Filter { model, since_ms };
            let stats = home.ai_stats(&filter, modality.as_deref())?;
            let text = human::ai_stats(&stats);
            Output::new(&stats, text)
        }
        AiCommand::Audit(AiAuditCommand::Export {
            out,
            model,
            since,
            modality,
        }) => {
            let selection = countersign_app::export_formats::audit::AuditSelection {
                model,
                since,
                modality,
            };
            let written = home.ai_audit_export(&selection, &out)?;
            let text = format!(
                "AI audit package of {} AI results in {} reports written to {} ({} bytes): the \
                 signed entries ({}), {} and {}; check it offline with `bundle import` and \
                 `verify` (see its README.txt)",
                written.results,
                written.reports,
                written.file.display(),
                written.bytes,
                countersign_app::AUDIT_ENTRIES_NAME,
                countersign_app::AUDIT_PROVENANCE_NAME,
                countersign_app::AUDIT_SUMMARY_NAME,
            );
            Output::new(&written, text)
        }
        AiCommand::Bind {
            program,
            endpoint,
            args,
            timeout,
            max_output,
            builtin,
        } => {
            let binding = match (program, endpoint, builtin) {
                (Some(path), None, None) => {
                    countersign_app::ModelBinding::program(path, args, timeout, max_output)?
                }
                (None, Some(url), None) if args.is_empty() => {
                    countersign_app::ModelBinding::endpoint(&url, timeout, max_output)?
                }
                (None, None, Some(name)) if args.is_empty() => {
                    countersign_app::ModelBinding::builtin(&name)?
                }
                _ => {
                    return Err(AppError::InvalidInput(
                        "ai bind needs one of --program PATH [--arg ARG…], --endpoint URL or \
                         --builtin NAME"
                            .into(),
                    ))
                }
            };
            let bound = home.ai_bind(binding)?;
            let text = match &bound {
                countersign_app::ModelBinding::Builtin { name } => {
                    format!("this node runs the built-in {name} as its model")
                }
                countersign_app::ModelBinding::Program { path, .. } => {
                    format!("this node runs {} as its model", path.display())
                }
                countersign_app::ModelBinding::Endpoint { url, .. } => format!(
                    "this node sends the report's images to {} as its model",
                    countersign_app::ai_endpoint::shown(url)
                ),
            };
            Output::new(&bound, text)
        }
    })
}
