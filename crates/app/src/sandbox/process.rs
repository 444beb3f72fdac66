//! One running worker process, seen from the parent: starting it and reading its hello,
//! writing to it against a deadline, reading its answers with a timeout, and saying how it
//! ended.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Confinement, Hello, WorkerCommand, HELLO, MAX_LINE, STARTUP};
use crate::error::{AppError, Result};

/// What the reader thread passes on: a line, or the pixels a `{"pixels": n, …}` line announced.
#[derive(Debug)]
enum Message {
    Line(String),
    Bytes(Vec<u8>),
}

#[derive(Debug)]
pub(super) enum Ended {
    TimedOut,
    Died,
}

/// How long a worker that closed its output may take to exit before it is killed.
const EXIT_WAIT: Duration = Duration::from_secs(1);

/// One running worker: its stdin (non-blocking, so that writing to a worker that stopped
/// reading ends at the deadline), and its stdout lines arriving on a channel from a reader
/// thread (so that waiting for an answer can time out).
#[derive(Debug)]
pub(super) struct Worker {
    child: Child,
    /// `None` once closed (a worker exits at end of input).
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Message>,
    /// How many pixel bytes the reader may take after the next `{"pixels": n}` line: set by the
    /// parent when it asks for a render, used up by that one answer. Zero otherwise, so a
    /// worker that announces pixels unasked is read no further.
    expected: Arc<AtomicU64>,
    pub(super) confinement: Confinement,
    pub(super) files: usize,
}

impl Worker {
    pub(super) fn start(command: &WorkerCommand) -> Result<Worker> {
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
        #[cfg(unix)]
        if let Some(stdin) = &stdin {
            use nix::fcntl::{fcntl, FcntlArg, OFlag};
            fcntl(stdin, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
                .map_err(|e| AppError::io("preparing a decode worker")(e.into()))?;
        }
        let stdout = child.stdout.take().expect("piped");
        // Bounded: a worker that talks without being asked blocks, rather than filling this
        // process's memory.
        let (tx, lines) = mpsc::sync_channel(4);
        let expected = Arc::new(AtomicU64::new(0));
        let allowance = Arc::clone(&expected);
        std::thread::Builder::new()
            .name("decode-worker-reader".into())
            .spawn(move || read_lines(stdout, tx, &allowance))
            .map_err(AppError::io("starting a decode worker's reader"))?;
        let mut worker = Worker {
            child,
            stdin,
            lines,
            expected,
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
                    if cfg!(all(
                        target_os = "linux",
                        any(target_arch = "x86_64", target_arch = "aarch64")
                    )) && !worker.confinement.seccomp
                    {
                        tracing::warn!("decode worker runs without its seccomp filter");
                    }
                    tracing::debug!(confinement = ?worker.confinement, "decode worker started");
                    return Ok(worker);
                }
            }
        }
    }

    /// Writes `parts` by `deadline`, however slowly the worker reads.
    pub(super) fn send(
        &mut self,
        parts: &[&[u8]],
        deadline: Instant,
    ) -> std::result::Result<(), Ended> {
        let stdin = self.stdin.as_mut().ok_or(Ended::Died)?;
        for part in parts {
            let mut rest = *part;
            while !rest.is_empty() {
                match stdin.write(rest) {
                    Ok(0) => return Err(Ended::Died),
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        wait_writable(stdin, deadline)?
                    }
                    Err(_) => return Err(Ended::Died),
                }
            }
        }
        Ok(())
    }

    pub(super) fn answer(&mut self, within: Duration) -> std::result::Result<String, Ended> {
        match self.lines.recv_timeout(within) {
            Ok(Message::Line(line)) => Ok(line),
            // Bytes nobody asked for: the worker is not following the protocol.
            Ok(Message::Bytes(_)) => Err(Ended::Died),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Ended::TimedOut),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Ended::Died),
        }
    }

    /// Lets the answer to the render request about to be sent carry up to `most` pixel bytes.
    pub(super) fn expect_pixels(&self, most: u64) {
        self.expected.store(most, Ordering::SeqCst);
    }

    /// The `len` bytes a `{"pixels": len, …}` answer announced.
    pub(super) fn bytes(
        &mut self,
        len: u64,
        within: Duration,
    ) -> std::result::Result<Vec<u8>, Ended> {
        match self.lines.recv_timeout(within) {
            Ok(Message::Bytes(bytes)) if bytes.len() as u64 == len => Ok(bytes),
            Ok(_) => Err(Ended::Died),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Ended::TimedOut),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Ended::Died),
        }
    }

    /// The CPU time the worker has used (Linux: from `/proc`, in the kernel's 1/100 s ticks).
    #[cfg(target_os = "linux")]
    pub(super) fn cpu_time(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // After the command name in parentheses (which may hold spaces): utime and stime are
        // the 12th and 13th fields.
        let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
        let utime: u64 = fields.nth(11)?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        Some(Duration::from_millis((utime + stime) * 10))
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn cpu_time(&self) -> Option<Duration> {
        None
    }

    /// Kills the worker (it has nothing to save).
    pub(super) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A worker that stopped answering: how it ended (given a moment to exit, then killed),
    /// and whether that could be the machine's doing rather than the file's.
    pub(super) fn ended(mut self) -> (String, bool) {
        self.stdin = None;
        let waited = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if waited.elapsed() < EXIT_WAIT => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => break None,
            }
        };
        match status {
            Some(status) => describe_exit(status),
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                ("stopped answering".into(), false)
            }
        }
    }
}

#[cfg(unix)]
fn wait_writable(stdin: &ChildStdin, deadline: Instant) -> std::result::Result<(), Ended> {
    use nix::poll::{poll, PollFd, PollFlags};
    use std::os::fd::AsFd;
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Ended::TimedOut);
    }
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLOUT)];
    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
    match poll(&mut fds, ms) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(_) => Err(Ended::Died),
    }
}

#[cfg(not(unix))]
fn wait_writable(_: &ChildStdin, _: Instant) -> std::result::Result<(), Ended> {
    Ok(())
}

impl Drop for Worker {
    fn drop(&mut self) {
        // A worker whose parent lets go is not left running.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_lines(stdout: impl Read, tx: mpsc::SyncSender<Message>, expected: &AtomicU64) {
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        match reader.by_ref().take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = line.trim_end().to_string();
                let announced = pixels_length(&line);
                if tx.send(Message::Line(line)).is_err() {
                    return;
                }
                if let Some(len) = announced {
                    // Only after a render request, and at most what the frame asked for can
                    // hold: checked before allocating. A worker that announces more, or
                    // pixels unasked, or sends less, is read no further.
                    if len > expected.swap(0, Ordering::SeqCst) {
                        return;
                    }
                    let mut bytes = Vec::new();
                    if bytes.try_reserve_exact(len as usize).is_err()
                        || reader.by_ref().take(len).read_to_end(&mut bytes).is_err()
                        || bytes.len() as u64 != len
                        || tx.send(Message::Bytes(bytes)).is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// The length a render answer `{"pixels": n, …}` announces.
fn pixels_length(line: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Announced {
        pixels: u64,
    }
    if !line.starts_with("{\"") || !line.contains("\"pixels\"") {
        return None;
    }
    serde_json::from_str::<Announced>(line)
        .ok()
        .map(|a| a.pixels)
}

/// How a worker ended, and whether that may be the machine's doing (SIGKILL: the kernel's
/// out-of-memory killer; SIGXCPU: its life-long CPU backstop) rather than the file's.
#[cfg(unix)]
fn describe_exit(status: std::process::ExitStatus) -> (String, bool) {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => (format!("exited with status {code}"), false),
        (None, Some(sig)) => match sig {
            6 => (
                "aborted (SIGABRT; a codec's assertion, or memory beyond the worker's limit)"
                    .into(),
                false,
            ),
            9 => ("was killed (SIGKILL)".into(), true),
            11 => ("crashed (SIGSEGV)".into(), false),
            7 => ("crashed (SIGBUS)".into(), false),
            24 => ("used up its CPU-time limit (SIGXCPU)".into(), true),
            31 => ("made a forbidden system call (SIGSYS)".into(), false),
            other => (format!("was ended by signal {other}"), false),
        },
        (None, None) => ("ended".into(), false),
    }
}

#[cfg(not(unix))]
fn describe_exit(status: std::process::ExitStatus) -> (String, bool) {
    (format!("ended ({status})"), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(output: &[u8], expected: u64) -> Vec<Message> {
        let (tx, rx) = mpsc::sync_channel(16);
        read_lines(output, tx, &AtomicU64::new(expected));
        rx.try_iter().collect()
    }

    /// Review finding (2026-12-01): any `{"png": n}` line made the parent reserve and read up
    /// to 256 MiB, asked for or not. Pixels are read only after a render request, and at most
    /// what the frame asked for can hold.
    #[test]
    fn pixels_are_read_only_when_asked_for_and_no_more_than_asked() {
        let answer =
            b"{\"channels\":1,\"height\":1,\"pixels\":4,\"width\":4}\nabcd{\"frames\":1}\n";
        let got = read(answer, 4);
        assert!(
            matches!(&got[..], [Message::Line(_), Message::Bytes(b), Message::Line(l)]
            if b == b"abcd" && l == "{\"frames\":1}"),
            "{got:?}"
        );
        // Unasked: the line is passed on (the parent refuses it) and nothing more is read.
        assert!(matches!(&read(answer, 0)[..], [Message::Line(_)]));
        // More than asked for: the same.
        assert!(matches!(&read(answer, 3)[..], [Message::Line(_)]));
        // Fewer bytes than announced: no pixels pass.
        let short = b"{\"channels\":1,\"height\":1,\"pixels\":4,\"width\":4}\nab";
        assert!(matches!(&read(short, 4)[..], [Message::Line(_)]));
    }
}
