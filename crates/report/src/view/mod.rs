//! The projection: a report log read as "the report as it reads now", with provenance.
//!
//! - `report`: [`ReportView`], the report as it reads now, and its [`ReportState`];
//! - `entries`: the views of its entries ([`EntryStatus`], [`SectionView`], [`SignoffView`], …);
//! - `authors`: who signed an entry ([`Author`], [`author`]);
//! - `provenance`: the timeline ([`ProvenanceItem`]) and its notes on moves, deliveries,
//!   erasures, restrictions and split views;
//! - `project`: [`crate::ReportLog::project`], which builds the view from the log.

mod authors;
mod entries;
mod project;
mod provenance;
mod report;

pub use authors::{author, Author, PersonKey};
pub use entries::{
    AddendumView, AiReviewView, AiView, CosignView, CriticalView, EntryStatus, FieldView,
    FollowupClosedView, FollowupView, MeasurementView, ReadView, ReceivedView, ResolutionView,
    SectionView, SignoffView, VersionView,
};
pub use provenance::{DataProtectionNote, DeliveryNote, MoveNote, ProvenanceItem, SplitViewNote};
pub use report::{ReportState, ReportView};
