//! The session: the key starting locked, unlocked, locked when idle or when the screen locks,
//! and asked for again for a final and an erasure; input the window tells late; the home still
//! opening when the window is; and the WebKit compositing default set at start.

use tauri::Manager;

use super::{source, Harness, PASSPHRASE};
use crate::Desk;

/// A home with a key opens locked; `unlock` opens it (a wrong passphrase is refused, nothing
/// signed); after the idle time without a command it locks again and signing is refused with
/// `locked`; signing a final always asks for the passphrase again (`reauth_required`), checked
/// against the sealed key.
#[test]
fn the_key_starts_locked_unlocks_locks_when_idle_and_a_final_asks_again() {
    use countersign_app::ledger::Role;
    use countersign_app::Home;

    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::open_with(dir.path(), source(PASSPHRASE)).unwrap();
    home.init("Dr Ada Attending", Role::Attending, Some("Radiology"), None)
        .unwrap();
    let report = home
        .report_new("2.25.77", "ct-chest", &[])
        .unwrap()
        .to_hex();
    for section in ["technique", "findings", "impression"] {
        home.report_write(report.parse().unwrap(), section, "Written.")
            .unwrap();
    }
    drop(home);

    let idle = std::time::Duration::from_millis(600);
    let desk = Desk::open_with_idle_lock(dir.path().to_path_buf(), idle);
    let harness = Harness::new(desk);
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);
    // Counted in the store: `verify` needs the data keys, which stay sealed while locked.
    let dir_path = dir.path().to_path_buf();
    let entries = |_: &dyn Fn(&str, serde_json::Value) -> serde_json::Value| {
        Home::open(&dir_path)
            .unwrap()
            .store()
            .db()
            .count_entries()
            .unwrap()
    };

    let status = json("status", serde_json::json!({}));
    assert_eq!(status["locked"], true, "{status}");
    assert_eq!(status["identity"]["name"], "Dr Ada Attending");
    let before = entries(&json);
    let err = call(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "x" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "locked", "{err}");
    let err = call(
        "unlock",
        serde_json::json!({ "passphrase": "not it at all" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "wrong_passphrase", "{err}");
    assert_eq!(entries(&json), before, "nothing signed while locked");

    json("unlock", serde_json::json!({ "passphrase": PASSPHRASE }));
    assert_eq!(json("status", serde_json::json!({}))["locked"], false);
    json(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "Unlocked." }),
    );

    let view = json("report_show", serde_json::json!({ "report": report }));
    assert!(
        view.to_string().contains("Unlocked."),
        "the readers read it: {view}"
    );

    // Idle: the key is locked again (status itself is a command, so the lock is seen by it).
    std::thread::sleep(idle + std::time::Duration::from_millis(200));
    let status = json("status", serde_json::json!({}));
    assert_eq!(status["locked"], true, "{status}");
    // The readers' data keys went with it: the sealed text no longer reads.
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["locked"], true, "{view}");
    assert!(!view.to_string().contains("Unlocked."), "{view}");
    let err = call(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "Idle." }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "locked", "{err}");

    // Sign-off: asked again, whether unlocked or not; a wrong passphrase signs nothing.
    json("unlock", serde_json::json!({ "passphrase": PASSPHRASE }));
    let before = entries(&json);
    let err = call("finalize_report", serde_json::json!({ "report": report })).unwrap_err();
    assert_eq!(err["code"], "reauth_required", "{err}");
    let err = call(
        "finalize_report",
        serde_json::json!({ "report": report, "passphrase": "not it at all" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "wrong_passphrase", "{err}");
    assert_eq!(entries(&json), before);
    json(
        "finalize_report",
        serde_json::json!({ "report": report, "passphrase": PASSPHRASE }),
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "final", "{view}");

    // Restriction: signed both ways, no passphrase asked (it is reversible).
    let on = json(
        "report_restrict",
        serde_json::json!({ "report": report, "basis": "Art. 18(1)(a)", "restricted": true }),
    );
    assert_eq!(on["entries"].as_array().map(Vec::len), Some(1), "{on}");
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["restriction"]["basis"], "Art. 18(1)(a)", "{view}");
    json(
        "report_restrict",
        serde_json::json!({ "report": report, "basis": "checked", "restricted": false }),
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert!(view.get("restriction").is_none(), "{view}");
    assert_eq!(view["restrictions"][1]["restricted"], false, "{view}");

    // Erasure cannot be undone: asked again like a sign-off; a wrong passphrase erases nothing.
    let erase = |passphrase: Option<&str>| {
        call(
            "report_erase",
            serde_json::json!({ "report": report, "basis": "GDPR Art. 17(1)(b)", "passphrase": passphrase }),
        )
    };
    assert_eq!(erase(None).unwrap_err()["code"], "reauth_required");
    assert_eq!(
        erase(Some("not it at all")).unwrap_err()["code"],
        "wrong_passphrase"
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "final", "nothing erased: {view}");
    erase(Some(PASSPHRASE)).unwrap();
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "erased", "{view}");
    assert_eq!(view["erasure"]["by"]["name"], "Dr Ada Attending", "{view}");
    assert_eq!(view["erasure"]["basis"], "GDPR Art. 17(1)(b)", "{view}");
    let actions = json("report_actions", serde_json::json!({ "report": report }));
    assert_eq!(actions["erase"]["allowed"], false, "{actions}");
    assert_eq!(actions["addendum"]["rule"], "report_erased", "{actions}");

    json("lock", serde_json::json!({}));
    assert_eq!(json("status", serde_json::json!({}))["locked"], true);
}

/// A locked screen locks the key: a screensaver's `ActiveChanged(true)` on a private session bus
/// (a real dbus-daemon) wipes the unlocked key, and signing asks for the passphrase again;
/// `ActiveChanged(false)` (the screen waking) changes nothing.
#[test]
fn the_key_locks_when_the_screen_locks() {
    use std::io::BufRead;
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let desk = std::sync::Arc::new(unlocked_desk(dir.path(), "screen lock test"));
    // The background node runs on the unlocked key (on loopback here).
    start_node_on_loopback(&desk);

    // A private session bus: its address is the daemon's first line, printed once it listens.
    // Killed when the test ends, however it ends.
    struct Bus(std::process::Child);
    impl Drop for Bus {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut bus = Bus(std::process::Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dbus-daemon (make deps installs dbus)"));
    let mut address = String::new();
    std::io::BufReader::new(bus.0.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let address = address.trim().to_string();

    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let watched = std::sync::Arc::clone(&desk);
    crate::screen_lock::watch_screensaver_at(
        &address,
        move |why| {
            let _ = locked_tx.send((why, watched.lock_now(why)));
        },
        ready_tx,
    );
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    let send = |iface: &str, active: bool| {
        let status = std::process::Command::new("dbus-send")
            .arg(format!("--bus={address}"))
            .args(["--type=signal", "/org/freedesktop/ScreenSaver"])
            .arg(format!("{iface}.ActiveChanged"))
            .arg(format!("boolean:{active}"))
            .status()
            .unwrap();
        assert!(status.success());
    };
    // The screen waking, then GNOME's screensaver activating: only the second locks.
    send("org.freedesktop.ScreenSaver", false);
    send("org.gnome.ScreenSaver", true);
    let (why, was_unlocked) = locked_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    // Signals arrive in order: the first lock is GNOME's, so the waking one locked nothing.
    assert_eq!(why, "org.gnome.ScreenSaver", "ActiveChanged(false) locked");
    assert!(
        was_unlocked,
        "the key was not unlocked when the screen locked"
    );
    // The node, whose identity is the key, stopped with it.
    assert!(
        desk.sync.lock().unwrap().is_none(),
        "the sync node outlived the lock"
    );
    let err = desk
        .act(|h| h.report_new("1.2.3", "ct-chest", &[]))
        .unwrap_err();
    assert_eq!(err.code, "locked", "{err:?}");
}

#[test]
fn accelerated_compositing_is_off_unless_the_user_set_the_variable() {
    use crate::compositing_default;
    use std::ffi::OsStr;
    // Not set: the app turns it off.
    assert_eq!(compositing_default(None), Some("1"));
    // Set, to anything: the user's value stands ("0" keeps WebKit's own choice; an empty value
    // is WebKit's to read, not the app's to replace).
    for value in ["0", "1", "", "yes"] {
        assert_eq!(
            compositing_default(Some(OsStr::new(value))),
            None,
            "{value:?}"
        );
    }
}

/// The e2e's lock (2026-12-01): the window tells input up to 5 s late; the idle time counts
/// from the input, never from the tell, and a late tell never moves the last activity back.
#[test]
fn input_told_late_counts_from_when_it_happened() {
    use crate::{latest_input, MAX_INPUT_AGO};
    use std::time::{Duration, Instant};
    let now = Instant::now() + Duration::from_secs(60);
    let secs = Duration::from_secs;
    // Told 3 s late, after older activity: 3 s before now.
    assert_eq!(latest_input(now - secs(20), now, secs(3)), now - secs(3));
    // Told as older than the last activity known: the last activity stands.
    assert_eq!(latest_input(now - secs(1), now, secs(3)), now - secs(1));
    // A claim past MAX_INPUT_AGO counts as MAX_INPUT_AGO.
    assert_eq!(
        latest_input(now - secs(50), now, secs(3600)),
        now - MAX_INPUT_AGO
    );
    // Told at once.
    assert_eq!(latest_input(now - secs(20), now, Duration::ZERO), now);
}

/// The window opens before its home (an update's upgrade of a large store takes a while):
/// until the home is open every command answers `home_opening`, the reads included, and no
/// other handle opens the store meanwhile (it would wait on the upgrade's lock); once it is
/// open, the same commands answer.
#[test]
fn a_home_still_opening_answers_home_opening_and_nothing_else_opens_it() {
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::opening(dir.path().to_path_buf()));
    for cmd in ["status", "studies"] {
        let refused = harness.call(cmd, serde_json::json!({})).unwrap_err();
        assert_eq!(refused["code"], "home_opening", "{cmd}: {refused}");
    }
    assert!(
        !dir.path().join("ledger.sqlite3").exists(),
        "a handle opened the store before the home was open"
    );
    harness.app.state::<Desk>().finish_opening();
    let status = harness.json("status", serde_json::json!({}));
    assert!(status["identity"].is_null(), "{status}");
    harness.json("studies", serde_json::json!({}));
}

/// Another program on the home rotates its key (an admin's `key rotate`, adopted at once): the
/// background node, whose peer id is the old key, says so; the next command locks the key and
/// stops the node, and the unlock after it opens the new key (with the same passphrase).
/// Fails if `lock_if_idle` stops asking the node.
#[test]
fn the_key_locks_and_the_node_stops_when_another_program_rotates_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = "rotation under the desk";
    let desk = unlocked_desk(dir.path(), passphrase);
    start_node_on_loopback(&desk);
    let mut cli = countersign_app::Home::open_with(dir.path(), source(passphrase)).unwrap();
    let rotation = cli.key_rotate().unwrap();
    assert!(!rotation.pending);
    // The node looks at what was committed on its own schedule: wait for it, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while desk
        .sync
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|s| s.key_rotated().is_none())
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the node never saw the rotation"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    desk.lock_if_idle();
    assert!(desk.sync.lock().unwrap().is_none(), "the node ran on");
    let err = desk
        .act(|h| h.report_new("1.2.3", "ct-chest", &[]))
        .unwrap_err();
    assert_eq!(err.code, "locked", "{err:?}");
    desk.act(|h| h.unlock(&countersign_app::Passphrase::new(passphrase)))
        .unwrap();
    assert_eq!(desk.with(|h| h.whoami()).unwrap().key, rotation.new);
}

/// Found by review (2026-12-04): with no node running yet, another program rotated the key;
/// the node's start was refused (it would run as the old key) but said "not switched", and
/// nothing locked the window, which went on holding the old key. The refusal now locks it,
/// and the unlock after it opens the new key and starts the node. Fails if `sync_handle`
/// stops locking on it.
#[test]
fn a_node_refused_for_a_key_another_program_rotated_locks_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let passphrase = "rotation before the node";
    let desk = unlocked_desk(dir.path(), passphrase);
    let mut cli = countersign_app::Home::open_with(dir.path(), source(passphrase)).unwrap();
    let rotation = cli.key_rotate().unwrap();
    let err = desk.sync_handle().unwrap_err();
    assert_eq!(err.code, "key_rotated", "{err:?}");
    assert!(desk.sync.lock().unwrap().is_none());
    let err = desk
        .act(|h| h.report_new("1.2.3", "ct-chest", &[]))
        .unwrap_err();
    assert_eq!(err.code, "locked", "{err:?}");
    desk.act(|h| h.unlock(&countersign_app::Passphrase::new(passphrase)))
        .unwrap();
    assert_eq!(desk.with(|h| h.whoami()).unwrap().key, rotation.new);
    desk.sync_handle().expect("the node starts as the new key");
}

/// The desk on a new home founded by Dr Ada (an attending), its key sealed under `passphrase`
/// and unlocked.
fn unlocked_desk(dir: &std::path::Path, passphrase: &str) -> Desk {
    let mut home = countersign_app::Home::open_with(dir, source(passphrase)).unwrap();
    home.init(
        "Dr Ada",
        "attending".parse().unwrap(),
        Some("Radiology"),
        None,
    )
    .unwrap();
    drop(home);
    let desk = Desk::open(dir.to_path_buf());
    desk.act(|h| h.unlock(&countersign_app::Passphrase::new(passphrase)))
        .unwrap();
    desk
}

/// Starts the desk's background node on loopback, on the key the desk holds unlocked.
fn start_node_on_loopback(desk: &Desk) {
    let node_home = desk.with(|h| h.open_again()).unwrap();
    let service = countersign_app::sync::Service::start(
        node_home,
        &["/ip4/127.0.0.1/tcp/0".into()],
        &[],
        false,
    )
    .unwrap();
    *desk.sync.lock().unwrap() = Some(service);
}
