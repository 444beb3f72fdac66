//! [`Home`]: a home directory with its passphrase, driven through the CLI (or opened through
//! the app's API).

use std::path::{Path, PathBuf};
use std::process::Command;

use countersign_ledger::SecretKey;
use serde_json::Value;

use super::{bin, genesis_in, Run};

/// A home directory driven through the CLI.
pub struct Home {
    pub dir: PathBuf,
    /// The file holding this home's passphrase (beside the home, in its temporary directory):
    /// every run of the CLI on this home is given it in `COUNTERSIGN_PASSPHRASE_FILE`.
    pub passphrase_file: PathBuf,
    /// More environment for every run of the CLI on this home (a private D-Bus session for a
    /// home whose key is in the OS keychain: `tests/integration/keychain.rs`).
    pub env: Vec<(String, std::ffi::OsString)>,
    _tmp: Option<tempfile::TempDir>,
}

/// The passphrase `demo` seals its homes' keys under.
pub const DEMO_PASSPHRASE: &str = countersign_app::DEMO_PASSPHRASE;

impl Home {
    pub fn new() -> Home {
        let tmp = tempfile::tempdir().expect("tempdir");
        let passphrase_file = tmp.path().join("passphrase");
        std::fs::write(&passphrase_file, format!("test passphrase {}\n", unique())).unwrap();
        Home {
            dir: tmp.path().join("home"),
            passphrase_file,
            env: Vec::new(),
            _tmp: Some(tmp),
        }
    }

    /// This home's passphrase, as its file holds it.
    pub fn passphrase(&self) -> String {
        std::fs::read_to_string(&self.passphrase_file)
            .unwrap()
            .trim_end()
            .to_string()
    }

    /// `countersign --home DIR` with this home's passphrase file in the environment (and, in
    /// this debug build, keys sealed with the cheapest Argon2id parameters the format accepts,
    /// so that thousands of unlocks stay fast; see `KdfParams::FAST_FOR_TESTS`).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.arg("--home")
            .arg(&self.dir)
            .env_remove("COUNTERSIGN_HOME")
            .env("COUNTERSIGN_PASSPHRASE_FILE", &self.passphrase_file)
            .env("COUNTERSIGN_TEST_FAST_KDF", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs `countersign --home DIR --json ARGS...`. After `demo`, this home's passphrase is
    /// the demo passphrase its keys were sealed under.
    pub fn run(&self, args: &[&str]) -> Run {
        let run: Run = self
            .command()
            .arg("--json")
            .args(args)
            .output()
            .expect("spawn countersign")
            .into();
        if args.first() == Some(&"demo") && run.code == 0 {
            std::fs::write(&self.passphrase_file, DEMO_PASSPHRASE).unwrap();
        }
        run
    }

    /// The home opened through the app's API, with its passphrase (as a long-lived process, the
    /// desktop, holds it).
    pub fn app(&self) -> countersign_app::Home {
        open_app_home(&self.dir)
    }

    pub fn ok(&self, args: &[&str]) -> Value {
        self.run(args).ok()
    }

    /// What `countersign --home DIR ARGS...` prints for a person (no `--json`), whatever its
    /// exit code.
    pub fn text(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .output()
            .expect("spawn countersign");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Creates an identity in this (new) home and returns its key.
    pub fn key_of_new_member(&self) -> String {
        self.ok(&["init", "--name", "Someone", "--role", "resident"])["key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn key(&self) -> String {
        self.ok(&["whoami"])["key"].as_str().unwrap().to_string()
    }

    /// Joins `admin`'s department as a new member would: the admin signs an invitation for
    /// this home's key, and this home joins with it (it then takes only that network).
    pub fn join(&self, admin: &Home) {
        let key = self.key();
        let invited = admin.ok(&["roster", "invite", "--key", &key]);
        let invitation = invited["invitation"].as_str().unwrap();
        self.ok(&["join", invitation]);
    }

    /// A private key from this home's key store, unsealed with the home's passphrase (tests
    /// play every member of a department).
    pub fn secret(&self, public_hex: &str) -> SecretKey {
        countersign_app::keys::KeyStore::new(&self.dir)
            .load(
                &public_hex.parse().unwrap(),
                &countersign_app::Passphrase::new(self.passphrase()),
            )
            .unwrap()
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.join("ledger.sqlite3")).unwrap()
    }

    pub fn count(&self) -> u64 {
        self.ok(&["verify"])["entries"].as_u64().unwrap()
    }

    pub fn demo() -> (Home, String) {
        let home = Home::new();
        let demo = home.ok(&["demo"]);
        let report = demo["report"].as_str().unwrap().to_string();
        (home, report)
    }

    /// Key of the demo member with `role`.
    pub fn member(&self, role: &str) -> String {
        let roster = self.ok(&["roster", "list"]);
        roster
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["role"] == role)
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `report write REPORT --section SECTION --text TEXT`.
    pub fn write(&self, report: &str, section: &str, text: &str) -> Run {
        self.run(&[
            "report",
            "write",
            report,
            "--section",
            section,
            "--text",
            text,
        ])
    }

    /// Starts a report through the CLI and returns its id.
    pub fn new_report(&self, study: &str, template: &str) -> String {
        self.ok(&["report", "new", "--study", study, "--template", template])["report"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub fn bundle(&self, report: Option<&str>) -> Vec<u8> {
        let file = self.dir.with_extension(format!("{}.bundle", unique()));
        let f = file.to_str().unwrap();
        let mut args = vec!["bundle", "export"];
        args.extend(report);
        args.extend(["-o", f]);
        self.ok(&args);
        std::fs::read(&file).unwrap()
    }

    /// Writes `bytes` to a file and runs `bundle import` on it. A home that has not joined a
    /// network is given the bundle's own (`--network`), as a member handed their department's
    /// bundle would name it; `tests/integration/join.rs` tries the gate itself with `run`.
    pub fn import(&self, bytes: &[u8]) -> Run {
        let file = self.dir.with_extension(format!("{}.in.bundle", unique()));
        std::fs::write(&file, bytes).unwrap();
        let mut args = vec![
            "bundle".to_string(),
            "import".to_string(),
            file.to_str().unwrap().to_string(),
        ];
        if let (false, Some(network)) = (self.joined(), genesis_in(bytes)) {
            args.extend(["--network".to_string(), network]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }

    /// Whether this home holds a network or was told which to trust (read from its store).
    pub fn joined(&self) -> bool {
        let path = self.dir.join("ledger.sqlite3");
        path.exists()
            && self
                .db()
                .query_row(
                    "SELECT COUNT(*) FROM meta WHERE key IN ('network', 'trust.network', 'trust.founder')",
                    [],
                    |r| r.get::<_, i64>(0),
                )
                .map(|n| n > 0)
                .unwrap_or(false)
    }
}

/// A home made by [`Home::new`] (its passphrase file beside it), opened through the app's API.
pub fn open_app_home(dir: &Path) -> countersign_app::Home {
    let file = dir.parent().unwrap().join("passphrase");
    let passphrase = std::fs::read_to_string(file).unwrap();
    let source = countersign_app::PassphraseSource::fixed(countersign_app::Passphrase::new(
        passphrase.trim_end(),
    ));
    countersign_app::Home::open_with(dir, source).unwrap()
}

/// A number no other call in this process returns: names scratch files without randomness.
fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
