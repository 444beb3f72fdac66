//! Key rotation with real CLI processes: a member moves to a new key and stays one person; the
//! old key — a copy of the laptop taken before — signs nothing that counts after the rotation,
//! whether its entries come by bundle or by sync; an admin rotates their own key at once;
//! a lost key is replaced by an admin alone; and each way of breaking it is refused.

use std::process::Command;

use serde_json::Value;

use crate::common::{added, founder, Home};

/// A copy of `home` as it is now (its key sealed under the same passphrase): the thief's laptop.
fn copy_of(home: &Home) -> Home {
    let copy = Home::new();
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&home.dir)
        .arg(&copy.dir)
        .status()
        .unwrap()
        .success());
    std::fs::copy(&home.passphrase_file, &copy.passphrase_file).unwrap();
    copy
}

/// Everything `from` holds, imported into `to`.
fn give(from: &Home, to: &Home) -> crate::common::Run {
    to.import(&from.bundle(None))
}

/// The author of the newest version of `section`, as `report show --json` gives it.
fn author_of(view: &Value, section: &str) -> Value {
    view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == section)
        .unwrap()["versions"]
        .as_array()
        .unwrap()
        .last()
        .unwrap_or_else(|| panic!("no version of {section}"))["author"]
        .clone()
}

/// Ada's department with Bob, an attending (no admin), joined and holding the roster.
fn department() -> (Home, Home, String) {
    let ada = founder("Dr Ada");
    let (bob, bob_key) = added(&ada, "Dr Bob", "attending");
    bob.join(&ada);
    assert_eq!(give(&ada, &bob).code, 0);
    (ada, bob, bob_key)
}

/// The test: the old key signs before, the new one after; verify is clean; the old
/// key's entry after the rotation is refused; the provenance shows one person, key 2 of 2.
#[test]
fn rotation_old_key_before_new_key_after_and_one_person() {
    let (ada, bob, old) = department();
    let report = bob.new_report("1.2.3.4", "ct-chest");
    bob.write(&report, "findings", "Written with the old key.")
        .ok();
    assert_eq!(give(&bob, &ada).code, 0);
    // The laptop is copied before the rotation: it keeps the old key.
    let stolen = copy_of(&bob);

    // Bob asks; not an admin, he gets a request for one. Asked again, the same request.
    let asked = bob.ok(&["key", "rotate"]);
    assert_eq!(asked["pending"], true);
    assert_eq!(asked["old"], old.as_str());
    let new = asked["new"].as_str().unwrap().to_string();
    let request = asked["request"].as_str().unwrap().to_string();
    assert!(request.starts_with("countersign-rotate:") && request.len() < 400);
    assert_eq!(bob.ok(&["key", "rotate"])["request"], request.as_str());
    assert_eq!(
        bob.key(),
        old,
        "still the old key until the rotation reaches this home"
    );

    // Bob cannot apply it himself; Ada can.
    let not_admin = bob.run(&["roster", "rotate", &request]);
    assert_eq!(not_admin.code, 2, "{}", not_admin.stdout);
    assert!(
        not_admin.stderr.contains("not_admin"),
        "{}",
        not_admin.stderr
    );
    ada.ok(&["roster", "rotate", &request]);
    let roster = ada.ok(&["roster", "list"]);
    let member = |key: &str| {
        roster
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == key)
            .unwrap()
            .clone()
    };
    assert_eq!(member(&old)["rotated_to"], new.as_str());
    assert_eq!(member(&new)["rotated_from"], old.as_str());
    assert_eq!(member(&new)["name"], "Dr Bob");
    assert_eq!(member(&new)["role"], "attending");

    // The rotation reaches Bob's home: it switches to the new key and drops the old one.
    assert_eq!(give(&ada, &bob).code, 0);
    assert_eq!(bob.key(), new);
    let keys = bob.dir.join("keys");
    assert!(!keys.join(format!("{old}.sealed")).exists());
    assert!(keys.join(format!("{new}.sealed")).exists());
    bob.write(&report, "impression", "Written with the new key.")
        .ok();
    assert_eq!(give(&bob, &ada).code, 0);
    for home in [&ada, &bob] {
        let verify = home.run(&["verify"]);
        assert_eq!(verify.code, 0, "{}", verify.stdout);
    }

    // The copied laptop signs with the old key after the rotation; its roster does not know
    // of the rotation, so it signs — and every home that has the rotation refuses it.
    stolen
        .write(&report, "technique", "Slipped in with the old key.")
        .ok();
    let imported = give(&stolen, &ada);
    assert_eq!(imported.code, 1, "{}", imported.stdout);
    let refused = imported.json()["refused"].as_array().unwrap().clone();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["code"], "rotated");

    // One person across both keys: key 1 of 2, key 2 of 2, rotated on the rotation's date.
    let view = ada.ok(&["report", "show", &report]);
    let (first, second) = (author_of(&view, "findings"), author_of(&view, "impression"));
    assert_eq!(
        (first["key"].as_str(), second["key"].as_str()),
        (Some(&*old), Some(&*new))
    );
    assert_eq!(first["name"], "Dr Bob");
    assert_eq!(second["name"], "Dr Bob");
    assert_eq!(first["person"]["number"], 1);
    assert_eq!(second["person"]["number"], 2);
    assert_eq!(second["person"]["keys"], 2);
    assert_eq!(second["person"]["current"], new.as_str());
    assert!(second["person"]["rotated_ms"].as_u64().unwrap() > 0);
    assert_eq!(second["person"]["replaced_lost_key"], false);
    let technique = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "technique")
        .unwrap();
    assert!(technique["text"].is_null(), "{technique}");
    assert!(technique["versions"].as_array().unwrap().is_empty());
    let provenance = view["provenance"].as_array().unwrap();
    let rotated: Vec<&Value> = provenance
        .iter()
        .filter(|p| p["status"]["code"] == "rotated")
        .collect();
    assert_eq!(rotated.len(), 1, "{provenance:?}");
    assert_eq!(rotated[0]["author"]["person"]["number"], 1);
    // The human output names the key.
    let shown = String::from_utf8(
        ada.command()
            .args(["report", "show", &report])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        shown.contains("Dr Bob (attending; key 2 of 2, rotated on "),
        "{shown}"
    );
}

/// A home that asked for a rotation is refused by the department's nodes as its old key once
/// an admin applied it: `sync` tries again as the new key, takes the rotation in and switches.
#[test]
fn a_pending_rotation_is_picked_up_by_sync() {
    let (ada, bob, old) = department();
    let asked = bob.ok(&["key", "rotate"]);
    let new = asked["new"].as_str().unwrap().to_string();
    ada.ok(&["roster", "rotate", asked["request"].as_str().unwrap()]);
    let serving = crate::sync::serve(&ada, &[]);
    let synced = bob.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "30"]);
    assert_eq!(synced.code, 0, "{}", synced.stderr);
    // Switched by the sync itself, not by the next command (which adopts too): found by
    // review (2026-12-05), the sync's own adoption had no passphrase for a sealed key.
    let identity: Value =
        serde_json::from_str(&std::fs::read_to_string(bob.dir.join("identity.json")).unwrap())
            .unwrap();
    assert_eq!(identity["key"].as_str(), Some(&*new), "{identity}");
    assert_eq!(bob.key(), new);
    assert_ne!(bob.key(), old);
    // And it syncs as the new key from now on.
    let report = bob.new_report("5.5.5", "ct-chest");
    let again = bob.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "30"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    crate::sync::until("the new key's report on Ada's home", || {
        ada.run(&["report", "show", &report]).code == 0
    });
}

/// An admin rotates their own key in one command; the department keeps its founder.
#[test]
fn an_admin_rotates_their_own_key_at_once() {
    let ada = founder("Dr Ada");
    let old = ada.key();
    let r = ada.ok(&["key", "rotate"]);
    assert_eq!(r["pending"], false);
    assert!(r["entry"].is_string());
    let new = r["active"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let who = ada.ok(&["whoami"]);
    assert_eq!(
        (who["key"].as_str(), who["admin"].as_bool()),
        (Some(&*new), Some(true))
    );
    // Still the most senior admin: she adds and revokes as before.
    let (_carl, carl) = added(&ada, "Dr Carl", "cardiologist");
    ada.ok(&["roster", "revoke", "--key", &carl]);
    assert_eq!(ada.run(&["verify"]).code, 0);
}

/// A lost laptop: the admin replaces the key alone; the member's new home signs as the same
/// person, and the report says the key replaced a lost one.
#[test]
fn a_lost_key_is_replaced_by_an_admin_alone() {
    let (ada, bob, old) = department();
    let report = bob.new_report("7.7.7", "ct-chest");
    bob.write(&report, "findings", "Before the laptop was lost.")
        .ok();
    assert_eq!(give(&bob, &ada).code, 0);
    let laptop = Home::new();
    let new = laptop.key_of_new_member();
    ada.ok(&[
        "roster",
        "replace",
        "--key",
        &old,
        "--new-key",
        &new,
        "--reason",
        "lost laptop",
    ]);
    laptop.join(&ada);
    assert_eq!(give(&ada, &laptop).code, 0);
    let who = laptop.ok(&["whoami"]);
    assert_eq!(
        (who["name"].as_str(), who["role"].as_str()),
        (Some("Dr Bob"), Some("attending"))
    );
    laptop
        .write(&report, "impression", "On the new laptop.")
        .ok();
    assert_eq!(give(&laptop, &ada).code, 0);
    let view = ada.ok(&["report", "show", &report]);
    let person = &author_of(&view, "impression")["person"];
    assert_eq!(
        (person["number"].as_u64(), person["keys"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(person["replaced_lost_key"], true);
    assert_eq!(author_of(&view, "findings")["name"], "Dr Bob");
    // The lost key's finder signs after the replacement: refused.
    bob.write(&report, "technique", "Found the laptop.").ok();
    let imported = give(&bob, &ada);
    assert_eq!(imported.code, 1);
    assert_eq!(imported.json()["refused"][0]["code"], "rotated");
}

/// Each way of breaking it, through the CLI: a request tampered with or replayed into another
/// department, a rotation onto a key already on the roster, a junior admin rotating a senior,
/// and a member who is not an admin replacing a key.
#[test]
fn every_way_of_breaking_a_rotation_is_refused() {
    let (ada, bob, bob_key) = department();
    let (_carl_home, carl) = added(&ada, "Dr Carl", "cardiologist");
    let request = bob.ok(&["key", "rotate"])["request"]
        .as_str()
        .unwrap()
        .to_string();
    let code = |run: &crate::common::Run| -> Value {
        serde_json::from_str::<Value>(run.stderr.lines().last().unwrap_or("{}"))
            .map(|v| v["error"].clone())
            .unwrap_or(Value::Null)
    };

    // Tampered: one character of the signatures changed.
    let mut bytes = request.clone().into_bytes();
    let at = bytes.len() - 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let run = ada.run(&["roster", "rotate", std::str::from_utf8(&bytes).unwrap()]);
    assert_eq!(run.code, 2);
    assert_eq!(code(&run)["code"], "rotation_forged", "{}", run.stderr);
    let run = ada.run(&["roster", "rotate", "countersign-rotate:AAAA"]);
    assert_eq!(code(&run)["code"], "rotation_malformed", "{}", run.stderr);

    // Replayed into another department: its admin's home refuses it.
    let eve = founder("Eve");
    let run = eve.run(&["roster", "rotate", &request]);
    assert_eq!(code(&run)["code"], "rotation_refused", "{}", run.stderr);

    // Onto a key already on the roster: Carl's.
    let run = ada.run(&["roster", "replace", "--key", &bob_key, "--new-key", &carl]);
    assert_eq!(code(&run)["rule"], "rotation_key_known", "{}", run.stderr);

    // A member who is not an admin replaces a key.
    assert_eq!(give(&ada, &bob).code, 0);
    let fresh = Home::new().key_of_new_member();
    let run = bob.run(&["roster", "replace", "--key", &carl, "--new-key", &fresh]);
    assert_eq!(code(&run)["rule"], "not_admin", "{}", run.stderr);

    // A junior admin rotates a senior admin's key (the founder's).
    let (dan, dan_key) = added(&ada, "Dr Dan", "attending");
    ada.ok(&[
        "roster",
        "add",
        "--key",
        &dan_key,
        "--name",
        "Dr Dan",
        "--role",
        "attending",
        "--admin",
    ]);
    dan.join(&ada);
    assert_eq!(give(&ada, &dan).code, 0);
    let run = dan.run(&[
        "roster",
        "replace",
        "--key",
        &ada.key(),
        "--new-key",
        &fresh,
    ]);
    assert_eq!(code(&run)["rule"], "not_senior", "{}", run.stderr);

    // Nothing of it took effect: the request still applies, once.
    ada.ok(&["roster", "rotate", &request]);
    let again = ada.run(&["roster", "rotate", &request]);
    assert_eq!(code(&again)["rule"], "key_revoked", "{}", again.stderr);
    assert_eq!(ada.run(&["verify"]).code, 0);
}

/// A node serving a home whose admin rotates her key from another process: its peer id is the
/// old key, which the department's peers no longer serve, so it stops with `key_rotated` (and
/// says how to go on) rather than run on unheard. Started again, it runs as the new key.
#[test]
fn a_serving_node_stops_when_its_homes_key_is_rotated_by_another_process() {
    use std::io::Read;
    use std::process::Stdio;
    let ada = founder("Dr Ada");
    let old = ada.key();
    let mut child = ada
        .command()
        .args(["--json", "serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let first = crate::sync::listening(&mut child);
    assert!(first["peer"].is_string(), "{first}");
    let rotated = ada.ok(&["key", "rotate"]);
    let new = rotated["active"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let mut status = None;
    crate::sync::until("the node to stop", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.unwrap().code(), Some(2), "{stderr}");
    let error: Value = serde_json::from_str(stderr.trim().lines().last().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {stderr:?}"));
    assert_eq!(error["error"]["code"], "key_rotated", "{stderr}");
    assert!(
        error["error"]["message"].as_str().unwrap().contains(&new),
        "{stderr}"
    );
    let again = crate::sync::serve(&ada, &[]);
    let old_peer = first["peer"].as_str().unwrap();
    assert!(
        !again.addr.ends_with(&format!("/p2p/{old_peer}")),
        "started again, it runs as the new key: {}",
        again.addr
    );
}
