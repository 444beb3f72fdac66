//! Joining a department by invitation, never by proximity (issue 14). A new home with an
//! identity neither serves nor dials, and adopts no network a peer or a bundle shows it,
//! until it holds an invitation an admin signed for its key (or, for an auditor, a network
//! named on the command line); then it takes that network only. Tried as a stranger on the
//! LAN who founds its own network, as a forger, and with an expired invitation (the clock
//! shifted with `faketime`).

use std::process::Command;

use serde_json::Value;

use crate::common::{bin, Home, Run};

/// The stable code of a failed command's error (`--json`: `{"error": {code, …}}` on stderr).
fn code(run: &Run) -> String {
    assert_ne!(run.code, 0, "expected a failure: {}", run.stdout);
    let v: Value = serde_json::from_str(run.stderr.trim())
        .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", run.stderr));
    v["error"]["code"].as_str().unwrap_or_default().to_string()
}

fn network(h: &Home) -> Value {
    h.ok(&["whoami"])["network"].clone()
}

/// `bundle import` with nothing named: what a home does with a bundle it was handed.
fn import_as_is(h: &Home, bytes: &[u8]) -> Run {
    let file = h.dir.with_extension("handed.bundle");
    std::fs::write(&file, bytes).unwrap();
    h.run(&["bundle", "import", file.to_str().unwrap()])
}

fn invitation(admin: &Home, key: &str, extra: &[&str]) -> String {
    let mut args = vec!["roster", "invite", "--key", key];
    args.extend(extra);
    admin.ok(&args)["invitation"].as_str().unwrap().to_string()
}

#[test]
fn a_home_that_has_not_joined_neither_serves_nor_adopts_a_strangers_network() {
    let (dept, _) = Home::demo();
    let serving_dept = crate::sync::serve_for_tests(&dept);
    // A stranger on the LAN founds a network of their own and serves it.
    let stranger = crate::common::founder("Dr Mallory");
    let serving_stranger = crate::sync::serve_for_tests(&stranger);

    let newcomer = Home::new();
    let key = newcomer.ok(&["init", "--name", "Dr New", "--role", "radiologist"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(newcomer.ok(&["whoami"])["joined"], false);
    // Not joined: it does not listen, and does not dial anyone.
    let served = newcomer.run(&["serve", "--listen", "/ip4/127.0.0.1/tcp/0"]);
    assert_eq!(code(&served), "not_joined", "{}", served.stderr);
    let dialled = newcomer.run(&["sync", "--peer", &serving_stranger.1, "--once"]);
    assert_eq!(code(&dialled), "not_joined");
    // Nor does it take a network from a bundle it was handed.
    let handed = import_as_is(&newcomer, &stranger.bundle(None));
    assert_eq!(code(&handed), "not_joined");
    assert_eq!(network(&newcomer), Value::Null);

    // An admin of the real department invites its key; it joins.
    dept.ok(&[
        "roster",
        "add",
        "--key",
        &key,
        "--name",
        "Dr New",
        "--role",
        "radiologist",
    ]);
    let text = invitation(&dept, &key, &["--peer", &serving_dept.1]);
    assert!(
        text.starts_with("countersign-invite:") && text.len() < 600,
        "{text}"
    );
    let joined = newcomer.ok(&["join", &text]);
    let dept_network = dept.ok(&["whoami"])["network"].clone();
    assert_eq!(joined["network"], dept_network);
    assert_eq!(newcomer.ok(&["whoami"])["joined"], true);
    // The stranger's network is refused, by sync and by bundle alike.
    let dialled = newcomer.run(&["sync", "--peer", &serving_stranger.1, "--once"]);
    assert_ne!(dialled.code, 0, "{}", dialled.stdout);
    assert_eq!(network(&newcomer), Value::Null);
    let handed = import_as_is(&newcomer, &stranger.bundle(None));
    assert_eq!(code(&handed), "untrusted_network", "{}", handed.stderr);
    assert_eq!(network(&newcomer), Value::Null);
    // The department's peer, remembered from the invitation: `sync` with no --peer dials it.
    newcomer.ok(&["sync", "--once"]);
    assert_eq!(network(&newcomer), dept_network);
    assert!(!newcomer
        .ok(&["report", "list"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[test]
fn forged_expired_and_misaddressed_invitations_are_refused_and_change_nothing() {
    let (dept, _) = Home::demo();
    let newcomer = Home::new();
    let key = newcomer.ok(&["init", "--name", "Dr New", "--role", "radiologist"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    let text = invitation(&dept, &key, &["--days", "1"]);
    let anchor = || {
        newcomer
            .db()
            .query_row(
                "SELECT COUNT(*) FROM meta WHERE key LIKE 'trust.%'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
    };
    // One character changed anywhere in the signed part: forged.
    let mut forged: Vec<char> = text.chars().collect();
    let at = forged.len() - 100;
    forged[at] = if forged[at] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    let refused = newcomer.run(&["join", &forged]);
    assert!(
        ["invitation_forged", "invitation_malformed"].contains(&code(&refused).as_str()),
        "{}",
        refused.stderr
    );
    assert_eq!(
        code(&newcomer.run(&["join", "hello"])),
        "invitation_malformed"
    );
    // An invitation made for another key.
    let other = invitation(&dept, &dept.key(), &[]);
    assert_eq!(code(&newcomer.run(&["join", &other])), "invitation_refused");
    // Two days on, a one-day invitation has expired.
    let late: Run = Command::new("faketime")
        .args(["-f", "+2d"])
        .arg(bin())
        .arg("--home")
        .arg(&newcomer.dir)
        .arg("--json")
        .args(["join", &text])
        .env_remove("COUNTERSIGN_HOME")
        .output()
        .expect("faketime (Debian's faketime package; make test installs it)")
        .into();
    assert_eq!(code(&late), "invitation_refused", "{}", late.stderr);
    assert!(late.stderr.contains("expired"), "{}", late.stderr);
    // Dates no admin's invitation has: ten years long, or issued tomorrow (signed by the
    // department's own admin key, so only the dates are wrong).
    let admin_key = dept.key();
    let admin = dept.secret(&admin_key);
    let now = crate::common::now_ms();
    let day = 24 * 3_600_000;
    let network: countersign_ledger::NetworkId = dept.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for (issued, expires) in [(now, now + 3650 * day), (now + day, now + 2 * day)] {
        let odd = countersign_ledger::invitation::Invitation {
            network,
            founder: admin_key.parse().unwrap(),
            invitee: key.parse().unwrap(),
            issued_ms: issued,
            expires_ms: expires,
            peers: vec![],
        }
        .sign(&admin);
        let refused = newcomer.run(&["join", &odd]);
        assert_eq!(code(&refused), "invitation_refused", "{}", refused.stderr);
    }
    assert_eq!(anchor(), 0, "a refused invitation leaves no trust behind");
    // Only an admin invites.
    let (member, _) = crate::common::added(&dept, "Dr M", "radiologist");
    member.join(&dept);
    member.import(&dept.bundle(None));
    let not_admin = member.run(&["roster", "invite", "--key", &key]);
    assert_eq!(code(&not_admin), "invitation_refused");
    // The real one still works.
    newcomer.ok(&["join", &text]);
    assert_eq!(anchor(), 3);
}

/// An invitation signed by a member who is not an admin is taken at `join` (the newcomer cannot
/// know yet), and it brings the right network only; but once the roster arrives, `verify` says
/// who signed it and that they are no admin. One an admin signed says nothing.
#[test]
fn verify_holds_the_invitations_signer_to_the_roster_once_it_arrives() {
    let (dept, _) = Home::demo();
    let (member, member_key) = crate::common::added(&dept, "Dr M", "radiologist");
    let network: countersign_ledger::NetworkId = network(&dept).as_str().unwrap().parse().unwrap();
    let now = crate::common::now_ms();
    for (signer, by_admin) in [(None, true), (Some(&member_key), false)] {
        let newcomer = Home::new();
        let key = newcomer.key_of_new_member();
        let text = match signer {
            None => invitation(&dept, &key, &[]),
            Some(member_key) => countersign_ledger::invitation::Invitation {
                network,
                founder: dept.key().parse().unwrap(),
                invitee: key.parse().unwrap(),
                issued_ms: now,
                expires_ms: now + 3_600_000,
                peers: vec![],
            }
            .sign(&member.secret(member_key)),
        };
        newcomer.ok(&["join", &text]);
        assert_eq!(newcomer.import(&dept.bundle(None)).code, 0);
        let verified = newcomer.run(&["verify"]);
        let problems = verified.json()["problems"].clone();
        let flagged: Vec<&Value> = problems
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["code"] == "inviter_not_admin")
            .collect();
        if by_admin {
            assert_eq!(verified.code, 0, "{problems}");
        } else {
            assert_eq!(verified.code, 1, "{problems}");
            assert_eq!(flagged.len(), 1, "{problems}");
            assert!(flagged[0]["problem"]
                .as_str()
                .unwrap()
                .contains(member_key.as_str()));
        }
    }
}

#[test]
fn an_auditor_names_the_network_a_bundle_must_be_of() {
    let (dept, _) = Home::demo();
    let stranger = crate::common::founder("Dr Mallory");
    let auditor = Home::new();
    // An identity of its own: the bundle's data keys are stored sealed under its key.
    auditor.key_of_new_member();
    let bundle = dept.bundle(None);
    let file = auditor.dir.with_extension("audit.bundle");
    std::fs::write(&file, &bundle).unwrap();
    let path = file.to_str().unwrap();
    assert_eq!(
        code(&auditor.run(&["bundle", "import", path])),
        "not_joined"
    );
    let dept_network = dept.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string();
    let stranger_network = stranger.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string();
    // A wholly forged department does not "verify" by being imported first, and a refused
    // import leaves the home trusting nothing (so it does not count as joined).
    let wrong = auditor.run(&["bundle", "import", path, "--network", &stranger_network]);
    assert_eq!(code(&wrong), "untrusted_network", "{}", wrong.stderr);
    assert!(
        !auditor.joined(),
        "a refused import leaves no anchor behind"
    );
    let wrong_founder = auditor.run(&[
        "bundle",
        "import",
        path,
        "--network",
        &dept_network,
        "--trust-founder",
        &stranger.key(),
    ]);
    assert_eq!(code(&wrong_founder), "untrusted_network");
    let imported = auditor.ok(&["bundle", "import", path, "--network", &dept_network]);
    assert!(imported["new"].as_u64().unwrap() > 10, "{imported}");
    assert_eq!(auditor.run(&["verify"]).json()["ok"], true);
}

#[test]
fn every_file_and_folder_a_home_creates_is_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    // A home folder made by someone else with the usual modes is narrowed on first open.
    let (dept, report) = Home::demo();
    std::fs::set_permissions(&dept.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dept.ok(&["report", "show", &report]);
    // Work that writes: an import of images, a signed section, a bundle and a PDF export.
    let corpus = countersign_testkit::corpus_dir();
    dept.ok(&["import", corpus.to_str().unwrap()]);
    let study = dept.ok(&["studies"])[0]["study"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = dept.new_report(&study, "ct-chest");
    dept.write(&draft, "findings", "No change.").ok();
    dept.ok(&[
        "bundle",
        "export",
        "-o",
        dept.dir.join("all.bundle").to_str().unwrap(),
    ]);
    let mut checked = 0;
    let mut stack = vec![dept.dir.clone()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
        checked += 1;
        if meta.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(e.unwrap().path());
            }
        }
    }
    assert!(
        dept.dir.join("ledger.sqlite3-wal").exists() || checked > 10,
        "the walk saw the home's files ({checked})"
    );
}
