//! The `key` commands on a token home: its key is not moved off the token nor its passphrase
//! changed (the PIN is the token's business), and `key rotate` generates the new pair on the same
//! token, whose signatures verify on another home as the same person's second key.

use super::{
    assert_no_key_material, hold_wal, home_with_pin, identity, init_args, message_of, strs, SoftHsm,
};
use crate::common::{every_file, Home};

#[test]
fn a_token_homes_key_is_not_moved_off_the_token_nor_its_passphrase_changed() {
    let hsm = SoftHsm::new("");
    hsm.init_token("no-move");
    let home = home_with_pin();
    hsm.ok(&home, &strs(&init_args("no-move")));
    // Changing the passphrase of a key on a token is the token's business.
    let new = home.dir.with_extension("new");
    std::fs::write(&new, "a new passphrase\n").unwrap();
    let run = hsm.run(
        &home,
        &[
            "key",
            "change-passphrase",
            "--new-passphrase-file",
            new.to_str().unwrap(),
        ],
    );
    assert_eq!(run.error_code(), "invalid_input");
    assert!(message_of(&run).contains("PIN"));
    // The key never leaves the token, so it is not moved off it to a file or the keychain.
    for to in ["sealed", "keychain"] {
        let run = hsm.run(
            &home,
            &[
                "key",
                "move",
                "--to",
                to,
                "--new-passphrase-file",
                new.to_str().unwrap(),
            ],
        );
        assert_eq!(run.error_code(), "key_not_exportable", "--to {to}");
    }
    assert_eq!(identity(&home)["store"], "token");
    assert!(!home.dir.join("keys").exists() || every_file(&home.dir.join("keys")).is_empty());
}

/// Rotation on a token home: the new pair is generated on the same token (the PIN asked once),
/// the founder's home applies it at once, `identity.json` then names the new pair, and what the
/// new pair signs verifies on another home as the same person's second key. The old key's
/// section is still its author's first key.
#[test]
fn a_token_home_rotates_to_a_new_pair_on_the_same_token() {
    let hsm = SoftHsm::new("");
    hsm.init_token("rotating");
    let home = home_with_pin();
    let old = hsm.ok(&home, &strs(&init_args("rotating")))["key"]
        .as_str()
        .unwrap()
        .to_string();
    let old_id = identity(&home)["token"]["key_id"]
        .as_str()
        .unwrap()
        .to_string();
    let report = hsm.new_report(&home, "1.2.3");
    let write = |section: &str, text: &str| hsm.write(&home, &report, section, text);
    write("findings", "Signed with the first pair.");

    let rotated = hsm.ok(&home, &["key", "rotate"]);
    assert_eq!(rotated["pending"], false, "{rotated}");
    let new = rotated["active"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    let id = identity(&home);
    assert_eq!(
        (id["key"].as_str(), id["store"].as_str()),
        (Some(&*new), Some("token"))
    );
    let new_id = id["token"]["key_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, old_id, "{id}");
    let listed = hsm.tool("rotating", &["--list-objects"]);
    assert!(listed.contains(&format!("0420{new}")), "{listed}");
    assert_eq!(hsm.ok(&home, &["whoami"])["key"], new.as_str());

    write("impression", "Signed with the second pair.");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());
    let auditor = Home::new();
    auditor.key_of_new_member();
    assert_eq!(auditor.import(&hsm.bundle(&home)).code, 0);
    let view = auditor.ok(&["report", "show", &report]);
    let author = |section: &str| {
        view["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == section)
            .unwrap()["versions"][0]["author"]
            .clone()
    };
    let (first, second) = (author("findings"), author("impression"));
    assert_eq!(
        (first["key"].as_str(), second["key"].as_str()),
        (Some(&*old), Some(&*new))
    );
    assert_eq!(
        (
            first["person"]["number"].as_u64(),
            second["person"]["number"].as_u64()
        ),
        (Some(1), Some(2)),
        "{view}"
    );
    let _wal = hold_wal(&home);
    assert_no_key_material(&home.dir, None);
}
