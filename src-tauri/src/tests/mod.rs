//! The commands through Tauri's mock runtime: real IPC dispatch, real home on disk.
//!
//! This module holds what the tests share: the harness the commands are called through
//! (`Harness`, `request`), the test passphrase and its `source`, `demo_desk` (a desk on a new
//! demo home), and the decode worker (`use_this_harness_as_decode_worker` and the
//! `decode_worker` test it re-runs by its exact name, `tests::decode_worker`). The tests, by
//! subject, a submodule each:
//! - `use_cases`: one pass through the commands on the demo home, as the UI calls them (status,
//!   the study list, frames as bytes, a report's rules and actions, sections and their fields,
//!   AutoText, exports held to the save dialog's path);
//! - `session`: the home still opening, the key's lock (unlock, the idle lock, the passphrase
//!   asked again for a final and an erasure, the screen's lock, input told late) and the
//!   WebKit compositing default;
//! - `studies`: imports only from paths the app got itself, and frames and the study list
//!   served beside a write, through the frame cache;
//! - `reports`: a sign-off conflict between two homes shown and resolved, and links inserted;
//! - `data_protection`: a patient's erasure and a report moved to the right patient, and the
//!   erasure refused to a resident;
//! - `audit`: the export of a report this home cannot read, and the AI reviewer's figures;
//! - `pacs_tests` (`src-tauri/src/pacs_tests.rs`): the PACS commands.

mod audit;
mod data_protection;
mod reports;
mod session;
mod studies;
mod use_cases;

use tauri::test::{get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
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

/// The PACS commands, on this module's harness.
#[path = "../pacs_tests.rs"]
mod pacs_tests;
