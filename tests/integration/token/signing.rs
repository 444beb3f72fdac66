//! Signing on the token: a section signed on a SoftHSM2 token verifies on another home and no
//! key material is under the home, the key on the token sensitive and never extractable; a key
//! of known seed put on the token signs, and neither its seed nor a report's data key in clear
//! reaches a file under the home; a key id the token does not hold, a malformed one, and a pair
//! whose private key could leave the token are refused, initialising nothing.

use super::{
    assert_no_key_material, hex_decode, hold_wal, home_with_pin, identity, init_args, message_of,
    strs, SoftHsm, MODULE, PIN,
};
use crate::common::{every_file, Home};

#[test]
fn a_section_signed_on_a_softhsm_token_verifies_on_another_home_and_no_key_is_under_the_home() {
    let hsm = SoftHsm::new("");
    hsm.init_token("countersign-test");
    let home = home_with_pin();
    let who = hsm.ok(&home, &strs(&init_args("countersign-test")));
    assert_eq!(who["key_store"], "token", "{who}");
    let key = who["key"].as_str().unwrap().to_string();

    // identity.json names the token and the key pair; the public key is the one on the token.
    let id = identity(&home);
    assert_eq!(id["store"], "token", "{id}");
    assert_eq!(id["token"]["label"], "countersign-test");
    assert_eq!(id["token"]["module"], MODULE);
    assert!(!id["token"]["serial"].as_str().unwrap().is_empty());
    let key_id = id["token"]["key_id"].as_str().unwrap().to_string();
    let listed = hsm.tool("countersign-test", &["--list-objects"]);
    let point = listed
        .lines()
        .find_map(|l| l.trim().strip_prefix("EC_POINT:"))
        .unwrap_or_else(|| panic!("no public key on the token: {listed}"))
        .trim()
        .to_string();
    assert_eq!(point, format!("0420{key}"), "{listed}");

    let _wal = hold_wal(&home);
    let report = hsm.new_report(&home, "1.2.3");
    let written = hsm.write(&home, &report, "findings", "No nodule.");
    assert!(written["entry"].is_string(), "{written}");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());

    // Another home takes the bundle (every signature checked on import) and verifies it.
    let auditor = Home::new();
    auditor.key_of_new_member();
    let imported = auditor.import(&hsm.bundle(&home));
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let verified = auditor.ok(&["verify"]);
    assert!(verified["ok"].as_bool().unwrap(), "{verified}");
    let shown = auditor.ok(&["report", "show", &report]);
    assert!(shown.to_string().contains("No nodule."), "{shown}");
    assert!(
        shown.to_string().contains(&key),
        "the section's author: {shown}"
    );

    assert_no_key_material(&home.dir, None);
    // The private key on the token: sensitive and never extractable since it was generated there.
    let private = listed
        .split("Private Key Object")
        .nth(1)
        .unwrap_or_else(|| panic!("no private key on the token: {listed}"));
    assert!(
        private.contains(&format!("ID:         {key_id}")),
        "{listed}"
    );
    let access = private
        .lines()
        .find_map(|l| l.trim().strip_prefix("Access:"))
        .unwrap()
        .trim();
    assert_eq!(
        access, "sensitive, always sensitive, never extractable, local",
        "{listed}"
    );
}

/// PKCS#8 (RFC 8410) of an Ed25519 private key, as PEM: what `softhsm2-util --import` reads.
fn pkcs8_pem(seed: &[u8; 32]) -> String {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, b| (n << 8) | u32::from(*b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                text.push(B64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                text.push('=');
            }
        }
    }
    format!("-----BEGIN PRIVATE KEY-----\n{text}\n-----END PRIVATE KEY-----\n")
}

#[test]
fn a_key_of_known_seed_put_on_the_token_signs_and_its_seed_reaches_no_file_under_the_home() {
    let hsm = SoftHsm::new("");
    hsm.init_token("known-seed");
    // A key whose seed this test knows (so that it can look for it), put on the token as a
    // backup would be: sensitive and not extractable.
    let seed: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(11));
    let expected = countersign_ledger::SecretKey::from_seed(&seed)
        .public()
        .to_hex();
    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("key.pem");
    std::fs::write(&pem, pkcs8_pem(&seed)).unwrap();
    let out = hsm
        .command("softhsm2-util")
        .args(["--import", pem.to_str().unwrap(), "--token", "known-seed"])
        .args(["--label", "backup", "--id", "c0ffee", "--pin", PIN])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_file(&pem).unwrap();

    let home = home_with_pin();
    let mut args = init_args("known-seed");
    args.extend(["--pkcs11-key-id".into(), "c0ffee".into()]);
    let who = hsm.ok(&home, &strs(&args));
    assert_eq!(who["key"], expected.as_str());
    assert_eq!(identity(&home)["token"]["key_id"], "c0ffee");
    let _wal = hold_wal(&home);
    let report = hsm.new_report(&home, "1.2.9");
    hsm.write(&home, &report, "findings", "Signed on the token.");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());
    assert_no_key_material(&home.dir, Some(&seed));
    // Issue 16: the report's data key is stored wrapped under the key-encryption key the
    // token's signature made — the very one the same key in memory makes (Ed25519 signs
    // deterministically), so it opens the row here; its clear bytes are in no file.
    let secret = countersign_ledger::SecretKey::from_seed(&seed);
    let signature = countersign_ledger::Signer::try_sign(
        &secret,
        &countersign_ledger::kek_message(&secret.public()),
    )
    .unwrap();
    let kek = countersign_ledger::Kek::from_signature(&secret.public(), &signature).unwrap();
    let row: Vec<u8> = home
        .db()
        .query_row(
            "SELECT key FROM report_keys WHERE log = ?1",
            [hex_decode(&report)],
            |r| r.get(0),
        )
        .unwrap();
    let data_key = kek.unwrap(&report.parse().unwrap(), &row).unwrap();
    for file in every_file(&home.dir) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(
            !bytes.windows(32).any(|w| w == data_key.as_bytes()),
            "the data key in clear in {file:?}"
        );
    }
    let shown = hsm.ok(&home, &["report", "show", &report]);
    assert!(
        shown.to_string().contains("Signed on the token."),
        "{shown}"
    );

    // A key id the token does not hold, and a malformed one: refused, nothing initialised.
    let other = home_with_pin();
    let mut args = init_args("known-seed");
    args.extend(["--pkcs11-key-id".into(), "0badd0".into()]);
    assert_eq!((hsm.run(&other, &strs(&args))).error_code(), "not_found");
    args.pop();
    args.push("not hex".into());
    assert_eq!(
        (hsm.run(&other, &strs(&args))).error_code(),
        "invalid_input"
    );
    assert!(!other.dir.join("identity.json").exists());
    // A pair whose private key can leave the token: refused.
    hsm.tool(
        "known-seed",
        &[
            "--keypairgen",
            "--key-type",
            "EC:edwards25519",
            "--id",
            "0e10",
            "--label",
            "loose",
            "--extractable",
        ],
    );
    args.pop();
    args.push("0e10".into());
    let refused = hsm.run(&other, &strs(&args));
    assert_eq!(refused.error_code(), "invalid_input");
    let message = message_of(&refused);
    assert!(message.contains("could leave the token"), "{message}");
    assert!(!other.dir.join("identity.json").exists());
}
