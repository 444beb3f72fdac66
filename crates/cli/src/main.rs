//! `countersign`: everything the desktop app does, for scripts, servers and auditors.
//!
//! Every command takes `--json` for machine output. Exit status: 0 success, 1 verification found
//! a problem, 2 bad usage or bad input (with a one-line message on stderr; with `--json` that
//! line is `{"error":{"code":…,"rule":…,"message":…}}`, `rule` being the refusing rule's stable
//! code when a rule refused an entry).
//!
//! ```text
//! countersign --home /tmp/h demo
//! countersign --home /tmp/h report list --json
//! countersign --home /tmp/h verify --json
//! ```

mod ai;
mod args;
mod commands;
mod human;
mod logging;
mod output;
mod pacs;
mod passphrase;
mod report;
mod term;

/// Large image buffers are freed and allocated again several times per render; mimalloc reuses
/// the freed pages where the system allocator maps fresh ones, each page faulted in and zeroed
/// (measured rendering a 1760² CR: 339 page faults instead of 6393).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::args::Cli;

fn main() -> ExitCode {
    // Started again by itself to decode an untrusted image in a confined worker process.
    countersign_app::sandbox::serve_if_worker();
    // Before anything is created: every file and folder this process makes is the owner's
    // alone (PHI, report text, keys), with no window in which it had wider modes.
    countersign_app::owner_only_files();
    // Nor is any of the memory holding the key and report text, through a core dump.
    countersign_app::no_core_dumps();
    countersign_app::no_library_backtraces();
    countersign_app::no_huge_pages();
    // Decoders run behind a panic guard that turns a fault into an error message; keep the
    // report of such a fault to one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!("internal fault{at}");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    logging::init(cli.verbose);
    let json = cli.json;
    match commands::run(cli) {
        Ok(out) => {
            let text = if json {
                serde_json::to_string(&out.json).unwrap_or_default()
            } else {
                // Each untrusted value was made safe where it was put in; this guards the rest.
                term::output(&out.human).into_owned()
            };
            // A closed pipe (`countersign … | head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{text}");
            if out.problem {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(e) => {
            // One line on stderr either way; with --json it is `{"error": {code, rule?,
            // message}}` so that scripts match the stable codes, not the words.
            if json {
                let wire = serde_json::json!({ "error": e.to_wire() });
                eprintln!("{wire}");
            } else {
                // A message can quote a hostile value (a member's name, a refused entry's
                // section or field name): one line, nothing a terminal acts on.
                eprintln!("error: {}", term::line(&e.to_string()));
            }
            ExitCode::from(2)
        }
    }
}
