//! Running the program or service bound to a model node on a report's images, and holding
//! what it answers to the contract ([`super::program`], [`super::endpoint`]) before anything
//! is signed.

use std::collections::BTreeMap;
use std::time::Duration;

use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::EntryId;
use countersign_report::payload::AiResult;

use super::{endpoint, program};
use crate::error::{AppError, Result};
use crate::home::{json, Home};

/// What runs as the model: an executable, or a service at an HTTP endpoint.
#[derive(Clone, Copy)]
pub(super) enum Runner<'a> {
    Program {
        path: &'a std::path::Path,
        args: &'a [String],
    },
    Endpoint {
        url: &'a str,
    },
}

impl Home {
    /// The `ai.result` payload of the program or endpoint `runner` run on the report's images
    /// (see [`program`] and [`endpoint`]): nothing is returned unless it ran and its output held
    /// to the contract.
    pub(super) fn model_result(
        &self,
        report: EntryId,
        model: &AiModelInfo,
        runner: Runner<'_>,
        timeout: Duration,
        max_output: usize,
    ) -> Result<Vec<u8>> {
        let view = self.report_show(report)?;
        if view.images.is_empty() {
            return Err(AppError::InvalidInput(
                "the report names no images to analyse".into(),
            ));
        }
        // What ran is signed into the result: the program file's SHA-256, or the endpoint.
        let mut ran = BTreeMap::new();
        match runner {
            Runner::Program { path, .. } => {
                ran.insert(
                    "program".to_string(),
                    path.file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into()),
                );
                ran.insert("program_sha256".into(), program::program_sha256(path)?);
            }
            Runner::Endpoint { url } => {
                ran.insert("endpoint".to_string(), endpoint::shown(url).to_string());
            }
        }
        // A private folder under the home (owner-only, like the rest of it), removed after.
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let work = self.dir().join("ai-work").join(hex::encode(nonce));
        let images_dir = work.join("images");
        std::fs::create_dir_all(&images_dir)
            .map_err(AppError::io(format!("creating {}", images_dir.display())))?;
        let result = (|| -> Result<(program::ProgramOutput, Option<Vec<u8>>)> {
            let mut images = Vec::with_capacity(view.images.len());
            for sha in &view.images {
                // Re-hashed against its SHA-256: the program reads what the report binds.
                let (hash, bytes) = self.image_bytes(sha)?;
                let copy = images_dir.join(format!("{sha}.dcm"));
                std::fs::write(&copy, &bytes)
                    .map_err(AppError::io(format!("writing {}", copy.display())))?;
                let instance = self.store().db().instance(&hash.0)?;
                images.push(program::ProgramImage {
                    sha256: sha.clone(),
                    path: copy,
                    modality: instance.as_ref().and_then(|i| i.modality.clone()),
                    series: instance.as_ref().and_then(|i| i.series.clone()),
                    instance_number: instance.as_ref().and_then(|i| i.instance_number),
                    frames: instance.as_ref().map_or(1, |i| i.frames),
                });
            }
            let input = program::ProgramInput {
                contract: program::CONTRACT,
                model: program::ProgramModel {
                    name: model.model.clone(),
                    vendor: model.vendor.clone(),
                    version: model.version.clone(),
                },
                report: report.to_hex(),
                study: view.study.clone(),
                images,
            };
            let out = match runner {
                Runner::Program { path, args } => {
                    program::run(path, args, &work, &input, timeout, max_output)
                }
                Runner::Endpoint { url } => {
                    let parts: Vec<endpoint::Part<'_>> = input
                        .images
                        .iter()
                        .map(|i| endpoint::Part {
                            sha256: &i.sha256,
                            path: &i.path,
                        })
                        .collect();
                    endpoint::call(url, &input, &parts, timeout, max_output)
                }
            }?;
            // Read before the folder goes.
            let sr = out.sr_bytes(&work).map_err(|e| {
                AppError::AiModelOutput(format!("the model's output: {e}; nothing was signed"))
            })?;
            Ok((out, sr))
        })();
        let _ = std::fs::remove_dir_all(&work);
        let (out, sr) = result?;
        let mut parameters = out.parameters;
        let mut outputs = out.measurements;
        if let Some(bytes) = sr {
            attach_sr(&bytes, &view.study, &mut parameters, &mut outputs)?;
        }
        parameters.insert("contract".into(), program::CONTRACT.into());
        parameters.extend(ran);
        tracing::info!(report = %report, "model ran");
        Ok(json(&AiResult {
            model: model.model.clone(),
            version: model.version.clone(),
            inputs: view.images.clone(),
            parameters,
            outputs,
            section: out.section,
            text: out.text,
        }))
    }
}

/// Outputs a result may carry in all (the contract's bound on measurements).
const MAX_OUTPUTS: usize = 64;

/// Reads the DICOM SR a model wrote of its result (untrusted, as any SR: see
/// [`countersign_imaging::sr`]) and signs what it holds into the result: its SHA-256 and SOP
/// Instance UID as parameters, each measurement (`value units`) and finding (its coded value)
/// as an output named by its concept. An SR about another study than the report's, or one that
/// would take the outputs past their bound, is the model's error: nothing is signed.
fn attach_sr(
    bytes: &[u8],
    study: &str,
    parameters: &mut BTreeMap<String, String>,
    outputs: &mut BTreeMap<String, String>,
) -> Result<()> {
    use sha2::Digest;
    let refused =
        |why: String| AppError::AiModelOutput(format!("the model's SR {why}; nothing was signed"));
    let sr = countersign_imaging::sr::parse_sr(bytes).map_err(|e| refused(format!("{e}")))?;
    if sr.study != study {
        return Err(refused(format!(
            "is about study {}, not the report's {study}",
            sr.study
        )));
    }
    parameters.insert("sr_sha256".into(), hex::encode(sha2::Sha256::digest(bytes)));
    parameters.insert("sr_sop_instance".into(), sr.sop_instance.clone());
    let named = |prefix: &str, meaning: &str| {
        format!("{prefix}{meaning}")
            .chars()
            .take(64)
            .collect::<String>()
    };
    for m in &sr.measurements {
        let value = match &m.units {
            Some(u) => format!("{} {}", m.value, u.value),
            None => m.value.clone(),
        };
        outputs.insert(
            named("sr: ", &m.concept.meaning),
            value.chars().take(256).collect(),
        );
    }
    for f in &sr.findings {
        outputs.insert(
            named("sr: ", &f.concept.meaning),
            f.value.meaning.chars().take(256).collect(),
        );
    }
    if outputs.len() > MAX_OUTPUTS {
        return Err(refused(format!(
            "takes the result past {MAX_OUTPUTS} measurements"
        )));
    }
    Ok(())
}
