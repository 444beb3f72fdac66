//! Countersign exports: a report as it leaves the building, each format carrying the report's
//! text, its critical results and who or what wrote every part.
//!
//! - [`pdf`]: the report with a provenance appendix (every entry, author, role, AI model,
//!   signature).
//! - [`fhir`]: a FHIR R4 Bundle — DiagnosticReport, an Observation per section, Practitioners,
//!   a Device per AI model, and a Provenance per contribution with its signature.
//! - [`sr`]: a DICOM Comprehensive SR document with per-section observer context, the verifying
//!   observer of the sign-off, completion and verification flags and the referenced images.
//! - [`text`]: the same document as plain text (the audit bundle's human-readable report).
//! - [`encapsulated`]: the PDF as a DICOM Encapsulated PDF, for the archive's viewers.
//! - [`kos`]: the IHE IOCM rejection note (a Key Object Selection Document) that corrects the
//!   archive when a report delivered there is moved to another patient's study.
//! - [`audit`]: the AI audit package — a FHIR R4 Bundle of one Provenance per AI result (the
//!   AI a Device agent, the reviewer the verifier) and a PDF summary of the `ai stats` figures.
//!
//! All of them start from [`ExportInput`]: the projected [`ReportView`] plus what the store
//! knows (signatures, the study's patient and images). Pure: bytes in memory, no I/O, no clock.
//!
//! ```
//! use countersign_export::{document, text, Block};
//! # let input = countersign_export::example_input();
//! let doc = document(&input);
//! assert!(matches!(doc[0], Block::Title(_)));
//! let plain = text::render(&doc);
//! assert!(plain.contains("Provenance"));
//! ```

pub mod audit;
mod document;
pub mod encapsulated;
pub mod fhir;
pub mod kos;
pub mod pdf;
pub mod sr;
pub mod text;
mod time;
mod widths;

use std::collections::BTreeMap;

use countersign_ledger::EntryId;
use countersign_report::ReportView;

pub use document::{document, Block};
pub use time::{date, date_time};

/// Everything an export needs: the report as it reads now, and what the store knows about it.
#[derive(Debug, Clone)]
pub struct ExportInput {
    pub view: ReportView,
    /// The department network: its genesis id and name.
    pub network: EntryId,
    pub network_name: String,
    pub study: StudyInfo,
    /// The report's images that this home holds, with their DICOM identities.
    pub images: Vec<ImageRef>,
    /// The ed25519 signature of every entry of the report, by entry id.
    pub signatures: BTreeMap<EntryId, [u8; 64]>,
    /// When the export was made (ms since the epoch).
    pub exported_ms: u64,
    /// Small renderings of the frames the report's findings link to, made by the app (this
    /// crate decodes nothing): the PDF shows each beside its `[fig N]`.
    pub thumbnails: Vec<Thumbnail>,
}

/// One frame of an image, rendered small (8 bits, grey or RGB, row-major), with the size of the
/// frame it was rendered from so a link's points can be drawn on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// SHA-256 (hex) of the image file.
    pub image: String,
    pub frame: u32,
    pub width: u32,
    pub height: u32,
    /// 1 (grey) or 3 (RGB).
    pub channels: u8,
    pub pixels: Vec<u8>,
    /// Columns and rows of the frame it shows.
    pub source: [u32; 2],
}

impl Thumbnail {
    /// Whether the pixels are as many as its size says (a PDF image must be exactly that).
    pub fn is_whole(&self) -> bool {
        matches!(self.channels, 1 | 3)
            && self.width > 0
            && self.height > 0
            && self.source[0] > 0
            && self.source[1] > 0
            && (self.width as usize)
                .checked_mul(self.height as usize)
                .and_then(|n| n.checked_mul(usize::from(self.channels)))
                == Some(self.pixels.len())
    }
}

/// The study, as the imported images describe it. PHI: exports carry it, logs never do.
#[derive(Debug, Clone, Default)]
pub struct StudyInfo {
    pub uid: String,
    pub patient_name: Option<String>,
    pub patient_id: Option<String>,
    /// `YYYYMMDD`, as DICOM writes it.
    pub study_date: Option<String>,
    pub modality: Option<String>,
    pub description: Option<String>,
}

/// One image the report is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub sha256: String,
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub series_uid: String,
    /// Number of Frames (1 for a single-frame image): a reference to a frame of a multi-frame
    /// image names the frame.
    pub frames: u32,
}

/// What went wrong building an export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the DICOM SR could not be encoded: {0}")]
    Dicom(String),
    /// An identifier DICOM cannot hold as it is (a Patient ID longer than 64 characters, or
    /// with a backslash): the export is refused rather than written with a changed value, which
    /// could name another patient's record. (A number no DS holds is written as text instead.)
    #[error("{what} cannot be written to DICOM as it is ({why}); nothing was exported rather than a changed value")]
    Unrepresentable { what: String, why: String },
}

/// A deterministic UID under the UUID-derived root 2.25 (PS3.5 B.2), from `seed`: exporting the
/// same report state twice gives the same SR identities.
pub(crate) fn uid(seed: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(seed.as_bytes());
    let mut n = [0u8; 16];
    n.copy_from_slice(&digest[..16]);
    format!("2.25.{}", u128::from_be_bytes(n))
}

/// A small report for documentation examples and tests (no I/O: built by signing in memory).
#[doc(hidden)]
pub fn example_input() -> ExportInput {
    example::input()
}

mod example;

/// A CT chest in conflict: two sign-offs in force that cover different findings and impressions
/// (and, with `resolve`, the same after an attending kept the first).
#[doc(hidden)]
pub fn example_conflict(resolve: bool) -> ExportInput {
    example::conflict(resolve)
}

/// A signed-off report of `n` sections, each co-signed (for benchmarks of export time).
#[doc(hidden)]
pub fn example_sections(n: usize) -> ExportInput {
    example::sections(n)
}

#[cfg(test)]
mod tests;
