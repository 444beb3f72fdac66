//! Working from a picture archive (PACS): the archives a home knows, the reading worklist with
//! this department's report state per study, retrieval into the image store, a patient's
//! priors and a prior's report (`prior_report`).
//!
//! The protocols are in `countersign-pacs`; this module adapts them to the home. A retrieval
//! reads the archive on a thread of its own, writing each instance to a private staging folder
//! inside the home (hashed as it is written); each file, as soon as it is whole, goes through
//! a bounded queue to this thread and through the very path `import` takes (parse, the
//! sandboxed decode, the content-addressed store — by a rename of the staged file —, the
//! index), with one more check: every instance must be of the study asked for and of that
//! study's patient. The first instance stored is committed at once (the desktop opens the
//! study on it), the rest a batch at a time, so the study is read while it streams. An archive
//! that fails midway leaves what was stored whole and indexed, never a part of an instance,
//! and the error says how many were.

use std::path::{Path, PathBuf};

use countersign_pacs::{Archive, Credentials, Dimse, Limits, PacsError, StudyMatch, StudyQuery};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, Result};
use crate::home::Home;
use crate::import::{Expected, ImportFailure, ImportProgress, Incoming, Next};

mod archives;
mod credentials;
mod delivery;
pub mod demo;
mod prior_report;
mod priors;
mod rejection;
mod retrieve;
mod retry;
mod worklist;

pub(crate) use archives::holds_archive_secrets;
pub use archives::{
    ArchiveConfig, ArchiveEndpoint, ArchiveOptions, ArchiveTest, DEFAULT_CALLING_AET,
    DEFAULT_TIMEOUT_S, MAX_ARCHIVES, MAX_TIMEOUT_S,
};
pub use countersign_pacs::auth::MAX_SECRET_LEN;
pub use countersign_pacs::Credentials as ArchiveCredentials;
pub use credentials::{ArchiveAuth, ArchiveLogin};
pub use delivery::{
    Delivery, DeliveryRecord, SentInstance, DELIVERY, MAX_DELIVERIES, MAX_SENT, QUEUED, REJECTION,
};
pub use demo::{demo_archive_available, DemoArchive, DemoArchiveSummary, DEMO_ARCHIVE};
pub use prior_report::{
    ArchivePdf, ArchiveSr, LedgerPrior, PriorAddendum, PriorFound, PriorReport, PriorSection,
    Signed, PRIOR_REPORTS,
};
pub use priors::PriorStudy;
pub(crate) use retrieve::{sweep_folders, sweep_staging, Fresh, FRESH_EVERY};
pub use retrieve::{Retrieval, RetrieveProgress};
pub use retry::{
    backoff, deliver_until_stopped, retry_deliveries_forever, DeliveryWake, FIRST_BACKOFF,
    MAX_BACKOFF,
};
pub(crate) use worklist::forget_kept_worklists;
pub use worklist::{WorklistQuery, WorklistRow};

/// The staging folder of retrievals, inside the home.
const INCOMING: &str = "incoming";

fn dicom_date(date: &str) -> Result<String> {
    let digits: String = date.trim().chars().filter(|c| *c != '-').collect();
    let ok = digits.len() == 8
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (date.trim().len() == 8 || date.trim().len() == 10);
    if !ok {
        return Err(AppError::InvalidInput(format!(
            "{date:?} is not a date (YYYY-MM-DD)"
        )));
    }
    Ok(digits)
}

/// The rank of a report state for the worklist: the higher, the further the study is read.
fn rank(state: &str) -> u8 {
    match state {
        "conflict" => 6,
        "amended" => 5,
        "final" => 4,
        "preliminary" => 3,
        "withdrawn" => 2,
        "draft" => 1,
        _ => 0,
    }
}

fn state_name(state: &countersign_report::ReportState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "draft".into())
}

#[cfg(test)]
mod tests;
