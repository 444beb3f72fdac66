//! The insider list, each run as the insider would run it: real homes, the real CLI, real
//! SQLite files, the attacker's clock shifted with Debian's `faketime`. Each ends with the
//! attack refused or the conflict visible, `verify` honest about it, and an honest peer
//! showing the same.

use std::process::Command;

use crate::common::{bin, craft, ct_chest_create, ids, now_ms, sealed_create, Home, Run};

impl Home {
    /// Runs the CLI with its clock shifted by `offset` (faketime syntax: `-30d`, `+365d`).
    fn at(&self, offset: &str, args: &[&str]) -> Run {
        Command::new("faketime")
            .args(["-f", offset])
            .arg(bin())
            .arg("--home")
            .arg(&self.dir)
            .arg("--json")
            .args(args)
            .env_remove("COUNTERSIGN_HOME")
            .env("COUNTERSIGN_PASSPHRASE_FILE", &self.passphrase_file)
            .env("COUNTERSIGN_TEST_FAST_KDF", "1")
            .output()
            .expect("faketime (Debian's faketime package; make test installs it)")
            .into()
    }

    fn status_of(&self, report: &str) -> String {
        self.ok(&["report", "show", report])["status"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn text_of(&self, report: &str, section: &str) -> serde_json::Value {
        self.ok(&["report", "show", report])["sections"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == section)
            .unwrap()["text"]
            .clone()
    }
}

/// Everything from `from` into `to`; returns the import.
fn give(from: &Home, to: &Home) -> Run {
    to.import(&from.bundle(None))
}

fn department() -> (Home, Home) {
    crate::common::two_attendings()
}

fn entry_of(run: &Run) -> String {
    run.ok()["entry"].as_str().unwrap().to_string()
}

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

/// Scenario 2: two attendings sign off the same report apart — one of them perhaps with a
/// stolen key, rewriting the impression first and dating the sign-off ahead. The report shows a
/// conflict, never the later text; an attending resolves it.
#[test]
fn a_second_sign_off_written_apart_is_a_visible_conflict_not_a_silent_rewrite() {
    let (ada, bob) = department();
    let report = ada.new_report("3.3.3", "ct-chest");
    for (section, text) in [
        ("technique", "Contrast CT."),
        ("findings", "Small effusion."),
        ("impression", "Small effusion."),
    ] {
        ada.write(&report, section, text).ok();
    }
    assert_eq!(give(&ada, &bob).code, 0);
    let signed = entry_of(&ada.run(&["report", "finalize", &report]));
    // Bob, who never saw the sign-off, rewrites the impression and signs off, his clock four
    // minutes ahead (within the skew, so it is taken, not held).
    bob.at(
        "+4m",
        &[
            "report",
            "write",
            &report,
            "--section",
            "impression",
            "--text",
            "No effusion.",
        ],
    )
    .ok();
    bob.at("+4m", &["report", "finalize", &report]).ok();
    assert_eq!(give(&bob, &ada).code, 0);

    let view = ada.ok(&["report", "show", &report]);
    assert_eq!(view["status"], "conflict");
    let in_force: Vec<&serde_json::Value> = view["signoffs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["in_force"] == true)
        .collect();
    assert_eq!(in_force.len(), 2, "{view}");
    let impression = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "impression")
        .unwrap();
    assert!(impression["text"].is_null());
    assert_eq!(
        impression["conflicting_versions"].as_array().unwrap().len(),
        2
    );
    assert_eq!(ada.text_of(&report, "findings"), "Small effusion.");
    assert!(ada
        .ok(&["report", "list"])
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["report"] == report.as_str() && r["status"] == "conflict"));

    // Nobody settles a conflict in favour of their own sign-off (a stolen key would).
    let own = ada.run(&["report", "resolve", &report, "--keep", &signed]);
    assert_eq!(own.code, 2, "{}", own.stderr);
    let error: serde_json::Value = serde_json::from_str(own.stderr.trim()).unwrap();
    assert_eq!(error["error"]["rule"], "self_resolve", "{}", own.stderr);
    assert_eq!(ada.status_of(&report), "conflict");
    // The other attending keeps Ada's sign-off; his stays in the record, superseded.
    assert_eq!(give(&ada, &bob).code, 0);
    bob.ok(&[
        "report",
        "resolve",
        &report,
        "--keep",
        &signed,
        "--note",
        "I signed off without seeing Ada's.",
    ]);
    assert_eq!(bob.status_of(&report), "final");
    assert_eq!(bob.text_of(&report, "impression"), "Small effusion.");
    // The same on Ada's home once it has the resolution.
    assert_eq!(give(&bob, &ada).code, 0);
    assert_eq!(ada.status_of(&report), "final");
    assert_eq!(ada.text_of(&report, "impression"), "Small effusion.");
}

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

/// Scenario 4: one member dates an entry in 2099. It is held back, not stored as valid, and
/// honest writers after it stay in the present.
#[test]
fn an_entry_dated_in_the_future_is_held_and_does_not_drag_time_forward() {
    let (ada, bob) = department();
    let report = ada.new_report("5.5.5", "ct-chest");
    assert_eq!(give(&ada, &bob).code, 0);
    bob.at(
        "+75y",
        &[
            "report",
            "write",
            &report,
            "--section",
            "findings",
            "--text",
            "From 2101.",
        ],
    )
    .ok();
    let run = give(&bob, &ada);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.json()["held"].as_array().unwrap().len(),
        1,
        "{}",
        run.stdout
    );
    assert!(ada.text_of(&report, "findings").is_null());
    assert_eq!(ada.run(&["verify"]).json()["held"], 1);
    // Ada writes on: her entry carries her own clock, not the year 2101.
    let mine = entry_of(&ada.write(&report, "impression", "Normal."));
    let view = ada.ok(&["report", "show", &report]);
    let written = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["entry"] == mine.as_str())
        .unwrap()["time_ms"]
        .as_u64()
        .unwrap();
    assert!(written < now_ms() + 60_000, "{written}");
    // When its time comes (Ada's clock moved on), the held entry is taken like any other.
    ada.at(
        "+75y",
        &[
            "report",
            "write",
            &report,
            "--section",
            "technique",
            "--text",
            "Later.",
        ],
    )
    .ok();
    assert_eq!(ada.text_of(&report, "findings"), "From 2101.");
}

/// Scenario 5: a report may not bring its own rules — a built-in template redefined without its
/// co-sign, or a custom one nobody published; and who creates reports is the network's rule.
#[test]
fn a_report_cannot_redefine_a_built_in_template_or_bring_an_unpublished_one() {
    let (ada, _) = Home::demo();
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let attending = ada.secret(&ada.key());
    // cardiac-mr without the cardiologist's co-sign, under its built-in name.
    let mut weakened = countersign_report::template("cardiac-mr").unwrap().clone();
    for s in &mut weakened.sections {
        s.cosign_role = None;
    }
    let create = serde_json::to_vec(&countersign_report::payload::ReportCreate {
        study: "7.7.7".into(),
        template: "cardiac-mr".into(),
        template_hash: weakened.content_hash(),
        images: vec![],
    })
    .unwrap();
    let run = ada.import_report(&sealed_create(&attending, &network, now_ms(), &create));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown_template"), "{}", run.stderr);
    // An AI model may not create reports: the network's policy, from its genesis.
    let model = ada.secret(&ada.member("ai-model"));
    let create = ct_chest_create("7.7.8");
    let run = ada.import_report(&sealed_create(&model, &network, now_ms(), &create));
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "role_may_not_write",
        "{}",
        run.stdout
    );
    // A custom template published by someone who is not an admin is refused.
    let resident = Home::new();
    let key = resident.ok(&["init", "--name", "Dr R", "--role", "resident"])["key"]
        .as_str()
        .unwrap()
        .to_string();
    ada.ok(&[
        "roster", "add", "--key", &key, "--name", "Dr R", "--role", "resident",
    ]);
    resident.import(&ada.bundle(None));
    let file = resident.dir.join("lite.toml");
    std::fs::write(&file, "format = 1\nname = \"lite\"\ntitle = \"Lite\"\n[[section]]\nname = \"findings\"\ntitle = \"Findings\"\n").unwrap();
    let run = resident.run(&["template", "publish", file.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("not_admin"), "{}", run.stderr);
}

/// Scenario 6: an AI model's node adds a result to a report nobody granted it.
#[test]
fn an_ai_model_cannot_write_to_a_report_it_was_not_granted() {
    let (ada, report) = Home::demo();
    let network = ada.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let other = ada.new_report("8.8.8", "ct-chest");
    let model = ada.secret(&ada.member("ai-model"));
    let heads = ids(&ada.ok(&["report", "show", &other])["heads"]);
    // Sealed as the model's home would seal it (were it sent the key, which it is not).
    let result = &ada.sealed(
        &other,
        countersign_ledger::Kind::AiResult,
        br#"{"model":"soft-tissue","version":"1","inputs":[],"section":"findings","text":"Mean 40 HU."}"#,
    )[..];
    let e = craft(
        &model,
        &network,
        &other,
        1,
        now_ms(),
        countersign_ledger::Kind::AiResult,
        heads,
        result,
    );
    let run = ada.import_one(&e, result);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        run.json()["refused"][0]["code"],
        "not_granted",
        "{}",
        run.stdout
    );
    // It does not block sign-off nor offer an Accept: it is not in the report.
    let view = ada.ok(&["report", "show", &other]);
    assert!(view["ai"].as_array().unwrap().is_empty(), "{view}");
    // The demo report, which an attending granted the model, has its result.
    assert_eq!(
        ada.ok(&["report", "show", &report])["ai"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
