//! Importing DICOM files into the home: each file is checked, copied into the content-addressed
//! image store (named by its SHA-256) and indexed by patient, study, series and instance.
//! Unreadable files are reported with a reason and the import goes on.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use countersign_imaging::{DicomHeader, ImageInfo};
use countersign_store::{commit_staged, image_path, DecodeCheck, Instance, StagedImage};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{AppError, Result};
use crate::home::{now_ms, Home};
use crate::sandbox::{verdict_of_native_check, DecodeSandbox, Pending, Verdict};

mod batch;
mod incoming;
mod read;
mod writer;
use batch::{Batch, ImportError, Syncing};
pub(crate) use incoming::{Expected, Incoming, Next};
use read::{discard_staged, ReadFile};
use writer::Writer;
pub(crate) use writer::MAX_PENDING as WRITING_BYTES;

/// How long stored rows wait for more files of a streaming source before they are committed
/// anyway (a retrieval slower than the store: the viewer sees them without waiting for a batch).
const FLUSH_AFTER: Duration = Duration::from_millis(100);

/// How often a batch being synced is looked at while no file comes.
const SYNC_POLL: Duration = Duration::from_millis(5);

/// A file the import could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportFailure {
    pub path: String,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ImportSummary {
    pub imported: u64,
    pub duplicates: u64,
    pub failed: Vec<ImportFailure>,
    /// Imported (their metadata is sound, the study is listed), but the decoder refused their
    /// pixels in an ordinary way: the viewer will say why rather than show them.
    pub undecodable: Vec<ImportFailure>,
}

/// Progress of an import, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ImportProgress {
    pub done: usize,
    pub total: usize,
}

/// Every file under `paths` (folders recursively, in name order).
fn collect(paths: &[&Path]) -> Vec<PathBuf> {
    fn walk(path: &Path, out: &mut Vec<PathBuf>) {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut children: Vec<PathBuf> =
                    entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
                children.sort();
                for child in children {
                    walk(&child, out);
                }
            }
            Err(_) => out.push(path.to_path_buf()),
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out);
    }
    out
}

impl Home {
    /// Imports files and folders. Each file is committed on its own, so an interrupted import
    /// keeps what it finished. Every image is first decoded in a sandboxed worker (see
    /// [`crate::sandbox`]); one that crashes it, hangs or runs out of memory is not imported.
    pub fn import(
        &mut self,
        paths: &[&Path],
        mut progress: impl FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let files = collect(paths);
        tracing::info!(files = files.len(), "image import started");
        self.import_files(&files, None, &mut progress)
    }

    /// Imports `files` through the same checks as [`Home::import`]; with `expect`, a file of
    /// another study or patient is refused too (a retrieval from an archive, see
    /// [`crate::pacs`]), before anything of it is stored.
    pub(crate) fn import_files(
        &mut self,
        files: &[PathBuf],
        expect: Option<&Expected>,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportSummary> {
        let mut source = files.iter().map(|f| Incoming {
            path: f.clone(),
            sha256: None,
            movable: false,
            data: None,
            recycle: None,
        });
        let mut list = |_: Option<Duration>| match source.next() {
            Some(file) => Next::File(file),
            None => Next::End,
        };
        self.import_from(&mut list, files.len(), expect, progress, &mut |_| {})
    }

    /// Imports the files `source` hands out as they come (a retrieval still streaming, see
    /// [`crate::pacs`]), through the same checks as [`Home::import`]; `total` is how many are
    /// expected (0: unknown). `committed` is told the summary so far each time stored instances
    /// become visible to the home's other handles (the first on its own as soon as it is
    /// durable, then a batch at a time).
    pub(crate) fn import_from(
        &mut self,
        source: &mut dyn FnMut(Option<Duration>) -> Next,
        total: usize,
        expect: Option<&Expected>,
        progress: &mut dyn FnMut(ImportProgress),
        committed: &mut dyn FnMut(&ImportSummary),
    ) -> Result<ImportSummary> {
        // The home's worker, taken out for the import (`prepare` borrows the home mutably).
        let mut sandbox =
            std::mem::take(&mut *self.decoder.lock().unwrap_or_else(|p| p.into_inner()));
        let result = self.import_with(source, total, expect, &mut sandbox, progress, committed);
        *self.decoder.lock().unwrap_or_else(|p| p.into_inner()) = sandbox;
        result
    }

    fn import_with(
        &mut self,
        source: &mut dyn FnMut(Option<Duration>) -> Next,
        total: usize,
        expect: Option<&Expected>,
        sandbox: &mut DecodeSandbox,
        progress: &mut dyn FnMut(ImportProgress),
        committed: &mut dyn FnMut(&ImportSummary),
    ) -> Result<ImportSummary> {
        let started = std::time::Instant::now();
        // Images erased after this (by another process on the home) are refused when their
        // batch is indexed: read before the erasure, they must not bring it back. A
        // retrieval's mark is from when it was asked for.
        let erased_mark = match expect {
            Some(e) => e.erased_mark,
            None => self.store().db().erasure_mark().map_err(AppError::from)?,
        };
        let mut seen = Seen {
            erased_mark,
            patients: HashMap::new(),
        };
        let mut summary = ImportSummary::default();
        let mut out = Batch::new(total);
        // One file at a time in the worker: the next is read, hashed and parsed here while
        // the worker decodes it.
        let mut in_flight: Option<(usize, ReadFile, Pending)> = None;
        // The batch being made durable on a thread of its own while the next is read.
        let mut syncing: Option<Syncing> = None;
        // The files written on a thread of their own (see `writer`).
        let writer = Writer::start().map_err(AppError::io("starting to store imported images"))?;
        let mut taken = 0usize;
        // Files found in the store already: counted as duplicates only if they are still
        // there when the import ends (see `still_stored`).
        let mut found_stored: Vec<([u8; 32], String)> = Vec::new();
        loop {
            if syncing.as_ref().is_some_and(|s| s.thread.is_finished()) {
                self.index(syncing.take(), &mut seen, &mut summary, committed)?;
            }
            // A batch that filled while the one before was being synced: its turn now.
            if syncing.is_none() && in_flight.is_none() && out.full() {
                syncing = self.sync(&mut out, &writer)?;
            }
            // A file in the worker: only what is there already, its verdict is due. A batch
            // being synced: a short wait, then it is indexed if done. Rows waiting for their
            // commit: a short wait, then they are committed rather than kept from the viewer.
            // Else: block for the next file.
            let wait = if in_flight.is_some() {
                Some(Duration::ZERO)
            } else if syncing.is_some() {
                Some(SYNC_POLL)
            } else if !out.rows.is_empty() {
                Some(FLUSH_AFTER)
            } else {
                None
            };
            match source(wait) {
                Next::File(file) => {
                    progress(ImportProgress { done: taken, total });
                    taken += 1;
                    let j = out.add(&file.path);
                    let syncing_rows = syncing.as_ref().map_or(&[][..], |s| &s.rows[..]);
                    let read = self.read_one(
                        file,
                        expect,
                        [&out.rows[..], syncing_rows],
                        in_flight.as_ref().map(|f| &f.1),
                        &mut found_stored,
                    );
                    self.land(in_flight.take(), sandbox, &writer, &mut out, &mut summary)?;
                    match read {
                        Ok(Some(mut read)) if read.header.info.has_pixels => {
                            // Uncompressed greyscale needs no decoder to be judged (see
                            // `verdict_without_decoding`): no round trip to the worker.
                            match verdict_of_native_check(read.header.native.take()) {
                                Some(verdict) => {
                                    let outcome = self.stage_one(read, verdict, &writer);
                                    out.record(outcome, j, &mut summary)?;
                                }
                                None => {
                                    let pending = sandbox.submit(&read.bytes, &read.header.info)?;
                                    in_flight = Some((j, read, pending));
                                }
                            }
                        }
                        Ok(Some(read)) => {
                            let harmless = Verdict::Harmless {
                                frames: 0,
                                error: None,
                            };
                            let outcome = self.stage_one(read, harmless, &writer);
                            out.record(outcome, j, &mut summary)?;
                        }
                        Ok(None) => summary.duplicates += 1,
                        Err(e) => out.record(Err(e), j, &mut summary)?,
                    }
                    // The first instance is made visible on its own, as soon as it is
                    // durable (a viewer waits for it); after that, whole batches, each synced
                    // while the next is read. Neither is waited on here: this thread goes on
                    // taking files, and a batch that fills while the one before is still being
                    // synced grows past its size until that one is indexed (above). Waiting
                    // stalled the stream for a whole `syncfs` (other programs' dirty data
                    // included), filled the retrieval's queue and sent the archive's
                    // instances through staged files read back, at more CPU than it saved.
                    let first = summary.imported == 0
                        && syncing.is_none()
                        && (in_flight.is_some() || !out.rows.is_empty());
                    if first || (out.full() && syncing.is_none()) {
                        self.land(in_flight.take(), sandbox, &writer, &mut out, &mut summary)?;
                        syncing = self.sync(&mut out, &writer)?;
                    } else if out.overgrown() {
                        // The sync before has taken too long: wait for it, bounded.
                        self.land(in_flight.take(), sandbox, &writer, &mut out, &mut summary)?;
                        self.index(syncing.take(), &mut seen, &mut summary, committed)?;
                        syncing = self.sync(&mut out, &writer)?;
                    }
                }
                Next::Idle if in_flight.is_some() => {
                    self.land(in_flight.take(), sandbox, &writer, &mut out, &mut summary)?
                }
                // Nothing else to do while a batch is synced: it is indexed once done
                // (above), without blocking here, so a file arriving meanwhile is taken.
                Next::Idle if syncing.is_some() => {}
                Next::Idle => {
                    syncing = self.sync(&mut out, &writer)?;
                    self.index(syncing.take(), &mut seen, &mut summary, committed)?;
                }
                Next::End => {
                    // The last batch synced alongside the one before rather than after it:
                    // the same `syncfs` calls, but the wait after the last file is one
                    // `syncfs` long, not two. Each batch is still indexed only once its own
                    // files are durable, and in order.
                    self.land(in_flight.take(), sandbox, &writer, &mut out, &mut summary)?;
                    let last = self.sync(&mut out, &writer)?;
                    self.index(syncing.take(), &mut seen, &mut summary, committed)?;
                    self.index(last, &mut seen, &mut summary, committed)?;
                    self.still_stored(found_stored, &mut summary)?;
                    break;
                }
            }
        }
        progress(ImportProgress {
            done: taken,
            total: total.max(taken),
        });
        tracing::info!(
            imported = summary.imported,
            duplicates = summary.duplicates,
            refused = summary.failed.len(),
            undecodable = summary.undecodable.len(),
            seconds = started.elapsed().as_secs_f64(),
            "image import finished"
        );
        Ok(summary)
    }

    /// Starts making the batch's files durable, on a thread of its own (see [`Syncing`]), and
    /// starts the next batch; `None` when the batch stored nothing.
    fn sync(&mut self, out: &mut Batch, writer: &Writer) -> Result<Option<Syncing>> {
        let syncing = if out.rows.is_empty() {
            None
        } else {
            let staged = std::mem::take(&mut out.staged);
            // Synced once the writer has written every file of it (and those before).
            let written = writer.flushed();
            let thread = std::thread::Builder::new()
                .name("store-sync".into())
                .spawn(move || {
                    written.wait()?;
                    commit_staged(&staged)
                })
                .map_err(AppError::io("starting to store imported images"))?;
            Some(Syncing {
                thread,
                rows: std::mem::take(&mut out.rows),
                checks: std::mem::take(&mut out.checks),
                row_files: std::mem::take(&mut out.row_files),
            })
        };
        out.next();
        Ok(syncing)
    }

    /// Waits for a batch's files to be durable, then indexes them in one transaction (files
    /// are durable before the index names them).
    ///
    /// Two things another process on the home may have done since a file was staged are
    /// looked for under the write lock ([`crate::erasure`]):
    /// - erased the image (an erasure committed after this import read `erased_mark`): the
    ///   bytes were read before it and must not bring the erased study back. The row is
    ///   refused and its file deleted (unless another import, begun after the erasure,
    ///   indexed it again since).
    /// - deleted its file: one found in the store when staged (the same bytes, so not
    ///   written again) may be an erased image whose file that process was still to delete
    ///   (`after_commit`), and deleted since. The row is refused rather than indexed naming no
    ///   file; an `after_commit` after this commit finds the image indexed and keeps its file.
    ///
    /// And whose study it is: an instance whose study is held here (indexed before, by this
    /// import or another) under another patient — another Patient ID, or the same under another
    /// Issuer of Patient ID or none recorded — is refused `wrong_patient`, its file deleted,
    /// as a retrieval refuses one (found by a clinical-safety review, 2026-12-05: one stray
    /// instance of patient A filed into patient B's study made A's erasure take B's study).
    /// A study's patient is that of its first instance indexed.
    fn index(
        &mut self,
        syncing: Option<Syncing>,
        seen: &mut Seen,
        summary: &mut ImportSummary,
        committed: &mut dyn FnMut(&ImportSummary),
    ) -> Result<()> {
        let Some(Syncing {
            thread,
            rows,
            checks,
            row_files,
        }) = syncing
        else {
            return Ok(());
        };
        thread
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the storing thread failed")))
            .map_err(AppError::io("storing imported images"))?;
        tracing::debug!(files = rows.len(), "a batch durable");
        let dir = self.dir().to_path_buf();
        let refused = self.store_mut().write(|db| {
            let mut refused: Vec<(usize, &'static str, String)> = Vec::new();
            let erased_mark = seen.erased_mark;
            // A refused row's file, unless an instance indexed names it (the same bytes).
            let unlink = |path: &Path, sha256: &[u8; 32], what: &'static str| -> Result<()> {
                if db.instance(sha256)?.is_none() {
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(AppError::io(what)(e)),
                    }
                }
                Ok(())
            };
            for (j, (row, check)) in rows.iter().zip(&checks).enumerate() {
                let path = image_path(&dir, &row.sha256);
                if db.erased_since(&row.sha256, &row.study, erased_mark)? {
                    unlink(&path, &row.sha256, "deleting an erased image")?;
                    refused.push((j, "erased_meanwhile", ERASED_MEANWHILE.into()));
                    continue;
                }
                // Read while none is known (another writer may have indexed the study since).
                let held = seen.patients.entry(row.study.clone()).or_default();
                if held.is_empty() {
                    *held = db.patients_of_study(&row.study, 64)?;
                }
                let patient = (row.patient_id.clone(), row.issuer.clone());
                if held.iter().any(|h| !same_patient(h, &patient)) {
                    unlink(&path, &row.sha256, "deleting a refused image")?;
                    refused.push((j, "wrong_patient", wrong_patient(row)));
                    continue;
                }
                let there = path
                    .try_exists()
                    .map_err(AppError::io("looking for an imported image"))?;
                if !there {
                    refused.push((j, "file_gone", FILE_GONE.into()));
                    continue;
                }
                if !held.contains(&patient) {
                    held.push(patient);
                }
                db.insert_instance(row)?;
                db.put_decode_check(&row.sha256, check, row.imported_ms)?;
            }
            Ok::<_, AppError>(refused)
        })?;
        for (j, category, reason) in refused.iter() {
            // Never the path or the reason's words in the log (see `Batch::record`).
            tracing::info!(
                reason = %category,
                "an imported image refused when its batch was indexed: not indexed"
            );
            summary.failed.push(ImportFailure {
                path: row_files[*j].clone(),
                reason: reason.clone(),
            });
        }
        summary.imported += (rows.len() - refused.len()) as u64;
        tracing::debug!(files = rows.len() - refused.len(), "a batch indexed");
        committed(summary);
        Ok(())
    }

    /// Takes the worker's verdict on the file in flight, if any (the `j`th of the batch), and
    /// records what became of it.
    fn land(
        &self,
        in_flight: Option<(usize, ReadFile, Pending)>,
        sandbox: &mut DecodeSandbox,
        writer: &Writer,
        out: &mut Batch,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        let Some((j, read, pending)) = in_flight else {
            return Ok(());
        };
        let outcome = match sandbox.finish(pending, &read.bytes) {
            Ok(verdict) => self.stage_one(read, verdict, writer),
            Err(e) => {
                // Not imported: a retrieval's staged file goes now (see `discard_staged`).
                if let Some(from) = &read.moved_from {
                    discard_staged(from);
                }
                Err(ImportError::from(e))
            }
        };
        out.record(outcome, j, summary)
    }

    /// Files the import found in the store already, and so counted as duplicates, are looked
    /// for again once it ends: one erased meanwhile (by another process on the home) is not
    /// in the store, and is said to be refused as erased rather than counted as stored (found
    /// by review, 2026-12-05: a retrieval of a study erased while it ran said every instance
    /// was in the store). One erased after this look was stored when the import ended.
    fn still_stored(
        &self,
        found: Vec<([u8; 32], String)>,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        if found.is_empty() {
            return Ok(());
        }
        self.store().read(|db| {
            for (sha256, path) in found {
                if db.instance(&sha256)?.is_none() {
                    summary.duplicates -= 1;
                    summary.failed.push(ImportFailure {
                        path,
                        reason: ERASED_MEANWHILE.into(),
                    });
                }
            }
            Ok(())
        })
    }
}

/// A patient as a study's instances carry them: Patient ID and Issuer of Patient ID.
type Patient = (Option<String>, Option<String>);

/// What an import reads once and keeps between its batches' indexing (see `Home::index`).
struct Seen {
    /// The erasure mark when it began (a retrieval's: when it was asked for).
    erased_mark: i64,
    /// Each study's patients as held, read under the write lock the first time one of its
    /// instances is indexed and kept as rows go in: once a study's rows are committed, any
    /// other writer's instance of another patient is refused against them, so they only grow
    /// by this patient (an erasure of the study meanwhile is refused by its mark). Read again
    /// for every batch, a study of thousands of instances cost a scan of all of them per batch.
    patients: HashMap<String, Vec<Patient>>,
}

/// Why an instance was refused when its batch was indexed: its study is another patient's
/// here. Names what differs, not the values (they are the patient's).
fn wrong_patient(row: &Instance) -> String {
    let sop = row.instance.as_deref().unwrap_or("(no SOP Instance UID)");
    format!(
        "wrong_patient: instance {sop} belongs to another patient than its study's instances \
         held here (its Patient ID or Issuer of Patient ID differs from theirs); refused, \
         nothing of it stored"
    )
}

/// Why an image was refused when its batch was indexed: erased by another process on the home
/// after this import began (see `Home::index`).
const ERASED_MEANWHILE: &str = "erased (by another program on this home) while this import \
     ran: the erasure stands, and this image was not imported";
/// Its file, found in the store when staged, was deleted since by another program on this
/// home: finishing an erasure of the same bytes, or an import begun before an erasure of
/// them refusing its own copy (which this import had found and not written again).
const FILE_GONE: &str = "its file in the store was deleted meanwhile by another program on \
     this home (an erasure of the same image, or an import refusing it as erased): not \
     imported; import it again to store it";

#[cfg(test)]
mod tests;

/// Whether two (Patient ID, Issuer of Patient ID) an instance and a study held here carry may
/// be one person: they differ only where both sides say something. An instance with no
/// Patient ID, or an issuer not recorded on either side — every instance indexed before
/// issuers were (migration 23), or a file that has none — neither refuses nor is refused
/// (found by review, 2026-12-05: after the upgrade every new series of a study held before
/// it was refused, its file deleted, and a stray instance with no ID locked the study's own
/// instances out). A study's Study Instance UID is unique in the world: it is the Patient ID
/// that catches another patient's instance filed under it.
pub(crate) fn same_patient(
    a: &(Option<String>, Option<String>),
    b: &(Option<String>, Option<String>),
) -> bool {
    let differ =
        |x: &Option<String>, y: &Option<String>| matches!((x, y), (Some(x), Some(y)) if x != y);
    // The issuers count only where both carry a Patient ID (equal, as the first test says).
    let both_ids = a.0.is_some() && b.0.is_some();
    !(differ(&a.0, &b.0) || (both_ids && differ(&a.1, &b.1)))
}

#[cfg(test)]
mod same_patient_tests {
    use super::same_patient;

    fn p(id: Option<&str>, issuer: Option<&str>) -> (Option<String>, Option<String>) {
        (id.map(Into::into), issuer.map(Into::into))
    }

    #[test]
    fn only_what_both_sides_say_can_differ() {
        assert!(same_patient(
            &p(Some("1"), Some("A")),
            &p(Some("1"), Some("A"))
        ));
        assert!(!same_patient(
            &p(Some("1"), Some("A")),
            &p(Some("2"), Some("A"))
        ));
        assert!(!same_patient(
            &p(Some("1"), Some("A")),
            &p(Some("1"), Some("B"))
        ));
        // An issuer not recorded (an instance indexed before issuers were) is no difference.
        assert!(same_patient(&p(Some("1"), None), &p(Some("1"), Some("B"))));
        // Nor is a Patient ID missing: it decides nothing.
        assert!(same_patient(&p(None, None), &p(Some("1"), Some("A"))));
        assert!(same_patient(&p(Some("1"), Some("A")), &p(None, Some("B"))));
    }
}
