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
    assoc: &mut Association<ClientAssociation<TcpStream>>,
    ctx: u8,
    ts: &'static dicom_encoding::TransferSyntax,
    study: &str,
) -> Result<Vec<String>> {
    let mut identifier = InMemDicomObject::new_empty();
    for (tag, vr, v) in [
        (tags::QUERY_RETRIEVE_LEVEL, VR::CS, "SERIES"),
        (tags::STUDY_INSTANCE_UID, VR::UI, study),
        (tags::SERIES_INSTANCE_UID, VR::UI, ""),
        (tags::MODALITY, VR::CS, ""),
    ] {
        identifier.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    let id = assoc.message_id();
    assoc.send_command(
        ctx,
        &[
            (
                tags::AFFECTED_SOP_CLASS_UID,
                VR::UI,
                uid_value(STUDY_ROOT_FIND),
            ),
            (tags::COMMAND_FIELD, VR::US, PrimitiveValue::from(C_FIND_RQ)),
            (tags::MESSAGE_ID, VR::US, PrimitiveValue::from(id)),
            (tags::PRIORITY, VR::US, PrimitiveValue::from(0u16)),
            (
                tags::COMMAND_DATA_SET_TYPE,
                VR::US,
                PrimitiveValue::from(DATA_SET),
            ),
        ],
    )?;
    assoc.send_data_set(ctx, ts, &identifier)?;
    let mut modalities = BTreeSet::new();
    let mut series = 0usize;
    loop {
        let (_, rsp) = assoc.read_command()?;
        expect_field(&rsp, C_FIND_RSP)?;
        let status = status_of(&rsp)?;
        let has_data = data_set_follows(&rsp)?;
        match status {
            0xFF00 | 0xFF01 => {
                series += 1;
                if series > MAX_SERIES {
                    assoc.abort();
                    return Err(PacsError::Malformed(format!(
                        "more than {MAX_SERIES} series in one study"
                    )));
                }
                let mut bytes = Vec::new();
                if has_data {
                    assoc.read_data(&mut bytes, MAX_IDENTIFIER_BYTES as u64)?;
                }
                let obj = InMemDicomObject::read_dataset_with_ts(&bytes[..], ts)
                    .map_err(|e| PacsError::Malformed(format!("a C-FIND identifier: {e}")))?;
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
            SUCCESS => {
                if has_data {
                    assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
                }
                return Ok(modalities.into_iter().collect());
            }
            other => {
                return Err(PacsError::Refused(format!(
                    "a series-level C-FIND answered status 0x{other:04X}"
                )));
            }
        }
    }
}
