//! A node running under a member's delegation (a token home's) is served as that member and
//! serves as it; a delegation by a non-member, one copied onto another peer, one for another
//! network, and one to another key than the node's get nothing.

use countersign_ledger::delegation::NodeDelegation;
use countersign_ledger::Hash;

use crate::node::{self, Config, PeerEvent, SyncError};

use super::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_homes_node_is_served_as_its_member_and_serves_as_it() {
    let dept = department();
    let admin = dept.admin_node(&["the roster", "a report"]).await;
    let (_, node) = node_key(10);
    let delegation = NodeDelegation::try_sign(dept.network, &dept.token, node).unwrap();
    let token = dept
        .delegated_node(
            10,
            delegation,
            &["a section written on the token home"],
            true,
        )
        .await;

    // The token home dials the admin: it receives what the admin holds, the admin what it wrote.
    // (What the admin took may have come with the pull it started when the token home's node
    // showed its delegation, before the one its ack counts: held, not `sent`, says it arrived.)
    let report = token.sync_once(&admin).await.unwrap();
    assert_eq!(report.received, 2, "{report:?}");
    assert_eq!((admin.held(), token.held()), (3, 3));
    // The admin served the member, never the node key; it remembers and shows the member.
    let member = dept.token.public();
    assert!(!admin.served().is_empty());
    assert!(
        admin.served().iter().all(|k| *k == member),
        "{:?}",
        admin.served()
    );
    let shown = node::peer_id(&member).to_string();
    assert!(
        admin
            .remembered()
            .iter()
            .any(|(p, e)| *p == shown && matches!(e, PeerEvent::Reconciled { .. })),
        "{:?}",
        admin.remembered()
    );
    assert!(admin.status().await.peers.contains(&shown));
    // The token home's node served the admin as the admin.
    assert!(token.served().iter().all(|k| *k == dept.admin.public()));

    // A colleague dials the token home's node (it answers under its delegation): both converge.
    let colleague = dept
        .member_node(&dept.colleague, &["written elsewhere"])
        .await;
    let report = colleague.sync_once(&token).await.unwrap();
    assert_eq!(report.received, 3, "{report:?}");
    assert_eq!((colleague.held(), token.held()), (4, 4));
    assert!(colleague.served().iter().all(|k| *k == member));
    assert!(cut_offs(&admin.remembered()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_by_a_key_not_on_the_roster_gets_nothing() {
    let dept = department();
    let admin = dept.admin_node(&["the roster", "a report"]).await;
    let (_, node) = node_key(11);
    let stranger = secret(66);
    let delegation = NodeDelegation::try_sign(dept.network, &stranger, node).unwrap();
    let peer = dept.delegated_node(11, delegation, &[], true).await;

    let refused = peer.sync_once(&admin).await.unwrap_err();
    assert!(matches!(refused, SyncError::Refused { .. }), "{refused:?}");
    assert!(refused.to_string().contains("not a member"), "{refused}");
    assert_eq!(peer.held(), 0);
    assert!(admin.served().is_empty(), "{:?}", admin.served());
    // A stranger, not a misbehaving peer: nothing is held against anyone.
    assert!(cut_offs(&admin.remembered()).is_empty());
    // Nor is it served when the admin dials it.
    let dialled = admin.sync_once(&peer).await.unwrap_err();
    assert!(matches!(dialled, SyncError::Refused { .. }), "{dialled:?}");
    assert_eq!(peer.held(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_copied_onto_another_peer_is_refused_and_that_peer_cut_off() {
    let dept = department();
    let admin = dept.admin_node(&["the roster", "a report"]).await;
    let (_, node) = node_key(12);
    // The token home's real delegation, as anyone on the path saw it go by...
    let delegation = NodeDelegation::try_sign(dept.network, &dept.token, node).unwrap();
    // ...presented by a node with another key.
    let thief = dept
        .delegated_node(13, delegation.clone(), &[], false)
        .await;
    let refused = thief.sync_once(&admin).await.unwrap_err();
    let text = refused.to_string();
    assert!(
        text.contains("cut off") && text.contains("delegation_not_this_node"),
        "{text}"
    );
    assert_eq!(thief.held(), 0);
    assert!(admin.served().is_empty(), "{:?}", admin.served());
    // The member it named is not held to it: the real node still syncs.
    assert!(cut_offs(&admin.remembered()).is_empty());
    let token = dept.delegated_node(12, delegation, &[], true).await;
    assert_eq!(token.sync_once(&admin).await.unwrap().received, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_for_another_network_is_refused() {
    let dept = department();
    let admin = dept.admin_node(&["the roster", "a report"]).await;
    let (_, node) = node_key(14);
    let elsewhere = Hash::of(b"another department");
    let delegation = NodeDelegation::try_sign(elsewhere, &dept.token, node).unwrap();
    let peer = dept.delegated_node(14, delegation, &[], true).await;
    let refused = peer.sync_once(&admin).await.unwrap_err();
    assert!(refused.to_string().contains("another network"), "{refused}");
    assert_eq!(peer.held(), 0);
    assert!(admin.served().is_empty(), "{:?}", admin.served());
    assert!(cut_offs(&admin.remembered()).is_empty());
}

#[test]
fn a_node_refuses_to_start_under_a_delegation_to_another_key() {
    let dept = department();
    let (_, node) = node_key(15);
    let delegation = NodeDelegation::try_sign(dept.network, &dept.token, node).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let ledger = Memory::new(dept.network, &dept.members(), &[]);
    let started = node::start(
        node_key(16).0,
        ledger,
        Config {
            delegation: Some(delegation),
            ..Config::default()
        },
    );
    assert!(started.is_err());
}
