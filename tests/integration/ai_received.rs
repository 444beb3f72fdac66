//! AI results that arrive as DICOM SR (`ai import`), with SRs written by highdicom — a library
//! nobody here wrote — for the report's own study: the receiving home attests receipt (never
//! authorship), the result is reviewed like any AI result before sign-off, `ai stats` counts it
//! under the device's model and version, and the provenance says where it came from. Malformed,
//! non-SR, other-study, repeated and oversized files are refused with their codes, nothing
//! stored.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use crate::common::{python, str_of, tests_dir, Home};

fn received(home: &Home) -> i64 {
    home.db()
        .query_row(
            "SELECT COUNT(*) FROM entries WHERE kind = 'ai.received'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

/// highdicom's SRs about the study of `image`, in `out` (see write_sr.py for what each holds).
fn write_srs(image: &Path, out: &Path) {
    let run = Command::new(python())
        .arg(tests_dir().join("integration/write_sr.py"))
        .arg(image)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "write_sr.py: {}",
        String::from_utf8_lossy(&run.stderr)
    );
}

/// `ai import` of `sr` into `report` is refused with `code`, and stores nothing.
fn refused(home: &Home, report: &str, sr: &Path, code: &str) {
    let before = home.count();
    let run = home.run(&["ai", "import", sr.to_str().unwrap(), "--report", report]);
    assert_eq!(run.error_code(), code, "{}: {}", sr.display(), run.stderr);
    assert_eq!(home.count(), before, "{} stored something", sr.display());
}

#[test]
fn highdicom_srs_are_attested_reviewed_counted_and_bad_ones_refused_with_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 3, 32);
    let report = ada.new_report(&study, "ct-chest");
    let image: PathBuf = crate::common::every_file(&series)[0].clone();
    let srs = dir.path().join("srs");
    write_srs(&image, &srs);
    // The same device's SR about another study (the corpus's CT_small.dcm).
    let other = dir.path().join("other-study");
    write_srs(&countersign_testkit::corpus("CT_small.dcm"), &other);

    // Refused, each with its code, nothing stored.
    refused(
        &ada,
        &report,
        &srs.join("no-value-type.dcm"),
        "sr_malformed",
    );
    refused(&ada, &report, &srs.join("truncated.dcm"), "sr_malformed");
    refused(&ada, &report, &image, "sr_not_sr");
    refused(
        &ada,
        &report,
        &other.join("measurements.dcm"),
        "sr_wrong_study",
    );
    // 200 MB: a real SR's bytes, then zeros to 200 MB (sparse: the size is refused before a
    // byte is read, so none need writing).
    let big = dir.path().join("big.dcm");
    std::fs::copy(srs.join("measurements.dcm"), &big).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(200_000_000)
        .unwrap();
    refused(&ada, &report, &big, "sr_too_large");
    let missing = ada.run(&[
        "ai",
        "import",
        srs.join("measurements.dcm").to_str().unwrap(),
        "--report",
        &"0".repeat(64),
    ]);
    assert_eq!(missing.error_code(), "not_found");
    assert_eq!(received(&ada), 0);

    // Measurements: attested by Ada's home, the device the SR's.
    let measured_sr = srs.join("measurements.dcm");
    let measured = ada.ok(&[
        "ai",
        "import",
        measured_sr.to_str().unwrap(),
        "--report",
        &report,
    ]);
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&measured_sr).unwrap()));
    assert_eq!(measured["sr_sha256"], sha.as_str());
    assert_eq!(
        (
            measured["model"].as_str(),
            measured["version"].as_str(),
            measured["manufacturer"].as_str(),
            measured["measurements"].as_u64(),
            measured["findings"].as_u64()
        ),
        (
            Some("LungScan"),
            Some("2.1.0"),
            Some("Acme AI"),
            Some(2),
            Some(1)
        ),
        "{measured}"
    );
    assert_eq!(
        measured["statement"],
        "received as DICOM SR from Acme AI LungScan 2.1.0, attested by Dr Ada"
    );
    let measured_entry = str_of(&measured["entry"]);
    // Delivered twice, it is one result.
    refused(&ada, &report, &measured_sr, "sr_already_received");

    // A qualitative finding.
    let finding = ada.ok(&[
        "ai",
        "import",
        srs.join("finding.dcm").to_str().unwrap(),
        "--report",
        &report,
    ]);
    assert_eq!(
        (
            finding["measurements"].as_u64(),
            finding["findings"].as_u64()
        ),
        (Some(0), Some(1)),
        "{finding}"
    );
    let finding_entry = str_of(&finding["entry"]);
    assert_eq!(received(&ada), 2);

    // What the report shows: the statement, the device and its observer context, the
    // measurements with the SOP instance they were made on.
    let view = ada.ok(&["report", "show", &report]);
    let ai = view["ai"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["entry"] == measured_entry.as_str())
        .unwrap();
    let got = &ai["received"];
    assert_eq!(
        got["statement"],
        "received as DICOM SR from Acme AI LungScan 2.1.0, attested by Dr Ada"
    );
    assert_eq!(ai["author"]["name"], "Dr Ada");
    assert_eq!(got["device"]["observer"]["name"], "lungscan-gateway");
    assert_eq!(got["device"]["serial"], "AC-0042");
    let volume = got["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["concept"]["meaning"] == "Volume")
        .unwrap();
    assert_eq!(volume["value"], "1234.5");
    assert_eq!(volume["units"]["value"], "mm3");
    let instance = dicom_object::open_file(&image)
        .unwrap()
        .element(dicom_dictionary_std::tags::SOP_INSTANCE_UID)
        .unwrap()
        .to_str()
        .unwrap()
        .trim_end_matches('\0')
        .to_string();
    assert_eq!(volume["references"], serde_json::json!([instance]));
    assert_eq!(got["findings"][0]["value"]["meaning"], "Nodule");
    assert!(ai["review"].is_null());
    let provenance = view["provenance"].as_array().unwrap();
    assert!(provenance
        .iter()
        .any(|p| p["kind"] == "ai.received" && p["entry"] == measured_entry.as_str()));

    // Unreviewed, the received results block sign-off like a model's own.
    for (section, text) in [
        ("technique", "Non-contrast CT."),
        ("findings", "See below."),
        ("impression", "Nodule."),
    ] {
        ada.write(&report, section, text);
    }
    let blocked = ada.run(&["report", "finalize", &report]);
    assert_eq!(blocked.error_code(), "not_allowed");
    assert!(
        blocked.stderr.contains("unreviewed_ai"),
        "{}",
        blocked.stderr
    );
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &measured_entry,
        "--accept",
    ]);
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &finding_entry,
        "--reject",
        "--comment",
        "Not a nodule: vessel.",
    ]);
    let view = ada.ok(&["report", "show", &report]);
    let findings = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert!(
        findings["text"].as_str().unwrap().starts_with(
            "AI result received as DICOM SR from Acme AI LungScan 2.1.0. Volume: 1234.5 mm3."
        ),
        "{findings}"
    );
    ada.ok(&["report", "finalize", &report]);

    // The reviewer's figures: under the device's model and version.
    let stats = ada.ok(&["ai", "stats"]);
    let models = stats["models"].as_array().unwrap();
    assert_eq!(models.len(), 1, "{stats}");
    let m = &models[0];
    assert_eq!(
        (
            m["model"].as_str(),
            m["version"].as_str(),
            m["vendor"].as_str(),
            m["proposals"].as_u64(),
            m["accepted"].as_u64(),
            m["rejected"].as_u64(),
            m["unreviewed"].as_u64()
        ),
        (
            Some("LungScan"),
            Some("2.1.0"),
            Some("Acme AI"),
            Some(2),
            Some(1),
            Some(1),
            Some(0)
        ),
        "{stats}"
    );
    assert_eq!(m["acceptance_rate"], 0.5);
    assert_eq!(
        ada.ok(&["ai", "stats", "--model", "LungScan"])["models"][0]["proposals"],
        2
    );
    assert_eq!(ada.ok(&["verify"])["ok"], true);
}
