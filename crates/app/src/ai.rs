//! AI contributions: a model member runs a real, deterministic algorithm on the report's images
//! and signs what it found (`ai.result`); a reporting physician accepts, edits or rejects it
//! (`ai.review`), and an accepted or edited proposal becomes the section's next version.

use std::collections::BTreeMap;

use countersign_imaging::Samples;
use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::{EntryId, Kind, Role};
use countersign_report::payload::{AiResult, AiReview, Decision};

use crate::error::{AppError, Result};
use crate::home::{json, Home};

/// The algorithm's name and version, signed into every result it produces.
pub const SOFT_TISSUE_ALGORITHM: &str = "soft-tissue-region/1";
/// The attenuation band it measures, in HU.
const BAND: (f64, f64) = (0.0, 100.0);

impl Home {
    /// Runs the soft-tissue measurement on the middle image of the report's series and signs the
    /// result with this home's key, which must be an `ai-model` member of the roster.
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
        let payload = self.soft_tissue_result(report, &model)?;
        self.append_checked(report, Kind::AiResult, &payload)
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
            "Automated measurement ({} {}): soft-tissue region ({}–{} HU) on the middle image, \
             mean attenuation {:.1} HU over {:.0} mm².",
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
