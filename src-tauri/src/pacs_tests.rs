//! The PACS commands through the same harness as the others (`tests::Harness`): against an
//! archive that is down (connection refused), one that accepts and says nothing (to show a
//! retrieval blocks no other command), and a real Orthanc — the demo archive's, started by its
//! command (so that use case is tested here too).

use std::net::TcpListener;
use std::sync::mpsc;

use serde_json::json;
use tauri::Listener;

use tauri::test::get_ipc_response;

use super::{request, use_this_harness_as_decode_worker, Harness};
use crate::Desk;

/// A loopback port nothing listens on: connecting is refused.
fn refused_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn archives_are_added_tested_listed_and_a_down_one_is_shown_unreachable() {
    use_this_harness_as_decode_worker();
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::open(dir.path().to_path_buf()));

    // None configured: an empty worklist (the view offers "Connect an archive").
    let empty = harness.json("worklist", json!({}));
    assert_eq!(empty, json!({ "rows": [], "archives": [] }));

    // Either a URL or an address: neither, or both, is refused in words.
    for body in [
        json!({ "name": "x" }),
        json!({ "name": "x", "dicomweb": "http://127.0.0.1:1/dicom-web", "dimse": "A@127.0.0.1:104" }),
        json!({ "name": "bad name", "dicomweb": "http://127.0.0.1:1/dicom-web" }),
        json!({ "name": "x", "dicomweb": format!("http://{}", "h".repeat(600)) }),
        // Credentials: a user without a password, or both kinds, or for a DIMSE archive.
        json!({ "name": "x", "dicomweb": "http://127.0.0.1:1/dicom-web", "login": { "user": "alice" } }),
        json!({ "name": "x", "dicomweb": "http://127.0.0.1:1/dicom-web",
                "login": { "user": "alice", "password": "pw", "token": "t" } }),
        json!({ "name": "x", "dimse": "A@127.0.0.1:104", "login": { "token": "t" } }),
    ] {
        let err = harness.call("pacs_add", body.clone()).unwrap_err();
        assert_eq!(err["code"], "invalid_input", "{body}: {err}");
    }

    let port = refused_port();
    let url = format!("http://127.0.0.1:{port}/dicom-web");
    let added = harness.json("pacs_add", json!({ "name": "down", "dicomweb": url }));
    assert_eq!(added["protocol"], "dicomweb");
    let added = harness.json(
        "pacs_add",
        json!({ "name": "legacy", "dimse": format!("ARCHIVE@127.0.0.1:{port}"), "callingAet": "READER1" }),
    );
    assert_eq!(added["calling_aet"], "READER1");
    let names: Vec<String> = harness
        .json("pacs_list", json!({}))
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["down", "legacy"]);

    // Down: the test and the worklist say so, with the code, naming the archive.
    let err = harness
        .call("pacs_test", json!({ "name": "down" }))
        .unwrap_err();
    assert_eq!(err["code"], "pacs_unreachable", "{err}");
    let list = harness.json("worklist", json!({}));
    assert_eq!(list["rows"], json!([]), "{list}");
    let answers = list["archives"].as_array().unwrap();
    assert_eq!(answers.len(), 2, "{list}");
    for answer in answers {
        assert_eq!(answer["state"], "unreachable", "{list}");
        assert_eq!(answer["error"]["code"], "pacs_unreachable", "{list}");
    }
    assert!(answers[0]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("down"));
    // A date that is not one is the caller's mistake, not the archive's.
    let err = harness
        .call("worklist", json!({ "since": "yesterday" }))
        .unwrap_err();
    assert_eq!(err["code"], "invalid_input", "{err}");

    let err = harness
        .call(
            "retrieve",
            json!({ "archive": "down", "study": "1.2.3", "patientId": null }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "pacs_unreachable", "{err}");
    // A prior's report: no report here, so the archive is asked, and it is named.
    let err = harness
        .call(
            "prior_report",
            json!({ "study": "1.2.3", "archive": "down" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "pacs_unreachable", "{err}");
    assert!(
        err["message"].as_str().unwrap().contains("archive down"),
        "{err}"
    );

    harness.json("pacs_remove", json!({ "name": "down" }));
    let err = harness
        .call("pacs_remove", json!({ "name": "down" }))
        .unwrap_err();
    assert_eq!(err["code"], "not_found", "{err}");
    assert_eq!(harness.json("deliveries", json!({})), json!([]));
}

#[test]
fn a_retrieval_waiting_on_a_silent_archive_blocks_no_other_command() {
    let (_dir, harness) = demo_desk();
    // An archive that takes the connection and says nothing until told to hang up.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    harness.json(
        "pacs_add",
        json!({ "name": "silent", "dicomweb": format!("http://127.0.0.1:{port}/dicom-web") }),
    );
    let (accepted_tx, accepted) = mpsc::channel();
    let (hang_up, hang_up_rx) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (socket, _) = silent.accept().unwrap();
        accepted_tx.send(()).unwrap();
        let _ = hang_up_rx.recv();
        drop(socket);
    });
    std::thread::scope(|s| {
        let (done_tx, done) = mpsc::channel();
        let window = harness.window.clone();
        s.spawn(move || {
            let answer = get_ipc_response(
                &window,
                request(
                    "retrieve",
                    json!({ "archive": "silent", "study": "1.2.3", "patientId": null }),
                ),
            );
            done_tx.send(answer.map(|_| ())).unwrap();
        });
        // The retrieval is now waiting on the archive ...
        accepted.recv().unwrap();
        // ... and the app answers everything else meanwhile: writes, reads, the list.
        let status = harness.json("status", json!({}));
        assert_eq!(status["identity"]["role"], "attending");
        let page = harness.json("studies", json!({}));
        assert_eq!(page["studies"].as_array().unwrap().len(), 1);
        harness.json("activity", json!({}));
        assert_eq!(harness.json("pacs_list", json!({}))[0]["name"], "silent");
        assert!(
            matches!(done.try_recv(), Err(mpsc::TryRecvError::Empty)),
            "the retrieval had not ended"
        );
        hang_up.send(()).unwrap();
        let err = done.recv().unwrap().unwrap_err();
        assert!(err["code"].as_str().unwrap().starts_with("pacs_"), "{err}");
    });
    server.join().unwrap();
}

/// A desk on a new home opened as the demo (its identity unlocked), and the home's folder.
fn demo_desk() -> (tempfile::TempDir, Harness) {
    use_this_harness_as_decode_worker();
    countersign_app::keys::use_fast_kdf_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::open(dir.path().to_path_buf()));
    harness.json(
        "open_demo",
        json!({ "passphrase": countersign_app::DEMO_PASSPHRASE }),
    );
    (dir, harness)
}

#[test]
fn the_demo_archive_is_on_the_worklist_and_a_study_is_retrieved_with_progress() {
    let (_dir, harness) = demo_desk();
    let status = harness.json("demo_archive_status", json!({}));
    assert_eq!(status["available"], true, "`make deps` installs Orthanc");
    assert!(status["running"].is_null());

    let demo = harness.json("demo_archive_start", json!({}));
    assert_eq!(demo["archive"], "demo");
    let status = harness.json("demo_archive_status", json!({}));
    assert_eq!(status["running"]["url"], demo["url"]);
    let list = harness.json("worklist", json!({ "modality": "CT" }));
    assert_eq!(list["archives"][0]["state"], "answered", "{list}");
    let rows = list["rows"].as_array().unwrap();
    // Five phantom studies, and this home's own demo study, already here with its final report.
    assert_eq!(rows.len(), 6, "{list}");
    let own: Vec<_> = rows.iter().filter(|r| r["report"] != "none").collect();
    assert_eq!(own.len(), 1, "{list}");
    assert_eq!(own[0]["report"], "final");
    assert_eq!(own[0]["local_instances"], own[0]["instances"]);
    let newest = &rows[0];
    assert_eq!(newest["local_instances"], 0);
    let (study, total) = (
        newest["study"].as_str().unwrap().to_string(),
        newest["instances"].as_u64().unwrap(),
    );

    let (tx, events) = mpsc::channel();
    harness.app.listen_any("retrieve-progress", move |e| {
        let _ = tx.send(serde_json::from_str::<serde_json::Value>(e.payload()).unwrap());
    });
    let got = harness.json(
        "retrieve",
        json!({ "archive": "demo", "study": study, "patientId": newest["patient_id"] }),
    );
    assert_eq!(got["instances"].as_u64(), Some(total), "{got}");
    assert_eq!(got["refused"], json!([]));
    let events: Vec<serde_json::Value> = events.try_iter().collect();
    // The last says all is done (how many came before is the throttle's, tested below).
    assert!(events.iter().all(|e| e["study"] == study.as_str()));
    let last = events.last().unwrap();
    assert_eq!(last["phase"], "done", "{events:?}");
    // The first image before the rest: told once, with an instance stored, before the end.
    let firsts: Vec<usize> = (0..events.len())
        .filter(|i| events[*i]["phase"] == "first-image")
        .collect();
    assert_eq!(firsts.len(), 1, "{events:?}");
    assert!(events[firsts[0]]["stored"].as_u64().unwrap() >= 1);
    assert!(firsts[0] < events.len() - 1);
    assert_eq!(last["instances"].as_u64(), Some(total));
    assert_eq!(last["bytes"], got["bytes"]);
    assert!(got["bytes"].as_u64().unwrap() > total * 128 * 128 * 2);

    // Local now, and opened as local studies are: each image with where it lies (what a prior
    // beside it scrolls by), 5 mm apart along the axial normal.
    let images = harness.json("study_images", json!({ "study": study }));
    assert_eq!(images.as_array().unwrap().len() as u64, total);
    let positions: Vec<f64> = images
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["position"].as_f64().unwrap())
        .collect();
    assert!(
        positions
            .windows(2)
            .all(|w| (w[1] - w[0] - 5.0).abs() < 1e-6),
        "{positions:?}"
    );
    assert!(images
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["plane"] == "axial"));

    // Its patient's other studies, newest first: three on the archive only, and the home's own
    // demo study (the same patient), here and on the archive, with its final report.
    let priors = harness.json("priors", json!({ "study": study }));
    let listed = priors["priors"].as_array().unwrap();
    let dates: Vec<&str> = listed.iter().map(|p| p["date"].as_str().unwrap()).collect();
    assert_eq!(dates.len(), 4, "{priors}");
    assert!(
        dates.windows(2).all(|w| w[0] > w[1]),
        "newest first: {dates:?}"
    );
    assert!(listed.iter().all(|p| p["archive"] == "demo"));
    assert!(listed
        .iter()
        .all(|p| p["patient_id"] == newest["patient_id"]));
    let here: Vec<_> = listed.iter().filter(|p| p["local"] == true).collect();
    assert_eq!(here.len(), 1, "{priors}");
    assert_eq!(here[0]["report"], "final");
    assert_eq!(priors["archives"][0]["state"], "answered");

    // A report started on it: the worklist shows this department's state of it.
    let template = harness.json("templates", json!({}))[0]["name"].clone();
    harness.json(
        "report_new",
        json!({ "study": study, "template": template }),
    );
    let list = harness.json("worklist", json!({}));
    let row = list["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["study"] == study.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["report"], "draft", "{row}");
    assert_eq!(row["local_instances"].as_u64(), Some(total));

    // Stopped: the archive does not answer, and its last list is kept, said to be that.
    harness.json("demo_archive_stop", json!({}));
    assert!(harness.json("demo_archive_status", json!({}))["running"].is_null());
    let kept = harness.json("worklist", json!({}));
    assert_eq!(kept["archives"][0]["state"], "kept", "{kept}");
    assert!(kept["archives"][0]["answered_ms"].as_u64().unwrap() > 0);
    assert_eq!(kept["rows"].as_array().unwrap().len(), 6);
    // The priors with the archive down: what is here (the demo study), and the archive said to be down,
    // not an error in place of the list.
    let priors = harness.json("priors", json!({ "study": study }));
    let listed = priors["priors"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{priors}");
    assert_eq!(listed[0]["study"], here[0]["study"]);
    assert!(listed[0]["archive"].is_null());
    assert_eq!(priors["archives"][0]["state"], "unreachable", "{priors}");
    assert_eq!(
        priors["archives"][0]["error"]["code"], "pacs_unreachable",
        "{priors}"
    );
}

#[test]
fn progress_events_are_one_per_interval_and_phase() {
    use crate::pacs::{Throttle, PROGRESS_EVERY};
    let start = std::time::Instant::now();
    let mut throttle = Throttle::default();
    let at = |ms: u64| start + std::time::Duration::from_millis(ms);
    // A thousand reports within a second of retrieving: at most one per interval.
    let sent = (0..1000)
        .filter(|i| throttle.due(at(*i), "retrieving"))
        .count() as u64;
    assert_eq!(sent, 1000 / PROGRESS_EVERY.as_millis() as u64);
    // A new phase is told at once, then throttled again.
    assert!(throttle.due(at(1000), "storing"));
    assert!(!throttle.due(at(1001), "storing"));
}

/// A report signed in the desktop reaches the archive configured to store reports back by
/// itself: the background node's delivery thread sends it (the command does not wait for the
/// archive), and records it delivered. Here an addendum to the demo's final report, which is
/// stored back as a sign-off is.
#[test]
fn an_addendum_signed_in_the_desktop_is_stored_back_to_the_archive_by_itself() {
    let (_dir, harness) = demo_desk();
    let demo = harness.json("demo_archive_start", json!({}));
    let added = harness.json(
        "pacs_add",
        json!({ "name": "back", "dicomweb": demo["url"], "storeBack": true }),
    );
    assert_eq!(added["store_back"], true);
    let studies = harness.json("studies", json!({}));
    let report = studies["studies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["reports"].as_array().unwrap().iter())
        .find(|r| r["status"] == "final")
        .expect("the demo has a final report")["report"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(harness.json("deliveries", json!({})), json!([]));

    harness.json(
        "add_addendum",
        json!({ "report": report, "text": "Compared with the prior: unchanged." }),
    );
    // In the home's delivery list when the command returns (queued, or already sent): never
    // only a message in memory that a quit or a lock would lose.
    let listed = harness.json("deliveries", json!({}));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["archive"] == "back" && d["report"] == report.as_str()),
        "{listed}"
    );
    // Delivered by the node's thread, not by the command: wait for its record (a condition
    // polled against a deadline).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let delivered = loop {
        let list = harness.json("deliveries", json!({}));
        if let Some(d) = list
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["archive"] == "back" && d["report"] == report.as_str())
        {
            if d["state"] == "delivered" {
                break d.clone();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered within a minute: {list}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(delivered["sop_instance"].is_string(), "{delivered}");
    harness.json("demo_archive_stop", json!({}));
}

/// A prior's PDF report is opened by its SOP Instance UID: the file `prior_report` saved goes to
/// the system's opener (here a script recording what it was given); a UID with a path in it, a
/// PDF never fetched, and a link planted in its place are refused, and nothing is opened.
#[test]
fn a_prior_pdf_is_opened_by_its_instance_never_by_a_path() {
    use std::os::unix::fs::PermissionsExt;
    use tauri::Manager;
    let dir = tempfile::tempdir().unwrap();
    let harness = Harness::new(Desk::open(dir.path().join("home")));
    let record = dir.path().join("opened.txt");
    let opener = dir.path().join("opener.sh");
    std::fs::write(
        &opener,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o700)).unwrap();
    harness
        .app
        .state::<crate::pacs::Archives>()
        .set_opener(opener);
    let saved = dir.path().join("home/prior-reports");
    std::fs::create_dir_all(&saved).unwrap();
    std::fs::write(saved.join("2.25.42.pdf"), b"%PDF-1.4\n").unwrap();

    harness.json("open_prior_pdf", json!({ "instance": "2.25.42" }));
    let opened = std::fs::read_to_string(&record).unwrap();
    assert_eq!(opened.trim(), saved.join("2.25.42.pdf").to_str().unwrap());

    for (instance, code) in [
        ("../../etc/passwd", "invalid_input"),
        ("2.25.43", "not_found"),
        ("2.25.44", "not_found"),
    ] {
        if instance == "2.25.44" {
            std::os::unix::fs::symlink("/etc/hostname", saved.join("2.25.44.pdf")).unwrap();
        }
        let err = harness
            .call("open_prior_pdf", json!({ "instance": instance }))
            .unwrap_err();
        assert_eq!(err["code"], code, "{instance}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(&record).unwrap(),
        opened,
        "nothing else opened"
    );
}
