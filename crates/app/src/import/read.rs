//! Reading one file of an import: read, hashed (unless its writer did), its header parsed and
//! held to what a retrieval asked for, and staged for the store once the worker has judged it;
//! a retrieval's own staged file deleted as soon as it is refused or found a duplicate.

use super::*;

impl Home {
    /// Reads, hashes (unless its writer did) and parses one file; `None` if the home, this
    /// batch, the batch being synced or the file in the worker already has it (one the home
    /// has is added to `found_stored`). A retrieval's staged file that is refused or a
    /// duplicate is deleted here (see `discard_staged`).
    pub(super) fn read_one(
        &self,
        file: Incoming,
        expect: Option<&Expected>,
        batches: [&[Instance]; 2],
        in_flight: Option<&ReadFile>,
        found_stored: &mut Vec<([u8; 32], String)>,
    ) -> Result<Option<ReadFile>, ImportError> {
        // Only a movable file is the import's own (a retrieval's staging folder); a file of
        // the user's own folder is never deleted, whatever became of it.
        let staged = file.movable.then(|| file.path.clone());
        let read = self.read_leaving_file(file, expect, batches, in_flight, found_stored);
        if let (Some(path), Ok(None) | Err(_)) = (&staged, &read) {
            discard_staged(path);
        }
        read
    }

    /// [`Self::read_one`], leaving the file where it is whatever the outcome.
    fn read_leaving_file(
        &self,
        file: Incoming,
        expect: Option<&Expected>,
        batches: [&[Instance]; 2],
        in_flight: Option<&ReadFile>,
        found_stored: &mut Vec<([u8; 32], String)>,
    ) -> Result<Option<ReadFile>, ImportError> {
        let bytes = match file.data {
            Some(data) => data,
            None => countersign_imaging::read_file(&file.path).map_err(ImportError::image)?,
        };
        let sha256: [u8; 32] = match file.sha256 {
            Some(sha256) => sha256,
            None => Sha256::digest(&bytes).into(),
        };
        // A retrieval's wrong-patient check comes before the duplicate short-cut: the same
        // bytes are the same instance, so the row already held for them (in the store, this
        // batch, the batch syncing or the worker) answers for its study and patient without
        // parsing the file again. Counted as a duplicate unchecked, an instance of another
        // patient already in the home would pass as part of the study asked for, and the
        // wrong-patient refusal would be lost (found by review, 2026-12-05).
        let check = |held: &Instance| match expect {
            Some(expect) => expect.check(held),
            None => Ok(()),
        };
        if let Some(stored) = self
            .store()
            .db()
            .instance(&sha256)
            .map_err(AppError::from)?
        {
            check(&stored)?;
            found_stored.push((sha256, file.path.display().to_string()));
            return Ok(None);
        }
        if let Some(held) = batches
            .iter()
            .flat_map(|b| b.iter())
            .chain(in_flight.map(|f| &f.instance))
            .find(|r| r.sha256 == sha256)
        {
            check(held)?;
            return Ok(None);
        }
        // The header alone where the file allows: judging and indexing it need no copy of its
        // pixel data (see `countersign_imaging::read_header`).
        let header = countersign_imaging::read_header(&bytes).map_err(ImportError::image)?;
        let instance = instance_of(&header.info, sha256, bytes.len() as u64)
            .map_err(|reason| ImportError::File("no_study_uid", reason))?;
        check(&instance)?;
        Ok(Some(ReadFile {
            bytes,
            header,
            instance,
            moved_from: file.movable.then_some(file.path),
            recycle: file.recycle,
        }))
    }

    /// Unless `verdict` (the worker's, or one reached without decoding) refuses the file,
    /// stages it: hands it to `writer`, unless it is in the store already.
    pub(super) fn stage_one(
        &self,
        read: ReadFile,
        verdict: Verdict,
        writer: &Writer,
    ) -> Result<Option<(Instance, Option<StagedImage>, DecodeCheck)>, ImportError> {
        if let Verdict::Refused { code, message, .. } = verdict {
            if let Some(from) = &read.moved_from {
                discard_staged(from);
            }
            return Err(ImportError::File(code, format!("{message}; not imported")));
        }
        let path = image_path(self.dir(), &read.instance.sha256);
        let give_back = |bytes: Vec<u8>, recycle: Option<countersign_pacs::Buffers>| {
            if let Some(buffers) = recycle {
                buffers.give(bytes);
            }
        };
        let staged = match read.moved_from {
            // Written whole already, in the home: renamed into the store at the commit.
            Some(from) => {
                give_back(read.bytes, read.recycle);
                Some(StagedImage::moved(from, path))
            }
            None => match StagedImage::new(&path) {
                Some(staged) => {
                    writer.write(staged.clone(), read.bytes, read.recycle);
                    Some(staged)
                }
                // In the store already (the same bytes: its name is their hash).
                None => {
                    give_back(read.bytes, read.recycle);
                    None
                }
            },
        };
        Ok(Some((read.instance, staged, verdict.to_check())))
    }
}

/// Deletes a retrieval's staged file that will not be imported (refused, or a duplicate) as
/// soon as that is known. Left until the retrieval ended, they let a hostile archive fill the
/// disk with parts refused one by one (found by review, 2026-12-05). Only for files the import
/// owns (`Incoming::movable`); one already gone is fine.
pub(super) fn discard_staged(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        // The retrieval's staging folder is removed when it ends: this one goes then.
        Err(e) => tracing::warn!(error = %e, "a refused staged file could not be deleted"),
    }
}

/// A file read, hashed and parsed, not yet checked by the worker.
pub(super) struct ReadFile {
    pub(super) bytes: Vec<u8>,
    pub(super) header: DicomHeader,
    pub(super) instance: Instance,
    /// A retrieval's staged file, moved into the store rather than written again.
    pub(super) moved_from: Option<PathBuf>,
    /// See [`Incoming::recycle`].
    pub(super) recycle: Option<countersign_pacs::Buffers>,
}

fn instance_of(i: &ImageInfo, sha256: [u8; 32], size: u64) -> Result<Instance, String> {
    let study = i.study_uid.clone().ok_or("no Study Instance UID")?;
    Ok(Instance {
        sha256,
        size,
        study,
        series: i.series_uid.clone(),
        instance: i.instance_uid.clone(),
        patient: i.patient_name.clone(),
        patient_id: i.patient_id.clone(),
        study_date: i.study_date.clone(),
        modality: i.modality.clone(),
        study_description: i.study_description.clone(),
        series_description: i.series_description.clone(),
        sop_class: i.sop_class.clone(),
        frames: i.frames,
        imported_ms: now_ms(),
        instance_number: i.instance_number,
        slice_location: i.slice_location,
        sop_class_uid: Some(i.sop_class_uid.clone()),
        plane: i.geometry.map(|g| g.plane.name().to_string()),
        position: i.geometry.map(|g| g.position),
        issuer: i.patient_id_issuer.clone(),
    })
}
