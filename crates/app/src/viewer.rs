//! What the desktop viewer asks for: the images of a study in scroll order, and one frame as a
//! binary packet — raw modality samples for window/level on the GPU, or RGB pixels where the
//! presentation has to happen here (colour, palette, LUT sequences, 32-bit samples).
//!
//! Packet layout (little endian): `u32` length `n` of a JSON [`FrameHeader`], the `n` header
//! bytes (padded with spaces so the pixels start at a multiple of 8: the viewer reads 16-bit
//! samples in place, with no copy to align them), then the pixels: `width × height`
//! `u16`/`i16` samples for `"u16"`/`"i16"`, or `width × height × 3` bytes for `"rgb8"`. Frames
//! never travel as JSON number arrays.
//!
//! A large packet may be fetched in parts of [`FRAME_PART_BYTES`] ([`frame_part`]), asked for
//! at once, so that their transfers through WebKitGTK's IPC overlap (`make bench-app` measures
//! a 6 MiB frame both ways: `78` against `42 ms` on one run, even on another).

use serde::Serialize;

use countersign_imaging::{raw_frame, ImageInfo, WindowChoice};

use crate::error::Result;
use crate::home::Home;

/// One image of a study, in the order a reader scrolls.
#[derive(Debug, Clone, Serialize)]
pub struct ImageRef {
    pub sha256: String,
    pub series: Option<String>,
    pub series_description: Option<String>,
    pub instance_number: Option<i64>,
    pub frames: u32,
}

/// Everything the viewer needs to draw and annotate a frame, besides the pixels.
#[derive(Debug, Clone, Serialize)]
pub struct FrameHeader {
    pub width: u32,
    pub height: u32,
    /// `"u16"`, `"i16"` (stored values, rescaled and windowed by the viewer) or `"rgb8"`.
    pub format: &'static str,
    pub slope: f64,
    pub intercept: f64,
    pub window_center: f64,
    pub window_width: f64,
    /// MONOCHROME1: the viewer inverts after windowing.
    pub invert: bool,
    pub frame: u32,
    pub frames: u32,
    /// Row and column spacing in mm, when the image is calibrated.
    pub pixel_spacing: Option<[f64; 2]>,
    pub patient: Option<String>,
    pub study_date: Option<String>,
    pub modality: Option<String>,
    pub series_description: Option<String>,
    pub instance_number: Option<i64>,
    /// The SHA-256 the file was opened by, re-checked against its bytes.
    pub sha256: String,
}

impl Home {
    /// The images of `study`, in scroll order.
    pub fn study_image_refs(&self, study: &str) -> Result<Vec<ImageRef>> {
        Ok(self
            .store()
            .db()
            .instances(Some(study))?
            .into_iter()
            .map(|i| ImageRef {
                sha256: hex::encode(i.sha256),
                series: i.series,
                series_description: i.series_description,
                instance_number: i.instance_number,
                frames: i.frames,
            })
            .collect())
    }

    /// Frame `frame` of the imported image `sha256` as a packet (see the module docs).
    pub fn frame_packet(&self, sha256: &str, frame: u32) -> Result<Vec<u8>> {
        let image = self.image_for_decoding(sha256)?;
        let decoded = image.frame(frame)?;
        let base = header_of(&image.info, sha256, frame);
        match raw_frame(&decoded, &image.info) {
            Ok(raw) => {
                let header = FrameHeader {
                    width: raw.width,
                    height: raw.height,
                    format: if raw.signed { "i16" } else { "u16" },
                    slope: raw.slope,
                    intercept: raw.intercept,
                    window_center: raw.window.center,
                    window_width: raw.window.width,
                    invert: raw.invert,
                    ..base
                };
                packet(&header, &raw.samples)
            }
            // Anything the GPU path cannot window is presented here, to RGB.
            Err(_) => {
                let rendered =
                    countersign_imaging::present(&decoded, &image.info, WindowChoice::Default)?;
                let header = FrameHeader {
                    width: rendered.width,
                    height: rendered.height,
                    ..base
                };
                let rgb: Vec<u8> = if rendered.channels == 3 {
                    rendered.pixels
                } else {
                    rendered.pixels.iter().flat_map(|&g| [g, g, g]).collect()
                };
                packet(&header, &rgb)
            }
        }
    }
}

/// The header of an already-presented RGB frame (identity window); raw frames override the
/// pixel fields.
fn header_of(info: &ImageInfo, sha256: &str, frame: u32) -> FrameHeader {
    FrameHeader {
        width: info.columns,
        height: info.rows,
        format: "rgb8",
        slope: 1.0,
        intercept: 0.0,
        window_center: 127.5,
        window_width: 256.0,
        invert: false,
        frame,
        frames: info.frames,
        pixel_spacing: info.pixel_spacing,
        patient: info.patient_name.clone(),
        study_date: info.study_date.clone(),
        modality: info.modality.clone(),
        series_description: info.series_description.clone(),
        instance_number: info.instance_number,
        sha256: sha256.to_string(),
    }
}

fn packet(header: &FrameHeader, pixels: &[u8]) -> Result<Vec<u8>> {
    let mut json = serde_json::to_vec(header)
        .map_err(|e| crate::AppError::InvalidInput(format!("frame header: {e}")))?;
    // JSON allows trailing whitespace: the pixels start 8-aligned.
    json.resize((4 + json.len()).next_multiple_of(8) - 4, b' ');
    let mut out = Vec::with_capacity(4 + json.len() + pixels.len());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(pixels);
    Ok(out)
}

/// The size of a part of a frame packet (see [`frame_part`]): the last part may be shorter.
pub const FRAME_PART_BYTES: usize = 1 << 20;

/// Part `part` of a frame packet: its bytes `part × FRAME_PART_BYTES ..` up to
/// `FRAME_PART_BYTES` of them. The parts of a packet, in order, are the packet; asking past
/// its last part is refused.
pub fn frame_part(packet: &[u8], part: u32) -> Result<&[u8]> {
    let start = (part as usize).saturating_mul(FRAME_PART_BYTES);
    if start >= packet.len() {
        return Err(crate::AppError::InvalidInput(format!(
            "frame part {part} is past the end of a {}-byte frame",
            packet.len()
        )));
    }
    Ok(&packet[start..packet.len().min(start + FRAME_PART_BYTES)])
}

/// A study as the study list shows it: what was imported, and the reports written on it.
#[derive(Debug, Clone, Serialize)]
pub struct StudyRow {
    #[serde(flatten)]
    pub study: crate::StudySummary,
    pub reports: Vec<crate::ReportSummary>,
}

/// A page of the study list, and where the next one starts (`None` at the end).
#[derive(Debug, Clone, Serialize)]
pub struct StudyPage {
    pub studies: Vec<StudyRow>,
    pub next: Option<String>,
}

/// Studies in a page of the study list unless asked otherwise.
pub const STUDY_PAGE: usize = 100;

fn study_cursor(s: &str) -> Result<countersign_store::StudyCursor> {
    let bad = || crate::AppError::InvalidInput(format!("{s:?} is not a study list cursor"));
    let bytes = hex::decode(s).map_err(|_| bad())?;
    let (date, study): (Option<String>, String) =
        serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok(countersign_store::StudyCursor { date, study })
}

fn study_cursor_text(c: &countersign_store::StudyCursor) -> String {
    hex::encode(serde_json::to_vec(&(&c.date, &c.study)).unwrap_or_default())
}

impl Home {
    /// A page of the study list: up to `limit` imported studies, the newest study date first
    /// (undated last, then by UID), each with its reports (oldest created first), starting
    /// after the cursor `after`. Walks the (date, study) index and the report list's table,
    /// so a page costs its own studies, whatever the home holds.
    pub fn study_page(&self, after: Option<&str>, limit: usize) -> Result<StudyPage> {
        let limit = crate::reports::page_limit(limit)?;
        let db = self.store().db();
        let mut cursor = after.map(study_cursor).transpose()?;
        let mut studies = Vec::new();
        'pages: loop {
            let dates = db.study_dates_after(cursor.as_ref(), limit - studies.len())?;
            if dates.is_empty() {
                return Ok(StudyPage {
                    studies,
                    next: None,
                });
            }
            for (date, study) in dates {
                cursor = Some(countersign_store::StudyCursor {
                    date: date.clone(),
                    study: study.clone(),
                });
                let Some((first, instances)) = db.study_head(&study)? else {
                    continue;
                };
                // A study whose instances disagree on the date is listed once, at the date
                // of its first instance (as the whole list showed it).
                if first.study_date != date {
                    continue;
                }
                studies.push(StudyRow {
                    reports: crate::reports::summaries_of_study(&db, &study)?,
                    study: crate::StudySummary {
                        study,
                        patient: first.patient,
                        date: first.study_date,
                        modality: first.modality,
                        description: first.study_description.or(first.series_description),
                        instances,
                    },
                });
                if studies.len() == limit {
                    break 'pages;
                }
            }
        }
        let more = !db.study_dates_after(cursor.as_ref(), 1)?.is_empty();
        Ok(StudyPage {
            studies,
            next: cursor.filter(|_| more).map(|c| study_cursor_text(&c)),
        })
    }

    /// Every imported study with its reports: [`Home::study_page`] read to the end.
    pub fn study_rows(&self) -> Result<Vec<StudyRow>> {
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = self.study_page(after.as_deref(), crate::reports::MAX_PAGE)?;
            rows.extend(page.studies);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(rows),
            }
        }
    }
}

/// A report or entry id from its hex form.
pub fn entry_id(s: &str) -> Result<countersign_ledger::EntryId> {
    s.parse().map_err(|e| {
        crate::AppError::InvalidInput(format!("{s:?} is not a report or entry id: {e}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The parts of a packet, asked for in order until refused, are the packet; each is at
        /// most a part long, and only the last is shorter.
        #[test]
        fn the_parts_of_a_packet_in_order_are_the_packet(len in 1usize..(3 * FRAME_PART_BYTES + 7), seed: u8) {
            let packet: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect();
            let mut joined = Vec::new();
            let mut part = 0;
            while let Ok(bytes) = frame_part(&packet, part) {
                prop_assert!(!bytes.is_empty() && bytes.len() <= FRAME_PART_BYTES);
                if joined.len() + bytes.len() < len {
                    prop_assert_eq!(bytes.len(), FRAME_PART_BYTES);
                }
                joined.extend_from_slice(bytes);
                part += 1;
            }
            prop_assert_eq!(part as usize, len.div_ceil(FRAME_PART_BYTES));
            prop_assert_eq!(joined, packet);
            prop_assert!(frame_part(&[1, 2, 3], u32::MAX).is_err());
        }
    }

    #[test]
    fn a_packets_pixels_start_8_aligned_after_a_header_of_any_length() {
        for name_len in 0..16 {
            let header = FrameHeader {
                width: 1,
                height: 1,
                format: "u16",
                slope: 1.0,
                intercept: 0.0,
                window_center: 0.0,
                window_width: 1.0,
                invert: false,
                frame: 0,
                frames: 1,
                pixel_spacing: None,
                patient: Some("x".repeat(name_len)),
                study_date: None,
                modality: None,
                series_description: None,
                instance_number: None,
                sha256: String::new(),
            };
            let p = packet(&header, &[0xAB, 0xCD]).unwrap();
            let n = u32::from_le_bytes(p[..4].try_into().unwrap()) as usize;
            assert_eq!((4 + n) % 8, 0, "header of {n} bytes");
            let back: serde_json::Value = serde_json::from_slice(&p[4..4 + n]).unwrap();
            assert_eq!(back["patient"].as_str().unwrap().len(), name_len);
            assert_eq!(&p[4 + n..], &[0xAB, 0xCD]);
        }
    }
}
