//! The OS keychain as a home's key store, against a real `gnome-keyring-daemon` on a private
//! D-Bus session bus (`dbus-run-session`), with a private `HOME` and XDG folders so that the
//! machine's own keyring is never touched: `init --key-store keychain`, sign, restart the daemon,
//! sign again, verify; no file under the home holds the seed (the WAL included); the refusals
//! (no bus, a locked keychain, a missing or damaged item) with their codes; `key move` both ways.
//!
//! Needs `dbus-run-session`, `dbus-send` (Debian `dbus`), `gnome-keyring-daemon`
//! (`gnome-keyring`) and `secret-tool` (`libsecret-tools`): `make deps` installs them.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{every_file, Home, Run};
use crate::keys::assert_no_file_holds;

/// The keychain's password (the login collection is sealed under it on disk, in the private
/// `XDG_DATA_HOME`).
const PASSWORD: &str = "login password of the test session";

/// A private session: a D-Bus session bus started by `dbus-run-session` (alive while this holds
/// the pipe to its child), a private `HOME` and XDG folders, and a `gnome-keyring-daemon` on
/// that bus.
struct Session {
    root: tempfile::TempDir,
    bus: Child,
    /// The bus's child (`cat`) reads this; closing it ends the session.
    bus_stdin: Option<ChildStdin>,
    address: String,
    daemon: Option<Child>,
}

impl Session {
    /// The private folders and the bus. The bus's own environment is the private one too: a
    /// service it starts on demand (D-Bus activation of `org.freedesktop.secrets`) keeps its
    /// keyrings in the private `HOME`, and without `DISPLAY` no prompt window can open.
    fn start() -> Session {
        let root = tempfile::tempdir().expect("tempdir");
        for d in ["home", "data", "config", "cache", "runtime"] {
            std::fs::create_dir_all(root.path().join(d)).unwrap();
        }
        let mut cmd = Command::new("dbus-run-session");
        cmd.args([
            "--",
            "sh",
            "-c",
            "printf '%s\\n' \"$DBUS_SESSION_BUS_ADDRESS\"; exec cat >/dev/null",
        ]);
        private_env(&mut cmd, root.path());
        let mut bus = cmd
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-run-session (Debian package dbus; make deps installs it)");
        let mut address = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "bus address {address:?}");
        let bus_stdin = bus.stdin.take();
        Session {
            root,
            bus,
            bus_stdin,
            address,
            daemon: None,
        }
    }

    /// The environment every process of this session runs with.
    fn env(&self) -> Vec<(String, OsString)> {
        let mut env: Vec<(String, OsString)> = private_dirs(self.root.path())
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.into_os_string()))
            .collect();
        env.push((
            "DBUS_SESSION_BUS_ADDRESS".into(),
            OsString::from(&self.address),
        ));
        env
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env())
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }

    /// Starts `gnome-keyring-daemon` (the secrets component) in the foreground. With a
    /// password it unlocks the login collection with it (creating it the first time); without
    /// one the collection stays locked. Returns once the service is on the bus and, with a
    /// password, its default collection is there and unlocked.
    fn start_keyring(&mut self, password: Option<&str>) {
        assert!(self.daemon.is_none());
        let mut cmd = self.command("gnome-keyring-daemon");
        cmd.args(["--foreground", "--components=secrets"]);
        if password.is_some() {
            cmd.arg("--unlock");
        }
        let mut daemon = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon (Debian package gnome-keyring; make deps installs it)");
        // The password on stdin, then end of file (which is how it knows the password ended).
        let mut stdin = daemon.stdin.take().unwrap();
        if let Some(p) = password {
            stdin.write_all(p.as_bytes()).unwrap();
        }
        drop(stdin);
        self.daemon = Some(daemon);
        self.until("the Secret Service on the bus", |s| s.has_owner());
        if password.is_some() {
            self.until("the default collection, unlocked", |s| {
                s.default_collection_unlocked()
            });
        }
    }

    /// Kills the daemon and waits until the bus has let go of its name.
    fn stop_keyring(&mut self) {
        let mut daemon = self.daemon.take().expect("a daemon to stop");
        daemon.kill().unwrap();
        daemon.wait().unwrap();
        self.until("the Secret Service gone from the bus", |s| !s.has_owner());
    }

    /// Polls `probe` (each probe is a process asking the bus) until it holds, failing after 20 s.
    fn until(&self, what: &str, probe: impl Fn(&Session) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !probe(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether someone owns `org.freedesktop.secrets` (asked of the bus itself, so this never
    /// starts a service by activation).
    fn has_owner(&self) -> bool {
        let out = self.dbus_send(&[
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ]);
        String::from_utf8_lossy(&out.stdout).contains("boolean true")
    }

    fn default_collection_unlocked(&self) -> bool {
        let alias = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.ReadAlias",
            "string:default",
        ]);
        let alias = String::from_utf8_lossy(&alias.stdout);
        let Some(path) = alias
            .split("object path \"")
            .nth(1)
            .and_then(|p| p.split('"').next())
            .filter(|p| *p != "/")
        else {
            return false;
        };
        let locked = self.dbus_send(&[
            "--dest=org.freedesktop.secrets",
            path,
            "org.freedesktop.DBus.Properties.Get",
            "string:org.freedesktop.Secret.Collection",
            "string:Locked",
        ]);
        String::from_utf8_lossy(&locked.stdout).contains("boolean false")
    }

    fn dbus_send(&self, args: &[&str]) -> Output {
        self.command("dbus-send")
            .args(["--session", "--print-reply", "--reply-timeout=2000"])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .expect("dbus-send (Debian package dbus)")
    }

    /// `secret-tool ARGS` in this session, with `input` on stdin.
    fn secret_tool(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command("secret-tool")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("secret-tool (Debian package libsecret-tools; make deps installs it)");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// The seed the keychain holds for `key`, read with `secret-tool` (not with our code).
    fn seed(&self, key: &str) -> [u8; 32] {
        let out = self.secret_tool(&["lookup", "application", "countersign", "key", key], b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let bytes = hex::decode(text.trim()).expect("the item holds hex");
        bytes.try_into().expect("32 bytes")
    }

    /// A home whose every CLI run is in this session.
    fn home(&self) -> Home {
        let mut home = Home::new();
        home.env = self.env();
        home
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(mut d) = self.daemon.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        // Its child reads to the end of this pipe; then dbus-run-session stops the bus.
        drop(self.bus_stdin.take());
        if self.bus.try_wait().ok().flatten().is_none() {
            let deadline = Instant::now() + Duration::from_secs(5);
            while self.bus.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.bus.kill();
            let _ = self.bus.wait();
        }
    }
}

fn private_dirs(root: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("HOME", root.join("home")),
        ("XDG_DATA_HOME", root.join("data")),
        ("XDG_CONFIG_HOME", root.join("config")),
        ("XDG_CACHE_HOME", root.join("cache")),
        ("XDG_RUNTIME_DIR", root.join("runtime")),
    ]
}

fn private_env(cmd: &mut Command, root: &Path) {
    for (k, v) in private_dirs(root) {
        cmd.env(k, v);
    }
    cmd.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
}

/// Founds a department in a new home of `session` whose key is in the keychain. The home's
/// passphrase file is removed first: nothing may need it.
fn keychain_home(session: &Session) -> (Home, String) {
    let home = session.home();
    std::fs::remove_file(&home.passphrase_file).unwrap();
    let who = home.ok(&[
        "init",
        "--name",
        "Dr Kay",
        "--role",
        "attending",
        "--admin",
        "--key-store",
        "keychain",
    ]);
    assert_eq!(who["key_store"], "keychain", "{who}");
    assert_eq!(who["needs_passphrase"], false, "{who}");
    let key = who["key"].as_str().unwrap().to_string();
    (home, key)
}

/// No key file of any kind under the home.
fn assert_no_key_files(home: &Home) {
    let keys: Vec<PathBuf> = every_file(&home.dir)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sealed" || e == "key"))
        .collect();
    assert!(keys.is_empty(), "key files under the home: {keys:?}");
}

#[test]
fn a_key_in_the_keychain_signs_across_a_daemon_restart_and_no_file_under_the_home_holds_it() {
    let mut session = Session::start();
    session.start_keyring(Some(PASSWORD));
    let (home, key) = keychain_home(&session);
    assert_no_key_files(&home);
    let identity = std::fs::read_to_string(home.dir.join("identity.json")).unwrap();
    assert!(identity.contains("\"store\": \"keychain\""), "{identity}");

    // The item is findable by what it is: its attributes name the application, the key and
    // the home; its label says what it is.
    let seed = session.seed(&key);
    let listed = session.secret_tool(
        &["search", "--all", "application", "countersign", "key", &key],
        b"",
    );
    // (secret-tool prints the label on stdout and the attributes on stderr.)
    let listed = format!(
        "{}{}",
        String::from_utf8_lossy(&listed.stdout),
        String::from_utf8_lossy(&listed.stderr)
    );
    let canonical = std::fs::canonicalize(&home.dir).unwrap();
    assert!(
        listed.contains(&format!("attribute.home = {}", canonical.display())),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("label = Countersign signing key {}", &key[..16])),
        "{listed}"
    );

    // A node serving the home keeps the ledger open, so its WAL stays on disk and is scanned.
    let serving = crate::sync::serve(&home, &[]);
    let report = home.new_report("1.2.840.99.1", "ct-chest");
    assert_eq!(home.write(&report, "findings", "No nodule.").code, 0);
    assert_no_file_holds(&home.dir, &seed, "after signing with the keychain's key");

    // The daemon restarts (a new login): the key is read from the keychain on disk again.
    session.stop_keyring();
    session.start_keyring(Some(PASSWORD));
    let signed = home.write(&report, "impression", "Normal study.");
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    assert!(home.ok(&["verify"])["ok"].as_bool().unwrap());
    assert_no_file_holds(&home.dir, &seed, "after the restart");
    assert_no_key_files(&home);
    drop(serving);

    // There is no passphrase to change; the error says where the key is.
    let refused = home.run(&["key", "change-passphrase"]);
    assert_eq!(refused.error_code(), "invalid_input");
    assert!(refused.stderr.contains("OS keychain"), "{}", refused.stderr);
}

#[test]
fn the_keychain_store_refuses_clearly_unreachable_locked_missing_or_damaged() {
    let mut session = Session::start();
    session.start_keyring(Some(PASSWORD));
    let (home, key) = keychain_home(&session);
    let report = home.new_report("1.2.840.99.2", "ct-chest");
    let seed_hex = hex::encode(session.seed(&key));
    let write = |text: &str| -> Run { home.write(&report, "findings", text) };

    // No D-Bus session: at once, with its code, and a keychain home is not created.
    let nowhere = session.root.path().join("no-bus-here");
    let no_bus = |cmd: &mut Command| -> Run {
        let started = Instant::now();
        let run: Run = cmd
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", nowhere.display()),
            )
            .stdin(Stdio::null())
            .output()
            .unwrap()
            .into();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "took {:?}",
            started.elapsed()
        );
        run
    };
    let run = no_bus(home.command().args([
        "--json",
        "report",
        "write",
        &report,
        "--section",
        "findings",
        "--text",
        "x",
    ]));
    assert_eq!(run.error_code(), "keychain_unavailable", "{}", run.stderr);
    let fresh = session.home();
    let run = no_bus(fresh.command().args([
        "--json",
        "init",
        "--name",
        "Dr Nobody",
        "--role",
        "radiologist",
        "--key-store",
        "keychain",
    ]));
    assert_eq!(run.error_code(), "keychain_unavailable", "{}", run.stderr);
    assert!(!fresh.dir.join("identity.json").exists());

    // Locked, and its unlock prompt cannot be shown (no display): refused at once.
    session.stop_keyring();
    session.start_keyring(None);
    let started = Instant::now();
    let run = write("While locked.");
    assert_eq!(run.error_code(), "keychain_locked", "{}", run.stderr);
    assert!(started.elapsed() < Duration::from_secs(10));
    session.stop_keyring();
    session.start_keyring(Some(PASSWORD));

    // The item gone.
    let cleared = session.secret_tool(&["clear", "application", "countersign", "key", &key], b"");
    assert!(cleared.status.success());
    assert_eq!(write("Missing.").error_code(), "key_missing");

    // The item holds something that is not this key's seed: not hex, or another key's seed.
    let other = hex::encode([9u8; 32]);
    for bad in ["not a seed at all", other.as_str()] {
        let stored = session.secret_tool(
            &[
                "store",
                "--label",
                "by hand",
                "application",
                "countersign",
                "key",
                &key,
            ],
            bad.as_bytes(),
        );
        assert!(stored.status.success());
        let run = write("Damaged.");
        assert_eq!(run.error_code(), "key_damaged", "{}", run.stderr);
        assert!(!run.stderr.contains(bad), "the item's content is echoed");
        session.secret_tool(&["clear", "application", "countersign", "key", &key], b"");
    }

    // The right seed back (stored by another tool): signing works again.
    session.secret_tool(
        &[
            "store",
            "--label",
            "by hand",
            "application",
            "countersign",
            "key",
            &key,
        ],
        seed_hex.as_bytes(),
    );
    assert_eq!(write("Back.").code, 0);
    assert!(home.ok(&["verify"])["ok"].as_bool().unwrap());
}

#[test]
fn a_key_moves_from_its_sealed_file_to_the_keychain_and_back() {
    let mut session = Session::start();
    session.start_keyring(Some(PASSWORD));
    let home = session.home();
    home.ok(&["init", "--name", "Dr Mo", "--role", "attending", "--admin"]);
    let key = home.key();
    let report = home.new_report("1.2.840.99.3", "ct-chest");
    let sealed = home.dir.join("keys").join(format!("{key}.sealed"));
    assert!(sealed.exists());

    // To the keychain: the passphrase opens the sealed file, which is then wiped.
    let moved = home.ok(&["key", "move", "--to", "keychain"]);
    assert_eq!(moved["to"], "keychain", "{moved}");
    assert!(!sealed.exists());
    assert_no_key_files(&home);
    std::fs::rename(&home.passphrase_file, home.dir.with_extension("kept")).unwrap();
    assert_eq!(
        home.write(&report, "findings", "From the keychain.").code,
        0
    );
    let seed = session.seed(&key);
    let _serving = crate::sync::serve(&home, &[]);
    assert_no_file_holds(&home.dir, &seed, "after the move to the keychain");
    drop(_serving);

    // And back, under a new passphrase; the keychain item is removed.
    let new = home.dir.with_extension("new-passphrase");
    std::fs::write(&new, "a new passphrase for the file\n").unwrap();
    let moved = home.ok(&[
        "key",
        "move",
        "--to",
        "sealed",
        "--new-passphrase-file",
        new.to_str().unwrap(),
    ]);
    assert_eq!(moved["to"], "sealed", "{moved}");
    assert!(sealed.exists());
    let lookup = session.secret_tool(&["lookup", "application", "countersign", "key", &key], b"");
    assert!(lookup.stdout.is_empty(), "still in the keychain");
    std::fs::copy(&new, &home.passphrase_file).unwrap();
    assert_eq!(home.write(&report, "findings", "From the file.").code, 0);
    assert_eq!(home.secret(&key).to_seed().as_slice(), seed.as_slice());
    assert!(home.ok(&["verify"])["ok"].as_bool().unwrap());
}

/// Rotation on a keychain home: the new key is a second keychain item (never a file), the
/// founder's home applies it at once, the old key's item is deleted, and the new key signs.
#[test]
fn a_keychain_home_rotates_to_a_new_item_and_the_old_one_is_deleted() {
    let mut session = Session::start();
    session.start_keyring(Some(PASSWORD));
    let (home, old) = keychain_home(&session);
    let report = home.new_report("1.2.840.99.7", "ct-chest");
    assert_eq!(home.write(&report, "findings", "Old key.").code, 0);

    let rotated = home.ok(&["key", "rotate"]);
    assert_eq!(rotated["pending"], false, "{rotated}");
    let new = rotated["active"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(home.ok(&["whoami"])["key"], new.as_str());
    // The new key is in the keychain (read back by secret-tool), the old one is not.
    let seed = session.seed(&new);
    let gone = session.secret_tool(&["lookup", "application", "countersign", "key", &old], b"");
    assert!(
        gone.stdout.is_empty(),
        "the old key's item is still there: {}",
        String::from_utf8_lossy(&gone.stdout)
    );
    assert_no_key_files(&home);

    assert_eq!(home.write(&report, "impression", "New key.").code, 0);
    assert!(home.ok(&["verify"])["ok"].as_bool().unwrap());
    let _serving = crate::sync::serve(&home, &[]);
    assert_no_file_holds(&home.dir, &seed, "after the rotation");
}
