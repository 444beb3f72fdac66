//! Helpers: run the real `countersign` binary against a home directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use countersign_ledger::{Entry, EntryId, Header, Kind, SecretKey};
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

/// Every file under `dir`, recursively.
pub fn every_file(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(every_file(&p));
        } else {
            out.push(p);
        }
    }
    out
}

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

/// Ada founds a department and makes Bob, an attending on his own home, an admin too; Bob's
/// home has the roster.
pub fn two_attendings() -> (Home, Home) {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let bob = Home::new();
    let key = bob.ok(&["init", "--name", "Dr Bob", "--role", "attending"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[
        "roster",
        "add",
        "--key",
        &key,
        "--name",
        "Dr Bob",
        "--role",
        "attending",
        "--admin",
    ]);
    bob.join(&ada);
    let given = bob.import(&ada.bundle(None));
    assert_eq!(given.code, 0, "{}", given.stderr);
    (ada, bob)
}

impl Home {
    /// `payload` as a hand-built `kind` entry of `report` must carry it: sealed under the
    /// report's data key, which this home holds, as the app seals its own (a report created
    /// by the app is sealed, and a clear payload in it is refused: `payload_not_sealed`).
    pub fn sealed(&self, report: &str, kind: Kind, payload: &[u8]) -> Vec<u8> {
        use countersign_report::payload::seal;
        let key = self.data_key(report);
        let log: EntryId = report.parse().unwrap();
        seal::seal(&key, &next_nonce(), kind, Some(&log), payload)
    }

    /// `report`'s data key as this home holds it: its row is wrapped under the home's
    /// key-encryption key, which is made here from the home's own secret key as the app makes
    /// it (the member key's signature of the wrapping message); a row still in clear is read
    /// as it is.
    pub fn data_key(&self, report: &str) -> countersign_ledger::DataKey {
        let row: Vec<u8> = self
            .db()
            .query_row(
                "SELECT key FROM report_keys WHERE log = ?1",
                [hex::decode(report).unwrap()],
                |r| r.get(0),
            )
            .expect("this home holds the report's key");
        // A row an older build stored in clear is the key itself.
        if let Some(key) = countersign_ledger::DataKey::from_slice(&row) {
            return key;
        }
        let log: EntryId = report.parse().unwrap();
        self.kek()
            .unwrap(&log, &row)
            .expect("the row opens with the home's key")
    }

    /// This home's key-encryption key, made from its secret key (sealed under its passphrase).
    /// Kept per home and key: a test sealing thousands of payloads opens the key once.
    pub fn kek(&self) -> countersign_ledger::Kek {
        use countersign_ledger::Signer;
        type Keks = std::collections::HashMap<(PathBuf, String), countersign_ledger::Kek>;
        static KEKS: std::sync::OnceLock<std::sync::Mutex<Keks>> = std::sync::OnceLock::new();
        let profile = countersign_app::keys::KeyStore::new(&self.dir)
            .profile()
            .unwrap()
            .expect("an identity");
        let id = (self.dir.clone(), profile.key.to_hex());
        let keks = KEKS.get_or_init(Default::default);
        if let Some(kek) = keks.lock().unwrap().get(&id) {
            return kek.clone();
        }
        let secret = self.secret(&profile.key.to_hex());
        let message = countersign_ledger::kek_message(&profile.key);
        let signature = secret.try_sign(&message).unwrap();
        let kek = countersign_ledger::Kek::from_signature(&profile.key, &signature).unwrap();
        keks.lock().unwrap().insert(id, kek.clone());
        kek
    }

    /// Writes every section a `ct-chest` report needs signed (a normal head CT, as the
    /// archive tests read back), so it can be finalized.
    pub fn fill_every_section(&self, report: &str) {
        for (section, text) in [
            ("technique", "CT of the head."),
            ("findings", "Normal."),
            ("impression", "No acute abnormality."),
        ] {
            self.write(report, section, text).ok();
        }
    }

    /// Imports a hand-built sealed report's create, with its key, as a bundle.
    pub fn import_report(&self, report: &SealedReport) -> Run {
        self.import(&countersign_ledger::bundle::encode_keyed(
            &[report.bundle_key()],
            [(&report.create, Some(report.payload.as_slice()))],
        ))
    }

    /// Imports one entry (with its payload) as a bundle.
    pub fn import_one(&self, entry: &Entry, payload: &[u8]) -> Run {
        self.import(&countersign_ledger::bundle::encode([(
            entry,
            Some(payload),
        )]))
    }
}

/// A report hand-built as the app builds one: its `report.create` sealed under a data key of
/// its own (networks founded by this build refuse a clear create: `payload_not_sealed`). The
/// key is derived from the create's author, time and content, so a run repeats and no two
/// reports share one (`data_key_reused`).
pub struct SealedReport {
    pub create: Entry,
    /// The sealed `report.create` payload the entry commits to.
    pub payload: Vec<u8>,
    pub key: countersign_ledger::DataKey,
}

/// Signs a sealed `report.create` of `create` (clear JSON) by `author` at `ts`.
pub fn sealed_create(author: &SecretKey, network: &str, ts: u64, create: &[u8]) -> SealedReport {
    use countersign_report::payload::seal;
    let mut seed = b"countersign test data key\0".to_vec();
    seed.extend_from_slice(author.public().as_bytes());
    seed.extend_from_slice(&ts.to_be_bytes());
    seed.extend_from_slice(create);
    let key =
        countersign_ledger::DataKey::from_bytes(*countersign_ledger::Hash::of(&seed).as_bytes());
    let bound = seal::create_binding(&author.public(), ts);
    let payload = seal::seal(
        &key,
        &next_nonce(),
        Kind::ReportCreate,
        Some(&bound),
        create,
    );
    let zero = countersign_ledger::Hash::ZERO.to_hex();
    let create = craft(
        author,
        network,
        &zero,
        1,
        ts,
        Kind::ReportCreate,
        vec![],
        &payload,
    );
    SealedReport {
        create,
        payload,
        key,
    }
}

impl SealedReport {
    pub fn log(&self) -> EntryId {
        self.create.id()
    }

    /// `plaintext` sealed as the payload of a `kind` entry of this report.
    pub fn seal(&self, kind: Kind, plaintext: &[u8]) -> Vec<u8> {
        countersign_report::payload::seal::seal(
            &self.key,
            &next_nonce(),
            kind,
            Some(&self.log()),
            plaintext,
        )
    }

    /// The report's key as a bundle carries it (`bundle::encode_keyed`).
    pub fn bundle_key(&self) -> (EntryId, countersign_ledger::DataKey) {
        (self.log(), self.key.clone())
    }
}

/// A nonce never repeated in this process (the app draws nonces from the OS; a test needs
/// them only never to repeat).
fn next_nonce() -> [u8; countersign_report::payload::seal::NONCE_LEN] {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let mut nonce = [0u8; countersign_report::payload::seal::NONCE_LEN];
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    nonce[..8].copy_from_slice(&n.to_le_bytes());
    nonce
}

/// Signs an entry by `key` on top of the given parents, with a payload. Mirrors the header
/// fields one to one, hence the argument count.
#[allow(clippy::too_many_arguments)]
pub fn craft(
    key: &SecretKey,
    network: &str,
    log: &str,
    seq: u64,
    ts: u64,
    kind: Kind,
    parents: Vec<EntryId>,
    payload: &[u8],
) -> Entry {
    let h = Header::new(
        network.parse().unwrap(),
        log.parse().unwrap(),
        key.public(),
        seq,
        ts,
        kind,
        parents,
        payload,
    );
    Entry::sign(h, key).unwrap()
}

/// The payload of a `report.create` for a CT chest report on `study` (no images).
pub fn ct_chest_create(study: &str) -> Vec<u8> {
    let template = countersign_report::template("ct-chest").unwrap();
    serde_json::to_vec(&countersign_report::payload::ReportCreate {
        study: study.into(),
        template: "ct-chest".into(),
        template_hash: template.content_hash(),
        images: vec![],
    })
    .unwrap()
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

pub fn ids(values: &Value) -> Vec<EntryId> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().parse().unwrap())
        .collect()
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

/// `init` / `roster add` arguments for an AI-model member.
pub const AI_MEMBER: [&str; 8] = [
    "--name",
    "soft-tissue-stats",
    "--role",
    "ai-model",
    "--vendor",
    "Countersign Labs",
    "--model-version",
    "1.0.0",
];

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

/// The id of the network genesis a bundle carries, if any.
pub fn genesis_in(bytes: &[u8]) -> Option<String> {
    let records = countersign_ledger::bundle::frame(bytes).ok()?;
    records.iter().find_map(|r| {
        let h = countersign_ledger::header::decode_with_keys(r.header, |k| {
            countersign_ledger::PublicKey::from_bytes(k).ok()
        })
        .ok()?;
        (h.kind == countersign_ledger::Kind::NetworkGenesis)
            .then(|| countersign_ledger::Hash::of(r.header).to_hex())
    })
}

/// A home that founds a department network of its own (its admin).
pub fn founder(name: &str) -> Home {
    let h = Home::new();
    h.ok(&["init", "--name", name, "--role", "attending", "--admin"]);
    h
}

/// A new home with an identity of its own, added to `admin`'s roster but not joined yet (it
/// joins with [`Home::join`]); and its key.
pub fn added(admin: &Home, name: &str, role: &str) -> (Home, String) {
    let h = Home::new();
    let key = h.ok(&["init", "--name", name, "--role", role])["key"]
        .as_str()
        .unwrap()
        .to_string();
    admin.ok(&[
        "roster", "add", "--key", &key, "--name", name, "--role", role,
    ]);
    (h, key)
}

/// A JSON value that must be a string, as an owned `String`.
pub fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

/// A founder ("Dr Ada", an attending admin) who imported a synthetic phantom series of
/// `slices` slices of `size`² pixels, written to `series`; and its study's UID.
pub fn founder_with_phantom(series: &Path, slices: u32, size: u32) -> (Home, String) {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    ada.ok(&[
        "image",
        "phantom",
        "-o",
        series.to_str().unwrap(),
        "--slices",
        &slices.to_string(),
        "--size",
        &size.to_string(),
    ]);
    ada.ok(&["import", series.to_str().unwrap()]);
    let study = str_of(&ada.ok(&["studies"])[0]["study"]);
    (ada, study)
}
