//! What a token home refuses with its code (exit 2), writing nothing: a wrong PIN, at init and
//! when signing; the key deleted from the token; the token gone, or another given its label; a
//! module that is not there; a token without EdDSA, named with the mechanism; and a token key
//! whose signatures do not verify for the identity's key.

use super::{home_with_pin, identity, init_args, message_of, strs, SoftHsm, PIN};
use crate::common::Home;

/// Entries stored in `home` (by SQL: `verify` needs the token, which opens the data keys).
fn stored(home: &Home) -> i64 {
    home.db()
        .query_row("SELECT count(*) FROM entries", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_wrong_pin_a_deleted_key_and_a_missing_token_are_refused_with_their_codes_writing_nothing() {
    let hsm = SoftHsm::new("");
    hsm.init_token("refusals");
    // A wrong PIN at init: refused, no identity, no key generated on the token.
    let home = Home::new();
    std::fs::write(&home.passphrase_file, "999999\n").unwrap();
    let run = hsm.run(&home, &strs(&init_args("refusals")));
    assert_eq!(run.error_code(), "wrong_pin");
    assert!(!home.dir.join("identity.json").exists());
    let listed = hsm.tool("refusals", &["--list-objects"]);
    assert!(!listed.contains("Key Object"), "{listed}");

    std::fs::write(&home.passphrase_file, format!("{PIN}\n")).unwrap();
    hsm.ok(&home, &strs(&init_args("refusals")));
    let report = hsm.new_report(&home, "1.2.4");
    let entries = stored(&home);
    let profile = std::fs::read(home.dir.join("identity.json")).unwrap();
    let write = || {
        hsm.run(
            &home,
            &[
                "report",
                "write",
                &report,
                "--section",
                "findings",
                "--text",
                "x",
            ],
        )
    };

    std::fs::write(&home.passphrase_file, "135791\n").unwrap();
    let wrong = write();
    assert_eq!(wrong.error_code(), "wrong_pin");
    assert!(message_of(&wrong).contains("refusals"), "{}", wrong.stderr);
    assert!(!wrong.stderr.contains("135791"), "the PIN was printed");
    assert_eq!(stored(&home), entries, "something was signed");
    std::fs::write(&home.passphrase_file, format!("{PIN}\n")).unwrap();
    assert_eq!(write().code, 0, "the right PIN signs");
    let entries = stored(&home);

    // The key deleted from the token.
    let key_id = identity(&home)["token"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    hsm.tool(
        "refusals",
        &["--delete-object", "--type", "privkey", "--id", &key_id],
    );
    let gone = write();
    assert_eq!(gone.error_code(), "key_missing");
    assert!(message_of(&gone).contains(&key_id), "{}", gone.stderr);
    assert_eq!(stored(&home), entries);

    // The token itself gone.
    let out = hsm
        .command("softhsm2-util")
        .args(["--delete-token", "--token", "refusals"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let absent = write();
    assert_eq!(absent.error_code(), "token_missing");
    assert!(
        message_of(&absent).contains("refusals"),
        "{}",
        absent.stderr
    );
    // Another token given the same label is not this one (its serial differs).
    hsm.init_token("refusals");
    let impostor = write();
    assert_eq!(
        impostor.error_code(),
        "token_missing",
        "{}",
        impostor.stderr
    );
    // A module that is not there.
    let nowhere = Home::new();
    std::fs::write(&nowhere.passphrase_file, format!("{PIN}\n")).unwrap();
    let mut args = init_args("refusals");
    args[9] = "/nonexistent/libpkcs11.so".into();
    assert_eq!(
        (hsm.run(&nowhere, &strs(&args))).error_code(),
        "token_missing"
    );

    // Reading needs no token, and nothing of the home changed.
    assert_eq!(stored(&home), entries);
    assert_eq!(
        std::fs::read(home.dir.join("identity.json")).unwrap(),
        profile
    );
    assert!(!home.dir.join("keys").exists());
}

#[test]
fn a_token_without_eddsa_is_refused_naming_the_token_and_the_mechanism() {
    // SoftHSM2 configured to offer no EdDSA, as most PIV cards and YubiKey PIV are. (SoftHSM
    // 2.6.1 reads the first name of a "-" list with the minus attached, matching nothing: it is
    // given twice, so that a fixed parser disables the same mechanisms.)
    let hsm = SoftHsm::new("slots.mechanisms = -CKM_EDDSA,CKM_EDDSA,CKM_EC_EDWARDS_KEY_PAIR_GEN\n");
    hsm.init_token("no-eddsa");
    let home = home_with_pin();
    let run = hsm.run(&home, &strs(&init_args("no-eddsa")));
    assert_eq!(run.error_code(), "token_unsupported");
    let message = message_of(&run);
    assert!(
        message.contains("no-eddsa") && message.contains("CKM_EDDSA"),
        "{message}"
    );
    assert!(!home.dir.join("identity.json").exists());
}

#[test]
fn a_token_key_that_is_not_the_identitys_key_signs_nothing() {
    let hsm = SoftHsm::new("");
    hsm.init_token("swapped");
    let home = home_with_pin();
    hsm.ok(&home, &strs(&init_args("swapped")));
    let report = hsm.new_report(&home, "1.2.6");
    let entries = stored(&home);
    // identity.json made to name another key, and the token's public half (which would show the
    // mismatch at unlock) gone: only the check of each signature is left to notice.
    let mut id = identity(&home);
    let key_id = id["token"]["key_id"].as_str().unwrap().to_string();
    hsm.tool(
        "swapped",
        &["--delete-object", "--type", "pubkey", "--id", &key_id],
    );
    id["key"] = countersign_ledger::SecretKey::from_seed(&[9; 32])
        .public()
        .to_hex()
        .into();
    std::fs::write(home.dir.join("identity.json"), id.to_string()).unwrap();
    let run = hsm.run(
        &home,
        &[
            "report",
            "write",
            &report,
            "--section",
            "findings",
            "--text",
            "x",
        ],
    );
    assert_eq!(run.error_code(), "signing_failed", "{}", run.stderr);
    assert!(
        message_of(&run).contains("does not verify"),
        "{}",
        run.stderr
    );
    assert_eq!(stored(&home), entries);
}
