//! Unsigned text as it is typed: kept in the home's ledger database (owner-only, like every
//! signed entry) rather than in the webview's storage, so a crash or a closed window loses
//! nothing and no patient text sits in a browser profile. A section's draft is dropped when
//! that section is signed.

use std::collections::BTreeMap;

use countersign_ledger::EntryId;

use crate::home::now_ms;
use crate::{Home, Result};

impl Home {
    /// Keeps the text typed into a section of a report, replacing the last one kept.
    pub fn draft_save(&mut self, report: EntryId, section: &str, text: &str) -> Result<()> {
        // A plain write: drafts are not entries, and the validation state stays as it is.
        self.store.write(|db| {
            // Under the write lock, so an erasure is either committed (and refuses this) or
            // comes after (and deletes it): an editor still open on a report erased by
            // another program, or by a peer's erasure, wrote its text back for good (found
            // by review, 2026-12-05).
            if let Some(erasure) = db.erasure_of(&report)? {
                return Err(countersign_report::ReportRuleError::ReportErased { erasure }.into());
            }
            Ok(db.save_draft(&report, section, text, now_ms())?)
        })
    }

    /// The drafts kept for a report, by section.
    pub fn drafts(&self, report: EntryId) -> Result<BTreeMap<String, String>> {
        Ok(self.store.db().drafts(&report)?.into_iter().collect())
    }

    /// Drops a section's draft once `text` is signed, if that is what it holds: a draft saved
    /// since by another handle on the home (the desktop's editor, typed on while the signature
    /// was made) is unsigned work, kept. Dropped whatever it held, a newer draft was lost
    /// (found by review, 2026-12-04).
    pub(crate) fn draft_signed(
        &mut self,
        report: EntryId,
        section: &str,
        text: &str,
    ) -> Result<()> {
        self.store
            .write(|db| db.drop_draft_holding(&report, section, text))
            .map_err(Into::into)
    }

    /// Checkpoints the WAL and truncates it to nothing, unless another connection is writing
    /// or reading (then at once, without waiting: what it holds goes at the next truncation or
    /// automatic checkpoint), so that older page versions stay in no file. Why: each draft save
    /// (every few hundred milliseconds while the user types) left a clear copy of the section
    /// in a WAL frame, and the WAL is checkpointed only every 64 MiB, so a laptop stolen with
    /// the desktop open and its key locked (or a backup taken during the day) held, version by
    /// version, the text of sections long signed and sealed (found by review, 2026-12-05).
    /// Called when the key locks — with the key unlocked, whoever holds the laptop reads the
    /// reports anyway — and by the desktop once its sync node (another connection) has stopped;
    /// not on the signing path, which it would hold up. `what` names the moment in the log.
    pub fn forget_wal(&self, what: &str) {
        match self.store.try_truncate_wal() {
            Ok(true) => {}
            Ok(false) => tracing::info!(after = what, "WAL in use: not truncated"),
            Err(e) => tracing::warn!(after = what, error = %e, "WAL not truncated"),
        }
    }

    /// Drops a section's draft (typed back to its signed text).
    pub fn draft_drop(&mut self, report: EntryId, section: &str) -> Result<()> {
        self.store
            .write(|db| db.drop_draft(&report, section))
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    /// Found by review (2026-12-05): an editor still open on a report that another program
    /// (or a peer's erasure, taken in by the desktop's own sync) erased saved its text again
    /// on its next keystroke or on leaving the report, and the draft of an erased report
    /// stayed for good (nothing can sign it, and the erasure's clean-up had run). A draft of an
    /// erased report is refused (`report_erased`). Fails if it is kept.
    #[test]
    fn a_draft_of_an_erased_report_is_refused_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
        home.draft_save(report, "findings", "Typed before.")
            .unwrap();
        home.erase(&crate::DataSubject::Report(report), "GDPR Art. 17(1)(a)")
            .unwrap();
        assert!(
            home.drafts(report).unwrap().is_empty(),
            "the erasure deletes drafts"
        );
        let refused = home
            .draft_save(report, "findings", "Typed after.")
            .unwrap_err();
        assert_eq!(refused.rule(), Some("report_erased"), "{refused}");
        assert!(home.drafts(report).unwrap().is_empty());
    }

    /// The files of `dir` (one level down too) whose bytes hold `needle`.
    fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
        let mut found = Vec::new();
        for entry in walk(dir) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(entry.display().to_string());
            }
        }
        found
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else {
                files.push(path);
            }
        }
        files
    }

    /// Found by review (2026-12-05): every draft save left the section's text in a WAL frame
    /// until the next checkpoint (every 64 MiB), so a laptop stolen with the desktop open and
    /// locked held the text of sections long signed and sealed, version by version. Locking
    /// the key truncates the WAL; a reader on another connection (the desktop's sync node)
    /// does not hold the lock up, and the truncation is done once it has gone. Fails if the
    /// truncation is removed, or if it waits for the reader.
    #[test]
    fn typed_versions_leave_no_file_once_the_key_locks_and_no_reader_holds_it_up() {
        let dir = tempfile::tempdir().unwrap();
        let mut home = crate::tests::founded(dir.path());
        let report = home.report_new("1.2.3", "ct-chest", &[]).unwrap();
        for typed in ["Nodule TYPED-ONE", "Nodule TYPED-TWO", "Nodule."] {
            home.draft_save(report, "findings", typed).unwrap();
        }
        home.report_write(report, "findings", "Nodule.").unwrap();
        // Typed on another section and left unsigned: in the drafts table (documented, in
        // clear), its earlier versions only in the WAL.
        for typed in ["Impression TYPED-THREE", "Impression still unsigned"] {
            home.draft_save(report, "impression", typed).unwrap();
        }
        assert!(
            !files_holding(dir.path(), b"TYPED-ONE").is_empty(),
            "the saves are on disk (else this test shows nothing)"
        );

        // Another connection in a read transaction (as the sync node's may be): the lock
        // neither waits for it (the busy timeout is 10 s) nor truncates what it reads.
        let reader = rusqlite::Connection::open(dir.path().join("ledger.sqlite3")).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))
            .unwrap();
        let started = std::time::Instant::now();
        home.lock();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "locking waited for a reader: {:?}",
            started.elapsed()
        );
        reader.execute_batch("COMMIT").unwrap();
        drop(reader);
        // Once the reader has gone (the desktop stops its node, then forgets the WAL).
        home.forget_wal("the test's reader gone");
        for gone in [&b"TYPED-ONE"[..], b"TYPED-TWO", b"TYPED-THREE"] {
            assert_eq!(files_holding(dir.path(), gone), Vec::<String>::new());
        }
        assert!(!files_holding(dir.path(), b"Impression still unsigned").is_empty());

        // And with no reader, locking alone truncates.
        home.draft_save(report, "impression", "Impression TYPED-FOUR")
            .unwrap();
        home.draft_save(report, "impression", "Impression again")
            .unwrap();
        assert!(!files_holding(dir.path(), b"TYPED-FOUR").is_empty());
        home.lock();
        assert_eq!(
            files_holding(dir.path(), b"TYPED-FOUR"),
            Vec::<String>::new()
        );
    }
}
