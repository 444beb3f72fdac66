//! Scenario 1: a revoked key — an attending's or an admin's — signing or admitting "before"
//! its revocation.

use std::process::Command;

use super::{department, give};
use crate::common::{craft, now_ms, Home};

/// Scenario 1: a stolen attending key, revoked, signs a whole report dated before the
/// revocation. Nothing it signed after the revocation counts, whatever the date on it; what the
/// key signed before stands.
#[test]
fn a_revoked_key_signs_a_backdated_report_and_none_of_it_counts() {
    let (ada, bob) = department();
    let honest = bob.new_report("1.1.1", "ct-chest");
    bob.write(&honest, "findings", "Honest findings.").ok();
    assert_eq!(give(&bob, &ada).code, 0);
    // The laptop is stolen: the thief has Bob's home as it was. Ada revokes Bob.
    let thief = Home::new();
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&bob.dir)
        .arg(&thief.dir)
        .status()
        .unwrap()
        .success());
    // The copy's key is sealed under the passphrase of the home it was copied from.
    std::fs::copy(&bob.passphrase_file, &thief.passphrase_file).unwrap();
    let bob_key = bob.key();
    ada.ok(&[
        "roster",
        "revoke",
        "--key",
        &bob_key,
        "--reason",
        "laptop stolen",
    ]);

    // The thief signs a whole report with the clock a month back, final included.
    let forged = thief
        .at(
            "-30d",
            &[
                "report",
                "new",
                "--study",
                "6.6.6",
                "--template",
                "ct-chest",
            ],
        )
        .ok()["report"]
        .as_str()
        .unwrap()
        .to_string();
    for (section, text) in [
        ("technique", "Non-contrast."),
        ("findings", "Forged findings."),
        ("impression", "Forged impression."),
    ] {
        thief
            .at(
                "-30d",
                &[
                    "report",
                    "write",
                    &forged,
                    "--section",
                    section,
                    "--text",
                    text,
                ],
            )
            .ok();
    }
    thief.at("-30d", &["report", "finalize", &forged]).ok();
    // Into the report Bob wrote honestly, dated before the revocation too (an entry may be dated
    // at most five minutes before its parents, so two minutes back).
    thief
        .at(
            "-2m",
            &[
                "report",
                "write",
                &honest,
                "--section",
                "impression",
                "--text",
                "Slipped in.",
            ],
        )
        .ok();

    let run = give(&thief, &ada);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let refused = run.json()["refused"].as_array().unwrap().clone();
    // Six entries: the report (revoked), what was written into it (a refused report's entries
    // count for nothing either), and the line slipped into the honest report (revoked).
    assert_eq!(refused.len(), 6, "{refused:?}");
    let revoked_or_in_a_refused_report =
        |r: &serde_json::Value| r["code"] == "revoked" || r["code"] == "report_refused";
    assert!(
        refused.iter().all(revoked_or_in_a_refused_report),
        "{refused:?}"
    );
    assert_eq!(
        refused.iter().filter(|r| r["code"] == "revoked").count(),
        2,
        "{refused:?}"
    );
    assert_eq!(ada.status_of(&forged), "refused");
    // The report Bob wrote honestly reads as he wrote it; the thief's line is not in it.
    assert_eq!(ada.text_of(&honest, "findings"), "Honest findings.");
    assert!(ada.text_of(&honest, "impression").is_null());
    // verify is honest: every refused entry named, with its code.
    let verify = ada.run(&["verify"]);
    assert_eq!(verify.code, 1);
    let problems = verify.json()["problems"].as_array().unwrap().clone();
    assert_eq!(
        problems
            .iter()
            .filter(|p| revoked_or_in_a_refused_report(p))
            .count(),
        refused.len(),
        "{problems:?}"
    );
    // An honest peer that takes Ada's ledger shows the same.
    let peer = Home::new();
    peer.key_of_new_member();
    give(&ada, &peer);
    assert_eq!(peer.status_of(&forged), "refused");
    assert_eq!(
        peer.ok(&["report", "show", &honest]),
        ada.ok(&["report", "show", &honest])
    );
}

/// Scenario 1, the admin version: a revoked admin admits a fresh admin key "before" the
/// revocation, and that key revokes the founder. The department stays the founder's.
#[test]
fn a_revoked_admin_cannot_admit_an_accomplice_who_revokes_the_founder() {
    let (ada, bob) = department();
    let stale = Home::new();
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&bob.dir)
        .arg(&stale.dir)
        .status()
        .unwrap()
        .success());
    // The copy's key is sealed under the passphrase of the home it was copied from.
    std::fs::copy(&bob.passphrase_file, &stale.passphrase_file).unwrap();
    ada.ok(&[
        "roster",
        "revoke",
        "--key",
        &bob.key(),
        "--reason",
        "compromised",
    ]);

    // From the copy that never saw the revocation, dated before it: a new admin key...
    let accomplice = Home::new();
    let key = accomplice.ok(&["init", "--name", "Mallory", "--role", "attending"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    stale
        .at(
            "-2m",
            &[
                "roster",
                "add",
                "--key",
                &key,
                "--name",
                "Mallory",
                "--role",
                "attending",
                "--admin",
            ],
        )
        .ok();
    assert_eq!(give(&stale, &accomplice).code, 0);
    // ...which tries to revoke the founder. Its own home will not sign that (a junior admin
    // never removes a senior one), so it crafts the entry by hand on its roster's heads.
    let refused = accomplice.run(&["roster", "revoke", "--key", &ada.key(), "--reason", "coup"]);
    assert!(refused.stderr.contains("not_senior"), "{}", refused.stderr);
    let network = accomplice.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string();
    let records = countersign_ledger::bundle::decode(&accomplice.bundle(None)).unwrap();
    let admission = records
        .iter()
        .rfind(|r| {
            countersign_ledger::header::decode(&r.header)
                .is_ok_and(|h| h.kind == countersign_ledger::Kind::RosterMember)
        })
        .map(|r| countersign_ledger::Hash::of(&r.header))
        .unwrap();
    let takeover = format!(r#"{{"key":"{}","reason":"coup"}}"#, ada.key()).into_bytes();
    let coup = craft(
        &accomplice.secret(&key),
        &network,
        &network,
        1,
        now_ms() - 60_000,
        countersign_ledger::Kind::RosterRevoke,
        vec![admission],
        &takeover,
    );

    let run = give(&stale, &ada);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "revoked",
        "{}",
        run.stdout
    );
    let run = ada.import_one(&coup, &takeover);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "not_admin",
        "{}",
        run.stdout
    );
    let roster = ada.ok(&["roster", "list"]);
    let members = roster.as_array().unwrap();
    assert!(members.iter().all(|m| m["key"] != key.as_str()), "{roster}");
    let founder = members
        .iter()
        .find(|m| m["key"] == ada.key().as_str())
        .unwrap();
    assert!(
        founder["revoked"].is_null() && founder["admin"] == true,
        "{founder}"
    );
    // The founder still signs.
    ada.new_report("2.2.2", "ct-chest");
}
