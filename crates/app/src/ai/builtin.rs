//! The built-in example model, `soft-tissue-stats`: the mean attenuation and area of the
//! soft-tissue pixels (0–100 HU) on the middle CT image of a report — a statistic, not a
//! diagnosis, so that a department can try the AI workflow without a model of its own.

use std::collections::BTreeMap;

use countersign_imaging::Samples;
use countersign_ledger::roster::AiModelInfo;
use countersign_ledger::EntryId;
use countersign_report::payload::AiResult;

use super::SOFT_TISSUE_STATS;
use crate::error::{AppError, Result};
use crate::home::{json, Home};

/// The built-in algorithm's name and version, signed into every result it produces.
pub const SOFT_TISSUE_ALGORITHM: &str = "soft-tissue-stats/1";
/// The attenuation band it measures, in HU.
const BAND: (f64, f64) = (0.0, 100.0);

impl Home {
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
