//! A whole pull asks for the data keys its home lacks and takes them before a one-shot sync
//! answers; a key that does not open its report cuts the peer off, an answer with keys not
//! asked for is not taken, and a refused key request still finishes the pull.

use countersign_ledger::{DataKey, Hash, LogId};

use crate::node::SyncError;

use super::fixture::*;

/// Two members' nodes: `holder` holds report `log`'s key (`served`, which may be a wrong one);
/// `asker` holds the report without its key (the right key is `right`).
async fn key_holder_and_asker(served: DataKey, right: DataKey) -> (Running, Running, LogId) {
    let dept = department();
    let log = Hash::of(b"a sealed report");
    let holder = dept.admin_node(&["the roster", "a report"]).await;
    holder.shared.lock().unwrap().keys.insert(log, served);
    let asker = dept
        .member_node(&dept.colleague, &["the roster", "a report"])
        .await;
    asker.shared.lock().unwrap().truth.insert(log, right);
    (holder, asker, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_pull_asks_for_the_keys_this_home_lacks_and_has_them_when_the_sync_answers() {
    let key = DataKey::from_bytes([0x6b; 32]);
    let (holder, asker, log) = key_holder_and_asker(key.clone(), key.clone()).await;
    // Nothing differs: no entry is sent, and the key is asked for and taken all the same, before
    // the one-shot sync answers.
    let report = asker.sync_once(&holder).await.unwrap();
    assert_eq!(report.received, 0, "{report:?}");
    assert_eq!(asker.keys().get(&log), Some(&key));
    assert_eq!(holder.shared.lock().unwrap().asked_keys, vec![vec![log]]);
    // Holding it, the asker asks nothing more.
    asker.sync_once(&holder).await.unwrap();
    assert_eq!(holder.shared.lock().unwrap().asked_keys.len(), 1);
    assert!(cut_offs(&asker.remembered()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_does_not_open_its_report_cuts_the_peer_off() {
    let (holder, asker, log) =
        key_holder_and_asker(DataKey::from_bytes([1; 32]), DataKey::from_bytes([2; 32])).await;
    let refused = asker.sync_once(&holder).await.unwrap_err();
    assert!(matches!(refused, SyncError::CutOff { .. }), "{refused:?}");
    assert!(!asker.keys().contains_key(&log));
    assert_eq!(cut_offs(&asker.remembered()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_not_asked_for_are_not_taken() {
    let key = DataKey::from_bytes([3; 32]);
    let (holder, asker, _) = key_holder_and_asker(key.clone(), key).await;
    let other = Hash::of(b"a report nobody asked about");
    holder.shared.lock().unwrap().extra = Some((other, DataKey::from_bytes([4; 32])));
    let refused = asker.sync_once(&holder).await.unwrap_err();
    assert!(
        refused.to_string().contains("keys not asked for"),
        "{refused}"
    );
    assert!(asker.keys().is_empty(), "none of that answer is taken");
}

/// Review of issue 16: a peer refusing a key request failed the pull before the checks run as
/// it finishes (split views, the checkpoints the peer signed), so a server could serve
/// everything, refuse the keys and skip them. The entries are in: the pull finishes without
/// the keys, nobody is cut off, and the next whole pull asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_request_finishes_the_pull_without_the_keys() {
    let key = DataKey::from_bytes([5; 32]);
    let (holder, asker, log) = key_holder_and_asker(key.clone(), key.clone()).await;
    holder.shared.lock().unwrap().refuse_keys = true;
    let report = asker.sync_once(&holder).await.unwrap();
    assert_eq!(report.received, 0, "{report:?}");
    assert!(!asker.keys().contains_key(&log));
    assert!(cut_offs(&asker.remembered()).is_empty());
    // Asked again by the next whole pull, and taken once the peer gives it.
    holder.shared.lock().unwrap().refuse_keys = false;
    asker.sync_once(&holder).await.unwrap();
    assert_eq!(asker.keys().get(&log), Some(&key));
    assert_eq!(holder.shared.lock().unwrap().asked_keys.len(), 2);
}
