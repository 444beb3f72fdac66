//! The AI outcome rows against the entries: after a local review, a bundle, `reindex` and a
//! stale table reopened they equal a rebuild from the entries (and another home's rows for the
//! same entries); `ai stats` from them gives the figures the slow path (every report projected
//! and re-checked) gives; an entry changed in place is excluded by `ai stats`, and a row
//! changed in place is named by `verify`.

use countersign_ledger::{EntryId, Kind, Role, SecretKey};
use countersign_report::oversight::{AiStats, Filter};
use countersign_report::payload::{AccessChange, AiResult, Decision};
use countersign_store::{AiOutcomeRow, AiOutcomeSelection, Store};

use crate::home::json;
use crate::{AppError, Home};

/// Every AI row the home keeps, by proposal.
fn rows(home: &Home) -> Vec<AiOutcomeRow> {
    let mut rows: Vec<AiOutcomeRow> = home
        .store()
        .db()
        .ai_outcomes(&AiOutcomeSelection::default())
        .unwrap();
    rows.sort_by_key(|r| r.entry);
    rows
}

/// The rows a rebuild from the entries gives, inside a write on a second connection that is
/// then rolled back.
fn rebuilt(home: &Home) -> Vec<AiOutcomeRow> {
    let mut store = Store::open(&home.dir().join("ledger.sqlite3")).unwrap();
    // The home's data keys open here as they do in the home (issue 16).
    store.set_kek(home.store().kek());
    let mut got = None;
    let rolled_back = store.write(|db| {
        crate::projection::rebuild(db)?;
        let mut rows = db.ai_outcomes(&AiOutcomeSelection::default())?;
        rows.sort_by_key(|r| r.entry);
        got = Some(rows);
        Err::<(), _>(AppError::InvalidInput("rolled back".into()))
    });
    assert!(rolled_back.is_err());
    got.unwrap()
}

/// The figures from the rows, checked against the figures the slow path gives.
fn stats(home: &Home, filter: &Filter, modality: Option<&str>) -> AiStats {
    let fast = home.ai_stats(filter, modality).unwrap();
    let slow = home.ai_stats_from_reports(filter, modality).unwrap();
    assert_eq!(fast, slow, "the rows and the reports give other figures");
    fast
}

fn checked(home: &Home, what: &str) -> Vec<AiOutcomeRow> {
    let kept = rows(home);
    assert_eq!(kept, rebuilt(home), "after {what}");
    kept
}

/// Counts per version: (version, proposals, accepted, edited, rejected, unreviewed).
fn counts(s: &AiStats) -> Vec<(String, u64, u64, u64, u64, u64)> {
    s.models
        .iter()
        .map(|m| {
            (
                m.version.clone(),
                m.proposals,
                m.accepted,
                m.edited,
                m.rejected,
                m.unreviewed,
            )
        })
        .collect()
}

fn sql(home: &std::path::Path, sql: &str) {
    let conn = rusqlite::Connection::open(home.join("ledger.sqlite3")).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn propose(home: &mut Home, model: &SecretKey, report: EntryId, i: usize) -> EntryId {
    let payload = json(&AiResult {
        model: "soft-tissue-stats".into(),
        version: "1.0".into(),
        inputs: vec![],
        parameters: Default::default(),
        outputs: Default::default(),
        section: "findings".into(),
        text: format!("Mean {i} HU over the region."),
    });
    home.append(model, Some(report), Kind::AiResult, &payload)
        .unwrap()
        .id()
}

#[test]
fn ai_rows_follow_every_path_and_give_the_figures_of_every_report_rechecked() {
    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::founded(&dir.path().join("a"));
    let model = SecretKey::from_seed(&[7; 32]);
    home.roster_add(
        model.public(),
        "soft-tissue-stats",
        Role::AiModel,
        false,
        Some(countersign_ledger::roster::AiModelInfo {
            vendor: "Countersign examples".into(),
            model: "soft-tissue-stats".into(),
            version: "1.0".into(),
            regulatory_id: None,
        }),
    )
    .unwrap();
    let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
    let grant = json(&AccessChange {
        member: model.public(),
    });
    home.append_own(Some(report), Kind::AccessGrant, &grant)
        .unwrap();
    let results: Vec<EntryId> = (0..4)
        .map(|i| propose(&mut home, &model, report, i))
        .collect();
    let proposed = checked(&home, "the model's proposals");
    assert_eq!(proposed.len(), 4);
    assert!(proposed.iter().all(|r| r.review.is_none()));

    // Local reviews: each a write in the report's log, the rows kept in step.
    home.report_review(report, results[0], Decision::Accept, None, None)
        .unwrap();
    let edit = home
        .report_review(
            report,
            results[1],
            Decision::Edit,
            Some("Mean 1 HU over the soft tissue region."),
            None,
        )
        .unwrap();
    home.report_review(report, results[2], Decision::Reject, None, None)
        .unwrap();
    let reviewed = checked(&home, "local reviews");
    assert_eq!(reviewed.iter().filter(|r| r.review.is_some()).count(), 3);
    let s = stats(&home, &Filter::default(), None);
    assert_eq!(counts(&s), [("1.0".to_string(), 4, 1, 1, 1, 1)]);
    assert_eq!(s.models[0].edit_words.max, 2);
    assert_eq!(s.models[0].edited_results, [results[1]]);
    assert_eq!(s.reports.len(), 4);
    assert!(s.reviewers_named("Dr Ada"), "{s:?}");
    assert!(s.excluded.is_empty());

    // Modality is asked of the study's images when the rows are read, not kept in them: an
    // image imported after the rows were made counts.
    assert!(stats(&home, &Filter::default(), Some("CT"))
        .models
        .is_empty());
    home.store_mut()
        .write(|db| {
            db.insert_instance(&countersign_store::Instance {
                sha256: countersign_ledger::Hash::of(b"one image").0,
                size: 1,
                study: "1.2.3".into(),
                series: Some("1".into()),
                instance: Some("1".into()),
                patient: None,
                patient_id: None,
                study_date: None,
                modality: Some("CT".into()),
                study_description: None,
                series_description: None,
                sop_class: "CT".into(),
                frames: 1,
                imported_ms: 0,
                instance_number: Some(1),
                slice_location: None,
                sop_class_uid: None,
                plane: None,
                position: None,
                issuer: None,
            })?;
            Ok::<_, AppError>(())
        })
        .unwrap();
    assert_eq!(
        counts(&stats(&home, &Filter::default(), Some("CT")))[0].1,
        4
    );
    assert!(stats(&home, &Filter::default(), Some("MR"))
        .models
        .is_empty());
    let only = Filter {
        model: Some("another".into()),
        since_ms: None,
    };
    assert!(stats(&home, &only, None).models.is_empty());

    // A bundle: another home holding the same entries holds the same rows.
    let export = home.bundle_export(None).unwrap();
    let network = home.state().unwrap().network().unwrap();
    let mut other = crate::tests::open_home(&dir.path().join("b")).unwrap();
    // An identity of its own: the bundle's data keys are stored sealed under its key.
    other
        .init("Auditor", countersign_ledger::Role::Resident, None, None)
        .unwrap();
    other
        .trust(crate::Anchor::Network {
            network,
            founder: None,
        })
        .unwrap();
    other.bundle_import(&export).unwrap();
    assert_eq!(checked(&other, "a bundle"), reviewed);
    assert_eq!(counts(&stats(&other, &Filter::default(), None)), counts(&s));

    // `reindex` rebuilds them; so does opening a home whose rows are of another version.
    home.store_mut().write(|db| db.clear_ai_outcomes()).unwrap();
    assert!(rows(&home).is_empty());
    home.reindex().unwrap();
    assert_eq!(rows(&home), reviewed);
    drop(home);
    sql(
        &dir.path().join("a"),
        "DELETE FROM ai_outcomes; UPDATE meta SET value = '0' WHERE key = 'ai_outcomes';",
    );
    let home = crate::tests::open_home(&dir.path().join("a")).unwrap();
    assert_eq!(checked(&home, "a stale table reopened"), reviewed);
    assert!(home
        .verify(None)
        .unwrap()
        .problems
        .iter()
        .all(|p| p.code.as_deref() != Some("ai_row")));
    drop(home);

    // A row changed in place (an edit made to read as an acceptance): verify names it.
    sql(
        &dir.path().join("a"),
        &format!(
            "UPDATE ai_outcomes SET decision = 'accept' WHERE review = x'{}';",
            edit.to_hex()
        ),
    );
    let home = crate::tests::open_home(&dir.path().join("a")).unwrap();
    let verified = home.verify(None).unwrap();
    assert!(!verified.ok);
    let named: Vec<_> = verified
        .problems
        .iter()
        .filter(|p| p.code.as_deref() == Some("ai_row"))
        .collect();
    assert_eq!(named.len(), 1, "{:?}", verified.problems);
    assert_eq!(named[0].entry, report.to_hex());
    drop(home);

    // The edit's signature broken in place: `ai stats` excludes and lists it without
    // verifying a signature (its bytes are not those its row was made from), as the slow
    // path does by verifying them.
    let mut home = crate::tests::open_home(&dir.path().join("a")).unwrap();
    home.reindex().unwrap();
    drop(home);
    sql(
        &dir.path().join("a"),
        &format!(
            "UPDATE entries SET signature = zeroblob(64) WHERE id = x'{}';",
            edit.to_hex()
        ),
    );
    let home = crate::tests::open_home(&dir.path().join("a")).unwrap();
    let fast = home.ai_stats(&Filter::default(), None).unwrap();
    let slow = home
        .ai_stats_from_reports(&Filter::default(), None)
        .unwrap();
    assert_eq!(counts(&fast), [("1.0".to_string(), 4, 1, 0, 1, 2)]);
    assert_eq!(counts(&fast), counts(&slow));
    assert_eq!(fast.excluded.len(), 1);
    assert_eq!(fast.excluded[0].entry, edit);
    assert_eq!(fast.excluded[0].kind, "ai.review");
    assert!(
        fast.excluded[0]
            .reason
            .contains("changed since it was verified"),
        "{:?}",
        fast.excluded
    );
    assert_eq!(fast.reports.get(&edit), Some(&report));
    assert_eq!(slow.excluded[0].entry, edit);
}

trait Named {
    fn reviewers_named(&self, name: &str) -> bool;
}

impl Named for AiStats {
    fn reviewers_named(&self, name: &str) -> bool {
        self.models
            .iter()
            .all(|m| m.reviewers.keys().all(|k| k.starts_with(name)))
    }
}
