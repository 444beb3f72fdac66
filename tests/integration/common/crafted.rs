//! Entries built by hand as the app would: sealed reports and payloads, signed entries, and
//! their import into a home as a bundle.

use std::path::PathBuf;

use countersign_ledger::{Entry, EntryId, Header, Kind, SecretKey};

use super::{Home, Run};

impl Home {
    /// `payload` as a hand-built `kind` entry of `report` must carry it: sealed under the
    /// report's data key, which this home holds, as the app seals its own (a report created
    /// by the app is sealed, and a clear payload in it is refused: `payload_not_sealed`).
    pub fn sealed(&self, report: &str, kind: Kind, payload: &[u8]) -> Vec<u8> {
        use countersign_report::payload::seal;
        let key = self.data_key(report);
        let log: EntryId = report.parse().unwrap();
        seal::seal(&key, &next_nonce(), kind, Some(&log), payload)
    }

    /// `report`'s data key as this home holds it: its row is wrapped under the home's
    /// key-encryption key, which is made here from the home's own secret key as the app makes
    /// it (the member key's signature of the wrapping message); a row still in clear is read
    /// as it is.
    pub fn data_key(&self, report: &str) -> countersign_ledger::DataKey {
        let row: Vec<u8> = self
            .db()
            .query_row(
                "SELECT key FROM report_keys WHERE log = ?1",
                [hex::decode(report).unwrap()],
                |r| r.get(0),
            )
            .expect("this home holds the report's key");
        // A row an older build stored in clear is the key itself.
        if let Some(key) = countersign_ledger::DataKey::from_slice(&row) {
            return key;
        }
        let log: EntryId = report.parse().unwrap();
        self.kek()
            .unwrap(&log, &row)
            .expect("the row opens with the home's key")
    }

    /// This home's key-encryption key, made from its secret key (sealed under its passphrase).
    /// Kept per home and key: a test sealing thousands of payloads opens the key once.
    pub fn kek(&self) -> countersign_ledger::Kek {
        use countersign_ledger::Signer;
        type Keks = std::collections::HashMap<(PathBuf, String), countersign_ledger::Kek>;
        static KEKS: std::sync::OnceLock<std::sync::Mutex<Keks>> = std::sync::OnceLock::new();
        let profile = countersign_app::keys::KeyStore::new(&self.dir)
            .profile()
            .unwrap()
            .expect("an identity");
        let id = (self.dir.clone(), profile.key.to_hex());
        let keks = KEKS.get_or_init(Default::default);
        if let Some(kek) = keks.lock().unwrap().get(&id) {
            return kek.clone();
        }
        let secret = self.secret(&profile.key.to_hex());
        let message = countersign_ledger::kek_message(&profile.key);
        let signature = secret.try_sign(&message).unwrap();
        let kek = countersign_ledger::Kek::from_signature(&profile.key, &signature).unwrap();
        keks.lock().unwrap().insert(id, kek.clone());
        kek
    }

    /// Writes every section a `ct-chest` report needs signed (a normal head CT, as the
    /// archive tests read back), so it can be finalized.
    pub fn fill_every_section(&self, report: &str) {
        for (section, text) in [
            ("technique", "CT of the head."),
            ("findings", "Normal."),
            ("impression", "No acute abnormality."),
        ] {
            self.write(report, section, text).ok();
        }
    }

    /// Imports a hand-built sealed report's create, with its key, as a bundle.
    pub fn import_report(&self, report: &SealedReport) -> Run {
        self.import(&countersign_ledger::bundle::encode_keyed(
            &[report.bundle_key()],
            [(&report.create, Some(report.payload.as_slice()))],
        ))
    }

    /// Imports one entry (with its payload) as a bundle.
    pub fn import_one(&self, entry: &Entry, payload: &[u8]) -> Run {
        self.import(&countersign_ledger::bundle::encode([(
            entry,
            Some(payload),
        )]))
    }
}

/// A report hand-built as the app builds one: its `report.create` sealed under a data key of
/// its own (networks founded by this build refuse a clear create: `payload_not_sealed`). The
/// key is derived from the create's author, time and content, so a run repeats and no two
/// reports share one (`data_key_reused`).
pub struct SealedReport {
    pub create: Entry,
    /// The sealed `report.create` payload the entry commits to.
    pub payload: Vec<u8>,
    pub key: countersign_ledger::DataKey,
}

/// Signs a sealed `report.create` of `create` (clear JSON) by `author` at `ts`.
pub fn sealed_create(author: &SecretKey, network: &str, ts: u64, create: &[u8]) -> SealedReport {
    use countersign_report::payload::seal;
    let mut seed = b"countersign test data key\0".to_vec();
    seed.extend_from_slice(author.public().as_bytes());
    seed.extend_from_slice(&ts.to_be_bytes());
    seed.extend_from_slice(create);
    let key =
        countersign_ledger::DataKey::from_bytes(*countersign_ledger::Hash::of(&seed).as_bytes());
    let bound = seal::create_binding(&author.public(), ts);
    let payload = seal::seal(
        &key,
        &next_nonce(),
        Kind::ReportCreate,
        Some(&bound),
        create,
    );
    let zero = countersign_ledger::Hash::ZERO.to_hex();
    let create = craft(
        author,
        network,
        &zero,
        1,
        ts,
        Kind::ReportCreate,
        vec![],
        &payload,
    );
    SealedReport {
        create,
        payload,
        key,
    }
}

impl SealedReport {
    pub fn log(&self) -> EntryId {
        self.create.id()
    }

    /// `plaintext` sealed as the payload of a `kind` entry of this report.
    pub fn seal(&self, kind: Kind, plaintext: &[u8]) -> Vec<u8> {
        countersign_report::payload::seal::seal(
            &self.key,
            &next_nonce(),
            kind,
            Some(&self.log()),
            plaintext,
        )
    }

    /// The report's key as a bundle carries it (`bundle::encode_keyed`).
    pub fn bundle_key(&self) -> (EntryId, countersign_ledger::DataKey) {
        (self.log(), self.key.clone())
    }
}

/// A nonce never repeated in this process (the app draws nonces from the OS; a test needs
/// them only never to repeat).
fn next_nonce() -> [u8; countersign_report::payload::seal::NONCE_LEN] {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let mut nonce = [0u8; countersign_report::payload::seal::NONCE_LEN];
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    nonce[..8].copy_from_slice(&n.to_le_bytes());
    nonce
}

/// Signs an entry by `key` on top of the given parents, with a payload. Mirrors the header
/// fields one to one, hence the argument count.
#[allow(clippy::too_many_arguments)]
pub fn craft(
    key: &SecretKey,
    network: &str,
    log: &str,
    seq: u64,
    ts: u64,
    kind: Kind,
    parents: Vec<EntryId>,
    payload: &[u8],
) -> Entry {
    let h = Header::new(
        network.parse().unwrap(),
        log.parse().unwrap(),
        key.public(),
        seq,
        ts,
        kind,
        parents,
        payload,
    );
    Entry::sign(h, key).unwrap()
}

/// The payload of a `report.create` for a CT chest report on `study` (no images).
pub fn ct_chest_create(study: &str) -> Vec<u8> {
    let template = countersign_report::template("ct-chest").unwrap();
    serde_json::to_vec(&countersign_report::payload::ReportCreate {
        study: study.into(),
        template: "ct-chest".into(),
        template_hash: template.content_hash(),
        images: vec![],
    })
    .unwrap()
}

/// A network crafted by hand: its genesis, founded by `attending` ("Dr Ada", an admin) under
/// `department`, and the admission of `radiologist` as `radiologist_name`, both dated `t0`.
/// Returns the network id (hex) and the two entries with their payloads, in causal order —
/// for the tests (and the bundle bench) that build a department's entries straight, names an
/// honest home would refuse included.
pub fn crafted_roster(
    attending: &SecretKey,
    radiologist: &SecretKey,
    department: &str,
    radiologist_name: &str,
    t0: u64,
) -> (String, Vec<(Entry, Vec<u8>)>) {
    use countersign_ledger::roster::{GenesisPayload, MemberPayload};
    use countersign_ledger::{Hash, Role};
    let member = |k: &SecretKey, name: &str, role, admin| MemberPayload {
        valid_from: t0,
        ..MemberPayload::new(k.public(), name, role, admin)
    };
    let zero = Hash::ZERO.to_hex();
    let genesis_payload = serde_json::to_vec(&GenesisPayload {
        name: department.into(),
        founder: member(attending, "Dr Ada", Role::Attending, true),
        policy: None,
    })
    .unwrap();
    let genesis = craft(
        attending,
        &zero,
        &zero,
        1,
        t0,
        Kind::NetworkGenesis,
        vec![],
        &genesis_payload,
    );
    let network = genesis.id().to_hex();
    let admission = serde_json::to_vec(&member(
        radiologist,
        radiologist_name,
        Role::Radiologist,
        false,
    ))
    .unwrap();
    let admitted = craft(
        attending,
        &network,
        &network,
        2,
        t0,
        Kind::RosterMember,
        vec![genesis.id()],
        &admission,
    );
    (
        network,
        vec![(genesis, genesis_payload), (admitted, admission)],
    )
}
