//! `countersign agent`: a script signs many entries with one unlock, through an agent that holds
//! the key, and the agent signs nothing else — not arbitrary bytes, not another key's entry, not
//! for a home of another key — and forgets the key when idle.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use countersign_ledger::{Hash, Header, Kind, SecretKey, SIGNATURE_DOMAIN};

use crate::common::{two_attendings, Home};

/// A running agent on `home`, killed when dropped.
struct Agent {
    child: Child,
    socket: PathBuf,
    key: String,
}

impl Agent {
    /// Starts `countersign agent` and waits for its first stdout line, printed once the socket
    /// answers.
    fn start(home: &Home, extra: &[&str]) -> Agent {
        let mut child = home
            .command()
            .args(["--json", "agent"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
            let mut err = String::new();
            child.stderr.take().unwrap().read_to_string(&mut err).ok();
            panic!("agent did not start ({e}): {line:?} / {err}")
        });
        Agent {
            child,
            socket: PathBuf::from(ready["socket"].as_str().unwrap()),
            key: ready["key"].as_str().unwrap().to_string(),
        }
    }

    /// Waits (bounded) for the agent to exit by itself; its exit status.
    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the agent did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `countersign --home DIR --json ARGS` signing through the agent on `socket`, with no
/// passphrase anywhere.
fn via_agent(home: &Home, socket: &Path, args: &[&str]) -> crate::common::Run {
    home.command()
        .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
        .env("COUNTERSIGN_AGENT_SOCK", socket)
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into()
}

/// `report new` of a CT chest report through the agent on `socket`.
fn new_report(home: &Home, socket: &Path) -> crate::common::Run {
    via_agent(
        home,
        socket,
        &[
            "report",
            "new",
            "--study",
            "1.2.3",
            "--template",
            "ct-chest",
        ],
    )
}

/// One raw request to the agent: the answer's status byte and data.
fn raw(socket: &Path, frame: &[u8]) -> (u8, Vec<u8>) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(frame).unwrap();
    let mut prefix = [0u8; 4];
    s.read_exact(&mut prefix).unwrap();
    let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
    s.read_exact(&mut body).unwrap();
    (body[0], body[1..].to_vec())
}

fn sign_frame(message: &[u8]) -> Vec<u8> {
    let body = [&[2u8], message].concat();
    [&(body.len() as u32).to_be_bytes()[..], &body].concat()
}

/// The bytes an entry signature covers, for a header by `author`.
fn entry_message(author: &SecretKey) -> Vec<u8> {
    let h = Header::new(
        Hash::of(b"net"),
        Hash::of(b"log"),
        author.public(),
        2,
        1_000,
        Kind::SectionWrite,
        vec![Hash::of(b"parent")],
        b"{}",
    );
    [SIGNATURE_DOMAIN, &h.encode()].concat()
}

#[test]
fn a_script_signs_many_entries_with_one_unlock_and_no_passphrase() {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let agent = Agent::start(&ada, &[]);
    assert_eq!(agent.key, ada.key());
    // The agent read the passphrase once, at start; nothing else can read it now.
    std::fs::remove_file(&ada.passphrase_file).unwrap();
    let without: crate::common::Run = ada
        .command()
        .env_remove("COUNTERSIGN_PASSPHRASE_FILE")
        .args([
            "--json",
            "report",
            "new",
            "--study",
            "1.2.3",
            "--template",
            "ct-chest",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into();
    assert_eq!(without.error_code(), "passphrase_required");

    let report = new_report(&ada, &agent.socket).ok()["report"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..5 {
        let text = format!("Findings version {i}.");
        via_agent(
            &ada,
            &agent.socket,
            &[
                "report",
                "write",
                &report,
                "--section",
                "findings",
                "--text",
                &text,
            ],
        )
        .ok();
    }
    let shown = via_agent(&ada, &agent.socket, &["report", "show", &report]).ok();
    let findings = shown["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(findings["versions"].as_array().unwrap().len(), 5);
    // Read through the agent too: it signed the data-key wrapping message for its owner.
    assert_eq!(findings["text"], "Findings version 4.", "{shown}");
    assert_eq!(findings["versions"][4]["author"]["key"], ada.key());
    assert!(via_agent(&ada, &agent.socket, &["verify"]).ok()["ok"]
        .as_bool()
        .unwrap());
}

#[test]
fn the_agent_signs_only_its_own_entries() {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let agent = Agent::start(&ada, &[]);
    let own = ada.secret(&ada.key());
    let stranger = SecretKey::from_seed(&[0x42; 32]);

    // Its own entry: a signature that verifies.
    let message = entry_message(&own);
    let (status, signature) = raw(&agent.socket, &sign_frame(&message));
    assert_eq!(status, 0);
    let signature: [u8; 64] = signature.try_into().unwrap();
    assert!(own.public().verifies(&message, &signature));

    // Arbitrary bytes, another key's entry, a checkpoint: refused with a reason.
    for (what, message) in [
        ("arbitrary bytes", b"sign me please".to_vec()),
        ("another key's entry", entry_message(&stranger)),
        (
            "a checkpoint",
            [
                countersign_ledger::checkpoint::CHECKPOINT_DOMAIN,
                &[0u8; 120],
            ]
            .concat(),
        ),
    ] {
        let (status, reason) = raw(&agent.socket, &sign_frame(&message));
        assert_eq!(status, 1, "{what} was signed");
        assert!(!reason.is_empty(), "{what}: no reason");
    }

    // A frame announcing 4 GiB is refused before anything is read, and the agent goes on.
    let (status, reason) = raw(&agent.socket, &[0xff, 0xff, 0xff, 0xff]);
    assert_eq!(status, 1);
    assert!(String::from_utf8_lossy(&reason).contains("longer than"));
    let (status, key) = raw(&agent.socket, &[0, 0, 0, 1, 1]);
    assert_eq!((status, key[0]), (0, 1));
    let hex: String = key[1..].iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, ada.key());
}

#[test]
fn a_home_of_another_key_is_refused_and_nothing_is_written() {
    let (ada, bob) = two_attendings();
    let agent = Agent::start(&ada, &[]);
    let before = bob.count();
    let run = new_report(&bob, &agent.socket);
    assert_eq!(run.code, 2);
    assert_eq!(run.error_code(), "agent_unavailable");
    assert!(run.stderr.contains(&ada.key()), "{}", run.stderr);
    assert_eq!(bob.count(), before);
    // Reading needs no agent.
    via_agent(&bob, &agent.socket, &["report", "list"]).ok();
}

#[test]
fn the_socket_is_the_owners_alone_and_one_agent_answers_on_it() {
    use std::os::unix::fs::PermissionsExt;
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let agent = Agent::start(&ada, &[]);
    let mode = std::fs::metadata(&agent.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "socket mode {mode:o}");
    let home_mode = std::fs::metadata(&ada.dir).unwrap().permissions().mode();
    assert_eq!(home_mode & 0o077, 0, "home mode {home_mode:o}");
    // A second agent does not take over a live one's socket.
    let second = ada.run(&["agent"]);
    assert_eq!(second.code, 2);
    assert!(
        second.stderr.contains("already answers"),
        "{}",
        second.stderr
    );
    assert_eq!(raw(&agent.socket, &[0, 0, 0, 1, 1]).0, 0);
}

/// The agent holds the unsealed key for hours: a crash must not write it to a core file (the
/// shell's `no_core_dumps`; `crates/app/src/home/process.rs` tests the dumpable flag, which
/// `/proc` does not show to a root test).
#[test]
fn the_agent_holding_the_key_may_leave_no_core_dump() {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let agent = Agent::start(&ada, &[]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", agent.child.id())).unwrap();
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("core limit listed");
    let values: Vec<&str> = core.split_whitespace().skip(4).take(2).collect();
    assert_eq!(values, ["0", "0"], "{core}");
}

#[test]
fn an_idle_agent_forgets_the_key_and_a_killed_ones_socket_is_replaced() {
    let ada = Home::new();
    ada.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let mut agent = Agent::start(&ada, &["--idle-timeout", "1"]);
    assert!(agent.wait_exit(Duration::from_secs(30)).success());
    assert!(!agent.socket.exists(), "the idle agent left its socket");
    let run = new_report(&ada, &agent.socket);
    assert_eq!(run.error_code(), "agent_unavailable");

    // Killed: its socket stays, answered by nobody; the next agent replaces it.
    let mut killed = Agent::start(&ada, &[]);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert!(killed.socket.exists());
    let next = Agent::start(&ada, &[]);
    assert_eq!(next.socket, killed.socket);
    new_report(&ada, &next.socket).ok();
}
