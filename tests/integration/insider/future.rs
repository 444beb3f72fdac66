//! Scenario 4: an entry dated in the future is held back.

use super::{department, entry_of, give};
use crate::common::now_ms;

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
    // Said for a person too, beside "every … checks out", which does not cover it (found by
    // review, 2026-12-05).
    let said = ada.text(&["verify"]);
    assert!(
        said.contains("\n1 entries held (dated ahead of this home's clock), not shown"),
        "{said}"
    );
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
