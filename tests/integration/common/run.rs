//! The `countersign` binary a test runs, what one run of it gave ([`Run`]), and the folders and
//! Python the tests use beside it.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

/// The `countersign` binary cargo built for this test run (this test belongs to the CLI's
/// package, so `cargo test` always rebuilds it first; a stale binary on disk is never run).
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_countersign"))
}

/// Tests that drive a home through `countersign_app` directly decode images in the CLI's
/// worker (see `countersign_app::sandbox`), as the CLI itself would.
pub fn use_cli_as_decode_worker() {
    countersign_app::sandbox::set_worker_command(countersign_app::sandbox::WorkerCommand::program(
        bin(),
    ));
}

/// The repository's `tests/` folder (scripts and manifests the tests use).
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {:?} / stderr {:?}",
                self.stdout, self.stderr
            )
        })
    }

    /// The stable code of a refused command (exit 2): its stderr's last line is the JSON
    /// error (a note may come before it).
    pub fn error_code(&self) -> String {
        assert_eq!(
            self.code, 2,
            "stdout {:?} stderr {:?}",
            self.stdout, self.stderr
        );
        let last = self.stderr.trim().lines().last().unwrap_or_default();
        let line: Value = serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("stderr is not one JSON line ({e}): {:?}", self.stderr));
        line["error"]["code"].as_str().unwrap().to_string()
    }

    /// Asserts success and returns the JSON output.
    pub fn ok(&self) -> Value {
        assert_eq!(
            self.code, 0,
            "command failed: stdout {} stderr {}",
            self.stdout, self.stderr
        );
        self.json()
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// The Python with the independent implementations the tests check against (pydicom, the
/// fhir.resources R4 models): `make test` creates a virtualenv from tests/requirements.txt;
/// COUNTERSIGN_PYTHON names another.
pub fn python() -> PathBuf {
    std::env::var_os("COUNTERSIGN_PYTHON")
        .map(PathBuf::from)
        .or_else(|| {
            let venv =
                PathBuf::from(std::env::var_os("HOME")?).join(".cache/countersign/venv/bin/python");
            venv.exists().then_some(venv)
        })
        .expect("no test Python: run `make test`, which creates it from tests/requirements.txt")
}
