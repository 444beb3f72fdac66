//! The desktop's log: `<home>/logs/countersign.log`, appended across runs. The directory is
//! owner-only (0700) and the file 0600: a log holds ids and keys' public halves only, never
//! patient data or report text, but it is nobody else's business who signed what when. Bounded:
//! past [`MAX_BYTES`] the file is renamed `countersign.log.1` (replacing the one before) and a
//! new one started, so the logs never take more than twice that.
//!
//! The level is `RUST_LOG` when set, else info for Countersign's crates (warn for the rest).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

/// A log file is rotated once it would grow past this.
pub const MAX_BYTES: u64 = 10 << 20;

/// The log file's name inside `<home>/logs`.
pub const FILE_NAME: &str = "countersign.log";

/// The file being written and how big it is.
#[derive(Debug)]
struct Current {
    path: PathBuf,
    file: File,
    len: u64,
    max: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        // A file left by an older build (or created under another umask) is tightened too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    options.open(path)
}

impl Current {
    /// Starts a new file once this write would take the current one past `max` (a write is
    /// one event, so events are never split across files).
    fn rotate_for(&mut self, incoming: usize) -> io::Result<()> {
        if self.len == 0 || self.len + incoming as u64 <= self.max {
            return Ok(());
        }
        self.file.flush()?;
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = open_append(&self.path)?;
        self.len = 0;
        Ok(())
    }
}

/// A size-bounded, append-only log file shared by every thread that logs.
#[derive(Debug, Clone)]
pub struct LogFile(Arc<Mutex<Current>>);

impl LogFile {
    /// Opens (creating) `dir/countersign.log`, creating `dir` owner-only.
    pub fn open(dir: &Path) -> io::Result<LogFile> {
        LogFile::open_bounded(dir, MAX_BYTES)
    }

    fn open_bounded(dir: &Path, max: u64) -> io::Result<LogFile> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            builder.mode(0o700);
            builder.create(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        #[cfg(not(unix))]
        builder.create(dir)?;
        let path = dir.join(FILE_NAME);
        let file = open_append(&path)?;
        let len = file.metadata()?.len();
        Ok(LogFile(Arc::new(Mutex::new(Current {
            path,
            file,
            len,
            max,
        }))))
    }

    pub fn path(&self) -> PathBuf {
        self.lock().path.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Current> {
        // A thread that panicked while logging left the file as it was: still writable.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One event's write, holding the file for its duration.
#[derive(Debug)]
pub struct Writer<'a>(MutexGuard<'a, Current>);

impl Write for Writer<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let current = &mut *self.0;
        current.rotate_for(buf.len())?;
        let n = current.file.write(buf)?;
        current.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.file.flush()
    }
}

impl<'a> MakeWriter<'a> for LogFile {
    type Writer = Writer<'a>;

    fn make_writer(&'a self) -> Writer<'a> {
        Writer(self.lock())
    }
}

/// Sends this process's logs to `<home>/logs/countersign.log`; returns the file's path. If the
/// file cannot be opened, logs go to stderr instead (and the reason with them).
pub fn init(home: &Path) -> Option<PathBuf> {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new("warn,countersign=info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match LogFile::open(&home.join("logs")) {
        Ok(file) => {
            let path = file.path();
            // No colour codes in a file.
            let _ = builder.with_ansi(false).with_writer(file).try_init();
            Some(path)
        }
        Err(e) => {
            let _ = builder.with_writer(io::stderr).try_init();
            tracing::warn!(error = %e, "cannot open the log file; logging to stderr");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_is_owner_only_appended_and_rotated_at_its_bound() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("logs");
        let log = LogFile::open_bounded(&dir, 100).unwrap();
        let line = [b'x'; 40];
        for _ in 0..2 {
            log.make_writer().write_all(&line).unwrap();
        }
        let path = dir.join(FILE_NAME);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
        // The third write would pass 100 bytes: the file is rotated first.
        log.make_writer().write_all(&line).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 40);
        let old = dir.join(format!("{FILE_NAME}.1"));
        assert_eq!(std::fs::metadata(&old).unwrap().len(), 80);
        // Reopened (a new run), it appends and counts what is there.
        drop(log);
        let log = LogFile::open_bounded(&dir, 100).unwrap();
        log.make_writer().write_all(&line).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 80);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir), 0o700);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&old), 0o600);
        }
    }
}
