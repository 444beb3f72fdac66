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
//!
//! A frame larger than the viewer's viewport (and than one part) may first be sent reduced
//! ([`preview_packet`]: the mean of each 2×2 block, a quarter of the bytes), its header
//! marked `"reduced": factor` and still giving the full frame's size: the viewer draws it at the
//! full frame's coordinates, says so in its overlay, and replaces it with the full frame.

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
    /// The slice's plane (`axial`, `coronal`, `sagittal`, `oblique`), when its file gives a
    /// trustworthy geometry: two viewports scroll together only within one plane.
    pub plane: Option<String>,
    /// Its centre's position along the plane's patient axis in mm (see
    /// `countersign_imaging::slice_geometry_centred`: what a prior beside it scrolls to, the
    /// nearest); for an instance indexed before positions were (no plane), its Slice Location.
    pub position: Option<f64>,
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
                position: i.position.or(i.slice_location),
                plane: i.plane,
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
    let json = serde_json::to_vec(header)
        .map_err(|e| crate::AppError::InvalidInput(format!("frame header: {e}")))?;
    Ok(packet_of(json, pixels))
}

/// A packet of a header's JSON and the pixels.
fn packet_of(mut json: Vec<u8>, pixels: &[u8]) -> Vec<u8> {
    // JSON allows trailing whitespace: the pixels start 8-aligned.
    json.resize((4 + json.len()).next_multiple_of(8) - 4, b' ');
    let mut out = Vec::with_capacity(4 + json.len() + pixels.len());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(pixels);
    out
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

mod preview;
pub use preview::{preview_packet, PREVIEW_MAX_BYTES};

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
    use super::preview::*;
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

    /// The mean of block (bx, by) of an image of `channels` samples a pixel, sample `c`,
    /// computed the slow way: every pixel of the image asked whether it is in the block.
    fn brute_block_mean(
        samples: &[i64],
        (w, h, channels): (usize, usize, usize),
        f: usize,
        (bx, by, c): (usize, usize, usize),
    ) -> i64 {
        let (mut sum, mut n) = (0i64, 0i64);
        for y in 0..h {
            for x in 0..w {
                if x / f == bx && y / f == by {
                    sum += samples[(y * w + x) * channels + c];
                    n += 1;
                }
            }
        }
        assert!(n > 0, "block ({bx}, {by}) holds no pixel");
        // Rounded down, towards −∞ for negative sums too.
        (sum as f64 / n as f64).floor() as i64
    }

    fn format_strategy() -> impl Strategy<Value = PixelFormat> {
        prop_oneof![
            Just(PixelFormat::U16),
            Just(PixelFormat::I16),
            Just(PixelFormat::Rgb8)
        ]
    }

    proptest! {
        /// Every pixel of the reduced image is the mean of its block of the full one (each
        /// sample on its own, rounded down), whatever the sizes (the edge blocks cut short),
        /// the factor and the format; the reduced image is ⌈w/f⌉ × ⌈h/f⌉ and nothing more.
        #[test]
        fn a_reduced_pixel_is_the_mean_of_its_block(
            w in 1usize..23, h in 1usize..23, f in 1usize..6,
            format in format_strategy(), seed: u64,
        ) {
            let channels = if format == PixelFormat::Rgb8 { 3 } else { 1 };
            let mut state = seed;
            let mut next = || {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) as i64
            };
            let samples: Vec<i64> = (0..w * h * channels)
                .map(|_| match format {
                    PixelFormat::U16 => next() & 0xFFFF,
                    PixelFormat::I16 => (next() & 0xFFFF) - 32768,
                    PixelFormat::Rgb8 => next() & 0xFF,
                })
                .collect();
            let bytes: Vec<u8> = samples
                .iter()
                .flat_map(|&v| match format {
                    PixelFormat::U16 => (v as u16).to_le_bytes().to_vec(),
                    PixelFormat::I16 => (v as i16).to_le_bytes().to_vec(),
                    PixelFormat::Rgb8 => vec![v as u8],
                })
                .collect();
            let reduced = reduce_by_block_mean(&bytes, w, h, format, f);
            let (rw, rh) = (w.div_ceil(f), h.div_ceil(f));
            prop_assert_eq!(reduced.len(), rw * rh * format.bytes());
            for by in 0..rh {
                for bx in 0..rw {
                    for c in 0..channels {
                        let at = (by * rw + bx) * channels + c;
                        let got = match format {
                            PixelFormat::U16 => i64::from(u16::from_le_bytes([reduced[2 * at], reduced[2 * at + 1]])),
                            PixelFormat::I16 => i64::from(i16::from_le_bytes([reduced[2 * at], reduced[2 * at + 1]])),
                            PixelFormat::Rgb8 => i64::from(reduced[at]),
                        };
                        prop_assert_eq!(got, brute_block_mean(&samples, (w, h, channels), f, (bx, by, c)),
                            "pixel ({}, {}) sample {}", bx, by, c);
                    }
                }
            }
        }

        /// A preview is asked only of a frame over one part and larger than the viewport, and
        /// its pixels are never over PREVIEW_MAX_BYTES; it reduces by 2 while that fits.
        #[test]
        fn a_preview_is_bounded_and_only_for_a_frame_larger_than_the_viewport(
            w in 1u32..70_000, h in 1u32..70_000, format in format_strategy(),
            fw in 1u32..4000, fh in 1u32..4000,
        ) {
            let bpp = format.bytes();
            let full = w as usize * h as usize * bpp;
            match preview_factor(w, h, bpp, (fw, fh)) {
                None => prop_assert!(full <= FRAME_PART_BYTES || (w <= fw && h <= fh)
                    || w.div_ceil(PREVIEW_MAX_FACTOR) as usize * h.div_ceil(PREVIEW_MAX_FACTOR) as usize * bpp > PREVIEW_MAX_BYTES),
                Some(f) => {
                    prop_assert!(full > FRAME_PART_BYTES && (w > fw || h > fh));
                    prop_assert!((2..=PREVIEW_MAX_FACTOR).contains(&f));
                    let bytes = |f: u32| w.div_ceil(f) as usize * h.div_ceil(f) as usize * bpp;
                    prop_assert!(bytes(f) <= PREVIEW_MAX_BYTES);
                    // Fitted, a preview pixel is still at least a screen pixel — unless the
                    // byte bound asked for more (then one less would be over it).
                    let ratio = (f64::from(w) / f64::from(fw)).max(f64::from(h) / f64::from(fh));
                    if f > 2 && f64::from(f) > ratio {
                        prop_assert!(bytes(f - 1) > PREVIEW_MAX_BYTES);
                    }
                    // And as reduced as that allows: one more would make it smaller than the
                    // screen shows.
                    if f < PREVIEW_MAX_FACTOR {
                        prop_assert!(f64::from(f + 1) > ratio);
                    }
                }
            }
        }
    }

    fn test_header(width: u32, height: u32, format: &'static str) -> FrameHeader {
        FrameHeader {
            width,
            height,
            format,
            slope: 1.0,
            intercept: -1024.0,
            window_center: 40.0,
            window_width: 400.0,
            invert: false,
            frame: 0,
            frames: 1,
            pixel_spacing: Some([0.5, 0.5]),
            patient: None,
            study_date: None,
            modality: None,
            series_description: None,
            instance_number: None,
            sha256: "ab".into(),
        }
    }

    #[test]
    fn a_1760_square_cr_is_previewed_at_half_its_size_in_full_resolution_coordinates() {
        let (w, h) = (1760u32, 1760u32);
        let samples: Vec<u8> = (0..w * h)
            .flat_map(|i| ((i % w + i / w) as u16).to_le_bytes())
            .collect();
        let full = packet(&test_header(w, h, "u16"), &samples).unwrap();
        let preview = preview_packet(&full, (900, 800))
            .unwrap()
            .expect("a preview");
        let n = u32::from_le_bytes(preview[..4].try_into().unwrap()) as usize;
        assert_eq!((4 + n) % 8, 0, "pixels 8-aligned");
        let header: serde_json::Value = serde_json::from_slice(&preview[4..4 + n]).unwrap();
        assert_eq!(header["reduced"], 2);
        // The full frame's size and calibration: what the viewer measures in.
        assert_eq!(
            (header["width"].as_u64(), header["height"].as_u64()),
            (Some(1760), Some(1760))
        );
        assert_eq!(header["pixel_spacing"], serde_json::json!([0.5, 0.5]));
        assert_eq!(preview.len() - 4 - n, 880 * 880 * 2);
        // Pixel (1, 0) is the mean of full pixels (2..4, 0..2): 2, 3, 3, 4.
        let at = 4 + n + 2;
        assert_eq!(u16::from_le_bytes([preview[at], preview[at + 1]]), 3);
        // In the bench's viewport, 440 × 900: 4×, a preview pixel per screen pixel.
        let small_view = preview_packet(&full, (440, 900))
            .unwrap()
            .expect("a preview");
        let m = u32::from_le_bytes(small_view[..4].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&small_view[4..4 + m]).unwrap();
        assert_eq!(header["reduced"], 4);
        assert_eq!(small_view.len() - 4 - m, 440 * 440 * 2);
        // Nothing reduced when the viewport shows every pixel, or for a frame of one part.
        assert!(preview_packet(&full, (1760, 1760)).unwrap().is_none());
        let small = packet(&test_header(512, 512, "i16"), &vec![0u8; 512 * 512 * 2]).unwrap();
        assert!(preview_packet(&small, (100, 100)).unwrap().is_none());
        // A packet cut short is refused, never read past.
        assert!(preview_packet(&full[..full.len() - 1], (900, 800)).is_err());
        assert!(preview_packet(&full[..3], (900, 800)).is_err());
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
