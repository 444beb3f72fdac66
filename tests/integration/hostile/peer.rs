//! The hostile peer itself: a `Ledger` that serves an [`Attack`] with a member's key, and the
//! runs that sync it once with an honest node or keep it connected until the node judges it.

use std::time::Duration;

use countersign_ledger::bundle;
use countersign_ledger::split_view::SplitViewEvidence;
use countersign_ledger::{EntryId, Hash, Kind, LogId, NetworkId, PublicKey};
use countersign_sync::reconcile::ReconcileSet;
use countersign_sync::{
    keypair, AcceptError, Accepted, ById, Command, Config, Ledger, LogSummary, PeerEvent,
    VersionVector,
};
use tokio::sync::oneshot;

use super::followup;
use crate::common::{craft, now_ms};

/// What the hostile ledger serves when asked for entries.
#[derive(Clone)]
pub(super) enum Attack {
    /// Entries whose signatures do not verify.
    Forged(Vec<u8>),
    /// Validly signed entries of another network.
    OtherNetwork(Vec<u8>),
    /// An entry the node already has, again and again, always with "more", whatever it
    /// asks for.
    EndlessDuplicates(Vec<u8>),
    /// Nothing at all (while its checkpoint claims otherwise).
    Withhold,
    /// A member's validly signed entry whose payload was changed on the way.
    TamperedPayload(Vec<u8>),
    /// A member's validly signed entry whose payload gives a key twice (parsers disagree on
    /// which value counts).
    DuplicateKey(Vec<u8>),
    /// Tens of thousands of entries by a key not on the roster, served as asked.
    Flood(Flood),
    /// A response frame beyond the protocol's largest message.
    Oversized,
    /// Split-view evidence (two checkpoints of one signer) whose signature was changed.
    ForgedEvidence(Vec<u8>),
}

/// The state of a flood: who signs, how far it has got.
#[derive(Clone)]
pub(super) struct Flood {
    pub(super) key: [u8; 32],
    pub(super) network: String,
    pub(super) log: String,
    pub(super) parent: EntryId,
    pub(super) sent: u64,
}

/// What the flood offers in all: more than a quarantine keeps.
pub(super) const FLOOD: u64 = countersign_app::MAX_QUARANTINE + 4000;

impl Flood {
    /// Every entry of the flood, signed in advance.
    fn entries(&mut self) -> Vec<(countersign_ledger::Entry, Vec<u8>)> {
        let key = countersign_ledger::SecretKey::from_seed(&self.key);
        (0..FLOOD)
            .map(|_| {
                self.sent += 1;
                // Sealed, as the network requires (a clear one is refused at once, whoever
                // signs it), under a key of the stranger's own: no home opens it, and it waits
                // as an unknown author's entry.
                let mut nonce = [0u8; countersign_report::payload::seal::NONCE_LEN];
                nonce[..8].copy_from_slice(&self.sent.to_le_bytes());
                let p = countersign_report::payload::seal::seal(
                    &countersign_ledger::DataKey::from_bytes(self.key),
                    &nonce,
                    Kind::FollowupRecommend,
                    Some(&self.log.parse().unwrap()),
                    &followup(&format!("flood {}", self.sent)),
                );
                let e = craft(
                    &key,
                    &self.network,
                    &self.log,
                    self.sent,
                    now_ms(),
                    Kind::FollowupRecommend,
                    vec![self.parent],
                    &p,
                );
                self.parent = e.id();
                (e, p)
            })
            .collect()
    }
}

pub(super) struct Hostile {
    network: NetworkId,
    log: LogId,
    key: PublicKey,
    attack: Attack,
    /// Heads it claims for the log, with the checkpoint it signed for them.
    pub(super) claim: Option<(Vec<EntryId>, Vec<u8>)>,
    /// What it describes in reconciliation: the ids of what it serves (or, where it serves
    /// nothing that was asked for, an id nobody has).
    set: ReconcileSet,
    /// Entries it serves by id (the flood).
    by_id: std::collections::HashMap<EntryId, bundle::BundleRecord>,
    /// Announces the log once (making the node pull that log by summary).
    pub(super) announce: bool,
}

impl Hostile {
    pub(super) fn new(
        network: NetworkId,
        log: LogId,
        key: PublicKey,
        mut attack: Attack,
    ) -> Hostile {
        let mut set = ReconcileSet::new();
        let mut by_id = std::collections::HashMap::new();
        match &mut attack {
            Attack::Forged(b)
            | Attack::OtherNetwork(b)
            | Attack::TamperedPayload(b)
            | Attack::DuplicateKey(b) => {
                for r in bundle::frame(b).unwrap() {
                    set.insert(now_ms(), &Hash::of(r.header));
                }
            }
            Attack::Flood(f) => {
                for (e, p) in f.entries() {
                    set.insert(e.header().timestamp_ms, &e.id());
                    by_id.insert(
                        e.id(),
                        bundle::BundleRecord {
                            header: e.header_bytes().to_vec(),
                            signature: *e.signature(),
                            payload: Some(p),
                        },
                    );
                }
            }
            Attack::ForgedEvidence(b) => set.insert(now_ms(), &SplitViewEvidence::id_of(b)),
            Attack::EndlessDuplicates(_) | Attack::Oversized | Attack::Withhold => {
                set.insert(now_ms(), &Hash([0xee; 32]))
            }
        }
        set.settle();
        Hostile {
            network,
            log,
            key,
            attack,
            claim: None,
            set,
            by_id,
            announce: false,
        }
    }
}

impl Ledger for Hostile {
    fn network(&self) -> Option<NetworkId> {
        Some(self.network)
    }
    fn is_member(&mut self, _: &PublicKey) -> bool {
        true
    }
    fn may_read(&mut self, _: &PublicKey, logs: &[LogId]) -> Vec<bool> {
        vec![true; logs.len()]
    }
    fn summary(&mut self, _: &[LogId]) -> Result<Vec<LogSummary>, String> {
        Ok(vec![match &self.claim {
            // Claims heads, signed; no vector, so only the heads can make the node fetch.
            Some((heads, checkpoint)) => LogSummary {
                log: self.log,
                authors: vec![],
                heads: heads.clone(),
                forks: 0,
                checkpoint: Some(checkpoint.clone()),
            },
            // Claims to be far ahead in the report log.
            None => LogSummary {
                log: self.log,
                authors: vec![(self.key, 1_000_000)],
                heads: vec![],
                forks: 0,
                checkpoint: None,
            },
        }])
    }
    fn vector(&mut self, _: &LogId) -> Result<VersionVector, String> {
        Ok(vec![])
    }
    fn lacks_any(&mut self, _: &[EntryId]) -> Result<bool, String> {
        Ok(false)
    }
    fn entries_after(
        &mut self,
        _: &LogId,
        _: &VersionVector,
        _: usize,
    ) -> Result<(Vec<u8>, bool), String> {
        Ok(match &mut self.attack {
            Attack::Forged(b) | Attack::OtherNetwork(b) => (b.clone(), false),
            Attack::EndlessDuplicates(b) => (b.clone(), true),
            Attack::Withhold => (bundle::encode(std::iter::empty()), false),
            Attack::TamperedPayload(b) | Attack::DuplicateKey(b) => (b.clone(), false),
            Attack::Flood(_) => (bundle::encode(std::iter::empty()), false),
            Attack::Oversized => (vec![0; countersign_sync::protocol::MAX_MESSAGE], false),
            Attack::ForgedEvidence(_) => (bundle::encode(std::iter::empty()), false),
        })
    }
    fn reconcile_set(&mut self, _: Option<&PublicKey>) -> Result<&ReconcileSet, String> {
        Ok(&self.set)
    }
    fn wanted(&mut self, _: Vec<EntryId>) -> Result<Vec<EntryId>, String> {
        // It wants nothing from the honest node.
        Ok(vec![])
    }
    fn entries_by_id(&mut self, _: &PublicKey, ids: &[EntryId]) -> Result<ById, String> {
        if let Attack::ForgedEvidence(b) = &self.attack {
            return Ok(ById {
                bundle: bundle::encode(std::iter::empty()),
                evidence: vec![b.clone()],
                more: false,
            });
        }
        if let Attack::Flood(_) = self.attack {
            // As an honest server would: at most one batch, and "more" for the rest.
            let held: Vec<&EntryId> = ids
                .iter()
                .filter(|id| self.by_id.contains_key(id))
                .collect();
            let max = countersign_sync::protocol::MAX_BATCH;
            let records: Vec<bundle::BundleRecord> = held
                .iter()
                .take(max)
                .filter_map(|id| self.by_id.get(id).cloned())
                .collect();
            return Ok(ById {
                bundle: bundle::encode_records(&records),
                evidence: vec![],
                more: held.len() > max,
            });
        }
        let (bundle, more) = self.entries_after(&self.log.clone(), &vec![], 1)?;
        Ok(ById {
            bundle,
            evidence: vec![],
            more,
        })
    }
    type Checked = ();
    fn check(_: &[u8]) -> Result<(), String> {
        Ok(())
    }
    fn accept(&mut self, _: (), _: &str) -> Result<Accepted, AcceptError> {
        Ok(Accepted::default())
    }
    fn pull_ended(&mut self, _: &str) {}
    fn remember(&mut self, _: &str, _: PeerEvent) {}
    fn cut_offs(&mut self) -> Vec<(String, String, u64, u32)> {
        vec![]
    }
    fn split_views(&mut self, _: &PublicKey, _: Vec<Vec<u8>>) -> Result<(), AcceptError> {
        Ok(())
    }
    fn checkpoints(&mut self, _: &PublicKey, _: &[LogSummary]) -> Result<(), AcceptError> {
        Ok(())
    }
    fn may_have_changed(&mut self) -> bool {
        self.announce
    }
    fn changed_logs(&mut self) -> Result<Vec<LogId>, String> {
        // Again and again: an announcement made before the connection is up goes nowhere.
        Ok(vec![self.log])
    }
}

/// Runs the hostile node with `seed`'s key and has it sync once with `addr`.
pub(super) fn sync_as(seed: [u8; 32], ledger: Hostile, addr: &str) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let (node, commands) =
        countersign_sync::start(keypair(&seed), ledger, Config::default()).unwrap();
    rt.spawn(node.run(|_| {}));
    let result = rt.block_on(async {
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::SyncOnce {
                peer: addr.parse().unwrap(),
                reply,
            })
            .await
            .unwrap();
        // A deadline for a hung sync, not a wait: a loaded 2-core CI machine is slow.
        tokio::time::timeout(Duration::from_secs(120), answer).await
    });
    drop(commands);
    rt.shutdown_background();
    match result {
        Ok(Ok(Err(e))) => Err(e.to_string()),
        Ok(Ok(Ok(report))) => Ok(format!("{report:?}")),
        other => panic!("the hostile sync did not end: {other:?}"),
    }
}

/// Runs the hostile node with `seed`'s key connected to `addr` (as a serving peer would be)
/// until `done` holds: it announces its log, so the node pulls that log by summary.
pub(super) fn connect_as(seed: [u8; 32], ledger: Hostile, addr: &str, done: impl FnMut() -> bool) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let _entered = rt.enter();
    let config = Config {
        peers: vec![addr.parse().unwrap()],
        ..Config::default()
    };
    let (node, commands) = countersign_sync::start(keypair(&seed), ledger, config).unwrap();
    rt.spawn(node.run(|_| {}));
    crate::sync::until("the node to judge the hostile peer", done);
    drop(commands);
    rt.shutdown_background();
}
