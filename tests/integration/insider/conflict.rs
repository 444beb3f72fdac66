//! Scenario 2: a second sign-off written apart is a visible conflict.

use super::{department, entry_of, give};

/// Scenario 2: two attendings sign off the same report apart — one of them perhaps with a
/// stolen key, rewriting the impression first and dating the sign-off ahead. The report shows a
/// conflict, never the later text; an attending resolves it.
#[test]
fn a_second_sign_off_written_apart_is_a_visible_conflict_not_a_silent_rewrite() {
    let (ada, bob) = department();
    let report = ada.new_report("3.3.3", "ct-chest");
    for (section, text) in [
        ("technique", "Contrast CT."),
        ("findings", "Small effusion."),
        ("impression", "Small effusion."),
    ] {
        ada.write(&report, section, text).ok();
    }
    assert_eq!(give(&ada, &bob).code, 0);
    let signed = entry_of(&ada.run(&["report", "finalize", &report]));
    // Bob, who never saw the sign-off, rewrites the impression and signs off, his clock four
    // minutes ahead (within the skew, so it is taken, not held).
    bob.at(
        "+4m",
        &[
            "report",
            "write",
            &report,
            "--section",
            "impression",
            "--text",
            "No effusion.",
        ],
    )
    .ok();
    bob.at("+4m", &["report", "finalize", &report]).ok();
    assert_eq!(give(&bob, &ada).code, 0);

    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["status"], "conflict");
    let in_force: Vec<&serde_json::Value> = view["signoffs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["in_force"] == true)
        .collect();
    assert_eq!(in_force.len(), 2, "{view}");
    let impression = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "impression")
        .unwrap();
    assert!(impression["text"].is_null());
    assert_eq!(
        impression["conflicting_versions"].as_array().unwrap().len(),
        2
    );
    assert_eq!(ada.text_of(&report, "findings"), "Small effusion.");
    assert!(ada
        .ok(&["report", "list"])
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["report"] == report.as_str() && r["status"] == "conflict"));

    // Nobody settles a conflict in favour of their own sign-off (a stolen key would).
    let own = ada.run(&["report", "resolve", &report, "--keep", &signed]);
    assert_eq!(own.code, 2, "{}", own.stderr);
    let error: serde_json::Value = serde_json::from_str(own.stderr.trim()).unwrap();
    assert_eq!(error["error"]["rule"], "self_resolve", "{}", own.stderr);
    assert_eq!(ada.status_of(&report), "conflict");
    // The other attending keeps Ada's sign-off; his stays in the record, superseded.
    assert_eq!(give(&ada, &bob).code, 0);
    bob.ok(&[
        "report",
        "resolve",
        &report,
        "--keep",
        &signed,
        "--note",
        "I signed off without seeing Ada's.",
    ]);
    assert_eq!(bob.status_of(&report), "final");
    assert_eq!(bob.text_of(&report, "impression"), "Small effusion.");
    // The same on Ada's home once it has the resolution.
    assert_eq!(give(&bob, &ada).code, 0);
    assert_eq!(ada.status_of(&report), "final");
    assert_eq!(ada.text_of(&report, "impression"), "Small effusion.");
}
