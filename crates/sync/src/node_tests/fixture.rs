//! The node tests' fixture: a ledger held in memory, nodes started on loopback over it, and a
//! department of three members (one on a token) to start them for.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use countersign_ledger::bundle::{self, BundleRecord};
use countersign_ledger::delegation::NodeDelegation;
use countersign_ledger::{DataKey, EntryId, Hash, LogId, NetworkId, PublicKey, SecretKey};
use libp2p::{identity, Multiaddr};
use tokio::sync::{mpsc, oneshot};

use crate::node::{self, Command, Config, Ledger, NodeStatus, PeerEvent, SyncError, SyncReport};
use crate::reconcile::ReconcileSet;
use crate::{AcceptError, Accepted, ById, LogSummary, VersionVector};

/// What a test looks at in a node's ledger.
#[derive(Default)]
pub(crate) struct Shared {
    pub(super) held: HashMap<EntryId, BundleRecord>,
    /// Every member key this node served a set or entries to.
    pub(super) served: Vec<PublicKey>,
    pub(super) remembered: Vec<(String, PeerEvent)>,
    /// Data keys held, and the key that opens each report held here (a report in `truth`
    /// and not in `keys` lacks its key).
    pub(super) keys: HashMap<LogId, DataKey>,
    pub(super) truth: HashMap<LogId, DataKey>,
    /// A key served beyond those asked for (a dishonest server).
    pub(super) extra: Option<(LogId, DataKey)>,
    /// The logs each key request to this node named.
    pub(super) asked_keys: Vec<Vec<LogId>>,
    /// Key requests are refused (a ledger that cannot give them, or a peer that will not).
    pub(super) refuse_keys: bool,
    /// How many times the whole set (this home's own side) was built.
    pub(super) whole_sets: usize,
}

/// A ledger in memory: entries are opaque records (the node only ever sees bytes), every
/// member may read everything.
pub(crate) struct Memory {
    pub(super) network: NetworkId,
    pub(super) members: Vec<PublicKey>,
    pub(super) shared: Arc<Mutex<Shared>>,
    pub(super) set: ReconcileSet,
}

impl Memory {
    pub(crate) fn new(network: NetworkId, members: &[PublicKey], records: &[&str]) -> Memory {
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
pub(super) struct Running {
    pub(super) addr: Multiaddr,
    pub(super) commands: mpsc::Sender<Command>,
    pub(super) shared: Arc<Mutex<Shared>>,
}

impl Running {
    pub(super) async fn sync_once(&self, other: &Running) -> Result<SyncReport, SyncError> {
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

    pub(super) async fn status(&self) -> NodeStatus {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Status { reply }).await.unwrap();
        answer.await.unwrap()
    }

    pub(super) fn served(&self) -> Vec<PublicKey> {
        self.shared.lock().unwrap().served.clone()
    }

    pub(super) fn held(&self) -> usize {
        self.shared.lock().unwrap().held.len()
    }

    /// Has the node hold one more record, as if it had just been written there.
    pub(super) fn add(&self, record: &str) {
        let record = BundleRecord {
            header: record.as_bytes().to_vec(),
            signature: [0; 64],
            payload: None,
        };
        let mut s = self.shared.lock().unwrap();
        s.held.insert(Hash::of(&record.header), record);
    }

    pub(super) fn remembered(&self) -> Vec<(String, PeerEvent)> {
        self.shared.lock().unwrap().remembered.clone()
    }

    pub(super) fn keys(&self) -> HashMap<LogId, DataKey> {
        self.shared.lock().unwrap().keys.clone()
    }
}

/// Starts a node listening on loopback. `checked`: through [`node::start`], which refuses a
/// delegation to another key; else as a peer that presents whatever it was given.
pub(super) async fn run(
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
pub(super) async fn run_with(
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

pub(super) fn secret(i: u8) -> SecretKey {
    SecretKey::from_seed(&[i; 32])
}

/// A node identity of known seed (seeded, so a failure replays).
pub(crate) fn node_key(i: u8) -> (identity::Keypair, PublicKey) {
    let kp = node::keypair(&[i; 32]);
    let key = node::identity_key(&kp).unwrap();
    (kp, key)
}

/// The department: admin A, colleague C and member T (whose key is on a token), one network.
pub(crate) struct Department {
    pub(crate) network: NetworkId,
    pub(super) admin: SecretKey,
    pub(crate) colleague: SecretKey,
    pub(super) token: SecretKey,
}

pub(crate) fn department() -> Department {
    Department {
        network: Hash::of(b"department"),
        admin: secret(1),
        token: secret(2),
        colleague: secret(3),
    }
}

impl Department {
    pub(crate) fn members(&self) -> Vec<PublicKey> {
        vec![
            self.admin.public(),
            self.token.public(),
            self.colleague.public(),
        ]
    }

    /// The admin's node, running as its member key, holding `records`.
    pub(super) async fn admin_node(&self, records: &[&str]) -> Running {
        self.member_node(&self.admin, records).await
    }

    pub(super) async fn member_node(&self, key: &SecretKey, records: &[&str]) -> Running {
        let ledger = Memory::new(self.network, &self.members(), records);
        run(node::keypair(&key.to_seed()), ledger, None, true).await
    }

    /// A node under `delegation` (by whatever key, for whatever node key) with identity seed
    /// `seed`, holding `records`.
    pub(super) async fn delegated_node(
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

pub(super) fn cut_offs(events: &[(String, PeerEvent)]) -> Vec<String> {
    events
        .iter()
        .filter(|(_, e)| matches!(e, PeerEvent::CutOff { .. }))
        .map(|(p, _)| p.clone())
        .collect()
}
