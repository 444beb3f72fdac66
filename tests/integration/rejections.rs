//! Entries that break the rules arrive in a bundle. Two kinds of refusal:
//! - an entry that cannot be stored at all (it does not verify, belongs to another network or
//!   log, names parents nobody has, or its author was never on the roster): the import is
//!   refused with one line and nothing from the bundle is stored;
//! - an authentic entry a rule refuses (a role writing what it may not, a revoked key outside
//!   its frontier): it is stored, so every peer judges the same set, but it counts for nothing —
//!   the report reads as before, and the import and `verify` name it with the rule's code.

use countersign_ledger::{bundle, Entry, Kind, SecretKey};

use crate::common::{craft, ids, now_ms, sealed_create, Home};

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
    /// A section write's payload as a member's home signs it into the fixture's report:
    /// sealed under the report's data key (a clear one is `payload_not_sealed`).
    fn section(&self, text: &str) -> Vec<u8> {
        self.sealed(Kind::SectionWrite, &section(text))
    }

    fn sealed(&self, kind: Kind, payload: &[u8]) -> Vec<u8> {
        self.home.sealed(&self.report, kind, payload)
    }

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

    /// The report's section texts, as it reads now.
    fn texts(&self) -> Vec<serde_json::Value> {
        let view = self.home.ok(&["report", "show", &self.report]);
        view["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text"].clone())
            .collect()
    }

    /// Imports `entries` and asserts the import was refused with `reason`, storing nothing.
    fn rejected(&self, entries: &[(&Entry, &[u8])], reason: &str) {
        self.rejected_bytes(
            &bundle::encode(entries.iter().map(|(e, p)| (*e, Some(*p)))),
            reason,
        );
    }

    /// Imports raw bundle bytes and asserts the import was refused with `reason`.
    fn rejected_bytes(&self, bytes: &[u8], reason: &str) {
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

    /// Imports `entries`, which a rule refuses: stored, counting for nothing, named with `code`
    /// by the import, by `report show` and by `verify`.
    fn stored_refused(&self, entries: &[(&Entry, &[u8])], code: &str) {
        let texts = self.texts();
        let run = self
            .home
            .import(&bundle::encode(entries.iter().map(|(e, p)| (*e, Some(*p)))));
        assert_eq!(run.code, 1, "a refused entry is a problem: {}", run.stdout);
        let imported = run.json();
        let refused = imported["refused"].as_array().unwrap();
        assert!(
            refused.iter().any(|r| r["code"] == code),
            "{code} not in {imported}"
        );
        assert_eq!(self.texts(), texts, "a refused entry changed the report");
        let id = entries[0].0.id().to_hex();
        let view = self.home.ok(&["report", "show", &self.report]);
        let shown = view["provenance"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["entry"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} not in the provenance"))
            .clone();
        assert_eq!(shown["status"]["state"], "refused", "{shown}");
        assert_eq!(shown["status"]["code"], code, "{shown}");
        let verify = self.home.run(&["verify"]);
        assert_eq!(verify.code, 1);
        assert!(
            verify.json()["problems"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["entry"] == id.as_str() && p["code"] == code),
            "{}",
            verify.stdout
        );
    }
}

#[test]
fn entries_by_keys_not_on_the_roster_are_refused() {
    let f = fixture();
    let stranger = SecretKey::from_seed(&[0x57; 32]);
    let p = f.section("Written by a stranger.");
    let e = f.entry(&stranger, 1, now_ms(), Kind::SectionWrite, &p);
    f.rejected(&[(&e, &p)], "is not on the roster");
}

#[test]
fn kinds_the_role_may_not_write_are_refused() {
    let f = fixture();
    let findings = f.home.ok(&["report", "show", &f.report])["sections"][1]["versions"][0]["entry"]
        .as_str()
        .unwrap()
        .to_string();
    // A payload that is not what its kind says is not even stored.
    let ai = &f.sealed(Kind::AiResult, br#"{"model":"not really"}"#)[..];
    let e = f.entry(&f.resident, 1, now_ms(), Kind::AiResult, ai);
    f.rejected(&[(&e, ai)], "payload is not valid");
    // Roster entries need an admin in the entry's own past.
    let revoke = format!(r#"{{"key":"{}","reason":"coup"}}"#, f.home.key()).into_bytes();
    let e = craft(
        &f.resident,
        &f.network,
        &f.network,
        1,
        now_ms(),
        Kind::RosterRevoke,
        ids(&serde_json::json!([f.network])),
        &revoke,
    );
    f.rejected(&[(&e, &revoke)], "not_admin");
    // A resident's co-signature is authentic but not one the role may give: kept, refused.
    let cosign = f.sealed(
        Kind::SectionCosign,
        format!(r#"{{"section":"findings","version":"{findings}"}}"#).as_bytes(),
    );
    let e = f.entry(&f.resident, 1, now_ms(), Kind::SectionCosign, &cosign);
    f.stored_refused(&[(&e, &cosign)], "role_may_not_write");
}

/// The test that once asserted a backdated signature after a revocation was fine: a revoked
/// key's entries outside the frontier the revocation vouches for are refused whatever date they
/// carry; what it signed inside stands; an honest entry that arrives late is readmitted.
#[test]
fn revoked_keys_are_refused_outside_their_frontier_whatever_their_timestamp() {
    let f = fixture();
    let resident_key = f.resident.public().to_hex();
    // Before the revocation: an honest entry the admin holds, and one still in the post.
    let honest = f.section("Signed before I left, and seen by the admin.");
    let held = f.entry(&f.resident, 1, now_ms(), Kind::SectionWrite, &honest);
    assert_eq!(
        f.home
            .import(&bundle::encode([(&held, Some(honest.as_slice()))]))
            .json()["new"],
        1
    );
    let late_mail = f.section("Signed before I left, delivered after.");
    let in_the_post = f.entry(&f.resident, 2, now_ms(), Kind::SectionWrite, &late_mail);

    f.home.ok(&[
        "roster",
        "revoke",
        "--key",
        &resident_key,
        "--reason",
        "left the department",
    ]);
    let member = f
        .home
        .ok(&["roster", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == resident_key.as_str())
        .unwrap()
        .clone();
    assert!(member["revoked"]["entry"].is_string(), "{member}");

    // Dated a year before the revocation, in a report the key starts now: refused.
    let year_ago = now_ms() - 365 * 24 * 3600 * 1000;
    let create = crate::common::ct_chest_create("6.6.6");
    let backdated = sealed_create(&f.resident, &f.network, year_ago, &create);
    let run = f.home.import_report(&backdated);
    let backdated = backdated.create;
    assert_eq!(run.code, 1);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "revoked",
        "{}",
        run.stdout
    );
    let listed = f.home.ok(&["report", "list"]);
    let shown = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report"] == backdated.id().to_hex().as_str())
        .unwrap()
        .clone();
    assert_eq!(shown["status"], "refused");

    // The entry in the post arrives: outside the frontier, refused like any other...
    f.stored_refused(&[(&in_the_post, &late_mail)], "revoked");
    // ...until an admin vouches for it. Then it stands, and so does its chain.
    f.home
        .ok(&["roster", "readmit", "--entry", &in_the_post.id().to_hex()]);
    let view = f.home.ok(&["report", "show", &f.report]);
    let status = |id: &Entry| {
        view["provenance"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["entry"] == id.id().to_hex().as_str())
            .unwrap()["status"]["state"]
            .clone()
    };
    assert_eq!(status(&held), "verified");
    assert_eq!(status(&in_the_post), "verified");
    let impression = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "impression")
        .unwrap()["text"]
        .clone();
    assert_eq!(impression, "Signed before I left, delivered after.");
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
    f.rejected_bytes(&other.bundle(None), "not this network");

    // Nor can the other network's admin sign into ours: they are not on our roster.
    let key = other.secret(&other.key());
    let p = f.section("Cross-network.");
    let e = f.entry(&key, 1, now_ms(), Kind::SectionWrite, &p);
    f.rejected(&[(&e, &p)], "is not on the roster");
}

#[test]
fn entries_replayed_into_another_log_are_refused() {
    let f = fixture();
    // A valid entry from the demo report, with its log field pointed at the open report: the
    // header no longer matches its signature.
    // The demo's report: the one that is not the open report (the list shows the most recently
    // changed first).
    let demo_report = f
        .home
        .ok(&["report", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["report"].as_str().unwrap().to_string())
        .find(|r| *r != f.report)
        .unwrap();
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
    f.rejected_bytes(&raw, "signature does not verify");

    // A correctly signed entry in the open report whose parent lives in the demo report.
    let attending = f.home.secret(&f.home.key());
    let p = f.section("Crossing logs.");
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
    f.rejected(&[(&e, &p)], "is not known");
}

#[test]
fn forged_signatures_and_mismatched_payloads_are_refused() {
    let f = fixture();
    let attending = f.home.secret(&f.home.key());
    let p = f.section("Genuine text.");
    let e = f.entry(&attending, 3, now_ms(), Kind::SectionWrite, &p);
    let tampered = f.section("Tampered text!");
    f.rejected(&[(&e, &tampered)], "payload");
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
    f.rejected_bytes(&raw, "signature does not verify");
}

/// Found in review: once the held table was full (an insider's entries dated next year fill it
/// for good), every later batch carrying an entry dated ahead was refused whole, cutting off the
/// honest peer that sent it. Now the entry that does not fit is not kept — reported, to come
/// again with a later sync — and the rest of its batch is stored.
#[test]
fn a_full_held_table_leaves_out_the_entry_dated_ahead_not_its_batch() {
    let f = fixture();
    let next_year = now_ms() + 365 * 24 * 3600 * 1000;
    let heads = f.heads();
    let filler: Vec<(Entry, Vec<u8>)> = (1..=10_000u64) // countersign_store::MAX_HELD
        .map(|seq| {
            let p = f.section(&format!("From next year, {seq}."));
            let e = craft(
                &f.resident,
                &f.network,
                &f.report,
                seq,
                next_year,
                Kind::SectionWrite,
                heads.clone(),
                &p,
            );
            (e, p)
        })
        .collect();
    let run = f.home.import(&bundle::encode(
        filler.iter().map(|(e, p)| (e, Some(p.as_slice()))),
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.json()["held"].as_array().unwrap().len(), 10_000);
    // One more dated ahead, beside an honest entry of the present.
    let ahead = f.section("Also from next year.");
    let late = craft(
        &f.resident,
        &f.network,
        &f.report,
        10_001,
        next_year,
        Kind::SectionWrite,
        heads.clone(),
        &ahead,
    );
    let honest = f.section("Written today.");
    let now = f.entry(&f.resident, 1, now_ms(), Kind::SectionWrite, &honest);
    let run = f.home.import(&bundle::encode([
        (&late, Some(ahead.as_slice())),
        (&now, Some(honest.as_slice())),
    ]));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["new"], 1, "{report}");
    let held = report["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{report}");
    assert_eq!(held[0]["entry"], late.id().to_hex());
    assert!(
        held[0]["problem"].as_str().unwrap().contains("not kept"),
        "{report}"
    );
    assert_eq!(f.home.ok(&["verify"])["held"], 10_000);
    assert!(f.texts().iter().any(|t| t == "Written today."));
}

/// Signed JSON with a key given twice reads differently to different parsers: serde takes the
/// last value, many others the first, so two verifiers of one signed entry would report
/// different ejection fractions. Such a payload is not storable; nothing of the bundle is kept.
#[test]
fn a_payload_with_a_key_given_twice_is_refused() {
    let f = fixture();
    let attending = f.home.secret(&f.home.key());
    // Sealed, as a member's home signs it: opened, then read with the key twice.
    let p = &f.sealed(
        Kind::SectionWrite,
        br#"{"section":"findings","text":"LV function.","fields":{"lvef":"55","lvef":"25"}}"#,
    )[..];
    let e = f.entry(&attending, 3, now_ms(), Kind::SectionWrite, p);
    f.rejected(&[(&e, p)], r#"duplicate key \"lvef\""#);
    let twice = &f.sealed(
        Kind::SectionWrite,
        br#"{"section":"findings","text":"Normal.","section":"impression"}"#,
    )[..];
    let e = f.entry(&attending, 3, now_ms(), Kind::SectionWrite, twice);
    f.rejected(&[(&e, twice)], "duplicate key");
}
