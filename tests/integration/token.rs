//! A hardware token as the key store, against SoftHSM2 (Debian `softhsm2`): a token initialised
//! by `softhsm2-util` in a private directory (`SOFTHSM2_CONF`), `init --key-store token`
//! generating the key on it, a section signed by the token and verified on another home; no file
//! under the home holds key material (and, for a key of known seed put on the token, not the
//! seed); the key on the token is sensitive and never extractable; a wrong PIN, a deleted key, a
//! missing token (or another with its label), a key that can leave the token, a token without
//! EdDSA and a signature that does not verify for the identity's key are refused with their codes
//! (exit 2), writing nothing; a token home joins by invitation and syncs under a node delegation
//! its token signed, shown to its peers as its member; the desktop's unlock with the PIN.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::{every_file, Home, Run};

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

/// Entries stored in `home` (by SQL: `verify` needs the token, which opens the data keys).
fn stored(home: &Home) -> i64 {
    home.db()
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap()
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

#[test]
fn a_section_signed_on_a_softhsm_token_verifies_on_another_home_and_no_key_is_under_the_home() {
    let hsm = SoftHsm::new("");
    hsm.init_token("countersign-test");
    let home = home_with_pin();
    let who = hsm.ok(&home, &strs(&init_args("countersign-test")));
    assert_eq!(who["key_store"], "token", "{who}");
    let key = who["key"].as_str().unwrap().to_string();

    // identity.json names the token and the key pair; the public key is the one on the token.
    let id = identity(&home);
    assert_eq!(id["store"], "token", "{id}");
    assert_eq!(id["token"]["label"], "countersign-test");
    assert_eq!(id["token"]["module"], MODULE);
    assert!(!id["token"]["serial"].as_str().unwrap().is_empty());
    let key_id = id["token"]["key_id"].as_str().unwrap().to_string();
    let listed = hsm.tool("countersign-test", &["--list-objects"]);
    let point = listed
        .lines()
        .find_map(|l| l.trim().strip_prefix("EC_POINT:"))
        .unwrap_or_else(|| panic!("no public key on the token: {listed}"))
        .trim()
        .to_string();
    assert_eq!(point, format!("0420{key}"), "{listed}");

    let _wal = hold_wal(&home);
    let report = hsm.new_report(&home, "1.2.3");
    let written = hsm.write(&home, &report, "findings", "No nodule.");
    assert!(written["entry"].is_string(), "{written}");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());

    // Another home takes the bundle (every signature checked on import) and verifies it.
    let auditor = Home::new();
    auditor.key_of_new_member();
    let imported = auditor.import(&hsm.bundle(&home));
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let verified = auditor.ok(&["verify"]);
    assert!(verified["ok"].as_bool().unwrap(), "{verified}");
    let shown = auditor.ok(&["report", "show", &report]);
    assert!(shown.to_string().contains("No nodule."), "{shown}");
    assert!(
        shown.to_string().contains(&key),
        "the section's author: {shown}"
    );

    assert_no_key_material(&home.dir, None);
    // The private key on the token: sensitive and never extractable since it was generated there.
    let private = listed
        .split("Private Key Object")
        .nth(1)
        .unwrap_or_else(|| panic!("no private key on the token: {listed}"));
    assert!(
        private.contains(&format!("ID:         {key_id}")),
        "{listed}"
    );
    let access = private
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .unwrap()
        .trim();
    assert_eq!(
        access, "sensitive, always sensitive, never extractable, local",
        "{listed}"
    );
}

/// PKCS#8 (RFC 8410) of an Ed25519 private key, as PEM: what `softhsm2-util --import` reads.
fn pkcs8_pem(seed: &[u8; 32]) -> String {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                text.push('=');
            }
        }
    }
    format!("-----BEGIN PRIVATE KEY-----\n{text}\n-----END PRIVATE KEY-----\n")
}

#[test]
fn a_key_of_known_seed_put_on_the_token_signs_and_its_seed_reaches_no_file_under_the_home() {
    let hsm = SoftHsm::new("");
    hsm.init_token("known-seed");
    // A key whose seed this test knows (so that it can look for it), put on the token as a
    // backup would be: sensitive and not extractable.
    let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let expected = countersign_ledger::SecretKey::from_seed(&seed)
        .public()
        .to_hex();
    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("key.pem");
    std::fs::write(&pem, pkcs8_pem(&seed)).unwrap();
    let out = hsm
        .command("softhsm2-util")
        .args(["--import", pem.to_str().unwrap(), "--token", "known-seed"])
        .args(["--label", "backup", "--id", "c0ffee", "--pin", PIN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&pem).unwrap();

    let home = home_with_pin();
    let mut args = init_args("known-seed");
    args.extend(["--pkcs11-key-id".into(), "c0ffee".into()]);
    let who = hsm.ok(&home, &strs(&args));
    assert_eq!(who["key"], expected.as_str());
    assert_eq!(identity(&home)["token"]["key_id"], "c0ffee");
    let _wal = hold_wal(&home);
    let report = hsm.new_report(&home, "1.2.9");
    hsm.write(&home, &report, "findings", "Signed on the token.");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());
    assert_no_key_material(&home.dir, Some(&seed));
    // Issue 16: the report's data key is stored wrapped under the key-encryption key the
    // token's signature made — the very one the same key in memory makes (Ed25519 signs
    // deterministically), so it opens the row here; its clear bytes are in no file.
    let secret = countersign_ledger::SecretKey::from_seed(&seed);
    let signature = countersign_ledger::Signer::try_sign(
        &secret,
        &countersign_ledger::kek_message(&secret.public()),
    )
    .unwrap();
    let kek = countersign_ledger::Kek::from_signature(&secret.public(), &signature).unwrap();
    let row: Vec<u8> = home
        .db()
        .query_row(
            "SELECT key FROM report_keys WHERE log = ?1",
            [hex_decode(&report)],
            |r| r.get(0),
        )
        .unwrap();
    let data_key = kek.unwrap(&report.parse().unwrap(), &row).unwrap();
    for file in every_file(&home.dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == data_key.as_bytes()),
            "the data key in clear in {file:?}"
        );
    }
    let shown = hsm.ok(&home, &["report", "show", &report]);
    assert!(
        shown.to_string().contains("Signed on the token."),
        "{shown}"
    );

    // A key id the token does not hold, and a malformed one: refused, nothing initialised.
    let other = home_with_pin();
    let mut args = init_args("known-seed");
    args.extend(["--pkcs11-key-id".into(), "0badd0".into()]);
    assert_eq!((hsm.run(&other, &strs(&args))).error_code(), "not_found");
    args.pop();
    args.push("not hex".into());
    assert_eq!(
        (hsm.run(&other, &strs(&args))).error_code(),
        "invalid_input"
    );
    assert!(!other.dir.join("identity.json").exists());
    // A pair whose private key can leave the token: refused.
    hsm.tool(
        "known-seed",
        &[
            "--keypairgen",
            "--key-type",
            "EC:edwards25519",
            "--id",
            "0e10",
            "--label",
            "loose",
            "--extractable",
        ],
    );
    args.pop();
    args.push("0e10".into());
    let refused = hsm.run(&other, &strs(&args));
    assert_eq!(refused.error_code(), "invalid_input");
    let message = message_of(&refused);
    assert!(message.contains("could leave the token"), "{message}");
    assert!(!other.dir.join("identity.json").exists());
}

#[test]
fn a_wrong_pin_a_deleted_key_and_a_missing_token_are_refused_with_their_codes_writing_nothing() {
    let hsm = SoftHsm::new("");
    hsm.init_token("refusals");
    // A wrong PIN at init: refused, no identity, no key generated on the token.
    let home = Home::new();
    std::fs::write(&home.passphrase_file, "999999\n").unwrap();
    let run = hsm.run(&home, &strs(&init_args("refusals")));
    assert_eq!(run.error_code(), "wrong_pin");
    assert!(!home.dir.join("identity.json").exists());
    let listed = hsm.tool("refusals", &["--list-objects"]);
    assert!(!listed.contains("Key Object"), "{listed}");

    std::fs::write(&home.passphrase_file, format!("{PIN}\n")).unwrap();
    hsm.ok(&home, &strs(&init_args("refusals")));
    let report = hsm.new_report(&home, "1.2.4");
    let entries = stored(&home);
    let profile = std::fs::read(home.dir.join("identity.json")).unwrap();
    let write = || {
        hsm.run(
            &home,
            &[
                "report",
                "write",
                &report,
                "--section",
                "findings",
                "--text",
                "x",
            ],
        )
    };

    std::fs::write(&home.passphrase_file, "135791\n").unwrap();
    let wrong = write();
    assert_eq!(wrong.error_code(), "wrong_pin");
    assert!(message_of(&wrong).contains("refusals"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("135791"), "the PIN was printed");
    assert_eq!(stored(&home), entries, "something was signed");
    std::fs::write(&home.passphrase_file, format!("{PIN}\n")).unwrap();
    assert_eq!(write().code, 0, "the right PIN signs");
    let entries = stored(&home);

    // The key deleted from the token.
    let key_id = identity(&home)["token"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    hsm.tool(
        "refusals",
        &["--delete-object", "--type", "privkey", "--id", &key_id],
    );
    let gone = write();
    assert_eq!(gone.error_code(), "key_missing");
    assert!(message_of(&gone).contains(&key_id), "{}", gone.stderr);
    assert_eq!(stored(&home), entries);

    // The token itself gone.
    let out = hsm
        .command("softhsm2-util")
        .args(["--delete-token", "--token", "refusals"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let absent = write();
    assert_eq!(absent.error_code(), "token_missing");
    assert!(
        message_of(&absent).contains("refusals"),
        "{}",
        absent.stderr
    );
    // Another token given the same label is not this one (its serial differs).
    hsm.init_token("refusals");
    let impostor = write();
    assert_eq!(
        impostor.error_code(),
        "token_missing",
        "{}",
        impostor.stderr
    );
    // A module that is not there.
    let nowhere = Home::new();
    std::fs::write(&nowhere.passphrase_file, format!("{PIN}\n")).unwrap();
    let mut args = init_args("refusals");
    args[9] = "/nonexistent/libpkcs11.so".into();
    assert_eq!(
        (hsm.run(&nowhere, &strs(&args))).error_code(),
        "token_missing"
    );

    // Reading needs no token, and nothing of the home changed.
    assert_eq!(stored(&home), entries);
    assert_eq!(
        std::fs::read(home.dir.join("identity.json")).unwrap(),
        profile
    );
    assert!(!home.dir.join("keys").exists());
}

#[test]
fn a_token_without_eddsa_is_refused_naming_the_token_and_the_mechanism() {
    // SoftHSM2 configured to offer no EdDSA, as most PIV cards and YubiKey PIV are. (SoftHSM
    // 2.6.1 reads the first name of a "-" list with the minus attached, matching nothing: it is
    // given twice, so that a fixed parser disables the same mechanisms.)
    let hsm = SoftHsm::new("slots.mechanisms = -CKM_EDDSA,CKM_EDDSA,CKM_EC_EDWARDS_KEY_PAIR_GEN\n");
    hsm.init_token("no-eddsa");
    let home = home_with_pin();
    let run = hsm.run(&home, &strs(&init_args("no-eddsa")));
    assert_eq!(run.error_code(), "token_unsupported");
    let message = message_of(&run);
    assert!(
        message.contains("no-eddsa") && message.contains("CKM_EDDSA"),
        "{message}"
    );
    assert!(!home.dir.join("identity.json").exists());
}

/// A department founded by an admin home whose key is sealed, serving; a home whose key is on
/// the token, added to the roster and joined by invitation. Its `sync --once` runs a node under
/// a fresh node key that the token's key delegated to: it receives the roster and a report,
/// and a section signed on the token reaches the admin's home by the next sync and verifies
/// there; the admin's node remembered the peer as the member (by key and roster name).
#[test]
fn a_token_home_joins_by_invitation_and_syncs_both_ways_as_its_member() {
    let hsm = SoftHsm::new("");
    hsm.init_token("sync");
    let (admin, _) = Home::demo();
    let study = admin.ok(&["studies"])[0]["study"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = admin.new_report(&study, "ct-chest");
    let serving = crate::sync::serve_for_tests(&admin);

    let home = home_with_pin();
    let who = hsm.ok(
        &home,
        &[
            "init",
            "--name",
            "Dr Tok",
            "--role",
            "radiologist",
            "--key-store",
            "token",
            "--pkcs11-module",
            MODULE,
            "--token-label",
            "sync",
        ],
    );
    assert_eq!(who["key_store"], "token", "{who}");
    let key = who["key"].as_str().unwrap().to_string();
    admin.ok(&[
        "roster",
        "add",
        "--key",
        &key,
        "--name",
        "Dr Tok",
        "--role",
        "radiologist",
    ]);
    let invited = admin.ok(&["roster", "invite", "--key", &key, "--peer", &serving.1]);
    hsm.ok(&home, &["join", invited["invitation"].as_str().unwrap()]);

    // The first sync dials the invitation's peer: the roster and the reports arrive.
    let synced = hsm.ok(&home, &["sync", "--once"]);
    assert!(synced["received"].as_u64().unwrap() >= 19, "{synced}");
    assert_eq!(
        hsm.ok(&home, &["whoami"])["network"],
        admin.ok(&["whoami"])["network"]
    );
    let roster = hsm.ok(&home, &["roster", "list"]);
    assert!(roster.to_string().contains("Dr Tok"), "{roster}");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());
    let listed = hsm.ok(&home, &["report", "list"]);
    assert!(listed.to_string().contains(&draft), "{listed}");

    // A section signed on the token goes to the admin with the next sync and verifies there.
    let _wal = hold_wal(&home);
    let written = hsm.write(
        &home,
        &draft,
        "findings",
        "Signed on the token, carried by sync.",
    );
    assert!(written["entry"].is_string(), "{written}");
    hsm.ok(&home, &["sync", "--once"]);
    let shown = admin.ok(&["report", "show", &draft]);
    assert!(
        shown
            .to_string()
            .contains("Signed on the token, carried by sync."),
        "{shown}"
    );
    let authored = shown["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["kind"] == "section.write" && p.to_string().contains(&key));
    assert!(authored, "the section's author is the token's key: {shown}");
    let verified = admin.ok(&["verify"]);
    assert!(verified["ok"].as_bool().unwrap(), "{verified}");

    // The admin's node shows the peer as the member: its key and roster name, not a node key.
    let status = admin.ok(&["sync", "status"]);
    let peer = status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == key.as_str())
        .unwrap_or_else(|| panic!("the token home's member is not among the peers: {status}"));
    assert_eq!(peer["name"], "Dr Tok", "{status}");
    assert!(peer["last_reconcile_ms"].is_number(), "{status}");
    assert!(peer.get("cut_off").is_none(), "{status}");

    // The token home serving beside the admin's node: a section written while it serves is
    // announced, and the admin pulls that log by its summary, whose checkpoint was signed on
    // the token; the admin holds the peer to it as the member's claim (else it would cut the
    // peer off) and keeps it under the member's key.
    let mut home = home;
    home.env
        .push(("SOFTHSM2_CONF".into(), hsm.conf.clone().into_os_string()));
    let _serving_token = crate::sync::serve(&home, &[&serving.1]);
    let text = "Written while serving, announced to the admin.";
    hsm.write(&home, &draft, "impression", text);
    crate::sync::until("the section on the admin's home", || {
        admin
            .ok(&["report", "show", &draft])
            .to_string()
            .contains(text)
    });
    let token_key = hex_decode(&key);
    crate::sync::until("the token-signed checkpoint kept by the admin", || {
        admin
            .db()
            .query_row(
                "SELECT COUNT(*) FROM checkpoints WHERE signer = ?1",
                [&token_key],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            > 0
    });
    let status = admin.ok(&["sync", "status"]);
    assert!(!status.to_string().contains("cut_off"), "{status}");
    assert!(admin.ok(&["verify"])["ok"].as_bool().unwrap());
    // Nothing of the key reached a file under the token home, syncs included.
    drop(_serving_token);
    assert_no_key_material(&home.dir, None);
}

#[test]
fn a_token_homes_key_is_not_moved_off_the_token_nor_its_passphrase_changed() {
    let hsm = SoftHsm::new("");
    hsm.init_token("no-move");
    let home = home_with_pin();
    hsm.ok(&home, &strs(&init_args("no-move")));
    // Changing the passphrase of a key on a token is the token's business.
    let new = home.dir.with_extension("new");
    std::fs::write(&new, "a new passphrase\n").unwrap();
    let run = hsm.run(
        &home,
        &[
            "key",
            "change-passphrase",
            "--new-passphrase-file",
            new.to_str().unwrap(),
        ],
    );
    assert_eq!(run.error_code(), "invalid_input");
    assert!(message_of(&run).contains("PIN"));
    // The key never leaves the token, so it is not moved off it to a file or the keychain.
    for to in ["sealed", "keychain"] {
        let run = hsm.run(
            &home,
            &[
                "key",
                "move",
                "--to",
                to,
                "--new-passphrase-file",
                new.to_str().unwrap(),
            ],
        );
        assert_eq!(run.error_code(), "key_not_exportable", "--to {to}");
    }
    assert_eq!(identity(&home)["store"], "token");
    assert!(!home.dir.join("keys").exists() || every_file(&home.dir.join("keys")).is_empty());
}

#[test]
fn a_token_key_that_is_not_the_identitys_key_signs_nothing() {
    let hsm = SoftHsm::new("");
    hsm.init_token("swapped");
    let home = home_with_pin();
    hsm.ok(&home, &strs(&init_args("swapped")));
    let report = hsm.new_report(&home, "1.2.6");
    let entries = stored(&home);
    // identity.json made to name another key, and the token's public half (which would show the
    // mismatch at unlock) gone: only the check of each signature is left to notice.
    let mut id = identity(&home);
    let key_id = id["token"]["key_id"].as_str().unwrap().to_string();
    hsm.tool(
        "swapped",
        &["--delete-object", "--type", "pubkey", "--id", &key_id],
    );
    id["key"] = countersign_ledger::SecretKey::from_seed(&[9; 32])
        .public()
        .to_hex()
        .into();
    std::fs::write(home.dir.join("identity.json"), id.to_string()).unwrap();
    let run = hsm.run(
        &home,
        &[
            "report",
            "write",
            &report,
            "--section",
            "findings",
            "--text",
            "x",
        ],
    );
    assert_eq!(run.error_code(), "signing_failed", "{}", run.stderr);
    assert!(
        message_of(&run).contains("does not verify"),
        "{}",
        run.stderr
    );
    assert_eq!(stored(&home), entries);
}

/// The SoftHSM2 installation this process's own PKCS#11 calls see (the desktop's unlock runs in
/// the test process): `SOFTHSM2_CONF` is read once, when the module initialises, so it is set
/// once for the process, with the tokens those tests use already made.
fn in_process_hsm() -> &'static SoftHsm {
    static HSM: OnceLock<SoftHsm> = OnceLock::new();
    HSM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let hsm = SoftHsm {
            conf: SoftHsm::configure(&dir, ""),
            _dir: None,
        };
        hsm.init_token("in-process");
        // Before any PKCS#11 call in this process; children inherit it too.
        std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
        hsm
    })
}

#[test]
fn the_desktop_unlocks_a_token_home_with_the_pin_and_a_wrong_pin_leaves_it_locked() {
    let hsm = in_process_hsm();
    let home = home_with_pin();
    hsm.ok(&home, &strs(&init_args("in-process")));
    let report = hsm.ok(
        &home,
        &[
            "report",
            "new",
            "--study",
            "1.2.5",
            "--template",
            "ct-chest",
        ],
    )["report"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // As the desktop opens a home: no prompt, the PIN given by the unlock command.
    let mut app = countersign_app::Home::open(&home.dir).unwrap();
    let who = app.whoami().unwrap();
    assert_eq!(
        serde_json::to_value(&who).unwrap()["key_store"],
        "token",
        "the UI is told to ask for a PIN"
    );
    let pin = |p: &str| countersign_app::Passphrase::new(p);
    let err = app.unlock(&pin("000000")).unwrap_err();
    assert_eq!(err.code(), "wrong_pin", "{err}");
    assert!(!app.is_unlocked());
    app.unlock(&pin(PIN)).unwrap();
    assert!(app.is_unlocked());
    app.report_write(report, "findings", "Unlocked with the PIN.")
        .unwrap();
    // Re-authentication (a final): a wrong PIN is refused and leaves the key locked, since the
    // token's login is logged out to check it.
    // Another handle holding the key (as the desktop's background work would) keeps a session,
    // and with it the token's login, open: the PIN is checked all the same.
    let other = app.open_again().unwrap();
    let err = app.unlock(&pin("111111")).unwrap_err();
    assert_eq!(err.code(), "wrong_pin");
    assert!(!app.is_unlocked());
    drop(other);
    app.unlock(&pin(PIN)).unwrap();
    app.report_write(report, "impression", "Signed after re-authentication.")
        .unwrap();

    // The private key, read through PKCS#11 itself: sensitive, not extractable, and its value
    // not readable.
    let key_id = hex_decode(identity(&home)["token"]["key_id"].as_str().unwrap());
    let flags = private_key_flags("in-process", &key_id);
    assert_eq!(flags, (true, false, true, true, false), "{flags:?}");
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// (sensitive, extractable, always sensitive, never extractable, value readable) of the private
/// key `id` on the token `label` of this process's SoftHSM2.
fn private_key_flags(label: &str, id: &[u8]) -> (bool, bool, bool, bool, bool) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::error::{Error, RvError};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let ctx = Pkcs11::new(MODULE).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // The app's context already initialised the module in this process.
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(PIN))) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .unwrap()[0];
    let mut flags = (false, true, false, false, false);
    for a in session
        .get_attributes(
            key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .unwrap()
    {
        match a {
            Attribute::Sensitive(v) => flags.0 = v,
            Attribute::Extractable(v) => flags.1 = v,
            Attribute::AlwaysSensitive(v) => flags.2 = v,
            Attribute::NeverExtractable(v) => flags.3 = v,
            _ => {}
        }
    }
    // CKA_VALUE of a sensitive key: refused (CKR_ATTRIBUTE_SENSITIVE), or left out as
    // unavailable, never given.
    flags.4 = match session.get_attributes(key, &[AttributeType::Value]) {
        Ok(attrs) => attrs.iter().any(|a| matches!(a, Attribute::Value(_))),
        Err(Error::Pkcs11(RvError::AttributeSensitive, _)) => false,
        Err(e) => panic!("{e}"),
    };
    flags
}

/// Rotation on a token home: the new pair is generated on the same token (the PIN asked once),
/// the founder's home applies it at once, `identity.json` then names the new pair, and what the
/// new pair signs verifies on another home as the same person's second key. The old key's
/// section is still its author's first key.
#[test]
fn a_token_home_rotates_to_a_new_pair_on_the_same_token() {
    let hsm = SoftHsm::new("");
    hsm.init_token("rotating");
    let home = home_with_pin();
    let old = hsm.ok(&home, &strs(&init_args("rotating")))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let old_id = identity(&home)["token"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = hsm.new_report(&home, "1.2.3");
    let write = |section: &str, text: &str| hsm.write(&home, &report, section, text);
    write("findings", "Signed with the first pair.");

    let rotated = hsm.ok(&home, &["key", "rotate"]);
    assert_eq!(rotated["pending"], false, "{rotated}");
    let new = rotated["active"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let id = identity(&home);
    assert_eq!(
        (id["key"].as_str(), id["store"].as_str()),
        (Some(&*new), Some("token"))
    );
    let new_id = id["token"]["key_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id, "{id}");
    let listed = hsm.tool("rotating", &["--list-objects"]);
    assert!(listed.contains(&format!("0420{new}")), "{listed}");
    assert_eq!(hsm.ok(&home, &["whoami"])["key"], new.as_str());

    write("impression", "Signed with the second pair.");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());
    let auditor = Home::new();
    auditor.key_of_new_member();
    assert_eq!(auditor.import(&hsm.bundle(&home)).code, 0);
    let view = auditor.ok(&["report", "show", &report]);
    let author = |section: &str| {
        view["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == section)
            .unwrap()["versions"][0]["author"]
            .clone()
    };
    let (first, second) = (author("findings"), author("impression"));
    assert_eq!(
        (first["key"].as_str(), second["key"].as_str()),
        (Some(&*old), Some(&*new))
    );
    assert_eq!(
        (
            first["person"]["number"].as_u64(),
            second["person"]["number"].as_u64()
        ),
        (Some(1), Some(2)),
        "{view}"
    );
    let _wal = hold_wal(&home);
    assert_no_key_material(&home.dir, None);
}
