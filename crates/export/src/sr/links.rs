//! A section's links to images as SR content (PS3.3 A.35.3, the TID 1500 pattern for image
//! measurements): each link a TEXT naming its figure; a length a NUM INFERRED FROM a SCOORD
//! POLYLINE SELECTED FROM its IMAGE; an arrow a SCOORD POINT SELECTED FROM its IMAGE; a key
//! image an IMAGE item. The IMAGE names the SOP class and instance (and the frame of a
//! multi-frame image), as the app's image index gave them.

use dicom_core::smallvec::SmallVec;

use countersign_report::links::{ImageLink, LinkKind};
use countersign_report::payload::LengthUnit;

use super::*;

/// An IMAGE item naming `image` (and its frame when it has more than one).
fn image_item(
    relationship: &str,
    concept: Option<Code>,
    image: &crate::ImageRef,
    frame: u32,
) -> InMemDicomObject {
    let mut sop = super::sop_reference(image);
    if image.frames > 1 {
        put(
            &mut sop,
            tags::REFERENCED_FRAME_NUMBER,
            VR::IS,
            &(u64::from(frame) + 1).to_string(),
        );
    }
    let mut item = item(relationship, "IMAGE", concept);
    put_seq(&mut item, tags::REFERENCED_SOP_SEQUENCE, vec![sop]);
    item
}

/// A SCOORD of `graphic` type over `points` (column, row in image pixels), SELECTED FROM the
/// image.
fn scoord(
    relationship: &str,
    concept: Option<Code>,
    graphic: &str,
    l: &ImageLink,
    image: &crate::ImageRef,
) -> InMemDicomObject {
    let mut s = item(relationship, "SCOORD", concept);
    let data: SmallVec<[f32; 2]> = l
        .pixels()
        .iter()
        .flat_map(|p| [p[0] as f32, p[1] as f32])
        .collect();
    s.put(DataElement::new(
        tags::GRAPHIC_DATA,
        VR::FL,
        PrimitiveValue::F32(data),
    ));
    put(&mut s, tags::GRAPHIC_TYPE, VR::CS, graphic);
    put_seq(
        &mut s,
        tags::CONTENT_SEQUENCE,
        vec![image_item("SELECTED FROM", None, image, l.frame)],
    );
    s
}

/// The NUM of a length: the signed measurement's value, in mm or (uncalibrated) pixels.
fn length_num(view: &ReportView, l: &ImageLink) -> Option<(String, Code<'static>)> {
    let m = view
        .measurements
        .iter()
        .find(|m| Some(m.entry) == l.measurement)?;
    let value = format!("{:.3}", m.measurement.length as f64 / 1000.0);
    let unit = match m.measurement.unit {
        LengthUnit::Um => ("mm", "UCUM", "millimeter"),
        LengthUnit::Mpx => ("{pixels}", "UCUM", "pixels"),
    };
    Some((value, unit))
}

/// The SR items of a version's links, in figure order of the text.
pub(super) fn link_items(
    view: &ReportView,
    images: &[crate::ImageRef],
    links: &[ImageLink],
) -> Result<Vec<InMemDicomObject>, ExportError> {
    let mut out = Vec::new();
    for l in links {
        // A frame the image does not have is a link to nothing here: named, not referenced
        // (Referenced Frame Number would name a frame no viewer can show).
        let image = images
            .iter()
            .find(|i| i.sha256.eq_ignore_ascii_case(&l.image))
            .filter(|i| l.frame < i.frames.max(1));
        let words = match (&l.label, image) {
            (label, Some(_)) if !label.is_empty() && label != l.kind.word() => {
                format!(
                    "{} {} ({}, frame {})",
                    l.marker(),
                    label,
                    l.kind.word(),
                    u64::from(l.frame) + 1
                )
            }
            (_, Some(_)) => format!(
                "{} {} (frame {})",
                l.marker(),
                l.kind.word(),
                u64::from(l.frame) + 1
            ),
            // The image is not held here: its identity cannot be written, only named.
            (_, None) => format!(
                "{} {} on image SHA-256 {}, frame {} (not held where this SR was made)",
                l.marker(),
                l.kind.word(),
                l.image,
                u64::from(l.frame) + 1
            ),
        };
        out.push(text("CONTAINS", ("fig", LOCAL, "Linked figure"), &words));
        let Some(image) = image else { continue };
        match l.kind {
            LinkKind::Length => {
                let polyline = scoord("INFERRED FROM", None, "POLYLINE", l, image);
                match length_num(view, l) {
                    Some((value, unit)) => {
                        let mut num = item("CONTAINS", "NUM", Some(("410668003", "SCT", "Length")));
                        let mut measured = InMemDicomObject::new_empty();
                        // A length is never cut to fit: the same number, or no export. A
                        // signed length is at most 10^9 thousandths (`MeasurementAdd::check`), so
                        // at most 10 significant digits: every one a ledger holds fits a DS.
                        let ds =
                            decimal_string(&value).ok_or_else(|| ExportError::Unrepresentable {
                                what: format!("the length {value}"),
                                why: "it has more significant digits than a DICOM decimal \
                                      string of 16 characters holds"
                                    .into(),
                            })?;
                        put(&mut measured, tags::NUMERIC_VALUE, VR::DS, &ds);
                        put_seq(
                            &mut measured,
                            tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
                            vec![code_item(unit)],
                        );
                        put_seq(&mut num, tags::MEASURED_VALUE_SEQUENCE, vec![measured]);
                        put_seq(&mut num, tags::CONTENT_SEQUENCE, vec![polyline]);
                        out.push(num);
                    }
                    // The measurement is not in this view (not held): the region alone.
                    None => out.push(scoord(
                        "CONTAINS",
                        Some(("length", LOCAL, "Length")),
                        "POLYLINE",
                        l,
                        image,
                    )),
                }
            }
            LinkKind::Arrow => {
                // The tip is the point the arrow shows; a tail, if signed, is in the link.
                let tip = ImageLink {
                    points: l.points.iter().take(1).copied().collect(),
                    ..l.clone()
                };
                out.push(scoord(
                    "CONTAINS",
                    Some(("arrow", LOCAL, "Arrow")),
                    "POINT",
                    &tip,
                    image,
                ));
            }
            LinkKind::KeyImage => out.push(image_item(
                "CONTAINS",
                Some(("keyimage", LOCAL, "Key image")),
                image,
                l.frame,
            )),
        }
    }
    Ok(out)
}
