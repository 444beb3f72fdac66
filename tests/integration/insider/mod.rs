//! The insider list, each run as the insider would run it: real homes, the real CLI, real
//! SQLite files, the attacker's clock shifted with Debian's `faketime`. Each ends with the
//! attack refused or the conflict visible, `verify` honest about it, and an honest peer
//! showing the same.

mod authority;
mod conflict;
mod convergence;
mod future;
mod revocation;

use std::process::Command;

use crate::common::{bin, Home, Run};

impl Home {
    /// Runs the CLI with its clock shifted by `offset` (faketime syntax: `-30d`, `+365d`).
    fn at(&self, offset: &str, args: &[&str]) -> Run {
        Command::new("faketime")
            .args(["-f", offset])
            .arg(bin())
            .arg("--home")
            .arg(&self.dir)
            .arg("--json")
            .args(args)
            .env_remove("COUNTERSIGN_HOME")
            .env("COUNTERSIGN_PASSPHRASE_FILE", &self.passphrase_file)
            .env("COUNTERSIGN_TEST_FAST_KDF", "1")
            .output()
            .expect("faketime (Debian's faketime package; make test installs it)")
            .into()
    }

    fn status_of(&self, report: &str) -> String {
        self.ok(&["report", "show", report])["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn text_of(&self, report: &str, section: &str) -> serde_json::Value {
        self.ok(&["report", "show", report])["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == section)
            .unwrap()["text"]
            .clone()
    }
}

/// Everything from `from` into `to`; returns the import.
fn give(from: &Home, to: &Home) -> Run {
    to.import(&from.bundle(None))
}

fn department() -> (Home, Home) {
    crate::common::two_attendings()
}

fn entry_of(run: &Run) -> String {
    run.ok()["entry"].as_str().unwrap().to_string()
}
