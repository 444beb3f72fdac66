//! Tests of the archive list and of the worklist's dates, names and ranks.

use super::archives::check_name;
use super::*;
use crate::tests::every_file;

/// Found by review (2026-12-04): a process holding the key from before another process
/// adopted a rotation (the desktop) sealed an archive's credentials under the old key,
/// deleted with the rotation, so the archive never opened again. The save is refused
/// (`key_rotated`), nothing is added, the old key put away; added again, the credentials
/// are sealed under the rotated key and open in a home opened afresh.
#[test]
fn credentials_added_with_the_key_from_before_a_rotation_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut desk = crate::tests::founded(dir.path());
    desk.need_keys().unwrap();
    let mut cli = crate::tests::open_home(dir.path()).unwrap();
    assert!(!cli.key_rotate().unwrap().pending);
    let login = ArchiveLogin {
        credentials: Credentials::basic("alice", zeroize::Zeroizing::new("pw".into())).unwrap(),
        allow_cleartext: false,
    };
    let endpoint = ArchiveEndpoint::Dicomweb {
        url: "http://127.0.0.1:9/dicom-web".into(),
    };
    let add = |home: &mut Home| {
        home.pacs_add_with(
            "orthanc",
            endpoint.clone(),
            ArchiveOptions::default(),
            Some(login.clone()),
        )
    };
    let err = add(&mut desk).unwrap_err();
    assert_eq!(err.code(), "key_rotated", "{err}");
    assert!(desk.pacs_list().unwrap().is_empty());
    assert!(!desk.keys_open());
    add(&mut desk).unwrap();
    drop(desk);
    let fresh = crate::tests::open_home(dir.path()).unwrap();
    let loaded = fresh.archive("orthanc").unwrap();
    assert_eq!(loaded.secret.as_deref(), Some(&login.credentials));
}

/// Credentials added to a home held open (its WAL present): no file under the home holds
/// the password; the archive loads them back; a handle without the key's passphrase is
/// refused rather than dialling without them; a tampered sealed secret is refused by name.
#[test]
fn credentials_are_sealed_in_the_home_and_unsealed_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::founded(dir.path());
    let password = "pw-that-must-not-be-on-disk";
    let login = ArchiveLogin {
        credentials: Credentials::basic("alice", zeroize::Zeroizing::new(password.into())).unwrap(),
        allow_cleartext: false,
    };
    let endpoint = ArchiveEndpoint::Dicomweb {
        url: "http://127.0.0.1:9/dicom-web".into(),
    };
    let added = home
        .pacs_add_with(
            "orthanc",
            endpoint.clone(),
            ArchiveOptions::default(),
            Some(login.clone()),
        )
        .unwrap();
    assert!(!serde_json::to_string(&added).unwrap().contains(password));
    let files = every_file(dir.path());
    assert!(
        files.iter().any(|f| f.ends_with("ledger.sqlite3-wal")),
        "{files:?}"
    );
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !credentials::holds_clear(&bytes, password),
            "{} holds the password",
            f.display()
        );
    }
    let loaded = home.archive("orthanc").unwrap();
    assert_eq!(loaded.secret.as_deref(), Some(&login.credentials));

    // Plain http to another host: refused without the operator's say-so.
    let remote = ArchiveEndpoint::Dicomweb {
        url: "http://pacs.example.org/dicom-web".into(),
    };
    let err = home
        .pacs_add_with("remote", remote, ArchiveOptions::default(), Some(login))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_input", "{err}");

    // Another handle with no passphrase source: the key cannot be opened, so neither can
    // the credentials.
    let bare = Home::open(dir.path()).unwrap();
    let err = bare.archive("orthanc").unwrap_err();
    assert_eq!(err.code(), "passphrase_required", "{err}");
    assert!(bare.pacs_list().unwrap()[0].auth.is_some());

    // A flipped character of the sealed secret.
    let key = credentials::meta_key("orthanc");
    let json = home.store().db().meta(&key).unwrap().unwrap();
    let mut sealed: serde_json::Value = serde_json::from_str(&json).unwrap();
    let secret = sealed["secret"].as_str().unwrap().to_string();
    let flipped = if secret.ends_with("A=") { "B=" } else { "A=" };
    sealed["secret"] = format!("{}{flipped}", &secret[..secret.len() - 2]).into();
    home.store()
        .db()
        .set_meta(&key, &sealed.to_string())
        .unwrap();
    let err = home.archive("orthanc").unwrap_err();
    assert_eq!(err.code(), "pacs_credentials_unreadable", "{err}");
    assert!(err.to_string().contains("archive orthanc"), "{err}");
    assert!(!err.to_string().contains(password));

    // Removed: the sealed secret goes with it.
    home.pacs_remove("orthanc").unwrap();
    assert_eq!(home.store().db().meta(&key).unwrap(), None);
}

#[test]
fn dates_names_and_ranks() {
    assert_eq!(dicom_date("2026-01-31").unwrap(), "20260131");
    assert_eq!(dicom_date("20260131").unwrap(), "20260131");
    for bad in ["2026-1-31", "yesterday", "2026013", "2026--01-31"] {
        assert!(dicom_date(bad).is_err(), "{bad}");
    }
    assert!(check_name("orthanc-1").is_ok());
    assert!(check_name("a b").is_err() && check_name("").is_err());
    assert!(rank("conflict") > rank("final") && rank("final") > rank("preliminary"));
    assert!(rank("preliminary") > rank("draft") && rank("draft") > rank("none"));
}
