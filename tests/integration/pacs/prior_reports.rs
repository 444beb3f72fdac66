//! A prior's report: from this home's ledger, else an SR, else an Encapsulated PDF on the
//! archive; the newest reader's report on any archive, never a newer measurement SR; and hostile
//! SRs or an archive that is down, named in a clear error.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{another_departments_report, attending};
use crate::pacs_servers::{free_port, phantom_study, Dcmqrscp, Orthanc, PATIENT};

/// The headings (CONTAINER) and TEXT lines of an `archive-sr` answer, in order, as (concept,
/// value), without the SR's provenance notes.
fn text_lines(prior: &Value) -> Vec<(String, String)> {
    prior["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| {
            (l["value_type"] == "TEXT" || l["value_type"] == "CONTAINER")
                && l["concept"] != "Provenance"
        })
        .map(|l| {
            (
                l["concept"].as_str().unwrap().to_string(),
                l["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A prior's report (issue 15): this home's own from its ledger, with who wrote and signed
/// it; else the SR another department stored on the archive, as its text in document order
/// (preferred to the PDF beside it); else an Encapsulated PDF, written to a file in the home
/// that pdftotext reads; else none — over DICOMweb (Orthanc) and DIMSE (dcmqrscp) alike, and
/// nothing of what was read kept in the image store or the ledger.
#[test]
fn a_prior_report_comes_from_the_ledger_else_an_sr_else_a_pdf_on_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let ours = phantom_study(dir.path(), "prior report ours", "20230412", &[]);
    let with_sr = phantom_study(dir.path(), "prior report sr", "20240517", &[]);
    let with_pdf = phantom_study(dir.path(), "prior report pdf", "20250622", &[]);
    let bare = phantom_study(dir.path(), "prior report none", "20220301", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in [&ours, &with_sr, &with_pdf, &bare] {
        for f in &s.files {
            orthanc.upload(f);
        }
        dcmqrscp.store(&s.files);
    }
    let url = orthanc.dicomweb_url();
    let (sr, sr_pdf) = another_departments_report(&url, &with_sr.study, dir.path());
    let (_, pdf) = another_departments_report(&url, &with_pdf.study, dir.path());
    // The SR study has its SR and its PDF on the archives, the PDF study its PDF only.
    for f in [&sr, &sr_pdf, &pdf] {
        orthanc.upload(f);
    }
    dcmqrscp.store(&[sr.clone(), sr_pdf.clone(), pdf.clone()]);

    let home = attending();
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    home.ok(&["retrieve", "--pacs", "orthanc", "--study", &ours.study]);
    let report = home.new_report(&ours.study, "ct-chest");
    home.fill_every_section(&report);
    home.ok(&["report", "finalize", &report]);
    // Its SR is on the archive too: the ledger's own report still comes first.
    home.ok(&["deliver", &report, "--pacs", "orthanc"]);
    let reports_before = home.ok(&["report", "list"]);

    let prior = home.ok(&["prior-report", "--study", &ours.study]);
    assert_eq!(prior["source"], "ledger", "{prior}");
    assert_eq!(prior["study"], ours.study.as_str());
    assert_eq!(prior["report"], report.as_str());
    assert_eq!(prior["status"], "final");
    assert_eq!(prior["signoff"]["author"]["name"], "Dr Ada", "{prior}");
    let sections = prior["sections"].as_array().unwrap();
    let impression = sections.iter().find(|s| s["name"] == "impression").unwrap();
    assert_eq!(impression["text"], "No acute abnormality.");
    assert_eq!(impression["written"]["author"]["name"], "Dr Ada");
    assert!(impression["written"]["time_ms"].as_u64().unwrap() > 0);
    assert_eq!(prior["unreadable"], false);

    for archive in ["orthanc", "dcm"] {
        let prior = home.ok(&["prior-report", "--study", &with_sr.study, "--pacs", archive]);
        assert_eq!(prior["source"], "archive-sr", "{archive}: {prior}");
        assert_eq!(prior["archive"], archive);
        let expected = [
            ("Technique", ""),
            ("Technique", "CT of the head."),
            ("Findings", ""),
            ("Finding", "Normal."),
            ("Impressions", ""),
            ("Impression", "No acute abnormality."),
        ]
        .map(|(c, v)| (c.to_string(), v.to_string()));
        assert_eq!(text_lines(&prior), expected, "{archive}: {prior}");
        assert_eq!(prior["completion"], "COMPLETE");
        assert_eq!(prior["verification"], "VERIFIED");
        assert_eq!(prior["verifiers"][0]["name"], "Dr Bea", "{prior}");
        assert!(
            prior["authors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "Dr Bea"),
            "{prior}"
        );
        // The PDF beside it is counted, not shown.
        assert_eq!(prior["others"], 1, "{prior}");

        let prior = home.ok(&[
            "prior-report",
            "--study",
            &with_pdf.study,
            "--pacs",
            archive,
        ]);
        assert_eq!(prior["source"], "archive-pdf", "{archive}: {prior}");
        let path = PathBuf::from(prior["path"].as_str().unwrap());
        assert!(path.starts_with(&home.dir), "{}", path.display());
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        // A report names its patient: the file is its owner's alone.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        assert_eq!(prior["bytes"], bytes.len() as u64);
        let text = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("No acute abnormality."),
            "{}",
            String::from_utf8_lossy(&text.stdout)
        );

        let prior = home.ok(&["prior-report", "--study", &bare.study, "--pacs", archive]);
        assert_eq!(prior["source"], "none", "{archive}: {prior}");
    }
    // Read, not kept: the image store holds only the study retrieved, the ledger only this
    // home's report, and no fetch folder is left behind.
    let studies = home.ok(&["studies"]);
    let held: Vec<&str> = studies
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["study"].as_str().unwrap())
        .collect();
    assert_eq!(held, [ours.study.as_str()], "{studies}");
    assert_eq!(home.ok(&["report", "list"]), reports_before);
    let left: Vec<PathBuf> = crate::common::every_file(&home.dir.join("prior-reports"))
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "pdf"))
        .collect();
    assert_eq!(left, Vec::<PathBuf>::new());
    // The fetched PDFs name the patient: erasing the patient here drops them with the rest.
    assert!(!crate::common::every_file(&home.dir.join("prior-reports")).is_empty());
    home.ok(&[
        "erase",
        "--patient",
        PATIENT,
        "--basis",
        "GDPR Art. 17(1)(a)",
    ]);
    assert!(!home.dir.join("prior-reports").exists());
}

/// An SR whose content nests `depth` containers deep with `items` TEXT items at the bottom,
/// its root content item of Value Type `root` (a document's is CONTAINER), in `study` of the
/// phantom patient, written as a Part 10 file.
fn hostile_sr(dir: &Path, study: &str, depth: usize, items: usize, root: &str) -> PathBuf {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    fn put(obj: &mut InMemDicomObject, tag: dicom_core::Tag, vr: VR, v: &str) {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    fn item(value_type: &str, content: Vec<InMemDicomObject>) -> InMemDicomObject {
        let mut i = InMemDicomObject::new_empty();
        put(&mut i, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
        put(&mut i, tags::VALUE_TYPE, VR::CS, value_type);
        let mut code = InMemDicomObject::new_empty();
        put(&mut code, tags::CODE_VALUE, VR::SH, "121071");
        put(&mut code, tags::CODING_SCHEME_DESIGNATOR, VR::SH, "DCM");
        put(&mut code, tags::CODE_MEANING, VR::LO, "Finding");
        i.put(DataElement::new(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));
        if value_type == "TEXT" {
            put(&mut i, tags::TEXT_VALUE, VR::UT, "x");
        }
        if !content.is_empty() {
            i.put(DataElement::new(
                tags::CONTENT_SEQUENCE,
                VR::SQ,
                DataSetSequence::from(content),
            ));
        }
        i
    }
    let mut content: Vec<InMemDicomObject> = (0..items).map(|_| item("TEXT", vec![])).collect();
    for _ in 0..depth {
        content = vec![item("CONTAINER", content)];
    }
    let instance = format!("2.25.{}{}{}", depth, items, study.len());
    let mut obj = InMemDicomObject::new_empty();
    for (tag, vr, v) in [
        (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.88.33"),
        (tags::SOP_INSTANCE_UID, VR::UI, instance.as_str()),
        (tags::STUDY_INSTANCE_UID, VR::UI, study),
        (tags::SERIES_INSTANCE_UID, VR::UI, &format!("{instance}.1")),
        (tags::MODALITY, VR::CS, "SR"),
        (tags::PATIENT_ID, VR::LO, PATIENT),
        (tags::VALUE_TYPE, VR::CS, root),
        (tags::CONTENT_DATE, VR::DA, "20240101"),
    ] {
        put(&mut obj, tag, vr, v);
    }
    obj.put(DataElement::new(
        tags::CONTENT_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(content),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.88.33")
                .media_storage_sop_instance_uid(&instance),
        )
        .unwrap();
    let path = dir.join(format!("hostile-{depth}-{items}-{root}.dcm"));
    file.write_to_file(&path).unwrap();
    path
}

/// A TID 1500 Imaging Measurement Report, as a measurement or AI tool stores it: one TEXT item
/// under the title (DCM 126000), of `study` of the phantom patient, dated `date`.
fn measurement_sr(dir: &Path, study: &str, date: &str) -> PathBuf {
    use dicom_core::value::DataSetSequence;
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_dictionary_std::tags;
    use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
    fn put(obj: &mut InMemDicomObject, tag: dicom_core::Tag, vr: VR, v: &str) {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    fn concept(obj: &mut InMemDicomObject, (value, scheme, meaning): (&str, &str, &str)) {
        let mut code = InMemDicomObject::new_empty();
        put(&mut code, tags::CODE_VALUE, VR::SH, value);
        put(&mut code, tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme);
        put(&mut code, tags::CODE_MEANING, VR::LO, meaning);
        obj.put(DataElement::new(
            tags::CONCEPT_NAME_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![code]),
        ));
    }
    let mut finding = InMemDicomObject::new_empty();
    put(&mut finding, tags::RELATIONSHIP_TYPE, VR::CS, "CONTAINS");
    put(&mut finding, tags::VALUE_TYPE, VR::CS, "TEXT");
    concept(&mut finding, ("121071", "DCM", "Finding"));
    put(
        &mut finding,
        tags::TEXT_VALUE,
        VR::UT,
        "Nodule candidate 4 mm.",
    );
    let instance = format!("2.25.126000{}{}", date, study.len());
    let mut obj = InMemDicomObject::new_empty();
    for (tag, vr, v) in [
        (tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.88.34"),
        (tags::SOP_INSTANCE_UID, VR::UI, instance.as_str()),
        (tags::STUDY_INSTANCE_UID, VR::UI, study),
        (tags::SERIES_INSTANCE_UID, VR::UI, &format!("{instance}.1")),
        (tags::MODALITY, VR::CS, "SR"),
        (tags::PATIENT_ID, VR::LO, PATIENT),
        (tags::MANUFACTURER, VR::LO, "Acme AI"),
        (tags::VALUE_TYPE, VR::CS, "CONTAINER"),
        (tags::CONTENT_DATE, VR::DA, date),
        (tags::CONTENT_TIME, VR::TM, "120000"),
    ] {
        put(&mut obj, tag, vr, v);
    }
    concept(&mut obj, ("126000", "DCM", "Imaging Measurement Report"));
    obj.put(DataElement::new(
        tags::CONTENT_SEQUENCE,
        VR::SQ,
        DataSetSequence::from(vec![finding]),
    ));
    let file = obj
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax("1.2.840.10008.1.2.1")
                .media_storage_sop_class_uid("1.2.840.10008.5.1.4.1.1.88.34")
                .media_storage_sop_instance_uid(&instance),
        )
        .unwrap();
    let path = dir.join(format!("measurement-{instance}.dcm"));
    file.write_to_file(&path).unwrap();
    path
}

/// A prior's report is a reader's: of the report instances on every archive, the newest that is
/// a report, wherever it is — never a newer measurement SR (TID 1500, as an AI tool stores one
/// beside the images), which is shown only for a study with nothing else, and said to be one.
#[test]
fn a_prior_report_is_the_newest_readers_report_on_any_archive_never_a_newer_measurement_sr() {
    let dir = tempfile::tempdir().unwrap();
    let read = phantom_study(dir.path(), "prior report read", "20240517", &[]);
    let measured = phantom_study(dir.path(), "prior report measured", "20240518", &[]);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for s in [&read, &measured] {
        for f in &s.files {
            orthanc.upload(f);
        }
    }
    let url = orthanc.dicomweb_url();
    let (sr, _) = another_departments_report(&url, &read.study, dir.path());
    // The reader's SR only on the second archive; a newer measurement SR on the first.
    dcmqrscp.store(std::slice::from_ref(&sr));
    orthanc.upload(&measurement_sr(dir.path(), &read.study, "20991231"));
    orthanc.upload(&measurement_sr(dir.path(), &measured.study, "20240601"));

    let home = attending();
    home.ok(&["pacs", "add", "orthanc", "--dicomweb", &url]);
    home.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    let prior = home.ok(&["prior-report", "--study", &read.study]);
    assert_eq!(prior["source"], "archive-sr", "{prior}");
    assert_eq!(prior["archive"], "dcm", "{prior}");
    assert_eq!(prior["measurement"], false, "{prior}");
    assert!(
        text_lines(&prior).contains(&("Impression".into(), "No acute abnormality.".into())),
        "{prior}"
    );
    // The measurement SR is counted among the others, not shown.
    assert_eq!(prior["others"], 1, "{prior}");

    let prior = home.ok(&["prior-report", "--study", &measured.study]);
    assert_eq!(prior["source"], "archive-sr", "{prior}");
    assert_eq!(prior["archive"], "orthanc", "{prior}");
    assert_eq!(prior["measurement"], true, "{prior}");
    assert_eq!(prior["title"], "Imaging Measurement Report", "{prior}");
    assert_eq!(prior["others"], 0, "{prior}");
}

/// A hostile SR on the archive (nested deeper than the reader walks, more items than it takes,
/// or no document at all) is refused with the SR reader's code and the archive named, never a
/// panic; an
/// archive that is down is named with `pacs_unreachable` — while a prior this home reported
/// on needs no archive at all.
#[test]
fn a_prior_report_hostile_sr_or_archive_down_gets_a_clear_error_naming_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let deep = phantom_study(dir.path(), "prior report deep", "20240101", &[]);
    let wide = phantom_study(dir.path(), "prior report wide", "20240102", &[]);
    let rootless = phantom_study(dir.path(), "prior report rootless", "20240103", &[]);
    let orthanc = Orthanc::start();
    orthanc.upload(&hostile_sr(
        dir.path(),
        &deep.study,
        countersign_app::imaging::sr::MAX_CONTENT_DEPTH + 1,
        1,
        "CONTAINER",
    ));
    orthanc.upload(&hostile_sr(
        dir.path(),
        &wide.study,
        1,
        countersign_app::imaging::sr::MAX_CONTENT_ITEMS + 1,
        "CONTAINER",
    ));
    // An SR's class, not an SR document: its root is not a container.
    orthanc.upload(&hostile_sr(dir.path(), &rootless.study, 1, 1, "TEXT"));
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    for (study, code, words) in [
        (&deep.study, "sr_too_large", "nest deeper"),
        (&wide.study, "sr_too_large", "content items"),
        (&rootless.study, "sr_malformed", "not a CONTAINER"),
    ] {
        let run = home.run(&["prior-report", "--study", study, "--pacs", "orthanc"]);
        assert_eq!(run.error_code(), code, "{}", run.stderr);
        assert!(run.stderr.contains("archive orthanc"), "{}", run.stderr);
        assert!(run.stderr.contains(words), "{}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }

    // Down: nothing listens there.
    let port = free_port();
    home.ok(&[
        "pacs",
        "add",
        "down",
        "--dicomweb",
        &format!("http://127.0.0.1:{port}/dicom-web"),
    ]);
    let run = home.run(&["prior-report", "--study", &deep.study, "--pacs", "down"]);
    assert_eq!(run.error_code(), "pacs_unreachable", "{}", run.stderr);
    assert!(run.stderr.contains("archive down"), "{}", run.stderr);
    // A study this home reported on is answered from the ledger, archive down or not.
    home.ok(&["import", deep.files[0].parent().unwrap().to_str().unwrap()]);
    let report = home.new_report(&deep.study, "ct-chest");
    home.write(&report, "findings", "Read here.").ok();
    let prior = home.ok(&["prior-report", "--study", &deep.study, "--pacs", "down"]);
    assert_eq!(prior["source"], "ledger", "{prior}");
    assert_eq!(prior["status"], "draft");
}
