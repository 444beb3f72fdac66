//! Logs a maintainer can read, and nothing a patient would mind: a debug-level run of the demo
//! and the commands around it logs what happened (entries signed, verify's counts, imports
//! and refusals with their reasons' names), on stderr so `--json` stays clean, and holds none
//! of the report's text, the patients' names and ids, a refused file's path or a secret key.
//! A peer cut off by `serve` is logged with its reason.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::common::{bin, Home};
use crate::sync::{member, until};

/// Runs `countersign --home DIR --json -vv ARGS…` with `RUST_LOG` unset; appends its stderr
/// to `log` and returns its JSON output (stdout must be nothing else).
fn logged(home: &Home, log: &mut String, args: &[&str]) -> Value {
    let out = home
        .command()
        .args(["--json", "-vv"])
        .args(args)
        .env_remove("COUNTERSIGN_HOME")
        .env_remove("RUST_LOG")
        .output()
        .expect("spawn countersign");
    let stderr = String::from_utf8_lossy(&out.stderr);
    log.push_str(&stderr);
    assert!(out.status.success(), "{args:?} failed: {stderr}");
    if args.first() == Some(&"demo") {
        std::fs::write(&home.passphrase_file, crate::common::DEMO_PASSPHRASE).unwrap();
    }
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: stdout is not only JSON ({e}); logs leaked into it?"))
}

/// Every string in `v` worth keeping out of logs: what people wrote (texts, findings,
/// comments, the addressee of a critical result), people's names, and the images' patient
/// and study attributes. Short strings (field values like "58") would match inside hex ids by
/// chance, so only those of 8 characters or more are kept; the long ones make the point.
fn private_strings(v: &Value, out: &mut Vec<String>) {
    const KEYS: &[&str] = &[
        "text",
        "finding",
        "comment",
        "to",
        "patient",
        "patient_name",
        "patient_id",
        "birth_date",
        "description",
        "study_description",
        "series_description",
        "study",
        "study_uid",
        "series_uid",
        "instance_uid",
    ];
    match v {
        Value::Object(map) => {
            // A person (an author, a reviewer): has a role beside the name.
            let person = map.contains_key("role");
            for (k, x) in map {
                match x {
                    Value::String(s) if KEYS.contains(&k.as_str()) || (person && k == "name") => {
                        if s.chars().count() >= 8 {
                            out.push(s.clone());
                        }
                    }
                    _ => private_strings(x, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|x| private_strings(x, out)),
        _ => {}
    }
}

/// The hex of every private key seed in `home`'s key store (each sealed file opened with the
/// home's passphrase).
fn secret_keys(home: &Home) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(home.dir.join("keys")) else {
        return Vec::new();
    };
    let keys: Vec<String> = dir
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sealed"))
        .map(|p| {
            let public = p.file_stem().unwrap().to_str().unwrap().to_string();
            let seed = home.secret(&public).to_seed();
            seed.iter().map(|b| format!("{b:02x}")).collect::<String>()
        })
        .collect();
    assert!(!keys.is_empty(), "no sealed key in {}", home.dir.display());
    keys
}

#[test]
fn a_debug_run_logs_what_happened_and_no_patient_data_report_text_or_keys() {
    let a = Home::new();
    let mut log = String::new();
    let demo = logged(&a, &mut log, &["demo"]);
    let report = demo["report"].as_str().unwrap().to_string();
    let study = demo["study"].as_str().unwrap().to_string();
    logged(
        &a,
        &mut log,
        &[
            "report",
            "addendum",
            &report,
            "--text",
            "Discussed with Zebulon Quackenbush, the patient's brother.",
        ],
    );
    // A refusal whose rule message quotes the field's value: logged by the rule's name only.
    let draft = logged(
        &a,
        &mut log,
        &[
            "report",
            "new",
            "--study",
            &study,
            "--template",
            "cardiac-mr",
        ],
    )["report"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = a
        .command()
        .args(["-vv", "report", "write", &draft, "--section", "cardiac"])
        .args([
            "--text",
            "Quackenbush cardiac draft",
            "--field",
            "lvef=987654",
        ])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    // The user is told the value; the log is not.
    assert!(stderr.contains("refused by rule field_value"), "{stderr}");
    for l in stderr
        .lines()
        .filter(|l| !l.starts_with("error: ") && !l.starts_with(r#"{"error":"#))
    {
        log.push_str(l);
        log.push('\n');
    }
    let show = logged(&a, &mut log, &["report", "show", &report]);
    let studies = logged(&a, &mut log, &["studies"]);
    let verify = logged(&a, &mut log, &["verify"]);
    assert_eq!(verify["ok"], true);

    // The roster and the report into a second home.
    let b = Home::new();
    // An identity of its own: the bundle's data keys are stored sealed under its key.
    b.key_of_new_member();
    let file = a.dir.with_extension("logs.bundle");
    let f = file.to_str().unwrap();
    logged(&a, &mut log, &["bundle", "export", &report, "-o", f]);
    let network = a.ok(&["whoami"])["network"].as_str().unwrap().to_string();
    let imported = logged(
        &b,
        &mut log,
        &["bundle", "import", f, "--network", &network],
    );
    assert!(imported["new"].as_u64().unwrap() > 0);

    // A phantom series in a folder named after a patient, with a file that is not DICOM.
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("QUACKENBUSH^ZEBULON 1961-02-03");
    let phantom = Command::new(bin())
        .args([
            "--json", "image", "phantom", "--slices", "3", "--size", "32",
        ])
        .args(["--seed", "logs test", "-o"])
        .arg(&folder)
        .output()
        .unwrap();
    assert!(phantom.status.success());
    std::fs::write(folder.join("zz notes on Quackenbush.txt"), b"not DICOM").unwrap();
    let slice = folder.join("slice-0001.dcm");
    let info = logged(&b, &mut log, &["image", "info", slice.to_str().unwrap()]);
    let import = logged(&b, &mut log, &["import", folder.to_str().unwrap()]);
    assert_eq!(import["imported"], 3);
    assert_eq!(import["failed"].as_array().unwrap().len(), 1);

    // What happened is there.
    assert!(!log.trim().is_empty());
    for event in [
        "network founded",
        "entry signed",
        "kind=section.write",
        "demo written",
        "entry refused",
        "rule=field_value",
        "verify finished",
        "problems=0",
        "bundle exported",
        "bundle imported",
        "image import finished imported=3",
        "image file refused",
        "reason=not_dicom",
        "schema migration applied",
    ] {
        assert!(log.contains(event), "no {event:?} in the log:\n{log}");
    }
    // The report's id and the entries' are fine to log, and are.
    assert!(log.contains(&report));

    // Nothing private is.
    let mut private = Vec::new();
    for v in [&show, &studies, &info, &demo] {
        private_strings(v, &mut private);
    }
    private.extend(
        [
            "Quackenbush",
            "QUACKENBUSH",
            "987654",
            "1961-02-03",
            "Phantom^Shepp-Logan",
            "PHANTOM-0001",
        ]
        .map(String::from),
    );
    for must in [
        "Discussed with Zebulon Quackenbush",
        "Incidental 9 mm pulmonary nodule",
        "Dr Ada Attending",
    ] {
        assert!(
            private.iter().any(|p| p.contains(must)),
            "the demo's data changed: {must:?} is not among {private:?}"
        );
    }
    let keys = secret_keys(&a);
    assert_eq!(keys.len(), 4, "the demo keeps four members' keys");
    private.extend(keys);
    private.extend(secret_keys(&b));
    for p in &private {
        assert!(!log.contains(p.as_str()), "the log holds {p:?}:\n{log}");
    }
}

/// `countersign -v serve` with its stderr in a file, killed when dropped.
struct LoggedServe {
    child: Child,
    addr: String,
}

impl Drop for LoggedServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_logging_to(home: &Home, log: &Path) -> LoggedServe {
    let mut child = home
        .command()
        .args(["--json", "-v", "serve", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .env_remove("COUNTERSIGN_HOME")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("spawn serve");
    let first = crate::sync::listening(&mut child);
    LoggedServe {
        child,
        addr: first["listen"][0].as_str().unwrap().to_string(),
    }
}

#[test]
fn a_peer_cut_off_is_logged_with_its_reason() {
    let (a, report) = Home::demo();
    let tmp = tempfile::tempdir().unwrap();
    let log_file = tmp.path().join("serve.log");
    let serving = serve_logging_to(&a, &log_file);
    let m = member(&a, "Dr Mal", "radiologist");
    m.ok(&["sync", "--peer", &serving.addr, "--once"]);
    let finding = "Quackenbush follow-up, forged";
    let entry = m.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        finding,
        "--due",
        "2027-01-01",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    // The member's store now holds a signature that does not verify; syncing sends it.
    let id = countersign_ledger::Hash::from_hex(&entry).unwrap();
    m.db()
        .execute(
            "UPDATE entries SET signature = zeroblob(64) WHERE id = ?1",
            [id.as_bytes().as_slice()],
        )
        .unwrap();
    let run = m.run(&["sync", "--peer", &serving.addr, "--once", "--timeout", "20"]);
    assert_eq!(run.code, 2, "{}", run.stdout);

    let read = || std::fs::read_to_string(&log_file).unwrap_or_default();
    until("serve to log the cut-off", || {
        read().contains("peer cut off")
    });
    let log = read();
    let line = |what: &str| {
        log.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in:\n{log}"))
            .to_string()
    };
    // Who, and why: the node's reason, and the ledger's (an entry's signature), by id.
    let cut = line("peer cut off");
    assert!(cut.contains("WARN"), "{cut}");
    assert!(cut.contains("peer=12D3Koo"), "{cut}");
    assert!(
        cut.contains("it sent an entry that does not verify"),
        "{cut}"
    );
    let refused = line("batch refused");
    assert!(refused.contains("WARN"), "{refused}");
    assert!(refused.contains("does not verify"), "{refused}");
    assert!(line("sync node started").contains("INFO"));
    assert!(log.contains("listening"));
    assert!(log.contains("peer connected"));
    assert!(!log.contains("Quackenbush"), "{log}");
    drop(serving);
}
