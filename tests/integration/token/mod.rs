//! A hardware token as the key store, against SoftHSM2 (Debian `softhsm2`): a token initialised
//! by `softhsm2-util` in a private directory (`SOFTHSM2_CONF`), `init --key-store token`
//! generating the key on it, a section signed by the token and verified on another home; no file
//! under the home holds key material (and, for a key of known seed put on the token, not the
//! seed); the key on the token is sensitive and never extractable; a wrong PIN, a deleted key, a
//! missing token (or another with its label), a key that can leave the token, a token without
//! EdDSA and a signature that does not verify for the identity's key are refused with their codes
//! (exit 2), writing nothing; a token home joins by invitation and syncs under a node delegation
//! its token signed, shown to its peers as its member; the desktop's unlock with the PIN.
//!
//! By subject:
//! - `signing`: a section signed on the token verifies on another home, with no key material
//!   under the home; a key of known seed put on the token signs, and neither its seed nor a
//!   report's data key in clear reaches a file; a key id the token lacks, a malformed one and
//!   a pair that could leave the token are refused.
//! - `refusals`: a wrong PIN, a deleted key, a missing token (or another with its label), a
//!   module that is not there, a token without EdDSA, and a token key that is not the
//!   identity's key: refused with their codes, writing nothing.
//! - `key_commands`: the `key` commands on a token home: its key is not moved off the token nor
//!   its passphrase changed, and it rotates to a new pair on the same token.
//! - `sync`: a token home joins by invitation and syncs both ways (and serves) as its member.
//! - `desktop`: the desktop's unlock with the PIN and re-authentication, in this process, and
//!   the private key's flags read through PKCS#11 itself.
//!
//! The helpers here are the ones more than one of them uses.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{every_file, Home, Run};

mod desktop;
mod key_commands;
mod refusals;
mod signing;
mod sync;

/// Debian's SoftHSM2 module.
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
const PIN: &str = "246810";
const SO_PIN: &str = "13579246";

/// A SoftHSM2 installation of its own: a configuration file and a token directory, in a
/// temporary directory, reached by setting `SOFTHSM2_CONF`.
struct SoftHsm {
    conf: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl SoftHsm {
    /// A new installation; `extra` is appended to its configuration.
    fn new(extra: &str) -> SoftHsm {
        let dir = tempfile::tempdir().unwrap();
        let conf = SoftHsm::configure(dir.path(), extra);
        SoftHsm {
            conf,
            _dir: Some(dir),
        }
    }

    fn configure(dir: &Path, extra: &str) -> PathBuf {
        let tokens = dir.join("tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n{extra}",
                tokens.display()
            ),
        )
        .unwrap();
        conf
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("SOFTHSM2_CONF", &self.conf);
        cmd
    }

    /// `softhsm2-util --init-token --free --label LABEL` with the test PINs.
    fn init_token(&self, label: &str) {
        let out = self
            .command("softhsm2-util")
            .args(["--init-token", "--free", "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", PIN])
            .output()
            .expect("softhsm2-util (Debian softhsm2: `make deps` installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `pkcs11-tool --module MODULE --token-label LABEL --login --pin PIN ARGS`: its stdout, or
    /// a panic with its stderr.
    fn tool(&self, label: &str, args: &[&str]) -> String {
        let out = self
            .command("pkcs11-tool")
            .args([
                "--module",
                MODULE,
                "--token-label",
                label,
                "--login",
                "--pin",
                PIN,
            ])
            .args(args)
            .output()
            .expect("pkcs11-tool (Debian opensc)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `countersign --json ARGS` on `home` with this installation (the PIN is in the home's
    /// passphrase file).
    fn run(&self, home: &Home, args: &[&str]) -> Run {
        home.command()
            .env("SOFTHSM2_CONF", &self.conf)
            .arg("--json")
            .args(args)
            .output()
            .unwrap()
            .into()
    }

    fn ok(&self, home: &Home, args: &[&str]) -> Value {
        self.run(home, args).ok()
    }

    /// A new ct-chest report on `study`, signed on the token: its id.
    fn new_report(&self, home: &Home, study: &str) -> String {
        let args = ["report", "new", "--study", study, "--template", "ct-chest"];
        self.ok(home, &args)["report"].as_str().unwrap().to_string()
    }

    /// `bundle export` of every report of `home`, with their data keys (the token opens them).
    fn bundle(&self, home: &Home) -> Vec<u8> {
        let file = home.dir.with_extension("export.bundle");
        self.ok(home, &["bundle", "export", "-o", file.to_str().unwrap()]);
        std::fs::read(&file).unwrap()
    }

    /// A section written and signed on the token.
    fn write(&self, home: &Home, report: &str, section: &str, text: &str) -> Value {
        let args = [
            "report",
            "write",
            report,
            "--section",
            section,
            "--text",
            text,
        ];
        self.ok(home, &args)
    }
}

/// A new home whose passphrase file holds the token's PIN.
fn home_with_pin() -> Home {
    let home = Home::new();
    std::fs::write(&home.passphrase_file, format!("{PIN}\n")).unwrap();
    home
}

fn init_args(label: &str) -> Vec<String> {
    [
        "init",
        "--name",
        "Dr Ada",
        "--role",
        "attending",
        "--admin",
        "--key-store",
        "token",
        "--pkcs11-module",
        MODULE,
        "--token-label",
        label,
    ]
    .map(String::from)
    .to_vec()
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn message_of(run: &Run) -> String {
    let last = run.stderr.trim().lines().last().unwrap_or_default();
    let line: Value = serde_json::from_str(last).unwrap();
    line["error"]["message"].as_str().unwrap().to_string()
}

fn identity(home: &Home) -> Value {
    serde_json::from_slice(&std::fs::read(home.dir.join("identity.json")).unwrap()).unwrap()
}

/// No key file and no sealed key anywhere under a token home (the WAL, which must be there,
/// included); with `seed`, not those 32 bytes nor their hex either.
fn assert_no_key_material(dir: &Path, seed: Option<&[u8; 32]>) {
    let files = every_file(dir);
    assert!(
        files.iter().any(|f| f.ends_with("ledger.sqlite3-wal")),
        "no WAL among {files:?}"
    );
    assert!(
        !dir.join("keys").exists(),
        "a token home has a keys/ folder"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"CSKEY1"),
            "{} holds a sealed key",
            f.display()
        );
        if let Some(seed) = seed {
            let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                !bytes.windows(32).any(|w| w == seed),
                "{} holds the seed",
                f.display()
            );
            assert!(
                !String::from_utf8_lossy(&bytes)
                    .to_lowercase()
                    .contains(&hex),
                "{} holds the seed in hex",
                f.display()
            );
        }
    }
}

/// Holds the ledger open from this process so that its WAL stays on disk between the CLI's runs
/// and is scanned too (no `serve` of this home keeps it open elsewhere here). Scan
/// only after the last run: reading the database's files here drops this connection's locks.
fn hold_wal(home: &Home) -> rusqlite::Connection {
    let db = home.db();
    let _: i64 = db
        .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    db
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
