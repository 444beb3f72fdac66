//! A study's report instances over DIMSE: a Study Root C-FIND at SERIES level, then at IMAGE
//! level in the series whose modality can hold a report; a C-GET of one instance at IMAGE
//! level whose association offers only the report storage classes.

use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::association::Intake;
use super::{
    command_field, data_set_follows, status_of, Dimse, C_GET_RQ, C_GET_RSP, C_STORE_RQ,
    EXPLICIT_LE, IMPLICIT_LE, MAX_IDENTIFIER_BYTES, STUDY_ROOT_FIND, STUDY_ROOT_GET, SUCCESS,
};
use crate::documents::{
    one_more_series, DocumentMatch, DOCUMENT_MODALITIES, ENCAPSULATED_PDF, MAX_DOCUMENTS,
    SR_CLASSES,
};
use crate::{check_uid, Limits, PacsError, Result};

impl Dimse {
    /// One C-FIND at `level` with `keys` (empty ones are asked back): the identifiers it
    /// answers, the first `most` (the rest is not read, as a QIDO-RS `limit` would cut it).
    fn find(
        &self,
        level: &str,
        keys: &[(Tag, VR, &str)],
        most: usize,
    ) -> Result<Vec<InMemDicomObject>> {
        let mut assoc = self.connect(
            self.options()
                .with_presentation_context(STUDY_ROOT_FIND, vec![EXPLICIT_LE, IMPLICIT_LE]),
        )?;
        let (ctx, ts) = assoc.context_for(STUDY_ROOT_FIND)?;
        super::find::send_find(&mut assoc, (ctx, ts), level, keys)?;
        let mut out = Vec::new();
        // The answers together are held to what a QIDO-RS answer may be (each identifier
        // alone may be 1 MiB: ten thousand of them would be ten GiB).
        let mut held = 0u64;
        while let Some((obj, bytes)) = super::find::next_match(&mut assoc, ts)? {
            held += bytes as u64;
            if held > crate::qido::MAX_JSON_BYTES {
                assoc.abort();
                return Err(PacsError::TooLarge {
                    what: "the C-FIND answers for a study's reports".into(),
                    limit: crate::qido::MAX_JSON_BYTES,
                });
            }
            out.push(obj);
            if out.len() == most {
                // Enough: aborting ends the search at once.
                assoc.abort();
                return Ok(out);
            }
        }
        assoc.release();
        Ok(out)
    }

    pub(crate) fn documents(&self, study: &str) -> Result<Vec<DocumentMatch>> {
        let series = self.find(
            "SERIES",
            &[
                (tags::STUDY_INSTANCE_UID, VR::UI, study),
                (tags::SERIES_INSTANCE_UID, VR::UI, ""),
                (tags::MODALITY, VR::CS, ""),
            ],
            crate::qido::MAX_RESULTS,
        )?;
        let mut found = Vec::new();
        let mut searched = 0;
        for s in &series {
            let modality = value(s, tags::MODALITY);
            if !modality
                .as_deref()
                .is_some_and(|m| DOCUMENT_MODALITIES.contains(&m))
            {
                continue;
            }
            one_more_series(&mut searched)?;
            let uid = value(s, tags::SERIES_INSTANCE_UID).ok_or_else(|| {
                PacsError::Malformed("a C-FIND series without its Series Instance UID".into())
            })?;
            check_uid(&uid).map_err(|_| {
                PacsError::Malformed("a C-FIND Series Instance UID is not a UID".into())
            })?;
            let instances = self.find(
                "IMAGE",
                &[
                    (tags::STUDY_INSTANCE_UID, VR::UI, study),
                    (tags::SERIES_INSTANCE_UID, VR::UI, &uid),
                    (tags::SOP_INSTANCE_UID, VR::UI, ""),
                    (tags::SOP_CLASS_UID, VR::UI, ""),
                    (tags::CONTENT_DATE, VR::DA, ""),
                    (tags::CONTENT_TIME, VR::TM, ""),
                ],
                MAX_DOCUMENTS,
            )?;
            for i in &instances {
                let sop_class = value(i, tags::SOP_CLASS_UID);
                let Some(kind) = DocumentMatch::kind_of(sop_class.as_deref(), modality.as_deref())
                else {
                    continue;
                };
                let instance = value(i, tags::SOP_INSTANCE_UID).ok_or_else(|| {
                    PacsError::Malformed("a C-FIND instance without its SOP Instance UID".into())
                })?;
                check_uid(&instance).map_err(|_| {
                    PacsError::Malformed("a C-FIND SOP Instance UID is not a UID".into())
                })?;
                if found.len() == MAX_DOCUMENTS {
                    return Err(PacsError::TooLarge {
                        what: "the study's reports".into(),
                        limit: MAX_DOCUMENTS as u64,
                    });
                }
                found.push(DocumentMatch {
                    kind,
                    series: uid.clone(),
                    instance,
                    sop_class,
                    date: value(i, tags::CONTENT_DATE),
                    time: value(i, tags::CONTENT_TIME),
                });
            }
        }
        Ok(found)
    }

    pub(crate) fn fetch_instance(
        &self,
        study: &str,
        series: &str,
        instance: &str,
        dir: &Path,
        limit: u64,
    ) -> Result<()> {
        if self.move_port.is_some() {
            // A C-MOVE brings what it brings on an association the archive opens: not done
            // for one report (the study's retrieval brings its reports with its images).
            return Err(PacsError::Refused(
                "it is configured for C-MOVE, and a report alone is fetched by C-GET".into(),
            ));
        }
        let mut options = self
            .options()
            .with_presentation_context(STUDY_ROOT_GET, vec![EXPLICIT_LE, IMPLICIT_LE]);
        // Only the report classes: an archive cannot send an image on this association.
        for class in SR_CLASSES.iter().chain([&ENCAPSULATED_PDF]) {
            options = options
                .with_presentation_context(*class, vec![EXPLICIT_LE, IMPLICIT_LE])
                .with_role_selection(*class, false, true);
        }
        let mut assoc = self.connect(options)?;
        let (ctx, ts) = assoc.context_for(STUDY_ROOT_GET)?;
        let mut identifier = InMemDicomObject::new_empty();
        for (tag, vr, v) in [
            (tags::QUERY_RETRIEVE_LEVEL, VR::CS, "IMAGE"),
            (tags::STUDY_INSTANCE_UID, VR::UI, study),
            (tags::SERIES_INSTANCE_UID, VR::UI, series),
            (tags::SOP_INSTANCE_UID, VR::UI, instance),
        ] {
            identifier.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        }
        assoc.send_request((ctx, ts), STUDY_ROOT_GET, C_GET_RQ, &identifier, &[])?;
        let limits = Limits {
            max_instances: 1,
            max_instance_bytes: limit,
            max_study_bytes: limit,
            // The caller reads the fetched report from its file.
            keep_in_memory: 0,
            timeout: self.timeout,
        };
        let mut intake = Intake::default();
        // One instance asked for: an archive still sending pending answers or stores after
        // this many messages is answering nonsense, not slowly (each read has its timeout).
        const MAX_MESSAGES: usize = 1_000;
        let mut messages = 0usize;
        loop {
            messages += 1;
            if messages > MAX_MESSAGES {
                assoc.abort();
                return Err(PacsError::Malformed(format!(
                    "more than {MAX_MESSAGES} messages for one instance's C-GET"
                )));
            }
            let (pc, cmd) = assoc.read_command()?;
            match command_field(&cmd)? {
                C_STORE_RQ => assoc.take_store(pc, &cmd, dir, &mut intake, &limits, &mut |_| {
                    std::ops::ControlFlow::Continue(())
                })?,
                C_GET_RSP => {
                    let status = status_of(&cmd)?;
                    if data_set_follows(&cmd)? {
                        assoc.read_data(&mut std::io::sink(), MAX_IDENTIFIER_BYTES as u64)?;
                    }
                    match status {
                        0xFF00 => continue,
                        SUCCESS | 0xB000 => {
                            assoc.release();
                            if let Some(e) = intake.refused_here {
                                return Err(e);
                            }
                            if intake.got.files.is_empty() {
                                return Err(PacsError::Refused(format!(
                                    "C-GET brought nothing for instance {instance}"
                                )));
                            }
                            return Ok(());
                        }
                        other => {
                            assoc.abort();
                            return Err(PacsError::Refused(format!(
                                "C-GET answered status 0x{other:04X}"
                            )));
                        }
                    }
                }
                other => {
                    assoc.abort();
                    return Err(PacsError::Malformed(format!(
                        "an unexpected DIMSE command 0x{other:04X} during a C-GET"
                    )));
                }
            }
        }
    }
}

/// An identifier's value as text, trimmed of padding; `None` when absent or empty.
fn value(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).trim().to_string())
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(1024).collect())
}
