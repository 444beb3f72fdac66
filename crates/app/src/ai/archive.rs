//! `ai import --pacs NAME --study UID`: AI results that an AI product stored into the archive,
//! in the study they are about (as IHE AI Results has it: the evidence creator stores its TID
//! 1500 SR to the image manager), received from there.
//!
//! The study is retrieved into a staging folder (as `retrieve` does, over DICOMweb or DIMSE)
//! and every instance read as a possible SR: images are passed over; an SR is taken as an AI
//! result only when its observer context names a **device** — an SR written by a person
//! (including the signed reports this department stores back to the archive) is no AI result
//! and is left alone. Each AI SR is then received like a file ([`Home::ai_import`]): into the
//! report named, or the one report on the study; one received before is a duplicate, and a
//! refusal of one never holds another back. Nothing is stored but the `ai.received` entries:
//! the staging folder is removed when the pass ends.

use countersign_imaging::sr::SrError;
use countersign_ledger::EntryId;
use serde::Serialize;

use crate::error::{AppError, Result};
use crate::home::Home;

use super::received::{read_sr, Receipt, ReceivedSr};

/// An instance the archive pass refused, and why.
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveRefusal {
    /// The SR's SOP Instance UID, when it could be read that far.
    pub sop_instance: Option<String>,
    pub code: &'static str,
    pub message: String,
}

/// What `ai import --pacs` did.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ArchiveImport {
    pub archive: String,
    pub study: String,
    /// Instances the archive returned for the study.
    pub instances: u64,
    pub received: Vec<ReceivedSr>,
    /// AI SRs received before (by SHA-256).
    pub duplicates: u64,
    /// Images, and SRs no device wrote: not AI results.
    pub passed_over: u64,
    pub refused: Vec<ArchiveRefusal>,
}

impl Home {
    /// Receives every AI result stored as SR in `study` on `archive` (see the module docs).
    pub fn ai_import_from_archive(
        &mut self,
        archive: &str,
        study: &str,
        report: Option<EntryId>,
        section: Option<&str>,
    ) -> Result<ArchiveImport> {
        let (staging, files, patient_id) = self.retrieve_staged(archive, study)?;
        let mut out = ArchiveImport {
            archive: archive.to_string(),
            study: study.to_string(),
            instances: files.len() as u64,
            ..Default::default()
        };
        for file in &files {
            // A study is mostly images, some larger than any SR may be: they are told apart
            // by their meta information before anything is read whole.
            if !names_an_sr_class(file)? {
                out.passed_over += 1;
                continue;
            }
            let (sha, parsed) = match read_sr(file) {
                Ok(read) => read,
                // Not an SR after all, or a person's report with nothing an AI would attest.
                Err(AppError::Sr(
                    SrError::NotSr { .. }
                    | SrError::NothingToAttest {
                        device_observed: false,
                    },
                )) => {
                    out.passed_over += 1;
                    continue;
                }
                Err(e) => {
                    out.refused.push(ArchiveRefusal {
                        sop_instance: None,
                        code: e.code(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            if parsed.observer.is_none() {
                out.passed_over += 1;
                continue;
            }
            let sop_instance = parsed.sop_instance.clone();
            if let Err(e) = of_the_study(&parsed, study, patient_id.as_deref()) {
                out.refused.push(ArchiveRefusal {
                    sop_instance: Some(sop_instance),
                    code: e.code(),
                    message: e.to_string(),
                });
                continue;
            }
            match Receipt::of(self.ai_receive(report, sha, parsed, section))? {
                Receipt::Received(r) => out.received.push(r),
                Receipt::Duplicate(_) => out.duplicates += 1,
                Receipt::Refused(e) => out.refused.push(ArchiveRefusal {
                    sop_instance: Some(sop_instance),
                    code: e.code(),
                    message: e.to_string(),
                }),
            }
        }
        drop(staging);
        tracing::info!(
            instances = out.instances,
            received = out.received.len(),
            duplicates = out.duplicates,
            refused = out.refused.len(),
            "AI results received from the archive"
        );
        Ok(out)
    }
}

/// Wrong-patient safety: an SR the archive returned for `study` is received only if it is of
/// that study and of the patient the archive files the study under. Without it, an archive
/// answering for one study with an SR of another patient's study had that SR signed into
/// the other patient's report, which this home held (the report was found by the SR's own
/// Study Instance UID; found by review, 2026-12-05). The words name what differs, not the
/// values (they are the patient's).
fn of_the_study(
    sr: &countersign_imaging::sr::StructuredReport,
    study: &str,
    patient_id: Option<&str>,
) -> Result<()> {
    if sr.study != study {
        return Err(AppError::SrWrongStudy(format!(
            "SR {} is about another study than the one asked for (its Study Instance UID \
             differs): nothing stored",
            sr.sop_instance
        )));
    }
    if let Some(expected) = patient_id {
        if sr.patient_id.as_deref().map(str::trim) != Some(expected.trim()) {
            return Err(AppError::WrongPatient(format!(
                "SR {} is of another patient than the study asked for (its Patient ID differs \
                 from the archive's for this study): nothing stored",
                sr.sop_instance
            )));
        }
    }
    Ok(())
}

/// The SOP Class UIDs of every SR storage class begin so (PS3.4 B.5).
const SR_CLASS_ROOT: &[u8] = b"1.2.840.10008.5.1.4.1.1.88.";
/// How much of a file's start is searched: its meta information group.
const META_BYTES: usize = 4096;

/// Whether the Part 10 file at `path` names an SR storage class in its meta information (the
/// first [`META_BYTES`] after the preamble): a cheap look that lets images pass over unread.
/// An SR it misses is not received, never wrongly received: the full reading still judges
/// every file it lets through.
fn names_an_sr_class(path: &std::path::Path) -> Result<bool> {
    use std::io::Read;
    let mut head = Vec::with_capacity(META_BYTES);
    std::fs::File::open(path)
        .and_then(|f| f.take(META_BYTES as u64).read_to_end(&mut head))
        .map_err(AppError::io(format!("reading {}", path.display())))?;
    if head.len() < 132 || &head[128..132] != b"DICM" {
        return Ok(false);
    }
    Ok(head[132..]
        .windows(SR_CLASS_ROOT.len())
        .any(|w| w == SR_CLASS_ROOT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_meta_group_naming_an_sr_class_is_read_further() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, class: &[u8]| {
            let mut bytes = vec![0u8; 128];
            bytes.extend_from_slice(b"DICM");
            bytes.extend_from_slice(b"\x02\x00\x02\x00UI\x1c\x00");
            bytes.extend_from_slice(class);
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        let sr = file("sr", b"1.2.840.10008.5.1.4.1.1.88.34");
        let ct = file("ct", b"1.2.840.10008.5.1.4.1.1.2\0");
        assert!(names_an_sr_class(&sr).unwrap());
        assert!(!names_an_sr_class(&ct).unwrap());
        let short = dir.path().join("short");
        std::fs::write(&short, b"DICM").unwrap();
        assert!(!names_an_sr_class(&short).unwrap());
    }
}
