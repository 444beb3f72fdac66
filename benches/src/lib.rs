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
//! ```

use std::path::Path;

use countersign_ledger::roster::{GenesisPayload, MemberPayload};
use countersign_ledger::{Entry, Hash, Header, Kind, Role, SecretKey};
use countersign_report::payload::{ReportCreate, SectionWrite};
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

/// Builds `<dir>/ledger.sqlite3` holding a department (an attending and a radiologist) and
/// `reports` reports of `per_report` entries each (report.create plus section writes by both),
/// every entry valid under the ledger and report rules. Inserted in one transaction for speed.
pub fn build_ledger(dir: &Path, reports: usize, per_report: usize) -> Result<Ledger, StoreError> {
    let attending = SecretKey::from_seed(&[1; 32]);
    let radiologist = SecretKey::from_seed(&[2; 32]);
    let t0 = 1_764_000_000_000u64;
    let member = |k: &SecretKey, name: &str, role, admin| MemberPayload {
        valid_from: t0,
        ..MemberPayload::new(k.public(), name, role, admin)
    };
    let mut entries: Vec<(Entry, Vec<u8>)> = Vec::new();
    let sign = |h: Header, k: &SecretKey| Entry::sign(h, k).expect("author signs");
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
            t0,
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
            t0,
            Kind::RosterMember,
            vec![network],
            &m,
        ),
        &attending,
    );
    entries.push((genesis, g));
    entries.push((add, m));
    let sections = ["technique", "findings", "impression"];
    for r in 0..reports {
        let ts = t0 + 1 + r as u64;
        let c = json(&ReportCreate {
            study: format!("1.2.3.{r}"),
            template: "ct-chest".into(),
            template_hash: countersign_report::template("ct-chest")
                .expect("built in")
                .content_hash(),
            images: vec![],
        });
        let create = sign(
            Header::new(
                network,
                Hash::ZERO,
                attending.public(),
                1,
                ts,
                Kind::ReportCreate,
                vec![],
                &c,
            ),
            &attending,
        );
        let log = create.id();
        let mut head = log;
        let mut seqs = [1u64, 0];
        entries.push((create, c));
        for i in 1..per_report {
            let who = i % 2;
            let key = [&attending, &radiologist][who];
            seqs[who] += 1;
            let p = json(&SectionWrite {
                section: sections[i % 3].into(),
                text: format!("Text {i} of report {r}."),
                fields: Default::default(),
            });
            let e = sign(
                Header::new(
                    network,
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
    }
    let mut store = Store::open(&dir.join("ledger.sqlite3"))?;
    store.write(|db| {
        db.set_meta("network", &network.to_hex())?;
        for (e, p) in &entries {
            db.insert_entry(e, Some(p))?;
        }
        Ok::<_, StoreError>(())
    })?;
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
