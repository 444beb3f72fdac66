//! Templates through the CLI: the shipped ones listed, an MRRT file published to the roster (and
//! a bad one refused naming its line, nothing kept), a report written to the published template
//! and judged by exactly it on another home, which learns it with the roster.

use crate::common::Home;

const MRRT: &str = r#"<!DOCTYPE html>
<html><head><meta charset="UTF-8"><title>Renal ultrasound</title>
<meta name="dcterms.identifier" content="renal-us"></head>
<body>
<section id="kidneys" data-section-name="Kidneys" data-countersign-required="true">
<p><label for="k.length">Right kidney length</label>
<input type="number" id="k.length" name="right-length" data-field-type="NUMBER" data-field-unit="cm" min="0" max="20" data-field-completion-action="PROHIBIT"></p>
</section>
<section id="impression" data-section-name="Impression" data-countersign-required="true"></section>
</body></html>
"#;

#[test]
fn an_mrrt_template_is_published_used_and_reaches_other_homes_with_the_roster() {
    let home = Home::new();
    home.ok(&["init", "--name", "Dr Ada", "--role", "attending", "--admin"]);
    let names: Vec<String> = home
        .ok(&["template", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        ["ct-chest", "cardiac-mr", "pet-mr", "chest-radiograph"]
    );

    // A field type the subset lacks: refused with its line, and nothing is kept.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.html");
    std::fs::write(&bad, MRRT.replace("\"NUMBER\"", "\"TIME\"")).unwrap();
    let refused = home.run(&["template", "publish", bad.to_str().unwrap()]);
    assert_eq!(refused.code, 2);
    let error: serde_json::Value = serde_json::from_str(refused.stderr.trim()).unwrap();
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("line 7: unknown field type \"TIME\""),
        "{}",
        refused.stderr
    );
    assert_eq!(home.ok(&["template", "list"]).as_array().unwrap().len(), 4);

    let good = dir.path().join("renal.html");
    std::fs::write(&good, MRRT).unwrap();
    let imported = home.ok(&["template", "publish", good.to_str().unwrap()]);
    assert_eq!(imported["name"], "renal-us");
    assert_eq!(imported["sections"], 2);
    let shown = home.ok(&["template", "show", "renal-us"]);
    assert_eq!(shown["sections"][0]["fields"][0]["unit"], "cm");

    let report = home.new_report("1.2.3.4", "renal-us");
    let missing = home.write(&report, "kidneys", "Normal size.");
    missing.ok();
    home.write(&report, "impression", "Normal kidneys.").ok();
    let refused = home.run(&["report", "finalize", &report]);
    assert!(
        refused
            .stderr
            .contains("field right-length of section kidneys is required"),
        "{}",
        refused.stderr
    );
    home.ok(&[
        "report",
        "write",
        &report,
        "--section",
        "kidneys",
        "--text",
        "Normal size.",
        "--field",
        "right-length=10.5",
    ]);
    home.ok(&["report", "finalize", &report]);

    // Another home that never saw the file takes the report, with the roster that published
    // the template it names by content hash.
    let other = Home::new();
    other.key_of_new_member();
    let taken = other.import(&home.bundle(Some(&report)));
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    let view = other.ok(&["report", "show", &report]);
    assert_eq!(view["template"], "renal-us");
    assert_eq!(view["status"], "final");
    assert_eq!(view["sections"][0]["fields"][0]["display"], "10.5 cm");
    assert!(other.ok(&["verify"])["ok"].as_bool().unwrap());
}
