//! The report list's rows: a row written away from its report's log number is a stray, met
//! by the pass over the rows and by neither the walk in report order nor a lookup.

use countersign_ledger::Hash;

use super::summary;
use crate::Store;

/// A row of the report list written into the file by hand away from its report's log number
/// (at a number no log has, or at another report's) is a stray: the walk in report order does
/// not meet it, the pass over the rows names it, and a lookup by report does not take it for
/// the report's row.
#[test]
fn rows_away_from_their_logs_number_are_strays() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("l.sqlite3")).unwrap();
    let (home, third, other) = (Hash([1; 32]), Hash([3; 32]), Hash([2; 32]));
    store
        .write(|db| {
            db.put_summary(&summary(home, "1.2.1", 1))?;
            db.put_summary(&summary(third, "1.2.1", 1))
        })
        .unwrap();
    let conn = store.db().conn();
    // At a number no log has; then at `third`'s number.
    for log_no in [1000, 2] {
        if log_no == 2 {
            conn.execute(
                "UPDATE report_summaries SET report = ?1 WHERE log_no = 2",
                [other.as_bytes()],
            )
            .unwrap();
        } else {
            conn.execute(
                "INSERT INTO report_summaries (log_no, report, study, template, status, \
                 created_ms, last_ms, entries) VALUES (?1, ?2, 'x', 'y', 'final', 1, 2, 3)",
                rusqlite::params![log_no, other.as_bytes()],
            )
            .unwrap();
        }
        let db = store.db();
        let (strays, next) = db.summary_strays(0, 10).unwrap();
        assert_eq!(next, None);
        assert_eq!(
            strays.iter().map(|r| r.report).collect::<Vec<_>>(),
            vec![other],
            "at {log_no}"
        );
        assert!(db
            .summaries_by_report(None, 10)
            .unwrap()
            .iter()
            .all(|r| r.report != other));
        assert_eq!(db.summary(&other).unwrap(), None);
        if log_no == 2 {
            assert_eq!(db.summary(&third).unwrap(), None, "the row names another");
            conn.execute(
                "UPDATE report_summaries SET report = ?1 WHERE log_no = 2",
                [third.as_bytes()],
            )
            .unwrap();
        } else {
            conn.execute("DELETE FROM report_summaries WHERE log_no = ?1", [log_no])
                .unwrap();
        }
    }
    // Paged: a page as long as the bound says there may be more.
    let db = store.db();
    assert_eq!(db.summary_strays(0, 10).unwrap(), (vec![], None));
    assert_eq!(db.summary_strays(0, 1).unwrap(), (vec![], Some(1)));
    assert_eq!(db.summary_strays(1, 1).unwrap(), (vec![], Some(2)));
    assert_eq!(db.summary_strays(2, 1).unwrap(), (vec![], None));
    assert_eq!(db.summaries_by_report(None, 10).unwrap().len(), 2);
}
