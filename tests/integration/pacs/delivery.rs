//! Delivery back to the archive: a final report's SR and PDF stored into its study once over
//! both protocols, store-back on sign-off with a failed delivery kept for retry, and a serving
//! node that delivers by itself once the archive answers.

use serde_json::Value;

use super::{add_both, attending};
use crate::common::Home;
use crate::pacs_servers::{free_port, phantom_study, Dcmqrscp, Orthanc, PATIENT};

/// A signed-off report's SR and its PDF (as Encapsulated PDF) go back to the archive, into the
/// study of its images, once per version: checked on Orthanc through its own REST API (and by
/// dciodvfy, and Orthanc's /pdf read by pdftotext), and on dcmqrscp by retrieving the study
/// again.
#[test]
fn a_final_reports_sr_is_delivered_into_its_study_once_over_both_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs deliver", "20260105", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    dcmqrscp.store(&study.files);
    let home = attending();
    add_both(&home, &orthanc, &dcmqrscp);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    // A draft does not go.
    let early = home.run(&["deliver", &report, "--pacs", "orthanc"]);
    assert_eq!(early.error_code(), "invalid_input", "{}", early.stderr);
    home.ok(&["report", "finalize", &report]);

    let sent = home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    assert_eq!(sent["study"], study.study.as_str(), "{sent}");
    let sop = sent["sop_instance"].as_str().unwrap().to_string();
    let found = orthanc.find_instance(&sop);
    assert_eq!(found.len(), 1, "{found:?}");
    let file = orthanc.instance_file(&found[0]);
    let stored = dir.path().join("delivered-sr.dcm");
    std::fs::write(&stored, &file).unwrap();
    let sr = dicom_object::open_file(&stored).unwrap();
    let text = |tag| {
        sr.element(tag)
            .unwrap()
            .to_str()
            .unwrap()
            .trim_end_matches('\0')
            .to_string()
    };
    use dicom_dictionary_std::tags;
    assert_eq!(text(tags::STUDY_INSTANCE_UID), study.study);
    assert_eq!(text(tags::SOP_CLASS_UID), "1.2.840.10008.5.1.4.1.1.88.33");
    assert_eq!(text(tags::PATIENT_ID), PATIENT);
    let check = std::process::Command::new("dciodvfy")
        .arg(&stored)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    // Beside it, the PDF as an Encapsulated PDF (for viewers that show no SR): dciodvfy finds
    // no error in what Orthanc stored, and Orthanc's own /pdf gives back the report's text.
    let pdf_sop = sent["pdf_sop_instance"].as_str().unwrap().to_string();
    let found_pdf = orthanc.find_instance(&pdf_sop);
    assert_eq!(found_pdf.len(), 1, "{found_pdf:?}");
    let stored_pdf = dir.path().join("delivered-pdf.dcm");
    std::fs::write(&stored_pdf, orthanc.instance_file(&found_pdf[0])).unwrap();
    let check = std::process::Command::new("dciodvfy")
        .arg(&stored_pdf)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&check.stderr).to_string()
        + &String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("EncapsulatedPDF"), "{said}");
    let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let pdf = dir.path().join("from-orthanc.pdf");
    std::fs::write(&pdf, orthanc.instance_pdf(&found_pdf[0])).unwrap();
    let text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("No acute abnormality."),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
    // The same version again: the same instances, still one each on the archive.
    let again = home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    assert_eq!(again["sop_instance"], sop.as_str());
    assert_eq!(again["pdf_sop_instance"], pdf_sop.as_str());
    assert_eq!(orthanc.find_instance(&sop).len(), 1);
    assert_eq!(orthanc.find_instance(&pdf_sop).len(), 1);

    // Over C-STORE to dcmqrscp: the study comes back with the SR and the PDF as a fourth and
    // fifth instance.
    let sent = home.ok(&["deliver", &report, "--pacs", "dcm"]);
    assert_eq!(sent["sop_instance"], sop.as_str());
    assert_eq!(sent["pdf_sop_instance"], pdf_sop.as_str());
    let other = attending();
    other.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let got = other.ok(&["retrieve", "--pacs", "dcm", "--study", &study.study]);
    assert_eq!(got["instances"], 5, "{got}");
    assert_eq!(got["refused"], serde_json::json!([]), "{got}");
}

/// Store-back: signing off (and each addendum) sends the SR to every archive configured for
/// it; an archive that is down never stops the signature, is listed as failed, and is
/// delivered to by `deliveries --retry` once it answers.
#[test]
fn signing_off_stores_the_sr_back_and_a_failed_delivery_is_kept_for_retry() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs store back", "20260105", &[]);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let home = attending();
    let url = orthanc.dicomweb_url();
    let down = format!("http://127.0.0.1:{}/dicom-web", free_port());
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url, "--store-back"]);
    home.ok(&["pacs", "add", "later", "--dicomweb", &down, "--store-back"]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    // A draft is not sent anywhere.
    assert_eq!(home.ok(&["deliveries"]), serde_json::json!([]));

    let signed = home.run(&["report", "finalize", &report]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    assert!(
        signed.stderr.contains("not delivered to archive later"),
        "{}",
        signed.stderr
    );
    let list = home.ok(&["deliveries"]);
    let of = |list: &Value, archive: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["archive"] == archive)
            .unwrap_or_else(|| panic!("{archive}: {list}"))
            .clone()
    };
    let sent = of(&list, "orthanc");
    assert_eq!(sent["state"], "delivered", "{list}");
    let first = sent["sop_instance"].as_str().unwrap().to_string();
    assert_eq!(orthanc.find_instance(&first).len(), 1);
    let failed = of(&list, "later");
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error_code"], "pacs_unreachable");

    // An addendum is a new version: a new SR instance goes to the archive.
    home.ok(&[
        "report",
        "addendum",
        &report,
        "--text",
        "Compared with prior: unchanged.",
    ]);
    let sent = of(&home.ok(&["deliveries"]), "orthanc");
    let second = sent["sop_instance"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    assert_eq!(sent["attempts"], 2);
    assert_eq!(orthanc.find_instance(&second).len(), 1);

    // The other archive answers now: the retry delivers the report as it reads now.
    home.ok(&["pacs", "remove", "later"]);
    home.ok(&["pacs", "add", "later", "--dicomweb", &url, "--store-back"]);
    let retried = home.ok(&["deliveries", "--retry"]);
    assert_eq!(retried.as_array().unwrap().len(), 1, "{retried}");
    assert_eq!(retried[0]["state"], "delivered", "{retried}");
    assert_eq!(retried[0]["sop_instance"], second.as_str());
    assert_eq!(retried[0]["attempts"], 3);
    assert_eq!(home.ok(&["deliveries", "--retry"]), serde_json::json!([]));

    // Each delivery is a signed entry of the report: the archive, the version sent, the UIDs,
    // by whom — once per version and archive, the failed attempt not among them.
    let view = home.ok(&["report", "show", &report]);
    let notes: Vec<(String, String)> = view["deliveries"]
        .as_array()
        .unwrap_or_else(|| panic!("{view}"))
        .iter()
        .map(|n| {
            (
                n["archive"].as_str().unwrap().to_string(),
                n["sop_instances"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("orthanc".to_string(), first.clone()),
            ("orthanc".to_string(), second.clone()),
            ("later".to_string(), second.clone()),
        ]
    );
    assert_eq!(view["deliveries"][0]["by"]["name"], "Dr Ada");
    let kinds: Vec<&str> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["kind"].as_str())
        .filter(|k| *k == "report.delivered")
        .collect();
    assert_eq!(kinds.len(), 3);
}

/// A `serve` node tries a failed delivery again by itself, backing off, and delivers once the
/// archive answers: nobody runs `deliveries --retry`.
#[test]
fn a_serving_node_delivers_by_itself_once_the_archive_answers() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs retry by itself", "20260106", &[]);
    let orthanc = Orthanc::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    let home = attending();
    let url = orthanc.dicomweb_url();
    let down = format!("http://127.0.0.1:{}/dicom-web", free_port());
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    home.ok(&["pacs", "add", "later", "--dicomweb", &down, "--store-back"]);
    home.ok(&["report", "finalize", &report]);
    let record = |home: &Home| home.ok(&["deliveries"])[0].clone();
    assert_eq!(record(&home)["state"], "failed");

    // A node with a short first back-off: while the archive is down it keeps trying, each
    // try recorded, the report never lost.
    let mut cmd = home.command();
    cmd.args([
        "--json",
        "serve",
        "--listen",
        "/ip4/127.0.0.1/tcp/0",
        "--delivery-backoff-ms",
        "200",
    ])
    .env_remove("COUNTERSIGN_HOME")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    let mut node = cmd.spawn().unwrap();
    crate::sync::until("two more tries while the archive is down", || {
        record(&home)["attempts"].as_u64().unwrap() >= 3
    });
    let r = record(&home);
    assert_eq!(r["state"], "failed", "{r}");
    assert_eq!(r["error_code"], "pacs_unreachable", "{r}");

    // The archive answers (at the address the home has for it now): delivered by itself.
    home.ok(&["pacs", "remove", "later"]);
    home.ok(&["pacs", "add", "later", "--dicomweb", &url, "--store-back"]);
    crate::sync::until("the delivery by itself", || {
        record(&home)["state"] == "delivered"
    });
    let _ = node.kill();
    let _ = node.wait();
    let r = record(&home);
    let sop = r["sop_instance"].as_str().unwrap();
    assert_eq!(orthanc.find_instance(sop).len(), 1, "{r}");
    assert_eq!(home.ok(&["deliveries", "--retry"]), serde_json::json!([]));
}
