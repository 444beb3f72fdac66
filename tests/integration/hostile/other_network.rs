//! Another department's entries served to a home that joined but holds no network yet.

use countersign_ledger::bundle;
use countersign_ledger::Hash;

use super::peer::{connect_as, Attack, Hostile};
use super::{network_of, quarantine_count};
use crate::common::Home;

#[test]
fn a_home_that_joined_but_holds_no_network_keeps_nothing_of_another_and_cuts_off_its_genesis() {
    let (dept, _) = Home::demo();
    let anchor = network_of(&dept);
    let (newcomer, _) = crate::common::added(&dept, "Dr New", "radiologist");
    newcomer.join(&dept);
    // Joined, it runs a node (as the desktop would) before any of its network has arrived.
    let serving = crate::sync::serve_for_tests(&newcomer);
    // Another department's entries, served by a peer that answers requests naming ours.
    let (other, _) = Home::demo();
    let bytes = other.bundle(None);
    let records = bundle::frame(&bytes).unwrap();
    let genesis_id = network_of(&other);
    let without_genesis = bundle::encode_records(
        &records
            .iter()
            .filter(|r| Hash::of(r.header) != genesis_id)
            .map(|r| bundle::BundleRecord {
                header: r.header.to_vec(),
                signature: *r.signature,
                payload: r.payload.map(<[u8]>::to_vec),
            })
            .collect::<Vec<_>>(),
    );
    let stranger = countersign_ledger::SecretKey::from_seed(&[0x71; 32]);
    let peer = countersign_sync::peer_id(&stranger.public()).to_string();
    let state = |column: &str| -> Option<String> {
        newcomer
            .db()
            .query_row(
                &format!("SELECT CAST({column} AS TEXT) FROM peer_state WHERE peer = ?1"),
                [&peer],
                |r| r.get(0),
            )
            .ok()
            .flatten()
    };
    // 1. Without their genesis: the entries wait for a network this home does not hold, and
    // are dropped when the pull ends, not kept in the quarantine.
    let hostile = Hostile::new(
        anchor,
        Hash([0x42; 32]),
        stranger.public(),
        Attack::OtherNetwork(without_genesis),
    );
    connect_as(*stranger.to_seed(), hostile, &serving.1, || {
        state("last_reconcile_ms").is_some()
    });
    assert_eq!(
        quarantine_count(&newcomer),
        0,
        "nothing of another network is kept"
    );
    assert_eq!(newcomer.ok(&["whoami"])["network"], serde_json::Value::Null);
    // 2. With their genesis: proof the peer ignored the network we asked for — cut off.
    let hostile = Hostile::new(
        anchor,
        Hash([0x42; 32]),
        stranger.public(),
        Attack::OtherNetwork(bytes.clone()),
    );
    connect_as(*stranger.to_seed(), hostile, &serving.1, || {
        state("cut_off_reason").is_some()
    });
    let why = state("cut_off_reason").unwrap();
    assert!(
        why.contains("untrusted") || why.contains("not the network"),
        "{why}"
    );
    assert_eq!(newcomer.ok(&["whoami"])["network"], serde_json::Value::Null);
    assert_eq!(quarantine_count(&newcomer), 0);
}
