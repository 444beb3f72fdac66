//! Peer sync between separate `countersign serve` processes over loopback: homes join by
//! syncing from a peer, converge, pick up writes other processes make while serving, and
//! refuse peers that are not on the roster or that send forged entries.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Home;

/// A `serve` process, killed when dropped.
pub(crate) struct Serving {
    child: Child,
    pub(crate) addr: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `countersign serve` on loopback and waits for its first line: {"peer", "listen"}.
pub(crate) fn serve(home: &Home, peers: &[&str]) -> Serving {
    let mut cmd = home.command();
    cmd.args(["--json", "serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .env_remove("COUNTERSIGN_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for p in peers {
        cmd.args(["--peer", p]);
    }
    let mut child = cmd.spawn().expect("spawn serve");
    let first = listening(&mut child);
    let addr = first["listen"][0].as_str().unwrap().to_string();
    assert!(addr.ends_with(&format!("/p2p/{}", first["peer"].as_str().unwrap())));
    Serving { child, addr }
}

/// The first line a `--json serve` child prints on its piped stdout, once it listens:
/// `{"peer", "listen"}`.
pub(crate) fn listening(child: &mut Child) -> Value {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

/// Polls `probe` until it holds (sync is asynchronous; no fixed sleeps), failing after 30 s.
pub(crate) fn until(what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !probe() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A new member's home: a key the admin adds to the roster.
pub(crate) fn member(admin: &Home, name: &str, role: &str) -> Home {
    let h = Home::new();
    let key = h.ok(&["init", "--name", name, "--role", role])["key"]
        .as_str()
        .unwrap()
        .to_string();
    admin.ok(&[
        "roster", "add", "--key", &key, "--name", name, "--role", role,
    ]);
    h.join(admin);
    h
}

/// What must be identical on every converged peer: heads and the projection's text and order.
pub(crate) fn state(home: &Home, report: &str) -> (Value, Vec<Value>) {
    let view = home.ok(&["report", "show", report]);
    let order = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["entry"].clone())
        .collect();
    (view["heads"].clone(), order)
}

#[test]
fn three_peers_converge_and_pick_up_writes_made_while_serving() {
    let (a, report) = Home::demo();
    let b = member(&a, "Dr Bea", "cardiologist");
    let c = member(&a, "Dr Cy", "radiologist");
    let serving_a = serve(&a, &[]);

    // A new member's home joins by syncing once from a peer: it takes the roster and reports.
    let joined = b.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    assert!(joined["received"].as_u64().unwrap() >= 19, "{joined}");
    assert_eq!(joined["sent"], 0);
    c.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    assert_eq!(state(&b, &report), state(&a, &report));

    let serving_b = serve(&b, &[&serving_a.addr]);
    let _serving_c = serve(&c, &[&serving_a.addr, &serving_b.addr]);

    // Concurrent edits on two homes while every node serves: each CLI write is a separate
    // process the serving node notices and announces.
    let from_a = a.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "A: clinic",
        "--due",
        "2027-01-01",
    ]);
    let from_c = c.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "C: echo",
        "--due",
        "2027-02-01",
    ]);
    for (home, name) in [(&a, "A"), (&b, "B"), (&c, "C")] {
        until(&format!("both follow-ups on {name}"), || {
            let open = home.ok(&["followups"]);
            let ids: Vec<&Value> = open
                .as_array()
                .unwrap()
                .iter()
                .map(|f| &f["followup"])
                .collect();
            ids.contains(&&from_a["entry"]) && ids.contains(&&from_c["entry"])
        });
    }
    let reference = state(&a, &report);
    assert_eq!(state(&b, &report), reference, "B differs from A");
    assert_eq!(state(&c, &report), reference, "C differs from A");
    for home in [&a, &b, &c] {
        let v = home.ok(&["verify"]);
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["split_views"], 0, "{v}");
        // Every pull held the peer to its signed checkpoints, and kept them.
        let kept: i64 = home
            .db()
            .query_row("SELECT COUNT(DISTINCT signer) FROM checkpoints", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(kept >= 1, "no checkpoint kept");
    }

    // Kill B and restart it: it catches up with what it missed from C through A.
    drop(serving_b);
    let late = c.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "C: while B was down",
        "--due",
        "2027-03-01",
    ]);
    let _serving_b = serve(&b, &[&serving_a.addr]);
    until("B catches up after its restart", || {
        b.ok(&["followups"])
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["followup"] == late["entry"])
    });
}

#[test]
fn a_key_not_on_the_roster_gets_nothing() {
    let (a, _) = Home::demo();
    let serving = serve(&a, &[]);
    let stranger = Home::new();
    stranger.ok(&["init", "--name", "Mallory", "--role", "attending"]);
    let before = a.count();
    // Not joined, it does not even dial.
    let run = stranger.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "20"]);
    assert!(run.stderr.contains("not_joined"), "{}", run.stderr);
    // With an invitation it signed itself (it knows the department's network id), it dials,
    // and the department's node still gives a key not on its roster nothing.
    let key = stranger.key();
    let now = crate::common::now_ms();
    let own = countersign_ledger::invitation::Invitation {
        network: a.ok(&["whoami"])["network"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
        founder: a.key().parse().unwrap(),
        invitee: key.parse().unwrap(),
        issued_ms: now,
        expires_ms: now + 3_600_000,
        peers: vec![],
    }
    .sign(&stranger.secret(&key));
    stranger.ok(&["join", &own]);
    let run = stranger.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "20"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("not a member"), "{}", run.stderr);
    assert_eq!(a.count(), before);
    assert_eq!(
        stranger.ok(&["report", "list"]).as_array().unwrap().len(),
        0
    );
}

#[test]
fn a_member_sending_a_forged_entry_is_cut_off_and_nothing_is_stored() {
    let (a, report) = Home::demo();
    let serving = serve(&a, &[]);
    let m = member(&a, "Dr Mal", "radiologist");
    m.ok(&["sync", "--peer", &serving.addr, "--once"]);
    let entry = m.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "forged",
        "--due",
        "2027-01-01",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    // The member's own store now holds a signature that does not verify.
    let id = countersign_ledger::Hash::from_hex(&entry).unwrap();
    m.db()
        .execute(
            "UPDATE entries SET signature = zeroblob(64) WHERE id = ?1",
            [id.as_bytes().as_slice()],
        )
        .unwrap();
    let before = a.count();
    let run = m.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "20"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("cut off") || run.stderr.contains("refused"),
        "{}",
        run.stderr
    );
    assert_eq!(a.count(), before, "a forged entry was stored");
    assert_eq!(a.ok(&["verify"])["ok"], true);
    // Cut off: the same peer is not served again by this node.
    let again = m.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "20"]);
    assert_eq!(again.code, 2);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_key_used_from_two_homes_is_caught_in_one_round_and_the_evidence_reaches_every_peer() {
    let (a, report) = Home::demo();
    let serving_a = serve(&a, &[]);
    let b = member(&a, "Dr Bea", "cardiologist");
    b.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    let _serving_b = serve(&b, &[&serving_a.addr]);
    let m = member(&a, "Dr Twin", "radiologist");
    m.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    // The same key on a second machine: a copy of the home signs its own next entry.
    let twin = Home::new();
    copy_dir(&m.dir, &twin.dir);
    std::fs::copy(&m.passphrase_file, &twin.passphrase_file).unwrap();
    let one = m.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "from the laptop",
        "--due",
        "2027-01-01",
    ]);
    let two = twin.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "from the desktop",
        "--due",
        "2027-01-02",
    ]);
    assert_ne!(one["entry"], two["entry"]);
    m.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    // One round with the twin: the node sees a head it lacks at an equal version vector,
    // fetches the log whole and keeps the second entry as evidence.
    twin.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    let verified = a.run(&["verify"]);
    assert_eq!(verified.json()["forks"], 1, "{}", verified.stdout);
    // The evidence travels: B, connected to A, learns of the equivocation too.
    until("the fork evidence on B", || {
        b.run(&["verify"]).json()["forks"] == 1
    });
    // `verify` exits 1 while it holds fork evidence: a problem to show, not to hide.
    let entries = |h: &Home| {
        let v = h.run(&["verify"]);
        assert_eq!(v.code, 1, "{}", v.stdout);
        v.json()["entries"].as_u64().unwrap()
    };
    let before = entries(&a);
    // Frozen: the equivocating key's further entries count for nothing anywhere. They are
    // kept (refused, with the rule's code), so every peer judges the same set of entries.
    let after_fork = m.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "after the fork",
        "--due",
        "2027-01-03",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let after = m.run(&[
        "sync",
        "--peer",
        &serving_a.addr,
        "--once",
        "--timeout",
        "20",
    ]);
    assert!(entries(&a) > before, "{}", after.stderr);
    let view = a.ok(&["report", "show", &report]);
    let shown = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["entry"] == after_fork.as_str())
        .unwrap_or_else(|| panic!("{after_fork} not stored: {}", after.stderr))
        .clone();
    assert_eq!(shown["status"]["state"], "refused", "{shown}");
    assert_eq!(shown["status"]["code"], "frozen", "{shown}");
    assert!(view["followups"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["finding"] != "after the fork"));
}

#[test]
fn a_revocation_travels_like_any_entry_and_the_revoked_key_is_refused_everywhere() {
    let (a, report) = Home::demo();
    let serving_a = serve(&a, &[]);
    let b = member(&a, "Dr Bea", "cardiologist");
    let c = member(&a, "Dr Cy", "radiologist");
    for h in [&b, &c] {
        h.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    }
    let serving_b = serve(&b, &[&serving_a.addr]);
    let c_key = c.key();
    a.ok(&[
        "roster",
        "revoke",
        "--key",
        &c_key,
        "--reason",
        "left the department",
    ]);
    // The roster entry reaches B through the serving nodes.
    until("the revocation on B", || {
        b.ok(&["roster", "list"])
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["key"] == c_key.as_str() && !m["revoked"].is_null())
    });
    // C signs after its revocation: neither node takes it, and neither serves C any more.
    c.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "after I left",
        "--due",
        "2027-01-01",
    ]);
    for node in [&serving_a, &serving_b] {
        let run = c.run(&["sync", "--peer", &node.addr, "--once", "--timeout", "20"]);
        assert_eq!(run.code, 2, "{}", run.stdout);
        assert!(run.stderr.contains("not a member"), "{}", run.stderr);
    }
    let followups = |h: &Home| h.ok(&["followups"]).as_array().unwrap().len();
    assert_eq!(followups(&a), followups(&b));
    assert!(a
        .ok(&["followups"])
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["finding"] != "after I left"));
}

#[test]
fn five_peers_with_concurrent_edits_and_kills_converge_to_one_report() {
    let (admin, _) = Home::demo();
    // A fresh draft report every member can write: residents' sections, a radiologist's, ...
    let study = admin.ok(&["studies"])[0]["study"]
        .as_str()
        .unwrap()
        .to_string();
    let report = admin.new_report(&study, "ct-chest");
    let homes: Vec<Home> = ["Dr One", "Dr Two", "Dr Three", "Dr Four"]
        .iter()
        .map(|n| member(&admin, n, "radiologist"))
        .collect();
    let first = serve(&admin, &[]);
    for h in &homes {
        h.ok(&["sync", "--peer", &first.addr, "--once"]);
    }
    let mut nodes: Vec<Option<Serving>> = vec![Some(first)];
    for h in &homes {
        let peers: Vec<String> = nodes.iter().flatten().map(|n| n.addr.clone()).collect();
        let peers: Vec<&str> = peers.iter().map(String::as_str).collect();
        nodes.push(Some(serve(h, &peers)));
    }
    let all: Vec<&Home> = std::iter::once(&admin).chain(homes.iter()).collect();
    // Rounds of concurrent writes to the same sections from every home, with one node killed
    // and restarted each round (a fixed pseudo-random order, so a failure replays).
    let mut seed: u64 = 0x5eed;
    for round in 0..3 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let victim = 1 + (seed >> 33) as usize % homes.len();
        nodes[victim] = None;
        let writers: Vec<std::thread::JoinHandle<()>> = all
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let mut cmd = h.command();
                let report = report.clone();
                std::thread::spawn(move || {
                    let out = cmd
                        .args([
                            "report",
                            "write",
                            &report,
                            "--section",
                            "findings",
                            "--text",
                        ])
                        .arg(format!("round {round} by home {i}"))
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let hub = nodes[0].as_ref().unwrap().addr.clone();
        nodes[victim] = Some(serve(all[victim], &[&hub]));
    }
    let writes = 3 * all.len();
    until("every write on every peer", || {
        all.iter().all(|h| {
            let v = h.ok(&["report", "show", &report]);
            v["provenance"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["kind"] == "section.write")
                .count()
                == writes
        })
    });
    let reference = state(&admin, &report);
    for (i, h) in homes.iter().enumerate() {
        assert_eq!(state(h, &report), reference, "home {} differs", i + 1);
        assert_eq!(h.ok(&["verify"])["ok"], true);
    }
}

/// For other test modules: a serving node on `home` (kept alive by the returned guard) and its address.
pub struct ServingGuard(#[allow(dead_code)] Serving);

impl ServingGuard {
    /// The serve process's peak resident memory so far, in KiB (VmHWM).
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.0.child.id()))
            .expect("serve process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM")
    }
}

pub fn serve_for_tests(home: &Home) -> (ServingGuard, String) {
    let s = serve(home, &[]);
    let addr = s.addr.clone();
    (ServingGuard(s), addr)
}

pub fn member_for_tests(admin: &Home, name: &str, role: &str) -> Home {
    member(admin, name, role)
}

#[test]
fn two_partitions_write_apart_and_converge_when_healed() {
    let (a, _) = Home::demo();
    let study = a.ok(&["studies"])[0]["study"].as_str().unwrap().to_string();
    let draft = a.new_report(&study, "ct-chest");
    let b = member(&a, "Dr Bea", "radiologist");
    let c = member(&a, "Dr Cy", "radiologist");
    let d = member(&a, "Dr Dee", "radiologist");
    let bootstrap = serve(&a, &[]);
    for h in [&b, &c, &d] {
        h.ok(&["sync", "--peer", &bootstrap.addr, "--once"]);
    }
    drop(bootstrap);
    // Two partitions: {A, B} and {C, D}, each connected only inside itself.
    let serving_a = serve(&a, &[]);
    let _serving_b = serve(&b, &[&serving_a.addr]);
    let serving_c = serve(&c, &[]);
    let serving_d = serve(&d, &[&serving_c.addr]);
    for (h, side) in [(&a, "AB"), (&b, "AB"), (&c, "CD"), (&d, "CD")] {
        h.ok(&[
            "report",
            "write",
            &draft,
            "--section",
            "findings",
            "--text",
            &format!("{side}: seen by {}", h.key()),
        ]);
    }
    let writes = |h: &Home| {
        h.ok(&["report", "show", &draft])["provenance"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["kind"] == "section.write")
            .count()
    };
    until("each side has its own two writes", || {
        [&a, &b, &c, &d].iter().all(|h| writes(h) == 2)
    });
    assert_ne!(
        state(&a, &draft),
        state(&c, &draft),
        "the partitions should differ before healing"
    );
    // Heal: D's node restarts with a link to each side.
    drop(serving_d);
    let _serving_d = serve(&d, &[&serving_a.addr, &serving_c.addr]);
    until("all four writes everywhere", || {
        [&a, &b, &c, &d].iter().all(|h| writes(h) == 4)
    });
    let reference = state(&a, &draft);
    for h in [&b, &c, &d] {
        assert_eq!(state(h, &draft), reference);
    }
}
