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

pub(super) fn worker_command() -> Result<WorkerCommand> {
    if let Some(c) = WORKER.get() {
        return Ok(c.clone());
    }
    #[cfg(test)]
    return Ok(WorkerCommand::test_harness("sandbox::tests::decode_worker"));
    #[cfg(not(test))]
    WorkerCommand::current_exe()
}
