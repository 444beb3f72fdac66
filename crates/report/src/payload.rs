//! Payloads of the report kinds. JSON: the header commits to the exact bytes by hash, so the
//! payload encoding never needs to be canonical, only parseable.

use std::collections::BTreeMap;

use countersign_ledger::{EntryId, Hash, Kind};
use serde::{Deserialize, Serialize};

mod custody;
mod received;
pub mod seal;
pub mod text;
pub use custody::{
    AccessChange, DeliveredInstance, EraseScope, PayloadErase, ReportDelivered, ReportMove,
    ReportRestrict, MAX_BASIS_BYTES, MAX_DELIVERED_INSTANCES, MAX_REJECTED_INSTANCES,
};
pub use received::{
    AiReceived, SrCode, SrDevice, SrFinding, SrMeasurement, SrObserver, MAX_RECEIVED_RESULTS,
};

/// `report.create`: the genesis of a report log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCreate {
    pub study: String,
    /// The template's name, as people call it.
    pub template: String,
    /// The template's content hash ([`crate::Template::content_hash`]): a built-in template or
    /// one an admin published to the roster. The report is judged by exactly that template on
    /// every peer; a report cannot bring rules of its own.
    pub template_hash: Hash,
    /// SHA-256 (hex) of every image file the report is about.
    #[serde(default)]
    pub images: Vec<String>,
}

impl ReportCreate {
    /// What a log whose `report.create` payload is not held (erased, or not come) reads as:
    /// no study, no template, no images.
    pub fn not_held() -> ReportCreate {
        ReportCreate {
            study: String::new(),
            template: String::new(),
            template_hash: Hash::ZERO,
            images: Vec::new(),
        }
    }
}

/// `template.publish` (roster log, admins only): a template the department's reports may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplatePublish {
    pub template: crate::template::Template,
}

/// `report.resolve`: an attending settles a conflict between sign-offs that do not descend
/// from each other by keeping one; the others stay in the record, superseded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportResolve {
    pub keep: EntryId,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// `section.write`: a new version of a section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionWrite {
    pub section: String,
    pub text: String,
    /// Values of the section's structured fields, by field name (checked against the template).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// Findings linked to images: each referred to from `text` by its `[fig N]` marker
    /// (see [`crate::links`]). Absent in versions without links, and in every older payload.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<crate::links::ImageLink>,
    /// The AutoText macros the text was built from (name and content hash), at most
    /// [`crate::macros::MAX_MACROS_PER_WRITE`], each once. Optional: a write without macros
    /// encodes as before, and the sign-off rule judges only these macros' `[fields]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub macros: Vec<crate::macros::MacroRef>,
}

impl SectionWrite {
    fn check_macros(&self) -> Result<(), String> {
        if self.macros.len() > crate::macros::MAX_MACROS_PER_WRITE {
            return Err(format!(
                "{} macros named; at most {}",
                self.macros.len(),
                crate::macros::MAX_MACROS_PER_WRITE
            ));
        }
        for (i, m) in self.macros.iter().enumerate() {
            if !crate::template::valid_name(&m.name) {
                return Err("a macro name is not a name".into());
            }
            if self.macros[..i].contains(m) {
                return Err(format!("macro {} is named twice", m.name));
            }
        }
        Ok(())
    }
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

/// How a critical result was communicated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    Phone,
    InPerson,
    Message,
}

/// `critical.result`: a finding that needed a clinician told now, and the record that they were:
/// to whom, how, when, and whether they read it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriticalResult {
    pub finding: String,
    pub to: String,
    pub via: Channel,
    /// When the clinician was told (ms since the epoch).
    pub communicated_ms: u64,
    pub read_back: bool,
}

/// `followup.recommend`: a recommended follow-up, due by a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupRecommend {
    pub finding: String,
    /// `YYYY-MM-DD`.
    pub due: String,
}

/// `followup.close`: the recommended follow-up happened, as study `study`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowupClose {
    pub followup: EntryId,
    pub study: String,
}

fn non_empty(what: &str, text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err(format!("{what} is empty"));
    }
    if text.len() > 10_000 {
        return Err(format!("{what} is longer than 10000 bytes"));
    }
    Ok(())
}

/// `ai.result`: what an AI model proposed, signed by the model's own key: which model and
/// version, which images (SHA-256) it read, with which parameters, what it found (`outputs`) and
/// the section text it proposes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiResult {
    pub model: String,
    pub version: String,
    pub inputs: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    pub section: String,
    pub text: String,
}

/// A reviewer's decision on an AI result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accept,
    Edit,
    Reject,
}

/// `ai.review`: a human's decision on one `ai.result`; an edit carries the text that replaces the
/// proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AiReview {
    pub result: EntryId,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

impl AiResult {
    fn check(self) -> Result<Self, String> {
        non_empty("the proposed text", &self.text)?;
        non_empty("the model", &self.model)?;
        if let Some(bad) = self
            .inputs
            .iter()
            .find(|i| i.len() != 64 || !i.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!("input {bad:?} is not a SHA-256"));
        }
        Ok(self)
    }
}

impl AiReview {
    fn check(self) -> Result<Self, String> {
        match (self.decision, &self.text) {
            (Decision::Edit, Some(t)) => non_empty("the edited text", t)?,
            (Decision::Edit, None) => return Err("an edit needs the edited text".into()),
            (_, Some(_)) => return Err("only an edit carries text".into()),
            (_, None) => {}
        }
        Ok(self)
    }
}

/// `view`: a read receipt — which sections a reader had on screen. The app records at most one
/// per reader and report in a while (a batch), not one per glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewReceipt {
    pub sections: Vec<String>,
}

impl ViewReceipt {
    fn check(self) -> Result<Self, String> {
        if self.sections.is_empty() || self.sections.len() > 64 {
            return Err(format!("{} sections read", self.sections.len()));
        }
        Ok(self)
    }
}

/// A calendar date written `YYYY-MM-DD`.
pub fn valid_date(date: &str) -> bool {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let number = |r: std::ops::Range<usize>| date.get(r).and_then(|s| s.parse::<u32>().ok());
    let (Some(y), Some(m), Some(d)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1900..=9999).contains(&y) && (1..=days).contains(&d)
}

impl CriticalResult {
    fn check(self) -> Result<Self, String> {
        non_empty("the finding", &self.finding)?;
        non_empty("who was told", &self.to)?;
        Ok(self)
    }
}

impl FollowupRecommend {
    fn check(self) -> Result<Self, String> {
        non_empty("the finding", &self.finding)?;
        if !valid_date(&self.due) {
            return Err(format!("due date {:?} is not a YYYY-MM-DD date", self.due));
        }
        Ok(self)
    }
}

impl FollowupClose {
    fn check(self) -> Result<Self, String> {
        non_empty("the follow-up study", &self.study)?;
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
    Critical(CriticalResult),
    Followup(FollowupRecommend),
    FollowupClose(FollowupClose),
    View(ViewReceipt),
    AiResult(AiResult),
    AiReview(AiReview),
    /// `ai.received`: an AI result received as DICOM SR (boxed: it is the largest payload).
    AiReceived(Box<AiReceived>),
    Access(AccessChange),
    Resolve(ReportResolve),
    Erase(PayloadErase),
    Restrict(ReportRestrict),
    Move(ReportMove),
    Delivered(ReportDelivered),
    /// Kinds the report does not interpret yet (kept, shown in provenance).
    Other,
}

/// The most text a section version or an addendum carries, in bytes of UTF-8: 64 KiB, many
/// times the longest report section, so that judging, showing and syncing a report costs what
/// its entries are worth and not what a payload's 16 MiB allows. Longer is refused outright
/// (`text_too_long`), like a payload that does not parse.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// A payload that does not parse as its kind says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} payload is not valid: {reason}")]
pub struct PayloadError {
    pub kind: Kind,
    pub reason: String,
    /// Which stable code the refusal carries.
    pub fault: PayloadFault,
}

/// What is wrong with a payload, as far as its refusal's code says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PayloadFault {
    /// It does not parse, or a value in it is not valid (`bad_payload`).
    #[default]
    Invalid,
    /// A section's or an addendum's text is longer than [`MAX_TEXT_BYTES`] (`text_too_long`).
    TextTooLong,
}

impl PayloadError {
    fn invalid(kind: Kind, reason: String) -> PayloadError {
        PayloadError {
            kind,
            reason,
            fault: PayloadFault::Invalid,
        }
    }

    /// The stable code of the refusal.
    pub fn code(&self) -> &'static str {
        match self.fault {
            PayloadFault::Invalid => "bad_payload",
            PayloadFault::TextTooLong => "text_too_long",
        }
    }
}

/// Refuses `text` longer than [`MAX_TEXT_BYTES`].
fn capped(kind: Kind, what: &str, text: &str) -> Result<(), PayloadError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(PayloadError {
            kind,
            reason: format!(
                "{what} is {} bytes; at most {MAX_TEXT_BYTES} are kept",
                text.len()
            ),
            fault: PayloadFault::TextTooLong,
        });
    }
    Ok(())
}

/// Parses `bytes` as `T` and applies `check`, which says in words what is wrong.
fn checked<T: serde::de::DeserializeOwned>(
    kind: Kind,
    bytes: &[u8],
    check: fn(T) -> Result<T, String>,
) -> Result<T, PayloadError> {
    check(parse_as(kind, bytes)?).map_err(|reason| PayloadError::invalid(kind, reason))
}

/// Parses `bytes` as the payload type `T` of `kind`.
pub fn parse_as<T: serde::de::DeserializeOwned>(
    kind: Kind,
    bytes: &[u8],
) -> Result<T, PayloadError> {
    // A key given twice is refused: other parsers would read another value from the same
    // signed bytes (see `countersign_ledger::json`).
    countersign_ledger::json::from_slice_unique(bytes)
        .map_err(|reason| PayloadError::invalid(kind, reason))
}

impl Payload {
    pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Payload, PayloadError> {
        Ok(match kind {
            Kind::ReportCreate => Payload::Create(parse_as(kind, bytes)?),
            Kind::SectionWrite => {
                let w: SectionWrite = parse_as(kind, bytes)?;
                capped(kind, "the section text", &w.text)?;
                w.check_macros()
                    .map_err(|reason| PayloadError::invalid(kind, reason))?;
                Payload::Write(w)
            }
            Kind::SectionCosign => Payload::Cosign(parse_as(kind, bytes)?),
            Kind::ReportStatus => Payload::Status(parse_as(kind, bytes)?),
            Kind::AddendumWrite => {
                let a: AddendumWrite = parse_as(kind, bytes)?;
                capped(kind, "the addendum text", &a.text)?;
                Payload::Addendum(a)
            }
            Kind::MeasurementAdd => {
                Payload::Measurement(checked(kind, bytes, MeasurementAdd::check)?)
            }
            Kind::CriticalResult => Payload::Critical(checked(kind, bytes, CriticalResult::check)?),
            Kind::FollowupRecommend => {
                Payload::Followup(checked(kind, bytes, FollowupRecommend::check)?)
            }
            Kind::FollowupClose => {
                Payload::FollowupClose(checked(kind, bytes, FollowupClose::check)?)
            }
            Kind::View => Payload::View(checked(kind, bytes, ViewReceipt::check)?),
            Kind::AiResult => Payload::AiResult(checked(kind, bytes, AiResult::check)?),
            Kind::AiReview => Payload::AiReview(checked(kind, bytes, AiReview::check)?),
            Kind::AiReceived => {
                Payload::AiReceived(Box::new(checked(kind, bytes, AiReceived::check)?))
            }
            Kind::AccessGrant | Kind::AccessRevoke => Payload::Access(parse_as(kind, bytes)?),
            Kind::ReportResolve => Payload::Resolve(parse_as(kind, bytes)?),
            Kind::PayloadErase => Payload::Erase(checked(kind, bytes, PayloadErase::check)?),
            Kind::ReportRestrict => Payload::Restrict(checked(kind, bytes, ReportRestrict::check)?),
            Kind::ReportMove => Payload::Move(checked(kind, bytes, ReportMove::check)?),
            Kind::ReportDelivered => {
                Payload::Delivered(checked(kind, bytes, ReportDelivered::check)?)
            }
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

#[cfg(test)]
mod text_cap_tests {
    use super::*;

    /// Issue 13: a section or addendum could carry 16 MiB of text, judged, shown and synced
    /// whole. At most 64 KiB now, refused with its own code beyond.
    #[test]
    fn section_and_addendum_text_is_capped_at_64_kib() {
        let write = |text: String| {
            Payload::to_bytes(&SectionWrite {
                section: "findings".into(),
                text,
                fields: BTreeMap::new(),
                macros: Vec::new(),
                links: Vec::new(),
            })
        };
        let addendum = |text: String| Payload::to_bytes(&AddendumWrite { text });
        for (kind, make) in [
            (Kind::SectionWrite, &write as &dyn Fn(String) -> Vec<u8>),
            (Kind::AddendumWrite, &addendum),
        ] {
            // Counted in bytes: 64 KiB of a two-byte character is half as many characters.
            let at_cap = "é".repeat(MAX_TEXT_BYTES / 2);
            assert!(Payload::parse(kind, &make(at_cap)).is_ok(), "{kind}");
            let over = "é".repeat(MAX_TEXT_BYTES / 2) + "x";
            let err = Payload::parse(kind, &make(over)).unwrap_err();
            assert_eq!(err.code(), "text_too_long", "{kind}");
            assert_eq!(err.fault, PayloadFault::TextTooLong);
            let err = Payload::parse(kind, b"{\"text\": 1}").unwrap_err();
            assert_eq!(err.code(), "bad_payload", "{kind}");
        }
    }
}

#[cfg(test)]
mod date_tests {
    use super::valid_date;

    #[test]
    fn only_real_calendar_dates_are_due_dates() {
        for ok in ["2027-02-01", "2028-02-29", "2000-02-29", "1999-12-31"] {
            assert!(valid_date(ok), "{ok}");
        }
        for bad in [
            "2027-02-30",
            "2100-02-29",
            "2027-13-01",
            "2027-1-01",
            "27-01-01",
            "2027/01/01",
            "",
            "2027-01-01T",
        ] {
            assert!(!valid_date(bad), "{bad}");
        }
    }
}

/// The invariants the `payload_parse` fuzz target checks (and `make test` replays). The first
/// byte picks the kind; the rest is the payload a peer signed. Any input is refused or read,
/// never a panic; what is read has no key twice, and reads the same from its JSON value written
/// back out — so what an entry means depends on its JSON, not on byte quirks another parser
/// could read otherwise.
#[doc(hidden)]
pub mod fuzz {
    use super::*;

    /// Panics if any invariant breaks.
    pub fn payload_parse(data: &[u8]) {
        let Some((&pick, bytes)) = data.split_first() else {
            return;
        };
        let kind = Kind::ALL[usize::from(pick) % Kind::ALL.len()];
        if Payload::parse(kind, bytes).is_err() {
            return;
        }
        let value: serde_json::Value = countersign_ledger::json::from_slice_unique(bytes)
            .expect("a payload that parses has no key twice");
        let written = serde_json::to_vec(&value).expect("a JSON value writes");
        assert!(
            Payload::parse(kind, &written).is_ok(),
            "a {kind} payload reads, but not once written back out"
        );
    }
}
