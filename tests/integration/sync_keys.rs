//! A home that holds a report's ciphertext without its data key (a `--no-keys` bundle) asks a
//! peer for the key in its next sync round, and reads the report in full once it has it; a
//! peer answers only for members who may read the report (an AI model nobody granted it gets
//! no key), and a report erased there is answered with nothing. Separate `countersign`
//! processes on loopback, as in `sync`.

use serde_json::Value;

use crate::common::{Home, AI_MEMBER};
use crate::sync::{member, serve, state};

/// The reports whose data keys a home holds (hex), sorted.
fn keys_held(h: &Home) -> Vec<String> {
    let db = h.db();
    let mut stmt = db
        .prepare("SELECT log FROM report_keys ORDER BY log")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, Vec<u8>>(0))
        .unwrap()
        .map(|l| hex::encode(l.unwrap()))
        .collect()
}

/// Everything `home` holds, ciphertext only (`bundle export --no-keys`).
fn no_keys_bundle(home: &Home) -> Vec<u8> {
    let file = home.dir.with_extension("nokeys.bundle");
    home.ok(&[
        "bundle",
        "export",
        "--no-keys",
        "-o",
        file.to_str().unwrap(),
    ]);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"CSBUNDL1", "a bundle without keys");
    bytes
}

/// The texts of a report's sections, as `report show` gives them.
fn texts(view: &Value) -> Vec<Value> {
    view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text"].clone())
        .collect()
}

/// Whether `report show` says the report is sealed under a key this home lacks.
fn unreadable(h: &Home, report: &str) -> bool {
    h.ok(&["report", "show", report]).get("unreadable") == Some(&Value::Bool(true))
}

#[test]
fn a_home_holding_only_the_ciphertext_gets_the_key_from_a_peer_in_one_round() {
    let (a, report) = Home::demo();
    let b = member(&a, "Dr Bea", "radiologist");
    // An AI model on the roster that nobody granted the report.
    let model = Home::new();
    let model_key = model.ok(&[&["init"][..], &AI_MEMBER].concat())["key"]
        .as_str()
        .unwrap()
        .to_string();
    a.ok(&[&["roster", "add", "--key", &model_key][..], &AI_MEMBER].concat());
    model.join(&a);
    // Both hold every entry of A's, and no key.
    let bytes = no_keys_bundle(&a);
    for (h, name) in [(&b, "B"), (&model, "the model")] {
        let imported = h.import(&bytes);
        assert_eq!(imported.code, 0, "{name}: {}", imported.stderr);
        assert!(keys_held(h).is_empty(), "{name}");
        assert!(unreadable(h, &report), "{name}");
    }
    let full = a.ok(&["report", "show", &report]);
    assert!(texts(&full).iter().any(Value::is_string), "{full}");

    let serving = serve(&a, &[]);
    // One round: no entry differs, so none is sent; the key comes on its own.
    let synced = b.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert_eq!(synced["received"], 0, "{synced}");
    assert_eq!(keys_held(&b), vec![report.clone()]);
    let shown = b.ok(&["report", "show", &report]);
    assert!(shown.get("unreadable").is_none(), "{shown}");
    assert_eq!(texts(&shown), texts(&full));
    assert_eq!(shown["template"], full["template"]);
    assert_eq!(state(&b, &report), state(&a, &report));
    let human = b
        .command()
        .args(["report", "show", &report])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&human.stdout).into_owned();
    assert!(!out.contains("NOT READABLE HERE"), "{out}");
    for (h, name) in [(&a, "A"), (&b, "B")] {
        let verified = h.ok(&["verify"]);
        assert_eq!(verified["ok"], true, "{name}: {verified}");
    }

    // The model asks the same server in the same kind of round, and is not sent the key of
    // a report it may not read.
    model.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert!(keys_held(&model).is_empty(), "{:?}", keys_held(&model));
    assert!(unreadable(&model, &report));
    assert_eq!(model.ok(&["verify"])["ok"], true);
}

#[test]
fn a_report_erased_on_the_peer_stays_without_its_text() {
    let (a, report) = Home::demo();
    let b = member(&a, "Dr Bea", "radiologist");
    let imported = b.import(&no_keys_bundle(&a));
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert!(unreadable(&b, &report));
    let full = a.ok(&["report", "show", &report]);
    a.ok(&[
        "erase",
        "--report",
        &report,
        "--basis",
        "GDPR Art. 17: the patient asked",
    ]);
    assert!(keys_held(&a).is_empty(), "A's erasure destroyed the key");
    let serving = serve(&a, &[]);
    b.ok(&["sync", "--peer", &serving.addr, "--once"]);
    // B took the erasure, holds no key, and reads none of the text it never had.
    assert!(keys_held(&b).is_empty(), "{:?}", keys_held(&b));
    let shown = b.ok(&["report", "show", &report]);
    assert_eq!(shown["status"], "erased", "{shown}");
    for text in texts(&full).iter().filter_map(Value::as_str) {
        assert!(!shown.to_string().contains(text), "{shown}");
    }
    for (h, name) in [(&a, "A"), (&b, "B")] {
        let verified = h.ok(&["verify"]);
        assert_eq!(verified["ok"], true, "{name}: {verified}");
    }
}
