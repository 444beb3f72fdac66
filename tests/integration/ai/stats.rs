//! `ai stats`: what the verified entries say per model, and a tampered review excluded.

use super::{bundle, example_model, phantom, with_model};

/// `ai stats` counts what the entries say, per model and version; a review whose signature is
/// broken in SQLite is excluded and listed (its proposal reads as unreviewed), and `verify`
/// reports it too.
#[test]
fn ai_stats_counts_verified_entries_and_flags_a_tampered_review() {
    let series = tempfile::tempdir().unwrap();
    let (ada, model, report) = with_model("series-geometry", &phantom(&series, 2));
    let program = example_model();
    model.ok(&["ai", "bind", "--program", program.to_str().unwrap()]);
    let results: Vec<String> = (0..3)
        .map(|_| {
            model.ok(&["ai", "run", "--report", &report])["entry"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    bundle(&model, Some(&report), &ada);
    ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &results[0],
        "--accept",
    ]);
    let edited = ada.ok(&[
        "report",
        "review",
        &report,
        "--ai-entry",
        &results[1],
        "--edit",
        "2 CT images, matrix 64×64 in plane.",
    ])["entry"]
        .as_str()
        .unwrap()
        .to_string();
    let stats = ada.ok(&["ai", "stats"]);
    let m = &stats["models"][0];
    assert_eq!(
        (
            m["model"].as_str(),
            m["proposals"].as_u64(),
            m["accepted"].as_u64(),
            m["edited"].as_u64(),
            m["unreviewed"].as_u64()
        ),
        (Some("series-geometry"), Some(3), Some(1), Some(1), Some(1)),
        "{stats}"
    );
    assert_eq!(m["acceptance_rate"], 1.0);
    assert!(m["edit_words"]["max"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(
        ada.ok(&["ai", "stats", "--modality", "MR"])["models"],
        serde_json::json!([])
    );
    assert_eq!(
        ada.ok(&[
            "ai",
            "stats",
            "--model",
            "series-geometry",
            "--since",
            "2000-01-01"
        ])["models"][0]["proposals"],
        3
    );
    assert_eq!(
        ada.run(&["ai", "stats", "--since", "last week"])
            .error_code(),
        "invalid_input"
    );

    // The edit's signature broken in place: excluded from every figure, listed, and verify
    // says so.
    let id = countersign_ledger::Hash::from_hex(&edited).unwrap();
    ada.db()
        .execute(
            "UPDATE entries SET signature = zeroblob(64) WHERE id = ?1",
            [id.as_bytes().as_slice()],
        )
        .unwrap();
    let stats = ada.ok(&["ai", "stats"]);
    let m = &stats["models"][0];
    assert_eq!(
        (m["edited"].as_u64(), m["unreviewed"].as_u64()),
        (Some(0), Some(2)),
        "{stats}"
    );
    let excluded = stats["excluded"].as_array().unwrap();
    assert_eq!(excluded.len(), 1, "{stats}");
    assert_eq!(excluded[0]["entry"], edited.as_str());
    assert_eq!(excluded[0]["kind"], "ai.review");
    let verified = ada.run(&["verify"]);
    assert_eq!(verified.code, 1);
    assert!(verified.stdout.contains(&edited), "{}", verified.stdout);
}
