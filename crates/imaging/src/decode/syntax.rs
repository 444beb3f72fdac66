//! Frames of the syntaxes read here rather than by the general decoder: uncompressed
//! little-endian, YBR 4:2:2, RLE and single-bit; and stored bytes into typed samples.

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use super::{check_size, frame_of, Frame, Samples};
use crate::error::{ImagingError, Result};
use crate::meta::ImageInfo;

pub(super) const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Uncompressed little-endian single-sample frames (most CT, MR, CR, DX) straight from the
/// element's bytes: one pass into typed samples, no intermediate copy (the general decoder copies
/// the frame once more before the samples are built).
pub(super) fn native_le_frame(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
    frame_bits: u64,
) -> Result<Option<Frame>> {
    let little_endian = matches!(
        info.transfer_syntax_uid.as_str(),
        "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1" | "1.2.840.10008.1.2.1.99"
    );
    let grey = matches!(
        info.photometric.as_deref(),
        Some("MONOCHROME1" | "MONOCHROME2" | "PALETTE COLOR")
    );
    if !little_endian
        || !grey
        || info.samples_per_pixel != 1
        || !matches!(info.bits_allocated, 8 | 16)
    {
        return Ok(None);
    }
    let Some(bytes) = obj.get(tags::PIXEL_DATA).and_then(|e| e.to_bytes().ok()) else {
        return Ok(None);
    };
    let frame_bytes = (frame_bits / 8) as usize;
    let start = frame as usize * frame_bytes;
    let Some(data) = bytes.get(start..start + frame_bytes) else {
        return Ok(None);
    };
    let bits_stored = info.bits_stored.clamp(1, info.bits_allocated);
    let pixels = info.rows as usize * info.columns as usize;
    let samples = to_samples(data, info.bits_allocated, bits_stored, info.signed, pixels)?;
    let photometric = info.photometric.clone().unwrap_or_default();
    frame_of(obj, info, 1, photometric, bits_stored, samples).map(Some)
}

/// Uncompressed YBR_FULL_422 (PS3.3 C.7.6.3.1.2): each pair of pixels is stored as
/// Y1 Y2 Cb Cr, two bytes per pixel. Expanded to YBR_FULL, three samples per pixel.
pub(super) fn ybr422_frame(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
) -> Result<Frame> {
    if info.bits_allocated != 8 || info.samples_per_pixel != 3 || !info.columns.is_multiple_of(2) {
        return Err(ImagingError::Unsupported(format!(
            "uncompressed YBR_FULL_422 with {} bits, {} samples, {} columns",
            info.bits_allocated, info.samples_per_pixel, info.columns
        )));
    }
    // The size limits of every other path (the frame is expanded to three samples per pixel),
    // before any arithmetic on Rows × Columns.
    check_size(info)?;
    if frame >= info.frames {
        return Err(ImagingError::NoSuchFrame {
            frame,
            frames: info.frames,
        });
    }
    let pixels = info.rows as usize * info.columns as usize;
    let raw = obj
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.to_bytes().ok())
        .ok_or_else(|| ImagingError::Decode("pixel data is not readable".into()))?;
    let claimed = (pixels * 2) as u64 * u64::from(info.frames);
    if (raw.len() as u64) < claimed {
        return Err(ImagingError::PixelDataTooShort {
            claimed,
            present: raw.len() as u64,
        });
    }
    let data = &raw[frame as usize * pixels * 2..(frame as usize + 1) * pixels * 2];
    let mut samples = Vec::with_capacity(pixels * 3);
    for quad in data.chunks_exact(4) {
        let (y1, y2, cb, cr) = (quad[0], quad[1], quad[2], quad[3]);
        samples.extend_from_slice(&[y1, cb, cr, y2, cb, cr]);
    }
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel: 3,
        photometric: "YBR_FULL".into(),
        bits_stored: 8,
        samples: Samples::U8(samples),
        palette: None,
    })
}

pub(super) fn rle_frame(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> Result<Frame> {
    let fragments = obj
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.fragments())
        .ok_or_else(|| ImagingError::Decode("RLE pixel data is not encapsulated".into()))?;
    // One fragment per frame, as PS3.5 Annex G requires.
    let fragment = fragments
        .get(frame as usize)
        .ok_or(ImagingError::NoSuchFrame {
            frame,
            frames: fragments.len() as u32,
        })?;
    let pixels = info.rows as usize * info.columns as usize;
    let spp = info.samples_per_pixel.max(1) as usize;
    let bytes = (info.bits_allocated as usize).div_ceil(8);
    let data = crate::rle::decode_frame(fragment, pixels, spp, bytes)?;
    let bits_stored = info.bits_stored.clamp(1, info.bits_allocated.max(1));
    let samples = to_samples(
        &data,
        info.bits_allocated,
        bits_stored,
        info.signed,
        pixels * spp,
    )?;
    let photometric = info
        .photometric
        .clone()
        .unwrap_or_else(|| "MONOCHROME2".into());
    frame_of(obj, info, spp as u16, photometric, bits_stored, samples)
}

/// 1-bit images (segmentations, masks): frames are packed one after another at bit, not byte,
/// boundaries, least significant bit first.
pub(super) fn bit_frame(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> Result<Frame> {
    let raw = obj
        .get(tags::PIXEL_DATA)
        .and_then(|e| e.to_bytes().ok())
        .ok_or_else(|| ImagingError::Decode("pixel data is not readable".into()))?;
    let pixels =
        info.rows as usize * info.columns as usize * info.samples_per_pixel.max(1) as usize;
    let start = frame as usize * pixels;
    let samples = (start..start + pixels)
        .map(|bit| (raw[bit / 8] >> (bit % 8)) & 1)
        .collect();
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel: info.samples_per_pixel.max(1),
        photometric: info
            .photometric
            .clone()
            .unwrap_or_else(|| "MONOCHROME2".into()),
        bits_stored: 1,
        samples: Samples::U8(samples),
        palette: None,
    })
}

pub(super) fn planar_config(obj: &DefaultDicomObject) -> i64 {
    crate::meta::int(obj, tags::PLANAR_CONFIGURATION).unwrap_or(0)
}

/// Little-endian native bytes to typed samples, masked to Bits Stored and sign-extended.
pub(crate) fn to_samples(
    data: &[u8],
    bits_allocated: u16,
    bits_stored: u16,
    signed: bool,
    n: usize,
) -> Result<Samples> {
    let need = (n * bits_allocated as usize).div_ceil(8);
    if data.len() < need {
        return Err(ImagingError::PixelDataTooShort {
            claimed: need as u64,
            present: data.len() as u64,
        });
    }
    let shift = u32::from(bits_allocated.saturating_sub(bits_stored));
    Ok(match bits_allocated {
        1 => Samples::U8((0..n).map(|i| (data[i / 8] >> (i % 8)) & 1).collect()),
        8 if signed => Samples::I16(
            data[..n]
                .iter()
                .map(|b| i16::from(((*b << shift) as i8) >> shift))
                .collect(),
        ),
        8 => Samples::U8(data[..n].iter().map(|b| (b << shift) >> shift).collect()),
        16 => {
            let words = data[..n * 2]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]));
            if signed {
                Samples::I16(words.map(|w| ((w << shift) as i16) >> shift).collect())
            } else {
                Samples::U16(words.map(|w| (w << shift) >> shift).collect())
            }
        }
        32 => {
            let words = data[..n * 4]
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
            if signed {
                Samples::I32(words.map(|w| ((w << shift) as i32) >> shift).collect())
            } else {
                Samples::U32(words.map(|w| (w << shift) >> shift).collect())
            }
        }
        other => return Err(ImagingError::Unsupported(format!("{other} bits allocated"))),
    })
}

/// Planar configuration 1 (RRR…GGG…BBB…) to interleaved (RGBRGB…).
pub(super) fn interleave(samples: Samples, pixels: usize, spp: usize) -> Samples {
    fn go<T: Copy>(v: Vec<T>, pixels: usize, spp: usize) -> Vec<T> {
        (0..pixels * spp)
            .map(|i| v[(i % spp) * pixels + i / spp])
            .collect()
    }
    match samples {
        Samples::U8(v) => Samples::U8(go(v, pixels, spp)),
        Samples::U16(v) => Samples::U16(go(v, pixels, spp)),
        Samples::I16(v) => Samples::I16(go(v, pixels, spp)),
        Samples::U32(v) => Samples::U32(go(v, pixels, spp)),
        Samples::I32(v) => Samples::I32(go(v, pixels, spp)),
    }
}
