//! Keys sealed at rest, through the CLI: no file under a home ever holds the seed; a wrong
//! passphrase, a truncated or changed key file are refused with their code (exit 2) and change
//! nothing; with no passphrase source and no terminal a command that needs the key fails at
//! once; change-passphrase; the passphrase from a descriptor; a plaintext home migrated.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::common::{every_file, Home, Run};

/// Panics if any file under `dir` (the ledger's WAL included, which must be there) holds
/// `seed` as bytes or as hex.
pub(crate) fn assert_no_file_holds(dir: &Path, seed: &[u8; 32], when: &str) {
    let hex: String = seed.iter().map(|b| format!("{b:02x}")).collect();
    let files = every_file(dir);
    assert!(
        files.iter().any(|f| f.ends_with("ledger.sqlite3-wal")),
        "{when}: no WAL among {files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == seed),
            "{when}: {} holds the seed",
            f.display()
        );
        assert!(
            !String::from_utf8_lossy(&bytes)
                .to_lowercase()
                .contains(&hex),
            "{when}: {} holds the seed in hex",
            f.display()
        );
    }
}

fn seed_of(home: &Home) -> [u8; 32] {
    *home.secret(&home.key()).to_seed()
}

fn sealed_path(home: &Home) -> PathBuf {
    home.dir.join("keys").join(format!("{}.sealed", home.key()))
}

fn founded() -> (Home, String) {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let report = home.new_report("1.2.3", "ct-chest");
    (home, report)
}

#[test]
fn no_file_under_a_home_holds_the_seed_after_init_signing_change_passphrase_and_migration() {
    let (home, report) = founded();
    // A node serving the home (as the desktop keeps one) holds the ledger open, so its
    // write-ahead log stays on disk between the CLI's runs and is scanned too. (Not a connection
    // in this process: reading the database's files here would drop its locks.)
    let _serving = crate::sync::serve(&home, &[]);
    let seed = seed_of(&home);
    assert_no_file_holds(&home.dir, &seed, "after init");
    assert_eq!(home.write(&report, "findings", "No nodule.").code, 0);
    assert_no_file_holds(&home.dir, &seed, "after signing");

    let new = home.dir.with_extension("new-passphrase");
    std::fs::write(&new, "a brand new passphrase\n").unwrap();
    home.ok(&[
        "key",
        "change-passphrase",
        "--new-passphrase-file",
        new.to_str().unwrap(),
    ]);
    std::fs::copy(&new, &home.passphrase_file).unwrap();
    assert_no_file_holds(&home.dir, &seed, "after change-passphrase");

    // A home as an earlier version left it: the seed in plaintext at keys/<key>.key.
    let key = home.key();
    std::fs::remove_file(sealed_path(&home)).unwrap();
    let plain = home.dir.join("keys").join(format!("{key}.key"));
    std::fs::write(&plain, seed).unwrap();
    assert_eq!(
        home.write(&report, "findings", "After the upgrade.").code,
        0
    );
    assert!(!plain.exists(), "the plaintext key is still there");
    assert!(sealed_path(&home).exists());
    assert_no_file_holds(&home.dir, &seed, "after migration");
    assert!(home.ok(&["verify"])["ok"].as_bool().unwrap());
}

#[test]
fn a_plaintext_home_without_a_passphrase_still_reads_and_says_it_will_be_sealed() {
    let (home, report) = founded();
    let seed = seed_of(&home);
    let key = home.key();
    std::fs::remove_file(sealed_path(&home)).unwrap();
    let plain = home.dir.join("keys").join(format!("{key}.key"));
    std::fs::write(&plain, seed).unwrap();
    let bare = |args: &[&str]| -> Run {
        home.command()
            .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
            .stdin(Stdio::null())
            .arg("--json")
            .args(args)
            .output()
            .unwrap()
            .into()
    };
    let shown = bare(&["report", "show", &report]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(shown.stderr.contains("sealed"), "{}", shown.stderr);
    let refused = bare(&[
        "report",
        "write",
        &report,
        "--section",
        "findings",
        "--text",
        "x",
    ]);
    assert_eq!(refused.error_code(), "passphrase_required");
    assert!(plain.exists(), "nothing sealed without a passphrase");
    // With one, the first command seals it.
    home.ok(&["whoami"]);
    assert!(!plain.exists());
    assert!(sealed_path(&home).exists());
}

#[test]
fn a_wrong_passphrase_a_truncated_key_file_or_any_flipped_bit_is_refused_and_changes_nothing() {
    let (home, report) = founded();
    let path = sealed_path(&home);
    let original = std::fs::read(&path).unwrap();
    let entries = home.count();
    let try_write = || home.write(&report, "findings", "Should not be signed.");

    let right = home.passphrase();
    std::fs::write(&home.passphrase_file, "not the passphrase").unwrap();
    assert_eq!((try_write()).error_code(), "wrong_passphrase");
    assert_eq!(std::fs::read(&path).unwrap(), original);
    std::fs::write(&home.passphrase_file, &right).unwrap();

    let check = |bytes: &[u8], code: &str, what: &str| {
        std::fs::write(&path, bytes).unwrap();
        let run = try_write();
        assert_eq!(run.error_code(), code, "{what}: {}", run.stderr);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{what}: the key file changed"
        );
    };
    check(&original[..original.len() / 2], "key_damaged", "truncated");
    check(&[], "key_damaged", "empty");
    // One flipped bit in each field of the format, and more at seeded places.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5EA1_0014);
    let mut bits: Vec<usize> = [0, 7, 11, 15, 19, 35, 59, 91, 107, 138]
        .iter()
        .map(|byte| byte * 8 + 3)
        .collect();
    bits.extend((0..6).map(|_| rng.gen_range(0..original.len() * 8)));
    for bit in bits {
        let mut flipped = original.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        check(&flipped, "key_damaged", &format!("bit {bit} flipped"));
    }
    std::fs::write(&path, &original).unwrap();
    assert_eq!(home.count(), entries, "something was signed");
    assert_eq!(try_write().code, 0, "the intact key signs again");
}

#[test]
fn with_no_passphrase_source_and_no_terminal_a_command_needing_the_key_fails_at_once() {
    let (home, report) = founded();
    let entries = home.count();
    let started = Instant::now();
    let mut child = home
        .command()
        .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
        .args([
            "--json",
            "report",
            "write",
            &report,
            "--section",
            "findings",
        ])
        .args(["--text", "x"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A deadline, not a sleep: a command waiting for input would be killed here and fail.
    let deadline = Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            panic!("the command waited for a passphrase for {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let run: Run = child.wait_with_output().unwrap().into();
    assert_eq!(run.error_code(), "passphrase_required");
    assert!(run.stderr.contains("--passphrase-file"), "{}", run.stderr);
    assert_eq!(home.count(), entries);
    // Reading needs no passphrase.
    let who = home
        .command()
        .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
        .args(["--json", "whoami"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(who.status.success());
}

#[test]
fn after_change_passphrase_the_old_one_is_refused_and_the_new_one_signs() {
    let (home, report) = founded();
    let old = home.passphrase();
    let new = home.dir.with_extension("new-passphrase");
    std::fs::write(&new, "the second passphrase\n").unwrap();
    let sealed_before = std::fs::read(sealed_path(&home)).unwrap();
    // A wrong current passphrase: refused, the key file as it was.
    std::fs::write(&home.passphrase_file, "not the passphrase").unwrap();
    let args = [
        "key",
        "change-passphrase",
        "--new-passphrase-file",
        new.to_str().unwrap(),
    ];
    assert_eq!((home.run(&args)).error_code(), "wrong_passphrase");
    assert_eq!(std::fs::read(sealed_path(&home)).unwrap(), sealed_before);
    std::fs::write(&home.passphrase_file, &old).unwrap();
    home.ok(&args);
    assert_ne!(std::fs::read(sealed_path(&home)).unwrap(), sealed_before);
    assert_eq!(
        (home.write(&report, "findings", "old")).error_code(),
        "wrong_passphrase"
    );
    std::fs::copy(&new, &home.passphrase_file).unwrap();
    assert_eq!(home.write(&report, "findings", "new").code, 0);
    // A new passphrase too short is refused and the key stays sealed under the last one.
    std::fs::write(&new, "short").unwrap();
    assert_eq!((home.run(&args)).error_code(), "invalid_input");
    assert_eq!(home.write(&report, "findings", "still new").code, 0);
}

#[test]
fn the_passphrase_can_come_from_a_file_descriptor_and_never_from_the_command_line() {
    let (home, report) = founded();
    let script = format!(
        "exec 3<\"$1\"; exec \"$2\" --home \"$3\" --json --passphrase-fd 3 report write {report} \
         --section findings --text 'From a descriptor.'"
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(&home.passphrase_file)
        .arg(crate::common::bin())
        .arg(&home.dir)
        .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = home.run(&["--passphrase", "secret", "whoami"]);
    assert_eq!(run.code, 2, "a --passphrase option must not exist");
}

#[test]
fn a_demo_home_is_sealed_under_the_documented_demo_passphrase() {
    let (home, report) = Home::demo();
    assert_eq!(home.passphrase(), crate::common::DEMO_PASSPHRASE);
    let keys = every_file(&home.dir.join("keys"));
    assert_eq!(keys.len(), 4, "{keys:?}");
    assert!(keys
        .iter()
        .all(|k| k.extension().is_some_and(|e| e == "sealed")));
    assert_eq!(
        home.run(&["report", "addendum", &report, "--text", "Seen."])
            .code,
        0
    );
}
