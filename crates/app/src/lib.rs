//! Countersign use cases: one method on [`Home`] per thing a user does, with typed input and
//! output and errors that carry a stable code ([`AppError::code`]). The CLI and the desktop shell
//! call only this crate.
//!
//! ```
//! use countersign_app::{Home, Passphrase, PassphraseSource};
//! use countersign_ledger::Role;
//!
//! let dir = tempfile::tempdir().unwrap();
//! // The shell says where a passphrase comes from (the CLI: a file, a descriptor, a terminal);
//! // it is asked for only when the secret key is needed, here to seal the new key.
//! let source = PassphraseSource::fixed(Passphrase::new("correct horse battery"));
//! let mut home = Home::open_with(dir.path(), source).unwrap();
//! home.init("Dr Ada", Role::Attending, Some("Radiology"), None).unwrap();
//!
//! let report = home.report_new("1.2.3.4", "ct-chest", &[]).unwrap();
//! home.report_write(report, "findings", "No pulmonary nodule.").unwrap();
//!
//! let view = home.report_show(report).unwrap();
//! let findings = view.sections.iter().find(|s| s.name == "findings").unwrap();
//! assert_eq!(findings.text.as_deref(), Some("No pulmonary nodule."));
//! assert_eq!(findings.versions[0].author.name, "Dr Ada");
//! assert!(home.verify(None).unwrap().ok);
//! ```

mod actions;
#[cfg(unix)]
pub mod agent;
mod ai;
mod bundle;
mod checkpoints;
mod demo;
mod drafts;
mod erasure;
mod error;
mod export;
mod frame_cache;
mod home;
mod images;
mod import;
mod join;
pub mod keys;
mod links;
mod macros;
mod moves;
pub mod pacs;
pub mod patient;
pub mod projection;
mod quarantine;
mod reports;
mod roster;
mod rotation;
pub mod sandbox;
mod state;
pub mod sync;
mod templates;
pub mod verify;
mod viewer;

pub use actions::{Allowed, ReportActions};
pub use ai::{
    endpoint as ai_endpoint, program as ai_program, ArchiveImport, ArchiveRefusal, AuditExport,
    FolderFile, FolderImport, ModelBinding, ReceivedSr, AUDIT_ENTRIES_NAME, AUDIT_PROVENANCE_NAME,
    AUDIT_SUMMARY_NAME, MAX_FILES_PER_PASS, SOFT_TISSUE_ALGORITHM, SOFT_TISSUE_STATS,
};
pub use bundle::{Authenticated, ImportReport, Pending, Problem, ProvenanceText, MAX_BUNDLE_BYTES};
pub use checkpoints::SplitView;
/// What a home may be told to trust before it holds a network (see [`Home::trust`]).
pub use countersign_report::accept::trust::Anchor;
pub use demo::{DemoMember, DemoSummary};
pub use erasure::{DataProtectionOutcome, DataSubject};
pub use error::{AppError, Rejection, Result, WireError, ERROR_CODES};
pub use export::{
    bundle_in_archive, fuzz_archive_read, ExportFormat, AUDIT_BUNDLE_NAME, AUDIT_REPORT_NAME,
};
pub use frame_cache::{frame_cache_budget, FrameCache, FrameCacheStats, DEFAULT_FRAME_CACHE_BYTES};
pub use home::{
    default_home, no_core_dumps, no_huge_pages, no_library_backtraces, owner_only_files, DataKeys,
    Home, WhoAmI,
};
pub use images::StudySummary;
pub use images::{image_info, image_render_png};
pub use import::{ImportFailure, ImportProgress, ImportSummary};
pub use join::{Joined, INVITATION_DAYS, MAX_INVITATION_DAYS};
pub use keys::{Passphrase, PassphraseSource, PassphraseUse, DEMO_PASSPHRASE};
pub use links::{LinkTarget, THUMBNAIL_SIDE};
pub use macros::{read_macros, MacroInfo};
pub use pacs::{
    ArchiveAuth, ArchiveConfig, ArchiveCredentials, ArchiveEndpoint, ArchiveLogin, ArchiveOptions,
    ArchiveTest, Delivery, DeliveryRecord, PriorStudy, Retrieval, WorklistQuery, WorklistRow,
};
pub use patient::{DataProtectionActions, MoveTarget, PatientScope};
pub use quarantine::{
    QuarantineRefused, Quarantined, MAX_QUARANTINE, MAX_QUARANTINE_PER_AUTHOR,
    MAX_QUARANTINE_PER_PEER,
};
pub use reports::{sha256_file, OpenFollowup, ReportSummary, MAX_PAGE, READ_BATCH_MS};
pub use rotation::KeyRotation;
pub use templates::{read_template, TemplateFormat, TemplateRef};
pub use verify::VerifyReport;
pub use viewer::{
    entry_id, frame_part, preview_packet, FrameHeader, ImageRef, StudyPage, StudyRow,
    FRAME_PART_BYTES, PREVIEW_MAX_BYTES, STUDY_PAGE,
};

pub use countersign_export as export_formats;
pub use countersign_imaging as imaging;
pub use countersign_ledger as ledger;
pub use countersign_report as report;

#[cfg(test)]
mod tests;
