//! Critical results and follow-ups through the CLI: recorded after sign-off, shown first in the
//! report, follow-ups listed across reports until a study closes them, every step verified.

use crate::common::Home;

#[test]
fn critical_results_and_follow_ups_are_signed_listed_and_closed() {
    let (home, report) = Home::demo();

    // A critical result on the signed-off report: a communication, not a change to it.
    home.ok(&[
        "report",
        "critical",
        &report,
        "--finding",
        "Tension pneumothorax",
        "--to",
        "Dr Ward (ED)",
        "--via",
        "phone",
        "--read-back",
    ]);
    let view = home.ok(&["report", "show", &report]);
    // The demo recorded one critical result already; this one comes after it.
    let critical = &view["critical"][1];
    assert_eq!(critical["finding"], "Tension pneumothorax");
    assert_eq!(critical["to"], "Dr Ward (ED)");
    assert_eq!(critical["via"], "phone");
    assert_eq!(critical["read_back"], true);
    // The human form shows it first, as a banner.
    let text = home
        .command()
        .args(["report", "show", &report])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.contains("CRITICAL RESULT: Tension pneumothorax"),
        "{out}"
    );
    // How it was told is one of three words.
    let bad = home.run(&[
        "report",
        "critical",
        &report,
        "--finding",
        "x",
        "--to",
        "y",
        "--via",
        "pigeon",
    ]);
    assert_eq!(bad.code, 2);

    // Follow-ups: a bad date is refused in words; good ones are listed soonest first.
    let bad = home.run(&[
        "report",
        "followup",
        &report,
        "--finding",
        "Nodule",
        "--due",
        "2027-02-30",
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("not a YYYY-MM-DD date"));
    let late = home.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "CT in 12 months",
        "--due",
        "2027-11-01",
    ]);
    let soon = home.ok(&[
        "report",
        "followup",
        &report,
        "--finding",
        "CT in 3 months",
        "--due",
        "2027-02-01",
    ]);
    // Ours, soonest first (the demo recommended one of its own, a year out).
    let ours = |open: &serde_json::Value| -> Vec<serde_json::Value> {
        open.as_array()
            .unwrap()
            .iter()
            .filter(|f| f["finding"].as_str().unwrap().starts_with("CT in"))
            .cloned()
            .collect()
    };
    let open = ours(&home.ok(&["followups"]));
    let dues: Vec<&str> = open.iter().map(|f| f["due"].as_str().unwrap()).collect();
    assert_eq!(dues, ["2027-02-01", "2027-11-01"]);
    assert_eq!(open[0]["report"], report.as_str());

    // Closing links the study that answered it; it leaves the open list; twice is refused.
    let soon_id = soon["entry"].as_str().unwrap();
    let close = |followup: &str, study: &str| {
        home.run(&[
            "report",
            "followup-close",
            &report,
            "--followup",
            followup,
            "--study",
            study,
        ])
    };
    assert_eq!(close(soon_id, "1.2.3.99").code, 0);
    let open = ours(&home.ok(&["followups"]));
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["followup"], late["entry"]);
    let again = close(soon_id, "1.2.3.100");
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already closed"));
    // Only a recommendation can be closed.
    let critical_id = view["critical"][0]["entry"].as_str().unwrap();
    let wrong = close(critical_id, "1.2");
    assert!(wrong.stderr.contains("not a follow-up recommendation"));

    let view = home.ok(&["report", "show", &report]);
    let closed = view["followups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entry"] == soon["entry"])
        .unwrap();
    assert_eq!(closed["closed"]["study"], "1.2.3.99");
    assert_eq!(home.ok(&["verify"])["ok"], true);
}

/// The CLI measures as the app does: the length comes from the file's Pixel Spacing.
#[test]
fn a_length_is_measured_and_signed_from_the_cli() {
    let (home, report) = Home::demo();
    let view = home.ok(&["report", "show", &report]);
    let image = view["images"][0].as_str().unwrap().to_string();
    // The demo phantom: 1.875 mm per pixel, so a 3-4-5 triangle is 9.375 mm = 9375 µm.
    let m = home.ok(&[
        "report", "measure", &report, "--image", &image, "--from", "10,10", "--to", "13,14",
    ]);
    assert_eq!(m["length"], 9375);
    assert_eq!(m["unit"], "um");
    let view = home.ok(&["report", "show", &report]);
    assert_eq!(view["measurements"][0]["entry"], m["entry"]);
    let off = home.run(&[
        "report", "measure", &report, "--image", &image, "--from", "-1,0", "--to", "3,4",
    ]);
    assert_eq!(off.code, 2);
    assert!(off.stderr.contains("not on the image"), "{}", off.stderr);
}
