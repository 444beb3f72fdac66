//! Tampering with the stored bytes: every single-byte change is caught by verify, and a damaged
//! database never crashes the CLI.

use countersign_app::Home as AppHome;
use rusqlite::params;

use crate::common::Home;

struct Row {
    id: Vec<u8>,
    header: Vec<u8>,
    signature: Vec<u8>,
    payload: Vec<u8>,
}

fn rows(db: &rusqlite::Connection) -> Vec<Row> {
    let mut stmt = db
        .prepare("SELECT e.id, e.header, e.signature, p.bytes FROM entries e JOIN payloads p ON p.arrival = e.arrival ORDER BY e.arrival")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(Row {
            id: r.get(0)?,
            header: r.get(1)?,
            signature: r.get(2)?,
            payload: r.get(3)?,
        })
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Verify must fail and name `id` among the problems.
fn assert_caught(home: &AppHome, id: &[u8], what: &str) {
    let report = home.verify(None).unwrap();
    assert!(!report.ok, "{what} was not caught");
    let id = hex(id);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.entry == id && !p.problem.is_empty()),
        "{what}: problems do not name {id}: {:?}",
        report.problems
    );
}

#[test]
fn every_single_byte_change_to_headers_signatures_and_payloads_is_reported() {
    let (home, _) = Home::demo();
    let db = home.db();
    // With its passphrase: `verify` opens the home's data keys (issue 16).
    let app: AppHome = home.app();
    assert!(app.verify(None).unwrap().ok);
    let mut checked = 0;
    for (n, row) in rows(&db).into_iter().enumerate() {
        // Different xor masks at different positions, so that we do not only flip low bits.
        let mask = |i: usize| [0x01u8, 0x80, 0xff, 0x5a][(i + n) % 4];
        for i in 0..row.header.len() {
            let mut bad = row.header.clone();
            bad[i] ^= mask(i);
            db.execute(
                "UPDATE entries SET header = ?1 WHERE id = ?2",
                params![bad, row.id],
            )
            .unwrap();
            assert_caught(&app, &row.id, &format!("header byte {i}"));
            checked += 1;
        }
        db.execute(
            "UPDATE entries SET header = ?1 WHERE id = ?2",
            params![row.header, row.id],
        )
        .unwrap();
        for i in 0..row.signature.len() {
            let mut bad = row.signature.clone();
            bad[i] ^= mask(i);
            db.execute(
                "UPDATE entries SET signature = ?1 WHERE id = ?2",
                params![bad, row.id],
            )
            .unwrap();
            assert_caught(&app, &row.id, &format!("signature byte {i}"));
            checked += 1;
        }
        db.execute(
            "UPDATE entries SET signature = ?1 WHERE id = ?2",
            params![row.signature, row.id],
        )
        .unwrap();
        for i in 0..row.payload.len() {
            let mut bad = row.payload.clone();
            bad[i] ^= mask(i);
            db.execute(
                "UPDATE payloads SET bytes = ?1 \
                 WHERE arrival = (SELECT arrival FROM entries WHERE id = ?2)",
                params![bad, row.id],
            )
            .unwrap();
            assert_caught(&app, &row.id, &format!("payload byte {i}"));
            checked += 1;
        }
        db.execute(
            "UPDATE payloads SET bytes = ?1 \
             WHERE arrival = (SELECT arrival FROM entries WHERE id = ?2)",
            params![row.payload, row.id],
        )
        .unwrap();
        assert!(
            app.verify(None).unwrap().ok,
            "restoring row {n} did not restore the ledger"
        );
    }
    assert!(checked > 3000, "only {checked} mutations checked");
}

#[test]
fn cli_verify_reports_tampering_with_entry_id_and_reason() {
    let (home, report) = Home::demo();
    let db = home.db();
    let all = rows(&db);
    // Three entries of the report, after its report.create (so the report can still be shown).
    let create = all.iter().position(|r| hex(&r.id) == report).unwrap();
    let (a, b, c) = (&all[create + 1], &all[create + 3], &all[create + 5]);
    let mut header = a.header.clone();
    header[100] ^= 0x10;
    db.execute(
        "UPDATE entries SET header = ?1 WHERE id = ?2",
        params![header, a.id],
    )
    .unwrap();
    let mut sig = b.signature.clone();
    sig[63] ^= 0x01;
    db.execute(
        "UPDATE entries SET signature = ?1 WHERE id = ?2",
        params![sig, b.id],
    )
    .unwrap();
    db.execute(
        "UPDATE entries SET seq = seq + 1000 WHERE id = ?1",
        params![c.id],
    )
    .unwrap();
    drop(db);

    let run = home.run(&["verify"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["ok"], false);
    let problems = out["problems"].as_array().unwrap();
    let find = |id: &[u8]| {
        problems
            .iter()
            .find(|p| p["entry"] == hex(id))
            .unwrap_or_else(|| panic!("{} missing in {out}", hex(id)))["problem"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(find(&a.id).contains("stored id does not match the header"));
    assert!(find(&b.id).contains("signature does not verify"));
    assert!(find(&c.id).contains("index columns do not match"));
    // The provenance view shows the broken signature in words.
    let view = home.ok(&["report", "show", &report]);
    let statuses: Vec<&str> = view["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"]["state"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"invalid"), "{statuses:?}");
}

#[test]
fn a_damaged_database_gives_a_clear_error_not_a_crash() {
    let (home, report) = Home::demo();
    let path = home.dir.join("ledger.sqlite3");
    let original = std::fs::read(&path).unwrap();
    let commands: [&[&str]; 4] = [
        &["verify"],
        &["report", "list"],
        &["report", "show", &report],
        &["whoami"],
    ];

    // A file that is not a database at all.
    std::fs::write(&path, vec![0x5a; original.len()]).unwrap();
    for args in commands {
        let run = home.run(args);
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains("damaged"), "{args:?}: {}", run.stderr);
    }
    // Truncated, and with pages overwritten: any outcome but a panic is acceptable, and the
    // exit status says something went wrong.
    let damaged: Vec<Vec<u8>> = vec![original[..original.len() / 2].to_vec(), {
        let mut d = original.clone();
        for b in d.iter_mut().skip(4096).step_by(7) {
            *b ^= 0xa5;
        }
        d
    }];
    for bytes in damaged {
        std::fs::write(&path, &bytes).unwrap();
        for args in commands {
            let run = home.run(args);
            assert!(!run.stderr.contains("panicked"), "{args:?}: {}", run.stderr);
            assert!(
                run.code == 0 || run.code == 1 || run.code == 2,
                "{args:?}: exit {}",
                run.code
            );
            if args == ["verify"] {
                assert_ne!(
                    run.code, 0,
                    "verify passed a damaged ledger: {}",
                    run.stdout
                );
            }
        }
    }
}

/// Rows slipped into the report list (a forged study listing, say) with no entries behind them:
/// one whose report id sorts before every stored log (met while the logs are replayed) and one
/// after the last (met once they are done). Each is named by verify with its code.
#[test]
fn a_report_list_row_with_no_entries_behind_it_is_reported() {
    let (home, _report) = Home::demo();
    let db = home.db();
    let (first, last) = ([0u8; 32], [0xffu8; 32]);
    for id in [first, last] {
        db.execute(
            "INSERT INTO report_summaries (report, study, template, status, created_ms, \
             last_ms, entries) VALUES (?1, '1.2.3', 'ct-chest', 'final', 1, 2, 3)",
            params![id.to_vec()],
        )
        .unwrap();
    }
    drop(db);
    let run = home.run(&["verify"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let out = run.json();
    let problems = out["problems"].as_array().unwrap();
    for id in [first, last] {
        let p = problems
            .iter()
            .find(|p| p["entry"] == hex(&id))
            .unwrap_or_else(|| panic!("{} missing in {out}", hex(&id)));
        assert_eq!(p["code"], "report_row", "{p}");
        assert!(
            p["problem"]
                .as_str()
                .unwrap()
                .contains("a report whose entries are not stored"),
            "{p}"
        );
    }
}
