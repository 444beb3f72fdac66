//! Bundle import's entry points: a file (or an audit archive holding one), bytes, or a batch
//! whose signatures were checked already; all or nothing, the outcome logged.

use super::*;

impl Home {
    /// Imports a bundle file (or an audit archive holding one), refusing files larger than
    /// [`MAX_BUNDLE_BYTES`] before reading them. The file is streamed: what is held in memory
    /// is the entries it decodes to, not its bytes.
    pub fn bundle_import_file(&mut self, path: &std::path::Path) -> Result<ImportReport> {
        let context = || format!("reading {}", path.display());
        let mut file = std::fs::File::open(path).map_err(AppError::io(context()))?;
        let size = file.metadata().map_err(AppError::io(context()))?.len();
        if size > MAX_BUNDLE_BYTES {
            return Err(AppError::InvalidInput(format!(
                "{} is {size} bytes; bundles are limited to {MAX_BUNDLE_BYTES}",
                path.display()
            )));
        }
        // An audit archive (`export --format bundle`) carries the bundle inside; its first
        // 512 bytes say so.
        let mut head = Vec::with_capacity(512);
        (&mut file)
            .take(512)
            .read_to_end(&mut head)
            .map_err(AppError::io(context()))?;
        file.rewind().map_err(AppError::io(context()))?;
        tracing::debug!(bytes = size, "bundle import started");
        // Never more than the size checked above: a device (which says 0) or a file still
        // growing would otherwise be read without end.
        let input = std::io::BufReader::new(file.take(size));
        if !crate::export::is_audit_archive(&head) {
            return self.import_logged(Authenticated::read(input));
        }
        let (batch, text) =
            match crate::export::read_bundle_in_archive(input, size, |m| Authenticated::read(m)) {
                Ok((batch, text)) => (Ok(batch), Some(text)),
                Err(e) => (Err(e), None),
            };
        let carried = batch
            .as_ref()
            .map(Authenticated::carried)
            .unwrap_or_default();
        let mut report = self.import_logged(batch)?;
        // The archive's text for people, held to the entries just stored (`archive_text`).
        if let Some(text) = text {
            // The entries are stored whatever it says: a text that cannot be rendered here
            // (a key not opened, say) is said to be unchecked, never a failed import.
            report.provenance_text = Some(self.check_archive_text(&text, &carried).unwrap_or_else(
                |e| ProvenanceText::NotChecked {
                    reason: format!("it could not be rendered here: {e}"),
                },
            ));
        }
        Ok(report)
    }
    /// Imports bundle bytes. Every signature is checked before anything is stored, then every
    /// entry passes the ledger and report rules inside one transaction: if any entry is refused,
    /// nothing is stored. Forks are kept as evidence, not refused.
    pub fn bundle_import(&mut self, bytes: &[u8]) -> Result<ImportReport> {
        tracing::debug!(bytes = bytes.len(), "bundle import started");
        self.import_logged(Authenticated::from_bundle(bytes))
    }

    /// Stores an authenticated batch (or passes on why there is none), logging the outcome.
    fn import_logged(&mut self, batch: Result<Authenticated>) -> Result<ImportReport> {
        let result = batch.and_then(|batch| self.import_authenticated(batch));
        // A rotation this home asked for may have come with it: switch to the new key.
        // The import is committed either way: a rotation that cannot be adopted now is said,
        // and adopted later (the next unlock or command).
        if result.is_ok() {
            if let Err(e) = self.adopt_rotation() {
                tracing::warn!(
                    error = e.code(),
                    "a rotation of this home's key could not be adopted"
                );
            }
        }
        match &result {
            Ok(r) => tracing::info!(
                new = r.new,
                duplicate = r.duplicate,
                forks = r.forks.len(),
                "bundle imported"
            ),
            // Info, not warn: the caller is told too (the CLI's one error line).
            Err(e) => tracing::info!(error = %e.loggable(), "bundle refused: nothing stored"),
        }
        result
    }

    /// The second half of [`Home::bundle_import`]: stores entries whose signatures were
    /// checked (perhaps on another thread, while this home stored the batch before).
    pub fn import_authenticated(&mut self, batch: Authenticated) -> Result<ImportReport> {
        self.import_entries(batch.entries, batch.keys, Intake::Strict)
            .map(|(report, _)| report)
    }
}
