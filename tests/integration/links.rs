//! Findings linked to images, through the CLI: a length measured on a phantom slice, linked
//! into Findings with an arrow beside it and a key image into the Impression, edited, signed
//! off; the SR carries each link as image references with SCOORD (read by dicom3tools'
//! `dciodvfy`, DCMTK's `dsrdump` and highdicom), the PDF a thumbnail of each linked frame
//! (poppler's `pdfimages` and `pdftotext`). A link to an image the report is not bound to is
//! refused with its code, nothing stored.

use std::path::Path;
use std::process::Command;

use crate::common::{every_file, str_of, Home};

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

/// The rule a refused command names (`not_allowed`, with the refusing rule's code).
fn refused_by(run: &crate::common::Run) -> String {
    assert_eq!(run.error_code(), "not_allowed", "{}", run.stderr);
    let last = run.stderr.trim().lines().last().unwrap_or_default();
    let line: serde_json::Value = serde_json::from_str(last).unwrap();
    str_of(&line["error"]["rule"])
}

fn export(home: &Home, report: &str, format: &str, dir: &Path) -> std::path::PathBuf {
    let path = dir.join(format!("linked.{format}"));
    home.ok(&[
        "export",
        report,
        "--format",
        format,
        "-o",
        path.to_str().unwrap(),
    ]);
    path
}

#[test]
fn a_linked_length_arrow_and_key_image_reach_the_sr_as_scoord_and_the_pdf_as_thumbnails() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 3, 64);
    let report = ada.new_report(&study, "ct-chest");
    let view = ada.ok(&["report", "show", &report]);
    let images: Vec<String> = view["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    assert_eq!(images.len(), 3);
    let (first, second) = (&images[0], &images[1]);

    // A length, measured and signed; then linked into Findings.
    let measured = ada.ok(&[
        "report", "measure", &report, "--image", first, "--from", "10,20", "--to", "40,20",
    ]);
    let measurement = str_of(&measured["entry"]);
    // Micrometres, from the phantom's Pixel Spacing.
    assert_eq!(measured["unit"], "um");
    let mm = measured["length"].as_u64().unwrap() as f64 / 1000.0;
    ada.write(
        &report,
        "findings",
        "A 6 mm nodule in the right upper lobe.",
    )
    .ok();
    let linked = ada.ok(&[
        "report",
        "link",
        &report,
        "--section",
        "findings",
        "--measurement",
        &measurement,
    ]);
    assert_eq!(linked["link"]["fig"], 1);
    assert_eq!(linked["link"]["kind"], "length");
    assert_eq!(linked["link"]["image"], first.as_str());
    assert_eq!(linked["link"]["points"][0][0], 10_000);
    assert_eq!(linked["link"]["study"], study.as_str());
    // The arrow where the writer's cursor was: after "lobe", before the full stop. A position
    // past the end of the text is refused, not guessed.
    let arrow = [
        "report",
        "link",
        &report,
        "--section",
        "findings",
        "--arrow",
        first,
        "0",
        "30",
        "30",
        "50",
        "60",
        "--at-char",
    ];
    let past_end = [&arrow[..], &["999"]].concat();
    assert_eq!(ada.run(&past_end).error_code(), "invalid_input");
    // A tail on the tip has no direction: refused, not drawn as a dot.
    let mut pointless = arrow.to_vec();
    pointless[10] = "30";
    pointless[11] = "30";
    assert_eq!(
        ada.run(&[&pointless[..], &["0"]].concat()).error_code(),
        "invalid_input"
    );
    let after_lobe = "A 6 mm nodule in the right upper lobe"
        .chars()
        .count()
        .to_string();
    ada.ok(&[&arrow[..], &[after_lobe.as_str()]].concat());
    let shown = ada.ok(&["report", "show", &report]);
    let findings = shown["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(
        findings["text"],
        "A 6 mm nodule in the right upper lobe [fig 2]. [fig 1]"
    );
    ada.ok(&[
        "report",
        "link",
        &report,
        "--section",
        "impression",
        "--key-image",
        second,
        "0",
    ]);
    // Editing around the markers keeps the links; the text reads well as plain text.
    ada.write(
        &report,
        "findings",
        "A 6 mm nodule in the right upper lobe [fig 1], pointed at in [fig 2].",
    )
    .ok();
    let shown = ada.ok(&["report", "show", &report]);
    let links = shown["links"].as_array().unwrap();
    assert_eq!(links.len(), 3, "{links:#?}");
    assert_eq!(links[0]["section"], "findings");
    assert_eq!(links[1]["kind"], "arrow");
    // Its tail as given (image pixels ×1000), after the tip.
    assert_eq!(
        links[1]["points"],
        serde_json::json!([[30_000, 30_000], [50_000, 60_000]])
    );
    assert_eq!(links[2]["section"], "impression");
    assert_eq!(links[2]["kind"], "key-image");
    // A marker with no link is refused, with its code.
    let unresolved = ada.write(&report, "findings", "See [fig 1] and [fig 7].");
    assert_eq!(refused_by(&unresolved), "link_unresolved");

    ada.write(&report, "technique", "Low-dose CT of the chest.")
        .ok();
    ada.ok(&["report", "finalize", &report]);

    // SR: dciodvfy finds no error; dsrdump reads a NUM inferred from a POLYLINE selected from
    // the image, the arrow's POINT, and the key image, each naming the image's SOP instance.
    let sr = export(&ada, &report, "sr", dir.path());
    let (_, out) = run(Command::new("dciodvfy").arg(&sr));
    assert!(out.contains("ComprehensiveSR"), "{out}");
    let errors: Vec<&str> = out.lines().filter(|l| l.starts_with("Error")).collect();
    assert!(errors.is_empty(), "dciodvfy: {errors:#?}\n{out}");
    let (ok, tree) = run(Command::new("dsrdump").args(["+Pc", "+Pl", "+Pu"]).arg(&sr));
    assert!(ok, "{tree}");
    let instances = ada.app().store().db().instances(Some(&study)).unwrap();
    let sop_of = |sha: &str| {
        instances
            .iter()
            .find(|i| hex::encode(i.sha256) == sha)
            .and_then(|i| i.instance.clone())
            .unwrap()
    };
    // The signed micrometres as a DS: the same number, its trailing zeros dropped.
    let ds = format!("{mm:.3}");
    let ds = ds.trim_end_matches('0').trim_end_matches('.');
    for expected in [
        format!("<contains NUM:(410668003,SCT,\"Length\")=\"{ds}\" (mm,UCUM,\"millimeter\")>"),
        "<inferred from SCOORD:=(POLYLINE,10/20,40/20)>".to_string(),
        format!("<selected from IMAGE:=(CT image,\"{}\")>", sop_of(first)),
        "<contains SCOORD:(arrow,99CSGN,\"Arrow\")=(POINT,30/30)>".to_string(),
        format!(
            "<contains IMAGE:(keyimage,99CSGN,\"Key image\")=(CT image,\"{}\")>",
            sop_of(second)
        ),
        format!("[fig 1] {mm:.1} mm (length, frame 1)"),
        "[fig 2] arrow (frame 1)".to_string(),
    ] {
        assert!(
            tree.contains(&expected),
            "dsrdump lacks {expected:?}:\n{tree}"
        );
    }

    // A second reader: highdicom parses each item through its own content item classes.
    let (ok, read) = run(Command::new(crate::common::python())
        .arg(crate::common::tests_dir().join("integration/read_sr_links.py"))
        .arg(&sr));
    assert!(ok, "highdicom: {read}");
    let items: serde_json::Value = serde_json::from_str(read.trim()).unwrap();
    let items = items.as_array().unwrap();
    let has = |want: serde_json::Value| items.contains(&want);
    assert!(
        has(
            serde_json::json!({"scoord": "POLYLINE", "points": [[10.0, 20.0], [40.0, 20.0]],
            "relationship": "INFERRED FROM", "image": sop_of(first)})
        ),
        "{read}"
    );
    assert!(
        has(
            serde_json::json!({"scoord": "POINT", "points": [[30.0, 30.0]],
            "relationship": "CONTAINS", "image": sop_of(first)})
        ),
        "{read}"
    );
    assert!(
        has(serde_json::json!({"key_image": sop_of(second), "concept": "Key image"})),
        "{read}"
    );
    assert!(
        items
            .iter()
            .any(|i| i["unit"] == "mm" && (i["num"].as_f64().unwrap() - mm).abs() < 1e-3),
        "{read}"
    );

    // PDF: a thumbnail under each figure's caption, one image object per linked frame.
    let pdf = export(&ada, &report, "pdf", dir.path());
    let (ok, list) = run(Command::new("pdfimages").arg("-list").arg(&pdf));
    assert!(ok, "{list}");
    let rows: Vec<&str> = list
        .lines()
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .collect();
    // Three figures drawn, two frames: the length and the arrow share one image object.
    assert_eq!(rows.len(), 3, "{list}");
    assert!(rows.iter().all(|r| r.contains("gray")), "{list}");
    let objects: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter_map(|r| r.split_whitespace().nth(10))
        .collect();
    assert_eq!(objects.len(), 2, "{list}");
    let (ok, text) = run(Command::new("pdftotext").arg(&pdf).arg("-"));
    assert!(ok, "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "right upper lobe [fig 1], pointed at in [fig 2].",
        &format!("[fig 1] {mm:.1} mm — length on image"),
        "[fig 2] arrow on image",
        "[fig 1] key image on image",
    ] {
        assert!(flat.contains(expected), "PDF lacks {expected:?}:\n{text}");
    }
}

#[test]
fn a_link_to_an_image_the_report_is_not_bound_to_is_refused_and_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let series = dir.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&series, 2, 32);
    let files = every_file(&series);
    // Bound to one file of the study only.
    let report = str_of(
        &ada.ok(&[
            "report",
            "new",
            "--study",
            &study,
            "--template",
            "ct-chest",
            "--image",
            files[0].to_str().unwrap(),
        ])["report"],
    );
    let bound = str_of(&ada.ok(&["report", "show", &report])["images"][0]);
    let other = ada.ok(&["report", "show", &report])["images"]
        .as_array()
        .map(|_| {
            let all = ada.app().store().db().instances(Some(&study)).unwrap();
            all.iter()
                .map(|i| hex::encode(i.sha256))
                .find(|s| *s != bound)
                .unwrap()
        })
        .unwrap();
    let before = ada.count();
    let refused = ada.run(&[
        "report",
        "link",
        &report,
        "--section",
        "findings",
        "--key-image",
        &other,
        "0",
    ]);
    assert_eq!(refused_by(&refused), "link_image_not_bound");
    // An image not imported here has no series to name: not found, before any file is read.
    let unknown = "ab".repeat(32);
    let missing = ada.run(&[
        "report",
        "link",
        &report,
        "--section",
        "findings",
        "--key-image",
        &unknown,
        "0",
    ]);
    assert_eq!(missing.error_code(), "not_found", "{}", missing.stderr);
    assert_eq!(ada.count(), before, "a refused link stored something");
    // The bound one links.
    ada.ok(&[
        "report",
        "link",
        &report,
        "--section",
        "findings",
        "--key-image",
        &bound,
        "0",
    ]);
}
