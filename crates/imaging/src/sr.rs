//! AI results that arrive as DICOM Structured Reports (TID 1500 measurement reports, as IHE AI
//! Results delivers them): what device made the SR, and what it measured and found.
//!
//! The SR comes from outside (a vendor's product, a PACS), so it is read as untrusted bytes: its
//! size is checked before a byte is read ([`MAX_SR_BYTES`]), it goes through the same pre-scan as
//! every image (element lengths within the file, sequences at most 32 levels deep), its SOP
//! Class must be one of the SR classes in [`SR_CLASSES`], and the content tree is walked at most
//! [`MAX_CONTENT_DEPTH`] levels deep and [`MAX_CONTENT_ITEMS`] items long. What is kept is
//! bounded too (measurements, findings and references per item), so that the entry the app
//! signs from it has a size known in advance. Refused, nothing is kept: [`SrError::code`] says
//! why with a stable code.
//!
//! This module decodes; whether the resulting entry belongs in a report is the report crate's
//! judgement (`countersign_report::payload::AiReceived`).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

/// SR files larger than this (64 MiB) are refused before they are read. A TID 1500 report of
/// a few hundred measurements is tens of kilobytes; an SR this large carries something else.
pub const MAX_SR_BYTES: u64 = 64 << 20;
/// Content items nest at most this deep below the document root (TID 1500 needs five).
pub const MAX_CONTENT_DEPTH: usize = 16;
/// At most this many content items in the whole tree.
pub const MAX_CONTENT_ITEMS: usize = 10_000;
/// At most this many measurements, and as many coded findings, are taken from one SR.
pub const MAX_RESULTS: usize = 256;
/// At most this many distinct referenced SOP instances per measurement or finding.
pub const MAX_ITEM_REFERENCES: usize = 64;
/// At most this many distinct referenced SOP instances in the whole SR.
pub const MAX_REFERENCES: usize = 1024;
/// A string kept from the SR (a code meaning, a device name) is at most this many characters.
pub const MAX_STRING_CHARS: usize = 1024;

/// The SOP Classes taken as AI results: Basic Text, Enhanced, Comprehensive and Comprehensive
/// 3D SR (the last is what highdicom writes for TID 1500).
pub const SR_CLASSES: &[(&str, &str)] = &[
    ("1.2.840.10008.5.1.4.1.1.88.11", "Basic Text SR"),
    ("1.2.840.10008.5.1.4.1.1.88.22", "Enhanced SR"),
    ("1.2.840.10008.5.1.4.1.1.88.33", "Comprehensive SR"),
    ("1.2.840.10008.5.1.4.1.1.88.34", "Comprehensive 3D SR"),
];

/// Why an SR is refused. Every variant has a stable [`code`](Self::code).
#[derive(Debug, thiserror::Error)]
pub enum SrError {
    #[error("the SR file is {size} bytes; the limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("the SR's content tree is beyond this reader's bounds: {0}")]
    TooComplex(String),
    #[error("not a structured report: its SOP Class is {sop_class}, and only Basic Text, Enhanced, Comprehensive and Comprehensive 3D SR are AI results here")]
    NotSr { sop_class: String },
    #[error("the SR is malformed: {0}")]
    Malformed(String),
    /// A well-formed SR with no measurement or coded finding: nothing to attest. Whether a
    /// device observed it tells an AI product's empty result from a person's report (which
    /// a pass over an archive's study leaves alone).
    #[error(
        "the SR is malformed: it holds no measurement (NUM) or coded finding (CODE) to attest"
    )]
    NothingToAttest { device_observed: bool },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl SrError {
    /// The stable code (see the README's error codes).
    pub fn code(&self) -> &'static str {
        match self {
            SrError::TooLarge { .. } | SrError::TooComplex(_) => "sr_too_large",
            SrError::NotSr { .. } => "sr_not_sr",
            SrError::Malformed(_) | SrError::NothingToAttest { .. } => "sr_malformed",
            SrError::Io { .. } => "io",
        }
    }
}

/// A coded concept: code value, coding scheme, meaning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Code {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

/// The General Equipment module: the device that made the SR.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Equipment {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub software_versions: Vec<String>,
    pub serial: Option<String>,
}

/// A device observer context (TID 1004): the algorithm that observed, as the SR names it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DeviceObserver {
    pub uid: Option<String>,
    pub name: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
}

/// A NUM content item: concept, value as written (a DS), units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measurement {
    pub concept: Code,
    pub value: String,
    pub units: Option<Code>,
    /// SOP Instance UIDs of the images it was made on (its own and its group's IMAGE items).
    pub references: Vec<String>,
}

/// A CODE content item: a qualitative finding, concept and coded value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub concept: Code,
    pub value: Code,
    pub references: Vec<String>,
}

/// What an SR says, as far as attesting its receipt needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructuredReport {
    pub sop_class: String,
    pub sop_instance: String,
    pub study: String,
    /// The Patient ID, for wrong-patient checks; never serialised (it is the patient's).
    #[serde(skip)]
    pub patient_id: Option<String>,
    /// The document title (the root container's concept).
    pub title: Option<Code>,
    pub equipment: Equipment,
    /// The first device observer context in the tree, if any says the observer is a device.
    pub observer: Option<DeviceObserver>,
    pub measurements: Vec<Measurement>,
    pub findings: Vec<Finding>,
    /// Every SOP instance the content tree references, sorted.
    pub references: Vec<String>,
}

/// Reads an SR file, refusing one over [`MAX_SR_BYTES`] before reading a byte of it (and one
/// that grows past it while being read).
pub fn read_sr_file(path: &Path) -> Result<Vec<u8>, SrError> {
    let io = |source| SrError::Io {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_SR_BYTES {
        return Err(SrError::TooLarge {
            size,
            limit: MAX_SR_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_SR_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SR_BYTES {
        return Err(SrError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_SR_BYTES,
        });
    }
    Ok(bytes)
}

/// What every SR reader checks first: the size (before anything is parsed), the pre-scan and
/// parse, an SR SOP Class, its SOP Instance and Study UIDs, and a CONTAINER at the root.
pub(crate) struct SrHead {
    pub object: dicom_object::DefaultDicomObject,
    pub sop_class: String,
    pub sop_instance: String,
    pub study: String,
}

pub(crate) fn open_sr(bytes: &[u8]) -> Result<SrHead, SrError> {
    if bytes.len() as u64 > MAX_SR_BYTES {
        return Err(SrError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_SR_BYTES,
        });
    }
    let object = crate::open_bytes(bytes).map_err(|e| SrError::Malformed(e.to_string()))?;
    let sop_class = text(&object, tags::SOP_CLASS_UID)?
        .ok_or_else(|| SrError::Malformed("it has no SOP Class UID".into()))?;
    if !SR_CLASSES.iter().any(|(uid, _)| *uid == sop_class) {
        return Err(SrError::NotSr { sop_class });
    }
    let required = |tag: Tag, name: &str| -> Result<String, SrError> {
        text(&object, tag)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| SrError::Malformed(format!("it has no {name}")))
    };
    let sop_instance = required(tags::SOP_INSTANCE_UID, "SOP Instance UID")?;
    let study = required(tags::STUDY_INSTANCE_UID, "Study Instance UID")?;
    let root_type = required(tags::VALUE_TYPE, "Value Type at its root")?;
    if root_type != "CONTAINER" {
        return Err(SrError::Malformed(format!(
            "its root content item is {root_type}, not a CONTAINER"
        )));
    }
    Ok(SrHead {
        object,
        sop_class,
        sop_instance,
        study,
    })
}

/// Parses SR bytes (see the module docs for what is refused).
pub fn parse_sr(bytes: &[u8]) -> Result<StructuredReport, SrError> {
    let SrHead {
        object,
        sop_class,
        sop_instance,
        study,
    } = open_sr(bytes)?;
    let equipment = Equipment {
        manufacturer: text(&object, tags::MANUFACTURER)?,
        model: text(&object, tags::MANUFACTURER_MODEL_NAME)?,
        software_versions: strings(&object, tags::SOFTWARE_VERSIONS)?,
        serial: text(&object, tags::DEVICE_SERIAL_NUMBER)?,
    };
    let title = code_in(&object, tags::CONCEPT_NAME_CODE_SEQUENCE)?;
    let mut walk = Walk::default();
    walk.container(&object, 0)?;
    if walk.measurements.is_empty() && walk.findings.is_empty() {
        return Err(SrError::NothingToAttest {
            device_observed: walk.observer.is_some(),
        });
    }
    Ok(StructuredReport {
        sop_class,
        sop_instance,
        study,
        patient_id: text(&object, tags::PATIENT_ID)?,
        title,
        equipment,
        observer: walk.observer,
        measurements: walk.measurements,
        findings: walk.findings,
        references: walk.references.into_iter().collect(),
    })
}

/// One string value, trimmed of DICOM padding; `None` when absent or empty.
fn text(object: &InMemDicomObject, tag: Tag) -> Result<Option<String>, SrError> {
    let Some(element) = object.get(tag) else {
        return Ok(None);
    };
    let value = element
        .to_str()
        .map_err(|e| SrError::Malformed(format!("{tag}: {e}")))?;
    let value = value.trim_end_matches(['\0', ' ']).trim_start();
    bounded(tag, value)?;
    Ok((!value.is_empty()).then(|| value.to_string()))
}

fn strings(object: &InMemDicomObject, tag: Tag) -> Result<Vec<String>, SrError> {
    let Some(element) = object.get(tag) else {
        return Ok(Vec::new());
    };
    let values = element
        .to_multi_str()
        .map_err(|e| SrError::Malformed(format!("{tag}: {e}")))?;
    if values.len() > 16 {
        return Err(SrError::TooComplex(format!(
            "{tag} has {} values",
            values.len()
        )));
    }
    values
        .iter()
        .map(|v| v.trim_end_matches(['\0', ' ']).trim_start())
        .filter(|v| !v.is_empty())
        .map(|v| bounded(tag, v).map(|_| v.to_string()))
        .collect()
}

fn bounded(tag: Tag, value: &str) -> Result<(), SrError> {
    if value.chars().count() > MAX_STRING_CHARS {
        return Err(SrError::TooComplex(format!(
            "{tag} is longer than {MAX_STRING_CHARS} characters"
        )));
    }
    Ok(())
}

/// The one item of a sequence, if the sequence is present.
fn only_item(object: &InMemDicomObject, tag: Tag) -> Result<Option<&InMemDicomObject>, SrError> {
    let Some(element) = object.get(tag) else {
        return Ok(None);
    };
    let items = element
        .items()
        .ok_or_else(|| SrError::Malformed(format!("{tag} is not a sequence")))?;
    Ok(items.first())
}

/// The code in the first item of a code sequence.
fn code_in(object: &InMemDicomObject, tag: Tag) -> Result<Option<Code>, SrError> {
    let Some(item) = only_item(object, tag)? else {
        return Ok(None);
    };
    let value = match text(item, tags::CODE_VALUE)? {
        Some(v) => Some(v),
        None => match text(item, tags::LONG_CODE_VALUE)? {
            Some(v) => Some(v),
            None => text(item, tags::URN_CODE_VALUE)?,
        },
    };
    let meaning = text(item, tags::CODE_MEANING)?;
    match (value, meaning) {
        (Some(value), Some(meaning)) => Ok(Some(Code {
            value,
            scheme: text(item, tags::CODING_SCHEME_DESIGNATOR)?.unwrap_or_default(),
            meaning,
        })),
        _ => Err(SrError::Malformed(format!(
            "a code in {tag} lacks its code value or meaning"
        ))),
    }
}

/// DCM codes of the device observer context (TID 1004) and observer type (TID 1002).
const OBSERVER_TYPE: &str = "121005";
const DEVICE: &str = "121007";
const DEVICE_UID: &str = "121012";
const DEVICE_NAME: &str = "121013";
const DEVICE_MANUFACTURER: &str = "121014";
const DEVICE_MODEL: &str = "121015";
const DEVICE_SERIAL: &str = "121016";

#[derive(Default)]
struct Walk {
    items: usize,
    observer: Option<DeviceObserver>,
    /// The observer context being read (its items are siblings, after an Observer Type of
    /// DEVICE), until the first one ends.
    reading_observer: Option<DeviceObserver>,
    measurements: Vec<Measurement>,
    findings: Vec<Finding>,
    references: BTreeSet<String>,
}

/// A measurement or finding made at one level, to be given its group's references.
enum Made {
    Measurement(usize),
    Finding(usize),
}

impl Walk {
    /// Walks the content items of `parent` at `depth`; returns the SOP instances its subtree
    /// references.
    fn container(
        &mut self,
        parent: &InMemDicomObject,
        depth: usize,
    ) -> Result<BTreeSet<String>, SrError> {
        let Some(content) = parent.get(tags::CONTENT_SEQUENCE) else {
            return Ok(BTreeSet::new());
        };
        if depth >= MAX_CONTENT_DEPTH {
            return Err(SrError::TooComplex(format!(
                "content items nest deeper than {MAX_CONTENT_DEPTH} levels"
            )));
        }
        let items = content
            .items()
            .ok_or_else(|| SrError::Malformed("Content Sequence is not a sequence".into()))?;
        let mut subtree = BTreeSet::new();
        // References of this level's IMAGE items and of non-result subtrees (a group's source
        // images, an image region's IMAGE): they belong to this level's measurements.
        let mut group = BTreeSet::new();
        let mut made = Vec::new();
        for item in items {
            self.items += 1;
            if self.items > MAX_CONTENT_ITEMS {
                return Err(SrError::TooComplex(format!(
                    "more than {MAX_CONTENT_ITEMS} content items"
                )));
            }
            let value_type = text(item, tags::VALUE_TYPE)?
                .ok_or_else(|| SrError::Malformed("a content item has no Value Type".into()))?;
            let relationship = text(item, tags::RELATIONSHIP_TYPE)?.ok_or_else(|| {
                SrError::Malformed("a content item has no Relationship Type".into())
            })?;
            let concept = code_in(item, tags::CONCEPT_NAME_CODE_SEQUENCE)?;
            // An observer context is the run of HAS OBS CONTEXT siblings: anything else ends it
            // (before the item's own children are read, so that they cannot add to it).
            let observer_context = relationship == "HAS OBS CONTEXT";
            if !observer_context {
                self.end_observer();
            }
            let children = self.container(item, depth + 1)?;
            subtree.extend(children.iter().cloned());
            let concept_value = concept.as_ref().map(|c| c.value.as_str());
            match value_type.as_str() {
                "NUM" => {
                    let concept = concept.ok_or_else(|| {
                        SrError::Malformed("a NUM content item has no concept name".into())
                    })?;
                    // A NUM with no value (a qualifier says why) measured nothing to attest.
                    let Some(value) = only_item(item, tags::MEASURED_VALUE_SEQUENCE)? else {
                        group.extend(children);
                        continue;
                    };
                    let number = text(value, tags::NUMERIC_VALUE)?.ok_or_else(|| {
                        SrError::Malformed("a measured value has no Numeric Value".into())
                    })?;
                    let units = code_in(value, tags::MEASUREMENT_UNITS_CODE_SEQUENCE)?;
                    if self.measurements.len() == MAX_RESULTS {
                        return Err(SrError::TooComplex(format!(
                            "more than {MAX_RESULTS} measurements"
                        )));
                    }
                    made.push(Made::Measurement(self.measurements.len()));
                    self.measurements.push(Measurement {
                        concept,
                        value: number,
                        units,
                        references: children.into_iter().collect(),
                    });
                }
                "CODE" if observer_context => {
                    let value = code_in(item, tags::CONCEPT_CODE_SEQUENCE)?;
                    if concept_value == Some(OBSERVER_TYPE) {
                        self.end_observer();
                        if value.is_some_and(|v| v.value == DEVICE) {
                            self.reading_observer = Some(DeviceObserver::default());
                        }
                    }
                }
                // Modifiers (finding site, method, language) qualify; they are not findings.
                "CODE" if relationship != "HAS CONCEPT MOD" => {
                    let concept = concept.ok_or_else(|| {
                        SrError::Malformed("a CODE content item has no concept name".into())
                    })?;
                    let value = code_in(item, tags::CONCEPT_CODE_SEQUENCE)?.ok_or_else(|| {
                        SrError::Malformed("a CODE content item has no coded value".into())
                    })?;
                    if self.findings.len() == MAX_RESULTS {
                        return Err(SrError::TooComplex(format!(
                            "more than {MAX_RESULTS} coded findings"
                        )));
                    }
                    made.push(Made::Finding(self.findings.len()));
                    self.findings.push(Finding {
                        concept,
                        value,
                        references: children.into_iter().collect(),
                    });
                }
                "TEXT" | "UIDREF" if observer_context => {
                    let tag = if value_type == "TEXT" {
                        tags::TEXT_VALUE
                    } else {
                        tags::UID
                    };
                    let value = text(item, tag)?;
                    if let Some(observer) = self.reading_observer.as_mut() {
                        let slot = match concept_value {
                            Some(DEVICE_UID) => Some(&mut observer.uid),
                            Some(DEVICE_NAME) => Some(&mut observer.name),
                            Some(DEVICE_MANUFACTURER) => Some(&mut observer.manufacturer),
                            Some(DEVICE_MODEL) => Some(&mut observer.model),
                            Some(DEVICE_SERIAL) => Some(&mut observer.serial),
                            _ => None,
                        };
                        if let Some(slot) = slot {
                            *slot = value;
                        }
                    }
                }
                "IMAGE" | "COMPOSITE" => {
                    let reference =
                        only_item(item, tags::REFERENCED_SOP_SEQUENCE)?.ok_or_else(|| {
                            SrError::Malformed(format!(
                                "an {value_type} content item references nothing"
                            ))
                        })?;
                    let uid =
                        text(reference, tags::REFERENCED_SOP_INSTANCE_UID)?.ok_or_else(|| {
                            SrError::Malformed("a reference has no SOP Instance UID".into())
                        })?;
                    subtree.insert(uid.clone());
                    group.insert(uid);
                    group.extend(children);
                }
                _ => group.extend(children),
            }
        }
        self.end_observer();
        for m in made {
            let references = match m {
                Made::Measurement(i) => &mut self.measurements[i].references,
                Made::Finding(i) => &mut self.findings[i].references,
            };
            let mut all: BTreeSet<String> = references.drain(..).collect();
            all.extend(group.iter().cloned());
            if all.len() > MAX_ITEM_REFERENCES {
                return Err(SrError::TooComplex(format!(
                    "a measurement or finding references more than {MAX_ITEM_REFERENCES} images"
                )));
            }
            *references = all.into_iter().collect();
        }
        self.references.extend(subtree.iter().cloned());
        if self.references.len() > MAX_REFERENCES {
            return Err(SrError::TooComplex(format!(
                "more than {MAX_REFERENCES} referenced images"
            )));
        }
        Ok(subtree)
    }

    /// Keeps the first device observer context read (later ones describe other observers of
    /// the same document, which the attestation does not need).
    fn end_observer(&mut self) {
        if let Some(observer) = self.reading_observer.take() {
            if self.observer.is_none() {
                self.observer = Some(observer);
            }
        }
    }
}

mod document;
pub use document::{
    display_name, read_sr_document, SrDocument, SrLine, SrVerifier, MAX_OBSERVERS, MAX_TEXT_CHARS,
};

#[cfg(test)]
mod tests;
