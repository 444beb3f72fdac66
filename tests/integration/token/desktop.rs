//! The desktop on a token home, in this process (one SoftHSM2 installation for the process): it
//! unlocks with the PIN, a wrong PIN at unlock or at re-authentication leaves the key locked,
//! and the private key, read through PKCS#11 itself, is sensitive and never extractable.

use std::sync::OnceLock;

use super::{hex_decode, home_with_pin, identity, init_args, strs, SoftHsm, MODULE, PIN};

/// The SoftHSM2 installation this process's own PKCS#11 calls see (the desktop's unlock runs in
/// the test process): `SOFTHSM2_CONF` is read once, when the module initialises, so it is set
/// once for the process, with the tokens those tests use already made.
fn in_process_hsm() -> &'static SoftHsm {
    static HSM: OnceLock<SoftHsm> = OnceLock::new();
    HSM.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let hsm = SoftHsm {
            conf: SoftHsm::configure(&dir, ""),
            _dir: None,
        };
        hsm.init_token("in-process");
        // Before any PKCS#11 call in this process; children inherit it too.
        std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
        hsm
    })
}

#[test]
fn the_desktop_unlocks_a_token_home_with_the_pin_and_a_wrong_pin_leaves_it_locked() {
    let hsm = in_process_hsm();
    let home = home_with_pin();
    hsm.ok(&home, &strs(&init_args("in-process")));
    let report = hsm.ok(
        &home,
        &[
            "report",
            "new",
            "--study",
            "1.2.5",
            "--template",
            "ct-chest",
        ],
    )["report"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // As the desktop opens a home: no prompt, the PIN given by the unlock command.
    let mut app = countersign_app::Home::open(&home.dir).unwrap();
    let who = app.whoami().unwrap();
    assert_eq!(
        serde_json::to_value(&who).unwrap()["key_store"],
        "token",
        "the UI is told to ask for a PIN"
    );
    let pin = |p: &str| countersign_app::Passphrase::new(p);
    let err = app.unlock(&pin("000000")).unwrap_err();
    assert_eq!(err.code(), "wrong_pin", "{err}");
    assert!(!app.is_unlocked());
    app.unlock(&pin(PIN)).unwrap();
    assert!(app.is_unlocked());
    app.report_write(report, "findings", "Unlocked with the PIN.")
        .unwrap();
    // Re-authentication (a final): a wrong PIN is refused and leaves the key locked, since the
    // token's login is logged out to check it.
    // Another handle holding the key (as the desktop's background work would) keeps a session,
    // and with it the token's login, open: the PIN is checked all the same.
    let other = app.open_again().unwrap();
    let err = app.unlock(&pin("111111")).unwrap_err();
    assert_eq!(err.code(), "wrong_pin");
    assert!(!app.is_unlocked());
    drop(other);
    app.unlock(&pin(PIN)).unwrap();
    app.report_write(report, "impression", "Signed after re-authentication.")
        .unwrap();

    // The private key, read through PKCS#11 itself: sensitive, not extractable, and its value
    // not readable.
    let key_id = hex_decode(identity(&home)["token"]["key_id"].as_str().unwrap());
    let flags = private_key_flags("in-process", &key_id);
    assert_eq!(flags, (true, false, true, true, false), "{flags:?}");
}

/// (sensitive, extractable, always sensitive, never extractable, value readable) of the private
/// key `id` on the token `label` of this process's SoftHSM2.
fn private_key_flags(label: &str, id: &[u8]) -> (bool, bool, bool, bool, bool) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::error::{Error, RvError};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let ctx = Pkcs11::new(MODULE).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // The app's context already initialised the module in this process.
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label().trim_end() == label)
        .unwrap();
    let session = ctx.open_ro_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(PIN))) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .unwrap()[0];
    let mut flags = (false, true, false, false, false);
    for a in session
        .get_attributes(
            key,
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::AlwaysSensitive,
                AttributeType::NeverExtractable,
            ],
        )
        .unwrap()
    {
        match a {
            Attribute::Sensitive(v) => flags.0 = v,
            Attribute::Extractable(v) => flags.1 = v,
            Attribute::AlwaysSensitive(v) => flags.2 = v,
            Attribute::NeverExtractable(v) => flags.3 = v,
            _ => {}
        }
    }
    // CKA_VALUE of a sensitive key: refused (CKR_ATTRIBUTE_SENSITIVE), or left out as
    // unavailable, never given.
    flags.4 = match session.get_attributes(key, &[AttributeType::Value]) {
        Ok(attrs) => attrs.iter().any(|a| matches!(a, Attribute::Value(_))),
        Err(Error::Pkcs11(RvError::AttributeSensitive, _)) => false,
        Err(e) => panic!("{e}"),
    };
    flags
}
