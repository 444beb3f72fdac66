//! A pull takes only the answers to its own requests.

use libp2p::PeerId;

use crate::node::{self, Config, SyncError};
use crate::node_tests::fixture::{department, node_key, Memory};
use crate::protocol::{Envelope, Response};

/// Found by review (2026-12-05): answers were routed to whichever pull ran with the peer when
/// they came. A pull that ended before its reconciliation step was answered (a local error,
/// retried; a "much changed" announcement) and was started again took its predecessor's late
/// step as its own: told the bases differ, it went on from the start of history; then its own
/// step came, saying the same of its first window, and the peer — honest, its history merely
/// different — was cut off for "a reconciliation answer about no history". Each answer now
/// goes only to the pull that sent its request. Fails if a pull takes another's answer.
#[tokio::test]
async fn a_late_answer_to_an_ended_pull_is_not_taken_by_the_next() {
    let (mut node, _commands) = lone_node(30);
    let peer = PeerId::random();

    // A whole pull sends its first step; it ends before the answer comes, and another starts.
    node.start_pull(peer, None, Vec::new());
    let first: Vec<_> = node.pull_requests.keys().copied().collect();
    assert_eq!(first.len(), 1, "one step sent");
    node.fail_pull(&peer, SyncError::Ledger("the store was busy".into()));
    node.start_pull(peer, None, Vec::new());
    let second: Vec<_> = node
        .pull_requests
        .keys()
        .copied()
        .filter(|id| !first.contains(id))
        .collect();
    assert_eq!(second.len(), 1, "the new pull's own step");

    // Both steps are answered, the ended pull's first: the histories before the window differ.
    let differs = || Envelope {
        delegation: None,
        body: Response::Reconcile {
            base_matches: false,
            message: Vec::new(),
        },
    };
    node.on_response(peer, first[0], differs());
    let pull = node.pulls.get(&peer).expect("the new pull runs");
    let set = pull.set.as_ref().expect("a whole pull");
    assert_eq!(
        (set.steps, set.stepping),
        (1, true),
        "the new pull took the ended pull's answer"
    );
    node.on_response(peer, second[0], differs());
    assert!(
        node.cut_off.is_empty(),
        "an honest peer cut off: {:?}",
        node.cut_off.keys().collect::<Vec<_>>()
    );
    let set = node.pulls[&peer].set.as_ref().expect("still pulling");
    assert_eq!(set.from, 0, "its own answer moves it to the whole history");
}

/// Found by review (2026-12-05): pulls were bounded per peer id, and a member may delegate to
/// any number of node keys: one member's hundreds of nodes, each answering with the largest
/// batches, had a pull each, and this home held tens of GiB for them. One pull at a time per
/// member: its other nodes wait for the next retry round. Fails if a second node of the same
/// member is pulled from while the first is.
#[tokio::test]
async fn one_member_is_pulled_from_by_one_node_at_a_time() {
    let (mut node, _commands, first, second) = two_nodes_of_one_member(31);
    // And the admin's own node.
    let (admin, _) = node_key(1);
    let admin = admin.public().to_peer_id();

    node.start_pull(first, None, Vec::new());
    node.start_pull(second, None, Vec::new());
    node.start_pull(admin, None, Vec::new());
    assert!(node.pulls.contains_key(&first));
    assert!(
        !node.pulls.contains_key(&second),
        "a second node of the same member pulled from at once"
    );
    assert!(node.retry.contains_key(&second), "left for the next round");
    assert!(
        node.pulls.contains_key(&admin),
        "another member is not held back"
    );

    // Once the first ends, the member's other node is pulled from.
    node.fail_pull(&first, SyncError::Ledger("ended".into()));
    node.start_pull(second, None, Vec::new());
    assert!(node.pulls.contains_key(&second));
}

/// Found by review (2026-12-05): a one-shot sync to a member's node that was not connected
/// yet waits for it to connect; when it did while another node of the same member was being
/// pulled from, its pull was put off and the sync's answer dropped ("the sync node stopped").
/// It is told to come back (`rate_limited`), as a sync to a connected node is. Fails if the
/// answer is dropped.
#[tokio::test]
async fn a_sync_waiting_for_a_members_second_node_to_connect_is_told_to_come_back() {
    let (mut node, _commands, first, second) = two_nodes_of_one_member(32);
    node.start_pull(first, None, Vec::new());

    let (reply, mut answer) = tokio::sync::oneshot::channel();
    node.dialling.insert(second, vec![reply]);
    node.admit(second);
    match answer.try_recv() {
        Ok(Err(SyncError::RateLimited { .. })) => {}
        other => panic!("the waiting sync was answered {other:?}"),
    }
}

/// Found by review (2026-12-05): any failed request with a peer ended the pull running with
/// it, so an announcement that timed out (the peer busy answering our pull) cut the pull
/// short, and it started over. Only a failure of the pull's own request ends it now. Fails if
/// the announcement's failure ends the pull.
#[tokio::test]
async fn an_announcement_that_fails_does_not_end_the_pull() {
    use libp2p::request_response::{Event, OutboundFailure};

    let (mut node, _commands) = lone_node(33);
    let peer = PeerId::random();
    node.start_pull(peer, None, Vec::new());
    let pulls_own: Vec<_> = node.pull_requests.keys().copied().collect();
    node.announce(peer, Vec::new(), None);
    let announcement = *node.announced.keys().next().expect("an announcement sent");

    let failed = |request_id| Event::OutboundFailure {
        peer,
        connection_id: libp2p::swarm::ConnectionId::new_unchecked(0),
        request_id,
        error: OutboundFailure::Timeout,
    };
    node.on_sync(failed(announcement));
    assert!(
        node.pulls.contains_key(&peer),
        "the announcement's failure ended the pull"
    );
    // The pull's own request failing does end it (so the test above can tell).
    node.on_sync(failed(pulls_own[0]));
    assert!(!node.pulls.contains_key(&peer));
}

/// Found by review (2026-12-05): a pull that failed here (or a peer that asked us to slow
/// down) left its peer in the retry list, and a peer that then went away for good stayed in
/// it for the life of the process. Once its wait is over, a peer not connected is dropped
/// from it (its next connection starts a pull as any does); a wait not over is kept, so a
/// reconnection does not jump a rate limit. Fails if the list keeps a gone peer.
#[tokio::test]
async fn the_retry_list_forgets_a_peer_gone_once_its_wait_is_over() {
    use tokio::time::{Duration, Instant};

    let (mut node, _commands) = lone_node(34);
    let (gone, waiting, here) = (PeerId::random(), PeerId::random(), PeerId::random());
    let past = Instant::now() - Duration::from_millis(1);
    node.retry.insert(gone, (past, 3));
    node.retry
        .insert(waiting, (Instant::now() + Duration::from_secs(60), 1));
    node.retry.insert(here, (past, 1));
    node.connected.insert(here);
    node.redial();
    assert!(!node.retry.contains_key(&gone), "a gone peer kept");
    assert!(node.retry.contains_key(&waiting), "a wait not over dropped");
    assert!(
        node.pulls.contains_key(&here),
        "a due retry of a connected peer not started"
    );
}

/// A node of the department (identity seed `seed`, not listening) and its command channel
/// (kept open).
fn lone_node(seed: u8) -> (node::Node<Memory>, tokio::sync::mpsc::Sender<node::Command>) {
    let dept = department();
    let ledger = Memory::new(dept.network, &dept.members(), &["the roster"]);
    let (identity, _) = node_key(seed);
    node::start(identity, ledger, Config::default()).unwrap()
}

/// A node (identity seed `seed`, not listening) that knows two peers as nodes the department's
/// colleague delegated to (their delegations verified, as on connecting). Returns the node,
/// its command channel (kept open) and the two peers.
fn two_nodes_of_one_member(
    seed: u8,
) -> (
    node::Node<Memory>,
    tokio::sync::mpsc::Sender<node::Command>,
    PeerId,
    PeerId,
) {
    use countersign_ledger::delegation::NodeDelegation;

    let dept = department();
    let ledger = Memory::new(dept.network, &dept.members(), &["the roster"]);
    let (identity, _) = node_key(seed);
    let (mut node, commands) = node::start(identity, ledger, Config::default()).unwrap();
    let mut delegated = |node_seed: u8| {
        let (keys, public) = node_key(node_seed);
        let peer = keys.public().to_peer_id();
        let delegation = NodeDelegation::try_sign(dept.network, &dept.colleague, public).unwrap();
        node.delegated.insert(peer, delegation);
        peer
    };
    let first = delegated(seed.wrapping_add(100));
    let second = delegated(seed.wrapping_add(101));
    (node, commands, first, second)
}
