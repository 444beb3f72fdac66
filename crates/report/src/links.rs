//! Findings linked to images: a measurement, an arrow or a key image placed in a section's
//! signed text. A `section.write` carries its links as a list ([`ImageLink`]); the text refers
//! to each by a marker `[fig N]` that reads well as plain text (in a PDF, an e-mail, a
//! terminal), so the signed words and the signed image references are one entry.
//!
//! The rules here judge a version's links on their own ([`check_shape`]: a bounded number,
//! every marker resolves, every link is referred to, coordinates on an image); the report rules
//! add what needs the report's causal past (the image is one of the report's bound images, the
//! study is the report's, a length names an accepted measurement). Pure: no I/O.

use countersign_ledger::EntryId;
use serde::{Deserialize, Serialize};

/// The most links one section version carries: a section describes a few findings, and each
/// link costs a thumbnail in the PDF and a subtree in the SR.
pub const MAX_LINKS_PER_SECTION: usize = 16;
/// The highest figure number a marker may carry.
pub const MAX_FIG: u16 = 999;
/// Coordinates are thousandths of a pixel; DICOM Rows and Columns are 16-bit, so no point of
/// an image lies beyond this.
pub const MAX_COORD_MPX: i64 = 65_536_000;
/// The most bytes a link's label carries ("12.3 mm", "arrow: nodule").
pub const MAX_LABEL_BYTES: usize = 128;
/// The most bytes of a DICOM UID (PS3.5 9.1).
const MAX_UID_BYTES: usize = 64;

/// What a link points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// A signed length measurement: two points (from, to), and the `measurement.add` entry.
    Length,
    /// An arrow: its tip, and optionally the point its tail starts from (its direction).
    Arrow,
    /// The whole frame, as a key image: no points.
    KeyImage,
}

impl LinkKind {
    /// How many points a link of this kind has, at least and at most.
    fn points(self) -> (usize, usize) {
        match self {
            LinkKind::Length => (2, 2),
            LinkKind::Arrow => (1, 2),
            LinkKind::KeyImage => (0, 0),
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            LinkKind::Length => "length",
            LinkKind::Arrow => "arrow",
            LinkKind::KeyImage => "key image",
        }
    }
}

/// One link of a section version to a frame of one of the report's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageLink {
    /// The figure number: the text refers to this link as `[fig N]`.
    pub fig: u16,
    pub kind: LinkKind,
    /// Study Instance UID of the image (the report's study).
    pub study: String,
    /// Series Instance UID of the image.
    pub series: String,
    /// SHA-256 (hex) of the image file: one of the report's bound images.
    pub image: String,
    /// Frame number, from 0.
    pub frame: u32,
    /// Image pixel coordinates (column, row) in thousandths of a pixel, as a measurement's are:
    /// integers, so the signed bytes say exactly where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<[i64; 2]>,
    /// What a reader sees beside the marker ("12.3 mm").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// For a length: the `measurement.add` entry it shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement: Option<EntryId>,
}

impl ImageLink {
    /// The marker the text carries for this link.
    pub fn marker(&self) -> String {
        marker(self.fig)
    }

    /// The points in image pixels.
    pub fn pixels(&self) -> Vec<[f64; 2]> {
        self.points
            .iter()
            .map(|p| [p[0] as f64 / 1000.0, p[1] as f64 / 1000.0])
            .collect()
    }
}

/// `[fig N]`.
pub fn marker(fig: u16) -> String {
    format!("[fig {fig}]")
}

/// The figure numbers of every `[fig N]` marker in `text`, in order (repeats kept). Anything
/// else in brackets is text.
pub fn markers(text: &str) -> Vec<u16> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("[fig ") {
        rest = &rest[at + 5..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        // At most four digits: a longer run is not a marker (and never overflows).
        if (1..=4).contains(&digits) && rest.as_bytes().get(digits) == Some(&b']') {
            if let Ok(n) = rest[..digits].parse::<u16>() {
                out.push(n);
            }
        }
    }
    out
}

/// Why a section version's links are refused. Every variant has a stable [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("section {section} carries {count} links; at most {MAX_LINKS_PER_SECTION}")]
    TooMany { section: String, count: usize },
    #[error("section {section} has two links numbered fig {fig}")]
    Duplicate { section: String, fig: u16 },
    #[error("section {section} refers to [fig {fig}], but no link of the version is fig {fig}")]
    Unresolved { section: String, fig: u16 },
    #[error("section {section} carries link fig {fig}, but its text never refers to [fig {fig}]")]
    Unreferenced { section: String, fig: u16 },
    #[error("link fig {fig}: {reason}")]
    Shape { fig: u16, reason: String },
    #[error("link fig {fig} names image {image}, which is not one of the report's bound images")]
    ImageNotBound { fig: u16, image: String },
    #[error("link fig {fig} names study {study}, not the report's study {report_study}")]
    OtherStudy {
        fig: u16,
        study: String,
        report_study: String,
    },
    #[error("link fig {fig}: {reason}")]
    Measurement { fig: u16, reason: String },
}

impl LinkError {
    /// The stable code scripts and audits match on (see the README's list).
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::TooMany { .. } => "too_many_links",
            LinkError::Duplicate { .. } => "link_duplicate",
            LinkError::Unresolved { .. } => "link_unresolved",
            LinkError::Unreferenced { .. } => "link_unreferenced",
            LinkError::Shape { .. } => "link_shape",
            LinkError::ImageNotBound { .. } => "link_image_not_bound",
            LinkError::OtherStudy { .. } => "link_wrong_study",
            LinkError::Measurement { .. } => "link_measurement",
        }
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_uid(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_UID_BYTES && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// One link on its own: a figure number, UIDs and a SHA-256 that are what they say, as many
/// points as its kind has, each on an image, a bounded label.
fn check_one(l: &ImageLink) -> Result<(), LinkError> {
    let shape = |reason: String| LinkError::Shape { fig: l.fig, reason };
    if l.fig == 0 || l.fig > MAX_FIG {
        return Err(shape(format!("the figure number is not 1 to {MAX_FIG}")));
    }
    if !is_sha256(&l.image) {
        return Err(shape(format!("image {:?} is not a SHA-256", l.image)));
    }
    if !is_uid(&l.study) || !is_uid(&l.series) {
        return Err(shape("the study or series is not a DICOM UID".into()));
    }
    let (least, most) = l.kind.points();
    if !(least..=most).contains(&l.points.len()) {
        return Err(shape(format!(
            "a {} has {least} to {most} points, not {}",
            l.kind.word(),
            l.points.len()
        )));
    }
    if let Some(p) = l
        .points
        .iter()
        .find(|p| p.iter().any(|v| !(0..=MAX_COORD_MPX).contains(v)))
    {
        return Err(shape(format!(
            "point ({}, {}) is not on any image",
            p[0], p[1]
        )));
    }
    if l.label.len() > MAX_LABEL_BYTES
        || crate::payload::text::hidden_char(&l.label, false).is_some()
    {
        return Err(shape(format!(
            "the label is longer than {MAX_LABEL_BYTES} bytes or has an invisible formatting \
             or control character"
        )));
    }
    match (l.kind, l.measurement) {
        (LinkKind::Length, None) => Err(LinkError::Measurement {
            fig: l.fig,
            reason: "a length names the measurement it shows".into(),
        }),
        (LinkKind::Arrow | LinkKind::KeyImage, Some(_)) => {
            Err(shape(format!("a {} names no measurement", l.kind.word())))
        }
        _ => Ok(()),
    }
}

/// A section version's links judged with its text alone: at most
/// [`MAX_LINKS_PER_SECTION`], each well formed and numbered once, every `[fig N]` of the text
/// resolving to one, and every one referred to by the text.
pub fn check_shape(section: &str, text: &str, links: &[ImageLink]) -> Result<(), LinkError> {
    if links.len() > MAX_LINKS_PER_SECTION {
        return Err(LinkError::TooMany {
            section: section.to_string(),
            count: links.len(),
        });
    }
    for (i, l) in links.iter().enumerate() {
        check_one(l)?;
        if links[..i].iter().any(|o| o.fig == l.fig) {
            return Err(LinkError::Duplicate {
                section: section.to_string(),
                fig: l.fig,
            });
        }
    }
    let referred = markers(text);
    if let Some(&fig) = referred
        .iter()
        .find(|f| !links.iter().any(|l| l.fig == **f))
    {
        return Err(LinkError::Unresolved {
            section: section.to_string(),
            fig,
        });
    }
    if let Some(l) = links.iter().find(|l| !referred.contains(&l.fig)) {
        return Err(LinkError::Unreferenced {
            section: section.to_string(),
            fig: l.fig,
        });
    }
    Ok(())
}

/// The links judged against the report: each image is one of the report's bound images and
/// the study is the report's.
pub fn check_binding(
    links: &[ImageLink],
    report_study: &str,
    bound: &[String],
) -> Result<(), LinkError> {
    for l in links {
        if !bound.iter().any(|b| b.eq_ignore_ascii_case(&l.image)) {
            return Err(LinkError::ImageNotBound {
                fig: l.fig,
                image: l.image.clone(),
            });
        }
        if l.study != report_study {
            return Err(LinkError::OtherStudy {
                fig: l.fig,
                study: l.study.clone(),
                report_study: report_study.to_string(),
            });
        }
    }
    Ok(())
}

/// A length link shows exactly the measurement it names: same image, frame and end points.
pub fn check_measurement(
    l: &ImageLink,
    m: Option<&crate::payload::MeasurementAdd>,
) -> Result<(), LinkError> {
    let Some(m) = m else {
        return Err(LinkError::Measurement {
            fig: l.fig,
            reason: "it names no accepted measurement in the entry's past".into(),
        });
    };
    if !m.image.eq_ignore_ascii_case(&l.image) || m.frame != l.frame || l.points != [m.from, m.to] {
        return Err(LinkError::Measurement {
            fig: l.fig,
            reason: "its image, frame or points are not the measurement's".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
