//! Reports beyond one sign-off: a conflict between two homes' sign-offs shown (locked, then
//! unlocked) and resolved through `report_resolve`, and measurements and key images linked into
//! Findings through `report_link`.

use super::{source, use_this_harness_as_decode_worker, Harness, PASSPHRASE};
use crate::Desk;

/// Two attendings sign off the same report on two machines that had not synced: after they
/// exchange bundles the report is in conflict, and `report_resolve` settles it.
#[test]
fn a_conflict_between_two_homes_is_shown_and_resolved_through_the_commands() {
    use_this_harness_as_decode_worker();
    use countersign_app::ledger::Role;
    use countersign_app::Home;

    let (ada_dir, bob_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut ada = Home::open_with(ada_dir.path(), source(PASSPHRASE)).unwrap();
    ada.init("Dr Ada Attending", Role::Attending, Some("Radiology"), None)
        .unwrap();
    let mut bob = Home::open_with(bob_dir.path(), source(PASSPHRASE)).unwrap();
    let bob_key = bob
        .init("Dr Bob Attending", Role::Attending, None, None)
        .unwrap()
        .key;
    ada.roster_add(bob_key, "Dr Bob Attending", Role::Attending, false, None)
        .unwrap();
    // Bob's home joins by the invitation Ada signs for his key.
    let invitation = ada.invite(bob_key, vec![], 1).unwrap();
    bob.join(&invitation).unwrap();
    let report = ada.report_new("2.25.55", "ct-chest", &[]).unwrap();
    for section in ["technique", "findings", "impression"] {
        ada.report_write(report, section, &format!("{section} as Dr Ada read it"))
            .unwrap();
    }
    bob.bundle_import(&ada.bundle_export(Some(report)).unwrap())
        .unwrap();
    let first = ada.report_finalize(report).unwrap();
    bob.report_write(report, "impression", "Dr Bob's impression")
        .unwrap();
    let second = bob.report_finalize(report).unwrap();
    ada.bundle_import(&bob.bundle_export(Some(report)).unwrap())
        .unwrap();
    drop((ada, bob));

    let harness = Harness::new(Desk::open(ada_dir.path().to_path_buf()));
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);
    let report = report.to_hex();
    // The app starts locked: the report shows, its sealed content does not (issue 16: the
    // data keys are sealed under the member's key), and what the user may do needs the key.
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["locked"], true, "{view}");
    assert!(!view.to_string().contains("as Dr Ada read it"), "{view}");
    let err = call("report_actions", serde_json::json!({ "report": report })).unwrap_err();
    assert_eq!(err["code"], "locked", "{err}");
    json("unlock", serde_json::json!({ "passphrase": PASSPHRASE }));
    // Unlocked, the readers read it whole.
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "conflict", "{view}");
    assert!(view.get("locked").is_none(), "{view}");
    assert!(view["signoff"].is_null());
    let in_force: Vec<&str> = view["signoffs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["in_force"] == true)
        .map(|s| s["entry"].as_str().unwrap())
        .collect();
    assert_eq!(in_force.len(), 2, "{view}");
    let impression = &view["sections"].as_array().unwrap()[3];
    assert_eq!(impression["name"], "impression");
    assert!(impression["text"].is_null());
    assert_eq!(
        impression["conflicting_versions"].as_array().unwrap().len(),
        2
    );

    // This attending may keep the other's sign-off, not her own (self_resolve); nothing more
    // may be written or signed off.
    let actions = json("report_actions", serde_json::json!({ "report": report }));
    let resolvable: Vec<&str> = actions["resolve"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, a)| a["allowed"] == true)
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(in_force.len(), 2, "{actions}");
    assert_eq!(resolvable, [second.to_hex().as_str()], "{actions}");
    assert_eq!(
        actions["resolve"][first.to_hex()]["rule"],
        "self_resolve",
        "{actions}"
    );
    assert_eq!(
        actions["write"]["impression"]["rule"], "finalised",
        "{actions}"
    );
    assert_eq!(actions["finalize"]["rule"], "already_final", "{actions}");

    // Keeping something that is not a sign-off in conflict is refused with the rule's code.
    let err = call(
        "report_resolve",
        serde_json::json!({ "report": report, "keep": report }),
    )
    .unwrap_err();
    assert_eq!(err["rule"], "not_a_conflicting_final", "{err}");

    let resolution = json(
        "report_resolve",
        serde_json::json!({ "report": report, "keep": second.to_hex(), "note": "Dr Bob's stands." }),
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "final", "{view}");
    assert_eq!(view["signoff"]["entry"], second.to_hex());
    assert_eq!(view["resolutions"][0]["entry"], resolution);
    assert_eq!(view["resolutions"][0]["note"], "Dr Bob's stands.");
    let superseded = view["signoffs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["entry"] == first.to_hex())
        .unwrap();
    assert_eq!(superseded["in_force"], false);
    assert_eq!(view["sections"][3]["text"], "Dr Bob's impression", "{view}");
    let actions = json("report_actions", serde_json::json!({ "report": report }));
    assert_eq!(
        actions["resolve"][second.to_hex()]["rule"],
        "no_conflict",
        "{actions}"
    );
}

/// A length measured and a key image inserted through the commands, as the viewer and the
/// editor call them: each a new signed version of Findings whose text ends with its marker,
/// the links in the version `report_show` gives; a link into a signed-off report is refused
/// with its rule's code.
#[test]
fn links_are_inserted_through_the_commands() {
    use_this_harness_as_decode_worker();
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::open(dir.path().to_path_buf()));
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);
    let demo = json(
        "open_demo",
        serde_json::json!({ "passphrase": countersign_app::DEMO_PASSPHRASE }),
    );
    let study = demo["study"].as_str().unwrap().to_string();
    let report = json(
        "report_new",
        serde_json::json!({ "study": study, "template": "ct-chest" }),
    );
    let images = json("study_images", serde_json::json!({ "study": study }));
    let sha = images[3]["sha256"].as_str().unwrap();
    let measurement = json(
        "measure_length",
        serde_json::json!({ "report": report, "image": sha, "frame": 0, "from": [10.0, 12.0], "to": [40.0, 12.0] }),
    );
    let linked = json(
        "report_link",
        serde_json::json!({ "report": report, "section": "findings",
            "target": { "kind": "measurement", "entry": measurement }, "text": "A nodule." }),
    );
    assert_eq!(linked["link"]["fig"], 1, "{linked}");
    assert_eq!(linked["link"]["kind"], "length", "{linked}");
    // Typed on in the editor (kept as a draft), then a key image inserted from the viewer:
    // the marker goes into the draft's text, and the draft, signed so, is dropped — kept, it
    // was laid over the signed text and the next version lost the marker and its link
    // (found by review, 2026-12-04).
    call(
        "draft_save",
        serde_json::json!({ "report": report, "section": "findings",
            "text": "A nodule. [fig 1] Typed on." }),
    )
    .unwrap();
    let keyed = json(
        "report_link",
        serde_json::json!({ "report": report, "section": "findings",
            "target": { "kind": "key-image", "image": sha, "frame": 0 }, "text": null }),
    );
    assert_eq!(keyed["link"]["fig"], 2, "{keyed}");
    let shown = json("report_show", serde_json::json!({ "report": report }));
    let findings = shown["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "findings")
        .unwrap();
    assert_eq!(findings["text"], "A nodule. [fig 1] Typed on. [fig 2]");
    let drafts = json("drafts", serde_json::json!({ "report": report }));
    assert!(drafts.get("findings").is_none(), "{drafts}");
    let current = findings["versions"].as_array().unwrap().last().unwrap();
    assert_eq!(current["entry"], keyed["entry"]);
    assert_eq!(current["links"].as_array().unwrap().len(), 2, "{current}");
    // The demo's own report is final: nothing more is linked into it, with the rule's code.
    let err = call(
        "report_link",
        serde_json::json!({ "report": demo["report"], "section": "findings",
            "target": { "kind": "key-image", "image": sha, "frame": 0 }, "text": null }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_allowed", "{err}");
    assert_eq!(err["rule"], "finalised", "{err}");
}
