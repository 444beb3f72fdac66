//! Presentation: stored values → modality values (rescale) → VOI window → 8 bits, with
//! MONOCHROME1 inverted; colour converted to RGB. Integer grey images go through one lookup
//! table built over the range of values actually present, so the per-pixel work is one load.

use serde::Serialize;

use crate::decode::{Frame, Samples};
use crate::error::{ImagingError, Result};
use crate::meta::{ImageInfo, Window};

/// Which VOI window to apply to a grey image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum WindowChoice {
    /// The first window in the header, else the frame's min–max.
    Default,
    /// A given centre and width, in modality units.
    Explicit(Window),
    /// The frame's minimum and maximum modality values.
    MinMax,
}

/// An 8-bit image ready for display or PNG: 1 channel (grey) or 3 (RGB), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
    /// The window that was applied, for grey images.
    pub window: Option<Window>,
}

/// The DICOM linear VOI function (PS3.3 C.11.2.1.2.1) to 0..=255.
fn linear(x: f64, w: Window) -> u8 {
    let c = w.center - 0.5;
    let width = w.width - 1.0;
    if width <= 0.0 {
        return if x <= c { 0 } else { 255 };
    }
    let y = ((x - c) / width + 0.5) * 255.0;
    y.round().clamp(0.0, 255.0) as u8
}

/// Renders a decoded frame.
pub fn present(frame: &Frame, info: &ImageInfo, choice: WindowChoice) -> Result<Rendered> {
    match (frame.samples_per_pixel, frame.photometric.as_str()) {
        (1, "MONOCHROME1" | "MONOCHROME2") => Ok(grey(frame, info, choice)),
        (3, "RGB") => Ok(rgb(frame, |r, g, b| [r, g, b])),
        (3, "YBR_FULL") => Ok(rgb(frame, ybr_full_to_rgb)),
        (1, "PALETTE COLOR") => match &frame.palette {
            Some(p) => Ok(palette(frame, p)),
            None => Err(ImagingError::BadAttribute {
                attribute: "Palette Color Lookup Table",
                reason: "missing".into(),
            }),
        },
        (spp, pi) => Err(ImagingError::Unsupported(format!(
            "photometric interpretation {pi} with {spp} samples per pixel"
        ))),
    }
}

fn min_max(samples: &Samples) -> (i64, i64) {
    // One pass for both ends, over chunks the compiler vectorises (two passes cost as much as
    // the whole lookup-table pass that follows).
    fn go<T: Copy + Ord + Into<i64>>(v: &[T]) -> (i64, i64) {
        let Some(&first) = v.first() else {
            return (0, 0);
        };
        let (lo, hi) = v.chunks(4096).fold((first, first), |(lo, hi), chunk| {
            let (l, h) = chunk
                .iter()
                .fold((lo, hi), |(l, h), &x| (l.min(x), h.max(x)));
            (l, h)
        });
        (lo.into(), hi.into())
    }
    match samples {
        Samples::U8(v) => go(v),
        Samples::U16(v) => go(v),
        Samples::I16(v) => go(v),
        Samples::U32(v) => go(v),
        Samples::I32(v) => go(v),
    }
}

fn grey(frame: &Frame, info: &ImageInfo, choice: WindowChoice) -> Rendered {
    let (slope, intercept) = (info.rescale_slope, info.rescale_intercept);
    let modality = |v: i64| match &info.modality_lut {
        Some(lut) => lut.get(v) as f64,
        None => v as f64 * slope + intercept,
    };
    let (lo, hi) = min_max(&frame.samples);
    let min_max_window = || {
        let (a, b) = (modality(lo), modality(hi));
        let (a, b) = (a.min(b), a.max(b));
        // A window whose linear ramp maps the minimum to 0 and the maximum to 255.
        Window {
            center: (a + b) / 2.0 + 0.5,
            width: (b - a) + 1.0,
        }
    };
    // The header's VOI LUT stands in for a window when there is none.
    let voi_lut = match choice {
        WindowChoice::Default if info.windows.is_empty() => info.voi_lut.as_ref(),
        _ => None,
    };
    let window = match choice {
        WindowChoice::Explicit(w) => w,
        WindowChoice::MinMax => min_max_window(),
        WindowChoice::Default => info.windows.first().copied().unwrap_or_else(min_max_window),
    };
    let invert = frame.photometric == "MONOCHROME1";
    let out = |v: i64| {
        let y = match voi_lut {
            Some(lut) => {
                let max = ((1u64 << lut.bits.clamp(1, 16)) - 1) as f64;
                (lut.get(modality(v).round() as i64) as f64 * 255.0 / max)
                    .round()
                    .clamp(0.0, 255.0) as u8
            }
            None => linear(modality(v), window),
        };
        if invert {
            255 - y
        } else {
            y
        }
    };
    let pixels = if hi - lo < (1 << 20) {
        let lut: Vec<u8> = (lo..=hi).map(out).collect();
        match &frame.samples {
            Samples::U8(v) => v
                .iter()
                .map(|x| lut[(i64::from(*x) - lo) as usize])
                .collect(),
            Samples::U16(v) => v
                .iter()
                .map(|x| lut[(i64::from(*x) - lo) as usize])
                .collect(),
            Samples::I16(v) => v
                .iter()
                .map(|x| lut[(i64::from(*x) - lo) as usize])
                .collect(),
            s => (0..s.len())
                .map(|i| lut[(s.get(i) - lo) as usize])
                .collect(),
        }
    } else {
        (0..frame.samples.len())
            .map(|i| out(frame.samples.get(i)))
            .collect()
    };
    Rendered {
        width: frame.columns,
        height: frame.rows,
        channels: 1,
        pixels,
        window: voi_lut.is_none().then_some(window),
    }
}

/// YBR_FULL to RGB (PS3.3 C.7.6.3.1.2).
fn ybr_full_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
    let c = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    [
        c(y + 1.402 * cr),
        c(y - 0.344136 * cb - 0.714136 * cr),
        c(y + 1.772 * cb),
    ]
}

fn rgb(frame: &Frame, convert: impl Fn(u8, u8, u8) -> [u8; 3]) -> Rendered {
    // Wider samples are scaled linearly from their stored range to 8 bits.
    let max = ((1u64 << frame.bits_stored.min(32)) - 1) as f64;
    let to8 = |v: i64| -> u8 {
        if frame.bits_stored <= 8 {
            v.clamp(0, 255) as u8
        } else {
            (v as f64 * 255.0 / max).round().clamp(0.0, 255.0) as u8
        }
    };
    let s = &frame.samples;
    let mut pixels = Vec::with_capacity(s.len());
    // 8-bit samples (colour JPEG, US, secondary capture: nearly every colour image) go
    // straight through, without widening each sample to i64 and back.
    if let (Samples::U8(v), true) = (s, frame.bits_stored <= 8) {
        for p in v.chunks_exact(3) {
            pixels.extend_from_slice(&convert(p[0], p[1], p[2]));
        }
        return Rendered {
            width: frame.columns,
            height: frame.rows,
            channels: 3,
            pixels,
            window: None,
        };
    }
    for i in (0..s.len()).step_by(3) {
        pixels.extend_from_slice(&convert(
            to8(s.get(i)),
            to8(s.get(i + 1)),
            to8(s.get(i + 2)),
        ));
    }
    Rendered {
        width: frame.columns,
        height: frame.rows,
        channels: 3,
        pixels,
        window: None,
    }
}

fn palette(frame: &Frame, p: &crate::decode::Palette) -> Rendered {
    let to8 = |lut: &crate::meta::Lut, v: i64| -> u8 {
        let max = ((1u64 << lut.bits.clamp(1, 16)) - 1) as f64;
        (lut.get(v) as f64 * 255.0 / max).round().clamp(0.0, 255.0) as u8
    };
    let s = &frame.samples;
    let mut pixels = Vec::with_capacity(s.len() * 3);
    // One table of the three 8-bit outputs for every value the samples can hold: a pass of
    // loads instead of three lookups and three float conversions per pixel.
    let table = |values: std::ops::Range<i64>| -> Vec<[u8; 3]> {
        values
            .map(|v| [to8(&p.rgb[0], v), to8(&p.rgb[1], v), to8(&p.rgb[2], v)])
            .collect()
    };
    match s {
        Samples::U8(v) => {
            let t = table(0..256);
            for &x in v {
                pixels.extend_from_slice(&t[usize::from(x)]);
            }
        }
        Samples::U16(v) if v.len() >= 1 << 16 => {
            let t = table(0..1 << 16);
            for &x in v {
                pixels.extend_from_slice(&t[usize::from(x)]);
            }
        }
        _ => {
            for i in 0..s.len() {
                let v = s.get(i);
                pixels.extend(p.rgb.iter().map(|channel| to8(channel, v)));
            }
        }
    }
    Rendered {
        width: frame.columns,
        height: frame.rows,
        channels: 3,
        pixels,
        window: None,
    }
}

/// Encodes a rendered image as PNG.
pub fn to_png(image: &Rendered) -> Result<Vec<u8>> {
    // Room for about 2:1 up front (what the fast setting makes of most medical images), so
    // the output is not copied on every doubling as it grows.
    let mut out = Vec::with_capacity(image.pixels.len() / 2 + 4096);
    let mut encoder = png::Encoder::new(&mut out, image.width, image.height);
    encoder.set_color(if image.channels == 3 {
        png::ColorType::Rgb
    } else {
        png::ColorType::Grayscale
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ImagingError::Png(e.to_string()))?;
    writer
        .write_image_data(&image.pixels)
        .map_err(|e| ImagingError::Png(e.to_string()))?;
    writer
        .finish()
        .map_err(|e| ImagingError::Png(e.to_string()))?;
    Ok(out)
}
