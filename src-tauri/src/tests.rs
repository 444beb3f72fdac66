//! The commands through Tauri's mock runtime: real IPC dispatch, real home on disk.

use tauri::test::{get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::Manager;
use tauri::WebviewWindowBuilder;

use crate::{with_commands, Desk};

const PASSPHRASE: &str = "the test passphrase";

fn source(p: &str) -> countersign_app::PassphraseSource {
    countersign_app::keys::use_fast_kdf_for_tests();
    countersign_app::PassphraseSource::fixed(countersign_app::Passphrase::new(p))
}

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

/// The app with every command on `desk`, and its main window: what the tests call commands
/// through, as the UI does (`call` gives the raw answer, `json` the JSON or a panic naming the
/// command). The app is kept alive as long as the window is used.
struct Harness {
    app: tauri::App<tauri::test::MockRuntime>,
    window: tauri::WebviewWindow<tauri::test::MockRuntime>,
}

impl Harness {
    fn new(desk: Desk) -> Harness {
        let app = with_commands(mock_builder(), desk)
            .build(tauri::generate_context!())
            .unwrap();
        let window = WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        Harness { app, window }
    }

    fn call(
        &self,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<tauri::ipc::InvokeResponseBody, serde_json::Value> {
        get_ipc_response(&self.window, request(cmd, body))
    }

    fn json(&self, cmd: &str, body: serde_json::Value) -> serde_json::Value {
        self.call(cmd, body)
            .unwrap_or_else(|e| panic!("{cmd}: {e:?}"))
            .deserialize()
            .unwrap()
    }
}

/// Images are first decoded in a worker process: in this harness, the test below.
fn use_this_harness_as_decode_worker() {
    countersign_app::sandbox::set_worker_command(
        countersign_app::sandbox::WorkerCommand::test_harness("tests::decode_worker"),
    );
}

/// The decode worker when the harness is started as one; otherwise a check that this harness's
/// worker starts confined.
#[test]
fn decode_worker() {
    countersign_app::sandbox::serve_if_worker_child();
    use_this_harness_as_decode_worker();
    let confinement = countersign_app::sandbox::DecodeSandbox::new()
        .confinement()
        .unwrap();
    assert!(confinement.rlimits, "{confinement:?}");
}

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

/// A home holding a sealed report without its key (from a ciphertext-only bundle): the
/// desktop's export gets the same `{code, message}` as the CLI, `report_unreadable`, and writes
/// nothing — never an empty report that verifies.
#[test]
fn exporting_a_report_this_home_cannot_read_is_refused_with_its_code() {
    use countersign_app::ledger::Role;
    use countersign_app::Home;

    let (ada_dir, rita_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut ada = Home::open_with(ada_dir.path(), source(PASSPHRASE)).unwrap();
    ada.init("Dr Ada Attending", Role::Attending, Some("Radiology"), None)
        .unwrap();
    let mut rita = Home::open_with(rita_dir.path(), source(PASSPHRASE)).unwrap();
    let rita_key = rita
        .init("Rita Reviewer", Role::Reviewer, None, None)
        .unwrap()
        .key;
    ada.roster_add(rita_key, "Rita Reviewer", Role::Reviewer, false, None)
        .unwrap();
    rita.join(&ada.invite(rita_key, vec![], 1).unwrap())
        .unwrap();
    let report = ada.report_new("2.25.56", "ct-chest", &[]).unwrap();
    ada.report_write(report, "findings", "Seen only where the key is.")
        .unwrap();
    rita.bundle_import(&ada.bundle_export_with(Some(report), false).unwrap())
        .unwrap();
    assert!(rita.report_show(report).unwrap().unreadable);
    drop((ada, rita));

    let desk = Desk::open(rita_dir.path().to_path_buf());
    let out = tempfile::tempdir().unwrap();
    for format in [
        countersign_app::ExportFormat::Pdf,
        countersign_app::ExportFormat::Fhir,
        countersign_app::ExportFormat::Sr,
        countersign_app::ExportFormat::PdfDicom,
    ] {
        let path = out.path().join("export");
        let err = crate::commands::export_chosen(&desk, report, format, &path).unwrap_err();
        assert_eq!(err.code, "report_unreadable", "{format:?}: {err:?}");
        assert!(err.message.contains("not its key"), "{err:?}");
        assert!(!path.exists(), "{format:?}");
    }
}

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

/// A home with a key opens locked; `unlock` opens it (a wrong passphrase is refused, nothing
/// signed); after the idle time without a command it locks again and signing is refused with
/// `locked`; signing a final always asks for the passphrase again (`reauth_required`), checked
/// against the sealed key.
#[test]
fn the_key_starts_locked_unlocks_locks_when_idle_and_a_final_asks_again() {
    use countersign_app::ledger::Role;
    use countersign_app::Home;

    let dir = tempfile::tempdir().unwrap();
    let mut home = Home::open_with(dir.path(), source(PASSPHRASE)).unwrap();
    home.init("Dr Ada Attending", Role::Attending, Some("Radiology"), None)
        .unwrap();
    let report = home
        .report_new("2.25.77", "ct-chest", &[])
        .unwrap()
        .to_hex();
    for section in ["technique", "findings", "impression"] {
        home.report_write(report.parse().unwrap(), section, "Written.")
            .unwrap();
    }
    drop(home);

    let idle = std::time::Duration::from_millis(600);
    let desk = Desk::open_with_idle_lock(dir.path().to_path_buf(), idle);
    let harness = Harness::new(desk);
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);
    // Counted in the store: `verify` needs the data keys, which stay sealed while locked.
    let dir_path = dir.path().to_path_buf();
    let entries = |_: &dyn Fn(&str, serde_json::Value) -> serde_json::Value| {
        Home::open(&dir_path)
            .unwrap()
            .store()
            .db()
            .count_entries()
            .unwrap()
    };

    let status = json("status", serde_json::json!({}));
    assert_eq!(status["locked"], true, "{status}");
    assert_eq!(status["identity"]["name"], "Dr Ada Attending");
    let before = entries(&json);
    let err = call(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "x" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "locked", "{err}");
    let err = call(
        "unlock",
        serde_json::json!({ "passphrase": "not it at all" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "wrong_passphrase", "{err}");
    assert_eq!(entries(&json), before, "nothing signed while locked");

    json("unlock", serde_json::json!({ "passphrase": PASSPHRASE }));
    assert_eq!(json("status", serde_json::json!({}))["locked"], false);
    json(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "Unlocked." }),
    );

    let view = json("report_show", serde_json::json!({ "report": report }));
    assert!(
        view.to_string().contains("Unlocked."),
        "the readers read it: {view}"
    );

    // Idle: the key is locked again (status itself is a command, so the lock is seen by it).
    std::thread::sleep(idle + std::time::Duration::from_millis(200));
    let status = json("status", serde_json::json!({}));
    assert_eq!(status["locked"], true, "{status}");
    // The readers' data keys went with it: the sealed text no longer reads.
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["locked"], true, "{view}");
    assert!(!view.to_string().contains("Unlocked."), "{view}");
    let err = call(
        "sign_section",
        serde_json::json!({ "report": report, "section": "findings", "text": "Idle." }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "locked", "{err}");

    // Sign-off: asked again, whether unlocked or not; a wrong passphrase signs nothing.
    json("unlock", serde_json::json!({ "passphrase": PASSPHRASE }));
    let before = entries(&json);
    let err = call("finalize_report", serde_json::json!({ "report": report })).unwrap_err();
    assert_eq!(err["code"], "reauth_required", "{err}");
    let err = call(
        "finalize_report",
        serde_json::json!({ "report": report, "passphrase": "not it at all" }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "wrong_passphrase", "{err}");
    assert_eq!(entries(&json), before);
    json(
        "finalize_report",
        serde_json::json!({ "report": report, "passphrase": PASSPHRASE }),
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "final", "{view}");

    // Restriction: signed both ways, no passphrase asked (it is reversible).
    let on = json(
        "report_restrict",
        serde_json::json!({ "report": report, "basis": "Art. 18(1)(a)", "restricted": true }),
    );
    assert_eq!(on["entries"].as_array().map(Vec::len), Some(1), "{on}");
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["restriction"]["basis"], "Art. 18(1)(a)", "{view}");
    json(
        "report_restrict",
        serde_json::json!({ "report": report, "basis": "checked", "restricted": false }),
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert!(view.get("restriction").is_none(), "{view}");
    assert_eq!(view["restrictions"][1]["restricted"], false, "{view}");

    // Erasure cannot be undone: asked again like a sign-off; a wrong passphrase erases nothing.
    let erase = |passphrase: Option<&str>| {
        call(
            "report_erase",
            serde_json::json!({ "report": report, "basis": "GDPR Art. 17(1)(b)", "passphrase": passphrase }),
        )
    };
    assert_eq!(erase(None).unwrap_err()["code"], "reauth_required");
    assert_eq!(
        erase(Some("not it at all")).unwrap_err()["code"],
        "wrong_passphrase"
    );
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "final", "nothing erased: {view}");
    erase(Some(PASSPHRASE)).unwrap();
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "erased", "{view}");
    assert_eq!(view["erasure"]["by"]["name"], "Dr Ada Attending", "{view}");
    assert_eq!(view["erasure"]["basis"], "GDPR Art. 17(1)(b)", "{view}");
    let actions = json("report_actions", serde_json::json!({ "report": report }));
    assert_eq!(actions["erase"]["allowed"], false, "{actions}");
    assert_eq!(actions["addendum"]["rule"], "report_erased", "{actions}");

    json("lock", serde_json::json!({}));
    assert_eq!(json("status", serde_json::json!({}))["locked"], true);
}

/// The webview names no path to read: an import runs only on what the app's own dialog returned
/// (none in this mock runtime) or what the window's drop event named, each dropped set once.
#[test]
fn imports_read_only_paths_the_app_got_itself() {
    use_this_harness_as_decode_worker();
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let app = with_commands(mock_builder(), Desk::open(dir.path().join("home")))
        .build(tauri::generate_context!())
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let call = |cmd: &str, body: serde_json::Value| get_ipc_response(&window, request(cmd, body));
    let spec = countersign_app::imaging::PhantomSpec {
        seed: "dropped".into(),
        slices: 3,
        size: 32,
        ..Default::default()
    };
    let folder = dir.path().join("cd");
    countersign_app::imaging::write_phantom_series(&spec, &folder).unwrap();

    // The command that took a path from the webview is gone.
    assert!(call("import_paths", serde_json::json!({ "paths": [folder] })).is_err());
    // The dialog runs in the command; without one nothing is read.
    let err = call("import_pick", serde_json::json!({ "directory": true })).unwrap_err();
    assert_eq!(err["code"], "path_refused", "{err}");
    let none: Option<serde_json::Value> = call("import_dropped", serde_json::json!({}))
        .unwrap()
        .deserialize()
        .unwrap();
    assert!(none.is_none());
    let listed: serde_json::Value = call("studies", serde_json::json!({}))
        .unwrap()
        .deserialize()
        .unwrap();
    assert!(listed["studies"].as_array().unwrap().is_empty(), "{listed}");

    // The window's drop event keeps the paths; the import takes them once.
    let desk = app.state::<Desk>();
    assert_eq!(desk.set_dropped(vec![folder.clone()]), 1);
    let summary: serde_json::Value = call("import_dropped", serde_json::json!({}))
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(summary["imported"], 3, "{summary}");
    let again: Option<serde_json::Value> = call("import_dropped", serde_json::json!({}))
        .unwrap()
        .deserialize()
        .unwrap();
    assert!(again.is_none());
    // A drop is bounded before anything is kept.
    let many = vec![folder; crate::MAX_DROPPED + 5];
    assert_eq!(desk.set_dropped(many), crate::MAX_DROPPED);
}

/// A locked screen locks the key: a screensaver's `ActiveChanged(true)` on a private session bus
/// (a real dbus-daemon) wipes the unlocked key, and signing asks for the passphrase again;
/// `ActiveChanged(false)` (the screen waking) changes nothing.
#[test]
fn the_key_locks_when_the_screen_locks() {
    use std::io::BufRead;
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let mut home =
        countersign_app::Home::open_with(dir.path(), source("screen lock test")).unwrap();
    home.init(
        "Dr Ada",
        "attending".parse().unwrap(),
        Some("Radiology"),
        None,
    )
    .unwrap();
    drop(home);
    let desk = std::sync::Arc::new(Desk::open(dir.path().to_path_buf()));
    let passphrase = countersign_app::Passphrase::new("screen lock test");
    desk.act(|h| h.unlock(&passphrase)).unwrap();
    // The background node runs on the unlocked key (on loopback here).
    let node_home = desk.with(|h| h.open_again()).unwrap();
    let service = countersign_app::sync::Service::start(
        node_home,
        &["/ip4/127.0.0.1/tcp/0".into()],
        &[],
        false,
    )
    .unwrap();
    *desk.sync.lock().unwrap() = Some(service);

    // A private session bus: its address is the daemon's first line, printed once it listens.
    // Killed when the test ends, however it ends.
    struct Bus(std::process::Child);
    impl Drop for Bus {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut bus = Bus(std::process::Command::new("dbus-daemon")
        .args(["--session", "--nofork", "--print-address=1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("dbus-daemon (make deps installs dbus)"));
    let mut address = String::new();
    std::io::BufReader::new(bus.0.stdout.take().unwrap())
        .read_line(&mut address)
        .unwrap();
    let address = address.trim().to_string();

    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let watched = std::sync::Arc::clone(&desk);
    crate::screen_lock::watch_screensaver_at(
        &address,
        move |why| {
            let _ = locked_tx.send((why, watched.lock_now(why)));
        },
        ready_tx,
    );
    ready_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    let send = |iface: &str, active: bool| {
        let status = std::process::Command::new("dbus-send")
            .arg(format!("--bus={address}"))
            .args(["--type=signal", "/org/freedesktop/ScreenSaver"])
            .arg(format!("{iface}.ActiveChanged"))
            .arg(format!("boolean:{active}"))
            .status()
            .unwrap();
        assert!(status.success());
    };
    // The screen waking, then GNOME's screensaver activating: only the second locks.
    send("org.freedesktop.ScreenSaver", false);
    send("org.gnome.ScreenSaver", true);
    let (why, was_unlocked) = locked_rx
        .recv_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    // Signals arrive in order: the first lock is GNOME's, so the waking one locked nothing.
    assert_eq!(why, "org.gnome.ScreenSaver", "ActiveChanged(false) locked");
    assert!(
        was_unlocked,
        "the key was not unlocked when the screen locked"
    );
    // The node, whose identity is the key, stopped with it.
    assert!(
        desk.sync.lock().unwrap().is_none(),
        "the sync node outlived the lock"
    );
    let err = desk
        .act(|h| h.report_new("1.2.3", "ct-chest", &[]))
        .unwrap_err();
    assert_eq!(err.code, "locked", "{err:?}");
}

/// Reads never wait behind a write: with the home held by another command for as long as it
/// likes (an import, a verify, a sync pull), the study list, a report view and frames are
/// served from the reader handles; a frame asked twice is decoded once (the frame cache).
#[test]
fn frames_and_the_study_list_never_wait_behind_the_home_a_write_holds() {
    let (_dir, desk, demo, sha) = demo_desk();
    let desk = std::sync::Arc::new(desk);

    // A long command holds the home (here, until the reads below are done).
    let writer = desk.home.lock().unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let reads = {
        let desk = desk.clone();
        std::thread::spawn(move || {
            let page = desk.read(|h| h.study_page(None, 10)).unwrap();
            let view = desk.read(|h| h.report_show(demo.report)).unwrap();
            let first = desk.frame(&sha, 0).unwrap();
            let again = desk.frame(&sha, 0).unwrap();
            done.send((page.studies.len(), view.report, first, again))
                .unwrap();
        })
    };
    // A deadline for a failure to show, not a wait for success: the reads answer at once.
    let (studies, report, first, again) = finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the reads waited behind the home a write holds");
    drop(writer);
    reads.join().unwrap();
    assert_eq!(studies, 1);
    assert_eq!(report, demo.report);
    assert_eq!(first, again);
    let stats = desk.frame_cache();
    assert_eq!(
        (stats.hits, stats.misses, stats.packets),
        (1, 1, 1),
        "{stats:?}"
    );
    assert_eq!(stats.bytes, first.len());
}

/// A frame the cache holds is served while both reader handles are busy (decoding the slices
/// fetched ahead of the scroll): the slice on screen, or a part of a large frame, never waits
/// behind those decodes.
#[test]
fn a_cached_frame_never_waits_behind_the_decodes_holding_the_readers() {
    let (_dir, desk, _demo, sha) = demo_desk();
    let desk = std::sync::Arc::new(desk);
    let first = desk.frame(&sha, 0).expect("the frame, now cached");
    // Two decodes of other slices hold both readers (here, until the frame below is served).
    let busy: Vec<_> = desk.readers.iter().map(|r| r.lock().unwrap()).collect();
    let (done, served) = std::sync::mpsc::channel();
    let read = {
        let desk = desk.clone();
        let sha = sha.clone();
        std::thread::spawn(move || done.send(desk.frame(&sha, 0).unwrap()).unwrap())
    };
    // A deadline for a failure to show, not a wait for success: the frame is served at once.
    let again = served
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("a cached frame waited behind the readers' decodes");
    drop(busy);
    read.join().unwrap();
    assert_eq!(first, again);
    assert_eq!(desk.frame_cache().hits, 1);
}

/// An erasure another process (a sync node, the CLI) applies to the home reaches the frame
/// cache too: the erased images' pixels are not served from memory once their files are gone.
#[test]
fn an_erasure_applied_elsewhere_empties_the_frame_cache() {
    let (dir, desk, demo, sha) = demo_desk();
    desk.frame(&sha, 0).expect("the frame, now cached");
    let mut other =
        countersign_app::Home::open_with(dir.path(), source(countersign_app::DEMO_PASSPHRASE))
            .unwrap();
    other
        .erase(
            &countersign_app::DataSubject::Report(demo.report),
            "GDPR Art. 17(1)(b)",
        )
        .unwrap();
    assert!(
        desk.frame(&sha, 0).is_err(),
        "an erased image's frame is not served from memory"
    );
}

/// The AI oversight view's figures come through `ai_stats` as `ai stats --json` gives them
/// (the demo's model proposed once, and the attending edited it), with the same filters, on a
/// reader handle: answered while a write holds the home. A date that is not one is refused
/// with its code.
#[test]
fn ai_stats_gives_the_cli_figures_and_never_waits_behind_a_write() {
    let (dir, desk, demo, _) = demo_desk();
    let app = with_commands(mock_builder(), desk)
        .build(tauri::generate_context!())
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    let desk = app.state::<Desk>();
    let writer = desk.home.lock().unwrap();
    let (done, answered) = std::sync::mpsc::channel();
    let ask = {
        let window = window.clone();
        move |body: serde_json::Value| {
            let done = done.clone();
            let window = window.clone();
            std::thread::spawn(move || {
                let reply = get_ipc_response(&window, request("ai_stats", body))
                    .map(|r| r.deserialize::<serde_json::Value>().unwrap());
                done.send(reply).unwrap();
            });
        }
    };
    let answer = |body: serde_json::Value| {
        ask(body);
        // A deadline for a failure to show, not a wait for success: the read answers at once.
        answered
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("ai_stats waited behind the home a write holds")
    };
    let all = answer(serde_json::json!({})).unwrap();
    let none = answer(serde_json::json!({ "model": "no-such-model", "since": "" })).unwrap();
    let later = answer(serde_json::json!({ "since": "2999-01-01" })).unwrap();
    let mr = answer(serde_json::json!({ "modality": "MR" })).unwrap();
    let err = answer(serde_json::json!({ "since": "yesterday" })).unwrap_err();
    drop(writer);

    // With the demo's passphrase: the report's AI entries are in its sealed payloads.
    let home = countersign_app::Home::open_with(
        dir.path(),
        countersign_app::PassphraseSource::fixed(countersign_app::Passphrase::new(
            countersign_app::DEMO_PASSPHRASE,
        )),
    )
    .unwrap();
    let expected = home
        .ai_stats(&countersign_app::report::oversight::Filter::default(), None)
        .unwrap();
    assert_eq!(all, serde_json::to_value(&expected).unwrap());
    let model = &all["models"][0];
    assert_eq!(
        (model["model"].as_str(), model["proposals"].as_u64()),
        (Some("soft-tissue-stats"), Some(1)),
        "{all}"
    );
    assert_eq!(model["edited"], 1, "{all}");
    assert_eq!(model["acceptance_rate"], 1.0, "{all}");
    let report = demo.report.to_hex();
    let shown = home.report_show(demo.report).unwrap();
    assert_eq!(
        model["results"][0].as_str(),
        Some(shown.ai[0].entry.to_hex().as_str()),
        "the figures name the entries behind them ({report})"
    );
    assert!(none["models"].as_array().unwrap().is_empty(), "{none}");
    assert!(later["models"].as_array().unwrap().is_empty(), "{later}");
    // The demo's study is the CT phantom: an MR filter leaves nothing.
    assert!(mr["models"].as_array().unwrap().is_empty(), "{mr}");
    assert_eq!(err["code"], "invalid_input", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("YYYY-MM-DD"),
        "{err}"
    );
}

/// A whole patient erased and a report moved to the right patient, through the commands: the
/// study list's and the report view's data-protection actions on a real home.
#[test]
fn a_patient_is_erased_and_a_report_moved_to_the_right_patient_through_the_commands() {
    let (_dir, desk, demo, sha) = demo_desk();
    let demo_report = demo.report.to_hex();
    // The demo patient gets a second report, and a third that was filed under them wrongly;
    // another patient's study (the corpus CT, Patient ID 1CT1) is imported.
    let new_report = |desk: &Desk| {
        desk.act(|h| h.report_new(&demo.study, "ct-chest", &[]))
            .unwrap()
            .to_hex()
    };
    let second = new_report(&desk);
    let misfiled = new_report(&desk);
    let ct = countersign_testkit::corpus("CT_small.dcm");
    desk.act(|h| h.import(&[ct.as_path()], |_| {})).unwrap();
    desk.frame(&sha, 0).expect("the frame, now cached");
    assert!(desk.frame_cache().packets > 0);

    let harness = Harness::new(desk);
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);
    json(
        "unlock",
        serde_json::json!({ "passphrase": countersign_app::DEMO_PASSPHRASE }),
    );
    let may = json("data_protection_actions", serde_json::json!({}));
    assert_eq!(may["erase_patient"]["allowed"], true, "{may}");

    // The move: offered to the attending, onto the other patient's study.
    let actions = json("report_actions", serde_json::json!({ "report": misfiled }));
    assert_eq!(actions["move"]["allowed"], true, "{actions}");
    let targets = json("move_targets", serde_json::json!({ "report": misfiled }));
    assert_eq!(targets.as_array().map(Vec::len), Some(1), "{targets}");
    assert_eq!(targets[0]["patient_id"], "1CT1", "{targets}");
    let right = targets[0]["study"].as_str().unwrap().to_string();
    json(
        "report_move",
        serde_json::json!({
            "report": misfiled, "patientId": "1CT1", "study": right,
            "reason": "registered under the wrong patient",
        }),
    );
    let page = json("studies", serde_json::json!({}));
    let row = |study: &str| {
        page["studies"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["study"] == study)
            .cloned()
            .unwrap_or_else(|| panic!("{study} not listed: {page}"))
    };
    let under_right = row(&right);
    assert_eq!(under_right["reports"][0]["report"], misfiled.as_str());
    let wrong = row(&demo.study);
    let marker = wrong["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["report"] == misfiled.as_str())
        .cloned()
        .unwrap();
    assert_eq!(marker["moved_to"], right.as_str(), "{wrong}");
    let moved = json("report_show", serde_json::json!({ "report": misfiled }));
    assert_eq!(moved["study"], right.as_str());
    assert_eq!(moved["moves"][0]["to"], right.as_str(), "{moved}");
    assert!(
        moved["provenance"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "report.move"),
        "{moved}"
    );

    // The patient's erasure: what it covers, named first (the moved report no longer is).
    let scope = json("patient_scope", serde_json::json!({ "study": demo.study }));
    assert_eq!(scope["patient_id"], "PHANTOM-0001", "{scope}");
    assert_eq!(
        scope["studies"].as_array().map(Vec::len),
        Some(1),
        "{scope}"
    );
    assert_eq!(
        scope["reports"].as_array().map(Vec::len),
        Some(2),
        "{scope}"
    );
    let erase = |passphrase: Option<&str>| {
        call(
            "patient_erase",
            serde_json::json!({
                "patientId": "PHANTOM-0001", "basis": "GDPR Art. 17(1)(b)",
                "passphrase": passphrase,
            }),
        )
    };
    assert_eq!(erase(None).unwrap_err()["code"], "reauth_required");
    assert!(
        harness.app.state::<Desk>().frame_cache().packets > 0,
        "nothing erased yet"
    );
    let done: serde_json::Value = erase(Some(countersign_app::DEMO_PASSPHRASE))
        .unwrap()
        .deserialize()
        .unwrap();
    let erased: std::collections::BTreeSet<&str> = done["reports"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .collect();
    assert_eq!(
        erased,
        [demo_report.as_str(), second.as_str()].into(),
        "{done}"
    );
    assert_eq!(harness.app.state::<Desk>().frame_cache().packets, 0);
    for r in [&demo_report, &second] {
        let view = json("report_show", serde_json::json!({ "report": r }));
        assert_eq!(view["status"], "erased", "{view}");
        assert_eq!(view["erasure"]["scope"], "patient", "{view}");
    }
    let moved = json("report_show", serde_json::json!({ "report": misfiled }));
    assert_eq!(
        moved["status"], "draft",
        "the moved report is the other patient's: {moved}"
    );
    // The erased patient's study is gone from the list; the right patient's stays.
    let page = json("studies", serde_json::json!({}));
    let listed: Vec<&str> = page["studies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["study"].as_str())
        .collect();
    assert_eq!(listed, vec![right.as_str()], "{page}");
}

/// A member who is neither an attending nor the data-protection officer is not offered a
/// patient's erasure, and is refused with the rule's code when asking anyway.
#[test]
fn a_patient_erasure_by_a_resident_is_refused_with_the_rules_code() {
    use countersign_app::ledger::Role;
    use_this_harness_as_decode_worker();
    let dir = tempfile::tempdir().unwrap();
    let mut home = countersign_app::Home::open_with(dir.path(), source(PASSPHRASE)).unwrap();
    home.init("Dr Res Ident", Role::Resident, Some("Radiology"), None)
        .unwrap();
    let folder = dir.path().join("phantom");
    let spec = countersign_app::imaging::PhantomSpec {
        slices: 2,
        size: 32,
        ..Default::default()
    };
    let files = countersign_app::imaging::write_phantom_series(&spec, &folder).unwrap();
    let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
    home.import(&paths, |_| {}).unwrap();
    let study = countersign_app::imaging::phantom_study_uid(&spec.seed);
    let report = home.report_new(&study, "ct-chest", &[]).unwrap().to_hex();
    drop(home);

    let harness = Harness::new(Desk::open(dir.path().to_path_buf()));
    let call = |cmd: &str, body: serde_json::Value| harness.call(cmd, body);
    let json = |cmd: &str, body: serde_json::Value| harness.json(cmd, body);
    json("unlock", serde_json::json!({ "passphrase": PASSPHRASE }));
    let may = json("data_protection_actions", serde_json::json!({}));
    assert_eq!(may["erase_patient"]["allowed"], false, "{may}");
    assert_eq!(may["erase_patient"]["rule"], "role_may_not_write", "{may}");
    let actions = json("report_actions", serde_json::json!({ "report": report }));
    assert_eq!(actions["move"]["rule"], "role_may_not_write", "{actions}");
    let err = call(
        "patient_erase",
        serde_json::json!({
            "patientId": "PHANTOM-0001", "basis": "GDPR Art. 17(1)(b)",
            "passphrase": PASSPHRASE,
        }),
    )
    .unwrap_err();
    assert_eq!(err["code"], "not_allowed", "{err}");
    assert_eq!(err["rule"], "role_may_not_write", "{err}");
    let view = json("report_show", serde_json::json!({ "report": report }));
    assert_eq!(view["status"], "draft", "nothing erased: {view}");
}

/// A desk on a new demo home (its key sealed under the demo passphrase), the demo, and the
/// SHA-256 of one of its study's images.
fn demo_desk() -> (
    tempfile::TempDir,
    Desk,
    countersign_app::DemoSummary,
    String,
) {
    use_this_harness_as_decode_worker();
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path().to_path_buf());
    let demo = desk
        .act(|h| {
            h.demo_sealed(&countersign_app::Passphrase::new(
                countersign_app::DEMO_PASSPHRASE,
            ))
        })
        .unwrap();
    let sha = desk.read(|h| h.study_image_refs(&demo.study)).unwrap()[0]
        .sha256
        .clone();
    (dir, desk, demo, sha)
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
    assert_eq!(findings["text"], "A nodule. [fig 1] [fig 2]");
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

/// Review finding (2026-12-01): a frame larger than the cache's whole budget (never kept) was
/// decoded again for each part the viewer asked for. The packet last served is kept aside,
/// so its parts are cut from it; an erasure forgets it with the cache.
#[test]
fn a_frame_over_the_cache_budget_is_decoded_once_for_all_its_parts() {
    let (_dir, mut desk, _demo, sha) = demo_desk();
    desk.frames = countersign_app::FrameCache::new(0);
    let first = desk.frame(&sha, 0).unwrap();
    let again = desk.frame(&sha, 0).unwrap();
    assert_eq!(first, again);
    let stats = desk.frame_cache();
    assert_eq!((stats.misses, stats.packets), (1, 0), "{stats:?}");
    desk.forget_frames();
    desk.frame(&sha, 0).unwrap();
    assert_eq!(
        desk.frame_cache().misses,
        2,
        "decoded again: the packet kept aside went too"
    );
}

/// The PACS commands, on this module's harness.
#[path = "pacs_tests.rs"]
mod pacs_tests;

#[test]
fn accelerated_compositing_is_off_unless_the_user_set_the_variable() {
    use crate::compositing_default;
    use std::ffi::OsStr;
    // Not set: the app turns it off.
    assert_eq!(compositing_default(None), Some("1"));
    // Set, to anything: the user's value stands ("0" keeps WebKit's own choice; an empty value
    // is WebKit's to read, not the app's to replace).
    for value in ["0", "1", "", "yes"] {
        assert_eq!(
            compositing_default(Some(OsStr::new(value))),
            None,
            "{value:?}"
        );
    }
}

/// The e2e's lock (2026-12-01): the window tells input up to 5 s late; the idle time counts
/// from the input, never from the tell, and a late tell never moves the last activity back.
#[test]
fn input_told_late_counts_from_when_it_happened() {
    use crate::{latest_input, MAX_INPUT_AGO};
    use std::time::{Duration, Instant};
    let now = Instant::now() + Duration::from_secs(60);
    let secs = Duration::from_secs;
    // Told 3 s late, after older activity: 3 s before now.
    assert_eq!(latest_input(now - secs(20), now, secs(3)), now - secs(3));
    // Told as older than the last activity known: the last activity stands.
    assert_eq!(latest_input(now - secs(1), now, secs(3)), now - secs(1));
    // A claim past MAX_INPUT_AGO counts as MAX_INPUT_AGO.
    assert_eq!(
        latest_input(now - secs(50), now, secs(3600)),
        now - MAX_INPUT_AGO
    );
    // Told at once.
    assert_eq!(latest_input(now - secs(20), now, Duration::ZERO), now);
}

/// The window opens before its home (an update's upgrade of a large store takes a while):
/// until the home is open every command answers `home_opening`, the reads included, and no
/// other handle opens the store meanwhile (it would wait on the upgrade's lock); once it is
/// open, the same commands answer.
#[test]
fn a_home_still_opening_answers_home_opening_and_nothing_else_opens_it() {
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::opening(dir.path().to_path_buf()));
    for cmd in ["status", "studies"] {
        let refused = harness.call(cmd, serde_json::json!({})).unwrap_err();
        assert_eq!(refused["code"], "home_opening", "{cmd}: {refused}");
    }
    assert!(
        !dir.path().join("ledger.sqlite3").exists(),
        "a handle opened the store before the home was open"
    );
    harness.app.state::<Desk>().finish_opening();
    let status = harness.json("status", serde_json::json!({}));
    assert!(status["identity"].is_null(), "{status}");
    harness.json("studies", serde_json::json!({}));
}
