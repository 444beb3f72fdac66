//! The agent held to its home's key: once the key is rotated away it signs nothing more, wipes
//! the key and exits.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use countersign_ledger::{PublicKey, Signer};

use super::client::AgentSigner;
use super::proto::tests::entry_message;
use super::{AgentOptions, AgentSummary};
use crate::tests::open_home;
use crate::tests::rotation::{a_member, a_rotation_applied_elsewhere, taken_in_locked};
use crate::AppError;

/// An agent serving the home in `dir` on a thread, as `countersign agent` does: its socket, once
/// it answers (told by `ready`, no sleep), and what it returns when it stops.
fn start(dir: &Path) -> (PathBuf, Stopped) {
    let (said, heard) = std::sync::mpsc::channel();
    let (stopped, outcome) = std::sync::mpsc::channel();
    let options = AgentOptions::for_home(dir);
    let home = open_home(dir).unwrap();
    std::thread::spawn(move || {
        let result = home.serve_agent(&options, |socket, _| {
            let _ = said.send(socket.to_path_buf());
        });
        let _ = stopped.send(result);
    });
    let socket = heard.recv().expect("the agent did not start");
    (socket, Stopped(outcome))
}

/// What a started agent returns when it stops.
struct Stopped(Receiver<crate::Result<AgentSummary>>);

impl Stopped {
    /// The agent's outcome, once it put its key away. It must stop at once, woken out of its
    /// wait for connections, not at its idle time ([`super::DEFAULT_IDLE`], ten minutes):
    /// given a minute, far past any machine's time to wake, and far short of the idle time.
    fn put_away(self) -> AppError {
        match self.0.recv_timeout(Duration::from_secs(60)) {
            Ok(result) => result.expect_err("the agent stopped without putting its key away"),
            Err(RecvTimeoutError::Timeout) => {
                panic!("the agent put its key away but was still waiting for connections")
            }
            Err(RecvTimeoutError::Disconnected) => panic!("the agent's thread panicked"),
        }
    }
}

/// An agent started on the home in `dir`, and a command's client connected to it while `key`
/// is still the home's: it signs. Returns the socket, the agent's outcome, the client and an
/// entry of the key's to sign.
fn signing(dir: &Path, key: &PublicKey) -> (PathBuf, Stopped, AgentSigner, Vec<u8>) {
    let (socket, agent) = start(dir);
    let client = AgentSigner::connect(&socket, key).unwrap();
    let message = entry_message(key);
    assert!(key.verifies(&message, &client.try_sign(&message).unwrap()));
    (socket, agent, client, message)
}

/// The client's next signature of `message`: refused as `key_rotated`, saying `why`.
fn refused_saying(client: &AgentSigner, message: &[u8], why: &str) {
    let refused = AppError::from(client.try_sign(message).unwrap_err());
    assert_eq!(refused.code(), "key_rotated", "{refused}");
    assert!(refused.to_string().contains(why), "{refused}");
}

/// Ada's department and Bob admitted to it ([`a_member`]): Ada's home, Bob's folder (his home
/// closed, for an agent to serve) and his key.
fn bob_admitted(dir: &Path) -> (crate::Home, PathBuf, PublicKey) {
    let (ada, bob_dir, bob) = a_member(dir);
    let key = bob.whoami().unwrap().key;
    (ada, bob_dir, key)
}

/// Found by review (2026-12-05): the agent never looked at its home again, and each signature
/// reset its idle time. A rotation taken in by a command that holds no passphrase (as commands
/// signing through the agent mostly do) is never adopted there, so the profile stays on the
/// old key and the client's check that the agent holds it passes: the old key stayed in
/// memory, signing whatever entry it was given, for good. Fails if the agent stops looking at
/// the roster before it signs.
#[test]
fn an_agent_whose_key_the_roster_rotated_away_refuses_to_sign_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, _) = a_rotation_applied_elsewhere(dir.path());
    let (socket, agent, client, message) = signing(&bob_dir, &old);

    // The rotation taken in by a command with no passphrase: the roster moved the key, the
    // profile did not.
    let locked = taken_in_locked(&ada, &bob_dir);
    assert_eq!(
        locked.whoami().unwrap().key,
        old,
        "not adopted without the key"
    );

    refused_saying(&client, &message, &asked.new.to_hex());
    // Gone: it returned (it exits the CLI with the same code) and left no socket.
    let stopped = agent.put_away();
    assert_eq!(stopped.code(), "key_rotated", "{stopped}");
    assert!(!socket.exists(), "the agent left its socket");
    let gone = AgentSigner::connect(&socket, &old).unwrap_err();
    assert_eq!(gone.code(), "agent_unavailable");
}

/// The same, the rotation adopted by another program on the home (its profile names the new
/// key): the agent's key is no longer the home's even before it looks at the roster. Fails if
/// the agent stops reading the profile before it signs (the roster's words would say why).
#[test]
fn an_agent_whose_home_adopted_a_rotation_refuses_to_sign_the_old_key_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, asked, report) = a_rotation_applied_elsewhere(dir.path());
    let (socket, agent, client, message) = signing(&bob_dir, &old);

    let mut bob = open_home(&bob_dir).unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert_eq!(bob.whoami().unwrap().key, asked.new, "adopted");

    refused_saying(
        &client,
        &message,
        &format!("this home signs as {}", asked.new),
    );
    assert_eq!(agent.put_away().code(), "key_rotated");
    assert!(!socket.exists(), "the agent left its socket");
    // The home signs as its new key, unlocked its own way.
    bob.report_write(report, "impression", "After the rotation.")
        .unwrap();
}

/// A command asking through the home (`COUNTERSIGN_AGENT_SOCK`) after the roster moved the key
/// is told why (`key_rotated`), not that the signer failed or that no agent answers, and
/// nothing is written. Fails if the client stops turning the agent's answer to its hello into
/// `key_rotated`.
#[test]
fn a_command_through_an_agent_whose_key_was_rotated_away_is_told_key_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let (ada, bob_dir, old, _, report) = a_rotation_applied_elsewhere(dir.path());
    let (socket, agent) = start(&bob_dir);
    let mut locked = taken_in_locked(&ada, &bob_dir);
    let before = locked.store().db().count_entries().unwrap();
    locked.use_agent(&socket);
    let refused = locked
        .report_write(report, "impression", "Signed by the old key?")
        .unwrap_err();
    assert_eq!(refused.code(), "key_rotated", "{refused}");
    assert!(refused.to_string().contains(&old.to_hex()), "{refused}");
    assert_eq!(agent.put_away().code(), "key_rotated");
    assert_eq!(locked.store().db().count_entries().unwrap(), before);
}

/// A member the department revoked (no new key: revocation alone) is refused as one whose key
/// was rotated away: the agent signs nothing more, wipes the key and exits at once. Fails if the
/// agent stops reading revocations from the roster (only rotations would stop it), or stops
/// waking its accepting loop when it puts the key away (it would wait for its idle time).
#[test]
fn an_agent_whose_member_the_roster_revoked_refuses_to_sign_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ada, bob_dir, key) = bob_admitted(dir.path());
    let (socket, agent, client, message) = signing(&bob_dir, &key);

    let revocation = ada.roster_revoke(key, "left the department").unwrap();
    let bob = taken_in_locked(&ada, &bob_dir);
    assert_eq!(
        bob.whoami().unwrap().key,
        key,
        "a revocation names no new key"
    );

    refused_saying(
        &client,
        &message,
        &format!("revoked it (entry {revocation})"),
    );
    assert_eq!(agent.put_away().code(), "key_rotated");
    assert!(!socket.exists(), "the agent left its socket");
}

/// An agent started on a key the roster has already revoked never serves it: it refuses to
/// start (`key_rotated`), before its socket exists, so no client is ever told it holds the
/// home's key. Fails if the agent stops looking at its key before it listens.
#[test]
fn an_agent_refuses_to_start_on_a_revoked_key() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ada, bob_dir, key) = bob_admitted(dir.path());
    ada.roster_revoke(key, "left the department").unwrap();
    drop(taken_in_locked(&ada, &bob_dir));

    let options = AgentOptions::for_home(&bob_dir);
    let refused = open_home(&bob_dir)
        .unwrap()
        .serve_agent(&options, |socket, _| {
            panic!("the agent served a revoked key on {}", socket.display())
        })
        .unwrap_err();
    assert_eq!(refused.code(), "key_rotated", "{refused}");
    assert!(refused.to_string().contains("revoked"), "{refused}");
    assert!(!options.socket.exists(), "the agent made its socket");
}
