//! Countersign reports: templates, sections, co-signing and sign-off, the one acceptance path
//! every entry passes, and the projection of a report's entries into the report as it reads
//! now, with the provenance of every part.
//!
//! A report is a log of [`countersign_ledger::Entry`]s that starts with `report.create`. The
//! [`accept::Ledger`] judges every entry a home meets — its own, a bundle's, a peer's, a stored
//! one re-read by `verify` — with the ledger rules, the roster (resolved from causal facts) and
//! the report rules ([`ReportLog`]: a known section, nothing but addenda after final, only an
//! attending finalises, co-signers other than the author, AI writes only where granted), each
//! looking only at the entry's causal past. [`ReportLog::project`] then reads the accepted
//! entries as the report; two sign-offs that do not descend from each other are a visible
//! conflict, never a silent overwrite. Pure: no I/O, no clock.
//!
//! ```
//! use countersign_ledger::roster::{GenesisPayload, MemberPayload};
//! use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};
//! use countersign_report::accept::{Ledger, Verdict};
//! use countersign_report::{payload, EntryStatus, Payload, Standing};
//!
//! let ada = SecretKey::from_seed(&[9; 32]);
//! let genesis = Payload::to_bytes(&GenesisPayload {
//!     name: "Radiology".into(),
//!     founder: MemberPayload::new(ada.public(), "Dr Ada", Role::Attending, true),
//!     policy: None,
//! });
//! let g = Entry::sign(Header::new(Hash::ZERO, Hash::ZERO, ada.public(), 1, 1_000,
//!     Kind::NetworkGenesis, vec![], &genesis), &ada).unwrap();
//! let mut ledger = Ledger::default();
//! ledger.accept(&g, Some(&genesis), 1_000).unwrap();
//!
//! let template = countersign_report::template("ct-chest").unwrap();
//! let create = Payload::to_bytes(&payload::ReportCreate {
//!     study: "1.2.3".into(), template: "ct-chest".into(),
//!     template_hash: template.content_hash(), images: vec![] });
//! let r = Entry::sign(Header::new(g.id(), Hash::ZERO, ada.public(), 1, 2_000,
//!     Kind::ReportCreate, vec![], &create), &ada).unwrap();
//! assert_eq!(ledger.accept(&r, Some(&create), 2_000).unwrap(), Verdict::New(Standing::Accepted));
//!
//! let roster = ledger.roster().clone();
//! let view = ledger.report(&r.id()).unwrap().project(&roster, |_| EntryStatus::Verified);
//! assert_eq!(view.template, "ct-chest");
//! assert_eq!(view.sections.len(), 4);
//! assert!(view.sections.iter().all(|s| s.text.is_none()));
//! ```

pub mod accept;
pub mod access;
#[doc(hidden)]
pub mod fixture;
pub mod links;
pub mod log;
pub mod macros;
pub mod oversight;
pub mod payload;
pub mod template;
mod view;

pub use log::{LogEntry, ReportLog, ReportRuleError, Sealing, Standing, Summary, TemplateSource};
pub use payload::{Payload, PayloadError, Status};
pub use template::{template, FieldDef, FieldKind, SectionDef, Template, TemplateError};
pub use view::{
    author, AddendumView, AiReviewView, AiView, Author, CosignView, CriticalView,
    DataProtectionNote, DeliveryNote, EntryStatus, FieldView, FollowupClosedView, FollowupView,
    MeasurementView, MoveNote, PersonKey, ProvenanceItem, ReadView, ReceivedView, ReportState,
    ReportView, ResolutionView, SectionView, SignoffView, SplitViewNote, VersionView,
};

#[cfg(test)]
mod tests;
