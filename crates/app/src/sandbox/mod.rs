//! Decoding untrusted pixels out of harm's way.
//!
//! Pixel data reaches C and C++ codecs (OpenJPEG, CharLS, libjpeg-turbo). A crash in one of
//! them cannot be caught, a hang cannot be interrupted, and a runaway allocation takes the
//! machine's memory — inside the desktop app, any of these would take the radiologist's unsaved
//! work with it. So the first time an image is decoded, it is decoded in a separate worker
//! process: this same executable started with [`WORKER_ARG`], which confines itself before it
//! reads a byte (see `confine`), then decodes and presents every frame of each file it is sent
//! and answers with one line per file.
//!
//! Uncompressed greyscale images (most CT, MR, CR, DX) are the exception: decoding them is
//! slicing the pixel data's bytes into samples, and whether that succeeds is arithmetic on the
//! header and the pixel data's length ([`countersign_imaging::NativeCheck`]).
//! [`verdict_without_decoding`] reaches the verdict the worker would reach for them — the same
//! frames, the same words — without sending it the file, and without any decoder running on
//! the file's bytes in this process: an import or a retrieval of a CT series then costs no
//! round trip per slice. Everything else (compressed pixel data, colour, palettes, LUTs,
//! 1-bit and 32-bit samples, big-endian, deflated, more than 64 MiB of pixels) goes to the
//! worker exactly as before.
//!
//! What the parent learns is kept by SHA-256 (`decode_checks` in the home). Decoding is
//! deterministic, so a file whose every frame decoded — or failed with an ordinary error — without
//! harm to the worker is from then on decoded in-process, at full speed, by the viewer. A file that
//! crashed the worker, outran its time budget or its memory limit is refused: at import it is
//! not stored; an image imported before this check existed is checked on first use.
//!
//! Protocol (stdin → worker): per request a tag byte (`0` decode, `1` probe the confinement,
//! `4` render one frame to PNG; `2` abort and `3` stop reading, for tests of a broken worker),
//! then for `4` the `RenderRequest`, and for `0` and `4` a `u64` little-endian length and that
//! many bytes. Worker → stdout: first a hello line, then one JSON line per request; the answer
//! to `4` is a line `{"pixels": n, "width", "height", "channels"}` followed by the n bytes of
//! 8-bit pixels (or `{"error": …}`). The parent reads pixels only after asking for a render,
//! at most as many as the frame it asked for can have, and encodes any PNG itself.
//!
//! ```no_run
//! # fn main() -> countersign_app::Result<()> {
//! let bytes = std::fs::read("CT_small.dcm").unwrap();
//! let mut sandbox = countersign_app::sandbox::DecodeSandbox::new();
//! match sandbox.check(&bytes)? {
//!     countersign_app::sandbox::Verdict::Harmless { frames, .. } => println!("{frames} frames"),
//!     countersign_app::sandbox::Verdict::Refused { message, .. } => println!("refused: {message}"),
//! }
//! # Ok(()) }
//! ```

mod command;
mod confine;
mod process;
mod render;
#[cfg(test)]
mod tests;
mod worker;

use command::worker_command;
pub use command::{set_worker_command, WorkerCommand, WORKER_PROGRAM};
use process::{Ended, Worker};
pub(crate) use render::RenderRequest;

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{AppError, Result};

/// The first argument that makes this executable a decode worker (see [`serve_if_worker`]).
pub const WORKER_ARG: &str = "--countersign-decode-worker";

/// The environment variable that makes a test harness serve as a decode worker.
const CHILD_ENV: &str = "COUNTERSIGN_DECODE_WORKER_CHILD";

/// The worker's first line names the protocol; a test harness prints its own lines before it.
/// `/2` since render requests (tag `4`): a worker of another version beside the program is
/// not taken for this one.
const HELLO: &str = "countersign-decode-worker/2";

/// The longest line a worker may answer with; an error message is a sentence.
const MAX_LINE: u64 = 64 * 1024;

/// Files sent to one worker before it is replaced by a fresh one, so that its CPU-time limit
/// ([`confine::CPU_SECONDS`]) bounds a batch, not a whole import.
const FILES_PER_WORKER: usize = 64;

/// How long a worker may take to start and confine itself.
const STARTUP: Duration = Duration::from_secs(10);

/// Time for one file: a base, plus one second per 4 MiB of pixels the file's header declares
/// (a 512² CT slice gets 1 s, a 1760² 16-bit CR 2 s, a 500-frame 512² series 65 s).
/// Legitimate files decode in milliseconds to a few hundred; the CharLS input that spins for
/// 7 s is stopped after 1 s.
const BASE_BUDGET: Duration = Duration::from_secs(1);
const BYTES_PER_SECOND: u64 = 4 << 20;
/// No file gets longer, whatever its header declares.
const MAX_BUDGET: Duration = Duration::from_secs(300);

/// This process is a decode worker if its first argument is [`WORKER_ARG`]: every binary that
/// opens a home calls this first thing in `main`; in a worker it never returns.
pub fn serve_if_worker() {
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(WORKER_ARG)) {
        std::process::exit(worker::serve());
    }
}

/// For a test harness (where `main` is not ours): a test that calls this first serves as the
/// decode worker when the harness was started by [`WorkerCommand::test_harness`].
pub fn serve_if_worker_child() {
    if std::env::var_os(CHILD_ENV).is_some() {
        std::process::exit(worker::serve());
    }
}

/// What the worker made of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The worker lived through every frame: `frames` decoded; `error` names the first frame
    /// the decoder refused, in an ordinary way, and why. Only a file with no error is decoded
    /// in the app afterwards: a refused frame might have failed on the worker's own limits.
    Harmless { frames: u32, error: Option<String> },
    /// The worker crashed, hung or ran out of memory on it (`code` says which). `lasting` when
    /// the file is to blame whatever the machine was doing (a crash signal); not for a timeout
    /// or a SIGKILL, which a busy machine or its out-of-memory killer can cause.
    Refused {
        code: &'static str,
        message: String,
        lasting: bool,
    },
}

/// Which build of the decoders a verdict was reached by: a verdict of another is checked again.
/// Bumped by hand when a codec (OpenJPEG, CharLS, libjpeg-turbo) or the decode path changes.
pub const DECODER: &str = concat!("countersign-", env!("CARGO_PKG_VERSION"), "/decoders-2");

impl Verdict {
    /// As the home keeps it.
    pub fn to_check(&self) -> countersign_store::DecodeCheck {
        match self {
            Verdict::Harmless { frames, error } => countersign_store::DecodeCheck {
                frames: *frames,
                refused: None,
                message: error.clone(),
                decoder: DECODER.to_string(),
            },
            Verdict::Refused { code, message, .. } => countersign_store::DecodeCheck {
                frames: 0,
                refused: Some(code.to_string()),
                message: Some(message.clone()),
                decoder: DECODER.to_string(),
            },
        }
    }

    /// Whether the file may be decoded in the app: every frame decoded in the worker.
    pub fn in_process_ok(&self) -> bool {
        matches!(self, Verdict::Harmless { error: None, .. })
    }

    /// Whether the home keeps this verdict (a transient refusal is tried again next time).
    pub fn lasting(&self) -> bool {
        match self {
            Verdict::Harmless { .. } => true,
            Verdict::Refused { lasting, .. } => *lasting,
        }
    }
}

/// What the worker's confinement achieved, as it reported it in its hello line.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Confinement {
    pub seccomp: bool,
    pub landlock: String,
    pub rlimits: bool,
}

/// What the worker's probe found it could do (all but `thread` must be false).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProbeReport {
    pub open_file: bool,
    pub create_file: bool,
    pub connect: bool,
    pub spawn: bool,
    pub signal_parent: bool,
    pub thread: bool,
}

#[derive(Deserialize)]
struct Hello {
    hello: String,
    #[serde(flatten)]
    confinement: Confinement,
}

#[derive(Deserialize)]
struct Answer {
    frames: Option<u32>,
    error: Option<String>,
}

/// A parent's handle on decode workers: one at a time, started when first needed, replaced
/// after a crash, a timeout or `FILES_PER_WORKER` files.
#[derive(Debug, Default)]
pub struct DecodeSandbox {
    worker: Option<Worker>,
}

/// How one attempt at a file ended.
enum Attempt {
    Done(Verdict),
    /// A timeout or a kill the machine may have caused: worth one more try.
    Transient(Verdict),
}

impl DecodeSandbox {
    pub fn new() -> DecodeSandbox {
        DecodeSandbox::default()
    }

    /// Decodes every frame of `bytes` in a worker. `Err` only when no worker can be started.
    pub fn check(&mut self, bytes: &[u8]) -> Result<Verdict> {
        let info = countersign_imaging::from_bytes(bytes).ok().map(|i| i.info);
        self.check_with_budget(bytes, budget_for(info.as_ref()))
    }

    /// [`DecodeSandbox::check`] for a file whose metadata the caller has read already.
    pub fn check_parsed(
        &mut self,
        bytes: &[u8],
        info: &countersign_imaging::ImageInfo,
    ) -> Result<Verdict> {
        self.check_with_budget(bytes, budget_for(Some(info)))
    }

    /// One attempt, and for a worker that was starved of CPU or killed from outside one more,
    /// in a fresh worker: a loaded machine should not cost an honest file its place. (One that
    /// had the CPU for its budget and did not finish is the file's doing: no second try, so a
    /// spinning codec costs at most one budget of CPU, plus half of one.)
    fn check_with_budget(&mut self, bytes: &[u8], budget: Duration) -> Result<Verdict> {
        let pending = self.submit_with_budget(bytes, budget)?;
        self.finish(pending, bytes)
    }

    /// Sends `bytes` to the worker and returns at once, so that the caller can prepare the
    /// next file while the worker decodes this one; [`DecodeSandbox::finish`] (with the same
    /// bytes) waits for the verdict. One file at a time is in flight.
    pub fn submit(
        &mut self,
        bytes: &[u8],
        info: &countersign_imaging::ImageInfo,
    ) -> Result<Pending> {
        self.submit_with_budget(bytes, budget_for(Some(info)))
    }

    fn submit_with_budget(&mut self, bytes: &[u8], budget: Duration) -> Result<Pending> {
        let started = Instant::now();
        let deadline = started + budget;
        let worker = self.worker()?;
        let sent = worker.send(&[&request_for(bytes), bytes], deadline);
        Ok(Pending {
            started,
            budget,
            deadline,
            sent,
        })
    }

    /// The verdict on the file [`DecodeSandbox::submit`] sent: one attempt, and for a worker
    /// that was starved of CPU or killed from outside one more, in a fresh worker: a loaded
    /// machine should not cost an honest file its place. (One that had the CPU for its budget
    /// and did not finish is the file's doing: no second try, so a spinning codec costs at most
    /// one budget of CPU, plus half of one.)
    pub fn finish(&mut self, pending: Pending, bytes: &[u8]) -> Result<Verdict> {
        let Pending {
            started,
            budget,
            deadline,
            sent,
        } = pending;
        let first = match sent {
            Ok(()) => match self.worker.as_mut() {
                Some(worker) => worker.answer(deadline.saturating_duration_since(Instant::now())),
                None => Err(Ended::Died),
            },
            Err(e) => Err(e),
        };
        let verdict = match self.judge(first, budget, bytes.len()) {
            Attempt::Done(v) => v,
            Attempt::Transient(_) => match self.attempt(bytes, budget)? {
                Attempt::Done(v) | Attempt::Transient(v) => v,
            },
        };
        if let Some(w) = &mut self.worker {
            w.files += 1;
            if w.files >= FILES_PER_WORKER {
                if let Some(w) = self.worker.take() {
                    w.stop();
                }
            }
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            refused = matches!(verdict, Verdict::Refused { .. }),
            "decode check"
        );
        Ok(verdict)
    }

    fn attempt(&mut self, bytes: &[u8], budget: Duration) -> Result<Attempt> {
        let deadline = Instant::now() + budget;
        let worker = self.worker()?;
        let answer = worker
            .send(&[&request_for(bytes), bytes], deadline)
            .and_then(|()| worker.answer(deadline.saturating_duration_since(Instant::now())));
        Ok(self.judge(answer, budget, bytes.len()))
    }

    /// What an answer (or its absence) says about the file.
    fn judge(
        &mut self,
        answer: std::result::Result<String, Ended>,
        budget: Duration,
        len: usize,
    ) -> Attempt {
        match answer {
            Ok(line) => match serde_json::from_str::<Answer>(&line) {
                Ok(Answer {
                    frames: Some(frames),
                    error,
                }) => Attempt::Done(Verdict::Harmless { frames, error }),
                _ => Attempt::Done(self.refuse(
                    "decoder_failed",
                    "the decode worker answered nonsense".into(),
                    true,
                )),
            },
            Err(Ended::TimedOut) => {
                let cpu = self.worker.as_ref().and_then(Worker::cpu_time);
                let message = format!(
                    "decoding did not finish within {:.1} s (a file of {len} bytes); the decoder \
                     was stopped",
                    budget.as_secs_f64(),
                );
                // Spinning (it had the CPU) or starved (the machine was busy)?
                let starved = cpu.is_none_or(|cpu| cpu < budget / 2);
                let verdict = self.refuse("decode_timeout", message, !starved);
                if starved {
                    Attempt::Transient(verdict)
                } else {
                    Attempt::Done(verdict)
                }
            }
            Err(Ended::Died) => {
                let (how, transient) = match self.worker.take() {
                    Some(w) => w.ended(),
                    None => ("ended".into(), false),
                };
                let verdict = Verdict::Refused {
                    code: if transient {
                        "decoder_killed"
                    } else {
                        "decoder_crashed"
                    },
                    message: format!("the decoder {how} on this file"),
                    lasting: !transient,
                };
                if transient {
                    Attempt::Transient(verdict)
                } else {
                    Attempt::Done(verdict)
                }
            }
        }
    }

    /// Asks the worker what it can do from inside its confinement (for tests and `doctor`-like
    /// checks): open or create a file, connect, start a program, start a thread.
    pub fn probe(&mut self) -> Result<ProbeReport> {
        let deadline = Instant::now() + STARTUP;
        let worker = self.worker()?;
        let line = worker
            .send(&[&[1]], deadline)
            .and_then(|()| worker.answer(STARTUP))
            .map_err(|_| AppError::InvalidInput("the decode worker did not answer".into()))?;
        serde_json::from_str(&line).map_err(|e| {
            AppError::InvalidInput(format!("the decode worker's probe is not JSON: {e}"))
        })
    }

    /// Tells the worker to abort, as a crashing codec would (for tests of the parent).
    pub fn abort_worker(&mut self) -> Result<()> {
        let worker = self.worker()?;
        let _ = worker.send(&[&[2]], Instant::now() + STARTUP);
        Ok(())
    }

    /// Tells the worker to stop reading its input, as a hung codec would (for tests of the
    /// parent: writing to it must end at the deadline, not block).
    pub fn stall_worker(&mut self) -> Result<()> {
        let worker = self.worker()?;
        let _ = worker.send(&[&[3]], Instant::now() + STARTUP);
        Ok(())
    }

    /// What the current worker's confinement achieved (starting one if needed).
    pub fn confinement(&mut self) -> Result<Confinement> {
        Ok(self.worker()?.confinement.clone())
    }

    fn worker(&mut self) -> Result<&mut Worker> {
        if self.worker.is_none() {
            let command = worker_command()?;
            let started = match Worker::start(&command) {
                // A dedicated worker beside the program that does not speak this protocol
                // (left from another version): this program serves as its own worker.
                Err(e) => match command.own_fallback() {
                    Some(own) => {
                        tracing::warn!(error = %e.loggable(), "the decode worker beside this program did not start; using this program");
                        Worker::start(&own)?
                    }
                    None => return Err(e),
                },
                Ok(w) => w,
            };
            self.worker = Some(started);
        }
        Ok(self.worker.as_mut().expect("started above"))
    }

    /// Stops the current worker and refuses the file with `message`.
    fn refuse(&mut self, code: &'static str, message: String, lasting: bool) -> Verdict {
        if let Some(w) = self.worker.take() {
            w.stop();
        }
        Verdict::Refused {
            code,
            message,
            lasting,
        }
    }
}

/// The verdict the worker would reach on `image`, reached without decoding, for the images whose
/// decoding is arithmetic (uncompressed greyscale, see [`countersign_imaging::NativeCheck`]);
/// `None` for the others, which the worker decodes. Only the parsed header and the pixel
/// data's length are read: no decoder runs here on the file's bytes.
pub fn verdict_without_decoding(image: &countersign_imaging::DicomImage) -> Option<Verdict> {
    verdict_of_native_check(image.native_check())
}

/// [`verdict_without_decoding`] from the image's [`countersign_imaging::NativeCheck`] (as
/// `countersign_imaging::read_header` gives it, without parsing the pixel data).
pub fn verdict_of_native_check(check: Option<countersign_imaging::NativeCheck>) -> Option<Verdict> {
    Some(match check? {
        countersign_imaging::NativeCheck::Decodes { frames } => Verdict::Harmless {
            frames,
            error: None,
        },
        // As the worker answers a file each of whose frames the decoder refused.
        countersign_imaging::NativeCheck::Refused { frame, error } => Verdict::Harmless {
            frames: 0,
            error: Some(frame_error(frame, &error)),
        },
    })
}

/// How a verdict names a frame the decoder refused (0-based `frame`), in the worker's answers
/// and in [`verdict_without_decoding`] alike.
pub(crate) fn frame_error(frame: u32, error: &dyn std::fmt::Display) -> String {
    format!("frame {}: {error}", frame + 1)
}

/// A file sent to the worker, its verdict not yet read.
#[derive(Debug)]
#[must_use = "finish it, or the worker's answer is left for the next file"]
pub struct Pending {
    started: Instant,
    budget: Duration,
    deadline: Instant,
    sent: std::result::Result<(), Ended>,
}

/// The decode request for `bytes`: tag `0`, then their length.
fn request_for(bytes: &[u8]) -> Vec<u8> {
    let mut request = Vec::with_capacity(9);
    request.push(0u8);
    request.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    request
}

/// The time a file gets, from the pixels its header declares (a file the parent cannot parse
/// gets the base).
fn budget_for(info: Option<&countersign_imaging::ImageInfo>) -> Duration {
    // The header is the sender's word: saturating, and capped.
    let pixels = info
        .map(|info| {
            u64::from(info.rows)
                .saturating_mul(u64::from(info.columns))
                .saturating_mul(u64::from(info.samples_per_pixel.max(1)))
                .saturating_mul(u64::from(info.bits_allocated.div_ceil(8).max(1)))
                .saturating_mul(u64::from(info.frames.max(1)))
        })
        .unwrap_or(0);
    (BASE_BUDGET + Duration::from_secs(pixels / BYTES_PER_SECOND)).min(MAX_BUDGET)
}
