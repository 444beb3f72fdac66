//! AI contributions: a model member's node runs the program bound to it (`ai bind`: an
//! executable speaking the contract in [`program`], a service speaking it over HTTP
//! ([`endpoint`]), or the built-in example [`SOFT_TISSUE_STATS`]) on the report's images and signs what it found (`ai.result`) only if
//! the program ran and its output held to the contract; a reporting physician accepts, edits or
//! rejects it (`ai.review`), and an accepted or edited proposal becomes the section's next
//! version.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use countersign_imaging::Samples;
use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{EntryId, Kind, Role};
use countersign_report::payload::{AiResult, AiReview, Decision};

use crate::error::{AppError, Result};
use crate::home::{json, Home};

mod archive;
mod audit;
mod binding;
pub mod endpoint;
mod folder;
pub mod program;
mod received;

pub use archive::{ArchiveImport, ArchiveRefusal};
pub use audit::{AuditExport, AUDIT_ENTRIES_NAME, AUDIT_PROVENANCE_NAME, AUDIT_SUMMARY_NAME};
pub use binding::{ModelBinding, SOFT_TISSUE_STATS};
pub use folder::{FolderFile, FolderImport, MAX_FILES_PER_PASS};
pub use received::ReceivedSr;

/// The built-in algorithm's name and version, signed into every result it produces.
pub const SOFT_TISSUE_ALGORITHM: &str = "soft-tissue-stats/1";
/// The attenuation band it measures, in HU.
const BAND: (f64, f64) = (0.0, 100.0);

/// What runs as the model: an executable, or a service at an HTTP endpoint.
#[derive(Clone, Copy)]
enum Runner<'a> {
    Program {
        path: &'a std::path::Path,
        args: &'a [String],
    },
    Endpoint {
        url: &'a str,
    },
}

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

    /// The `ai.result` payload of the program or endpoint `runner` run on the report's images
    /// (see [`program`] and [`endpoint`]): nothing is returned unless it ran and its output held
    /// to the contract.
    fn model_result(
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

    /// The `ai.result` payload of the soft-tissue measurement by `model` on the middle image of
    /// the report's series (the demo signs it with a model key of its own).
    pub(crate) fn soft_tissue_result(
        &self,
        report: EntryId,
        model: &AiModelInfo,
    ) -> Result<Vec<u8>> {
        let view = self.report_show(report)?;
        let image = view
            .images
            .get(view.images.len() / 2)
            .cloned()
            .ok_or_else(|| {
                AppError::InvalidInput("the report names no images to analyse".into())
            })?;
        // Attenuation in HU means CT: on any other modality the numbers would be meaningless.
        let sha = countersign_ledger::Hash::from_hex(&image)
            .map_err(|e| AppError::InvalidInput(format!("image hash {image:?}: {e}")))?;
        let modality = self
            .store()
            .db()
            .instance(&sha.0)?
            .and_then(|i| i.modality)
            .unwrap_or_default();
        if modality != "CT" {
            return Err(AppError::AiInputRefused(format!(
                "{SOFT_TISSUE_STATS} measures CT attenuation in HU, and this report's images are \
                 {}: it does not run on them",
                if modality.is_empty() {
                    "of no stated modality"
                } else {
                    &modality
                }
            )));
        }
        let found = soft_tissue(self, &image)?;
        let mut outputs = BTreeMap::new();
        outputs.insert("mean_hu".into(), format!("{:.1}", found.mean_hu));
        outputs.insert("area_mm2".into(), format!("{:.0}", found.area_mm2));
        outputs.insert("pixels".into(), found.pixels.to_string());
        let mut parameters = BTreeMap::new();
        parameters.insert("algorithm".into(), SOFT_TISSUE_ALGORITHM.into());
        parameters.insert("band_hu".into(), format!("{}..{}", BAND.0, BAND.1));
        parameters.insert("frame".into(), "0".into());
        let text = format!(
            "Automated measurement ({} {}): pixels of soft-tissue attenuation ({}–{} HU) on the \
             middle image, mean {:.1} HU over {:.0} mm². A statistic, not a diagnosis.",
            model.model, model.version, BAND.0, BAND.1, found.mean_hu, found.area_mm2
        );
        Ok(json(&AiResult {
            model: model.model.clone(),
            version: model.version.clone(),
            inputs: vec![image],
            parameters,
            outputs,
            section: "findings".into(),
            text,
        }))
    }

    /// The AI reviewer's figures (see [`countersign_report::oversight`]), read from the AI
    /// outcome rows ([`crate::projection::ai`]) the filter and `modality` select (on studies of
    /// which this home holds an image of that modality).
    ///
    /// What this checks: every counted proposal's and review's stored bytes (header, signature,
    /// payload) are hashed in the pass that reads the rows and held to the digest its row kept
    /// when it was made from them, verified; an entry whose bytes changed since (or that is no
    /// longer stored) is excluded and listed, never counted. What it does not: signatures are
    /// not verified again here (that is 200 000 ed25519 checks at 100 000 proposals), so an
    /// entry rewritten together with its row is caught by `verify`, which checks every
    /// signature and recomputes every row.
    pub fn ai_stats(
        &self,
        filter: &countersign_report::oversight::Filter,
        modality: Option<&str>,
    ) -> Result<countersign_report::oversight::AiStats> {
        use countersign_report::oversight::{ai_stats_of, reviewer_label, Outcome, ReviewOutcome};
        use countersign_store::AiOutcomeSelection;

        let db = self.store().db();
        if !crate::projection::ai::current(&db)? {
            // Opening the home rebuilds the rows, so only a table changed behind this
            // process's back gets here: the figures then come the slow way, from every report
            // re-checked.
            tracing::warn!("the AI outcome rows are not current: ai stats projects every report (`countersign reindex` rebuilds them)");
            return self.ai_stats_from_reports(filter, modality);
        }
        let selection = AiOutcomeSelection {
            model: filter.model.as_deref(),
            since_ms: filter.since_ms,
            modality,
        };
        // The stored bytes are read on a second connection while this one reads the rows
        // (two cores, half the wait). The two reads are two snapshots: an entry written or
        // erased between them can look missing or changed, so whatever the scan flags is read
        // again here before it is excluded (a lookup each, for the few that are flagged).
        let path = self.store().path().to_path_buf();
        let (rows, intact) = std::thread::scope(|scope| {
            let scan = scope.spawn(move || {
                let other = countersign_store::Store::open(&path)?;
                let intact = intact_ai_entries(&other.db());
                intact
            });
            let rows = db.ai_outcomes(&selection);
            (rows, scan.join())
        });
        let rows = rows?;
        let intact = intact.map_err(|_| {
            AppError::InvalidInput("reading the AI entries failed unexpectedly".into())
        })??;
        let state = self.state()?;
        let roster = state.roster();
        // One roster lookup per key, not per row: "name (key)" and the model's vendor.
        type Named = (String, Option<String>);
        fn lookup<'m>(
            authors: &'m mut HashMap<Vec<u8>, Named>,
            roster: &countersign_ledger::Roster,
            bytes: &[u8],
        ) -> &'m Named {
            if !authors.contains_key(bytes) {
                let key = <[u8; 32]>::try_from(bytes)
                    .ok()
                    .and_then(|k| countersign_ledger::PublicKey::from_bytes(&k).ok());
                let found = match key {
                    Some(k) => {
                        let a = countersign_report::author(roster, &k);
                        (reviewer_label(&a), a.ai_model.map(|m| m.vendor))
                    }
                    // Only a damaged row says this (verify names it).
                    None => (format!("unknown author ({})", hex::encode(bytes)), None),
                };
                authors.insert(bytes.to_vec(), found);
            }
            &authors[bytes]
        }
        let mut authors: HashMap<Vec<u8>, Named> = HashMap::new();
        // Why an entry its row says counts does not: its bytes are not those the row was made
        // from, verified then (checked again on this connection before it is said).
        let held = |id: &EntryId, kept: &Option<Vec<u8>>, why: Option<String>| -> Result<_> {
            let Some(kept) = kept else { return Ok(why) };
            if why.is_some()
                || intact
                    .get(id)
                    .is_some_and(|now| now.as_slice() == kept.as_slice())
            {
                return Ok(why);
            }
            Ok(match intact_entry(&db, id)? {
                Some(now) if now.as_slice() == kept.as_slice() => None,
                Some(_) => Some("changed since it was verified: run verify".into()),
                None => Some("no longer stored intact since it was verified: run verify".into()),
            })
        };
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
        for row in rows {
            let vendor = match row.manufacturer {
                Some(m) => Some(m),
                None => lookup(&mut authors, roster, &row.author).1.clone(),
            };
            let review = match row.review {
                Some(r) => {
                    let decision = crate::projection::ai::decision_of(&r.decision);
                    let reviewer = lookup(&mut authors, roster, &r.reviewer).0.clone();
                    let why = held(&r.entry, &r.digest, r.unverified)?.or_else(|| {
                        decision
                            .is_none()
                            .then(|| "its AI row is damaged: run `countersign reindex`".to_string())
                    });
                    Some(ReviewOutcome {
                        entry: r.entry,
                        decision: decision.unwrap_or(Decision::Reject),
                        time_ms: r.time_ms,
                        reviewer,
                        words_changed: r.words_changed,
                        unverified: why,
                    })
                }
                None => None,
            };
            outcomes.push(Outcome {
                entry: row.entry,
                report: Some(row.log),
                received: row.received,
                vendor,
                model: row.model,
                version: row.version,
                time_ms: row.time_ms,
                unverified: held(&row.entry, &row.digest, row.unverified)?,
                review,
            });
        }
        // The order `report show` lists them in, report by report.
        outcomes.sort_unstable_by_key(|a| (a.report, a.time_ms, a.entry));
        Ok(ai_stats_of(outcomes, filter))
    }

    /// [`Home::ai_stats`] computed the slow way: every report of [`Home::ai_reports`]
    /// projected, every entry of it re-checked. The figures must be the same.
    pub fn ai_stats_from_reports(
        &self,
        filter: &countersign_report::oversight::Filter,
        modality: Option<&str>,
    ) -> Result<countersign_report::oversight::AiStats> {
        use countersign_report::oversight::{ai_stats_of, Outcome};
        let views = self.ai_reports(modality)?;
        let mut outcomes: Vec<Outcome> = views
            .iter()
            .flat_map(|v| v.ai.iter().map(|ai| Outcome::of(ai, Some(v.report))))
            .collect();
        outcomes.sort_by_key(|a| (a.report, a.time_ms, a.entry));
        Ok(ai_stats_of(outcomes, filter))
    }

    /// Every report this home holds that granted a model access (a model writes nowhere else)
    /// or received an AI result as DICOM SR and holds an AI result, optionally only on studies
    /// of `modality`: what `ai stats` and the audit package read.
    pub fn ai_reports(
        &self,
        modality: Option<&str>,
    ) -> Result<Vec<countersign_report::ReportView>> {
        let mut views = Vec::new();
        for log in self.store().db().logs_with_ai()? {
            let view = self.report_show(log)?;
            if view.ai.is_empty() {
                continue;
            }
            if let Some(wanted) = modality {
                let instances = self.store().db().instances(Some(&view.study))?;
                if !instances
                    .iter()
                    .any(|i| i.modality.as_deref() == Some(wanted))
                {
                    continue;
                }
            }
            views.push(view);
        }
        Ok(views)
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

/// The digest ([`crate::projection::ai::entry_digest`]) of every stored AI entry whose payload
/// is intact (stored, and hashing to the hash its header commits to), by id: two sequential
/// passes, over the AI entries and over the payloads, each entry's bytes hashed as they are
/// read and none held.
fn intact_ai_entries(
    db: &countersign_store::Db<'_>,
) -> Result<countersign_ledger::IdMap<[u8; 32]>> {
    use crate::projection::ai::{entry_digest, payload_sound};
    let mut stored: Vec<(EntryId, [u8; 32], countersign_ledger::Hash)> = Vec::new();
    db.scan_ai_entries(|id, header, signature, payload_hash| {
        if let (Some(id), Some(payload)) = (
            countersign_ledger::Hash::from_slice(id),
            countersign_ledger::Hash::from_slice(payload_hash),
        ) {
            stored.push((id, entry_digest(header, signature, payload_hash), payload));
        }
    })?;
    let wanted: countersign_ledger::IdSet = stored.iter().map(|(_, _, p)| *p).collect();
    let mut sound = countersign_ledger::IdSet::default();
    db.scan_payloads(|hash, bytes| {
        if let Some(h) = countersign_ledger::Hash::from_slice(hash) {
            if wanted.contains(&h) && payload_sound(hash, bytes) {
                sound.insert(h);
            }
        }
    })?;
    Ok(stored
        .into_iter()
        .filter(|(_, _, payload)| sound.contains(payload))
        .map(|(id, digest, _)| (id, digest))
        .collect())
}

/// [`intact_ai_entries`] for one entry, looked up: its digest if it is stored intact.
fn intact_entry(db: &countersign_store::Db<'_>, id: &EntryId) -> Result<Option<[u8; 32]>> {
    use crate::projection::ai::{entry_digest, payload_sound};
    Ok(db.get(id)?.and_then(|row| {
        let sound = row
            .payload
            .as_deref()
            .is_some_and(|p| payload_sound(&row.payload_hash, p));
        sound.then(|| entry_digest(&row.header, &row.signature, &row.payload_hash))
    }))
}

struct SoftTissue {
    mean_hu: f64,
    area_mm2: f64,
    pixels: u64,
}

/// Mean HU and area of the pixels whose modality value lies in [`BAND`], on frame 0.
fn soft_tissue(home: &Home, image: &str) -> Result<SoftTissue> {
    let image = home.image_for_decoding(image)?;
    let frame = image.frame(0)?;
    let info = &image.info;
    let hu = |v: i64| v as f64 * info.rescale_slope + info.rescale_intercept;
    let (mut sum, mut pixels) = (0.0, 0u64);
    let samples: &Samples = &frame.samples;
    for i in 0..samples.len() {
        let v = hu(samples.get(i));
        if (BAND.0..=BAND.1).contains(&v) {
            sum += v;
            pixels += 1;
        }
    }
    if pixels == 0 {
        return Err(AppError::InvalidInput(
            "no soft tissue (0–100 HU) on the middle image".into(),
        ));
    }
    let pixel_area = info.pixel_spacing.map_or(1.0, |[r, c]| r * c);
    Ok(SoftTissue {
        mean_hu: sum / pixels as f64,
        area_mm2: pixels as f64 * pixel_area,
        pixels,
    })
}
