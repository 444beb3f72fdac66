//! The AI reviewer's figures (`ai stats`), read from the derived AI outcome rows and held to
//! the stored bytes of every entry they count.

use std::collections::HashMap;

use countersign_ledger::EntryId;
use countersign_report::payload::Decision;

use crate::error::{AppError, Result};
use crate::home::Home;

impl Home {
    /// The AI reviewer's figures (see [`countersign_report::oversight`]), read from the AI
    /// outcome rows ([`crate::projection::ai`]) the filter and `modality` select (on studies of
    /// which this home holds an image of that modality).
    ///
    /// What this checks: every counted proposal's and review's stored bytes (header, signature,
    /// payload) are hashed in the pass that reads the rows and held to the digest its row kept
    /// when it was made from them, verified; an entry whose bytes changed since (or that is no
    /// longer stored) is excluded and listed, never counted. What it does not: signatures are
    /// not verified again here (that is 200 000 ed25519 checks at 100 000 proposals), so an
    /// entry rewritten together with its row is caught by `verify`, which checks every
    /// signature and recomputes every row.
    pub fn ai_stats(
        &self,
        filter: &countersign_report::oversight::Filter,
        modality: Option<&str>,
    ) -> Result<countersign_report::oversight::AiStats> {
        use countersign_report::oversight::{ai_stats_of, reviewer_label, Outcome, ReviewOutcome};
        use countersign_store::AiOutcomeSelection;

        let db = self.store().db();
        if !crate::projection::ai::current(&db)? {
            // Opening the home rebuilds the rows, so only a table changed behind this
            // process's back gets here: the figures then come the slow way, from every report
            // re-checked.
            tracing::warn!("the AI outcome rows are not current: ai stats projects every report (`countersign reindex` rebuilds them)");
            return self.ai_stats_from_reports(filter, modality);
        }
        let selection = AiOutcomeSelection {
            model: filter.model.as_deref(),
            since_ms: filter.since_ms,
            modality,
        };
        // The stored bytes are read on a second connection while this one reads the rows
        // (two cores, half the wait). The two reads are two snapshots: an entry written or
        // erased between them can look missing or changed, so whatever the scan flags is read
        // again here before it is excluded (a lookup each, for the few that are flagged).
        let path = self.store().path().to_path_buf();
        let (rows, intact) = std::thread::scope(|scope| {
            let scan = scope.spawn(move || {
                let other = countersign_store::Store::open(&path)?;
                let intact = intact_ai_entries(&other.db());
                intact
            });
            let rows = db.ai_outcomes(&selection);
            (rows, scan.join())
        });
        let rows = rows?;
        let intact = intact.map_err(|_| {
            AppError::InvalidInput("reading the AI entries failed unexpectedly".into())
        })??;
        let state = self.state()?;
        let roster = state.roster();
        // One roster lookup per key, not per row: "name (key)" and the model's vendor.
        type Named = (String, Option<String>);
        fn lookup<'m>(
            authors: &'m mut HashMap<Vec<u8>, Named>,
            roster: &countersign_ledger::Roster,
            bytes: &[u8],
        ) -> &'m Named {
            if !authors.contains_key(bytes) {
                let key = <[u8; 32]>::try_from(bytes)
                    .ok()
                    .and_then(|k| countersign_ledger::PublicKey::from_bytes(&k).ok());
                let found = match key {
                    Some(k) => {
                        let a = countersign_report::author(roster, &k);
                        (reviewer_label(&a), a.ai_model.map(|m| m.vendor))
                    }
                    // Only a damaged row says this (verify names it).
                    None => (format!("unknown author ({})", hex::encode(bytes)), None),
                };
                authors.insert(bytes.to_vec(), found);
            }
            &authors[bytes]
        }
        let mut authors: HashMap<Vec<u8>, Named> = HashMap::new();
        // Why an entry its row says counts does not: its bytes are not those the row was made
        // from, verified then (checked again on this connection before it is said).
        let held = |id: &EntryId, kept: &Option<Vec<u8>>, why: Option<String>| -> Result<_> {
            let Some(kept) = kept else { return Ok(why) };
            if why.is_some()
                || intact
                    .get(id)
                    .is_some_and(|now| now.as_slice() == kept.as_slice())
            {
                return Ok(why);
            }
            Ok(match intact_entry(&db, id)? {
                Some(now) if now.as_slice() == kept.as_slice() => None,
                Some(_) => Some("changed since it was verified: run verify".into()),
                None => Some("no longer stored intact since it was verified: run verify".into()),
            })
        };
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(rows.len());
        for row in rows {
            let vendor = match row.manufacturer {
                Some(m) => Some(m),
                None => lookup(&mut authors, roster, &row.author).1.clone(),
            };
            let review = match row.review {
                Some(r) => {
                    let decision = crate::projection::ai::decision_of(&r.decision);
                    let reviewer = lookup(&mut authors, roster, &r.reviewer).0.clone();
                    let why = held(&r.entry, &r.digest, r.unverified)?.or_else(|| {
                        decision
                            .is_none()
                            .then(|| "its AI row is damaged: run `countersign reindex`".to_string())
                    });
                    Some(ReviewOutcome {
                        entry: r.entry,
                        decision: decision.unwrap_or(Decision::Reject),
                        time_ms: r.time_ms,
                        reviewer,
                        words_changed: r.words_changed,
                        unverified: why,
                    })
                }
                None => None,
            };
            outcomes.push(Outcome {
                entry: row.entry,
                report: Some(row.log),
                received: row.received,
                vendor,
                model: row.model,
                version: row.version,
                time_ms: row.time_ms,
                unverified: held(&row.entry, &row.digest, row.unverified)?,
                review,
            });
        }
        // The order `report show` lists them in, report by report.
        outcomes.sort_unstable_by_key(|a| (a.report, a.time_ms, a.entry));
        Ok(ai_stats_of(outcomes, filter))
    }

    /// [`Home::ai_stats`] computed the slow way: every report of [`Home::ai_reports`]
    /// projected, every entry of it re-checked. The figures must be the same.
    pub fn ai_stats_from_reports(
        &self,
        filter: &countersign_report::oversight::Filter,
        modality: Option<&str>,
    ) -> Result<countersign_report::oversight::AiStats> {
        use countersign_report::oversight::{ai_stats_of, Outcome};
        let views = self.ai_reports(modality)?;
        let mut outcomes: Vec<Outcome> = views
            .iter()
            .flat_map(|v| v.ai.iter().map(|ai| Outcome::of(ai, Some(v.report))))
            .collect();
        outcomes.sort_by_key(|a| (a.report, a.time_ms, a.entry));
        Ok(ai_stats_of(outcomes, filter))
    }

    /// Every report this home holds that granted a model access (a model writes nowhere else)
    /// or received an AI result as DICOM SR and holds an AI result, optionally only on studies
    /// of `modality`: what `ai stats` and the audit package read.
    pub fn ai_reports(
        &self,
        modality: Option<&str>,
    ) -> Result<Vec<countersign_report::ReportView>> {
        let mut views = Vec::new();
        for log in self.store().db().logs_with_ai()? {
            let view = self.report_show(log)?;
            if view.ai.is_empty() {
                continue;
            }
            if let Some(wanted) = modality {
                let instances = self.store().db().instances(Some(&view.study))?;
                if !instances
                    .iter()
                    .any(|i| i.modality.as_deref() == Some(wanted))
                {
                    continue;
                }
            }
            views.push(view);
        }
        Ok(views)
    }
}

/// The digest ([`crate::projection::ai::entry_digest`]) of every stored AI entry whose payload
/// is intact (stored, and hashing to the hash its header commits to), by id: two sequential
/// passes, over the AI entries and over the payloads, each entry's bytes hashed as they are
/// read and none held.
fn intact_ai_entries(
    db: &countersign_store::Db<'_>,
) -> Result<countersign_ledger::IdMap<[u8; 32]>> {
    use crate::projection::ai::{entry_digest, payload_sound};
    let mut stored: Vec<(EntryId, [u8; 32], countersign_ledger::Hash)> = Vec::new();
    db.scan_ai_entries(|id, header, signature, payload_hash| {
        if let (Some(id), Some(payload)) = (
            countersign_ledger::Hash::from_slice(id),
            countersign_ledger::Hash::from_slice(payload_hash),
        ) {
            stored.push((id, entry_digest(header, signature, payload_hash), payload));
        }
    })?;
    let wanted: countersign_ledger::IdSet = stored.iter().map(|(_, _, p)| *p).collect();
    let mut sound = countersign_ledger::IdSet::default();
    db.scan_payloads(|hash, bytes| {
        if let Some(h) = countersign_ledger::Hash::from_slice(hash) {
            if wanted.contains(&h) && payload_sound(hash, bytes) {
                sound.insert(h);
            }
        }
    })?;
    Ok(stored
        .into_iter()
        .filter(|(_, _, payload)| sound.contains(payload))
        .map(|(id, digest, _)| (id, digest))
        .collect())
}

/// [`intact_ai_entries`] for one entry, looked up: its digest if it is stored intact.
fn intact_entry(db: &countersign_store::Db<'_>, id: &EntryId) -> Result<Option<[u8; 32]>> {
    use crate::projection::ai::{entry_digest, payload_sound};
    Ok(db.get(id)?.and_then(|row| {
        let sound = row
            .payload
            .as_deref()
            .is_some_and(|p| payload_sound(&row.payload_hash, p));
        sound.then(|| entry_digest(&row.header, &row.signature, &row.payload_hash))
    }))
}
