//! Countersign reports: templates, sections, co-signing and sign-off, and the projection of a
//! report's signed entries into the report as it reads now, with the provenance of every part.
//!
//! A report is a log of [`countersign_ledger::Entry`]s that starts with `report.create`. The
//! [`ReportLog`] checks each new entry against the report rules (a known section, nothing but
//! addenda after final, only an attending finalises, co-signers other than the author) by looking
//! only at the entry's causal past, so every peer accepts the same entries in any delivery order.
//! [`ReportLog::project`] then reads the log in a deterministic order. Pure: no I/O, no clock.
//!
//! ```
//! use countersign_ledger::{Entry, Hash, Header, Kind, Roster, SecretKey};
//! use countersign_report::{payload, EntryStatus, Payload, ReportLog};
//!
//! let key = SecretKey::from_seed(&[9; 32]);
//! let network = Hash::of(b"example");
//! let create = Payload::to_bytes(&payload::ReportCreate {
//!     study: "1.2.3".into(), template: "ct-chest".into(), images: vec![], definition: None });
//! let genesis = Entry::sign(Header::new(network, Hash::ZERO, key.public(), 1, 1_000,
//!     Kind::ReportCreate, vec![], &create), &key).unwrap();
//! let log = ReportLog::new(&genesis, &create).unwrap();
//!
//! let view = log.project(&Roster::default(), |_| EntryStatus::Verified);
//! assert_eq!(view.template, "ct-chest");
//! assert_eq!(view.sections.len(), 4);
//! assert!(view.sections.iter().all(|s| s.text.is_none()));
//! ```

pub mod access;
mod log;
pub mod payload;
pub mod template;
mod view;

pub use log::{LogEntry, ReportLog, ReportRuleError};
pub use payload::{Payload, PayloadError, Status};
pub use template::{template, FieldDef, FieldKind, SectionDef, Template, TemplateError};
pub use view::{
    author, AddendumView, AiReviewView, AiView, Author, CosignView, CriticalView, EntryStatus,
    FieldView, FollowupClosedView, FollowupView, MeasurementView, ProvenanceItem, ReadView,
    ReportState, ReportView, SectionView, SignoffView, VersionView,
};

#[cfg(test)]
mod tests;
