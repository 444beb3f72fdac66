//! Payloads of the report kinds. JSON: the header commits to the exact bytes by hash, so the
//! payload encoding never needs to be canonical, only parseable.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Kind};
use serde::{Deserialize, Serialize};

/// `report.create`: the genesis of a report log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCreate {
    pub study: String,
    pub template: String,
    /// SHA-256 (hex) of every image file the report is about.
    #[serde(default)]
    pub images: Vec<String>,
}

/// `section.write`: a new version of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionWrite {
    pub section: String,
    pub text: String,
}

/// `section.cosign`: a second signature on one version of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionCosign {
    pub section: String,
    pub version: EntryId,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Preliminary,
    Final,
}

/// `report.status`: final names the section versions it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportStatus {
    pub status: Status,
    #[serde(default)]
    pub sections: BTreeMap<String, EntryId>,
}

/// `addendum.write`: text added after sign-off; the original never changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddendumWrite {
    pub text: String,
}

/// `measurement.add`: a length drawn on one frame of one of the report's images. Positions are
/// image pixel coordinates (column, row) in thousandths of a pixel, and the length is in
/// micrometres when the image has a Pixel Spacing, else in thousandths of a pixel
/// (uncalibrated): integers, so the signed bytes say exactly what was measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasurementAdd {
    /// SHA-256 (hex) of the image file.
    pub image: String,
    pub frame: u32,
    pub from: [i64; 2],
    pub to: [i64; 2],
    pub length: u64,
    pub unit: LengthUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LengthUnit {
    /// Micrometres, from the image's Pixel Spacing.
    Um,
    /// Thousandths of a pixel: the image has no Pixel Spacing.
    Mpx,
}

impl MeasurementAdd {
    fn check(self) -> Result<Self, String> {
        if self.image.len() != 64 || !self.image.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("image {:?} is not a SHA-256", self.image));
        }
        // Beyond 10 m or a million pixels a "length" is a corrupt entry, not a measurement.
        let limit = match self.unit {
            LengthUnit::Um => 10_000_000,
            LengthUnit::Mpx => 1_000_000_000,
        };
        if self.length > limit {
            return Err(format!("length {} is beyond any image", self.length));
        }
        Ok(self)
    }
}

/// A parsed report-log payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Create(ReportCreate),
    Write(SectionWrite),
    Cosign(SectionCosign),
    Status(ReportStatus),
    Addendum(AddendumWrite),
    Measurement(MeasurementAdd),
    /// Kinds the report does not interpret yet (kept, shown in provenance).
    Other,
}

/// A payload that does not parse as its kind says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} payload is not valid: {reason}")]
pub struct PayloadError {
    pub kind: Kind,
    pub reason: String,
}

/// Parses `bytes` as the payload type `T` of `kind`.
pub fn parse_as<T: serde::de::DeserializeOwned>(
    kind: Kind,
    bytes: &[u8],
) -> Result<T, PayloadError> {
    serde_json::from_slice(bytes).map_err(|e| PayloadError {
        kind,
        reason: e.to_string(),
    })
}

impl Payload {
    pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Payload, PayloadError> {
        Ok(match kind {
            Kind::ReportCreate => Payload::Create(parse_as(kind, bytes)?),
            Kind::SectionWrite => Payload::Write(parse_as(kind, bytes)?),
            Kind::SectionCosign => Payload::Cosign(parse_as(kind, bytes)?),
            Kind::ReportStatus => Payload::Status(parse_as(kind, bytes)?),
            Kind::AddendumWrite => Payload::Addendum(parse_as(kind, bytes)?),
            Kind::MeasurementAdd => Payload::Measurement(
                parse_as::<MeasurementAdd>(kind, bytes)?
                    .check()
                    .map_err(|reason| PayloadError { kind, reason })?,
            ),
            _ => {
                let _: serde_json::Value = parse_as(kind, bytes)?;
                Payload::Other
            }
        })
    }

    /// The JSON bytes that go into an entry.
    pub fn to_bytes<T: Serialize>(payload: &T) -> Vec<u8> {
        serde_json::to_vec(payload).expect("report payloads have string keys and always serialise")
    }
}
