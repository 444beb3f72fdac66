//! Decoding one frame into typed samples, with every size checked before anything is allocated.

use std::panic::{catch_unwind, AssertUnwindSafe};

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use crate::error::{ImagingError, Result};
use crate::meta::{ImageInfo, Lut};

mod check;
mod syntax;

pub(crate) use check::native_check_with;
pub use check::{native_check, NativeCheck, NATIVE_CHECK_MAX_BYTES};
pub(crate) use syntax::to_samples;
use syntax::*;
/// Decoded pixel data larger than this (all frames) is refused before decoding.
pub const MAX_DECODED_BYTES: u64 = 1 << 30;

/// The largest decoded-to-compressed ratio believed (beyond a 16 MiB allowance).
const MAX_COMPRESSION_RATIO: u64 = 2000;

/// Stored sample values of one frame, interleaved when there are several samples per pixel.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
}

impl Samples {
    pub fn len(&self) -> usize {
        match self {
            Samples::U8(v) => v.len(),
            Samples::U16(v) => v.len(),
            Samples::I16(v) => v.len(),
            Samples::U32(v) => v.len(),
            Samples::I32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `i` widened to i64.
    pub fn get(&self, i: usize) -> i64 {
        match self {
            Samples::U8(v) => v[i].into(),
            Samples::U16(v) => v[i].into(),
            Samples::I16(v) => v[i].into(),
            Samples::U32(v) => v[i].into(),
            Samples::I32(v) => v[i].into(),
        }
    }
}

/// A palette colour lookup table (PS3.3 C.7.6.3.1.5): one table each for red, green, blue.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub rgb: [Lut; 3],
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    /// After decoding: compressed colour comes out as RGB.
    pub photometric: String,
    pub bits_stored: u16,
    pub samples: Samples,
    /// For PALETTE COLOR images.
    pub palette: Option<Palette>,
}

/// Reads the palette of a PALETTE COLOR image.
fn palette(obj: &DefaultDicomObject) -> Result<Palette> {
    let channels = [
        (
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            tags::SEGMENTED_RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        ),
        (
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            tags::SEGMENTED_GREEN_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        ),
        (
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DESCRIPTOR,
            tags::BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            tags::SEGMENTED_BLUE_PALETTE_COLOR_LOOKUP_TABLE_DATA,
        ),
    ];
    let table = |(descriptor, data, segmented)| {
        let descriptor = crate::meta::floats(obj, descriptor);
        match (obj.get(data), obj.get(segmented)) {
            (Some(data), _) => crate::meta::lut_from(&descriptor, data),
            (None, Some(segmented)) => crate::meta::segmented_lut_from(&descriptor, segmented),
            (None, None) => Err("table data is missing".into()),
        }
    };
    let [r, g, b] = channels.map(table);
    let bad = |reason: String| ImagingError::BadAttribute {
        attribute: "Palette Color Lookup Table",
        reason,
    };
    Ok(Palette {
        rgb: [r.map_err(bad)?, g.map_err(bad)?, b.map_err(bad)?],
    })
}

/// A decoded frame, with the palette a PALETTE COLOR image needs.
pub(crate) fn frame_of(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    samples_per_pixel: u16,
    photometric: String,
    bits_stored: u16,
    samples: Samples,
) -> Result<Frame> {
    let palette = (photometric == "PALETTE COLOR")
        .then(|| palette(obj))
        .transpose()?;
    Ok(Frame {
        rows: info.rows,
        columns: info.columns,
        samples_per_pixel,
        photometric,
        bits_stored,
        samples,
        palette,
    })
}

fn check_size(info: &ImageInfo) -> Result<u64> {
    if info.rows == 0 || info.columns == 0 {
        return Err(ImagingError::BadAttribute {
            attribute: "Rows/Columns",
            reason: format!("{}×{}", info.rows, info.columns),
        });
    }
    if !matches!(info.bits_allocated, 1 | 8 | 16 | 32) {
        return Err(ImagingError::Unsupported(format!(
            "{} bits allocated per sample",
            info.bits_allocated
        )));
    }
    // Checked: Rows and Columns written in a wider VR than US (UL, IS, DS) reach 2^32 - 1, and
    // a product that wrapped passed this check (2^30 × 2^30 × 3 samples × 32 bits is 0 modulo
    // 2^64), leaving later steps to allocate or slice for 2^60 pixels.
    let frame_bits = u64::from(info.rows)
        .checked_mul(u64::from(info.columns))
        .and_then(|n| n.checked_mul(u64::from(info.samples_per_pixel.max(1))))
        .and_then(|n| n.checked_mul(u64::from(info.bits_allocated)));
    let total =
        frame_bits.and_then(|bits| bits.div_ceil(8).checked_mul(u64::from(info.frames.max(1))));
    match (frame_bits, total) {
        (Some(frame_bits), Some(total)) if total <= MAX_DECODED_BYTES => Ok(frame_bits),
        _ => Err(ImagingError::TooBig {
            rows: info.rows,
            columns: info.columns,
            frames: info.frames,
            samples: info.samples_per_pixel,
            bits: info.bits_allocated,
        }),
    }
}

/// Which decoders a decode may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Codecs {
    /// Every decoder, C and C++ ones included: in the confined decode worker, or for a file
    /// the worker has already decoded.
    All,
    /// Decoders written in Rust only; a frame that needs a C or C++ codec is not decoded.
    RustOnly,
}

/// Decodes frame `frame` (0-based).
pub fn decode_frame(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> Result<Frame> {
    decode_frame_with(obj, info, frame, Codecs::All)?
        .ok_or_else(|| ImagingError::Decode("no decoder for this frame".into()))
}

/// Decodes frame `frame` with the decoders `codecs` allows: `Ok(None)` only with
/// [`Codecs::RustOnly`], for a frame whose pixels need libjpeg-turbo, CharLS or OpenJPEG —
/// decided before any of them could run.
///
/// Rust decodes native and deflated pixel data, RLE, single-component lossless JPEG
/// (`countersign_jpeg::decode_lossless`) and colour JPEG other than untransformed RGB
/// (dicom-pixeldata's `jpeg-decoder`); libjpeg-turbo the other greyscale JPEG (baseline,
/// 12-bit extended) and untransformed RGB; CharLS JPEG-LS; OpenJPEG JPEG 2000.
pub(crate) fn decode_frame_with(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
    codecs: Codecs,
) -> Result<Option<Frame>> {
    if !info.has_pixels {
        return Err(ImagingError::NoPixelData {
            description: info.description.clone(),
        });
    }
    let ts = TransferSyntaxRegistry.get(&info.transfer_syntax_uid);
    if !ts.is_some_and(|t| t.can_decode_all()) {
        return Err(ImagingError::UnsupportedTransferSyntax {
            uid: info.transfer_syntax_uid.clone(),
            name: info.transfer_syntax.clone(),
        });
    }
    let encapsulated = ts.is_some_and(|t| !t.is_codec_free());
    if !encapsulated && info.photometric.as_deref() == Some("YBR_FULL_422") {
        return ybr422_frame(obj, info, frame).map(Some);
    }
    let frame_bits = check_size(info)?;
    if frame >= info.frames {
        return Err(ImagingError::NoSuchFrame {
            frame,
            frames: info.frames,
        });
    }
    if !encapsulated {
        let present = obj
            .get(tags::PIXEL_DATA)
            .and_then(|e| e.to_bytes().ok().map(|b| b.len() as u64))
            .unwrap_or(0);
        let claimed = (frame_bits * u64::from(info.frames)).div_ceil(8);
        if present < claimed {
            return Err(ImagingError::PixelDataTooShort { claimed, present });
        }
    } else {
        // No codec here compresses real images 2000:1; a header that claims more than that
        // (plus a 16 MiB allowance for small images) from a few bytes is not decoded.
        let compressed: u64 = obj
            .get(tags::PIXEL_DATA)
            .and_then(|e| {
                e.fragments()
                    .map(|f| f.iter().map(|x| x.len() as u64).sum())
            })
            .unwrap_or(0);
        let claimed = (frame_bits * u64::from(info.frames)).div_ceil(8);
        if claimed > (16 << 20) + compressed.saturating_mul(MAX_COMPRESSION_RATIO) {
            return Err(ImagingError::Decode(format!(
                "{claimed} bytes of pixels claimed from {compressed} compressed bytes"
            )));
        }
    }
    // Decoders of compressed pixel data give whole bytes a sample: with 1 bit allocated,
    // `check_size` counted an eighth of what they allocate (RLE, 32768 × 32768 × 3 samples: 384 MiB
    // counted, 3 GiB allocated). PS3.5 has 1-bit samples in native pixel data only.
    if info.bits_allocated == 1 && encapsulated {
        return Err(ImagingError::Unsupported(
            "compressed pixel data with 1 bit allocated".into(),
        ));
    }
    crate::codestream::check(obj, info)?;
    if info.bits_allocated == 1 && !encapsulated {
        return bit_frame(obj, info, frame).map(Some);
    }
    if info.transfer_syntax_uid == RLE_LOSSLESS {
        return rle_frame(obj, info, frame).map(Some);
    }
    if !encapsulated {
        if let Some(decoded) = native_le_frame(obj, info, frame, frame_bits)? {
            return Ok(Some(decoded));
        }
    }
    match codecs {
        Codecs::All => {
            if let Some(decoded) = crate::jpeg::grey_jpeg_frame(obj, info, frame)? {
                return Ok(Some(decoded));
            }
            if let Some(decoded) = crate::jpeg::untransformed_rgb_jpeg_frame(obj, info, frame)? {
                return Ok(Some(decoded));
            }
        }
        Codecs::RustOnly => {
            if let Some(decoded) = crate::jpeg::lossless_frame_in_rust(obj, info, frame)? {
                return Ok(Some(decoded));
            }
            // What is left for dicom-pixeldata below is Rust for native pixel data (deflated
            // data sets are not "codec free", but their pixels are native) and for the colour
            // JPEG `colour_in_rust` admits (its JPEG decoder is `jpeg-decoder`); for other JPEG
            // it is libjpeg-turbo or jpeg-decoder on terms this process does not take, and
            // JPEG-LS and JPEG 2000 are CharLS and OpenJPEG.
            let pixel_codec = ts.is_some_and(|t| t.is_encapsulated_pixel_data());
            if pixel_codec && !crate::jpeg::colour_in_rust(obj, info, frame) {
                return Ok(None);
            }
        }
    }
    // A decoder that panics on hostile input must not take the application down with it.
    let decoded = catch_unwind(AssertUnwindSafe(|| obj.decode_pixel_data_frame(frame)))
        .map_err(|_| ImagingError::Decode("the decoder failed on this file".into()))?
        .map_err(|e| ImagingError::Decode(e.to_string()))?;
    let photometric = decoded.photometric_interpretation().as_str().to_string();
    let spp = decoded.samples_per_pixel();
    let planar = spp > 1 && !encapsulated && info.photometric.is_some() && planar_config(obj) == 1;
    let data = decoded.data();
    let pixels = info.rows as usize * info.columns as usize;
    let n = pixels * spp as usize;
    let bits_stored = info.bits_stored.clamp(1, info.bits_allocated.max(1));
    let samples = to_samples(data, info.bits_allocated, bits_stored, info.signed, n)?;
    let samples = if planar {
        interleave(samples, pixels, spp as usize)
    } else {
        samples
    };
    frame_of(obj, info, spp, photometric, bits_stored, samples).map(Some)
}

#[cfg(test)]
mod tests;
