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
    let dept = department();
    let ledger = Memory::new(dept.network, &dept.members(), &["the roster"]);
    let (identity, _) = node_key(30);
    let (mut node, _commands) = node::start(identity, ledger, Config::default()).unwrap();
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
