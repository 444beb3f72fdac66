//! Decoding one frame into typed samples, with every size checked before anything is allocated.

use std::panic::{catch_unwind, AssertUnwindSafe};

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_pixeldata::PixelDecoder;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use crate::error::{ImagingError, Result};
use crate::meta::{ImageInfo, Lut};

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

/// The most pixel bytes (all frames) [`native_check`] answers for: a larger file goes to the
/// confined decode worker, whose memory and time limits could refuse it where arithmetic
/// would not (a 512² CT slice is 0.5 MiB, a 4300² 16-bit mammogram 35 MiB).
pub const NATIVE_CHECK_MAX_BYTES: u64 = 64 << 20;

/// What decoding and presenting every frame of an image would come to (see [`native_check`]).
#[derive(Debug)]
pub enum NativeCheck {
    /// Every one of `frames` frames decodes and presents.
    Decodes { frames: u32 },
    /// Every frame is refused alike; `frame` (0-based) is the first, `error` the decoder's
    /// own error for it.
    Refused { frame: u32, error: ImagingError },
}

/// What decoding and presenting every frame would give, for the one kind of image where that is
/// arithmetic on the header and the pixel data's length: uncompressed little-endian (implicit or
/// explicit VR) greyscale, one sample of 8 or 16 bits, no Modality or VOI LUT Sequence, at most
/// [`NATIVE_CHECK_MAX_BYTES`] of pixels. There, [`decode_frame`] is the length checks of this
/// function followed by slicing the element's bytes into samples, and presenting a grey frame
/// without LUTs cannot fail; so this answers exactly as decoding every frame would, without
/// running a decoder or allocating a sample. `None` for any other image: it is decoded to
/// be judged (in the confined worker). `decodes_as_checked` in the tests holds the two to
/// the same answer over generated images.
pub fn native_check(obj: &DefaultDicomObject, info: &ImageInfo) -> Option<NativeCheck> {
    native_check_with(info, || {
        obj.get(tags::PIXEL_DATA)
            .and_then(|e| e.to_bytes().ok().map(|b| b.len() as u64))
            .unwrap_or(0)
    })
}

/// [`native_check`], the pixel data's length in bytes given by `present` (asked only when it
/// matters): from the parsed element, or from the element's header in the file when the
/// pixel data was not parsed (`crate::read_header`).
pub(crate) fn native_check_with(
    info: &ImageInfo,
    present: impl FnOnce() -> u64,
) -> Option<NativeCheck> {
    let native = TransferSyntaxRegistry
        .get(&info.transfer_syntax_uid)
        .is_some_and(|t| t.can_decode_all() && t.is_codec_free());
    // The byte order `native_le_frame` reads (a deflated data set is not codec free).
    let little_endian = matches!(
        info.transfer_syntax_uid.as_str(),
        "1.2.840.10008.1.2" | "1.2.840.10008.1.2.1"
    );
    let grey = matches!(
        info.photometric.as_deref(),
        Some("MONOCHROME1" | "MONOCHROME2")
    );
    if !info.has_pixels
        || !native
        || !little_endian
        || !grey
        || info.samples_per_pixel != 1
        || !matches!(info.bits_allocated, 8 | 16)
        || info.modality_lut.is_some()
        || info.voi_lut.is_some()
    {
        return None;
    }
    if info.frames == 0 {
        return Some(NativeCheck::Decodes { frames: 0 });
    }
    // From here, the steps of `decode_frame_with` for this kind, in its order; each refusal
    // is the same for every frame.
    let frame_bits = match check_size(info) {
        Ok(bits) => bits,
        Err(error) => return Some(NativeCheck::Refused { frame: 0, error }),
    };
    let claimed = (frame_bits * u64::from(info.frames)).div_ceil(8);
    if claimed > NATIVE_CHECK_MAX_BYTES {
        return None;
    }
    let present = present();
    if present < claimed {
        return Some(NativeCheck::Refused {
            frame: 0,
            error: ImagingError::PixelDataTooShort { claimed, present },
        });
    }
    Some(NativeCheck::Decodes {
        frames: info.frames,
    })
}

const RLE_LOSSLESS: &str = "1.2.840.10008.1.2.5";

/// Uncompressed little-endian single-sample frames (most CT, MR, CR, DX) straight from the
/// element's bytes: one pass into typed samples, no intermediate copy (the general decoder copies
/// the frame once more before the samples are built).
fn native_le_frame(
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
fn ybr422_frame(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> Result<Frame> {
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

fn rle_frame(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> Result<Frame> {
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
fn bit_frame(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> Result<Frame> {
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

fn planar_config(obj: &DefaultDicomObject) -> i64 {
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
fn interleave(samples: Samples, pixels: usize, spp: usize) -> Samples {
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

#[cfg(test)]
mod tests;
