//! Image use cases: what a file is, and a rendered frame as PNG.

use std::path::Path;

use countersign_imaging::{ImageInfo, ImagingError, WindowChoice};

use crate::error::{AppError, Result};
use crate::sandbox::{DecodeSandbox, RenderRequest, Verdict};

/// Metadata of a DICOM file, including non-image objects (named, not treated as broken).
pub fn image_info(path: &Path) -> Result<ImageInfo> {
    Ok(countersign_imaging::open(path)?.info)
}

/// Renders frame `frame` of a file to PNG bytes; with `max_side`, as a thumbnail no larger.
///
/// Pixels that reach a C codec (libjpeg-turbo for greyscale lossy JPEG and untransformed RGB,
/// CharLS, OpenJPEG: see [`countersign_imaging::DicomImage::render_in_rust`], which decides
/// before any of them runs) are decoded and presented only in the sandboxed worker (see
/// [`crate::sandbox`]): one that crashes it, hangs or runs out of memory is refused, and this
/// process decodes nothing of it. Native, deflated and RLE pixel data, single-component
/// lossless JPEG and other colour JPEG are read by Rust code alone, every length checked
/// against the DICOM header before allocating and a panic caught, so they are rendered here:
/// one decode, not two, and no worker to start.
pub fn image_render_png(
    path: &Path,
    frame: u32,
    window: WindowChoice,
    max_side: Option<u32>,
) -> Result<Vec<u8>> {
    let bytes = countersign_imaging::read_file(path)?;
    let image = countersign_imaging::from_bytes(&bytes)?;
    if let Some(mut rendered) = image.render_in_rust(frame, window)? {
        if let Some(side) = max_side {
            rendered = countersign_imaging::thumbnail(&rendered, side);
        }
        return Ok(countersign_imaging::to_png(&rendered)?);
    }
    // The header is read here (it is Rust), so an out-of-range frame is told as such.
    if frame >= image.info.frames {
        return Err(ImagingError::NoSuchFrame {
            frame,
            frames: image.info.frames,
        }
        .into());
    }
    let request = RenderRequest {
        frame,
        window,
        max_side,
    };
    // The worker sends pixels of the shape asked for (checked before they are read); the PNG
    // is made here, so what is written out is this crate's own encoding.
    match DecodeSandbox::new().render(&bytes, &image.info, request)? {
        Ok(rendered) => Ok(countersign_imaging::to_png(&rendered)?),
        Err(
            Verdict::Harmless {
                error: Some(message),
                ..
            }
            | Verdict::Refused { message, .. },
        ) => Err(AppError::ImageRefused(message)),
        Err(Verdict::Harmless { error: None, .. }) => Err(AppError::ImageRefused(
            "the decode worker gave no image".into(),
        )),
    }
}

impl From<ImagingError> for AppError {
    fn from(e: ImagingError) -> Self {
        AppError::Image(e)
    }
}
