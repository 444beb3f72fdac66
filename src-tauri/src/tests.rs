//! The commands through Tauri's mock runtime: real IPC dispatch, real home on disk.

use tauri::test::{get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::WebviewWindowBuilder;

use crate::{with_commands, Desk};

fn request(cmd: &str, body: serde_json::Value) -> InvokeRequest {
    InvokeRequest {
        cmd: cmd.into(),
        callback: tauri::ipc::CallbackFn(0),
        error: tauri::ipc::CallbackFn(1),
        // The origin of the app's own pages on Linux (remote origins may not call app commands).
        url: "tauri://localhost".parse().unwrap(),
        body: tauri::ipc::InvokeBody::Json(body),
        headers: Default::default(),
        invoke_key: tauri::test::INVOKE_KEY.to_string(),
    }
}

#[test]
fn commands_run_the_app_use_cases_and_return_frames_as_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let app = with_commands(mock_builder(), Desk::open(dir.path().to_path_buf()))
        .build(tauri::generate_context!())
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let call = |cmd: &str, body: serde_json::Value| get_ipc_response(&window, request(cmd, body));
    let json = |cmd: &str, body: serde_json::Value| -> serde_json::Value {
        call(cmd, body)
            .unwrap_or_else(|e| panic!("{cmd}: {e:?}"))
            .deserialize()
            .unwrap()
    };

    // A fresh home has no identity: the first-run screen's cue.
    let status = json("status", serde_json::json!({}));
    assert!(status["identity"].is_null(), "{status}");

    let demo = json("open_demo", serde_json::json!({}));
    let report = demo["report"].as_str().unwrap().to_string();
    let study = demo["study"].as_str().unwrap().to_string();
    assert_eq!(
        json("status", serde_json::json!({}))["identity"]["role"],
        "attending"
    );

    let studies = json("studies", serde_json::json!({}));
    assert_eq!(studies[0]["study"], study.as_str());
    assert_eq!(studies[0]["reports"][0]["report"], report.as_str());

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

    // The demo report is final: a section write is refused, in words, with a stable code.
    let err = call(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "x" }),
    )
    .unwrap_err();

    assert_eq!(err["code"], "not_allowed", "{err}");
    assert!(err["message"].as_str().unwrap().contains("final"), "{err}");

    // A new report on the same study takes a signed section and verifies.
    let fresh = json(
        "report_new",
        serde_json::json!({ "study": study, "template": "ct-chest" }),
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

    // The signed-off demo report exports as PDF to the path a save dialog chose.
    let pdf = dir.path().join("report.pdf");
    let written = json(
        "export_report",
        serde_json::json!({ "report": report, "format": "pdf", "path": pdf }),
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert_eq!(written, bytes.len() as u64);
    assert!(bytes.starts_with(b"%PDF-"));
    let err = call(
        "export_report",
        serde_json::json!({ "report": report, "format": "docx", "path": pdf }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");

    // A malformed id is bad input, not a panic.
    let err = call("report_show", serde_json::json!({ "report": "zz" })).unwrap_err();
    assert_eq!(err["code"], "invalid_input");
}
