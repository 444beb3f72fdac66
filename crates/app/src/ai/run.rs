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

/// Where model runs work, under the home.
const AI_WORK: &str = "ai-work";

/// A model run's working folder (`ai-work/<pid>-<nonce>`: copies of the report's images, and
/// what the model wrote), removed with what it holds when dropped, and marked as in use while
/// it exists, as a retrieval's staging folder is: one a killed run left is swept
/// ([`sweep_work`]).
struct Work {
    dir: std::path::PathBuf,
    fresh: crate::pacs::Fresh,
}

impl Work {
    fn new(home: &std::path::Path) -> Result<Work> {
        let mut nonce = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let dir = home
            .join(AI_WORK)
            .join(format!("{}-{}", std::process::id(), hex::encode(nonce)));
        std::fs::create_dir_all(&dir)
            .map_err(AppError::io(format!("creating {}", dir.display())))?;
        let fresh = crate::pacs::Fresh::start(dir.clone(), crate::pacs::FRESH_EVERY);
        Ok(Work { dir, fresh })
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        self.fresh.end();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes the working folders under `home` of model runs killed before they removed theirs
/// (copies of a report's images, and the model's output about them): when a home is opened,
/// and after an erasure, which must leave no copy of an erased image (found by review,
/// 2026-12-05: nothing ever removed them). A run still going keeps its own.
pub(crate) fn sweep_work(home: &std::path::Path) -> Result<countersign_store::Swept> {
    crate::pacs::sweep_folders(&home.join(AI_WORK), "")
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
        let folder = Work::new(self.dir())?;
        let work = &folder.dir;
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
                    program::run(path, args, work, &input, timeout, max_output)
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
            let sr = out.sr_bytes(work).map_err(|e| {
                AppError::AiModelOutput(format!("the model's output: {e}; nothing was signed"))
            })?;
            Ok((out, sr))
        })();
        drop(folder);
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

#[cfg(test)]
mod tests {
    use super::AI_WORK;

    /// Found by review (2026-12-05): a model run killed midway (`ai run` stopped, the machine
    /// off) left its working folder — copies of the report's images, the model's output —
    /// under the home for good, and an erasure of the report left them too. Fails if opening
    /// the home or an erasure leaves a dead run's folder, or removes a live run's.
    #[test]
    fn a_killed_model_runs_folder_is_swept_at_open_and_after_an_erasure() {
        let dir = tempfile::tempdir().unwrap();
        let home = crate::tests::founded(dir.path());
        // A run's folder as it was left, last touched `DEAD_AFTER` and more ago.
        let left = |name: &str| {
            let work = dir.path().join(AI_WORK).join(name);
            std::fs::create_dir_all(work.join("images")).unwrap();
            std::fs::write(work.join("images").join("copy.dcm"), b"pixels").unwrap();
            let then = std::time::SystemTime::now() - countersign_store::DEAD_AFTER * 2;
            std::fs::File::open(&work)
                .unwrap()
                .set_modified(then)
                .unwrap();
            work
        };
        // A pid no process has; and this process's, a run going on.
        let killed = left("4294967294-00aa");
        let running = left(&format!("{}-00bb", std::process::id()));
        drop(home);
        let mut home = crate::tests::open_home(dir.path()).unwrap();
        assert!(!killed.exists(), "a killed run's folder is left at open");
        assert!(running.exists(), "a running run's folder was removed");

        let killed = left("4294967294-00cc");
        let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
        home.erase(&crate::DataSubject::Report(report), "GDPR Art. 17(1)(a)")
            .unwrap();
        assert!(!killed.exists(), "an erasure left a killed run's folder");
        assert!(running.exists());
    }
}
