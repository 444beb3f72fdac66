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
        self.store
            .write(|db| db.save_draft(&report, section, text, now_ms()))
            .map_err(Into::into)
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
