//! Image use cases: what a file is, and a rendered frame as PNG.

use std::path::Path;

use countersign_imaging::{ImageInfo, ImagingError, WindowChoice};

use crate::error::{AppError, Result};
use crate::sandbox::{DecodeSandbox, Verdict};

/// Metadata of a DICOM file, including non-image objects (named, not treated as broken).
pub fn image_info(path: &Path) -> Result<ImageInfo> {
    Ok(countersign_imaging::open(path)?.info)
}

/// Renders frame `frame` of a file to PNG bytes; with `max_side`, as a thumbnail no larger.
/// The file is decoded in the sandboxed worker first (see [`crate::sandbox`]): one that crashes
/// it, hangs or runs out of memory is refused without being decoded here.
pub fn image_render_png(
    path: &Path,
    frame: u32,
    window: WindowChoice,
    max_side: Option<u32>,
) -> Result<Vec<u8>> {
    let bytes = countersign_imaging::read_file(path)?;
    let image = countersign_imaging::from_bytes(&bytes)?;
    if image.info.has_pixels {
        match DecodeSandbox::new().check_parsed(&bytes, &image.info)? {
            Verdict::Harmless { error: None, .. } => {}
            Verdict::Harmless {
                error: Some(message),
                ..
            }
            | Verdict::Refused { message, .. } => return Err(AppError::ImageRefused(message)),
        }
    }
    let mut rendered = image.render(frame, window)?;
    if let Some(side) = max_side {
        rendered = countersign_imaging::thumbnail(&rendered, side);
    }
    Ok(countersign_imaging::to_png(&rendered)?)
}

impl From<ImagingError> for AppError {
    fn from(e: ImagingError) -> Self {
        AppError::Image(e)
    }
}
