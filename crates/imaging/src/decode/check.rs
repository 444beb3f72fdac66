//! Whether every frame of an image would decode and present, answered from its header and
//! the pixel data's length alone, without decoding (see [`native_check`]).

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};

use super::check_size;
use crate::error::ImagingError;
use crate::meta::ImageInfo;

/// The most pixel bytes (all frames) [`native_check`] answers for: a larger file goes to the
/// confined decode worker, whose memory and time limits could refuse it where arithmetic
/// would not (a 512² CT slice is 0.5 MiB, a 4300² 16-bit mammogram 35 MiB).
///
/// [`native_check`]: crate::DicomImage::native_check
pub const NATIVE_CHECK_MAX_BYTES: u64 = 64 << 20;

/// What decoding and presenting every frame of an image would come to (see [`native_check`]).
///
/// [`native_check`]: crate::DicomImage::native_check
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
