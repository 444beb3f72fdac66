//! Payloads about a report's custody rather than its content: who may read it
//! (`access.grant` / `access.revoke`), erasing and restricting it, moving it to another study,
//! and its delivery to an archive (`report.delivered`), with the bounds each is held to.

use countersign_ledger::EntryId;
use serde::{Deserialize, Serialize};

use super::non_empty;

/// `access.grant` / `access.revoke`: `member` may (no longer) read this report — what an AI
/// model's node is sent depends on it (see [`crate::access`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessChange {
    pub member: countersign_ledger::PublicKey,
}

/// The most text a legal basis or a reason carries, in bytes: a citation and a sentence.
pub const MAX_BASIS_BYTES: usize = 1024;

/// What a `payload.erase` was asked for: the whole patient (every report of theirs gets one),
/// or one report. The scope is shown; the rule is the same for each log it is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EraseScope {
    #[default]
    Report,
    Patient,
}

/// `payload.erase` (GDPR Art. 17): the personal data of this report is destroyed on every peer
/// that receives it; the headers stay, so who wrote what kind of entry when, and every
/// signature, still verify. It carries no personal data itself (never the patient's id), only
/// why: it is kept for as long as the log is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayloadErase {
    /// The legal basis, as the erasing member recorded it (e.g. "GDPR Art. 17(1)(b)").
    pub basis: String,
    #[serde(default)]
    pub scope: EraseScope,
}

impl PayloadErase {
    pub(super) fn check(self) -> Result<Self, String> {
        legal_basis(&self.basis)?;
        Ok(self)
    }
}

/// A legal basis is said, in at most [`MAX_BASIS_BYTES`].
fn legal_basis(basis: &str) -> Result<(), String> {
    non_empty("the legal basis", basis)?;
    at_most("the legal basis", basis, MAX_BASIS_BYTES)
}

/// `report.restrict` (GDPR Art. 18): while restricted, the report's content is hidden from
/// every view and export (the data and its keys are kept); lifted by another with
/// `restricted: false`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRestrict {
    pub restricted: bool,
    pub basis: String,
}

impl ReportRestrict {
    pub(super) fn check(self) -> Result<Self, String> {
        legal_basis(&self.basis)?;
        Ok(self)
    }
}

/// `report.move`: the report was filed under the wrong patient. From this entry on it is about
/// `study` (and its `images`), under that study's patient; under the study it was filed under
/// it shows only that it was moved. Its history stays in its log, every signature with it.
/// An attending signs it; the reason is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportMove {
    /// The study (Study Instance UID) the report belongs to.
    pub study: String,
    /// SHA-256 (hex) of every image file of that study the report is about.
    #[serde(default)]
    pub images: Vec<String>,
    pub reason: String,
}

impl ReportMove {
    pub(super) fn check(self) -> Result<Self, String> {
        non_empty("the study", &self.study)?;
        at_most("the study", &self.study, 64)?;
        non_empty("the reason", &self.reason)?;
        at_most("the reason", &self.reason, MAX_BASIS_BYTES)?;
        if self.images.len() > 100_000 {
            return Err(format!("{} images", self.images.len()));
        }
        if let Some(bad) = self
            .images
            .iter()
            .find(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!("image {bad:?} is not a SHA-256 in hex"));
        }
        Ok(self)
    }
}

/// One instance an archive was sent: UIDs only, nothing of the patient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveredInstance {
    pub sop_class: String,
    pub sop_instance: String,
    pub series: String,
}

/// The most instances one `report.delivered` names: a version's SR and its Encapsulated PDF,
/// with room to spare.
pub const MAX_DELIVERED_INSTANCES: usize = 8;

/// The most instances one rejection (a `report.delivered` with a `rejection_note`) names:
/// every SR and PDF of the report one archive holds in one study, as many as the home keeps
/// per report and archive (256).
pub const MAX_REJECTED_INSTANCES: usize = 256;

/// `report.delivered`: a signed-off version of the report (`version`: the final sign-off, an
/// addendum or a resolution in the entry's past) was stored on `archive` (the name this home
/// gives it) in `study`, as `instances`. The entry's own time is when. Signed by the member
/// whose home sent it, so every peer's provenance shows where the report went and who sent it.
///
/// With `rejection_note`, it records the opposite: after the report was moved away from
/// `study`, an IHE IOCM rejection note (a Key Object Selection titled 113037, whose SOP
/// Instance UID this is) was stored on `archive` in `study`, rejecting `instances` (the
/// report's SRs and PDFs there); `version` is the signed-off version the report read as then.
/// A field rather than a kind of its own: a peer of the previous release refuses an unknown
/// kind when it decodes the header — the whole batch, and the sender is cut off as
/// misbehaving — while an unknown field fails only this payload (`bad_payload`), which such a
/// peer quarantines while the rest of the log flows. Absent (never `null`) on a delivery, so
/// a delivery's bytes are what that release signs and accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportDelivered {
    pub archive: String,
    pub version: EntryId,
    pub study: String,
    pub instances: Vec<DeliveredInstance>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection_note: Option<String>,
}

impl ReportDelivered {
    pub(super) fn check(self) -> Result<Self, String> {
        non_empty("the archive", &self.archive)?;
        at_most("the archive", &self.archive, 64)?;
        uid("the study", &self.study)?;
        let max = match &self.rejection_note {
            Some(note) => {
                uid("the rejection note's SOP Instance UID", note)?;
                MAX_REJECTED_INSTANCES
            }
            None => MAX_DELIVERED_INSTANCES,
        };
        if self.instances.is_empty() || self.instances.len() > max {
            return Err(format!("{} instances; one to {max}", self.instances.len()));
        }
        for i in &self.instances {
            uid("an instance's SOP class", &i.sop_class)?;
            uid("an instance's SOP Instance UID", &i.sop_instance)?;
            uid("an instance's series", &i.series)?;
        }
        Ok(self)
    }
}

/// A DICOM UID: digits and dots, 1 to 64 characters (PS3.5 9.1).
fn uid(what: &str, text: &str) -> Result<(), String> {
    if text.is_empty() || text.len() > 64 || !text.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Err(format!("{what} is not a DICOM UID"));
    }
    Ok(())
}

fn at_most(what: &str, text: &str, max: usize) -> Result<(), String> {
    if text.len() > max {
        return Err(format!("{what} is {} bytes; at most {max}", text.len()));
    }
    Ok(())
}
