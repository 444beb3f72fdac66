//! Exports and the AI reviewer's figures: a report this home cannot read is refused with its
//! code and nothing written, and `ai_stats` gives the CLI's figures without waiting behind a
//! write.

use tauri::test::{get_ipc_response, mock_builder};
use tauri::Manager;
use tauri::WebviewWindowBuilder;

use super::{demo_desk, request, source, PASSPHRASE};
use crate::{with_commands, Desk};

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
