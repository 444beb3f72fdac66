//! A long-lived home stays bounded: one evidence row (without payload) per forked position,
//! and bounded caches of verified rows and loaded reports.

use super::*;

/// Issue 13: one key could store a thousand 16 MiB "forks" at one position on every peer, and
/// each was loaded whole by every listing. Three entries at one position, the second carrying
/// a 15 MiB payload: one evidence row, its signed header only, and it travels as that.
#[test]
fn three_forks_at_one_position_keep_one_evidence_row_without_its_payload() {
    use countersign_ledger::{bundle, Kind};
    use countersign_report::accept::Verdict;
    use countersign_report::fixture::Department;
    use countersign_report::payload::{Payload, SectionWrite};

    let mut d = Department::new();
    let r = d.report("ada", "ct-chest");
    d.write_section("rad", r, "findings", "Clear lungs.")
        .unwrap();
    let text = |t: String| {
        Payload::to_bytes(&SectionWrite {
            section: "impression".into(),
            text: t,
            fields: Default::default(),
            macros: Vec::new(),
            links: Vec::new(),
        })
    };
    // Rad's key signs three entries at one position; the second is 15 MiB.
    let sides: Vec<_> = [
        text("Normal.".into()),
        text("x".repeat(15 << 20)),
        text("Abnormal.".into()),
    ]
    .into_iter()
    .map(|p| (d.sign("rad", Some(r), Kind::SectionWrite, &p, None), p))
    .collect();
    assert!(matches!(
        d.store(sides[0].0.clone(), sides[0].1.clone()),
        Ok(Verdict::New(_))
    ));
    let after = d.write_section("ada", r, "technique", "Helical.").unwrap();
    let records = d
        .stored
        .iter()
        .chain(&sides[1..])
        .map(|(e, p)| (e, Some(p.as_slice())));
    let bytes = bundle::encode(records);

    let dir = tempfile::tempdir().unwrap();
    let mut home = crate::tests::open_home(dir.path()).unwrap();
    home.trust(trusting(&d)).unwrap();
    let imported = home.bundle_import(&bytes).unwrap();
    assert_eq!(imported.forks.len(), 1, "{imported:?}");
    assert_eq!(imported.forks[0].entry, sides[1].0.id().to_hex());
    let forks = home.store().db().forks().unwrap();
    assert_eq!(forks.len(), 1);
    assert_eq!(forks[0].second, sides[1].0.id().as_bytes());
    // The 15 MiB never reached the disk: the ledger and its WAL are a fraction of it.
    let on_disk: u64 = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|f| f.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    assert!(on_disk < 4 << 20, "{on_disk} bytes on disk");
    // Importing the same bundle again stores nothing: the third side is no more evidence.
    let again = home.bundle_import(&bytes).unwrap();
    assert_eq!((again.new, again.forks.len()), (0, 0), "{again:?}");
    assert_eq!(home.store().db().forks().unwrap().len(), 1);

    // Exported, the evidence is its header: another home takes it, and freezes rad the same.
    let exported = home.bundle_export(None).unwrap();
    assert!(exported.len() < 1 << 20, "{} bytes", exported.len());
    let dir2 = tempfile::tempdir().unwrap();
    let mut other = crate::tests::open_home(dir2.path()).unwrap();
    other.trust(trusting(&d)).unwrap();
    let imported = other.bundle_import(&exported).unwrap();
    assert_eq!(imported.forks.len(), 1, "{imported:?}");
    for h in [&home, &other] {
        let view = h.report_show(r).unwrap();
        assert!(view.provenance.iter().any(|p| p.entry == after));
        let verify = h.verify(None).unwrap();
        assert_eq!(verify.forks, 1, "{:?}", verify.problems);
    }
    // After a restart, as before it.
    drop(home);
    let home = crate::tests::open_home(dir.path()).unwrap();
    assert_eq!(home.verify(None).unwrap().forks, 1);
    let view = home.report_show(r).unwrap();
    let status = |id: countersign_ledger::EntryId| {
        view.provenance
            .iter()
            .find(|p| p.entry == id)
            .map(|p| serde_json::to_value(&p.status).unwrap()["state"].clone())
    };
    assert_eq!(status(sides[0].0.id()), Some("fork".into()));
    assert_eq!(status(sides[1].0.id()), Some("fork".into()));
}

/// Issue 13: the memory of verified rows grew with the store (to 4 million rows, then cleared
/// whole). It stays within its capacity, and a row remembered again survives rows that were not.
#[test]
fn the_verified_rows_remembered_stay_bounded_least_recent_dropped_first() {
    use countersign_ledger::Hash;
    let id = |n: u32| Hash::of(&n.to_be_bytes());
    let mut verified = crate::home::Verified::with_capacity(100);
    for n in 0..1000 {
        verified.remember(id(n), u64::from(n));
        // Row 0 is shown again and again (its report is open).
        if n % 10 == 0 {
            verified.remember(id(0), 0);
        }
        assert!(verified.len() <= 100, "{} rows at {n}", verified.len());
    }
    assert!(verified.is_verified(&id(0), 0));
    assert!((950..1000).all(|n| verified.is_verified(&id(n), u64::from(n))));
    assert!(!verified.is_verified(&id(1), 1));
    // A row changed on disk (another fingerprint) is not taken as verified.
    assert!(!verified.is_verified(&id(999), 0));
}

/// Issue 13: a long-lived state (the desktop's, a serving node's) kept every report log it
/// ever loaded. It keeps the most recently used within the bound, and a log dropped reads the
/// same once loaded again.
#[test]
fn a_long_lived_state_keeps_a_bounded_number_of_reports_loaded() {
    use countersign_report::EntryStatus;
    let dir = tempfile::tempdir().unwrap();
    let mut home = founded(dir.path());
    let reports: Vec<_> = (0..12)
        .map(|i| {
            let r = home
                .report_new(&format!("1.2.{i}"), "ct-chest", &[])
                .unwrap();
            home.report_write(r, "findings", &format!("Report {i}."))
                .unwrap();
            r
        })
        .collect();
    let db = home.store().db();
    let shown = |state: &mut crate::state::LedgerState, r| {
        state.load_log(&db, r).unwrap();
        let roster = state.roster().clone();
        let view = state
            .report(r)
            .unwrap()
            .project(&roster, |_| EntryStatus::Verified);
        serde_json::to_string(&view).unwrap()
    };
    let mut fresh = crate::state::LedgerState::load(&db).unwrap();
    let want: Vec<String> = reports.iter().map(|r| shown(&mut fresh, r)).collect();
    assert_eq!(fresh.loaded_logs(), 12);

    let max = 4;
    let mut state = crate::state::LedgerState::load(&db).unwrap();
    for round in 0..3 {
        for (i, r) in reports.iter().enumerate() {
            state.trim(max);
            // The first report is in use all along.
            assert_eq!(shown(&mut state, &reports[0]), want[0]);
            assert_eq!(shown(&mut state, r), want[i], "round {round}, report {i}");
            assert!(state.loaded_logs() <= max + 2, "{}", state.loaded_logs());
        }
        state.trim(max);
        assert!(state.loaded_logs() <= max);
        assert!(state.ledger.report_as_judged(&reports[0]).is_some());
    }
}
