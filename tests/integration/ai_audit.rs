//! `ai audit export`: a department whose model proposed across two versions (accepted, edited,
//! rejected, one left unreviewed) and which received one AI result as a highdicom SR; the
//! package (a tar archive, unpacked by GNU tar) holds the signed entries, which an auditor's
//! fresh home imports, verifies and recomputes `ai stats` from; its FHIR Bundle is read by the
//! fhir.resources R4 models and its summary PDF by poppler's `pdftotext`, each checked against
//! what `ai stats --json` says.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::{every_file, python, str_of, tests_dir, Home};

fn bundle(from: &Home, report: &str, to: &Home) {
    let run = to.import(&from.bundle(Some(report)));
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A home for the built-in model `soft-tissue-stats` at `version`, on the roster, granted
/// `report` and holding it with its images, bound to the built-in.
fn model(ada: &Home, version: &str, report: &str, images: &Path) -> Home {
    let member = [
        "--name",
        "soft-tissue-stats",
        "--role",
        "ai-model",
        "--vendor",
        "Countersign examples",
        "--model-version",
        version,
    ];
    let model = Home::new();
    let key = str_of(&model.ok(&[&["init"][..], &member].concat())["key"]);
    ada.ok(&[&["roster", "add", "--key", &key][..], &member].concat());
    ada.ok(&["report", "grant", report, "--member", &key]);
    bundle(ada, report, &model);
    model.ok(&["import", images.to_str().unwrap()]);
    model.ok(&["ai", "bind", "--builtin", "soft-tissue-stats"]);
    model
}

/// The members of the package at `archive`, unpacked by GNU tar (nothing of ours) into a new
/// folder beside it.
fn unpack(archive: &Path) -> std::path::PathBuf {
    let to = archive.with_extension("unpacked");
    std::fs::create_dir(&to).unwrap();
    let tar = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(&to)
        .output()
        .unwrap();
    assert!(
        tar.status.success(),
        "{}",
        String::from_utf8_lossy(&tar.stderr)
    );
    to
}

fn run_model(model: &Home, report: &str) -> String {
    str_of(&model.ok(&["ai", "run", "--report", report])["entry"])
}

fn review(ada: &Home, report: &str, entry: &str, decision: &[&str]) -> String {
    let args = [
        &["report", "review", report, "--ai-entry", entry][..],
        decision,
    ]
    .concat();
    str_of(&ada.ok(&args)["entry"])
}

#[test]
fn the_ai_audit_package_holds_a_provenance_per_ai_result_and_the_figures_of_ai_stats() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 4, 64);
    let first = ada.new_report(&study, "ct-chest");
    let second = ada.new_report(&study, "ct-chest");

    // Version 1.0 on the first report: accepted, edited, rejected.
    let v1 = model(&ada, "1.0", &first, &series);
    let v1_results: Vec<String> = (0..3).map(|_| run_model(&v1, &first)).collect();
    bundle(&v1, &first, &ada);
    review(&ada, &first, &v1_results[0], &["--accept"]);
    let edit = review(
        &ada,
        &first,
        &v1_results[1],
        &["--edit", "Soft tissue of normal attenuation."],
    );
    review(&ada, &first, &v1_results[2], &["--reject"]);
    // Version 2.0 on the second: one accepted, one left unreviewed.
    let v2 = model(&ada, "2.0", &second, &series);
    let v2_results: Vec<String> = (0..2).map(|_| run_model(&v2, &second)).collect();
    bundle(&v2, &second, &ada);
    review(&ada, &second, &v2_results[0], &["--accept"]);
    // A vendor's result received as DICOM SR (written by highdicom), attested by Ada, accepted.
    let srs = dir.path().join("srs");
    let wrote = Command::new(python())
        .arg(tests_dir().join("integration/write_sr.py"))
        .arg(&every_file(&series)[0])
        .arg(&srs)
        .output()
        .unwrap();
    assert!(
        wrote.status.success(),
        "{}",
        String::from_utf8_lossy(&wrote.stderr)
    );
    let sr = srs.join("measurements.dcm");
    let received =
        str_of(&ada.ok(&["ai", "import", sr.to_str().unwrap(), "--report", &second])["entry"]);
    review(&ada, &second, &received, &["--accept"]);
    let reviewed: BTreeSet<&str> = [
        &v1_results[0],
        &v1_results[1],
        &v1_results[2],
        &v2_results[0],
        &received,
    ]
    .into_iter()
    .map(String::as_str)
    .collect();

    let package = dir.path().join("audit.tar");
    let written = ada.ok(&["ai", "audit", "export", "-o", package.to_str().unwrap()]);
    assert_eq!(
        (written["results"].as_u64(), written["reports"].as_u64()),
        (Some(6), Some(2)),
        "{written}"
    );
    assert_eq!(
        written["bytes"].as_u64(),
        Some(std::fs::metadata(&package).unwrap().len())
    );
    assert_eq!(
        Path::new(&str_of(&written["file"])),
        package.canonicalize().unwrap()
    );
    let out = unpack(&package);
    let mut members: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    members.sort();
    assert_eq!(
        members,
        [
            "README.txt",
            "provenance.json",
            "report.csbundle",
            "summary.pdf"
        ]
    );
    let bundle_path = out.join("provenance.json");
    let pdf_path = out.join("summary.pdf");
    for (field, member) in [
        ("entries_bytes", "report.csbundle"),
        ("provenance_bytes", "provenance.json"),
        ("pdf_bytes", "summary.pdf"),
    ] {
        assert_eq!(
            written[field].as_u64(),
            Some(std::fs::metadata(out.join(member)).unwrap().len()),
            "{field}"
        );
    }

    // The auditor's own fresh home, as the package's README says: the archive imports (every
    // signature, link and rule checked), verifies, and its entries give the very figures.
    let network = str_of(&ada.ok(&["whoami"])["network"]);
    let auditor = Home::new();
    auditor.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
    let readme = std::fs::read_to_string(out.join("README.txt")).unwrap();
    // The package names the network it claims, but the command to copy takes the id the
    // auditor confirmed with the department (a forged package would name its own).
    assert!(
        readme.contains("bundle import THIS-FILE --network NETWORK")
            && readme.contains(&format!("this one says {network}")),
        "{readme}"
    );
    let imported = auditor.ok(&[
        "bundle",
        "import",
        package.to_str().unwrap(),
        "--network",
        &network,
    ]);
    assert!(imported["new"].as_u64().unwrap() > 0, "{imported}");
    // Its provenance.json and summary.pdf are not compared with the entries, and the import
    // says so rather than letting them pass for checked.
    assert_eq!(
        imported["provenance_text"]["state"], "ai_package",
        "{imported}"
    );
    assert_eq!(auditor.ok(&["verify"])["ok"], true);
    assert_eq!(
        auditor.ok(&["ai", "stats"])["models"],
        ada.ok(&["ai", "stats"])["models"],
        "the auditor's figures, recomputed from the package's entries, are the department's"
    );

    // fhir.resources (R4 4.0.1), strict: the Bundle and each Provenance parse.
    let validated = Command::new(python())
        .arg(tests_dir().join("fhir_validate.py"))
        .arg(&bundle_path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );
    assert!(validated.status.success(), "fhir.resources refused: {said}");
    let summary: Value = serde_json::from_str(said.trim()).unwrap();
    assert_eq!(summary["counts"]["Provenance"], 6, "{summary}");

    // One Provenance per AI result; a verifier exactly for those reviewed; the device agent
    // names the model and version `ai stats` counts the result under.
    let stats = ada.ok(&["ai", "stats"]);
    let bundle: Value = serde_json::from_slice(&std::fs::read(&bundle_path).unwrap()).unwrap();
    assert_eq!(bundle["type"], "collection");
    let resources: Vec<&Value> = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .collect();
    let by_url = |reference: &Value| -> &Value {
        let url = str_of(&reference["reference"]);
        let id = url.trim_start_matches("urn:uuid:");
        resources
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{url} not in the bundle"))
    };
    let agent = |p: &Value, code: &str| -> Option<Value> {
        p["agent"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["type"]["coding"][0]["code"] == code)
            .cloned()
    };
    let mut seen = BTreeSet::new();
    for p in resources
        .iter()
        .filter(|r| r["resourceType"] == "Provenance")
    {
        let targets = p["target"].as_array().unwrap();
        assert_eq!(targets[0]["identifier"]["system"], "urn:countersign:report");
        assert!(
            [first.as_str(), second.as_str()]
                .contains(&targets[0]["identifier"]["value"].as_str().unwrap()),
            "{p}"
        );
        let entry = str_of(&targets[1]["identifier"]["value"]);
        assert!(seen.insert(entry.clone()), "two Provenances for {entry}");
        let verifier = agent(p, "verifier");
        assert_eq!(
            verifier.is_some(),
            reviewed.contains(entry.as_str()),
            "verifier of {entry}: {p}"
        );
        if let Some(v) = verifier {
            assert_eq!(by_url(&v["who"])["name"][0]["text"], "Dr Ada");
            assert_eq!(p["signature"].as_array().unwrap().len(), 2, "{p}");
        } else {
            assert_eq!(p["activity"]["coding"][0]["code"], "unreviewed");
        }
        let device = by_url(&agent(p, "author").expect("the AI is an agent")["who"]);
        assert_eq!(device["resourceType"], "Device", "{p}");
        let model = stats["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["results"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r == entry.as_str())
            })
            .unwrap_or_else(|| panic!("ai stats does not count {entry}"));
        assert_eq!(
            (
                &device["deviceName"][0]["name"],
                &device["version"][0]["value"]
            ),
            (&model["model"], &model["version"]),
            "{entry}"
        );
        if entry == received {
            // Receipt attested by Ada: the enterer, never the author.
            let enterer = agent(p, "enterer").expect("the attesting member");
            assert_eq!(by_url(&enterer["who"])["name"][0]["text"], "Dr Ada");
            assert_eq!(device["manufacturer"], "Acme AI");
        } else {
            assert!(agent(p, "enterer").is_none());
        }
    }
    let every: BTreeSet<String> = v1_results
        .iter()
        .chain(&v2_results)
        .chain([&received])
        .cloned()
        .collect();
    assert_eq!(seen, every);

    // The summary reads the per-version figures `ai stats --json` gives.
    let text = Command::new("pdftotext")
        .arg(&pdf_path)
        .arg("-")
        .output()
        .expect("pdftotext (make deps installs poppler-utils)");
    assert!(text.status.success());
    let flat = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(stats["models"].as_array().unwrap().len(), 3, "{stats}");
    for m in stats["models"].as_array().unwrap() {
        let n = |k: &str| m[k].as_u64().unwrap();
        for expected in [
            format!("{} {}", str_of(&m["model"]), str_of(&m["version"])),
            format!(
                "{} proposals: {} accepted, {} edited, {} rejected, {} unreviewed.",
                n("proposals"),
                n("accepted"),
                n("edited"),
                n("rejected"),
                n("unreviewed")
            ),
            format!(
                "Acceptance {:.1}% ({} of {} reviewed",
                m["acceptance_rate"].as_f64().unwrap() * 100.0,
                n("accepted") + n("edited"),
                n("accepted") + n("edited") + n("rejected")
            ),
        ] {
            assert!(flat.contains(&expected), "PDF lacks {expected:?}:\n{flat}");
        }
    }
    // Version 1.0: two of three reviewed accepted or edited.
    assert!(flat.contains("Acceptance 66.7% (2 of 3 reviewed"), "{flat}");
    for expected in [
        "Selection: model any; proposals signed since the first entry; studies of modality any",
        "6 AI results in 2 reports; 0 entries excluded for failing verification",
        "Exported",
        "by Dr Ada (attending)",
    ] {
        assert!(flat.contains(expected), "PDF lacks {expected:?}:\n{flat}");
    }

    // A selection: one model, from a date, on CT studies; the figures follow it.
    let lungscan = dir.path().join("lungscan.tar");
    let written = ada.ok(&[
        "ai",
        "audit",
        "export",
        "-o",
        lungscan.to_str().unwrap(),
        "--model",
        "LungScan",
        "--since",
        "2000-01-01",
        "--modality",
        "CT",
    ]);
    assert_eq!(
        (written["results"].as_u64(), written["reports"].as_u64()),
        (Some(1), Some(1)),
        "{written}"
    );
    let none = ada.ok(&[
        "ai",
        "audit",
        "export",
        "-o",
        dir.path().join("mr.tar").to_str().unwrap(),
        "--modality",
        "MR",
    ]);
    assert_eq!(none["results"], 0);

    // Refusals: a date that is not one; a file inside the home (nothing created there).
    assert_eq!(
        ada.run(&[
            "ai",
            "audit",
            "export",
            "-o",
            dir.path().join("x.tar").to_str().unwrap(),
            "--since",
            "last week"
        ])
        .error_code(),
        "invalid_input"
    );
    let inside = ada.dir.join("audit.tar");
    assert_eq!(
        ada.run(&["ai", "audit", "export", "-o", inside.to_str().unwrap()])
            .error_code(),
        "path_refused"
    );
    assert!(!inside.exists());

    // The edit's signature broken in SQLite: the package still has the result's Provenance,
    // with no verifier and a word on why, and the summary counts the exclusion.
    let id = countersign_ledger::Hash::from_hex(&edit).unwrap();
    ada.db()
        .execute(
            "UPDATE entries SET signature = zeroblob(64) WHERE id = ?1",
            [id.as_bytes().as_slice()],
        )
        .unwrap();
    let tampered = dir.path().join("tampered.tar");
    let written = ada.ok(&["ai", "audit", "export", "-o", tampered.to_str().unwrap()]);
    assert_eq!(written["results"], 6);
    // The package carries the entries as held, so the auditor's import refuses it whole,
    // naming the entry whose signature fails: a package never launders a tampered entry.
    let later = Home::new();
    later.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
    let refused = later.run(&[
        "bundle",
        "import",
        tampered.to_str().unwrap(),
        "--network",
        &network,
    ]);
    assert_ne!(refused.code, 0, "{}", refused.stdout);
    assert!(refused.stderr.contains(&edit), "{}", refused.stderr);
    assert_eq!(later.ok(&["ai", "stats"])["models"], serde_json::json!([]));
    let tampered = unpack(&tampered);
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(tampered.join("provenance.json")).unwrap()).unwrap();
    let edited = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| {
            r["resourceType"] == "Provenance"
                && r["target"][1]["identifier"]["value"] == v1_results[1].as_str()
        })
        .unwrap();
    assert_eq!(
        edited["activity"]["coding"][0]["code"], "unreviewed",
        "{edited}"
    );
    assert!(agent(edited, "verifier").is_none(), "{edited}");
    assert!(
        str_of(&edited["extension"][0]["valueString"]).contains(&edit),
        "{edited}"
    );
    let text = Command::new("pdftotext")
        .arg(tampered.join("summary.pdf"))
        .arg("-")
        .output()
        .unwrap();
    let flat = String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("6 AI results in 2 reports; 1 entries excluded for failing verification"),
        "{flat}"
    );
    assert!(
        flat.contains(&edit),
        "the excluded review is listed: {flat}"
    );
}
