//! A hostile peer: a test harness that speaks `/countersign/sync/5` with a member's key but
//! serves whatever it likes — forged signatures, entries of another network, batches holding
//! nothing asked for, a flood by a stranger. The honest node (a real `serve` process) stores
//! none of it, cuts the peer off only where the bytes prove it misbehaved (quarantining what a
//! rule refuses), and still syncs with an honest peer afterwards.

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

use crate::common::{craft, now_ms, Home};

/// What the hostile ledger serves when asked for entries.
#[derive(Clone)]
enum Attack {
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
struct Flood {
    key: [u8; 32],
    network: String,
    log: String,
    parent: EntryId,
    sent: u64,
}

/// What the flood offers in all: more than a quarantine keeps.
const FLOOD: u64 = countersign_app::MAX_QUARANTINE + 4000;

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

struct Hostile {
    network: NetworkId,
    log: LogId,
    key: PublicKey,
    attack: Attack,
    /// Heads it claims for the log, with the checkpoint it signed for them.
    claim: Option<(Vec<EntryId>, Vec<u8>)>,
    /// What it describes in reconciliation: the ids of what it serves (or, where it serves
    /// nothing that was asked for, an id nobody has).
    set: ReconcileSet,
    /// Entries it serves by id (the flood).
    by_id: std::collections::HashMap<EntryId, bundle::BundleRecord>,
    /// Announces the log once (making the node pull that log by summary).
    announce: bool,
}

impl Hostile {
    fn new(network: NetworkId, log: LogId, key: PublicKey, mut attack: Attack) -> Hostile {
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
fn sync_as(seed: [u8; 32], ledger: Hostile, addr: &str) -> Result<String, String> {
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
fn connect_as(seed: [u8; 32], ledger: Hostile, addr: &str, done: impl FnMut() -> bool) {
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

fn network_of(home: &Home) -> NetworkId {
    home.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn quarantine_count(home: &Home) -> u64 {
    home.db()
        .query_row("SELECT COUNT(*) FROM quarantine", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap() as u64
}

fn followup(finding: &str) -> Vec<u8> {
    format!(r#"{{"finding":"{finding}","due":"2027-01-01"}}"#).into_bytes()
}

#[test]
fn a_hostile_member_is_cut_off_stores_nothing_and_honest_sync_still_completes() {
    let (a, report) = Home::demo();
    let serving = crate::sync::serve_for_tests(&a);
    let m = crate::sync::member_for_tests(&a, "Dr Mallory", "radiologist");
    m.ok(&["sync", "--peer", &serving.1, "--once"]);
    // What an honest sync of the demo costs the node, to compare the attacks against.
    let baseline = serving.0.peak_rss_kib();
    let key_hex = m.key();
    let secret = m.secret(&key_hex);
    let network = network_of(&a);
    let log: LogId = report.parse().unwrap();
    let heads = crate::common::ids(&a.ok(&["report", "show", &report])["heads"]);
    let entry = |net: &str, text: &str| {
        let p = followup(text);
        (
            craft(
                &secret,
                net,
                &report,
                1,
                now_ms(),
                Kind::FollowupRecommend,
                heads.clone(),
                &p,
            ),
            p,
        )
    };
    // 1. A forged signature.
    let (e, p) = entry(&network.to_hex(), "forged");
    let mut forged = bundle::encode([(&e, Some(p.as_slice()))]);
    let sig_at = forged.len() - p.len() - 5 - 64;
    forged[sig_at] ^= 1;
    // 2. Signed, but for another network.
    let (e, p) = entry(&Hash([9; 32]).to_hex(), "elsewhere");
    let other = bundle::encode([(&e, Some(p.as_slice()))]);
    // 3. An entry the node already has, forever.
    let genesis = a
        .db()
        .query_row(
            "SELECT header, signature FROM entries WHERE id = ?1",
            [log.as_bytes().as_slice()],
            |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .unwrap();
    let known =
        countersign_ledger::Entry::from_parts(&genesis.0, &genesis.1.try_into().unwrap()).unwrap();
    let payload: Vec<u8> = a.db()
        .query_row("SELECT p.bytes FROM entries e JOIN payloads p ON p.arrival = e.arrival WHERE e.id = ?1",
            [log.as_bytes().as_slice()], |r| r.get(0))
        .unwrap();
    let endless = bundle::encode([(&known, Some(payload.as_slice()))]);
    // 4. Signed by a member, payload changed after signing.
    let (e, _) = entry(&network.to_hex(), "as signed");
    let tampered = followup("as sinned"); // same length: only the hash can tell
    let tampered = bundle::encode([(&e, Some(tampered.as_slice()))]);
    // 5. Signed by a member, as signed, but with a key given twice.
    // (Sealed under the report's key, as a member's home seals it: the rules open it, then
    // read the key twice.)
    let twice = a.sealed(
        &report,
        Kind::FollowupRecommend,
        br#"{"finding":"Nodule 4 mm","finding":"No nodule","due":"2027-01-01"}"#,
    );
    let e = craft(
        &secret,
        &network.to_hex(),
        &report,
        1,
        now_ms(),
        Kind::FollowupRecommend,
        heads.clone(),
        &twice,
    );
    let duplicate = bundle::encode([(&e, Some(twice.as_slice()))]);
    // 6. A million entries by a stranger.
    let flood = Flood {
        key: [0x5a; 32],
        network: network.to_hex(),
        log: report.clone(),
        parent: heads[0],
        sent: 0,
    };

    // 7. Split-view evidence whose later claim's signature was changed on the way.
    let forged_evidence = {
        use countersign_ledger::checkpoint::Checkpoint;
        let claim = |ms: u64, head: EntryId| {
            Checkpoint::new(network, log, secret.public(), ms, 1, vec![head])
                .unwrap()
                .sign(&secret)
        };
        let pair = SplitViewEvidence::new(claim(1, heads[0]), claim(2, Hash([3; 32]))).unwrap();
        let mut bytes = pair.encode();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        bytes
    };

    // What the node must do with each: cut the peer off (the bytes prove it misbehaved), or
    // end the pull (nothing to hold against it), or quarantine what a rule refuses.
    enum Outcome {
        CutOff(&'static str),
        PullEnds(&'static str),
        Quarantined(&'static str, u64),
    }
    for (name, attack_with, expected) in [
        (
            "forged",
            Attack::Forged(forged),
            Outcome::CutOff("not authentic"),
        ),
        (
            "other network",
            Attack::OtherNetwork(other),
            Outcome::CutOff("wrong_network"),
        ),
        (
            "endless duplicates",
            Attack::EndlessDuplicates(endless),
            Outcome::PullEnds("not asked for"),
        ),
        (
            "tampered payload",
            Attack::TamperedPayload(tampered),
            Outcome::CutOff("payload_hash"),
        ),
        // A stranger's entries wait for an admission that may yet come: kept up to one
        // author's quota of the quarantine, the rest left to be offered again.
        (
            "flood",
            Attack::Flood(flood),
            Outcome::Quarantined("unknown_author", countersign_app::MAX_QUARANTINE_PER_AUTHOR),
        ),
        // A member signed a payload that gives a key twice: a peer running an older build
        // could have stored it honestly, so it is quarantined, not held against the sender —
        // and still kept after the flood, which filled only its quota.
        (
            "duplicate key",
            Attack::DuplicateKey(duplicate),
            Outcome::Quarantined("bad_payload", 1),
        ),
        (
            "oversized",
            Attack::Oversized,
            Outcome::CutOff("exceeds the limit"),
        ),
        (
            "forged split-view evidence",
            Attack::ForgedEvidence(forged_evidence),
            Outcome::CutOff("split_view_bad_checkpoint"),
        ),
    ] {
        // A fresh member key per attack: a cut-off peer is not served until it expires.
        let mal = crate::sync::member_for_tests(&a, &format!("Mallory {name}"), "radiologist");
        let k = mal.key();
        let seed: [u8; 32] = mal.secret(&k).to_seed().as_slice().try_into().unwrap();
        let hostile = Hostile::new(network, log, k.parse().unwrap(), attack_with);
        let before = a.run(&["verify"]).json()["entries"].as_u64().unwrap();
        let quarantined_before = quarantine_count(&a);
        let result = sync_as(seed, hostile, &serving.1);
        match expected {
            Outcome::CutOff(why) => {
                let e = result.expect_err(name);
                assert!(e.contains("cut off") && e.contains(why), "{name}: {e}");
            }
            Outcome::PullEnds(why) => {
                let e = result.expect_err(name);
                assert!(!e.contains("cut off") && e.contains(why), "{name}: {e}");
            }
            Outcome::Quarantined(code, n) => {
                result.unwrap_or_else(|e| panic!("{name}: {e}"));
                // Up to the quarantine's bound, whatever was offered.
                let room = countersign_app::MAX_QUARANTINE - quarantined_before;
                assert_eq!(
                    quarantine_count(&a) - quarantined_before,
                    n.min(room),
                    "{name}"
                );
                let codes: i64 = a
                    .db()
                    .query_row(
                        "SELECT COUNT(*) FROM quarantine WHERE code = ?1",
                        [code],
                        |r| r.get(0),
                    )
                    .unwrap();
                assert!(codes >= 1, "{name}: nothing quarantined as {code}");
                // verify and sync status list it, with its rule.
                let listed = a.run(&["verify"]).json()["quarantined"].to_string();
                assert!(listed.contains(code), "{name}: {listed}");
                let status = a.ok(&["sync", "status"])["quarantined"].to_string();
                assert!(status.contains(code), "{name}: {status}");
            }
        }
        let v = a.run(&["verify"]).json();
        assert_eq!(
            v["entries"].as_u64().unwrap(),
            before,
            "{name}: something was stored"
        );
        assert_eq!(v["ok"], true, "{name}");
    }
    // `sync status --json` says, per peer, how many entries a quota refused to keep: the
    // flood's, past its author's quota.
    let refused = a.ok(&["sync", "status"])["quarantine_refused"].clone();
    let refused = refused.as_array().unwrap();
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert_eq!(refused[0]["bound"], "author_quota", "{refused:?}");
    // (At least: a later pull may have offered some again.)
    assert!(
        refused[0]["entries"].as_u64().unwrap()
            >= FLOOD - countersign_app::MAX_QUARANTINE_PER_AUTHOR,
        "{refused:?}"
    );
    // The flood was kept to the quarantine's bound and the oversized frame refused by its
    // length: the node never held more than a few batches, whatever was offered. A pull
    // holds at most three batches (one being stored, one checked, one arriving) of at most
    // 4000 entries each, decoded beside their bytes, and the allocator keeps what they used:
    // measured, a flood of 20 000 entries and one of 100 000 both peak about 80 MiB above an
    // honest sync, so the bound is on batches, not on what is offered.
    let peak = serving.0.peak_rss_kib();
    eprintln!("serve peaked at {peak} KiB ({baseline} KiB after an honest sync)");
    assert!(
        peak < baseline + 128 * 1024,
        "serve peaked at {peak} KiB, {baseline} KiB before the attacks"
    );
    // An honest member still syncs with the same node.
    let honest = crate::sync::member_for_tests(&a, "Dr Honest", "cardiologist");
    let synced = honest.ok(&["sync", "--peer", &serving.1, "--once"]);
    assert!(synced["received"].as_u64().unwrap() > 10, "{synced}");
}

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
