//! Bundle export: the roster and reports, with fork evidence and (unless asked not to) the
//! reports' data keys, as bundle bytes — what `export` and the AI audit package write.

use super::*;

impl Home {
    /// Exports the roster and one report (or every report), with fork evidence and the
    /// reports' data keys, as bundle bytes.
    pub fn bundle_export(&self, report: Option<EntryId>) -> Result<Vec<u8>> {
        self.bundle_export_with(report, true)
    }

    /// [`Home::bundle_export`]; without `keys`, a ciphertext-only bundle: it verifies offline
    /// (every signature and hash link) but its sealed payloads cannot be read, and an erasure
    /// shreds it without anyone touching it (the key it needs is destroyed everywhere).
    pub fn bundle_export_with(&self, report: Option<EntryId>, keys: bool) -> Result<Vec<u8>> {
        let db = self.store().db();
        let network = self.state()?.network()?;
        let reports = match report {
            Some(r) => vec![r],
            None => db
                .log_ids()?
                .into_iter()
                .filter(|l| *l != network)
                .collect(),
        };
        self.bundle_of_reports(&reports, keys)
    }

    /// The roster and the named reports (each whole, with fork evidence, and with their data
    /// keys when `keys`) as bundle bytes: what `bundle_export` and the AI audit package write.
    /// Read in one read transaction (`Store::read`), as `verify` is: beside a node storing a
    /// peer's entries, read log by log, a bundle could hold a report's new entries without
    /// the roster entry that admitted their author.
    pub(crate) fn bundle_of_reports(&self, reports: &[EntryId], keys: bool) -> Result<Vec<u8>> {
        self.with_keys_open(keys, || {
            self.store()
                .read(|db| Self::bundle_bytes(db, reports, keys))
        })
    }

    /// [`Home::bundle_of_reports`] from `db`, with the data keys open (or left closed: no
    /// keys asked for).
    fn bundle_bytes(
        db: &countersign_store::Db<'_>,
        reports: &[EntryId],
        keys: bool,
    ) -> Result<Vec<u8>> {
        let network = LedgerState::load(db)?.network()?;
        let mut logs = vec![network];
        for r in reports {
            if *r == network {
                continue;
            }
            if db.get(r)?.is_none() {
                return Err(AppError::NotFound {
                    what: format!("report {r}"),
                });
            }
            logs.push(*r);
        }
        let mut entries: Vec<(Entry, Option<Vec<u8>>)> = Vec::new();
        for log in &logs {
            for row in db.log_entries(log)? {
                let entry = decode_row(&row).map_err(|reason| {
                    AppError::InvalidInput(format!(
                        "stored entry is damaged ({reason}); run verify"
                    ))
                })?;
                entries.push((entry, row.payload));
            }
        }
        // Evidence goes as its signed header, with no payload (none is needed to prove the
        // fork) — but for the roster log's, whose payload the roster reads.
        for log in &logs {
            for fork in db.forks_of(log)? {
                let sig: Option<[u8; 64]> = fork.second_signature.as_slice().try_into().ok();
                if let Some(Ok(entry)) =
                    sig.map(|sig| Entry::decode_unverified(&fork.second_header, &sig))
                {
                    let payload = db.fork_payload(&fork)?;
                    entries.push((entry, payload));
                }
            }
        }
        // The keys of the reports exported, beside their payloads (never in a log).
        let mut data_keys = Vec::new();
        if keys {
            for log in logs.iter().filter(|l| **l != network) {
                if let Some(key) = db.report_key(log)? {
                    data_keys.push((*log, key));
                }
            }
        }
        tracing::info!(
            logs = logs.len(),
            entries = entries.len(),
            keys = data_keys.len(),
            "bundle exported"
        );
        Ok(bundle::encode_keyed(
            &data_keys,
            entries.iter().map(|(e, p)| (e, p.as_deref())),
        ))
    }
}
