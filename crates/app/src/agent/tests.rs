//! The agent held to its home's key: once the key is rotated away it signs nothing more, wipes
//! the key and exits.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use countersign_ledger::Signer;

use super::client::AgentSigner;
use super::proto::tests::entry_message;
use super::{AgentOptions, AgentSummary};
use crate::tests::open_home;
use crate::tests::rotation::{a_rotation_applied_elsewhere, taken_in_locked};
use crate::AppError;

/// An agent serving the home in `dir` on a thread, as `countersign agent` does: its socket, once
/// it answers (told by `ready`, no sleep), and what it returns when it stops.
fn start(dir: &Path) -> (PathBuf, JoinHandle<crate::Result<AgentSummary>>) {
    let (said, heard) = std::sync::mpsc::channel();
    let options = AgentOptions::for_home(dir);
    let home = open_home(dir).unwrap();
    let agent = std::thread::spawn(move || {
        home.serve_agent(&options, |socket, _| {
            let _ = said.send(socket.to_path_buf());
        })
    });
    let socket = heard.recv().expect("the agent did not start");
    (socket, agent)
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
    let (socket, agent) = start(&bob_dir);
    // A command's client, connected while the key was still the home's: it signs.
    let client = AgentSigner::connect(&socket, &old).unwrap();
    let message = entry_message(&old);
    assert!(old.verifies(&message, &client.try_sign(&message).unwrap()));

    // The rotation taken in by a command with no passphrase: the roster moved the key, the
    // profile did not.
    let locked = taken_in_locked(&ada, &bob_dir);
    assert_eq!(
        locked.whoami().unwrap().key,
        old,
        "not adopted without the key"
    );

    let refused = AppError::from(client.try_sign(&message).unwrap_err());
    assert_eq!(refused.code(), "key_rotated", "{refused}");
    assert!(
        refused.to_string().contains(&asked.new.to_hex()),
        "{refused}"
    );
    // Gone: it returned (it exits the CLI with the same code) and left no socket.
    let stopped = agent.join().unwrap().unwrap_err();
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
    let (socket, agent) = start(&bob_dir);
    let client = AgentSigner::connect(&socket, &old).unwrap();

    let mut bob = open_home(&bob_dir).unwrap();
    bob.bundle_import(&ada.bundle_export_with(None, false).unwrap())
        .unwrap();
    assert_eq!(bob.whoami().unwrap().key, asked.new, "adopted");

    let refused = AppError::from(client.try_sign(&entry_message(&old)).unwrap_err());
    assert_eq!(refused.code(), "key_rotated", "{refused}");
    assert!(
        refused
            .to_string()
            .contains(&format!("this home signs as {}", asked.new)),
        "{refused}"
    );
    assert_eq!(agent.join().unwrap().unwrap_err().code(), "key_rotated");
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
    assert_eq!(agent.join().unwrap().unwrap_err().code(), "key_rotated");
    assert_eq!(locked.store().db().count_entries().unwrap(), before);
}
