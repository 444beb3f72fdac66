//! Erasure (GDPR Art. 17) and restriction (Art. 18) across separate processes: an erasure
//! signed on one home reaches its peers in one sync round, and on every one of them no file
//! under the home holds the erased text or the images' bytes any more, while `verify` still
//! passes and `report show` names who wrote what kind of entry when. A bundle exported before
//! the erasure brings nothing back; a member who may not erase cannot; a restriction is lifted
//! by a signed entry; nothing is written to an erased report again.

use std::path::Path;

use serde_json::Value;

use crate::common::{every_file, Home};
use crate::sync::{member, serve, until};

/// A marker no other text contains, so that finding it anywhere means the text is there.
const MARKER: &str = "ERASE-MARKER-5f1c9a Patient reports allergy to gadobutrol";

/// The end of a long addendum: its text spills into SQLite's overflow pages, which are freed
/// whole when it is deleted (without `secure_delete`, their bytes stay in the file).
const TAIL: &str = "END-OF-ERASED-ADDENDUM-77c2";

fn long_addendum() -> String {
    format!(
        "{MARKER}. {} {TAIL}",
        "Reviewed with the referring team. ".repeat(1200)
    )
}

/// Every file under `dir` that holds `needle`.
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

/// A run of 48 bytes from the middle of the home's first image file: pixel data no entry holds.
fn image_bytes(home: &Home) -> Vec<u8> {
    let file = every_file(&home.dir.join("images"))
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .expect("an image");
    let bytes = std::fs::read(file).unwrap();
    // A stretch with some variety in it (the phantom is piecewise flat), pixel data first.
    let varied = |at: usize| {
        let w = &bytes[at..at + 48];
        (w.iter().collect::<std::collections::BTreeSet<_>>().len() > 3).then(|| w.to_vec())
    };
    if let Some(w) = (bytes.len() / 2..bytes.len() - 48)
        .step_by(16)
        .find_map(varied)
    {
        return w;
    }
    if let Some(w) = (132..bytes.len() - 48).step_by(16).find_map(varied) {
        return w;
    }
    panic!("no varied stretch in the image");
}

/// What must be gone from every file once `report` is erased, taken from a bundle exported
/// before: the report's data key (32 bytes; first), and from every sealed payload of the report
/// its nonce and first ciphertext bytes (random, so found only where that envelope is). The
/// text itself is sealed at rest: a scan for it finds nothing even before the erasure, so these
/// are what a scan can find — and what, found after, means the erasure left something. The key
/// is wrapped at rest too (issue 16): a home holds it as [`key_row`], which the scan finds
/// before and must not find after; its clear bytes are never on disk at all.
fn erased_needles(bundle: &[u8], report: &str) -> Vec<Vec<u8>> {
    let report: countersign_ledger::EntryId = report.parse().unwrap();
    let (keys, records) = countersign_ledger::bundle::decode_keyed(bundle).unwrap();
    let key = keys
        .iter()
        .find(|(log, _)| *log == report)
        .map(|(_, k)| k.as_bytes().to_vec())
        .expect("the bundle carries the report's key");
    let mut needles = vec![key];
    for r in &records {
        let entry = countersign_ledger::Entry::decode_unverified(&r.header, &r.signature).unwrap();
        let Some(p) = r.payload.as_ref().filter(|_| entry.log_id() == report) else {
            continue;
        };
        if countersign_report::payload::seal::is_sealed(p) {
            needles.push(p[4..p.len().min(4 + 40)].to_vec());
        }
    }
    // The create, the sections and the long addendum at least.
    assert!(needles.len() >= 5, "{} sealed payloads", needles.len() - 1);
    needles
}

/// The bytes `home` stores for `report`'s data key: the key wrapped under the home's
/// key-encryption key (its own nonce, so found only where that row is).
fn key_row(home: &Home, report: &str) -> Vec<u8> {
    let row: Vec<u8> = home
        .db()
        .query_row(
            "SELECT key FROM report_keys WHERE log = ?1",
            [hex::decode(report).unwrap()],
            |r| r.get(0),
        )
        .expect("the home holds the report's key");
    assert_eq!(row.len(), countersign_ledger::WRAPPED_LEN, "stored wrapped");
    row
}

fn erased_everywhere(
    home: &Home,
    name: &str,
    report: &str,
    image: &[u8],
    sealed: &[Vec<u8>],
    key_row: Option<&[u8]>,
) {
    for needle in sealed
        .iter()
        .map(Vec::as_slice)
        .chain([image])
        .chain(key_row)
    {
        let left = files_holding(&home.dir, needle);
        assert!(
            left.is_empty(),
            "{name} still holds erased bytes in {left:?}"
        );
    }
    let verified = home.ok(&["verify"]);
    assert_eq!(verified["ok"], true, "{name}: {verified}");
    let view = home.ok(&["report", "show", report]);
    assert_eq!(view["status"], "erased", "{name}: {}", view["status"]);
    assert_eq!(view["erasure"]["basis"], "GDPR Art. 17(1)(b)");
    assert_eq!(view["erasure"]["by"]["name"], "Dr Ada Attending");
    let provenance = view["provenance"].as_array().unwrap();
    assert!(provenance.len() >= 16, "{name}: the headers stay");
    for p in provenance {
        let kind = p["kind"].as_str().unwrap();
        let state = p["status"]["state"].as_str().unwrap();
        if kind == "payload.erase" {
            assert_eq!(state, "verified");
        } else {
            assert_eq!(state, "erased", "{name}: {p}");
            assert!(
                p["author"]["role"].is_string(),
                "{name}: author and role kept"
            );
        }
    }
    assert!(view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["text"].is_null()));
}

#[test]
fn an_erasure_reaches_every_peer_in_one_round_and_leaves_no_copy_on_disk() {
    let (a, report) = Home::demo();
    a.ok(&["report", "addendum", &report, "--text", &long_addendum()]);
    let b = member(&a, "Dr Bea", "cardiologist");
    let c = member(&a, "Dana Protection", "data-protection");
    let serving = serve(&a, &[]);
    for home in [&b, &c] {
        home.ok(&["sync", "--peer", &serving.addr, "--once"]);
        // The peers read the study too.
        home.ok(&["import", a.dir.join("images").to_str().unwrap()]);
    }
    let image = image_bytes(&a);
    let before = b.bundle(None);
    let sealed = erased_needles(&before, &report);
    let rows = [&a, &b, &c].map(|h| key_row(h, &report));
    // The scan finds what is there: every home holds the report's key (wrapped), every sealed
    // payload and the image before — and never the text itself, which is sealed at rest, yet
    // reads in `report show`, nor the key in clear.
    for ((home, name), row) in [(&a, "A"), (&b, "B"), (&c, "C")].into_iter().zip(&rows) {
        assert!(!files_holding(&home.dir, row).is_empty(), "{name}");
        assert!(
            files_holding(&home.dir, &sealed[0]).is_empty(),
            "{name} holds the data key in clear"
        );
        for needle in &sealed[1..] {
            assert!(!files_holding(&home.dir, needle).is_empty(), "{name}");
        }
        assert!(!files_holding(&home.dir, &image).is_empty(), "{name}");
        assert!(
            files_holding(&home.dir, MARKER.as_bytes()).is_empty(),
            "{name} holds the text in clear"
        );
        let shown = home.ok(&["report", "show", &report]).to_string();
        assert!(shown.contains(TAIL), "{name} reads the addendum");
    }

    // A cardiologist may not erase; nothing is destroyed.
    let refused = b.run(&["erase", "--report", &report, "--basis", "asked"]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert_eq!(refused.error_code(), "not_allowed", "{}", refused.stderr);
    assert!(
        refused.stderr.contains("role_may_not_write"),
        "{}",
        refused.stderr
    );
    assert!(
        !files_holding(&b.dir, &rows[1]).is_empty(),
        "B still holds the key"
    );

    let c_serving = serve(&c, &[&serving.addr]);
    let erased = a.ok(&[
        "erase",
        "--patient",
        "PHANTOM-0001",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(erased["reports"], Value::Array(vec![report.clone().into()]));
    erased_everywhere(&a, "A", &report, &image, &sealed, Some(&rows[0]));
    assert_eq!(
        a.db()
            .query_row(
                "SELECT count(*) FROM report_keys WHERE log = ?1",
                [hex::decode(&report).unwrap()],
                |r| r.get::<_, i64>(0)
            )
            .unwrap(),
        0,
        "the key row is gone"
    );

    // B takes one sync round from the serving node. C runs a node of its own, connected to
    // A's since before the erasure: the erasure reaches it as an announcement, and a
    // long-lived process must leave no older page in its WAL either.
    b.ok(&["sync", "--peer", &serving.addr, "--once"]);
    erased_everywhere(&b, "B", &report, &image, &sealed, Some(&rows[1]));
    until("C's node destroys the erased text", || {
        files_holding(&c.dir, &rows[2]).is_empty()
    });
    erased_everywhere(&c, "C", &report, &image, &sealed, Some(&rows[2]));
    drop(c_serving);

    // A new member joining after the erasure takes the report as headers and erasure only.
    let d = member(&a, "Dr Dee", "radiologist");
    d.ok(&["sync", "--peer", &serving.addr, "--once"]);
    erased_everywhere(&d, "D", &report, &image, &sealed, None);
    assert_eq!(
        d.ok(&["report", "show", &report])["provenance"],
        a.ok(&["report", "show", &report])["provenance"],
        "a home that never held the text shows what the eraser shows"
    );

    // A bundle exported before the erasure brings nothing back, and nothing more is written.
    let imported = a.import(&before);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    erased_everywhere(
        &a,
        "A after the old bundle",
        &report,
        &image,
        &sealed,
        Some(&rows[0]),
    );
    let after = a.run(&["report", "addendum", &report, "--text", "again"]);
    assert_eq!(after.error_code(), "not_allowed", "{}", after.stderr);
    assert!(
        after.stderr.contains(r#""rule":"report_erased""#),
        "{}",
        after.stderr
    );
}

#[test]
fn a_restriction_hides_the_content_until_a_signed_lifting() {
    let (a, report) = Home::demo();
    let c = member(&a, "Dana Protection", "data-protection");
    let serving = serve(&a, &[]);
    c.ok(&["sync", "--peer", &serving.addr, "--once"]);
    let shown = |home: &Home| home.ok(&["report", "show", &report]);
    assert!(shown(&c)["sections"][0]["text"].is_string());

    c.ok(&[
        "restrict",
        "--report",
        &report,
        "--basis",
        "GDPR Art. 18(1)(a): accuracy contested",
    ]);
    let restricted = shown(&c);
    assert_eq!(restricted["restriction"]["by"]["name"], "Dana Protection");
    assert!(restricted["sections"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["text"].is_null()));
    assert!(restricted["critical"].as_array().unwrap().is_empty());
    // Exports withhold it too.
    let pdf = c.dir.with_extension("restricted.pdf");
    c.ok(&[
        "export",
        &report,
        "--format",
        "pdf",
        "-o",
        pdf.to_str().unwrap(),
    ]);
    let out = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("RESTRICTED"), "{text}");
    assert!(!text.contains("Cine SSFP"), "{text}");
    // The data is kept: lifting shows it again.
    c.ok(&[
        "restrict", "--report", &report, "--basis", "resolved", "--lift",
    ]);
    let lifted = shown(&c);
    assert!(lifted.get("restriction").is_none(), "{lifted}");
    assert!(lifted["sections"][0]["text"].is_string());
    assert_eq!(c.ok(&["verify"])["ok"], true);
}

#[test]
fn a_report_filed_under_the_wrong_patient_moves_with_its_history_intact() {
    let (a, report) = Home::demo();
    let shown = |home: &Home| home.ok(&["report", "show", &report]);
    let before = shown(&a);
    let wrong = before["study"].as_str().unwrap().to_string();
    let ct = countersign_testkit::corpus("CT_small.dcm");
    a.ok(&["import", ct.to_str().unwrap()]);
    let right = a.ok(&["image", "info", ct.to_str().unwrap()])["study_uid"]
        .as_str()
        .unwrap()
        .to_string();
    let mv = |patient: &str| {
        a.run(&[
            "report",
            "move",
            &report,
            "--to-patient",
            patient,
            "--study",
            &right,
            "--reason",
            "registered under the wrong patient at the front desk",
        ])
    };
    // The study is another patient's than the one named: nothing is signed.
    assert_eq!(mv("PHANTOM-0001").error_code(), "wrong_patient");
    assert_eq!(shown(&a)["study"], wrong.as_str());

    mv("1CT1").ok();
    let after = shown(&a);
    assert_eq!(after["study"], right.as_str());
    assert_eq!(
        after["status"], "final",
        "still signed off: its sign-off stands"
    );
    assert_eq!(after["moves"][0]["from"], wrong.as_str());
    assert_eq!(after["moves"][0]["by"]["name"], "Dr Ada Attending");
    let ids = |v: &Value| -> Vec<Value> {
        v["provenance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["entry"].clone())
            .collect()
    };
    let (old, new) = (ids(&before), ids(&after));
    assert_eq!(&new[..old.len()], &old[..], "its history is intact");
    assert_eq!(new.len(), old.len() + 1);
    assert_eq!(after["sections"], before["sections"]);

    // The right study lists it; the wrong one lists it as moved, and nothing more.
    let right_list = a.ok(&["report", "list", "--study", &right]);
    assert_eq!(right_list[0]["report"], report.as_str());
    assert!(right_list[0].get("moved_to").is_none());
    let wrong_list = a.ok(&["report", "list", "--study", &wrong]);
    assert_eq!(wrong_list.as_array().unwrap().len(), 1, "{wrong_list}");
    assert_eq!(wrong_list[0]["moved_to"], right.as_str());
    assert_eq!(wrong_list[0]["template"], "");
    assert_eq!(a.ok(&["verify"])["ok"], true);

    // A peer shows the same, and a radiologist cannot move it back.
    let b = member(&a, "Dr Rad", "radiologist");
    let serving = serve(&a, &[]);
    b.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert_eq!(shown(&b)["study"], right.as_str());
    assert_eq!(shown(&b)["provenance"], after["provenance"]);
    b.ok(&["import", ct.to_str().unwrap()]);
    let refused = b.run(&[
        "report",
        "move",
        &report,
        "--to-patient",
        "1CT1",
        "--study",
        &right,
        "--reason",
        "again",
    ]);
    assert_eq!(refused.error_code(), "not_allowed", "{}", refused.stderr);
}

/// Regression: erasing one report deleted every image its `report.create` named, even while
/// another report on the same study still bound them as its evidence (found by the desktop
/// e2e, which had to erase in a particular order). The study's images now go with the last
/// report standing on it — whichever order the two erasures come in.
#[test]
fn erasing_one_report_keeps_the_images_another_report_on_the_study_still_binds() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 3, 32);
    let first = ada.new_report(&study, "ct-chest");
    let second = ada.new_report(&study, "ct-chest");
    let images = || every_file(&ada.dir.join("images")).len();
    let held = images();
    assert!(held >= 3, "{held}");
    ada.ok(&["erase", "--report", &first, "--basis", "GDPR Art. 17(1)(a)"]);
    assert_eq!(
        images(),
        held,
        "the second report still binds the study's images"
    );
    assert_eq!(ada.ok(&["verify"])["ok"], true);
    let shown = ada.ok(&["report", "show", &second]);
    assert_eq!(shown["images"].as_array().unwrap().len(), 3, "{shown}");
    ada.ok(&[
        "erase",
        "--report",
        &second,
        "--basis",
        "GDPR Art. 17(1)(a)",
    ]);
    assert_eq!(
        images(),
        0,
        "the last report on the study takes its images with it"
    );
}

/// Found by review (2026-12-05): `erase --patient` erased the patient's reports, and with each
/// the study it was about, but left every study of theirs no report was about — and a patient
/// with studies but no report could not be erased at all (`not_found`). Now every study of
/// the patient held here goes: its files, its index rows, its row in `studies`.
#[test]
fn erasing_a_patient_with_no_report_destroys_their_studies_held_here() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 3, 32);
    let images = || every_file(&ada.dir.join("images")).len();
    assert!(images() >= 3);
    let image = image_bytes(&ada);
    let erased = ada.ok(&[
        "erase",
        "--patient",
        "PHANTOM-0001",
        "--basis",
        "GDPR Art. 17(1)(b)",
    ]);
    assert_eq!(erased["reports"], serde_json::json!([]), "{erased}");
    assert_eq!(erased["studies"], serde_json::json!([study]), "{erased}");
    assert_eq!(images(), 0, "the study's files stay");
    assert!(
        files_holding(&ada.dir, &image).is_empty(),
        "the study's pixels stay"
    );
    assert_eq!(ada.ok(&["studies"]), serde_json::json!([]));
    assert_eq!(ada.ok(&["verify"])["ok"], true);
    // Nothing of the patient is left to erase.
    let again = ada.run(&["erase", "--patient", "PHANTOM-0001", "--basis", "again"]);
    assert_eq!(again.error_code(), "not_found", "{}", again.stderr);
}
