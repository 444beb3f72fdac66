//! Exports of the demo report, each read by a tool nobody here wrote: the PDF by poppler's
//! `pdftotext`, the FHIR Bundle by the fhir.resources R4 models, the SR by dicom3tools'
//! `dciodvfy` and DCMTK's `dsrdump`, the Encapsulated PDF by `dciodvfy` and DCMTK's `dcm2pdf`, the audit archive by `tar` and by a fresh home that
//! verifies it offline.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{python, Home};

fn export(home: &Home, report: &str, format: &str, dir: &Path) -> PathBuf {
    let path = dir.join(format!("report.{format}"));
    let out = home.ok(&[
        "export",
        report,
        "--format",
        format,
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out["bytes"].as_u64().unwrap() > 1000, "{out}");
    path
}

/// Renames the member of `key` to `name` (as `role`, an admin with `admin`): `roster add` of
/// an admitted key.
fn rename(home: &Home, key: &str, name: &str, role: &str, admin: bool) {
    let mut args = vec![
        "roster", "add", "--key", key, "--name", name, "--role", role,
    ];
    if admin {
        args.push("--admin");
    }
    home.ok(&args);
}

/// Asserts that an audit archive's import exited 1 with its text not compared, and why.
fn assert_not_checked(run: crate::common::Run, why: &str) {
    assert_eq!(run.code, 1, "{}", run.stdout);
    let got = run.json();
    assert_eq!(got["provenance_text"]["state"], "not_checked", "{got}");
    let reason = got["provenance_text"]["reason"].as_str().unwrap();
    assert!(reason.contains(why), "{got}");
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (make deps installs it)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// What every export must say: the critical result and who wrote, co-signed and drafted what.
const EVERYWHERE: &[&str] = &[
    "Incidental 9 mm pulmonary nodule",
    "Dr Hale, referring cardiologist",
    "Dr Rhea Resident",
    "Dr Carl Cardiologist",
];

#[test]
fn every_export_is_read_by_an_independent_tool() {
    let (home, report) = Home::demo();
    let view = home.ok(&["report", "show", &report]);
    let entries: Vec<&str> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["entry"].as_str().unwrap())
        .collect();
    let dir = tempfile::tempdir().unwrap();

    // PDF → pdftotext: the report, its critical result, its authors and every entry id.
    let pdf = export(&home, &report, "pdf", dir.path());
    let (ok, text) = run(Command::new("pdftotext").arg(&pdf).arg("-"));
    assert!(ok, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in EVERYWHERE.iter().chain(&[
        "Cardiac MR report",
        "CRITICAL RESULT:",
        "Written by Dr Rhea Resident (resident)",
        "Co-signed by Dr Ada Attending (attending)",
        "Co-signed by Dr Carl Cardiologist (cardiologist)",
        "Edited by Dr Ada Attending from an AI draft",
        "LV ejection fraction: 58 %",
        "Status FINAL",
        "Provenance",
    ]) {
        assert!(flat.contains(expected), "PDF lacks {expected:?}:\n{text}");
    }
    for id in &entries {
        assert!(flat.contains(id), "PDF appendix lacks entry {id}");
    }

    // FHIR → fhir.resources (R4 4.0.1), strict; one Provenance per signed entry.
    let fhir = export(&home, &report, "fhir", dir.path());
    let validator = crate::common::tests_dir().join("fhir_validate.py");
    let (ok, out) = run(Command::new(python()).arg(&validator).arg(&fhir));
    assert!(ok, "fhir.resources refused the bundle: {out}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["counts"]["Provenance"], entries.len());
    assert_eq!(summary["counts"]["DiagnosticReport"], 1);
    assert_eq!(summary["counts"]["Device"], 1, "the AI model is a Device");
    let json = std::fs::read_to_string(&fhir).unwrap();
    for expected in EVERYWHERE {
        assert!(json.contains(expected), "FHIR lacks {expected:?}");
    }
    // The validator is not a rubber stamp: a status outside R4's codes is refused.
    let broken = dir.path().join("broken.json");
    std::fs::write(
        &broken,
        json.replacen("\"status\": \"final\"", "\"status\": \"finished\"", 1),
    )
    .unwrap();
    let (ok, out) = run(Command::new(python()).arg(&validator).arg(&broken));
    assert!(!ok, "a bad status passed: {out}");

    // SR → dciodvfy (no errors) and dsrdump (reads the tree).
    let sr = export(&home, &report, "sr", dir.path());
    let (_, out) = run(Command::new("dciodvfy").arg(&sr));
    assert!(out.contains("ComprehensiveSR"), "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    // Strict: without -Ee, dsrdump stops at any invalid content item.
    let (ok, tree) = run(Command::new("dsrdump").arg("+Pc").arg(&sr));
    assert!(ok, "{tree}");
    for expected in [
        "Completion Flag     : COMPLETE",
        "Verification Flag   : VERIFIED",
        "Attending^Ada^^Dr",
        "<has obs context PNAME:(121008,DCM,\"Person Observer Name\")=\"Resident^Rhea^^Dr\">",
        "<has obs context PNAME:(121008,DCM,\"Person Observer Name\")=\"Cardiologist^Carl^^Dr\">",
        "(121007,DCM,\"Device\")",
        "Critical result",
        "(%,UCUM,\"%\")",
        "IMAGE:",
    ] {
        assert!(
            tree.contains(expected),
            "dsrdump lacks {expected:?}:\n{tree}"
        );
    }

    // Encapsulated PDF → dciodvfy (no errors, the IOD it claims), and DCMTK's dcm2pdf takes
    // out a PDF whose text pdftotext reads as the report's.
    let wrapped = export(&home, &report, "pdf-dicom", dir.path());
    let (_, out) = run(Command::new("dciodvfy").arg(&wrapped));
    assert!(out.contains("EncapsulatedPDF"), "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    let unwrapped = dir.path().join("unwrapped.pdf");
    let (ok, said) = run(Command::new("dcm2pdf").arg(&wrapped).arg(&unwrapped));
    assert!(ok, "{said}");
    let (ok, text) = run(Command::new("pdftotext").arg(&unwrapped).arg("-"));
    assert!(ok, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in EVERYWHERE
        .iter()
        .chain(&["Cardiac MR report", "Status FINAL"])
    {
        assert!(
            flat.contains(expected),
            "the encapsulated PDF lacks {expected:?}:\n{text}"
        );
    }

    // Audit archive → tar lists it; a fresh home imports and verifies it offline.
    let bundle = export(&home, &report, "bundle", dir.path());
    let (ok, list) = run(Command::new("tar").arg("-tf").arg(&bundle));
    assert!(ok, "{list}");
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        ["README.txt", "provenance.txt", "report.csbundle"]
    );
    let (ok, provenance) = run(Command::new("tar")
        .arg("-xOf")
        .arg(&bundle)
        .arg("provenance.txt"));
    assert!(ok);
    for id in &entries {
        assert!(provenance.contains(id), "provenance.txt lacks {id}");
    }
    let auditor = Home::new();
    auditor.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
    // The auditor names the network the archive must be of.
    let network = home.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string();
    let imported = auditor.ok(&[
        "bundle",
        "import",
        bundle.to_str().unwrap(),
        "--network",
        &network,
    ]);
    assert!(
        imported["new"].as_u64().unwrap() >= entries.len() as u64,
        "{imported}"
    );
    assert!(auditor.ok(&["verify"])["ok"].as_bool().unwrap());
    assert_eq!(auditor.ok(&["report", "show", &report])["status"], "final");
}

/// An audit archive's `provenance.txt` rewritten after export (the sign-off given to another
/// name) is caught on import: the entries are stored (they verify), and the import says the
/// text does not read as they do, at which line, and exits 1. Found by review, 2026-12-05:
/// import read only the bundle and exited 0, while the auditor read the forgery. The honest
/// archive's text matches but for the lines the exporter's image store gave (the patient and
/// the study's date), which are named; one that says another version wrote it is said to be
/// unchecked.
#[test]
fn a_rewritten_provenance_txt_is_caught_on_import() {
    let (home, report) = Home::demo();
    let dir = tempfile::tempdir().unwrap();
    let archive = export(&home, &report, "bundle", dir.path());
    let network = home.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string();
    let import = |file: &Path| {
        let auditor = Home::new();
        auditor.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
        auditor.run(&[
            "bundle",
            "import",
            file.to_str().unwrap(),
            "--network",
            &network,
        ])
    };
    let honest = import(&archive).ok();
    assert_eq!(honest["provenance_text"]["state"], "matches", "{honest}");
    // What no archive can show by itself is an entry left out: its README names the report's
    // latest entry, for the auditor to confirm with the department, as `report show` prints it.
    let heads = home.ok(&["report", "show", &report])["heads"].clone();
    let head = heads[0].as_str().unwrap();
    let (ok, readme) = run(Command::new("tar")
        .arg("-xOf")
        .arg(&archive)
        .arg("README.txt"));
    assert!(
        ok && readme.contains(&format!("it is {head} here")),
        "{readme}"
    );
    let shown = home.text(&["report", "show", &report]);
    assert!(shown.contains(&format!("latest entry {head}\n")), "{shown}");
    let unsigned = honest["provenance_text"]["unsigned"].as_array().unwrap();
    assert!(
        unsigned[0].as_str().unwrap().starts_with("Patient Phantom"),
        "{honest}"
    );
    assert!(
        unsigned[1].as_str().unwrap().starts_with("Study "),
        "{honest}"
    );
    assert!(
        unsigned[2]
            .as_str()
            .unwrap()
            .ends_with("UTC (the archive's date)"),
        "{honest}"
    );

    // The same archive, its text rewritten and packed again by tar.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let (ok, said) = run(Command::new("tar")
        .arg("-xf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked));
    assert!(ok, "{said}");
    let text = std::fs::read_to_string(unpacked.join("provenance.txt")).unwrap();
    let forged = text.replacen("Signed off by Dr Ada", "Signed off by Dr Mallory", 1);
    assert_ne!(forged, text);
    std::fs::write(unpacked.join("provenance.txt"), forged).unwrap();
    let repack = |name: &str| {
        let path = dir.path().join(name);
        let (ok, said) = run(Command::new("tar")
            .arg("--format=ustar")
            .arg("-cf")
            .arg(&path)
            .arg("-C")
            .arg(&unpacked)
            .args(["README.txt", "provenance.txt", "report.csbundle"]));
        assert!(ok, "{said}");
        path
    };
    let caught = import(&repack("forged.tar"));
    assert_eq!(caught.code, 1, "{}", caught.stdout);
    let caught = caught.json();
    assert!(caught["new"].as_u64().unwrap() > 0, "{caught}");
    assert_eq!(caught["provenance_text"]["state"], "differs", "{caught}");
    let archive_line = caught["provenance_text"]["archive"].as_str().unwrap();
    let entries_line = caught["provenance_text"]["entries"].as_str().unwrap();
    assert!(archive_line.contains("Dr Mallory"), "{caught}");
    assert!(entries_line.contains("Dr Ada"), "{caught}");

    // A README naming another version turns nothing off (found by review, 2026-12-05: it
    // made the import say "not checked" and exit 0): the text is still compared, and the
    // difference said, with the version the README claims.
    let readme = std::fs::read_to_string(unpacked.join("README.txt")).unwrap();
    let other = readme.replacen("Written by Countersign ", "Written by Countersign 0.0.", 1);
    assert_ne!(other, readme);
    std::fs::write(unpacked.join("README.txt"), other).unwrap();
    let still = import(&repack("other-version.tar"));
    assert_eq!(still.code, 1, "{}", still.stdout);
    let still = still.json();
    assert_eq!(still["provenance_text"]["state"], "differs", "{still}");
    assert!(
        still["provenance_text"]["written_by"]
            .as_str()
            .unwrap()
            .starts_with("0.0."),
        "{still}"
    );

    // A home whose roster moved on since the export (a member renamed): the text names the
    // authors as the roster did then, so it is not compared (found by review, 2026-12-05:
    // an honest archive read as forged), and the import says why (exit 1).
    let carl = home.member("cardiologist");
    rename(&home, &carl, "Dr Mallory", "cardiologist", false);
    assert_not_checked(
        home.run(&["bundle", "import", archive.to_str().unwrap()]),
        "holds 1 roster entries the archive does not carry",
    );

    // A home that holds a later entry of the report than the archive carries: the archive
    // leaves it out, and the import says so (exit 1) rather than comparing with more than the
    // archive holds.
    home.ok(&[
        "report",
        "addendum",
        &report,
        "--text",
        "Compared with prior: unchanged.",
    ]);
    assert_not_checked(
        home.run(&["bundle", "import", archive.to_str().unwrap()]),
        "holds 1 entries of report",
    );
}

/// An admin renames the cardiologist after he co-signed: `report show` and the PDF still say
/// whom he signed as (found by review, 2026-12-05: every past entry read as signed by the
/// new name).
#[test]
fn a_rename_leaves_who_signed_as_they_signed() {
    let (home, report) = Home::demo();
    let carl = home.member("cardiologist");
    let was = "Dr Carl Cardiologist";
    rename(&home, &carl, "Dr Mallory", "cardiologist", false);
    let shown = home.text(&["report", "show", &report]);
    assert!(
        shown.contains(&format!(
            "co-signed by Dr Mallory (cardiologist; signed as {was})"
        )),
        "{shown}"
    );
    let dir = tempfile::tempdir().unwrap();
    let pdf = export(&home, &report, "pdf", dir.path());
    let (ok, text) = run(Command::new("pdftotext").arg(&pdf).arg("-"));
    assert!(ok, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("Dr Mallory (cardiologist; signed as {was})")),
        "{text}"
    );
    // Ada, who signed it off and recorded the critical result, renamed too: the sentences
    // naming her say whom she signed as, the SR's verifying observer is the name she verified
    // under, and FHIR keeps both names (found by review, 2026-12-05: only the provenance lines
    // said it).
    let ada = home.ok(&["whoami"])["key"].as_str().unwrap().to_string();
    let ada_was = "Dr Ada Attending";
    rename(&home, &ada, "Dr Ada Jones", "attending", true);
    let pdf = export(&home, &report, "pdf", dir.path());
    let (ok, text) = run(Command::new("pdftotext").arg(&pdf).arg("-"));
    assert!(ok, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!("recorded by Dr Ada Jones (signed as {ada_was})")),
        "{text}"
    );
    let tree = sr_tree(&home, &report, dir.path());
    // Every observer and verifier is named as they signed; the text beside says both names.
    assert!(tree.contains("Attending^Ada^^Dr"), "{tree}");
    assert!(!tree.contains("Jones^Ada"), "{tree}");
    assert!(
        tree.contains("co-signed by Dr Ada Jones (signed as Dr Ada Attending)"),
        "{tree}"
    );
    let fhir: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export(&home, &report, "fhir", dir.path())).unwrap())
            .unwrap();
    let olds: Vec<&str> = fhir["entry"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource"]["resourceType"] == "Practitioner")
        .flat_map(|e| e["resource"]["name"].as_array().unwrap().iter())
        .filter(|n| n["use"] == "old")
        .map(|n| n["text"].as_str().unwrap())
        .collect();
    assert!(olds.contains(&ada_was) && olds.contains(&was), "{olds:?}");
}

/// Ada's and Bob's impressions of the same chest CT, each signed off without the other's.
const ADA_IMPRESSION: &str = "Solitary 6 mm nodule in the right upper lobe; CT in 12 months.";
const BOB_IMPRESSION: &str = "No significant abnormality of the chest.";

/// The value of `key` in `dsrdump`'s header lines ("Completion Flag     : PARTIAL").
fn dsr_header<'a>(tree: &'a str, key: &str) -> Option<&'a str> {
    tree.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim())
    })
}

/// The SR of `report` after dciodvfy found no error in it, as dsrdump reads it.
fn sr_tree(home: &Home, report: &str, dir: &Path) -> String {
    let sr = export(home, report, "sr", dir);
    let (_, out) = run(Command::new("dciodvfy").arg(&sr));
    assert!(out.contains("ComprehensiveSR"), "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "dciodvfy: {errors:#?}");
    // Long values in full (+Pl): the impressions are compared whole.
    let (ok, tree) = run(Command::new("dsrdump").args(["+Pc", "+Pl"]).arg(&sr));
    assert!(ok, "{tree}");
    tree
}

/// Two attendings on two machines sign off the same report apart, Bob after rewriting the
/// impression: once the bundles meet, Ada's home holds a report in conflict, and every export
/// says so — FHIR status `unknown`, an SR that is PARTIAL and UNVERIFIED naming both observers
/// and both impressions, a PDF with the conflict banner — read by tools nobody here wrote. Once
/// Ada keeps her sign-off the SR is COMPLETE and VERIFIED again, with her impression alone.
#[test]
fn a_report_in_conflict_exports_as_unsettled_until_an_attending_keeps_one_sign_off() {
    let (ada, bob) = crate::common::two_attendings();
    let report = ada.new_report("2.25.424242", "ct-chest");
    for (section, text) in [
        ("technique", "Low-dose CT of the chest without contrast."),
        ("findings", "A 6 mm solid nodule in the right upper lobe."),
        ("impression", ADA_IMPRESSION),
    ] {
        ada.write(&report, section, text).ok();
    }
    let given = bob.import(&ada.bundle(None));
    assert_eq!(given.code, 0, "{}", given.stderr);

    // Ada signs off; Bob, who has not seen her sign-off, rewrites the impression and signs off.
    let kept = ada.ok(&["report", "finalize", &report])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    bob.write(&report, "impression", BOB_IMPRESSION).ok();
    bob.ok(&["report", "finalize", &report]);
    let back = ada.import(&bob.bundle(Some(&report)));
    assert_eq!(back.code, 0, "{}", back.stderr);
    assert_eq!(ada.ok(&["report", "show", &report])["status"], "conflict");
    let dir = tempfile::tempdir().unwrap();

    // FHIR → fhir.resources (R4 4.0.1), strict: the DiagnosticReport's status is `unknown`
    // (no one version is the report's), and both impressions are in it.
    let fhir = export(&ada, &report, "fhir", dir.path());
    let validator = crate::common::tests_dir().join("fhir_validate.py");
    let (ok, out) = run(Command::new(python()).arg(&validator).arg(&fhir));
    assert!(ok, "fhir.resources refused the bundle: {out}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(summary["counts"]["DiagnosticReport"], 1, "{summary}");
    let bundle: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&fhir).unwrap()).unwrap();
    let diagnostic = bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .find(|r| r["resourceType"] == "DiagnosticReport")
        .unwrap();
    assert_eq!(diagnostic["status"], "unknown", "{diagnostic}");
    let json = bundle.to_string();
    for expected in [ADA_IMPRESSION, BOB_IMPRESSION] {
        assert!(json.contains(expected), "FHIR lacks {expected:?}");
    }

    // SR → dciodvfy (no errors) and dsrdump: PARTIAL, UNVERIFIED, both signers as observers,
    // both impressions.
    let tree = sr_tree(&ada, &report, dir.path());
    assert_eq!(
        dsr_header(&tree, "Completion Flag"),
        Some("PARTIAL"),
        "{tree}"
    );
    assert_eq!(
        dsr_header(&tree, "Verification Flag"),
        Some("UNVERIFIED"),
        "{tree}"
    );
    for expected in [
        "<has obs context PNAME:(121008,DCM,\"Person Observer Name\")=\"Ada^^^Dr\">",
        "<has obs context PNAME:(121008,DCM,\"Person Observer Name\")=\"Bob^^^Dr\">",
        ADA_IMPRESSION,
        BOB_IMPRESSION,
    ] {
        assert!(
            tree.contains(expected),
            "dsrdump lacks {expected:?}:\n{tree}"
        );
    }

    // PDF → pdftotext: the conflict banner and both impressions.
    let pdf = export(&ada, &report, "pdf", dir.path());
    let (ok, text) = run(Command::new("pdftotext").arg(&pdf).arg("-"));
    assert!(ok, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "CONFLICT: TWO SIGN-OFFS DISAGREE",
        ADA_IMPRESSION,
        BOB_IMPRESSION,
    ] {
        assert!(flat.contains(expected), "PDF lacks {expected:?}:\n{text}");
    }

    // Bob keeps Ada's sign-off (nobody keeps their own): the SR is complete and verified
    // again, and reads as hers alone.
    assert_eq!(bob.import(&ada.bundle(Some(&report))).code, 0);
    bob.ok(&["report", "resolve", &report, "--keep", &kept]);
    assert_eq!(ada.import(&bob.bundle(Some(&report))).code, 0);
    let after = tempfile::tempdir().unwrap();
    let tree = sr_tree(&ada, &report, after.path());
    assert_eq!(
        dsr_header(&tree, "Completion Flag"),
        Some("COMPLETE"),
        "{tree}"
    );
    assert_eq!(
        dsr_header(&tree, "Verification Flag"),
        Some("VERIFIED"),
        "{tree}"
    );
    assert!(tree.contains(ADA_IMPRESSION), "{tree}");
    assert!(!tree.contains(BOB_IMPRESSION), "{tree}");
    assert!(!tree.contains("Conflict between sign-offs"), "{tree}");
}
