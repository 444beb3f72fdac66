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
}
