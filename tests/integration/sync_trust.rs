//! Issue 13: a peer is cut off only for what it provably did. An entry this home refuses by a
//! rule (a member it knows is revoked) is kept aside with its reason while the rest flows, and
//! a failure of this home's own store retries the pull; neither holds anything against an
//! honest peer.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::common::Home;
use crate::sync::{member, serve, until};

fn status(home: &Home) -> Value {
    home.ok(&["sync", "status"])
}

fn cut_offs(home: &Home) -> Vec<Value> {
    status(home)["peers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.get("cut_off").cloned())
        .collect()
}

#[test]
fn a_revoked_members_entry_relayed_by_an_honest_peer_is_set_aside_and_the_rest_flows() {
    let (a, report) = Home::demo();
    let serving_a = serve(&a, &[]);
    let b = member(&a, "Dr Bea", "radiologist");
    let m = member(&a, "Dr Mal", "radiologist");
    for h in [&b, &m] {
        h.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    }
    // A revokes M; B has not heard of it when M's next entry reaches it.
    let m_key = m.key();
    a.ok(&["roster", "revoke", "--key", &m_key, "--reason", "left"]);
    let serving_b = serve(&b, &[]);
    m.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "after I left",
        "--due",
        "2027-01-01",
    ]);
    m.ok(&["sync", "--peer", &serving_b.addr, "--once"]);
    // B writes on the same report and starts another one: what A must still receive.
    b.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "from B",
        "--due",
        "2027-02-01",
    ]);
    let study = b.ok(&["studies"]);
    let other = study
        .as_array()
        .and_then(|s| s.first())
        .map(|s| b.new_report(s["study"].as_str().unwrap(), "ct-chest"));
    drop(serving_b);

    // B and A sync: B is an honest member relaying what it holds.
    // (A pulls from B as soon as B connects, so what `sent` counts depends on timing.)
    b.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    // The rest of that report and the other log reached A ...
    let findings: Vec<String> = a
        .ok(&["followups"])
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["finding"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(findings.contains(&"from B".to_string()), "{findings:?}");
    assert!(
        !findings.contains(&"after I left".to_string()),
        "{findings:?}"
    );
    if let Some(other) = other {
        a.ok(&["report", "show", &other]);
    }
    // ... M's entry counts for nothing on A, and A says why: quarantined with its rule, or
    // held as refused (a revoked key's entry outside its frontier), as verify lists it.
    let quarantined = status(&a)["quarantined"].to_string();
    let verified = a.run(&["verify"]).json().to_string();
    assert!(
        quarantined.contains("revoked") || verified.contains("revoked"),
        "{quarantined}\n{verified}"
    );
    // ... and nobody was cut off for relaying it.
    assert!(cut_offs(&a).is_empty(), "{}", status(&a));
    assert!(cut_offs(&b).is_empty(), "{}", status(&b));
}

#[test]
fn a_busy_store_retries_the_pull_instead_of_cutting_the_peer_off() {
    let (a, _) = Home::demo();
    let serving_a = serve(&a, &[]);
    let c = member(&a, "Dr Cy", "radiologist");
    // Another program holds C's ledger's write lock (WAL: C can still read).
    let blocker = c.db();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let mut child = c
        .command()
        .args(["--json", "serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(["--peer", &serving_a.addr])
        .env("RUST_LOG", "countersign=info")
        .env_remove("COUNTERSIGN_HOME")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    // The store stays busy past SQLite's timeout: the pull fails here and is set to retry.
    let mut line = String::new();
    loop {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "serve ended");
        if line.contains("a pull failed here; it is retried") {
            break;
        }
    }
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(blocker);
    // Keep draining the log so the node never blocks on a full pipe.
    std::thread::spawn(move || for _ in log.lines() {});
    let total = a.count();
    until("C to retry and converge", || c.count() == total);
    assert!(cut_offs(&c).is_empty(), "{}", status(&c));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_deleted_tail_is_caught_by_a_peers_checkpoint_and_fetched_back() {
    let (a, report) = Home::demo();
    let serving_a = serve(&a, &[]);
    let b = member(&a, "Dr Bea", "radiologist");
    b.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    let serving_b = serve(&b, &[&serving_a.addr]);
    // A writes the report's last entry; B pulls it by announcement, and keeps A's signed
    // checkpoint naming it as a head.
    let before = crate::common::ids(&a.ok(&["report", "show", &report])["heads"]);
    let followup = a.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "CT in 3 months",
        "--due",
        "2027-03-01",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let f: countersign_ledger::EntryId = followup.parse().unwrap();
    let a_key: countersign_ledger::PublicKey = a.key().parse().unwrap();
    let log: countersign_ledger::LogId = report.parse().unwrap();
    until("B to keep A's checkpoint naming the follow-up", || {
        b.db()
            .query_row(
                "SELECT COUNT(*) FROM checkpoints WHERE log = ?1 AND signer = ?2 \
                 AND instr(bytes, ?3) > 0",
                rusqlite::params![
                    log.as_bytes().as_slice(),
                    a_key.as_bytes().as_slice(),
                    f.as_bytes().as_slice()
                ],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    });
    drop(serving_b);
    assert_eq!(b.run(&["verify"]).json()["ok"], true);

    // Someone with the file rolls B's copy of the report back by one entry, cleanly: the
    // entry, its head, and the heads before it as they were. The hash chain still verifies.
    let db = b.db();
    db.execute(
        "DELETE FROM entries WHERE id = ?1",
        [f.as_bytes().as_slice()],
    )
    .unwrap();
    db.execute("DELETE FROM heads WHERE id = ?1", [f.as_bytes().as_slice()])
        .unwrap();
    for h in &before {
        db.execute(
            "INSERT OR IGNORE INTO heads (log_no, id) \
             VALUES ((SELECT log_no FROM logs WHERE log = ?1), ?2)",
            [log.as_bytes().as_slice(), h.as_bytes().as_slice()],
        )
        .unwrap();
    }
    drop(db);
    let v = b.run(&["verify"]).json();
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["rolled_back"], 1, "{v}");
    let problems = v["problems"].to_string();
    assert!(problems.contains("rolled_back"), "{problems}");
    assert!(problems.contains(&a_key.to_hex()), "{problems}");

    // The next sync with a peer that still has it fetches it back.
    b.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    let v = b.run(&["verify"]).json();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["rolled_back"], 0);
}
