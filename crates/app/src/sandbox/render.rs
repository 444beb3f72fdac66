//! Rendering one frame in the worker (request tag `4`): the request's fixed bytes, and the
//! parent's side of the answer — 8-bit pixels of the shape asked for, checked before a byte
//! of them is read (see the protocol in the module above).

use std::time::Instant;

use serde::Deserialize;

use super::*;

/// A render request: which frame, which window, and the longest side of a thumbnail, sent as
/// [`RenderRequest::LEN`] fixed bytes (little-endian) before the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RenderRequest {
    pub(crate) frame: u32,
    pub(crate) window: countersign_imaging::WindowChoice,
    pub(crate) max_side: Option<u32>,
}

impl RenderRequest {
    /// Frame (4), window kind (1: default, explicit, min–max), centre (8), width (8), thumbnail
    /// side (4, 0 for none).
    pub(crate) const LEN: usize = 25;

    pub(super) fn encode(&self) -> [u8; Self::LEN] {
        use countersign_imaging::WindowChoice;
        let mut out = [0u8; Self::LEN];
        out[..4].copy_from_slice(&self.frame.to_le_bytes());
        let (kind, center, width) = match self.window {
            WindowChoice::Default => (0u8, 0.0, 0.0),
            WindowChoice::Explicit(w) => (1, w.center, w.width),
            WindowChoice::MinMax => (2, 0.0, 0.0),
        };
        out[4] = kind;
        out[5..13].copy_from_slice(&center.to_le_bytes());
        out[13..21].copy_from_slice(&width.to_le_bytes());
        out[21..].copy_from_slice(&self.max_side.unwrap_or(0).to_le_bytes());
        out
    }

    pub(crate) fn decode(bytes: &[u8; Self::LEN]) -> Option<RenderRequest> {
        use countersign_imaging::{Window, WindowChoice};
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4"));
        let f64_at = |at: usize| f64::from_le_bytes(bytes[at..at + 8].try_into().expect("8"));
        let window = match bytes[4] {
            0 => WindowChoice::Default,
            1 => WindowChoice::Explicit(Window {
                center: f64_at(5),
                width: f64_at(13),
            }),
            2 => WindowChoice::MinMax,
            _ => return None,
        };
        let side = u32_at(21);
        Some(RenderRequest {
            frame: u32_at(0),
            window,
            max_side: (side > 0).then_some(side),
        })
    }
}

#[derive(Deserialize)]
struct RenderAnswer {
    pixels: Option<u64>,
    width: Option<u32>,
    height: Option<u32>,
    channels: Option<u8>,
    error: Option<String>,
}

impl DecodeSandbox {
    /// Renders one frame of `bytes` in the worker, which decodes it: for files whose pixels
    /// reach a C codec (those [`countersign_imaging::DicomImage::render_in_rust`] leaves), so
    /// that this process decodes none of them. The answer is 8-bit pixels of the shape the header declares (or no larger
    /// than the thumbnail asked for), checked before a byte is read. `Ok(Err(verdict))` when
    /// the worker refused the file, crashed on it or ran out of time (a decoder's ordinary
    /// error is a `Harmless` verdict with its message). One attempt, and for a worker starved
    /// or killed from outside one more, as for a check.
    pub(crate) fn render(
        &mut self,
        bytes: &[u8],
        info: &countersign_imaging::ImageInfo,
        request: RenderRequest,
    ) -> Result<std::result::Result<countersign_imaging::Rendered, Verdict>> {
        let budget = budget_for(Some(info));
        // The most pixel bytes the answer may hold: the frame as RGB, or the thumbnail's square.
        let (max_w, max_h) = match request.max_side {
            None => (info.columns, info.rows),
            Some(side) => (info.columns.min(side), info.rows.min(side)),
        };
        let most = u64::from(max_w.max(1)) * u64::from(max_h.max(1)) * 3;
        let mut tries = 0;
        loop {
            tries += 1;
            let deadline = Instant::now() + budget;
            let worker = self.worker()?;
            worker.expect_pixels(most);
            let head = [&[4u8][..], &request.encode()[..]].concat();
            let answer = worker
                .send(&[&head, &request_for(bytes)[1..], bytes], deadline)
                .and_then(|()| worker.answer(deadline.saturating_duration_since(Instant::now())));
            let line = match answer {
                Ok(line) => line,
                Err(ended) => match self.judge(Err(ended), budget, bytes.len()) {
                    Attempt::Transient(_) if tries == 1 => continue,
                    Attempt::Done(v) | Attempt::Transient(v) => return Ok(Err(v)),
                },
            };
            let shape = match serde_json::from_str::<RenderAnswer>(&line) {
                Ok(RenderAnswer {
                    pixels: Some(len),
                    width: Some(w),
                    height: Some(h),
                    channels: Some(c @ (1 | 3)),
                    error: None,
                }) if w >= 1
                    && h >= 1
                    && w <= max_w.max(1)
                    && h <= max_h.max(1)
                    && (request.max_side.is_some() || (w, h) == (info.columns, info.rows))
                    && len == u64::from(w) * u64::from(h) * u64::from(c) =>
                {
                    Some((len, w, h, c))
                }
                Ok(RenderAnswer {
                    pixels: None,
                    error: Some(error),
                    ..
                }) => {
                    return Ok(Err(Verdict::Harmless {
                        frames: 0,
                        error: Some(error),
                    }))
                }
                _ => None,
            };
            let Some((len, width, height, channels)) = shape else {
                return Ok(Err(self.refuse(
                    "decoder_failed",
                    "the decode worker answered with something other than the image asked for"
                        .into(),
                    true,
                )));
            };
            let worker = self.worker.as_mut().expect("answered above");
            let pixels = worker.bytes(len, deadline.saturating_duration_since(Instant::now()));
            return Ok(match pixels {
                Ok(pixels) => Ok(countersign_imaging::Rendered {
                    width,
                    height,
                    channels,
                    pixels,
                    window: None,
                }),
                Err(ended) => match self.judge(Err(ended), budget, bytes.len()) {
                    Attempt::Done(v) | Attempt::Transient(v) => Err(v),
                },
            });
        }
    }
}
