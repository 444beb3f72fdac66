//! Two departments' homes exchange bundles: write, co-sign, finalise, amend, verify.

use std::path::PathBuf;
use std::process::Command;

use crate::common::Home;

fn corpus(name: &str) -> PathBuf {
    countersign_testkit::corpus(name)
}

fn sha256sum(path: &PathBuf) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn attending_and_cardiologist_sign_a_cardiac_report_across_two_homes() {
    let a = Home::new();
    let who = a.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let network = who["network"].as_str().unwrap().to_string();
    let c = Home::new();
    let c_who = c.ok(&["init", "--name", "Dr Carl", "--role", "cardiologist"]);
    assert!(c_who["network"].is_null());
    let c_key = c_who["key"].as_str().unwrap().to_string();
    a.ok(&[
        "roster",
        "add",
        "--key",
        &c_key,
        "--name",
        "Dr Carl",
        "--role",
        "cardiologist",
    ]);

    let image = corpus("MR_small.dcm");
    let report = a.ok(&[
        "report",
        "new",
        "--study",
        "1.2.3.4",
        "--template",
        "cardiac-mr",
        "--image",
        image.to_str().unwrap(),
    ])["report"]
        .as_str()
        .unwrap()
        .to_string();
    for (section, text) in [
        ("technique", "Cine SSFP."),
        ("findings", "Normal."),
        ("impression", "Normal heart."),
    ] {
        let out = a.write(&report, section, text).ok();
        assert_eq!(out["entry"].as_str().unwrap().len(), 64);
    }
    // The cardiac section's ejection fraction is a structured field the template requires.
    let write_cardiac_fields = |fields: &[&str]| {
        let mut args = vec![
            "report",
            "write",
            &report,
            "--section",
            "cardiac",
            "--text",
            "LVEF 60%.",
        ];
        for field in fields {
            args.extend(["--field", field]);
        }
        a.run(&args)
    };
    let write_cardiac = |lvef: &str| write_cardiac_fields(&[&format!("lvef={lvef}")]);
    let out_of_range = write_cardiac("160");
    assert_eq!(out_of_range.code, 2);
    assert!(
        out_of_range
            .stderr
            .contains("field lvef of section cardiac: 160 is outside 0..100"),
        "{}",
        out_of_range.stderr
    );
    // A field given twice is refused, not resolved by its last value (as serde would).
    let before = a.count();
    let twice = write_cardiac_fields(&["lvef=60", "lvef=25"]);
    assert_eq!(twice.code, 2);
    assert!(
        twice.stderr.contains("field lvef is given twice"),
        "{}",
        twice.stderr
    );
    assert_eq!(a.count(), before);
    write_cardiac("60").ok();
    let refused = a.run(&["report", "finalize", &report]);
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("co-signature by a cardiologist"),
        "{}",
        refused.stderr
    );

    // The cardiologist's home learns the roster and the report, co-signs, and sends it back.
    let imported = c.import(&a.bundle(None)).ok();
    // Genesis, the roster entry for Dr Carl, report.create and four sections.
    assert_eq!(imported["new"], 7, "{imported}");
    assert_eq!(c.ok(&["whoami"])["network"].as_str().unwrap(), network);
    let not_attending = c.run(&["report", "finalize", &report]);
    assert_eq!(not_attending.code, 2);
    assert!(
        not_attending
            .stderr
            .contains("refused by rule not_attending: only an attending may finalise"),
        "{}",
        not_attending.stderr
    );
    c.ok(&["report", "cosign", &report, "--section", "cardiac"]);
    let back = a.import(&c.bundle(Some(&report))).ok();
    assert_eq!(
        (back["new"].as_u64(), back["duplicate"].as_u64()),
        (Some(1), Some(7))
    );

    a.ok(&["report", "finalize", &report]);
    let late = a.write(&report, "findings", "Changed my mind.");
    assert_eq!(late.code, 2);
    assert!(
        late.stderr.contains("only addenda may follow"),
        "{}",
        late.stderr
    );
    a.ok(&[
        "report",
        "addendum",
        &report,
        "--text",
        "Compared with prior: unchanged.",
    ]);

    let view = a.ok(&["report", "show", &report]);
    assert_eq!(view["status"], "amended");
    assert_eq!(view["images"][0].as_str().unwrap(), sha256sum(&image));
    let cardiac = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "cardiac")
        .unwrap();
    assert_eq!(cardiac["text"], "LVEF 60%.");
    assert_eq!(
        cardiac["versions"][0]["cosigns"][0]["author"]["name"],
        "Dr Carl"
    );
    assert_eq!(
        cardiac["versions"][0]["cosigns"][0]["status"]["state"],
        "verified"
    );
    assert_eq!(view["signoff"]["author"]["name"], "Dr Ada");
    assert_eq!(view["signoff"]["author"]["role"], "attending");
    let kinds: Vec<&str> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"report.create"));
    assert_eq!(
        &kinds[kinds.len() - 3..],
        ["section.cosign", "report.status", "addendum.write"]
    );

    let list = a.ok(&["report", "list"]);
    assert_eq!(list[0]["report"].as_str().unwrap(), report);
    assert_eq!(list[0]["status"], "amended");
    assert_eq!(list[0]["template"], "cardiac-mr");
    for home in [&a, &c] {
        let v = home.ok(&["verify"]);
        assert_eq!(v["ok"], true, "{v}");
        assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    }
    // The roster (genesis, Dr Carl) and the report: create, four sections, co-sign, final, addendum.
    assert_eq!(a.ok(&["verify", &report])["entries"].as_u64(), Some(10));
}

#[test]
fn bad_usage_and_bad_input_exit_2_with_one_line() {
    let (home, report) = Home::demo();
    for args in [
        vec!["report", "write", report.as_str(), "--text", "no section"],
        vec!["report", "show", "not-hex"],
        vec!["report", "show", &"ab".repeat(32)],
        vec![
            "report",
            "new",
            "--study",
            "1.2",
            "--template",
            "no-such-template",
        ],
        vec!["init", "--name", "again", "--role", "attending"],
        vec!["init", "--name", "x", "--role", "wizard"],
        vec![
            "roster", "add", "--key", "00", "--name", "x", "--role", "resident",
        ],
        vec!["bundle", "import", "/nonexistent/bundle"],
    ] {
        let run = home.run(&args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(!run.stderr.trim().is_empty(), "{args:?}");
        assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
    }
    let not_a_bundle = home.import(b"definitely not a bundle");
    assert_eq!(not_a_bundle.code, 2);
    assert!(
        not_a_bundle.stderr.contains("bad magic"),
        "{}",
        not_a_bundle.stderr
    );
}

#[test]
fn an_uninitialised_home_says_so() {
    let home = Home::new();
    let run = home.run(&["whoami"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("countersign init"), "{}", run.stderr);
}

#[test]
fn shuffled_bundle_imports_to_the_same_report() {
    let (home, report) = Home::demo();
    let bytes = home.bundle(None);
    // The reports' data keys ride along: without them the copy could not read the report.
    let (keys, records) = countersign_ledger::bundle::decode_keyed(&bytes).unwrap();
    use rand::seq::SliceRandom;
    let mut entries: Vec<(countersign_ledger::Entry, Option<Vec<u8>>)> = records
        .into_iter()
        .map(|r| {
            (
                countersign_ledger::Entry::from_parts(&r.header, &r.signature).unwrap(),
                r.payload,
            )
        })
        .collect();
    entries.shuffle(&mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x5EED));
    let shuffled = countersign_ledger::bundle::encode_keyed(
        &keys,
        entries.iter().map(|(e, p)| (e, p.as_deref())),
    );
    let other = Home::new();
    // An identity of its own: the bundle's data keys are stored sealed under its key.
    other.key_of_new_member();
    other.import(&shuffled).ok();
    assert_eq!(
        other.ok(&["report", "show", &report]),
        home.ok(&["report", "show", &report])
    );
    assert_eq!(other.ok(&["verify"])["ok"], true);
}

#[test]
fn the_demo_report_is_bound_to_an_imported_synthetic_study() {
    let (home, report) = Home::demo();
    let view = home.ok(&["report", "show", &report]);
    let images = view["images"].as_array().unwrap();
    assert_eq!(images.len(), 16);
    let studies = home.ok(&["studies"]);
    let study = &studies[0];
    assert_eq!(study["study"], view["study"]);
    assert_eq!(study["instances"], 16);
    assert_eq!(study["modality"], "CT");
    // The staging folder is gone; the images live in the content-addressed store.
    assert!(!home.dir.join("demo-phantom").exists());
    let first = images[0].as_str().unwrap();
    assert!(home
        .dir
        .join("images")
        .join(&first[..2])
        .join(format!("{first}.dcm"))
        .exists());
}
