//! The reading worklist: the studies on the archives, newest first, each with this
//! department's report state — and the last answer of each archive, kept for when it is down.

use super::*;

/// What the worklist is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorklistQuery {
    /// One archive; every configured archive when `None`.
    pub archive: Option<String>,
    pub modality: Option<String>,
    /// `YYYY-MM-DD` or `YYYYMMDD`.
    pub since: Option<String>,
    /// At most this many studies per archive (0: the archive's own limit).
    pub limit: usize,
}

/// One line of the worklist: a study on an archive, and where this department stands on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorklistRow {
    pub archive: String,
    pub study: String,
    pub patient: Option<String>,
    pub patient_id: Option<String>,
    pub date: Option<String>,
    pub modalities: Vec<String>,
    pub description: Option<String>,
    pub accession: Option<String>,
    /// Instances the archive says it holds, when it says.
    pub instances: Option<u64>,
    /// Instances of the study already in this home's image store.
    pub local_instances: u64,
    /// This department's report on it: `none`, or the state of its most advanced report
    /// (`conflict` before `final`/`amended`, before `preliminary`, before `draft`).
    pub report: String,
    /// Set when the archive did not answer (unreachable, or no answer within its timeout):
    /// the row is as the archive last answered this same search, at this time (ms since the
    /// epoch). The report state is this home's now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_answered_ms: Option<u64>,
    /// With `archive_answered_ms`: why the archive's answer is not shown now — the code of
    /// its error (`pacs_unreachable`, `pacs_timeout`, or `pacs_unauthorized` when it refuses
    /// this home's credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_error: Option<String>,
}

/// The last answer of an archive to a worklist search, kept so that a radiologist still sees
/// the list when the archive is down (see [`Home::worklist`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LastWorklist {
    modality: Option<String>,
    since: Option<String>,
    limit: usize,
    answered_ms: u64,
    matches: Vec<StudyMatch>,
}

/// The store's meta key of an archive's last worklist answer.
fn last_worklist_key(archive: &str) -> String {
    format!("{LAST_WORKLISTS}{archive}")
}

const LAST_WORKLISTS: &str = "pacs.worklist.";

/// Drops from every archive's kept worklist the studies `erased` says: an erasure's, whose
/// rows name the patient (name, Patient ID, accession) and would show them while the archive
/// is down. In the erasure's own transaction; a kept worklist that does not read is dropped
/// whole (it is only a fallback: the next search keeps a new one).
pub(crate) fn forget_kept_worklists(
    db: &countersign_store::Db<'_>,
    erased: impl Fn(&StudyMatch) -> bool,
) -> Result<()> {
    for key in db.meta_keys(LAST_WORKLISTS)? {
        let Some(json) = db.meta(&key)? else {
            continue;
        };
        let Ok(mut last) = serde_json::from_str::<LastWorklist>(&json) else {
            db.delete_meta(&key)?;
            continue;
        };
        let before = last.matches.len();
        last.matches.retain(|m| !erased(m));
        if last.matches.len() != before {
            match serde_json::to_string(&last) {
                Ok(json) => db.set_meta(&key, &json)?,
                Err(_) => db.delete_meta(&key)?,
            }
        }
    }
    Ok(())
}

impl Home {
    /// The studies on the archive(s), newest first, each with this department's report state.
    pub fn worklist(&self, query: &WorklistQuery) -> Result<Vec<WorklistRow>> {
        let archives = match &query.archive {
            Some(name) => vec![self.archive(name)?],
            None => {
                let all = self.archives()?;
                if all.is_empty() {
                    return Err(AppError::InvalidInput(
                        "no archive is configured: add one with `pacs add`".into(),
                    ));
                }
                all
            }
        };
        let search = StudyQuery {
            modality: query.modality.clone(),
            since: query.since.as_deref().map(dicom_date).transpose()?,
            limit: query.limit,
            ..Default::default()
        };
        let mut rows = Vec::new();
        for config in &archives {
            let (found, answered_ms, error) = match config.client()?.search(&search) {
                Ok(found) => {
                    tracing::info!(archive = %config.name, studies = found.len(), "worklist read");
                    self.keep_worklist(&config.name, &search, &found);
                    (found, None, None)
                }
                // Down, silent, or refusing this home's credentials (changed on the archive,
                // an expired token): the last answer to the same search, said to be that and
                // why.
                Err(
                    e @ (PacsError::Unreachable(_)
                    | PacsError::Timeout(_)
                    | PacsError::Unauthorized(_)),
                ) => {
                    let e = config.error(e);
                    match self.last_worklist(&config.name, &search) {
                        Some(last) => {
                            tracing::warn!(archive = %config.name, error = e.code(), "archive did not answer: its last worklist is shown");
                            (last.matches, Some(last.answered_ms), Some(e.code()))
                        }
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(config.error(e)),
            };
            for m in found {
                let mut row = self.worklist_row(&config.name, m)?;
                row.archive_answered_ms = answered_ms;
                row.archive_error = error.map(String::from);
                rows.push(row);
            }
        }
        rows.sort_by(|a, b| b.date.cmp(&a.date).then(a.study.cmp(&b.study)));
        Ok(rows)
    }

    /// Keeps `found` as the archive's last answer to `search` (one per archive: the last
    /// search asked). Best effort: a worklist is shown whether or not it could be kept.
    fn keep_worklist(&self, archive: &str, search: &StudyQuery, found: &[StudyMatch]) {
        let last = LastWorklist {
            modality: search.modality.clone(),
            since: search.since.clone(),
            limit: search.limit,
            answered_ms: crate::home::now_ms(),
            matches: found.to_vec(),
        };
        let Ok(json) = serde_json::to_string(&last) else {
            return;
        };
        let kept = self
            .store()
            .db()
            .set_meta(&last_worklist_key(archive), &json);
        if let Err(e) = kept {
            tracing::warn!(archive, error = %e, "the worklist could not be kept for when the archive is down");
        }
    }

    /// The archive's last answer, if it was to the same search.
    fn last_worklist(&self, archive: &str, search: &StudyQuery) -> Option<LastWorklist> {
        let json = self.store().db().meta(&last_worklist_key(archive)).ok()??;
        let last: LastWorklist = serde_json::from_str(&json).ok()?;
        (last.modality == search.modality
            && last.since == search.since
            && last.limit == search.limit)
            .then_some(last)
    }

    fn worklist_row(&self, archive: &str, m: StudyMatch) -> Result<WorklistRow> {
        let db = self.store().db();
        let report = self.report_state(&m.study)?;
        let local_instances = db.study_head(&m.study)?.map_or(0, |(_, n)| n);
        Ok(WorklistRow {
            archive: archive.to_string(),
            study: m.study,
            patient: m.patient_name,
            patient_id: m.patient_id,
            date: m.date,
            modalities: m.modalities,
            description: m.description,
            accession: m.accession,
            instances: m.instances,
            local_instances,
            report,
            archive_answered_ms: None,
            archive_error: None,
        })
    }
}
