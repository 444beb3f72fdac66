//! One pass through the commands on the demo home, as the UI calls them: the first-run status,
//! the demo, the study list (paged), the images in scroll order, a frame as a binary packet (its
//! parts and its first look), a final report's refusals and actions, a new report's sections,
//! structured fields and AutoText, and exports held to the save dialog's path.

use tauri::Manager;

use super::{use_this_harness_as_decode_worker, Harness};
use crate::Desk;

#[test]
fn commands_run_the_app_use_cases_and_return_frames_as_bytes() {
    use_this_harness_as_decode_worker();
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::open(dir.path().to_path_buf()));
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);

    // A fresh home has no identity: the first-run screen's cue.
    let status = json("status", serde_json::json!({}));
    assert!(status["identity"].is_null(), "{status}");

    let demo = json(
        "open_demo",
        serde_json::json!({ "passphrase": countersign_app::DEMO_PASSPHRASE }),
    );
    let report = demo["report"].as_str().unwrap().to_string();
    let study = demo["study"].as_str().unwrap().to_string();
    assert_eq!(
        json("status", serde_json::json!({}))["identity"]["role"],
        "attending"
    );

    let page = json("studies", serde_json::json!({}));
    assert_eq!(page["studies"][0]["study"], study.as_str());
    assert_eq!(page["studies"][0]["reports"][0]["report"], report.as_str());
    assert_eq!(page["studies"][0]["reports"][0]["status"], "final");
    assert!(page["next"].is_null(), "{page}");
    // Paged: one study a page, and nothing after the last.
    let first = json("studies", serde_json::json!({ "limit": 1 }));
    assert_eq!(first["studies"].as_array().unwrap().len(), 1);
    assert!(first["next"].is_null(), "{first}");

    let images = json("study_images", serde_json::json!({ "study": study }));
    let numbers: Vec<i64> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance_number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, (1..=16).collect::<Vec<_>>(), "scroll order");

    // A frame is a binary packet: header length, JSON header, raw 16-bit samples.
    let sha = images[0]["sha256"].as_str().unwrap();
    let body = call("frame", serde_json::json!({ "sha256": sha, "frame": 0 })).unwrap();
    let tauri::ipc::InvokeResponseBody::Raw(bytes) = body else {
        panic!("a frame must not travel as JSON")
    };
    let n = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[4..4 + n]).unwrap();
    assert_eq!(header["format"], "u16");
    let (w, h) = (
        header["width"].as_u64().unwrap(),
        header["height"].as_u64().unwrap(),
    );
    assert_eq!(bytes.len() - 4 - n, (w * h * 2) as usize);
    assert_eq!(header["sha256"], sha);
    // The pixels start 8-aligned, and the packet comes in parts of FRAME_PART_BYTES: this one
    // is smaller than a part, so part 0 is all of it and part 1 is refused.
    assert_eq!((4 + n) % 8, 0);
    let part = |part: u32| {
        call(
            "frame",
            serde_json::json!({ "sha256": sha, "frame": 0, "part": part }),
        )
    };
    let Ok(tauri::ipc::InvokeResponseBody::Raw(first)) = part(0) else {
        panic!("part 0 of a frame, as bytes")
    };
    assert_eq!(first, bytes);
    assert!(bytes.len() < countersign_app::FRAME_PART_BYTES);
    assert_eq!(part(1).unwrap_err()["code"], "invalid_input");
    // A first look: a frame of one part is never reduced, even in a viewport smaller than it
    // (its part 0 is the whole frame, as `frame` answers); the reduced case is the app's
    // `a_1760_square_cr_is_previewed_at_half_its_size_in_full_resolution_coordinates`.
    let Ok(tauri::ipc::InvokeResponseBody::Raw(preview)) = call(
        "frame_preview",
        serde_json::json!({ "sha256": sha, "frame": 0, "width": 8, "height": 8 }),
    ) else {
        panic!("a first look, as bytes")
    };
    assert_eq!(preview, bytes);

    // The demo report is final: a section write is refused, in words, with a stable code.
    let err = call(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "x" }),
    )
    .unwrap_err();

    assert_eq!(err["code"], "not_allowed", "{err}");
    assert_eq!(err["rule"], "finalised", "{err}");
    assert!(err["message"].as_str().unwrap().contains("final"), "{err}");
    // Nothing to resolve on a report with one sign-off: refused, with the rule's code.
    let shown = json("report_show", serde_json::json!({ "report": report }));
    let err = call(
        "report_resolve",
        serde_json::json!({ "report": report, "keep": shown["signoff"]["entry"] }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_allowed", "{err}");
    assert_eq!(err["rule"], "no_conflict", "{err}");

    // What the user may do on it, as the rules judge it: an addendum, and no second sign-off.
    let actions = json("report_actions", serde_json::json!({ "report": report }));
    assert_eq!(actions["finalize"]["allowed"], false, "{actions}");
    assert_eq!(actions["finalize"]["rule"], "already_final", "{actions}");
    assert!(actions["finalize"]["reason"]
        .as_str()
        .unwrap()
        .contains("final"));
    assert_eq!(actions["addendum"]["allowed"], true, "{actions}");
    assert!(actions["addendum"]["rule"].is_null(), "{actions}");
    assert_eq!(
        actions["write"]["findings"]["rule"], "finalised",
        "{actions}"
    );
    assert_eq!(
        actions["resolve"][shown["signoff"]["entry"].as_str().unwrap()]["rule"],
        "no_conflict",
        "{actions}"
    );
    let err = call("report_actions", serde_json::json!({ "report": "zz" })).unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");

    // A new report on the same study takes a signed section and verifies.
    let fresh = json(
        "report_new",
        serde_json::json!({ "study": study, "template": "ct-chest" }),
    );
    let actions = json("report_actions", serde_json::json!({ "report": fresh }));
    assert_eq!(actions["write"]["findings"]["allowed"], true, "{actions}");
    assert_eq!(actions["finalize"]["rule"], "section_missing", "{actions}");
    assert_eq!(actions["addendum"]["rule"], "not_final", "{actions}");
    assert_eq!(
        actions["cosign"],
        serde_json::json!({}),
        "nothing written to co-sign yet"
    );
    let entry = json(
        "sign_section",
        serde_json::json!({ "report": fresh, "section": "findings", "text": "No nodule." }),
    );
    let view = json("report_show", serde_json::json!({ "report": fresh }));
    let last = view["provenance"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["entry"], entry);
    assert_eq!(last["status"]["state"], "verified");
    let verified = json("verify", serde_json::json!({ "report": fresh }));
    assert_eq!(verified["ok"], true, "{verified}");

    // Structured fields travel with the text, checked by the template's rules.
    let err = call(
        "sign_section",
        serde_json::json!({ "report": fresh, "section": "findings", "text": "Nodule.",
            "fields": { "largest-nodule": "many" } }),
    )
    .unwrap_err();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("not a decimal number"),
        "{err}"
    );
    json(
        "sign_section",
        serde_json::json!({ "report": fresh, "section": "findings", "text": "Nodule.",
            "fields": { "largest-nodule": "6" } }),
    );

    // AutoText: the section's macros come from the app, and a write names the ones it used.
    let macros = json(
        "section_macros",
        serde_json::json!({ "report": fresh, "section": "findings" }),
    );
    let names: Vec<&str> = macros
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["normal-chest", "nodule"]);
    let nodule = serde_json::json!([{ "name": "nodule", "hash": macros[1]["hash"] }]);
    json(
        "sign_section",
        serde_json::json!({ "report": fresh, "section": "findings",
            "text": "A 6 mm solid nodule in the [lobe].", "macros": nodule }),
    );
    let view = json("report_show", serde_json::json!({ "report": fresh }));
    let last = view["provenance"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["macros"], nodule, "{last}");
    let err = call(
        "sign_section",
        serde_json::json!({ "report": fresh, "section": "impression", "text": "x", "macros": nodule }),
    )
    .unwrap_err();
    assert_eq!(err["rule"], "macro_not_applicable", "{err}");

    // The webview names no path: `export_report` writes only where its own save dialog says
    // (this mock runtime has none), so a path the webview passes writes nothing anywhere.
    let out = tempfile::tempdir().unwrap();
    let pdf = out.path().join("report.pdf");
    let err = call(
        "export_report",
        serde_json::json!({ "report": report, "format": "pdf", "path": pdf }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "path_refused", "{err}");
    assert!(!pdf.exists());
    let err = call(
        "export_report",
        serde_json::json!({ "report": report, "format": "docx" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");
    // What the dialog returns is still held to the home's bounds: never inside the home.
    let desk = harness.app.state::<Desk>();
    let id: countersign_app::ledger::EntryId = report.parse().unwrap();
    for inside in [
        dir.path().join("ledger.sqlite3"),
        dir.path().join("report.pdf"),
    ] {
        let before = std::fs::read(dir.path().join("ledger.sqlite3")).ok();
        let err =
            crate::commands::export_chosen(&desk, id, countersign_app::ExportFormat::Pdf, &inside)
                .unwrap_err();
        assert_eq!(err.code, "path_refused", "{err:?}");
        assert!(!dir.path().join("report.pdf").exists());
        assert_eq!(
            std::fs::read(dir.path().join("ledger.sqlite3")).ok(),
            before
        );
    }
    // The signed-off demo report exports as PDF to the path the dialog chose.
    let written =
        crate::commands::export_chosen(&desk, id, countersign_app::ExportFormat::Pdf, &pdf)
            .unwrap();
    let bytes = std::fs::read(&pdf).unwrap();
    assert_eq!(written.bytes, bytes.len() as u64);
    assert!(bytes.starts_with(b"%PDF-"));

    // A malformed id is bad input, not a panic; no rule refused it.
    let err = call("report_show", serde_json::json!({ "report": "zz" })).unwrap_err();
    assert_eq!(err["code"], "invalid_input");
    assert!(err["rule"].is_null(), "{err}");
}
