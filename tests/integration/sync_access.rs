//! Who is sent what, and whom a node dials: an AI model's node gets only the reports it was
//! granted (and nothing after a revocation); a home's remembered peers are dialled by every
//! node it runs; a change no announcement reported still arrives at the next reconcile.
//! Separate `serve` processes on loopback, as in `sync`, or nodes in this process where the
//! test needs their configuration.

use crate::common::Home;
use crate::sync::{member, serve, state, until};

/// The reports whose data keys a home holds (hex), sorted.
fn keys_held(h: &Home) -> Vec<String> {
    let db = h.db();
    let mut stmt = db
        .prepare("SELECT log FROM report_keys ORDER BY log")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|l| hex::encode(l.unwrap()))
        .collect()
}

#[test]
fn an_ai_model_node_is_sent_only_the_reports_it_was_granted() {
    let (a, report) = Home::demo();
    let study = a.ok(&["studies"])[0]["study"].as_str().unwrap().to_string();
    let other = a.new_report(&study, "ct-chest");
    let serving = serve(&a, &[]);
    let model = Home::new();
    let model_member = crate::common::AI_MEMBER;
    let key = model.ok(&[&["init"][..], &model_member].concat())["key"]
        .as_str()
        .unwrap()
        .to_string();
    a.ok(&[&["roster", "add", "--key", &key][..], &model_member].concat());
    model.join(&a);
    let reports = |h: &Home| -> Vec<String> {
        h.ok(&["report", "list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["report"].as_str().unwrap().to_string())
            .collect()
    };
    // Nothing granted: the model's node gets the roster and no report.
    model.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert!(reports(&model).is_empty(), "{:?}", reports(&model));
    assert!(keys_held(&model).is_empty(), "no key without its report");
    // Granted one report: it gets that one, not the other.
    a.ok(&["report", "grant", &report, "--member", &key]);
    model.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert_eq!(reports(&model), vec![report.clone()]);
    // The key came beside the payloads — the other report's did not — and opens them.
    assert_eq!(keys_held(&model), vec![report.clone()]);
    let shown = model.ok(&["report", "show", &report]);
    assert!(shown.get("unreadable").is_none(), "{shown}");
    assert!(shown["sections"][0]["text"].is_string(), "{shown}");
    // A person gets every report.
    let bea = member(&a, "Dr Bea", "radiologist");
    bea.ok(&["sync", "--peer", &serving.addr, "--once"]);
    let mut both = vec![report.clone(), other];
    both.sort();
    let mut got = reports(&bea);
    got.sort();
    assert_eq!(got, both);
    assert_eq!(keys_held(&bea), both, "a person gets every report's key");
    // Revoked: what is written afterwards no longer reaches the model.
    a.ok(&["report", "grant", &report, "--member", &key, "--revoke"]);
    let later = a.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "after revocation",
        "--due",
        "2027-01-01",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    model.ok(&["sync", "--peer", &serving.addr, "--once"]);
    let seen = model.ok(&["report", "show", &report]);
    assert!(
        !seen["provenance"].to_string().contains(&later),
        "the model was sent an entry written after its access was revoked"
    );
}

#[test]
fn a_peer_a_home_remembers_is_dialled_by_every_node_it_runs() {
    let (a, report) = Home::demo();
    let serving_a = serve(&a, &[]);
    let b = member(&a, "Dr Bea", "radiologist");
    // An address without a peer id is refused in words; a full one is kept once.
    let bare = b.run(&["peer", "add", "/ip4/127.0.0.1/tcp/1"]);
    assert_eq!(bare.code, 2);
    assert!(bare.stderr.contains("append /p2p/"), "{}", bare.stderr);
    b.ok(&["peer", "add", &serving_a.addr]);
    let listed = b.ok(&["peer", "add", &serving_a.addr]);
    assert_eq!(listed, serde_json::json!([serving_a.addr]));
    // `serve` with no --peer dials it and pulls the department's reports.
    let _serving_b = serve(&b, &[]);
    until("B holding A's report", || {
        b.run(&["report", "show", &report]).code == 0
    });
    assert_eq!(state(&b, &report), state(&a, &report));
}

#[test]
fn a_change_no_announcement_reported_reaches_a_peer_at_the_next_reconcile() {
    use countersign_app::sync::HomeLedger;
    use countersign_sync::{keypair, Command, Config};
    use std::time::Duration;
    use tokio::sync::{mpsc, oneshot};

    let (a, report) = Home::demo();
    let b = member(&a, "Dr Bea", "radiologist");
    let seed = |h: &Home| -> [u8; 32] { *h.secret(&h.key()).to_seed() };
    // Two nodes in this process that never announce; both reconcile every 200 ms.
    let config = |peers: Vec<countersign_sync::Multiaddr>| Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        peers,
        announce_every: Duration::from_secs(3600),
        reconcile_every: Duration::from_millis(200),
        ..Config::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let (addr_tx, mut addr_rx) = mpsc::channel(4);
    let (node_a, _keep_a) = countersign_sync::start(
        keypair(&seed(&a)),
        HomeLedger::new(a.app()).unwrap(),
        config(vec![]),
    )
    .unwrap();
    let a_id = node_a.local_peer_id();
    rt.spawn(node_a.run(move |addr| {
        let _ = addr_tx.try_send(format!("{addr}/p2p/{a_id}"));
    }));
    let a_addr = rt.block_on(addr_rx.recv()).unwrap();
    let (node_b, commands) = countersign_sync::start(
        keypair(&seed(&b)),
        HomeLedger::new(b.app()).unwrap(),
        config(vec![a_addr.parse().unwrap()]),
    )
    .unwrap();
    rt.spawn(node_b.run(|_| {}));
    let synced = || {
        rt.block_on(async {
            let (reply, answer) = oneshot::channel();
            commands.send(Command::Status { reply }).await.unwrap();
            answer.await.unwrap().last_sync_ms
        })
    };
    // B caught up on connecting; then A signs, and no announcement tells B.
    until("B's first pull from A", || synced().is_some());
    assert_eq!(b.run(&["report", "show", &report]).code, 0);
    let first = synced();
    let followup = a.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "told nobody",
        "--due",
        "2027-01-01",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    until("the follow-up on B by reconciliation", || {
        state(&b, &report).1.iter().any(|e| e == followup.as_str())
    });
    assert_ne!(synced(), first, "a later pull brought it");
    rt.shutdown_background();
}
