//! A patient's other studies: from every archive that lists them and from this home's store,
//! newest first, each with this department's report state.

use super::*;

/// One of a patient's other studies, as `priors` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorStudy {
    pub study: String,
    /// The patient's ID (the current study's): what a retrieval of it checks every instance by.
    pub patient_id: String,
    /// Its Issuer of Patient ID, as the archive that listed it says (else as its images held
    /// here say); `None` when unknown. A prior whose issuer is known and differs from the
    /// current study's known one is another person's, and is not listed.
    pub issuer: Option<String>,
    /// Study Date, `YYYYMMDD`.
    pub date: Option<String>,
    /// Its modalities, comma-separated.
    pub modality: Option<String>,
    pub description: Option<String>,
    /// Whether this home's image store holds it (and how many instances).
    pub local: bool,
    pub local_instances: u64,
    /// The archive that listed it, if one did (the first, when several did).
    pub archive: Option<String>,
    /// This department's report on it, as in the worklist.
    pub report: String,
}

/// The Patient IDs `client` files `study` under (an archive may file one Study Instance UID
/// under several; it may also match loosely, so only this exact study counts).
pub(super) fn patients_of_study(
    client: &Archive,
    study: &str,
) -> std::result::Result<std::collections::BTreeSet<String>, PacsError> {
    Ok(matches_of_study(client, study)?
        .into_iter()
        .filter_map(|m| m.patient_id)
        .collect())
}

/// What `client` lists for exactly `study` (one match per patient it files it under).
fn matches_of_study(
    client: &Archive,
    study: &str,
) -> std::result::Result<Vec<StudyMatch>, PacsError> {
    let query = StudyQuery {
        study: Some(study.to_string()),
        limit: 16,
        ..Default::default()
    };
    Ok(client
        .search(&query)?
        .into_iter()
        .filter(|m| m.study == study)
        .collect())
}

/// The one Patient ID of `study` among `ids` (what the archives file it under), `None` if
/// none; more than one is refused: whose `what` to show cannot be told.
pub(super) fn one_patient(
    study: &str,
    ids: std::collections::BTreeSet<String>,
    what: &str,
) -> Result<Option<String>> {
    if ids.len() > 1 {
        return Err(AppError::WrongPatient(format!(
            "study {study} is filed under {} different Patient IDs: whose {what} to show \
             cannot be told",
            ids.len()
        )));
    }
    Ok(ids.into_iter().next())
}

/// The archives that did not answer a priors search, each with its error.
pub type Unanswered = Vec<(String, AppError)>;

impl Home {
    /// The state of the most advanced report on `study`, or `none`.
    pub(super) fn report_state(&self, study: &str) -> Result<String> {
        Ok(
            crate::reports::summaries_of_study(&self.store().db(), study)?
                .into_iter()
                .map(|r| state_name(&r.status))
                .max_by_key(|s| rank(s))
                .unwrap_or_else(|| "none".to_string()),
        )
    }

    /// The other studies of the patient of `study`, newest first (undated last): those the
    /// archive (`archive`, else every configured one) lists for the patient's ID, and those
    /// the image store holds. The patient is the one the store's instances of the study name,
    /// else the one the archive gives; a study filed under two patients is refused.
    pub fn priors(&self, study: &str, archive: Option<&str>) -> Result<Vec<PriorStudy>> {
        let (priors, mut failed) = self.priors_answered(study, archive)?;
        match failed.pop() {
            Some((_, e)) => Err(e),
            None => Ok(priors),
        }
    }

    /// [`Home::priors`] with the archives that did not answer set aside (each with its error)
    /// rather than failing the whole list: the desktop still shows the local priors and the
    /// other archives' while one is down. Fails only when the patient cannot be told.
    pub fn priors_answered(
        &self,
        study: &str,
        archive: Option<&str>,
    ) -> Result<(Vec<PriorStudy>, Unanswered)> {
        countersign_pacs::check_uid(study).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        let mut failed = Vec::new();
        let archives: Vec<ArchiveConfig> = match archive {
            Some(name) => vec![self.archive(name)?],
            // One whose credentials cannot be unsealed now (the key locked) is said to have
            // failed; the others and the local priors stand.
            None => self
                .pacs_list()?
                .into_iter()
                .filter_map(|a| match self.unseal(a.clone()) {
                    Ok(a) => Some(a),
                    Err(e) => {
                        failed.push((a.name, e));
                        None
                    }
                })
                .collect(),
        };
        let mut clients = Vec::new();
        for a in &archives {
            match a.client() {
                Ok(c) => clients.push((a, c)),
                Err(e) => failed.push((a.name.clone(), e)),
            }
        }
        let local_head = self.store().db().study_head(study)?.map(|(first, _)| first);
        let local_patient = local_head.as_ref().and_then(|f| f.patient_id.clone());
        // What the archives list for the study, when it is not here.
        let mut listed = Vec::new();
        let patient = match local_patient {
            Some(id) => id,
            None => {
                let mut ids = std::collections::BTreeSet::new();
                for (config, client) in &clients {
                    match matches_of_study(client, study) {
                        Ok(found) => {
                            ids.extend(found.iter().filter_map(|m| m.patient_id.clone()));
                            listed.extend(found);
                        }
                        Err(e) => failed.push((config.name.clone(), config.error(e))),
                    }
                }
                match one_patient(study, ids, "priors")? {
                    Some(id) => id,
                    // Not here, and no archive that answered knows it: an archive's failure
                    // says more than "not found".
                    None => match failed.pop() {
                        Some((_, e)) => return Err(e),
                        None => {
                            return Err(AppError::NotFound {
                                what: format!(
                                    "study {study} (with a Patient ID) here or on an archive"
                                ),
                            })
                        }
                    },
                }
            }
        };
        // The current study's issuer: its images' here, else the one the archives that listed
        // it under this patient agree on; unknown (`None`) otherwise, and nothing is left out
        // for an issuer then.
        let issuer = match local_head.filter(|f| f.patient_id.is_some()) {
            Some(first) => first.issuer,
            None => one_issuer(&listed, &patient),
        };
        // Whether `other`, a prior's issuer, says it is another person's: a Patient ID is
        // unique only per issuer (found by a clinical-safety review, 2026-12-05: another
        // hospital's patient with the same ID was listed, and their reports shown).
        let another_persons = |other: Option<&str>| matches!((issuer.as_deref(), other), (Some(a), Some(b)) if a != b);
        let mut found: std::collections::BTreeMap<String, PriorStudy> = Default::default();
        for (config, client) in &clients {
            if failed.iter().any(|(name, _)| *name == config.name) {
                continue;
            }
            let query = StudyQuery {
                patient_id: Some(patient.clone()),
                ..Default::default()
            };
            let matches = match client.search(&query) {
                Ok(m) => m,
                Err(e) => {
                    failed.push((config.name.clone(), config.error(e)));
                    continue;
                }
            };
            tracing::info!(archive = %config.name, studies = matches.len(), "priors read");
            for m in matches {
                // An archive may match loosely: only this exact Patient ID counts.
                if m.study == study || m.patient_id.as_deref() != Some(patient.as_str()) {
                    continue;
                }
                if another_persons(m.issuer.as_deref()) {
                    tracing::info!(archive = %config.name, "a study of the same Patient ID under another issuer is not a prior");
                    continue;
                }
                // A study the archive files under this patient but this home holds under
                // another: listing it would put the other patient's images beside these (and
                // retrieving it would mix the two in one study). Left out, said in the log.
                let here = self.store().db().study_head(&m.study)?;
                if here.is_some_and(|(first, _)| {
                    first.patient_id.as_deref() != Some(&patient)
                        || another_persons(first.issuer.as_deref())
                }) {
                    tracing::warn!(archive = %config.name, "a prior held here under another patient is not listed");
                    continue;
                }
                found.entry(m.study.clone()).or_insert_with(|| PriorStudy {
                    study: m.study,
                    patient_id: patient.clone(),
                    issuer: m.issuer,
                    date: m.date,
                    modality: (!m.modalities.is_empty()).then(|| m.modalities.join(",")),
                    description: m.description,
                    local: false,
                    local_instances: 0,
                    archive: Some(config.name.clone()),
                    report: String::new(),
                });
            }
        }
        let db = self.store().db();
        // A study held here is left out if any of its images carries this ID under another
        // known issuer (a study mixing the two is not this person's alone either).
        let mut elsewhere = std::collections::BTreeSet::new();
        for row in db.patients_of_studies(&patient)? {
            if row.patient_id.as_deref() == Some(&patient) && another_persons(row.issuer.as_deref())
            {
                elsewhere.insert(row.study);
            }
        }
        for local in db.studies_of_patient(&patient)? {
            if local == study {
                continue;
            }
            if elsewhere.contains(&local) {
                found.remove(&local);
                continue;
            }
            let Some((first, n)) = db.study_head(&local)? else {
                continue;
            };
            let row = found.entry(local.clone()).or_insert_with(|| PriorStudy {
                study: local,
                patient_id: patient.clone(),
                issuer: first.issuer.clone(),
                date: first.study_date.clone(),
                modality: first.modality.clone(),
                description: first.study_description.clone(),
                local: false,
                local_instances: 0,
                archive: None,
                report: String::new(),
            });
            row.local = true;
            row.local_instances = n;
        }
        let mut out: Vec<PriorStudy> = found.into_values().collect();
        for p in &mut out {
            p.report = self.report_state(&p.study)?;
        }
        out.sort_by(|a, b| match (&a.date, &b.date) {
            (Some(x), Some(y)) => y.cmp(x).then(a.study.cmp(&b.study)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.study.cmp(&b.study),
        });
        Ok((out, failed))
    }
}

/// The Issuer of Patient ID the archives' matches of a study give it under `patient`: the one
/// they agree on, else `None` (unknown, or they disagree: nothing is left out for it then).
fn one_issuer(listed: &[StudyMatch], patient: &str) -> Option<String> {
    let issuers: std::collections::BTreeSet<Option<&str>> = listed
        .iter()
        .filter(|m| m.patient_id.as_deref() == Some(patient))
        .map(|m| m.issuer.as_deref())
        .collect();
    match issuers.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => one.map(str::to_string),
        _ => None,
    }
}
