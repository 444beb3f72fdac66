//! Issue 13: sync at the scale of a department's years. A home of 60 000 reports syncs whole
//! to a new member through the real CLI — under sync/1 its first summary was one 20 MB-plus
//! message the codec refused, and nothing arrived — and two peers serving the same large log
//! to a third at once cut neither off.

use countersign_ledger::{EntryId, Kind};
use serde_json::Value;

use crate::common::{craft, ct_chest_create, now_ms, sealed_create, Home, SealedReport};
use crate::sync::{member, serve, until};

/// Reports in the large home: past the 52 000–74 000 where sync/1 cut every peer off.
const REPORTS: usize = 60_000;

fn network_of(home: &Home) -> String {
    home.ok(&["whoami"])["network"]
        .as_str()
        .unwrap()
        .to_string()
}

fn count(home: &Home, sql: &str) -> i64 {
    home.db().query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `n` reports created by the home's own key (one entry each), dated a minute apart ending
/// an hour ago, as a bundle.
fn many_reports(home: &Home, n: usize) -> Vec<u8> {
    let key = home.key();
    let secret = home.secret(&key);
    let network = network_of(home);
    let t0 = now_ms() - 3_600_000 - 60_000 * n as u64;
    let reports: Vec<SealedReport> = (0..n)
        .map(|i| {
            let p = ct_chest_create(&format!("1.2.826.0.1.3680043.10.1300.{i}"));
            sealed_create(&secret, &network, t0 + 60_000 * i as u64, &p)
        })
        .collect();
    let keys: Vec<_> = reports.iter().map(SealedReport::bundle_key).collect();
    countersign_ledger::bundle::encode_keyed(
        &keys,
        reports
            .iter()
            .map(|r| (&r.create, Some(r.payload.as_slice()))),
    )
}

/// One report of `n` entries: its create, then a chain of section writes by the home's key.
fn long_report(home: &Home, n: usize) -> Vec<u8> {
    let key = home.key();
    let secret = home.secret(&key);
    let network = network_of(home);
    let t0 = now_ms() - 3_600_000 - 1000 * n as u64;
    let create = ct_chest_create("1.2.826.0.1.3680043.10.1300.long");
    let report = sealed_create(&secret, &network, t0, &create);
    let log = report.log().to_hex();
    let mut head: EntryId = report.log();
    let mut entries = vec![(report.create.clone(), report.payload.clone())];
    for i in 1..n {
        let p = serde_json::to_vec(&serde_json::json!({
            "section": "findings",
            "text": format!("Version {i} of the findings."),
        }))
        .unwrap();
        let p = report.seal(Kind::SectionWrite, &p);
        let e = craft(
            &secret,
            &network,
            &log,
            i as u64 + 1,
            t0 + 1000 * i as u64,
            Kind::SectionWrite,
            vec![head],
            &p,
        );
        head = e.id();
        entries.push((e, p));
    }
    countersign_ledger::bundle::encode_keyed(
        &[report.bundle_key()],
        entries.iter().map(|(e, p)| (e, Some(p.as_slice()))),
    )
}

fn peers_of(home: &Home) -> Vec<Value> {
    home.ok(&["sync", "status"])["peers"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn sixty_thousand_reports_sync_whole_to_a_new_member_in_bounded_messages() {
    let (a, _) = Home::demo();
    let bundle = many_reports(&a, REPORTS);
    let imported = a.import(&bundle);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let reports = "SELECT COUNT(*) FROM entries WHERE kind = 'report.create'";
    let held = count(&a, reports);
    assert!(held > REPORTS as i64, "{held}");

    let serving = serve(&a, &[]);
    let b = member(&a, "Dr New", "radiologist");
    // Every message of the exchange is within its bound (the codec refuses any other and
    // would cut the sender off), and every log arrives: none is dropped from a summary.
    let synced = b.ok(&[
        "sync",
        "--peer",
        &serving.addr,
        "--once",
        "--timeout",
        "600",
    ]);
    assert_eq!(count(&b, reports), held, "{synced}");
    assert_eq!(
        count(&b, "SELECT COUNT(*) FROM entries"),
        count(&a, "SELECT COUNT(*) FROM entries")
    );
    // Neither side holds anything against the other.
    for home in [&a, &b] {
        for p in peers_of(home) {
            assert!(p.get("cut_off").is_none(), "{p}");
        }
    }
    // A new report on A reaches B at the next sync without re-sending the 60 000.
    let study = a.ok(&["studies"])[0]["study"].as_str().unwrap().to_string();
    a.new_report(&study, "ct-chest");
    let again = b.ok(&["sync", "--peer", &serving.addr, "--once"]);
    assert_eq!(again["received"], 1, "{again}");
}

#[test]
fn two_peers_serving_the_same_large_log_at_once_cut_neither_off() {
    let (a, _) = Home::demo();
    let imported = a.import(&long_report(&a, 10_000));
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let serving_a = serve(&a, &[]);
    let b = member(&a, "Dr Bea", "radiologist");
    b.ok(&[
        "sync",
        "--peer",
        &serving_a.addr,
        "--once",
        "--timeout",
        "300",
    ]);
    let serving_b = serve(&b, &[]);
    let total = count(&a, "SELECT COUNT(*) FROM entries");
    assert_eq!(count(&b, "SELECT COUNT(*) FROM entries"), total);

    // C dials both at once: both pulls fetch the same 10 000 entries, each batch of one
    // arriving as duplicates of the other's.
    let c = member(&a, "Dr Cy", "radiologist");
    b.ok(&["sync", "--peer", &serving_a.addr, "--once"]);
    let _serving_c = serve(&c, &[&serving_a.addr, &serving_b.addr]);
    until("C to converge with both", || {
        count(&c, "SELECT COUNT(*) FROM entries") == total + 1
            && peers_of(&c)
                .iter()
                .filter(|p| !p["last_reconcile_ms"].is_null())
                .count()
                == 2
    });
    for p in peers_of(&c) {
        assert!(p.get("cut_off").is_none(), "{p}");
    }
}

/// The ledger of `home` put back as the builds before migration 21 kept it (erased images
/// forgotten once their files were gone, no erasure marks, no erased studies; before
/// migration 22, no index of grant entries; before migration 23, no Issuer of Patient ID), at
/// schema version 20.
fn as_schema_20(home: &Home) {
    home.db()
        .execute_batch(
            "BEGIN;
             ALTER TABLE instances DROP COLUMN issuer;
             DROP INDEX entries_grants;
             CREATE TABLE erased_images_20 (sha256 BLOB PRIMARY KEY) WITHOUT ROWID;
             INSERT INTO erased_images_20 SELECT sha256 FROM erased_images WHERE file_gone = 0;
             DROP TABLE erased_images;
             ALTER TABLE erased_images_20 RENAME TO erased_images;
             DROP TABLE erased_studies;
             PRAGMA user_version = 20;
             COMMIT;",
        )
        .unwrap();
}

/// The ledger of `home` put back as the builds before migration 20 kept it (payloads once per
/// hash in a table with a hash index, the roster's fork evidence payload among them; the
/// report list's rows keyed by report id), at schema version 19: an old home, as an upgrade
/// finds it.
fn as_schema_19(home: &Home) {
    as_schema_20(home);
    home.db()
        .execute_batch(
            "BEGIN;
             CREATE TABLE payloads_19 (hash BLOB NOT NULL UNIQUE, bytes BLOB NOT NULL);
             INSERT OR IGNORE INTO payloads_19 SELECT e.payload_hash, p.bytes
                 FROM entries e JOIN payloads p ON p.arrival = e.arrival ORDER BY e.arrival;
             INSERT OR IGNORE INTO payloads_19
                 SELECT substr(f.second_header, length(f.second_header) - 39, 32), fp.bytes
                 FROM forks f JOIN fork_payloads fp USING (log, author, seq);
             DROP TABLE payloads; DROP TABLE fork_payloads;
             ALTER TABLE payloads_19 RENAME TO payloads;
             CREATE TABLE report_summaries_19 (
                 report     BLOB PRIMARY KEY,
                 study      TEXT NOT NULL,
                 template   TEXT NOT NULL,
                 status     TEXT NOT NULL,
                 created_ms INTEGER NOT NULL,
                 last_ms    INTEGER NOT NULL,
                 entries    INTEGER NOT NULL
             ) WITHOUT ROWID;
             INSERT INTO report_summaries_19 SELECT report, study, template, status,
                 created_ms, last_ms, entries FROM report_summaries;
             DROP TABLE report_summaries;
             ALTER TABLE report_summaries_19 RENAME TO report_summaries;
             CREATE INDEX report_summaries_by_change ON report_summaries (last_ms, report);
             CREATE INDEX report_summaries_by_study
                 ON report_summaries (study, created_ms, report);
             PRAGMA user_version = 19;
             COMMIT;",
        )
        .unwrap();
}

/// The ledger of `home` put back as the build before migration 19 kept it (per-log indexes
/// and heads keyed by the log id, payloads in a b-tree keyed by hash, no `logs` table), at
/// schema version 18: an old home, as an upgrade finds it.
fn as_schema_18(home: &Home) {
    as_schema_19(home);
    home.db()
        .execute_batch(
            "BEGIN;
             CREATE TABLE entries_18 (
                 arrival      INTEGER PRIMARY KEY AUTOINCREMENT,
                 id           BLOB NOT NULL UNIQUE,
                 log          BLOB NOT NULL,
                 author       BLOB NOT NULL,
                 seq          INTEGER NOT NULL,
                 kind         TEXT NOT NULL,
                 timestamp_ms INTEGER NOT NULL,
                 payload_hash BLOB NOT NULL,
                 header       BLOB NOT NULL,
                 signature    BLOB NOT NULL,
                 UNIQUE (log, author, seq)
             );
             INSERT INTO entries_18 SELECT arrival, id, log, author, seq, kind, timestamp_ms,
                 payload_hash, header, signature FROM entries ORDER BY arrival;
             CREATE TABLE heads_18 (log BLOB NOT NULL, id BLOB NOT NULL, PRIMARY KEY (log, id))
                 WITHOUT ROWID;
             INSERT INTO heads_18 SELECT l.log, h.id FROM heads h JOIN logs l USING (log_no);
             CREATE TABLE payloads_18 (hash BLOB PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID;
             INSERT INTO payloads_18 SELECT hash, bytes FROM payloads;
             DROP TABLE entries; DROP TABLE heads; DROP TABLE payloads; DROP TABLE logs;
             ALTER TABLE entries_18 RENAME TO entries;
             ALTER TABLE heads_18 RENAME TO heads;
             ALTER TABLE payloads_18 RENAME TO payloads;
             CREATE INDEX entries_by_log ON entries (log, arrival);
             PRAGMA user_version = 18;
             COMMIT;",
        )
        .unwrap();
}

/// Issue 13, the storage pass: a home written before the per-log indexes were keyed by a
/// local log number (reports written, signed, one erased, a sealed report imported) opens in
/// this build, is migrated, and shows the same: `verify`, the report list, every report, and
/// every entry row; and it goes on taking entries.
#[test]
fn a_home_from_before_log_numbers_migrates_and_shows_the_same() {
    migrates_and_shows_the_same(as_schema_18, 18);
}

/// Issue 13, the storage pass, part two: the same for a home written before payloads and the
/// report list's rows were keyed by their entry's arrival and their log's number (schema 19).
#[test]
fn a_home_from_before_payloads_by_arrival_migrates_and_shows_the_same() {
    migrates_and_shows_the_same(as_schema_19, 19);
}

/// The erasure marks (2026-12-04): the same for a home written before erased images
/// and studies were kept with their erasure's mark (schema 20).
#[test]
fn a_home_from_before_erasure_marks_migrates_and_shows_the_same() {
    migrates_and_shows_the_same(as_schema_20, 20);
}

/// A home written by this build, put back to schema `old` by `downgrade`, opens, migrates and
/// shows the same as before.
fn migrates_and_shows_the_same(downgrade: fn(&Home), old: u32) {
    let (home, report) = Home::demo();
    let second = home.new_report("1.2.826.0.1.3680043.10.1301.1", "ct-chest");
    home.fill_every_section(&second);
    let third = home.new_report("1.2.826.0.1.3680043.10.1301.2", "ct-chest");
    home.write(&third, "findings", "To be erased.");
    home.ok(&["erase", "--report", &third, "--basis", "GDPR Art. 17(1)(a)"]);
    home.import(&many_reports(&home, 3)).ok();
    let reports: Vec<String> = home
        .ok(&["report", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["report"].as_str().unwrap().to_string())
        .collect();
    assert!(
        reports.len() >= 5 && reports.contains(&report),
        "{reports:?}"
    );
    let rows = |home: &Home| -> Vec<Vec<rusqlite::types::Value>> {
        let db = home.db();
        // Payloads by hash before migration 20, by the entry's arrival from it on.
        let version: u32 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        let join = if version < 20 {
            "p.hash = e.payload_hash"
        } else {
            "p.arrival = e.arrival"
        };
        let mut stmt = db
            .prepare(&format!(
                "SELECT e.arrival, e.id, e.log, e.author, e.seq, e.kind, e.header, e.signature, \
                 p.bytes FROM entries e LEFT JOIN payloads p ON {join} ORDER BY e.arrival"
            ))
            .unwrap();
        let rows = stmt
            .query_map([], |r| (0..9).map(|i| r.get(i)).collect())
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        rows
    };
    let shown = |home: &Home| {
        let mut verify = home.ok(&["verify"]);
        // How long it took is the one thing that may differ.
        verify.as_object_mut().unwrap().remove("seconds");
        let mut out = vec![verify, home.ok(&["report", "list"])];
        out.extend(reports.iter().map(|r| home.ok(&["report", "show", r])));
        out
    };
    // The heads each log has (what appends, checkpoints and announcements start from; report
    // views derive theirs from the entries).
    let heads = |home: &Home| -> Vec<(Vec<u8>, Vec<u8>)> {
        let db = home.db();
        let mut stmt = db
            .prepare("SELECT l.log, h.id FROM heads h JOIN logs l USING (log_no) ORDER BY 1, 2")
            .unwrap();
        let heads = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        heads
    };
    let (before, before_rows, before_heads) = (shown(&home), rows(&home), heads(&home));
    assert!(
        before_heads.len() >= reports.len(),
        "{}",
        before_heads.len()
    );
    assert_eq!(before[0]["ok"], true, "{}", before[0]);

    downgrade(&home);
    let version = |home: &Home| -> u32 {
        home.db()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&home), old);
    assert_eq!(
        rows(&home),
        before_rows,
        "the old layout holds the same rows"
    );
    let after = shown(&home);
    assert!(version(&home) > old, "migrated on open");
    // Compared item by item, naming the first that differs (the whole is long).
    assert_eq!(after.len(), before.len());
    for (i, (a, b)) in after.iter().zip(&before).enumerate() {
        assert!(a == b, "item {i} differs after the migration");
    }
    assert_eq!(rows(&home), before_rows);
    assert_eq!(heads(&home), before_heads);
    // Still takes entries, on a migrated log and a new one.
    home.write(&report, "impression", "Added after the upgrade.");
    let fourth = home.new_report("1.2.826.0.1.3680043.10.1301.3", "ct-chest");
    assert_eq!(home.ok(&["verify"])["ok"], true);
    let list = home.ok(&["report", "list"]);
    assert!(list.to_string().contains(&fourth), "{list}");
}
