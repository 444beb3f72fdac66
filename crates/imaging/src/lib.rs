//! Countersign imaging: open DICOM files, read what they say about themselves, decode frames of
//! every transfer syntax the codecs support, and present them for a reader — modality rescale,
//! VOI window, MONOCHROME1 inversion, colour to RGB — as 8-bit pixels or PNG.
//!
//! Every size is checked against what the file holds and against fixed limits before anything is
//! allocated; a malformed file gives an [`ImagingError`], never a panic.
//!
//! ```no_run
//! use countersign_imaging::{open, WindowChoice};
//!
//! let image = open(std::path::Path::new("CT_small.dcm")).unwrap();
//! println!("{} {}×{}", image.info.sop_class, image.info.columns, image.info.rows);
//! let rendered = image.render(0, WindowChoice::Default).unwrap();
//! std::fs::write("ct.png", countersign_imaging::to_png(&rendered).unwrap()).unwrap();
//! ```

mod codestream;
mod decode;
mod error;
#[doc(hidden)]
pub mod fuzz_checks;
mod geometry;
mod jpeg;
mod meta;
mod open;
mod phantom;
mod present;
mod raw;
mod rle;
mod segmented;
pub mod sr;

// The header pass before parsing lives low, in its own crate, so that pacs checks what an archive
// sends with the same walk.
use countersign_prescan as prescan;

use std::path::Path;

pub use decode::{Frame, NativeCheck, Samples, MAX_DECODED_BYTES, NATIVE_CHECK_MAX_BYTES};
pub use error::{ImagingError, Result};
pub use geometry::{nearest_slice, slice_geometry, slice_geometry_centred, Plane, SliceGeometry};
pub use meta::{ImageInfo, Lut, Window};
pub use open::{open_bytes, read_file, MAX_FILE_BYTES};
pub use phantom::{phantom_hu, phantom_study_uid, write_phantom_series, PhantomSpec};
pub use present::{present, to_png, Rendered, WindowChoice};
pub use raw::{raw_frame, thumbnail, RawFrame};

/// An opened DICOM file and its metadata.
#[derive(Debug)]
pub struct DicomImage {
    pub object: dicom_object::DefaultDicomObject,
    pub info: ImageInfo,
}

/// Opens a DICOM file (Part 10, or a bare data set).
pub fn open(path: &Path) -> Result<DicomImage> {
    from_bytes(&open::read_file(path)?)
}

/// Opens DICOM bytes.
pub fn from_bytes(bytes: &[u8]) -> Result<DicomImage> {
    Ok(with_info(open_bytes(bytes)?))
}

fn with_info(mut object: dicom_object::DefaultDicomObject) -> DicomImage {
    // A Number of Frames that is not a number (badVR.dcm) is read as one frame, as DCMTK does,
    // rather than refusing the whole image.
    let frames = object.get(dicom_dictionary_std::tags::NUMBER_OF_FRAMES);
    if frames.is_some_and(|e| e.to_int::<i64>().is_err()) {
        object.put(dicom_core::DataElement::new(
            dicom_dictionary_std::tags::NUMBER_OF_FRAMES,
            dicom_core::VR::IS,
            dicom_core::PrimitiveValue::from("1"),
        ));
    }
    let info = meta::info(&object);
    DicomImage { object, info }
}

/// What an import needs of a DICOM file to judge and index it — its metadata, and for
/// uncompressed greyscale whether every frame would decode — read without a copy of its
/// pixel data where the file allows (see [`read_header`]).
#[derive(Debug)]
pub struct DicomHeader {
    pub info: ImageInfo,
    /// [`DicomImage::native_check`] of the file.
    pub native: Option<NativeCheck>,
}

/// The same as [`from_bytes`] followed by [`DicomImage::native_check`] — the same metadata,
/// the same answer, the same refusal in the same words — without parsing the pixel data of a
/// Part 10 file whose Pixel Data is plain bytes of a defined length (most CT and MR slices):
/// its length is read from the element's header, after the whole file's pre-scan has found
/// those bytes present. Other files are parsed whole.
pub fn read_header(bytes: &[u8]) -> Result<DicomHeader> {
    if let Some((object, present)) = open::open_header(bytes)? {
        let image = with_info(object);
        let native = decode::native_check_with(&image.info, || present);
        return Ok(DicomHeader {
            info: image.info,
            native,
        });
    }
    let image = from_bytes(bytes)?;
    let native = image.native_check();
    Ok(DicomHeader {
        info: image.info,
        native,
    })
}

impl DicomImage {
    /// Decodes frame `frame` (0-based).
    pub fn frame(&self, frame: u32) -> Result<Frame> {
        decode::decode_frame(&self.object, &self.info, frame)
    }

    /// Decodes and presents frame `frame` as 8-bit pixels.
    pub fn render(&self, frame: u32, window: WindowChoice) -> Result<Rendered> {
        present(&self.frame(frame)?, &self.info, window)
    }

    /// What decoding and presenting every frame would come to, worked out without decoding,
    /// for uncompressed greyscale images (see [`NativeCheck`]); `None` for others.
    pub fn native_check(&self) -> Option<NativeCheck> {
        decode::native_check(&self.object, &self.info)
    }

    /// As [`DicomImage::render`], with decoders written in Rust only: `Ok(None)` when the
    /// frame's pixels need a C or C++ codec (libjpeg-turbo for greyscale lossy JPEG and
    /// untransformed RGB, CharLS, OpenJPEG), decided before any of them runs — a caller that
    /// keeps those in the confined decode worker sends it only these files.
    pub fn render_in_rust(&self, frame: u32, window: WindowChoice) -> Result<Option<Rendered>> {
        match decode::decode_frame_with(&self.object, &self.info, frame, decode::Codecs::RustOnly)?
        {
            Some(decoded) => present(&decoded, &self.info, window).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;
