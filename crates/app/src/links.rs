//! Findings linked to images: a signed measurement, an arrow or a key image inserted into a
//! section. Inserting signs a new version of the section whose text ends with the link's
//! `[fig N]` marker and whose payload carries the link (study, series, instance SHA-256, frame,
//! points, kind, label — see [`countersign_report::links`]); the report rules judge it like any
//! other version. The series comes from this home's image index; the points of a length from
//! the signed measurement, never from the caller.

use std::collections::BTreeMap;

use countersign_export::Thumbnail;
use countersign_imaging::WindowChoice;
use countersign_ledger::EntryId;
use countersign_report::links::{self, ImageLink, LinkKind, MAX_FIG};
use countersign_report::payload::LengthUnit;
use countersign_report::{ReportView, SectionView, VersionView};
use serde::Deserialize;

use crate::error::{AppError, Result};
use crate::home::Home;

/// The longest side of a linked frame's thumbnail in a PDF, in pixels: enough to recognise
/// the slice at 140 points wide, small enough that a report of 16 figures stays small.
pub const THUMBNAIL_SIDE: u32 = 192;

/// What to link into a section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LinkTarget {
    /// A signed `measurement.add` of the report: its image, frame and end points.
    Measurement { entry: EntryId },
    /// An arrow on a frame: its tip and, if given, where its tail starts (image pixels).
    Arrow {
        image: String,
        frame: u32,
        tip: [f64; 2],
        #[serde(default)]
        tail: Option<[f64; 2]>,
    },
    /// A whole frame, as a key image.
    KeyImage { image: String, frame: u32 },
}

/// Thousandths of a pixel, as the signed entries keep coordinates.
fn milli(p: [f64; 2]) -> [i64; 2] {
    [
        (p[0] * 1000.0).round() as i64,
        (p[1] * 1000.0).round() as i64,
    ]
}

/// The version a section reads as now, if one does.
pub(crate) fn current_version(s: &SectionView) -> Option<&VersionView> {
    let current = s.current?;
    s.versions.iter().find(|v| v.entry == current)
}

/// The links of `previous` that `text` still refers to: what a new version keeps when its
/// writer edits the words around the markers (a marker deleted drops its link with it).
pub fn carried(previous: &[ImageLink], text: &str) -> Vec<ImageLink> {
    let referred = links::markers(text);
    previous
        .iter()
        .filter(|l| referred.contains(&l.fig))
        .cloned()
        .collect()
}

/// `text` with `marker` appended as its last word.
fn appended(text: &str, marker: &str) -> String {
    let base = text.trim_end();
    if base.is_empty() {
        marker.to_string()
    } else {
        format!("{base} {marker}")
    }
}

/// `text` with `marker` placed where the writer's cursor was: `at` characters (Unicode scalar
/// values, not bytes, so no position can split a character) from the start, or appended as
/// the last word when `None`. A space separates it from a word on either side; none is added
/// before punctuation, so "nodule|." reads "nodule [fig 1].". A position past the end is
/// refused rather than guessed: the text it was taken in is not the one here.
pub fn placed(text: &str, at: Option<usize>, marker: &str) -> Result<String> {
    let Some(at) = at else {
        return Ok(appended(text, marker));
    };
    let chars = text.chars().count();
    if at > chars {
        return Err(AppError::InvalidInput(format!(
            "position {at} is past the end of the section's text ({chars} characters)"
        )));
    }
    let split = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
    let (before, after) = text.split_at(split);
    let mut out = String::with_capacity(text.len() + marker.len() + 2);
    out.push_str(before);
    if before
        .chars()
        .next_back()
        .is_some_and(|c| !c.is_whitespace())
    {
        out.push(' ');
    }
    out.push_str(marker);
    if after.chars().next().is_some_and(|c| {
        !c.is_whitespace() && !matches!(c, '.' | ',' | ';' | ':' | ')' | '!' | '?')
    }) {
        out.push(' ');
    }
    out.push_str(after);
    Ok(out)
}

impl Home {
    /// Inserts a link into `section` of `report`: signs a new version whose text is `text`
    /// (when `None`, the section's draft, else its signed text) with the link's marker
    /// placed `at` the writer's cursor (see `placed`; appended when `None`), carrying the links the text still refers to, the new one, and the current
    /// version's field values. Returns the version and the link.
    pub fn report_link(
        &mut self,
        report: EntryId,
        section: &str,
        target: &LinkTarget,
        text: Option<&str>,
        at: Option<usize>,
        label: Option<&str>,
    ) -> Result<(EntryId, ImageLink)> {
        let view = self.report_show(report)?;
        let s = view
            .sections
            .iter()
            .find(|s| s.name == section)
            .ok_or_else(|| AppError::InvalidInput(format!("report has no section {section:?}")))?;
        let current = current_version(s);
        // Not given: what the writer has typed and not signed (the draft the editor keeps in
        // the home), else the signed text — an insertion from the viewer never loses typing.
        let base = match text {
            Some(t) => t.to_string(),
            None => match self.drafts(report)?.remove(section) {
                Some(draft) => draft,
                None => s.text.clone().unwrap_or_default(),
            },
        };
        let mut kept = carried(current.map_or(&[][..], |v| &v.links), &base);
        let fig = kept
            .iter()
            .map(|l| l.fig)
            .chain(links::markers(&base))
            .max()
            .unwrap_or(0)
            .checked_add(1)
            .filter(|f| *f <= MAX_FIG)
            .ok_or_else(|| {
                AppError::InvalidInput("the section has no figure number left".into())
            })?;
        let link = self.link_of(&view, fig, target, label)?;
        let text = placed(&base, at, &link.marker())?;
        kept.push(link.clone());
        let fields = current.map(|v| v.fields.clone()).unwrap_or_default();
        // The draft the marker was placed into is what the version was made from: dropped
        // once it is signed (it does not equal the signed text, which holds the marker).
        let id = self.write_linked(report, section, &text, &base, fields, kept)?;
        Ok((id, link))
    }

    /// The link `target` names, as figure `fig`, with its UIDs from the image index.
    fn link_of(
        &self,
        view: &ReportView,
        fig: u16,
        target: &LinkTarget,
        label: Option<&str>,
    ) -> Result<ImageLink> {
        let (kind, image, frame, points, measurement, default_label) = match target {
            LinkTarget::Measurement { entry } => {
                let m = view
                    .measurements
                    .iter()
                    .find(|m| m.entry == *entry)
                    .ok_or_else(|| AppError::NotFound {
                        what: format!("measurement {entry} in report {}", view.report),
                    })?;
                let m = &m.measurement;
                let words = match m.unit {
                    LengthUnit::Um => format!("{:.1} mm", m.length as f64 / 1000.0),
                    LengthUnit::Mpx => {
                        format!("{:.1} px (uncalibrated)", m.length as f64 / 1000.0)
                    }
                };
                (
                    LinkKind::Length,
                    m.image.clone(),
                    m.frame,
                    vec![m.from, m.to],
                    Some(*entry),
                    words,
                )
            }
            LinkTarget::Arrow {
                image,
                frame,
                tip,
                tail,
            } => {
                let points: Vec<[f64; 2]> = std::iter::once(*tip).chain(*tail).collect();
                // A tail on its tip is no arrow (no direction: its barbs fold onto the point).
                if tail.is_some_and(|t| (t[0] - tip[0]).hypot(t[1] - tip[1]) < 1.0) {
                    return Err(AppError::InvalidInput(
                        "an arrow's tail must be at least a pixel from its tip".into(),
                    ));
                }
                // An image not imported here is not_found, before its file is looked for.
                self.series_of(image)?;
                self.on_frame(image, *frame, &points)?;
                (
                    LinkKind::Arrow,
                    image.clone(),
                    *frame,
                    points.into_iter().map(milli).collect(),
                    None,
                    "arrow".to_string(),
                )
            }
            LinkTarget::KeyImage { image, frame } => {
                self.series_of(image)?;
                self.on_frame(image, *frame, &[])?;
                (
                    LinkKind::KeyImage,
                    image.clone(),
                    *frame,
                    Vec::new(),
                    None,
                    "key image".to_string(),
                )
            }
        };
        let series = self.series_of(&image)?;
        Ok(ImageLink {
            fig,
            kind,
            study: view.study.clone(),
            series,
            image: image.to_ascii_lowercase(),
            frame,
            points,
            label: label.map_or(default_label, str::to_string),
            measurement,
        })
    }

    /// The image is imported, `frame` is one of its frames, and every point lies on it.
    fn on_frame(&self, image: &str, frame: u32, points: &[[f64; 2]]) -> Result<()> {
        let info = self.open_image(image)?.info;
        let inside = |p: &[f64; 2]| {
            p.iter().all(|v| v.is_finite())
                && (0.0..=f64::from(info.columns)).contains(&p[0])
                && (0.0..=f64::from(info.rows)).contains(&p[1])
        };
        if frame >= info.frames.max(1) || !points.iter().all(inside) {
            return Err(AppError::InvalidInput(
                "the linked frame or point is not on the image".into(),
            ));
        }
        Ok(())
    }

    /// The Series Instance UID of an imported image, from the image index.
    fn series_of(&self, image: &str) -> Result<String> {
        let mut sha = [0u8; 32];
        hex::decode_to_slice(image, &mut sha)
            .map_err(|_| AppError::InvalidInput(format!("{image:?} is not a SHA-256")))?;
        self.store()
            .db()
            .instance(&sha)?
            .and_then(|i| i.series)
            .ok_or_else(|| AppError::NotFound {
                what: format!("an imported image {image} with a Series Instance UID"),
            })
    }

    /// Signs a version of a section with its links (judged by the report rules like any
    /// version: a link to an image the report is not bound to is refused).
    pub fn report_write_linked(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
        fields: BTreeMap<String, String>,
        links: Vec<ImageLink>,
    ) -> Result<EntryId> {
        self.write_linked(report, section, text, text, fields, links)
    }

    /// [`Home::report_write_linked`], made from `typed` (see [`Home::write_version`]).
    fn write_linked(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
        typed: &str,
        fields: BTreeMap<String, String>,
        links: Vec<ImageLink>,
    ) -> Result<EntryId> {
        // The macros the current version was built from stay with it: inserting a figure
        // into text that still holds a macro's unfilled [field] must not lift the sign-off
        // rule on that field.
        let view = self.report_show(report)?;
        let macros = view
            .sections
            .iter()
            .find(|s| s.name == section)
            .and_then(current_version)
            .map(|v| v.macros.clone())
            .unwrap_or_default();
        self.write_version(report, section, text, typed, fields, macros, links)
    }

    /// The links of the current version of `section` that `text` still refers to: what a
    /// plain write keeps. Nothing is read when the text has no marker.
    pub(crate) fn links_carried(
        &self,
        report: EntryId,
        section: &str,
        text: &str,
    ) -> Result<Vec<ImageLink>> {
        if links::markers(text).is_empty() {
            return Ok(Vec::new());
        }
        let view = self.report_show(report)?;
        Ok(view
            .sections
            .iter()
            .find(|s| s.name == section)
            .and_then(current_version)
            .map(|v| carried(&v.links, text))
            .unwrap_or_default())
    }

    /// Every link of the report's current section versions, in section order.
    pub fn report_links(&self, report: EntryId) -> Result<Vec<(String, ImageLink)>> {
        let view = self.report_show(report)?;
        Ok(view
            .sections
            .iter()
            .filter_map(|s| current_version(s).map(|v| (s, v)))
            .flat_map(|(s, v)| v.links.iter().map(|l| (s.name.clone(), l.clone())))
            .collect())
    }

    /// Thumbnails of the frames the report's current versions link to, for the PDF. A frame
    /// that does not render here (not imported, refused by the decoder) is left out: the PDF
    /// then names it without a picture. So is one of an image the report is no longer about
    /// (after a `report.move`, the links of older versions point at the wrong patient's study:
    /// the PDF delivered under the right patient must not show them), as the SR leaves it out.
    /// Decoding follows the viewer's rule: a file the decode worker found harmless is decoded
    /// here.
    pub(crate) fn link_thumbnails(&self, view: &ReportView) -> Vec<Thumbnail> {
        let mut out: Vec<Thumbnail> = Vec::new();
        let wanted = view
            .sections
            .iter()
            .filter_map(current_version)
            .flat_map(|v| v.links.iter())
            .filter(|l| pictured(l, &view.study, &view.images));
        for l in wanted {
            if out.iter().any(|t| t.image == l.image && t.frame == l.frame) {
                continue;
            }
            let rendered = self
                .image_for_decoding(&l.image)
                .and_then(|i| Ok(i.render(l.frame, WindowChoice::Default)?));
            match rendered {
                Ok(full) => {
                    let small = countersign_imaging::thumbnail(&full, THUMBNAIL_SIDE);
                    out.push(Thumbnail {
                        image: l.image.clone(),
                        frame: l.frame,
                        width: small.width,
                        height: small.height,
                        channels: small.channels,
                        pixels: small.pixels,
                        source: [full.width, full.height],
                    });
                }
                Err(e) => tracing::warn!(
                    error = %e.loggable(),
                    "a linked frame did not render for the PDF"
                ),
            }
        }
        out
    }
}

/// Whether the PDF may show a link's frame: an image the report is about now, of its study.
fn pictured(link: &ImageLink, study: &str, images: &[String]) -> bool {
    link.study == study && images.contains(&link.image)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Review finding (2026-12-01): after a move, a link of an older version named the first
    /// patient's image and the PDF delivered under the second patient showed it.
    #[test]
    fn a_moved_reports_pdf_shows_no_frame_of_the_study_it_left() {
        let mut l = arrow(1);
        let image = "ab".repeat(32);
        l.image = image.clone();
        assert!(pictured(&l, "1.2", std::slice::from_ref(&image)));
        assert!(
            !pictured(&l, "2.25.7", std::slice::from_ref(&image)),
            "another study"
        );
        assert!(
            !pictured(&l, "1.2", &["cd".repeat(32)]),
            "an image it is no longer about"
        );
    }

    #[test]
    fn a_marker_goes_where_the_cursor_was_with_a_space_only_where_a_word_touches_it() {
        let m = "[fig 2]";
        assert_eq!(
            placed("Nodule. Stable.", Some(6), m).unwrap(),
            "Nodule [fig 2]. Stable."
        );
        assert_eq!(
            placed("Nodule. Stable.", Some(8), m).unwrap(),
            "Nodule. [fig 2] Stable."
        );
        assert_eq!(placed("Nodule", Some(0), m).unwrap(), "[fig 2] Nodule");
        assert_eq!(placed("", Some(0), m).unwrap(), "[fig 2]");
        assert_eq!(placed("Nodule  ", None, m).unwrap(), "Nodule [fig 2]");
        // Characters, not bytes: "é" is two bytes, the position after it is 2.
        assert_eq!(placed("né x", Some(2), m).unwrap(), "né [fig 2] x");
        assert!(matches!(
            placed("abc", Some(4), m),
            Err(AppError::InvalidInput(_))
        ));
    }

    proptest::proptest! {
        /// Wherever the cursor is, the text around the marker is kept as it was (only
        /// separating spaces added) and the marker is read back once more than before.
        #[test]
        fn placing_a_marker_keeps_every_character_of_the_text(
            text in "[a-zé. \\n]{0,40}",
            cut in 0usize..64,
        ) {
            let at = cut.min(text.chars().count());
            let out = placed(&text, Some(at), "[fig 9]").unwrap();
            let (before, after) = out.split_once("[fig 9]").unwrap();
            let head: String = text.chars().take(at).collect();
            let tail: String = text.chars().skip(at).collect();
            let spaced_head = format!("{head} ");
            let spaced_tail = format!(" {tail}");
            proptest::prop_assert!(before == head || before == spaced_head, "before: {:?}", before);
            proptest::prop_assert!(after == tail || after == spaced_tail, "after: {:?}", after);
            proptest::prop_assert_eq!(
                links::markers(&out).len(),
                links::markers(&text).len() + 1
            );
        }
    }

    fn arrow(fig: u16) -> ImageLink {
        ImageLink {
            fig,
            kind: LinkKind::Arrow,
            study: "1.2".into(),
            series: "1.2.3".into(),
            image: "ab".repeat(32),
            frame: 0,
            points: vec![[1, 1]],
            label: String::new(),
            measurement: None,
        }
    }

    #[test]
    fn an_edit_keeps_the_links_its_text_still_refers_to() {
        let before = vec![arrow(1), arrow(2), arrow(3)];
        let kept = carried(&before, "Nodule [fig 3], effusion [fig 1].");
        assert_eq!(
            kept.iter().map(|l| l.fig).collect::<Vec<_>>(),
            vec![1, 3],
            "fig 2's marker was deleted, and its link with it"
        );
        assert!(carried(&before, "No markers.").is_empty());
    }

    #[test]
    fn a_marker_is_appended_as_the_last_word() {
        assert_eq!(appended("Nodule.  \n", "[fig 1]"), "Nodule. [fig 1]");
        assert_eq!(appended("  ", "[fig 1]"), "[fig 1]");
    }

    #[test]
    fn targets_read_from_json_by_kind() {
        let t: LinkTarget = serde_json::from_str(
            r#"{"kind":"arrow","image":"ab","frame":2,"tip":[1.5,2.0],"tail":[3.0,4.0]}"#,
        )
        .unwrap();
        assert_eq!(
            t,
            LinkTarget::Arrow {
                image: "ab".into(),
                frame: 2,
                tip: [1.5, 2.0],
                tail: Some([3.0, 4.0])
            }
        );
        let t: LinkTarget =
            serde_json::from_str(r#"{"kind":"key-image","image":"ab","frame":0}"#).unwrap();
        assert_eq!(
            t,
            LinkTarget::KeyImage {
                image: "ab".into(),
                frame: 0
            }
        );
        assert_eq!(milli([1.2345, 0.0005]), [1235, 1]);
    }
}
