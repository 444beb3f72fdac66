//! Retrieval: byte-identical instances over DICOMweb and DIMSE (C-GET), by C-MOVE to the
//! home's own port, the first instance stored and seen before the archive sends the last, and a
//! 500-instance study retrieved whole within bounded memory.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{attending, refused, shas, stored};
use crate::pacs_servers::{phantom_study, Dcmqrscp, Orthanc};

#[test]
fn retrieval_over_dicomweb_and_over_dimse_stores_byte_identical_instances() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs retrieve", "20260105", &[]);
    let seeded = shas(&study.files);
    let orthanc = Orthanc::start();
    let dcmqrscp = Dcmqrscp::start();
    for f in &study.files {
        orthanc.upload(f);
    }
    dcmqrscp.store(&study.files);
    let bytes: u64 = study
        .files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();

    let (web, dimse) = (orthanc.dicomweb_url(), dcmqrscp.address());
    for (name, flag, value) in [("orthanc", "--dicomweb", &web), ("dcm", "--dimse", &dimse)] {
        let home = attending();
        home.ok(&["pacs", "add", name, flag, value]);
        let got = home.ok(&["retrieve", "--pacs", name, "--study", &study.study]);
        assert_eq!(got["study"], study.study.as_str(), "{name}: {got}");
        assert_eq!(got["instances"], 3, "{name}: {got}");
        assert_eq!(got["bytes"], bytes, "{name}: {got}");
        assert_eq!(got["refused"], serde_json::json!([]), "{name}: {got}");
        assert_eq!(
            stored(&home, &study.study),
            seeded,
            "{name}: not byte-identical"
        );
        // The staging folder is gone; a second retrieval stores nothing new.
        assert_eq!(
            crate::common::every_file(&home.dir.join("incoming")),
            Vec::<std::path::PathBuf>::new()
        );
        let again = home.ok(&["retrieve", "--pacs", name, "--study", &study.study]);
        assert_eq!(
            (again["instances"].as_u64(), again["duplicates"].as_u64()),
            (Some(3), Some(3))
        );
        // The worklist now says the study is here.
        let rows = home.ok(&["worklist", "--pacs", name]);
        assert_eq!(rows[0]["local_instances"], 3, "{name}: {rows}");
    }
}

/// For an archive that offers only C-MOVE: the study comes to this home's own listening port
/// and is stored exactly as a C-GET stores it; an archive that does not know this home's title
/// as a move destination is a clear refusal.
#[test]
fn retrieval_by_c_move_to_the_homes_own_port_stores_what_c_get_stores() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs move", "20260107", &[]);
    let seeded = shas(&study.files);
    let port = crate::pacs_servers::free_port();
    let dcmqrscp = Dcmqrscp::start_knowing(&[("COUNTERSIGN", port)]);
    dcmqrscp.store(&study.files);

    let by_get = attending();
    by_get.ok(&["pacs", "add", "dcm", "--dimse", &dcmqrscp.address()]);
    by_get.ok(&["retrieve", "--pacs", "dcm", "--study", &study.study]);
    let served = |what: &str| dcmqrscp.log().matches(what).count();
    assert_eq!(
        (served("Received Get SCP"), served("Received Move SCP")),
        (1, 0)
    );

    let by_move = attending();
    let added = by_move.ok(&[
        "pacs",
        "add",
        "dcm",
        "--dimse",
        &dcmqrscp.address(),
        "--move-port",
        &port.to_string(),
    ]);
    assert_eq!(added["move_port"], port);
    let got = by_move.ok(&["retrieve", "--pacs", "dcm", "--study", &study.study]);
    assert_eq!(
        (served("Received Get SCP"), served("Received Move SCP")),
        (1, 1),
        "by C-MOVE, not C-GET: {}",
        dcmqrscp.log()
    );
    assert_eq!(got["instances"], 3, "{got}");
    assert_eq!(got["refused"], serde_json::json!([]), "{got}");
    assert_eq!(stored(&by_move, &study.study), seeded, "not byte-identical");
    assert_eq!(
        stored(&by_move, &study.study),
        stored(&by_get, &study.study)
    );

    // A title the archive does not know as a destination: refused, saying what to configure.
    let unknown = attending();
    unknown.ok(&[
        "pacs",
        "add",
        "dcm",
        "--dimse",
        &dcmqrscp.address(),
        "--calling-aet",
        "STRANGER",
        "--move-port",
        &crate::pacs_servers::free_port().to_string(),
    ]);
    let (code, message) = refused(
        &unknown,
        &["retrieve", "--pacs", "dcm", "--study", &study.study],
        "dcm",
    );
    assert_eq!(code, "pacs_refused", "{message}");
    assert!(message.contains("move destination"), "{message}");
    assert!(stored(&unknown, &study.study).is_empty());
}

/// A loopback proxy in front of a real archive that forwards every answer up to `hold` bytes
/// per connection, then holds the rest back until the test opens its gate: an archive that has
/// not yet sent the last instances of a study. The gate is waited on with a deadline (a
/// fail-safe, not the synchronisation: the test opens it from the retrieval's progress) and
/// says whether that deadline is what opened it.
struct Gated {
    port: u16,
    gate: std::sync::Arc<(std::sync::Mutex<Gate>, std::sync::Condvar)>,
}

#[derive(Default)]
struct Gate {
    open: bool,
    /// The deadline passed with the gate still closed.
    timed_out: bool,
    /// Bytes sent on to the client, every connection together.
    forwarded: u64,
}

impl Gated {
    fn start(upstream: u16, hold: u64, deadline: std::time::Duration) -> Gated {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let gate = std::sync::Arc::new((
            std::sync::Mutex::new(Gate::default()),
            std::sync::Condvar::new(),
        ));
        let shared = gate.clone();
        std::thread::spawn(move || {
            // A test makes a handful of connections.
            for client in listener.incoming().take(16) {
                let Ok(mut client) = client else { continue };
                let mut server = std::net::TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                let (mut to_server, mut from_client) =
                    (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(std::net::Shutdown::Write);
                });
                let gate = shared.clone();
                std::thread::spawn(move || {
                    let mut sent = 0u64;
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match server.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        // Up to `hold` bytes at once; past it, only with the gate open.
                        if sent + n as u64 > hold {
                            let (lock, opened) = &*gate;
                            let mut g = lock.lock().unwrap();
                            let until = std::time::Instant::now() + deadline;
                            while !g.open {
                                let now = std::time::Instant::now();
                                if now >= until {
                                    g.timed_out = true;
                                    g.open = true;
                                    break;
                                }
                                g = opened.wait_timeout(g, until - now).unwrap().0;
                            }
                        }
                        if client.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        sent += n as u64;
                        gate.0.lock().unwrap().forwarded += n as u64;
                    }
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Gated { port, gate }
    }

    fn open(&self) {
        self.gate.0.lock().unwrap().open = true;
        self.gate.1.notify_all();
    }

    fn forwarded(&self) -> u64 {
        self.gate.0.lock().unwrap().forwarded
    }

    fn timed_out(&self) -> bool {
        self.gate.0.lock().unwrap().timed_out
    }
}

/// Issue 15: the first image before the rest. Orthanc sends a 24-instance study through a
/// proxy that holds back everything past the first few instances until the retrieval's
/// progress says the first is stored: by then another handle on the home (as the desktop's
/// viewer has) lists it, and the archive has not sent the last. Then the rest streams in and
/// the whole study is stored. A retrieval that stored nothing before the archive had sent
/// everything would never see its first instance while the proxy holds the rest (the proxy's
/// deadline would open the gate, and the test fail).
#[test]
fn the_first_instance_is_stored_and_seen_before_the_archive_sends_the_last() {
    crate::common::use_cli_as_decode_worker();
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "pacs first image".into(),
        slices: 24,
        size: 128,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.path().join("ct")).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let each = std::fs::metadata(&files[0]).unwrap().len();
    let total_bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let orthanc = Orthanc::start();
    for f in &files {
        orthanc.upload(f);
    }
    // The search's answer and about three instances pass; the other 21 wait at the gate.
    let proxy = Gated::start(
        orthanc.http_port,
        16 * 1024 + 3 * each,
        std::time::Duration::from_secs(60),
    );
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "gated",
        "--dicomweb",
        &format!("http://127.0.0.1:{}/dicom-web", proxy.port),
    ]);
    let mut app = home.app();
    let reader = home.app();
    let mut first: Option<(u64, u64, usize)> = None;
    let mut phases = Vec::new();
    let got = app
        .retrieve_with_progress("gated", &study, None, &mut |p| {
            phases.push(p.phase);
            if p.phase == "first-image" {
                assert!(first.is_none(), "first-image told twice");
                // What the viewer's handle lists now, and how much the archive has sent.
                let seen = reader.study_images(&study).unwrap().len();
                first = Some((p.stored, proxy.forwarded(), seen));
                proxy.open();
            }
        })
        .unwrap();
    let (stored, forwarded, seen) = first.expect("a first-image progress");
    assert!(
        !proxy.timed_out(),
        "the first instance was not stored while the rest was held back"
    );
    assert!(stored >= 1 && seen >= 1, "stored {stored}, seen {seen}");
    assert!(
        forwarded < total_bytes / 2,
        "the archive had sent {forwarded} of {total_bytes} bytes at the first image"
    );
    assert_eq!(got.instances, 24, "{got:?}");
    assert_eq!(got.refused, vec![]);
    assert_eq!(reader.study_images(&study).unwrap().len(), 24);
    assert_eq!(
        stored_shas(&reader, &study),
        shas(&files),
        "not byte-identical"
    );
    assert_eq!(phases.iter().filter(|p| **p == "first-image").count(), 1);
}

/// The SHA-256 of every stored file of `study`, read back from the store (a reader's handle).
fn stored_shas(home: &countersign_app::Home, study: &str) -> BTreeSet<String> {
    home.study_images(study)
        .unwrap()
        .iter()
        .map(|sha| {
            let image = home.open_image(sha).unwrap();
            drop(image);
            sha.clone()
        })
        .collect()
}

/// What a retrieval may hold in memory, whatever the study's size: well under the 263 MB of
/// the study below, so a client that buffered the study whole (or one part of it per
/// instance, kept) would not pass.
const MAX_RETRIEVE_RSS: u64 = 128 << 20;

/// A 500-instance 512×512 CT study (263 MB) retrieved over WADO-RS through the real CLI:
/// every instance stored, and the process's peak resident memory (`wait4`) bounded.
#[test]
fn a_500_instance_study_is_retrieved_whole_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let spec = countersign_imaging::PhantomSpec {
        seed: "pacs 500".into(),
        slices: 500,
        size: 512,
        slice_thickness_mm: 0.5,
        ..Default::default()
    };
    let files = countersign_imaging::write_phantom_series(&spec, &dir.path().join("ct")).unwrap();
    let study = countersign_imaging::phantom_study_uid(&spec.seed);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(bytes > 250_000_000, "{bytes}");
    let orthanc = Orthanc::start();
    for f in &files {
        orthanc.upload(f);
    }
    let home = attending();
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &orthanc.dicomweb_url(),
    ]);
    let run = crate::bundle_scale::measured(
        &home.dir,
        &["retrieve", "--pacs", "orthanc", "--study", &study],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(got["instances"], 500, "{got}");
    assert_eq!(got["bytes"], bytes, "{got}");
    eprintln!(
        "pacs: 500 instances ({:.0} MiB) retrieved in {:.1} s, peak RSS {:.1} MiB",
        bytes as f64 / (1 << 20) as f64,
        run.seconds,
        run.peak_rss as f64 / (1 << 20) as f64
    );
    assert!(
        run.peak_rss <= MAX_RETRIEVE_RSS,
        "peak RSS {} bytes exceeds {MAX_RETRIEVE_RSS}",
        run.peak_rss
    );
}
