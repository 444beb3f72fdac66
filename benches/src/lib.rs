//! Fixtures for Countersign's criterion benchmarks (`benches/`): a large, valid ledger built
//! quickly, and small statistics helpers for the one-line summaries the README quotes.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let ledger = countersign_benches::build_ledger(dir.path(), 2, 5).unwrap();
//! assert_eq!(ledger.entries, 2 + 2 * 5); // the roster (genesis, one member) and two reports
//! let store = countersign_store::Store::open(&dir.path().join("ledger.sqlite3")).unwrap();
//! let report = countersign_app::verify::verify_store(&store.db(), None).unwrap();
//! assert!(report.ok, "{:?}", report.problems);
//!
//! // The same ledger sealed, report by report, under keys stored beside it.
//! let sealed = tempfile::tempdir().unwrap();
//! countersign_benches::build_sealed_ledger(sealed.path(), 2, 5).unwrap();
//! let store = countersign_store::Store::open(&sealed.path().join("ledger.sqlite3")).unwrap();
//! let report = countersign_app::verify::verify_store(&store.db(), None).unwrap();
//! assert!(report.ok, "{:?}", report.problems);
//! ```

use std::path::Path;

use countersign_ledger::roster::{GenesisPayload, MemberPayload};
use countersign_ledger::{DataKey, Entry, Hash, Header, Kind, Role, SecretKey};
use countersign_report::payload::{seal, ReportCreate, SectionWrite};
use countersign_store::{Store, StoreError};

#[derive(Debug)]
pub struct Ledger {
    pub entries: u64,
    /// Every (signed message, signature, key) for the raw ed25519 baseline.
    pub signatures: Vec<(Vec<u8>, [u8; 64], [u8; 32])>,
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialisable")
}

/// The bench department: an attending admin who founded it and a radiologist, with the
/// roster's two entries.
struct Department {
    attending: SecretKey,
    radiologist: SecretKey,
    network: Hash,
    roster: Vec<(Entry, Vec<u8>)>,
}

const T0: u64 = 1_764_000_000_000;

fn sign(h: Header, k: &SecretKey) -> Entry {
    Entry::sign(h, k).expect("author signs")
}

fn department() -> Department {
    let attending = SecretKey::from_seed(&[1; 32]);
    let radiologist = SecretKey::from_seed(&[2; 32]);
    let member = |k: &SecretKey, name: &str, role, admin| MemberPayload {
        valid_from: T0,
        ..MemberPayload::new(k.public(), name, role, admin)
    };
    let g = json(&GenesisPayload {
        name: "Bench".into(),
        founder: member(&attending, "Dr A", Role::Attending, true),
        policy: None,
    });
    let genesis = sign(
        Header::new(
            Hash::ZERO,
            Hash::ZERO,
            attending.public(),
            1,
            T0,
            Kind::NetworkGenesis,
            vec![],
            &g,
        ),
        &attending,
    );
    let network = genesis.id();
    let m = json(&member(&radiologist, "Dr R", Role::Radiologist, false));
    let add = sign(
        Header::new(
            network,
            network,
            attending.public(),
            2,
            T0,
            Kind::RosterMember,
            vec![network],
            &m,
        ),
        &attending,
    );
    Department {
        attending,
        radiologist,
        network,
        roster: vec![(genesis, g), (add, m)],
    }
}

/// The study report `r` is on.
pub fn study_of(r: usize) -> String {
    format!("1.2.3.{r}")
}

/// Report `r`'s entries: its report.create and `per_report - 1` section writes by both
/// members in one chain.
fn report_entries(d: &Department, r: usize, per_report: usize) -> Vec<(Entry, Vec<u8>)> {
    report_entries_sealed(d, r, per_report, None)
}

/// Report `r`'s data key in a sealed bench ledger (made from `r`: a bench needs no secret).
pub fn bench_key(r: usize) -> DataKey {
    let mut k = [0x5a; 32];
    k[..8].copy_from_slice(&(r as u64).to_le_bytes());
    DataKey::from_bytes(k)
}

/// [`report_entries`], every payload sealed under `key` when there is one, as the app seals
/// them (each with its own nonce).
fn report_entries_sealed(
    d: &Department,
    r: usize,
    per_report: usize,
    key: Option<&DataKey>,
) -> Vec<(Entry, Vec<u8>)> {
    let nonce = |i: usize| {
        let mut n = [0u8; seal::NONCE_LEN];
        n[..8].copy_from_slice(&(r as u64).to_le_bytes());
        n[8..16].copy_from_slice(&(i as u64).to_le_bytes());
        n
    };
    let seal_as = |kind, log: Option<&Hash>, i: usize, p: Vec<u8>| match key {
        Some(k) => seal::seal(k, &nonce(i), kind, log, &p),
        None => p,
    };
    let sections = ["technique", "findings", "impression"];
    let ts = T0 + 1 + r as u64;
    let c = json(&ReportCreate {
        study: study_of(r),
        template: "ct-chest".into(),
        template_hash: countersign_report::template("ct-chest")
            .expect("built in")
            .content_hash(),
        images: vec![],
    });
    let bound = seal::create_binding(&d.attending.public(), ts);
    let c = seal_as(Kind::ReportCreate, Some(&bound), 0, c);
    let create = sign(
        Header::new(
            d.network,
            Hash::ZERO,
            d.attending.public(),
            1,
            ts,
            Kind::ReportCreate,
            vec![],
            &c,
        ),
        &d.attending,
    );
    let log = create.id();
    let mut head = log;
    let mut seqs = [1u64, 0];
    let mut entries = vec![(create, c)];
    for i in 1..per_report {
        let who = i % 2;
        let key = [&d.attending, &d.radiologist][who];
        seqs[who] += 1;
        let p = json(&SectionWrite {
            section: sections[i % 3].into(),
            text: format!("Text {i} of report {r}."),
            fields: Default::default(),
            macros: Vec::new(),
            links: Vec::new(),
        });
        let p = seal_as(Kind::SectionWrite, Some(&log), i, p);
        let e = sign(
            Header::new(
                d.network,
                log,
                key.public(),
                seqs[who],
                ts,
                Kind::SectionWrite,
                vec![head],
                &p,
            ),
            key,
        );
        head = e.id();
        entries.push((e, p));
    }
    entries
}

/// Builds `<dir>/ledger.sqlite3` holding a department (an attending and a radiologist) and
/// `reports` reports of `per_report` entries each (report.create plus section writes by both),
/// every entry valid under the ledger and report rules. Inserted in one transaction for speed.
pub fn build_ledger(dir: &Path, reports: usize, per_report: usize) -> Result<Ledger, StoreError> {
    build(dir, reports, per_report, false)
}

/// [`build_ledger`] with every report sealed under its own data key ([`bench_key`]), stored
/// beside it as the app stores it: the same work for `verify` plus opening every payload.
pub fn build_sealed_ledger(
    dir: &Path,
    reports: usize,
    per_report: usize,
) -> Result<Ledger, StoreError> {
    build(dir, reports, per_report, true)
}

fn build(
    dir: &Path,
    reports: usize,
    per_report: usize,
    sealed: bool,
) -> Result<Ledger, StoreError> {
    let d = department();
    let mut entries: Vec<(Entry, Vec<u8>)> = d.roster.clone();
    let mut keys = Vec::new();
    for r in 0..reports {
        let key = sealed.then(|| bench_key(r));
        let report = report_entries_sealed(&d, r, per_report, key.as_ref());
        if let Some(key) = key {
            keys.push((report[0].0.id(), key));
        }
        entries.extend(report);
    }
    let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
    store.write(|db| {
        db.set_meta("network", &d.network.to_hex())?;
        for (e, p) in &entries {
            db.insert_entry(e, Some(p))?;
        }
        Ok::<_, StoreError>(())
    })?;
    drop(store);
    // This store has no member key to wrap the data keys under (issue 16): they are stored as
    // a build from before wrapping stored them, in clear, which every reader still takes
    // without a key-encryption key. The figures then leave out one 32-byte
    // XChaCha20-Poly1305 open per report loaded.
    if !keys.is_empty() {
        let conn = rusqlite::Connection::open(dir.join("ledger.sqlite3"))
            .map_err(StoreError::NotADatabase)?;
        for (log, key) in &keys {
            conn.execute(
                "INSERT INTO report_keys (log, key, key_sha256, wrapped) VALUES (?1, ?2, ?3, 0)",
                rusqlite::params![
                    log.as_bytes(),
                    key.as_bytes().as_slice(),
                    countersign_ledger::Hash::of(key.as_bytes()).as_bytes()
                ],
            )
            .map_err(StoreError::NotADatabase)?;
        }
    }
    let signatures = entries
        .iter()
        .map(|(e, _)| {
            let mut msg = countersign_ledger::SIGNATURE_DOMAIN.to_vec();
            msg.extend_from_slice(e.header_bytes());
            (msg, *e.signature(), *e.header().author.as_bytes())
        })
        .collect();
    Ok(Ledger {
        entries: entries.len() as u64,
        signatures,
    })
}

/// Reports signed (on every core) and stored (in one transaction) at a time by
/// [`build_ledger_at_scale`]: the next chunk is signed while one is stored.
const SCALE_CHUNK: usize = 20_000;

/// [`build_ledger`] for a million reports: the same department and reports, signed on every
/// core a chunk at a time while the chunk before is stored, never held whole. With
/// `instances`, every report's study is also in the image index (one instance, dated over ten
/// years), as if imported, so the desktop's study list lists them. Returns the entries stored.
pub fn build_ledger_at_scale(
    dir: &Path,
    reports: usize,
    per_report: usize,
    instances: bool,
) -> Result<u64, StoreError> {
    use rayon::prelude::*;
    let d = department();
    let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
    store.write(|db| {
        db.set_meta("network", &d.network.to_hex())?;
        for (e, p) in &d.roster {
            db.insert_entry(e, Some(p))?;
        }
        Ok::<_, StoreError>(())
    })?;
    let mut stored = d.roster.len() as u64;
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<(Entry, Vec<u8>)>)>(1);
    std::thread::scope(|scope| {
        let d = &d;
        scope.spawn(move || {
            for start in (0..reports).step_by(SCALE_CHUNK) {
                let end = (start + SCALE_CHUNK).min(reports);
                let chunk: Vec<(Entry, Vec<u8>)> = (start..end)
                    .into_par_iter()
                    .flat_map_iter(|r| report_entries(d, r, per_report))
                    .collect();
                if tx.send((start, chunk)).is_err() {
                    return;
                }
            }
        });
        for (start, chunk) in rx {
            store.write(|db| {
                for (e, p) in &chunk {
                    db.insert_entry(e, Some(p))?;
                }
                if instances {
                    let first = start;
                    let count = chunk.len() / per_report.max(1);
                    for r in first..first + count {
                        db.insert_instance(&instance_of(r))?;
                    }
                }
                Ok::<_, StoreError>(())
            })?;
            stored += chunk.len() as u64;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(stored)
}

/// The one instance of report `r`'s study in the image index (no file behind it).
fn instance_of(r: usize) -> countersign_store::Instance {
    let day = r % 3650;
    countersign_store::Instance {
        sha256: Hash::of(study_of(r).as_bytes()).0,
        size: 0,
        study: study_of(r),
        series: Some(format!("{}.1", study_of(r))),
        instance: Some(format!("{}.1.1", study_of(r))),
        patient: Some(format!("Scale^{r}")),
        patient_id: Some(format!("P{r}")),
        issuer: None,
        study_date: Some(format!(
            "{:04}{:02}{:02}",
            2016 + day / 365,
            1 + day % 365 / 31,
            1 + day % 31 % 28
        )),
        modality: Some("CT".into()),
        study_description: Some("CT chest".into()),
        series_description: None,
        sop_class: "CT Image Storage".into(),
        frames: 1,
        imported_ms: T0,
        instance_number: Some(1),
        slice_location: None,
        sop_class_uid: Some("1.2.840.10008.5.1.4.1.1.2".into()),
        plane: None,
        position: None,
    }
}

/// The q-quantile (0..=1) of `samples`, which it sorts.
pub fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples[i.min(samples.len() - 1)]
}

/// How a benchmark's SUMMARY line states a goal: the goal and whether this run met it, so a
/// reader never has to compare the numbers against the header by hand.
pub fn goal(text: &str, met: bool) -> String {
    format!("goal {text}: {}", if met { "met" } else { "NOT met" })
}

/// What [`build_ai_department`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiDepartment {
    pub entries: u64,
    pub results: u64,
    /// Reviews by decision: accepted, edited, rejected.
    pub decisions: [u64; 3],
}

/// Builds `<dir>/ledger.sqlite3` for the `ai stats` benchmark: the bench department plus two
/// versions of one AI model (two roster members, `soft-tissue-stats` 1.0 and 2.0), and
/// `reports` reports, each granted to one version (alternately) and holding `per_report` AI
/// results, every one reviewed by the attending — accepted, edited and rejected in turn. Every
/// entry is valid under the ledger and report rules; stored in one transaction.
pub fn build_ai_department(
    dir: &Path,
    reports: usize,
    per_report: usize,
) -> Result<AiDepartment, StoreError> {
    use countersign_ledger::roster::AiModelInfo;
    use countersign_report::payload::{AccessChange, AiResult, AiReview, Decision};

    let d = department();
    let models = [
        SecretKey::from_seed(&[3; 32]),
        SecretKey::from_seed(&[4; 32]),
    ];
    let mut entries: Vec<(Entry, Vec<u8>)> = d.roster.clone();
    let mut roster_head = entries[1].0.id();
    for (i, (key, version)) in models.iter().zip(["1.0", "2.0"]).enumerate() {
        let m = json(&MemberPayload {
            valid_from: T0,
            ai_model: Some(AiModelInfo {
                vendor: "Countersign examples".into(),
                model: "soft-tissue-stats".into(),
                version: version.into(),
                regulatory_id: None,
            }),
            ..MemberPayload::new(key.public(), "soft-tissue-stats", Role::AiModel, false)
        });
        let add = sign(
            Header::new(
                d.network,
                d.network,
                d.attending.public(),
                3 + i as u64,
                T0,
                Kind::RosterMember,
                vec![roster_head],
                &m,
            ),
            &d.attending,
        );
        roster_head = add.id();
        entries.push((add, m));
    }
    let mut results = 0;
    let mut decisions = [0u64; 3];
    for r in 0..reports {
        let mut report = report_entries(&d, r, 1);
        let log = report[0].0.id();
        let ts = T0 + 1 + r as u64;
        let (model, version) = (&models[r % 2], ["1.0", "2.0"][r % 2]);
        let mut head = log;
        let mut attending_seq = 1;
        let next = |key: &SecretKey, seq: u64, kind: Kind, p: Vec<u8>, head: &mut Hash| {
            let e = sign(
                Header::new(d.network, log, key.public(), seq, ts, kind, vec![*head], &p),
                key,
            );
            *head = e.id();
            (e, p)
        };
        attending_seq += 1;
        let grant = json(&AccessChange {
            member: model.public(),
        });
        report.push(next(
            &d.attending,
            attending_seq,
            Kind::AccessGrant,
            grant,
            &mut head,
        ));
        for i in 0..per_report {
            let proposal = json(&AiResult {
                model: "soft-tissue-stats".into(),
                version: version.into(),
                inputs: vec![],
                parameters: Default::default(),
                outputs: Default::default(),
                section: "findings".into(),
                text: format!("Soft tissue mean {} HU over {} mm2.", 20 + i, 100 + r),
            });
            let result = next(model, 1 + i as u64, Kind::AiResult, proposal, &mut head);
            let decision = [Decision::Accept, Decision::Edit, Decision::Reject][(r + i) % 3];
            decisions[(r + i) % 3] += 1;
            let review = json(&AiReview {
                result: result.0.id(),
                decision,
                text: (decision == Decision::Edit)
                    .then(|| format!("Soft tissue mean {} HU, as read.", 21 + i)),
                comment: None,
            });
            report.push(result);
            attending_seq += 1;
            report.push(next(
                &d.attending,
                attending_seq,
                Kind::AiReview,
                review,
                &mut head,
            ));
            results += 1;
        }
        entries.extend(report);
    }
    let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
    store.write(|db| {
        db.set_meta("network", &d.network.to_hex())?;
        for (e, p) in &entries {
            db.insert_entry(e, Some(p))?;
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(AiDepartment {
        entries: entries.len() as u64,
        results,
        decisions,
    })
}
