//! The study list, imports and frames: an import reads only paths the app got itself (its
//! dialog, the window's drop); frames and the study list never wait behind a write or the
//! readers' decodes; the frame cache forgets an erasure made elsewhere, and a frame over its
//! budget is decoded once for all its parts.

use tauri::test::{get_ipc_response, mock_builder};
use tauri::Manager;
use tauri::WebviewWindowBuilder;

use super::{demo_desk, request, source, use_this_harness_as_decode_worker};
use crate::{with_commands, Desk};

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
