//! A peer that signs checkpoints it does not honour (heads it never serves, heads that take
//! back what it signed before): cut off, and the pair kept and passed on as evidence.

use countersign_ledger::{EntryId, Hash, LogId, PublicKey};

use super::network_of;
use super::peer::{connect_as, Attack, Hostile};
use crate::common::{now_ms, Home};

#[test]
fn a_peer_that_signs_heads_it_does_not_serve_or_takes_back_is_caught_in_a_split_view() {
    use countersign_ledger::checkpoint::Checkpoint;
    let (a, report) = Home::demo();
    let serving = crate::sync::serve_for_tests(&a);
    let network = network_of(&a);
    let log: LogId = report.parse().unwrap();
    let head = crate::common::ids(&a.ok(&["report", "show", &report])["heads"])[0];
    let parent = a.db().query_row(
        "SELECT header FROM entries WHERE id = ?1",
        [head.as_bytes().as_slice()],
        |r| r.get::<_, Vec<u8>>(0),
    );
    let parent = countersign_ledger::header::decode(&parent.unwrap())
        .unwrap()
        .parents[0];
    let member = |name: &str| {
        let m = crate::sync::member_for_tests(&a, name, "radiologist");
        let k = m.key();
        let secret = m.secret(&k);
        (k.parse::<PublicKey>().unwrap(), secret)
    };
    let claiming = |key: PublicKey, secret: &countersign_ledger::SecretKey, heads: Vec<EntryId>| {
        let signed = Checkpoint::new(network, log, key, now_ms(), 1, heads.clone())
            .unwrap()
            .sign(secret);
        let mut h = Hostile::new(network, log, key, Attack::Withhold);
        h.claim = Some((heads, signed.bytes().to_vec()));
        // Announcing the log makes the node pull it by summary, where claims are signed.
        h.announce = true;
        h
    };
    let cut_off_for = |k: &PublicKey| -> Option<String> {
        let peer = countersign_sync::peer_id(k).to_string();
        a.db()
            .query_row(
                "SELECT cut_off_reason FROM peer_state WHERE peer = ?1",
                [peer],
                |r| r.get(0),
            )
            .ok()
            .flatten()
    };
    let split_views = || -> i64 {
        a.db()
            .query_row("SELECT COUNT(*) FROM split_views", [], |r| r.get(0))
            .unwrap()
    };
    let seed = |s: &countersign_ledger::SecretKey| -> [u8; 32] { *s.to_seed() };

    // 1. Signs that the log has a head it then does not serve.
    let (k, s) = member("Mallory withholding");
    connect_as(
        seed(&s),
        claiming(k, &s, vec![Hash([7; 32])]),
        &serving.1,
        || cut_off_for(&k).is_some(),
    );
    let why = cut_off_for(&k).unwrap();
    assert!(
        why.contains("split view") && why.contains("did not serve"),
        "{why}"
    );
    assert_eq!(split_views(), 1);

    // 2. Signs the node's real head (accepted and kept), then later signs heads that do not
    // descend from it: its view went back, as if it had shown another history elsewhere.
    let (k, s) = member("Mallory rewinding");
    let signer = k;
    connect_as(seed(&s), claiming(k, &s, vec![head]), &serving.1, || {
        a.db()
            .query_row(
                "SELECT COUNT(*) FROM checkpoints WHERE signer = ?1",
                [signer.as_bytes().as_slice()],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            == 1
    });
    assert_eq!(
        cut_off_for(&k),
        None,
        "an honest claim is not held against it"
    );
    connect_as(seed(&s), claiming(k, &s, vec![parent]), &serving.1, || {
        cut_off_for(&k).is_some()
    });
    let why = cut_off_for(&k).unwrap();
    assert!(why.contains("does not descend"), "{why}");

    // Both are kept as evidence whose signatures check out, and verify lists them.
    let v = a.run(&["verify"]).json();
    assert_eq!(v["split_views"], 2, "{v}");
    assert_eq!(v["ok"], false);
    let problems = v["problems"].to_string();
    assert!(
        problems.contains(&format!("split view by {k}")),
        "{problems}"
    );
    let kept: i64 = a
        .db()
        .query_row(
            "SELECT COUNT(*) FROM split_views WHERE earlier IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1, "the rewind keeps both checkpoints");

    // The pair travels: a member who syncs once with A receives it, judges it against the
    // entries it holds by the same rule, and names the key in `verify` and the provenance.
    // (The claim of a head never served stays with A: only the peer it was given to can
    // judge it.)
    let bea = crate::sync::member_for_tests(&a, "Dr Bea", "radiologist");
    bea.ok(&["sync", "--peer", &serving.1, "--once"]);
    let v = bea.run(&["verify"]).json();
    assert_eq!(v["split_views"], 1, "{v}");
    assert!(
        v["problems"]
            .to_string()
            .contains(&format!("split view by {k}")),
        "{v}"
    );
    let shown = bea.ok(&["report", "show", &report]);
    let named = &shown["split_views"][0]["signer"];
    assert_eq!(named["key"], k.to_string(), "{shown}");
    assert_eq!(named["name"], "Mallory rewinding", "{shown}");
    // Another round brings nothing twice.
    bea.ok(&["sync", "--peer", &serving.1, "--once"]);
    assert_eq!(bea.run(&["verify"]).json()["split_views"], 1);
}
