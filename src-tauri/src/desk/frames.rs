//! What the window asks of the desk outside a use case on the home: the viewer's frames (from
//! the frame cache, else decoded on a reader handle; the frame socket and the `frame` commands
//! share them), and the paths dropped on the window, kept for `import_dropped`.

use std::path::PathBuf;
use std::time::Instant;

use countersign_app::WireError;

use super::{Desk, MAX_DROPPED};

impl Desk {
    /// Frame `frame` of image `sha256` as a packet: from the frame cache, else decoded on a
    /// reader handle and kept.
    pub fn frame(&self, sha256: &str, frame: u32) -> Result<std::sync::Arc<[u8]>, WireError> {
        use std::sync::atomic::Ordering;
        // One indexed count per frame, against a decode of tens of milliseconds; on its own
        // handle, so that a cached frame (or a part of one) is not held up by the decodes of the
        // slices fetched ahead.
        let erased = {
            let mut guard = self.counter.lock().unwrap_or_else(|p| p.into_inner());
            let count = match &mut *guard {
                Some(home) => home.erasure_generation(),
                slot @ None => self
                    .open_another()
                    .and_then(|h| slot.insert(h).erasure_generation()),
            };
            count.map_err(|e| {
                tracing::info!(code = e.code(), error = %e.loggable(), "read failed");
                e.to_wire()
            })?
        };
        if self.erasures_seen.swap(erased, Ordering::AcqRel) != erased {
            self.forget_frames();
        }
        // A frame larger than the cache's whole budget is kept aside by the cache, alone, so
        // that its parts are cut from one decode.
        let packet = self
            .frames
            .get_or_insert_with(sha256, frame, || {
                let started = Instant::now();
                let packet = self.read_home(|h| h.frame_packet(sha256, frame))?;
                // For the bench's profile (`make bench-app` reads it at debug level): how long
                // a decode took and how big its packet is; no image or patient named.
                tracing::debug!(
                    decode_ms = started.elapsed().as_secs_f64() * 1e3,
                    bytes = packet.len(),
                    "frame decoded"
                );
                Ok(packet)
            })
            .map_err(|e| {
                tracing::info!(code = e.code(), error = %e.loggable(), "frame failed");
                e.to_wire()
            })?;
        Ok(packet)
    }

    /// Empties the frame cache (after an erasure: the erased images' pixels go with it).
    pub fn forget_frames(&self) {
        self.frames.clear();
    }

    /// What the frame cache holds now.
    pub fn frame_cache(&self) -> countersign_app::FrameCacheStats {
        self.frames.stats()
    }

    /// Keeps what the window's drop event names, for `import_dropped` (the webview is told only
    /// that something was dropped, and how much).
    pub fn set_dropped(&self, mut paths: Vec<PathBuf>) -> usize {
        paths.truncate(MAX_DROPPED);
        let n = paths.len();
        *self.dropped.lock().unwrap_or_else(|p| p.into_inner()) = paths;
        n
    }

    /// What was dropped and not yet imported (taken: imported once).
    pub fn take_dropped(&self) -> Vec<PathBuf> {
        std::mem::take(&mut *self.dropped.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
