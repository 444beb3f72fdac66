//! Output for the GPU viewer: stored grey samples as raw 16-bit bytes plus the transform the
//! shader applies (rescale, window, inversion), and small previews for study lists.

use serde::Serialize;

use crate::decode::{Frame, Samples};
use crate::error::{ImagingError, Result};
use crate::meta::{ImageInfo, Window};
use crate::present::Rendered;

/// A grey frame as the GPU path wants it: `samples` holds `width × height` 16-bit values,
/// little endian, signed or not; modality value = sample × slope + intercept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RawFrame {
    pub width: u32,
    pub height: u32,
    pub signed: bool,
    pub slope: f64,
    pub intercept: f64,
    /// The default window in modality units (the header's first, else min–max).
    pub window: Window,
    pub invert: bool,
    #[serde(skip)]
    pub samples: Vec<u8>,
}

/// Raw 16-bit samples of a grey frame of at most 16 bits without a Modality LUT Sequence;
/// anything else is presented on the CPU (`present`).
pub fn raw_frame(frame: &Frame, info: &ImageInfo) -> Result<RawFrame> {
    let unsupported = |why: &str| Err(ImagingError::Unsupported(format!("raw GPU frames: {why}")));
    if frame.samples_per_pixel != 1
        || !matches!(frame.photometric.as_str(), "MONOCHROME1" | "MONOCHROME2")
    {
        return unsupported("not a grey image");
    }
    if info.modality_lut.is_some() {
        return unsupported("Modality LUT Sequence");
    }
    let (samples, signed, lo, hi): (Vec<u8>, bool, i64, i64) = match &frame.samples {
        Samples::U8(v) => (
            v.iter().flat_map(|x| u16::from(*x).to_le_bytes()).collect(),
            false,
            min(v),
            max(v),
        ),
        Samples::U16(v) => (
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            false,
            min(v),
            max(v),
        ),
        Samples::I16(v) => (
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            true,
            min(v),
            max(v),
        ),
        _ => return unsupported("samples wider than 16 bits"),
    };
    let (slope, intercept) = (info.rescale_slope, info.rescale_intercept);
    let (a, b) = (lo as f64 * slope + intercept, hi as f64 * slope + intercept);
    let window = info.windows.first().copied().unwrap_or(Window {
        center: (a.min(b) + a.max(b)) / 2.0 + 0.5,
        width: (a - b).abs() + 1.0,
    });
    Ok(RawFrame {
        width: frame.columns,
        height: frame.rows,
        signed,
        slope,
        intercept,
        window,
        invert: frame.photometric == "MONOCHROME1",
        samples,
    })
}

fn min<T: Copy + Ord + Into<i64>>(v: &[T]) -> i64 {
    v.iter().copied().min().map_or(0, Into::into)
}

fn max<T: Copy + Ord + Into<i64>>(v: &[T]) -> i64 {
    v.iter().copied().max().map_or(0, Into::into)
}

/// A preview no larger than `side` × `side`, each output pixel the mean of the block it covers.
pub fn thumbnail(image: &Rendered, side: u32) -> Rendered {
    let scale = (image.width.max(image.height) as f64 / f64::from(side.max(1))).max(1.0);
    let (w, h) = (
        ((image.width as f64 / scale).round() as u32).max(1),
        ((image.height as f64 / scale).round() as u32).max(1),
    );
    let c = image.channels as usize;
    let mut pixels = Vec::with_capacity(w as usize * h as usize * c);
    for y in 0..h {
        let (y0, y1) = block(y, h, image.height);
        for x in 0..w {
            let (x0, x1) = block(x, w, image.width);
            for ch in 0..c {
                let (mut sum, mut n) = (0u64, 0u64);
                for yy in y0..y1 {
                    for xx in x0..x1 {
                        sum += u64::from(
                            image.pixels
                                [(yy as usize * image.width as usize + xx as usize) * c + ch],
                        );
                        n += 1;
                    }
                }
                pixels.push(((sum + n / 2) / n.max(1)) as u8);
            }
        }
    }
    Rendered {
        width: w,
        height: h,
        channels: image.channels,
        pixels,
        window: image.window,
    }
}

/// The source range [start, end) that output index `i` of `n` covers in `total`.
fn block(i: u32, n: u32, total: u32) -> (u32, u32) {
    let start = (u64::from(i) * u64::from(total) / u64::from(n)) as u32;
    let end = ((u64::from(i) + 1) * u64::from(total) / u64::from(n)) as u32;
    (start, end.max(start + 1).min(total))
}
