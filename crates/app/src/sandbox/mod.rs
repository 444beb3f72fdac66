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
//! What the parent learns is kept by SHA-256 (`decode_checks` in the home). Decoding is
//! deterministic, so a file whose every frame decoded — or failed with an ordinary error — without
//! harm to the worker is from then on decoded in-process, at full speed, by the viewer. A file that
//! crashed the worker, outran its time budget or its memory limit is refused: at import it is
//! not stored; an image imported before this check existed is checked on first use.
//!
//! Protocol (stdin → worker): per request a tag byte (`0` decode, `1` probe the confinement,
//! `2` abort, for tests of a dying worker), then for `0` a `u64` little-endian length and that
//! many bytes. Worker → stdout: first a hello line, then one JSON line per request.
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

mod confine;
#[cfg(test)]
mod tests;
mod worker;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{AppError, Result};

/// The first argument that makes this executable a decode worker (see [`serve_if_worker`]).
pub const WORKER_ARG: &str = "--countersign-decode-worker";

/// The environment variable that makes a test harness serve as a decode worker.
const CHILD_ENV: &str = "COUNTERSIGN_DECODE_WORKER_CHILD";

/// The worker's first line names the protocol; a test harness prints its own lines before it.
const HELLO: &str = "countersign-decode-worker/1";

/// The longest line a worker may answer with; an error message is a sentence.
const MAX_LINE: u64 = 64 * 1024;

/// Files sent to one worker before it is replaced by a fresh one, so that its CPU-time limit
/// ([`confine::CPU_SECONDS`]) bounds a batch, not a whole import.
const FILES_PER_WORKER: usize = 64;

/// How long a worker may take to start and confine itself.
const STARTUP: Duration = Duration::from_secs(10);

/// Time for one file: a base, plus one second per 16 MiB of pixels the file's header declares
/// (a 512² CT slice gets about 1 s, a 500-frame series about 17 s). Legitimate files decode in
/// milliseconds to a few hundred; the CharLS input that spins for 7 s is stopped after 1 s.
const BASE_BUDGET: Duration = Duration::from_secs(1);
const BYTES_PER_SECOND: u64 = 16 << 20;

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

/// How to start a decode worker.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

impl WorkerCommand {
    /// This executable, with [`WORKER_ARG`] (its `main` calls [`serve_if_worker`]).
    pub fn current_exe() -> Result<WorkerCommand> {
        let program = std::env::current_exe().map_err(AppError::io(
            "finding this program to start a decode worker",
        ))?;
        Ok(WorkerCommand {
            program,
            args: vec![WORKER_ARG.into()],
            env: Vec::new(),
        })
    }

    /// Another program built with this crate whose `main` calls [`serve_if_worker`] (a test
    /// harness that drives a home directly uses the CLI).
    pub fn program(program: PathBuf) -> WorkerCommand {
        WorkerCommand {
            program,
            args: vec![WORKER_ARG.into()],
            env: Vec::new(),
        }
    }

    /// This test harness, running only the test `test` (which calls
    /// [`serve_if_worker_child`] first).
    pub fn test_harness(test: &str) -> WorkerCommand {
        WorkerCommand {
            program: std::env::current_exe().unwrap_or_default(),
            args: ["--exact", test, "--nocapture", "--test-threads=1"]
                .iter()
                .map(OsString::from)
                .collect(),
            env: vec![(CHILD_ENV.into(), "1".into())],
        }
    }
}

static WORKER: OnceLock<WorkerCommand> = OnceLock::new();

/// Chooses how workers are started in this process (a test harness names its worker test);
/// without it, [`WorkerCommand::current_exe`]. Only the first call counts.
pub fn set_worker_command(command: WorkerCommand) {
    let _ = WORKER.set(command);
}

fn worker_command() -> Result<WorkerCommand> {
    if let Some(c) = WORKER.get() {
        return Ok(c.clone());
    }
    #[cfg(test)]
    return Ok(WorkerCommand::test_harness("sandbox::tests::decode_worker"));
    #[cfg(not(test))]
    WorkerCommand::current_exe()
}

/// What the worker made of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every frame decoded and presented, or the decoder gave an ordinary error
    /// (`error`), without harm to the worker: safe to decode in-process.
    Harmless { frames: u32, error: Option<String> },
    /// The worker crashed, hung or ran out of memory on it (`code` says which).
    Refused { code: &'static str, message: String },
}

impl Verdict {
    /// As the home keeps it.
    pub fn to_check(&self) -> countersign_store::DecodeCheck {
        match self {
            Verdict::Harmless { frames, error } => countersign_store::DecodeCheck {
                frames: *frames,
                refused: None,
                message: error.clone(),
            },
            Verdict::Refused { code, message } => countersign_store::DecodeCheck {
                frames: 0,
                refused: Some(code.to_string()),
                message: Some(message.clone()),
            },
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
/// after a crash, a timeout or [`FILES_PER_WORKER`] files.
#[derive(Debug, Default)]
pub struct DecodeSandbox {
    worker: Option<Worker>,
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

    fn check_with_budget(&mut self, bytes: &[u8], budget: Duration) -> Result<Verdict> {
        let worker = self.worker()?;
        let started = Instant::now();
        let mut request = Vec::with_capacity(9);
        request.push(0u8);
        request.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        let sent = worker.send(&[&request, bytes]);
        let answer = match sent {
            Ok(()) => worker.answer(budget.saturating_sub(started.elapsed())),
            Err(_) => Err(Ended::Died),
        };
        let verdict = match answer {
            Ok(line) => match serde_json::from_str::<Answer>(&line) {
                Ok(Answer {
                    frames: Some(frames),
                    error,
                }) => Verdict::Harmless { frames, error },
                _ => self.refuse("decoder_failed", "the decode worker answered nonsense"),
            },
            Err(Ended::TimedOut) => {
                let message = format!(
                    "decoding did not finish within {:.1} s (a file of {} bytes); the decoder \
                     was stopped",
                    budget.as_secs_f64(),
                    bytes.len()
                );
                self.refuse("decode_timeout", &message)
            }
            Err(Ended::Died) => {
                let how = self.worker.take().map(Worker::reap).unwrap_or_default();
                Verdict::Refused {
                    code: "decoder_crashed",
                    message: format!("the decoder {how} on this file"),
                }
            }
        };
        if let Some(w) = &mut self.worker {
            w.files += 1;
            if w.files >= FILES_PER_WORKER {
                self.worker.take().map(Worker::reap);
            }
        }
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            refused = matches!(verdict, Verdict::Refused { .. }),
            "decode check"
        );
        Ok(verdict)
    }

    /// Asks the worker what it can do from inside its confinement (for tests and `doctor`-like
    /// checks): open or create a file, connect, start a program, start a thread.
    pub fn probe(&mut self) -> Result<ProbeReport> {
        let worker = self.worker()?;
        let line = worker
            .send(&[&[1]])
            .map_err(AppError::io("asking the decode worker"))
            .and_then(|()| {
                worker
                    .answer(STARTUP)
                    .map_err(|_| AppError::InvalidInput("the decode worker did not answer".into()))
            })?;
        serde_json::from_str(&line).map_err(|e| {
            AppError::InvalidInput(format!("the decode worker's probe is not JSON: {e}"))
        })
    }

    /// Tells the worker to abort, as a crashing codec would (for tests of the parent).
    pub fn abort_worker(&mut self) -> Result<()> {
        let worker = self.worker()?;
        let _ = worker.send(&[&[2]]);
        Ok(())
    }

    /// What the current worker's confinement achieved (starting one if needed).
    pub fn confinement(&mut self) -> Result<Confinement> {
        Ok(self.worker()?.confinement.clone())
    }

    fn worker(&mut self) -> Result<&mut Worker> {
        if self.worker.is_none() {
            self.worker = Some(Worker::start(&worker_command()?)?);
        }
        Ok(self.worker.as_mut().expect("started above"))
    }

    /// Stops the current worker and refuses the file with `message`.
    fn refuse(&mut self, code: &'static str, message: &str) -> Verdict {
        if let Some(w) = self.worker.take() {
            w.kill();
        }
        Verdict::Refused {
            code,
            message: message.to_string(),
        }
    }
}

/// The time a file gets, from the pixels its header declares (a file the parent cannot parse
/// gets the base).
fn budget_for(info: Option<&countersign_imaging::ImageInfo>) -> Duration {
    let pixels = info
        .map(|info| {
            u64::from(info.rows)
                * u64::from(info.columns)
                * u64::from(info.samples_per_pixel.max(1))
                * u64::from(info.bits_allocated.div_ceil(8).max(1))
                * u64::from(info.frames.max(1))
        })
        .unwrap_or(0);
    BASE_BUDGET + Duration::from_secs_f64(pixels as f64 / BYTES_PER_SECOND as f64)
}

enum Ended {
    TimedOut,
    Died,
}

/// One running worker: its stdin, and its stdout lines arriving on a channel from a reader
/// thread (so that waiting for an answer can time out).
#[derive(Debug)]
struct Worker {
    child: Child,
    /// `None` once closed (a worker exits at end of input).
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    confinement: Confinement,
    files: usize,
}

impl Worker {
    fn start(command: &WorkerCommand) -> Result<Worker> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            // Nothing of the parent's environment (a home path, a passphrase file) is the
            // worker's business.
            .env_clear()
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(AppError::io("starting a decode worker"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        // Bounded: a worker that talks without being asked blocks, rather than filling this
        // process's memory.
        let (tx, lines) = mpsc::sync_channel(4);
        std::thread::Builder::new()
            .name("decode-worker-reader".into())
            .spawn(move || read_lines(stdout, tx))
            .map_err(AppError::io("starting a decode worker's reader"))?;
        let mut worker = Worker {
            child,
            stdin,
            lines,
            confinement: Confinement {
                seccomp: false,
                landlock: String::new(),
                rlimits: false,
            },
            files: 0,
        };
        // A test harness prints its own lines first: skip to the hello.
        let deadline = Instant::now() + STARTUP;
        loop {
            let line = worker
                .answer(deadline.saturating_duration_since(Instant::now()))
                .map_err(|_| {
                    AppError::InvalidInput(format!(
                        "the decode worker ({}) did not start",
                        command.program.display()
                    ))
                })?;
            if let Ok(hello) = serde_json::from_str::<Hello>(&line) {
                if hello.hello == HELLO {
                    worker.confinement = hello.confinement;
                    tracing::debug!(confinement = ?worker.confinement, "decode worker started");
                    return Ok(worker);
                }
            }
        }
    }

    fn send(&mut self, parts: &[&[u8]]) -> std::io::Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        for part in parts {
            stdin.write_all(part)?;
        }
        stdin.flush()
    }

    fn answer(&mut self, within: Duration) -> std::result::Result<String, Ended> {
        match self.lines.recv_timeout(within) {
            Ok(line) => Ok(line),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Ended::TimedOut),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Ended::Died),
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Closes the worker's input (it exits at end of input) and says how it ended.
    fn reap(mut self) -> String {
        self.stdin = None;
        let status = match self.child.wait() {
            Ok(s) => s,
            Err(e) => return format!("could not be waited for ({e})"),
        };
        describe_exit(status)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker whose parent lets go is not left running: at end of input it exits; one
        // stuck in a codec is killed.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_lines(stdout: impl Read, tx: mpsc::SyncSender<String>) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        match reader.by_ref().take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if tx.send(line.trim_end().to_string()).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(unix)]
fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => "stopped".into(),
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => match sig {
            6 => {
                "aborted (SIGABRT; a codec's assertion, or memory beyond the worker's limit)".into()
            }
            9 => "was killed (SIGKILL)".into(),
            11 => "crashed (SIGSEGV)".into(),
            7 => "crashed (SIGBUS)".into(),
            24 => "used up its CPU-time limit (SIGXCPU)".into(),
            31 => "made a forbidden system call (SIGSYS)".into(),
            other => format!("was ended by signal {other}"),
        },
        (None, None) => "ended".into(),
    }
}

#[cfg(not(unix))]
fn describe_exit(status: std::process::ExitStatus) -> String {
    format!("ended ({status})")
}
