//! An archive that asks for credentials: they are sealed in the home (no file holds them in
//! clear), a wrong password or none is refused by name, and a key rotation keeps them.

use std::path::Path;

use super::{attending, refused, shas, stored};
use crate::pacs_servers::{free_port, phantom_study, Orthanc};

/// An archive asking for credentials (Orthanc with `AuthenticationEnabled` and one registered
/// user): with the right password the worklist, retrieval and store-back work; a wrong one and
/// none are `pacs_unauthorized` naming the archive, never echoing the password; the worklist
/// keeps its last list marked as refused; and no file of the home — the database, its WAL,
/// logs, anything — holds the password's bytes, nor the header made from them.
#[test]
fn an_archive_asking_for_credentials_gets_them_sealed_and_refuses_wrong_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let study = phantom_study(dir.path(), "pacs credentials", "20260108", &[]);
    let password = format!("pw-{}-of-alice", std::process::id());
    let orthanc = Orthanc::start_with_users(&[("alice", &password)]);
    for f in &study.files {
        orthanc.upload(f);
    }
    let url = orthanc.dicomweb_url();
    let right = dir.path().join("right.txt");
    let wrong = dir.path().join("wrong.txt");
    std::fs::write(&right, format!("{password}\n")).unwrap();
    std::fs::write(&wrong, "not-alices-password\n").unwrap();
    let home = attending();
    let add = |name: &str, file: Option<&Path>| {
        let mut args = vec!["pacs", "add", name, "--dicomweb", &url, "--store-back"];
        if let Some(file) = file {
            args.extend(["--user", "alice", "--password-file", file.to_str().unwrap()]);
        }
        home.ok(&args)
    };

    // The right password: listed with the user, never the password; everything works.
    let added = add("orthanc", Some(&right));
    assert_eq!(
        added["auth"],
        serde_json::json!({"kind": "basic", "user": "alice"})
    );
    let listed = home.ok(&["pacs", "list"]);
    assert_eq!(listed[0]["auth"]["user"], "alice", "{listed}");
    assert!(!listed.to_string().contains(&password), "{listed}");
    home.ok(&["pacs", "test", "orthanc"]);
    let live = home.ok(&["worklist", "--pacs", "orthanc"]);
    assert_eq!(live.as_array().unwrap().len(), 1, "{live}");
    assert_eq!(live[0]["study"], study.study.as_str());
    let got = home.ok(&["retrieve", "--pacs", "orthanc", "--study", &study.study]);
    assert_eq!(got["instances"], study.files.len(), "{got}");
    assert_eq!(
        stored(&home, &study.study),
        shas(&study.files),
        "byte-identical behind the credentials"
    );
    let report = home.new_report(&study.study, "ct-chest");
    home.fill_every_section(&report);
    let signed = home.run(&["report", "finalize", &report]);
    assert_eq!(signed.code, 0, "{}", signed.stderr);
    let sent = home.ok(&["deliveries"]);
    assert_eq!(sent[0]["state"], "delivered", "{sent}");
    let sop = sent[0]["sop_instance"].as_str().unwrap();
    assert_eq!(
        orthanc.find_instance(sop).len(),
        1,
        "stored back by STOW-RS"
    );

    // A wrong password, and none: refused by name, the credential not echoed.
    add("wrong", Some(&wrong));
    add("none", None);
    for name in ["wrong", "none"] {
        for args in [
            vec!["pacs", "test", name],
            vec!["worklist", "--pacs", name],
            vec!["retrieve", "--pacs", name, "--study", &study.study],
        ] {
            let (code, message) = refused(&home, &args, name);
            assert_eq!(code, "pacs_unauthorized", "{args:?}: {message}");
            assert!(!message.contains("not-alices") && !message.contains(&password));
        }
    }

    // The password changed on the archive's side: the last list, marked refused.
    home.ok(&["pacs", "remove", "orthanc"]);
    add("orthanc", Some(&wrong));
    let kept = home.ok(&["worklist", "--pacs", "orthanc"]);
    assert_eq!(kept[0]["study"], study.study.as_str(), "{kept}");
    assert_eq!(kept[0]["archive_error"], "pacs_unauthorized", "{kept}");
    assert!(
        kept[0]["archive_answered_ms"].as_u64().unwrap() > 0,
        "{kept}"
    );
    let said = home.text(&["worklist", "--pacs", "orthanc"]);
    assert!(said.contains("refused this home's credentials"), "{said}");
    // Back to the right one, so that the home holds it sealed while its files are read.
    home.ok(&["pacs", "remove", "orthanc"]);
    add("orthanc", Some(&right));
    home.ok(&["pacs", "test", "orthanc"]);

    // Not in clear anywhere in the home: the password, as bytes, hex or base64 (at any of
    // the three alignments a longer blob could hold it at), nor Basic's encoding of it.
    let encodings = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut all = vec![
            password.clone().into_bytes(),
            hex::encode(&password).into_bytes(),
            b64.encode(format!("alice:{password}")).into_bytes(),
        ];
        for k in 0..3 {
            let mut bytes = vec![0u8; k];
            bytes.extend_from_slice(password.as_bytes());
            let text = b64.encode(&bytes);
            // Without the first and last groups, which the neighbours' bytes change.
            all.push(text.as_bytes()[4..text.len() - 4].to_vec());
        }
        all
    };
    let files = crate::common::every_file(&home.dir);
    // The CLI's process has closed the database: its WAL is checkpointed into it and gone
    // (the app's own test reads the WAL of a home held open).
    assert!(
        files.iter().any(|f| f.ends_with("ledger.sqlite3")),
        "the database is among the files read: {files:?}"
    );
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        for needle in &encodings {
            assert!(
                memchr_find(&bytes, needle).is_none(),
                "{} holds the credential",
                file.display()
            );
        }
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An admin rotating their key keeps the archive's credentials: they are re-wrapped under the
/// new key with the report keys, so the archive is dialled with them after (here it is down:
/// `pacs_unreachable`, not `pacs_credentials_unreadable`).
#[test]
fn a_key_rotation_keeps_the_archives_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("pw.txt");
    std::fs::write(&password, "pw-before-rotation\n").unwrap();
    let home = attending();
    let url = format!("http://127.0.0.1:{}/dicom-web", free_port());
    home.ok(&[
        "pacs",
        "add",
        "orthanc",
        "--dicomweb",
        &url,
        "--user",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
    ]);
    let before = home.run(&["pacs", "test", "orthanc"]);
    assert_eq!(before.error_code(), "pacs_unreachable", "{}", before.stderr);
    let rotated = home.ok(&["key", "rotate"]);
    assert_eq!(rotated["pending"], false, "{rotated}");
    let after = home.run(&["pacs", "test", "orthanc"]);
    assert_eq!(after.error_code(), "pacs_unreachable", "{}", after.stderr);
}
