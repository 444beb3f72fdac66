//! An SR as a person reads it: a prior study's report found on an archive, shown beside the
//! images as its content tree flattened to lines (concept name, value) in document order, with
//! who wrote and who verified it, its completion and verification flags and its date.
//!
//! [`parse_sr`](super::parse_sr) keeps what attesting an AI result needs (measurements, coded
//! findings) and refuses an SR without them; a radiologist's report is mostly TEXT, so it is
//! read here instead — with the same defences: the file's size is checked first, it goes
//! through the same pre-scan, its SOP Class must be an SR class, and the tree is walked at most
//! [`MAX_CONTENT_DEPTH`] levels deep and [`MAX_CONTENT_ITEMS`] items long. A TEXT value may be
//! a whole paragraph, so it is allowed [`MAX_TEXT_CHARS`] rather than the
//! [`MAX_STRING_CHARS`](super::MAX_STRING_CHARS) of the other strings.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use serde::Serialize;

use super::{code_in, only_item, text, SrError, MAX_CONTENT_DEPTH, MAX_CONTENT_ITEMS};

/// A TEXT value (a report's paragraph) is at most this many characters (UT allows far more;
/// a section of a radiology report is a few thousand).
pub const MAX_TEXT_CHARS: usize = 64 * 1024;
/// At most this many authors, and as many verifiers, are taken.
pub const MAX_OBSERVERS: usize = 64;

/// One content item as a line: its depth below the root (1 for the root's children), its
/// value type, its concept's meaning and its value as text (empty for a CONTAINER, which is a
/// heading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrLine {
    pub depth: usize,
    pub value_type: String,
    pub concept: Option<String>,
    pub value: String,
}

/// Someone who verified the document (Verifying Observer Sequence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrVerifier {
    /// The name as a reader writes it ("Dr Ada Attending"), from the DICOM person name.
    pub name: String,
    pub organization: Option<String>,
    /// Verification DateTime, as written (`YYYYMMDDhhmmss…`).
    pub datetime: Option<String>,
}

/// An SR document's text and what it says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SrDocument {
    pub sop_class: String,
    pub sop_instance: String,
    pub study: String,
    /// The Patient ID it is filed under (what the caller checks it against: another patient's
    /// report is never shown as this one's).
    pub patient_id: Option<String>,
    pub series: Option<String>,
    /// The document title: the root container's concept meaning.
    pub title: Option<String>,
    /// Its title is Imaging Measurement Report (DCM 126000, TID 1500): what measurement and AI
    /// tools write, not a reader's report.
    pub measurement: bool,
    /// `COMPLETE` or `PARTIAL`.
    pub completion: Option<String>,
    /// `VERIFIED` or `UNVERIFIED`.
    pub verification: Option<String>,
    /// `PRELIMINARY` or `FINAL`, when present.
    pub preliminary: Option<String>,
    /// Content Date (`YYYYMMDD`) and Time.
    pub date: Option<String>,
    pub time: Option<String>,
    /// The people who wrote it: the Author Observer Sequence, then every Person Observer Name
    /// in the tree's observer contexts, each once, in the order met.
    pub authors: Vec<String>,
    pub verifiers: Vec<SrVerifier>,
    pub manufacturer: Option<String>,
    /// The content tree, depth first, in document order.
    pub lines: Vec<SrLine>,
}

/// Person Observer Name (DCM 121008): who an observer context names.
const PERSON_OBSERVER_NAME: &str = "121008";

/// Reads an SR's text (see the module docs for what is refused).
pub fn read_sr_document(bytes: &[u8]) -> Result<SrDocument, SrError> {
    let super::SrHead {
        object,
        sop_class,
        sop_instance,
        study,
    } = super::open_sr(bytes)?;
    let mut authors = Vec::new();
    for item in items(&object, tags::AUTHOR_OBSERVER_SEQUENCE)? {
        if let Some(name) = text(item, tags::PERSON_NAME)? {
            add_person(&mut authors, &name)?;
        }
    }
    let mut verifiers = Vec::new();
    for item in items(&object, tags::VERIFYING_OBSERVER_SEQUENCE)? {
        if verifiers.len() == MAX_OBSERVERS {
            return Err(SrError::TooComplex(format!(
                "more than {MAX_OBSERVERS} verifying observers"
            )));
        }
        verifiers.push(SrVerifier {
            name: text(item, tags::VERIFYING_OBSERVER_NAME)?
                .map(|n| display_name(&n))
                .unwrap_or_default(),
            organization: text(item, tags::VERIFYING_ORGANIZATION)?,
            datetime: text(item, tags::VERIFICATION_DATE_TIME)?,
        });
    }
    let mut walk = Lines {
        items: 0,
        lines: Vec::new(),
        authors,
    };
    walk.container(&object, 0)?;
    let title = code_in(&object, tags::CONCEPT_NAME_CODE_SEQUENCE)?;
    Ok(SrDocument {
        sop_class,
        sop_instance,
        study,
        patient_id: text(&object, tags::PATIENT_ID)?,
        series: text(&object, tags::SERIES_INSTANCE_UID)?,
        title: title.as_ref().map(|c| c.meaning.clone()),
        measurement: title.is_some_and(|c| c.value == "126000" && c.scheme == "DCM"),
        completion: text(&object, tags::COMPLETION_FLAG)?,
        verification: text(&object, tags::VERIFICATION_FLAG)?,
        preliminary: text(&object, tags::PRELIMINARY_FLAG)?,
        date: text(&object, tags::CONTENT_DATE)?,
        time: text(&object, tags::CONTENT_TIME)?,
        authors: walk.authors,
        verifiers,
        manufacturer: text(&object, tags::MANUFACTURER)?,
        lines: walk.lines,
    })
}

/// The items of a sequence (none when it is absent).
fn items(object: &InMemDicomObject, tag: Tag) -> Result<&[InMemDicomObject], SrError> {
    match object.get(tag) {
        None => Ok(&[]),
        Some(element) => element
            .items()
            .ok_or_else(|| SrError::Malformed(format!("{tag} is not a sequence"))),
    }
}

fn add_person(people: &mut Vec<String>, name: &str) -> Result<(), SrError> {
    let name = display_name(name);
    if name.is_empty() || people.contains(&name) {
        return Ok(());
    }
    if people.len() == MAX_OBSERVERS {
        return Err(SrError::TooComplex(format!(
            "more than {MAX_OBSERVERS} authors"
        )));
    }
    people.push(name);
    Ok(())
}

/// A DICOM person name (`Family^Given^Middle^Prefix^Suffix`, its alphabetic form) as a reader
/// writes it: `Prefix Given Middle Family Suffix`.
pub fn display_name(pn: &str) -> String {
    let alphabetic = pn.split('=').next().unwrap_or_default();
    let parts: Vec<&str> = alphabetic.split('^').map(str::trim).collect();
    let at = |i: usize| parts.get(i).copied().unwrap_or_default();
    [at(3), at(1), at(2), at(0), at(4)]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A TEXT value: trimmed of padding, at most [`MAX_TEXT_CHARS`].
fn long_text(object: &InMemDicomObject, tag: Tag) -> Result<String, SrError> {
    let Some(element) = object.get(tag) else {
        return Ok(String::new());
    };
    let value = element
        .to_str()
        .map_err(|e| SrError::Malformed(format!("{tag}: {e}")))?;
    let value = value.trim_end_matches(['\0', ' ']);
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(SrError::TooComplex(format!(
            "a text value is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    Ok(value.to_string())
}

struct Lines {
    items: usize,
    lines: Vec<SrLine>,
    authors: Vec<String>,
}

impl Lines {
    fn container(&mut self, parent: &InMemDicomObject, depth: usize) -> Result<(), SrError> {
        let Some(content) = parent.get(tags::CONTENT_SEQUENCE) else {
            return Ok(());
        };
        if depth >= MAX_CONTENT_DEPTH {
            return Err(SrError::TooComplex(format!(
                "content items nest deeper than {MAX_CONTENT_DEPTH} levels"
            )));
        }
        let children = content
            .items()
            .ok_or_else(|| SrError::Malformed("Content Sequence is not a sequence".into()))?;
        for item in children {
            self.items += 1;
            if self.items > MAX_CONTENT_ITEMS {
                return Err(SrError::TooComplex(format!(
                    "more than {MAX_CONTENT_ITEMS} content items"
                )));
            }
            // A by-reference relationship (no Value Type, a Referenced Content Item
            // Identifier) points at an item already read: nothing new to show.
            let Some(value_type) = text(item, tags::VALUE_TYPE)? else {
                continue;
            };
            let concept = code_in(item, tags::CONCEPT_NAME_CODE_SEQUENCE)?;
            let value = match value_type.as_str() {
                "TEXT" => long_text(item, tags::TEXT_VALUE)?,
                "CODE" => code_in(item, tags::CONCEPT_CODE_SEQUENCE)?
                    .map(|c| c.meaning)
                    .unwrap_or_default(),
                "NUM" => match only_item(item, tags::MEASURED_VALUE_SEQUENCE)? {
                    None => String::new(),
                    Some(measured) => {
                        let number = text(measured, tags::NUMERIC_VALUE)?.unwrap_or_default();
                        match code_in(measured, tags::MEASUREMENT_UNITS_CODE_SEQUENCE)? {
                            // UCUM's code is the unit as written ("mm"); "1" is no unit.
                            Some(u) if u.scheme == "UCUM" && u.value == "1" => number,
                            Some(u) if u.scheme == "UCUM" => format!("{number} {}", u.value),
                            Some(u) => format!("{number} {}", u.meaning),
                            None => number,
                        }
                    }
                },
                "DATE" => text(item, tags::DATE)?.unwrap_or_default(),
                "TIME" => text(item, tags::TIME)?.unwrap_or_default(),
                "DATETIME" => text(item, tags::DATE_TIME)?.unwrap_or_default(),
                "PNAME" => {
                    let name = text(item, tags::PERSON_NAME)?.unwrap_or_default();
                    if concept.as_ref().map(|c| c.value.as_str()) == Some(PERSON_OBSERVER_NAME) {
                        add_person(&mut self.authors, &name)?;
                    }
                    display_name(&name)
                }
                "UIDREF" => text(item, tags::UID)?.unwrap_or_default(),
                "IMAGE" | "COMPOSITE" | "WAVEFORM" => {
                    only_item(item, tags::REFERENCED_SOP_SEQUENCE)?
                        .map(|r| text(r, tags::REFERENCED_SOP_INSTANCE_UID))
                        .transpose()?
                        .flatten()
                        .unwrap_or_default()
                }
                // A heading, or what has no text (coordinates): its concept alone.
                _ => String::new(),
            };
            self.lines.push(SrLine {
                depth: depth + 1,
                value_type,
                concept: concept.map(|c| c.meaning),
                value,
            });
            self.container(item, depth + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
