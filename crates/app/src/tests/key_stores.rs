//! Where a home keeps its key (`identity.json`'s `store`), and what opening it needs: the
//! rules that hold without a keychain on the bus. The keychain itself is tried against a real
//! gnome-keyring-daemon in `tests/integration/keychain.rs`.

use super::{founded, test_source};
use crate::keys::{KeyStore, KeyStoreKind, Profile};
use crate::{AppError, Home, Passphrase, PassphraseSource, ERROR_CODES};

/// Rewrites a founded home's profile to say the key is in the keychain (no keychain is asked).
fn say_keychain(dir: &std::path::Path) {
    let keys = KeyStore::new(dir);
    let mut profile = keys.profile().unwrap().unwrap();
    profile.store = KeyStoreKind::Keychain;
    keys.set_profile(&profile).unwrap();
}

#[test]
fn a_profile_from_before_the_choice_reads_as_sealed_and_a_sealed_one_writes_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let home = founded(dir.path());
    let written = std::fs::read_to_string(dir.path().join("identity.json")).unwrap();
    assert!(!written.contains("store"), "{written}");
    let profile: Profile = serde_json::from_str(&written).unwrap();
    assert_eq!(profile.store, KeyStoreKind::Sealed);
    let who = home.whoami().unwrap();
    assert_eq!(who.key_store, KeyStoreKind::Sealed);
    assert!(who.needs_passphrase);

    say_keychain(dir.path());
    let written = std::fs::read_to_string(dir.path().join("identity.json")).unwrap();
    assert!(written.contains("\"store\": \"keychain\""), "{written}");
    let who = home.whoami().unwrap();
    assert_eq!(who.key_store, KeyStoreKind::Keychain);
    assert!(!who.needs_passphrase);
    assert_eq!(serde_json::to_value(&who).unwrap()["key_store"], "keychain");

    assert_eq!("keychain".parse(), Ok(KeyStoreKind::Keychain));
    assert_eq!("sealed".parse(), Ok(KeyStoreKind::Sealed));
    assert_eq!("token".parse(), Ok(KeyStoreKind::Token));
    assert!("hsm".parse::<KeyStoreKind>().is_err());
}

#[test]
fn under_a_locked_source_a_keychain_key_is_not_read_on_demand() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let report = home.report_new("1.2", "ct-chest", &[]).unwrap();
    drop(home);
    say_keychain(dir.path());
    // The desktop's source: only an explicit unlock opens the key, wherever it is kept. The
    // refusal comes before any keychain is asked (none is reachable from a unit test).
    let mut home = Home::open(dir.path()).unwrap();
    home.set_passphrase_source(Some(PassphraseSource::locked()));
    let refused = home.report_write(report, "findings", "x").unwrap_err();
    assert_eq!(refused.code(), "locked", "{refused}");
    assert!(!home.is_unlocked());
}

#[test]
fn a_sealed_key_needs_its_passphrase_to_unlock_and_again_to_sign_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    home.lock();
    let none = home.unlock_with(None).unwrap_err();
    assert_eq!(none.code(), "passphrase_required");
    let none = home.reauthenticate(None).unwrap_err();
    assert_eq!(none.code(), "reauth_required");
    let wrong = home
        .reauthenticate(Some(&Passphrase::new("not the passphrase")))
        .unwrap_err();
    assert_eq!(wrong.code(), "wrong_passphrase");
    assert!(!home.is_unlocked());
    home.reauthenticate(Some(&Passphrase::new(crate::DEMO_PASSPHRASE)))
        .unwrap();
    assert!(home.is_unlocked());
}

#[test]
fn a_keychain_key_has_no_passphrase_to_change_and_a_key_moves_only_elsewhere_never_onto_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let same = home
        .key_move(KeyStoreKind::Sealed, || unreachable!())
        .unwrap_err();
    assert_eq!(same.code(), "invalid_input", "{same}");
    // Onto a token: never (the key would have existed outside it); the sealed file stays.
    let onto_token = home
        .key_move(KeyStoreKind::Token, || unreachable!())
        .unwrap_err();
    assert_eq!(onto_token.code(), "invalid_input", "{onto_token}");
    assert!(home.sealed_key_path().unwrap().exists());
    assert_eq!(home.whoami().unwrap().key_store, KeyStoreKind::Sealed);
    drop(home);
    say_keychain(dir.path());
    let mut home = Home::open_with(dir.path(), test_source()).unwrap();
    let refused = home
        .change_passphrase(|| Ok(Passphrase::new("a new passphrase")))
        .unwrap_err();
    assert_eq!(refused.code(), "invalid_input");
    assert!(refused.to_string().contains("OS keychain"), "{refused}");
}

#[test]
fn the_keychain_errors_have_codes_from_the_fixed_list_and_log_no_content() {
    for (e, code) in [
        (
            AppError::KeychainUnavailable("no Secret Service on the D-Bus session bus".into()),
            "keychain_unavailable",
        ),
        (
            AppError::KeychainLocked { key: "ab".into() },
            "keychain_locked",
        ),
    ] {
        assert_eq!(e.code(), code);
        assert!(ERROR_CODES.contains(&code));
        assert_eq!(e.to_wire().code, code);
    }
}
