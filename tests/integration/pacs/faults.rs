//! Archives that fail: down, refusing the association, answering garbage, or no longer
//! answering at all. Each gets a clear error naming the archive, and nothing is stored.

use super::{attending, nothing_stored, refused};
use crate::pacs_servers::{free_port, phantom_study, Dcmqrscp, Garbage, Silent};

#[test]
fn an_archive_down_refusing_or_answering_garbage_gets_a_clear_error_and_stores_nothing() {
    let home = attending();
    let study = "2.25.123456789";

    // Down: nothing listens on these ports.
    home.ok(&[
        "pacs",
        "add",
        "down-web",
        "--dicomweb",
        &format!("http://127.0.0.1:{}/dicom-web", free_port()),
    ]);
    home.ok(&[
        "pacs",
        "add",
        "down-dimse",
        "--dimse",
        &format!("ARCHIVE@127.0.0.1:{}", free_port()),
    ]);
    for name in ["down-web", "down-dimse"] {
        for args in [
            vec!["pacs", "test", name],
            vec!["worklist", "--pacs", name],
            vec!["retrieve", "--pacs", name, "--study", study],
        ] {
            let (code, message) = refused(&home, &args, name);
            assert_eq!(code, "pacs_unreachable", "{args:?}: {message}");
        }
    }

    // Refusing the association: dcmqrscp knows no AE title WRONG.
    let dcmqrscp = Dcmqrscp::start();
    let wrong = format!("WRONG@127.0.0.1:{}", dcmqrscp.port);
    home.ok(&["pacs", "add", "wrong-aet", "--dimse", &wrong]);
    for args in [
        vec!["pacs", "test", "wrong-aet"],
        vec!["worklist", "--pacs", "wrong-aet"],
        vec!["retrieve", "--pacs", "wrong-aet", "--study", study],
    ] {
        let (code, message) = refused(&home, &args, "wrong-aet");
        assert_eq!(code, "pacs_refused", "{args:?}: {message}");
        assert!(message.contains("rejected the association"), "{message}");
    }

    // Malformed JSON (an HTML error page with a 200), then a study listed whose retrieval is
    // not multipart at all, then one whose multipart body stops halfway.
    let html = b"HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n<html>Service Unavailable</html>".to_vec();
    let listed = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n\
         [{{\"0020000D\": {{\"vr\": \"UI\", \"Value\": [\"{study}\"]}}}}]"
    )
    .into_bytes();
    let not_multipart =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nhello".to_vec();
    let cut_short = b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=B\r\nConnection: close\r\n\r\n--B\r\nContent-Type: application/dicom\r\n\r\nDICM and then noth".to_vec();
    let servers = [
        ("garbage-json", Garbage::start(html.clone(), html)),
        (
            "not-multipart",
            Garbage::start(listed.clone(), not_multipart),
        ),
        ("cut-short", Garbage::start(listed, cut_short)),
    ];
    for (name, server) in &servers {
        home.ok(&["pacs", "add", name, "--dicomweb", &server.url()]);
    }
    let (code, message) = refused(
        &home,
        &["worklist", "--pacs", "garbage-json"],
        "garbage-json",
    );
    assert_eq!(code, "pacs_malformed", "{message}");
    assert!(message.contains("not JSON"), "{message}");
    for name in ["garbage-json", "not-multipart", "cut-short"] {
        let (code, message) = refused(&home, &["retrieve", "--pacs", name, "--study", study], name);
        assert_eq!(code, "pacs_malformed", "{name}: {message}");
    }
    nothing_stored(&home);

    // An archive that is not configured, and a UID that is not one.
    assert_eq!(
        home.run(&["worklist", "--pacs", "nowhere"]).error_code(),
        "not_found"
    );
    assert_eq!(
        home.run(&["retrieve", "--pacs", "garbage-json", "--study", "1.2/../3"])
            .error_code(),
        "invalid_input"
    );
}

/// Archives that stop answering: one that accepts a connection and never speaks (DICOMweb
/// and DIMSE alike), and one that stops sending halfway through a study. Each is given up on
/// after its configured timeout (1 s here) with `pacs_timeout`, naming it; nothing is stored.
#[test]
fn an_archive_that_stops_answering_times_out_by_name_and_stores_nothing() {
    let home = attending();
    let study = "2.25.987654321";
    let silent = Silent::start();
    let web = format!("http://127.0.0.1:{}/dicom-web", silent.port);
    let dimse = format!("ARCHIVE@127.0.0.1:{}", silent.port);
    home.ok(&[
        "pacs",
        "add",
        "mute-web",
        "--dicomweb",
        &web,
        "--timeout",
        "1",
    ]);
    home.ok(&[
        "pacs",
        "add",
        "mute-dimse",
        "--dimse",
        &dimse,
        "--timeout",
        "1",
    ]);
    for name in ["mute-web", "mute-dimse"] {
        for args in [
            vec!["pacs", "test", name],
            vec!["worklist", "--pacs", name],
            vec!["retrieve", "--pacs", name, "--study", study],
        ] {
            let started = std::time::Instant::now();
            let (code, message) = refused(&home, &args, name);
            assert_eq!(code, "pacs_timeout", "{args:?}: {message}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{args:?}"
            );
        }
    }

    let listed = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/dicom+json\r\nConnection: close\r\n\r\n\
         [{{\"0020000D\": {{\"vr\": \"UI\", \"Value\": [\"{study}\"]}}}}]"
    )
    .into_bytes();
    let mut halfway =
        b"HTTP/1.1 200 OK\r\nContent-Type: multipart/related; boundary=B\r\n\r\n".to_vec();
    let dir = tempfile::tempdir().unwrap();
    let seeded = phantom_study(dir.path(), "pacs stall", "20260105", &[]);
    // One whole instance, then half of the next, then nothing.
    for (i, file) in seeded.files.iter().take(2).enumerate() {
        let bytes = std::fs::read(file).unwrap();
        halfway.extend_from_slice(b"--B\r\nContent-Type: application/dicom\r\n\r\n");
        if i == 0 {
            halfway.extend_from_slice(&bytes);
            halfway.extend_from_slice(b"\r\n");
        } else {
            halfway.extend_from_slice(&bytes[..bytes.len() / 2]);
        }
    }
    let stalling = Garbage::stalling(listed, halfway);
    home.ok(&[
        "pacs",
        "add",
        "stall",
        "--dicomweb",
        &stalling.url(),
        "--timeout",
        "1",
    ]);
    let (code, message) = refused(
        &home,
        &["retrieve", "--pacs", "stall", "--study", study],
        "stall",
    );
    assert_eq!(code, "pacs_timeout", "{message}");
    nothing_stored(&home);
    assert_eq!(
        home.run(&["pacs", "add", "slow", "--dicomweb", &web, "--timeout", "0"])
            .error_code(),
        "invalid_input"
    );
}
