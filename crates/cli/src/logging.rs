//! Logs on stderr, so stdout carries only the command's output (`--json` stays parseable).
//! `RUST_LOG` (an `EnvFilter`) wins when set; otherwise `-v` shows Countersign's info events and
//! `-vv` its debug events; with neither, warnings only, so a failing command still prints just
//! its one `error:` line (refusals the caller is told about are logged at info).

use tracing_subscriber::EnvFilter;

/// The filter for `-v` given `verbose` times. Other crates (libp2p, …) stay a step quieter
/// than ours: their debug output would bury a maintainer's.
fn directives(verbose: u8) -> &'static str {
    // A target directive matches by prefix: `countersign` covers countersign_app, _sync, …
    match verbose {
        0 => "error,countersign=warn",
        1 => "warn,countersign=info",
        2 => "warn,countersign=debug",
        _ => "debug,countersign=trace",
    }
}

pub(crate) fn init(verbose: u8) {
    let default = || EnvFilter::new(directives(verbose));
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::try_new(&v).unwrap_or_else(|e| {
            eprintln!("warning: RUST_LOG={v:?} is not a log filter ({e}); ignoring it");
            default()
        }),
        _ => default(),
    };
    // try_init: a subscriber already set (never, in this binary) is not worth a panic.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::directives;
    use tracing_subscriber::EnvFilter;

    #[test]
    fn every_verbosity_is_a_valid_filter() {
        for v in 0..=4 {
            assert!(EnvFilter::try_new(directives(v)).is_ok(), "{v}");
        }
    }
}
