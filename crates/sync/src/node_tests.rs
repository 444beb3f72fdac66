//! Real libp2p nodes in this process, over loopback TCP, each on a ledger held in memory: a
//! node running under a member's delegation (a token home's) is served as that member and
//! serves as it; a delegation by a non-member, one copied onto another peer, and one for another
//! network get nothing. A whole pull asks for the data keys its home lacks and takes them before
//! a one-shot sync answers; a key that does not open its report cuts the peer off, and an answer
//! with keys not asked for is not taken.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::delegation::NodeDelegation;
use countersign_ledger::{DataKey, EntryId, Hash, LogId, NetworkId, PublicKey, SecretKey};
use libp2p::{identity, Multiaddr};
use tokio::sync::{mpsc, oneshot};

use crate::node::limits::{Clock, Limits, Rate};
use crate::node::{self, Command, Config, Ledger, NodeStatus, PeerEvent, SyncError, SyncReport};
use crate::reconcile::ReconcileSet;
use crate::{AcceptError, Accepted, ById, LogSummary, VersionVector};

/// What a test looks at in a node's ledger.
#[derive(Default)]
struct Shared {
    held: HashMap<EntryId, BundleRecord>,
    /// Every member key this node served a set or entries to.
    served: Vec<PublicKey>,
    remembered: Vec<(String, PeerEvent)>,
    /// Data keys held, and the key that opens each report held here (a report in `truth`
    /// and not in `keys` lacks its key).
    keys: HashMap<LogId, DataKey>,
    truth: HashMap<LogId, DataKey>,
    /// A key served beyond those asked for (a dishonest server).
    extra: Option<(LogId, DataKey)>,
    /// The logs each key request to this node named.
    asked_keys: Vec<Vec<LogId>>,
    /// Key requests are refused (a ledger that cannot give them, or a peer that will not).
    refuse_keys: bool,
    /// How many times the whole set (this home's own side) was built.
    whole_sets: usize,
}

/// A ledger in memory: entries are opaque records (the node only ever sees bytes), every
/// member may read everything.
struct Memory {
    network: NetworkId,
    members: Vec<PublicKey>,
    shared: Arc<Mutex<Shared>>,
    set: ReconcileSet,
}

impl Memory {
    fn new(network: NetworkId, members: &[PublicKey], records: &[&str]) -> Memory {
        let mut shared = Shared::default();
        for r in records {
            let record = BundleRecord {
                header: r.as_bytes().to_vec(),
                signature: [0; 64],
                payload: None,
            };
            shared.held.insert(Hash::of(&record.header), record);
        }
        Memory {
            network,
            members: members.to_vec(),
            shared: Arc::new(Mutex::new(shared)),
            set: ReconcileSet::new(),
        }
    }
}

impl Ledger for Memory {
    fn network(&self) -> Option<NetworkId> {
        Some(self.network)
    }
    fn is_member(&mut self, key: &PublicKey) -> bool {
        self.members.contains(key)
    }
    fn may_read(&mut self, peer: &PublicKey, logs: &[LogId]) -> Vec<bool> {
        self.shared.lock().unwrap().served.push(*peer);
        vec![true; logs.len()]
    }
    fn summary(&mut self, _: &[LogId]) -> Result<Vec<LogSummary>, String> {
        Ok(Vec::new())
    }
    fn vector(&mut self, _: &LogId) -> Result<VersionVector, String> {
        Ok(Vec::new())
    }
    fn lacks_any(&mut self, ids: &[EntryId]) -> Result<bool, String> {
        let s = self.shared.lock().unwrap();
        Ok(ids.iter().any(|id| !s.held.contains_key(id)))
    }
    fn entries_after(
        &mut self,
        _: &LogId,
        _: &VersionVector,
        _: usize,
    ) -> Result<(Vec<u8>, bool), String> {
        Ok((bundle::encode_records(&[]), false))
    }
    fn reconcile_set(&mut self, reader: Option<&PublicKey>) -> Result<&ReconcileSet, String> {
        let mut s = self.shared.lock().unwrap();
        if let Some(r) = reader {
            drop(s);
            self.shared.lock().unwrap().served.push(*r);
            return self.reconcile_set(None);
        }
        s.whole_sets += 1;
        let mut set = ReconcileSet::new();
        for id in s.held.keys() {
            set.insert(1, id);
        }
        set.settle();
        drop(s);
        self.set = set;
        Ok(&self.set)
    }
    fn wanted(&mut self, ids: Vec<EntryId>) -> Result<Vec<EntryId>, String> {
        let s = self.shared.lock().unwrap();
        Ok(ids
            .into_iter()
            .filter(|i| !s.held.contains_key(i))
            .collect())
    }
    fn entries_by_id(&mut self, reader: &PublicKey, ids: &[EntryId]) -> Result<ById, String> {
        let mut s = self.shared.lock().unwrap();
        s.served.push(*reader);
        let records: Vec<BundleRecord> =
            ids.iter().filter_map(|i| s.held.get(i).cloned()).collect();
        Ok(ById {
            bundle: bundle::encode_records(&records),
            evidence: Vec::new(),
            more: false,
        })
    }
    type Checked = Vec<BundleRecord>;
    fn check(b: &[u8]) -> Result<Vec<BundleRecord>, String> {
        bundle::decode(b).map_err(|e| e.to_string())
    }
    fn accept(&mut self, batch: Vec<BundleRecord>, _: &str) -> Result<Accepted, AcceptError> {
        let mut s = self.shared.lock().unwrap();
        let mut new = 0;
        for r in batch {
            if s.held.insert(Hash::of(&r.header), r).is_none() {
                new += 1;
            }
        }
        Ok(Accepted {
            new,
            quarantined: 0,
        })
    }
    fn pull_ended(&mut self, _: &str) {}
    fn remember(&mut self, peer: &str, event: PeerEvent) {
        self.shared
            .lock()
            .unwrap()
            .remembered
            .push((peer.to_string(), event));
    }
    fn cut_offs(&mut self) -> Vec<(String, String, u64, u32)> {
        Vec::new()
    }
    fn split_views(&mut self, _: &PublicKey, _: Vec<Vec<u8>>) -> Result<(), AcceptError> {
        Ok(())
    }
    fn checkpoints(&mut self, _: &PublicKey, _: &[LogSummary]) -> Result<(), AcceptError> {
        Ok(())
    }
    fn may_have_changed(&mut self) -> bool {
        false
    }
    fn changed_logs(&mut self) -> Result<Vec<LogId>, String> {
        Ok(Vec::new())
    }
    fn lacking_keys(&mut self) -> Result<Vec<LogId>, String> {
        let s = self.shared.lock().unwrap();
        let mut lacking: Vec<LogId> = s
            .truth
            .keys()
            .filter(|l| !s.keys.contains_key(l))
            .copied()
            .collect();
        lacking.sort_unstable();
        Ok(lacking)
    }
    fn keys_for(&mut self, _: &PublicKey, logs: &[LogId]) -> Result<Vec<(LogId, DataKey)>, String> {
        let mut s = self.shared.lock().unwrap();
        s.asked_keys.push(logs.to_vec());
        if s.refuse_keys {
            return Err("no data keys now".into());
        }
        let mut keys: Vec<(LogId, DataKey)> = logs
            .iter()
            .filter_map(|l| Some((*l, s.keys.get(l)?.clone())))
            .collect();
        keys.extend(s.extra.clone());
        Ok(keys)
    }
    fn take_keys(&mut self, _: &str, keys: Vec<(LogId, DataKey)>) -> Result<u64, AcceptError> {
        let mut s = self.shared.lock().unwrap();
        if keys.iter().any(|(l, k)| s.truth.get(l) != Some(k)) {
            return Err(AcceptError::Misbehaved(
                "a data key that does not open its report".into(),
            ));
        }
        let n = keys.len() as u64;
        s.keys.extend(keys);
        Ok(n)
    }
}

/// A running node: its address and command sender, and what its ledger saw.
struct Running {
    addr: Multiaddr,
    commands: mpsc::Sender<Command>,
    shared: Arc<Mutex<Shared>>,
}

impl Running {
    async fn sync_once(&self, other: &Running) -> Result<SyncReport, SyncError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::SyncOnce {
                peer: other.addr.clone(),
                reply,
            })
            .await
            .unwrap();
        // A bound on a test that went wrong, not a wait for something to happen.
        tokio::time::timeout(Duration::from_secs(60), answer)
            .await
            .expect("the sync answered")
            .unwrap()
    }

    async fn status(&self) -> NodeStatus {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Status { reply }).await.unwrap();
        answer.await.unwrap()
    }

    fn served(&self) -> Vec<PublicKey> {
        self.shared.lock().unwrap().served.clone()
    }

    fn held(&self) -> usize {
        self.shared.lock().unwrap().held.len()
    }

    /// Has the node hold one more record, as if it had just been written there.
    fn add(&self, record: &str) {
        let record = BundleRecord {
            header: record.as_bytes().to_vec(),
            signature: [0; 64],
            payload: None,
        };
        let mut s = self.shared.lock().unwrap();
        s.held.insert(Hash::of(&record.header), record);
    }

    fn remembered(&self) -> Vec<(String, PeerEvent)> {
        self.shared.lock().unwrap().remembered.clone()
    }

    fn keys(&self) -> HashMap<LogId, DataKey> {
        self.shared.lock().unwrap().keys.clone()
    }
}

/// Starts a node listening on loopback. `checked`: through [`node::start`], which refuses a
/// delegation to another key; else as a peer that presents whatever it was given.
async fn run(
    identity: identity::Keypair,
    ledger: Memory,
    delegation: Option<NodeDelegation>,
    checked: bool,
) -> Running {
    let config = Config {
        delegation,
        ..Config::default()
    };
    run_with(identity, ledger, config, checked).await
}

/// [`run`] with a configuration of the test's (its listen address is set here).
async fn run_with(
    identity: identity::Keypair,
    ledger: Memory,
    config: Config,
    checked: bool,
) -> Running {
    let shared = ledger.shared.clone();
    let config = Config {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        ..config
    };
    let (node, commands) = if checked {
        node::start(identity, ledger, config)
    } else {
        node::launch(identity, ledger, config)
    }
    .unwrap();
    let me = node.local_peer_id();
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    tokio::spawn(node.run(move |addr| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(addr.clone());
        }
    }));
    let addr = rx.await.unwrap().with(libp2p::multiaddr::Protocol::P2p(me));
    Running {
        addr,
        commands,
        shared,
    }
}

fn secret(i: u8) -> SecretKey {
    SecretKey::from_seed(&[i; 32])
}

/// A node identity of known seed (seeded, so a failure replays).
fn node_key(i: u8) -> (identity::Keypair, PublicKey) {
    let kp = node::keypair(&[i; 32]);
    let key = node::identity_key(&kp).unwrap();
    (kp, key)
}

/// The department: admin A, colleague C and member T (whose key is on a token), one network.
struct Department {
    network: NetworkId,
    admin: SecretKey,
    colleague: SecretKey,
    token: SecretKey,
}

fn department() -> Department {
    Department {
        network: Hash::of(b"department"),
        admin: secret(1),
        token: secret(2),
        colleague: secret(3),
    }
}

impl Department {
    fn members(&self) -> Vec<PublicKey> {
        vec![
            self.admin.public(),
            self.token.public(),
            self.colleague.public(),
        ]
    }

    /// The admin's node, running as its member key, holding `records`.
    async fn admin_node(&self, records: &[&str]) -> Running {
        self.member_node(&self.admin, records).await
    }

    async fn member_node(&self, key: &SecretKey, records: &[&str]) -> Running {
        let ledger = Memory::new(self.network, &self.members(), records);
        run(node::keypair(&key.to_seed()), ledger, None, true).await
    }

    /// A node under `delegation` (by whatever key, for whatever node key) with identity seed
    /// `seed`, holding `records`.
    async fn delegated_node(
        &self,
        seed: u8,
        delegation: NodeDelegation,
        records: &[&str],
        checked: bool,
    ) -> Running {
        let ledger = Memory::new(self.network, &self.members(), records);
        run(node_key(seed).0, ledger, Some(delegation), checked).await
    }
}

fn cut_offs(events: &[(String, PeerEvent)]) -> Vec<String> {
    events
        .iter()
        .filter(|(_, e)| matches!(e, PeerEvent::CutOff { .. }))
        .map(|(p, _)| p.clone())
        .collect()
}

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
