//! AutoText through the CLI: the built-in macros listed per section, a department macro
//! published by an admin (refused for anyone else, and for a bad file naming its line), a
//! section written from a macro with its fields left or filled, sign-off refused naming the
//! unfilled field and accepted once filled; and a second home that learns the macro with the
//! roster and judges the report exactly alike.

use serde_json::Value;

use crate::common::{added, founder, two_attendings, Home, Run};

const ADRENAL: &str = r#"format = 1

[[macro]]
name = "adrenal"
title = "Adrenal nodule"
applies = [{ template = "ct-chest", section = "findings" }]
text = "A [size] mm [side] adrenal nodule, [density] HU on the unenhanced series."
"#;

fn error_line(run: &Run) -> Value {
    assert_eq!(
        run.code, 2,
        "stdout {:?} stderr {:?}",
        run.stdout, run.stderr
    );
    let last = run.stderr.trim().lines().last().unwrap_or_default();
    serde_json::from_str::<Value>(last).unwrap()["error"].clone()
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect()
}

/// Writes the technique and impression of a ct-chest report.
fn write_the_rest(home: &Home, report: &str) {
    home.write(report, "technique", "CT chest without contrast.")
        .ok();
    home.write(report, "impression", "Adrenal nodule.").ok();
}

fn write_macro(home: &Home, report: &str, name: &str, fill: &[&str]) -> Run {
    let mut args = vec![
        "report",
        "write",
        report,
        "--section",
        "findings",
        "--macro",
        name,
    ];
    for f in fill {
        args.extend(["--fill", f]);
    }
    home.run(&args)
}

#[test]
fn a_macro_is_published_by_an_admin_written_with_fields_and_refused_at_sign_off_until_filled() {
    let ada = founder("Dr Ada");
    // Built in, listed per section with their fields.
    let all = ada.ok(&["macro", "list"]);
    assert!(names(&all).contains(&"normal-cardiac".to_string()));
    let findings = ada.ok(&[
        "macro",
        "list",
        "--template",
        "ct-chest",
        "--section",
        "findings",
    ]);
    assert_eq!(names(&findings), ["normal-chest", "nodule"]);
    let nodule = ada.ok(&["macro", "show", "nodule"]);
    assert_eq!(nodule["fields"], serde_json::json!(["size", "lobe"]));
    assert_eq!(nodule["source"], "built-in");
    assert_eq!(
        error_line(&ada.run(&["macro", "show", "nope"]))["code"],
        "not_found"
    );

    // A bad file: refused with its code and line, nothing published.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, ADRENAL.replace("[side]", "[Side]")).unwrap();
    let e = error_line(&ada.run(&["macro", "publish", bad.to_str().unwrap()]));
    assert_eq!(e["code"], "macro_placeholder", "{e}");
    assert!(e["message"].as_str().unwrap().contains("line 3"), "{e}");
    // A built-in name cannot be taken.
    let taken = dir.path().join("taken.toml");
    std::fs::write(&taken, ADRENAL.replace("\"adrenal\"", "\"nodule\"")).unwrap();
    assert_eq!(
        error_line(&ada.run(&["macro", "publish", taken.to_str().unwrap()]))["code"],
        "invalid_input"
    );
    // Someone who is not an admin cannot publish one.
    let file = dir.path().join("adrenal.toml");
    std::fs::write(&file, ADRENAL).unwrap();
    let (rex, _) = added(&ada, "Dr Rex", "resident");
    rex.join(&ada);
    assert_eq!(rex.import(&ada.bundle(None)).code, 0);
    let refused = rex.run(&["macro", "publish", file.to_str().unwrap()]);
    assert_eq!(
        error_line(&refused)["rule"],
        "not_admin",
        "{}",
        refused.stderr
    );

    let published = ada.ok(&["macro", "publish", file.to_str().unwrap()]);
    assert_eq!(published[0]["name"], "adrenal");
    assert_eq!(published[0]["source"], "published");
    assert_eq!(
        names(&ada.ok(&[
            "macro",
            "list",
            "--template",
            "ct-chest",
            "--section",
            "findings"
        ])),
        ["normal-chest", "nodule", "adrenal"]
    );

    let report = ada.new_report("1.2.3.4", "ct-chest");
    write_the_rest(&ada, &report);
    // A macro for another section, and a field the macro lacks: refused before signing.
    assert_eq!(
        error_line(&write_macro(&ada, &report, "normal-cardiac", &[]))["code"],
        "invalid_input"
    );
    assert_eq!(
        error_line(&write_macro(&ada, &report, "nodule", &["sise=1"]))["code"],
        "macro_fill_unknown"
    );
    write_macro(&ada, &report, "nodule", &["size=12"]).ok();
    let view = ada.ok(&["report", "show", &report]);
    let findings = &view["sections"][1];
    assert_eq!(
        findings["text"],
        "A 12 mm solid nodule in the [lobe]. No other nodule. No lymphadenopathy."
    );
    assert_eq!(findings["versions"][0]["macros"][0]["name"], "nodule");
    let write_item = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["kind"] == "section.write" && p["section"] == "findings")
        .unwrap();
    assert_eq!(write_item["macros"][0]["name"], "nodule");
    assert_eq!(write_item["macros"][0]["hash"], nodule["hash"]);
    let human = ada
        .command()
        .args(["report", "show", &report])
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(human.contains("(AutoText: nodule)"), "{human}");

    // Sign-off (final, and preliminary) is refused naming the section and the field.
    for cmd in ["finalize", "preliminary"] {
        let e = error_line(&ada.run(&["report", cmd, &report]));
        assert_eq!(e["rule"], "field_unfilled", "{e}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("Findings: [lobe] is not filled"),
            "{e}"
        );
    }
    write_macro(
        &ada,
        &report,
        "nodule",
        &["size=12", "lobe=right upper lobe"],
    )
    .ok();
    ada.ok(&["report", "finalize", &report]);
    assert_eq!(ada.ok(&["report", "show", &report])["status"], "final");
}

#[test]
fn a_second_home_learns_a_published_macro_with_the_roster_and_judges_alike() {
    let (ada, bob) = two_attendings();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("adrenal.toml");
    std::fs::write(&file, ADRENAL).unwrap();
    ada.ok(&["macro", "publish", file.to_str().unwrap()]);
    let report = ada.new_report("1.2.3.5", "ct-chest");
    write_the_rest(&ada, &report);
    write_macro(&ada, &report, "adrenal", &["size=14", "side=left"]).ok();

    // Bob's home has the macro only once the roster brings it.
    assert!(!names(&bob.ok(&["macro", "list"])).contains(&"adrenal".to_string()));
    let taken = bob.import(&ada.bundle(Some(&report)));
    assert_eq!(taken.code, 0, "{}", taken.stderr);
    let on_bob = bob.ok(&["macro", "show", "adrenal"]);
    assert_eq!(on_bob, ada.ok(&["macro", "show", "adrenal"]));
    assert!(bob.ok(&["verify"])["ok"].as_bool().unwrap());

    // Both homes refuse the same sign-off, naming the same field.
    let on_ada = error_line(&ada.run(&["report", "finalize", &report]));
    let e = error_line(&bob.run(&["report", "finalize", &report]));
    assert_eq!(e["rule"], "field_unfilled");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Findings: [density] is not filled"),
        "{e}"
    );
    assert_eq!(e["message"], on_ada["message"]);

    // Bob fills it and signs; Ada's home takes the sign-off as final.
    write_macro(
        &bob,
        &report,
        "adrenal",
        &["size=14", "side=left", "density=8"],
    )
    .ok();
    bob.ok(&["report", "finalize", &report]);
    let back = ada.import(&bob.bundle(Some(&report)));
    assert_eq!(back.code, 0, "{}", back.stderr);
    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["status"], "final");
    assert_eq!(
        view["sections"][1]["text"],
        "A 14 mm left adrenal nodule, 8 HU on the unenhanced series."
    );
}
