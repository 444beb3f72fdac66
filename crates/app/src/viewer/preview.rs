//! A reduced first look at a large frame: the mean of each block of pixels, small enough to
//! cross the IPC in one go and draw before the full frame (see the module docs of `viewer`).

use super::{packet_of, FRAME_PART_BYTES};
use crate::error::Result;

/// The most pixel bytes a reduced first look ([`preview_packet`]) carries: 2 MiB, two parts'
/// worth, a quarter of what a 1760² CR's full frame crosses the IPC with.
pub const PREVIEW_MAX_BYTES: usize = 2 << 20;

/// The most a preview reduces by (each side): a 65 535² image still gives a preview.
pub const PREVIEW_MAX_FACTOR: u32 = 64;

/// How much a reduced first look at a `width × height` frame of `bytes_per_pixel` shrinks each
/// side, for a viewport of `fit` pixels: `None` when the full frame is what to send at once —
/// it crosses in one part anyway (at most [`FRAME_PART_BYTES`] of pixels), or it is no larger
/// than the viewport (every one of its pixels is on screen). Else as much as the viewport
/// allows with a preview pixel still at least a screen pixel when the frame is fitted —
/// ⌊max(width / fit width, height / fit height)⌋, at least 2 — or more while the reduced
/// pixels would exceed [`PREVIEW_MAX_BYTES`] (`None` if even [`PREVIEW_MAX_FACTOR`] leaves
/// more).
pub fn preview_factor(
    width: u32,
    height: u32,
    bytes_per_pixel: usize,
    fit: (u32, u32),
) -> Option<u32> {
    let bytes = |f: u32| {
        (width.div_ceil(f) as usize)
            .saturating_mul(height.div_ceil(f) as usize)
            .saturating_mul(bytes_per_pixel)
    };
    if bytes(1) <= FRAME_PART_BYTES || (width <= fit.0 && height <= fit.1) {
        return None;
    }
    let screen = (width / fit.0.max(1)).max(height / fit.1.max(1));
    let least = screen.clamp(2, PREVIEW_MAX_FACTOR);
    (least..=PREVIEW_MAX_FACTOR).find(|&f| bytes(f) <= PREVIEW_MAX_BYTES)
}

/// The samples of one pixel: how a frame's pixel bytes read (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    U16,
    I16,
    Rgb8,
}

impl PixelFormat {
    fn parse(format: &str) -> Option<PixelFormat> {
        match format {
            "u16" => Some(PixelFormat::U16),
            "i16" => Some(PixelFormat::I16),
            "rgb8" => Some(PixelFormat::Rgb8),
            _ => None,
        }
    }

    /// Bytes a pixel.
    pub fn bytes(self) -> usize {
        match self {
            PixelFormat::U16 | PixelFormat::I16 => 2,
            PixelFormat::Rgb8 => 3,
        }
    }
}

/// The image reduced by `factor` on each side: pixel (x, y) of the result is the mean of the
/// `factor × factor` block at (x·factor, y·factor) of `pixels` (a `width × height` image in
/// `format`), each sample (each colour of RGB) on its own, rounded down; the blocks at the right
/// and bottom edges are cut short and average the pixels they hold. The result is
/// ⌈width/factor⌉ × ⌈height/factor⌉. A mean of stored values is the stored value of the mean
/// modality value (the rescale is linear), so the viewer windows it as the full frame.
///
/// `pixels` must hold the whole image and `factor` be at least 1 (the caller checked both).
pub fn reduce_by_block_mean(
    pixels: &[u8],
    width: usize,
    height: usize,
    format: PixelFormat,
    factor: usize,
) -> Vec<u8> {
    match format {
        PixelFormat::U16 => block_mean::<2>(
            pixels,
            (width, height, 1),
            factor,
            |b| i64::from(u16::from_le_bytes(b)),
            |v| (v as u16).to_le_bytes(),
        ),
        PixelFormat::I16 => block_mean::<2>(
            pixels,
            (width, height, 1),
            factor,
            |b| i64::from(i16::from_le_bytes(b)),
            |v| (v as i16).to_le_bytes(),
        ),
        PixelFormat::Rgb8 => block_mean::<1>(
            pixels,
            (width, height, 3),
            factor,
            |b| i64::from(b[0]),
            |v| [v as u8],
        ),
    }
}

/// [`reduce_by_block_mean`] for samples of `N` bytes, `channels` a pixel: one pass over the
/// rows, summing each output row's blocks in `sums` (one i64 a sample: no overflow for any
/// block of 16-bit samples under 2^47 pixels).
fn block_mean<const N: usize>(
    pixels: &[u8],
    (width, height, channels): (usize, usize, usize),
    factor: usize,
    read: impl Fn([u8; N]) -> i64,
    write: impl Fn(i64) -> [u8; N],
) -> Vec<u8> {
    let factor = factor.max(1);
    let (out_w, out_h) = (width.div_ceil(factor), height.div_ceil(factor));
    let row_bytes = width * channels * N;
    let mut out = Vec::with_capacity(out_w * out_h * channels * N);
    let mut sums = vec![0i64; out_w * channels];
    for oy in 0..out_h {
        sums.fill(0);
        let rows = oy * factor..((oy + 1) * factor).min(height);
        let block_rows = rows.len();
        for y in rows {
            let row = &pixels[y * row_bytes..(y + 1) * row_bytes];
            for (ox, block) in row.chunks(factor * channels * N).enumerate() {
                let sum = &mut sums[ox * channels..(ox + 1) * channels];
                for pixel in block.chunks_exact(channels * N) {
                    for (c, sample) in pixel.chunks_exact(N).enumerate() {
                        let mut b = [0u8; N];
                        b.copy_from_slice(sample);
                        sum[c] += read(b);
                    }
                }
            }
        }
        for ox in 0..out_w {
            let cols = ((ox + 1) * factor).min(width) - ox * factor;
            let n = (cols * block_rows) as i64;
            for c in 0..channels {
                out.extend_from_slice(&write(sums[ox * channels + c].div_euclid(n)));
            }
        }
    }
    out
}

/// A reduced first look at the frame in `packet`, for a viewport of `fit` pixels (see
/// `preview_factor`); `None` when the frame is to be sent whole. Its header is the frame's,
/// with `"reduced": factor` added: `width` and `height` stay the full frame's, so that whatever
/// the viewer places, measures or links is in full-resolution pixels; its pixels are
/// ⌈width/factor⌉ × ⌈height/factor⌉ (`reduce_by_block_mean`). At most
/// [`PREVIEW_MAX_BYTES`] of pixels, whatever the frame.
pub fn preview_packet(packet: &[u8], fit: (u32, u32)) -> Result<Option<Vec<u8>>> {
    let bad = |why: &str| crate::AppError::InvalidInput(format!("frame packet: {why}"));
    let len = packet
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .ok_or_else(|| bad("cut short"))?;
    let json = packet
        .get(4..4 + len)
        .ok_or_else(|| bad("header cut short"))?;
    let mut header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(json).map_err(|e| bad(&e.to_string()))?;
    let dim = |k: &str| {
        header
            .get(k)
            .and_then(|v| v.as_u64())
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| bad(k))
    };
    let (width, height) = (dim("width")?, dim("height")?);
    let format = header
        .get("format")
        .and_then(|v| v.as_str())
        .and_then(PixelFormat::parse)
        .ok_or_else(|| bad("format"))?;
    let Some(factor) = preview_factor(width, height, format.bytes(), fit) else {
        return Ok(None);
    };
    let need = (width as usize)
        .checked_mul(height as usize)
        .and_then(|n| n.checked_mul(format.bytes()))
        .ok_or_else(|| bad("size"))?;
    let pixels = packet
        .get(4 + len..4 + len + need)
        .ok_or_else(|| bad("pixels cut short"))?;
    let reduced = reduce_by_block_mean(
        pixels,
        width as usize,
        height as usize,
        format,
        factor as usize,
    );
    header.insert("reduced".into(), factor.into());
    let json = serde_json::to_vec(&header).map_err(|e| bad(&e.to_string()))?;
    Ok(Some(packet_of(json, &reduced)))
}
