//! Scenarios 5 and 6: a report cannot bring its own rules, and an AI model cannot write where
//! it was not granted.

use crate::common::{craft, ct_chest_create, ids, now_ms, sealed_create, Home};

/// Scenario 5: a report may not bring its own rules — a built-in template redefined without its
/// co-sign, or a custom one nobody published; and who creates reports is the network's rule.
#[test]
fn a_report_cannot_redefine_a_built_in_template_or_bring_an_unpublished_one() {
    let (ada, _) = Home::demo();
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let attending = ada.secret(&ada.key());
    // cardiac-mr without the cardiologist's co-sign, under its built-in name.
    let mut weakened = countersign_report::template("cardiac-mr").unwrap().clone();
    for s in &mut weakened.sections {
        s.cosign_role = None;
    }
    let create = serde_json::to_vec(&countersign_report::payload::ReportCreate {
        study: "7.7.7".into(),
        template: "cardiac-mr".into(),
        template_hash: weakened.content_hash(),
        images: vec![],
    })
    .unwrap();
    let run = ada.import_report(&sealed_create(&attending, &network, now_ms(), &create));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown_template"), "{}", run.stderr);
    // An AI model may not create reports: the network's policy, from its genesis.
    let model = ada.secret(&ada.member("ai-model"));
    let create = ct_chest_create("7.7.8");
    let run = ada.import_report(&sealed_create(&model, &network, now_ms(), &create));
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "role_may_not_write",
        "{}",
        run.stdout
    );
    // A custom template published by someone who is not an admin is refused.
    let resident = Home::new();
    let key = resident.ok(&["init", "--name", "Dr R", "--role", "resident"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[
        "roster", "add", "--key", &key, "--name", "Dr R", "--role", "resident",
    ]);
    resident.import(&ada.bundle(None));
    let file = resident.dir.join("lite.toml");
    std::fs::write(&file, "format = 1\nname = \"lite\"\ntitle = \"Lite\"\n[[section]]\nname = \"findings\"\ntitle = \"Findings\"\n").unwrap();
    let run = resident.run(&["template", "publish", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not_admin"), "{}", run.stderr);
}

/// Scenario 6: an AI model's node adds a result to a report nobody granted it.
#[test]
fn an_ai_model_cannot_write_to_a_report_it_was_not_granted() {
    let (ada, report) = Home::demo();
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let other = ada.new_report("8.8.8", "ct-chest");
    let model = ada.secret(&ada.member("ai-model"));
    let heads = ids(&ada.ok(&["report", "show", &other])["heads"]);
    // Sealed as the model's home would seal it (were it sent the key, which it is not).
    let result = &ada.sealed(
        &other,
        countersign_ledger::Kind::AiResult,
        br#"{"model":"soft-tissue","version":"1","inputs":[],"section":"findings","text":"Mean 40 HU."}"#,
    )[..];
    let e = craft(
        &model,
        &network,
        &other,
        1,
        now_ms(),
        countersign_ledger::Kind::AiResult,
        heads,
        result,
    );
    let run = ada.import_one(&e, result);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "not_granted",
        "{}",
        run.stdout
    );
    // It does not block sign-off nor offer an Accept: it is not in the report.
    let view = ada.ok(&["report", "show", &other]);
    assert!(view["ai"].as_array().unwrap().is_empty(), "{view}");
    // The demo report, which an attending granted the model, has its result.
    assert_eq!(
        ada.ok(&["report", "show", &report])["ai"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
