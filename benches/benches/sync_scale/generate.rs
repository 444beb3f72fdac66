//! Generating the bench's homes straight into SQLite: the roster and reports of three
//! entries each, signed on every core (`build`), and the new reports of one difference
//! (`add_new_reports`).

use std::path::Path;

use countersign_ledger::roster::{GenesisPayload, MemberPayload};
use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};
use countersign_report::payload::{ReportCreate, SectionWrite};
use rayon::prelude::*;

pub(crate) fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("serialisable")
}

pub(crate) fn key(seed: u8) -> SecretKey {
    SecretKey::from_seed(&[seed; 32])
}

/// The roster (genesis by key 1, members 2 and 3) and `reports` reports of three entries
/// each (a create and two section writes), signed on every core, then stored in one
/// transaction per 100 000 entries. Returns the network id.
pub(crate) fn build(dir: &Path, reports: usize) -> Hash {
    std::fs::create_dir_all(dir).expect("dir");
    let t0 = 1_764_000_000_000u64;
    let member = |k: &SecretKey, name: &str, role, admin| MemberPayload {
        valid_from: t0,
        ..MemberPayload::new(k.public(), name, role, admin)
    };
    let g = json(&GenesisPayload {
        name: "Scale".into(),
        founder: member(&key(1), "Dr A", Role::Attending, true),
        policy: None,
    });
    let sign = |h: Header, k: &SecretKey| Entry::sign(h, k).expect("signs");
    let genesis = sign(
        Header::new(
            Hash::ZERO,
            Hash::ZERO,
            key(1).public(),
            1,
            t0,
            Kind::NetworkGenesis,
            vec![],
            &g,
        ),
        &key(1),
    );
    let network = genesis.id();
    let mut roster = vec![(genesis, g)];
    let mut head = network;
    for (seq, (seed, name)) in [(2u8, "Dr R"), (3u8, "Dr N")].into_iter().enumerate() {
        let m = json(&member(&key(seed), name, Role::Radiologist, false));
        let e = sign(
            Header::new(
                network,
                network,
                key(1).public(),
                seq as u64 + 2,
                t0,
                Kind::RosterMember,
                vec![head],
                &m,
            ),
            &key(1),
        );
        head = e.id();
        roster.push((e, m));
    }
    let template = countersign_report::template("ct-chest")
        .expect("built in")
        .content_hash();
    let per_report = |r: usize| -> Vec<(Entry, Vec<u8>)> {
        let (a, b) = (key(1), key(2));
        let ts = t0 + 1000 + r as u64 * 10;
        let c = json(&ReportCreate {
            study: format!("1.2.826.0.1.3680043.10.1313.{r}"),
            template: "ct-chest".into(),
            template_hash: template,
            images: vec![],
        });
        let create = sign(
            Header::new(
                network,
                Hash::ZERO,
                a.public(),
                1,
                ts,
                Kind::ReportCreate,
                vec![],
                &c,
            ),
            &a,
        );
        let log = create.id();
        let mut out = vec![(create, c)];
        let mut head = log;
        for (i, (k, seq)) in [(&b, 1u64), (&a, 2u64)].into_iter().enumerate() {
            let p = json(&SectionWrite {
                section: ["findings", "impression"][i].into(),
                text: format!("Text {i} of report {r}."),
                fields: Default::default(),
                macros: Vec::new(),
                links: Vec::new(),
            });
            let e = sign(
                Header::new(
                    network,
                    log,
                    k.public(),
                    seq,
                    ts + 1 + i as u64,
                    Kind::SectionWrite,
                    vec![head],
                    &p,
                ),
                k,
            );
            head = e.id();
            out.push((e, p));
        }
        out
    };
    let mut store = countersign_store::Store::open(&dir.join("ledger.sqlite3")).expect("store");
    store
        .write(|db| {
            db.set_meta("network", &network.to_hex())?;
            for (e, p) in &roster {
                db.insert_entry(e, Some(p))?;
            }
            Ok::<_, countersign_store::StoreError>(())
        })
        .expect("roster");
    for chunk in (0..reports).collect::<Vec<_>>().chunks(33_333) {
        let entries: Vec<(Entry, Vec<u8>)> =
            chunk.par_iter().flat_map_iter(|r| per_report(*r)).collect();
        store
            .write(|db| {
                for (e, p) in &entries {
                    db.insert_entry(e, Some(p))?;
                }
                Ok::<_, countersign_store::StoreError>(())
            })
            .expect("reports");
    }
    network
}

/// `n` new reports (one entry each), dated now: the difference between the homes. Returns
/// their bytes (header, signature, payload).
pub(crate) fn add_new_reports(dir: &Path, network: Hash, n: usize, run: usize) -> u64 {
    let template = countersign_report::template("ct-chest")
        .expect("built in")
        .content_hash();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as u64;
    let entries: Vec<(Entry, Vec<u8>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let c = json(&ReportCreate {
                study: format!("1.2.826.0.1.3680043.10.1313.new.{run}.{i}"),
                template: "ct-chest".into(),
                template_hash: template,
                images: vec![],
            });
            let e = Entry::sign(
                Header::new(
                    network,
                    Hash::ZERO,
                    key(1).public(),
                    1,
                    now - 60_000 + i as u64,
                    Kind::ReportCreate,
                    vec![],
                    &c,
                ),
                &key(1),
            )
            .expect("signs");
            (e, c)
        })
        .collect();
    let bytes = entries
        .iter()
        .map(|(e, p)| (e.header_bytes().len() + 64 + p.len()) as u64)
        .sum();
    let mut store = countersign_store::Store::open(&dir.join("ledger.sqlite3")).expect("store");
    store
        .write(|db| {
            for (e, p) in &entries {
                db.insert_entry(e, Some(p))?;
            }
            Ok::<_, countersign_store::StoreError>(())
        })
        .expect("difference");
    bytes
}
