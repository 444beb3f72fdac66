//! How a decode worker is started: this executable with [`WORKER_ARG`], another program built
//! with this crate, or (in a test harness, whose `main` is not ours) one test of the harness.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use super::{CHILD_ENV, WORKER_ARG};
use crate::error::{AppError, Result};

/// How to start a decode worker.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub(super) program: PathBuf,
    pub(super) args: Vec<OsString>,
    pub(super) env: Vec<(OsString, OsString)>,
}

impl WorkerCommand {
    /// The decode worker installed beside this executable ([`WORKER_PROGRAM`]) if there is
    /// one, else this executable itself; either way with [`WORKER_ARG`] (its `main` calls
    /// [`serve_if_worker`]). The dedicated program holds the decoders only and starts in less
    /// than two thirds of the CLI's time, and a sixth of the desktop's.
    ///
    /// [`serve_if_worker`]: crate::sandbox::serve_if_worker
    pub fn current_exe() -> Result<WorkerCommand> {
        let exe = std::env::current_exe().map_err(AppError::io(
            "finding this program to start a decode worker",
        ))?;
        Ok(WorkerCommand {
            program: worker_beside(&exe).unwrap_or(exe),
            args: vec![WORKER_ARG.into()],
            env: Vec::new(),
        })
    }

    /// This executable itself, when this command is the dedicated worker beside it: what to
    /// start if that one does not answer this version's hello.
    pub(super) fn own_fallback(&self) -> Option<WorkerCommand> {
        let exe = std::env::current_exe().ok()?;
        (self.program != exe && worker_beside(&exe).as_ref() == Some(&self.program)).then(|| {
            WorkerCommand {
                program: exe,
                args: vec![WORKER_ARG.into()],
                env: Vec::new(),
            }
        })
    }

    /// Another program built with this crate whose `main` calls [`serve_if_worker`] (a test
    /// harness that drives a home directly uses the CLI).
    ///
    /// [`serve_if_worker`]: crate::sandbox::serve_if_worker
    pub fn program(program: PathBuf) -> WorkerCommand {
        WorkerCommand {
            program,
            args: vec![WORKER_ARG.into()],
            env: Vec::new(),
        }
    }

    /// This test harness, running only the test `test` (which calls
    /// [`serve_if_worker_child`] first).
    ///
    /// [`serve_if_worker_child`]: crate::sandbox::serve_if_worker_child
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

/// The file name of the dedicated decode worker (the CLI crate's second binary), installed in
/// the same directory as `countersign` and `countersign-desktop`.
pub const WORKER_PROGRAM: &str = "countersign-decode-worker";

/// The dedicated worker in `exe`'s directory, if one is there and executable. It is trusted as
/// much as `exe` itself: the same directory, put there by the same installer or build.
fn worker_beside(exe: &std::path::Path) -> Option<PathBuf> {
    let candidate = exe.parent()?.join(WORKER_PROGRAM);
    let meta = std::fs::metadata(&candidate).ok()?;
    #[cfg(unix)]
    let runnable = {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    };
    #[cfg(not(unix))]
    let runnable = meta.is_file();
    runnable.then_some(candidate)
}

static WORKER: OnceLock<WorkerCommand> = OnceLock::new();

/// Chooses how workers are started in this process (a test harness names its worker test);
/// without it, [`WorkerCommand::current_exe`]. Only the first call counts.
pub fn set_worker_command(command: WorkerCommand) {
    let _ = WORKER.set(command);
}

pub(super) fn worker_command() -> Result<WorkerCommand> {
    if let Some(c) = WORKER.get() {
        return Ok(c.clone());
    }
    #[cfg(test)]
    return Ok(WorkerCommand::test_harness("sandbox::tests::decode_worker"));
    #[cfg(not(test))]
    WorkerCommand::current_exe()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dedicated_worker_is_used_only_when_it_is_an_executable_beside_the_program() {
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("countersign");
        assert_eq!(worker_beside(&exe), None, "nothing there");
        let worker = dir.path().join(WORKER_PROGRAM);
        std::fs::create_dir(&worker).unwrap();
        assert_eq!(worker_beside(&exe), None, "a directory of that name");
        std::fs::remove_dir(&worker).unwrap();
        std::fs::write(&worker, b"#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert_eq!(worker_beside(&exe), None, "not executable");
            std::fs::set_permissions(&worker, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert_eq!(worker_beside(&exe), Some(worker));
    }
}
