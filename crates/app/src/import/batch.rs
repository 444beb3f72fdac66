//! An import's batches: the files staged and rows gathered until a batch is full (in files,
//! bytes or age), made durable on a thread of their own, then indexed together.

use std::path::Path;
use std::time::Duration;

use countersign_store::{DecodeCheck, Instance, StagedImage};

use super::{ImportFailure, ImportSummary};
use crate::error::{AppError, Result};

/// Files made durable together, and indexed in one transaction: at most this many, or this
/// many bytes, whichever comes first (a batch is one or two `syncfs`, see `commit_staged`).
const BATCH: usize = 64;
const BATCH_BYTES: u64 = 64 << 20;
/// The most files a batch grows to while the one before is still being synced (see
/// `import_from`): past it, the import waits for that sync, so that a `syncfs` that never ends
/// (a failing disk) holds a bounded batch (names and rows, ~1 KiB a file), not the whole study.
const BATCH_GROWN: usize = 16 * BATCH;
/// The longest a stored row waits for its batch while files keep coming (a steady but slow
/// archive): the viewer's image list grows at least this often.
const BATCH_AGE: Duration = Duration::from_millis(500);

/// A batch whose files are being made durable (`commit_staged`) on a thread of its own, while
/// the next batch is read and written; its rows are indexed once the thread is done. One at a
/// time: the next batch waits for it before it is synced in turn.
pub(super) struct Syncing {
    pub(super) thread: std::thread::JoinHandle<std::io::Result<()>>,
    pub(super) rows: Vec<Instance>,
    pub(super) checks: Vec<DecodeCheck>,
    /// The file each of `rows` was read from, for a failure found when indexing it.
    pub(super) row_files: Vec<String>,
}

/// What one batch of an import (of `total` files; 0 if unknown) stages, indexes and records;
/// `base` files came before it.
pub(super) struct Batch {
    pub(super) files: Vec<String>,
    pub(super) base: usize,
    pub(super) total: usize,
    pub(super) staged: Vec<StagedImage>,
    pub(super) rows: Vec<Instance>,
    pub(super) checks: Vec<DecodeCheck>,
    /// The file each of `rows` was read from.
    pub(super) row_files: Vec<String>,
    /// Bytes of `rows`' files.
    pub(super) bytes: u64,
    /// When the first of `rows` was staged.
    pub(super) since: Option<std::time::Instant>,
}

impl Batch {
    pub(super) fn new(total: usize) -> Batch {
        Batch {
            files: Vec::new(),
            base: 0,
            total,
            staged: Vec::new(),
            rows: Vec::new(),
            checks: Vec::new(),
            row_files: Vec::new(),
            bytes: 0,
            since: None,
        }
    }

    /// Whether the batch is to be committed now: as many files or bytes as one takes, or
    /// rows kept from the viewer for long enough.
    pub(super) fn full(&self) -> bool {
        self.files.len() >= BATCH
            || self.bytes >= BATCH_BYTES
            || self.since.is_some_and(|t| t.elapsed() >= BATCH_AGE)
    }

    /// Whether the batch has grown as far as it may while the one before is synced.
    pub(super) fn overgrown(&self) -> bool {
        self.files.len() >= BATCH_GROWN
    }

    /// A file taken into the batch: its place in it.
    pub(super) fn add(&mut self, path: &Path) -> usize {
        self.files.push(path.display().to_string());
        self.files.len() - 1
    }

    /// Empties the batch (its files committed or refused) for the next.
    pub(super) fn next(&mut self) {
        self.base += self.files.len();
        self.files.clear();
        self.staged.clear();
        self.rows.clear();
        self.checks.clear();
        self.row_files.clear();
        self.bytes = 0;
        self.since = None;
    }

    /// Records what became of the batch's `j`th file.
    pub(super) fn record(
        &mut self,
        outcome: Result<Option<(Instance, Option<StagedImage>, DecodeCheck)>, ImportError>,
        j: usize,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        let file = &self.files[j];
        match outcome {
            Ok(Some((row, stage, check))) => {
                if let Some(reason) = &check.message {
                    summary.undecodable.push(ImportFailure {
                        path: file.clone(),
                        reason: reason.clone(),
                    });
                }
                self.staged.extend(stage);
                self.bytes += row.size;
                self.since.get_or_insert_with(std::time::Instant::now);
                self.rows.push(row);
                self.checks.push(check);
                self.row_files.push(file.clone());
            }
            Ok(None) => summary.duplicates += 1,
            Err(ImportError::File(category, reason)) => {
                // The file's place in this import (in name order) and the reason's category,
                // never its path or the reason's words: a path can hold a patient's name, and
                // a reason can quote the file's attributes. The caller gets both in `failed`.
                tracing::info!(
                    file = self.base + j + 1,
                    of = self.total,
                    reason = %category,
                    "image file refused"
                );
                summary.failed.push(ImportFailure {
                    path: file.clone(),
                    reason,
                })
            }
            Err(ImportError::Home(e)) => return Err(e),
        }
        Ok(())
    }
}

pub(super) enum ImportError {
    /// This file cannot be imported (the reason's category, for logs, and its words); the
    /// import goes on.
    File(&'static str, String),
    /// The home itself failed; the import stops.
    Home(AppError),
}

impl ImportError {
    pub(super) fn image(e: countersign_imaging::ImagingError) -> ImportError {
        use countersign_imaging::ImagingError as E;
        let category = match &e {
            E::Io { .. } => "unreadable",
            E::TooLarge { .. } => "too_large",
            E::NotDicom { .. } => "not_dicom",
            E::NoPixelData { .. } => "no_pixel_data",
            E::UnsupportedTransferSyntax { .. } => "unsupported_transfer_syntax",
            E::BadAttribute { .. } => "bad_attribute",
            E::PixelDataTooShort { .. } => "pixel_data_too_short",
            E::TooBig { .. } => "too_big",
            E::NoSuchFrame { .. } => "no_such_frame",
            E::Decode(_) => "undecodable",
            E::Unsupported(_) => "unsupported",
            E::Png(_) => "png",
        };
        ImportError::File(category, e.to_string())
    }
}

impl From<AppError> for ImportError {
    fn from(e: AppError) -> Self {
        ImportError::Home(e)
    }
}
