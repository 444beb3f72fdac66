//! Who is sent what, and whom a node dials: an AI model's node gets only the reports it was
//! granted (and nothing after a revocation); a home's remembered peers are dialled by every
//! node it runs. Separate `serve` processes on loopback, as in `sync`.

use crate::common::Home;
use crate::sync::{member, serve, state, until};

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
    // Granted one report: it gets that one, not the other.
    a.ok(&["report", "grant", &report, "--member", &key]);
    model.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert_eq!(reports(&model), vec![report.clone()]);
    // A person gets every report.
    let bea = member(&a, "Dr Bea", "radiologist");
    bea.ok(&["sync", "--peer", &serving.addr, "--once"]);
    let mut both = vec![report.clone(), other];
    both.sort();
    let mut got = reports(&bea);
    got.sort();
    assert_eq!(got, both);
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
