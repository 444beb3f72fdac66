//! A token home in a department: it joins by invitation, syncs both ways under a node
//! delegation its token signed, is shown to the admin's node as its member, and serves beside
//! it, its checkpoints signed on the token; no key material reaches a file under the home.

use super::{assert_no_key_material, hex_decode, hold_wal, home_with_pin, SoftHsm, MODULE};
use crate::common::Home;

/// A department founded by an admin home whose key is sealed, serving; a home whose key is on
/// the token, added to the roster and joined by invitation. Its `sync --once` runs a node under
/// a fresh node key that the token's key delegated to: it receives the roster and a report,
/// and a section signed on the token reaches the admin's home by the next sync and verifies
/// there; the admin's node remembered the peer as the member (by key and roster name).
#[test]
fn a_token_home_joins_by_invitation_and_syncs_both_ways_as_its_member() {
    let hsm = SoftHsm::new("");
    hsm.init_token("sync");
    let (admin, _) = Home::demo();
    let study = admin.ok(&["studies"])[0]["study"]
        .as_str()
        .unwrap()
        .to_string();
    let draft = admin.new_report(&study, "ct-chest");
    let serving = crate::sync::serve_for_tests(&admin);

    let home = home_with_pin();
    let who = hsm.ok(
        &home,
        &[
            "init",
            "--name",
            "Dr Tok",
            "--role",
            "radiologist",
            "--key-store",
            "token",
            "--pkcs11-module",
            MODULE,
            "--token-label",
            "sync",
        ],
    );
    assert_eq!(who["key_store"], "token", "{who}");
    let key = who["key"].as_str().unwrap().to_string();
    admin.ok(&[
        "roster",
        "add",
        "--key",
        &key,
        "--name",
        "Dr Tok",
        "--role",
        "radiologist",
    ]);
    let invited = admin.ok(&["roster", "invite", "--key", &key, "--peer", &serving.1]);
    hsm.ok(&home, &["join", invited["invitation"].as_str().unwrap()]);

    // The first sync dials the invitation's peer: the roster and the reports arrive.
    let synced = hsm.ok(&home, &["sync", "--once"]);
    assert!(synced["received"].as_u64().unwrap() >= 19, "{synced}");
    assert_eq!(
        hsm.ok(&home, &["whoami"])["network"],
        admin.ok(&["whoami"])["network"]
    );
    let roster = hsm.ok(&home, &["roster", "list"]);
    assert!(roster.to_string().contains("Dr Tok"), "{roster}");
    assert!(hsm.ok(&home, &["verify"])["ok"].as_bool().unwrap());
    let listed = hsm.ok(&home, &["report", "list"]);
    assert!(listed.to_string().contains(&draft), "{listed}");

    // A section signed on the token goes to the admin with the next sync and verifies there.
    let _wal = hold_wal(&home);
    let written = hsm.write(
        &home,
        &draft,
        "findings",
        "Signed on the token, carried by sync.",
    );
    assert!(written["entry"].is_string(), "{written}");
    hsm.ok(&home, &["sync", "--once"]);
    let shown = admin.ok(&["report", "show", &draft]);
    assert!(
        shown
            .to_string()
            .contains("Signed on the token, carried by sync."),
        "{shown}"
    );
    let authored = shown["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["kind"] == "section.write" && p.to_string().contains(&key));
    assert!(authored, "the section's author is the token's key: {shown}");
    let verified = admin.ok(&["verify"]);
    assert!(verified["ok"].as_bool().unwrap(), "{verified}");

    // The admin's node shows the peer as the member: its key and roster name, not a node key.
    let status = admin.ok(&["sync", "status"]);
    let peer = status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == key.as_str())
        .unwrap_or_else(|| panic!("the token home's member is not among the peers: {status}"));
    assert_eq!(peer["name"], "Dr Tok", "{status}");
    assert!(peer["last_reconcile_ms"].is_number(), "{status}");
    assert!(peer.get("cut_off").is_none(), "{status}");

    // The token home serving beside the admin's node: a section written while it serves is
    // announced, and the admin pulls that log by its summary, whose checkpoint was signed on
    // the token; the admin holds the peer to it as the member's claim (else it would cut the
    // peer off) and keeps it under the member's key.
    let mut home = home;
    home.env
        .push(("SOFTHSM2_CONF".into(), hsm.conf.clone().into_os_string()));
    let _serving_token = crate::sync::serve(&home, &[&serving.1]);
    let text = "Written while serving, announced to the admin.";
    hsm.write(&home, &draft, "impression", text);
    crate::sync::until("the section on the admin's home", || {
        admin
            .ok(&["report", "show", &draft])
            .to_string()
            .contains(text)
    });
    let token_key = hex_decode(&key);
    crate::sync::until("the token-signed checkpoint kept by the admin", || {
        admin
            .db()
            .query_row(
                "SELECT COUNT(*) FROM checkpoints WHERE signer = ?1",
                [&token_key],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            > 0
    });
    let status = admin.ok(&["sync", "status"]);
    assert!(!status.to_string().contains("cut_off"), "{status}");
    assert!(admin.ok(&["verify"])["ok"].as_bool().unwrap());
    // Nothing of the key reached a file under the token home, syncs included.
    drop(_serving_token);
    assert_no_key_material(&home.dir, None);
}
