//! Where a sealed report's content could leave the sealed scheme, and does not: a home that
//! holds the report without its key refuses every export and delivery of its content
//! (`report_unreadable`) rather than writing an empty report that verifies; the files `bundle
//! export` and `ai audit export` write are owner-only (they carry keys). Real homes, the real
//! CLI.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::Home;

/// A marker no other text contains: finding it means the report's text is there in clear.
const MARKER: &str = "LEAK-MARKER-5d1c07 spiculated nodule";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A founder with a signed-off report whose findings hold the marker, and a reviewer's home
/// holding that report from a ciphertext-only bundle (written owner-only).
fn report_without_its_key() -> (Home, Home, String) {
    let a = Home::new();
    a.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let report = a.new_report("1.2.840.99.7", "ct-chest");
    for (section, text) in [
        ("technique", "CT of the chest."),
        ("findings", MARKER),
        ("impression", "See findings."),
    ] {
        assert_eq!(a.write(&report, section, text).code, 0);
    }
    a.ok(&["report", "finalize", &report]);
    let file = a.dir.with_extension("nokeys.bundle");
    a.ok(&[
        "bundle",
        "export",
        "--no-keys",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert_eq!(mode(&file), 0o600, "a bundle file is owner-only");
    let f = Home::new();
    f.ok(&["init", "--name", "Auditor", "--role", "reviewer"]);
    let imported = f.import(&std::fs::read(&file).unwrap());
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    assert_eq!(f.ok(&["report", "show", &report])["unreadable"], true);
    (a, f, report)
}

#[test]
fn a_home_without_the_key_refuses_every_content_export_and_delivery() {
    let (a, f, report) = report_without_its_key();
    let out = tempfile::tempdir().unwrap();
    for format in ["pdf", "fhir", "sr", "pdf-dicom"] {
        let file = out.path().join(format!("export.{format}"));
        let args = [
            "export",
            &report,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ];
        // The key holder writes it; the home without the key refuses, writing nothing.
        a.ok(&args);
        std::fs::remove_file(&file).unwrap();
        let refused = f.run(&args);
        assert_eq!(
            refused.error_code(),
            "report_unreadable",
            "{format}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("not its key"),
            "{format}: {}",
            refused.stderr
        );
        assert!(!file.exists(), "{format}: a file was written");
    }
    // Delivery: refused before any archive is dialled (nothing listens on this one).
    let nowhere = format!(
        "http://127.0.0.1:{}/dicom-web",
        crate::pacs_servers::free_port()
    );
    f.ok(&["pacs", "add", "archive", "--dicomweb", &nowhere]);
    assert_eq!(
        f.run(&["deliver", &report, "--pacs", "archive"])
            .error_code(),
        "report_unreadable"
    );
    // The audit archive carries the sealed entries and says plainly the text is not here.
    let tar = out.path().join("audit.tar");
    f.ok(&[
        "export",
        &report,
        "--format",
        "bundle",
        "-o",
        tar.to_str().unwrap(),
    ]);
    let unpacked = out.path().join("audit");
    std::fs::create_dir(&unpacked).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(status.success());
    let provenance = std::fs::read_to_string(unpacked.join("provenance.txt")).unwrap();
    assert!(provenance.contains("NOT READABLE HERE"), "{provenance}");
    let archive = std::fs::read(&tar).unwrap();
    assert!(!archive
        .windows(MARKER.len())
        .any(|w| w == MARKER.as_bytes()));
}

#[test]
fn the_ai_audit_package_is_owner_only() {
    let (a, _f, _report) = report_without_its_key();
    let out = tempfile::tempdir().unwrap();
    let package = out.path().join("ai-audit.tar");
    a.ok(&["ai", "audit", "export", "-o", package.to_str().unwrap()]);
    assert_eq!(mode(&package), 0o600);
    // An existing file written over is narrowed too.
    let bundle = out.path().join("existing.bundle");
    std::fs::write(&bundle, b"old").unwrap();
    std::fs::set_permissions(&bundle, std::fs::Permissions::from_mode(0o644)).unwrap();
    a.ok(&["bundle", "export", "-o", bundle.to_str().unwrap()]);
    assert_eq!(mode(&bundle), 0o600);
}

/// Every file under `dir` holding `needle` (the home's SQLite files and WAL included).
fn files_holding(dir: &Path, needle: &[u8]) -> Vec<String> {
    crate::common::every_file(dir)
        .into_iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle)
        })
        .map(|f| f.display().to_string())
        .collect()
}

/// A clear section hand-crafted into a sealed report, dated a day ahead (it was held for its
/// date with its clear text), or into a report this home does not have yet (it was kept
/// waiting for it, text and all): refused at once as `payload_not_sealed`, and no file under
/// the home holds its text afterwards.
#[test]
fn a_clear_section_dated_ahead_or_before_its_report_leaves_no_text_in_the_home() {
    use crate::common::{craft, now_ms};
    const CLEAR: &str = "CLEAR-MARKER-9a3f2e lesion of the left lobe";
    let (ada, bob) = crate::common::two_attendings();
    let report = ada.new_report("4.4.5", "ct-chest");
    assert_eq!(bob.import(&ada.bundle(None)).code, 0);
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let clear =
        serde_json::to_vec(&serde_json::json!({"section": "findings", "text": CLEAR})).unwrap();
    let day = 24 * 3600 * 1000;
    let ahead = craft(
        &bob.secret(&bob.key()),
        &network,
        &report,
        1,
        now_ms() + day,
        countersign_ledger::Kind::SectionWrite,
        vec![report.parse().unwrap()],
        &clear,
    );
    let not_here = "ab".repeat(32);
    let early = craft(
        &bob.secret(&bob.key()),
        &network,
        &not_here,
        1,
        now_ms() - 1_000,
        countersign_ledger::Kind::SectionWrite,
        vec![not_here.parse().unwrap()],
        &clear,
    );
    for entry in [&ahead, &early] {
        let run = ada.import_one(entry, &clear);
        assert_ne!(run.code, 0, "{}", run.stdout);
        assert!(run.stderr.contains("payload_not_sealed"), "{}", run.stderr);
    }
    assert!(
        files_holding(&ada.dir, CLEAR.as_bytes()).is_empty(),
        "the clear text is in the home's files"
    );
    assert_eq!(ada.ok(&["verify"])["ok"], true);
}
