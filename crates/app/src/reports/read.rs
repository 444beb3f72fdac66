//! Reading reports: the report list's rows (a page, a study's), and a report as it reads now
//! with every stored row re-checked.

use super::*;
use crate::state::decode_row;
use countersign_store::StoredEntry;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    pub report: EntryId,
    pub study: String,
    pub template: String,
    pub status: ReportState,
    /// When the report was created (its `report.create`'s timestamp, ms since the epoch).
    pub created_ms: u64,
    /// When it last changed: the newest timestamp among its entries.
    pub last_change_ms: u64,
    /// How many entries it holds.
    pub entries: u64,
    /// Where the next page starts when this is the last line of a page
    /// ([`Home::report_page`], `report list --after`).
    pub cursor: String,
    /// In a study's list, a report that was filed under this study and moved to another
    /// patient's: the study it is about now. Nothing else of it is shown here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved_to: Option<String>,
}

/// The most lines a page of `report list` may ask for.
pub const MAX_PAGE: usize = 10_000;

impl ReportSummary {
    fn from_row(r: countersign_store::SummaryRow) -> ReportSummary {
        ReportSummary {
            cursor: format!("{}-{}", r.last_ms, r.report.to_hex()),
            report: r.report,
            study: r.study,
            template: r.template,
            // A state this build does not name (a newer build's row) reads as a draft until the
            // list is rebuilt.
            status: ReportState::from_name(&r.status).unwrap_or(ReportState::Draft),
            created_ms: r.created_ms,
            last_change_ms: r.last_ms,
            entries: r.entries,
            moved_to: None,
        }
    }
}

/// Reads a `report list` cursor: `LAST_CHANGE_MS-REPORT`.
fn change_cursor(s: &str) -> Result<countersign_store::ChangeCursor> {
    let bad = || AppError::InvalidInput(format!("{s:?} is not a report list cursor"));
    let (ms, report) = s.split_once('-').ok_or_else(bad)?;
    Ok(countersign_store::ChangeCursor {
        last_ms: ms.parse().map_err(|_| bad())?,
        report: report.parse().map_err(|_| bad())?,
    })
}

pub(crate) fn page_limit(limit: usize) -> Result<usize> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(AppError::InvalidInput(format!(
            "a page holds 1 to {MAX_PAGE} lines, not {limit}"
        )));
    }
    Ok(limit)
}

pub(crate) fn summaries_of_study(
    db: &countersign_store::Db<'_>,
    study: &str,
) -> Result<Vec<ReportSummary>> {
    let mut out: Vec<ReportSummary> = db
        .summaries_of_study(study)?
        .into_iter()
        .map(ReportSummary::from_row)
        .collect();
    // A report moved away is shown as moved, and as nothing more: not its template, its
    // state or when it changed, which belong to the patient it is about now.
    for row in db.moved_from_study(study)? {
        let mut marker = ReportSummary::from_row(row);
        marker.moved_to = Some(std::mem::replace(&mut marker.study, study.to_string()));
        marker.template.clear();
        marker.entries = 0;
        out.push(marker);
    }
    Ok(out)
}

impl Home {
    /// A study's reports, oldest first, and those moved away from it as markers (see
    /// [`ReportSummary::moved_to`]).
    pub fn study_reports(&self, study: &str) -> Result<Vec<ReportSummary>> {
        summaries_of_study(&self.store().db(), study)
    }

    /// A page of the report list: up to `limit` reports (1 to [`MAX_PAGE`]), the most
    /// recently changed first (ties by report id, highest first), starting after the line
    /// whose `cursor` is `after`. Read from the report list's table through its index, so a
    /// page costs its own lines however many reports the home holds. A report that changes
    /// while pages are read moves to the front: it is on the first page when read again.
    pub fn report_page(&self, after: Option<&str>, limit: usize) -> Result<Vec<ReportSummary>> {
        let limit = page_limit(limit)?;
        let after = after.map(change_cursor).transpose()?;
        Ok(self
            .store()
            .db()
            .summaries_by_change(after, limit)?
            .into_iter()
            .map(ReportSummary::from_row)
            .collect())
    }

    /// Every report, the most recently changed first: [`Home::report_page`] read to the end.
    pub fn report_list(&self) -> Result<Vec<ReportSummary>> {
        let mut all = Vec::new();
        loop {
            let page = self.report_page(
                all.last().map(|r: &ReportSummary| r.cursor.as_str()),
                MAX_PAGE,
            )?;
            if page.is_empty() {
                return Ok(all);
            }
            all.extend(page);
        }
    }

    /// Rebuilds the report list's table from the entries (see [`crate::projection`]); returns
    /// how many reports it holds.
    pub fn reindex(&mut self) -> Result<u64> {
        // Rebuilt with the sealed reports readable: locked, their rows would lose what only
        // their payloads say (issue 16).
        self.write_with_keys_open(true, crate::projection::rebuild)
    }

    /// The report as it reads now, with provenance; every entry's signature and payload are
    /// re-checked from the stored bytes.
    pub fn report_show(&self, report: EntryId) -> Result<ReportView> {
        self.with_state(&report, |state, db| {
            let statuses = self.statuses(db, &report)?;
            let roster = state.roster().clone();
            let log = state.report(&report).ok_or_else(|| AppError::NotFound {
                what: format!("report {report}"),
            })?;
            let mut view = log.project(&roster, |id| {
                statuses.get(id).cloned().unwrap_or(EntryStatus::Invalid {
                    reason: "not stored".into(),
                })
            });
            // Not readable because the key is locked, not because this home lacks the key.
            view.locked = view.unreadable && !self.keys_open() && db.holds_report_key(&report)?;
            // Split views on this log, each naming the key that signed both claims (kept
            // evidence is checked again by `verify`).
            if db.split_view_count()? > 0 {
                for v in db.split_views()? {
                    let signer: Option<[u8; 32]> = v.signer.as_slice().try_into().ok();
                    let signer = signer.and_then(|k| PublicKey::from_bytes(&k).ok());
                    if let (true, Some(key)) = (v.log == report.as_bytes(), signer) {
                        view.split_views.push(countersign_report::SplitViewNote {
                            signer: countersign_report::author(&roster, &key),
                            reason: v.reason,
                        });
                    }
                }
            }
            Ok(view)
        })
    }

    /// Every stored entry of `log` re-checked (header, signature, payload hash), fork evidence
    /// marked. Rows verified before with the same bytes are not verified again; the rest are
    /// verified on all cores.
    fn statuses(
        &self,
        db: &countersign_store::Db<'_>,
        log: &EntryId,
    ) -> Result<countersign_ledger::IdMap<EntryStatus>> {
        use rayon::prelude::*;
        let forks = db.forks()?;
        let forked: countersign_ledger::IdSet = forks
            .iter()
            .filter_map(|f| Hash::from_slice(&f.first))
            .collect();
        // The second entries of this log's forks, kept beside it: shown as forks too.
        let evidence: Vec<EntryId> = forks
            .iter()
            .filter(|f| f.log == log.as_bytes())
            .filter_map(|f| Hash::from_slice(&f.second))
            .collect();
        let rows = db.log_entries(log)?;
        let fingerprints: Vec<(Option<EntryId>, u64, bool)> = {
            let verified = self.verified();
            rows.iter()
                .map(|row| {
                    let id = Hash::from_slice(&row.id);
                    let fp = verified.fingerprint(row);
                    let known = id.is_some_and(|id| verified.is_verified(&id, fp));
                    (id, fp, known)
                })
                .collect()
        };
        let checked: Vec<(EntryId, u64, EntryStatus)> = rows
            .par_iter()
            .zip(fingerprints.par_iter())
            .filter_map(|(row, &(id, fp, known))| {
                let id = id?;
                let status = if known {
                    EntryStatus::Verified
                } else {
                    row_status(row).unwrap_or_else(|reason| EntryStatus::Invalid { reason })
                };
                Some((id, fp, status))
            })
            .collect();
        let mut verified = self.verified();
        let mut statuses: countersign_ledger::IdMap<EntryStatus> = checked
            .into_iter()
            .map(|(id, fp, status)| {
                if status == EntryStatus::Verified {
                    verified.remember(id, fp);
                }
                let status = if forked.contains(&id) && status == EntryStatus::Verified {
                    EntryStatus::Fork
                } else {
                    status
                };
                (id, status)
            })
            .collect();
        for id in evidence {
            statuses.insert(id, EntryStatus::Fork);
        }
        Ok(statuses)
    }
}

/// Re-checks one stored row: header decodes, signature verifies, payload matches.
pub(crate) fn row_status(row: &StoredEntry) -> Result<EntryStatus, String> {
    let entry = decode_row(row)?;
    entry.verify_signature().map_err(|e| e.to_string())?;
    match row.payload.as_deref() {
        Some(p) => {
            countersign_ledger::rules::check_payload(&entry, p).map_err(|e| e.to_string())?
        }
        None => return Ok(EntryStatus::Erased),
    }
    Ok(EntryStatus::Verified)
}
