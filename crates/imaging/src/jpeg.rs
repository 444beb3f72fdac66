//! JPEG frames through libjpeg-turbo, via `countersign-jpeg`: greyscale (baseline, 12-bit
//! extended, lossless), and RGB stored without a colour transform. Other colour JPEG goes through
//! dicom-pixeldata, which applies what the DICOM header says about the colour components.

use std::borrow::Cow;

use countersign_jpeg::{decode_grey, decode_untransformed_rgb, GreySamples};
use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use crate::decode::{frame_of, to_samples, Frame};
use crate::error::{ImagingError, Result};
use crate::meta::ImageInfo;

const JPEG_SYNTAXES: [&str; 4] = [
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
    let decoded = decode_grey(&stream, info.rows, info.columns)
        .map_err(|e| ImagingError::Decode(e.to_string()))?;
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
    frame_of(obj, info, 1, photometric, bits_stored, samples).map(Some)
}

/// Lossy JPEG whose DICOM header says RGB but whose stream carries neither a JFIF nor an Adobe
/// marker: the components are R, G and B as stored, but a JPEG decoder left to itself takes them
/// for YCbCr and shows wrong colours. Decoded here with the colour space the header gives.
pub(crate) fn untransformed_rgb_jpeg_frame(
    obj: &DefaultDicomObject,
    info: &ImageInfo,
    frame: u32,
) -> Result<Option<Frame>> {
    let lossy = matches!(
        info.transfer_syntax_uid.as_str(),
        "1.2.840.10008.1.2.4.50" | "1.2.840.10008.1.2.4.51"
    );
    if !lossy
        || info.photometric.as_deref() != Some("RGB")
        || info.samples_per_pixel != 3
        || info.bits_allocated != 8
    {
        return Ok(None);
    }
    let Some(stream) = frame_stream(obj, info.frames, frame) else {
        return Ok(None);
    };
    let head = &stream[..stream.len().min(4096)];
    let has = |marker: &[u8]| head.windows(marker.len()).any(|w| w == marker);
    if has(b"JFIF\0") || has(b"Adobe") {
        return Ok(None);
    }
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

/// The codestream of one frame: one fragment per frame, or every fragment of a single frame.
fn frame_stream(obj: &DefaultDicomObject, frames: u32, frame: u32) -> Option<Cow<'_, [u8]>> {
    let fragments = obj.get(tags::PIXEL_DATA)?.fragments()?;
    if fragments.len() == frames as usize {
        return fragments.get(frame as usize).map(|f| Cow::Borrowed(&f[..]));
    }
    (frames == 1).then(|| Cow::Owned(fragments.concat()))
}
