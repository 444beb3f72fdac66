//! Scenario 3: peers holding the same entries print the same report, roster and verify.

use std::process::Command;

use super::{department, give};
use crate::common::Home;

/// Scenario 3: two peers holding the same entries — a fork included, and roster changes two
/// admins made apart — print byte-identical report, roster and verify, whatever order the
/// entries reached them in.
#[test]
fn peers_holding_the_same_entries_print_the_same_report_roster_and_verify() {
    let (ada, bob) = department();
    let rad = Home::new();
    let rad_key = rad.ok(&["init", "--name", "Dr Rad", "--role", "resident"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[
        "roster", "add", "--key", &rad_key, "--name", "Dr Rad", "--role", "resident",
    ]);
    let report = ada.new_report("4.4.4", "ct-chest");
    assert_eq!(give(&ada, &rad).code, 0);
    assert_eq!(give(&ada, &bob).code, 0);
    // Rad's home is copied; both copies sign at the same position.
    let copy = Home::new();
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&rad.dir)
        .arg(&copy.dir)
        .status()
        .unwrap()
        .success());
    // The copy's key is sealed under the passphrase of the home it was copied from.
    std::fs::copy(&rad.passphrase_file, &copy.passphrase_file).unwrap();
    rad.write(&report, "findings", "One side.").ok();
    copy.write(&report, "findings", "The other side.").ok();
    // The two admins promote Rad apart, to different roles.
    ada.ok(&[
        "roster",
        "add",
        "--key",
        &rad_key,
        "--name",
        "Dr Rad",
        "--role",
        "radiologist",
    ]);
    bob.ok(&[
        "roster",
        "add",
        "--key",
        &rad_key,
        "--name",
        "Dr Rad",
        "--role",
        "attending",
    ]);

    let bundles = [
        ada.bundle(None),
        bob.bundle(None),
        rad.bundle(None),
        copy.bundle(None),
    ];
    let p = Home::new();
    p.key_of_new_member();
    let q = Home::new();
    q.key_of_new_member();
    for b in &bundles {
        p.import(b);
    }
    for b in bundles.iter().rev() {
        q.import(b);
    }
    let shown = |h: &Home| {
        let mut verify = h.run(&["verify"]).json();
        verify.as_object_mut().unwrap().remove("seconds");
        (
            h.run(&["report", "show", &report]).stdout,
            h.run(&["roster", "list"]).stdout,
            verify.to_string(),
        )
    };
    let (pv, qv) = (shown(&p), shown(&q));
    assert_eq!(pv.0, qv.0, "report show differs");
    assert_eq!(pv.1, qv.1, "roster list differs");
    assert_eq!(pv.2, qv.2, "verify differs");
    // Neither side of the fork is the report's text.
    assert!(p.text_of(&report, "findings").is_null());
}
