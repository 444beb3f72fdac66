//! Entries that break the rules arrive in a bundle: each is refused with a clear reason and
//! nothing from the bundle is stored.

use countersign_ledger::{bundle, Entry, Kind, SecretKey};

use crate::common::{craft, ids, now_ms, Home};

struct Fixture {
    home: Home,
    network: String,
    report: String,
    resident: SecretKey,
}

/// A demo department with a second, open report that has one section written.
fn fixture() -> Fixture {
    let (home, _) = Home::demo();
    let network = home.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string();
    let report = home.new_report("9.9.9", "ct-chest");
    home.write(&report, "findings", "Clear lungs.").ok();
    let resident = home.secret(&home.member("resident"));
    Fixture {
        home,
        network,
        report,
        resident,
    }
}

fn section(text: &str) -> Vec<u8> {
    format!(r#"{{"section":"impression","text":"{text}"}}"#).into_bytes()
}

impl Fixture {
    fn heads(&self) -> Vec<countersign_ledger::EntryId> {
        ids(&self.home.ok(&["report", "show", &self.report])["heads"])
    }

    fn entry(&self, key: &SecretKey, seq: u64, ts: u64, kind: Kind, payload: &[u8]) -> Entry {
        craft(
            key,
            &self.network,
            &self.report,
            seq,
            ts,
            kind,
            self.heads(),
            payload,
        )
    }

    /// Imports `entries` and asserts the import was refused with `reason`, storing nothing.
    fn refused(&self, entries: &[(&Entry, &[u8])], reason: &str) {
        self.refused_bytes(
            &bundle::encode(entries.iter().map(|(e, p)| (*e, Some(*p)))),
            reason,
        );
    }

    /// Imports raw bundle bytes and asserts the import was refused with `reason`.
    fn refused_bytes(&self, bytes: &[u8], reason: &str) {
        let before = self.home.count();
        let run = self.home.import(bytes);
        assert_eq!(
            run.code, 2,
            "import was not refused ({reason}): {}",
            run.stdout
        );
        assert!(
            run.stderr.contains(reason),
            "expected {reason:?} in {:?}",
            run.stderr
        );
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert_eq!(self.home.count(), before, "something was stored");
        assert_eq!(self.home.ok(&["verify"])["ok"], true);
    }
}

#[test]
fn entries_by_keys_not_on_the_roster_are_refused() {
    let f = fixture();
    let stranger = SecretKey::from_seed(&[0x57; 32]);
    let p = section("Written by a stranger.");
    let e = f.entry(&stranger, 1, now_ms(), Kind::SectionWrite, &p);
    f.refused(&[(&e, &p)], "is not on the roster");
}

#[test]
fn kinds_the_role_may_not_write_are_refused() {
    let f = fixture();
    let findings = f.home.ok(&["report", "show", &f.report])["sections"][1]["versions"][0]["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let cosign = format!(r#"{{"section":"findings","version":"{findings}"}}"#).into_bytes();
    let e = f.entry(&f.resident, 1, now_ms(), Kind::SectionCosign, &cosign);
    f.refused(
        &[(&e, &cosign)],
        "role resident may not write section.cosign",
    );
    let ai = br#"{"model":"not really"}"#;
    let e = f.entry(&f.resident, 1, now_ms(), Kind::AiResult, ai);
    f.refused(
        &[(&e, ai)],
        "refused by rule KindNotAllowed; nothing from this bundle was stored: role resident may not write ai.result",
    );
    let admin_only = br#"{"key":"00","from":0}"#;
    let e = craft(
        &f.resident,
        &f.network,
        &f.network,
        1,
        now_ms(),
        Kind::RosterRevoke,
        ids(&serde_json::json!([f.network])),
        admin_only,
    );
    f.refused(&[(&e, admin_only)], "is not an admin");
}

#[test]
fn revoked_keys_are_refused_after_revocation_but_their_history_stands() {
    let f = fixture();
    let resident_key = f.resident.public().to_hex();
    let from = now_ms();
    f.home.ok(&[
        "roster",
        "revoke",
        "--key",
        &resident_key,
        "--from",
        &from.to_string(),
        "--reason",
        "left the department",
    ]);
    let roster = f.home.ok(&["roster", "list"]);
    let member = roster
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == resident_key.as_str())
        .unwrap()
        .clone();
    assert_eq!(member["revoked_from"].as_u64(), Some(from));

    let p = section("After I left.");
    let late = f.entry(&f.resident, 1, from + 1_000, Kind::SectionWrite, &p);
    f.refused(&[(&late, &p)], "was revoked");

    // Signed before the revocation: still valid, and the demo report they wrote still verifies.
    let p = section("Before I left.");
    let valid_from = member["valid_from"].as_u64().unwrap();
    assert!(valid_from < from);
    let early = f.entry(
        &f.resident,
        1,
        (valid_from + from) / 2,
        Kind::SectionWrite,
        &p,
    );
    let run = f
        .home
        .import(&bundle::encode([(&early, Some(p.as_slice()))]));
    assert_eq!(run.json()["new"], 1, "{}", run.stderr);
    assert_eq!(f.home.ok(&["verify"])["ok"], true);
}

#[test]
fn entries_from_another_network_are_refused() {
    let f = fixture();
    let other = Home::new();
    other.ok(&[
        "init",
        "--name",
        "Dr Other",
        "--role",
        "attending",
        "--admin",
        "--network-name",
        "Elsewhere",
    ]);
    other.new_report("1.1", "ct-chest");
    f.refused_bytes(&other.bundle(None), "not this network");

    // Nor can the other network's admin sign into ours: they are not on our roster.
    let key = other.secret(&other.key());
    let p = section("Cross-network.");
    let e = f.entry(&key, 1, now_ms(), Kind::SectionWrite, &p);
    f.refused(&[(&e, &p)], "is not on the roster");
}

#[test]
fn entries_replayed_into_another_log_are_refused() {
    let f = fixture();
    // A valid entry from the demo report, with its log field pointed at the open report: the
    // header no longer matches its signature.
    let demo_report = f.home.ok(&["report", "list"])[0]["report"]
        .as_str()
        .unwrap()
        .to_string();
    let view = f.home.ok(&["report", "show", &demo_report]);
    let findings_entry = view["sections"][1]["versions"][0]["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let stored = bundle::decode(&f.home.bundle(Some(&demo_report))).unwrap();
    let original = stored
        .iter()
        .find(|r| countersign_ledger::Hash::of(&r.header).to_hex() == findings_entry)
        .unwrap();
    let mut moved = original.header.clone();
    moved[33..65].copy_from_slice(&f.report.parse::<countersign_ledger::Hash>().unwrap().0);
    let raw = bundle::encode_records(&[bundle::BundleRecord {
        header: moved,
        signature: original.signature,
        payload: None,
    }]);
    f.refused_bytes(&raw, "signature does not verify");

    // A correctly signed entry in the open report whose parent lives in the demo report.
    let attending = f.home.secret(&f.home.key());
    let p = section("Crossing logs.");
    let e = craft(
        &attending,
        &f.network,
        &f.report,
        3,
        now_ms(),
        Kind::SectionWrite,
        vec![findings_entry.parse().unwrap()],
        &p,
    );
    // This home has not loaded the demo log for the import, so the parent is simply unknown to
    // the open report's log.
    f.refused(&[(&e, &p)], "is not known");
}

#[test]
fn forged_signatures_and_mismatched_payloads_are_refused() {
    let f = fixture();
    let attending = f.home.secret(&f.home.key());
    let p = section("Genuine text.");
    let e = f.entry(&attending, 3, now_ms(), Kind::SectionWrite, &p);
    let tampered = section("Tampered text!");
    f.refused(&[(&e, &tampered)], "payload");
    let forged = SecretKey::from_seed(&[0xF0; 32]);
    let mut header = countersign_ledger::header::decode(e.header_bytes()).unwrap();
    header.author = forged.public();
    let as_forger = Entry::sign(header, &forged).unwrap();
    // Keep the forger's header but claim the attending wrote it: the signature cannot match.
    let mut raw_header = as_forger.header_bytes().to_vec();
    raw_header[65..97].copy_from_slice(attending.public().as_bytes());
    let raw = bundle::encode_records(&[bundle::BundleRecord {
        header: raw_header,
        signature: *as_forger.signature(),
        payload: Some(p),
    }]);
    f.refused_bytes(&raw, "signature does not verify");
}
