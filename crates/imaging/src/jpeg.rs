//! JPEG frames: greyscale (baseline, 12-bit extended, lossless) through `countersign-jpeg` —
//! lossless single-component streams by its Rust decoder, the rest by libjpeg-turbo — and RGB
//! stored without a colour transform through libjpeg-turbo. Other colour JPEG goes through
//! dicom-pixeldata, whose JPEG decoder (`jpeg-decoder`) is Rust and applies what the DICOM
//! header says about the colour components.
//!
//! [`lossless_frame_in_rust`] and [`colour_in_rust`] tell the in-process renderer which frames
//! Rust code alone decodes (see [`crate::DicomImage::render_in_rust`]).

use std::borrow::Cow;

use std::panic::{catch_unwind, AssertUnwindSafe};

use countersign_jpeg::{
    decode_grey, decode_lossless, decode_untransformed_rgb, GreyImage, GreySamples, JpegError,
};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use crate::decode::{frame_of, to_samples, Frame};
use crate::error::{ImagingError, Result};
use crate::meta::ImageInfo;

/// JPEG processes 1, 2/4 and 14 (dicom-pixeldata decodes them all with `jpeg-decoder`).
pub(crate) const JPEG_SYNTAXES: [&str; 4] = [
    "1.2.840.10008.1.2.4.50", // baseline
    "1.2.840.10008.1.2.4.51", // extended (12-bit)
    "1.2.840.10008.1.2.4.57", // lossless
    "1.2.840.10008.1.2.4.70", // lossless, first-order prediction
];

/// Decodes frame `frame` when it is a greyscale JPEG this path handles; `None` hands the frame to
/// the general decoder (colour, or fragments that need the offset table to split).
pub(crate) fn grey_jpeg_frame(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
) -> Result<Option<Frame>> {
    if info.samples_per_pixel != 1 || !JPEG_SYNTAXES.contains(&info.transfer_syntax_uid.as_str()) {
        return Ok(None);
    }
    let Some(stream) = frame_stream(obj, info.frames, frame) else {
        return Ok(None);
    };
    // `decode_grey` tries the Rust lossless decoder first, in this process: a panic in it on
    // hostile bytes costs this file, not the application (as in `lossless_frame_in_rust`).
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        decode_grey(&stream, info.rows, info.columns)
    }))
    .map_err(|_| ImagingError::Decode("the decoder failed on this file".into()))?
    .map_err(|e| ImagingError::Decode(e.to_string()))?;
    grey_frame(obj, info, decoded).map(Some)
}

const LOSSLESS_SYNTAXES: [&str; 2] = ["1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70"];

/// Frame `frame` of a single-component lossless JPEG decoded by the Rust decoder alone;
/// `None` when it needs libjpeg-turbo (another syntax or JPEG process, several components,
/// fragments that need the offset table to split).
pub(crate) fn lossless_frame_in_rust(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
) -> Result<Option<Frame>> {
    if info.samples_per_pixel != 1
        || !LOSSLESS_SYNTAXES.contains(&info.transfer_syntax_uid.as_str())
    {
        return Ok(None);
    }
    let Some(stream) = frame_stream(obj, info.frames, frame) else {
        return Ok(None);
    };
    // The decoder is written not to panic (and fuzzed); a panic in it on hostile bytes would
    // still cost this file, not the application.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        decode_lossless(&stream, info.rows, info.columns)
    }))
    .map_err(|_| ImagingError::Decode("the decoder failed on this file".into()))?;
    match decoded {
        Ok(decoded) => grey_frame(obj, info, decoded).map(Some),
        Err(JpegError::Unsupported(_)) => Ok(None),
        Err(e) => Err(ImagingError::Decode(e.to_string())),
    }
}

/// The largest colour JPEG frame decoded in this process (8 Mpx: 24 MiB of RGB).
pub(crate) const MAX_IN_PROCESS_PIXELS: u64 = 8 * 1024 * 1024;

/// Whether frame `frame` is colour JPEG that dicom-pixeldata's `jpeg-decoder` (Rust) may decode
/// in this process: lossy, 8-bit, sequential (baseline or extended Huffman), at most one scan
/// per component, and not RGB stored without a colour transform (that is libjpeg-turbo's).
///
/// `jpeg-decoder` has no scan limit and no time limit of its own (libjpeg-turbo, in the worker,
/// stops at 500 scans, and the worker at its time budget): a progressive stream of thousands of
/// scans could keep it busy for seconds. A sequential stream with one scan per component costs
/// time in proportion to its pixels and bytes, and the frame header has been checked against
/// the DICOM header (`codestream::check`), so what it allocates is bounded by the frame.
pub(crate) fn colour_in_rust(obj: &DefaultDicomObject, info: &ImageInfo, frame: u32) -> bool {
    // Exactly one fragment per frame: the bytes checked here are then the very bytes
    // dicom-pixeldata hands `jpeg-decoder` (with several fragments it follows the offset table,
    // which could point past a harmless first fragment to a progressive stream of thousands of
    // scans; review finding, 2026-12-01). And a frame small enough that what `jpeg-decoder`
    // allocates in this process (its planes, the output, the presented copy) stays modest:
    // larger ones go to the worker, under its memory limit.
    let one_per_frame = obj
        .get(tags::PIXEL_DATA)
        .and_then(|p| p.fragments())
        .is_some_and(|f| f.len() == info.frames as usize);
    if !one_per_frame || u64::from(info.rows) * u64::from(info.columns) > MAX_IN_PROCESS_PIXELS {
        return false;
    }
    let lossy = matches!(
        info.transfer_syntax_uid.as_str(),
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51"
    );
    if !lossy || info.samples_per_pixel != 3 || info.bits_allocated != 8 {
        return false;
    }
    if untransformed_rgb_stream(obj, info, frame).is_some() {
        return false;
    }
    let Some(stream) = frame_stream(obj, info.frames, frame) else {
        return false;
    };
    let eight_bit = countersign_jpeg::frame_header(&stream).is_some_and(|h| h.precision == 8);
    let scans = countersign_jpeg::sequential_scans(&stream);
    eight_bit && scans.is_some_and(|n| (1..=3).contains(&n))
}

/// Decoded grey samples as the frame's typed samples, at the DICOM header's bit depth.
fn grey_frame(obj: &DefaultDicomObject, info: &ImageInfo, decoded: GreyImage) -> Result<Frame> {
    let bytes: Vec<u8> = match (decoded.samples, info.bits_allocated) {
        (GreySamples::U8(v), 8) => v,
        (GreySamples::U8(v), 16) => v.into_iter().flat_map(|b| [b, 0]).collect(),
        (GreySamples::U16(v), 16) => v.into_iter().flat_map(u16::to_le_bytes).collect(),
        (_, bits) => {
            return Err(ImagingError::Decode(format!(
                "{}-bit JPEG samples do not fit {bits} bits allocated",
                decoded.precision
            )))
        }
    };
    let bits_stored = info.bits_stored.clamp(1, info.bits_allocated);
    let n = info.rows as usize * info.columns as usize;
    let samples = to_samples(&bytes, info.bits_allocated, bits_stored, info.signed, n)?;
    let photometric = info
        .photometric
        .clone()
        .unwrap_or_else(|| "MONOCHROME2".into());
    frame_of(obj, info, 1, photometric, bits_stored, samples)
}

/// Lossy JPEG whose DICOM header says RGB but whose stream carries neither a JFIF nor an Adobe
/// marker: the components are R, G and B as stored, but a JPEG decoder left to itself takes them
/// for YCbCr and shows wrong colours. Decoded here with the colour space the header gives.
pub(crate) fn untransformed_rgb_jpeg_frame(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
) -> Result<Option<Frame>> {
    let Some(stream) = untransformed_rgb_stream(obj, info, frame) else {
        return Ok(None);
    };
    let rgb = decode_untransformed_rgb(&stream, info.rows, info.columns)
        .map_err(|e| ImagingError::Decode(e.to_string()))?;
    frame_of(
        obj,
        info,
        3,
        "RGB".into(),
        8,
        crate::decode::Samples::U8(rgb),
    )
    .map(Some)
}

/// The stream of frame `frame` when it is lossy 8-bit RGB without a JFIF or Adobe marker.
fn untransformed_rgb_stream<'a>(
    obj: &'a DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
) -> Option<Cow<'a, [u8]>> {
    let lossy = matches!(
        info.transfer_syntax_uid.as_str(),
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51"
    );
    if !lossy
        || info.photometric.as_deref() != Some("RGB")
        || info.samples_per_pixel != 3
        || info.bits_allocated != 8
    {
        return None;
    }
    let stream = frame_stream(obj, info.frames, frame)?;
    let head = &stream[..stream.len().min(4096)];
    let has = |marker: &[u8]| head.windows(marker.len()).any(|w| w == marker);
    if has(b"JFIF\0") || has(b"Adobe") {
        return None;
    }
    Some(stream)
}

/// The codestream of one frame: one fragment per frame, or every fragment of a single frame.
fn frame_stream(obj: &DefaultDicomObject, frames: u32, frame: u32) -> Option<Cow<'_, [u8]>> {
    let fragments = obj.get(tags::PIXEL_DATA)?.fragments()?;
    if fragments.len() == frames as usize {
        return fragments.get(frame as usize).map(|f| Cow::Borrowed(&f[..]));
    }
    (frames == 1).then(|| Cow::Owned(fragments.concat()))
}
