//! The modalities of studies whose study-level C-FIND answer leaves out Modalities In Study
//! (an optional key: DCMTK's `dcmqrscp` does not keep it in its index). Without them a
//! `--modality` filter would let every study through and the worklist would show none; so each
//! such study's series are asked for at series level — one C-FIND per study, all on one
//! association, at most [`MAX_SERIES_LOOKUPS`] studies a search and [`MAX_SERIES`] series a study.

use std::collections::BTreeSet;

use super::*;

/// The most studies of one search whose modalities are asked at series level (a worklist page);
/// any beyond keep no modalities, and pass a modality filter as before.
pub const MAX_SERIES_LOOKUPS: usize = 200;
/// The most series read of one study: past it the archive is said to be answering nonsense.
pub const MAX_SERIES: usize = 10_000;

impl Dimse {
    /// Fills in the modalities of the `studies` that have none (see the module's doc). An
    /// archive that refuses series-level queries, or answers one malformed or too long, leaves
    /// that study and the rest as they were (the association is not trusted after it); one
    /// that cannot be reached or stops answering is an error, as for the study search.
    pub(super) fn fill_modalities(&self, studies: &mut [StudyMatch]) -> Result<()> {
        let missing: Vec<usize> = (0..studies.len())
            .filter(|i| studies[*i].modalities.is_empty())
            .take(MAX_SERIES_LOOKUPS)
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let mut assoc = self.connect(
            self.options()
                .with_presentation_context(STUDY_ROOT_FIND, vec![EXPLICIT_LE, IMPLICIT_LE]),
        )?;
        let (ctx, ts) = assoc.context_for(STUDY_ROOT_FIND)?;
        for i in missing {
            match series_modalities(&mut assoc, ctx, ts, &studies[i].study) {
                Ok(found) => studies[i].modalities = found,
                Err(PacsError::Refused(why) | PacsError::Malformed(why)) => {
                    tracing::info!(%why, "series-level C-FIND failed: modalities left unknown");
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        assoc.release();
        Ok(())
    }
}

/// One series-level C-FIND: the distinct Modality values of `study`'s series, sorted.
fn series_modalities(
    assoc: &mut find::Client,
    ctx: u8,
    ts: &'static dicom_encoding::TransferSyntax,
    study: &str,
) -> Result<Vec<String>> {
    find::send_find(
        assoc,
        (ctx, ts),
        "SERIES",
        &[
            (tags::STUDY_INSTANCE_UID, VR::UI, study),
            (tags::SERIES_INSTANCE_UID, VR::UI, ""),
            (tags::MODALITY, VR::CS, ""),
        ],
    )?;
    let mut modalities = BTreeSet::new();
    let mut series = 0usize;
    while let Some((obj, _)) = find::next_match(assoc, ts)? {
        series += 1;
        if series > MAX_SERIES {
            return Err(PacsError::Malformed(format!(
                "more than {MAX_SERIES} series in one study"
            )));
        }
        let modality = obj
            .element(tags::MODALITY)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|m| m.trim_end_matches(['\0', ' ']).trim().to_string())
            .filter(|m| !m.is_empty() && m.len() <= 16);
        // At most 64 distinct modalities, as a study-level answer is read.
        if modalities.len() < 64 {
            modalities.extend(modality);
        }
    }
    Ok(modalities.into_iter().collect())
}
