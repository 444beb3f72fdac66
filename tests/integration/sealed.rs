//! Sealed payloads (issue 16): a report's personal data is sealed under its own data key, in
//! the home's files, bundles and sync batches; destroying the key (an erasure) makes every copy
//! of the ciphertext unreadable. Real homes, the real CLI, real SQLite files.

use std::path::Path;

use crate::common::{craft, every_file, now_ms, Home};

/// A marker no other text contains: finding it in a file means the text is there in clear.
const MARKER: &str = "SEALED-MARKER-0b7e41 lesion in segment VII";

fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    every_file(dir)
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|f| f.display().to_string())
        .collect()
}

fn key_rows(home: &Home, report: &str) -> i64 {
    home.db()
        .query_row(
            "SELECT count(*) FROM report_keys WHERE log = ?1",
            [hex::decode(report).unwrap()],
            |r| r.get(0),
        )
        .unwrap()
}

/// A founder with one report whose findings hold the marker.
fn founder_with_report() -> (Home, String) {
    let a = Home::new();
    a.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let report = a.new_report("1.2.840.99.1", "ct-chest");
    assert_eq!(a.write(&report, "findings", MARKER).code, 0);
    (a, report)
}

fn findings(home: &Home, report: &str) -> serde_json::Value {
    home.ok(&["report", "show", report])["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap()["text"]
        .clone()
}

#[test]
fn a_new_reports_text_is_sealed_at_rest_and_reads_in_report_show() {
    let (a, report) = founder_with_report();
    assert_eq!(findings(&a, &report), MARKER);
    assert!(
        files_holding(&a.dir, MARKER.as_bytes()).is_empty(),
        "the text is in clear on disk"
    );
    assert_eq!(key_rows(&a, &report), 1);
    // Every stored payload of the report is an envelope.
    let db = a.db();
    let clear: i64 = db
        .query_row(
            "SELECT count(*) FROM entries e JOIN payloads p ON p.arrival = e.arrival \
             WHERE (e.log = ?1 OR e.id = ?1) AND substr(p.bytes, 1, 4) != CAST('CSS2' AS BLOB)",
            [hex::decode(&report).unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    let sealed: i64 = db
        .query_row(
            "SELECT count(*) FROM entries e JOIN payloads p ON p.arrival = e.arrival \
             WHERE (e.log = ?1 OR e.id = ?1) AND substr(p.bytes, 1, 4) = CAST('CSS2' AS BLOB)",
            [hex::decode(&report).unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sealed, 2, "the create and the section write are sealed");
    assert_eq!(clear, 0, "no clear payload in the report");
    assert_eq!(a.ok(&["verify"])["ok"], true);
    // The export reads the view: it needs no key of its own.
    let text = a.ok(&["report", "show", &report]).to_string();
    assert!(text.contains(MARKER));
}

#[test]
fn a_ciphertext_only_bundle_verifies_in_a_fresh_home_and_reads_as_not_readable() {
    let (a, report) = founder_with_report();
    let file = a.dir.with_extension("nokeys.bundle");
    a.ok(&[
        "bundle",
        "export",
        "--no-keys",
        "-o",
        file.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"CSBUNDL1", "no keys section");
    assert!(!bytes.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));

    let f = Home::new();
    f.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
    let imported = f.import(&bytes);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let verified = f.ok(&["verify"]);
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(key_rows(&f, &report), 0);
    let shown = f.ok(&["report", "show", &report]);
    assert_eq!(shown["unreadable"], true, "{shown}");
    // Not even which sections the report has: its template is named in the sealed create.
    assert!(shown["sections"].as_array().unwrap().is_empty(), "{shown}");
    assert_eq!(shown["template"], "");
    assert!(!shown.to_string().contains(MARKER));
    // Every entry still verifies, author and kind kept.
    for p in shown["provenance"].as_array().unwrap() {
        assert_eq!(p["status"]["state"], "verified", "{p}");
    }
    // Without --json the CLI prints the report for people, and says why there is no text.
    let human = f
        .command()
        .args(["report", "show", &report])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&human.stdout).into_owned();
    assert!(out.contains("NOT READABLE HERE"), "{out}");
    // Created sealed: the view says so, and no "created in clear" notice is printed.
    assert_eq!(shown["sealed"], true, "{shown}");
    assert!(!out.contains("CREATED IN CLEAR"), "{out}");
    // Nothing can be written to a report this home cannot read.
    assert_ne!(f.write(&report, "findings", "more").code, 0);

    // The keys arrive later (a bundle with them): the same report reads.
    let keyed = f.import(&a.bundle(None));
    assert_eq!(keyed.code, 0, "{}", keyed.stderr);
    assert_eq!(key_rows(&f, &report), 1);
    assert_eq!(findings(&f, &report), MARKER);
    assert!(f
        .ok(&["report", "show", &report])
        .get("unreadable")
        .is_none());
    assert_eq!(f.ok(&["verify"])["ok"], true);
}

#[test]
fn a_bundle_from_before_the_erasure_yields_no_text_where_the_erasure_came_too() {
    let (a, report) = founder_with_report();
    let before = a.bundle(None);
    let (keys, _) = countersign_ledger::bundle::decode_keyed(&before).unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].1.as_bytes().to_vec();

    // A fresh home reads the old bundle, then receives the erasure.
    let f = Home::new();
    f.ok(&["init", "--name", "Archive", "--role", "reviewer"]);
    assert_eq!(f.import(&before).code, 0);
    assert_eq!(findings(&f, &report), MARKER);
    // Held wrapped under F's own key (issue 16): the scan finds that row, never the clear key.
    let row: Vec<u8> = f
        .db()
        .query_row(
            "SELECT key FROM report_keys WHERE log = ?1",
            [hex::decode(&report).unwrap()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!files_holding(&f.dir, &row).is_empty(), "the key is held");
    assert!(files_holding(&f.dir, &key).is_empty(), "never in clear");

    a.ok(&[
        "erase",
        "--report",
        &report,
        "--basis",
        "GDPR Art. 17(1)(a)",
    ]);
    assert_eq!(key_rows(&a, &report), 0, "the key row is gone");
    assert!(files_holding(&a.dir, &key).is_empty());
    let after = f.import(&a.bundle(None));
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert_eq!(
        key_rows(&f, &report),
        0,
        "the erasure destroyed the key here too"
    );
    assert!(
        files_holding(&f.dir, &key).is_empty() && files_holding(&f.dir, &row).is_empty(),
        "no copy of the key left"
    );

    // The old bundle again: its key and payloads are not stored; nothing reads.
    assert_eq!(f.import(&before).code, 0);
    assert_eq!(key_rows(&f, &report), 0);
    assert!(files_holding(&f.dir, &key).is_empty());
    let shown = f.ok(&["report", "show", &report]);
    assert_eq!(shown["status"], "erased");
    assert!(!shown.to_string().contains(MARKER));
    assert_eq!(f.ok(&["verify"])["ok"], true);

    // And the bundle itself — a copy nobody touched — is only ciphertext without the key.
    assert!(!before.windows(MARKER.len()).any(|w| w == MARKER.as_bytes()));
}

#[test]
fn a_clear_payload_in_a_sealed_report_is_refused_from_a_bundle() {
    let (ada, bob) = crate::common::two_attendings();
    let report = ada.new_report("4.4.4", "ct-chest");
    assert_eq!(bob.import(&ada.bundle(None)).code, 0);
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let clear = serde_json::to_vec(&serde_json::json!({
        "section": "findings",
        "text": MARKER,
    }))
    .unwrap();
    let entry = craft(
        &bob.secret(&bob.key()),
        &network,
        &report,
        1,
        now_ms() - 1_000,
        countersign_ledger::Kind::SectionWrite,
        vec![report.parse().unwrap()],
        &clear,
    );
    let run = ada.import_one(&entry, &clear);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(run.stderr.contains("payload_not_sealed"), "{}", run.stderr);
    assert!(files_holding(&ada.dir, MARKER.as_bytes()).is_empty());
    assert!(findings(&ada, &report).is_null());
}

/// A member's client that does not seal cannot open a report in clear (into which honest
/// homes would then write in clear): networks founded by this build carry `sealed_reports` in
/// their genesis, so every home refuses the clear create alike, and the same create sealed is
/// taken.
#[test]
fn a_network_founded_here_refuses_a_clear_report_create() {
    let (ada, bob) = crate::common::two_attendings();
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let bob_key = bob.secret(&bob.key());
    let study = "1.2.826.0.1.3680043.10.1300.424242";
    let create = crate::common::ct_chest_create(study);
    let at = now_ms() - 1_000;
    let clear = craft(
        &bob_key,
        &network,
        &"0".repeat(64),
        1,
        at,
        countersign_ledger::Kind::ReportCreate,
        vec![],
        &create,
    );
    let run = ada.import_one(&clear, &create);
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("payload_not_sealed") || run.stdout.contains("payload_not_sealed"),
        "{} {}",
        run.stdout,
        run.stderr
    );
    assert!(files_holding(&ada.dir, study.as_bytes()).is_empty());
    let sealed = crate::common::sealed_create(&bob_key, &network, at, &create);
    assert_eq!(ada.import_report(&sealed).code, 0);
    let shown = ada.ok(&["report", "show", &sealed.log().to_hex()]);
    assert_eq!(shown["study"], study, "{shown}");
    assert_eq!(shown["sealed"], true, "{shown}");
}
