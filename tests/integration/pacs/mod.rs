//! Working from a PACS, against real archives started by the tests (`pacs_servers`): Orthanc
//! over DICOMweb and DCMTK's dcmqrscp over DIMSE. The worklist with this department's report
//! states, byte-identical retrieval over both protocols, wrong-patient safety, and archives
//! that are down, refuse, or answer garbage.
//!
//! By subject:
//! - `worklist`: the worklist with this department's report states over both protocols, and
//!   the last list shown, marked, when the archive is down.
//! - `retrieve`: byte-identical retrieval over DICOMweb and DIMSE, by C-MOVE, the first
//!   instance stored before the archive sends the last, and 500 instances in bounded memory.
//! - `refusals`: what a retrieval refuses of what an archive sends: another patient's
//!   instance, a file not DICOM, pixel data short or cut.
//! - `faults`: archives that are down, refuse the association, answer garbage, or stop
//!   answering.
//! - `priors`: the priors list, and never another patient's study or report as a prior's.
//! - `prior_reports`: a prior's report from the ledger, else an SR, else a PDF on the archive;
//!   the newest reader's report, never a measurement SR; hostile SRs and an archive down.
//! - `delivery`: a final report's SR (and PDF) stored back, a failed delivery kept for retry,
//!   and a serving node delivering by itself.
//! - `credentials`: an archive's credentials, sealed in the home and kept through a key
//!   rotation.
//!
//! The helpers here are the ones more than one of them uses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::Home;
use crate::pacs_servers::{phantom_study, Dcmqrscp, Orthanc, Seeded};

mod credentials;
mod delivery;
mod faults;
mod prior_reports;
mod priors;
mod refusals;
mod retrieve;
mod worklist;

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn shas(files: &[std::path::PathBuf]) -> BTreeSet<String> {
    files.iter().map(|f| sha256_hex(f)).collect()
}

/// The SHA-256 of every image a new report on `study` binds: what the home's store holds of
/// the study, by content.
fn stored(home: &Home, study: &str) -> BTreeSet<String> {
    let report = home.new_report(study, "ct-chest");
    home.ok(&["report", "show", &report])["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Adds the two archives the tests start as `orthanc` (DICOMweb) and `dcm` (DIMSE).
fn add_both(home: &Home, orthanc: &Orthanc, dcmqrscp: &Dcmqrscp) {
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
}

fn attending() -> Home {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    home
}

/// Nothing of any study in the home's store, and nothing left in its staging folder.
fn nothing_stored(home: &Home) {
    assert_eq!(home.ok(&["studies"]), serde_json::json!([]));
    let incoming = home.dir.join("incoming");
    if incoming.exists() {
        assert_eq!(
            crate::common::every_file(&incoming),
            Vec::<std::path::PathBuf>::new()
        );
    }
}

/// Five studies of one patient across five years (priors exist), the newest last.
fn five_studies(dir: &Path) -> Vec<Seeded> {
    ["20220301", "20230412", "20240517", "20250622", "20260105"]
        .iter()
        .enumerate()
        .map(|(i, date)| phantom_study(dir, &format!("pacs worklist {i}"), date, &[]))
        .collect()
}

/// The error's code and message of a refused command; the message must name the archive.
fn refused(home: &Home, args: &[&str], archive: &str) -> (String, String) {
    let run = home.run(args);
    let code = run.error_code();
    let line: Value = serde_json::from_str(run.stderr.trim().lines().last().unwrap()).unwrap();
    let message = line["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("archive {archive}")),
        "{args:?}: {message}"
    );
    (code, message)
}

/// Another department's home: it retrieves `study`, signs off a head CT report on it as
/// "Dr Bea", and writes its SR and its Encapsulated PDF (`export`) into `dir`.
fn another_departments_report(orthanc_url: &str, study: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let other = Home::new();
    other.ok(&["init", "--name", "Dr Bea", "--role", "attending", "--admin"]);
    other.ok(&["pacs", "add", "orthanc", "--dicomweb", orthanc_url]);
    other.ok(&["retrieve", "--pacs", "orthanc", "--study", study]);
    let report = other.new_report(study, "ct-chest");
    other.fill_every_section(&report);
    other.ok(&["report", "finalize", &report]);
    let sr = dir.join(format!("{study}.sr.dcm"));
    let pdf = dir.join(format!("{study}.pdf.dcm"));
    for (format, file) in [("sr", &sr), ("pdf-dicom", &pdf)] {
        other.ok(&[
            "export",
            &report,
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
        ]);
    }
    (sr, pdf)
}
