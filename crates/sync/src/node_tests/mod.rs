//! Real libp2p nodes in this process, over loopback TCP, each on a ledger held in memory
//! (`fixture`). Here: the reconciliation set is built before a node listens, and a member over
//! its request rate is slowed, not cut off. `delegation`: a node running under a member's
//! delegation (a token home's) is served as that member and serves as it; a delegation by a
//! non-member, one copied onto another peer, and one for another network get nothing. `keys`:
//! a whole pull asks for the data keys its home lacks and takes them before a one-shot sync
//! answers; a key that does not open its report cuts the peer off, and an answer with keys not
//! asked for is not taken.

mod delegation;
pub(crate) mod fixture;
mod keys;

use std::time::Duration;

use tokio::sync::oneshot;

use crate::node::limits::{Clock, Limits, Rate};
use crate::node::{self, Config, SyncError};

use fixture::*;

/// At a million reports the set's first build takes seconds. Built at the first peer's
/// request, it held that request's stream past libp2p's 10 s negotiation (the 1M-report
/// bench's first reconcile failed so); built before the swarm is first polled, no connection
/// waits behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciliation_set_is_built_before_the_node_listens() {
    let dept = department();
    let ledger = Memory::new(dept.network, &[dept.admin.public()], &["the roster"]);
    let shared = ledger.shared.clone();
    let config = Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        ..Config::default()
    };
    let (identity, _) = node_key(20);
    let (node, _commands) = node::start(identity, ledger, config).unwrap();
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    let seen = shared.clone();
    tokio::spawn(node.run(move |_| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(seen.lock().unwrap().whole_sets);
        }
    }));
    assert_eq!(
        rx.await.unwrap(),
        1,
        "built once when the node first listens"
    );
    assert!(shared.lock().unwrap().served.is_empty(), "no peer asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_over_its_request_rate_is_slowed_not_cut_off_and_served_once_it_refills() {
    let dept = department();
    // The admin's node allows each peer 10 requests at once and one a second after, by a
    // clock that moves only when the test moves it; bytes are not what this test limits.
    let clock = Clock::manual();
    let plenty = Rate {
        per_second: 1e12,
        burst: 1e12,
    };
    let config = Config {
        limits: Limits {
            requests: Rate {
                per_second: 1.0,
                burst: 10.0,
            },
            bytes_received: plenty,
            bytes_served: plenty,
        },
        clock: clock.clone(),
        ..Config::default()
    };
    let ledger = Memory::new(dept.network, &dept.members(), &["the roster", "a report"]);
    let admin = run_with(node::keypair(&dept.admin.to_seed()), ledger, config, true).await;
    let colleague = dept.member_node(&dept.colleague, &[]).await;
    assert_eq!(colleague.sync_once(&admin).await.unwrap().received, 2);

    // Each sync asks the admin at least twice (a reconciliation step and the announcement),
    // so ten more go past the burst while the admin's clock stands still.
    let mut refused = None;
    for _ in 0..10 {
        if let Err(e) = colleague.sync_once(&admin).await {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("a member went past its burst of requests and was served");
    assert_eq!(refused.kind(), "rate_limited", "{refused}");
    let SyncError::RateLimited { retry_in_ms, .. } = refused else {
        panic!("{refused:?}");
    };
    assert!((1..=60_000).contains(&retry_in_ms), "{retry_in_ms}");

    // Slowed, not cut off: neither side holds it against the other, and the admin shows
    // whom it slowed and how often.
    assert!(cut_offs(&admin.remembered()).is_empty());
    assert!(cut_offs(&colleague.remembered()).is_empty());
    let status = admin.status().await;
    assert!(status.cut_off.is_empty(), "{:?}", status.cut_off);
    let shown = node::peer_id(&dept.colleague.public()).to_string();
    assert!(
        status
            .rate_limited
            .iter()
            .any(|(p, n)| *p == shown && *n >= 1),
        "{:?}",
        status.rate_limited
    );
    assert!(colleague.status().await.cut_off.is_empty());

    // Once its bucket has refilled by the admin's clock, it is served again: what the admin
    // wrote meanwhile arrives (by this sync, or by the retry the colleague's node scheduled).
    admin.add("a section written while the colleague was slowed");
    clock.advance(Duration::from_secs(60));
    colleague.sync_once(&admin).await.unwrap();
    assert_eq!(colleague.held(), 3);
}
