//! One key, two homes (a restored backup, a cloned laptop): equivocation is detected on import,
//! both entries are kept as evidence, verify reports it, and the evidence travels.

use std::process::Command;

use crate::common::Home;

#[test]
fn a_cloned_home_signing_the_same_sequence_is_caught_as_a_fork() {
    let (a, _) = Home::demo();
    let report = a.new_report("7.7.7", "ct-chest");
    a.write(&report, "findings", "Clear lungs.").ok();
    let clone = Home::new();
    let status = Command::new("cp")
        .arg("-a")
        .arg(&a.dir)
        .arg(&clone.dir)
        .status()
        .unwrap();
    assert!(status.success());
    // The copy's key is sealed under the passphrase of the home it was copied from.
    std::fs::copy(&a.passphrase_file, &clone.passphrase_file).unwrap();

    let ours = a.write(&report, "impression", "Normal.").ok()["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let theirs = clone.write(&report, "impression", "Abnormal.").ok()["entry"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(ours, theirs);

    let run = a.import(&clone.bundle(None));
    assert_eq!(run.code, 1, "a fork must be reported: {}", run.stdout);
    let imported = run.json();
    let forks = imported["forks"].as_array().unwrap();
    assert_eq!(forks.len(), 1, "{imported}");
    assert_eq!(forks[0]["entry"].as_str().unwrap(), theirs);
    assert!(forks[0]["problem"].as_str().unwrap().contains(&ours));

    // Both entries are kept: ours in the log, theirs as evidence.
    let db = a.db();
    let evidence: i64 = db
        .query_row("SELECT COUNT(*) FROM forks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(evidence, 1);
    let verify = a.run(&["verify"]);
    assert_eq!(verify.code, 1);
    let problems = verify.json()["problems"].as_array().unwrap().clone();
    assert!(
        problems.iter().any(|p| p["code"] == "fork"
            && p["problem"].as_str().unwrap().contains(&theirs)
            && p["problem"].as_str().unwrap().contains(&ours)),
        "{problems:?}"
    );
    // Neither side of the fork counts: the same on every peer, whichever arrived first.
    let view = a.ok(&["report", "show", &report]);
    let impression = view["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "impression")
        .unwrap();
    assert!(
        impression["versions"].as_array().unwrap().is_empty(),
        "{impression}"
    );
    let shown = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["entry"] == ours.as_str())
        .unwrap()
        .clone();
    assert_eq!(shown["status"]["state"], "fork", "{shown}");

    // The equivocating author's log is frozen after the fork point.
    let frozen = a.write(&report, "technique", "More.");
    assert_eq!(frozen.code, 2);
    assert!(frozen.stderr.contains("frozen"), "{}", frozen.stderr);

    // The evidence travels: a third home that imports from A sees the fork too.
    let auditor = Home::new();
    // An identity of its own: the bundle's data keys are stored sealed under its key.
    auditor.key_of_new_member();
    let run = auditor.import(&a.bundle(None));
    assert_eq!(run.code, 1);
    assert_eq!(run.json()["forks"].as_array().unwrap().len(), 1);
    assert_eq!(auditor.run(&["verify"]).code, 1);
    // Importing the same bundle again changes nothing.
    let again = auditor.import(&a.bundle(None));
    assert_eq!(again.json()["new"], 0);
}
