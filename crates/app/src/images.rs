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
/// Pixels that reach a C codec (JPEG, JPEG-LS, JPEG 2000: see
/// [`countersign_imaging::needs_c_codec`]) are decoded, presented and encoded only in the
/// sandboxed worker (see [`crate::sandbox`]): one that crashes it, hangs or runs out of memory
/// is refused, and this process decodes nothing of it. Native, deflated and RLE pixel data are
/// read by this crate's Rust code alone, every length checked before allocating, so they are
/// rendered here: one decode, not two, and no worker to start for the most common files.
pub fn image_render_png(
    path: &Path,
    frame: u32,
    window: WindowChoice,
    max_side: Option<u32>,
) -> Result<Vec<u8>> {
    let bytes = countersign_imaging::read_file(path)?;
    let image = countersign_imaging::from_bytes(&bytes)?;
    if !countersign_imaging::needs_c_codec(&image.info) {
        let mut rendered = image.render(frame, window)?;
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
    match DecodeSandbox::new().render_png(&bytes, &image.info, request)? {
        Ok(png) => {
            check_png(&png, &image.info, max_side)?;
            Ok(png)
        }
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

/// What the worker sent is a PNG of the size the header declares (or no larger than the
/// thumbnail asked for): a worker a hostile file took over writes nothing else to the output.
fn check_png(png: &[u8], info: &ImageInfo, max_side: Option<u32>) -> Result<()> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let size = |at: usize| {
        png.get(at..at + 4)
            .map(|b| u32::from_be_bytes(b.try_into().expect("4 bytes")))
    };
    let fits = match (size(16), size(20)) {
        (Some(w), Some(h)) => match max_side {
            None => w == info.columns && h == info.rows,
            Some(side) => {
                w <= info.columns.max(1) && h <= info.rows.max(1) && w.max(h) <= side.max(1)
            }
        },
        _ => false,
    };
    if png.starts_with(SIGNATURE) && fits {
        Ok(())
    } else {
        Err(AppError::ImageRefused(
            "the decode worker answered with something other than the image asked for".into(),
        ))
    }
}

impl From<ImagingError> for AppError {
    fn from(e: ImagingError) -> Self {
        AppError::Image(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_png_of_the_declared_size_is_taken_from_the_worker() {
        let path = countersign_testkit::corpus("examples_ybr_color.dcm");
        let image = countersign_imaging::open(&path).unwrap();
        let rendered = image.render(0, WindowChoice::Default).unwrap();
        let png = countersign_imaging::to_png(&rendered).unwrap();
        assert!(check_png(&png, &image.info, None).is_ok());
        let thumb =
            countersign_imaging::to_png(&countersign_imaging::thumbnail(&rendered, 32)).unwrap();
        assert!(check_png(&thumb, &image.info, Some(32)).is_ok());
        // A smaller image where the whole frame was asked for, one larger than the thumbnail
        // asked for, and bytes that are not a PNG: all refused.
        assert!(check_png(&thumb, &image.info, None).is_err());
        assert!(check_png(&png, &image.info, Some(32)).is_err());
        assert!(check_png(b"P5 1 1 255 x", &image.info, None).is_err());
        assert!(check_png(&png[..20], &image.info, None).is_err());
    }
}
