//! The built-in model (`soft-tissue-stats`) as a member: its result signed, reviewed and
//! blocking sign-off until then; and its refusal of an MR study.

use super::{ai_results, bundle, with_model};
use crate::common::Home;

#[test]
fn an_ai_result_is_signed_by_the_model_reviewed_by_a_radiologist_and_blocks_sign_off_until_then() {
    let series = tempfile::tempdir().unwrap();
    let dir = series.path().join("series");
    let (ada, study) = crate::common::founder_with_phantom(&dir, 8, 64);
    let report = ada.new_report(&study, "ct-chest");

    // The model's home: its own key, on the roster as an ai-model, holding the report and images.
    let member = crate::common::AI_MEMBER;
    let model = Home::new();
    let key = model.ok(&[&["init"][..], &member].concat())["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[&["roster", "add", "--key", &key][..], &member].concat());
    // Not granted this report, the model's result is refused by its own home (and would be by
    // every peer): an AI writes only where it may read.
    bundle(&ada, Some(&report), &model);
    model.ok(&["import", dir.to_str().unwrap()]);
    let ungranted = model.run(&["ai", "run", "--report", &report]);
    assert_eq!(ungranted.code, 2);
    assert!(
        ungranted.stderr.contains("not_granted"),
        "{}",
        ungranted.stderr
    );
    ada.ok(&["report", "grant", &report, "--member", &key]);
    bundle(&ada, Some(&report), &model);
    let result = model.ok(&["ai", "run", "--report", &report])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    // A person cannot sign as the model: ai run refuses a human identity.
    let refused = ada.run(&["ai", "run", "--report", &report]);
    assert_eq!(refused.code, 2);
    bundle(&model, Some(&report), &ada);

    let view = ada.ok(&["report", "show", &report]);
    let ai = &view["ai"][0];
    assert_eq!(ai["entry"], result.as_str());
    assert_eq!(ai["author"]["ai_model"]["vendor"], "Countersign Labs");
    assert_eq!(ai["parameters"]["algorithm"], "soft-tissue-stats/1");
    let mean: f64 = ai["outputs"]["mean_hu"].as_str().unwrap().parse().unwrap();
    // The phantom's brain is +10 to +40 HU: the model measured what is there.
    assert!((0.0..=100.0).contains(&mean) && mean > 5.0, "{mean}");
    assert!(ai["review"].is_null());

    // Every section written, but the AI result unreviewed: sign-off is refused in words.
    for (section, text) in [
        ("technique", "Non-contrast CT."),
        ("findings", "Normal brain parenchyma."),
        ("impression", "Normal."),
    ] {
        ada.write(&report, section, text);
    }
    let blocked = ada.run(&["report", "finalize", &report]);
    assert_eq!(blocked.code, 2);
    assert!(
        blocked.stderr.contains("refused by rule unreviewed_ai")
            && blocked.stderr.contains("has not been reviewed"),
        "{}",
        blocked.stderr
    );
    // The model cannot review its own (or any) result: the role table refuses, nothing stored.
    let before = model.count();
    let own_review = model.run(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--accept",
    ]);
    assert_eq!(own_review.code, 2);
    assert!(
        own_review
            .stderr
            .contains("refused by rule role_may_not_write: role ai-model may not write ai.review"),
        "{}",
        own_review.stderr
    );
    assert_eq!(model.count(), before);

    // Accepted: the proposal is the findings, the review is bound to the result.
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--accept",
        "--comment",
        "Agree.",
    ]);
    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["ai"][0]["review"]["decision"], "accept");
    assert_eq!(view["ai"][0]["review"]["reviewer"]["name"], "Dr Ada");
    let findings = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(findings["text"], view["ai"][0]["text"]);
    // Reviewed once only.
    let again = ada.run(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &result,
        "--reject",
    ]);
    assert!(
        again.stderr.contains("already reviewed"),
        "{}",
        again.stderr
    );

    ada.ok(&["report", "finalize", &report]);
    assert_eq!(ada.ok(&["verify"])["ok"], true);
}

/// The built-in example measures CT attenuation: on an MR study it refuses, naming why.
#[test]
fn soft_tissue_stats_refuses_an_mr_study() {
    let (_ada, model, report) = with_model(
        "soft-tissue-stats",
        &[countersign_testkit::corpus("MR_small.dcm")],
    );
    let run = model.run(&["ai", "run", "--report", &report]);
    assert_eq!(run.error_code(), "ai_input_refused", "{}", run.stderr);
    assert!(run.stderr.contains("are MR"), "{}", run.stderr);
    assert_eq!(ai_results(&model), 0);
}
